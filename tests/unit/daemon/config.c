/* Unit tests for gateway/daemon/config.c: table, INI parsing, checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "tls.h"

#include "gatehouse/err.h"
#include "gatehouse/fsutil.h"
#include "gatehouse/log.h"

#include <stdbool.h>

#include "../gh_test.h"

struct fx {
    char *dir;
    char *web;  /* DIR/web, an existing directory */
    char *data; /* DIR/data, missing but creatable */
    int nfiles;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->dir = gh_test_mkdtemp("config");
    fx->web = gh_test_path(fx->dir, "web");
    fx->data = gh_test_path(fx->dir, "data");
    assert_int_equal(mkdir(fx->web, 0755), 0);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    gh_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->web);
    free(fx->data);
    free(fx);
    return 0;
}

/* Write len bytes as a new config file in DIR; returns its path. */
static char *
conf_bytes(struct fx *fx, const char *text, size_t len)
{
    char name[32], *p;

    snprintf(name, sizeof(name), "c%d.conf", fx->nfiles++);
    p = gh_test_path(fx->dir, name);
    gh_test_write(p, text, len);
    return p;
}

static char *
conf(struct fx *fx, const char *text)
{
    return conf_bytes(fx, text, strlen(text));
}

/* Load text (no file-system checks); on success returns the config. */
static struct gh_config *
load_ok(struct fx *fx, const char *text, const char *const *ov, size_t n)
{
    struct gh_config *cfg = NULL;
    struct gh_config_err err;
    char *path = text ? conf(fx, text) : NULL;
    int r;

    r = gh_config_load_nocheck(path, ov, n, &cfg, &err);
    free(path);
    if (r != 0)
        fail_msg("unexpected error %d: %s", r, err.text);
    assert_non_null(cfg);
    return cfg;
}

/*
 * Load (with or without the file-system checks) and expect GH_E_CONFIG
 * whose text is "FILE" + want (FILE = the written path) when prefix_file,
 * else exactly want. *out must stay untouched.
 */
static void
expect_error(struct fx *fx, bool check_fs, const char *text,
             const char *const *ov, size_t n, bool prefix_file,
             const char *want)
{
    struct gh_config *sentinel = (struct gh_config *)fx, *cfg = sentinel;
    struct gh_config_err err;
    char *path = text ? conf(fx, text) : NULL, full[2048];
    int r;

    if (check_fs)
        r = gh_config_load(path, ov, n, &cfg, &err);
    else
        r = gh_config_load_nocheck(path, ov, n, &cfg, &err);
    assert_int_equal(r, GH_E_CONFIG);
    assert_ptr_equal(cfg, sentinel);
    if (prefix_file)
        snprintf(full, sizeof(full), "%s%s", path, want);
    else
        snprintf(full, sizeof(full), "%s", want);
    assert_string_equal(err.text, full);
    free(path);
}

/* Like expect_error but only checks that the text starts with FILE + want
 * (or want) and contains also (when not NULL). */
static void
expect_error_prefix(struct fx *fx, bool check_fs, const char *text,
                    const char *const *ov, size_t n, bool prefix_file,
                    const char *want, const char *also)
{
    struct gh_config *cfg = NULL;
    struct gh_config_err err;
    char *path = text ? conf(fx, text) : NULL, full[2048];
    int r;

    if (check_fs)
        r = gh_config_load(path, ov, n, &cfg, &err);
    else
        r = gh_config_load_nocheck(path, ov, n, &cfg, &err);
    if (r != GH_E_CONFIG)
        fail_msg("want GH_E_CONFIG for %s, got %d", want, r);
    assert_null(cfg);
    if (prefix_file)
        snprintf(full, sizeof(full), "%s%s", path, want);
    else
        snprintf(full, sizeof(full), "%s", want);
    if (strncmp(err.text, full, strlen(full)) != 0)
        fail_msg("error text \"%s\" does not start with \"%s\"", err.text,
                 full);
    if (also != NULL && strstr(err.text, also) == NULL)
        fail_msg("error text \"%s\" lacks \"%s\"", err.text, also);
    free(path);
}

/* ---- defaults and the table ---- */

