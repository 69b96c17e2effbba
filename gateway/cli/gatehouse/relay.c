/*
 * relay.c - local streams through the gateway's tunnel WebSocket (see
 * relay.h).
 *
 * One lws context (client only). Local descriptors - stdin, stdout,
 * accepted sockets, the listener and a signalfd - are adopted as raw
 * files, so everything waits in lws's one poll(); the relay does its own
 * read() and write() on them. A stream owns its WebSocket and its local
 * wsis; it is freed when the last of them has closed.
 */
#include "relay.h"
#include "trust.h"

#include "cli-token.h"

#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define GH_RELAY_PROTOCOL "gatehouse.tunnel.v1"
/* Longest control message taken from the gateway ({"type":"close"} with
 * its message); anything longer is a broken or hostile gateway. */
#define GH_RELAY_CONTROL_MAX 4096
/* Longest host name in a server URL (DNS names are at most 253). */
#define GH_RELAY_HOST_MAX 256

struct gh_rchunk {
    struct gh_rchunk *next;
    size_t len, off;
    bool text;
    unsigned char buf[]; /* LWS_PRE + payload */
};

struct gh_rqueue {
    struct gh_rchunk *head, *tail;
    size_t bytes;
};

enum gh_rkind { GH_RK_STREAM, GH_RK_LISTEN, GH_RK_SIGNAL };

struct gh_relay;

struct gh_stream {
    struct gh_relay *r;
    struct gh_stream *next;
    unsigned no; /* connection number, for messages */
    struct lws *ws, *in, *out;
    int in_fd, out_fd;
    bool sock; /* in and out are one socket (one wsi) */
    struct gh_rqueue up, down;
    bool ws_up, ws_gone, opened;
    bool local_eof, eof_sent, remote_eof, out_shut;
    bool in_paused, ws_paused, closing;
    char ctl[GH_RELAY_CONTROL_MAX + 1];
    size_t ctl_len;
    char reason[64];
    char message[256];
    long long session;
    unsigned long long bytes_up, bytes_down;
};

struct gh_relay {
    const struct gh_relay_conf *c;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    char host[GH_RELAY_HOST_MAX];
    char path[1024];
    int port, tls;
    struct gh_stream *streams;
    unsigned nstreams, next_no;
    pid_t child;
    int child_status;
    char *token; /* the bearer token now (owned, wiped) */
    bool done, stopping;
    int status; /* the proxy's exit status */
    bool proxy;
    struct gh_relay_lost *lost; /* proxy: an unexplained loss goes here */
};

/* What each adopted local wsi is (its opaque user data). */
struct gh_rlocal {
    enum gh_rkind kind;
    struct gh_stream *s;
    int fd;
};

static void gh_stream_check(struct gh_stream *s);

/* ---- queues ---- */

static void
gh_rq_push(struct gh_rqueue *q, const void *p, size_t len, bool text)
{
    struct gh_rchunk *c = gh_alloc(1, sizeof(*c) + LWS_PRE + len);

    c->len = len;
    c->text = text;
    memcpy(c->buf + LWS_PRE, p, len);
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += len;
}

static void
gh_rq_pop(struct gh_rqueue *q)
{
    struct gh_rchunk *c = q->head;

    q->head = c->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->bytes -= c->len - c->off;
    free(c);
}

static void
gh_rq_clear(struct gh_rqueue *q)
{
    while (q->head != NULL)
        gh_rq_pop(q);
}

/* ---- the stream ---- */

static void
gh_stream_say(struct gh_stream *s, const char *what)
{
    if (s->r->proxy)
        gh_cli_err("%s:%u: %s", s->r->c->target, s->r->c->port, what);
    else
        gh_cli_err("connection %u to %s:%u: %s", s->no, s->r->c->target,
                   s->r->c->port, what);
}

/* Ask for the local writer's WRITEABLE. */
static void
gh_stream_want_out(struct gh_stream *s)
{
    if (s->out != NULL)
        lws_callback_on_writable(s->out);
}

