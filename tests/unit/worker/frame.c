/* Unit tests for gateway/core/frame.c: the wire format as the worker and the
 * broker use it (every type in every direction, lengths, RESIZE bounds) and
 * the worker-link reader (split reads, bad prefixes, memory given back). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/frame.h"

#include <stdlib.h>
#include <string.h>

/* The reader's idle buffer and one whole link frame (frame.c's values:
 * the tests check behaviour at those sizes). */
#define RD_SMALL 4096
#define LINK_MAX (GH_FRAME_PREFIX + 1 + GH_FRAME_PAYLOAD_MAX)

static const uint8_t all_types[] = {GH_F_OUTPUT, GH_F_INPUT,      GH_F_RESIZE,
                                    GH_F_STATUS, GH_F_CREDENTIAL, GH_F_START,
                                    GH_F_CLOSE};

/* docs/PROTOCOL.md's direction column. */
static int
allowed(uint8_t t, enum gh_frame_from from)
{
    switch (from) {
    case GH_FROM_BROWSER:
        return t == GH_F_INPUT || t == GH_F_RESIZE || t == GH_F_CREDENTIAL ||
               t == GH_F_CLOSE;
    case GH_FROM_WORKER:
        return t == GH_F_OUTPUT || t == GH_F_STATUS || t == GH_F_CLOSE;
    case GH_FROM_BROKER:
        return t == GH_F_START || t == GH_F_INPUT || t == GH_F_RESIZE ||
               t == GH_F_CREDENTIAL || t == GH_F_CLOSE;
    }
    return 0;
}

/* A message: type byte + payload of len bytes (a valid RESIZE payload for
 * RESIZE when len == 4). Caller frees. */
static uint8_t *
message(uint8_t type, size_t len)
{
    uint8_t *m = malloc(len + 1);
    size_t i;

    assert_non_null(m);
    m[0] = type;
    for (i = 0; i < len; i++)
        m[1 + i] = (uint8_t)(i * 7 + 3);
    if (type == GH_F_RESIZE && len == 4)
        gh_frame_resize_put(m + 1, 80, 24);
    return m;
}

/* A link frame (prefix + message) appended to buf at *off. */
static void
put_link(uint8_t *buf, size_t *off, uint8_t type, const uint8_t *payload,
         size_t len)
{
    gh_frame_link_header(buf + *off, type, len);
    memcpy(buf + *off + GH_FRAME_PREFIX + 1, payload, len);
    *off += GH_FRAME_PREFIX + 1 + len;
}

/* Feed bytes into r in chunks of chunk bytes; collects up to max frames
 * (copies of their payloads are checked by the caller through *types and
 * *lens). Returns the number of frames, or the reader's error. */
static int
feed(struct gh_frame_rd *r, const uint8_t *bytes, size_t n, size_t chunk,
     enum gh_frame_from from, uint8_t *types, size_t *lens, uint8_t **copies,
     int max)
{
    size_t off = 0, avail, take;
    struct gh_frame f;
    uint8_t *p;
    int got = 0, rc;

    while (off < n) {
        p = gh_frame_rd_space(r, &avail);
        assert_non_null(p);
        assert_true(avail > 0);
        take = n - off < chunk ? n - off : chunk;
        if (take > avail)
            take = avail;
        memcpy(p, bytes + off, take);
        gh_frame_rd_commit(r, take);
        off += take;
        while ((rc = gh_frame_rd_next(r, from, &f)) == 1) {
            assert_true(got < max);
            types[got] = f.type;
            lens[got] = f.len;
            if (copies != NULL) {
                copies[got] = malloc(f.len + 1);
                assert_non_null(copies[got]);
                memcpy(copies[got], f.payload, f.len);
            }
            got++;
        }
        if (rc < 0)
            return rc;
    }
    return got;
}

static void
test_frame__type_names(void **state)
{
    (void)state;
    assert_string_equal(gh_frame_type_name(GH_F_OUTPUT), "output");
    assert_string_equal(gh_frame_type_name(GH_F_INPUT), "input");
    assert_string_equal(gh_frame_type_name(GH_F_RESIZE), "resize");
    assert_string_equal(gh_frame_type_name(GH_F_STATUS), "status");
    assert_string_equal(gh_frame_type_name(GH_F_CREDENTIAL), "credential");
    assert_string_equal(gh_frame_type_name(GH_F_START), "start");
    assert_string_equal(gh_frame_type_name(GH_F_CLOSE), "close");
    assert_string_equal(gh_frame_type_name(0), "unknown");
    assert_string_equal(gh_frame_type_name(8), "unknown");
    assert_string_equal(gh_frame_type_name(0xff), "unknown");
}

/* Every byte value as a type, from every side: only the documented pairs
 * pass, and the frame points into the message. */
