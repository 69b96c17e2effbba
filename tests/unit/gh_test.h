/*
 * gh_test.h - small helpers shared by the cmocka unit tests: temporary
 * directories, whole-file reads and writes, capturing gh_log output.
 * Header-only (static inline) so each test stays one .c file and unused
 * helpers cost nothing.
 *
 * Include after <cmocka.h>: failures here are test failures.
 */
#ifndef GATEHOUSE_TESTS_UNIT_GH_TEST_H
#define GATEHOUSE_TESTS_UNIT_GH_TEST_H

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatehouse/log.h"

/* A fresh private directory /tmp/gh-<tag>-XXXXXX, realpath'd. Caller
 * frees and removes it with gh_test_rmtree. */
static inline char *
gh_test_mkdtemp(const char *tag)
{
    char tmpl[256], *real;

    snprintf(tmpl, sizeof(tmpl), "/tmp/gh-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(tmpl));
    real = realpath(tmpl, NULL);
    assert_non_null(real);
    return real;
}

static inline int
gh_test_rm_one(const char *path, const struct stat *st, int flag,
               struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path);
    return unlink(path);
}

/* rm -rf path (no symlinks followed); a missing path is fine. */
static inline void
gh_test_rmtree(const char *path)
{
    struct stat st;

    if (path == NULL || lstat(path, &st) != 0)
        return;
    assert_int_equal(nftw(path, gh_test_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* dir + "/" + name into a new string (caller frees). */
static inline char *
gh_test_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);

    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Create (or truncate) path with exactly len bytes of data, mode 0644. */
static inline void
gh_test_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    if (len > 0)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline void
gh_test_write_str(const char *path, const char *s)
{
    gh_test_write(path, s, strlen(s));
}

/* Whole file into a new NUL-terminated buffer (caller frees). */
static inline char *
gh_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;

    assert_non_null(f);
    for (;;) {
        if (cap - n < 4096) {
            cap = cap * 2 + 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* Permission bits of path (lstat), or -1 when it does not exist. */
static inline int
gh_test_mode(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return -1;
    return (int)(st.st_mode & 07777);
}

/* Number of entries in dir other than "." and "..". */
static inline int
gh_test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Send gh_log lines to a fresh unlinked temporary file; returns its fd. */
static inline int
gh_test_log_begin(void)
{
    char tmpl[] = "/tmp/gh-log-XXXXXX";
    int fd = mkstemp(tmpl);

    assert_true(fd >= 0);
    unlink(tmpl);
    gh_log_set_fd(fd);
    return fd;
}

/* Everything logged since gh_test_log_begin (caller frees); logging goes
 * back to stderr and fd is closed. */
static inline char *
gh_test_log_end(int fd, size_t *len)
{
    char *buf;
    off_t size = lseek(fd, 0, SEEK_END);
    ssize_t n;

    gh_log_set_fd(2);
    assert_true(size >= 0);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    n = pread(fd, buf, (size_t)size, 0);
    assert_int_equal(n, size);
    buf[size] = '\0';
    close(fd);
    if (len != NULL)
        *len = (size_t)size;
    return buf;
}

#endif
