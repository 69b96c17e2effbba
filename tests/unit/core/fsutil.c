/* Unit tests for gateway/core/fsutil.c: private dirs, atomic writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/fsutil.h"

#include "../gh_test.h"

struct fx {
    char *dir;
    mode_t umask_saved;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->dir = gh_test_mkdtemp("fsutil");
    /* Modes below assume the usual umask; restored in teardown. */
    fx->umask_saved = umask(022);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    umask(fx->umask_saved);
    gh_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static void
test_fsutil__make_private_nested(void **state)
{
    struct fx *fx = *state;
    char *a = gh_test_path(fx->dir, "a");
    char *ab = gh_test_path(fx->dir, "a/b");
    char *abc = gh_test_path(fx->dir, "a/b/c");

    assert_int_equal(gh_dir_make_private(abc), 0);
    assert_int_equal(gh_test_mode(a), 0755);
    assert_int_equal(gh_test_mode(ab), 0755);
    assert_int_equal(gh_test_mode(abc), 0700);
    /* The writability probe leaves nothing behind. */
    assert_int_equal(gh_test_count_entries(abc), 0);
    free(a);
    free(ab);
    free(abc);
}

/* An existing directory is accepted, and what is in it survives. */
static void
test_fsutil__make_private_existing(void **state)
{
    struct fx *fx = *state;
    char *d = gh_test_path(fx->dir, "d");
    char *f = gh_test_path(fx->dir, "d/keep");

    assert_int_equal(gh_dir_make_private(d), 0);
    gh_test_write_str(f, "x");
    assert_int_equal(gh_dir_make_private(d), 0);
    assert_int_equal(gh_dir_make_private(fx->dir), 0);
    assert_true(gh_path_exists(f));
    assert_int_equal(gh_test_count_entries(d), 1);
    free(d);
    free(f);
}

/* "DIR/x/y/" names the same directory as "DIR/x/y": y is the last
 * component and must get 0700. */
static void
test_fsutil__make_private_trailing_slash(void **state)
{
    struct fx *fx = *state;
    char *p = gh_test_path(fx->dir, "x/y/");
    char *y = gh_test_path(fx->dir, "x/y");
    int r = gh_dir_make_private(p), mode = gh_test_mode(y);

    free(p);
    free(y);
    assert_int_equal(r, 0);
    assert_int_equal(mode, 0700);
}

static void
test_fsutil__make_private_parent_is_file(void **state)
{
    struct fx *fx = *state;
    char *f = gh_test_path(fx->dir, "file");
    char *p = gh_test_path(fx->dir, "file/sub/dir");

    gh_test_write_str(f, "not a dir");
    errno = 0;
    assert_int_equal(gh_dir_make_private(p), GH_E_IO);
    assert_int_equal(errno, ENOTDIR);
    /* The path itself a regular file: not accepted as a directory. */
    errno = 0;
    assert_int_equal(gh_dir_make_private(f), GH_E_IO);
    assert_int_equal(errno, ENOTDIR);
    free(f);
    free(p);
}

static void
test_fsutil__make_private_empty(void **state)
{
    (void)state;
    assert_int_equal(gh_dir_make_private(""), GH_E_INVAL);
}

static void
test_fsutil__check_writable_existing(void **state)
{
    struct fx *fx = *state;
    const char *why = "unset";

    assert_int_equal(gh_dir_check_writable(fx->dir, &why), 0);
    assert_null(why);
    assert_int_equal(gh_test_count_entries(fx->dir), 0);
}

/* A missing directory under a writable parent passes and is not made. */
static void
test_fsutil__check_writable_missing_not_created(void **state)
{
    struct fx *fx = *state;
    char *m = gh_test_path(fx->dir, "missing");
    char *deep = gh_test_path(fx->dir, "m1/m2/m3");
    const char *why = "unset";

    assert_int_equal(gh_dir_check_writable(m, &why), 0);
    assert_null(why);
    assert_false(gh_path_exists(m));
    assert_int_equal(gh_dir_check_writable(deep, &why), 0);
    assert_null(why);
    assert_int_equal(gh_test_count_entries(fx->dir), 0);
    free(m);
    free(deep);
}

static void
test_fsutil__check_writable_under_file(void **state)
{
    struct fx *fx = *state;
    char *f = gh_test_path(fx->dir, "plain");
    char *under = gh_test_path(fx->dir, "plain/data");
    const char *why = NULL;

    gh_test_write_str(f, "x");
    assert_int_equal(gh_dir_check_writable(under, &why), GH_E_IO);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
    assert_int_not_equal(errno, 0);

    /* The path itself a file. */
    why = NULL;
    assert_int_equal(gh_dir_check_writable(f, &why), GH_E_IO);
    assert_non_null(why);
    assert_non_null(strstr(why, "not a directory"));
    assert_int_equal(errno, ENOTDIR);
    assert_int_equal(gh_test_count_entries(fx->dir), 1);
    free(f);
    free(under);
}

