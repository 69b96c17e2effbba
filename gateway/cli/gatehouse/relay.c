/*
 * relay.c - local streams through the gateway's tunnel WebSocket (see
 * relay.h).
 *
 * One poll() loop. Each stream has its local descriptors (stdin and
 * stdout, or one accepted socket) and its own WebSocket connection
 * (wsclient.h). Bytes from the local side are framed straight into the
 * connection's queue; bytes from the gateway are written straight to the
 * local side, and only what it cannot take yet is queued. Handlers never
 * free a stream: the loop's sweep frees those that have ended.
 */
#include "relay.h"
#include "trust.h"
#include "wsclient.h"

#include "cli-token.h"

#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <jansson.h>
#include <openssl/ssl.h>

#define GH_RELAY_PROTOCOL "gatehouse.tunnel.v1"
/* Longest control message taken from the gateway ({"type":"close"} with
 * its message); anything longer is a broken or hostile gateway. */
#define GH_RELAY_CONTROL_MAX 4096
/* Longest host name in a server URL (DNS names are at most 253). */
#define GH_RELAY_HOST_MAX 256
/* The gateway's close code for "no identity" (docs/PROTOCOL.md). */
#define GH_RELAY_CLOSE_NO_IDENTITY 4401
/* Descriptors one stream polls (its WebSocket, its input, its output). */
#define GH_RELAY_FDS_PER_STREAM 3

struct gh_rchunk {
    struct gh_rchunk *next;
    size_t len, off;
    unsigned char buf[];
};

struct gh_rqueue {
    struct gh_rchunk *head, *tail;
    size_t bytes;
};

struct gh_relay;

struct gh_stream {
    struct gh_relay *r;
    struct gh_stream *next;
    unsigned no; /* connection number, for messages */
    struct gh_wsc *ws;
    int in_fd, out_fd; /* -1 once closed; the same socket when sock */
    bool sock;
    struct gh_rqueue down; /* from the gateway, not yet written */
    bool ws_gone, opened;
    bool local_eof, eof_sent, remote_eof, out_shut, closing;
    long long drain_until; /* ms: the local side's last chance */
    char reason[64];
    char message[256];
    long long session;
    unsigned long long bytes_up, bytes_down;
};

struct gh_relay {
    const struct gh_relay_conf *c;
    char host[GH_RELAY_HOST_MAX];
    char path[1024];
    int port;
    SSL_CTX *ssl; /* NULL: plain http (loopback) */
    struct addrinfo *addrs;
    struct gh_stream *streams;
    unsigned nstreams, next_no;
    int lfd, sfd; /* listener and signalfd, or -1 */
    pid_t child;
    int child_status;
    char *token; /* the bearer token now (owned, wiped) */
    bool done, stopping;
    int status; /* the proxy's exit status */
    bool proxy;
    struct gh_relay_lost *lost; /* proxy: an unexplained loss goes here */
};

/* ---- the queue towards the local side ---- */

static void
gh_rq_push(struct gh_rqueue *q, const void *p, size_t len)
{
    struct gh_rchunk *c = gh_alloc(1, sizeof(*c) + len);

    c->len = len;
    memcpy(c->buf, p, len);
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

static void
gh_stream_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The local side failed or went away for good: end the WebSocket. */
static void
gh_stream_local_gone(struct gh_stream *s)
{
    gh_rq_clear(&s->down);
    s->closing = true;
    if (s->ws != NULL)
        gh_wsc_close(s->ws);
}

/* Write what is queued for the local side; false when it failed. */
static bool
gh_stream_write_out(struct gh_stream *s)
{
    struct gh_rchunk *c;
    ssize_t n;

    while ((c = s->down.head) != NULL) {
        n = write(s->out_fd, c->buf + c->off, c->len - c->off);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0) {
            s->out_shut = true;
            gh_stream_local_gone(s);
            return false;
        }
        c->off += (size_t)n;
        s->down.bytes -= (size_t)n;
        if (c->off == c->len)
            gh_rq_pop(&s->down);
    }
    /* Reading from the gateway resumes once half the queue has gone. */
    if (s->down.bytes < GH_RELAY_QUEUE_CAP / 2 && s->ws != NULL)
        gh_wsc_rx(s->ws, true);
    return true;
}

/* Binary bytes from the gateway: straight to the local side when it has
 * nothing queued, the rest queued. */
