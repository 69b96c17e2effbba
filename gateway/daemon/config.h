/*
 * config.h - gatehoused configuration: one table of every key.
 *
 * Precedence: embedded defaults < configuration file (-c) < command line
 * (-o section.key=value). The file is INI (parsed by inih): [section] and
 * key = value lines, '#' or ';' comments. Defaults go through the same
 * parsers as file values, so a bad default cannot slip in.
 *
 * Errors name the origin: "FILE:LINE: section.key: why". The table also
 * drives the -T dump and config/gatehoused.conf.example (a test checks
 * that the example lists every key with its default).
 *
 * Only the main thread of gatehoused uses this module.
 */
#ifndef GATEHOUSE_DAEMON_CONFIG_H
#define GATEHOUSE_DAEMON_CONFIG_H

#include <stddef.h>
#include <stdio.h>

struct gh_target;

/* Key flags. */
#define GH_CFG_STARTUP    0x1 /* read at start; a reload keeps the old value */
#define GH_CFG_RELOADABLE 0x2 /* applied on SIGHUP */
#define GH_CFG_SECRET     0x4 /* masked in -T output and logs */

/* A configuration file larger than this is refused: it is hand-written. */
#define GH_CONFIG_FILE_MAX (1024 * 1024)
/* Longest line accepted: paths and URLs fit; a longer line is a mistake. */
#define GH_CONFIG_LINE_MAX 4096
/* Error text for one problem. */
#define GH_CONFIG_ERR_MAX 1024

enum gh_cfg_type {
    GH_CFGT_STRING, /* free text */
    GH_CFGT_PATH,   /* a file-system path ("" = unset) */
    GH_CFGT_INT,    /* decimal integer within [min, max] */
    GH_CFGT_BOOL,   /* yes/no/true/false/on/off/1/0 */
    GH_CFGT_LEVEL,  /* log level name */
    GH_CFGT_ADDR,   /* numeric IPv4 or IPv6 address */
    GH_CFGT_URL,    /* absolute https:// URL, or "" */
    GH_CFGT_ISSUER  /* https:// URL, or http:// on loopback (tests), or "" */
};

/* Parsed values; every string is owned by the struct. */
struct gh_config {
    char *listen_address;
    long port;
    char *public_url;
    char *data_dir;
    char *web_root;
    long max_connections;
    char *tls_cert_file;
    char *tls_key_file;
    long hsts_max_age;
    long log_level;
    long store_busy_timeout_ms;
    char *oidc_issuer;
    char *oidc_client_id;
    char *oidc_client_secret;
    char *oidc_client_secret_file;
    char *oidc_audience;
    char *oidc_scopes;
    char *oidc_cli_client_id;
    char *oidc_cli_resource;
    char *oidc_user_claim;
    char *oidc_groups_claim;
    long oidc_clock_skew;
    long oidc_jwks_refresh;
    long oidc_jwks_min_interval;
    long session_lifetime;
    long session_idle_timeout;
    char *roles_user;
    char *roles_approver;
    char *roles_auditor;
    char *roles_admin;
    long jit_pending_ttl;
    char *sessions_worker;
    char *sessions_worker_user;
    long sessions_max;
    char *sessions_recordings_dir;
    /* [target NAME] sections: reloadable as a whole (owned). */
    struct gh_target **targets;
    size_t ntargets;
    /* Where the file came from ("" when none), for messages. */
    char *file;
};

struct gh_config_key {
    const char *section;
    const char *name;
    enum gh_cfg_type type;
    unsigned flags;
    const char *def; /* default, as text */
    long min, max;   /* GH_CFGT_INT bounds */
    size_t offset;   /* of the field in struct gh_config */
    const char *help;
};

/* The table (terminated by a NULL name) and its length. */
extern const struct gh_config_key gh_config_keys[];
size_t gh_config_nkeys(void);

/* An error: origin plus reason, ready to print. */
struct gh_config_err {
    char text[GH_CONFIG_ERR_MAX];
};

/*
 * Build a configuration: defaults, then the file (may be NULL), then the
 * overrides ("section.key=value" strings, n of them). Then checks that
 * need the file system (data directory writable, certificate readable).
 * On failure returns GH_E_CONFIG with *err filled; *out is untouched.
 * On success *out is a new config the caller frees with gh_config_free.
 */
int gh_config_load(const char *file, const char *const *overrides, size_t n,
                   struct gh_config **out, struct gh_config_err *err);

/* Like gh_config_load but skips the file-system checks (unit tests). */
int gh_config_load_nocheck(const char *file, const char *const *overrides,
                           size_t n, struct gh_config **out,
                           struct gh_config_err *err);

/* Frees a config; NULL is fine. */
void gh_config_free(struct gh_config *cfg);

/*
 * Print every key as "section.key = value" grouped by section, secrets
 * masked, to f. With table/nkeys NULL/0 the real table is used.
 */
void gh_config_dump(const struct gh_config *cfg, FILE *f);
void gh_config_dump_table(const struct gh_config_key *table, size_t nkeys,
                          const void *values, FILE *f);

/*
 * Apply a freshly loaded config on top of the running one: reloadable keys
 * are copied; a changed startup key is reported (via the log) and kept.
 * The target list is swapped in whole (fresh gets the old one to free).
 * Returns the number of keys that changed and were applied.
 */
int gh_config_apply_reload(struct gh_config *running, struct gh_config *fresh);

/* The URL users should open: public_url, or https://listen:port/ with the
 * port actually bound (server.port may be 0). Caller frees. */
char *gh_config_url(const struct gh_config *cfg, int port);

#endif
