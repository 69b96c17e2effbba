/* Unit tests for gateway/daemon/tls.c: self-signed pair, checks, pins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tls.h"

#include "gatehouse/err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../gh_test.h"

struct fx {
    char *dir;
    char *cert; /* DIR/tls/cert.pem once generated */
    char *key;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->dir = gh_test_mkdtemp("tls");
    *state = fx;
    return 0;
}

/* setup plus a generated pair in DIR/tls. */
static int
setup_pair(void **state)
{
    struct fx *fx;
    int generated = 0;

    setup(state);
    fx = *state;
    assert_int_equal(gh_tls_ensure_selfsigned(fx->dir, "127.0.0.1", &fx->cert,
                                              &fx->key, &generated),
                     0);
    assert_int_equal(generated, 1);
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    gh_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->cert);
    free(fx->key);
    free(fx);
    return 0;
}

/* First line of a shell command's output, without the newline. */
static char *
run(const char *cmd)
{
    char line[1024];
    FILE *p = popen(cmd, "r");
    size_t n;

    assert_non_null(p);
    if (fgets(line, sizeof(line), p) == NULL)
        line[0] = '\0';
    assert_int_equal(pclose(p), 0);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return strdup(line);
}

static X509 *
load_x509(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x;

    assert_non_null(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static void
test_tls__generate(void **state)
{
    struct fx *fx = *state;
    char *tlsdir = gh_test_path(fx->dir, "tls");
    char *wcert = gh_test_path(fx->dir, "tls/cert.pem");
    char *wkey = gh_test_path(fx->dir, "tls/key.pem");
    char *cert = NULL, *key = NULL;
    int generated = 0;

    assert_int_equal(
        gh_tls_ensure_selfsigned(fx->dir, "127.0.0.1", &cert, &key, &generated),
        0);
    assert_int_equal(generated, 1);
    assert_string_equal(cert, wcert);
    assert_string_equal(key, wkey);
    assert_int_equal(gh_test_mode(tlsdir), 0700);
    assert_int_equal(gh_test_mode(cert), 0644);
    assert_int_equal(gh_test_mode(key), 0600);
    /* Nothing but the pair: no temporary files left. */
    assert_int_equal(gh_test_count_entries(tlsdir), 2);
    free(cert);
    free(key);
    free(tlsdir);
    free(wcert);
    free(wkey);
}

/* The key is ECDSA P-256, unencrypted; the certificate is valid now for
 * about GH_TLS_SELFSIGNED_DAYS. */
static void
test_tls__generated_properties(void **state)
{
    struct fx *fx = *state;
    X509 *x = load_x509(fx->cert);
    FILE *f = fopen(fx->key, "r");
    EVP_PKEY *k;
    char group[64];
    size_t glen = 0;
    int pday = 0, psec = 0;

    assert_non_null(f);
    k = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
    fclose(f);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
    assert_int_equal(
        EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &glen),
        1);
    assert_string_equal(group, "prime256v1");
    assert_int_equal(X509_check_private_key(x, k), 1);
    assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
    assert_int_equal(ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(x)),
                     1);
    assert_true(pday >= GH_TLS_SELFSIGNED_DAYS - 1);
    assert_true(pday <= GH_TLS_SELFSIGNED_DAYS);
    EVP_PKEY_free(k);
    X509_free(x);
}

static void
test_tls__reuse(void **state)
{
    struct fx *fx = *state;
    char fp1[96], fp2[96], spki1[48], spki2[48];
    char *cert = NULL, *key = NULL;
    int generated = 1;

    assert_int_equal(gh_tls_fingerprints(fx->cert, fp1, spki1), 0);
    assert_int_equal(
        gh_tls_ensure_selfsigned(fx->dir, "127.0.0.1", &cert, &key, &generated),
        0);
    assert_int_equal(generated, 0);
    assert_string_equal(cert, fx->cert);
    assert_string_equal(key, fx->key);
    assert_int_equal(gh_tls_fingerprints(cert, fp2, spki2), 0);
    assert_string_equal(fp1, fp2);
    assert_string_equal(spki1, spki2);
    free(cert);
    free(key);
}

