/*
 * Unit tests for gateway/auth/jwt.c: JWS/JWT verification.
 *
 * The test makes its own keys (RSA 2048 twice, EC P-256, Ed25519), publishes
 * their public halves as a JWKS and signs each token itself with OpenSSL,
 * so every refusal is checked against a token that is otherwise valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/b64.h"
#include "gatehouse/err.h"
#include "gatehouse/jwt.h"
#include "gatehouse/mem.h"
#include "../gh_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#define ISS  "https://idp.example.com"
#define AUD  "gatehouse"
#define NOW  INT64_C(1700000000)
#define SKEW INT64_C(60)

/* How a test token is signed, whatever its header says. */
enum how {
    SIGN_RS256,
    SIGN_PS256,
    SIGN_PS256_SALT20, /* PSS with a 20-byte salt instead of 32 */
    SIGN_ES256,
    SIGN_ES256_DER, /* ECDSA as DER instead of JOSE r||s */
    SIGN_EDDSA,
    SIGN_HS256_PEM, /* HMAC keyed with the RSA public key's PEM */
    SIGN_EMPTY      /* no signature at all */
};

static struct {
    EVP_PKEY *rsa;  /* kid "rs" (RS256, inferred) and "ps" (alg PS256) */
    EVP_PKEY *rsa2; /* kid "rs2" (RS256) */
    EVP_PKEY *ec;   /* kid "ec" (ES256, inferred) */
    EVP_PKEY *ed;   /* kid "ed" (EdDSA, inferred) */
    struct gh_jwks *ks;
    char *claims; /* the usual claims, claims("") */
} K;

static const struct gh_jwt_expect EXPECT = {
    .issuer = ISS,
    .audience = AUD,
    .now = NOW,
    .skew = SKEW,
};

/* ---- building keys and tokens ---- */

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
    unsigned char buf[512];
    int n;

    assert_int_equal(EVP_PKEY_get_bn_param(pk, param, &bn), 1);
    n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    assert_true(n > 0);
    BN_free(bn);
    return b64(buf, (size_t)n);
}

/* The public JWK of pk as JSON members (no braces), e.g. for a JWKS. */
static char *
jwk_members(const EVP_PKEY *pk)
{
    char *a, *b, *s;

    if (EVP_PKEY_is_a(pk, "RSA")) {
        a = bn_b64(pk, OSSL_PKEY_PARAM_RSA_N, 0);
        b = bn_b64(pk, OSSL_PKEY_PARAM_RSA_E, 0);
        s = gh_asprintf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", a, b);
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        a = bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32);
        b = bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
        s = gh_asprintf("\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
                        "\"y\":\"%s\"",
                        a, b);
    } else {
        unsigned char raw[32];
        size_t n = sizeof(raw);

        assert_int_equal(EVP_PKEY_get_raw_public_key(pk, raw, &n), 1);
        a = b64(raw, n);
        b = NULL;
        s = gh_asprintf("\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", a);
    }
    free(a);
    free(b);
    return s;
}

/* sig of msg made the way how says, into a new buffer. */
static unsigned char *
sign_raw(EVP_PKEY *key, enum how how, const char *msg, size_t *siglen)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = gh_alloc(1024, 1);
    const char *md = how == SIGN_EDDSA ? NULL : "SHA256";
    size_t n = 1024;

    assert_non_null(mctx);
    if (how == SIGN_EMPTY) {
        *siglen = 0;
        EVP_MD_CTX_free(mctx);
        return sig;
    }
    if (how == SIGN_HS256_PEM) {
        BIO *bio = BIO_new(BIO_s_mem());
        char *pem;
        long pemlen;

        assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
        pemlen = BIO_get_mem_data(bio, &pem);
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem,
                                  (size_t)pemlen, (const unsigned char *)msg,
                                  strlen(msg), sig, n, siglen));
        BIO_free(bio);
        EVP_MD_CTX_free(mctx);
        return sig;
    }
    assert_int_equal(
        EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, key, NULL), 1);
    if (how == SIGN_PS256 || how == SIGN_PS256_SALT20) {
        assert_int_equal(
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, how == SIGN_PS256 ? 32 : 20),
            1);
    }
    assert_int_equal(
        EVP_DigestSign(mctx, sig, &n, (const unsigned char *)msg, strlen(msg)),
        1);
    EVP_MD_CTX_free(mctx);
    if (how == SIGN_ES256) {
        /* DER ECDSA-Sig-Value into JOSE r || s. */
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        const BIGNUM *r, *s;

        assert_non_null(es);
        ECDSA_SIG_get0(es, &r, &s);
        assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
        assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
        ECDSA_SIG_free(es);
        n = 64;
    }
    *siglen = n;
    return sig;
}

/* input "." b64(signature of input), whatever input looks like. */
static char *
sign_input(const char *input, EVP_PKEY *key, enum how how)
{
    unsigned char *sig;
    size_t siglen;
    char *s, *tok;

    sig = sign_raw(key, how, input, &siglen);
    s = b64(sig, siglen);
    tok = gh_asprintf("%s.%s", input, s);
    free(sig);
    free(s);
    return tok;
}

/* b64(hdr).b64(pl) signed with key the way how says. */
static char *
make_token(const char *hdr, const char *pl, EVP_PKEY *key, enum how how)
{
    char *h = b64(hdr, strlen(hdr)), *p = b64(pl, strlen(pl));
    char *input = gh_asprintf("%s.%s", h, p), *tok;

    tok = sign_input(input, key, how);
    free(h);
    free(p);
    free(input);
    return tok;
}

/* Standard base64 of s, '=' padding kept (a new string). */
static char *
std_b64(const char *s)
{
    size_t n = strlen(s);
    char *out = gh_alloc((n + 2) / 3 * 4 + 1, 1);

    assert_true(EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s,
                                (int)n) > 0);
    return out;
}

static const char *
how_alg(enum how how)
{
    switch (how) {
    case SIGN_RS256:
        return "RS256";
    case SIGN_PS256:
    case SIGN_PS256_SALT20:
        return "PS256";
    case SIGN_ES256:
    case SIGN_ES256_DER:
        return "ES256";
    case SIGN_EDDSA:
        return "EdDSA";
    case SIGN_HS256_PEM:
        return "HS256";
    case SIGN_EMPTY:
        break;
    }
    return "none";
}

static EVP_PKEY *
how_key(enum how how)
{
    switch (how) {
    case SIGN_ES256:
    case SIGN_ES256_DER:
        return K.ec;
    case SIGN_EDDSA:
        return K.ed;
    default:
        return K.rsa;
    }
}

/* Header {"alg":<how's alg>,"kid":kid} (no kid when NULL), signed with
 * how's key. */