static void
test_frame__every_type_every_direction(void **state)
{
    enum gh_frame_from froms[] = {GH_FROM_BROWSER, GH_FROM_WORKER,
                                  GH_FROM_BROKER};
    struct gh_frame f;
    unsigned t, d;
    uint8_t *m;

    (void)state;
    for (t = 0; t < 256; t++) {
        for (d = 0; d < 3; d++) {
            m = message((uint8_t)t, 4);
            memset(&f, 0, sizeof(f));
            if (allowed((uint8_t)t, froms[d])) {
                assert_int_equal(gh_frame_parse(m, 5, froms[d], &f), 0);
                assert_int_equal(f.type, t);
                assert_ptr_equal(f.payload, m + 1);
                assert_int_equal(f.len, 4);
            } else {
                assert_int_equal(gh_frame_parse(m, 5, froms[d], &f),
                                 GH_E_INVAL);
            }
            free(m);
        }
    }
}

/* Empty messages, empty payloads and the payload limit. */
static void
test_frame__lengths(void **state)
{
    struct gh_frame f;
    uint8_t *m;
    size_t i;

    (void)state;
    assert_int_equal(gh_frame_parse(NULL, 0, GH_FROM_BROKER, &f), GH_E_INVAL);
    m = message(GH_F_INPUT, 0);
    assert_int_equal(gh_frame_parse(m, 0, GH_FROM_BROKER, &f), GH_E_INVAL);
    /* A type byte alone is a frame with an empty payload. */
    assert_int_equal(gh_frame_parse(m, 1, GH_FROM_BROKER, &f), 0);
    assert_int_equal(f.len, 0);
    free(m);
    for (i = 0; i < sizeof(all_types); i++) {
        if (all_types[i] == GH_F_RESIZE)
            continue;
        m = message(all_types[i], GH_FRAME_PAYLOAD_MAX + 1);
        assert_int_equal(
            gh_frame_parse(m, GH_FRAME_PAYLOAD_MAX + 1, GH_FROM_BROWSER, &f),
            allowed(all_types[i], GH_FROM_BROWSER) ? 0 : GH_E_INVAL);
        assert_int_equal(
            gh_frame_parse(m, GH_FRAME_PAYLOAD_MAX + 2, GH_FROM_BROWSER, &f),
            GH_E_TOOBIG);
        free(m);
    }
}

/* RESIZE: exactly 4 bytes, each dimension 1..GH_FRAME_DIM_MAX. */
static void
test_frame__resize_bounds(void **state)
{
    static const unsigned ok[][2] = {{1, 1},    {1000, 1000}, {80, 24},
                                     {1, 1000}, {1000, 1},    {256, 255}};
    static const unsigned bad[][2] = {{0, 24},     {80, 0},     {1001, 24},
                                      {80, 1001},  {0, 0},      {65535, 24},
                                      {80, 65535}, {0x100, 0x0}};
    uint8_t m[6];
    struct gh_frame f;
    unsigned c, r;
    size_t i;

    (void)state;
    m[0] = GH_F_RESIZE;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        gh_frame_resize_put(m + 1, ok[i][0], ok[i][1]);
        assert_int_equal(gh_frame_parse(m, 5, GH_FROM_BROWSER, &f), 0);
        assert_int_equal(gh_frame_resize_get(&f, &c, &r), 0);
        assert_int_equal(c, ok[i][0]);
        assert_int_equal(r, ok[i][1]);
        assert_int_equal(gh_frame_parse(m, 5, GH_FROM_BROKER, &f), 0);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gh_frame_resize_put(m + 1, bad[i][0], bad[i][1]);
        assert_int_equal(gh_frame_parse(m, 5, GH_FROM_BROWSER, &f), GH_E_INVAL);
        assert_int_equal(gh_frame_parse(m, 5, GH_FROM_BROKER, &f), GH_E_INVAL);
    }
    /* Big-endian on the wire. */
    gh_frame_resize_put(m + 1, 0x0102, 0x0304);
    assert_int_equal(m[1], 1);
    assert_int_equal(m[2], 2);
    assert_int_equal(m[3], 3);
    assert_int_equal(m[4], 4);
    /* Wrong lengths. */
    gh_frame_resize_put(m + 1, 80, 24);
    m[5] = 0;
    for (i = 1; i <= 6; i++)
        if (i != 5)
            assert_int_equal(gh_frame_parse(m, i, GH_FROM_BROWSER, &f),
                             GH_E_INVAL);
    /* resize_get refuses other types and lengths. */
    f.type = GH_F_INPUT;
    f.payload = m + 1;
    f.len = 4;
    assert_int_equal(gh_frame_resize_get(&f, &c, &r), GH_E_INVAL);
    f.type = GH_F_RESIZE;
    f.len = 3;
    assert_int_equal(gh_frame_resize_get(&f, &c, &r), GH_E_INVAL);
}