static void
test_fsutil__write_atomic_content_and_mode(void **state)
{
    struct fx *fx = *state;
    char *p = gh_test_path(fx->dir, "out.bin");
    static const char data[] = "line1\n\0binary\xff";
    char *got;
    size_t len;

    assert_int_equal(gh_file_write_atomic(p, data, sizeof(data), 0600), 0);
    got = gh_test_slurp(p, &len);
    assert_int_equal(len, sizeof(data));
    assert_memory_equal(got, data, sizeof(data));
    free(got);
    assert_int_equal(gh_test_mode(p), 0600);
    /* Only the target: no temporary file left beside it. */
    assert_int_equal(gh_test_count_entries(fx->dir), 1);
    free(p);
}

/* The mode is exact, whatever the umask; an existing file is replaced. */
static void
test_fsutil__write_atomic_replaces(void **state)
{
    struct fx *fx = *state;
    char *p = gh_test_path(fx->dir, "cfg");
    char *got;

    gh_test_write_str(p, "old content that is longer");
    umask(077);
    assert_int_equal(gh_file_write_atomic(p, "new", 3, 0644), 0);
    umask(022);
    got = gh_test_slurp(p, NULL);
    assert_string_equal(got, "new");
    free(got);
    assert_int_equal(gh_test_mode(p), 0644);
    assert_int_equal(gh_file_write_atomic(p, "", 0, 0640), 0);
    got = gh_test_slurp(p, NULL);
    assert_string_equal(got, "");
    free(got);
    assert_int_equal(gh_test_mode(p), 0640);
    assert_int_equal(gh_test_count_entries(fx->dir), 1);
    free(p);
}

static void
test_fsutil__write_atomic_missing_dir(void **state)
{
    struct fx *fx = *state;
    char *p = gh_test_path(fx->dir, "nodir/file");

    assert_int_equal(gh_file_write_atomic(p, "x", 1, 0600), GH_E_IO);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(gh_test_count_entries(fx->dir), 0);
    free(p);
}

static void
test_fsutil__file_read(void **state)
{
    struct fx *fx = *state;
    char *p = gh_test_path(fx->dir, "r");
    static const char data[] = "abc\0def";
    char *out = NULL;
    size_t len = 99;

    gh_test_write(p, data, sizeof(data) - 1);
    assert_int_equal(gh_file_read(p, 1024, &out, &len), 0);
    assert_int_equal(len, sizeof(data) - 1);
    assert_memory_equal(out, data, sizeof(data) - 1);
    assert_int_equal(out[len], '\0');
    free(out);
    /* len may be NULL. */
    assert_int_equal(gh_file_read(p, 1024, &out, NULL), 0);
    assert_string_equal(out, "abc");
    free(out);
    free(p);
}

static void
test_fsutil__file_read_max(void **state)
{
    struct fx *fx = *state;
    char *p = gh_test_path(fx->dir, "big");
    char *out = (char *)"sentinel";
    size_t len = 99;

    gh_test_write_str(p, "0123456789");
    /* Exactly max is fine. */
    assert_int_equal(gh_file_read(p, 10, &out, &len), 0);
    assert_int_equal(len, 10);
    free(out);
    out = (char *)"sentinel";
    assert_int_equal(gh_file_read(p, 9, &out, &len), GH_E_TOOBIG);
    assert_null(out);
    assert_int_equal(len, 0);
    free(p);
}

static void
test_fsutil__file_read_refuses_directory(void **state)
{
    struct fx *fx = *state;
    char *out = (char *)"sentinel";
    int r;

    r = gh_file_read(fx->dir, 1024, &out, NULL);
    assert_true(r < 0);
    assert_int_not_equal(r, GH_E_TOOBIG);
    assert_null(out);
}

static void
test_fsutil__file_read_missing(void **state)
{
    struct fx *fx = *state;
    char *p = gh_test_path(fx->dir, "nope");
    char *out = (char *)"sentinel";

    assert_int_equal(gh_file_read(p, 1024, &out, NULL), GH_E_IO);
    assert_int_equal(errno, ENOENT);
    assert_null(out);
    free(p);
}

static void
test_fsutil__path_exists(void **state)
{
    struct fx *fx = *state;
    char *f = gh_test_path(fx->dir, "f");
    char *l = gh_test_path(fx->dir, "dangling");
    char *n = gh_test_path(fx->dir, "n");

    gh_test_write_str(f, "");
    assert_int_equal(symlink("/nonexistent/target", l), 0);
    assert_true(gh_path_exists(f));
    assert_true(gh_path_exists(fx->dir));
    assert_true(gh_path_exists(l)); /* any type, link not followed */
    assert_false(gh_path_exists(n));
    free(f);
    free(l);
    free(n);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_fsutil__make_private_nested),
        T(test_fsutil__make_private_existing),
        T(test_fsutil__make_private_trailing_slash),
        T(test_fsutil__make_private_parent_is_file),
        T(test_fsutil__make_private_empty),
        T(test_fsutil__check_writable_existing),
        T(test_fsutil__check_writable_missing_not_created),
        T(test_fsutil__check_writable_under_file),
        T(test_fsutil__write_atomic_content_and_mode),
        T(test_fsutil__write_atomic_replaces),
        T(test_fsutil__write_atomic_missing_dir),
        T(test_fsutil__file_read),
        T(test_fsutil__file_read_max),
        T(test_fsutil__file_read_refuses_directory),
        T(test_fsutil__file_read_missing),
        T(test_fsutil__path_exists),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
