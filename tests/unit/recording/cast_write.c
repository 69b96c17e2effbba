/* Unit tests for recording/cast-write.c: the asciicast v2 writer. */
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
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct fx {
    char *dir;
    int dfd;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->dir = gh_test_mkdtemp("cast");
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

/* Open name in the fixture's directory with the usual meta. */
static struct gh_cast *
open_cast(struct fx *fx, const char *name)
{
    struct gh_cast_meta m = ct_meta();
    struct gh_cast *rec = NULL;

    assert_int_equal(gh_cast_open(fx->dfd, name, &m, &rec), 0);
    assert_non_null(rec);
    return rec;
}

/* Close rec, then read and check name's lines and parse it. */
static char *
close_and_parse(struct fx *fx, struct gh_cast *rec, const char *name,
                struct ct_cast *c, size_t *len)
{
    char *path = gh_test_path(fx->dir, name), *buf;
    uint64_t size = 0;
    char sha[65];

    assert_int_equal(gh_cast_close(rec, &size, sha), 0);
    buf = gh_test_slurp(path, len);
    assert_int_equal(size, *len);
    ct_check_lines(buf, *len);
    ct_parse(buf, *len, c);
    free(path);
    return buf;
}

/* Output decoded from name after feeding chunks to one recording. */
static char *
output_of(struct fx *fx, const char *name, const char *const *chunks,
          const size_t *lens, size_t n, size_t *outlen)
{
    struct gh_cast *rec = open_cast(fx, name);
    struct ct_cast c;
    size_t i, len;
    char *buf, *out;

    for (i = 0; i < n; i++)
        assert_int_equal(gh_cast_output(rec, 100 * i, chunks[i], lens[i]), 0);
    buf = close_and_parse(fx, rec, name, &c, &len);
    out = ct_data(&c, "o", outlen);
    ct_free(&c);
    free(buf);
    return out;
}

static void
test_recording__header_and_events(void **state)
{
    struct fx *fx = *state;
    struct gh_cast *rec = open_cast(fx, "s7.cast");
    struct ct_cast c;
    json_t *h, *g, *ev;
    size_t len;
    char *buf, *path;

    assert_int_equal(gh_cast_output(rec, 250, "$ ls\r\n", 6), 0);
    assert_int_equal(gh_cast_resize(rec, 1000, 100, 30), 0);
    assert_int_equal(gh_cast_input(rec, 1100, "q", 1), 0);
    assert_int_equal(gh_cast_marker(rec, 1200, "grant revoked"), 0);
    assert_int_equal(gh_cast_output(rec, 61001, "bye", 3), 0);
    buf = close_and_parse(fx, rec, "s7.cast", &c, &len);
    h = c.header;
    assert_int_equal(json_integer_value(json_object_get(h, "version")), 2);
    assert_int_equal(json_integer_value(json_object_get(h, "width")), 80);
    assert_int_equal(json_integer_value(json_object_get(h, "height")), 24);
    assert_int_equal(json_integer_value(json_object_get(h, "timestamp")),
                     1700000000);
    assert_string_equal(json_string_value(json_object_get(h, "title")),
                        "alice@web1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(h, "env"), "TERM")),
        "xterm-256color");
    g = json_object_get(h, "gatehouse");
    assert_int_equal(json_integer_value(json_object_get(g, "session")), 7);
    assert_int_equal(json_integer_value(json_object_get(g, "grant")), 3);
    assert_string_equal(json_string_value(json_object_get(g, "user")), "alice");
    assert_string_equal(json_string_value(json_object_get(g, "target")),
                        "web1");
    assert_true(json_is_false(json_object_get(g, "input")));
    assert_int_equal(json_array_size(c.events), 5);
    ev = json_array_get(c.events, 0);
    assert_true(json_number_value(json_array_get(ev, 0)) == 0.25);
    assert_string_equal(json_string_value(json_array_get(ev, 1)), "o");
    assert_string_equal(json_string_value(json_array_get(ev, 2)), "$ ls\r\n");
    ev = json_array_get(c.events, 1);
    assert_string_equal(json_string_value(json_array_get(ev, 1)), "r");
    assert_string_equal(json_string_value(json_array_get(ev, 2)), "100x30");
    ev = json_array_get(c.events, 2);
    assert_string_equal(json_string_value(json_array_get(ev, 1)), "i");
    ev = json_array_get(c.events, 3);
    assert_string_equal(json_string_value(json_array_get(ev, 1)), "m");
    assert_string_equal(json_string_value(json_array_get(ev, 2)),
                        "grant revoked");
    ev = json_array_get(c.events, 4);
    assert_true(json_number_value(json_array_get(ev, 0)) == 61.001);
    /* The exact text of one line, as asciinema writes them. */
    assert_non_null(strstr(buf, "\n[0.250, \"o\", \"$ ls\\r\\n\"]\n"));
    path = gh_test_path(fx->dir, "s7.cast");
    assert_int_equal(gh_test_mode(path), 0600);
    free(path);
    ct_free(&c);
    free(buf);
}

static void
test_recording__names_and_meta(void **state)
{
    static const char *const bad[] = {"",    ".hidden", "a/b", "../x", "a b",
                                      "x\n", "é.cast",  ".",   ".."};
    struct fx *fx = *state;
    struct gh_cast_meta m = ct_meta();
    struct gh_cast *rec = NULL;
    char longname[GH_CAST_NAME_MAX + 2], *path;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(gh_cast_name_ok(bad[i]));
        assert_int_equal(gh_cast_open(fx->dfd, bad[i], &m, &rec), GH_E_INVAL);
        assert_null(rec);
    }
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(gh_cast_name_ok(longname));
    longname[GH_CAST_NAME_MAX] = '\0';
    assert_true(gh_cast_name_ok(longname));
    assert_true(gh_cast_name_ok("s-12_2026.cast"));
    /* Bad meta. */
    m.cols = 0;
    assert_int_equal(gh_cast_open(fx->dfd, "m.cast", &m, &rec), GH_E_INVAL);
    m = ct_meta();
    m.rows = GH_CAST_DIM_MAX + 1;
    assert_int_equal(gh_cast_open(fx->dfd, "m.cast", &m, &rec), GH_E_INVAL);
    m = ct_meta();
    m.user = "";
    assert_int_equal(gh_cast_open(fx->dfd, "m.cast", &m, &rec), GH_E_INVAL);
    m = ct_meta();
    m.target = NULL;
    assert_int_equal(gh_cast_open(fx->dfd, "m.cast", &m, &rec), GH_E_INVAL);
    m = ct_meta();
    m.start_unix = -1;
    assert_int_equal(gh_cast_open(fx->dfd, "m.cast", &m, &rec), GH_E_INVAL);
    assert_int_equal(gh_test_count_entries(fx->dir), 0);
    /* Exclusive: an existing file or a symlink is never opened. */
    path = gh_test_path(fx->dir, "exists.cast");
    gh_test_write_str(path, "x");
    free(path);
    m = ct_meta();
    assert_int_equal(gh_cast_open(fx->dfd, "exists.cast", &m, &rec),
                     GH_E_EXISTS);
    assert_int_equal(symlinkat("/etc/passwd", fx->dfd, "link.cast"), 0);
    assert_int_equal(gh_cast_open(fx->dfd, "link.cast", &m, &rec), GH_E_EXISTS);
    assert_null(rec);
    /* NULL closes as nothing. */
    assert_int_equal(gh_cast_close(NULL, NULL, NULL), 0);
}

