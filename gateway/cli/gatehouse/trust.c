/*
 * trust.c - how the gatehouse CLI addresses and trusts the gateway on its
 * data path (see trust.h).
 */
#include "trust.h"

#include "cli-token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

/* ---- the server URL ---- */

int
gh_trust_url(const char *url, char *host, size_t hostlen, int *port,
             const char **prefix, int *tls)
{
    const char *p, *h, *end, *colon = NULL;
    size_t n;
    char *e;
    long v;

    if (strncmp(url, "https://", 8) == 0) {
        *tls = 1;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        *tls = 0;
        p = url + 7;
    } else
        return -1;
    end = p + strcspn(p, "/?#");
    if (*p == '[') {
        h = p + 1;
        if ((e = memchr(h, ']', (size_t)(end - h))) == NULL)
            return -1;
        n = (size_t)(e - h);
        if (e + 1 < end && e[1] == ':')
            colon = e + 1;
        else if (e + 1 != end)
            return -1;
    } else {
        h = p;
        colon = memchr(p, ':', (size_t)(end - p));
        n = (size_t)((colon ? colon : end) - h);
    }
    if (n == 0 || n >= hostlen || memchr(h, '@', n) != NULL)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = *tls ? 443 : 80;
    if (colon != NULL) {
        errno = 0;
        v = strtol(colon + 1, &e, 10);
        if (errno != 0 || e != end || v < 1 || v > 65535)
            return -1;
        *port = (int)v;
    }
    if (*end == '?' || *end == '#')
        return -1;
    *prefix = end;
    return 0;
}

void
gh_trust_escape(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);

    for (; *s != '\0' && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL)
            dst[n++] = (char)ch;
        else
            n += (size_t)snprintf(dst + n, cap - n, "%%%02X", ch);
    }
    dst[n] = '\0';
}

/* ---- TLS: checked before the token leaves ---- */

SSL_CTX *
gh_trust_ctx(const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL) {
        gh_cli_err("cannot set up TLS");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Verified after the handshake by gh_trust_peer_ok (which reads the
     * result of the chain check OpenSSL still makes). */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* Partial writes from a buffer that stays put; records read ahead
     * in one call, not a header then a body. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
    if (ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
                        : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        gh_cli_err("cannot load the CA certificates%s%s (readable PEM?)",
                   ca_file ? " from " : "", ca_file ? ca_file : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* True when the peer's public key hashes to pin ("sha256//BASE64"). */
static bool
gh_trust_pin_ok(X509 *cert, const char *pin)
{
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    char b64[48];
    int n;
    bool ok;

    n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    if (n <= 0)
        return false;
    ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1;
    OPENSSL_free(der);
    if (!ok || EVP_EncodeBlock((unsigned char *)b64, md, 32) != 44)
        return false;
    return strlen(pin) == 8 + 44 && CRYPTO_memcmp(pin + 8, b64, 44) == 0;
}

bool
gh_trust_peer_ok(SSL *ssl, const char *server, const char *host,
                 const char *pin)
{
    X509 *cert;
    bool ok = false;

    if (ssl == NULL || (cert = SSL_get1_peer_certificate(ssl)) == NULL) {
        gh_cli_err("%s: the gateway sent no certificate", server);
        return false;
    }
    if (pin != NULL) {
        ok = gh_trust_pin_ok(cert, pin);
        if (!ok)
            gh_cli_err("%s: certificate mismatch: the gateway's public key "
                       "is not the pinned one (was it replaced, or is "
                       "someone in the middle?)",
                       server);
    } else {
        long v = SSL_get_verify_result(ssl);

        if (v != X509_V_OK)
            gh_cli_err("%s: the gateway's certificate is not trusted: %s",
                       server, X509_verify_cert_error_string(v));
        else if (X509_check_ip_asc(cert, host, 0) != 1 &&
                 X509_check_host(cert, host, 0, 0, NULL) != 1)
            gh_cli_err("%s: the gateway's certificate is not for %s", server,
                       host);
        else
            ok = true;
    }
    X509_free(cert);
    return ok;
}
