/*
 * tls.h - the gateway's certificate: checks, self-signed generation, and
 * fingerprints. Main thread of gatehoused only (start-up and -t).
 */
#ifndef GATEHOUSE_DAEMON_TLS_H
#define GATEHOUSE_DAEMON_TLS_H

#include <stddef.h>

/* A PEM certificate or key file larger than this is not one. */
#define GH_TLS_PEM_MAX (256 * 1024)
/* Lifetime of a generated certificate: a year; a start within a day of
 * its end makes a new one (browsers must then trust it anew). */
#define GH_TLS_SELFSIGNED_DAYS 365

/*
 * Check that cert is a readable PEM certificate, key a readable PEM
 * private key, and that they match. On failure *which is 0 when the
 * certificate is at fault, 1 when the key is, and why holds the reason.
 */
int gh_tls_check_pair(const char *cert, const char *key, int *which, char *why,
                      size_t whylen);

/*
 * Make sure DIR/tls/cert.pem and DIR/tls/key.pem exist: reuse a valid pair
 * that lives at least another day and names listen_address (when that is a
 * specific address), otherwise generate an ECDSA P-256 key (0600) and a
 * self-signed certificate for localhost, 127.0.0.1, ::1, the host name and
 * listen_address. *cert_out and *key_out are new strings (caller frees).
 * *generated is set to 1 when a new pair was made.
 */
int gh_tls_ensure_selfsigned(const char *data_dir, const char *listen_address,
                             char **cert_out, char **key_out, int *generated);

/*
 * Fingerprints of the certificate in path: SHA-256 of the DER certificate
 * as colon-separated hex (95 chars + NUL) and base64 SHA-256 of its
 * SubjectPublicKeyInfo (what Chromium's --ignore-certificate-errors-spki-list
 * and HPKP-style pins use; 44 chars + NUL).
 */
int gh_tls_fingerprints(const char *path, char fp_hex[96], char spki_b64[48]);

#endif