/* Meta strings are escaped and bad UTF-8 in them replaced. */
static void
test_recording__header_escaping(void **state)
{
    struct fx *fx = *state;
    struct gh_cast_meta m = ct_meta();
    struct gh_cast *rec = NULL;
    struct ct_cast c;
    size_t len;
    char *buf;

    m.user = "eve\"\n\xff@x";
    m.target = "t\\1";
    m.term = "screen";
    m.input_recorded = 1;
    assert_int_equal(gh_cast_open(fx->dfd, "h.cast", &m, &rec), 0);
    buf = close_and_parse(fx, rec, "h.cast", &c, &len);
    assert_int_equal(c.lines, 1);
    assert_string_equal(json_string_value(json_object_get(c.header, "title")),
                        "eve\"\n\xef\xbf\xbd@x@t\\1");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(c.header, "env"), "TERM")),
                        "screen");
    assert_true(json_is_true(
        json_object_get(json_object_get(c.header, "gatehouse"), "input")));
    ct_free(&c);
    free(buf);
}

/* A 4-byte emoji split 1+3, 2+2, 3+1 (and 1+1+1+1) comes back whole. */
static void
test_recording__utf8_split(void **state)
{
    static const char emoji[] = "\xf0\x9f\x98\x80";
    struct fx *fx = *state;
    size_t cut, outlen;
    char name[32];

    for (cut = 1; cut <= 3; cut++) {
        const char *chunks[] = {"a", emoji, emoji + cut, "b"};
        size_t lens[] = {1, cut, 4 - cut, 1};
        char *out;

        snprintf(name, sizeof(name), "split%zu.cast", cut);
        out = output_of(fx, name, chunks, lens, 4, &outlen);
        assert_int_equal(outlen, 6);
        assert_memory_equal(out,
                            "a\xf0\x9f\x98\x80"
                            "b",
                            6);
        free(out);
    }
    {
        const char *chunks[] = {emoji,     emoji + 1,  emoji + 2,
                                emoji + 3, "\xe2\x82", "\xac"};
        size_t lens[] = {1, 1, 1, 1, 2, 1};
        char *out = output_of(fx, "bytes.cast", chunks, lens, 6, &outlen);

        assert_int_equal(outlen, 7);
        assert_memory_equal(out, "\xf0\x9f\x98\x80\xe2\x82\xac", 7);
        free(out);
    }
}

