/* Unit tests for gateway/core/log.c: quoting, levels, one escaped line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/log.h"

#include "../gh_test.h"

/* The cut length gh_q documents ("cut at 200 bytes"). */
#define Q_MAX 200

static int
setup(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    gh_log_set_level(GH_LOG_INFO);
    gh_log_set_fd(2);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    gh_log_set_level(GH_LOG_INFO);
    gh_log_set_fd(2);
    return 0;
}

/* Number of '\n' bytes in s[0..len). */
static size_t
count_newlines(const char *s, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        if (s[i] == '\n')
            n++;
    return n;
}

/* True when s[0..len) holds a byte below 0x20 other than '\n', or 0x7f. */
static int
has_raw_control(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return 1;
    }
    return 0;
}

static void
test_log__q_plain(void **state)
{
    (void)state;
    assert_string_equal(gh_q("abc"), "\"abc\"");
    assert_string_equal(gh_q(""), "\"\"");
    assert_string_equal(gh_q("with space"), "\"with space\"");
}

static void
test_log__q_escapes_quote_and_backslash(void **state)
{
    (void)state;
    assert_string_equal(gh_q("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_string_equal(gh_q("\""), "\"\\\"\"");
    assert_string_equal(gh_q("\\"), "\"\\\\\"");
}

static void
test_log__q_null(void **state)
{
    (void)state;
    assert_string_equal(gh_q(NULL), "-");
}

static void
test_log__q_truncates_long_value(void **state)
{
    char in[1000], want[Q_MAX + 8];
    const char *q;

    (void)state;
    memset(in, 'a', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    q = gh_q(in);
    /* '"', a prefix of the value, "...", '"'. */
    assert_int_equal(q[0], '"');
    assert_true(strlen(q) >= 5);
    assert_string_equal(q + strlen(q) - 4, "...\"");
    assert_true(strlen(q) - 5 <= Q_MAX);
    assert_true(strlen(q) - 5 >= Q_MAX - 1);
    memset(want, 'a', strlen(q) - 5);
    want[strlen(q) - 5] = '\0';
    assert_memory_equal(q + 1, want, strlen(q) - 5);
}

static void
test_log__q_short_value_not_cut(void **state)
{
    char in[Q_MAX];
    const char *q;

    (void)state;
    memset(in, 'b', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0'; /* 199 bytes */
    q = gh_q(in);
    assert_int_equal(strlen(q), strlen(in) + 2);
    assert_null(strstr(q, "..."));
}

/* "cut at 200 bytes": a value of exactly 200 bytes is not longer than the
 * limit, so it is kept whole; 201 bytes keep the first 200. */
static void
test_log__q_cut_boundary_is_200(void **state)
{
    char in[Q_MAX + 2];
    char want[Q_MAX + 8];
    const char *q;

    (void)state;
    memset(in, 'c', Q_MAX);
    in[Q_MAX] = '\0';
    q = gh_q(in);
    snprintf(want, sizeof(want), "\"%s\"", in);
    assert_string_equal(q, want);

    in[Q_MAX] = 'c';
    in[Q_MAX + 1] = '\0';
    q = gh_q(in);
    in[Q_MAX] = '\0';
    snprintf(want, sizeof(want), "\"%s...\"", in);
    assert_string_equal(q, want);
}

/* Cutting never splits an escape pair: a value of 300 quotes gives
 * "\"\"...\"..." with every backslash followed by '"'. */
static void
test_log__q_cut_keeps_escapes_whole(void **state)
{
    char in[301];
    const char *q;
    size_t i, n;

    (void)state;
    memset(in, '"', 300);
    in[300] = '\0';
    q = gh_q(in);
    n = strlen(q);
    assert_true(n > 5);
    assert_string_equal(q + n - 4, "...\"");
    for (i = 1; i < n - 4; i += 2) {
        assert_int_equal(q[i], '\\');
        assert_int_equal(q[i + 1], '"');
    }
    assert_int_equal(i, n - 4);
}

/* Results stay valid for the next 7 calls on the thread (8 ring slots). */
static void
test_log__q_ring_of_eight(void **state)
{
    const char *r[8];
    char in[8][8], want[16];
    int i;

    (void)state;
    for (i = 0; i < 8; i++) {
        snprintf(in[i], sizeof(in[i]), "v%d", i);
        r[i] = gh_q(in[i]);
    }
    for (i = 0; i < 8; i++) {
        snprintf(want, sizeof(want), "\"v%d\"", i);
        assert_string_equal(r[i], want);
    }
}

static void
test_log__level_parse_every_level(void **state)
{
    static const struct {
        const char *name;
        enum gh_log_level level;
    } t[] = {{"error", GH_LOG_ERROR},
             {"warn", GH_LOG_WARN},
             {"info", GH_LOG_INFO},
             {"debug", GH_LOG_DEBUG},
             {"trace", GH_LOG_TRACE}};
    enum gh_log_level lv;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        lv = (enum gh_log_level)99;
        assert_int_equal(gh_log_level_parse(t[i].name, &lv), 0);
        assert_int_equal(lv, t[i].level);
        assert_string_equal(gh_log_level_name(t[i].level), t[i].name);
    }
}

static void
test_log__level_parse_bad(void **state)
{
    static const char *const bad[] = {"",      "INFO",  "warning", "inf",
                                      "info ", "fatal", "5"};
    enum gh_log_level lv;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gh_log_level_parse(bad[i], &lv), GH_E_INVAL);
}

