/*
 * http.h - gatehousectl's HTTPS client for the gateway's /api/v1.
 *
 * One blocking libcurl request at a time, bounded: the answer is at most
 * GH_CTL_BODY_MAX bytes, connecting takes at most GH_CTL_CONNECT_S and the
 * whole exchange GH_CTL_TOTAL_S; redirects are never followed. The bearer
 * token goes in the Authorization header only, never in a URL or a
 * message. Single-threaded (the CLI's main thread).
 */
#ifndef GH_CTL_HTTP_H
#define GH_CTL_HTTP_H

#include <stddef.h>

#include <jansson.h>

/* An API answer larger than this is refused: lists are paged (at most 200
 * rows), so 4 MiB is far beyond any honest answer. */
#define GH_CTL_BODY_MAX (4u * 1024 * 1024)
/* A gateway that does not accept in 5 s is down or filtered. */
#define GH_CTL_CONNECT_S 5L
/* No API call does slow work; 30 s bounds a stalled server. */
#define GH_CTL_TOTAL_S 30L
/* Longest bearer token accepted (the gateway refuses more than 16 KiB). */
#define GH_CTL_TOKEN_MAX (16u * 1024)

/* How to reach the gateway. Strings are borrowed; token is wiped by
 * gh_ctl_conn_cleanup(). */
struct gh_ctl_conn {
    char *server;        /* base URL without trailing slash (owned) */
    char *token;         /* access token (owned, wiped on cleanup) */
    const char *ca_file; /* PEM CA bundle or the gateway's own cert */
    char *pin;           /* "sha256//BASE64" for CURLOPT_PINNEDPUBLICKEY */
    int insecure;        /* -k: no verification at all */
    char *ca_file_buf;   /* owns ca_file when it came from the cache */
};

/* One answer. status is 0 when no HTTP answer came (see err). */
struct gh_ctl_resp {
    long status;
    char *body; /* NUL-terminated (owned) */
    size_t len;
    json_t *json;  /* parsed body or NULL when it is not JSON (owned) */
    char err[512]; /* network/TLS error text when status is 0 */
};

/*
 * Check that url may carry a token: https, or http to a loopback address
 * (127.0.0.0/8, ::1, localhost) only. On refusal *why is a static text.
 * Returns 0 or GH_E_INVAL.
 */
int gh_ctl_url_check(const char *url, const char **why);

/* Global libcurl setup / teardown; once per process. */
int gh_ctl_http_init(void);
void gh_ctl_http_done(void);

/*
 * Send method path (starting with "/api/", query already escaped) with
 * body as JSON (NULL: no body). Fills *out (clear it with
 * gh_ctl_resp_cleanup). Returns 0 when an HTTP answer came (any status),
 * GH_E_IO on a network or TLS failure (out->err says why), GH_E_TOOBIG
 * when the answer exceeds GH_CTL_BODY_MAX.
 */
int gh_ctl_http_call(const struct gh_ctl_conn *c, const char *method,
                     const char *path, json_t *body, struct gh_ctl_resp *out);

/* Free what a response holds; the struct may be reused. */
void gh_ctl_resp_cleanup(struct gh_ctl_resp *r);

/* Wipe the token and free the connection's strings. */
void gh_ctl_conn_cleanup(struct gh_ctl_conn *c);

/* Append "&key=value" (or "?key=value" first) to *url, value escaped.
 * A NULL value appends nothing. *url is replaced (caller frees). */
void gh_ctl_url_add_query(char **url, const char *key, const char *value);

#endif