/* The carried bytes wait for the next event: a call that is all carry
 * writes no event; an unfinished sequence at close becomes U+FFFD. */
static void
test_recording__utf8_carry_and_close(void **state)
{
    struct fx *fx = *state;
    struct gh_cast *rec = open_cast(fx, "carry.cast");
    struct ct_cast c;
    size_t len, n;
    char *buf, *out;

    assert_int_equal(gh_cast_output(rec, 10, "\xe2", 1), 0);
    assert_int_equal(gh_cast_input(rec, 20, "x\xc3", 2), 0);
    assert_int_equal(gh_cast_output(rec, 30, "\x82\xac", 2), 0);
    assert_int_equal(gh_cast_output(rec, 40, "z\xf0\x9f", 3), 0);
    assert_int_equal(gh_cast_input(rec, 50, "\xa9", 1), 0);
    buf = close_and_parse(fx, rec, "carry.cast", &c, &len);
    /* i "x", o "€", i "é", o "z", o FFFD at close. */
    assert_int_equal(json_array_size(c.events), 5);
    out = ct_data(&c, "o", &n);
    assert_int_equal(n, 7);
    assert_memory_equal(out,
                        "\xe2\x82\xac"
                        "z\xef\xbf\xbd",
                        7);
    free(out);
    out = ct_data(&c, "i", &n);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "x\xc3\xa9", 3);
    free(out);
    ct_free(&c);
    free(buf);
}

/* Invalid input: one U+FFFD per maximal ill-formed subpart (Unicode
 * 3.9, the WHATWG decoder, Python's errors="replace"). */