static void
test_config__defaults(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg = load_ok(fx, NULL, NULL, 0);

    assert_int_equal(cfg->port, 8443);
    assert_string_equal(cfg->listen_address, "127.0.0.1");
    assert_string_equal(cfg->data_dir, "gatehouse-data");
    assert_int_equal(cfg->log_level, GH_LOG_INFO);
    assert_int_equal(cfg->hsts_max_age, 31536000);
    assert_string_equal(cfg->public_url, "");
    assert_string_equal(cfg->tls_cert_file, "");
    assert_string_equal(cfg->tls_key_file, "");
    assert_int_equal(cfg->max_connections, 4096);
    assert_int_equal(cfg->store_busy_timeout_ms, 5000);
    assert_non_null(cfg->web_root);
    assert_true(strlen(cfg->web_root) > 0);
    assert_string_equal(cfg->file, "");
    gh_config_free(cfg);
    gh_config_free(NULL);
}

static void
test_config__table_sane(void **state)
{
    size_t n = gh_config_nkeys(), i, j;

    (void)state;
    assert_true(n >= 11);
    assert_null(gh_config_keys[n].name);
    for (i = 0; i < n; i++) {
        const struct gh_config_key *k = &gh_config_keys[i];

        assert_non_null(k->section);
        assert_non_null(k->def);
        assert_non_null(k->help);
        assert_true(strlen(k->help) > 0);
        /* Exactly one of STARTUP / RELOADABLE. */
        assert_true(!!(k->flags & GH_CFG_STARTUP) !=
                    !!(k->flags & GH_CFG_RELOADABLE));
        for (j = i + 1; j < n; j++)
            assert_false(strcmp(k->section, gh_config_keys[j].section) == 0 &&
                         strcmp(k->name, gh_config_keys[j].name) == 0);
    }
}

static void
test_config__file_sets_values(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg = load_ok(fx,
                                    "[server]\n"
                                    "listen_address = 192.0.2.10\n"
                                    "port = 9443\n"
                                    "public_url = https://gw.example.com/\n"
                                    "data_dir = /var/lib/gatehouse\n"
                                    "web_root = /usr/share/gatehouse/web\n"
                                    "max_connections = 100\n"
                                    "[tls]\n"
                                    "cert_file = /etc/gh/cert.pem\n"
                                    "key_file = /etc/gh/key.pem\n"
                                    "[http]\n"
                                    "hsts_max_age = 0\n"
                                    "[log]\n"
                                    "level = debug\n"
                                    "[store]\n"
                                    "busy_timeout_ms = 250\n",
                                    NULL, 0);

    assert_string_equal(cfg->listen_address, "192.0.2.10");
    assert_int_equal(cfg->port, 9443);
    assert_string_equal(cfg->public_url, "https://gw.example.com/");
    assert_string_equal(cfg->data_dir, "/var/lib/gatehouse");
    assert_string_equal(cfg->web_root, "/usr/share/gatehouse/web");
    assert_int_equal(cfg->max_connections, 100);
    assert_string_equal(cfg->tls_cert_file, "/etc/gh/cert.pem");
    assert_string_equal(cfg->tls_key_file, "/etc/gh/key.pem");
    assert_int_equal(cfg->hsts_max_age, 0);
    assert_int_equal(cfg->log_level, GH_LOG_DEBUG);
    assert_int_equal(cfg->store_busy_timeout_ms, 250);
    assert_true(strlen(cfg->file) > 0);
    gh_config_free(cfg);
}

static void
test_config__comments_and_blank_lines(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg = load_ok(fx,
                                    "# a hash comment\n"
                                    "; a semicolon comment\n"
                                    "\n"
                                    "   \n"
                                    "[server]\n"
                                    "  # indented comment\n"
                                    "# port = 1\n"
                                    "; port = 2\n"
                                    "port = 1234\n"
                                    "\n",
                                    NULL, 0);

    assert_int_equal(cfg->port, 1234);
    gh_config_free(cfg);
}

static void
test_config__crlf_line_endings(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg =
        load_ok(fx, "[server]\r\nport = 2345\r\ndata_dir = /d\r\n", NULL, 0);

    assert_int_equal(cfg->port, 2345);
    assert_string_equal(cfg->data_dir, "/d");
    gh_config_free(cfg);
}

/* ---- file errors ---- */

static void
test_config__unknown_key(void **state)
{
    struct fx *fx = *state;

    expect_error(fx, false, "[server]\nport = 9443\ncolour = blue\n", NULL, 0,
                 true, ":3: server.colour: unknown key");
    expect_error(fx, false, "# x\n[serverr]\nport = 9443\n", NULL, 0, true,
                 ":3: serverr.port: unknown key");
}

