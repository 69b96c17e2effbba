/*
 * jwks.c - JSON Web Key Sets (RFC 7517) into OpenSSL public keys.
 *
 * Each key is pinned to one algorithm here, once, so that a token can
 * never choose how it is verified. Keys this module cannot use safely are
 * skipped rather than refused: an IdP's set often carries encryption keys
 * or algorithms we do not speak next to the signing key we need.
 */
#include "jwks.h"

#include "gatehouse/b64.h"
#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

/* Coordinates of a P-256 point and an Ed25519 public key, in bytes. */
#define GH_JWK_P256_COORD  32
#define GH_JWK_ED25519_LEN 32
/* RSA exponents wider than this are skipped (OpenSSL refuses those above
 * 64 bits for moduli over 3072 bits anyway; IdPs use 65537). */
#define GH_JWK_RSA_E_BITS_MAX 64

static const struct {
    const char *name;
    enum gh_jwt_alg alg;
} gh_jwt_algs[] = {
    {"RS256", GH_JWT_RS256},
    {"PS256", GH_JWT_PS256},
    {"ES256", GH_JWT_ES256},
    {"EdDSA", GH_JWT_EDDSA},
};

enum gh_jwt_alg
gh_jwt_alg_from_name(const char *name)
{
    size_t i;

    if (name == NULL)
        return GH_JWT_ALG_NONE;
    for (i = 0; i < sizeof(gh_jwt_algs) / sizeof(gh_jwt_algs[0]); i++)
        if (strcmp(name, gh_jwt_algs[i].name) == 0)
            return gh_jwt_algs[i].alg;
    return GH_JWT_ALG_NONE;
}

static void gh_jwks_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
gh_jwks_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A string member of obj, or NULL when absent or not a string. */
static const char *
gh_jwk_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

/* Decode the base64url string member name of obj into a new buffer. */
static int
gh_jwk_bytes(const json_t *obj, const char *name, unsigned char **out,
             size_t *outlen)
{
    const json_t *v = json_object_get(obj, name);

    *out = NULL;
    *outlen = 0;
    if (!json_is_string(v))
        return GH_E_INVAL;
    return gh_b64url_decode(json_string_value(v), json_string_length(v), out,
                            outlen);
}

/* EVP_PKEY_fromdata(type) with the public parameters in bld. */
static EVP_PKEY *
gh_jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* An RSA public key from n and e, or NULL when it is not one we accept. */
static EVP_PKEY *
gh_jwk_rsa(const json_t *jwk)
{
    unsigned char *nb = NULL, *eb = NULL;
    size_t nlen, elen;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    int bits;

    if (gh_jwk_bytes(jwk, "n", &nb, &nlen) != 0 ||
        gh_jwk_bytes(jwk, "e", &eb, &elen) != 0)
        goto out;
    n = BN_bin2bn(nb, (int)nlen, NULL);
    e = BN_bin2bn(eb, (int)elen, NULL);
    if (n == NULL || e == NULL)
        goto out;
    bits = BN_num_bits(n);
    if (bits < GH_JWKS_RSA_BITS_MIN || bits > GH_JWKS_RSA_BITS_MAX ||
        !BN_is_odd(n))
        goto out;
    /* e = 1 would make every message its own signature. */
    if (!BN_is_odd(e) || BN_is_one(e) || BN_num_bits(e) > GH_JWK_RSA_E_BITS_MAX)
        goto out;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        goto out;
    pkey = gh_jwk_fromdata("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(nb);
    free(eb);
    return pkey;
}

/* An EC P-256 public key from x and y, checked to be on the curve. */
static EVP_PKEY *
gh_jwk_p256(const json_t *jwk)
{
    unsigned char *x = NULL, *y = NULL;
    unsigned char pt[1 + 2 * GH_JWK_P256_COORD];
    size_t xlen, ylen;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    const char *crv = gh_jwk_str(jwk, "crv");

    if (crv == NULL || strcmp(crv, "P-256") != 0)
        goto out;
    if (gh_jwk_bytes(jwk, "x", &x, &xlen) != 0 ||
        gh_jwk_bytes(jwk, "y", &y, &ylen) != 0 || xlen != GH_JWK_P256_COORD ||
        ylen != GH_JWK_P256_COORD)
        goto out;
    pt[0] = 0x04; /* uncompressed point: 04 || x || y */
    memcpy(pt + 1, x, GH_JWK_P256_COORD);
    memcpy(pt + 1 + GH_JWK_P256_COORD, y, GH_JWK_P256_COORD);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                          sizeof(pt)))
        goto out;
    pkey = gh_jwk_fromdata("EC", bld);
    if (pkey == NULL)
        goto out;
    /* Loading decodes the point; the full public check says so outright
     * (on the curve, not infinity, right order). */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pkey;
}