static char *
std_token(enum how how, const char *kid, const char *pl)
{
    char *hdr, *tok;

    if (kid != NULL)
        hdr = gh_asprintf("{\"alg\":\"%s\",\"kid\":\"%s\"}", how_alg(how), kid);
    else
        hdr = gh_asprintf("{\"alg\":\"%s\"}", how_alg(how));
    tok = make_token(hdr, pl, how_key(how), how);
    free(hdr);
    return tok;
}

/* The usual claims plus extra members (",\"k\":v" or ""). */
static char *
claims(const char *extra)
{
    return gh_asprintf("{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"aud\":\"" AUD
                       "\",\"exp\":%lld,\"iat\":%lld,\"jti\":\"j1\"%s}",
                       (long long)(NOW + 300), (long long)NOW, extra);
}

/* Claims with iss/sub/aud and the given time members (JSON text). */
static char *
claims_times(const char *times)
{
    return gh_asprintf("{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"aud\":\"" AUD
                       "\",%s}",
                       times);
}

/* Verify tok (then free it) against ex (NULL: EXPECT); the reason code. */
static const char *
verify_free(char *tok, const struct gh_jwt_expect *ex, struct gh_jwt_info *info)
{
    struct gh_jwt *t = (struct gh_jwt *)&t; /* must be cleared */
    enum gh_jwt_reason r;

    r = gh_jwt_verify(tok, strlen(tok), K.ks, ex != NULL ? ex : &EXPECT, &t,
                      info);
    if (r == GH_JWT_OK)
        assert_non_null(t);
    else
        assert_null(t);
    gh_jwt_free(t);
    free(tok);
    return gh_jwt_reason_code(r);
}

/* A signed token with these claims (how's alg and default kid). */
static const char *
verify_claims(enum how how, char *pl, const struct gh_jwt_expect *ex)
{
    static const char *const kids[] = {
        [SIGN_RS256] = "rs",
        [SIGN_PS256] = "ps",
        [SIGN_ES256] = "ec",
        [SIGN_EDDSA] = "ed",
    };
    char *tok = std_token(how, kids[how], pl);

    free(pl);
    return verify_free(tok, ex, NULL);
}

static int
setup(void **state)
{
    char *m[4], *jwks;
    char err[128];
    size_t i;

    (void)state;
    K.rsa = EVP_RSA_gen(2048);
    K.rsa2 = EVP_RSA_gen(2048);
    K.ec = EVP_EC_gen("P-256");
    K.ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(K.rsa);
    assert_non_null(K.rsa2);
    assert_non_null(K.ec);
    assert_non_null(K.ed);
    m[0] = jwk_members(K.rsa);
    m[1] = jwk_members(K.rsa2);
    m[2] = jwk_members(K.ec);
    m[3] = jwk_members(K.ed);
    jwks = gh_asprintf("{\"keys\":["
                       "{\"kid\":\"rs\",\"use\":\"sig\",%s},"
                       "{\"kid\":\"ps\",\"alg\":\"PS256\",%s},"
                       "{\"kid\":\"rs2\",%s},"
                       "{\"kid\":\"ec\",%s},"
                       "{\"kid\":\"ed\",%s}]}",
                       m[0], m[0], m[1], m[2], m[3]);
    assert_int_equal(gh_jwks_parse(jwks, strlen(jwks), &K.ks, err, sizeof(err)),
                     0);
    assert_int_equal(gh_jwks_count(K.ks), 5);
    free(jwks);
    for (i = 0; i < 4; i++)
        free(m[i]);
    K.claims = claims("");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    gh_jwks_free(K.ks);
    free(K.claims);
    EVP_PKEY_free(K.rsa);
    EVP_PKEY_free(K.rsa2);
    EVP_PKEY_free(K.ec);
    EVP_PKEY_free(K.ed);
    return 0;
}

/* ---- accepted tokens ---- */

static void
check_valid(enum how how, const char *kid)
{
    char *pl = claims(",\"email\":\"a@example.com\",\"n\":5");
    char *tok = std_token(how, kid, pl);
    struct gh_jwt_info info;
    struct gh_jwt *t = NULL;

    assert_int_equal(gh_jwt_verify(tok, strlen(tok), K.ks, &EXPECT, &t, &info),
                     GH_JWT_OK);
    assert_non_null(t);
    assert_string_equal(gh_jwt_claim_str(t, "sub"), "alice");
    assert_string_equal(gh_jwt_claim_str(t, "iss"), ISS);
    assert_string_equal(gh_jwt_claim_str(t, "email"), "a@example.com");
    assert_null(gh_jwt_claim_str(t, "n")); /* not a string */
    assert_null(gh_jwt_claim_str(t, "absent"));
    assert_int_equal(json_integer_value(json_object_get(gh_jwt_claims(t), "n")),
                     5);
    assert_int_equal(gh_jwt_exp(t), NOW + 300);
    assert_string_equal(info.sub, "alice");
    assert_string_equal(info.alg, how_alg(how));
    gh_jwt_free(t);
    free(tok);
    free(pl);
}

static void
test_jwt__valid_rs256(void **state)
{
    (void)state;
    check_valid(SIGN_RS256, "rs");
}

static void
test_jwt__valid_ps256(void **state)
{
    (void)state;
    check_valid(SIGN_PS256, "ps");
}

static void
test_jwt__valid_es256(void **state)
{
    (void)state;
    check_valid(SIGN_ES256, "ec");
}

static void
test_jwt__valid_eddsa(void **state)
{
    (void)state;
    check_valid(SIGN_EDDSA, "ed");
}

/* Without a kid, the one key of the token's alg is used; with two keys of
 * that alg (rs and rs2 are both RS256), none is. */
static void
test_jwt__no_kid_needs_one_key_of_alg(void **state)
{
    (void)state;
    check_valid(SIGN_EDDSA, NULL);
    check_valid(SIGN_ES256, NULL);
    check_valid(SIGN_PS256, NULL);
    assert_string_equal(
        verify_free(std_token(SIGN_RS256, NULL, K.claims), NULL, NULL),
        "unknown_kid");
}

/* ---- the algorithm comes from the key ---- */

static void
test_jwt__alg_none_refused(void **state)
{
    (void)state;
    assert_string_equal(verify_free(make_token("{\"alg\":\"none\",\"kid\":"
                                               "\"rs\"}",
                                               K.claims, K.rsa, SIGN_EMPTY),
                                    NULL, NULL),
                        "alg_refused");
    assert_string_equal(verify_free(make_token("{\"alg\":\"none\"}", K.claims,
                                               K.rsa, SIGN_EMPTY),
                                    NULL, NULL),
                        "alg_refused");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"None\",\"kid\":\"rs\"}", K.claims,
                               K.rsa, SIGN_EMPTY),
                    NULL, NULL),
        "alg_refused");
}

/* The classic confusion: HS256 keyed with the RSA public key's PEM. */
static void
test_jwt__hs256_with_rsa_pem_refused(void **state)
{
    (void)state;
    assert_string_equal(
        verify_free(std_token(SIGN_HS256_PEM, "rs", K.claims), NULL, NULL),
        "alg_refused");
    assert_string_equal(
        verify_free(std_token(SIGN_HS256_PEM, NULL, K.claims), NULL, NULL),
        "alg_refused");
}

