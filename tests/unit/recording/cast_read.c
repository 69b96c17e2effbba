/* Unit tests for recording/cast-read.c: the reader (hostile files) and
 * the crash-recovery scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/recording.h"

#include "../gh_test.h"
#include "cast_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define HDR "{\"version\":2,\"width\":80,\"height\":24}\n"

struct fx {
    char *dir;
    int dfd;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->dir = gh_test_mkdtemp("castr");
    fx->dfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fx->dfd >= 0);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    close(fx->dfd);
    gh_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Read all of a memory file: events counted, the final code returned,
 * *line the line an error names. */
static int
read_all(const char *buf, size_t len, int *events, unsigned long *line)
{
    struct gh_cast_reader *r = gh_cast_reader_new_mem(buf, len);
    struct gh_cast_event ev;
    int rc;

    *events = 0;
    while ((rc = gh_cast_reader_next(r, &ev)) == 1)
        (*events)++;
    (void)gh_cast_reader_why(r, line);
    /* Errors are sticky. */
    if (rc < 0)
        assert_int_equal(gh_cast_reader_next(r, &ev), rc);
    gh_cast_reader_free(r);
    return rc;
}

static void
test_recording__reader_valid(void **state)
{
    static const char f[] =
        "{\"version\":2,\"width\":120,\"height\":40,\"timestamp\":17,"
        "\"idle_time_limit\":2.5,\"title\":\"t\","
        "\"gatehouse\":{\"input\":true},\"x\":[1]}\r\n"
        "[0.5, \"o\", \"a\\u0000b\"]\n"
        "\n"
        "[1, \"x\", {\"unknown\": \"skipped\"}]\n"
        "   \n"
        "[1.25,\"r\",\"100x30\"]\r\n"
        "[2, \"i\", \"k\"]\n"
        "[3, \"m\", \"\"]";
    struct gh_cast_reader *r = gh_cast_reader_new_mem(f, sizeof(f) - 1);
    struct gh_cast_header h;
    struct gh_cast_event ev;

    (void)state;
    assert_int_equal(gh_cast_reader_header(r, &h), 0);
    assert_int_equal(h.width, 120);
    assert_int_equal(h.height, 40);
    assert_int_equal(h.timestamp, 17);
    assert_true(h.idle_time_limit == 2.5);
    assert_string_equal(h.title, "t");
    assert_true(h.input_recorded);
    assert_int_equal(gh_cast_reader_next(r, &ev), 1);
    assert_int_equal(ev.type, GH_CAST_EV_OUTPUT);
    assert_int_equal(ev.ms, 500);
    assert_int_equal(ev.len, 3);
    assert_memory_equal(ev.data, "a\0b", 3);
    assert_int_equal(gh_cast_reader_next(r, &ev), 1);
    assert_int_equal(ev.type, GH_CAST_EV_RESIZE);
    assert_int_equal(ev.cols, 100);
    assert_int_equal(ev.rows, 30);
    assert_int_equal(ev.ms, 1250);
    assert_int_equal(gh_cast_reader_next(r, &ev), 1);
    assert_int_equal(ev.type, GH_CAST_EV_INPUT);
    assert_int_equal(gh_cast_reader_next(r, &ev), 1);
    assert_int_equal(ev.type, GH_CAST_EV_MARKER);
    assert_int_equal(ev.len, 0);
    /* The last line has no newline but is whole: not truncated. */
    assert_int_equal(gh_cast_reader_next(r, &ev), 0);
    assert_false(gh_cast_reader_truncated(r));
    assert_int_equal(gh_cast_reader_lines(r), 8);
    assert_int_equal(gh_cast_reader_next(r, &ev), 0);
    gh_cast_reader_free(r);
}