/* An Ed25519 public key from x. */
static EVP_PKEY *
gh_jwk_ed25519(const json_t *jwk)
{
    unsigned char *x = NULL;
    size_t xlen;
    EVP_PKEY *pkey = NULL;
    const char *crv = gh_jwk_str(jwk, "crv");

    if (crv == NULL || strcmp(crv, "Ed25519") != 0)
        goto out;
    if (gh_jwk_bytes(jwk, "x", &x, &xlen) != 0 || xlen != GH_JWK_ED25519_LEN)
        goto out;
    pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xlen);
out:
    free(x);
    return pkey;
}

/* True when "key_ops" is absent or lists "verify". */
static int
gh_jwk_ops_verify(const json_t *jwk)
{
    const json_t *ops = json_object_get(jwk, "key_ops"), *op;
    size_t i;

    if (ops == NULL)
        return 1;
    if (!json_is_array(ops))
        return 0;
    json_array_foreach(ops, i, op)
    {
        if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
            return 1;
    }
    return 0;
}

/*
 * The one algorithm this key may verify, from its kty and "alg", or
 * GH_JWT_ALG_NONE when the key is to be skipped.
 */
static enum gh_jwt_alg
gh_jwk_alg(const json_t *jwk, const char *kty)
{
    const json_t *jalg = json_object_get(jwk, "alg");
    enum gh_jwt_alg alg;

    if (strcmp(kty, "RSA") == 0)
        alg = GH_JWT_RS256;
    else if (strcmp(kty, "EC") == 0)
        alg = GH_JWT_ES256;
    else if (strcmp(kty, "OKP") == 0)
        alg = GH_JWT_EDDSA;
    else
        return GH_JWT_ALG_NONE; /* "oct" (HMAC secrets) and the rest */
    if (jalg == NULL)
        return alg;
    switch (gh_jwt_alg_from_name(json_string_value(jalg))) {
    case GH_JWT_RS256:
        return alg == GH_JWT_RS256 ? GH_JWT_RS256 : GH_JWT_ALG_NONE;
    case GH_JWT_PS256:
        return alg == GH_JWT_RS256 ? GH_JWT_PS256 : GH_JWT_ALG_NONE;
    case GH_JWT_ES256:
        return alg == GH_JWT_ES256 ? GH_JWT_ES256 : GH_JWT_ALG_NONE;
    case GH_JWT_EDDSA:
        return alg == GH_JWT_EDDSA ? GH_JWT_EDDSA : GH_JWT_ALG_NONE;
    case GH_JWT_ALG_NONE:
        break;
    }
    return GH_JWT_ALG_NONE;
}