/* Algorithms we do not support, and near-misses of the names we do. */
static void
test_jwt__unknown_alg_refused(void **state)
{
    static const char *const algs[] = {"RS384",   "RS512", "ES384",
                                       "HS512",   "rs256", "RS256 ",
                                       "Ed25519", "EDDSA", ""};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char *hdr = gh_asprintf("{\"alg\":\"%s\",\"kid\":\"rs\"}", algs[i]);
        char *pl = claims("");

        assert_string_equal(
            verify_free(make_token(hdr, pl, K.rsa, SIGN_RS256), NULL, NULL),
            "alg_refused");
        free(hdr);
        free(pl);
    }
}

/* RS256 token for a key pinned to PS256, and the other way round: the
 * signatures are good for that RSA key, only the algorithm is wrong. */
static void
test_jwt__alg_mismatch(void **state)
{
    (void)state;
    assert_string_equal(
        verify_free(std_token(SIGN_RS256, "ps", K.claims), NULL, NULL),
        "alg_mismatch");
    assert_string_equal(
        verify_free(std_token(SIGN_PS256, "rs", K.claims), NULL, NULL),
        "alg_mismatch");
    assert_string_equal(
        verify_free(std_token(SIGN_ES256, "ed", K.claims), NULL, NULL),
        "alg_mismatch");
}

/* RS256 means PKCS#1 v1.5 and PS256 means a 32-byte salt: a PSS signature
 * in an RS256 token, or another salt length, does not verify. */
static void
test_jwt__padding_pinned(void **state)
{
    char *hdr = gh_strdup("{\"alg\":\"RS256\",\"kid\":\"rs\"}");
    char *pl = claims("");

    (void)state;
    assert_string_equal(
        verify_free(make_token(hdr, pl, K.rsa, SIGN_PS256), NULL, NULL),
        "bad_signature");
    assert_string_equal(
        verify_free(std_token(SIGN_PS256_SALT20, "ps", K.claims), NULL, NULL),
        "bad_signature");
    free(hdr);
    free(pl);
}

/* ---- key selection ---- */

static void
test_jwt__unknown_kid(void **state)
{
    (void)state;
    assert_string_equal(
        verify_free(std_token(SIGN_RS256, "nope", K.claims), NULL, NULL),
        "unknown_kid");
    assert_string_equal(
        verify_free(std_token(SIGN_RS256, "", K.claims), NULL, NULL),
        "unknown_kid");
}

/* Signed by rsa2 but naming rs: only the named key is tried. */
static void
test_jwt__other_key_same_kid(void **state)
{
    char *pl = claims("");

    (void)state;
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"rs\"}", pl, K.rsa2,
                               SIGN_RS256),
                    NULL, NULL),
        "bad_signature");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"rs2\"}", pl,
                               K.rsa2, SIGN_RS256),
                    NULL, NULL),
        "ok");
    free(pl);
}

/* ---- signatures ---- */

/* Replace the payload part of tok with b64(pl). */
static char *
swap_payload(char *tok, const char *pl)
{
    char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    char *p = b64(pl, strlen(pl)), *r;

    *d1 = '\0';
    r = gh_asprintf("%s.%s%s", tok, p, d2);
    free(p);
    free(tok);
    return r;
}

static void
test_jwt__payload_changed(void **state)
{
    static const enum how hows[] = {SIGN_RS256, SIGN_PS256, SIGN_ES256,
                                    SIGN_EDDSA};
    static const char *const kids[] = {"rs", "ps", "ec", "ed"};
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        char *pl = claims(""), *pl2 = claims(",\"admin\":true");
        char *tok = std_token(hows[i], kids[i], pl);

        tok = swap_payload(tok, pl2);
        assert_string_equal(verify_free(tok, NULL, NULL), "bad_signature");
        free(pl);
        free(pl2);
    }
}

/* Flip one bit of the decoded signature of each algorithm. */
static void
test_jwt__signature_changed(void **state)
{
    static const enum how hows[] = {SIGN_RS256, SIGN_PS256, SIGN_ES256,
                                    SIGN_EDDSA};
    static const char *const kids[] = {"rs", "ps", "ec", "ed"};
    size_t i, n, bit;

    (void)state;
    for (i = 0; i < 4; i++) {
        for (bit = 0; bit < 3; bit++) {
            char *pl = claims(""), *tok = std_token(hows[i], kids[i], pl);
            char *d2 = strrchr(tok, '.'), *s, *t2;
            unsigned char *sig;

            assert_int_equal(gh_b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &n),
                             0);
            /* first byte, a middle one, the last one */
            sig[bit == 0 ? 0 : bit == 1 ? n / 2 : n - 1] ^= 0x01;
            s = b64(sig, n);
            *d2 = '\0';
            t2 = gh_asprintf("%s.%s", tok, s);
            assert_string_equal(verify_free(t2, NULL, NULL), "bad_signature");
            free(sig);
            free(s);
            free(tok);
            free(pl);
        }
    }
}

/* ES256 wants exactly 64 bytes of r || s: not 63, not 65, not DER. */
static void
test_jwt__es256_signature_lengths(void **state)
{
    char *pl = claims(""), *tok, *s, *d2, *t2;
    unsigned char *sig, *sig2;
    size_t n;

    (void)state;
    assert_string_equal(
        verify_free(std_token(SIGN_ES256_DER, "ec", pl), NULL, NULL),
        "bad_signature");
    tok = std_token(SIGN_ES256, "ec", pl);
    d2 = strrchr(tok, '.');
    assert_int_equal(gh_b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &n), 0);
    assert_int_equal(n, 64);
    *d2 = '\0';
    /* 63: the last byte dropped */
    s = b64(sig, 63);
    t2 = gh_asprintf("%s.%s", tok, s);
    assert_string_equal(verify_free(t2, NULL, NULL), "bad_signature");
    free(s);
    /* 65: a zero byte in front (same integers if read as one number) */
    sig2 = gh_alloc(65, 1);
    memcpy(sig2 + 1, sig, 64);
    s = b64(sig2, 65);
    t2 = gh_asprintf("%s.%s", tok, s);
    assert_string_equal(verify_free(t2, NULL, NULL), "bad_signature");
    free(s);
    /* 65: a byte after the good 64 (a reader of 64 bytes would pass it) */
    memcpy(sig2, sig, 64);
    sig2[64] = 0;
    s = b64(sig2, 65);
    t2 = gh_asprintf("%s.%s", tok, s);
    assert_string_equal(verify_free(t2, NULL, NULL), "bad_signature");
    free(s);
    /* and the untouched 64 bytes still pass */
    s = b64(sig, 64);
    t2 = gh_asprintf("%s.%s", tok, s);
    assert_string_equal(verify_free(t2, NULL, NULL), "ok");
    free(s);
    free(sig2);
    free(sig);
    free(tok);
    free(pl);
}

