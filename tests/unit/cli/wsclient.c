/* Tests of gateway/cli/gatehouse/wsclient.c against a scripted server on
 * loopback (plain TCP, a thread of this test): the faults a real gateway
 * is never made to produce - a wrong Sec-WebSocket-Accept, a missing
 * subprotocol, a masked or oversized frame, silence, a dropped
 * connection - and the protocol duties (pong, close handshake, masking,
 * backpressure). The TLS path and the real gateway are covered by
 * e2e_tunnel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wsclient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#define TOKEN "tok.en-123"

/* ---- the scripted server (blocking, its own thread) ---- */

enum script {
    S_GOOD,        /* the duties, then a close from the server */
    S_BAD_ACCEPT,  /* a wrong Sec-WebSocket-Accept */
    S_NO_PROTOCOL, /* no Sec-WebSocket-Protocol */
    S_HTTP_401,    /* refused */
    S_HUGE_HEADER, /* no blank line within the limit */
    S_MASKED,      /* a masked frame from the server */
    S_BIG_TEXT,    /* a text message over text_max */
    S_SILENT,      /* accepts, never answers */
    S_DROP,        /* upgrades, sends a little, drops TCP */
    S_FLOOD        /* upgrades, sends 256 KiB, waits for a close */
};

struct srv {
    int lfd, port;
    enum script script;
    pthread_t th;
    /* What the server saw. */
    bool auth_ok, proto_ok, pong_ok, masked_ok, close_ok;
    size_t got_bin;
};

static ssize_t
read_full(int fd, void *buf, size_t n)
{
    size_t off = 0;
    ssize_t r;

    while (off < n) {
        r = read(fd, (char *)buf + off, n - off);
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return (ssize_t)n;
}

static void
write_all(int fd, const void *buf, size_t n)
{
    size_t off = 0;
    ssize_t r;

    while (off < n) {
        r = send(fd, (const char *)buf + off, n - off, MSG_NOSIGNAL);
        if (r <= 0)
            return;
        off += (size_t)r;
    }
}

/* A client frame: unmasked into out; returns opcode, -1 at the end. */
static int
read_client_frame(int fd, unsigned char *out, size_t cap, size_t *len,
                  bool *masked)
{
    unsigned char h[2], ext[8], m[4];
    uint64_t n;

    if (read_full(fd, h, 2) < 0)
        return -1;
    n = h[1] & 0x7f;
    if (n == 126) {
        if (read_full(fd, ext, 2) < 0)
            return -1;
        n = ((uint64_t)ext[0] << 8) | ext[1];
    } else if (n == 127) {
        if (read_full(fd, ext, 8) < 0)
            return -1;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = (n << 8) | ext[i];
    }
    *masked = (h[1] & 0x80) != 0;
    if (*masked && read_full(fd, m, 4) < 0)
        return -1;
    if (n > cap || read_full(fd, out, (size_t)n) < 0)
        return -1;
    if (*masked)
        for (size_t i = 0; i < n; i++)
            out[i] ^= m[i % 4];
    *len = (size_t)n;
    return h[0] & 0x0f;
}

static void
send_frame(int fd, unsigned char first, const void *p, size_t n)
{
    unsigned char h[4] = {first, 0, 0, 0};
    size_t hl = 2;

    if (n < 126)
        h[1] = (unsigned char)n;
    else {
        h[1] = 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hl = 4;
    }
    write_all(fd, h, hl);
    write_all(fd, p, n);
}

static void
answer_upgrade(struct srv *sv, int fd, const char *req, bool good_accept,
               bool protocol)
{
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    char key[64] = "", cat[128], acc[64], resp[512];
    unsigned char md[20];
    unsigned int mdlen;

    sv->auth_ok =
        strstr(req, "\r\nAuthorization: Bearer " TOKEN "\r\n") != NULL;
    sv->proto_ok =
        strstr(req, "\r\nSec-WebSocket-Protocol: test.v1\r\n") != NULL;
    if (k != NULL)
        sscanf(k + 19, "%63[^\r]", key);
    snprintf(cat, sizeof(cat), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    EVP_Digest(cat, strlen(cat), md, &mdlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)acc, md, 20);
    if (!good_accept)
        acc[0] = acc[0] == 'A' ? 'B' : 'A';
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 101 Switching Protocols\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n%s\r\n",
             acc, protocol ? "Sec-WebSocket-Protocol: test.v1\r\n" : "");
    write_all(fd, resp, strlen(resp));
}

