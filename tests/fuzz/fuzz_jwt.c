/*
 * fuzz_jwt.c - libFuzzer target for the token verifier (gateway/auth).
 *
 * Each input is used three ways:
 *   1. as a JWKS document for gh_jwks_parse;
 *   2. as a token for gh_jwt_verify against a fixed key set, with and
 *      without the nonce and typ checks;
 *   3. as the signing input "header.payload" of a token that this harness
 *      signs with the fixed Ed25519 key, so that mutated headers and claims
 *      get past the signature and reach the claim checks.
 * Besides ASan/UBSan, it checks what the API promises: audit fields are
 * short, NUL-terminated printable ASCII; an accepted token carries the
 * expected issuer and audience and has not expired.
 *
 * The keys were made for this harness only. The Ed25519 private key below
 * signs nothing but fuzz inputs; it is in no other key set.
 */
#include "gatehouse/b64.h"
#include "gatehouse/jwt.h"
#include "gatehouse/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#define FUZZ_ISS   "https://idp.example.com"
#define FUZZ_AUD   "gatehouse"
#define FUZZ_NOW   INT64_C(1700000000)
#define FUZZ_SKEW  INT64_C(60)
#define FUZZ_NONCE "n-0S6_WzA2Mj"
#define FUZZ_TYP   "at+jwt"

/* kid rs (RS256), ps (PS256, same RSA key), ec (ES256), ed (EdDSA). */
static const char fuzz_jwks[] =
    "{\"keys\":[{\"kid\":\"rs\",\"use\":\"sig\",\"kty\":\"RSA\",\"n\":\"w"
    "F3S9GVV3Trjrh5L4SQmiRTTKMSKgLxlAVKlVs3TwWVtdWiIj7wDU1fArAKU3us2L3r6K"
    "kWk9DOLRyhznAI69sZVPUNCCi39yJJaMvVm8ld3a42WRd0m35YSIiLMwHTiCYNCPJDyb"
    "lgpO2JEUvSmYN1n3pjSrFTmOdNLRBndNfC56MKNU9swexTcBYHfw3qd_hDORnEdu1tBR"
    "9SkCe6GGzp-dcZTXkhF_LL7U-TXItGccKSbnjLv_gU71zHCTCPy8nXM_ML0-QAj8yc2F"
    "mN3KVsUrc6WPxMEvCiDb3hmQ18VBmi_U_5IuP2PbaP46kLrRFyUgvMlgs7KMaBWGYwOO"
    "w\",\"e\":\"AQAB\"},{\"kid\":\"ps\",\"alg\":\"PS256\",\"kty\":\"RSA"
    "\",\"n\":\"wF3S9GVV3Trjrh5L4SQmiRTTKMSKgLxlAVKlVs3TwWVtdWiIj7wDU1fAr"
    "AKU3us2L3r6KkWk9DOLRyhznAI69sZVPUNCCi39yJJaMvVm8ld3a42WRd0m35YSIiLMw"
    "HTiCYNCPJDyblgpO2JEUvSmYN1n3pjSrFTmOdNLRBndNfC56MKNU9swexTcBYHfw3qd_"
    "hDORnEdu1tBR9SkCe6GGzp-dcZTXkhF_LL7U-TXItGccKSbnjLv_gU71zHCTCPy8nXM_"
    "ML0-QAj8yc2FmN3KVsUrc6WPxMEvCiDb3hmQ18VBmi_U_5IuP2PbaP46kLrRFyUgvMlg"
    "s7KMaBWGYwOOw\",\"e\":\"AQAB\"},{\"kid\":\"ec\",\"kty\":\"EC\",\"crv"
    "\":\"P-256\",\"x\":\"4ooxllB2_NjJYJceClSVgF0AnY2ZqlZ0optRfMT0sWY\","
    "\"y\":\"1lW08sg2p6hq1_TLGk5Wj3jHWgzWa5pPQ2HN6wBrps8\"},{\"kid\":\"ed"
    "\",\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"sBUN2u4ue8V7WysGQFWRv"
    "1YRgf8zUHVTt_x5vtRpWNA\"}]}";

/* The private half of kid "ed" (fuzz-only, see above). */
static const unsigned char fuzz_ed_seed[32] = {
    0xd2, 0xfb, 0xde, 0x8e, 0x59, 0x0e, 0xf1, 0x9d, 0x80, 0x8b, 0xa2,
    0x75, 0xbe, 0xb7, 0x53, 0x62, 0xcc, 0x7a, 0xa6, 0xa3, 0xc7, 0xf0,
    0xbe, 0xf2, 0x64, 0x20, 0xf5, 0xac, 0x34, 0xf1, 0xf5, 0x4f,
};