/* ---- structure ---- */

static void
test_jwt__too_big(void **state)
{
    char *filler = gh_alloc(GH_JWT_MAX, 1), *extra, *pl, *tok;
    size_t n;

    (void)state;
    /* Just below the limit: accepted. */
    memset(filler, 'x', GH_JWT_MAX / 2);
    extra = gh_asprintf(",\"pad\":\"%s\"", filler);
    pl = claims(extra);
    tok = std_token(SIGN_EDDSA, "ed", pl);
    assert_true(strlen(tok) < GH_JWT_MAX);
    assert_string_equal(verify_free(tok, NULL, NULL), "ok");
    free(extra);
    free(pl);
    /* One byte over: refused before parsing, so even garbage says
     * too_big, and a well-formed token too. */
    memset(filler, 'x', GH_JWT_MAX - 1);
    extra = gh_asprintf(",\"pad\":\"%s\"", filler + 4000);
    pl = claims(extra);
    tok = std_token(SIGN_EDDSA, "ed", pl);
    n = strlen(tok);
    assert_true(n > GH_JWT_MAX);
    assert_string_equal(verify_free(tok, NULL, NULL), "too_big");
    tok = gh_alloc(GH_JWT_MAX + 2, 1);
    memset(tok, '.', GH_JWT_MAX + 1);
    assert_string_equal(verify_free(tok, NULL, NULL), "too_big");
    /* exactly at the limit is parsed (and found wanting) */
    tok = gh_alloc(GH_JWT_MAX + 1, 1);
    memset(tok, '.', GH_JWT_MAX);
    assert_string_equal(verify_free(tok, NULL, NULL), "malformed");
    free(extra);
    free(pl);
    free(filler);
}

/*
 * Each token is signed over exactly the text it carries, so only the
 * base64url rule stands between it and acceptance: a lenient decoder
 * would let it through.
 */
static void
test_jwt__malformed_base64(void **state)
{
    /* std base64 of hdr1 has '+' and '/'; hdr2 needs "==" padding. */
    static const char hdr1[] = "{\"alg\":\"EdDSA\",\"kid\":\"ed\","
                               "\"x\":\"~~~\?\?\?>>>\"}";
    static const char hdr2[] = "{\"alg\":\"EdDSA\",\"kid\":\"ed\","
                               "\"x\":\"\?\?>>\"}";
    char *pl = claims(""), *p = b64(pl, strlen(pl));
    char *h1 = b64(hdr1, strlen(hdr1)), *s1 = std_b64(hdr1);
    char *h2 = b64(hdr2, strlen(hdr2)), *s2 = std_b64(hdr2);
    char *in, *tok;
    size_t k;

    (void)state;
    /* the same tokens, encoded right, pass */
    in = gh_asprintf("%s.%s", h1, p);
    assert_string_equal(
        verify_free(sign_input(in, K.ed, SIGN_EDDSA), NULL, NULL), "ok");
    free(in);
    in = gh_asprintf("%s.%s", h2, p);
    assert_string_equal(
        verify_free(sign_input(in, K.ed, SIGN_EDDSA), NULL, NULL), "ok");
    free(in);
    /* '+' and '/' (standard alphabet; hdr1 needs no padding) */
    assert_non_null(strchr(s1, '+'));
    assert_non_null(strchr(s1, '/'));
    assert_null(strchr(s1, '='));
    in = gh_asprintf("%s.%s", s1, p);
    assert_string_equal(
        verify_free(sign_input(in, K.ed, SIGN_EDDSA), NULL, NULL), "malformed");
    free(in);
    /* '=' padding */
    assert_non_null(strstr(s2, "=="));
    in = gh_asprintf("%s==.%s", h2, p);
    assert_string_equal(
        verify_free(sign_input(in, K.ed, SIGN_EDDSA), NULL, NULL), "malformed");
    free(in);
    /* a length with len % 4 == 1 */
    k = (5 - strlen(p) % 4) % 4;
    in = gh_asprintf("%s.%s%.*s", h1, p, (int)k, "AAA");
    assert_int_equal(strlen(strchr(in, '.') + 1) % 4, 1);
    assert_string_equal(
        verify_free(sign_input(in, K.ed, SIGN_EDDSA), NULL, NULL), "malformed");
    free(in);
    /* whitespace inside a part, and after the signature */
    in = gh_asprintf("%.8s %s.%s", h1, h1 + 8, p);
    assert_string_equal(
        verify_free(sign_input(in, K.ed, SIGN_EDDSA), NULL, NULL), "malformed");
    free(in);
    in = gh_asprintf("%s.\n%s", h1, p);
    assert_string_equal(
        verify_free(sign_input(in, K.ed, SIGN_EDDSA), NULL, NULL), "malformed");
    free(in);
    in = gh_asprintf("%s.%s", h1, p);
    tok = sign_input(in, K.ed, SIGN_EDDSA);
    assert_string_equal(verify_free(gh_asprintf("%s\n", tok), NULL, NULL),
                        "malformed");
    assert_string_equal(verify_free(gh_asprintf("%s=", tok), NULL, NULL),
                        "malformed");
    free(tok);
    free(in);
    free(h1);
    free(s1);
    free(h2);
    free(s2);
    free(p);
    free(pl);
}

static void
test_jwt__malformed_json(void **state)
{
    char *pl = claims("");

    (void)state;
    assert_string_equal(verify_free(make_token("{\"alg\":\"RS256\",\"kid\":"
                                               "\"rs\"",
                                               pl, K.rsa, SIGN_RS256),
                                    NULL, NULL),
                        "malformed");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"rs\"}",
                               "{\"iss\":", K.rsa, SIGN_RS256),
                    NULL, NULL),
        "malformed");
    /* trailing data after the object */
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"rs\"} {}", pl,
                               K.rsa, SIGN_RS256),
                    NULL, NULL),
        "malformed");
    free(pl);
}

/* {"sub":"alice","sub":"admin"}: two readers could disagree on who it is. */
static void
test_jwt__duplicate_keys(void **state)
{
    char *pl = claims(",\"sub\":\"admin\"");
    char *good = claims("");

    (void)state;
    assert_string_equal(verify_claims(SIGN_RS256, pl, NULL), "malformed");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"rs\","
                               "\"kid\":\"rs2\"}",
                               good, K.rsa, SIGN_RS256),
                    NULL, NULL),
        "malformed");
    free(good);
}

/* "\u0000" inside a string would cut it short for C readers. */
static void
test_jwt__nul_in_string(void **state)
{
    (void)state;
    assert_string_equal(
        verify_claims(SIGN_EDDSA, claims(",\"email\":\"a\\u0000b\""), NULL),
        "malformed");
}