static void
test_recording__invalid_utf8(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"\x80", 1, "\xef\xbf\xbd"},
        {"\xff", 1, "\xef\xbf\xbd"},
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", 4,
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98"
         "A",
         4,
         "\xef\xbf\xbd"
         "A"},
        {"\xe2\x82\xe2\x82\xac", 5, "\xef\xbf\xbd\xe2\x82\xac"},
        {"a\xf5\xc2", 3, "a\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xef\xbf\xbd", 3, "\xef\xbf\xbd"},
        {"\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf"},
    };
    struct fx *fx = *state;
    size_t i, outlen;
    char name[32];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *chunks[] = {cases[i].in};
        size_t lens[] = {cases[i].len};
        char *out;

        snprintf(name, sizeof(name), "bad%zu.cast", i);
        out = output_of(fx, name, chunks, lens, 1, &outlen);
        if (outlen != strlen(cases[i].want) ||
            memcmp(out, cases[i].want, outlen) != 0)
            fail_msg("case %zu: wrong replacement", i);
        free(out);
    }
}

/* Every control character is escaped and comes back; so do NULs,
 * quotes, backslashes, DEL, C1 controls and U+2028/2029. */
static void
test_recording__controls_escaped(void **state)
{
    static const char tail[] = "\x7f\"\\/\xc2\x85\xc2\x9f\xe2\x80\xa8"
                               "\xe2\x80\xa9";
    struct fx *fx = *state;
    char in[64 + 16];
    size_t n = 0, outlen;
    unsigned b;
    const char *chunks[1];
    size_t lens[1];
    char *out, *path, *buf;

    for (b = 0; b < 0x20; b++)
        in[n++] = (char)b;
    memcpy(in + n, tail, sizeof(tail) - 1);
    n += sizeof(tail) - 1;
    in[n++] = '\0';
    chunks[0] = in;
    lens[0] = n;
    out = output_of(fx, "ctl.cast", chunks, lens, 1, &outlen);
    assert_int_equal(outlen, n);
    assert_memory_equal(out, in, n);
    free(out);
    /* ct_check_lines (in output_of) proved no raw control is in the
     * file; check the forms too. */
    path = gh_test_path(fx->dir, "ctl.cast");
    buf = gh_test_slurp(path, NULL);
    assert_non_null(strstr(buf, "\\u0000\\u0001"));
    assert_non_null(strstr(buf, "\\b\\t\\n\\u000b\\f\\r"));
    assert_non_null(strstr(buf, "\\u001f\\u007f\\\"\\\\/\\u0085\\u009f"
                                "\\u2028\\u2029\\u0000\"]"));
    free(buf);
    free(path);
}

/* A byte to escape at every offset of a long plain run: the 8-byte fast
 * path must stop at each of them. */
static void
test_recording__specials_in_runs(void **state)
{
    static const unsigned char specials[] = {'"',  '\\', 0x7f, 0x1f, 0x00,
                                             0x80, 0xc3, 0xff, 0x20, 0x7e};
    struct fx *fx = *state;
    struct gh_cast *rec = open_cast(fx, "runs.cast");
    char in[40 * 10 * 40], *buf, *out;
    struct ct_cast c;
    size_t n = 0, pos, k, len, outlen;

    for (k = 0; k < sizeof(specials); k++)
        for (pos = 0; pos < 40; pos++) {
            memset(in + n, 'a', 40);
            in[n + pos] = (char)specials[k];
            assert_int_equal(gh_cast_output(rec, n, in + n, 40), 0);
            n += 40;
        }
    buf = close_and_parse(fx, rec, "runs.cast", &c, &len);
    out = ct_data(&c, "o", &outlen);
    /* Each chunk comes back, the 0x80 and 0xff as U+FFFD and the 0xc3
     * (followed by 'a') as U+FFFD 'a'. */
    for (k = 0, n = 0, pos = 0; k < sizeof(specials) * 40; k++) {
        const char *chunk = in + 40 * k;
        size_t i;

        for (i = 0; i < 40; i++) {
            unsigned char b = (unsigned char)chunk[i];

            if (b >= 0x80) {
                assert_memory_equal(out + pos, "\xef\xbf\xbd", 3);
                pos += 3;
            } else {
                assert_int_equal((unsigned char)out[pos], b);
                pos++;
            }
        }
    }
    assert_int_equal(pos, outlen);
    free(out);
    ct_free(&c);
    free(buf);
}

