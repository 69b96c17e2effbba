/* Unit tests for gateway/broker/resolve.c: which answers a name may use,
 * and the threads: answers come back through dispatch on this thread
 * after a wake, a cancelled request never calls back, a full queue says
 * so, and freeing with work in flight is safe. Names are IP literals and
 * "localhost" (from /etc/hosts): no DNS packet is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "resolve.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool
ok4(const char *a)
{
    struct sockaddr_in s;

    memset(&s, 0, sizeof(s));
    s.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
    return gh_resolve_addr_ok((struct sockaddr *)&s);
}

static bool
ok6(const char *a)
{
    struct sockaddr_in6 s;

    memset(&s, 0, sizeof(s));
    s.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
    return gh_resolve_addr_ok((struct sockaddr *)&s);
}

static void
test_addr_ok(void **state)
{
    (void)state;
    assert_true(ok4("198.18.0.2"));
    assert_true(ok4("10.1.2.3"));
    assert_true(ok4("192.168.1.1"));
    assert_true(ok4("8.8.8.8"));
    assert_false(ok4("127.0.0.1"));
    assert_false(ok4("127.8.9.10"));
    assert_false(ok4("0.0.0.0"));
    assert_false(ok4("169.254.169.254"));
    assert_false(ok4("224.0.0.1"));
    assert_false(ok4("255.255.255.255"));
    assert_true(ok6("2001:db8::1"));
    assert_true(ok6("fd00::5"));
    assert_false(ok6("::1"));
    assert_false(ok6("::"));
    assert_false(ok6("fe80::1"));
    assert_false(ok6("febf::1"));
    assert_false(ok6("ff02::1"));
    assert_false(ok6("::ffff:127.0.0.1"));
    assert_false(ok6("::ffff:169.254.169.254"));
    assert_true(ok6("::ffff:198.18.0.2"));
}

/* The wake function writes a byte; the test waits on the pipe. */
static int wake_pipe[2];

static void
wake(void *ctx)
{
    (void)ctx;
    (void)!write(wake_pipe[1], "w", 1);
}

struct answer {
    int calls;
    char addr[64];
    char error[200];
};

static void
done(void *ctx, const struct gh_resolve_result *r)
{
    struct answer *a = ctx;

    a->calls++;
    snprintf(a->addr, sizeof(a->addr), "%s", r->error ? "" : r->addr);
    snprintf(a->error, sizeof(a->error), "%s", r->error ? r->error : "");
}

/* Dispatch until every answer in as has been called (at most 10 s). */
static void
wait_for(struct gh_resolver *r, struct answer *as, size_t n)
{
    char buf[64];
    struct pollfd p = {wake_pipe[0], POLLIN, 0};

    for (int i = 0; i < 100; i++) {
        size_t have = 0;

        for (size_t k = 0; k < n; k++)
            have += as[k].calls > 0;
        if (have == n)
            return;
        if (poll(&p, 1, 100) > 0)
            (void)!read(wake_pipe[0], buf, sizeof(buf));
        gh_resolve_dispatch(r);
    }
    fail_msg("no answer in 10 s");
}

static void
test_threads(void **state)
{
    struct gh_resolver *r;
    struct answer a[3], c;
    uint64_t id, cid;

    (void)state;
    memset(a, 0, sizeof(a));
    memset(&c, 0, sizeof(c));
    assert_int_equal(pipe(wake_pipe), 0);
    r = gh_resolver_new(wake, NULL);
    assert_non_null(r);
    assert_int_equal(gh_resolve_submit(r, "198.18.0.7", done, &a[0], &id), 0);
    assert_int_equal(gh_resolve_submit(r, "localhost", done, &a[1], NULL), 0);
    assert_int_equal(gh_resolve_submit(r, "2001:db8::7", done, &a[2], NULL), 0);
    assert_int_equal(gh_resolve_submit(r, "198.18.0.8", done, &c, &cid), 0);
    gh_resolve_cancel(r, cid);
    wait_for(r, a, 3);
    /* Answers only through dispatch, once each; the cancelled one never. */
    assert_int_equal(a[0].calls, 1);
    assert_string_equal(a[0].addr, "198.18.0.7");
    assert_int_equal(a[1].calls, 1);
    assert_string_equal(a[1].addr, "");
    assert_non_null(strstr(a[1].error, "localhost resolves only to loopback"));
    assert_int_equal(a[2].calls, 1);
    /* AI_ADDRCONFIG: without a v6 address here there is no answer. */
    assert_true(strcmp(a[2].addr, "2001:db8::7") == 0 || a[2].error[0] != '\0');
    gh_resolve_dispatch(r);
    assert_int_equal(c.calls, 0);
    /* Too long a name is refused at once. */
    {
        char longname[GH_RESOLVE_NAME_MAX + 2];

        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        assert_int_equal(gh_resolve_submit(r, longname, done, &c, NULL), -1);
    }
    /* Freed with work queued: nothing is called back, nothing leaks. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(gh_resolve_submit(r, "198.18.0.9", done, &c, NULL), 0);
    gh_resolver_free(r);
    assert_int_equal(c.calls, 0);
    /* Let detached threads finish before the pipe goes (they do not wake
     * after free, so the pipe is not needed; this only settles them). */
    usleep(200 * 1000);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
}

static void
test_queue_limit(void **state)
{
    struct gh_resolver *r;
    struct answer c;
    int refused = 0;

    (void)state;
    memset(&c, 0, sizeof(c));
    assert_int_equal(pipe(wake_pipe), 0);
    r = gh_resolver_new(wake, NULL);
    assert_non_null(r);
    /* Four times what the queue takes, with nothing dispatched: the rest
     * are refused at once (answers count until they are dispatched). */
    for (int i = 0; i < GH_RESOLVE_QUEUE_MAX * 4; i++)
        refused += gh_resolve_submit(r, "198.18.0.10", done, &c, NULL) != 0;
    assert_int_equal(refused, GH_RESOLVE_QUEUE_MAX * 3);
    gh_resolver_free(r);
    usleep(200 * 1000);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_ok),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_queue_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
