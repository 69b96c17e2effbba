/*
 * jwt.c - JWS compact serialization (RFC 7515) and JWT claims (RFC 7519),
 * verified with OpenSSL's EVP API, following RFC 8725's advice: the key
 * decides the algorithm, "none" and HMAC never pass, and nothing in a
 * token is trusted before its signature is.
 */
#include "jwks.h"

#include "gatehouse/b64.h"
#include "gatehouse/err.h"
#include "gatehouse/jwt.h"
#include "gatehouse/mem.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

/* JOSE ES256 signatures are r || s, each a 32-byte big-endian integer. */
#define GH_JWT_ES256_SIG 64
/* Ed25519 signatures are 64 bytes. */
#define GH_JWT_ED25519_SIG 64
/* RFC 7518 section 3.5: the PS256 salt is as long as the SHA-256 hash. */
#define GH_JWT_PS256_SALT 32

struct gh_jwt {
    json_t *claims;
    int64_t exp;
};

static const char *const gh_jwt_reason_codes[] = {
    [GH_JWT_OK] = "ok",
    [GH_JWT_TOO_BIG] = "too_big",
    [GH_JWT_MALFORMED] = "malformed",
    [GH_JWT_ALG_REFUSED] = "alg_refused",
    [GH_JWT_UNKNOWN_KID] = "unknown_kid",
    [GH_JWT_ALG_MISMATCH] = "alg_mismatch",
    [GH_JWT_BAD_SIGNATURE] = "bad_signature",
    [GH_JWT_BAD_ISS] = "bad_iss",
    [GH_JWT_BAD_AUD] = "bad_aud",
    [GH_JWT_EXPIRED] = "expired",
    [GH_JWT_NOT_YET_VALID] = "not_yet_valid",
    [GH_JWT_IAT_FUTURE] = "iat_in_future",
    [GH_JWT_BAD_NONCE] = "bad_nonce",
    [GH_JWT_BAD_TYP] = "bad_typ",
    [GH_JWT_MISSING_CLAIM] = "missing_claim",
};

const char *
gh_jwt_reason_code(enum gh_jwt_reason r)
{
    size_t i = (size_t)r;

    if (i >= sizeof(gh_jwt_reason_codes) / sizeof(gh_jwt_reason_codes[0]) ||
        gh_jwt_reason_codes[i] == NULL)
        return "unknown";
    return gh_jwt_reason_codes[i];
}

/* Copy a string claim into an audit field: cut, printable ASCII only. */
static void
gh_jwt_info_set(char *dst, size_t cap, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n, i;

    if (s == NULL)
        return;
    n = json_string_length(v);
    if (n > cap - 1)
        n = cap - 1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[n] = '\0';
}

/* Decode one base64url part and parse it as a JSON object. */
static json_t *
gh_jwt_part_json(const char *p, size_t len)
{
    unsigned char *buf = NULL;
    size_t n;
    json_t *j = NULL;

    if (len == 0 || gh_b64url_decode(p, len, &buf, &n) != 0)
        return NULL;
    /* Duplicate members would let two readers see two different tokens;
     * without JSON_ALLOW_NUL a "\u0000" inside a string is refused. */
    j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* "application/at+jwt" and "at+jwt" name the same type (RFC 7515
 * section 4.1.9). */
static const char *
gh_jwt_typ_base(const char *s)
{
    static const char app[] = "application/";

    if (strncasecmp(s, app, sizeof(app) - 1) == 0)
        return s + sizeof(app) - 1;
    return s;
}

/* The JOSE r || s signature as the DER ECDSA-Sig-Value OpenSSL verifies;
 * *der is freed with OPENSSL_free. Returns its length, or -1. */
static int
gh_jwt_es256_der(const unsigned char *sig, unsigned char **der)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    int n = -1;

    *der = NULL;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, GH_JWT_ES256_SIG / 2, NULL);
    s = BN_bin2bn(sig + GH_JWT_ES256_SIG / 2, GH_JWT_ES256_SIG / 2, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL; /* es owns them now */
    n = i2d_ECDSA_SIG(es, der);
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return n;
}

/* 1 when sig is k's signature of msg under k's one algorithm, else 0. */
static int
gh_jwt_sig_ok(const struct gh_jwk *k, const unsigned char *msg, size_t msglen,
              const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    const char *md = "SHA256";
    int n, ok = 0;

    /* Failed verifications queue OpenSSL errors; they are no one's. */
    ERR_set_mark();
    switch (k->alg) {
    case GH_JWT_RS256:
    case GH_JWT_PS256:
        if (siglen != (size_t)EVP_PKEY_get_size(k->pkey))
            goto out;
        break;
    case GH_JWT_ES256:
        if (siglen != GH_JWT_ES256_SIG)
            goto out;
        n = gh_jwt_es256_der(sig, &der);
        if (n <= 0)
            goto out;
        sig = der;
        siglen = (size_t)n;
        break;
    case GH_JWT_EDDSA:
        if (siglen != GH_JWT_ED25519_SIG)
            goto out;
        md = NULL; /* Ed25519 hashes internally */
        break;
    case GH_JWT_ALG_NONE:
    default:
        goto out;
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL || EVP_DigestVerifyInit_ex(mctx, &pctx, md, NULL, NULL,
                                                k->pkey, NULL) != 1)
        goto out;
    if (k->alg == GH_JWT_RS256 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    if (k->alg == GH_JWT_PS256 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, GH_JWT_PS256_SALT) != 1))
        goto out;
    ok = EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1;
