/* Unit tests for gateway/cli/common/tokencache.c and the URL rule and form
 * helpers of cli-http.c (gh_cli). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli-http.h"
#include "tokencache.h"

#include "gatehouse/err.h"

#include "../gh_test.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

struct fx {
    char *root; /* XDG_CONFIG_HOME */
    char *dir;  /* root/gatehouse */
    char *file; /* root/gatehouse/tokens.json */
    mode_t umask_saved;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->root = gh_test_mkdtemp("tokencache");
    fx->dir = gh_test_path(fx->root, "gatehouse");
    fx->file = gh_test_path(fx->dir, "tokens.json");
    fx->umask_saved = umask(022);
    assert_int_equal(setenv("XDG_CONFIG_HOME", fx->root, 1), 0);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    umask(fx->umask_saved);
    gh_test_rmtree(fx->root);
    free(fx->root);
    free(fx->dir);
    free(fx->file);
    free(fx);
    return 0;
}

static void
sample(struct gh_cli_tokens *t, const char *at, const char *rt)
{
    memset(t, 0, sizeof(*t));
    t->issuer = "https://idp.example.test";
    t->token_endpoint = "https://idp.example.test/token";
    t->client_id = "gatehouse-cli";
    t->access_token = (char *)at;
    t->refresh_token = (char *)rt;
    t->expires_at = 1900000000;
}

/* Open with create, put one entry, save, close. */
static void
write_one(const char *server, const char *at, const char *rt)
{
    struct gh_cli_cache *c;
    struct gh_cli_cache_err e;
    struct gh_cli_tokens t;

    assert_int_equal(gh_cli_cache_open(1, &c, &e), 0);
    sample(&t, at, rt);
    assert_int_equal(gh_cli_cache_put(c, server, &t), 0);
    assert_int_equal(gh_cli_cache_save(c, &e), 0);
    gh_cli_cache_close(c);
}

static int
open_r(struct gh_cli_cache_err *e)
{
    struct gh_cli_cache *c = NULL;
    int r = gh_cli_cache_open(0, &c, e);

    gh_cli_cache_close(c);
    return r;
}

static void
test_cli__cache_dir_xdg_and_home(void **state)
{
    struct fx *fx = *state;
    char *d;

    d = gh_cli_cache_dir();
    assert_string_equal(d, fx->dir);
    free(d);
    /* A relative XDG_CONFIG_HOME is ignored (XDG base directory spec). */
    assert_int_equal(setenv("XDG_CONFIG_HOME", "rel/dir", 1), 0);
    assert_int_equal(setenv("HOME", "/home/someone", 1), 0);
    d = gh_cli_cache_dir();
    assert_string_equal(d, "/home/someone/.config/gatehouse");
    free(d);
}

static void
test_cli__cache_missing_is_empty(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache *c;
    struct gh_cli_cache_err e;
    struct gh_cli_tokens t;

    assert_int_equal(gh_cli_cache_open(0, &c, &e), 0);
    assert_int_equal(gh_cli_cache_count(c), 0);
    assert_int_equal(gh_cli_cache_get(c, "https://gw", &t), GH_E_NOTFOUND);
    gh_cli_cache_close(c);
    /* Reading never creates anything. */
    assert_int_equal(gh_test_count_entries(fx->root), 0);
}

static void
test_cli__cache_roundtrip_modes(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache *c;
    struct gh_cli_cache_err e;
    struct gh_cli_tokens t;

    /* The parent (XDG_CONFIG_HOME) is missing too: made 0700. */
    gh_test_rmtree(fx->root);
    write_one("https://gw.example.test:8443/", "at.one", "rt.one");
    assert_int_equal(gh_test_mode(fx->root), 0700);
    assert_int_equal(gh_test_mode(fx->dir), 0700);
    assert_int_equal(gh_test_mode(fx->file), 0600);
    assert_int_equal(gh_test_count_entries(fx->dir), 1);

    assert_int_equal(gh_cli_cache_open(0, &c, &e), 0);
    assert_int_equal(gh_cli_cache_count(c), 1);
    /* Keyed by the URL without its trailing slash. */
    assert_string_equal(gh_cli_cache_server(c, 0),
                        "https://gw.example.test:8443");
    assert_int_equal(gh_cli_cache_get(c, "https://gw.example.test:8443", &t),
                     0);
    assert_string_equal(t.access_token, "at.one");
    assert_string_equal(t.refresh_token, "rt.one");
    assert_string_equal(t.client_id, "gatehouse-cli");
    assert_null(t.resource);
    assert_true(t.expires_at == 1900000000);
    gh_cli_tokens_cleanup(&t);
    gh_cli_cache_close(c);
}