/* Hostile files: each refused with the right code and line. */
static void
test_recording__reader_hostile(void **state)
{
    static const struct {
        const char *file;
        int rc;
        unsigned long line;
        int events;
    } cases[] = {
        {"", GH_E_INVAL, 1, 0},
        {"not json\n", GH_E_INVAL, 1, 0},
        {"[2,80,24]\n", GH_E_INVAL, 1, 0},
        {"{\"version\":1,\"width\":80,\"height\":24}\n", GH_E_INVAL, 1, 0},
        {"{\"version\":2.0,\"width\":80,\"height\":24}\n", GH_E_INVAL, 1, 0},
        {"{\"version\":2,\"width\":0,\"height\":24}\n", GH_E_INVAL, 1, 0},
        {"{\"version\":2,\"width\":\"80\",\"height\":24}\n", GH_E_INVAL, 1, 0},
        {"{\"version\":2,\"width\":80,\"height\":100000}\n", GH_E_INVAL, 1, 0},
        {"{\"version\":2,\"width\":80,\"height\":24,\"width\":81}\n",
         GH_E_INVAL, 1, 0},
        {"{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":-1}\n",
         GH_E_INVAL, 1, 0},
        {"{\"version\":2,\"width\":80", GH_E_INVAL, 1, 0},
        {HDR "{\"a\":1}\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"o\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"o\", \"a\", 4]\n", GH_E_INVAL, 2, 0},
        {HDR "[-1, \"o\", \"a\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[\"1\", \"o\", \"a\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1e300, \"o\", \"a\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, 111, \"a\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"o\", 5]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"o\", null]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"r\", \"80x\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"r\", \"0x24\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"r\", \"80x24x\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"r\", \"+80x24\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"r\", \"80x 24\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"r\", \"000000080x24\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"o\", \"\xff\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"o\", \"\\ud800\"]\n", GH_E_INVAL, 2, 0},
        {HDR "[1, \"o\", \"a\"]\n[2, \"o\", \"b\"\n[3, \"o\", \"c\"]\n",
         GH_E_INVAL, 3, 1},
        {HDR "[1, \"o\", \"a\"] x\n", GH_E_INVAL, 2, 0},
        /* A type that is a NUL is no type we know: skipped. */
        {HDR "[1, \"\\u0000\", \"a\"]\n[1, \"oo\", 1]\n", 0, 0, 0},
        {HDR "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
             "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
             "]]]]]]]]]]]]]]]]]]]]]]]]]\n",
         GH_E_INVAL, 2, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long line = 0;
        int events = 0;
        int rc = read_all(cases[i].file, strlen(cases[i].file), &events, &line);

        if (rc != cases[i].rc || line != cases[i].line ||
            events != cases[i].events)
            fail_msg("case %zu: rc %d line %lu events %d", i, rc, line, events);
    }
}

/* A line over GH_CAST_LINE_MAX is refused before it is parsed, from
 * memory and from a file; one just under passes. */
static void
test_recording__reader_line_limit(void **state)
{
    struct fx *fx = *state;
    size_t hl = strlen(HDR), n = hl + GH_CAST_LINE_MAX + 2, i;
    char *f = malloc(n + 1), *path = gh_test_path(fx->dir, "long.cast");
    unsigned long line = 0;
    int events, fd, rc;
    struct gh_cast_reader *r;
    struct gh_cast_event ev;

    assert_non_null(f);
    memcpy(f, HDR, hl);
    memset(f + hl, 'a', n - hl);
    f[n - 1] = '\n';
    assert_int_equal(read_all(f, n, &events, &line), GH_E_TOOBIG);
    assert_int_equal(line, 2);
    /* The same from a file. */
    gh_test_write(path, f, n);
    fd = open(path, O_RDONLY);
    r = gh_cast_reader_new_fd(fd);
    assert_int_equal(gh_cast_reader_next(r, &ev), GH_E_TOOBIG);
    gh_cast_reader_free(r);
    close(fd);
    /* Exactly GH_CAST_LINE_MAX bytes: a (long) valid event. */
    memcpy(f + hl, "[1, \"o\", \"", 10);
    for (i = hl + 10; i < hl + GH_CAST_LINE_MAX - 2; i++)
        f[i] = 'b';
    memcpy(f + hl + GH_CAST_LINE_MAX - 2, "\"]\n", 3);
    n = hl + GH_CAST_LINE_MAX + 1;
    gh_test_write(path, f, n);
    fd = open(path, O_RDONLY);
    r = gh_cast_reader_new_fd(fd);
    rc = gh_cast_reader_next(r, &ev);
    assert_int_equal(rc, 1);
    assert_int_equal(ev.len, GH_CAST_LINE_MAX - 12);
    assert_int_equal(gh_cast_reader_next(r, &ev), 0);
    gh_cast_reader_free(r);
    close(fd);
    free(path);
    free(f);
}