static void
test_log__level_name_out_of_range(void **state)
{
    (void)state;
    assert_string_equal(gh_log_level_name((enum gh_log_level)5), "?");
    assert_string_equal(gh_log_level_name((enum gh_log_level)(-1)), "?");
}

/* A normal line: ts=, level=, comp=, pid=, then the message, one '\n'. */
static void
test_log__line_format(void **state)
{
    char want[128], *out;
    size_t len;
    int fd;

    (void)state;
    fd = gh_test_log_begin();
    gh_log(GH_LOG_WARN, "unit", "msg=%s n=%d", gh_q("hello"), 42);
    out = gh_test_log_end(fd, &len);
    assert_true(len > 0);
    assert_int_equal(strncmp(out, "ts=", 3), 0);
    snprintf(want, sizeof(want),
             "Z level=warn comp=unit pid=%ld msg=\"hello\" n=42\n",
             (long)getpid());
    assert_non_null(strstr(out, want));
    assert_string_equal(out + len - strlen(want), want);
    assert_int_equal(count_newlines(out, len), 1);
    free(out);
}

/* Under journald (JOURNAL_STREAM set) the timestamp is left out. */
static void
test_log__journal_stream_drops_timestamp(void **state)
{
    char *out;
    int fd;

    (void)state;
    setenv("JOURNAL_STREAM", "8:1234", 1);
    fd = gh_test_log_begin();
    gh_log(GH_LOG_ERROR, NULL, "msg=x");
    out = gh_test_log_end(fd, NULL);
    unsetenv("JOURNAL_STREAM");
    assert_int_equal(strncmp(out, "level=error comp=- pid=", 23), 0);
    assert_non_null(strstr(out, " msg=x\n"));
    free(out);
}

/* \n, \r, ESC and DEL in a value come out as \xNN: one call, one line. */
static void
test_log__control_bytes_escaped(void **state)
{
    char *out;
    size_t len;
    int fd;

    (void)state;
    fd = gh_test_log_begin();
    gh_log(GH_LOG_INFO, "unit", "msg=%s",
           "a\nlevel=error forged\rb\x1b[31mc\x7f\x01\x1f"
           "d");
    out = gh_test_log_end(fd, &len);
    assert_int_equal(count_newlines(out, len), 1);
    assert_int_equal(out[len - 1], '\n');
    assert_false(has_raw_control(out, len));
    assert_non_null(strstr(out, "msg=a\\x0alevel=error forged\\x0db\\x1b[31mc"
                                "\\x7f\\x01\\x1fd\n"));
    free(out);
}