static void
test_jwt__part_count(void **state)
{
    char *pl = claims(""), *tok = std_token(SIGN_RS256, "rs", pl);
    char *d2 = strrchr(tok, '.'), *two;

    (void)state;
    two = gh_strndup(tok, (size_t)(d2 - tok));
    assert_string_equal(verify_free(two, NULL, NULL), "malformed");
    assert_string_equal(
        verify_free(gh_asprintf("%s.%s", tok, "AAAA"), NULL, NULL),
        "malformed");
    assert_string_equal(verify_free(gh_asprintf("%s.", tok), NULL, NULL),
                        "malformed");
    assert_string_equal(verify_free(gh_strdup(""), NULL, NULL), "malformed");
    assert_string_equal(verify_free(gh_strdup("abc"), NULL, NULL), "malformed");
    free(tok);
    free(pl);
}

static void
test_jwt__empty_parts(void **state)
{
    char *pl = claims(""), *tok = std_token(SIGN_RS256, "rs", pl);
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char *h = gh_strndup(tok, (size_t)(d1 - tok));
    char *p = gh_strndup(d1 + 1, (size_t)(d2 - d1 - 1));

    (void)state;
    assert_string_equal(verify_free(gh_strdup(".."), NULL, NULL), "malformed");
    assert_string_equal(verify_free(gh_asprintf(".%s%s", p, d2), NULL, NULL),
                        "malformed");
    assert_string_equal(verify_free(gh_asprintf("%s.%s", h, d2), NULL, NULL),
                        "malformed");
    assert_string_equal(verify_free(gh_asprintf("%s.%s.", h, p), NULL, NULL),
                        "malformed");
    free(h);
    free(p);
    free(tok);
    free(pl);
}

static void
test_jwt__header_not_object(void **state)
{
    static const char *const hdrs[] = {"[\"RS256\"]", "\"RS256\"", "null",
                                       "42"};
    char *pl = claims("");
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
        assert_string_equal(
            verify_free(make_token(hdrs[i], pl, K.rsa, SIGN_RS256), NULL, NULL),
            "malformed");
    /* and a signed payload that is not an object */
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"rs\"}", "[1]",
                               K.rsa, SIGN_RS256),
                    NULL, NULL),
        "malformed");
    /* alg missing or not a string */
    assert_string_equal(
        verify_free(make_token("{\"kid\":\"rs\"}", pl, K.rsa, SIGN_RS256), NULL,
                    NULL),
        "malformed");
    assert_string_equal(verify_free(make_token("{\"alg\":[\"RS256\"],\"kid\":"
                                               "\"rs\"}",
                                               pl, K.rsa, SIGN_RS256),
                                    NULL, NULL),
                        "malformed");
    /* kid not a string */
    assert_string_equal(verify_free(make_token("{\"alg\":\"RS256\",\"kid\":1}",
                                               pl, K.rsa, SIGN_RS256),
                                    NULL, NULL),
                        "malformed");
    free(pl);
}

/* "crit" asks us to understand extensions; we understand none. */
static void
test_jwt__crit_refused(void **state)
{
    char *pl = claims("");

    (void)state;
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"rs\","
                               "\"crit\":[\"exp\"],\"exp\":1}",
                               pl, K.rsa, SIGN_RS256),
                    NULL, NULL),
        "malformed");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"rs\","
                               "\"crit\":[]}",
                               pl, K.rsa, SIGN_RS256),
                    NULL, NULL),
        "malformed");
    free(pl);
}

/* ---- claims ---- */

static void
test_jwt__bad_iss(void **state)
{
    (void)state;
    assert_string_equal(
        verify_claims(SIGN_RS256,
                      gh_asprintf("{\"iss\":\"https://evil.example\","
                                  "\"sub\":\"a\",\"aud\":\"" AUD "\","
                                  "\"exp\":%lld}",
                                  (long long)(NOW + 60)),
                      NULL),
        "bad_iss");
    assert_string_equal(
        verify_claims(SIGN_RS256,
                      gh_asprintf("{\"iss\":\"" ISS "/\",\"sub\":\"a\","
                                  "\"aud\":\"" AUD "\",\"exp\":%lld}",
                                  (long long)(NOW + 60)),
                      NULL),
        "bad_iss");
    assert_string_equal(verify_claims(SIGN_RS256,
                                      gh_asprintf("{\"iss\":\"HTTPS://"
                                                  "IDP.EXAMPLE.COM\","
                                                  "\"sub\":\"a\",\"aud\":"
                                                  "\"" AUD "\",\"exp\":%lld}",
                                                  (long long)(NOW + 60)),
                                      NULL),
                        "bad_iss");
}

/* The usual claims with aud set to the JSON text aud. */
static char *
aud_claims(const char *aud)
{
    return gh_asprintf("{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":%s,"
                       "\"exp\":%lld}",
                       aud, (long long)(NOW + 60));
}

static void
test_jwt__bad_aud(void **state)
{
    (void)state;
    assert_string_equal(
        verify_claims(SIGN_ES256, aud_claims("\"other\""), NULL), "bad_aud");
    assert_string_equal(
        verify_claims(SIGN_ES256, aud_claims("[\"a\",\"b\"]"), NULL),
        "bad_aud");
    assert_string_equal(verify_claims(SIGN_ES256, aud_claims("[]"), NULL),
                        "bad_aud");
    assert_string_equal(
        verify_claims(SIGN_ES256, aud_claims("\"gatehouse2\""), NULL),
        "bad_aud");
    /* not an array of strings */
    assert_string_equal(
        verify_claims(SIGN_ES256, aud_claims("[\"" AUD "\",1]"), NULL),
        "bad_aud");
    assert_string_equal(
        verify_claims(SIGN_ES256, aud_claims("{\"" AUD "\":1}"), NULL),
        "bad_aud");
    /* one element of an array is enough */
    assert_string_equal(
        verify_claims(SIGN_ES256, aud_claims("[\"other\",\"" AUD "\"]"), NULL),
        "ok");
    assert_string_equal(
        verify_claims(SIGN_ES256, aud_claims("[\"" AUD "\"]"), NULL), "ok");
}

