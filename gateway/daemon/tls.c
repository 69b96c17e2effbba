/* tls.c - certificate checks and self-signed generation with OpenSSL 3. */
#include "tls.h"

#include "gatehouse/err.h"
#include "gatehouse/fsutil.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Read a PEM file (bounded) into a memory BIO; NULL with why on failure. */
static BIO *
gh_tls_pem_bio(const char *path, char *why, size_t whylen)
{
    char *buf = NULL;
    size_t len = 0;
    BIO *b;
    int r;

    r = gh_file_read(path, GH_TLS_PEM_MAX, &buf, &len);
    if (r != 0) {
        snprintf(why, whylen, "cannot read %s: %s", gh_q(path),
                 r == GH_E_TOOBIG ? "file too large" : strerror(errno));
        return NULL;
    }
    b = BIO_new(BIO_s_mem());
    if (b == NULL || BIO_write(b, buf, (int)len) != (int)len) {
        BIO_free(b);
        b = NULL;
        snprintf(why, whylen, "out of memory reading %s", gh_q(path));
    }
    gh_freezero(buf, len);
    return b;
}

static X509 *
gh_tls_load_cert(const char *path, char *why, size_t whylen)
{
    BIO *b = gh_tls_pem_bio(path, why, whylen);
    X509 *x;

    if (b == NULL)
        return NULL;
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (x == NULL)
        snprintf(why, whylen, "%s is not a PEM certificate", gh_q(path));
    ERR_clear_error();
    return x;
}

static EVP_PKEY *
gh_tls_load_key(const char *path, char *why, size_t whylen)
{
    BIO *b = gh_tls_pem_bio(path, why, whylen);
    EVP_PKEY *k;

    if (b == NULL)
        return NULL;
    /* An empty passphrase callback: encrypted keys are refused, not
     * prompted for on a terminal that a daemon does not have. */
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
    BIO_free(b);
    if (k == NULL)
        snprintf(why, whylen, "%s is not an unencrypted PEM private key",
                 gh_q(path));
    ERR_clear_error();
    return k;
}

int
gh_tls_check_pair(const char *cert, const char *key, int *which, char *why,
                  size_t whylen)
{
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    int r = GH_E_CONFIG;

    *which = 0;
    x = gh_tls_load_cert(cert, why, whylen);
    if (x == NULL)
        goto out;
    *which = 1;
    k = gh_tls_load_key(key, why, whylen);
    if (k == NULL)
        goto out;
    if (X509_check_private_key(x, k) != 1) {
        snprintf(why, whylen, "%s does not match the certificate %s", gh_q(key),
                 gh_q(cert));
        ERR_clear_error();
        goto out;
    }
    r = 0;
out:
    X509_free(x);
    EVP_PKEY_free(k);
    return r;
}

/* Add one subjectAltName entry ("DNS:x" or "IP:x"). */
static int
gh_tls_add_san(GENERAL_NAMES *names, int type, const char *value)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_OCTET_STRING *os = NULL;
    ASN1_IA5STRING *ia5 = NULL;
    unsigned char ip[16];
    int iplen = 0;

    if (gn == NULL)
        return GH_E_CRYPTO;
    if (type == GEN_IPADD) {
        if (inet_pton(AF_INET, value, ip) == 1)
            iplen = 4;
        else if (inet_pton(AF_INET6, value, ip) == 1)
            iplen = 16;
        else
            goto fail;
        os = ASN1_OCTET_STRING_new();
        if (os == NULL || !ASN1_OCTET_STRING_set(os, ip, iplen))
            goto fail;
        GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
        os = NULL;
    } else {
        ia5 = ASN1_IA5STRING_new();
        if (ia5 == NULL || !ASN1_STRING_set(ia5, value, (int)strlen(value)))
            goto fail;
        GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
        ia5 = NULL;
    }
    if (!sk_GENERAL_NAME_push(names, gn))
        goto fail;
    return 0;
fail:
    ASN1_OCTET_STRING_free(os);
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
    return GH_E_CRYPTO;
}

/* True when addr is a specific address worth naming in the certificate. */
static int
gh_tls_addr_is_specific(const char *addr)
{
    return strcmp(addr, "0.0.0.0") != 0 && strcmp(addr, "::") != 0 &&
           strcmp(addr, "127.0.0.1") != 0 && strcmp(addr, "::1") != 0;
}

