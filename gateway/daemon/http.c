/* http.c - request routing and response writing for the HTTPS front end. */
#include "http.h"
#include "static.h"
#include "auth-http.h"
#include "broker.h"

#include "gatehouse/fetch.h"
#include "gatehouse/oidc.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/store.h"
#include "gatehouse/version.h"

#include <jansson.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/time.h>

/* The Content-Security-Policy of every response: no inline script or
 * style, nothing from another origin, never framed. 'wasm-unsafe-eval'
 * lets same-origin scripts compile WebAssembly (the recordings player
 * needs it); it allows no JavaScript eval and no inline script. */
#define GH_CSP                                                                 \
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "               \
    "style-src 'self'; "                                                       \
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "              \
    "object-src 'none'; base-uri 'none'; form-action 'self'; "                 \
    "frame-ancestors 'none'"

/* Modern TLS 1.2 suites (forward secret AEAD only); TLS 1.3 keeps
 * OpenSSL's defaults, all of which are modern. */
const char gh_http_tls12_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

const struct lws_protocol_vhost_options *
gh_http_security_headers(struct gh_gateway *gw)
{
    static struct lws_protocol_vhost_options h[8];
    static const char *const nv[][2] = {
        {"content-security-policy:", GH_CSP},
        {"x-content-type-options:", "nosniff"},
        {"referrer-policy:", "no-referrer"},
        {"x-frame-options:", "DENY"},
        {"cross-origin-opener-policy:", "same-origin"},
        {"cross-origin-resource-policy:", "same-origin"},
        {"permissions-policy:", "camera=(), microphone=(), geolocation=()"},
    };
    size_t i, n = sizeof(nv) / sizeof(nv[0]);

    for (i = 0; i < n; i++) {
        h[i].name = nv[i][0];
        h[i].value = nv[i][1];
        h[i].next = &h[i + 1];
    }
    h[n].name = "strict-transport-security:";
    h[n].value = gw->hsts_value;
    h[n].next = NULL;
    return h;
}

/* Marks accepted connections (its address is the mark). */
static char gh_http_conn_mark;

