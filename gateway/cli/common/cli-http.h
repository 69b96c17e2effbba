/*
 * cli-http.h - what Gatehouse's command-line clients (gatehousectl, and
 * the gatehouse user CLI) share for HTTP: which URLs may carry a token,
 * the libcurl options every request gets, and one bounded request with a
 * form body (for the IdP's OAuth endpoints).
 *
 * Part of the gh_cli library. Single-threaded: the CLI's main thread.
 * Answers are wiped when freed: token endpoint answers hold secrets.
 */
#ifndef GATEHOUSE_CLI_HTTP_H
#define GATEHOUSE_CLI_HTTP_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

/* An IdP answer larger than this is refused: discovery documents and
 * token answers are a few KiB; 1 MiB leaves room for any honest one. */
#define GH_CLI_BODY_MAX (1024u * 1024)
/* A server that does not accept in 5 s is down or filtered. */
#define GH_CLI_CONNECT_S 5L
/* No OAuth call does slow work; 30 s bounds a stalled server. */
#define GH_CLI_TOTAL_S 30L
/* Longest token kept (the gateway refuses bearer tokens over 16 KiB). */
#define GH_CLI_TOKEN_MAX (16u * 1024)
/* Longest URL taken from a server's answer (endpoints, issuer). */
#define GH_CLI_URL_MAX 2048

/* How to trust a server. Strings are borrowed. */
struct gh_cli_tls {
    const char *ca_file; /* PEM bundle instead of the system store */
    const char *pin;     /* "sha256//BASE64" for CURLOPT_PINNEDPUBLICKEY */
    int insecure;        /* no verification at all */
};

/* One answer. status is 0 when no HTTP answer came (see err). */
struct gh_cli_resp {
    long status;
    char *body; /* NUL-terminated (owned, wiped on cleanup) */
    size_t len;
    json_t *json;  /* parsed body, or NULL when it is not JSON (owned) */
    char err[512]; /* network/TLS error text when status is 0 */
};

/*
 * Once, first thing in main(): name the program for User-Agent, and make
 * jansson wipe every block it frees (parsed answers and the token cache
 * hold tokens in jansson strings). Must run before any jansson call.
 */
void gh_cli_init(const char *agent);

/* The User-Agent given to gh_cli_init ("gatehouse" before). */
const char *gh_cli_agent(void);

/*
 * Check that url may carry a token or a code: https, or http to a
 * loopback address (127.0.0.0/8, ::1, localhost) only. On refusal *why is
 * a static text. Returns 0 or GH_E_INVAL.
 */
int gh_cli_url_check(const char *url, const char **why);

/*
 * Set the options every request gets: no redirects, https/http only,
 * TLS 1.2+, the connect timeout, no signals, the User-Agent, and the
 * trust in tls (NULL: the system store).
 */
void gh_cli_curl_setup(CURL *e, const struct gh_cli_tls *tls);

/*
 * GET url (form NULL), or POST form as application/x-www-form-urlencoded
 * (built with gh_cli_form_add). Accept: application/json. The URL must
 * pass gh_cli_url_check. Fills *out (clear it with gh_cli_resp_cleanup).
 * Returns 0 when an HTTP answer came (any status), GH_E_INVAL for a
 * refused URL, GH_E_IO on a network or TLS failure, GH_E_TOOBIG when the
 * answer exceeds GH_CLI_BODY_MAX; out->err says why.
 */
int gh_cli_fetch(const char *url, const struct gh_cli_tls *tls,
                 const char *form, struct gh_cli_resp *out);

/* Wipe and free what a response holds; the struct may be reused. */
void gh_cli_resp_cleanup(struct gh_cli_resp *r);

/* Append "&key=value" (or "key=value" first) to *form, value escaped;
 * the old string is wiped and freed (forms carry codes and tokens). */
void gh_cli_form_add(char **form, const char *key, const char *value);

/* Wipe and free a string (NULL is fine). */
void gh_cli_strfree(char *s);

/*
 * True when t can only be a token: 1..GH_CLI_TOKEN_MAX bytes of printable
 * ASCII without spaces, so it cannot split an Authorization header.
 */
int gh_cli_token_ok(const char *t);

/* True when s is 1..max bytes of printable ASCII (0x21..0x7e): safe to
 * print on a terminal and to use as an identifier. */
int gh_cli_printable(const char *s, size_t max);

/* The string member key of o when it is 1..max printable bytes, else
 * NULL (borrowed from o). */
const char *gh_cli_json_str(json_t *o, const char *key, size_t max);

#endif