/* The end of a crashed file: a last line cut short is tolerated and
 * reported; a bad line in the middle is an error with its number. */
static void
test_recording__reader_truncated(void **state)
{
    static const char f[] = HDR "[1, \"o\", \"a\"]\n[2, \"o\", \"b\"]\n"
                                "[2.5, \"o\", \"cd\\u00";
    struct gh_cast_reader *r = gh_cast_reader_new_mem(f, sizeof(f) - 1);
    struct gh_cast_event ev;
    unsigned long line = 9;

    (void)state;
    assert_int_equal(gh_cast_reader_next(r, &ev), 1);
    assert_int_equal(gh_cast_reader_next(r, &ev), 1);
    assert_memory_equal(ev.data, "b", 1);
    assert_int_equal(gh_cast_reader_next(r, &ev), 0);
    assert_true(gh_cast_reader_truncated(r));
    assert_string_equal(gh_cast_reader_why(r, &line), "no error");
    assert_int_equal(line, 0);
    gh_cast_reader_free(r);
}

/* Reading through a fd (in 64 KiB reads) gives what memory gives,
 * including lines longer than one read. */
static void
test_recording__reader_fd_equals_mem(void **state)
{
    struct fx *fx = *state;
    struct gh_cast_meta m = ct_meta();
    struct gh_cast *rec = NULL;
    struct gh_cast_reader *a, *b;
    struct gh_cast_event ea, eb;
    char *path = gh_test_path(fx->dir, "fm.cast"), *buf, *big;
    size_t len, i;
    int fd, ra, rb, n = 0;

    assert_int_equal(gh_cast_open(fx->dfd, "fm.cast", &m, &rec), 0);
    big = malloc(200 * 1024);
    assert_non_null(big);
    for (i = 0; i < 200 * 1024; i++)
        big[i] = (char)(i % 251); /* every byte, bad UTF-8 included */
    for (i = 0; i < 50; i++) {
        assert_int_equal(gh_cast_output(rec, i * 10, big, 1000 + i * 3000), 0);
        assert_int_equal(gh_cast_resize(rec, i * 10 + 5, 80 + i, 24), 0);
    }
    assert_int_equal(gh_cast_close(rec, NULL, NULL), 0);
    buf = gh_test_slurp(path, &len);
    fd = open(path, O_RDONLY);
    a = gh_cast_reader_new_mem(buf, len);
    b = gh_cast_reader_new_fd(fd);
    do {
        ra = gh_cast_reader_next(a, &ea);
        rb = gh_cast_reader_next(b, &eb);
        assert_int_equal(ra, rb);
        if (ra == 1) {
            n++;
            assert_int_equal(ea.type, eb.type);
            assert_int_equal(ea.ms, eb.ms);
            assert_int_equal(ea.len, eb.len);
            assert_memory_equal(ea.data, eb.data, ea.len);
        }
    } while (ra == 1);
    assert_int_equal(ra, 0);
    assert_true(n >= 100);
    gh_cast_reader_free(a);
    gh_cast_reader_free(b);
    close(fd);
    free(big);
    free(buf);
    free(path);
}

/* A recording that the gateway never closed: a child writes, flushes,
 * writes more without flushing and dies (_exit: only flushed lines reach
 * the file); then the file is cut in the middle of its last line. The
 * scan gives its size and hash as it is, and how far it parses. */
