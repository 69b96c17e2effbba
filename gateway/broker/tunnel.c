/*
 * tunnel.c - raw TCP tunnels for native clients (docs/PROTOCOL.md
 * "Tunnels"): the "gatehouse.tunnel.v1" WebSocket at /api/v1/tunnel on one
 * side, a non-blocking TCP connection to a declared target's declared
 * port on the other, relayed in the event loop. The bytes are the
 * client's own protocol (SSH, RDP...): relayed, counted, never parsed or
 * recorded.
 *
 * A tunnel is a session like the browser's (session.c): the same door,
 * row, grant enforcement, kill and end; only the far side differs (an lws
 * raw client connection instead of a worker).
 */
#include "broker-priv.h"

#include "gateway.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/oidc.h"
#include "gatehouse/target.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define GH_TUNNEL_TCP_PROTOCOL "gh-tunnel-tcp"
/* Longest control message (text) accepted from the client. */
#define GH_TUNNEL_CONTROL_MAX 1024

static struct gh_broker *
gh_tunnel_broker(struct lws *wsi)
{
    struct gh_gateway *gw = lws_context_user(lws_get_context(wsi));

    return gw->broker;
}

/* Queue bytes (binary) or a control message (text) for the client. */
void
gh_tunnel_to_client(struct gh_rsess *s, bool text, const void *p, size_t len)
{
    struct gh_chunk *c;

    if (s->ws == NULL || s->state == GH_RS_ENDED)
        return;
    c = gh_queue_push(&s->to_browser, LWS_PRE, p, len, NULL, 0);
    c->text = text;
    lws_callback_on_writable(s->ws);
}

/* Everything the client sent is written and it will send no more: pass
 * the half-close on to the target. */
static void
gh_tunnel_maybe_shutdown(struct gh_rsess *s)
{
    if (s->client_eof && s->to_worker.head == NULL && s->link != NULL &&
        s->state == GH_RS_OPEN)
        shutdown(lws_get_socket_fd(s->link), SHUT_WR);
}

void
gh_tunnel_stop(struct gh_rsess *s)
{
    gh_queue_clear(&s->to_worker);
    if (s->link != NULL)
        lws_set_timeout(s->link, PENDING_TIMEOUT_KILLED_BY_PARENT,
                        LWS_TO_KILL_ASYNC);
}

/* Connect to the target once its address is known (gh_rsess_resolve). */
static void
gh_tunnel_connect(struct gh_rsess *s, const char *address)
{
    struct gh_gateway *gw = s->b->gw;
    struct lws_client_connect_info ci;
    struct lws *tcp;

    memset(&ci, 0, sizeof(ci));
    ci.context = gw->lws;
    ci.vhost = gw->vhost;
    /* Only the operator's address (or what its name resolved to) and a
     * declared, granted port. */
    ci.address = address;
    ci.port = (int)s->port;
    ci.host = address;
    ci.path = "";
    ci.method = "RAW";
    ci.local_protocol_name = GH_TUNNEL_TCP_PROTOCOL;
    ci.opaque_user_data = s;
    tcp = lws_client_connect_via_info(&ci);
    if (s->state == GH_RS_ENDED)
        return; /* the error callback ended it */
    if (tcp == NULL) {
        gh_rsess_end(s, "connect_failed", "cannot start the connection", false);
        return;
    }
    s->link = tcp;
    gh_info("broker",
            "msg=\"tunnel started\" session=%lld user=%s target=%s port=%u "
            "grant=%lld",
            (long long)s->id, gh_q(s->user), gh_q(s->target), s->port,
            (long long)s->grant_id);
}

struct gh_rsess *
gh_tunnel_start(struct gh_broker *b, struct lws *wsi, struct gh_ws_pss *pss)
{
    const struct gh_target *t;
    struct gh_rsess *s;

    if (pss->port == 0) {
        gh_ws_close(wsi, "port_not_declared",
                    "expected ?target=NAME&port=N (1-65535)", false);
        return NULL;
    }
    s = gh_rsess_admit(b, wsi, pss, pss->port, &t);
    if (s == NULL)
        return NULL;
    pss->s = s; /* a synchronous connect error already finds the session */
    gh_rsess_resolve(s, t->address, gh_tunnel_connect);
    return s;
}