static void
test_jwt__missing_claims(void **state)
{
    long long exp = (long long)(NOW + 60);

    (void)state;
    assert_string_equal(
        verify_claims(SIGN_EDDSA,
                      gh_asprintf("{\"sub\":\"a\",\"aud\":\"" AUD "\","
                                  "\"exp\":%lld}",
                                  exp),
                      NULL),
        "missing_claim");
    assert_string_equal(
        verify_claims(SIGN_EDDSA,
                      gh_asprintf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
                                  "\"exp\":%lld}",
                                  exp),
                      NULL),
        "missing_claim");
    assert_string_equal(
        verify_claims(SIGN_EDDSA,
                      gh_asprintf("{\"iss\":\"" ISS "\","
                                  "\"sub\":7,\"aud\":\"" AUD "\",\"exp\":%lld}",
                                  exp),
                      NULL),
        "missing_claim");
    assert_string_equal(
        verify_claims(SIGN_EDDSA,
                      gh_asprintf("{\"iss\":\"" ISS "\",\"sub\":\"a\","
                                  "\"exp\":%lld}",
                                  exp),
                      NULL),
        "missing_claim");
    assert_string_equal(
        verify_claims(SIGN_EDDSA, claims_times("\"nbf\":1"), NULL),
        "missing_claim");
    assert_string_equal(
        verify_claims(SIGN_EDDSA, claims_times("\"exp\":\"2099\""), NULL),
        "missing_claim");
    assert_string_equal(
        verify_claims(SIGN_EDDSA, claims_times("\"exp\":1e300"), NULL),
        "missing_claim");
    assert_string_equal(
        verify_claims(SIGN_EDDSA, claims_times("\"exp\":null"), NULL),
        "missing_claim");
}

/* exp == now - skew is expired; one second later it is not. */
static void
test_jwt__expired_boundary(void **state)
{
    char times[128];

    (void)state;
    snprintf(times, sizeof(times), "\"exp\":%lld", (long long)(NOW - SKEW));
    assert_string_equal(verify_claims(SIGN_RS256, claims_times(times), NULL),
                        "expired");
    snprintf(times, sizeof(times), "\"exp\":%lld", (long long)(NOW - SKEW + 1));
    assert_string_equal(verify_claims(SIGN_RS256, claims_times(times), NULL),
                        "ok");
    snprintf(times, sizeof(times), "\"exp\":%lld", (long long)(NOW - 86400));
    assert_string_equal(verify_claims(SIGN_RS256, claims_times(times), NULL),
                        "expired");
    /* a real exp is truncated to whole seconds */
    snprintf(times, sizeof(times), "\"exp\":%lld.9", (long long)(NOW - SKEW));
    assert_string_equal(verify_claims(SIGN_RS256, claims_times(times), NULL),
                        "expired");
    snprintf(times, sizeof(times), "\"exp\":%lld.5",
             (long long)(NOW - SKEW + 1));
    assert_string_equal(verify_claims(SIGN_RS256, claims_times(times), NULL),
                        "ok");
}

/* A real exp is read and truncated. */
static void
test_jwt__exp_real(void **state)
{
    char *pl = claims_times("\"exp\":1700000300.75");
    char *tok = std_token(SIGN_EDDSA, "ed", pl);
    struct gh_jwt *t = NULL;

    (void)state;
    assert_int_equal(gh_jwt_verify(tok, strlen(tok), K.ks, &EXPECT, &t, NULL),
                     GH_JWT_OK);
    assert_int_equal(gh_jwt_exp(t), INT64_C(1700000300));
    gh_jwt_free(t);
    free(tok);
    free(pl);
}

static void
test_jwt__nbf(void **state)
{
    char times[128];
    long long exp = (long long)(NOW + 600);

    (void)state;
    snprintf(times, sizeof(times), "\"exp\":%lld,\"nbf\":%lld", exp,
             (long long)(NOW + SKEW + 1));
    assert_string_equal(verify_claims(SIGN_PS256, claims_times(times), NULL),
                        "not_yet_valid");
    snprintf(times, sizeof(times), "\"exp\":%lld,\"nbf\":%lld", exp,
             (long long)(NOW + 3600));
    assert_string_equal(verify_claims(SIGN_PS256, claims_times(times), NULL),
                        "not_yet_valid");
    /* within the skew: accepted */
    snprintf(times, sizeof(times), "\"exp\":%lld,\"nbf\":%lld", exp,
             (long long)(NOW + SKEW));
    assert_string_equal(verify_claims(SIGN_PS256, claims_times(times), NULL),
                        "ok");
    snprintf(times, sizeof(times), "\"exp\":%lld,\"nbf\":%lld", exp,
             (long long)(NOW + 10));
    assert_string_equal(verify_claims(SIGN_PS256, claims_times(times), NULL),
                        "ok");
}

static void
test_jwt__iat_future(void **state)
{
    char times[128];
    long long exp = (long long)(NOW + 600);

    (void)state;
    snprintf(times, sizeof(times), "\"exp\":%lld,\"iat\":%lld", exp,
             (long long)(NOW + SKEW + 1));
    assert_string_equal(verify_claims(SIGN_ES256, claims_times(times), NULL),
                        "iat_in_future");
    snprintf(times, sizeof(times), "\"exp\":%lld,\"iat\":%lld", exp,
             (long long)(NOW + SKEW));
    assert_string_equal(verify_claims(SIGN_ES256, claims_times(times), NULL),
                        "ok");
    snprintf(times, sizeof(times), "\"exp\":%lld,\"iat\":\"now\"", exp);
    assert_string_equal(verify_claims(SIGN_ES256, claims_times(times), NULL),
                        "missing_claim");
}

/* A negative skew is no skew; a huge one does not wrap around. */
static void
test_jwt__skew_extremes(void **state)
{
    struct gh_jwt_expect ex = EXPECT;
    char times[128];

    (void)state;
    ex.skew = -1000;
    snprintf(times, sizeof(times), "\"exp\":%lld", (long long)NOW);
    assert_string_equal(verify_claims(SIGN_EDDSA, claims_times(times), &ex),
                        "expired");
    snprintf(times, sizeof(times), "\"exp\":%lld", (long long)(NOW + 1));
    assert_string_equal(verify_claims(SIGN_EDDSA, claims_times(times), &ex),
                        "ok");
    /* now + skew would wrap to a negative time */
    ex.skew = INT64_MAX;
    snprintf(times, sizeof(times), "\"exp\":1,\"nbf\":%lld,\"iat\":%lld",
             (long long)INT64_MAX, (long long)INT64_MAX);
    assert_string_equal(verify_claims(SIGN_EDDSA, claims_times(times), &ex),
                        "ok");
    /* now - skew would wrap to a large positive time */
    ex.skew = 100;
    ex.now = INT64_MIN + 5;
    snprintf(times, sizeof(times), "\"exp\":%lld", (long long)INT64_MIN + 1);
    assert_string_equal(verify_claims(SIGN_EDDSA, claims_times(times), &ex),
                        "ok");
    ex.skew = 0;
    ex.now = INT64_MIN;
    snprintf(times, sizeof(times), "\"exp\":%lld", (long long)INT64_MIN);
    assert_string_equal(verify_claims(SIGN_EDDSA, claims_times(times), &ex),
                        "expired");
}