/* 1 MiB of output in one call: several lines of bounded length with one
 * time, whose data put together is the input. */
static void
test_recording__one_mib_event(void **state)
{
    struct fx *fx = *state;
    size_t n = 1024 * 1024, i, outlen, len;
    char *in = malloc(n), *out, *buf, *p;
    struct gh_cast *rec = open_cast(fx, "big.cast");
    struct ct_cast c;
    json_t *ev;

    assert_non_null(in);
    for (i = 0; i < n; i++) /* text with escapes and UTF-8 in it */
        in[i] = "ab\x1b[1m\"\\\n\xc3\xa9xyz"[i % 14];
    assert_int_equal(gh_cast_output(rec, 5000, in, n), 0);
    buf = close_and_parse(fx, rec, "big.cast", &c, &len);
    assert_true(json_array_size(c.events) > 1);
    json_array_foreach(c.events, i, ev)
        assert_true(json_number_value(json_array_get(ev, 0)) == 5.0);
    for (p = buf; (p = strchr(p, '\n')) != NULL && p[1] != '\0'; p++) {
        char *next = strchr(p + 1, '\n');

        assert_true((size_t)(next - p) <= GH_CAST_EVENT_DATA_MAX + 64);
    }
    out = ct_data(&c, "o", &outlen);
    assert_int_equal(outlen, n);
    assert_memory_equal(out, in, n);
    free(out);
    ct_free(&c);
    free(buf);
    free(in);
}

/* Size of the file behind fd. */
static off_t
fsize(struct fx *fx, const char *name)
{
    struct stat st;

    assert_int_equal(fstatat(fx->dfd, name, &st, 0), 0);
    return st.st_size;
}

/* Events wait in memory; flush (or the threshold) writes whole lines
 * only, and the file always ends at a line's end. */
static void
test_recording__flush_whole_lines(void **state)
{
    struct fx *fx = *state;
    struct gh_cast *rec = open_cast(fx, "fl.cast");
    struct gh_cast_stats st;
    char *path = gh_test_path(fx->dir, "fl.cast"), *buf, chunk[1000];
    off_t header = fsize(fx, "fl.cast"), prev;
    size_t len, i;
    uint64_t size;

    assert_true(header > 0);
    assert_int_equal(gh_cast_output(rec, 1, "hello", 5), 0);
    assert_int_equal(fsize(fx, "fl.cast"), header); /* buffered */
    gh_cast_get_stats(rec, &st);
    assert_true(st.pending > 0);
    assert_int_equal(st.written, (uint64_t)header);
    assert_int_equal(gh_cast_flush(rec), 0);
    assert_true(fsize(fx, "fl.cast") > header);
    assert_int_equal(gh_cast_flush(rec), 0); /* nothing waits: no-op */
    memset(chunk, 'x', sizeof(chunk));
    prev = fsize(fx, "fl.cast");
    for (i = 0; i < 200; i++) {
        off_t now;

        assert_int_equal(gh_cast_output(rec, 2 + i, chunk, sizeof(chunk)), 0);
        now = fsize(fx, "fl.cast");
        if (now != prev) {
            /* Written by the threshold: whole lines only. */
            buf = gh_test_slurp(path, &len);
            ct_check_lines(buf, len);
            assert_true(now - prev >= GH_CAST_FLUSH_AT);
            free(buf);
            prev = now;
        }
    }
    assert_true(prev > header + GH_CAST_FLUSH_AT);
    assert_int_equal(gh_cast_close(rec, &size, NULL), 0);
    buf = gh_test_slurp(path, &len);
    ct_check_lines(buf, len);
    assert_int_equal(size, len);
    free(buf);
    free(path);
}

