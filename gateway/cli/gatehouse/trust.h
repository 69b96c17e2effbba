/*
 * trust.h - how the gatehouse CLI addresses and trusts the gateway on its
 * tunnel data path: the server URL taken apart, the TLS context, the
 * tunnel path built with the target escaped, and the gateway's
 * certificate checked before the bearer token is written.
 */
#ifndef GATEHOUSE_CLI_TRUST_H
#define GATEHOUSE_CLI_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* Parse "https://host:port/prefix" into host (brackets removed), port
 * and prefix ("" or "/prefix"), and whether TLS is used. A user part,
 * a query or a fragment is refused. 0 or -1. */
int gh_trust_url(const char *url, char *host, size_t hostlen, int *port,
                 const char **prefix, int *tls);

/* Append s to the NUL-terminated dst (capacity cap), percent-escaping
 * every byte but the unreserved ones; cut short rather than overflow. */
void gh_trust_escape(char *dst, size_t cap, const char *s);

/*
 * A TLS client context for the data path: TLS 1.2 or newer, the CA file
 * (PEM) or else the system store loaded for gh_trust_peer_ok. The
 * handshake itself does not fail on the certificate: the check comes
 * after it, so that the user is told exactly what was wrong. NULL (said
 * on stderr) when the CA file cannot be used.
 */
SSL_CTX *gh_trust_ctx(const char *ca_file);

/*
 * The TLS peer of ssl is the gateway: with pin ("sha256//BASE64"), its
 * public key hashes to pin (compared in constant time); without, the
 * chain verified and the certificate names host (a DNS name or an IP
 * literal). Says why not on stderr, naming server. Plain http (loopback
 * only) and --insecure are the caller's to skip.
 */
bool gh_trust_peer_ok(SSL *ssl, const char *server, const char *host,
                      const char *pin);

#endif
