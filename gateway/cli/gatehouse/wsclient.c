/*
 * wsclient.c - one WebSocket client connection over TLS, driven by the
 * owner's poll() (see wsclient.h).
 */
#include "wsclient.h"
#include "trust.h"
#include "wsupgrade.h"

#include "gatehouse/mem.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/rand.h>

/* One read from the connection: four TLS records, so a bulk stream costs
 * few calls, while a paused stream holds at most this much beyond its
 * owner's queue. */
#define GH_WSC_IN (64u * 1024)
/* Bytes parsed and handed out per service call before others get a turn
 * (the loop serves every stream; one fast one must not starve them). */
#define GH_WSC_BUDGET (256u * 1024)

struct gh_wsc_chunk {
    struct gh_wsc_chunk *next;
    size_t len, off;
    unsigned char buf[]; /* header + masked payload */
};

/* What an I/O call returned, besides a count. */
enum { GH_WSC_AGAIN = -1, GH_WSC_FAILED = -2 };

struct gh_wsc {
    struct gh_wsc_conf c;
    char *token; /* our copy until the request is built (wiped) */
    const struct gh_wsc_ops *ops;
    void *arg;
    enum gh_wsc_state st;
    int fd;
    const struct addrinfo *ai; /* the address being tried */
    SSL *ssl;
    bool tls_up;
    long long deadline;
    short rd_want, wr_want, hs_want; /* what a read, a write or the TLS
                                        handshake waits for */
    char *req;                       /* the upgrade request (the token) */
    size_t req_len, req_off;
    char accept[GH_WSU_ACCEPT_LEN]; /* the Sec-WebSocket-Accept we expect */
    char *resp;
    size_t resp_len;
    struct gh_wsc_chunk *head, *tail;
    size_t queued;
    unsigned char *in;
    size_t in_off, in_len; /* unparsed bytes of in */
    struct gh_wsf_rx rx;
    char *text;
    size_t text_len;
    bool rx_on, close_sent, close_rcvd, upgraded;
    unsigned close_code; /* the gateway's, 0 if none */
    const char *why;
    char whybuf[256];
    unsigned status;
    bool said;
};

long long
gh_wsc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the queue ---- */

static void
gh_wsc_pop(struct gh_wsc *w)
{
    struct gh_wsc_chunk *c = w->head;

    w->head = c->next;
    if (w->head == NULL)
        w->tail = NULL;
    w->queued -= c->len - c->off;
    free(c);
}

/* Drop every whole frame not yet started (a frame half written must be
 * finished, or the stream is no longer framed). */
static void
gh_wsc_drop_queue(struct gh_wsc *w)
{
    struct gh_wsc_chunk *keep = w->head;

    if (keep != NULL && keep->off == 0)
        keep = NULL;
    while (w->head != NULL && w->head != keep)
        gh_wsc_pop(w);
    if (keep != NULL) {
        while (keep->next != NULL) {
            struct gh_wsc_chunk *c = keep->next;

            keep->next = c->next;
            w->queued -= c->len;
            free(c);
        }
        w->tail = keep;
    }
}

static void
gh_wsc_push(struct gh_wsc *w, enum gh_wsf_op op, const void *p, size_t len)
{
    struct gh_wsc_chunk *c = gh_alloc(1, sizeof(*c) + GH_WSF_HEADER_MAX + len);
    unsigned char mask[4];
    size_t h;

    /* The mask must be unpredictable to whoever sees the payload (RFC
     * 6455 10.3); a failing generator leaves no safe choice. */
    if (RAND_bytes(mask, sizeof(mask)) != 1)
        abort();
    h = gh_wsf_header(c->buf, op, len, mask);
    if (len > 0)
        gh_wsf_mask(c->buf + h, p, len, mask);
    c->len = h + len;
    if (w->tail != NULL)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    w->queued += c->len;
}

/* ---- the end ---- */