static struct gh_gateway *
gh_http_gw(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* Forget the response and deferred state (not the connection). */
static void
gh_http_pss_clear(struct gh_http_pss *pss)
{
    int i;

    gh_free(pss->body);
    gh_free(pss->location);
    for (i = 0; i < GH_HTTP_COOKIES_MAX; i++)
        gh_free(pss->cookies[i]);
    gh_free(pss->return_to);
    gh_free(pss->req_body);
    pss->req_len = 0;
    gh_identity_free(pss->login);
    pss->login = NULL;
    pss->login_error = NULL;
    pss->have_response = false;
    pss->len = 0;
    pss->resume = NULL;
    pss->retried = false;
}

int
gh_http_respond(struct lws *wsi, struct gh_http_pss *pss, unsigned status,
                const char *type, char *body, size_t len)
{
    free(pss->body);
    pss->have_response = true;
    pss->status = status;
    pss->type = type;
    pss->body = body;
    pss->len = len;
    pss->resume = NULL;
    gh_metrics_http(&gh_http_gw(wsi)->metrics, status);
    lws_callback_on_writable(wsi);
    return 0;
}

int
gh_http_json(struct lws *wsi, struct gh_http_pss *pss, unsigned status,
             json_t *j)
{
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (body == NULL)
        return -1;
    return gh_http_respond(wsi, pss, status, "application/json", body,
                           strlen(body));
}

int
gh_http_error(struct lws *wsi, struct gh_http_pss *pss, unsigned status,
              const char *code, const char *message)
{
    return gh_http_json(
        wsi, pss, status,
        json_pack("{s:s, s:s}", "error", code, "message", message));
}

int
gh_http_defer(struct lws *wsi, struct gh_http_pss *pss,
              gh_http_resume_fn resume)
{
    (void)wsi;
    pss->resume = resume;
    return 0;
}

void
gh_http_wake(struct lws *wsi)
{
    lws_callback_on_writable(wsi);
}

const char *
gh_http_arg(struct lws *wsi, const char *name, char *buf, size_t len,
            bool *too_long)
{
    char *scratch = gh_alloc(GH_HTTP_ARG_MAX, 1);
    const char *v;
    size_t n;

    if (too_long != NULL)
        *too_long = false;
    buf[0] = '\0';
    v = lws_get_urlarg_by_name(wsi, name, scratch, GH_HTTP_ARG_MAX);
    if (v == NULL) {
        free(scratch);
        return NULL;
    }
    n = strlen(v);
    if (n >= len) {
        if (too_long != NULL)
            *too_long = true;
        free(scratch);
        return NULL;
    }
    memcpy(buf, v, n + 1);
    free(scratch);
    return buf;
}

bool
gh_http_ws_origin_ok(struct lws *wsi)
{
    /* Browsers always send Origin on a WebSocket handshake; a page on
     * another site must never drive a session with the user's cookie
     * (cross-site WebSocket hijacking). Native clients send no Origin and
     * authenticate with a bearer token instead. */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
        return true;
    return gh_http_same_origin(wsi);
}

bool
gh_http_same_origin(struct lws *wsi)
{
    struct gh_gateway *gw = gh_http_gw(wsi);
    char origin[512];
    size_t n;
    int len;

    len = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
    if (len <= 0)
        return false;
    /* gw->url is "https://host:port/"; the Origin has no trailing '/'. */
    n = strlen(gw->url);
    if (n > 0 && gw->url[n - 1] == '/')
        n--;
    return (size_t)len == n && strncmp(origin, gw->url, n) == 0;
}

static double
gh_http_now(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static int
gh_http_healthz(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_http_gw(wsi);
    bool store_ok = gh_store_ping(gw->store) == 0;
    json_t *j;
    char *body;

    j = json_pack("{s:s, s:s, s:I, s:s}", "status", store_ok ? "ok" : "error",
                  "version", GH_VERSION, "uptime_seconds",
                  (json_int_t)(gh_http_now() - gw->metrics.start_time), "store",
                  store_ok ? "ok" : "error");
    body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (body == NULL)
        return -1;
    return gh_http_respond(wsi, pss, store_ok ? 200 : 503, "application/json",
                           body, strlen(body));
}

static int
gh_http_metrics(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_http_gw(wsi);
    char *body;
    size_t len;

    /* Count this response before rendering so it sees itself. */
    gh_metrics_http(&gw->metrics, 200);
    gh_metrics_render(&gw->metrics, GH_VERSION, &body, &len);
    gw->metrics.http_status[200 - GH_METRICS_STATUS_MIN]--;
    return gh_http_respond(wsi, pss, 200, "text/plain; version=0.0.4", body,
                           len);
}

int
gh_http_file(struct lws *wsi, const char *path, const char *mime)
{
    struct gh_gateway *gw = gh_http_gw(wsi);
    int r;

    gh_metrics_http(&gw->metrics, 200);
    /* lws adds the vhost's security headers to the status line it sends.
     * Returns < 0 on failure, > 0 when it finished (HEAD or empty file). */
    r = lws_serve_http_file(wsi, path, mime, NULL, 0);
    if (r < 0)
        return -1;
    if (r > 0 && lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static int
gh_http_static(struct lws *wsi, struct gh_http_pss *pss, const char *uri)
{
    struct gh_gateway *gw = gh_http_gw(wsi);
    char *path = NULL;
    int r;

    r = gh_static_resolve(gw->web_root_real, uri, &path);
    if (r != 0)
        return gh_http_error(wsi, pss, 404, "not_found", "no such page");
    r = gh_http_file(wsi, path, gh_static_mime(path));
    free(path);
    return r;
}

/* Which method the request used; NULL for one we do not serve. */
static const char *
gh_http_method(struct lws *wsi, bool *head)
{
    *head = false;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
        return "GET";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0) {
        *head = true;
        return "HEAD";
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
        return "POST";
    return NULL;
}

static int
gh_http_route(struct lws *wsi, struct gh_http_pss *pss, const char *uri)
{
    const char *method = gh_http_method(wsi, &pss->head);
    int r;

    if (gh_log_enabled(GH_LOG_DEBUG))
        gh_debug("http", "msg=request method=%s path=%s",
                 method ? method : "other", gh_q(uri));
    if (method != NULL && strcmp(method, "POST") == 0 &&
        lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        /* Route once the body has arrived (HTTP_BODY_COMPLETION). */
        if (strlen(uri) >= sizeof(pss->post_uri))
            return gh_http_error(wsi, pss, 404, "not_found",
                                 "no such endpoint");
        strcpy(pss->post_uri, uri);
        gh_free(pss->req_body);
        pss->req_len = 0;
        return 0;
    }
    r = gh_auth_http_route(wsi, pss, method, uri);
    if (r != GH_AUTH_NOT_MINE)
        return r;
    if (method == NULL || strcmp(method, "POST") == 0)
        return gh_http_error(wsi, pss, 405, "method_not_allowed",
                             "method not allowed");
    if (strcmp(uri, "/healthz") == 0)
        return gh_http_healthz(wsi, pss);
    if (strcmp(uri, "/metrics") == 0)
        return gh_http_metrics(wsi, pss);
    return gh_http_static(wsi, pss, uri);
}

/* Write the stored response: headers, then the body in one go (lws
 * buffers what the socket refuses and calls WRITEABLE again only once
 * that is drained). */
static int
gh_http_write_response(struct lws *wsi, struct gh_http_pss *pss)
{
    unsigned char hbuf[LWS_PRE + GH_HTTP_HEADERS_MAX];
    unsigned char *start = hbuf + LWS_PRE, *p = start;
    unsigned char *end = hbuf + sizeof(hbuf);
    unsigned char *buf;
    int i, n;

    if (lws_add_http_common_headers(wsi, pss->status, pss->type, pss->len, &p,
                                    end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"cache-control:",
            (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    if (pss->location != NULL &&
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_LOCATION,
                                     (const unsigned char *)pss->location,
                                     (int)strlen(pss->location), &p, end))
        return -1;
    for (i = 0; i < GH_HTTP_COOKIES_MAX; i++)
        if (pss->cookies[i] != NULL &&
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SET_COOKIE,
                                         (const unsigned char *)pss->cookies[i],
                                         (int)strlen(pss->cookies[i]), &p, end))
            return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (!pss->head && pss->len > 0) {
        buf = gh_alloc(LWS_PRE + pss->len, 1);
        memcpy(buf + LWS_PRE, pss->body, pss->len);
        n = lws_write(wsi, buf + LWS_PRE, pss->len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        if (n < (int)pss->len)
            return -1;
    }
    gh_http_pss_clear(pss);
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static int
gh_http_writeable(struct lws *wsi, struct gh_http_pss *pss)
{
    int r;

    if (!pss->have_response && pss->resume != NULL) {
        gh_http_resume_fn fn = pss->resume;

        pss->resume = NULL;
        r = fn(wsi, pss);
        if (r < 0)
            return -1;
    }
    if (!pss->have_response)
        return 0; /* still waiting */
    return gh_http_write_response(wsi, pss);
}

int
gh_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                 void *in, size_t len)
{
    struct gh_http_pss *pss = user;
    struct gh_gateway *gw;

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* user is the vhost's SSL_CTX: TLS 1.2 is the floor. */
        if (SSL_CTX_set_min_proto_version((SSL_CTX *)user, TLS1_2_VERSION) != 1)
            return 1;
        SSL_CTX_set_options((SSL_CTX *)user,
                            SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE);
        return 0;
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        /* An accepted TCP connection (not an h2 stream, not our own
         * descriptors): mark it so its destruction is counted too. */
        gw = gh_http_gw(wsi);
        gw->metrics.open_connections++;
        gw->metrics.connections_total++;
        lws_set_opaque_user_data(wsi, &gh_http_conn_mark);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (lws_get_opaque_user_data(wsi) == &gh_http_conn_mark)
            gh_http_gw(wsi)->metrics.open_connections--;
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* lws would otherwise accept a WebSocket upgrade onto this, the
         * default protocol. WebSocket endpoints have their own protocols,
         * each of which checks gh_http_ws_origin_ok(). */
        gh_info("http", "msg=\"WebSocket upgrade refused: no such "
                        "endpoint\"");
        return -1;
    case LWS_CALLBACK_HTTP:
        if (gh_http_gw(wsi)->stopping)
            return -1;
        /* A decoded %00 would cut the path short: refuse it whole. (Over
         * HTTP/1.1 lws itself drops a connection whose path has a NUL
         * inside; this catches what reaches us another way.) */
        if (in == NULL || strlen((const char *)in) != len)
            return gh_http_error(wsi, pss, 400, "bad_request",
                                 "malformed request path");
        return gh_http_route(wsi, pss, (const char *)in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return gh_http_writeable(wsi, pss);
    case LWS_CALLBACK_HTTP_BODY:
        if (pss->req_len + len > GH_HTTP_REQUEST_BODY_MAX) {
            lws_return_http_status(wsi, 413, NULL);
            return -1;
        }
        pss->req_body = gh_realloc(pss->req_body, pss->req_len + len + 1, 1);
        memcpy(pss->req_body + pss->req_len, in, len);
        pss->req_len += len;
        pss->req_body[pss->req_len] = '\0';
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
        int r = gh_auth_http_route(wsi, pss, "POST", pss->post_uri);

        if (r == GH_AUTH_NOT_MINE)
            r = gh_http_error(wsi, pss, 405, "method_not_allowed",
                              "method not allowed");
        return r;
    }
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss != NULL) {
            gh_auth_http_closed(wsi, pss);
            gh_http_pss_clear(pss);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* The fetch thread or the resolver has results: run their
         * callbacks here. */
        gw = gh_http_gw(wsi);
        if (gw->fetch != NULL)
            gh_fetch_dispatch(gw->fetch);
        gh_broker_dispatch(gw->broker);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