static struct gh_jwks *fuzz_keys;
static EVP_PKEY *fuzz_signer;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[128];

    (void)argc;
    (void)argv;
    if (gh_jwks_parse(fuzz_jwks, strlen(fuzz_jwks), &fuzz_keys, err,
                      sizeof(err)) != 0 ||
        gh_jwks_count(fuzz_keys) != 4)
        abort();
    fuzz_signer = EVP_PKEY_new_raw_private_key_ex(
        NULL, "ED25519", NULL, fuzz_ed_seed, sizeof(fuzz_ed_seed));
    if (fuzz_signer == NULL)
        abort();
    return 0;
}

/* An audit field: NUL-terminated within cap, printable ASCII only. */
static void
fuzz_check_field(const char *f, size_t cap)
{
    size_t n = strnlen(f, cap);
    size_t i;

    if (n == cap)
        abort();
    for (i = 0; i < n; i++)
        if ((unsigned char)f[i] < 0x20 || (unsigned char)f[i] > 0x7e)
            abort();
}

/* The API's promises about a verification result. */
static void
fuzz_check(enum gh_jwt_reason r, struct gh_jwt *t,
           const struct gh_jwt_info *info, const struct gh_jwt_expect *ex)
{
    const json_t *aud;

    fuzz_check_field(info->iss, sizeof(info->iss));
    fuzz_check_field(info->sub, sizeof(info->sub));
    fuzz_check_field(info->kid, sizeof(info->kid));
    fuzz_check_field(info->jti, sizeof(info->jti));
    fuzz_check_field(info->alg, sizeof(info->alg));
    if (gh_jwt_reason_code(r) == NULL)
        abort();
    if (r != GH_JWT_OK) {
        if (t != NULL)
            abort();
        return;
    }
    if (t == NULL || gh_jwt_claim_str(t, "sub") == NULL ||
        strcmp(gh_jwt_claim_str(t, "iss"), ex->issuer) != 0 ||
        gh_jwt_exp(t) <= ex->now - ex->skew)
        abort();
    aud = json_object_get(gh_jwt_claims(t), "aud");
    if (!json_is_string(aud) && !json_is_array(aud))
        abort();
    if (ex->nonce != NULL &&
        strcmp(gh_jwt_claim_str(t, "nonce"), ex->nonce) != 0)
        abort();
}

static void
fuzz_verify(const char *tok, size_t len)
{
    static const struct gh_jwt_expect plain = {
        .issuer = FUZZ_ISS,
        .audience = FUZZ_AUD,
        .now = FUZZ_NOW,
        .skew = FUZZ_SKEW,
    };
    static const struct gh_jwt_expect strict = {
        .issuer = FUZZ_ISS,
        .audience = FUZZ_AUD,
        .now = FUZZ_NOW,
        .skew = FUZZ_SKEW,
        .nonce = FUZZ_NONCE,
        .typ = FUZZ_TYP,
    };
    struct gh_jwt_info info;
    struct gh_jwt *t = NULL;
    enum gh_jwt_reason r;

    r = gh_jwt_verify(tok, len, fuzz_keys, &plain, &t, &info);
    fuzz_check(r, t, &info, &plain);
    gh_jwt_free(t);
    r = gh_jwt_verify(tok, len, fuzz_keys, &strict, &t, &info);
    fuzz_check(r, t, &info, &strict);
    gh_jwt_free(t);
}

/* data "." b64url(Ed25519 signature of data), then verify it. */
static void
fuzz_sign_and_verify(const uint8_t *data, size_t size)
{
    unsigned char sig[64];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *mctx = NULL;
    char *s = NULL, *tok = NULL;

    if (size > GH_JWT_MAX || memchr(data, '.', size) == NULL)
        return;
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL ||
        EVP_DigestSignInit_ex(mctx, NULL, NULL, NULL, NULL, fuzz_signer,
                              NULL) != 1 ||
        EVP_DigestSign(mctx, sig, &siglen, data, size) != 1 ||
        gh_b64url_encode(sig, siglen, &s) != 0)
        abort();
    tok = gh_alloc(size + 1 + strlen(s) + 1, 1);
    memcpy(tok, data, size);
    tok[size] = '.';
    memcpy(tok + size + 1, s, strlen(s));
    fuzz_verify(tok, size + 1 + strlen(s));
    free(tok);
    free(s);
    EVP_MD_CTX_free(mctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_jwks *ks = NULL;
    char err[128];

    if (gh_jwks_parse((const char *)data, size, &ks, err, sizeof(err)) == 0) {
        if (gh_jwks_count(ks) == 0 || gh_jwks_count(ks) > GH_JWKS_KEYS_MAX)
            abort();
        (void)gh_jwks_has_kid(ks, "rs");
        gh_jwks_free(ks);
    } else if (ks != NULL || strnlen(err, sizeof(err)) == sizeof(err)) {
        abort();
    }
    fuzz_verify((const char *)data, size);
    fuzz_sign_and_verify(data, size);
    return 0;
}