static void
test_tls__fingerprint_format(void **state)
{
    struct fx *fx = *state;
    char fp[96], spki[48];
    size_t i;

    memset(fp, 'Q', sizeof(fp));
    memset(spki, 'Q', sizeof(spki));
    assert_int_equal(gh_tls_fingerprints(fx->cert, fp, spki), 0);
    assert_int_equal(strlen(fp), 95);
    for (i = 0; i < 95; i++) {
        if (i % 3 == 2)
            assert_int_equal(fp[i], ':');
        else
            assert_true(isxdigit((unsigned char)fp[i]));
    }
    assert_int_equal(strlen(spki), 44);
    assert_int_equal(spki[43], '=');
    for (i = 0; i < 43; i++)
        assert_true(isalnum((unsigned char)spki[i]) || spki[i] == '+' ||
                    spki[i] == '/');
}

/* The fingerprints agree with the openssl command line. */
static void
test_tls__fingerprint_matches_openssl(void **state)
{
    struct fx *fx = *state;
    char fp[96], spki[48], cmd[2048], *out, *eq;

    assert_int_equal(gh_tls_fingerprints(fx->cert, fp, spki), 0);
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s' -noout -fingerprint -sha256", fx->cert);
    out = run(cmd);
    eq = strchr(out, '=');
    assert_non_null(eq);
    assert_string_equal(eq + 1, fp);
    free(out);

    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s' -noout -pubkey | "
             "openssl pkey -pubin -outform der | "
             "openssl dgst -sha256 -binary | openssl base64 -A",
             fx->cert);
    out = run(cmd);
    assert_string_equal(out, spki);
    free(out);
}

/* True when the certificate's subjectAltName holds DNS name or IP ip. */
static int
has_san(X509 *x, int type, const char *value)
{
    GENERAL_NAMES *names =
        X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    unsigned char ip[16];
    int i, found = 0, iplen = 0;

    if (names == NULL)
        return 0;
    if (type == GEN_IPADD) {
        if (inet_pton(AF_INET, value, ip) == 1)
            iplen = 4;
        else if (inet_pton(AF_INET6, value, ip) == 1)
            iplen = 16;
    }
    for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        int gtype;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &gtype);

        if (gtype != type)
            continue;
        if (type == GEN_DNS && (size_t)ASN1_STRING_length(s) == strlen(value) &&
            memcmp(ASN1_STRING_get0_data(s), value, strlen(value)) == 0)
            found = 1;
        if (type == GEN_IPADD && ASN1_STRING_length(s) == iplen &&
            memcmp(ASN1_STRING_get0_data(s), ip, (size_t)iplen) == 0)
            found = 1;
    }
    GENERAL_NAMES_free(names);
    return found;
}

static void
test_tls__subject_alt_names(void **state)
{
    struct fx *fx = *state;
    X509 *x = load_x509(fx->cert);
    char host[256], cmd[2048], *out;

    assert_true(has_san(x, GEN_DNS, "localhost"));
    assert_true(has_san(x, GEN_IPADD, "127.0.0.1"));
    assert_true(has_san(x, GEN_IPADD, "::1"));
    assert_false(has_san(x, GEN_IPADD, "0.0.0.0"));
    if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0')
        assert_true(has_san(x, GEN_DNS, host));
    X509_free(x);

    /* The same seen by the openssl command line. */
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s' -noout -ext subjectAltName | tail -n 1",
             fx->cert);
    out = run(cmd);
    assert_non_null(strstr(out, "DNS:localhost"));
    assert_non_null(strstr(out, "IP Address:127.0.0.1"));
    free(out);
}

