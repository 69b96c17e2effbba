/*
 * Unit tests for gateway/auth/jwks.c: key sets into pinned public keys.
 * Looks inside struct gh_jwks (gateway/auth/jwks.h) to see which
 * algorithm each key got and that no private part was loaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "jwks.h"

#include "gatehouse/b64.h"
#include "gatehouse/err.h"
#include "gatehouse/jwt.h"
#include "gatehouse/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

static struct {
    EVP_PKEY *rsa, *rsa1024, *ec, *p384, *ed;
    char *j_rsa, *j_rsa1024, *j_ec, *j_p384, *j_ed; /* JWK members */
    char *priv_rsa, *priv_ec, *priv_ed;             /* with private parts */
} K;

static char *
b64(const void *p, size_t n)
{
    char *s;

    assert_int_equal(gh_b64url_encode(p, n, &s), 0);
    return s;
}

static char *
bn_b64(const EVP_PKEY *pk, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;

    assert_int_equal(EVP_PKEY_get_bn_param(pk, param, &bn), 1);
    n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    assert_true(n > 0);
    BN_free(bn);
    return b64(buf, (size_t)n);
}

static char *
rsa_members(const EVP_PKEY *pk, int priv)
{
    static const char *const names[] = {"d", "p", "q", "dp", "dq", "qi"};
    static const char *const params[] = {
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    char *n = bn_b64(pk, OSSL_PKEY_PARAM_RSA_N, 0);
    char *e = bn_b64(pk, OSSL_PKEY_PARAM_RSA_E, 0);
    char *s = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", n, e);
    size_t i;

    for (i = 0; priv && i < 6; i++) {
        char *v = bn_b64(pk, params[i], 0), *t;

        t = gh_asprintf("%s,\"%s\":\"%s\"", s, names[i], v);
        free(s);
        free(v);
        s = t;
    }
    free(n);
    free(e);
    return s;
}

static char *
ec_members(const EVP_PKEY *pk, const char *crv, int coord, int priv)
{
    char *x = bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_X, coord);
    char *y = bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_Y, coord);
    char *d = priv ? bn_b64(pk, OSSL_PKEY_PARAM_PRIV_KEY, coord) : NULL;
    char *s;

    if (d != NULL)
        s = gh_asprintf("\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\","
                        "\"y\":\"%s\",\"d\":\"%s\"",
                        crv, x, y, d);
    else
        s = gh_asprintf("\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\","
                        "\"y\":\"%s\"",
                        crv, x, y);
    free(x);
    free(y);
    free(d);
    return s;
}

static char *
ed_members(const EVP_PKEY *pk, int priv)
{
    unsigned char raw[32];
    size_t n = sizeof(raw);
    char *x, *d = NULL, *s;

    assert_int_equal(EVP_PKEY_get_raw_public_key(pk, raw, &n), 1);
    x = b64(raw, n);
    if (priv) {
        n = sizeof(raw);
        assert_int_equal(EVP_PKEY_get_raw_private_key(pk, raw, &n), 1);
        d = b64(raw, n);
        s = gh_asprintf("\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\","
                        "\"d\":\"%s\"",
                        x, d);
    } else {
        s = gh_asprintf("\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", x);
    }
    free(x);
    free(d);
    return s;
}

static int
setup(void **state)
{
    (void)state;
    K.rsa = EVP_RSA_gen(2048);
    K.rsa1024 = EVP_RSA_gen(1024);
    K.ec = EVP_EC_gen("P-256");
    K.p384 = EVP_EC_gen("P-384");
    K.ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(K.rsa);
    assert_non_null(K.rsa1024);
    assert_non_null(K.ec);
    assert_non_null(K.p384);
    assert_non_null(K.ed);
    K.j_rsa = rsa_members(K.rsa, 0);
    K.j_rsa1024 = rsa_members(K.rsa1024, 0);
    K.j_ec = ec_members(K.ec, "P-256", 32, 0);
    K.j_p384 = ec_members(K.p384, "P-384", 48, 0);
    K.j_ed = ed_members(K.ed, 0);
    K.priv_rsa = rsa_members(K.rsa, 1);
    K.priv_ec = ec_members(K.ec, "P-256", 32, 1);
    K.priv_ed = ed_members(K.ed, 1);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(K.rsa);
    EVP_PKEY_free(K.rsa1024);
    EVP_PKEY_free(K.ec);
    EVP_PKEY_free(K.p384);
    EVP_PKEY_free(K.ed);
    free(K.j_rsa);
    free(K.j_rsa1024);
    free(K.j_ec);
    free(K.j_p384);
    free(K.j_ed);
    free(K.priv_rsa);
    free(K.priv_ec);
    free(K.priv_ed);
    return 0;
}