static void
test_frame__link_header(void **state)
{
    uint8_t h[GH_FRAME_PREFIX + 1];

    (void)state;
    assert_int_equal(gh_frame_link_header(h, GH_F_OUTPUT, 0), 5);
    assert_memory_equal(h, "\0\0\0\1\1", 5);
    gh_frame_link_header(h, GH_F_CLOSE, GH_FRAME_PAYLOAD_MAX);
    assert_memory_equal(h, "\0\1\0\1\7", 5);
    gh_frame_link_header(h, GH_F_START, 0x123456);
    assert_memory_equal(h, "\0\x12\x34\x57\6", 5);
}

/* Frames of every type a side may send, fed whole, in halves, byte by
 * byte and in odd chunks: the same frames come out. */
static void
test_frame__reader_split_reads(void **state)
{
    static const size_t chunks[] = {1, 2, 3, 4, 5, 7, 4096, 65541, 1 << 20};
    enum gh_frame_from froms[] = {GH_FROM_BROWSER, GH_FROM_WORKER,
                                  GH_FROM_BROKER};
    size_t lens_in[] = {0, 1, 4, 100, 4095, 4096, 4097, GH_FRAME_PAYLOAD_MAX};
    uint8_t *stream, types[64], want_types[64], *copies[64], *pl;
    size_t lens[64], want_lens[64], n, c, i, j, d;
    struct gh_frame_rd r;
    int got, k;

    (void)state;
    stream = malloc(64 * LINK_MAX);
    assert_non_null(stream);
    for (d = 0; d < 3; d++) {
        n = 0;
        k = 0;
        for (i = 0; i < sizeof(all_types); i++) {
            if (!allowed(all_types[i], froms[d]))
                continue;
            for (j = 0; j < sizeof(lens_in) / sizeof(lens_in[0]); j++) {
                size_t len = all_types[i] == GH_F_RESIZE ? 4 : lens_in[j];

                pl = message(all_types[i], len);
                put_link(stream, &n, all_types[i], pl + 1, len);
                free(pl);
                want_types[k] = all_types[i];
                want_lens[k] = len;
                k++;
            }
        }
        for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
            gh_frame_rd_init(&r);
            memset(copies, 0, sizeof(copies));
            got = feed(&r, stream, n, chunks[c], froms[d], types, lens, copies,
                       64);
            assert_int_equal(got, k);
            for (i = 0; i < (size_t)k; i++) {
                assert_int_equal(types[i], want_types[i]);
                assert_int_equal(lens[i], want_lens[i]);
                pl = message(want_types[i], want_lens[i]);
                assert_memory_equal(copies[i], pl + 1, want_lens[i]);
                free(pl);
                free(copies[i]);
            }
            /* Nothing left over: no partial frame. */
            assert_int_equal(r.start, r.end);
            gh_frame_rd_free(&r);
        }
    }
    free(stream);
}

/* A zero length (not even a type byte) and lengths over one frame are
 * refused as soon as the prefix is in, whatever follows. */
static void
test_frame__reader_bad_prefixes(void **state)
{
    static const uint32_t bad[] = {0, GH_FRAME_PAYLOAD_MAX + 2,
                                   GH_FRAME_PAYLOAD_MAX + 100, 0x7fffffff,
                                   0xffffffff};
    struct gh_frame_rd r;
    struct gh_frame f;
    uint8_t s[8], types[4];
    size_t lens[4], i;
    int rc;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s[0] = (uint8_t)(bad[i] >> 24);
        s[1] = (uint8_t)(bad[i] >> 16);
        s[2] = (uint8_t)(bad[i] >> 8);
        s[3] = (uint8_t)bad[i];
        s[4] = GH_F_INPUT;
        memset(s + 5, 'x', 3);
        gh_frame_rd_init(&r);
        rc = feed(&r, s, sizeof(s), 1, GH_FROM_BROKER, types, lens, NULL, 4);
        assert_int_equal(rc, bad[i] == 0 ? GH_E_INVAL : GH_E_TOOBIG);
        /* The stream stays refused: it cannot be resynchronised. */
        assert_int_equal(gh_frame_rd_next(&r, GH_FROM_BROKER, &f), rc);
        /* The buffer never grew for the claimed length. */
        assert_true(r.cap <= RD_SMALL);
        gh_frame_rd_free(&r);
    }
    /* The largest frame is fine. */
    s[0] = 0;
    s[1] = 1;
    s[2] = 0;
    s[3] = 1;
    gh_frame_rd_init(&r);
    rc = feed(&r, s, 5, 1, GH_FROM_BROKER, types, lens, NULL, 4);
    assert_int_equal(rc, 0); /* needs its 65,536 payload bytes */
    gh_frame_rd_free(&r);
}