static void
gh_stream_data(void *arg, const unsigned char *p, size_t len)
{
    struct gh_stream *s = arg;
    ssize_t n = 0;

    if (s->out_fd < 0 || s->out_shut || s->closing)
        return; /* the local side is gone: drop */
    s->bytes_down += len;
    if (s->down.head == NULL) {
        n = write(s->out_fd, p, len);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            s->out_shut = true;
            gh_stream_local_gone(s);
            return;
        }
        if (n < 0)
            n = 0;
    }
    if ((size_t)n < len)
        gh_rq_push(&s->down, p + n, len - (size_t)n);
    if (s->down.bytes >= GH_RELAY_QUEUE_CAP)
        gh_wsc_rx(s->ws, false);
}

/* A control message from the gateway. */
static void
gh_stream_text(void *arg, const char *p, size_t len)
{
    struct gh_stream *s = arg;
    json_error_t je;
    json_t *j = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
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
    } else if (strcmp(type, "close") == 0) {
        reason = gh_cli_json_str(j, "reason", sizeof(s->reason) - 1);
        msg = json_string_value(json_object_get(j, "message"));
        snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
        /* The message is shown on a terminal: printable bytes only. */
        snprintf(s->message, sizeof(s->message), "%s", msg ? msg : "");
        for (char *q = s->message; *q != '\0'; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                *q = '?';
    }
    json_decref(j);
}

static const struct gh_wsc_ops gh_stream_ops = {gh_stream_data, gh_stream_text};

/* The stream ended on the gateway's side: say why when it matters.
 * close_code: the gateway's WebSocket close code (0 if none). */
static void
gh_stream_ended(struct gh_stream *s, const char *neterr, unsigned close_code)
{
    char line[512];
    bool normal = s->reason[0] != '\0' ? strcmp(s->reason, "target_closed") == 0
                                       : s->closing;

    s->ws_gone = true;
    /* What is left to write gets GH_RELAY_DRAIN_S, then the local side is
     * closed whatever it still holds. */
    s->drain_until = gh_wsc_now() + GH_RELAY_DRAIN_S * 1000LL;
    if (normal) {
        if (s->r->c->verbose) {
            snprintf(line, sizeof(line), "closed%s (%llu bytes up, %llu down)",
                     s->reason[0] != '\0' && !s->local_eof ? " by the target"
                                                           : "",
                     s->bytes_up, s->bytes_down);
            gh_stream_say(s, line);
        }
        s->r->status = 0;
        return;
    }
    s->r->status = GH_CLI_EXIT_FAIL;
    if (s->reason[0] != '\0' && close_code == GH_RELAY_CLOSE_NO_IDENTITY &&
        strcmp(s->reason, "idp_unavailable") != 0) {
        /* The login itself was refused (expired, revoked, another
         * audience): only signing in again helps. */
        snprintf(line, sizeof(line), "%s (%s): run %s login --server %s",
                 s->message[0] ? s->message : "your login was refused",
                 s->reason, gh_cli_agent(), s->r->c->server);
        s->r->status = GH_CLI_EXIT_AUTH;
    } else if (s->reason[0] != '\0')
        snprintf(line, sizeof(line), "%s (%s)",
                 s->message[0] ? s->message : "ended by the gateway",
                 s->reason);
    else if (s->r->lost != NULL && s->session > 0) {
        /* Opened, then lost without the gateway's reason: the caller asks
         * the API why before saying anything. */
        s->r->lost->session = s->session;
        snprintf(s->r->lost->why, sizeof(s->r->lost->why), "%s", neterr);
        line[0] = '\0';
    } else
        snprintf(line, sizeof(line), "%s", neterr);
    if (line[0] != '\0')
        gh_stream_say(s, line);
    /* Cut off, not finished: what was queued is not delivered (the local
     * program may not even be reading any more). */
    gh_rq_clear(&s->down);
}

