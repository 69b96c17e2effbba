/* Unit tests for gateway/worker/link.c: the worker's bounded queue toward
 * the broker and its frame-exact reads, over a real socketpair with the
 * shared reader on the broker's side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/frame.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pair {
    struct gh_link l; /* the worker's end: sv[0] */
    int peer;         /* the broker's end: sv[1] */
};

static int
setup(void **state)
{
    struct pair *p = calloc(1, sizeof(*p));
    int sv[2];

    assert_non_null(p);
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    gh_link_init(&p->l, sv[0]);
    p->peer = sv[1];
    *state = p;
    return 0;
}

static int
teardown(void **state)
{
    struct pair *p = *state;

    close(p->l.fd);
    if (p->peer >= 0)
        close(p->peer);
    gh_link_free(&p->l);
    free(p);
    return 0;
}

/* Fill the queue with OUTPUT as the SSH side would: it stops at the cap,
 * every frame within the payload limit. */
static size_t
fill(struct gh_link *l, uint8_t byte)
{
    size_t total = 0, room;
    uint8_t *p;

    while ((p = gh_link_out_reserve(l, &room)) != NULL) {
        assert_true(room > 0);
        assert_true(room <= GH_FRAME_PAYLOAD_MAX);
        memset(p, byte, room);
        gh_link_out_commit(l, room);
        total += room;
    }
    assert_int_equal(gh_link_out_room(l), 0);
    return total;
}

/* Read everything the worker sent with the broker's reader; returns the
 * OUTPUT bytes, and checks each is `byte`. Non-OUTPUT frames are counted
 * in *ctl, the last one's payload copied to last (NUL-terminated). */
static size_t
drain_peer(struct pair *p, uint8_t byte, int *ctl, char *last, size_t lastcap)
{
    struct gh_frame_rd r;
    struct gh_frame f;
    size_t out = 0, avail, i;
    uint8_t *b;
    ssize_t n;
    int rc;

    gh_frame_rd_init(&r);
    fcntl(p->peer, F_SETFL, O_NONBLOCK);
    for (;;) {
        assert_int_equal(gh_link_flush(&p->l), 0);
        b = gh_frame_rd_space(&r, &avail);
        n = read(p->peer, b, avail);
        if (n < 0 && errno == EAGAIN && gh_link_pending(&p->l) == 0)
            break;
        if (n <= 0)
            continue;
        gh_frame_rd_commit(&r, (size_t)n);
        while ((rc = gh_frame_rd_next(&r, GH_FROM_WORKER, &f)) == 1) {
            if (f.type == GH_F_OUTPUT) {
                assert_true(f.len > 0);
                for (i = 0; i < f.len; i++)
                    assert_int_equal(f.payload[i], byte);
                out += f.len;
            } else {
                (*ctl)++;
                if (last != NULL) {
                    size_t k = f.len < lastcap - 1 ? f.len : lastcap - 1;

                    memcpy(last, f.payload, k);
                    last[k] = '\0';
                }
            }
        }
        assert_int_equal(rc, 0);
    }
    gh_frame_rd_free(&r);
    return out;
}

static void
test_link__queue_is_bounded(void **state)
{
    struct pair *p = *state;
    char last[2048];
    size_t total, got;
    int ctl = 0;

    total = fill(&p->l, 'y');
    assert_true(gh_link_pending(&p->l) <= GH_LINK_OUT_MAX);
    assert_true(total > GH_LINK_OUT_MAX - 2 * GH_FRAME_PAYLOAD_MAX);
    /* A CLOSE still fits behind a full queue. */
    assert_int_equal(gh_link_close(&p->l, "target_closed", "bye %d", 1), 0);
    assert_true(gh_link_pending(&p->l) <=
                GH_LINK_OUT_MAX + GH_LINK_CTL_RESERVE);
    /* But control frames cannot grow it without end. */
    {
        static uint8_t big[GH_LINK_CTL_RESERVE + 1];

        assert_int_equal(
            gh_link_send(&p->l, GH_F_STATUS, big, GH_LINK_CTL_RESERVE + 1),
            GH_E_TOOBIG);
    }
    got = drain_peer(p, 'y', &ctl, last, sizeof(last));
    assert_int_equal(got, total);
    assert_int_equal(ctl, 1);
    assert_string_equal(last,
                        "{\"reason\":\"target_closed\",\"message\":\"bye 1\"}");
    /* Drained: the memory went back and the room is there again. */
    assert_int_equal(gh_link_pending(&p->l), 0);
    assert_true(p->l.out_cap <= 16 * 1024);
    assert_int_equal(gh_link_out_room(&p->l), GH_FRAME_PAYLOAD_MAX);
}

