/*
 * jwt.h - verification of signed JWTs (JWS compact serialization) against
 * a JSON Web Key Set, for the OIDC sign-in.
 *
 * The algorithm is fixed by the key, never by the token: each key of a
 * set gets exactly one algorithm when the set is parsed, and a token is
 * accepted only when its header names that same algorithm. "none", HMAC
 * and anything unlisted are refused before any key is looked at.
 *
 * Nothing here logs: callers log the gh_jwt_info fields and the reason
 * code, never the token.
 *
 * Every function may be called from any thread. A parsed key set is
 * immutable and may be shared by threads verifying at the same time; a
 * verified token belongs to the caller that got it.
 */
#ifndef GATEHOUSE_JWT_H
#define GATEHOUSE_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Tokens larger than this are refused unparsed: ID and access tokens are
 * a few KiB; this leaves room for large group claims, not for abuse. */
#define GH_JWT_MAX (16 * 1024)
/* JWKS documents larger than this are refused: real key sets are a few
 * KiB, tens of KiB with certificate chains (x5c). */
#define GH_JWKS_MAX (256 * 1024)
/* At most this many usable keys are kept (the rest are ignored): an IdP
 * publishes a handful, a few per algorithm while it rotates. */
#define GH_JWKS_KEYS_MAX 64
/* RSA keys with fewer bits are skipped (RFC 7518 section 3.3 asks for
 * 2048 and more). */
#define GH_JWKS_RSA_BITS_MIN 2048
/* RSA keys with more bits are skipped: verification time grows with the
 * size, and no IdP signs with more than 4096. */
#define GH_JWKS_RSA_BITS_MAX 8192

enum gh_jwt_alg {
    GH_JWT_ALG_NONE = 0, /* no usable algorithm; never accepted */
    GH_JWT_RS256,        /* RSA PKCS#1 v1.5, SHA-256 */
    GH_JWT_PS256,        /* RSA-PSS, SHA-256, MGF1 SHA-256, salt 32 */
    GH_JWT_ES256,        /* ECDSA P-256, SHA-256, 64-byte r||s */
    GH_JWT_EDDSA         /* Ed25519 */
};

/* A parsed key set: opaque, immutable after parse. */
struct gh_jwks;

/*
 * Parse a JWKS document ({"keys":[...]}) of len bytes (no NUL needed).
 *
 * Each key gets one algorithm: its "alg" if that is RS256, PS256, ES256
 * or EdDSA and fits the key type; without "alg", RSA gives RS256, EC P-256
 * gives ES256 and OKP Ed25519 gives EdDSA. Skipped (silently) are keys
 * with "use" other than "sig", "key_ops" without "verify", an unknown or
 * mismatched "alg", other key types (oct, ...) and curves, RSA moduli
 * outside GH_JWKS_RSA_BITS_MIN..MAX bits, exponents that are even,
 * below 3 or above 64 bits, EC points not on P-256, a "kid" that is not a
 * string, and a kid already taken by an earlier kept key. Private members
 * (d, p, q, dp, dq, qi) are ignored, never loaded.
 *
 * On success *out is a new set (free with gh_jwks_free). Errors: GH_E_TOOBIG
 * (len > GH_JWKS_MAX), GH_E_INVAL (not JSON, duplicate members, no "keys"
 * array, no usable key; a key OpenSSL fails to load counts as unusable);
 * err (may be NULL) then gets a short reason of at most errlen bytes,
 * NUL-terminated, empty on success.
 */
int gh_jwks_parse(const char *json, size_t len, struct gh_jwks **out, char *err,
                  size_t errlen);

/* Free a set (NULL is fine). */
void gh_jwks_free(struct gh_jwks *ks);

/* Number of keys kept (0 for NULL). */
size_t gh_jwks_count(const struct gh_jwks *ks);

/* 1 when a kept key has this kid, else 0. */
int gh_jwks_has_kid(const struct gh_jwks *ks, const char *kid);