/* Bytes >= 0x80 (UTF-8) are not control bytes and pass unchanged. */
static void
test_log__utf8_passes_through(void **state)
{
    char *out;
    int fd;

    (void)state;
    fd = gh_test_log_begin();
    gh_log(GH_LOG_INFO, "unit", "msg=%s", "Zo\xc3\xab \xe6\x97\xa5");
    out = gh_test_log_end(fd, NULL);
    assert_non_null(strstr(out, "msg=Zo\xc3\xab \xe6\x97\xa5\n"));
    free(out);
}

static void
test_log__level_filtering(void **state)
{
    char *out;
    size_t len;
    int fd;

    (void)state;
    gh_log_set_level(GH_LOG_INFO);
    assert_int_equal(gh_log_get_level(), GH_LOG_INFO);
    assert_true(gh_log_enabled(GH_LOG_ERROR));
    assert_true(gh_log_enabled(GH_LOG_INFO));
    assert_false(gh_log_enabled(GH_LOG_DEBUG));
    assert_false(gh_log_enabled(GH_LOG_TRACE));

    fd = gh_test_log_begin();
    gh_debug("unit", "msg=hidden-debug");
    gh_log(GH_LOG_TRACE, "unit", "msg=hidden-trace");
    gh_info("unit", "msg=shown-info");
    gh_warn("unit", "msg=shown-warn");
    gh_error("unit", "msg=shown-error");
    out = gh_test_log_end(fd, &len);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "level=info comp=unit"));
    assert_non_null(strstr(out, "msg=shown-warn"));
    assert_non_null(strstr(out, "msg=shown-error"));
    assert_int_equal(count_newlines(out, len), 3);
    free(out);

    gh_log_set_level(GH_LOG_DEBUG);
    fd = gh_test_log_begin();
    gh_debug("unit", "msg=now-shown");
    gh_log(GH_LOG_TRACE, "unit", "msg=still-hidden");
    out = gh_test_log_end(fd, &len);
    assert_non_null(strstr(out, "level=debug comp=unit"));
    assert_null(strstr(out, "still-hidden"));
    assert_int_equal(count_newlines(out, len), 1);
    free(out);

    gh_log_set_level(GH_LOG_ERROR);
    fd = gh_test_log_begin();
    gh_warn("unit", "msg=hidden-warn");
    out = gh_test_log_end(fd, &len);
    assert_int_equal(len, 0);
    free(out);
}

/* A message far over GH_LOG_LINE_MAX is cut: still one line, marked. */
static void
test_log__long_message_cut_one_line(void **state)
{
    size_t big = 3 * GH_LOG_LINE_MAX, len;
    char *msg = malloc(big + 1), *out;
    int fd;

    (void)state;
    assert_non_null(msg);
    memset(msg, 'x', big);
    msg[big] = '\0';
    fd = gh_test_log_begin();
    gh_log(GH_LOG_INFO, "unit", "msg=%s", msg);
    out = gh_test_log_end(fd, &len);
    assert_int_equal(count_newlines(out, len), 1);
    assert_true(len >= 4);
    assert_string_equal(out + len - 4, "...\n");
    assert_true(len < big);
    free(out);
    free(msg);
}

/* log.h: "Lines longer than this [GH_LOG_LINE_MAX] are cut": the whole
 * line, newline excluded, is at most GH_LOG_LINE_MAX bytes. */
static void
test_log__long_line_within_line_max(void **state)
{
    size_t big = 3 * GH_LOG_LINE_MAX, len;
    char *msg = malloc(big + 1), *out, last;
    int fd;

    (void)state;
    assert_non_null(msg);
    memset(msg, 'y', big);
    msg[big] = '\0';
    fd = gh_test_log_begin();
    gh_log(GH_LOG_INFO, "unit", "msg=%s", msg);
    out = gh_test_log_end(fd, &len);
    last = out[len - 1];
    free(out);
    free(msg);
    assert_int_equal(last, '\n');
    if (len - 1 > GH_LOG_LINE_MAX)
        fail_msg("line is %zu bytes (newline excluded), limit %d", len - 1,
                 GH_LOG_LINE_MAX);
}

/* A message that is short but grows past the limit when its control bytes
 * are escaped (1 byte -> 4) is also cut, marked with "...", one line, and
 * never ends inside a \xNN escape. */