/* Messages that are not UTF-8 (a server's error text) still make JSON. */
static void
test_link__close_message_not_utf8(void **state)
{
    struct pair *p = *state;
    char last[2048];
    int ctl = 0;

    assert_int_equal(gh_link_status(&p->l, "hostkey", "fingerprint", "x"), 0);
    assert_int_equal(
        gh_link_close(&p->l, "connect_failed", "bad \xff\xfe bytes \"q\""), 0);
    drain_peer(p, 0, &ctl, last, sizeof(last));
    assert_int_equal(ctl, 2);
    assert_string_equal(last, "{\"reason\":\"connect_failed\",\"message\":"
                              "\"bad ?? bytes \\\"q\\\"\"}");
}

/* While a credential may be in flight, reads stop at frame boundaries:
 * the prefix first, then exactly the rest of that frame. */
static void
test_link__reads_are_frame_exact(void **state)
{
    struct pair *p = *state;
    uint8_t buf[64];
    size_t n = 0;
    struct gh_frame f;

    gh_frame_link_header(buf, GH_F_CREDENTIAL, 5);
    memcpy(buf + 5, "{\"a\"}", 5);
    n = 10;
    gh_frame_link_header(buf + n, GH_F_INPUT, 3);
    memcpy(buf + n + 5, "abc", 3);
    n += 8;
    assert_int_equal(write(p->peer, buf, n), (ssize_t)n);

    assert_true(p->l.secret);
    assert_int_equal(gh_link_read(&p->l), GH_FRAME_PREFIX);
    assert_int_equal(gh_link_next(&p->l, &f), 0);
    assert_int_equal(gh_link_read(&p->l), 6); /* type + 5 */
    assert_int_equal(gh_link_next(&p->l, &f), 1);
    assert_int_equal(f.type, GH_F_CREDENTIAL);
    assert_memory_equal(f.payload, "{\"a\"}", 5);
    gh_link_wipe_frame(&p->l, &f);
    assert_memory_equal(p->l.rd.buf, "\0\0\0\0\0\0\0\0\0\0", 10);
    /* Nothing of the next frame was read yet. */
    assert_int_equal(p->l.rd.end - p->l.rd.start, 0);
    assert_int_equal(gh_link_read(&p->l), GH_FRAME_PREFIX);
    assert_int_equal(gh_link_read(&p->l), 4);
    assert_int_equal(gh_link_next(&p->l, &f), 1);
    assert_memory_equal(f.payload, "abc", 3);
    /* Nothing more: 0, not an error. */
    fcntl(p->l.fd, F_SETFL, O_NONBLOCK);
    assert_int_equal(gh_link_read(&p->l), 0);

    /* Once the credential is used, reads take what there is. */
    p->l.secret = false;
    assert_int_equal(write(p->peer, buf, n), (ssize_t)n);
    assert_int_equal(gh_link_read(&p->l), (int)n);
}

/* The broker closing its end: EOF on read, EPIPE on write. */
static void
test_link__broker_gone(void **state)
{
    struct pair *p = *state;
    uint8_t x = 0;

    close(p->peer);
    p->peer = -1;
    assert_int_equal(gh_link_read(&p->l), GH_E_IO);
    assert_true(p->l.eof);
    assert_int_equal(gh_link_send(&p->l, GH_F_STATUS, &x, 1), 0);
    assert_int_equal(gh_link_flush(&p->l), GH_E_IO);
    assert_true(p->l.broken);
    assert_int_equal(gh_link_drain(&p->l, 100), GH_E_IO);
}

/* drain() gives up after its time when nobody reads. */
static void
test_link__drain_is_bounded(void **state)
{
    struct pair *p = *state;
    int64_t t0;

    fill(&p->l, 'z');
    t0 = gh_now_ms();
    assert_int_equal(gh_link_drain(&p->l, 200), GH_E_IO);
    assert_true(gh_now_ms() - t0 >= 190);
    assert_true(gh_now_ms() - t0 < 2000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_link__queue_is_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_link__close_message_not_utf8,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_link__reads_are_frame_exact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_link__broker_gone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_link__drain_is_bounded, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