/* close() returns the size and SHA-256 of the file: OpenSSL over the
 * file's bytes and sha256sum(1) agree. */
static void
test_recording__sha256(void **state)
{
    struct fx *fx = *state;
    struct gh_cast *rec = open_cast(fx, "h.cast");
    char *path = gh_test_path(fx->dir, "h.cast"), *buf;
    char sha[65], want[65], line[256], cmd[512];
    uint64_t size;
    size_t len, i;
    FILE *p;

    for (i = 0; i < 5000; i++)
        assert_int_equal(gh_cast_output(rec, i, "line of output\r\n", 16), 0);
    assert_int_equal(gh_cast_close(rec, &size, sha), 0);
    buf = gh_test_slurp(path, &len);
    assert_int_equal(size, len);
    ct_sha256(buf, len, want);
    assert_string_equal(sha, want);
    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    assert_int_equal(pclose(p), 0);
    assert_memory_equal(line, sha, 64);
    free(buf);
    free(path);
}

/* Times that go backwards are written as the latest time. */
static void
test_recording__time_monotonic(void **state)
{
    struct fx *fx = *state;
    struct gh_cast *rec = open_cast(fx, "t.cast");
    struct ct_cast c;
    size_t len;
    char *buf;

    assert_int_equal(gh_cast_output(rec, 2000, "a", 1), 0);
    assert_int_equal(gh_cast_output(rec, 1000, "b", 1), 0);
    assert_int_equal(gh_cast_resize(rec, 0, 0, 24), GH_E_INVAL);
    assert_int_equal(gh_cast_resize(rec, 0, 80, GH_CAST_DIM_MAX + 1),
                     GH_E_INVAL);
    buf = close_and_parse(fx, rec, "t.cast", &c, &len);
    assert_true(json_number_value(
                    json_array_get(json_array_get(c.events, 1), 0)) == 2.0);
    ct_free(&c);
    free(buf);
}

/* RLIMIT_FSIZE makes write() fail with EFBIG once the file is at the
 * limit (SIGXFSZ ignored). */
