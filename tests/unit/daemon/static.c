/* Unit tests for gateway/daemon/static.c: path resolution and MIME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "static.h"

#include "gatehouse/err.h"

#include "../gh_test.h"

/*
 * ROOT (realpath'd):
 *   index.html  a/b.js  a/c/index.html  .hidden  dot.d/x.txt
 *   link-out  -> /etc/passwd            (escapes)
 *   link-dir  -> /etc                   (escapes)
 *   link-in   -> index.html             (stays inside)
 *   link-sib  -> ROOT-sib/secret.html   (a sibling sharing ROOT's prefix)
 *   fifo      (not a regular file)
 */
struct fx {
    char *root;
    char *sib; /* ROOT-sib */
};

static void
put(const char *root, const char *rel, const char *text)
{
    char *p = gh_test_path(root, rel);

    gh_test_write_str(p, text);
    free(p);
}

static void
dir(const char *root, const char *rel)
{
    char *p = gh_test_path(root, rel);

    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
}

static void
link_to(const char *root, const char *rel, const char *target)
{
    char *p = gh_test_path(root, rel);

    assert_int_equal(symlink(target, p), 0);
    free(p);
}

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *p;
    size_t n;

    assert_non_null(fx);
    fx->root = gh_test_mkdtemp("static");
    n = strlen(fx->root) + 8;
    fx->sib = malloc(n);
    assert_non_null(fx->sib);
    snprintf(fx->sib, n, "%s-sib", fx->root);
    assert_int_equal(mkdir(fx->sib, 0700), 0);
    put(fx->sib, "secret.html", "secret");

    put(fx->root, "index.html", "<!doctype html>");
    dir(fx->root, "a");
    put(fx->root, "a/b.js", "export {}");
    dir(fx->root, "a/c");
    put(fx->root, "a/c/index.html", "c");
    put(fx->root, ".hidden", "hidden");
    dir(fx->root, "dot.d");
    put(fx->root, "dot.d/x.txt", "x");
    link_to(fx->root, "link-out", "/etc/passwd");
    link_to(fx->root, "link-dir", "/etc");
    link_to(fx->root, "link-in", "index.html");
    p = gh_test_path(fx->sib, "secret.html");
    link_to(fx->root, "link-sib", p);
    free(p);
    p = gh_test_path(fx->root, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    free(p);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    gh_test_rmtree(fx->root);
    gh_test_rmtree(fx->sib);
    free(fx->root);
    free(fx->sib);
    free(fx);
    return 0;
}

/* Resolve uri; expect success with ROOT/rel. */
static void
expect_file(struct fx *fx, const char *uri, const char *rel)
{
    char *out = NULL, *want = gh_test_path(fx->root, rel);
    int r = gh_static_resolve(fx->root, uri, &out);

    if (r != 0)
        fail_msg("%s: want %s, got error %d", uri, rel, r);
    assert_string_equal(out, want);
    free(out);
    free(want);
}

/* Resolve uri; expect error code want and *out NULL. */
static void
expect_err(struct fx *fx, const char *uri, int want)
{
    char *out = (char *)"sentinel";
    int r = gh_static_resolve(fx->root, uri, &out);

    if (r != want)
        fail_msg("%s: want %d, got %d (%s)", uri, want, r, r == 0 ? out : "-");
    assert_null(out);
}

/* Not served: any error at all, never a path. */
static void
expect_refused(struct fx *fx, const char *uri)
{
    char *out = (char *)"sentinel";
    int r = gh_static_resolve(fx->root, uri, &out);

    if (r == 0)
        fail_msg("%s was served as %s", uri, out);
    assert_true(r == GH_E_NOTFOUND || r == GH_E_INVAL);
    assert_null(out);
}

static void
test_static__serves_files(void **state)
{
    struct fx *fx = *state;

    expect_file(fx, "/", "index.html");
    expect_file(fx, "/index.html", "index.html");
    expect_file(fx, "/a/b.js", "a/b.js");
    expect_file(fx, "/a/c/", "a/c/index.html");
    expect_file(fx, "/dot.d/x.txt", "dot.d/x.txt");
    /* A symlink that stays inside resolves to its target. */
    expect_file(fx, "/link-in", "index.html");
}

static void
test_static__directory_without_index(void **state)
{
    struct fx *fx = *state;

    expect_err(fx, "/a/", GH_E_NOTFOUND);
}

static void
test_static__directory_without_slash(void **state)
{
    struct fx *fx = *state;

    expect_err(fx, "/a", GH_E_NOTFOUND);
    expect_err(fx, "/a/c", GH_E_NOTFOUND);
}

