/* Unit tests for gateway/cli/gatehouse/wsframe.c: the client's frame
 * header and masking against RFC 6455's rules and a byte-at-a-time
 * reference, and the parser of server frames fed whole, split at every
 * byte, and fed each rule it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wsframe.h"

#include <stdlib.h>
#include <string.h>

/* An unmasked server frame: fin, opcode, payload. Returns its length. */
static size_t
server_frame(unsigned char *out, bool fin, unsigned op, const void *p,
             uint64_t len)
{
    size_t n = 2;

    out[0] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (len < 126)
        out[1] = (unsigned char)len;
    else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        n = 4;
    } else {
        out[1] = 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 10;
    }
    if (p != NULL)
        memcpy(out + n, p, (size_t)len);
    return n + (size_t)len;
}

/* What a parse produced, pieces joined per message. */
struct seen {
    unsigned char bin[200000];
    size_t bin_len;
    char text[256];
    size_t text_len;
    int texts, bins, closes, pings, pongs, empty_pieces;
    unsigned char ctl[GH_WSF_CONTROL_MAX];
    size_t ctl_len;
};

/* Feed buf in pieces of at most step bytes; returns the last rc. */
static int
feed(struct gh_wsf_rx *rx, const unsigned char *buf, size_t len, size_t step,
     struct seen *sn)
{
    struct gh_wsf_piece pc;
    size_t off = 0;
    int rc = 0;

    while (off < len) {
        size_t chunk = len - off < step ? len - off : step;
        const unsigned char *p = buf + off;
        size_t left = chunk;

        while ((rc = gh_wsf_next(rx, &p, &left, &pc)) == 1) {
            if (pc.len == 0)
                sn->empty_pieces++;
            switch (pc.op) {
            case GH_WSF_BINARY:
                assert_true(sn->bin_len + pc.len <= sizeof(sn->bin));
                memcpy(sn->bin + sn->bin_len, pc.data, pc.len);
                sn->bin_len += pc.len;
                sn->bins += pc.msg_end;
                break;
            case GH_WSF_TEXT:
                assert_true(sn->text_len + pc.len < sizeof(sn->text));
                memcpy(sn->text + sn->text_len, pc.data, pc.len);
                sn->text_len += pc.len;
                sn->texts += pc.msg_end;
                break;
            case GH_WSF_CLOSE:
                sn->closes++;
                memcpy(sn->ctl, pc.data, pc.len);
                sn->ctl_len = pc.len;
                break;
            case GH_WSF_PING:
                sn->pings++;
                memcpy(sn->ctl, pc.data, pc.len);
                sn->ctl_len = pc.len;
                break;
            case GH_WSF_PONG:
                sn->pongs++;
                break;
            default:
                fail_msg("piece with opcode %d", pc.op);
            }
        }
        if (rc < 0)
            return rc;
        assert_int_equal(left, 0); /* 0: all of it was taken */
        off += chunk;
    }
    return rc;
}

static void
test_header_sizes(void **state)
{
    unsigned char h[GH_WSF_HEADER_MAX], m[4] = {1, 2, 3, 4};

    (void)state;
    assert_int_equal(gh_wsf_header(h, GH_WSF_BINARY, 0, m), 6);
    assert_int_equal(h[0], 0x82);
    assert_int_equal(h[1], 0x80);
    assert_memory_equal(h + 2, m, 4);
    assert_int_equal(gh_wsf_header(h, GH_WSF_TEXT, 125, m), 6);
    assert_int_equal(h[1], 0x80 | 125);
    assert_int_equal(gh_wsf_header(h, GH_WSF_BINARY, 126, m), 8);
    assert_int_equal(h[1], 0x80 | 126);
    assert_int_equal(h[2], 0);
    assert_int_equal(h[3], 126);
    assert_int_equal(gh_wsf_header(h, GH_WSF_BINARY, 65535, m), 8);
    assert_int_equal(h[2], 0xff);
    assert_int_equal(h[3], 0xff);
    assert_int_equal(gh_wsf_header(h, GH_WSF_BINARY, 65536, m), 14);
    assert_int_equal(h[1], 0x80 | 127);
    assert_int_equal(h[7], 1);
    assert_int_equal(h[8], 0);
    assert_int_equal(h[9], 0);
    assert_memory_equal(h + 10, m, 4);
    assert_int_equal(gh_wsf_header(h, GH_WSF_CLOSE, 2, m), 6);
    assert_int_equal(h[0], 0x88);
}

static void
test_mask_matches_reference(void **state)
{
    unsigned char src[300], dst[300], ref[300], m[4] = {0xde, 0xad, 0xbe, 0xef};

    (void)state;
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (unsigned char)(i * 7 + 3);
    /* Every length and alignment near the word size. */
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= 80; n++) {
            for (size_t i = 0; i < n; i++)
                ref[i] = src[off + i] ^ m[i % 4];
            gh_wsf_mask(dst, src + off, n, m);
            assert_memory_equal(dst, ref, n);
        }
    /* In place, and twice is the identity. */
    memcpy(dst, src, sizeof(src));
    gh_wsf_mask(dst, dst, sizeof(dst), m);
    for (size_t i = 0; i < sizeof(src); i++)
        assert_int_equal(dst[i], src[i] ^ m[i % 4]);
    gh_wsf_mask(dst, dst, sizeof(dst), m);
    assert_memory_equal(dst, src, sizeof(src));
}

