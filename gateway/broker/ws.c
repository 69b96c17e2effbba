/*
 * ws.c - the browser side of a session: the "gatehouse.v1" WebSocket at
 * /api/v1/connect (docs/PROTOCOL.md).
 *
 * The handshake checks the path and the Origin (cross-site WebSocket
 * hijacking) and reads the identity while the request headers are still
 * there; everything else (the decision, refusals) happens after the
 * upgrade so that the browser is told why in a CLOSE frame instead of
 * seeing a bare failed handshake.
 */
#include "broker-priv.h"

#include "auth-http.h"
#include "gateway.h"
#include "http.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/oidc.h"

#include <stdlib.h>
#include <string.h>

#define GH_WS_PATH        "/api/v1/connect"
#define GH_WS_TUNNEL_PATH "/api/v1/tunnel"
/* Longest tunnel control message (text) accepted: {"type":"eof"}. */
#define GH_WS_CONTROL_MAX 1024
/* Terminal size before the browser's first RESIZE. */
#define GH_WS_DEFAULT_COLS 80
#define GH_WS_DEFAULT_ROWS 24

static struct gh_broker *
gh_ws_broker(struct lws *wsi)
{
    struct gh_gateway *gw = lws_context_user(lws_get_context(wsi));

    return gw->broker;
}

static unsigned
gh_ws_dim(struct lws *wsi, const char *name, unsigned def)
{
    char buf[16];
    const char *v = gh_http_arg(wsi, name, buf, sizeof(buf), NULL);
    char *end;
    unsigned long n;

    if (v == NULL)
        return def;
    n = strtoul(v, &end, 10);
    if (*end != '\0' || n < 1 || n > GH_FRAME_DIM_MAX)
        return def;
    return (unsigned)n;
}

int
gh_ws_handshake(struct lws *wsi, struct gh_ws_pss *pss, bool tunnel)
{
    char uri[64], pbuf[16];
    struct gh_auth a;
    bool too_long = false;
    const char *pv;
    char *end;
    unsigned long port;

    memset(pss, 0, sizeof(*pss));
    pss->tunnel = tunnel;
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
        strcmp(uri, tunnel ? GH_WS_TUNNEL_PATH : GH_WS_PATH) != 0)
        return -1;
    if (tunnel &&
        (pv = gh_http_arg(wsi, "port=", pbuf, sizeof(pbuf), NULL)) != NULL) {
        port = strtoul(pv, &end, 10);
        pss->port =
            *end == '\0' && port >= 1 && port <= 65535 ? (unsigned)port : 0;
    }
    if (!gh_http_ws_origin_ok(wsi)) {
        gh_auth_audit(wsi, "-", "session.connect", "denied",
                      json_pack("{s:s}", "reason", "cross_origin"));
        lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
        return -1;
    }
    if (gh_http_arg(wsi, "target=", pss->target, sizeof(pss->target),
                    &too_long) == NULL)
        pss->target[0] = '\0';
    if (gh_http_arg(wsi, "protocol=", pss->protocol, sizeof(pss->protocol),
                    NULL) == NULL)
        snprintf(pss->protocol, sizeof(pss->protocol), "ssh");
    pss->cols = gh_ws_dim(wsi, "cols=", GH_WS_DEFAULT_COLS);
    pss->rows = gh_ws_dim(wsi, "rows=", GH_WS_DEFAULT_ROWS);
    switch (gh_auth_check(wsi, false, &a, &pss->auth_code, &pss->auth_msg)) {
    case GH_AUTH_OK:
        pss->who = a.id;
        break;
    case GH_AUTH_WAIT:
        /* An unknown kid: the refresh has been asked for; the client may
         * try again shortly. */
        pss->auth_code = "unknown_kid";
        pss->auth_msg = "the token's key is not known yet; try again";
        break;
    default:
        break;
    }
    return 0;
}

void
gh_ws_close(struct lws *wsi, const char *reason, const char *message,
            bool flush)
{
    struct gh_ws_pss *pss = lws_wsi_user(wsi);
    json_t *j;

    if (pss == NULL || pss->close_reason != NULL)
        return;
    pss->close_reason = reason;
    j = pss->tunnel ? json_pack("{s:s, s:s, s:s}", "type", "close", "reason",
                                reason, "message", message ? message : "")
                    : json_pack("{s:s, s:s}", "reason", reason, "message",
                                message ? message : "");
    pss->close_frame = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!flush && pss->s != NULL)
        gh_queue_clear(&pss->s->to_browser);
    /* A browser that does not read is not waited for. */
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, GH_BROKER_CLOSE_TIMEOUT_S);
    lws_callback_on_writable(wsi);
}

static int
gh_ws_established(struct lws *wsi, struct gh_ws_pss *pss)
{
    struct gh_broker *b = gh_ws_broker(wsi);

    if (b == NULL || b->shutting_down) {
        gh_ws_close(wsi, "server_shutdown", "the gateway is stopping", false);
        return 0;
    }
    if (pss->who == NULL) {
        gh_ws_close(wsi, pss->auth_code ? pss->auth_code : "unauthenticated",
                    pss->auth_msg, false);
        return 0;
    }
    pss->s = gh_rsess_start(b, wsi, pss);
    return 0;
}