static void
test_cli__cache_replace_and_remove(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache *c;
    struct gh_cli_cache_err e;
    struct gh_cli_tokens t;

    write_one("https://a", "at.a", NULL);
    write_one("https://b", "at.b", "rt.b");
    write_one("https://a", "at.a2", "rt.a2");
    assert_int_equal(gh_cli_cache_open(0, &c, &e), 0);
    assert_int_equal(gh_cli_cache_count(c), 2);
    assert_int_equal(gh_cli_cache_get(c, "https://a", &t), 0);
    assert_string_equal(t.access_token, "at.a2");
    gh_cli_tokens_cleanup(&t);
    assert_int_equal(gh_cli_cache_remove(c, "https://a/"), 0);
    assert_int_equal(gh_cli_cache_remove(c, "https://a"), GH_E_NOTFOUND);
    assert_int_equal(gh_cli_cache_save(c, &e), 0);
    gh_cli_cache_close(c);
    assert_int_equal(gh_cli_cache_open(0, &c, &e), 0);
    assert_int_equal(gh_cli_cache_count(c), 1);
    assert_string_equal(gh_cli_cache_server(c, 0), "https://b");
    gh_cli_cache_close(c);
    assert_int_equal(gh_test_mode(fx->file), 0600);
}

static void
test_cli__cache_refuses_loose_file(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache_err e;

    write_one("https://a", "at.a", NULL);
    assert_int_equal(chmod(fx->file, 0644), 0);
    assert_int_equal(open_r(&e), GH_E_PERM);
    assert_non_null(strstr(e.text, "accessible by group or others (mode "
                                   "0644)"));
    assert_non_null(strstr(e.text, "chmod 600"));
    assert_int_equal(chmod(fx->file, 0620), 0);
    assert_int_equal(open_r(&e), GH_E_PERM);
    assert_int_equal(chmod(fx->file, 0600), 0);
    assert_int_equal(open_r(&e), 0);
}

static void
test_cli__cache_refuses_symlink(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache_err e;
    char *real = gh_test_path(fx->root, "real.json");

    write_one("https://a", "at.a", NULL);
    assert_int_equal(rename(fx->file, real), 0);
    assert_int_equal(symlink(real, fx->file), 0);
    assert_int_equal(open_r(&e), GH_E_PERM);
    assert_non_null(strstr(e.text, "symbolic link"));
    free(real);
}

static void
test_cli__cache_refuses_loose_dir(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache_err e;
    char *elsewhere = gh_test_path(fx->root, "elsewhere");

    write_one("https://a", "at.a", NULL);
    assert_int_equal(chmod(fx->dir, 0770), 0);
    assert_int_equal(open_r(&e), GH_E_PERM);
    assert_non_null(strstr(e.text, "chmod 700"));
    /* Readable by others is not a way to swap the file: accepted. */
    assert_int_equal(chmod(fx->dir, 0755), 0);
    assert_int_equal(open_r(&e), 0);
    /* The directory itself must not be a symlink. */
    assert_int_equal(rename(fx->dir, elsewhere), 0);
    assert_int_equal(symlink(elsewhere, fx->dir), 0);
    assert_int_equal(open_r(&e), GH_E_PERM);
    free(elsewhere);
}

static void
test_cli__cache_refuses_other_owner(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache_err e;

    if (getuid() != 0)
        skip(); /* only root can give a file away */
    write_one("https://a", "at.a", NULL);
    assert_int_equal(chown(fx->file, 65534, 65534), 0);
    assert_int_equal(open_r(&e), GH_E_PERM);
    assert_non_null(strstr(e.text, "belongs to another user"));
    assert_int_equal(chown(fx->file, 0, 0), 0);
    assert_int_equal(chown(fx->dir, 65534, 65534), 0);
    assert_int_equal(open_r(&e), GH_E_PERM);
}

static void
put_file(struct fx *fx, const char *text)
{
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    gh_test_write_str(fx->file, text);
    assert_int_equal(chmod(fx->file, 0600), 0);
}

static void
test_cli__cache_bad_content(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache_err e;

    put_file(fx, "{not json");
    assert_int_equal(open_r(&e), GH_E_INVAL);
    assert_non_null(strstr(e.text, "not valid JSON"));
    gh_test_write_str(fx->file, "{\"servers\":{}}");
    assert_int_equal(open_r(&e), GH_E_INVAL);
    gh_test_write_str(fx->file, "{\"version\":2,\"servers\":{}}");
    assert_int_equal(open_r(&e), GH_E_INVAL);
    assert_non_null(strstr(e.text, "newer Gatehouse"));
    gh_test_write_str(fx->file, "{\"version\":1,\"servers\":{},"
                                "\"servers\":{}}");
    assert_int_equal(open_r(&e), GH_E_INVAL);
}

static void
test_cli__cache_damaged_entry(void **state)
{
    struct fx *fx = *state;
    struct gh_cli_cache *c;
    struct gh_cli_cache_err e;
    struct gh_cli_tokens t;

    put_file(fx, "{\"version\":1,\"servers\":{"
                 "\"https://a\":{\"issuer\":\"https://i\","
                 "\"token_endpoint\":\"https://i/t\",\"client_id\":\"c\","
                 "\"expires_at\":1},"
                 "\"https://b\":{\"issuer\":\"https://i\","
                 "\"token_endpoint\":\"https://i/t\",\"client_id\":\"c\","
                 "\"access_token\":\"two words\",\"expires_at\":1},"
                 "\"https://c\":\"nope\"}}");
    assert_int_equal(gh_cli_cache_open(0, &c, &e), 0);
    assert_int_equal(gh_cli_cache_get(c, "https://a", &t), GH_E_INVAL);
    assert_int_equal(gh_cli_cache_get(c, "https://b", &t), GH_E_INVAL);
    assert_int_equal(gh_cli_cache_get(c, "https://c", &t), GH_E_INVAL);
    gh_cli_cache_close(c);
}