/* The "n" and "e" members of the RSA key, without its "kty". */
static const char *
rsa_ne(void)
{
    static const char kty[] = "\"kty\":\"RSA\",";

    assert_memory_equal(K.j_rsa, kty, sizeof(kty) - 1);
    return K.j_rsa + sizeof(kty) - 1;
}

/* Parse s; returns the GH_E_* result, *ks the set on success. */
static int
parse(const char *s, struct gh_jwks **ks)
{
    char err[128] = "untouched";
    int r = gh_jwks_parse(s, strlen(s), ks, err, sizeof(err));

    if (r == 0) {
        assert_non_null(*ks);
        assert_string_equal(err, "");
    } else {
        assert_null(*ks);
        assert_true(err[0] != '\0' && strcmp(err, "untouched") != 0);
    }
    return r;
}

/* A set of [bad, good]: the bad key must be skipped, the good one kept. */
static void
assert_skipped(const char *bad_members)
{
    char *s = gh_asprintf("{\"keys\":[{\"kid\":\"bad\",%s},"
                          "{\"kid\":\"good\",%s}]}",
                          bad_members, K.j_ed);
    struct gh_jwks *ks = NULL;

    assert_int_equal(parse(s, &ks), 0);
    assert_int_equal(gh_jwks_count(ks), 1);
    assert_false(gh_jwks_has_kid(ks, "bad"));
    assert_true(gh_jwks_has_kid(ks, "good"));
    gh_jwks_free(ks);
    free(s);
}

/* A set of just {kid:"k", members}: kept with alg, or skipped (alg NONE). */
static void
assert_alone(const char *members, enum gh_jwt_alg alg)
{
    char *s = gh_asprintf("{\"keys\":[{\"kid\":\"k\",%s}]}", members);
    struct gh_jwks *ks = NULL;

    if (alg == GH_JWT_ALG_NONE) {
        assert_int_equal(parse(s, &ks), GH_E_INVAL);
    } else {
        assert_int_equal(parse(s, &ks), 0);
        assert_int_equal(gh_jwks_count(ks), 1);
        assert_int_equal(ks->keys[0].alg, alg);
        assert_string_equal(ks->keys[0].kid, "k");
        gh_jwks_free(ks);
    }
    free(s);
}