static void
test_config__key_outside_section(void **state)
{
    struct fx *fx = *state;

    expect_error(fx, false, "port = 1\n[server]\n", NULL, 0, true,
                 ":1: port: key outside any [section]");
}

static void
test_config__bad_port(void **state)
{
    struct fx *fx = *state;
    static const char *const bad[] = {
        "70000", "65536", "-1",
        "abc",   "",      "84x3",
        "0x10",  "1.5",   "99999999999999999999999"};
    char text[128], why[128];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "[server]\nport = %s\n", bad[i]);
        snprintf(why, sizeof(why),
                 ":2: server.port: \"%s\" is not a whole number from 0 to "
                 "65535",
                 bad[i]);
        expect_error(fx, false, text, NULL, 0, true, why);
    }
}

static void
test_config__port_bounds_accepted(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg;

    cfg = load_ok(fx, "[server]\nport = 0\n", NULL, 0);
    assert_int_equal(cfg->port, 0);
    gh_config_free(cfg);
    cfg = load_ok(fx, "[server]\nport = 65535\n", NULL, 0);
    assert_int_equal(cfg->port, 65535);
    gh_config_free(cfg);
}

static void
test_config__other_bad_values(void **state)
{
    struct fx *fx = *state;

    expect_error_prefix(fx, false, "[server]\nmax_connections = 15\n", NULL, 0,
                        true, ":2: server.max_connections: ", "16");
    expect_error_prefix(fx, false, "[log]\nlevel = loud\n", NULL, 0, true,
                        ":2: log.level: ", "not a log level");
    expect_error_prefix(fx, false, "[http]\nhsts_max_age = -5\n", NULL, 0, true,
                        ":2: http.hsts_max_age: ", NULL);
    expect_error(fx, false, "[server]\ndata_dir =\n", NULL, 0, true,
                 ":2: server.data_dir: must not be empty");
}

static void
test_config__duplicate_key(void **state)
{
    struct fx *fx = *state;

    expect_error(fx, false, "[server]\nport = 1\n\nport = 2\n", NULL, 0, true,
                 ":4: server.port: set twice (first on line 2)");
    /* Also when the section is opened again later. */
    expect_error(fx, false, "[server]\nport = 1\n[tls]\n[server]\nport = 1\n",
                 NULL, 0, true, ":5: server.port: set twice (first on line 2)");
}

static void
test_config__syntax_error(void **state)
{
    struct fx *fx = *state;

    expect_error(fx, false, "[server]\nport = 1\nthis is not ini\n", NULL, 0,
                 true, ":3: syntax error (expected [section] or key = value)");
    expect_error_prefix(fx, false, "[server\nport = 1\n", NULL, 0, true,
                        ":1: syntax error", NULL);
}

/* A line over GH_CONFIG_LINE_MAX is refused with its line number. */
static void
test_config__line_too_long(void **state)
{
    struct fx *fx = *state;
    size_t n = GH_CONFIG_LINE_MAX + 100;
    char *text = malloc(n + 64), want[128];

    assert_non_null(text);
    strcpy(text, "[server]\nport = 1\ndata_dir = /");
    memset(text + strlen(text), 'd', n);
    strcpy(text + 30 + n, "\n");
    snprintf(want, sizeof(want), ":3: line longer than %d bytes",
             GH_CONFIG_LINE_MAX);
    expect_error(fx, false, text, NULL, 0, true, want);
    free(text);
}

/* Lines up to GH_CONFIG_LINE_MAX are accepted: a long path or URL (here
 * about 1 KiB) is well within the limit. */
static void
test_config__long_line_within_limit(void **state)
{
    struct fx *fx = *state;
    size_t pad = 1000;
    char *text = malloc(pad + 128), *want = malloc(pad + 64), *path;
    struct gh_config *cfg = NULL;
    struct gh_config_err err;
    int r, same = 0;
    long port = 0;

    assert_non_null(text);
    assert_non_null(want);
    strcpy(want, "/srv/gatehouse/");
    memset(want + strlen(want), 'p', pad);
    want[15 + pad] = '\0';
    snprintf(text, pad + 128, "[server]\ndata_dir = %s\nport = 7\n", want);
    path = conf(fx, text);
    r = gh_config_load_nocheck(path, NULL, 0, &cfg, &err);
    if (r == 0) {
        same = strcmp(cfg->data_dir, want) == 0;
        port = cfg->port;
    }
    gh_config_free(cfg);
    free(path);
    free(text);
    free(want);
    if (r != 0)
        fail_msg("a %zu-byte line was refused: %s", pad + 26, err.text);
    assert_true(same);
    assert_int_equal(port, 7);
}

