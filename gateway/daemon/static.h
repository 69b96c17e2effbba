/*
 * static.h - mapping a request path to a file under the web root.
 * Pure functions; any thread.
 */
#ifndef GATEHOUSE_DAEMON_STATIC_H
#define GATEHOUSE_DAEMON_STATIC_H

#include <stddef.h>

/* Longest request path served as a file: deeper paths are not ours. */
#define GH_STATIC_PATH_MAX 1024

/*
 * Resolve uri (the decoded request path, starting with '/') to a regular
 * file inside root_real (an absolute, symlink-free directory). A trailing
 * '/' means index.html. Segments starting with '.', NUL, backslash and
 * anything that escapes root_real after realpath() are refused.
 * Returns 0 with *out a new path (caller frees), GH_E_NOTFOUND, or
 * GH_E_INVAL for a path that is never valid.
 */
int gh_static_resolve(const char *root_real, const char *uri, char **out);

/* Content type for a file name, by extension (never NULL). */
const char *gh_static_mime(const char *path);

#endif