static void
test_jwks__parse_errors(void **state)
{
    struct gh_jwks *ks = (struct gh_jwks *)&ks;
    char *s;

    (void)state;
    assert_int_equal(parse("", &ks), GH_E_INVAL);
    assert_int_equal(parse("not json", &ks), GH_E_INVAL);
    assert_int_equal(parse("{\"keys\":[", &ks), GH_E_INVAL);
    assert_int_equal(parse("{}", &ks), GH_E_INVAL);
    assert_int_equal(parse("[]", &ks), GH_E_INVAL);
    assert_int_equal(parse("{\"keys\":{}}", &ks), GH_E_INVAL);
    assert_int_equal(parse("{\"keys\":\"x\"}", &ks), GH_E_INVAL);
    assert_int_equal(parse("{\"Keys\":[]}", &ks), GH_E_INVAL);
    /* an empty set, and a set with nothing usable */
    assert_int_equal(parse("{\"keys\":[]}", &ks), GH_E_INVAL);
    assert_int_equal(parse("{\"keys\":[1,\"a\",null,{}]}", &ks), GH_E_INVAL);
    /* duplicate members */
    s = gh_asprintf("{\"keys\":[{%s}],\"keys\":[]}", K.j_ed);
    assert_int_equal(parse(s, &ks), GH_E_INVAL);
    free(s);
    s = gh_asprintf("{\"keys\":[{%s,\"kty\":\"OKP\"}]}", K.j_ed);
    assert_int_equal(parse(s, &ks), GH_E_INVAL);
    free(s);
    /* NUL inside a string */
    s = gh_asprintf("{\"keys\":[{\"kid\":\"a\\u0000b\",%s}]}", K.j_ed);
    assert_int_equal(parse(s, &ks), GH_E_INVAL);
    free(s);
    /* no document; no error buffer is fine */
    assert_int_equal(gh_jwks_parse(NULL, 0, &ks, NULL, 0), GH_E_INVAL);
    assert_int_equal(gh_jwks_parse("{}", 2, &ks, NULL, 0), GH_E_INVAL);
    assert_null(ks);
}

/* Over GH_JWKS_MAX: refused unread; at the limit: parsed. */
static void
test_jwks__oversize(void **state)
{
    char *head = gh_asprintf("{\"keys\":[{%s}],\"pad\":\"", K.j_ed);
    size_t hl = strlen(head), n;
    char *s = gh_alloc(GH_JWKS_MAX + 2, 1);
    struct gh_jwks *ks = NULL;
    char err[128];

    (void)state;
    memcpy(s, head, hl);
    n = GH_JWKS_MAX + 1;
    memset(s + hl, 'x', n - hl - 2);
    memcpy(s + n - 2, "\"}", 2);
    assert_int_equal(gh_jwks_parse(s, n, &ks, err, sizeof(err)), GH_E_TOOBIG);
    assert_null(ks);
    assert_non_null(strstr(err, "larger"));
    /* the same shape one byte shorter is fine */
    n = GH_JWKS_MAX;
    memset(s + hl, 'x', n - hl - 2);
    memcpy(s + n - 2, "\"}", 2);
    assert_int_equal(gh_jwks_parse(s, n, &ks, err, sizeof(err)), 0);
    assert_int_equal(gh_jwks_count(ks), 1);
    gh_jwks_free(ks);
    free(s);
    free(head);
}

static void
test_jwks__skip_use_enc(void **state)
{
    char *m = gh_asprintf("\"use\":\"enc\",%s", K.j_rsa);

    (void)state;
    assert_skipped(m);
    assert_alone(m, GH_JWT_ALG_NONE);
    free(m);
    m = gh_asprintf("\"use\":1,%s", K.j_rsa);
    assert_skipped(m);
    free(m);
    /* use=sig is what we want */
    m = gh_asprintf("\"use\":\"sig\",%s", K.j_rsa);
    assert_alone(m, GH_JWT_RS256);
    free(m);
}

static void
test_jwks__skip_key_ops_without_verify(void **state)
{
    char *m = gh_asprintf("\"key_ops\":[\"encrypt\"],%s", K.j_ec);

    (void)state;
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"key_ops\":\"verify\",%s", K.j_ec);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"key_ops\":[\"sign\",\"verify\"],%s", K.j_ec);
    assert_alone(m, GH_JWT_ES256);
    free(m);
}

static void
test_jwks__skip_p384(void **state)
{
    char *m;

    (void)state;
    assert_skipped(K.j_p384);
    assert_alone(K.j_p384, GH_JWT_ALG_NONE);
    /* a P-384 key claiming to be P-256 has the wrong coordinate size */
    m = ec_members(K.p384, "P-256", 48, 0);
    assert_skipped(m);
    free(m);
    /* and a real P-256 point labelled as another curve */
    m = ec_members(K.ec, "P-384", 32, 0);
    assert_skipped(m);
    free(m);
    m = ec_members(K.ec, "secp256k1", 32, 0);
    assert_skipped(m);
    free(m);
}