static void
gh_wsc_finish(struct gh_wsc *w, const char *why)
{
    if (w->st == GH_WSC_DONE)
        return;
    w->st = GH_WSC_DONE;
    w->why = why;
    if (w->ssl != NULL) {
        if (w->tls_up && why == NULL)
            (void)SSL_shutdown(w->ssl); /* close_notify, best effort */
        SSL_free(w->ssl);
        w->ssl = NULL;
    }
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->req != NULL)
        gh_freezero(w->req, w->req_len);
    w->req = NULL;
    if (w->token != NULL)
        gh_freezero(w->token, strlen(w->token));
    w->token = NULL;
    while (w->head != NULL)
        gh_wsc_pop(w);
    ERR_clear_error();
}

static void gh_wsc_failf(struct gh_wsc *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
gh_wsc_failf(struct gh_wsc *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(w->whybuf, sizeof(w->whybuf), fmt, ap);
    va_end(ap);
    gh_wsc_finish(w, w->whybuf);
}

/* The newest OpenSSL error, in words (for a failed handshake or read). */
static void
gh_wsc_fail_ssl(struct gh_wsc *w, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[160];

    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    else
        snprintf(buf, sizeof(buf), "%s", errno ? strerror(errno) : "EOF");
    snprintf(w->whybuf, sizeof(w->whybuf), "%s: %s", what, buf);
    gh_wsc_finish(w, w->whybuf);
}

/* ---- I/O, plain or TLS ---- */

/* Bytes read, 0 at the end, GH_WSC_AGAIN, or GH_WSC_FAILED (finished). */
static ssize_t
gh_wsc_io_read(struct gh_wsc *w, void *buf, size_t n)
{
    ssize_t r;

    if (w->ssl == NULL) {
        r = read(w->fd, buf, n);
        if (r >= 0) {
            w->rd_want = POLLIN;
            return r;
        }
        if (errno == EAGAIN || errno == EINTR) {
            w->rd_want = POLLIN;
            return GH_WSC_AGAIN;
        }
        if (errno == ECONNRESET)
            return 0;
        gh_wsc_failf(w, "the connection to the gateway failed: %s",
                     strerror(errno));
        return GH_WSC_FAILED;
    }
    ERR_clear_error();
    errno = 0;
    r = SSL_read(w->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
    if (r > 0) {
        w->rd_want = POLLIN;
        return r;
    }
    switch (SSL_get_error(w->ssl, (int)r)) {
    case SSL_ERROR_WANT_READ:
        w->rd_want = POLLIN;
        return GH_WSC_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        w->rd_want = POLLOUT;
        return GH_WSC_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET))
            return 0; /* the peer went away without close_notify */
        gh_wsc_fail_ssl(w, "the connection to the gateway failed");
        return GH_WSC_FAILED;
    default:
        gh_wsc_fail_ssl(w, "the connection to the gateway failed");
        return GH_WSC_FAILED;
    }
}