/* A type the side may not send, an unknown type or a bad RESIZE in the
 * middle of a stream: the frames before come out, then the error. */
static void
test_frame__reader_refuses_in_stream(void **state)
{
    static const uint8_t bad_type[] = {GH_F_OUTPUT, GH_F_STATUS, 0,
                                       8,           0x80,        0xff};
    uint8_t s[64], types[8], pl[4];
    size_t lens[8], n, i;
    struct gh_frame_rd r;
    int rc;

    (void)state;
    for (i = 0; i < sizeof(bad_type) + 1; i++) {
        n = 0;
        put_link(s, &n, GH_F_INPUT, (const uint8_t *)"ab", 2);
        if (i < sizeof(bad_type)) {
            put_link(s, &n, bad_type[i], (const uint8_t *)"{}", 2);
        } else {
            gh_frame_resize_put(pl, 0, 24);
            put_link(s, &n, GH_F_RESIZE, pl, 4);
        }
        put_link(s, &n, GH_F_INPUT, (const uint8_t *)"cd", 2);
        gh_frame_rd_init(&r);
        memset(types, 0, sizeof(types));
        rc = feed(&r, s, n, 1, GH_FROM_BROKER, types, lens, NULL, 8);
        assert_int_equal(rc, GH_E_INVAL);
        assert_int_equal(types[0], GH_F_INPUT); /* the first one came out */
        assert_int_equal(types[1], 0);
        gh_frame_rd_free(&r);
    }
}

/* After a large frame the reader gives its memory back once drained, and
 * space() never offers 0 bytes. */
static void
test_frame__reader_shrinks(void **state)
{
    uint8_t *s = malloc(2 * LINK_MAX), types[4];
    size_t n = 0, lens[4], avail;
    struct gh_frame_rd r;
    uint8_t *pl = message(GH_F_INPUT, GH_FRAME_PAYLOAD_MAX);

    (void)state;
    assert_non_null(s);
    put_link(s, &n, GH_F_INPUT, pl + 1, GH_FRAME_PAYLOAD_MAX);
    gh_frame_rd_init(&r);
    assert_int_equal(feed(&r, s, n, 1000, GH_FROM_BROKER, types, lens, NULL, 4),
                     1);
    assert_true(r.cap >= LINK_MAX);
    assert_true(r.cap <= LINK_MAX + RD_SMALL);
    assert_non_null(gh_frame_rd_space(&r, &avail));
    assert_true(avail > 0);
    assert_int_equal(r.cap, RD_SMALL);
    /* Small frames keep the small buffer. */
    n = 0;
    put_link(s, &n, GH_F_INPUT, (const uint8_t *)"x", 1);
    assert_int_equal(feed(&r, s, n, 1, GH_FROM_BROKER, types, lens, NULL, 4),
                     1);
    assert_int_equal(r.cap, RD_SMALL);
    gh_frame_rd_free(&r);
    assert_null(r.buf);
    free(pl);
    free(s);
}

/* Many small frames in one go, with the buffer compacting under them. */
static void
test_frame__reader_many_small(void **state)
{
    enum { N = 5000 };
    uint8_t *s = malloc(N * 16), *types = malloc(N);
    size_t *lens = malloc(N * sizeof(size_t)), n = 0, i;
    struct gh_frame_rd r;
    uint8_t pl[8];

    (void)state;
    assert_non_null(s);
    assert_non_null(types);
    assert_non_null(lens);
    for (i = 0; i < N; i++) {
        memset(pl, (int)(i & 0xff), sizeof(pl));
        put_link(s, &n, GH_F_INPUT, pl, i % 9);
    }
    gh_frame_rd_init(&r);
    assert_int_equal(feed(&r, s, n, 333, GH_FROM_BROKER, types, lens, NULL, N),
                     N);
    for (i = 0; i < N; i++)
        assert_int_equal(lens[i], i % 9);
    assert_true(r.cap <= RD_SMALL + RD_SMALL);
    gh_frame_rd_free(&r);
    free(s);
    free(types);
    free(lens);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame__type_names),
        cmocka_unit_test(test_frame__every_type_every_direction),
        cmocka_unit_test(test_frame__lengths),
        cmocka_unit_test(test_frame__resize_bounds),
        cmocka_unit_test(test_frame__link_header),
        cmocka_unit_test(test_frame__reader_split_reads),
        cmocka_unit_test(test_frame__reader_bad_prefixes),
        cmocka_unit_test(test_frame__reader_refuses_in_stream),
        cmocka_unit_test(test_frame__reader_shrinks),
        cmocka_unit_test(test_frame__reader_many_small),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
