/* Unit tests for gateway/core/mem.c: checked allocation and secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/mem.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void
test_mem__alloc_zeroes(void **state)
{
    size_t n = 64 * 1024, i;
    unsigned char *p;

    (void)state;
    /* Dirty the heap first so a non-zeroing allocator would show. */
    p = malloc(n);
    assert_non_null(p);
    memset(p, 0xa5, n);
    free(p);
    p = gh_alloc(n / 8, 8);
    assert_non_null(p);
    for (i = 0; i < n; i++)
        if (p[i] != 0)
            fail_msg("byte %zu is 0x%02x", i, p[i]);
    free(p);
}

/* Zero counts still give a pointer that can be freed, never NULL. */
static void
test_mem__alloc_zero_size(void **state)
{
    void *a, *b;

    (void)state;
    a = gh_alloc(0, 16);
    b = gh_alloc(16, 0);
    assert_non_null(a);
    assert_non_null(b);
    free(a);
    free(b);
}

/* Run fn in a child; returns the signal that ended it (0 if it exited). */
static int
child_signal(void (*fn)(void))
{
    pid_t pid;
    int st;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The fatal line goes to stderr; keep test output quiet. */
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        fn();
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void
alloc_overflow(void)
{
    volatile size_t count = SIZE_MAX / 2 + 1;
    void *p = gh_alloc(count, 2);

    free(p);
}

static void
realloc_overflow(void)
{
    volatile size_t count = SIZE_MAX / 4 + 1;
    void *p = gh_realloc(NULL, count, 8);

    free(p);
}

/* count * size overflowing size_t aborts instead of a short buffer. */
static void
test_mem__alloc_overflow_aborts(void **state)
{
    (void)state;
    assert_int_equal(child_signal(alloc_overflow), SIGABRT);
    assert_int_equal(child_signal(realloc_overflow), SIGABRT);
}

static void
test_mem__realloc_keeps_prefix(void **state)
{
    char *p;

    (void)state;
    p = gh_realloc(NULL, 4, 1);
    memcpy(p, "abcd", 4);
    p = gh_realloc(p, 4096, 2);
    assert_memory_equal(p, "abcd", 4);
    p = gh_realloc(p, 2, 1);
    assert_memory_equal(p, "ab", 2);
    free(p);
}

static void
test_mem__asprintf(void **state)
{
    char *s, *big;
    char want[5001];

    (void)state;
    s = gh_asprintf("%s-%d-%05.1f-%c", "gw", -42, 3.14159, 'z');
    assert_string_equal(s, "gw--42-003.1-z");
    free(s);
    s = gh_asprintf("%s", "");
    assert_string_equal(s, "");
    free(s);
    /* Longer than any internal first guess. */
    memset(want, 'q', 5000);
    want[5000] = '\0';
    big = gh_asprintf("%s", want);
    assert_int_equal(strlen(big), 5000);
    assert_string_equal(big, want);
    free(big);
}

static void
test_mem__strndup(void **state)
{
    char *s;

    (void)state;
    s = gh_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = gh_strndup("abcdef", 0);
    assert_string_equal(s, "");
    free(s);
    s = gh_strndup("abcdef", 6);
    assert_string_equal(s, "abcdef");
    free(s);
    /* At most n bytes, and never past the string's own NUL. */
    s = gh_strndup("ab\0cd", 5);
    assert_string_equal(s, "ab");
    free(s);
    s = gh_strndup("ab", 10);
    assert_string_equal(s, "ab");
    free(s);
    assert_null(gh_strndup(NULL, 4));
}

static void
test_mem__strdup(void **state)
{
    const char *in = "gatehouse";
    char *s;

    (void)state;
    s = gh_strdup(in);
    assert_string_equal(s, in);
    assert_ptr_not_equal(s, in);
    free(s);
    assert_null(gh_strdup(NULL));
}

static void
test_mem__ct_memcmp(void **state)
{
    unsigned char a[64], b[64];

    (void)state;
    memset(a, 7, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_int_equal(gh_ct_memcmp(a, b, sizeof(a)), 0);
    b[0] ^= 1;
    assert_int_not_equal(gh_ct_memcmp(a, b, sizeof(a)), 0);
    b[0] ^= 1;
    b[63] ^= 0x80;
    assert_int_not_equal(gh_ct_memcmp(a, b, sizeof(a)), 0);
    /* Only len bytes count. */
    assert_int_equal(gh_ct_memcmp(a, b, 63), 0);
    assert_int_equal(gh_ct_memcmp(a, b, 0), 0);
    assert_int_not_equal(gh_ct_memcmp("secret1", "secret2", 7), 0);
}

static void
test_mem__wipe(void **state)
{
    unsigned char buf[32];
    size_t i;

    (void)state;
    memset(buf, 0xff, sizeof(buf));
    gh_wipe(buf + 8, 16);
    for (i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], i >= 8 && i < 24 ? 0 : 0xff);
    gh_wipe(NULL, 10);
    gh_wipe(buf, 0);
    assert_int_equal(buf[0], 0xff);
}

static void
test_mem__freezero(void **state)
{
    char *p = gh_strdup("password");

    (void)state;
    gh_freezero(NULL, 0);
    gh_freezero(NULL, 100);
    gh_freezero(p, strlen(p) + 1);
    /* Zero-length wipe of a live block is fine too. */
    gh_freezero(gh_alloc(1, 1), 0);
}

static void
test_mem__free_clears_pointer(void **state)
{
    char *p = gh_strdup("x");

    (void)state;
    gh_free(p);
    assert_null(p);
    gh_free(p);
    assert_null(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem__alloc_zeroes),
        cmocka_unit_test(test_mem__alloc_zero_size),
        cmocka_unit_test(test_mem__alloc_overflow_aborts),
        cmocka_unit_test(test_mem__realloc_keeps_prefix),
        cmocka_unit_test(test_mem__asprintf),
        cmocka_unit_test(test_mem__strndup),
        cmocka_unit_test(test_mem__strdup),
        cmocka_unit_test(test_mem__ct_memcmp),
        cmocka_unit_test(test_mem__wipe),
        cmocka_unit_test(test_mem__freezero),
        cmocka_unit_test(test_mem__free_clears_pointer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