static void
test_jwks__skip_rsa_1024(void **state)
{
    char *m = gh_asprintf("\"alg\":\"RS256\",%s", K.j_rsa1024);

    (void)state;
    assert_skipped(K.j_rsa1024);
    assert_skipped(m);
    assert_alone(K.j_rsa1024, GH_JWT_ALG_NONE);
    free(m);
}

/* A made-up modulus: huge ones cost verification time; even ones and bad
 * exponents are not RSA. */
static void
test_jwks__skip_rsa_bad_numbers(void **state)
{
    unsigned char nb[GH_JWKS_RSA_BITS_MAX / 8 + 1], eb[9];
    char *n, *e, *m;

    (void)state;
    memset(nb, 0xa5, sizeof(nb));
    nb[0] = 0x80;
    n = b64(nb, sizeof(nb)); /* GH_JWKS_RSA_BITS_MAX + 8 bits, odd */
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"", n);
    assert_skipped(m);
    free(m);
    free(n);
    n = b64(nb, GH_JWKS_RSA_BITS_MAX / 8); /* exactly the maximum */
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"", n);
    assert_alone(m, GH_JWT_RS256);
    free(m);
    free(n);
    nb[255] = 0xa4; /* 2048 bits, even */
    n = b64(nb, 256);
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"", n);
    assert_skipped(m);
    free(m);
    free(n);
    nb[255] = 0xa5;
    n = b64(nb, 256);
    /* e = 1 makes every message its own signature */
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQ\"", n);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AA\"", n);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAA\"", n);
    assert_skipped(m); /* 65536: even */
    free(m);
    memset(eb, 0xff, sizeof(eb));
    e = b64(eb, sizeof(eb)); /* 72 bits */
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", n, e);
    assert_skipped(m);
    free(m);
    free(e);
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"Aw\"", n);
    assert_alone(m, GH_JWT_RS256); /* e = 3 */
    free(m);
    /* n or e missing, not a string, not base64url */
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\"", n);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":65537", n);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s=\",\"e\":\"AQAB\"", n);
    assert_skipped(m);
    free(m);
    free(n);
}

static void
test_jwks__skip_unknown_alg(void **state)
{
    static const char *const algs[] = {"RS384", "PS512",   "ES512", "none",
                                       "rs256", "Ed25519", "EDDSA", "HS256"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char *m = gh_asprintf("\"alg\":\"%s\",%s", algs[i], K.j_rsa);

        assert_skipped(m);
        free(m);
    }
}

/* An "alg" that does not fit the key type. */
static void
test_jwks__skip_mismatched_alg(void **state)
{
    char *m;

    (void)state;
    m = gh_asprintf("\"alg\":\"ES256\",%s", K.j_rsa);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"alg\":\"RS256\",%s", K.j_ec);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"alg\":\"EdDSA\",%s", K.j_ec);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"alg\":\"PS256\",%s", K.j_ed);
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"alg\":7,%s", K.j_rsa);
    assert_skipped(m);
    free(m);
    /* kty decides: RSA members under another kty are not an RSA key */
    m = gh_asprintf("\"kty\":\"EC\",\"alg\":\"PS256\",%s", rsa_ne());
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"kty\":\"OKP\",\"alg\":\"RS256\",%s", rsa_ne());
    assert_skipped(m);
    free(m);
}

/* HMAC secrets are never verification keys here. */
static void
test_jwks__skip_hs256_oct(void **state)
{
    char *m;

    (void)state;
    /* not even with RSA members next to the secret */
    m = gh_asprintf("\"kty\":\"oct\",\"k\":\"c2VjcmV0\",%s", rsa_ne());
    assert_skipped(m);
    free(m);
    m = gh_asprintf("\"kty\":\"oct\",\"alg\":\"RS256\",%s", rsa_ne());
    assert_skipped(m);
    free(m);
    assert_skipped("\"kty\":\"oct\",\"alg\":\"HS256\","
                   "\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0\"");
    assert_skipped("\"kty\":\"oct\","
                   "\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0\"");
    assert_alone("\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"c2VjcmV0\"",
                 GH_JWT_ALG_NONE);
}

