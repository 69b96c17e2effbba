/*
 * tokencache.h - the token cache the Gatehouse CLIs share: one file of
 * OAuth token sets, one per gateway, written by "gatehousectl login" (and
 * the gatehouse user CLI), read and refreshed by every later call.
 *
 *   $XDG_CONFIG_HOME/gatehouse/tokens.json   (default ~/.config/gatehouse)
 *
 *   {"version": 1,
 *    "servers": {"https://gw.example.com:8443": {
 *        "issuer": "...", "token_endpoint": "...", "client_id": "...",
 *        "resource": "..." (optional), "revocation_endpoint": "..." (opt.),
 *        "access_token": "...", "refresh_token": "..." (optional),
 *        "expires_at": unix seconds,
 *        "ca_file": "/abs/path.pem" (optional), "pin": "sha256//..." (opt.)}}}
 *
 * Rules, like ssh with ~/.ssh: the directory is created 0700 and must be
 * ours and not writable by group or others; the file must be a regular
 * file (never followed through a symlink), ours, and mode 0600 or
 * stricter, else it is refused. Writes go to a temporary file in the same
 * directory, fsync'd, then renamed over the file. While open, the cache
 * holds an exclusive flock() on the directory, so two CLIs refreshing at
 * once cannot both spend the same (rotating) refresh token: whoever comes
 * second reads what the first wrote. Other programs that write the file
 * must take the same lock.
 *
 * Part of the gh_cli library. Single-threaded. Token strings are wiped
 * when freed.
 */
#ifndef GATEHOUSE_CLI_TOKENCACHE_H
#define GATEHOUSE_CLI_TOKENCACHE_H

#include <stddef.h>

#define GH_CLI_CACHE_DIR  "gatehouse"
#define GH_CLI_CACHE_FILE "tokens.json"
/* Format version written; a file with a newer one is refused rather than
 * rewritten without what a newer CLI put there. */
#define GH_CLI_CACHE_VERSION 1
/* A person signs in to a handful of gateways; 64 is far beyond that and
 * bounds the file (each entry holds at most two 16 KiB tokens). */
#define GH_CLI_CACHE_SERVERS_MAX 64
/* 64 entries of two 16 KiB tokens plus their metadata fit in 4 MiB. */
#define GH_CLI_CACHE_MAX (4u * 1024 * 1024)
/* How long to wait for another CLI's lock: longer than one refresh can
 * take (GH_CLI_TOTAL_S, 30 s), so we outwait an honest holder. */
#define GH_CLI_CACHE_LOCK_WAIT_S 45

/* One gateway's token set. Strings owned; NULL when absent. */
struct gh_cli_tokens {
    char *issuer;
    char *token_endpoint;
    char *revocation_endpoint; /* optional */
    char *client_id;
    char *resource;       /* optional: RFC 8707 resource indicator */
    char *access_token;   /* secret */
    char *refresh_token;  /* secret, optional */
    long long expires_at; /* unix seconds */
    /* How the gateway's certificate was trusted at login, reused by every
     * later command that names no trust of its own (optional). */
    char *ca_file; /* absolute path of a PEM bundle */
    char *pin;     /* "sha256//BASE64" of the server's public key */
};

/* Wipe the secrets and free every string; t may be reused. */
void gh_cli_tokens_cleanup(struct gh_cli_tokens *t);

struct gh_cli_cache;

/* Error text of the last failure, for the user. */
struct gh_cli_cache_err {
    char text[512];
};

/*
 * Path of the cache directory: $XDG_CONFIG_HOME/gatehouse when that is an
 * absolute path, else $HOME/.config/gatehouse (HOME from the password
 * database when unset). Caller frees; NULL when no home is known.
 */
char *gh_cli_cache_dir(void);

/*
 * Open the cache and lock it. With create, a missing directory is made
 * (0700; missing parents 0700 too); without, a missing directory or file
 * is an empty cache. Returns 0 with *out, GH_E_PERM for an unsafe
 * directory or file (ownership, mode, symlink), GH_E_INVAL for a file
 * that is not a cache this version understands, GH_E_IO otherwise; err
 * says why.
 */
int gh_cli_cache_open(int create, struct gh_cli_cache **out,
                      struct gh_cli_cache_err *err);

/* Unlock, wipe and free (NULL is fine). Unsaved changes are dropped. */
void gh_cli_cache_close(struct gh_cli_cache *c);

/* The file's path (borrowed until close). */
const char *gh_cli_cache_path(const struct gh_cli_cache *c);

/* Number of servers, and the i-th server's URL (borrowed). */
size_t gh_cli_cache_count(const struct gh_cli_cache *c);
const char *gh_cli_cache_server(const struct gh_cli_cache *c, size_t i);

/* The key for a server URL: the URL without trailing slashes. Caller
 * frees. */
char *gh_cli_cache_key(const char *server);

/*
 * Copy server's token set into *out (clear it with
 * gh_cli_tokens_cleanup). Returns 0, GH_E_NOTFOUND, or GH_E_INVAL for an
 * entry without an access token, a token endpoint, an issuer or a
 * client id.
 */
int gh_cli_cache_get(const struct gh_cli_cache *c, const char *server,
                     struct gh_cli_tokens *out);

/* Set server's token set (copied). GH_E_TOOBIG when the cache already
 * holds GH_CLI_CACHE_SERVERS_MAX other servers, GH_E_INVAL when server is
 * not UTF-8. */
int gh_cli_cache_put(struct gh_cli_cache *c, const char *server,
                     const struct gh_cli_tokens *t);

/* Remove server's entry; GH_E_NOTFOUND when there is none. */
int gh_cli_cache_remove(struct gh_cli_cache *c, const char *server);

/*
 * Write the cache atomically (creating the directory if the cache was
 * opened without create and it is missing). Returns 0 or GH_E_IO with err.
 */
int gh_cli_cache_save(struct gh_cli_cache *c, struct gh_cli_cache_err *err);

#endif