static void
test_static__missing(void **state)
{
    struct fx *fx = *state;

    expect_err(fx, "/nope", GH_E_NOTFOUND);
    expect_err(fx, "/a/nope.js", GH_E_NOTFOUND);
    /* A file used as a directory. */
    expect_err(fx, "/a/b.js/", GH_E_NOTFOUND);
    expect_err(fx, "/index.html/x", GH_E_NOTFOUND);
}

static void
test_static__traversal_refused(void **state)
{
    struct fx *fx = *state;

    expect_refused(fx, "/../etc/passwd");
    expect_refused(fx, "/a/../index.html");
    expect_refused(fx, "/a/../../etc/passwd");
    expect_refused(fx, "/..");
    expect_refused(fx, "/a/..");
    expect_refused(fx, "/./index.html");
}

static void
test_static__hidden_refused(void **state)
{
    struct fx *fx = *state;

    expect_refused(fx, "/.hidden");
    expect_refused(fx, "/a/.git/config");
}

static void
test_static__bad_bytes_refused(void **state)
{
    struct fx *fx = *state;

    expect_err(fx, "/x\\y", GH_E_INVAL);
    expect_err(fx, "/a\\b.js", GH_E_INVAL);
    expect_err(fx, "/a/b.js\n", GH_E_INVAL);
    expect_err(fx, "/index.html\r", GH_E_INVAL);
    expect_err(fx, "/\x01", GH_E_INVAL);
    /* Not starting with '/'. */
    expect_err(fx, "index.html", GH_E_INVAL);
    expect_err(fx, "", GH_E_INVAL);
}

static void
test_static__symlink_escape_refused(void **state)
{
    struct fx *fx = *state;

    expect_refused(fx, "/link-out");
    expect_refused(fx, "/link-dir/passwd");
    expect_refused(fx, "/link-dir/");
    /* ROOT-sib starts with ROOT's bytes but is outside it. */
    expect_refused(fx, "/link-sib");
}

static void
test_static__not_regular_refused(void **state)
{
    struct fx *fx = *state;

    expect_refused(fx, "/fifo");
}

static void
test_static__path_length_limit(void **state)
{
    struct fx *fx = *state;
    char uri[GH_STATIC_PATH_MAX + 2];

    /* GH_STATIC_PATH_MAX bytes: allowed (and simply not there). */
    memset(uri, 'z', sizeof(uri));
    uri[0] = '/';
    uri[GH_STATIC_PATH_MAX] = '\0';
    expect_err(fx, uri, GH_E_NOTFOUND);
    /* One more: never valid. */
    uri[GH_STATIC_PATH_MAX] = 'z';
    uri[GH_STATIC_PATH_MAX + 1] = '\0';
    expect_err(fx, uri, GH_E_INVAL);
}

static void
test_static__mime(void **state)
{
    static const struct {
        const char *path, *prefix;
    } t[] = {
        {"/index.html", "text/html"},
        {"/a/b.js", "text/javascript"},
        {"/s.css", "text/css"},
        {"/logo.svg", "image/svg+xml"},
        {"/logo.png", "image/png"},
        {"/m.json", "application/json"},
        {"/x.unknownext", "application/octet-stream"},
        {"/noext", "application/octet-stream"},
        {"/a.b/c", "application/octet-stream"},
        {"a.html/", "application/octet-stream"},
        {"/archive.html.gz", "application/octet-stream"},
        {"", "application/octet-stream"},
    };
    size_t i;
    const char *m;

    (void)state;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        m = gh_static_mime(t[i].path);
        assert_non_null(m);
        if (strncmp(m, t[i].prefix, strlen(t[i].prefix)) != 0)
            fail_msg("%s: got %s, want %s", t[i].path, m, t[i].prefix);
    }
    /* Text types say their charset. */
    assert_non_null(strstr(gh_static_mime("/i.html"), "charset=utf-8"));
    assert_non_null(strstr(gh_static_mime("/i.js"), "charset=utf-8"));
    assert_string_equal(gh_static_mime("/noext"), "application/octet-stream");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_static__serves_files),
        T(test_static__directory_without_index),
        T(test_static__directory_without_slash),
        T(test_static__missing),
        T(test_static__traversal_refused),
        T(test_static__hidden_refused),
        T(test_static__bad_bytes_refused),
        T(test_static__symlink_escape_refused),
        T(test_static__not_regular_refused),
        T(test_static__path_length_limit),
        T(test_static__mime),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