/* Boundary: a comment line of GH_CONFIG_LINE_MAX - 1 bytes plus its
 * newline is GH_CONFIG_LINE_MAX bytes in all: accepted. */
static void
test_config__line_at_limit_accepted(void **state)
{
    struct fx *fx = *state;
    size_t n = GH_CONFIG_LINE_MAX - 1;
    char *text = malloc(n + 64), *path;
    struct gh_config *cfg = NULL;
    struct gh_config_err err;
    long port = 0;
    int r;

    assert_non_null(text);
    strcpy(text, "[server]\n#");
    memset(text + 10, 'c', n - 1);
    strcpy(text + 9 + n, "\nport = 8\n");
    path = conf(fx, text);
    r = gh_config_load_nocheck(path, NULL, 0, &cfg, &err);
    if (r == 0)
        port = cfg->port;
    gh_config_free(cfg);
    free(path);
    free(text);
    if (r != 0)
        fail_msg("a %zu-byte line was refused: %s", n, err.text);
    assert_int_equal(port, 8);
}

static void
test_config__nul_byte(void **state)
{
    struct fx *fx = *state;
    static const char text[] = "[server]\nport = 84\0"
                               "43\n";
    struct gh_config *cfg = NULL;
    struct gh_config_err err;
    char *path = conf_bytes(fx, text, sizeof(text) - 1), want[1100];

    assert_int_equal(gh_config_load_nocheck(path, NULL, 0, &cfg, &err),
                     GH_E_CONFIG);
    assert_null(cfg);
    snprintf(want, sizeof(want), "%s:2: the file contains a NUL byte", path);
    assert_string_equal(err.text, want);
    free(path);
}

static void
test_config__control_char_in_value(void **state)
{
    struct fx *fx = *state;

    expect_error(fx, false, "[server]\ndata_dir = /a\x1b[2Jb\n", NULL, 0, true,
                 ":2: server.data_dir: value contains a control "
                 "character");
    expect_error(fx, false, "[server]\n\nweb_root = /a\x7f\n", NULL, 0, true,
                 ":3: server.web_root: value contains a control character");
    expect_error(fx, false, "[server]\ndata_dir = /a\x01z\n", NULL, 0, true,
                 ":2: server.data_dir: value contains a control character");
}

static void
test_config__listen_address(void **state)
{
    struct fx *fx = *state;
    static const char *const good[] = {"::1", "::", "0.0.0.0", "10.1.2.3",
                                       "2001:db8::7"};
    static const char *const bad[] = {"localhost", "gw.example.com",
                                      "1.2.3.4.5", "256.1.1.1", "[::1]"};
    struct gh_config *cfg;
    char text[128];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), "[server]\nlisten_address = %s\n",
                 good[i]);
        cfg = load_ok(fx, text, NULL, 0);
        assert_string_equal(cfg->listen_address, good[i]);
        gh_config_free(cfg);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "[server]\nlisten_address = %s\n", bad[i]);
        expect_error_prefix(fx, false, text, NULL, 0, true,
                            ":2: server.listen_address: ",
                            "not a numeric IPv4 or IPv6 address");
    }
    expect_error(fx, false, "[server]\nlisten_address =\n", NULL, 0, true,
                 ":2: server.listen_address: must not be empty");
}

static void
test_config__public_url(void **state)
{
    struct fx *fx = *state;
    static const char *const good[] = {"https://gw.example.com/",
                                       "https://gw.example.com:8443/x",
                                       "https://[2001:db8::1]/"};
    static const char *const bad[] = {
        "http://gw.example.com/",         "https://",       "https:///path",
        "ftp://gw.example.com/",          "gw.example.com", "https://a b/",
        "https://gw.example.com/<script>"};
    struct gh_config *cfg;
    char text[128];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), "[server]\npublic_url = %s\n", good[i]);
        cfg = load_ok(fx, text, NULL, 0);
        assert_string_equal(cfg->public_url, good[i]);
        gh_config_free(cfg);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "[server]\npublic_url = %s\n", bad[i]);
        expect_error_prefix(
            fx, false, text, NULL, 0, true,
            ":2: server.public_url: ", "is not an absolute https:// URL");
    }
}