out:
    EVP_MD_CTX_free(mctx); /* frees pctx too */
    OPENSSL_free(der);
    ERR_pop_to_mark();
    return ok;
}

/* A NumericDate (integer, or real truncated) into *v; 0 when v is not a
 * number or not representable. */
static int
gh_jwt_numeric_date(const json_t *j, int64_t *v)
{
    double d;

    if (json_is_integer(j)) {
        *v = (int64_t)json_integer_value(j);
        return 1;
    }
    if (!json_is_real(j))
        return 0;
    d = json_real_value(j);
    /* Converting a double outside int64_t's range is undefined. */
    if (!(d > -9.0e18 && d < 9.0e18))
        return 0;
    *v = (int64_t)d;
    return 1;
}

static int64_t
gh_sat_add(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t
gh_sat_sub(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_sub_overflow(a, b, &r))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return r;
}

/* True when the JSON string v is exactly s. */
static int
gh_jwt_str_eq(const json_t *v, const char *s)
{
    size_t n = strlen(s);

    return json_is_string(v) && json_string_length(v) == n &&
           memcmp(json_string_value(v), s, n) == 0;
}

/* aud is a string equal to want, or an array of strings holding it. */
static enum gh_jwt_reason
gh_jwt_check_aud(const json_t *aud, const char *want)
{
    const json_t *v;
    size_t i;
    int hit = 0;

    if (aud == NULL)
        return GH_JWT_MISSING_CLAIM;
    if (json_is_string(aud))
        return gh_jwt_str_eq(aud, want) ? GH_JWT_OK : GH_JWT_BAD_AUD;
    if (!json_is_array(aud))
        return GH_JWT_BAD_AUD;
    json_array_foreach(aud, i, v)
    {
        if (!json_is_string(v))
            return GH_JWT_BAD_AUD; /* not an array of strings */
        if (gh_jwt_str_eq(v, want))
            hit = 1;
    }
    return hit ? GH_JWT_OK : GH_JWT_BAD_AUD;
}

/* The claims of a token whose signature has been verified. */
static enum gh_jwt_reason
gh_jwt_check_claims(const json_t *pl, const struct gh_jwt_expect *ex,
                    int64_t *exp_out)
{
    const json_t *iss = json_object_get(pl, "iss");
    const json_t *nbf = json_object_get(pl, "nbf");
    const json_t *iat = json_object_get(pl, "iat");
    const json_t *nonce;
    int64_t skew = ex->skew > 0 ? ex->skew : 0, exp, t;
    enum gh_jwt_reason why;

    if (!json_is_string(iss))
        return GH_JWT_MISSING_CLAIM;
    if (!gh_jwt_str_eq(iss, ex->issuer))
        return GH_JWT_BAD_ISS;
    if (!json_is_string(json_object_get(pl, "sub")))
        return GH_JWT_MISSING_CLAIM;
    why = gh_jwt_check_aud(json_object_get(pl, "aud"), ex->audience);
    if (why != GH_JWT_OK)
        return why;
    if (!gh_jwt_numeric_date(json_object_get(pl, "exp"), &exp))
        return GH_JWT_MISSING_CLAIM;
    if (exp <= gh_sat_sub(ex->now, skew))
        return GH_JWT_EXPIRED;
    if (nbf != NULL) {
        if (!gh_jwt_numeric_date(nbf, &t))
            return GH_JWT_MISSING_CLAIM;
        if (t > gh_sat_add(ex->now, skew))
            return GH_JWT_NOT_YET_VALID;
    }
    if (iat != NULL) {
        if (!gh_jwt_numeric_date(iat, &t))
            return GH_JWT_MISSING_CLAIM;
        if (t > gh_sat_add(ex->now, skew))
            return GH_JWT_IAT_FUTURE;
    }
    if (ex->nonce != NULL) {
        size_t n = strlen(ex->nonce);

        nonce = json_object_get(pl, "nonce");
        /* The length may show; the bytes may not. */
        if (!json_is_string(nonce) || json_string_length(nonce) != n ||
            gh_ct_memcmp(json_string_value(nonce), ex->nonce, n) != 0)
            return GH_JWT_BAD_NONCE;
    }
    *exp_out = exp;
    return GH_JWT_OK;
}