static void
set_fsize(rlim_t lim)
{
    struct rlimit rl;

    assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = lim;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* A write error is returned and remembered; the data waits and reaches
 * the file once writes work again, without a gap or a broken line. */
static void
test_recording__write_error_then_recovery(void **state)
{
    struct fx *fx = *state;
    struct gh_cast *rec = open_cast(fx, "e.cast");
    struct gh_cast_stats st;
    struct ct_cast c;
    size_t n = 300 * 1024, i, len, outlen;
    char *in = malloc(n), *path = gh_test_path(fx->dir, "e.cast"), *buf;
    char *out;
    int err_no = 0, errors = 0;
    uint64_t size;

    assert_non_null(in);
    for (i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    signal(SIGXFSZ, SIG_IGN);
    set_fsize(100 * 1000);
    for (i = 0; i < n; i += 10 * 1024)
        if (gh_cast_output(rec, i, in + i, 10 * 1024) == GH_E_IO)
            errors++;
    assert_true(errors > 0);
    assert_int_equal(gh_cast_status(rec, &err_no), GH_E_IO);
    assert_int_equal(err_no, EFBIG);
    assert_int_equal(fsize(fx, "e.cast"), 100 * 1000);
    gh_cast_get_stats(rec, &st);
    assert_true(st.pending > 0);
    assert_int_equal(st.dropped, 0);
    assert_true(st.write_errs > 0);
    assert_int_equal(gh_cast_flush(rec), GH_E_IO);
    set_fsize(RLIM_INFINITY);
    assert_int_equal(gh_cast_flush(rec), 0);
    /* Sticky: the recording met an error even though nothing was lost. */
    assert_int_equal(gh_cast_status(rec, NULL), GH_E_IO);
    assert_int_equal(gh_cast_close(rec, &size, NULL), GH_E_IO);
    buf = gh_test_slurp(path, &len);
    assert_int_equal(size, len);
    ct_check_lines(buf, len);
    ct_parse(buf, len, &c);
    out = ct_data(&c, "o", &outlen);
    assert_int_equal(outlen, n);
    assert_memory_equal(out, in, n);
    free(out);
    ct_free(&c);
    free(buf);
    free(path);
    free(in);
}

/* While writes keep failing, memory stops at GH_CAST_BUF_MAX: output is
 * dropped, counted, and marked in the file once writes work again. */
static void
test_recording__buffer_cap_drops_and_marks(void **state)
{
    struct fx *fx = *state;
    struct gh_cast *rec = open_cast(fx, "d.cast");
    struct gh_cast_stats st;
    struct ct_cast c;
    size_t chunk = 64 * 1024, i, len, mlen;
    char *in = malloc(chunk), *path = gh_test_path(fx->dir, "d.cast");
    char *buf, *marks;
    int last = 0;

    assert_non_null(in);
    memset(in, 'x', chunk);
    signal(SIGXFSZ, SIG_IGN);
    set_fsize((rlim_t)fsize(fx, "d.cast"));
    for (i = 0; i < 40; i++) { /* 2.5 MiB */
        last = gh_cast_output(rec, 10 * i, in, chunk);
        gh_cast_get_stats(rec, &st);
        assert_true(st.pending <= GH_CAST_BUF_MAX);
    }
    assert_int_equal(last, GH_E_IO);
    gh_cast_get_stats(rec, &st);
    assert_true(st.dropped > 0);
    assert_true(st.dropped < 40 * chunk);
    set_fsize(RLIM_INFINITY);
    assert_int_equal(gh_cast_output(rec, 1000, "back", 4), 0);
    assert_int_equal(gh_cast_close(rec, NULL, NULL), GH_E_IO);
    buf = gh_test_slurp(path, &len);
    ct_check_lines(buf, len);
    ct_parse(buf, len, &c);
    marks = ct_data(&c, "m", &mlen);
    assert_non_null(strstr(marks, "recording interrupted"));
    assert_non_null(strstr(marks, "bytes of terminal data lost"));
    free(marks);
    ct_free(&c);
    free(buf);
    free(path);
    free(in);
}

/* ENOSPC for real: a 64 KiB tmpfs in a private mount namespace (root
 * only; skipped elsewhere). Runs in a child so the namespace dies with
 * it. */
static void
test_recording__enospc_tmpfs(void **state)
{
    struct fx *fx = *state;
    char *mnt = gh_test_path(fx->dir, "small");
    pid_t pid;
    int status;

    assert_int_equal(mkdir(mnt, 0700), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct gh_cast_meta m = ct_meta();
        struct gh_cast *rec = NULL;
        char chunk[4096];
        int dfd, i, err_no = 0, r = 0;

        if (unshare(CLONE_NEWNS) != 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") != 0)
            _exit(77);
        dfd = open(mnt, O_RDONLY | O_DIRECTORY);
        if (dfd < 0 || gh_cast_open(dfd, "full.cast", &m, &rec) != 0)
            _exit(1);
        memset(chunk, 'y', sizeof(chunk));
        for (i = 0; i < 100 && r == 0; i++)
            r = gh_cast_output(rec, (uint64_t)i, chunk, sizeof(chunk));
        if (r != GH_E_IO || gh_cast_status(rec, &err_no) != GH_E_IO ||
            err_no != ENOSPC)
            _exit(2);
        if (gh_cast_close(rec, NULL, NULL) != GH_E_IO)
            _exit(3);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        free(mnt);
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
    free(mnt);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recording__header_and_events,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording__names_and_meta, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__header_escaping, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__utf8_split, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__utf8_carry_and_close,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording__invalid_utf8, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__controls_escaped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__specials_in_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__one_mib_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__flush_whole_lines,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording__sha256, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording__time_monotonic, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_recording__write_error_then_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_recording__buffer_cap_drops_and_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording__enospc_tmpfs, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