static void
test_config__missing_or_odd_file(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg = NULL;
    struct gh_config_err err;
    char *nope = gh_test_path(fx->dir, "nope.conf"), want[1100];

    assert_int_equal(gh_config_load_nocheck(nope, NULL, 0, &cfg, &err),
                     GH_E_CONFIG);
    assert_null(cfg);
    snprintf(want, sizeof(want),
             "%s: cannot open configuration file: No such file or directory",
             nope);
    assert_string_equal(err.text, want);

    assert_int_equal(gh_config_load_nocheck(fx->web, NULL, 0, &cfg, &err),
                     GH_E_CONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err.text, fx->web));
    free(nope);
}

static void
test_config__file_too_big(void **state)
{
    struct fx *fx = *state;
    size_t n = GH_CONFIG_FILE_MAX + 2, i;
    char *text = malloc(n + 1), want[64];

    assert_non_null(text);
    for (i = 0; i < n; i += 2)
        memcpy(text + i, "#\n", 2);
    text[n] = '\0';
    snprintf(want, sizeof(want), ": larger than %d bytes", GH_CONFIG_FILE_MAX);
    expect_error(fx, false, text, NULL, 0, true, want);
    free(text);
}

/* ---- command line overrides ---- */

static void
test_config__overrides_win(void **state)
{
    struct fx *fx = *state;
    const char *const ov[] = {"server.port=9100", "log.level=trace",
                              "server.public_url=https://gw.example.com/?a=b",
                              "server.port=9200"};
    struct gh_config *cfg =
        load_ok(fx, "[server]\nport = 9000\n[log]\nlevel = warn\n", ov, 4);

    /* The last of two overrides wins too. */
    assert_int_equal(cfg->port, 9200);
    assert_int_equal(cfg->log_level, GH_LOG_TRACE);
    assert_string_equal(cfg->public_url, "https://gw.example.com/?a=b");
    gh_config_free(cfg);
}

static void
test_config__override_errors(void **state)
{
    struct fx *fx = *state;
    static const char *const badfmt[] = {"serverport=1", "server.port",
                                         "port=1.5", "", "=1"};
    char want[128];
    size_t i;

    for (i = 0; i < sizeof(badfmt) / sizeof(badfmt[0]); i++) {
        snprintf(want, sizeof(want),
                 "command line: -o \"%s\": expected section.key=value",
                 badfmt[i]);
        expect_error(fx, false, NULL, &badfmt[i], 1, false, want);
    }
    {
        const char *ov[] = {"server.nope=1"};

        expect_error(fx, false, NULL, ov, 1, false,
                     "command line: -o server.nope: unknown key");
    }
    {
        const char *ov[] = {"server.port=abc"};

        expect_error(fx, false, NULL, ov, 1, false,
                     "command line: -o server.port: \"abc\" is not a whole "
                     "number from 0 to 65535");
    }
    {
        const char *ov[] = {"server.data_dir=/a\nb"};

        expect_error(fx, false, NULL, ov, 1, false,
                     "command line: -o server.data_dir: value contains a "
                     "control character");
    }
    {
        /* A good file does not save a bad override. */
        const char *ov[] = {"server.port=1", "tls.bogus=2"};

        expect_error(fx, false, "[server]\nport = 5\n", ov, 2, false,
                     "command line: -o tls.bogus: unknown key");
    }
}

/* ---- gh_config_load: file-system checks ---- */

static void
test_config__load_fs_ok(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg = NULL;
    struct gh_config_err err;
    char text[1024], *path;

    snprintf(text, sizeof(text), "[server]\ndata_dir = %s\nweb_root = %s\n",
             fx->data, fx->web);
    path = conf(fx, text);
    if (gh_config_load(path, NULL, 0, &cfg, &err) != 0)
        fail_msg("load: %s", err.text);
    assert_string_equal(cfg->data_dir, fx->data);
    assert_string_equal(cfg->file, path);
    /* Checked, not created. */
    assert_false(gh_path_exists(fx->data));
    gh_config_free(cfg);
    free(path);
}