int
gh_ws_writeable(struct lws *wsi, struct gh_ws_pss *pss)
{
    struct gh_rsess *s = pss->s;
    struct gh_chunk *c = s ? s->to_browser.head : NULL;
    unsigned char *buf;
    size_t n;

    if (c != NULL) {
        if (lws_write(wsi, c->p, c->len,
                      c->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY) <
            (int)c->len)
            return -1;
        gh_queue_pop(&s->to_browser);
        if (s->link_paused && s->to_browser.bytes < GH_BROKER_QUEUE_CAP / 2 &&
            s->link != NULL) {
            s->link_paused = false;
            lws_rx_flow_control(s->link, 1);
        }
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (pss->close_reason == NULL)
        return 0;
    if (!pss->close_frame_sent) {
        size_t pre = pss->tunnel ? 0 : 1; /* tunnels: plain JSON text */

        n = strlen(pss->close_frame);
        buf = gh_alloc(1, LWS_PRE + 1 + n);
        buf[LWS_PRE] = GH_F_CLOSE;
        memcpy(buf + LWS_PRE + pre, pss->close_frame, n);
        if (lws_write(wsi, buf + LWS_PRE, pre + n,
                      pss->tunnel ? LWS_WRITE_TEXT : LWS_WRITE_BINARY) <
            (int)(pre + n)) {
            free(buf);
            return -1;
        }
        free(buf);
        pss->close_frame_sent = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    lws_close_reason(
        wsi, (enum lws_close_status)gh_rsess_close_code(pss->close_reason),
        (unsigned char *)pss->close_reason, strlen(pss->close_reason));
    return -1;
}

/* A (fragment of a) message from the browser. */
static int
gh_ws_receive(struct lws *wsi, struct gh_ws_pss *pss, const void *in,
              size_t len)
{
    struct gh_frame f;
    int rc;

    if (pss->close_reason != NULL)
        return 0; /* closing: the rest is ignored */
    if (!lws_frame_is_binary(wsi)) {
        if (pss->s != NULL)
            gh_rsess_end(pss->s, "protocol_error",
                         "text messages are not part of the protocol", false);
        else
            gh_ws_close(wsi, "protocol_error", "text message", false);
        return 0;
    }
    if (pss->msg_len + len > 1 + GH_FRAME_PAYLOAD_MAX) {
        rc = GH_E_TOOBIG;
        goto bad;
    }
    pss->msg = gh_realloc(pss->msg, 1, pss->msg_len + len + 1);
    memcpy(pss->msg + pss->msg_len, in, len);
    pss->msg_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    rc = gh_frame_parse(pss->msg, pss->msg_len, GH_FROM_BROWSER, &f);
    if (rc == 0 && pss->s != NULL)
        gh_rsess_from_browser(pss->s, &f);
    gh_wipe(pss->msg, pss->msg_len); /* may hold a credential */
    pss->msg_len = 0;
    if (rc == 0)
        return 0;
bad:
    gh_wipe(pss->msg, pss->msg_len);
    pss->msg_len = 0;
    gh_info("broker", "msg=\"bad frame from browser\" session=%lld err=%s",
            pss->s ? (long long)pss->s->id : 0LL, gh_strerror(rc));
    if (pss->s != NULL)
        gh_rsess_end(pss->s, "protocol_error",
                     rc == GH_E_TOOBIG ? "message too large"
                                       : "malformed or unknown frame",
                     false);
    else
        gh_ws_close(wsi, "protocol_error", "malformed or unknown frame", false);
    return 0;
}

void
gh_ws_closed(struct gh_ws_pss *pss)
{
    if (pss->s != NULL) {
        struct gh_rsess *s = pss->s;

        pss->s = NULL;
        gh_rsess_ws_gone(s);
    }
    gh_identity_free(pss->who);
    pss->who = NULL;
    if (pss->msg != NULL)
        gh_freezero(pss->msg, pss->msg_len);
    pss->msg = NULL;
    free(pss->close_frame);
    pss->close_frame = NULL;
}

static int
gh_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
               void *in, size_t len)
{
    struct gh_ws_pss *pss = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return gh_ws_handshake(wsi, pss, false);
    case LWS_CALLBACK_ESTABLISHED:
        return gh_ws_established(wsi, pss);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return gh_ws_writeable(wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return gh_ws_receive(wsi, pss, in, len);
    case LWS_CALLBACK_CLOSED:
        gh_ws_closed(pss);
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols gh_broker_ws_protocol = {GH_FRAME_SUBPROTOCOL,
                                                    gh_ws_callback,
                                                    sizeof(struct gh_ws_pss),
                                                    GH_BROKER_RX_BUFFER,
                                                    GH_FRAME_VERSION,
                                                    NULL,
                                                    0};