/* The WebSocket is done: free it and say what it means. */
static void
gh_stream_ws_done(struct gh_stream *s)
{
    unsigned st;
    bool said;
    const char *why = gh_wsc_why(s->ws, &st, &said);
    char line[400];

    if (said) {
        s->ws_gone = true;
        s->r->status = GH_CLI_EXIT_FAIL;
        gh_rq_clear(&s->down);
    } else if (gh_wsc_upgraded(s->ws))
        gh_stream_ended(s, why ? why : "the gateway closed the connection",
                        gh_wsc_close_code(s->ws));
    else {
        if (st == 401)
            snprintf(line, sizeof(line),
                     "the gateway refused your login (HTTP 401): run "
                     "%s login --server %s",
                     gh_cli_agent(), s->r->c->server);
        else if (st == 403)
            snprintf(line, sizeof(line),
                     "the gateway refused the tunnel (HTTP 403)");
        else if (st == 404)
            snprintf(line, sizeof(line),
                     "this gateway has no tunnel endpoint (HTTP 404)");
        else if (st != 0)
            snprintf(line, sizeof(line), "the gateway answered HTTP %u", st);
        else if (s->closing)
            line[0] = '\0';
        else
            snprintf(line, sizeof(line), "cannot reach the gateway %s: %s",
                     s->r->c->server, why ? why : "connection failed");
        gh_stream_ended(s, line[0] != '\0' ? line : "stopped", 0);
    }
    gh_wsc_free(s->ws);
    s->ws = NULL;
}

/* A new stream over fds in/out (the same socket when sock). */
static void
gh_stream_new(struct gh_relay *r, int in, int out, bool sock)
{
    struct gh_stream *s = gh_alloc(1, sizeof(*s));
    struct gh_wsc_conf wc;
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
    memset(&wc, 0, sizeof(wc));
    wc.addrs = r->addrs;
    wc.ssl = r->ssl;
    wc.host = r->host;
    wc.port = r->port;
    wc.path = r->path;
    wc.protocol = GH_RELAY_PROTOCOL;
    wc.token = r->token;
    wc.server = r->c->server;
    wc.pin = r->c->pin;
    wc.insecure = r->c->insecure != 0;
    wc.connect_s = GH_RELAY_CONNECT_S;
    wc.text_max = GH_RELAY_CONTROL_MAX;
    s->ws = gh_wsc_open(&wc, &gh_stream_ops, s);
}