static void
test_config__load_data_dir_under_file(void **state)
{
    struct fx *fx = *state;
    char *plain = gh_test_path(fx->dir, "plain");
    char text[1024], arg[1024];
    const char *ov[1];

    gh_test_write_str(plain, "x");
    snprintf(text, sizeof(text),
             "[server]\nweb_root = %s\n\ndata_dir = %s/data\n", fx->web, plain);
    expect_error_prefix(fx, true, text, NULL, 0, true,
                        ":4: server.data_dir: data directory ", plain);

    /* Set on the command line: named as such. */
    snprintf(text, sizeof(text), "[server]\nweb_root = %s\n", fx->web);
    snprintf(arg, sizeof(arg), "server.data_dir=%s/data", plain);
    ov[0] = arg;
    expect_error_prefix(fx, true, text, ov, 1, false,
                        "command line: server.data_dir: data directory ", NULL);
    free(plain);
}

static void
test_config__load_web_root_missing(void **state)
{
    struct fx *fx = *state;
    char text[1024];

    snprintf(text, sizeof(text),
             "[server]\ndata_dir = %s\nweb_root = %s/none\n", fx->data,
             fx->dir);
    expect_error_prefix(fx, true, text, NULL, 0, true,
                        ":3: server.web_root: web root ",
                        "is not a readable directory");
}

static void
test_config__load_cert_without_key(void **state)
{
    struct fx *fx = *state;
    char text[1024];

    snprintf(text, sizeof(text),
             "[server]\ndata_dir = %s\nweb_root = %s\n[tls]\n"
             "cert_file = %s/cert.pem\n",
             fx->data, fx->web, fx->dir);
    expect_error(fx, true, text, NULL, 0, true,
                 ":5: tls.cert_file: tls.cert_file and tls.key_file must be "
                 "set together");
    snprintf(text, sizeof(text),
             "[server]\ndata_dir = %s\nweb_root = %s\n[tls]\n"
             "key_file = %s/key.pem\n",
             fx->data, fx->web, fx->dir);
    expect_error(fx, true, text, NULL, 0, true,
                 ":5: tls.key_file: tls.cert_file and tls.key_file must be "
                 "set together");
}

/* Two generated pairs (certificate, key) under DIR/pairN. */
static void
make_pair(struct fx *fx, const char *sub, char **cert, char **key)
{
    char *d = gh_test_path(fx->dir, sub);
    int generated = 0;

    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(
        gh_tls_ensure_selfsigned(d, "127.0.0.1", cert, key, &generated), 0);
    assert_int_equal(generated, 1);
    free(d);
}

static void
test_config__load_cert_problems(void **state)
{
    struct fx *fx = *state;
    char *cert1, *key1, *cert2, *key2;
    char *garbage = gh_test_path(fx->dir, "garbage.pem");
    char text[2048];

    make_pair(fx, "pair1", &cert1, &key1);
    make_pair(fx, "pair2", &cert2, &key2);
    gh_test_write_str(garbage, "not a certificate\n");

    /* Missing certificate file. */
    snprintf(text, sizeof(text),
             "[server]\ndata_dir = %s\nweb_root = %s\n[tls]\n"
             "cert_file = %s/missing.pem\nkey_file = %s\n",
             fx->data, fx->web, fx->dir, key1);
    expect_error_prefix(fx, true, text, NULL, 0, true,
                        ":5: tls.cert_file: cannot read ", "missing.pem");
    /* Garbage certificate. */
    snprintf(text, sizeof(text),
             "[server]\ndata_dir = %s\nweb_root = %s\n[tls]\n"
             "cert_file = %s\nkey_file = %s\n",
             fx->data, fx->web, garbage, key1);
    expect_error_prefix(fx, true, text, NULL, 0, true,
                        ":5: tls.cert_file: ", "is not a PEM certificate");
    /* Garbage key: the key is at fault. */
    snprintf(text, sizeof(text),
             "[server]\ndata_dir = %s\nweb_root = %s\n[tls]\n"
             "cert_file = %s\nkey_file = %s\n",
             fx->data, fx->web, cert1, garbage);
    expect_error_prefix(fx, true, text, NULL, 0, true, ":6: tls.key_file: ",
                        "is not an unencrypted PEM private key");
    /* Key of the other pair. */
    snprintf(text, sizeof(text),
             "[server]\ndata_dir = %s\nweb_root = %s\n[tls]\n"
             "cert_file = %s\nkey_file = %s\n",
             fx->data, fx->web, cert1, key2);
    expect_error_prefix(fx, true, text, NULL, 0, true,
                        ":6: tls.key_file: ", "does not match the certificate");
    free(cert1);
    free(key1);
    free(cert2);
    free(key2);
    free(garbage);
}