static void
test_jwks__skip_other_shapes(void **state)
{
    char *m, *x;
    unsigned char raw[57];

    (void)state;
    /* kid not a string */
    m = gh_asprintf("{\"keys\":[{\"kid\":5,%s},{\"kid\":\"good\",%s}]}",
                    K.j_rsa, K.j_ed);
    {
        struct gh_jwks *ks = NULL;

        assert_int_equal(parse(m, &ks), 0);
        assert_int_equal(gh_jwks_count(ks), 1);
        assert_int_equal(ks->keys[0].alg, GH_JWT_EDDSA);
        gh_jwks_free(ks);
    }
    free(m);
    /* no kty, unknown kty, Ed448 */
    assert_skipped("\"n\":\"AQAB\",\"e\":\"AQAB\"");
    assert_skipped("\"kty\":\"rsa\",\"n\":\"AQAB\",\"e\":\"AQAB\"");
    memset(raw, 0x11, sizeof(raw));
    x = b64(raw, sizeof(raw));
    m = gh_asprintf("\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"%s\"", x);
    assert_skipped(m);
    free(m);
    free(x);
    /* Ed25519 key of the wrong length */
    x = b64(raw, 31);
    m = gh_asprintf("\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", x);
    assert_skipped(m);
    free(m);
    free(x);
    /* "crv" missing */
    assert_skipped("\"kty\":\"EC\",\"x\":\"AAAA\",\"y\":\"AAAA\"");
}

/* A P-256 "point" that is not on the curve is never loaded. */
static void
test_jwks__skip_ec_off_curve(void **state)
{
    char *x = NULL, *y = NULL, *m;
    unsigned char *yb;
    size_t n;
    const char *p;

    (void)state;
    /* take the real key's members and change one bit of y */
    p = strstr(K.j_ec, "\"y\":\"") + 5;
    assert_int_equal(gh_b64url_decode(p, 43, &yb, &n), 0);
    assert_int_equal(n, 32);
    yb[31] ^= 1;
    y = b64(yb, n);
    p = strstr(K.j_ec, "\"x\":\"") + 5;
    x = gh_strndup(p, 43);
    m = gh_asprintf("\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
                    "\"y\":\"%s\"",
                    x, y);
    assert_skipped(m);
    free(m);
    /* the point at infinity has no affine coordinates: all zero */
    memset(yb, 0, 32);
    free(y);
    y = b64(yb, 32);
    m = gh_asprintf("\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
                    "\"y\":\"%s\"",
                    y, y);
    assert_skipped(m);
    free(m);
    free(x);
    free(y);
    free(yb);
}

/* Without "alg": RSA -> RS256, EC P-256 -> ES256, OKP Ed25519 -> EdDSA;
 * with one that fits, that one. */
static void
test_jwks__alg_inference(void **state)
{
    char *m;

    (void)state;
    assert_alone(K.j_rsa, GH_JWT_RS256);
    assert_alone(K.j_ec, GH_JWT_ES256);
    assert_alone(K.j_ed, GH_JWT_EDDSA);
    m = gh_asprintf("\"alg\":\"PS256\",%s", K.j_rsa);
    assert_alone(m, GH_JWT_PS256);
    free(m);
    m = gh_asprintf("\"alg\":\"RS256\",%s", K.j_rsa);
    assert_alone(m, GH_JWT_RS256);
    free(m);
    m = gh_asprintf("\"alg\":\"ES256\",%s", K.j_ec);
    assert_alone(m, GH_JWT_ES256);
    free(m);
    m = gh_asprintf("\"alg\":\"EdDSA\",%s", K.j_ed);
    assert_alone(m, GH_JWT_EDDSA);
    free(m);
}

