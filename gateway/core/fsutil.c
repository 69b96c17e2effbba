/* fsutil.c - directories and files with explicit modes. */
#include "gatehouse/fsutil.h"
#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Create one directory; EEXIST is fine if it is a directory. */
static int
gh_mkdir_one(const char *path, mode_t mode)
{
    struct stat st;

    if (mkdir(path, mode) == 0)
        return 0;
    if (errno != EEXIST)
        return GH_E_IO;
    if (stat(path, &st) != 0)
        return GH_E_IO;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return GH_E_IO;
    }
    return 0;
}

/* Create then delete a file in dir: the only test that holds for root. */
static int
gh_dir_probe(const char *dir)
{
    char *tmpl = gh_asprintf("%s/.gh-probe-XXXXXX", dir);
    int fd, r = 0;

    fd = mkstemp(tmpl);
    if (fd < 0) {
        r = GH_E_IO;
    } else {
        close(fd);
        unlink(tmpl);
    }
    free(tmpl);
    return r;
}

int
gh_dir_make_private(const char *path)
{
    char *p = gh_strdup(path);
    size_t len = strlen(p);
    char *s;
    int r, saved;

    /* "a/b/" is "a/b": the last component must get 0700, not 0755. */
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    if (*p == '\0') {
        free(p);
        errno = EINVAL;
        return GH_E_INVAL;
    }
    for (s = p + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        r = gh_mkdir_one(p, 0755);
        *s = '/';
        if (r != 0)
            goto out;
    }
    r = gh_mkdir_one(p, 0700);
    if (r == 0)
        r = gh_dir_probe(p);
out:
    saved = errno;
    free(p);
    errno = saved;
    return r;
}

int
gh_dir_check_writable(const char *path, const char **why)
{
    struct stat st;
    char *parent, *slash;
    int r;

    *why = NULL;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            *why = "is not a directory";
            return GH_E_IO;
        }
        if (gh_dir_probe(path) != 0) {
            *why = "is not writable";
            return GH_E_IO;
        }
        return 0;
    }
    if (errno != ENOENT) {
        *why = "cannot be examined";
        return GH_E_IO;
    }
    /* Missing: the nearest existing ancestor must be a writable dir. */
    parent = gh_strdup(path);
    for (;;) {
        slash = strrchr(parent, '/');
        if (slash == NULL) {
            strcpy(parent, ".");
        } else if (slash == parent) {
            parent[1] = '\0';
        } else {
            *slash = '\0';
        }
        if (stat(parent, &st) == 0 || errno != ENOENT ||
            strcmp(parent, ".") == 0 || strcmp(parent, "/") == 0)
            break;
    }
    if (stat(parent, &st) != 0) {
        *why = "cannot be created (parent cannot be examined)";
        r = GH_E_IO;
    } else if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        *why = "cannot be created (a parent is not a directory)";
        r = GH_E_IO;
    } else if (gh_dir_probe(parent) != 0) {
        *why = "cannot be created (parent is not writable)";
        r = GH_E_IO;
    } else {
        r = 0;
    }
    free(parent);
    return r;
}

int
gh_file_write_atomic(const char *path, const void *data, size_t len,
                     mode_t mode)
{
    char *tmp = gh_asprintf("%s.tmp-XXXXXX", path);
    const char *p = data;
    int fd, r = GH_E_IO, saved;
    ssize_t n;

    fd = mkstemp(tmp);
    if (fd < 0)
        goto out;
    if (fchmod(fd, mode) != 0)
        goto fail;
    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    r = 0;
    goto out;
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
out:
    saved = errno;
    free(tmp);
    errno = saved;
    return r;
}

int
gh_file_read(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    ssize_t n;
    int fd, r = GH_E_IO, saved;

    *out = NULL;
    if (len != NULL)
        *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return GH_E_IO;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        r = GH_E_INVAL;
        goto out;
    }
    if ((unsigned long long)st.st_size > max) {
        errno = EFBIG;
        r = GH_E_TOOBIG;
        goto out;
    }
    buf = gh_alloc((size_t)st.st_size + 1, 1);
    while (got < (size_t)st.st_size) {
        n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    buf = NULL;
    if (len != NULL)
        *len = got;
    r = 0;
out:
    saved = errno;
    free(buf);
    close(fd);
    errno = saved;
    return r;
}

int
gh_path_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}