static void
test_jwt__nonce(void **state)
{
    struct gh_jwt_expect ex = EXPECT;

    (void)state;
    ex.nonce = "n-0S6_WzA2Mj";
    assert_string_equal(
        verify_claims(SIGN_RS256, claims(",\"nonce\":\"n-0S6_WzA2Mj\""), &ex),
        "ok");
    assert_string_equal(
        verify_claims(SIGN_RS256, claims(",\"nonce\":\"n-0S6_WzA2Mk\""), &ex),
        "bad_nonce");
    assert_string_equal(
        verify_claims(SIGN_RS256, claims(",\"nonce\":\"n-0S6_WzA2M\""), &ex),
        "bad_nonce");
    assert_string_equal(
        verify_claims(SIGN_RS256, claims(",\"nonce\":\"n-0S6_WzA2Mjj\""), &ex),
        "bad_nonce");
    assert_string_equal(verify_claims(SIGN_RS256, claims(""), &ex),
                        "bad_nonce");
    assert_string_equal(verify_claims(SIGN_RS256, claims(",\"nonce\":1"), &ex),
                        "bad_nonce");
    /* no nonce expected: whatever is there is ignored */
    assert_string_equal(
        verify_claims(SIGN_RS256, claims(",\"nonce\":\"x\""), NULL), "ok");
}

static void
test_jwt__typ(void **state)
{
    struct gh_jwt_expect ex = EXPECT;
    char *pl = claims("");

    (void)state;
    ex.typ = "at+jwt";
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"EdDSA\",\"kid\":\"ed\","
                               "\"typ\":\"at+jwt\"}",
                               pl, K.ed, SIGN_EDDSA),
                    &ex, NULL),
        "ok");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"EdDSA\",\"kid\":\"ed\","
                               "\"typ\":\"AT+JWT\"}",
                               pl, K.ed, SIGN_EDDSA),
                    &ex, NULL),
        "ok");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"EdDSA\",\"kid\":\"ed\","
                               "\"typ\":\"application/at+jwt\"}",
                               pl, K.ed, SIGN_EDDSA),
                    &ex, NULL),
        "ok");
    /* an ID token presented where an access token is wanted */
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"EdDSA\",\"kid\":\"ed\","
                               "\"typ\":\"JWT\"}",
                               pl, K.ed, SIGN_EDDSA),
                    &ex, NULL),
        "bad_typ");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", pl, K.ed,
                               SIGN_EDDSA),
                    &ex, NULL),
        "bad_typ");
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"EdDSA\",\"kid\":\"ed\","
                               "\"typ\":1}",
                               pl, K.ed, SIGN_EDDSA),
                    &ex, NULL),
        "bad_typ");
    /* typ not expected: ignored */
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"EdDSA\",\"kid\":\"ed\","
                               "\"typ\":\"whatever\"}",
                               pl, K.ed, SIGN_EDDSA),
                    NULL, NULL),
        "ok");
    free(pl);
}

/* size, structure, alg, typ, key, alg match, signature, claims. */
static void
test_jwt__check_order(void **state)
{
    struct gh_jwt_expect ex = EXPECT;
    char *expired = claims_times("\"exp\":1");
    char *tok;

    (void)state;
    ex.typ = "at+jwt";
    /* alg none for an unknown kid: the alg decides first */
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"none\",\"kid\":\"zz\"}", expired,
                               K.rsa, SIGN_EMPTY),
                    &ex, NULL),
        "alg_refused");
    /* wrong typ and unknown kid: typ first */
    assert_string_equal(
        verify_free(make_token("{\"alg\":\"RS256\",\"kid\":\"zz\"}", expired,
                               K.rsa, SIGN_RS256),
                    &ex, NULL),
        "bad_typ");
    /* forged and expired: never judged on its claims */
    tok = std_token(SIGN_RS256, "rs", expired);
    tok = swap_payload(tok, "{\"iss\":\"x\"}");
    assert_string_equal(verify_free(tok, NULL, NULL), "bad_signature");
    /* alg mismatch before the signature is even tried */
    assert_string_equal(verify_free(make_token("{\"alg\":\"RS256\",\"kid\":"
                                               "\"ps\"}",
                                               expired, K.rsa2, SIGN_RS256),
                                    NULL, NULL),
                        "alg_mismatch");
    free(expired);
}

/* The audit fields come back for refused tokens, made printable. */
static void
test_jwt__info_for_refused(void **state)
{
    struct gh_jwt_info info;
    char *pl, *tok, longiss[300];

    (void)state;
    pl = gh_asprintf("{\"iss\":\"evil\\u0001\\n\",\"sub\":\"bob\\u001b[31m\","
                     "\"aud\":\"" AUD
                     "\",\"exp\":1,\"jti\":\"\\u00e9t\\u007f\"}");
    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"k\\u0007id\"}", pl, K.rsa,
                     SIGN_RS256);
    assert_string_equal(verify_free(tok, NULL, &info), "unknown_kid");
    assert_string_equal(info.iss, "evil??");
    assert_string_equal(info.sub, "bob?[31m");
    assert_string_equal(info.kid, "k?id");
    assert_string_equal(info.jti, "??t?"); /* UTF-8 e-acute is 2 bytes */
    assert_string_equal(info.alg, "RS256");
    free(pl);

    /* a forged token still names its claimed issuer and subject */
    pl = claims("");
    tok = swap_payload(std_token(SIGN_ES256, "ec", pl),
                       "{\"iss\":\"i\",\"sub\":\"root\"}");
    assert_string_equal(verify_free(tok, NULL, &info), "bad_signature");
    assert_string_equal(info.iss, "i");
    assert_string_equal(info.sub, "root");
    assert_string_equal(info.kid, "ec");
    assert_string_equal(info.jti, "");
    free(pl);

    /* alg none: header fields are there too */
    tok = make_token("{\"alg\":\"none\",\"kid\":\"rs\"}", "{\"sub\":\"x\"}",
                     K.rsa, SIGN_EMPTY);
    assert_string_equal(verify_free(tok, NULL, &info), "alg_refused");
    assert_string_equal(info.alg, "none");
    assert_string_equal(info.kid, "rs");
    assert_string_equal(info.sub, "x");

    /* cut to 128 bytes; alg to 16 */
    memset(longiss, 'i', sizeof(longiss) - 1);
    longiss[sizeof(longiss) - 1] = '\0';
    pl = gh_asprintf("{\"iss\":\"%s\",\"sub\":7}", longiss);
    tok =
        make_token("{\"alg\":\"HS256HS256HS256HS256\"}", pl, K.rsa, SIGN_EMPTY);
    assert_string_equal(verify_free(tok, NULL, &info), "alg_refused");
    assert_int_equal(strlen(info.iss), 128);
    assert_int_equal(strlen(info.alg), 16);
    assert_string_equal(info.sub, ""); /* not a string */
    free(pl);

    /* a header that does not parse leaves its fields empty, the payload's
     * still count */
    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"rs\"", "{\"sub\":\"y\"}",
                     K.rsa, SIGN_RS256);
    assert_string_equal(verify_free(tok, NULL, &info), "malformed");
    assert_string_equal(info.kid, "");
    assert_string_equal(info.sub, "y");
}