/* A stream of everything a server may send, parsed whole and split at
 * every size from 1 byte up. */
static void
test_stream_any_split(void **state)
{
    static unsigned char big[70000], stream[80000];
    unsigned char code[2] = {0x03, 0xe8};
    size_t n = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i ^ (i >> 8));
    n += server_frame(stream + n, true, GH_WSF_TEXT, "{\"type\":\"open\"}", 15);
    n += server_frame(stream + n, true, GH_WSF_BINARY, big, 100);
    n += server_frame(stream + n, true, GH_WSF_BINARY, big + 100, 300);
    n += server_frame(stream + n, true, GH_WSF_BINARY, big + 400, 69000);
    /* A fragmented text message with a ping between its fragments. */
    n += server_frame(stream + n, false, GH_WSF_TEXT, "{\"type\":", 8);
    n += server_frame(stream + n, true, GH_WSF_PING, "hi", 2);
    n += server_frame(stream + n, false, GH_WSF_CONT, "\"eof\"", 5);
    n += server_frame(stream + n, true, GH_WSF_CONT, "}", 1);
    /* An empty binary message, then a pong and a close. */
    n += server_frame(stream + n, true, GH_WSF_BINARY, NULL, 0);
    n += server_frame(stream + n, true, GH_WSF_PONG, NULL, 0);
    n += server_frame(stream + n, true, GH_WSF_CLOSE, code, 2);
    assert_true(n <= sizeof(stream));

    static const size_t steps[] = {1,   2,   3,    5,     7,       13,
                                   125, 126, 4096, 65536, 1u << 20};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        struct gh_wsf_rx rx;
        struct seen *sn = calloc(1, sizeof(*sn));

        assert_non_null(sn);
        gh_wsf_rx_init(&rx);
        assert_int_equal(feed(&rx, stream, n, steps[k], sn), 0);
        assert_int_equal(sn->bins, 4);
        assert_int_equal(sn->bin_len, 69400);
        assert_memory_equal(sn->bin, big, 69400);
        assert_int_equal(sn->texts, 2);
        assert_int_equal(sn->text_len, 15 + 14);
        assert_memory_equal(sn->text, "{\"type\":\"open\"}{\"type\":\"eof\"}",
                            29);
        assert_int_equal(sn->pings, 1);
        assert_int_equal(sn->pongs, 1);
        assert_int_equal(sn->closes, 1);
        assert_int_equal(sn->ctl_len, 2);
        assert_memory_equal(sn->ctl, code, 2);
        assert_true(sn->empty_pieces >= 2); /* the empty binary, the pong */
        free(sn);
    }
}

/* One bad stream: refused, with a reason, and for good. */
static void
refused(const unsigned char *buf, size_t len, const char *why)
{
    struct gh_wsf_rx rx;
    struct seen *sn = calloc(1, sizeof(*sn));
    const unsigned char *p;
    size_t left;
    struct gh_wsf_piece pc;

    assert_non_null(sn);
    gh_wsf_rx_init(&rx);
    assert_int_equal(feed(&rx, buf, len, len, sn), -1);
    assert_non_null(rx.err);
    assert_non_null(strstr(rx.err, why));
    /* Sticky: a good frame after it is refused too. */
    p = (const unsigned char *)"\x82\x01x";
    left = 3;
    assert_int_equal(gh_wsf_next(&rx, &p, &left, &pc), -1);
    free(sn);
}

static void
test_refusals(void **state)
{
    unsigned char b[300];
    size_t n;

    (void)state;
    refused((const unsigned char *)"\xc2\x00", 2, "reserved");
    refused((const unsigned char *)"\xa2\x00", 2, "reserved");
    refused((const unsigned char *)"\x82\x81\x01\x02\x03\x04x", 7, "masked");
    refused((const unsigned char *)"\x83\x00", 2, "opcode");
    refused((const unsigned char *)"\x8b\x00", 2, "opcode");
    refused((const unsigned char *)"\x08\x00", 2, "fragmented control");
    refused((const unsigned char *)"\x80\x01x", 3, "continuation outside");
    refused((const unsigned char *)"\x01\x01x\x82\x01y", 6, "new message");
    refused((const unsigned char *)"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00",
            10, "top bit");
    n = server_frame(b, true, GH_WSF_PING, NULL, 0);
    b[1] = 126; /* a ping of 126 bytes */
    b[2] = 0;
    b[3] = 126;
    memset(b + 4, 'x', 126);
    refused(b, 4 + 126, "125");
    (void)n;
}

/* Lengths at the edges of each encoding come out whole. */
static void
test_length_edges(void **state)
{
    static unsigned char payload[70000], buf[70100];
    static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 69999};

    (void)state;
    memset(payload, 'z', sizeof(payload));
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        struct gh_wsf_rx rx;
        struct seen *sn = calloc(1, sizeof(*sn));
        size_t n = server_frame(buf, true, GH_WSF_BINARY, payload, lens[k]);

        assert_non_null(sn);
        gh_wsf_rx_init(&rx);
        assert_int_equal(feed(&rx, buf, n, 4096, sn), 0);
        assert_int_equal(sn->bins, 1);
        assert_int_equal(sn->bin_len, lens[k]);
        free(sn);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_sizes),
        cmocka_unit_test(test_mask_matches_reference),
        cmocka_unit_test(test_stream_any_split),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_length_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
