/*
 * jwks.h - private to gateway/auth: the key set behind struct gh_jwks,
 * shared by jwks.c (parsing) and jwt.c (verification).
 */
#ifndef GATEHOUSE_AUTH_JWKS_H
#define GATEHOUSE_AUTH_JWKS_H

#include "gatehouse/jwt.h"

#include <openssl/evp.h>

/* One usable public key with the one algorithm it may verify. */
struct gh_jwk {
    char *kid;           /* NULL when the key has none */
    enum gh_jwt_alg alg; /* never GH_JWT_ALG_NONE */
    EVP_PKEY *pkey;      /* public part only */
};

struct gh_jwks {
    size_t count;
    struct gh_jwk keys[GH_JWKS_KEYS_MAX];
};

/* The algorithm a JOSE "alg" name stands for (case-sensitive), or
 * GH_JWT_ALG_NONE for "none", HS*, and everything unsupported. */
enum gh_jwt_alg gh_jwt_alg_from_name(const char *name);

/*
 * The key a token with this kid (NULL: none) and header alg must verify
 * with. With a kid: the key with that kid (GH_JWT_UNKNOWN_KID if none),
 * whose algorithm must be alg (GH_JWT_ALG_MISMATCH). Without: the only key
 * of alg (GH_JWT_UNKNOWN_KID when there are none or several). On GH_JWT_OK
 * *out borrows the key from ks.
 */
enum gh_jwt_reason gh_jwks_select(const struct gh_jwks *ks, const char *kid,
                                  enum gh_jwt_alg alg,
                                  const struct gh_jwk **out);

#endif