/* Private members are ignored: never decoded, never loaded. */
static void
test_jwks__private_members_ignored(void **state)
{
    char *s = gh_asprintf("{\"keys\":[{\"kid\":\"r\",%s},{\"kid\":\"e\",%s},"
                          "{\"kid\":\"o\",%s}]}",
                          K.priv_rsa, K.priv_ec, K.priv_ed);
    struct gh_jwks *ks = NULL;
    unsigned char raw[64];
    size_t n = sizeof(raw);
    BIGNUM *bn = NULL;

    (void)state;
    assert_non_null(strstr(K.priv_rsa, "\"qi\":"));
    assert_int_equal(parse(s, &ks), 0);
    assert_int_equal(gh_jwks_count(ks), 3);
    assert_int_equal(
        EVP_PKEY_get_bn_param(ks->keys[0].pkey, OSSL_PKEY_PARAM_RSA_D, &bn), 0);
    assert_int_equal(
        EVP_PKEY_get_bn_param(ks->keys[1].pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn),
        0);
    assert_null(bn);
    assert_int_equal(EVP_PKEY_get_raw_private_key(ks->keys[2].pkey, raw, &n),
                     0);
    gh_jwks_free(ks);
    free(s);
    /* garbage private members do not matter either */
    assert_alone("\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                 "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
                 "\"d\":\"!!not base64!!\",\"p\":5,\"q\":[],\"dp\":{},"
                 "\"dq\":null,\"qi\":true",
                 GH_JWT_EDDSA);
}

/* The first key with a kid wins; a skipped key does not reserve it. */
static void
test_jwks__duplicate_kid_keeps_first(void **state)
{
    char *s = gh_asprintf("{\"keys\":[{\"kid\":\"a\",%s},{\"kid\":\"a\",%s},"
                          "{\"kid\":\"a\",%s}]}",
                          K.j_rsa, K.j_ec, K.j_ed);
    struct gh_jwks *ks = NULL;

    (void)state;
    assert_int_equal(parse(s, &ks), 0);
    assert_int_equal(gh_jwks_count(ks), 1);
    assert_int_equal(ks->keys[0].alg, GH_JWT_RS256);
    gh_jwks_free(ks);
    free(s);
    s = gh_asprintf("{\"keys\":[{\"kid\":\"a\",%s},{\"kid\":\"a\",%s}]}",
                    K.j_rsa1024, K.j_ec);
    assert_int_equal(parse(s, &ks), 0);
    assert_int_equal(gh_jwks_count(ks), 1);
    assert_int_equal(ks->keys[0].alg, GH_JWT_ES256);
    gh_jwks_free(ks);
    free(s);
}

static void
test_jwks__count_and_has_kid(void **state)
{
    char *s = gh_asprintf("{\"keys\":[{\"kid\":\"r\",%s},{%s},"
                          "{\"kid\":\"\",%s},{\"kid\":\"bad\",%s}],"
                          "\"other\":1}",
                          K.j_rsa, K.j_ec, K.j_ed, K.j_p384);
    struct gh_jwks *ks = NULL;

    (void)state;
    assert_int_equal(parse(s, &ks), 0);
    assert_int_equal(gh_jwks_count(ks), 3);
    assert_true(gh_jwks_has_kid(ks, "r"));
    assert_true(gh_jwks_has_kid(ks, ""));
    assert_false(gh_jwks_has_kid(ks, "bad"));
    assert_false(gh_jwks_has_kid(ks, "R"));
    assert_false(gh_jwks_has_kid(ks, NULL));
    assert_null(ks->keys[1].kid);
    assert_int_equal(gh_jwks_count(NULL), 0);
    assert_false(gh_jwks_has_kid(NULL, "r"));
    gh_jwks_free(ks);
    gh_jwks_free(NULL);
    free(s);
}

