/*
 * b64.c - base64url without padding on top of OpenSSL's base64 blocks.
 *
 * EVP_DecodeBlock is lenient (it skips leading and trailing whitespace and
 * counts '=' padding as decoded zero bytes), so every input is checked
 * against the base64url alphabet here first and the exact decoded length
 * is computed from the unpadded length.
 */
#include "gatehouse/b64.h"
#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

/* Value 0..63 of a base64url character, or -1 for anything else. */
static int
gh_b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int
gh_b64url_encode(const void *in, size_t len, char **out)
{
    char *buf = NULL;
    size_t cap, i, n;
    int w, r;

    *out = NULL;
    if (len > GH_B64_MAX)
        return GH_E_TOOBIG;
    cap = (len + 2) / 3 * 4 + 1; /* EVP_EncodeBlock writes a NUL too */
    buf = gh_alloc(cap, 1);
    w = len == 0 ? 0 : EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    if (w < 0 || (size_t)w >= cap) {
        r = GH_E_CRYPTO;
        goto out;
    }
    n = (size_t)w;
    while (n > 0 && buf[n - 1] == '=')
        n--;
    buf[n] = '\0';
    for (i = 0; i < n; i++) {
        if (buf[i] == '+')
            buf[i] = '-';
        else if (buf[i] == '/')
            buf[i] = '_';
    }
    *out = buf;
    buf = NULL;
    r = 0;
out:
    free(buf);
    return r;
}

int
gh_b64url_decode(const char *in, size_t len, unsigned char **out,
                 size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned char *std = NULL, *bin = NULL;
    size_t rem = len % 4, padded, exact, i;
    int v = 0, w, r;

    *out = NULL;
    *outlen = 0;
    if (len > GH_B64_MAX)
        return GH_E_TOOBIG;
    if (rem == 1)
        return GH_E_INVAL; /* 6 bits cannot make a byte */
    for (i = 0; i < len; i++) {
        v = gh_b64url_value(s[i]);
        if (v < 0)
            return GH_E_INVAL;
    }
    /*
     * The last character of a 2- or 3-character group carries 4 or 2 bits
     * that do not reach the output; they must be zero, or one byte string
     * would have several spellings.
     */
    if ((rem == 2 && (v & 0x0f) != 0) || (rem == 3 && (v & 0x03) != 0))
        return GH_E_INVAL;

    exact = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    padded = rem == 0 ? len : len + 4 - rem;
    std = gh_alloc(padded + 1, 1);
    for (i = 0; i < len; i++) {
        if (s[i] == '-')
            std[i] = '+';
        else if (s[i] == '_')
            std[i] = '/';
        else
            std[i] = s[i];
    }
    for (; i < padded; i++)
        std[i] = '=';
    /* Decoded size of the padded text, padding bytes included, + a NUL. */
    bin = gh_alloc(padded / 4 * 3 + 1, 1);
    w = padded == 0 ? 0 : EVP_DecodeBlock(bin, std, (int)padded);
    if (w < 0 || (size_t)w != padded / 4 * 3) {
        r = GH_E_INVAL;
        goto out;
    }
    bin[exact] = '\0';
    *out = bin;
    *outlen = exact;
    bin = NULL;
    r = 0;
out:
    free(std);
    free(bin);
    return r;
}

int
gh_b64url_random(size_t n, char **out)
{
    unsigned char raw[64];
    int r;

    *out = NULL;
    if (n == 0 || n > sizeof(raw))
        return GH_E_INVAL;
    if (RAND_bytes(raw, (int)n) != 1)
        return GH_E_CRYPTO;
    r = gh_b64url_encode(raw, n, out);
    gh_wipe(raw, sizeof(raw));
    return r;
}

int
gh_b64url_sha256(const char *s, char **out)
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    *out = NULL;
    if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != sizeof(md))
        return GH_E_CRYPTO;
    return gh_b64url_encode(md, sizeof(md), out);
}