static void
test_recording__scan_crashed(void **state)
{
    struct fx *fx = *state;
    char *path = gh_test_path(fx->dir, "crash.cast"), *buf, want[65];
    struct gh_cast_scan sc;
    size_t len, cut;
    pid_t pid;
    int status;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct gh_cast_meta m = ct_meta();
        struct gh_cast *rec = NULL;

        if (gh_cast_open(fx->dfd, "crash.cast", &m, &rec) != 0 ||
            gh_cast_output(rec, 100, "one\r\n", 5) != 0 ||
            gh_cast_output(rec, 1100, "two\r\n", 5) != 0 ||
            gh_cast_output(rec, 2345, "three\r\n", 7) != 0 ||
            gh_cast_flush(rec) != 0 ||
            gh_cast_output(rec, 3000, "lost", 4) != 0)
            _exit(1);
        _exit(0); /* the crash: no close */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Whole lines only, and not the unflushed event. */
    buf = gh_test_slurp(path, &len);
    ct_check_lines(buf, len);
    assert_null(strstr(buf, "lost"));
    assert_int_equal(gh_cast_scan(fx->dfd, "crash.cast", &sc), 0);
    assert_int_equal(sc.size, len);
    assert_int_equal(sc.whole_size, len);
    assert_false(sc.truncated);
    assert_int_equal(sc.events, 3);
    assert_int_equal(sc.last_ms, 2345);
    assert_int_equal(sc.bad_line, 0);
    ct_sha256(buf, len, want);
    assert_string_equal(sc.sha256, want);
    /* Cut inside the last line. */
    cut = len - 6;
    assert_int_equal(truncate(path, (off_t)cut), 0);
    assert_int_equal(gh_cast_scan(fx->dfd, "crash.cast", &sc), 0);
    assert_int_equal(sc.size, cut);
    assert_true(sc.truncated);
    assert_true(sc.whole_size < cut);
    assert_int_equal(buf[sc.whole_size - 1], '\n');
    assert_int_equal(sc.events, 2);
    assert_int_equal(sc.last_ms, 1100);
    assert_int_equal(sc.bad_line, 0);
    ct_sha256(buf, cut, want);
    assert_string_equal(sc.sha256, want);
    /* The scan changed nothing. */
    free(buf);
    buf = gh_test_slurp(path, &len);
    assert_int_equal(len, cut);
    free(buf);
    free(path);
}

/* Scan refuses what is not a regular file and does not follow links;
 * a broken line in the middle is reported, size and hash still given. */
static void
test_recording__scan_refusals(void **state)
{
    struct fx *fx = *state;
    char *path = gh_test_path(fx->dir, "bad.cast");
    struct gh_cast_scan sc;
    static const char f[] =
        HDR "[1, \"o\", \"a\"]\ngarbage\n[2, \"o\", \"b\"]\n";

    gh_test_write(path, f, sizeof(f) - 1);
    assert_int_equal(gh_cast_scan(fx->dfd, "bad.cast", &sc), 0);
    assert_int_equal(sc.size, sizeof(f) - 1);
    assert_int_equal(sc.events, 1);
    assert_int_equal(sc.bad_line, 3);
    assert_int_equal(symlinkat("bad.cast", fx->dfd, "link.cast"), 0);
    assert_int_equal(gh_cast_scan(fx->dfd, "link.cast", &sc), GH_E_IO);
    assert_int_equal(errno, ELOOP);
    assert_int_equal(mkfifoat(fx->dfd, "fifo.cast", 0600), 0);
    assert_int_equal(gh_cast_scan(fx->dfd, "fifo.cast", &sc), GH_E_INVAL);
    assert_int_equal(gh_cast_scan(fx->dfd, "none.cast", &sc), GH_E_IO);
    assert_int_equal(errno, ENOENT);
    gh_test_write(path, "", 0);
    assert_int_equal(gh_cast_scan(fx->dfd, "bad.cast", &sc), 0);
    assert_int_equal(sc.size, 0);
    assert_int_equal(sc.bad_line, 1);
    assert_string_equal(
        sc.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recording__reader_valid),
        cmocka_unit_test(test_recording__reader_hostile),
        cmocka_unit_test_setup_teardown(test_recording__reader_line_limit,
                                        setup, teardown),
        cmocka_unit_test(test_recording__reader_truncated),
        cmocka_unit_test_setup_teardown(test_recording__reader_fd_equals_mem,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording__scan_crashed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__scan_refusals, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