static void *
srv_main(void *arg)
{
    struct srv *sv = arg;
    static unsigned char buf[300000];
    char req[4096];
    size_t n = 0, len;
    bool masked;
    int fd = accept(sv->lfd, NULL, NULL), op;
    ssize_t r;

    if (fd < 0)
        return NULL;
    while (n < sizeof(req) - 1 && strstr(req, "\r\n\r\n") == NULL) {
        r = read(fd, req + n, sizeof(req) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
    }
    switch (sv->script) {
    case S_SILENT:
        /* Hold the connection until the client gives up. */
        while (read(fd, buf, sizeof(buf)) > 0)
            ;
        break;
    case S_HTTP_401: {
        const char *r401 =
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        write_all(fd, r401, strlen(r401));
    } break;
    case S_HUGE_HEADER:
        write_all(fd, "HTTP/1.1 101 Switching Protocols\r\n",
                  strlen("HTTP/1.1 101 Switching Protocols\r\n"));
        memset(buf, 'a', 9000);
        write_all(fd, buf, 9000);
        break;
    case S_BAD_ACCEPT:
    case S_NO_PROTOCOL:
        answer_upgrade(sv, fd, req, sv->script != S_BAD_ACCEPT,
                       sv->script != S_NO_PROTOCOL);
        break;
    case S_MASKED:
        answer_upgrade(sv, fd, req, true, true);
        write_all(fd, "\x82\x81\x01\x02\x03\x04x", 7);
        break;
    case S_BIG_TEXT:
        answer_upgrade(sv, fd, req, true, true);
        memset(buf, 'x', 200);
        send_frame(fd, 0x01, buf, 100); /* 100 + 100 > 150 */
        send_frame(fd, 0x80, buf, 100);
        break;
    case S_DROP:
        answer_upgrade(sv, fd, req, true, true);
        send_frame(fd, 0x82, "abc", 3);
        break;
    case S_FLOOD:
        answer_upgrade(sv, fd, req, true, true);
        memset(buf, 'f', 65000);
        for (int i = 0; i < 4; i++)
            send_frame(fd, 0x82, buf, 65000);
        /* Until the client's close. */
        while ((op = read_client_frame(fd, buf, sizeof(buf), &len, &masked)) >=
               0)
            if (op == 0x8) {
                sv->close_ok = true;
                send_frame(fd, 0x88, buf, len);
                break;
            }
        break;
    case S_GOOD:
        answer_upgrade(sv, fd, req, true, true);
        /* A fragmented text with a ping inside, then binary. */
        send_frame(fd, 0x01, "hel", 3);
        send_frame(fd, 0x89, "pi", 2);
        send_frame(fd, 0x80, "lo", 2);
        memset(buf, 'b', 1000);
        send_frame(fd, 0x82, buf, 1000);
        /* The client's frames: the pong, then its binary message. */
        while ((op = read_client_frame(fd, buf, sizeof(buf), &len, &masked)) >=
               0) {
            if (op == 0xa)
                sv->pong_ok = masked && len == 2 && memcmp(buf, "pi", 2) == 0;
            if (op == 0x2) {
                sv->masked_ok = masked;
                sv->got_bin = len;
                for (size_t i = 0; i < len; i++)
                    if (buf[i] != (unsigned char)(i * 31))
                        sv->got_bin = 0;
                break;
            }
        }
        /* The server closes; the client must answer with a close. */
        send_frame(fd, 0x88, "\x03\xe8", 2);
        op = read_client_frame(fd, buf, sizeof(buf), &len, &masked);
        sv->close_ok =
            op == 0x8 && masked && len == 2 && memcmp(buf, "\x03\xe8", 2) == 0;
        break;
    }
    /* Let the client see everything before the end of the stream. */
    shutdown(fd, SHUT_WR);
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
    return NULL;
}

static void
srv_start(struct srv *sv, enum script sc)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);

    memset(sv, 0, sizeof(*sv));
    sv->script = sc;
    sv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(sv->lfd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(sv->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(sv->lfd, 4), 0);
    assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&a, &al), 0);
    sv->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&sv->th, NULL, srv_main, sv), 0);
}

static void
srv_join(struct srv *sv)
{
    pthread_join(sv->th, NULL);
    close(sv->lfd);
}

/* ---- the client side ---- */

struct got {
    struct gh_wsc *w;
    size_t pause_at; /* stop reception once this much has come */
    char text[512];
    size_t text_len;
    int texts;
    size_t bin;
};

