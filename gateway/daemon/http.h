/*
 * http.h - the HTTPS front end: routes, responses and security headers.
 * Event loop thread only.
 */
#ifndef GATEHOUSE_DAEMON_HTTP_H
#define GATEHOUSE_DAEMON_HTTP_H

#include <libwebsockets.h>

#include "gateway.h"

/* A generated response body larger than this is a bug, not a response. */
#define GH_HTTP_BODY_MAX (1024 * 1024)
/* Room for the status line and headers of one response. */
#define GH_HTTP_HEADERS_MAX 2048

/* Per-connection state lws allocates for the HTTP protocol. */
struct gh_http_pss {
    char *body; /* generated response body (owned) */
    size_t len; /* body bytes */
    bool head;  /* HEAD: headers only */
};

/* The callback of the "http" protocol (protocols[0] of the vhost). */
int gh_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len);

/*
 * The headers every response carries (CSP, HSTS, nosniff, ...), as the
 * lws per-vhost list. The HSTS value points into gw->hsts_value, so a
 * reload changes it in place.
 */
const struct lws_protocol_vhost_options *
gh_http_security_headers(struct gh_gateway *gw);

#endif