/* At most GH_JWKS_KEYS_MAX keys are kept; the rest are ignored. */
static void
test_jwks__keys_max(void **state)
{
    char *s = gh_strdup("{\"keys\":[");
    struct gh_jwks *ks = NULL;
    char kid[32];
    int i;

    (void)state;
    for (i = 0; i < GH_JWKS_KEYS_MAX + 6; i++) {
        char *t =
            gh_asprintf("%s%s{\"kid\":\"k%d\",%s}", s, i ? "," : "", i, K.j_ed);

        free(s);
        s = t;
    }
    {
        char *t = gh_asprintf("%s]}", s);

        free(s);
        s = t;
    }
    assert_int_equal(parse(s, &ks), 0);
    assert_int_equal(gh_jwks_count(ks), GH_JWKS_KEYS_MAX);
    snprintf(kid, sizeof(kid), "k%d", GH_JWKS_KEYS_MAX - 1);
    assert_true(gh_jwks_has_kid(ks, kid));
    snprintf(kid, sizeof(kid), "k%d", GH_JWKS_KEYS_MAX);
    assert_false(gh_jwks_has_kid(ks, kid));
    gh_jwks_free(ks);
    free(s);
}

/* Key choice for a token (gh_jwks_select, used by gh_jwt_verify). */
static void
test_jwks__select(void **state)
{
    char *s = gh_asprintf("{\"keys\":[{\"kid\":\"r\",%s},"
                          "{\"kid\":\"p\",\"alg\":\"PS256\",%s},"
                          "{\"kid\":\"e1\",%s},{\"kid\":\"e2\",%s}]}",
                          K.j_rsa, K.j_rsa, K.j_ec, K.j_ec);
    struct gh_jwks *ks = NULL;
    const struct gh_jwk *k;

    (void)state;
    assert_int_equal(parse(s, &ks), 0);
    assert_int_equal(gh_jwks_select(ks, "r", GH_JWT_RS256, &k), GH_JWT_OK);
    assert_ptr_equal(k, &ks->keys[0]);
    assert_int_equal(gh_jwks_select(ks, "r", GH_JWT_PS256, &k),
                     GH_JWT_ALG_MISMATCH);
    assert_null(k);
    assert_int_equal(gh_jwks_select(ks, "x", GH_JWT_RS256, &k),
                     GH_JWT_UNKNOWN_KID);
    /* no kid: one RS256 key, one PS256, two ES256, no EdDSA */
    assert_int_equal(gh_jwks_select(ks, NULL, GH_JWT_RS256, &k), GH_JWT_OK);
    assert_ptr_equal(k, &ks->keys[0]);
    assert_int_equal(gh_jwks_select(ks, NULL, GH_JWT_PS256, &k), GH_JWT_OK);
    assert_ptr_equal(k, &ks->keys[1]);
    assert_int_equal(gh_jwks_select(ks, NULL, GH_JWT_ES256, &k),
                     GH_JWT_UNKNOWN_KID);
    assert_int_equal(gh_jwks_select(ks, NULL, GH_JWT_EDDSA, &k),
                     GH_JWT_UNKNOWN_KID);
    assert_int_equal(gh_jwks_select(NULL, "r", GH_JWT_RS256, &k),
                     GH_JWT_UNKNOWN_KID);
    gh_jwks_free(ks);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwks__parse_errors),
        cmocka_unit_test(test_jwks__oversize),
        cmocka_unit_test(test_jwks__skip_use_enc),
        cmocka_unit_test(test_jwks__skip_key_ops_without_verify),
        cmocka_unit_test(test_jwks__skip_p384),
        cmocka_unit_test(test_jwks__skip_rsa_1024),
        cmocka_unit_test(test_jwks__skip_rsa_bad_numbers),
        cmocka_unit_test(test_jwks__skip_unknown_alg),
        cmocka_unit_test(test_jwks__skip_mismatched_alg),
        cmocka_unit_test(test_jwks__skip_hs256_oct),
        cmocka_unit_test(test_jwks__skip_other_shapes),
        cmocka_unit_test(test_jwks__skip_ec_off_curve),
        cmocka_unit_test(test_jwks__alg_inference),
        cmocka_unit_test(test_jwks__private_members_ignored),
        cmocka_unit_test(test_jwks__duplicate_kid_keeps_first),
        cmocka_unit_test(test_jwks__count_and_has_kid),
        cmocka_unit_test(test_jwks__keys_max),
        cmocka_unit_test(test_jwks__select),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
