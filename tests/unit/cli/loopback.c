/* Unit tests for gateway/cli/common/oidc-loopback.c: the listener that
 * takes a browser sign-in's redirect, fed by a thread of this test with
 * requests a real identity provider never sends (another issuer, broken
 * escapes, garbage, a stranger's state) around the one good redirect.
 * The whole flow against the real IdP is in e2e_tunnel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "oidc-loopback.h"

#include "gatehouse/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STATE  "s7ate-0123456789"
#define ISSUER "https://idp.test"

struct client {
    int port;
    const char *const *reqs; /* sent one connection each, in order */
    int statuses[16];        /* what each got back */
};

static int
request(int port, const char *req)
{
    struct sockaddr_in a;
    char buf[4096];
    ssize_t n, got = 0;
    int s = socket(AF_INET, SOCK_STREAM, 0), st = 0;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return -1;
    }
    (void)!write(s, req, strlen(req));
    while ((n = read(s, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
        got += n;
    buf[got] = '\0';
    close(s);
    if (sscanf(buf, "HTTP/1.1 %d", &st) != 1)
        return -1;
    return st;
}

static void *
client_main(void *arg)
{
    struct client *c = arg;

    for (int i = 0; c->reqs[i] != NULL; i++)
        c->statuses[i] = request(c->port, c->reqs[i]);
    return NULL;
}

/* Run the listener against reqs; returns its result, *code set. */
static int
serve(const char *const *reqs, int wait_s, struct client *c, char **code,
      struct gh_cli_oauth_err *err)
{
    pthread_t th;
    char *ru = NULL;
    int fd, r;

    assert_int_equal(gh_cli_loopback_listen(&fd, &ru), 0);
    assert_non_null(strstr(ru, "http://127.0.0.1:"));
    memset(c, 0, sizeof(*c));
    c->port = atoi(strrchr(ru, ':') + 1);
    c->reqs = reqs;
    assert_int_equal(pthread_create(&th, NULL, client_main, c), 0);
    r = gh_cli_loopback_wait(fd, STATE, ISSUER, wait_s, code, err);
    /* Requests after the answer find the listener closed. */
    close(fd);
    pthread_join(th, NULL);
    free(ru);
    return r;
}

#define GET(q) "GET " q " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

static void
test_strays_then_code(void **state)
{
    static const char *const reqs[] = {
        "garbage\r\n\r\n",
        GET("/favicon.ico"),
        GET("/callback"),
        GET("/callback?code=x&state=wrong-state-0123"),
        GET("/callback?code=x&state=" STATE "&state=" STATE),
        GET("/callback?code=%zz&state=" STATE),
        GET("/callback?code=%4&state=" STATE),
        GET("/callback?code=a%0Ab&state=" STATE),
        NULL};
    static const char *const last[] = {GET("/callback?code=c%2Fd+e&state=" STATE
                                           "&iss=https%3A%2F%2Fidp.test"),
                                       NULL};
    struct client c;
    struct gh_cli_oauth_err err;
    char *code = NULL;
    const char *all[16];
    int n = 0, r;

    (void)state;
    for (int i = 0; reqs[i] != NULL; i++)
        all[n++] = reqs[i];
    all[n++] = last[0];
    all[n] = NULL;
    r = serve(all, 10, &c, &code, &err);
    assert_int_equal(r, 0);
    assert_string_equal(code, "c/d e");
    /* Every stray was answered and the wait went on. */
    assert_int_equal(c.statuses[0], 400);
    assert_int_equal(c.statuses[1], 404);
    for (int i = 2; i < n - 1; i++)
        assert_int_equal(c.statuses[i], 400);
    assert_int_equal(c.statuses[n - 1], 200);
    gh_cli_strfree(code);
}

static void
test_other_issuer(void **state)
{
    static const char *const reqs[] = {
        GET("/callback?code=x&state=" STATE "&iss=https%3A%2F%2Fevil.test"),
        NULL};
    struct client c;
    struct gh_cli_oauth_err err;
    char *code = NULL;

    (void)state;
    assert_int_equal(serve(reqs, 10, &c, &code, &err), GH_E_INVAL);
    assert_null(code);
    assert_non_null(strstr(err.text, "evil.test"));
    assert_int_equal(c.statuses[0], 400);
}

static void
test_idp_error(void **state)
{
    static const char *const reqs[] = {
        GET("/callback?error=access_denied&error_description=no%1B%5B31m"
            "&state=" STATE),
        GET("/callback?error=access_denied&error_description=nope&"
            "state=" STATE),
        NULL};
    struct client c;
    struct gh_cli_oauth_err err;
    char *code = NULL;

    (void)state;
    /* The first carries an escape byte: refused as malformed. */
    assert_int_equal(serve(reqs, 10, &c, &code, &err), GH_E_PERM);
    assert_string_equal(err.error, "access_denied");
    assert_non_null(strstr(err.text, "nope"));
    assert_int_equal(c.statuses[0], 400);
    assert_int_equal(c.statuses[1], 200);
}

static void
test_timeout(void **state)
{
    static const char *const reqs[] = {NULL};
    struct client c;
    struct gh_cli_oauth_err err;
    char *code = NULL;

    (void)state;
    assert_int_equal(serve(reqs, 1, &c, &code, &err), GH_E_IO);
    assert_non_null(strstr(err.text, "within 1 s"));
}

/* A client that trickles its request a byte at a time. */
struct trickle {
    int port;
    volatile int finished; /* sent every byte without being cut off */
};

static void *
trickle_main(void *arg)
{
    struct trickle *t = arg;
    static const char req[] = "GET /callback?code=slow&state=" STATE " HTTP";
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)t->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
        for (size_t i = 0; i < sizeof(req) - 1; i++) {
            if (send(s, req + i, 1, MSG_NOSIGNAL) != 1)
                break;
            if (i == sizeof(req) - 2)
                t->finished = 1;
            usleep(500 * 1000);
        }
    }
    close(s);
    return NULL;
}

static void
test_trickle_does_not_hold_it(void **state)
{
    static const char *const reqs[] = {GET("/callback?code=ok&state=" STATE),
                                       NULL};
    struct trickle t = {0, 0};
    struct client c;
    pthread_t th, th2;
    struct gh_cli_oauth_err err;
    char *code = NULL, *ru = NULL;
    int fd;

    (void)state;
    /* The trickler (about 25 s for its request) connects first; the good
     * redirect queues behind it and must still be taken once the
     * trickler's GH_CLI_LOOPBACK_READ_S run out. */
    assert_int_equal(gh_cli_loopback_listen(&fd, &ru), 0);
    t.port = atoi(strrchr(ru, ':') + 1);
    assert_int_equal(pthread_create(&th, NULL, trickle_main, &t), 0);
    usleep(200 * 1000);
    memset(&c, 0, sizeof(c));
    c.port = t.port;
    c.reqs = reqs;
    assert_int_equal(pthread_create(&th2, NULL, client_main, &c), 0);
    assert_int_equal(gh_cli_loopback_wait(fd, STATE, ISSUER, 60, &code, &err),
                     0);
    assert_false(t.finished);
    assert_string_equal(code, "ok");
    close(fd);
    pthread_join(th2, NULL);
    pthread_join(th, NULL);
    gh_cli_strfree(code);
    free(ru);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strays_then_code),
        cmocka_unit_test(test_other_issuer),
        cmocka_unit_test(test_idp_error),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_trickle_does_not_hold_it),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