enum gh_jwt_reason
gh_jwt_verify(const char *token, size_t len, const struct gh_jwks *keys,
              const struct gh_jwt_expect *expect, struct gh_jwt **out,
              struct gh_jwt_info *info)
{
    struct gh_jwt_info scratch;
    const char *d1, *d2, *sigp;
    size_t hlen, plen, slen, siglen = 0;
    unsigned char *sig = NULL;
    json_t *hdr = NULL, *pl = NULL;
    const json_t *jalg, *jkid, *jtyp;
    const struct gh_jwk *key;
    enum gh_jwt_alg alg;
    enum gh_jwt_reason r;
    int64_t exp = 0;
    struct gh_jwt *t;

    if (info == NULL)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    if (out != NULL)
        *out = NULL;
    if (token == NULL || out == NULL || keys == NULL || expect == NULL ||
        expect->issuer == NULL || expect->audience == NULL)
        return GH_JWT_MALFORMED;
    if (len > GH_JWT_MAX)
        return GH_JWT_TOO_BIG;

    /* Exactly three parts; the base64url decoder refuses any other byte
     * (whitespace, a third '.', padding, NUL). */
    d1 = memchr(token, '.', len);
    if (d1 == NULL) {
        r = GH_JWT_MALFORMED;
        goto out;
    }
    hlen = (size_t)(d1 - token);
    d2 = memchr(d1 + 1, '.', len - hlen - 1);
    if (d2 == NULL) {
        r = GH_JWT_MALFORMED;
        goto out;
    }
    plen = (size_t)(d2 - d1 - 1);
    sigp = d2 + 1;
    slen = len - (size_t)(sigp - token);
    hdr = gh_jwt_part_json(token, hlen);
    if (hdr != NULL) {
        gh_jwt_info_set(info->kid, sizeof(info->kid),
                        json_object_get(hdr, "kid"));
        gh_jwt_info_set(info->alg, sizeof(info->alg),
                        json_object_get(hdr, "alg"));
    }
    pl = gh_jwt_part_json(d1 + 1, plen);
    if (pl != NULL) {
        gh_jwt_info_set(info->iss, sizeof(info->iss),
                        json_object_get(pl, "iss"));
        gh_jwt_info_set(info->sub, sizeof(info->sub),
                        json_object_get(pl, "sub"));
        gh_jwt_info_set(info->jti, sizeof(info->jti),
                        json_object_get(pl, "jti"));
    }
    if (hdr == NULL || pl == NULL ||
        gh_b64url_decode(sigp, slen, &sig, &siglen) != 0) {
        r = GH_JWT_MALFORMED;
        goto out;
    }

    /* Header: alg a string, kid a string if present, and no "crit": we
     * understand no extension, so none may be required of us. */
    jalg = json_object_get(hdr, "alg");
    jkid = json_object_get(hdr, "kid");
    if (!json_is_string(jalg) || (jkid != NULL && !json_is_string(jkid)) ||
        json_object_get(hdr, "crit") != NULL) {
        r = GH_JWT_MALFORMED;
        goto out;
    }
    alg = gh_jwt_alg_from_name(json_string_value(jalg));
    if (alg == GH_JWT_ALG_NONE) {
        r = GH_JWT_ALG_REFUSED; /* none, HS*, and all we do not support */
        goto out;
    }
    if (siglen == 0) {
        r = GH_JWT_MALFORMED; /* a signed token without its signature */
        goto out;
    }
    if (expect->typ != NULL) {
        jtyp = json_object_get(hdr, "typ");
        if (!json_is_string(jtyp) ||
            strcasecmp(gh_jwt_typ_base(json_string_value(jtyp)),
                       gh_jwt_typ_base(expect->typ)) != 0) {
            r = GH_JWT_BAD_TYP;
            goto out;
        }
    }
    r = gh_jwks_select(keys, json_string_value(jkid), alg, &key);
    if (r != GH_JWT_OK)
        goto out;
    /* The signing input is the token's own text up to the second dot. */
    if (!gh_jwt_sig_ok(key, (const unsigned char *)token, (size_t)(d2 - token),
                       sig, siglen)) {
        r = GH_JWT_BAD_SIGNATURE;
        goto out;
    }
    r = gh_jwt_check_claims(pl, expect, &exp);
    if (r != GH_JWT_OK)
        goto out;
    t = gh_alloc(1, sizeof(*t));
    t->claims = pl;
    t->exp = exp;
    pl = NULL;
    *out = t;
out:
    free(sig);
    json_decref(hdr);
    json_decref(pl);
    return r;
}

const json_t *
gh_jwt_claims(const struct gh_jwt *t)
{
    return t == NULL ? NULL : t->claims;
}

const char *
gh_jwt_claim_str(const struct gh_jwt *t, const char *name)
{
    if (t == NULL || name == NULL)
        return NULL;
    return json_string_value(json_object_get(t->claims, name));
}

int64_t
gh_jwt_exp(const struct gh_jwt *t)
{
    return t == NULL ? 0 : t->exp;
}

void
gh_jwt_free(struct gh_jwt *t)
{
    if (t == NULL)
        return;
    json_decref(t->claims);
    free(t);
}
