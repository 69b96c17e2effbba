/*
 * fsutil.h - small file-system helpers with the modes Gatehouse needs.
 * Any thread may call them. Errors: GH_E_* with errno kept.
 */
#ifndef GATEHOUSE_FSUTIL_H
#define GATEHOUSE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Create directory path (and missing parents) with mode 0700 for the last
 * component and 0755 for parents. An existing directory is accepted. Then
 * proves it is writable by creating and removing a probe file: access()
 * cannot tell for root.
 */
int gh_dir_make_private(const char *path);

/*
 * Check, without creating anything permanent, that path is or could be
 * made a writable directory: an existing one gets a probe file; a missing
 * one needs an existing writable parent. On failure *why is a static
 * description and errno is set.
 */
int gh_dir_check_writable(const char *path, const char **why);

/*
 * Write len bytes to path atomically: a temporary file in the same
 * directory opened O_EXCL with mode, fsync'd, then rename()d over path.
 */
int gh_file_write_atomic(const char *path, const void *data, size_t len,
                         mode_t mode);

/*
 * Read the whole of path into a new NUL-terminated buffer (*out, caller
 * frees). Files larger than max give GH_E_TOOBIG.
 */
int gh_file_read(const char *path, size_t max, char **out, size_t *len);

/* True when path exists (any type). */
int gh_path_exists(const char *path);

#endif
