/* Unit tests for gateway/core/b64.c: base64url without padding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/b64.h"
#include "gatehouse/err.h"

#include <stdlib.h>
#include <string.h>

/* Decode s (NUL-terminated); returns the GH_E_* result, frees output. */
static int
decode_rc(const char *s)
{
    unsigned char *out = (unsigned char *)"not touched";
    size_t n = 99;
    int r = gh_b64url_decode(s, strlen(s), &out, &n);

    if (r != 0) {
        assert_null(out);
        assert_int_equal(n, 0);
    }
    free(out);
    return r;
}

/* Every length 0..64 survives a round trip; the text is unpadded and uses
 * only the URL-safe alphabet. */
static void
test_b64__round_trip_all_lengths(void **state)
{
    unsigned char in[64], *dec;
    size_t len, i, n;
    char *enc;

    (void)state;
    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 0xf8); /* hits '+' and '/' too */
    for (len = 0; len <= sizeof(in); len++) {
        assert_int_equal(gh_b64url_encode(in, len, &enc), 0);
        assert_int_equal(strlen(enc), (len * 4 + 2) / 3);
        assert_null(strpbrk(enc, "=+/"));
        assert_int_equal(gh_b64url_decode(enc, strlen(enc), &dec, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, in, len);
        assert_int_equal(dec[n], 0); /* NUL after the data */
        free(enc);
        free(dec);
    }
}

/* Known vectors, including the two URL-safe characters. */
static void
test_b64__vectors(void **state)
{
    static const unsigned char ff[] = {0xfb, 0xff, 0xbf};
    unsigned char *dec;
    size_t n;
    char *enc;

    (void)state;
    assert_int_equal(gh_b64url_encode("f", 1, &enc), 0);
    assert_string_equal(enc, "Zg");
    free(enc);
    assert_int_equal(gh_b64url_encode("foob", 4, &enc), 0);
    assert_string_equal(enc, "Zm9vYg");
    free(enc);
    assert_int_equal(gh_b64url_encode(ff, sizeof(ff), &enc), 0);
    assert_string_equal(enc, "-_-_");
    free(enc);
    assert_int_equal(gh_b64url_decode("-_-_", 4, &dec, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(dec, ff, 3);
    free(dec);
    /* Only len bytes are read: the rest of the string does not count. */
    assert_int_equal(gh_b64url_decode("Zm9vYg!!!", 6, &dec, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(dec, "foob", 4);
    free(dec);
    assert_int_equal(gh_b64url_decode("", 0, &dec, &n), 0);
    assert_int_equal(n, 0);
    free(dec);
}

/* '=' padding is refused wherever it is, even where standard base64
 * would want it. */
static void
test_b64__refuses_padding(void **state)
{
    (void)state;
    assert_int_equal(decode_rc("Zg=="), GH_E_INVAL);
    assert_int_equal(decode_rc("Zm8="), GH_E_INVAL);
    assert_int_equal(decode_rc("Zg"), 0);
    assert_int_equal(decode_rc("Zm8"), 0);
    assert_int_equal(decode_rc("Zg==Zm9v"), GH_E_INVAL);
    assert_int_equal(decode_rc("===="), GH_E_INVAL);
}

/* The standard alphabet's '+' and '/' are not base64url. */
static void
test_b64__refuses_standard_alphabet(void **state)
{
    (void)state;
    assert_int_equal(decode_rc("-_-_"), 0);
    assert_int_equal(decode_rc("+_-_"), GH_E_INVAL);
    assert_int_equal(decode_rc("-/-_"), GH_E_INVAL);
}

/* Whitespace anywhere (EVP_DecodeBlock would skip it at the ends). */
static void
test_b64__refuses_whitespace(void **state)
{
    (void)state;
    assert_int_equal(decode_rc(" Zm9v"), GH_E_INVAL);
    assert_int_equal(decode_rc("Zm9v "), GH_E_INVAL);
    assert_int_equal(decode_rc("Zm\n9v"), GH_E_INVAL);
    assert_int_equal(decode_rc("Zm9v\t"), GH_E_INVAL);
    assert_int_equal(decode_rc("Zm9v\r"), GH_E_INVAL);
}

/* One character past a whole group is 6 bits: no byte. */
static void
test_b64__refuses_bad_length(void **state)
{
    (void)state;
    assert_int_equal(decode_rc("Z"), GH_E_INVAL);
    assert_int_equal(decode_rc("Zm9vY"), GH_E_INVAL);
    assert_int_equal(decode_rc("Zm9vYmFyZ"), GH_E_INVAL);
}

/* Any byte outside the alphabet, NUL and high bytes included. */
static void
test_b64__refuses_other_bytes(void **state)
{
    static const char with_nul[] = {'Z', 'm', '\0', 'v'};
    unsigned char *out;
    size_t n;
    char buf[5];
    int c;

    (void)state;
    assert_int_equal(gh_b64url_decode(with_nul, 4, &out, &n), GH_E_INVAL);
    assert_null(out);
    for (c = 1; c < 256; c++) {
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '-' || c == '_';

        /* c as the first of four characters: "cAAA" */
        memcpy(buf, "AAAA", 5);
        buf[0] = (char)c;
        assert_int_equal(gh_b64url_decode(buf, 4, &out, &n),
                         ok ? 0 : GH_E_INVAL);
        free(out);
    }
}

/* Unused low bits of the last character must be zero: "Zh" would also
 * decode to "f" if they were ignored. */
static void
test_b64__refuses_noncanonical_tail(void **state)
{
    (void)state;
    assert_int_equal(decode_rc("Zg"), 0);
    assert_int_equal(decode_rc("Zh"), GH_E_INVAL);
    assert_int_equal(decode_rc("Zm8"), 0);
    assert_int_equal(decode_rc("Zm9"), GH_E_INVAL);
}

/* RFC 7636 appendix B: the verifier and its S256 challenge. */
static void
test_b64__pkce_s256_vector(void **state)
{
    char *c = NULL;

    (void)state;
    assert_int_equal(
        gh_b64url_sha256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", &c), 0);
    assert_string_equal(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    free(c);
}

static void
test_b64__random(void **state)
{
    char *a = NULL, *b = NULL;

    (void)state;
    assert_int_equal(gh_b64url_random(32, &a), 0);
    assert_int_equal(gh_b64url_random(32, &b), 0);
    assert_int_equal(strlen(a), 43);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    assert_int_equal(gh_b64url_random(0, &a), GH_E_INVAL);
    assert_null(a);
    assert_int_equal(gh_b64url_random(65, &a), GH_E_INVAL);
    assert_null(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64__round_trip_all_lengths),
        cmocka_unit_test(test_b64__vectors),
        cmocka_unit_test(test_b64__refuses_padding),
        cmocka_unit_test(test_b64__refuses_standard_alphabet),
        cmocka_unit_test(test_b64__refuses_whitespace),
        cmocka_unit_test(test_b64__refuses_bad_length),
        cmocka_unit_test(test_b64__refuses_other_bytes),
        cmocka_unit_test(test_b64__refuses_noncanonical_tail),
        cmocka_unit_test(test_b64__pkce_s256_vector),
        cmocka_unit_test(test_b64__random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