static int
gh_tls_generate(const char *cert_path, const char *key_path,
                const char *listen_address)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    X509_NAME *name;
    GENERAL_NAMES *san = NULL;
    BASIC_CONSTRAINTS *bc = NULL;
    BIO *kb = NULL, *cb = NULL;
    BUF_MEM *mem;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    char host[256];
    int r = GH_E_CRYPTO;

    pkey = EVP_EC_gen("P-256");
    x = X509_new();
    if (pkey == NULL || x == NULL)
        goto out;
    if (!X509_set_version(x, 2))
        goto out;
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto out;
    serial[0] &= 0x7f; /* positive */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (bn == NULL || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        goto out;
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
        !X509_gmtime_adj(X509_getm_notAfter(x),
                         (long)GH_TLS_SELFSIGNED_DAYS * 24 * 3600))
        goto out;
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    (const unsigned char *)"Gatehouse", -1, -1,
                                    0) ||
        !X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_ASC,
            (const unsigned char *)"Gatehouse self-signed", -1, -1, 0))
        goto out;
    if (!X509_set_issuer_name(x, name) || !X509_set_pubkey(x, pkey))
        goto out;
    san = sk_GENERAL_NAME_new_null();
    if (san == NULL || gh_tls_add_san(san, GEN_DNS, "localhost") != 0 ||
        gh_tls_add_san(san, GEN_IPADD, "127.0.0.1") != 0 ||
        gh_tls_add_san(san, GEN_IPADD, "::1") != 0)
        goto out;
    if (gethostname(host, sizeof(host)) == 0) {
        host[sizeof(host) - 1] = '\0';
        if (*host != '\0' && strcmp(host, "localhost") != 0 &&
            gh_tls_add_san(san, GEN_DNS, host) != 0)
            goto out;
    }
    if (gh_tls_addr_is_specific(listen_address) &&
        gh_tls_add_san(san, GEN_IPADD, listen_address) != 0)
        goto out;
    bc = BASIC_CONSTRAINTS_new(); /* CA:FALSE */
    if (bc == NULL || !X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0, 0) ||
        !X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, 0))
        goto out;
    if (!X509_sign(x, pkey, EVP_sha256()))
        goto out;

    kb = BIO_new(BIO_s_secmem()); /* wiped when freed */
    cb = BIO_new(BIO_s_mem());
    if (kb == NULL || cb == NULL ||
        !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cb, x))
        goto out;
    BIO_get_mem_ptr(kb, &mem);
    r = gh_file_write_atomic(key_path, mem->data, mem->length, 0600);
    if (r != 0)
        goto out;
    BIO_get_mem_ptr(cb, &mem);
    r = gh_file_write_atomic(cert_path, mem->data, mem->length, 0644);
out:
    if (r == GH_E_CRYPTO)
        ERR_clear_error();
    BIO_free(kb);
    BIO_free(cb);
    BN_free(bn);
    GENERAL_NAMES_free(san);
    BASIC_CONSTRAINTS_free(bc);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return r;
}

/*
 * 0 when the generated certificate at path is still valid for at least a
 * day and names listen_address (when that is a specific address);
 * otherwise why says what is wrong.
 */
static int
gh_tls_cert_fresh(const char *path, const char *listen_address, char *why,
                  size_t whylen)
{
    X509 *x = gh_tls_load_cert(path, why, whylen);
    time_t soon = time(NULL) + 24 * 3600;
    int r = GH_E_INVAL;

    if (x == NULL)
        return r;
    if (X509_cmp_time(X509_get0_notAfter(x), &soon) <= 0)
        snprintf(why, whylen, "certificate expires within a day");
    else if (gh_tls_addr_is_specific(listen_address) &&
             X509_check_ip_asc(x, listen_address, 0) != 1)
        snprintf(why, whylen, "certificate does not name %s",
                 gh_q(listen_address));
    else
        r = 0;
    X509_free(x);
    ERR_clear_error();
    return r;
}

int
gh_tls_ensure_selfsigned(const char *data_dir, const char *listen_address,
                         char **cert_out, char **key_out, int *generated)
{
    char *dir = gh_asprintf("%s/tls", data_dir);
    char *cert = gh_asprintf("%s/cert.pem", dir);
    char *key = gh_asprintf("%s/key.pem", dir);
    char why[512] = "";
    int which, r;

    *cert_out = *key_out = NULL;
    *generated = 0;
    r = gh_dir_make_private(dir);
    if (r != 0) {
        gh_error("tls", "msg=\"cannot create directory\" path=%s err=%s",
                 gh_q(dir), gh_q(strerror(errno)));
        goto out;
    }
    if (gh_path_exists(cert) || gh_path_exists(key)) {
        if (gh_tls_check_pair(cert, key, &which, why, sizeof(why)) == 0 &&
            gh_tls_cert_fresh(cert, listen_address, why, sizeof(why)) == 0)
            goto done;
        gh_warn("tls",
                "msg=\"generated certificate unusable or expiring; "
                "making a new one\" reason=%s",
                gh_q(why));
    }
    r = gh_tls_generate(cert, key, listen_address);
    if (r != 0) {
        gh_error("tls", "msg=\"cannot generate certificate\" err=%s",
                 gh_q(gh_strerror(r)));
        goto out;
    }
    *generated = 1;
done:
    *cert_out = cert;
    *key_out = key;
    cert = key = NULL;
    r = 0;
out:
    free(dir);
    free(cert);
    free(key);
    return r;
}

int
gh_tls_fingerprints(const char *path, char fp_hex[96], char spki_b64[48])
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int mdlen = 0, i;
    char why[256];
    X509 *x;
    int derlen, r = GH_E_CRYPTO;

    fp_hex[0] = spki_b64[0] = '\0';
    x = gh_tls_load_cert(path, why, sizeof(why));
    if (x == NULL)
        return GH_E_INVAL;
    if (!X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen != 32)
        goto out;
    for (i = 0; i < mdlen; i++) {
        fp_hex[i * 3] = hex[md[i] >> 4];
        fp_hex[i * 3 + 1] = hex[md[i] & 15];
        fp_hex[i * 3 + 2] = i + 1 < mdlen ? ':' : '\0';
    }
    derlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (derlen <= 0)
        goto out;
    if (!EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL))
        goto out;
    if (EVP_EncodeBlock((unsigned char *)spki_b64, md, (int)mdlen) != 44)
        goto out;
    r = 0;
out:
    OPENSSL_free(der);
    X509_free(x);
    ERR_clear_error();
    return r;
}
