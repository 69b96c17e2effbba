/*
 * http.h - the HTTPS front end: routes, responses and security headers.
 * Event loop thread only.
 */
#ifndef GATEHOUSE_DAEMON_HTTP_H
#define GATEHOUSE_DAEMON_HTTP_H

#include <libwebsockets.h>

#include "gateway.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A generated response body larger than this is a bug, not a response. */
#define GH_HTTP_BODY_MAX (1024 * 1024)
/* Room for the status line and headers of one response. */
#define GH_HTTP_HEADERS_MAX 2048

struct gh_http_pss;
struct gh_identity;

/* Continues a deferred request; returns like a route handler. */
typedef int (*gh_http_resume_fn)(struct lws *wsi, struct gh_http_pss *pss);

/* Most Set-Cookie headers on one response. */
#define GH_HTTP_COOKIES_MAX 2

/* Per-connection state lws allocates for the HTTP protocol. */
struct gh_http_pss {
    /* the response, written on WRITEABLE */
    bool have_response;
    unsigned status;
    const char *type;
    char *body; /* owned */
    size_t len;
    char *location;                     /* owned, or NULL */
    char *cookies[GH_HTTP_COOKIES_MAX]; /* owned Set-Cookie values */
    bool head;                          /* HEAD: headers only */
    /* a request waiting for something off the loop */
    gh_http_resume_fn resume;
    bool waiting_jwks;         /* registered with gh_oidc_when_jwks */
    bool retried;              /* bearer re-checked after a refresh */
    uint64_t fetch_id;         /* token exchange under way, or 0 */
    struct gh_identity *login; /* exchange result (owned) */
    const char *login_error;
    char *return_to; /* owned */
    /* a POST whose body is being read (and discarded) */
    char post_uri[128];
    char *req_body; /* owned, NUL-terminated */
    size_t req_len;
};

/* Request bodies the gateway reads; larger ones are refused (413). */
#define GH_HTTP_REQUEST_BODY_MAX (64 * 1024)

/* The callback of the "http" protocol (protocols[0] of the vhost). */
int gh_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len);

/*
 * Store a response; it is written when the connection is writable. Takes
 * body (heap, may be NULL when len is 0).
 */
int gh_http_respond(struct lws *wsi, struct gh_http_pss *pss, unsigned status,
                    const char *type, char *body, size_t len);

/* A JSON error {"error": code, "message": message}. */
int gh_http_error(struct lws *wsi, struct gh_http_pss *pss, unsigned status,
                  const char *code, const char *message);

/* A JSON body from a jansson value (stolen). */
int gh_http_json(struct lws *wsi, struct gh_http_pss *pss, unsigned status,
                 json_t *j);

/* Send the file at path (a path the gateway chose, never a user) as the
 * response; returns like a route handler. */
int gh_http_file(struct lws *wsi, const char *path, const char *mime);

/* Defer: nothing is sent until gh_http_wake(wsi); then resume runs. */
int gh_http_defer(struct lws *wsi, struct gh_http_pss *pss,
                  gh_http_resume_fn resume);

/* Make a deferred request continue (from a completion callback). */
void gh_http_wake(struct lws *wsi);

/* The longest query argument looked at; lws stops searching at the first
 * argument longer than its buffer, so every lookup scans with this much. */
#define GH_HTTP_ARG_MAX 8192

/*
 * Query argument name ("state=") into buf (NUL-terminated). Returns buf,
 * or NULL when absent. *too_long (may be NULL) is set when the argument
 * exists but does not fit buf; it is then treated as absent, so callers
 * that filter must check it and refuse the request.
 */
const char *gh_http_arg(struct lws *wsi, const char *name, char *buf,
                        size_t len, bool *too_long);

/* True when the request's Origin is the gateway's own (CSRF, CSWSH). */
bool gh_http_same_origin(struct lws *wsi);

/* For a WebSocket handshake: no Origin (a native client) or our own. Every
 * WebSocket protocol calls it from LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION
 * and refuses the upgrade when it is false. */
bool gh_http_ws_origin_ok(struct lws *wsi);

/*
 * The headers every response carries (CSP, HSTS, nosniff, ...), as the
 * lws per-vhost list. The HSTS value points into gw->hsts_value, so a
 * reload changes it in place.
 */
const struct lws_protocol_vhost_options *
gh_http_security_headers(struct gh_gateway *gw);

#endif