static void
test_log__escaped_growth_cut_marked(void **state)
{
    size_t n = GH_LOG_LINE_MAX / 2, len, i;
    char *msg = malloc(n + 1), *out, *p, tail[8];
    int fd, lines, raw;

    (void)state;
    assert_non_null(msg);
    memset(msg, '\x01', n);
    msg[n] = '\0';
    fd = gh_test_log_begin();
    gh_log(GH_LOG_INFO, "unit", "%s", msg);
    free(msg);
    out = gh_test_log_end(fd, &len);
    lines = (int)count_newlines(out, len);
    raw = has_raw_control(out, len);
    /* Only whole escapes after "pid=N ", then the tail. */
    p = strstr(out, "pid=");
    p = p != NULL ? strchr(p, ' ') : NULL;
    i = 0;
    if (p != NULL) {
        p++;
        while (p[i] == '\\' && strncmp(p + i, "\\x01", 4) == 0)
            i += 4;
        snprintf(tail, sizeof(tail), "%s", p + i);
    }
    free(out);
    assert_non_null(p);
    assert_int_equal(lines, 1);
    assert_false(raw);
    /* Less than the whole message fits, so the cut must be marked. */
    assert_true(i / 4 < n);
    assert_string_equal(tail, "...\n");
    assert_true(len - 1 <= GH_LOG_LINE_MAX);
}

static void
test_log__preserves_errno(void **state)
{
    char *out;
    int fd;

    (void)state;
    fd = gh_test_log_begin();
    errno = ERANGE;
    gh_info("unit", "msg=%s", "errno-test");
    assert_int_equal(errno, ERANGE);
    /* Filtered out: still untouched. */
    errno = EILSEQ;
    gh_debug("unit", "msg=filtered");
    assert_int_equal(errno, EILSEQ);
    out = gh_test_log_end(fd, NULL);
    assert_non_null(strstr(out, "errno-test"));
    free(out);

    /* A failing write() (bad fd) sets errno inside; callers must not see
     * it. */
    gh_log_set_fd(-1);
    errno = ENOSPC;
    gh_error("unit", "msg=nowhere");
    assert_int_equal(errno, ENOSPC);
    gh_log_set_fd(2);
}

/* One call is one write(): lines from a pipe read arrive whole. */
static void
test_log__pipe_one_line_per_call(void **state)
{
    int p[2], i;
    char buf[8192];
    ssize_t n;
    size_t got = 0;

    (void)state;
    assert_int_equal(pipe(p), 0);
    gh_log_set_fd(p[1]);
    for (i = 0; i < 3; i++)
        gh_info("unit", "msg=line%d tail=%s", i, "z\nz");
    gh_log_set_fd(2);
    close(p[1]);
    while ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    close(p[0]);
    buf[got] = '\0';
    assert_int_equal(count_newlines(buf, got), 3);
    assert_non_null(strstr(buf, "msg=line0 tail=z\\x0az\n"));
    assert_non_null(strstr(buf, "msg=line2 tail=z\\x0az\n"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log__q_plain),
        cmocka_unit_test(test_log__q_escapes_quote_and_backslash),
        cmocka_unit_test(test_log__q_null),
        cmocka_unit_test(test_log__q_truncates_long_value),
        cmocka_unit_test(test_log__q_short_value_not_cut),
        cmocka_unit_test(test_log__q_cut_boundary_is_200),
        cmocka_unit_test(test_log__q_cut_keeps_escapes_whole),
        cmocka_unit_test(test_log__q_ring_of_eight),
        cmocka_unit_test(test_log__level_parse_every_level),
        cmocka_unit_test(test_log__level_parse_bad),
        cmocka_unit_test(test_log__level_name_out_of_range),
        cmocka_unit_test_setup_teardown(test_log__line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_log__journal_stream_drops_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log__control_bytes_escaped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log__utf8_passes_through, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log__level_filtering, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log__long_message_cut_one_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_log__long_line_within_line_max,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_log__escaped_growth_cut_marked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_log__preserves_errno, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log__pipe_one_line_per_call, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