/* A specific listen address is named too; a wildcard one is not. */
static void
test_tls__listen_address_in_san(void **state)
{
    struct fx *fx = *state;
    char *d1 = gh_test_path(fx->dir, "one"), *d2 = gh_test_path(fx->dir, "two");
    char *cert = NULL, *key = NULL;
    int generated = 0;
    X509 *x;

    assert_int_equal(mkdir(d1, 0700), 0);
    assert_int_equal(mkdir(d2, 0700), 0);
    assert_int_equal(
        gh_tls_ensure_selfsigned(d1, "192.0.2.7", &cert, &key, &generated), 0);
    x = load_x509(cert);
    assert_true(has_san(x, GEN_IPADD, "192.0.2.7"));
    assert_true(has_san(x, GEN_IPADD, "127.0.0.1"));
    X509_free(x);
    free(cert);
    free(key);
    assert_int_equal(
        gh_tls_ensure_selfsigned(d2, "::", &cert, &key, &generated), 0);
    x = load_x509(cert);
    assert_false(has_san(x, GEN_IPADD, "::"));
    assert_true(has_san(x, GEN_IPADD, "::1"));
    X509_free(x);
    free(cert);
    free(key);
    free(d1);
    free(d2);
}

static void
test_tls__check_pair_ok(void **state)
{
    struct fx *fx = *state;
    char why[512] = "";
    int which = 7;

    assert_int_equal(
        gh_tls_check_pair(fx->cert, fx->key, &which, why, sizeof(why)), 0);
}

static void
test_tls__check_pair_mismatch(void **state)
{
    struct fx *fx = *state;
    char *other = gh_test_path(fx->dir, "other");
    char *cert = NULL, *key = NULL, why[512] = "";
    int generated = 0, which = 7;

    assert_int_equal(mkdir(other, 0700), 0);
    assert_int_equal(
        gh_tls_ensure_selfsigned(other, "127.0.0.1", &cert, &key, &generated),
        0);
    assert_int_not_equal(
        gh_tls_check_pair(fx->cert, key, &which, why, sizeof(why)), 0);
    assert_int_equal(which, 1);
    assert_non_null(strstr(why, "does not match"));
    free(cert);
    free(key);
    free(other);
}

static void
test_tls__check_pair_garbage_cert(void **state)
{
    struct fx *fx = *state;
    char *g = gh_test_path(fx->dir, "garbage.pem"), why[512] = "";
    int which = 7;

    gh_test_write_str(g, "-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
                         "-----END CERTIFICATE-----\n");
    assert_int_not_equal(
        gh_tls_check_pair(g, fx->key, &which, why, sizeof(why)), 0);
    assert_int_equal(which, 0);
    assert_non_null(strstr(why, "garbage.pem"));
    /* A key is not a certificate either. */
    which = 7;
    assert_int_not_equal(
        gh_tls_check_pair(fx->key, fx->key, &which, why, sizeof(why)), 0);
    assert_int_equal(which, 0);
    /* A certificate is not a key. */
    which = 7;
    assert_int_not_equal(
        gh_tls_check_pair(fx->cert, fx->cert, &which, why, sizeof(why)), 0);
    assert_int_equal(which, 1);
    free(g);
}

static void
test_tls__check_pair_missing(void **state)
{
    struct fx *fx = *state;
    char *m = gh_test_path(fx->dir, "missing.pem"), why[512] = "";
    int which = 7;

    assert_int_not_equal(
        gh_tls_check_pair(m, fx->key, &which, why, sizeof(why)), 0);
    assert_int_equal(which, 0);
    assert_non_null(strstr(why, "missing.pem"));
    assert_non_null(strstr(why, "No such file"));
    which = 7;
    assert_int_not_equal(
        gh_tls_check_pair(fx->cert, m, &which, why, sizeof(why)), 0);
    assert_int_equal(which, 1);
    free(m);
}

