/*
 * cast_test.h - helpers of the recording unit tests: read a .cast back
 * with jansson alone (not with our reader, so the writer is checked by
 * an independent parser), and check each line's bytes.
 *
 * Include after <cmocka.h> and ../gh_test.h.
 */
#ifndef GATEHOUSE_TESTS_UNIT_RECORDING_CAST_TEST_H
#define GATEHOUSE_TESTS_UNIT_RECORDING_CAST_TEST_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "gatehouse/recording.h"

/* A parsed file: its header and its events as JSON arrays. */
struct ct_cast {
    json_t *header; /* object */
    json_t *events; /* array of [time, type, data] */
    size_t lines;
};

/* Assert that every line of buf[0..len) is whole (ends in '\n'), holds
 * no raw control byte, DEL, C1 control or U+2028/2029, and parses. */
static inline void
ct_check_lines(const char *buf, size_t len)
{
    size_t i;

    assert_true(len > 0);
    assert_int_equal(buf[len - 1], '\n');
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\n')
            continue;
        assert_true(c >= 0x20 && c != 0x7f);
        if (c == 0xc2 && i + 1 < len)
            assert_false((unsigned char)buf[i + 1] >= 0x80 &&
                         (unsigned char)buf[i + 1] <= 0x9f);
        if (c == 0xe2 && i + 2 < len)
            assert_false((unsigned char)buf[i + 1] == 0x80 &&
                         ((unsigned char)buf[i + 2] == 0xa8 ||
                          (unsigned char)buf[i + 2] == 0xa9));
    }
}

/* Parse buf (a whole cast file) with jansson only. */
static inline void
ct_parse(const char *buf, size_t len, struct ct_cast *c)
{
    const char *p = buf, *end = buf + len, *nl;
    json_error_t e;

    memset(c, 0, sizeof(*c));
    c->events = json_array();
    while (p < end) {
        json_t *j;

        nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &e);
        if (j == NULL)
            fail_msg("line %zu: %s", c->lines + 1, e.text);
        if (c->lines == 0) {
            assert_true(json_is_object(j));
            c->header = j;
        } else {
            assert_true(json_is_array(j));
            assert_int_equal(json_array_size(j), 3);
            json_array_append_new(c->events, j);
        }
        c->lines++;
        p = nl + 1;
    }
    assert_non_null(c->header);
}

static inline void
ct_free(struct ct_cast *c)
{
    json_decref(c->header);
    json_decref(c->events);
}

/* Concatenated data of the events of type (e.g. "o"); *n its length.
 * Caller frees. */
static inline char *
ct_data(const struct ct_cast *c, const char *type, size_t *n)
{
    size_t i, len = 0;
    json_t *ev;
    char *out = malloc(1);

    assert_non_null(out);
    json_array_foreach(c->events, i, ev)
    {
        json_t *d = json_array_get(ev, 2);

        if (strcmp(json_string_value(json_array_get(ev, 1)), type) != 0)
            continue;
        out = realloc(out, len + json_string_length(d) + 1);
        assert_non_null(out);
        memcpy(out + len, json_string_value(d), json_string_length(d));
        len += json_string_length(d);
    }
    out[len] = '\0';
    *n = len;
    return out;
}

/* Lowercase hex SHA-256 of buf. */
static inline void
ct_sha256(const void *buf, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned mdlen = sizeof(md), k;

    assert_int_equal(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL), 1);
    for (k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", md[k]);
}

/* The usual header fields of the tests. */
static inline struct gh_cast_meta
ct_meta(void)
{
    struct gh_cast_meta m = {
        .cols = 80,
        .rows = 24,
        .start_unix = 1700000000,
        .user = "alice",
        .target = "web1",
        .session_id = 7,
        .grant_id = 3,
    };

    return m;
}

#endif