static void
test_cli__cache_servers_max(void **state)
{
    struct gh_cli_cache *c;
    struct gh_cli_cache_err e;
    struct gh_cli_tokens t;
    char url[64];
    int i;

    (void)state;
    assert_int_equal(gh_cli_cache_open(1, &c, &e), 0);
    sample(&t, "at", NULL);
    for (i = 0; i < GH_CLI_CACHE_SERVERS_MAX; i++) {
        snprintf(url, sizeof(url), "https://gw%d", i);
        assert_int_equal(gh_cli_cache_put(c, url, &t), 0);
    }
    assert_int_equal(gh_cli_cache_put(c, "https://one-more", &t), GH_E_TOOBIG);
    /* Replacing an entry is always possible. */
    assert_int_equal(gh_cli_cache_put(c, "https://gw0", &t), 0);
    gh_cli_cache_close(c);
}

static void
test_cli__cache_lock_waits(void **state)
{
    struct gh_cli_cache *c;
    struct gh_cli_cache_err e;
    struct timespec a, b;
    int p[2], status;
    char ch;
    pid_t pid;

    (void)state;
    write_one("https://a", "at.a", NULL);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Hold the lock for 600 ms. */
        struct timespec hold = {0, 600 * 1000000L};

        if (gh_cli_cache_open(0, &c, &e) != 0)
            _exit(1);
        (void)!write(p[1], "x", 1);
        nanosleep(&hold, NULL);
        gh_cli_cache_close(c);
        _exit(0);
    }
    assert_int_equal(read(p[0], &ch, 1), 1);
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(gh_cli_cache_open(0, &c, &e), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    gh_cli_cache_close(c);
    assert_true((b.tv_sec - a.tv_sec) * 1000 +
                    (b.tv_nsec - a.tv_nsec) / 1000000 >=
                400);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(p[0]);
    close(p[1]);
}

static void
test_cli__url_check(void **state)
{
    const char *why;

    (void)state;
    assert_int_equal(gh_cli_url_check("https://idp.example.com/x", &why), 0);
    assert_int_equal(gh_cli_url_check("http://127.0.0.1:9/token", &why), 0);
    assert_int_equal(gh_cli_url_check("http://[::1]:9/token", &why), 0);
    assert_int_equal(gh_cli_url_check("http://localhost/token", &why), 0);
    assert_int_equal(gh_cli_url_check("http://idp.example.com/t", &why),
                     GH_E_INVAL);
    assert_non_null(strstr(why, "plain http"));
    assert_int_equal(gh_cli_url_check("http://128.0.0.1/t", &why), GH_E_INVAL);
    assert_int_equal(gh_cli_url_check("file:///etc/passwd", &why), GH_E_INVAL);
    assert_int_equal(gh_cli_url_check("not a url", &why), GH_E_INVAL);
}

static void
test_cli__form_and_text(void **state)
{
    char *form = NULL;

    (void)state;
    gh_cli_form_add(&form, "client_id", "gatehouse-cli");
    gh_cli_form_add(&form, "scope", "openid groups");
    gh_cli_form_add(&form, "resource", "urn:x:y&z=1");
    assert_string_equal(form, "client_id=gatehouse-cli&scope=openid%20groups"
                              "&resource=urn%3Ax%3Ay%26z%3D1");
    gh_cli_strfree(form);
    assert_true(gh_cli_token_ok("eyJ.abc-_~+/="));
    assert_false(gh_cli_token_ok(""));
    assert_false(gh_cli_token_ok("a b"));
    assert_false(gh_cli_token_ok("a\nb"));
    assert_false(gh_cli_printable("ABCD-EFGH", 4));
    assert_true(gh_cli_printable("ABCD", 4));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_cli__cache_dir_xdg_and_home),
        T(test_cli__cache_missing_is_empty),
        T(test_cli__cache_roundtrip_modes),
        T(test_cli__cache_replace_and_remove),
        T(test_cli__cache_refuses_loose_file),
        T(test_cli__cache_refuses_symlink),
        T(test_cli__cache_refuses_loose_dir),
        T(test_cli__cache_refuses_other_owner),
        T(test_cli__cache_bad_content),
        T(test_cli__cache_damaged_entry),
        T(test_cli__cache_servers_max),
        T(test_cli__cache_lock_waits),
        T(test_cli__url_check),
        T(test_cli__form_and_text),
    };

    /* jansson wipes what it frees, as in the CLIs. */
    gh_cli_init("gh-unit");
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