/* Add jwk to ks if it is usable; silently skip it otherwise. */
static void
gh_jwks_add(struct gh_jwks *ks, const json_t *jwk)
{
    const json_t *jkid = json_object_get(jwk, "kid");
    const json_t *use = json_object_get(jwk, "use");
    const char *kty = gh_jwk_str(jwk, "kty");
    const char *kid = NULL;
    struct gh_jwk *k;
    enum gh_jwt_alg alg;
    EVP_PKEY *pkey;

    if (!json_is_object(jwk) || kty == NULL)
        return;
    if (use != NULL &&
        (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
        return;
    if (!gh_jwk_ops_verify(jwk))
        return;
    if (jkid != NULL) {
        if (!json_is_string(jkid))
            return;
        kid = json_string_value(jkid);
        if (gh_jwks_has_kid(ks, kid))
            return; /* the first key with a kid wins */
    }
    alg = gh_jwk_alg(jwk, kty);
    switch (alg) {
    case GH_JWT_RS256:
    case GH_JWT_PS256:
        pkey = gh_jwk_rsa(jwk);
        break;
    case GH_JWT_ES256:
        pkey = gh_jwk_p256(jwk);
        break;
    case GH_JWT_EDDSA:
        pkey = gh_jwk_ed25519(jwk);
        break;
    case GH_JWT_ALG_NONE:
    default:
        return;
    }
    if (pkey == NULL)
        return;
    k = &ks->keys[ks->count++];
    k->kid = gh_strdup(kid);
    k->alg = alg;
    k->pkey = pkey;
}

int
gh_jwks_parse(const char *json, size_t len, struct gh_jwks **out, char *err,
              size_t errlen)
{
    struct gh_jwks *ks = NULL;
    json_t *doc = NULL, *keys, *jwk;
    json_error_t jerr;
    size_t i;
    int r;

    *out = NULL;
    gh_jwks_err(err, errlen, "%s", "");
    if (json == NULL) {
        gh_jwks_err(err, errlen, "no document");
        return GH_E_INVAL;
    }
    if (len > GH_JWKS_MAX) {
        gh_jwks_err(err, errlen, "JWKS larger than %d bytes", GH_JWKS_MAX);
        return GH_E_TOOBIG;
    }
    /* Without JSON_ALLOW_NUL, "\u0000" inside a string is refused too. */
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        gh_jwks_err(err, errlen, "not JSON (line %d, column %d)", jerr.line,
                    jerr.column);
        r = GH_E_INVAL;
        goto out;
    }
    keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys)) {
        gh_jwks_err(err, errlen, "no \"keys\" array");
        r = GH_E_INVAL;
        goto out;
    }
    /* Loading keys makes OpenSSL queue errors for the ones we skip. */
    ERR_set_mark();
    ks = gh_alloc(1, sizeof(*ks));
    json_array_foreach(keys, i, jwk)
    {
        if (ks->count == GH_JWKS_KEYS_MAX)
            break;
        gh_jwks_add(ks, jwk);
    }
    ERR_pop_to_mark();
    if (ks->count == 0) {
        gh_jwks_err(err, errlen, "no usable signing key");
        r = GH_E_INVAL;
        goto out;
    }
    *out = ks;
    ks = NULL;
    r = 0;
out:
    gh_jwks_free(ks);
    json_decref(doc);
    return r;
}

void
gh_jwks_free(struct gh_jwks *ks)
{
    size_t i;

    if (ks == NULL)
        return;
    for (i = 0; i < ks->count; i++) {
        free(ks->keys[i].kid);
        EVP_PKEY_free(ks->keys[i].pkey);
    }
    free(ks);
}

size_t
gh_jwks_count(const struct gh_jwks *ks)
{
    return ks == NULL ? 0 : ks->count;
}

int
gh_jwks_has_kid(const struct gh_jwks *ks, const char *kid)
{
    size_t i;

    if (ks == NULL || kid == NULL)
        return 0;
    for (i = 0; i < ks->count; i++)
        if (ks->keys[i].kid != NULL && strcmp(ks->keys[i].kid, kid) == 0)
            return 1;
    return 0;
}

enum gh_jwt_reason
gh_jwks_select(const struct gh_jwks *ks, const char *kid, enum gh_jwt_alg alg,
               const struct gh_jwk **out)
{
    const struct gh_jwk *found = NULL;
    size_t i, n = 0;

    *out = NULL;
    if (ks == NULL)
        return GH_JWT_UNKNOWN_KID;
    if (kid != NULL) {
        for (i = 0; i < ks->count && found == NULL; i++)
            if (ks->keys[i].kid != NULL && strcmp(ks->keys[i].kid, kid) == 0)
                found = &ks->keys[i];
        if (found == NULL)
            return GH_JWT_UNKNOWN_KID;
        if (found->alg != alg)
            return GH_JWT_ALG_MISMATCH;
        *out = found;
        return GH_JWT_OK;
    }
    /* No kid: only an unambiguous choice is a choice. */
    for (i = 0; i < ks->count; i++) {
        if (ks->keys[i].alg == alg) {
            found = &ks->keys[i];
            n++;
        }
    }
    if (n != 1)
        return GH_JWT_UNKNOWN_KID;
    *out = found;
    return GH_JWT_OK;
}