/* Bytes or a control message from the client. */
static int
gh_tunnel_receive(struct lws *wsi, struct gh_ws_pss *pss, const void *in,
                  size_t len)
{
    struct gh_rsess *s = pss->s;
    struct gh_chunk *c;
    const char *type;
    json_t *j;

    if (s == NULL || s->state == GH_RS_ENDED || pss->close_reason != NULL)
        return 0;
    if (lws_frame_is_binary(wsi)) {
        if (s->client_eof) {
            gh_rsess_end(s, "protocol_error", "bytes after eof", false);
            return 0;
        }
        if (len == 0)
            return 0;
        c = gh_queue_push(&s->to_worker, LWS_PRE, in, len, NULL, 0);
        (void)c;
        s->bytes_in += (int64_t)len;
        s->last_active_ms = gh_broker_now_ms();
        if (s->link != NULL && s->state == GH_RS_OPEN)
            lws_callback_on_writable(s->link);
        if (s->to_worker.bytes >= GH_BROKER_QUEUE_CAP && !s->ws_paused) {
            s->ws_paused = true;
            lws_rx_flow_control(wsi, 0);
        }
        return 0;
    }
    /* A text (control) message, possibly in fragments. */
    if (pss->msg_len + len > GH_TUNNEL_CONTROL_MAX) {
        gh_rsess_end(s, "protocol_error", "control message too large", false);
        return 0;
    }
    pss->msg = gh_realloc(pss->msg, 1, pss->msg_len + len + 1);
    memcpy(pss->msg + pss->msg_len, in, len);
    pss->msg_len += len;
    if (!lws_is_final_fragment(wsi))
        return 0;
    j = json_loadb((const char *)pss->msg, pss->msg_len, JSON_REJECT_DUPLICATES,
                   NULL);
    pss->msg_len = 0;
    type = json_string_value(json_object_get(j, "type"));
    if (type != NULL && strcmp(type, "eof") == 0) {
        s->client_eof = true;
        gh_tunnel_maybe_shutdown(s);
    } else if (type != NULL && strcmp(type, "close") == 0) {
        gh_rsess_end(s, "user_closed", "the client closed the tunnel", true);
    } else {
        gh_rsess_end(s, "protocol_error", "unknown control message", false);
    }
    json_decref(j);
    return 0;
}

static int
gh_tunnel_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
    struct gh_ws_pss *pss = user;
    struct gh_broker *b;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return gh_ws_handshake(wsi, pss, true);
    case LWS_CALLBACK_ESTABLISHED:
        b = gh_tunnel_broker(wsi);
        if (b == NULL || b->shutting_down)
            gh_ws_close(wsi, "server_shutdown", "the gateway is stopping",
                        false);
        else if (pss->who == NULL)
            gh_ws_close(wsi,
                        pss->auth_code ? pss->auth_code : "unauthenticated",
                        pss->auth_msg, false);
        else
            pss->s = gh_tunnel_start(b, wsi, pss);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return gh_ws_writeable(wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return gh_tunnel_receive(wsi, pss, in, len);
    case LWS_CALLBACK_CLOSED:
        gh_ws_closed(pss);
        return 0;
    default:
        return 0;
    }
}

/* The TCP side: an lws raw client connection. */
static int
gh_tunnel_tcp_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len)
{
    struct gh_rsess *s = lws_get_opaque_user_data(wsi);
    struct gh_chunk *c;
    int one = 1;

    (void)user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* never a WebSocket protocol */
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (s != NULL) {
            char msg[160];

            lws_set_opaque_user_data(wsi, NULL);
            s->link = NULL;
            snprintf(msg, sizeof(msg),
                     "the target did not accept the "
                     "connection (%s)",
                     in ? (const char *)in : "unknown error");
            gh_rsess_end(s, "connect_failed", msg, false);
            gh_rsess_maybe_free(s);
        }
        return 0;
    case LWS_CALLBACK_RAW_CONNECTED:
        if (s == NULL || s->state == GH_RS_ENDED)
            return -1;
        setsockopt(lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof(one));
        s->link = wsi;
        s->state = GH_RS_OPEN;
        gh_rsess_status(s,
                        json_pack("{s:s, s:I, s:I}", "type", "open", "session",
                                  (json_int_t)s->id, "grant_expires",
                                  (json_int_t)s->grant_expires_ms));
        if (s->to_worker.head != NULL)
            lws_callback_on_writable(wsi);
        gh_tunnel_maybe_shutdown(s);
        return 0;
    case LWS_CALLBACK_RAW_RX:
        if (s == NULL || s->state == GH_RS_ENDED)
            return 0;
        s->bytes_out += (int64_t)len;
        s->last_active_ms = gh_broker_now_ms();
        gh_tunnel_to_client(s, false, in, len);
        if (s->to_browser.bytes >= GH_BROKER_QUEUE_CAP && !s->link_paused) {
            s->link_paused = true;
            lws_rx_flow_control(wsi, 0);
        }
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (s == NULL || s->state == GH_RS_ENDED)
            return 0;
        c = s->to_worker.head;
        if (c != NULL) {
            if (lws_write(wsi, c->p, c->len, LWS_WRITE_RAW) < (int)c->len)
                return -1;
            gh_queue_pop(&s->to_worker);
            if (s->to_worker.head != NULL)
                lws_callback_on_writable(wsi);
        }
        if (s->ws_paused && s->ws != NULL &&
            s->to_worker.bytes < GH_BROKER_QUEUE_CAP / 2) {
            s->ws_paused = false;
            lws_rx_flow_control(s->ws, 1);
        }
        gh_tunnel_maybe_shutdown(s);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (s != NULL) {
            lws_set_opaque_user_data(wsi, NULL);
            s->link = NULL;
            if (s->state != GH_RS_ENDED && !s->b->shutting_down) {
                gh_rsess_status(s, json_pack("{s:s}", "type", "eof"));
                gh_rsess_end(s, "target_closed",
                             "the target closed the connection", true);
            }
            gh_rsess_maybe_free(s);
        }
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols gh_broker_tunnel_protocol = {
    "gatehouse.tunnel.v1",
    gh_tunnel_ws_callback,
    sizeof(struct gh_ws_pss),
    256 * 1024,
    0,
    NULL,
    0};

const struct lws_protocols gh_broker_tunnel_tcp_protocol = {
    GH_TUNNEL_TCP_PROTOCOL, gh_tunnel_tcp_callback, 0, 256 * 1024, 0, NULL, 0};