/* A valid PEM padded past GH_TLS_PEM_MAX is refused by size. */
static void
test_tls__check_pair_too_big(void **state)
{
    struct fx *fx = *state;
    char *big = gh_test_path(fx->dir, "big.pem");
    char *bigkey = gh_test_path(fx->dir, "bigkey.pem");
    size_t len, total = GH_TLS_PEM_MAX + 1;
    char *pem = gh_test_slurp(fx->cert, &len), *buf = malloc(total);
    char why[512] = "";
    int which = 7;

    assert_non_null(buf);
    assert_true(len < total);
    memcpy(buf, pem, len);
    memset(buf + len, '\n', total - len);
    gh_test_write(big, buf, total);
    assert_int_not_equal(
        gh_tls_check_pair(big, fx->key, &which, why, sizeof(why)), 0);
    assert_int_equal(which, 0);
    assert_non_null(strstr(why, "too large"));
    free(pem);

    pem = gh_test_slurp(fx->key, &len);
    memcpy(buf, pem, len);
    memset(buf + len, '\n', total - len);
    gh_test_write(bigkey, buf, total);
    which = 7;
    assert_int_not_equal(
        gh_tls_check_pair(fx->cert, bigkey, &which, why, sizeof(why)), 0);
    assert_int_equal(which, 1);
    assert_non_null(strstr(why, "too large"));

    /* Exactly GH_TLS_PEM_MAX bytes is still read. */
    gh_test_write(bigkey, buf, GH_TLS_PEM_MAX);
    assert_int_equal(
        gh_tls_check_pair(fx->cert, bigkey, &which, why, sizeof(why)), 0);
    free(pem);
    free(buf);
    free(big);
    free(bigkey);
}

static void
test_tls__corrupt_cert_regenerated(void **state)
{
    struct fx *fx = *state;
    char fp1[96], fp2[96], spki[48], why[512];
    char *cert = NULL, *key = NULL, *log;
    int generated = 0, which, fd;

    assert_int_equal(gh_tls_fingerprints(fx->cert, fp1, spki), 0);
    gh_test_write_str(fx->cert, "-----BEGIN CERTIFICATE-----\ngarbage\n");
    fd = gh_test_log_begin();
    assert_int_equal(
        gh_tls_ensure_selfsigned(fx->dir, "127.0.0.1", &cert, &key, &generated),
        0);
    log = gh_test_log_end(fd, NULL);
    assert_int_equal(generated, 1);
    assert_int_equal(gh_tls_check_pair(cert, key, &which, why, sizeof(why)), 0);
    assert_int_equal(gh_tls_fingerprints(cert, fp2, spki), 0);
    assert_string_not_equal(fp1, fp2);
    assert_int_equal(gh_test_mode(cert), 0644);
    assert_int_equal(gh_test_mode(key), 0600);
    /* The warning says why. */
    assert_non_null(strstr(log, "level=warn"));
    assert_non_null(strstr(log, "not a PEM certificate"));
    free(log);
    free(cert);
    free(key);
}

static void
test_tls__missing_key_regenerated(void **state)
{
    struct fx *fx = *state;
    char *cert = NULL, *key = NULL, why[512];
    int generated = 0, which, fd;

    assert_int_equal(unlink(fx->key), 0);
    fd = gh_test_log_begin();
    assert_int_equal(
        gh_tls_ensure_selfsigned(fx->dir, "127.0.0.1", &cert, &key, &generated),
        0);
    free(gh_test_log_end(fd, NULL));
    assert_int_equal(generated, 1);
    assert_int_equal(gh_tls_check_pair(cert, key, &which, why, sizeof(why)), 0);
    free(cert);
    free(key);
}

/* Replace DIR/tls/cert.pem by a certificate for the same key that
 * expires in an hour. */