static void
test_jwt__null_arguments(void **state)
{
    struct gh_jwt_expect ex = EXPECT;
    char *pl = claims(""), *tok = std_token(SIGN_EDDSA, "ed", pl);
    struct gh_jwt *t = NULL;
    size_t n = strlen(tok);

    (void)state;
    assert_int_equal(gh_jwt_verify(NULL, 0, K.ks, &ex, &t, NULL),
                     GH_JWT_MALFORMED);
    assert_int_equal(gh_jwt_verify(tok, n, NULL, &ex, &t, NULL),
                     GH_JWT_MALFORMED);
    assert_int_equal(gh_jwt_verify(tok, n, K.ks, NULL, &t, NULL),
                     GH_JWT_MALFORMED);
    assert_int_equal(gh_jwt_verify(tok, n, K.ks, &ex, NULL, NULL),
                     GH_JWT_MALFORMED);
    ex.issuer = NULL;
    assert_int_equal(gh_jwt_verify(tok, n, K.ks, &ex, &t, NULL),
                     GH_JWT_MALFORMED);
    ex.issuer = ISS;
    ex.audience = NULL;
    assert_int_equal(gh_jwt_verify(tok, n, K.ks, &ex, &t, NULL),
                     GH_JWT_MALFORMED);
    assert_null(t);
    /* len, not the NUL, bounds the token */
    ex.audience = AUD;
    assert_int_equal(gh_jwt_verify(tok, n - 1, K.ks, &ex, &t, NULL),
                     GH_JWT_MALFORMED);
    assert_int_equal(gh_jwt_verify(tok, n, K.ks, &ex, &t, NULL), GH_JWT_OK);
    gh_jwt_free(t);
    gh_jwt_free(NULL);
    assert_null(gh_jwt_claims(NULL));
    assert_null(gh_jwt_claim_str(NULL, "sub"));
    free(tok);
    free(pl);
}

static void
test_jwt__reason_codes(void **state)
{
    static const char *const codes[] = {
        "ok",          "too_big",      "malformed",     "alg_refused",
        "unknown_kid", "alg_mismatch", "bad_signature", "bad_iss",
        "bad_aud",     "expired",      "not_yet_valid", "iat_in_future",
        "bad_nonce",   "bad_typ",      "missing_claim",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        assert_string_equal(gh_jwt_reason_code((enum gh_jwt_reason)i),
                            codes[i]);
    assert_int_equal(GH_JWT_MISSING_CLAIM, 14);
    assert_string_equal(gh_jwt_reason_code((enum gh_jwt_reason)99), "unknown");
}

/* Tokens are secrets: the verifier logs nothing, accepted or refused. */
static void
test_jwt__logs_nothing(void **state)
{
    char *log, jwks[] = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}";
    struct gh_jwks *ks = NULL;
    int fd = gh_test_log_begin();
    size_t n;

    (void)state;
    assert_string_equal(
        verify_free(std_token(SIGN_RS256, "rs", K.claims), NULL, NULL), "ok");
    assert_string_equal(
        verify_free(swap_payload(std_token(SIGN_RS256, "rs", K.claims), "{}"),
                    NULL, NULL),
        "bad_signature");
    assert_string_equal(verify_free(gh_strdup("a.b.c"), NULL, NULL),
                        "malformed");
    assert_int_equal(gh_jwks_parse(jwks, strlen(jwks), &ks, NULL, 0),
                     GH_E_INVAL);
    log = gh_test_log_end(fd, &n);
    assert_int_equal(n, 0);
    free(log);
}

/* One key set, several threads verifying at once. */
static void *
verify_many(void *arg)
{
    const char *tok = arg;
    struct gh_jwt *t;
    int i;

    for (i = 0; i < 100; i++) {
        if (gh_jwt_verify(tok, strlen(tok), K.ks, &EXPECT, &t, NULL) !=
            GH_JWT_OK)
            return (void *)1;
        if (strcmp(gh_jwt_claim_str(t, "sub"), "alice") != 0)
            return (void *)1;
        gh_jwt_free(t);
    }
    return NULL;
}

static void
test_jwt__shared_between_threads(void **state)
{
    static const enum how hows[] = {SIGN_RS256, SIGN_PS256, SIGN_ES256,
                                    SIGN_EDDSA};
    static const char *const kids[] = {"rs", "ps", "ec", "ed"};
    pthread_t th[4];
    char *tok[4], *pl = claims("");
    void *res;
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        tok[i] = std_token(hows[i], kids[i], pl);
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, tok[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], &res), 0);
        assert_null(res);
        free(tok[i]);
    }
    free(pl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt__valid_rs256),
        cmocka_unit_test(test_jwt__valid_ps256),
        cmocka_unit_test(test_jwt__valid_es256),
        cmocka_unit_test(test_jwt__valid_eddsa),
        cmocka_unit_test(test_jwt__no_kid_needs_one_key_of_alg),
        cmocka_unit_test(test_jwt__alg_none_refused),
        cmocka_unit_test(test_jwt__hs256_with_rsa_pem_refused),
        cmocka_unit_test(test_jwt__unknown_alg_refused),
        cmocka_unit_test(test_jwt__alg_mismatch),
        cmocka_unit_test(test_jwt__padding_pinned),
        cmocka_unit_test(test_jwt__unknown_kid),
        cmocka_unit_test(test_jwt__other_key_same_kid),
        cmocka_unit_test(test_jwt__payload_changed),
        cmocka_unit_test(test_jwt__signature_changed),
        cmocka_unit_test(test_jwt__es256_signature_lengths),
        cmocka_unit_test(test_jwt__too_big),
        cmocka_unit_test(test_jwt__malformed_base64),
        cmocka_unit_test(test_jwt__malformed_json),
        cmocka_unit_test(test_jwt__duplicate_keys),
        cmocka_unit_test(test_jwt__nul_in_string),
        cmocka_unit_test(test_jwt__part_count),
        cmocka_unit_test(test_jwt__empty_parts),
        cmocka_unit_test(test_jwt__header_not_object),
        cmocka_unit_test(test_jwt__crit_refused),
        cmocka_unit_test(test_jwt__bad_iss),
        cmocka_unit_test(test_jwt__bad_aud),
        cmocka_unit_test(test_jwt__missing_claims),
        cmocka_unit_test(test_jwt__expired_boundary),
        cmocka_unit_test(test_jwt__exp_real),
        cmocka_unit_test(test_jwt__nbf),
        cmocka_unit_test(test_jwt__iat_future),
        cmocka_unit_test(test_jwt__skew_extremes),
        cmocka_unit_test(test_jwt__nonce),
        cmocka_unit_test(test_jwt__typ),
        cmocka_unit_test(test_jwt__check_order),
        cmocka_unit_test(test_jwt__info_for_refused),
        cmocka_unit_test(test_jwt__null_arguments),
        cmocka_unit_test(test_jwt__reason_codes),
        cmocka_unit_test(test_jwt__logs_nothing),
        cmocka_unit_test(test_jwt__shared_between_threads),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