static void
test_config__load_cert_pair_ok(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg = NULL;
    struct gh_config_err err;
    char *cert, *key, *path, text[2048];

    make_pair(fx, "pair", &cert, &key);
    snprintf(text, sizeof(text),
             "[server]\ndata_dir = %s\nweb_root = %s\n[tls]\n"
             "cert_file = %s\nkey_file = %s\n",
             fx->data, fx->web, cert, key);
    path = conf(fx, text);
    if (gh_config_load(path, NULL, 0, &cfg, &err) != 0)
        fail_msg("load: %s", err.text);
    assert_string_equal(cfg->tls_cert_file, cert);
    assert_string_equal(cfg->tls_key_file, key);
    gh_config_free(cfg);
    free(path);
    free(cert);
    free(key);
}

/* ---- dump ---- */

/* Output of gh_config_dump(_table) as a new string. */
static char *
dump_to_string(const struct gh_config_key *table, size_t n, const void *values)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    if (table == NULL)
        gh_config_dump(values, f);
    else
        gh_config_dump_table(table, n, values, f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* Every key appears as "name = default" under its own "[section]", each
 * section header once. */
static void
test_config__dump_every_key(void **state)
{
    struct fx *fx = *state;
    struct gh_config *cfg = load_ok(fx, NULL, NULL, 0);
    char *out = dump_to_string(NULL, 0, cfg), *line, *save = NULL;
    size_t n = gh_config_nkeys(), i;
    char section[64] = "", want[512];
    bool *seen = calloc(n, sizeof(*seen));
    int headers = 0, distinct = 0;

    assert_non_null(seen);
    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '[') {
            char *end = strchr(line, ']');

            assert_non_null(end);
            assert_true((size_t)(end - line) < sizeof(section));
            memcpy(section, line + 1, (size_t)(end - line - 1));
            section[end - line - 1] = '\0';
            headers++;
            continue;
        }
        for (i = 0; i < n; i++) {
            const struct gh_config_key *k = &gh_config_keys[i];

            if (strcmp(k->section, section) != 0)
                continue;
            snprintf(want, sizeof(want), "%s = %s", k->name, k->def);
            if (strcmp(line, want) == 0) {
                assert_false(seen[i]);
                seen[i] = true;
                break;
            }
        }
        if (i == n)
            fail_msg("unexpected dump line \"%s\" in [%s]", line, section);
    }
    for (i = 0; i < n; i++) {
        if (!seen[i])
            fail_msg("key %s.%s missing from the dump",
                     gh_config_keys[i].section, gh_config_keys[i].name);
        if (i == 0 || strcmp(gh_config_keys[i].section,
                             gh_config_keys[i - 1].section) != 0)
            distinct++;
    }
    assert_int_equal(headers, distinct);
    free(seen);
    free(out);
    gh_config_free(cfg);
}

static void
test_config__dump_shows_values(void **state)
{
    struct fx *fx = *state;
    const char *const ov[] = {"server.port=1234", "log.level=warn",
                              "server.data_dir=/x y"};
    struct gh_config *cfg = load_ok(fx, NULL, ov, 3);
    char *out = dump_to_string(NULL, 0, cfg);

    assert_non_null(strstr(out, "[server]\n"));
    assert_non_null(strstr(out, "\nport = 1234\n"));
    assert_non_null(strstr(out, "\nlevel = warn\n"));
    assert_non_null(strstr(out, "\ndata_dir = /x y\n"));
    free(out);
    gh_config_free(cfg);
}

struct secret_cfg {
    char *user;
    char *password;
};

static void
test_config__dump_table_masks_secret(void **state)
{
    static const struct gh_config_key table[] = {
        {"auth", "user", GH_CFGT_STRING, GH_CFG_STARTUP, "", 0, 0,
         offsetof(struct secret_cfg, user), "user name"},
        {"auth", "password", GH_CFGT_STRING, GH_CFG_STARTUP | GH_CFG_SECRET, "",
         0, 0, offsetof(struct secret_cfg, password), "password"},
    };
    struct secret_cfg v = {(char *)"alice", (char *)"hunter2-s3cret"};
    char *out;

    (void)state;
    out = dump_to_string(table, 2, &v);
    assert_string_equal(out, "[auth]\nuser = alice\npassword = ********\n");
    assert_null(strstr(out, "hunter2"));
    free(out);
}