static void
write_expiring_cert(struct fx *fx)
{
    FILE *f = fopen(fx->key, "r");
    EVP_PKEY *k;
    X509 *x = X509_new();
    X509_NAME *name;

    assert_non_null(f);
    k = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
    fclose(f);
    assert_non_null(k);
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"t", -1,
                                                -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_int_equal(X509_set_pubkey(x, k), 1);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    f = fopen(fx->cert, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* A valid pair whose certificate ends within a day is replaced. */
static void
test_tls__expiring_cert_regenerated(void **state)
{
    struct fx *fx = *state;
    char *cert = NULL, *key = NULL, why[512];
    int generated = 0, which, pday = 0, psec = 0, fd;
    X509 *x;

    write_expiring_cert(fx);
    assert_int_equal(
        gh_tls_check_pair(fx->cert, fx->key, &which, why, sizeof(why)), 0);
    fd = gh_test_log_begin();
    assert_int_equal(
        gh_tls_ensure_selfsigned(fx->dir, "127.0.0.1", &cert, &key, &generated),
        0);
    free(gh_test_log_end(fd, NULL));
    assert_int_equal(generated, 1);
    x = load_x509(cert);
    assert_int_equal(ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(x)),
                     1);
    assert_true(pday >= GH_TLS_SELFSIGNED_DAYS - 1);
    X509_free(x);
    free(cert);
    free(key);
}

/* The warning logged when an expiring certificate is replaced gives a
 * reason (log lines are for operators: reason="" tells them nothing). */
static void
test_tls__expiring_cert_warning_has_reason(void **state)
{
    struct fx *fx = *state;
    char *cert = NULL, *key = NULL, *log, *reason, line[512] = "";
    int generated = 0, fd, found, empty = 0;

    write_expiring_cert(fx);
    fd = gh_test_log_begin();
    assert_int_equal(
        gh_tls_ensure_selfsigned(fx->dir, "127.0.0.1", &cert, &key, &generated),
        0);
    log = gh_test_log_end(fd, NULL);
    free(cert);
    free(key);
    reason = strstr(log, "reason=");
    found = reason != NULL;
    if (found) {
        empty = strncmp(reason, "reason=\"\"", 9) == 0;
        snprintf(line, sizeof(line), "%s", log);
    }
    free(log);
    assert_int_equal(generated, 1);
    assert_true(found);
    if (empty)
        fail_msg("empty reason in: %s", line);
}

static void
test_tls__data_dir_unusable(void **state)
{
    struct fx *fx = *state;
    char *plain = gh_test_path(fx->dir, "plain");
    char *cert = (char *)"x", *key = (char *)"y";
    int generated = 5, fd;

    gh_test_write_str(plain, "file");
    fd = gh_test_log_begin();
    assert_int_not_equal(
        gh_tls_ensure_selfsigned(plain, "127.0.0.1", &cert, &key, &generated),
        0);
    free(gh_test_log_end(fd, NULL));
    assert_null(cert);
    assert_null(key);
    assert_int_equal(generated, 0);
    free(plain);
}

static void
test_tls__fingerprints_bad_file(void **state)
{
    struct fx *fx = *state;
    char *g = gh_test_path(fx->dir, "g.pem"), fp[96], spki[48];

    gh_test_write_str(g, "nothing here\n");
    memset(fp, 'Q', sizeof(fp));
    memset(spki, 'Q', sizeof(spki));
    assert_int_equal(gh_tls_fingerprints(g, fp, spki), GH_E_INVAL);
    assert_string_equal(fp, "");
    assert_string_equal(spki, "");
    free(g);
}

#define T(name)  cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TP(name) cmocka_unit_test_setup_teardown(name, setup_pair, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_tls__generate),
        TP(test_tls__generated_properties),
        TP(test_tls__reuse),
        TP(test_tls__fingerprint_format),
        TP(test_tls__fingerprint_matches_openssl),
        TP(test_tls__subject_alt_names),
        T(test_tls__listen_address_in_san),
        TP(test_tls__check_pair_ok),
        TP(test_tls__check_pair_mismatch),
        TP(test_tls__check_pair_garbage_cert),
        TP(test_tls__check_pair_missing),
        TP(test_tls__check_pair_too_big),
        TP(test_tls__corrupt_cert_regenerated),
        TP(test_tls__missing_key_regenerated),
        TP(test_tls__expiring_cert_regenerated),
        TP(test_tls__expiring_cert_warning_has_reason),
        T(test_tls__data_dir_unusable),
        TP(test_tls__fingerprints_bad_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