static void
on_data(void *arg, const unsigned char *p, size_t len)
{
    struct got *g = arg;

    (void)p;
    g->bin += len;
    if (g->pause_at > 0 && g->bin >= g->pause_at)
        gh_wsc_rx(g->w, false);
}

static void
on_text(void *arg, const char *p, size_t len)
{
    struct got *g = arg;

    if (g->text_len + len < sizeof(g->text)) {
        memcpy(g->text + g->text_len, p, len);
        g->text_len += len;
    }
    g->texts++;
}

static const struct gh_wsc_ops ops = {on_data, on_text};

static struct addrinfo *
loopback(int port)
{
    struct addrinfo hints, *ai = NULL;
    char ps[16];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ps, sizeof(ps), "%d", port);
    assert_int_equal(getaddrinfo("127.0.0.1", ps, &hints, &ai), 0);
    return ai;
}

static struct gh_wsc *
open_to(int port, struct addrinfo **ai, struct got *g, const char *token)
{
    struct gh_wsc_conf c;

    *ai = loopback(port);
    memset(&c, 0, sizeof(c));
    c.addrs = *ai;
    c.host = "127.0.0.1";
    c.port = port;
    c.path = "/t?x=1";
    c.protocol = "test.v1";
    c.token = token;
    c.server = "http://127.0.0.1";
    c.connect_s = 2;
    c.text_max = 150;
    return gh_wsc_open(&c, &ops, g);
}

/* Run the connection until it is done or until() holds; at most 5 s. */
static void
run(struct gh_wsc *w, bool (*until)(struct gh_wsc *, void *), void *arg)
{
    long long end = gh_wsc_now() + 5000;
    struct pollfd p;

    while (gh_wsc_state(w) != GH_WSC_DONE && gh_wsc_now() < end) {
        if (until != NULL && until(w, arg))
            return;
        p.fd = gh_wsc_fd(w);
        p.events = gh_wsc_events(w);
        p.revents = 0;
        if (p.events == 0)
            p.fd = -1;
        poll(&p, 1, gh_wsc_ready(w) ? 0 : 50);
        gh_wsc_service(w, p.revents);
    }
}

static const char *
why_of(struct gh_wsc *w, unsigned *st)
{
    bool said;
    unsigned dummy;

    return gh_wsc_why(w, st != NULL ? st : &dummy, &said);
}

static bool
until_bin(struct gh_wsc *w, void *arg)
{
    (void)w;
    return ((struct got *)arg)->bin >= 1000;
}

static void
test_good_session(void **state)
{
    struct srv sv;
    struct got g;
    struct addrinfo *ai;
    struct gh_wsc *w;
    unsigned char msg[3000];

    (void)state;
    memset(&g, 0, sizeof(g));
    srv_start(&sv, S_GOOD);
    w = open_to(sv.port, &ai, &g, TOKEN);
    /* Queued before the upgrade: sent once it is open. */
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 31);
    run(w, until_bin, &g);
    assert_true(gh_wsc_send(w, GH_WSF_BINARY, msg, sizeof(msg)));
    run(w, NULL, NULL);
    srv_join(&sv);
    assert_int_equal(gh_wsc_state(w), GH_WSC_DONE);
    assert_null(why_of(w, NULL)); /* a close handshake */
    assert_int_equal(g.texts, 1);
    assert_int_equal(g.text_len, 5);
    assert_memory_equal(g.text, "hello", 5);
    assert_int_equal(g.bin, 1000);
    assert_true(sv.auth_ok);
    assert_true(sv.proto_ok);
    assert_true(sv.pong_ok);
    assert_true(sv.masked_ok);
    assert_int_equal(sv.got_bin, sizeof(msg));
    assert_true(sv.close_ok);
    assert_true(gh_wsc_upgraded(w));
    assert_false(gh_wsc_send(w, GH_WSF_BINARY, "x", 1));
    gh_wsc_free(w);
    freeaddrinfo(ai);
}

/* One script that must end the connection with a reason containing why. */
static void
fails(enum script sc, const char *why, unsigned status)
{
    struct srv sv;
    struct got g;
    struct addrinfo *ai;
    struct gh_wsc *w;
    const char *got;
    unsigned st;

    memset(&g, 0, sizeof(g));
    srv_start(&sv, sc);
    w = open_to(sv.port, &ai, &g, TOKEN);
    run(w, NULL, NULL);
    assert_int_equal(gh_wsc_state(w), GH_WSC_DONE);
    got = why_of(w, &st);
    assert_non_null(got);
    if (strstr(got, why) == NULL)
        fail_msg("script %d: \"%s\" does not say \"%s\"", sc, got, why);
    assert_int_equal(st, status);
    /* Refused at the upgrade, or failed after it. */
    assert_int_equal(gh_wsc_upgraded(w),
                     sc == S_MASKED || sc == S_BIG_TEXT || sc == S_DROP);
    gh_wsc_free(w); /* closes our end: the server thread ends */
    srv_join(&sv);
    freeaddrinfo(ai);
}