/* ---- reload ---- */

static void
test_config__apply_reload(void **state)
{
    struct fx *fx = *state;
    const char *const ov[] = {"log.level=debug", "server.port=9000",
                              "server.data_dir=/elsewhere"};
    struct gh_config *running = load_ok(fx, NULL, NULL, 0);
    struct gh_config *fresh = load_ok(fx, NULL, ov, 3);
    char *log;
    int fd;

    fd = gh_test_log_begin();
    assert_int_equal(gh_config_apply_reload(running, fresh), 1);
    log = gh_test_log_end(fd, NULL);
    assert_int_equal(running->log_level, GH_LOG_DEBUG);
    assert_int_equal(running->port, 8443);
    assert_string_equal(running->data_dir, "gatehouse-data");
    /* The kept startup keys are reported. */
    assert_non_null(strstr(log, "server.port"));
    assert_non_null(strstr(log, "server.data_dir"));
    free(log);
    /* Nothing left to apply the second time. */
    fd = gh_test_log_begin();
    assert_int_equal(gh_config_apply_reload(running, fresh), 0);
    free(gh_test_log_end(fd, NULL));
    gh_config_free(fresh);

    /* Two reloadable keys. */
    {
        const char *const ov2[] = {"log.level=error", "http.hsts_max_age=60"};

        fresh = load_ok(fx, NULL, ov2, 2);
        fd = gh_test_log_begin();
        assert_int_equal(gh_config_apply_reload(running, fresh), 2);
        free(gh_test_log_end(fd, NULL));
        assert_int_equal(running->log_level, GH_LOG_ERROR);
        assert_int_equal(running->hsts_max_age, 60);
        gh_config_free(fresh);
    }
    gh_config_free(running);
}

/* ---- URL ---- */

static void
expect_url(struct fx *fx, const char *override, int port, const char *want)
{
    const char *ov[1] = {override};
    struct gh_config *cfg = load_ok(fx, NULL, ov, override ? 1 : 0);
    char *url = gh_config_url(cfg, port);

    assert_string_equal(url, want);
    free(url);
    gh_config_free(cfg);
}

static void
test_config__url(void **state)
{
    struct fx *fx = *state;

    expect_url(fx, NULL, 8443, "https://127.0.0.1:8443/");
    expect_url(fx, NULL, 40001, "https://127.0.0.1:40001/");
    expect_url(fx, "server.public_url=https://gw.example.com/", 8443,
               "https://gw.example.com/");
    expect_url(fx, "server.listen_address=0.0.0.0", 9443,
               "https://127.0.0.1:9443/");
    expect_url(fx, "server.listen_address=::", 9443, "https://[::1]:9443/");
    expect_url(fx, "server.listen_address=::1", 1, "https://[::1]:1/");
    expect_url(fx, "server.listen_address=192.0.2.5", 443,
               "https://192.0.2.5:443/");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config__defaults),
        T(test_config__table_sane),
        T(test_config__file_sets_values),
        T(test_config__comments_and_blank_lines),
        T(test_config__crlf_line_endings),
        T(test_config__unknown_key),
        T(test_config__key_outside_section),
        T(test_config__bad_port),
        T(test_config__port_bounds_accepted),
        T(test_config__other_bad_values),
        T(test_config__duplicate_key),
        T(test_config__syntax_error),
        T(test_config__line_too_long),
        T(test_config__long_line_within_limit),
        T(test_config__line_at_limit_accepted),
        T(test_config__nul_byte),
        T(test_config__control_char_in_value),
        T(test_config__listen_address),
        T(test_config__public_url),
        T(test_config__missing_or_odd_file),
        T(test_config__file_too_big),
        T(test_config__overrides_win),
        T(test_config__override_errors),
        T(test_config__load_fs_ok),
        T(test_config__load_data_dir_under_file),
        T(test_config__load_web_root_missing),
        T(test_config__load_cert_without_key),
        T(test_config__load_cert_problems),
        T(test_config__load_cert_pair_ok),
        T(test_config__dump_every_key),
        T(test_config__dump_shows_values),
        T(test_config__dump_table_masks_secret),
        T(test_config__apply_reload),
        T(test_config__url),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