/* Why a token was refused; GH_JWT_OK when it was not. */
enum gh_jwt_reason {
    GH_JWT_OK = 0,
    GH_JWT_TOO_BIG,       /* longer than GH_JWT_MAX */
    GH_JWT_MALFORMED,     /* not three base64url parts of JSON objects,
                             alg or kid not strings, "crit", an empty
                             signature; also NULL arguments */
    GH_JWT_ALG_REFUSED,   /* header alg none, HS*, or not supported */
    GH_JWT_UNKNOWN_KID,   /* no key with this kid (or, without a kid, not
                             exactly one key of the alg): refresh the
                             JWKS once and retry */
    GH_JWT_ALG_MISMATCH,  /* header alg is not the key's algorithm */
    GH_JWT_BAD_SIGNATURE, /* the signature does not verify */
    GH_JWT_BAD_ISS,       /* iss is not the expected issuer */
    GH_JWT_BAD_AUD,       /* aud does not hold the expected audience */
    GH_JWT_EXPIRED,       /* exp <= now - skew */
    GH_JWT_NOT_YET_VALID, /* nbf > now + skew */
    GH_JWT_IAT_FUTURE,    /* iat > now + skew */
    GH_JWT_BAD_NONCE,     /* nonce expected and absent or different */
    GH_JWT_BAD_TYP,       /* typ expected and absent or different */
    GH_JWT_MISSING_CLAIM  /* iss, sub, aud or exp absent or of the wrong
                             type (also nbf/iat of the wrong type) */
};

/* Stable snake_case code for logs and audit ("ok", "too_big", ...,
 * "iat_in_future", ...); static storage, never NULL. */
const char *gh_jwt_reason_code(enum gh_jwt_reason r);

/* What the caller expects of a token. Strings are borrowed for the call. */
struct gh_jwt_expect {
    const char *issuer;   /* required: exact string match of iss */
    const char *audience; /* required: must equal aud (string) or be one
                             element of aud (array of strings) */
    int64_t now;          /* unix seconds */
    int64_t skew;         /* seconds of tolerance for exp, nbf, iat (a
                             negative value counts as 0) */
    const char *nonce;    /* non-NULL: "nonce" claim must be present and
                             equal (constant-time compare) */
    const char *typ;      /* non-NULL: header "typ" must match
                             case-insensitively, an "application/" prefix
                             on either side ignored (e.g. "at+jwt");
                             NULL: typ ignored */
};

/*
 * What a token says about itself, filled even when it is refused (as far
 * as it parsed), for the audit log. UNVERIFIED unless the token was
 * accepted. Each field is NUL-terminated, cut to 128 bytes (alg: 16), and
 * has every byte outside printable ASCII replaced by '?'. Empty when
 * absent or not a string.
 */
struct gh_jwt_info {
    char iss[129], sub[129], kid[129], jti[129], alg[17];
};

/* A verified token. */
struct gh_jwt;

/*
 * Verify token (len bytes, no NUL needed) against keys and expect.
 * Checks, in this order: size, structure and JSON, alg refusal, typ, key
 * lookup, alg match, signature, then the claims (iss, sub, aud, exp, nbf,
 * iat, nonce) - so a forged token never gets its claims judged.
 *
 * Returns GH_JWT_OK with *out a new token (free with gh_jwt_free), or the
 * first reason found with *out NULL. info (may be NULL) is always cleared
 * and then filled as described above. token, keys, expect, out, or the
 * issuer or audience NULL refuse every token (GH_JWT_MALFORMED).
 */
enum gh_jwt_reason gh_jwt_verify(const char *token, size_t len,
                                 const struct gh_jwks *keys,
                                 const struct gh_jwt_expect *expect,
                                 struct gh_jwt **out, struct gh_jwt_info *info);

/* The claims object: borrowed, valid until gh_jwt_free(t). */
const json_t *gh_jwt_claims(const struct gh_jwt *t);

/* The string claim name, or NULL when absent or not a string; borrowed,
 * valid until gh_jwt_free(t). */
const char *gh_jwt_claim_str(const struct gh_jwt *t, const char *name);

/* The exp claim, in unix seconds. */
int64_t gh_jwt_exp(const struct gh_jwt *t);

/* Free a verified token (NULL is fine). */
void gh_jwt_free(struct gh_jwt *t);

#endif