static void
test_refusals(void **state)
{
    (void)state;
    fails(S_BAD_ACCEPT, "Sec-WebSocket-Accept", 0);
    fails(S_NO_PROTOCOL, "does not speak", 0);
    fails(S_HTTP_401, "HTTP 401", 401);
    fails(S_HUGE_HEADER, "too long", 0);
    fails(S_MASKED, "masked frame from the server", 0);
    fails(S_BIG_TEXT, "oversized", 0);
    fails(S_SILENT, "no answer within 2 s", 0);
    fails(S_DROP, "lost", 0);
}

static void
test_no_listener(void **state)
{
    struct got g;
    struct addrinfo *ai;
    struct gh_wsc *w;
    int port;

    (void)state;
    memset(&g, 0, sizeof(g));
    /* A port that was just free. */
    {
        struct sockaddr_in a;
        socklen_t al = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
        port = ntohs(a.sin_port);
        close(fd);
    }
    w = open_to(port, &ai, &g, TOKEN);
    run(w, NULL, NULL);
    assert_int_equal(gh_wsc_state(w), GH_WSC_DONE);
    assert_non_null(strstr(why_of(w, NULL), "refused"));
    gh_wsc_free(w);
    freeaddrinfo(ai);
}

static void
test_bad_token_never_sent(void **state)
{
    struct got g;
    struct addrinfo *ai;
    struct gh_wsc *w;

    (void)state;
    memset(&g, 0, sizeof(g));
    /* A header injection attempt: refused before any connection. */
    w = open_to(9, &ai, &g, "abc\r\nX-Evil: 1");
    assert_int_equal(gh_wsc_state(w), GH_WSC_DONE);
    assert_int_equal(gh_wsc_fd(w), -1);
    assert_non_null(strstr(why_of(w, NULL), "malformed"));
    gh_wsc_free(w);
    freeaddrinfo(ai);
}

static bool
until_some(struct gh_wsc *w, void *arg)
{
    (void)w;
    return ((struct got *)arg)->bin > 0;
}

static void
test_backpressure(void **state)
{
    struct srv sv;
    struct got g;
    struct addrinfo *ai;
    struct gh_wsc *w;
    size_t held;

    (void)state;
    memset(&g, 0, sizeof(g));
    srv_start(&sv, S_FLOOD);
    w = open_to(sv.port, &ai, &g, TOKEN);
    g.w = w;
    g.pause_at = 1; /* paused by the first byte, as a full queue does */
    run(w, until_some, &g);
    /* Paused: at most one read beyond, and nothing more however long it
     * runs, though the server has sent it all. */
    held = g.bin;
    assert_true(held > 0 && held <= 64 * 1024);
    assert_true(held < 4 * 65000);
    for (int i = 0; i < 20; i++) {
        struct pollfd p = {gh_wsc_fd(w), gh_wsc_events(w), 0};

        if (p.events == 0)
            p.fd = -1;
        poll(&p, 1, 10);
        gh_wsc_service(w, p.revents);
    }
    assert_int_equal(g.bin, held);
    assert_int_equal(gh_wsc_events(w) & POLLIN, 0);
    /* Resumed: all of it arrives (some of it already read and waiting),
     * then a normal close. */
    g.pause_at = 0;
    gh_wsc_rx(w, true);
    while (g.bin < 4 * 65000 && gh_wsc_state(w) != GH_WSC_DONE) {
        struct pollfd p = {gh_wsc_fd(w), gh_wsc_events(w), 0};

        poll(&p, 1, gh_wsc_ready(w) ? 0 : 50);
        gh_wsc_service(w, p.revents);
    }
    assert_int_equal(g.bin, 4 * 65000);
    gh_wsc_close(w);
    run(w, NULL, NULL);
    assert_int_equal(gh_wsc_state(w), GH_WSC_DONE);
    srv_join(&sv);
    assert_true(sv.close_ok);
    gh_wsc_free(w);
    freeaddrinfo(ai);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_session),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_no_listener),
        cmocka_unit_test(test_bad_token_never_sent),
        cmocka_unit_test(test_backpressure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