static void
gh_stream_want_ws(struct gh_stream *s)
{
    if (s->ws != NULL && s->ws_up)
        lws_callback_on_writable(s->ws);
}

/* Close a local wsi from outside its own callback. */
static void
gh_stream_kill(struct lws *wsi)
{
    if (wsi != NULL)
        lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT,
                        LWS_TO_KILL_ASYNC);
}

/* End the WebSocket side (a normal close frame) once it is up. */
static void
gh_stream_close_ws(struct gh_stream *s)
{
    s->closing = true;
    if (s->ws != NULL && s->ws_up)
        lws_callback_on_writable(s->ws);
    else if (s->ws != NULL)
        gh_stream_kill(s->ws);
}

static void
gh_stream_free(struct gh_stream *s)
{
    struct gh_relay *r = s->r;
    struct gh_stream **pp;

    for (pp = &r->streams; *pp != NULL; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    r->nstreams--;
    gh_rq_clear(&s->up);
    gh_rq_clear(&s->down);
    free(s);
    if (r->proxy || (r->stopping && r->streams == NULL)) {
        r->done = true;
        lws_cancel_service(r->ctx); /* the loop may be in a long poll */
    }
}

/* The stream's progress after any event: pass on half-closes, end what
 * is finished, free it when nothing refers to it. */
static void
gh_stream_check(struct gh_stream *s)
{
    /* Everything the gateway sent is written and it sends no more. */
    if (s->down.head == NULL && (s->remote_eof || s->ws_gone) && !s->out_shut &&
        s->out != NULL) {
        s->out_shut = true;
        if (s->sock)
            shutdown(s->out_fd, SHUT_WR);
        else
            gh_stream_kill(s->out);
    }
    /* Nothing more can move: end the local side. */
    if (s->ws_gone && s->down.head == NULL) {
        if (s->in != NULL && s->in != s->out)
            gh_stream_kill(s->in);
        gh_stream_kill(s->out);
        if (s->sock)
            gh_stream_kill(s->in);
    }
    if (s->ws == NULL && s->ws_gone && s->in == NULL && s->out == NULL)
        gh_stream_free(s);
}

/* The local side failed or went away for good. */
static void
gh_stream_local_gone(struct gh_stream *s)
{
    gh_rq_clear(&s->down);
    if (!s->ws_gone)
        gh_stream_close_ws(s);
}

/* A control message from the gateway. */
static void
gh_stream_control(struct gh_stream *s)
{
    json_error_t je;
    json_t *j = json_loadb(s->ctl, s->ctl_len, JSON_REJECT_DUPLICATES, &je);
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *reason, *msg;
    char line[400];

    if (type == NULL) {
        json_decref(j);
        return;
    }
    if (strcmp(type, "open") == 0) {
        s->opened = true;
        s->session = json_integer_value(json_object_get(j, "session"));
        if (s->r->c->verbose) {
            snprintf(line, sizeof(line), "open (session %lld)", s->session);
            gh_stream_say(s, line);
        }
    } else if (strcmp(type, "eof") == 0) {
        s->remote_eof = true;
        gh_stream_want_out(s);
    } else if (strcmp(type, "close") == 0) {
        reason = gh_cli_json_str(j, "reason", sizeof(s->reason) - 1);
        msg = json_string_value(json_object_get(j, "message"));
        snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
        /* The message is shown on a terminal: printable bytes only. */
        snprintf(s->message, sizeof(s->message), "%s", msg ? msg : "");
        for (char *p = s->message; *p != '\0'; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    }
    json_decref(j);
}

/* The stream ended on the gateway's side: say why when it matters. */
static void
gh_stream_ended(struct gh_stream *s, const char *neterr)
{
    char line[512];
    bool normal =
        s->reason[0] != '\0'
            ? strcmp(s->reason, "target_closed") == 0
            : s->closing || (neterr == NULL && s->opened && s->local_eof);

    if (s->ws_gone)
        return;
    s->ws_gone = true;
    /* What is left to write gets GH_RELAY_DRAIN_S, then the local side is
     * closed whatever it still holds. */
    if (s->out != NULL)
        lws_set_timeout(s->out, PENDING_TIMEOUT_USER_REASON_BASE,
                        GH_RELAY_DRAIN_S);
    if (s->in != NULL && s->in != s->out)
        lws_set_timeout(s->in, PENDING_TIMEOUT_USER_REASON_BASE,
                        GH_RELAY_DRAIN_S);
    if (normal) {
        if (s->r->c->verbose) {
            snprintf(line, sizeof(line), "closed%s (%llu bytes up, %llu down)",
                     s->reason[0] != '\0' && !s->local_eof ? " by the target"
                                                           : "",
                     s->bytes_up, s->bytes_down);
            gh_stream_say(s, line);
        }
        s->r->status = 0;
    } else {
        if (s->reason[0] != '\0')
            snprintf(line, sizeof(line), "%s (%s)",
                     s->message[0] ? s->message : "ended by the gateway",
                     s->reason);
        else if (neterr != NULL && s->r->lost != NULL && s->session > 0) {
            /* Opened, then lost without the gateway's reason: the caller
             * asks the API why before saying anything. */
            s->r->lost->session = s->session;
            snprintf(s->r->lost->why, sizeof(s->r->lost->why), "%s", neterr);
            line[0] = '\0';
        } else if (neterr != NULL)
            snprintf(line, sizeof(line), "%s", neterr);
        else
            snprintf(line, sizeof(line),
                     "the gateway closed the tunnel without a reason");
        if (line[0] != '\0')
            gh_stream_say(s, line);
        s->r->status = GH_CLI_EXIT_FAIL;
        /* Cut off, not finished: what was queued is not delivered (the
         * local program may not even be reading any more). */
        gh_rq_clear(&s->down);
    }
    gh_rq_clear(&s->up);
    gh_stream_want_out(s);
}

/* Adopt fd as a raw file of the relay. */
static struct lws *
gh_relay_adopt(struct gh_relay *r, int fd, enum gh_rkind kind,
               struct gh_stream *s)
{
    struct gh_rlocal *l = gh_alloc(1, sizeof(*l));
    lws_sock_file_fd_type u;
    struct lws *wsi;

    l->kind = kind;
    l->s = s;
    l->fd = fd;
    u.filefd = (lws_filefd_type)fd;
    wsi = lws_adopt_descriptor_vhost(r->vh, LWS_ADOPT_RAW_FILE_DESC, u,
                                     "gh-local", NULL);
    if (wsi == NULL) {
        free(l);
        close(fd);
        return NULL;
    }
    lws_set_opaque_user_data(wsi, l);
    return wsi;
}

/* Open the stream's WebSocket. */
static bool
gh_stream_connect(struct gh_stream *s)
{
    struct gh_relay *r = s->r;
    struct lws_client_connect_info ci;

    memset(&ci, 0, sizeof(ci));
    ci.context = r->ctx;
    ci.vhost = r->vh;
    ci.address = r->host;
    ci.port = r->port;
    ci.host = r->host;
    ci.path = r->path;
    ci.protocol = GH_RELAY_PROTOCOL;
    ci.local_protocol_name = GH_RELAY_PROTOCOL;
    ci.opaque_user_data = s;
    if (r->tls) {
        ci.ssl_connection = LCCSCF_USE_SSL;
        /* The host name (or IP) is checked by gh_trust_peer_ok, which also
         * handles IP literals; a pin replaces the chain check. */
        ci.ssl_connection |= LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
        if (r->c->pin != NULL || r->c->insecure)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
                                 LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    s->ws = lws_client_connect_via_info(&ci);
    return s->ws != NULL || s->ws_gone;
}

/* A new stream over fds in/out (the same socket when sock). */
static struct gh_stream *
gh_stream_new(struct gh_relay *r, int in, int out, bool sock)
{
    struct gh_stream *s = gh_alloc(1, sizeof(*s));
    const char *tok;

    /* A long-running tunnel outlives its access token: ask for the
     * current one (the cache refreshes it when it is about to expire). */
    if (r->next_no > 0 && r->c->renew != NULL &&
        (tok = r->c->renew(r->c->renew_arg)) != NULL &&
        strcmp(tok, r->token) != 0) {
        gh_freezero(r->token, strlen(r->token));
        r->token = gh_strdup(tok);
    }
    s->r = r;
    s->no = ++r->next_no;
    s->in_fd = in;
    s->out_fd = out;
    s->sock = sock;
    s->next = r->streams;
    r->streams = s;
    r->nstreams++;
    s->in = gh_relay_adopt(r, in, GH_RK_STREAM, s);
    s->out = sock ? s->in : gh_relay_adopt(r, out, GH_RK_STREAM, s);
    if (s->in == NULL || s->out == NULL) {
        gh_stream_say(s, "cannot watch the local connection");
        s->ws_gone = true;
        gh_stream_check(s);
        return NULL;
    }
    if (!gh_stream_connect(s)) {
        gh_stream_ended(s, "cannot start the connection to the gateway");
        gh_stream_check(s);
        return NULL;
    }
    return s;
}

/* ---- the WebSocket ---- */

static int
gh_relay_ws_writeable(struct gh_stream *s, struct lws *wsi)
{
    struct gh_rchunk *c;
    static const char eof[] = "{\"type\":\"eof\"}";
    unsigned char buf[LWS_PRE + sizeof(eof)];

    if (s->closing) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    if ((c = s->up.head) != NULL) {
        if (lws_write(wsi, c->buf + LWS_PRE, c->len, LWS_WRITE_BINARY) <
            (int)c->len)
            return -1;
        s->bytes_up += c->len;
        gh_rq_pop(&s->up);
        if (s->in_paused && s->up.bytes < GH_RELAY_QUEUE_CAP / 2 &&
            s->in != NULL) {
            s->in_paused = false;
            lws_rx_flow_control(s->in, 1);
        }
        if (s->up.head != NULL || (s->local_eof && !s->eof_sent))
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (s->local_eof && !s->eof_sent) {
        s->eof_sent = true;
        memcpy(buf + LWS_PRE, eof, sizeof(eof) - 1);
        if (lws_write(wsi, buf + LWS_PRE, sizeof(eof) - 1, LWS_WRITE_TEXT) <
            (int)(sizeof(eof) - 1))
            return -1;
    }
    return 0;
}

static int
gh_relay_ws_receive(struct gh_stream *s, struct lws *wsi, const void *in,
                    size_t len)
{
    if (lws_frame_is_binary(wsi)) {
        if (len == 0 || s->ws_gone)
            return 0;
        if (s->out == NULL || s->out_shut)
            return 0; /* the local side is gone: drop */
        gh_rq_push(&s->down, in, len, false);
        s->bytes_down += len;
        if (s->down.bytes >= GH_RELAY_QUEUE_CAP && !s->ws_paused) {
            s->ws_paused = true;
            lws_rx_flow_control(wsi, 0);
        }
        gh_stream_want_out(s);
        return 0;
    }
    if (lws_is_first_fragment(wsi))
        s->ctl_len = 0;
    if (s->ctl_len + len > GH_RELAY_CONTROL_MAX) {
        gh_stream_ended(s, "the gateway sent an oversized control message");
        return -1;
    }
    memcpy(s->ctl + s->ctl_len, in, len);
    s->ctl_len += len;
    if (lws_is_final_fragment(wsi))
        gh_stream_control(s);
    return 0;
}

/* Why the handshake failed, in words. */
static void
gh_relay_ws_error(struct gh_stream *s, struct lws *wsi, const char *why)
{
    unsigned st = wsi != NULL ? lws_http_client_http_response(wsi) : 0;
    char line[400];

    if (st == 401)
        snprintf(line, sizeof(line),
                 "the gateway refused your login (HTTP 401): run "
                 "%s login --server %s",
                 gh_cli_agent(), s->r->c->server);
    else if (st == 403)
        snprintf(line, sizeof(line),
                 "the gateway refused the tunnel "
                 "(HTTP 403)");
    else if (st == 404)
        snprintf(line, sizeof(line),
                 "this gateway has no tunnel endpoint "
                 "(HTTP 404)");
    else if (st != 0)
        snprintf(line, sizeof(line), "the gateway answered HTTP %u", st);
    else
        snprintf(line, sizeof(line), "cannot reach the gateway %s: %s",
                 s->r->c->server, why ? why : "connection failed");
    gh_stream_ended(s, line);
}

static int
gh_relay_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
               void *in, size_t len)
{
    struct gh_stream *s = lws_get_opaque_user_data(wsi);
    struct gh_relay *r;
    unsigned char **p, *end;
    char auth[GH_CLI_TOKEN_MAX + 16];
    int n;

    (void)user;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
        /* No CA file: the system store. */
        r = lws_context_user(lws_get_context(wsi));
        if (r != NULL && r->c->ca_file == NULL)
            SSL_CTX_set_default_verify_paths((SSL_CTX *)user);
        return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (s == NULL)
            return -1;
        if (s->r->tls && !s->r->c->insecure &&
            !gh_trust_peer_ok(lws_get_ssl(wsi), s->r->c->server, s->r->host,
                              s->r->c->pin)) {
            s->ws_gone = true; /* said; no second message */
            s->r->status = GH_CLI_EXIT_FAIL;
            return -1;
        }
        p = (unsigned char **)in;
        end = (*p) + len;
        n = snprintf(auth, sizeof(auth), "Bearer %s", s->r->token);
        if (n < 0 || (size_t)n >= sizeof(auth) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                         (unsigned char *)auth, n, p, end)) {
            OPENSSL_cleanse(auth, sizeof(auth));
            return -1;
        }
        OPENSSL_cleanse(auth, sizeof(auth));
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (s == NULL)
            return -1;
        s->ws_up = true;
        if (s->closing || s->up.head != NULL || s->local_eof)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return s == NULL ? -1 : gh_relay_ws_receive(s, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return s == NULL ? -1 : gh_relay_ws_writeable(s, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (s != NULL) {
            lws_set_opaque_user_data(wsi, NULL);
            s->ws = NULL;
            gh_relay_ws_error(s, wsi, in ? (const char *)in : NULL);
            gh_stream_check(s);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (s != NULL) {
            lws_set_opaque_user_data(wsi, NULL);
            s->ws = NULL;
            gh_stream_ended(s, "the connection to the gateway was lost");
            gh_stream_check(s);
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* Some failures (a refused certificate, a close during the
         * handshake) end the connection with neither of the above. */
        if (s != NULL && s->ws == wsi) {
            lws_set_opaque_user_data(wsi, NULL);
            s->ws = NULL;
            gh_stream_ended(s, "the connection to the gateway closed");
            gh_stream_check(s);
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- local descriptors ---- */

/* Accept every pending connection on the listener. */
static void
gh_relay_accept(struct gh_relay *r, int lfd)
{
    int fd, one = 1;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        if (r->stopping || r->nstreams >= GH_RELAY_STREAMS_MAX) {
            gh_cli_err("refusing a local connection: %u tunnels are open "
                       "(the most one tunnel runs)",
                       r->nstreams);
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        gh_stream_new(r, fd, fd, true);
    }
}

/* Every stream: end the WebSockets (a signal asked the tunnel to stop). */
static void
gh_relay_stop(struct gh_relay *r)
{
    struct gh_stream *s;

    r->stopping = true;
    for (s = r->streams; s != NULL; s = s->next)
        gh_stream_local_gone(s);
    if (r->streams == NULL) {
        r->done = true;
        lws_cancel_service(r->ctx);
    }
}

static void
gh_relay_signal(struct gh_relay *r, int sfd)
{
    struct signalfd_siginfo si;
    int st;

    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            if (r->child > 0 && waitpid(r->child, &st, WNOHANG) == r->child) {
                r->child = 0;
                r->child_status = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
                gh_relay_stop(r);
            }
        } else if (r->child > 0)
            kill(r->child, SIGTERM); /* it ends, then we do */
        else
            gh_relay_stop(r);
    }
}

/* Read what the local side has for the gateway. */
static int
gh_relay_local_read(struct gh_stream *s, struct lws *wsi)
{
    unsigned char buf[GH_RELAY_CHUNK];
    ssize_t n = read(s->in_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    /* The tunnel is gone but what it delivered is still being written:
     * keep reading (and dropping) so the local program is not blocked on
     * its writes and goes on reading ours (ssh stops reading when it
     * cannot write). */
    if (n > 0 && s->ws_gone)
        return 0;
    if (n <= 0 || s->ws_gone) {
        if (n < 0 && !s->ws_gone) {
            gh_stream_local_gone(s);
            return s->sock ? 0 : -1;
        }
        s->local_eof = true;
        if (!s->in_paused) {
            s->in_paused = true;
            lws_rx_flow_control(wsi, 0);
        }
        gh_stream_want_ws(s);
        return 0;
    }
    gh_rq_push(&s->up, buf, (size_t)n, false);
    if (s->up.bytes >= GH_RELAY_QUEUE_CAP && !s->in_paused) {
        s->in_paused = true;
        lws_rx_flow_control(wsi, 0);
    }
    gh_stream_want_ws(s);
    return 0;
}

/* Write what the gateway sent to the local side. */
static int
gh_relay_local_write(struct gh_stream *s, struct lws *wsi)
{
    struct gh_rchunk *c;
    ssize_t n;

    while ((c = s->down.head) != NULL) {
        n = write(s->out_fd, c->buf + LWS_PRE + c->off, c->len - c->off);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (n < 0) {
            gh_stream_local_gone(s);
            s->out_shut = true;
            break;
        }
        c->off += (size_t)n;
        s->down.bytes -= (size_t)n;
        if (c->off == c->len)
            gh_rq_pop(&s->down);
    }
    if (s->ws_paused && s->ws != NULL &&
        s->down.bytes < GH_RELAY_QUEUE_CAP / 2) {
        s->ws_paused = false;
        lws_rx_flow_control(s->ws, 1);
    }
    gh_stream_check(s);
    return 0;
}

static int
gh_relay_local_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len)
{
    struct gh_rlocal *l = lws_get_opaque_user_data(wsi);
    struct gh_relay *r = lws_context_user(lws_get_context(wsi));
    struct gh_stream *s;

    (void)user;
    (void)in;
    (void)len;
    if (l == NULL)
        return 0;
    s = l->s;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (l->kind == GH_RK_LISTEN) {
            gh_relay_accept(r, l->fd);
            return 0;
        }
        if (l->kind == GH_RK_SIGNAL) {
            gh_relay_signal(r, l->fd);
            return 0;
        }
        if (s == NULL || wsi != s->in)
            return 0;
        return gh_relay_local_read(s, wsi);
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (s == NULL || wsi != s->out)
            return 0;
        return gh_relay_local_write(s, wsi);
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        lws_set_opaque_user_data(wsi, NULL);
        free(l);
        if (s == NULL)
            return 0;
        if (wsi == s->in) {
            s->in = NULL;
            if (!s->local_eof) {
                s->local_eof = true;
                gh_stream_want_ws(s);
            }
        }
        if (wsi == s->out) {
            s->out = NULL;
            if (s->down.head != NULL || !s->ws_gone)
                gh_stream_local_gone(s);
        }
        gh_stream_check(s);
        return 0;
    default:
        return 0;
    }
}

/* ---- the loop ---- */

static const struct lws_protocols gh_relay_protocols[] = {
    {GH_RELAY_PROTOCOL, gh_relay_ws_cb, 0, GH_RELAY_CHUNK * 4, 0, NULL, 0},
    {"gh-local", gh_relay_local_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static int
gh_relay_init(struct gh_relay *r, const struct gh_relay_conf *c)
{
    struct lws_context_creation_info info;
    const char *prefix;
    char port[16];

    memset(r, 0, sizeof(*r));
    r->c = c;
    r->status = GH_CLI_EXIT_FAIL;
    if (gh_trust_url(c->server, r->host, sizeof(r->host), &r->port, &prefix,
                     &r->tls) != 0) {
        gh_cli_err("%s: not a server URL", c->server);
        return GH_CLI_EXIT_USAGE;
    }
    snprintf(r->path, sizeof(r->path), "%s/api/v1/tunnel?target=", prefix);
    gh_trust_escape(r->path, sizeof(r->path), c->target);
    snprintf(port, sizeof(port), "%u", c->port);
    strncat(r->path, "&port=", sizeof(r->path) - strlen(r->path) - 1);
    strncat(r->path, port, sizeof(r->path) - strlen(r->path) - 1);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(0, NULL);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = gh_relay_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = c->ca_file;
    /* lws reads into this buffer: its 4 KiB default splits everything
     * into 4 KiB pieces (see server.c). */
    info.pt_serv_buf_size = GH_RELAY_CHUNK;
    info.timeout_secs = GH_RELAY_CONNECT_S;
    info.connect_timeout_secs = GH_RELAY_CONNECT_S;
    info.user = r;
    r->ctx = lws_create_context(&info);
    if (r->ctx == NULL) {
        gh_cli_err("cannot start the network loop (is --ca-file %s "
                   "readable PEM?)",
                   c->ca_file ? c->ca_file : "-");
        return GH_CLI_EXIT_FAIL;
    }
    r->vh = lws_get_vhost_by_name(r->ctx, "default");
    r->token = gh_strdup(c->token);
    return 0;
}

static void
gh_relay_run(struct gh_relay *r)
{
    while (!r->done)
        if (lws_service(r->ctx, 0) < 0)
            break;
    lws_context_destroy(r->ctx);
    gh_freezero(r->token, strlen(r->token));
    r->token = NULL;
}

int
gh_relay_proxy(const struct gh_relay_conf *c, int in, int out,
               struct gh_relay_lost *lost)
{
    struct gh_relay r;
    int rc, fl;

    memset(lost, 0, sizeof(*lost));
    if ((rc = gh_relay_init(&r, c)) != 0)
        return rc;
    r.proxy = true;
    r.lost = lost;
    /* Our own copies: lws closes what it adopts. */
    in = dup(in);
    out = dup(out);
    fl = fcntl(in, F_GETFL);
    fcntl(in, F_SETFL, fl | O_NONBLOCK);
    fl = fcntl(out, F_GETFL);
    fcntl(out, F_SETFL, fl | O_NONBLOCK);
    if (gh_stream_new(&r, in, out, false) == NULL && r.streams == NULL)
        r.done = true;
    gh_relay_run(&r);
    return r.status;
}

int
gh_relay_listen(const struct gh_relay_conf *c, int lfd, pid_t child)
{
    struct gh_relay r;
    sigset_t set;
    int rc, sfd, st;

    if ((rc = gh_relay_init(&r, c)) != 0) {
        close(lfd);
        return rc;
    }
    r.child = child;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0 || gh_relay_adopt(&r, sfd, GH_RK_SIGNAL, NULL) == NULL ||
        gh_relay_adopt(&r, lfd, GH_RK_LISTEN, NULL) == NULL) {
        gh_cli_err("cannot watch the listener: %s", strerror(errno));
        lws_context_destroy(r.ctx);
        gh_freezero(r.token, strlen(r.token));
        return GH_CLI_EXIT_FAIL;
    }
    /* A child that ended before the signalfd existed. */
    if (child > 0 && waitpid(child, &st, WNOHANG) == child) {
        r.child = 0;
        r.child_status = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
        r.done = true;
    }
    gh_relay_run(&r);
    return child > 0 ? r.child_status : 0;
}