/* Bytes written, GH_WSC_AGAIN, or GH_WSC_FAILED (finished). */
static ssize_t
gh_wsc_io_write(struct gh_wsc *w, const void *buf, size_t n)
{
    ssize_t r;

    if (w->ssl == NULL) {
        r = send(w->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0) {
            w->wr_want = POLLOUT;
            return r;
        }
        if (errno == EAGAIN || errno == EINTR) {
            w->wr_want = POLLOUT;
            return GH_WSC_AGAIN;
        }
        gh_wsc_failf(w, "the connection to the gateway was lost (%s)",
                     strerror(errno));
        return GH_WSC_FAILED;
    }
    ERR_clear_error();
    errno = 0;
    r = SSL_write(w->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
    if (r > 0) {
        w->wr_want = POLLOUT;
        return r;
    }
    switch (SSL_get_error(w->ssl, (int)r)) {
    case SSL_ERROR_WANT_WRITE:
        w->wr_want = POLLOUT;
        return GH_WSC_AGAIN;
    case SSL_ERROR_WANT_READ:
        w->wr_want = POLLIN;
        return GH_WSC_AGAIN;
    default:
        gh_wsc_fail_ssl(w, "the connection to the gateway was lost");
        return GH_WSC_FAILED;
    }
}

/* ---- connecting ---- */

/* Start a connect to w->ai, or the next address that can be tried. */
static void
gh_wsc_try(struct gh_wsc *w)
{
    int one = 1, err = 0;

    for (; w->ai != NULL; w->ai = w->ai->ai_next) {
        w->fd = socket(w->ai->ai_family,
                       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (w->fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(w->fd, w->ai->ai_addr, w->ai->ai_addrlen) == 0 ||
            errno == EINPROGRESS)
            return;
        err = errno;
        close(w->fd);
        w->fd = -1;
    }
    gh_wsc_failf(w, "%s", strerror(err ? err : EHOSTUNREACH));
}

/* The request, built once the gateway is trusted (it holds the token). */
static void
gh_wsc_request(struct gh_wsc *w)
{
    struct gh_wsu_req rq = {w->c.host, w->c.port, w->c.path, w->c.protocol,
                            w->token};

    w->req = gh_wsu_request(&rq, &w->req_len, w->accept);
    gh_freezero(w->token, strlen(w->token));
    w->token = NULL;
    if (w->req == NULL || w->req[0] == '\0') {
        gh_wsc_failf(w, "%s", "cannot build the upgrade request");
        return;
    }
    w->req_off = 0;
    w->st = GH_WSC_REQUEST;
}

/* TCP is up (or failed): go on to TLS or to the request. */
static void
gh_wsc_connected(struct gh_wsc *w)
{
    int err = 0;
    socklen_t len = sizeof(err);
    unsigned char ip[16];

    if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return;
    if (err != 0) {
        close(w->fd);
        w->fd = -1;
        w->ai = w->ai->ai_next;
        if (w->ai != NULL) {
            gh_wsc_try(w);
            return;
        }
        gh_wsc_failf(w, "%s", strerror(err));
        return;
    }
    if (w->c.ssl == NULL) {
        gh_wsc_request(w);
        return;
    }
    w->ssl = SSL_new(w->c.ssl);
    if (w->ssl == NULL || SSL_set_fd(w->ssl, w->fd) != 1) {
        gh_wsc_fail_ssl(w, "TLS");
        return;
    }
    /* SNI names a host; an IP literal is not sent (RFC 6066 3). */
    if (inet_pton(AF_INET, w->c.host, ip) != 1 &&
        inet_pton(AF_INET6, w->c.host, ip) != 1)
        SSL_set_tlsext_host_name(w->ssl, w->c.host);
    SSL_set_connect_state(w->ssl);
    w->st = GH_WSC_TLS;
}

static void
gh_wsc_handshake(struct gh_wsc *w)
{
    int r;

    ERR_clear_error();
    errno = 0;
    r = SSL_connect(w->ssl);
    if (r != 1) {
        switch (SSL_get_error(w->ssl, r)) {
        case SSL_ERROR_WANT_READ:
            w->hs_want = POLLIN;
            return;
        case SSL_ERROR_WANT_WRITE:
            w->hs_want = POLLOUT;
            return;
        default:
            gh_wsc_fail_ssl(w, "TLS handshake failed");
            return;
        }
    }
    w->tls_up = true;
    /* The gateway is checked before the token is written. */
    if (!w->c.insecure &&
        !gh_trust_peer_ok(w->ssl, w->c.server, w->c.host, w->c.pin)) {
        w->said = true;
        gh_wsc_finish(w, "the gateway's certificate was refused");
        return;
    }
    gh_wsc_request(w);
}

static void
gh_wsc_write_request(struct gh_wsc *w)
{
    size_t len = strlen(w->req);
    ssize_t r;

    while (w->req_off < len) {
        r = gh_wsc_io_write(w, w->req + w->req_off, len - w->req_off);
        if (r < 0)
            return;
        w->req_off += (size_t)r;
    }
    gh_freezero(w->req, w->req_len);
    w->req = NULL;
    w->resp = gh_alloc(1, GH_WSC_RESPONSE_MAX + 1);
    w->resp_len = 0;
    w->st = GH_WSC_RESPONSE;
}

static void
gh_wsc_read_response(struct gh_wsc *w)
{
    const char *why;
    char *end;
    ssize_t r;
    size_t hlen;

    for (;;) {
        r = gh_wsc_io_read(w, w->resp + w->resp_len,
                           GH_WSC_RESPONSE_MAX - w->resp_len);
        if (r == GH_WSC_AGAIN || r == GH_WSC_FAILED)
            return;
        if (r == 0) {
            gh_wsc_failf(w, "%s",
                         "the gateway closed the connection "
                         "before answering");
            return;
        }
        w->resp_len += (size_t)r;
        w->resp[w->resp_len] = '\0';
        if ((end = strstr(w->resp, "\r\n\r\n")) != NULL)
            break;
        if (memchr(w->resp, '\0', w->resp_len) != NULL ||
            w->resp_len == GH_WSC_RESPONSE_MAX) {
            gh_wsc_failf(w, "%s",
                         "the gateway's answer is malformed or "
                         "too long");
            return;
        }
    }
    hlen = (size_t)(end - w->resp) + 4;
    end[2] = '\0';
    if (gh_wsu_response(w->resp, w->accept, w->c.protocol, &w->status, &why) !=
        0) {
        if (w->status != 0)
            gh_wsc_failf(w, "the gateway answered HTTP %u", w->status);
        else
            gh_wsc_failf(w, "%s", why);
        return;
    }
    /* Frames that came with the answer. */
    memcpy(w->in, w->resp + hlen, w->resp_len - hlen);
    w->in_off = 0;
    w->in_len = w->resp_len - hlen;
    free(w->resp);
    w->resp = NULL;
    w->st = GH_WSC_OPEN;
    w->upgraded = true;
    w->deadline = 0;
    w->rd_want = POLLIN;
    w->wr_want = POLLOUT;
}

/* ---- open ---- */

static void
gh_wsc_closing(struct gh_wsc *w, const unsigned char *code)
{
    unsigned char body[2] = {0x03, 0xe8}; /* 1000: normal */

    if (w->close_sent)
        return;
    if (code != NULL)
        memcpy(body, code, 2);
    gh_wsc_drop_queue(w);
    gh_wsc_push(w, GH_WSF_CLOSE, body, sizeof(body));
    w->close_sent = true;
    w->st = GH_WSC_CLOSING;
    w->deadline = gh_wsc_now() + GH_WSC_CLOSE_S * 1000LL;
}

/* One piece from the parser. */
static void
gh_wsc_piece(struct gh_wsc *w, const struct gh_wsf_piece *p)
{
    switch (p->op) {
    case GH_WSF_BINARY:
        if (p->len > 0 && !w->close_rcvd)
            w->ops->data(w->arg, p->data, p->len);
        return;
    case GH_WSF_TEXT:
        if (w->text_len + p->len > w->c.text_max) {
            gh_wsc_failf(w, "%s",
                         "the gateway sent an oversized control "
                         "message");
            return;
        }
        memcpy(w->text + w->text_len, p->data, p->len);
        w->text_len += p->len;
        if (p->msg_end) {
            w->ops->text(w->arg, w->text, w->text_len);
            w->text_len = 0;
        }
        return;
    case GH_WSF_CLOSE:
        if (p->len == 1) {
            gh_wsc_failf(w, "%s", "the gateway sent a malformed close");
            return;
        }
        w->close_rcvd = true;
        if (p->len >= 2)
            w->close_code = (unsigned)p->data[0] << 8 | p->data[1];
        gh_wsc_closing(w, p->len >= 2 ? p->data : NULL);
        return;
    case GH_WSF_PING:
        if (!w->close_sent)
            gh_wsc_push(w, GH_WSF_PONG, p->data, p->len);
        return;
    default: /* a pong: nothing was asked */
        return;
    }
}

/* Hand out what is buffered; false when stopped (paused or finished). */
static bool
gh_wsc_parse(struct gh_wsc *w, size_t *budget)
{
    const unsigned char *p = w->in + w->in_off;
    size_t left = w->in_len - w->in_off;
    struct gh_wsf_piece pc;
    int rc;

    while (left > 0 && w->st != GH_WSC_DONE) {
        if (!w->rx_on && w->st == GH_WSC_OPEN)
            break;
        rc = gh_wsf_next(&w->rx, &p, &left, &pc);
        if (rc < 0) {
            gh_wsc_failf(w, "the gateway broke the WebSocket protocol: %s",
                         w->rx.err);
            return false;
        }
        if (rc == 0)
            break;
        gh_wsc_piece(w, &pc);
        *budget = *budget > pc.len ? *budget - pc.len : 0;
    }
    if (w->st == GH_WSC_DONE)
        return false;
    w->in_off = w->in_len - left;
    return left == 0;
}

static void
gh_wsc_read(struct gh_wsc *w)
{
    size_t budget = GH_WSC_BUDGET;
    ssize_t r;

    while (w->st == GH_WSC_OPEN || w->st == GH_WSC_CLOSING) {
        if (!gh_wsc_parse(w, &budget) || budget == 0)
            return;
        if (w->st == GH_WSC_OPEN && !w->rx_on)
            return;
        r = gh_wsc_io_read(w, w->in, GH_WSC_IN);
        if (r == GH_WSC_AGAIN || r == GH_WSC_FAILED)
            return;
        if (r == 0) {
            gh_wsc_finish(w, w->close_sent
                                 ? NULL
                                 : "the connection to the gateway was lost");
            return;
        }
        w->in_off = 0;
        w->in_len = (size_t)r;
    }
}

static void
gh_wsc_flush(struct gh_wsc *w)
{
    struct gh_wsc_chunk *c;
    ssize_t r;

    while ((c = w->head) != NULL) {
        r = gh_wsc_io_write(w, c->buf + c->off, c->len - c->off);
        if (r < 0)
            return;
        c->off += (size_t)r;
        w->queued -= (size_t)r;
        if (c->off == c->len) {
            w->head = c->next;
            if (w->head == NULL)
                w->tail = NULL;
            free(c);
        }
    }
    /* Both close frames have crossed: the handshake is complete. */
    if (w->close_sent && w->close_rcvd)
        gh_wsc_finish(w, NULL);
}

/* ---- the interface ---- */

struct gh_wsc *
gh_wsc_open(const struct gh_wsc_conf *conf, const struct gh_wsc_ops *ops,
            void *arg)
{
    struct gh_wsc *w = gh_alloc(1, sizeof(*w));
    const char *why;

    w->c = *conf;
    w->c.token = NULL; /* copied: the owner may renew its own */
    w->token = gh_strdup(conf->token);
    w->ops = ops;
    w->arg = arg;
    w->fd = -1;
    w->rx_on = true;
    w->rd_want = w->hs_want = POLLIN;
    w->wr_want = POLLOUT;
    w->in = gh_alloc(1, GH_WSC_IN);
    w->text = gh_alloc(1, conf->text_max + 1);
    gh_wsf_rx_init(&w->rx);
    w->deadline = gh_wsc_now() + conf->connect_s * 1000LL;
    if (!gh_wsu_fields_ok(conf->host, conf->token, &why)) {
        gh_wsc_failf(w, "%s", why);
        return w;
    }
    w->st = GH_WSC_CONNECTING;
    w->ai = conf->addrs;
    gh_wsc_try(w);
    return w;
}

int
gh_wsc_fd(const struct gh_wsc *w)
{
    return w->fd;
}

short
gh_wsc_events(const struct gh_wsc *w)
{
    switch (w->st) {
    case GH_WSC_CONNECTING:
        return POLLOUT;
    case GH_WSC_TLS:
        return w->hs_want;
    case GH_WSC_REQUEST:
        return w->wr_want;
    case GH_WSC_RESPONSE:
        return w->rd_want;
    case GH_WSC_OPEN:
    case GH_WSC_CLOSING:
        return (
            short)(((w->rx_on || w->st == GH_WSC_CLOSING) ? w->rd_want : 0) |
                   (w->head != NULL ? w->wr_want : 0));
    default:
        return 0;
    }
}

bool
gh_wsc_ready(const struct gh_wsc *w)
{
    if (w->st != GH_WSC_OPEN || !w->rx_on)
        return false;
    return w->in_off < w->in_len || (w->ssl != NULL && SSL_has_pending(w->ssl));
}

long long
gh_wsc_deadline(const struct gh_wsc *w)
{
    return w->st == GH_WSC_DONE ? 0 : w->deadline;
}

void
gh_wsc_service(struct gh_wsc *w, short revents)
{
    char buf[64];

    if (w->st == GH_WSC_DONE)
        return;
    if (w->deadline != 0 && gh_wsc_now() >= w->deadline) {
        if (w->st == GH_WSC_CLOSING)
            gh_wsc_finish(w, NULL);
        else {
            snprintf(buf, sizeof(buf), "no answer within %d s", w->c.connect_s);
            gh_wsc_failf(w, "%s", buf);
        }
        return;
    }
    if (w->st == GH_WSC_CONNECTING) {
        if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0)
            return;
        gh_wsc_connected(w);
    }
    if (w->st == GH_WSC_TLS)
        gh_wsc_handshake(w);
    if (w->st == GH_WSC_REQUEST)
        gh_wsc_write_request(w);
    if (w->st == GH_WSC_RESPONSE)
        gh_wsc_read_response(w);
    if (w->st == GH_WSC_OPEN || w->st == GH_WSC_CLOSING) {
        gh_wsc_flush(w);
        gh_wsc_read(w);
        if (w->st != GH_WSC_DONE)
            gh_wsc_flush(w); /* a pong or the close answer */
    }
}

bool
gh_wsc_send(struct gh_wsc *w, enum gh_wsf_op op, const void *p, size_t len)
{
    if (w->st == GH_WSC_DONE || w->close_sent)
        return false;
    gh_wsc_push(w, op, p, len);
    return true;
}

size_t
gh_wsc_queued(const struct gh_wsc *w)
{
    return w->queued;
}

void
gh_wsc_rx(struct gh_wsc *w, bool on)
{
    w->rx_on = on;
}

void
gh_wsc_close(struct gh_wsc *w)
{
    if (w->st == GH_WSC_OPEN)
        gh_wsc_closing(w, NULL);
    else if (w->st != GH_WSC_CLOSING)
        gh_wsc_finish(w, NULL);
}

enum gh_wsc_state
gh_wsc_state(const struct gh_wsc *w)
{
    return w->st;
}

unsigned
gh_wsc_close_code(const struct gh_wsc *w)
{
    return w->close_code;
}

bool
gh_wsc_upgraded(const struct gh_wsc *w)
{
    return w->upgraded;
}

const char *
gh_wsc_why(const struct gh_wsc *w, unsigned *status, bool *said)
{
    *status = w->status;
    *said = w->said;
    return w->why;
}

void
gh_wsc_free(struct gh_wsc *w)
{
    if (w == NULL)
        return;
    gh_wsc_finish(w, w->why);
    free(w->resp);
    free(w->in);
    free(w->text);
    free(w);
}