/* Read what the local side has for the gateway. */
static void
gh_stream_read_in(struct gh_stream *s)
{
    static const char eof[] = "{\"type\":\"eof\"}";
    unsigned char buf[GH_RELAY_CHUNK];
    ssize_t n = read(s->in_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    /* The tunnel is gone but what it delivered is still being written:
     * keep reading (and dropping) so the local program is not blocked on
     * its writes and goes on reading ours (ssh stops reading when it
     * cannot write). */
    if (n > 0 && (s->ws == NULL || s->closing))
        return;
    if (n < 0) {
        s->local_eof = true;
        gh_stream_local_gone(s);
        return;
    }
    if (n == 0) {
        s->local_eof = true;
        if (s->ws != NULL && !s->eof_sent)
            s->eof_sent = gh_wsc_send(s->ws, GH_WSF_TEXT, eof, sizeof(eof) - 1);
        if (!s->sock)
            gh_stream_close_fd(&s->in_fd);
        return;
    }
    if (gh_wsc_send(s->ws, GH_WSF_BINARY, buf, (size_t)n))
        s->bytes_up += (size_t)n;
}

/* Pass on half-closes and end what is finished; true when the stream has
 * nothing left to do. */
static bool
gh_stream_step(struct gh_stream *s)
{
    long long now;

    if (s->ws != NULL) {
        now = gh_wsc_now();
        if (gh_wsc_ready(s->ws) ||
            (gh_wsc_deadline(s->ws) != 0 && now >= gh_wsc_deadline(s->ws)))
            gh_wsc_service(s->ws, 0);
        if (gh_wsc_state(s->ws) == GH_WSC_DONE)
            gh_stream_ws_done(s);
    }
    /* Everything the gateway sent is written and it sends no more. */
    if (s->down.head == NULL && (s->remote_eof || s->ws_gone) && !s->out_shut &&
        s->out_fd >= 0) {
        s->out_shut = true;
        if (s->sock)
            shutdown(s->out_fd, SHUT_WR);
        else
            gh_stream_close_fd(&s->out_fd);
    }
    if (!s->ws_gone)
        return false;
    /* Nothing more can move, or the local side had its chance. */
    if (s->down.head == NULL || s->out_fd < 0 || s->out_shut ||
        gh_wsc_now() >= s->drain_until) {
        if (s->sock)
            s->out_fd = -1; /* one socket: closed once, below */
        gh_stream_close_fd(&s->in_fd);
        gh_stream_close_fd(&s->out_fd);
        return true;
    }
    return false;
}

static void
gh_stream_free(struct gh_stream *s)
{
    gh_rq_clear(&s->down);
    if (s->ws != NULL)
        gh_wsc_free(s->ws);
    if (s->sock)
        s->out_fd = -1;
    gh_stream_close_fd(&s->in_fd);
    gh_stream_close_fd(&s->out_fd);
    free(s);
}

/* ---- the listener and signals ---- */

/* Accept every pending connection on the listener. */
static void
gh_relay_accept(struct gh_relay *r)
{
    int fd, one = 1;

    while ((fd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
           0) {
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
}

static void
gh_relay_signal(struct gh_relay *r)
{
    struct signalfd_siginfo si;
    int st;

    while (read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
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

/* ---- the loop ---- */

enum gh_rrole { GH_RR_WS, GH_RR_IN, GH_RR_OUT, GH_RR_LISTEN, GH_RR_SIGNAL };

struct gh_rslot {
    struct gh_stream *s;
    enum gh_rrole role;
};

static void
gh_relay_add(struct pollfd *pf, struct gh_rslot *sl, size_t *n, int fd,
             short ev, struct gh_stream *s, enum gh_rrole role)
{
    if (fd < 0 || ev == 0)
        return;
    pf[*n].fd = fd;
    pf[*n].events = ev;
    pf[*n].revents = 0;
    sl[*n].s = s;
    sl[*n].role = role;
    (*n)++;
}

/* What each descriptor waits for, and how long poll may sleep. */
static size_t
gh_relay_fill(struct gh_relay *r, struct pollfd *pf, struct gh_rslot *sl,
              int *timeout)
{
    struct gh_stream *s;
    long long now = gh_wsc_now(), until = 0, d;
    size_t n = 0;
    short in, out;

    gh_relay_add(pf, sl, &n, r->sfd, POLLIN, NULL, GH_RR_SIGNAL);
    if (!r->stopping)
        gh_relay_add(pf, sl, &n, r->lfd, POLLIN, NULL, GH_RR_LISTEN);
    *timeout = -1;
    for (s = r->streams; s != NULL; s = s->next) {
        if (s->ws != NULL) {
            gh_relay_add(pf, sl, &n, gh_wsc_fd(s->ws), gh_wsc_events(s->ws), s,
                         GH_RR_WS);
            if (gh_wsc_ready(s->ws))
                *timeout = 0;
            d = gh_wsc_deadline(s->ws);
        } else
            d = s->drain_until;
        if (d != 0 && (until == 0 || d < until))
            until = d;
        /* Read while the connection's queue has room (and, once the
         * tunnel is gone, to keep the local program unblocked). */
        in = !s->local_eof && (s->ws == NULL || s->closing ||
                               gh_wsc_queued(s->ws) < GH_RELAY_QUEUE_CAP)
                 ? POLLIN
                 : 0;
        out = s->down.head != NULL ? POLLOUT : 0;
        if (s->sock)
            gh_relay_add(pf, sl, &n, s->in_fd, (short)(in | out), s, GH_RR_IN);
        else {
            gh_relay_add(pf, sl, &n, s->in_fd, in, s, GH_RR_IN);
            gh_relay_add(pf, sl, &n, s->out_fd, out, s, GH_RR_OUT);
        }
    }
    if (until != 0 && *timeout != 0)
        *timeout = until <= now ? 0 : (int)(until - now);
    return n;
}

static void
gh_relay_dispatch(struct gh_relay *r, const struct pollfd *p,
                  const struct gh_rslot *sl)
{
    struct gh_stream *s = sl->s;

    if (p->revents == 0)
        return;
    switch (sl->role) {
    case GH_RR_SIGNAL:
        gh_relay_signal(r);
        return;
    case GH_RR_LISTEN:
        gh_relay_accept(r);
        return;
    case GH_RR_WS:
        if (s->ws != NULL)
            gh_wsc_service(s->ws, p->revents);
        return;
    case GH_RR_IN:
        if (s->in_fd >= 0 && (p->revents & (POLLIN | POLLHUP | POLLERR)))
            gh_stream_read_in(s);
        if (!s->sock)
            return;
        break; /* one socket both ways: its output too */
    case GH_RR_OUT:
        break;
    }
    if (s->out_fd >= 0 && s->down.head != NULL &&
        (p->revents & (POLLOUT | POLLHUP | POLLERR)))
        gh_stream_write_out(s);
}

static void
gh_relay_run(struct gh_relay *r)
{
    size_t cap = 2 + GH_RELAY_FDS_PER_STREAM * (GH_RELAY_STREAMS_MAX + 1);
    struct pollfd *pf = gh_alloc(cap, sizeof(*pf));
    struct gh_rslot *sl = gh_alloc(cap, sizeof(*sl));
    struct gh_stream **pp, *s;
    size_t n, i;
    int timeout;

    while (!r->done) {
        n = gh_relay_fill(r, pf, sl, &timeout);
        if (poll(pf, n, timeout) < 0 && errno != EINTR)
            break;
        for (i = 0; i < n; i++)
            gh_relay_dispatch(r, &pf[i], &sl[i]);
        for (pp = &r->streams; (s = *pp) != NULL;) {
            if (!gh_stream_step(s)) {
                pp = &s->next;
                continue;
            }
            *pp = s->next;
            r->nstreams--;
            gh_stream_free(s);
        }
        if (r->streams == NULL && (r->proxy || r->stopping))
            r->done = true;
    }
    for (s = r->streams; s != NULL; s = r->streams) {
        r->streams = s->next;
        gh_stream_free(s);
    }
    free(pf);
    free(sl);
}

static int
gh_relay_init(struct gh_relay *r, const struct gh_relay_conf *c)
{
    struct addrinfo hints;
    const char *prefix;
    char port[16];
    int tls, rc;

    memset(r, 0, sizeof(*r));
    r->c = c;
    r->lfd = r->sfd = -1;
    r->status = GH_CLI_EXIT_FAIL;
    if (gh_trust_url(c->server, r->host, sizeof(r->host), &r->port, &prefix,
                     &tls) != 0) {
        gh_cli_err("%s: not a server URL", c->server);
        return GH_CLI_EXIT_USAGE;
    }
    snprintf(r->path, sizeof(r->path), "%s/api/v1/tunnel?target=", prefix);
    gh_trust_escape(r->path, sizeof(r->path), c->target);
    snprintf(port, sizeof(port), "%u", c->port);
    strncat(r->path, "&port=", sizeof(r->path) - strlen(r->path) - 1);
    strncat(r->path, port, sizeof(r->path) - strlen(r->path) - 1);
    signal(SIGPIPE, SIG_IGN);
    if (tls && (r->ssl = gh_trust_ctx(c->ca_file)) == NULL)
        return GH_CLI_EXIT_FAIL;
    /* Resolved once: every stream of this run goes to the same gateway. */
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    snprintf(port, sizeof(port), "%d", r->port);
    if ((rc = getaddrinfo(r->host, port, &hints, &r->addrs)) != 0) {
        gh_cli_err("cannot reach the gateway %s: %s", c->server,
                   gai_strerror(rc));
        SSL_CTX_free(r->ssl);
        return GH_CLI_EXIT_FAIL;
    }
    r->token = gh_strdup(c->token);
    return 0;
}

static void
gh_relay_fini(struct gh_relay *r)
{
    gh_relay_run(r);
    gh_freezero(r->token, strlen(r->token));
    r->token = NULL;
    freeaddrinfo(r->addrs);
    SSL_CTX_free(r->ssl);
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
    /* Our own copies, closed when the stream ends (closing stdout is how
     * the local program learns of the end). */
    in = dup(in);
    out = dup(out);
    fl = fcntl(in, F_GETFL);
    fcntl(in, F_SETFL, fl | O_NONBLOCK);
    fl = fcntl(out, F_GETFL);
    fcntl(out, F_SETFL, fl | O_NONBLOCK);
    gh_stream_new(&r, in, out, false);
    gh_relay_fini(&r);
    return r.status;
}

int
gh_relay_listen(const struct gh_relay_conf *c, int lfd, pid_t child)
{
    struct gh_relay r;
    sigset_t set;
    int rc, st;

    if ((rc = gh_relay_init(&r, c)) != 0) {
        close(lfd);
        return rc;
    }
    r.child = child;
    r.lfd = lfd;
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    r.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (r.sfd < 0) {
        gh_cli_err("cannot watch signals: %s", strerror(errno));
        close(lfd);
        r.done = true;
        gh_relay_fini(&r);
        return GH_CLI_EXIT_FAIL;
    }
    /* A child that ended before the signalfd existed. */
    if (child > 0 && waitpid(child, &st, WNOHANG) == child) {
        r.child = 0;
        r.child_status = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
        r.done = true;
    }
    gh_relay_fini(&r);
    if (r.lfd >= 0)
        close(r.lfd);
    if (r.sfd >= 0)
        close(r.sfd);
    return child > 0 ? r.child_status : 0;
}
