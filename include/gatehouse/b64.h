/*
 * b64.h - base64url (RFC 4648 section 5) without padding, as JOSE uses it.
 *
 * Built on OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock; this file only
 * translates the alphabet and handles padding. Any thread may call them.
 */
#ifndef GATEHOUSE_B64_H
#define GATEHOUSE_B64_H

#include <stddef.h>

/*
 * Inputs longer than this are refused (GH_E_TOOBIG): EVP_*Block take int
 * lengths, and nothing Gatehouse encodes or decodes comes near it.
 */
#define GH_B64_MAX (64 * 1024 * 1024)

/*
 * Encode len bytes at in as base64url without '=' padding into *out, a new
 * NUL-terminated string (caller frees). Returns 0, GH_E_TOOBIG or
 * GH_E_CRYPTO.
 */
int gh_b64url_encode(const void *in, size_t len, char **out);

/*
 * Decode len characters at in (no NUL needed) into *out, a new buffer of
 * *outlen bytes (caller frees; one extra NUL byte follows the data so text
 * can be used as a string). Only the unpadded base64url alphabet is
 * accepted: '=' anywhere, '+', '/', whitespace, any other byte, a length
 * with len % 4 == 1, or unused trailing bits that are not zero (a second
 * spelling of the same bytes) give GH_E_INVAL with *out NULL.
 */
int gh_b64url_decode(const char *in, size_t len, unsigned char **out,
                     size_t *outlen);

/* n (at most 64) fresh random bytes (OpenSSL's CSPRNG), base64url: a
 * state, nonce or PKCE verifier. 0, or GH_E_CRYPTO / GH_E_INVAL. */
int gh_b64url_random(size_t n, char **out);

/* base64url(SHA-256(s)): the PKCE S256 challenge of verifier s (RFC 7636
 * section 4.2). 0 or GH_E_CRYPTO. */
int gh_b64url_sha256(const char *s, char **out);

#endif
