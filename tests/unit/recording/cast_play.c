/* Unit tests for recording/cast-play.c: output, timing, idle cap, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/recording.h"

#include "../gh_test.h"

#include <math.h>
#include <time.h>

#define HDR "{\"version\":2,\"width\":80,\"height\":24}\n"

/* Seconds on CLOCK_MONOTONIC. */
static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Play file into a temporary file; returns what was written (caller
 * frees) and the code in *rc, the time taken in *secs. */
static char *
play(const char *file, double speed, double cap,
     const volatile sig_atomic_t *stop, int *rc, double *secs)
{
    struct gh_cast_reader *r = gh_cast_reader_new_mem(file, strlen(file));
    char tmpl[] = "/tmp/gh-play-XXXXXX";
    int fd = mkstemp(tmpl);
    double t0;
    char *out;

    assert_true(fd >= 0);
    unlink(tmpl);
    t0 = now_s();
    *rc = gh_cast_play(r, fd, speed, cap, stop);
    *secs = now_s() - t0;
    gh_cast_reader_free(r);
    {
        off_t n = lseek(fd, 0, SEEK_END);

        out = calloc(1, (size_t)n + 1);
        assert_non_null(out);
        assert_int_equal(pread(fd, out, (size_t)n, 0), n);
    }
    close(fd);
    return out;
}

/* Only output events are played, in order, NULs included. */
static void
test_recording__play_output_only(void **state)
{
    static const char f[] = HDR "[0, \"o\", \"a\"]\n[0, \"i\", \"SECRET\"]\n"
                                "[0, \"r\", \"90x30\"]\n[0, \"m\", \"mark\"]\n"
                                "[0.01, \"o\", \"b\\r\\n\"]\n";
    double secs;
    int rc;
    char *out = play(f, 1, -1, NULL, &rc, &secs);

    (void)state;
    assert_int_equal(rc, 0);
    assert_string_equal(out, "ab\r\n");
    free(out);
}

/* Pauses: real time at speed 1, halved at speed 2, cut by the idle cap
 * (given, or the file's idle_time_limit with cap 0). */
static void
test_recording__play_timing(void **state)
{
    static const char f[] = HDR "[0.2, \"o\", \"a\"]\n[0.4, \"o\", \"b\"]\n";
    static const char idle[] = HDR "[0, \"o\", \"a\"]\n[30, \"o\", \"b\"]\n";
    static const char limit[] =
        "{\"version\":2,\"width\":80,\"height\":24,\"idle_time_limit\":0.1}\n"
        "[0, \"o\", \"a\"]\n[30, \"o\", \"b\"]\n";
    double secs;
    int rc;
    char *out;

    (void)state;
    out = play(f, 1, -1, NULL, &rc, &secs);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "ab");
    assert_true(secs >= 0.39 && secs < 1.5);
    free(out);
    out = play(f, 2, -1, NULL, &rc, &secs);
    assert_true(secs >= 0.19 && secs < 1.0);
    free(out);
    out = play(idle, 1, 0.1, NULL, &rc, &secs);
    assert_string_equal(out, "ab");
    assert_true(secs >= 0.09 && secs < 1.0);
    free(out);
    out = play(limit, 1, 0, NULL, &rc, &secs);
    assert_true(secs >= 0.09 && secs < 1.0);
    free(out);
    out = play(idle, 1000, -1, NULL, &rc, &secs);
    assert_true(secs >= 0.029 && secs < 1.0);
    free(out);
    /* Bad speeds. */
    out = play(f, 0, -1, NULL, &rc, &secs);
    assert_int_equal(rc, GH_E_INVAL);
    free(out);
    out = play(f, NAN, -1, NULL, &rc, &secs);
    assert_int_equal(rc, GH_E_INVAL);
    free(out);
    out = play(f, INFINITY, -1, NULL, &rc, &secs);
    assert_int_equal(rc, GH_E_INVAL);
    free(out);
}

/* A bad line stops playing after what came before; a truncated last
 * line ends it quietly; a set stop flag ends it at once. */
static void
test_recording__play_errors_and_stop(void **state)
{
    static const char bad[] =
        HDR "[0, \"o\", \"a\"]\nnope\n[0, \"o\", \"b\"]\n";
    static const char cut[] = HDR "[0, \"o\", \"a\"]\n[0, \"o\", \"b";
    static const char slow[] = HDR "[0, \"o\", \"a\"]\n[60, \"o\", \"b\"]\n";
    volatile sig_atomic_t stop = 1;
    double secs;
    int rc;
    char *out;

    (void)state;
    out = play(bad, 1, -1, NULL, &rc, &secs);
    assert_int_equal(rc, GH_E_INVAL);
    assert_string_equal(out, "a");
    free(out);
    out = play(cut, 1, -1, NULL, &rc, &secs);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "a");
    free(out);
    out = play(slow, 1, -1, &stop, &rc, &secs);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "");
    assert_true(secs < 1.0);
    free(out);
    out = play("garbage", 1, -1, NULL, &rc, &secs);
    assert_int_equal(rc, GH_E_INVAL);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recording__play_output_only),
        cmocka_unit_test(test_recording__play_timing),
        cmocka_unit_test(test_recording__play_errors_and_stop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
