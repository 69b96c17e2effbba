/*
 * mem.h - allocation helpers.
 *
 * Every allocation goes through these so that size arithmetic is checked
 * in one place. Out of memory aborts: inputs are bounded by named limits,
 * so running out means the machine is exhausted, not that a peer was
 * clever. Any thread may call them.
 */
#ifndef GATEHOUSE_MEM_H
#define GATEHOUSE_MEM_H

#include <stddef.h>

/* Zeroed array of count elements of size bytes; aborts on overflow/OOM. */
void *gh_alloc(size_t count, size_t size);

/* Resize p to count*size bytes (new tail not zeroed); aborts on failure. */
void *gh_realloc(void *p, size_t count, size_t size);

/* Copy of s (NULL gives NULL). Caller frees. */
char *gh_strdup(const char *s);

/* Copy of at most the first n bytes of s (stopping at its NUL),
 * NUL-terminated. Caller frees. */
char *gh_strndup(const char *s, size_t n);

/* printf into a new string. Caller frees. */
char *gh_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wipe len bytes at p in a way the compiler cannot drop, then free p. */
void gh_freezero(void *p, size_t len);

/* Wipe len bytes at p in a way the compiler cannot drop. */
void gh_wipe(void *p, size_t len);

/* Constant-time comparison of two equal-length buffers: 0 when equal. */
int gh_ct_memcmp(const void *a, const void *b, size_t len);

/* free() that accepts NULL and clears the pointer. */
#define gh_free(p)                                                             \
    do {                                                                       \
        free(p);                                                               \
        (p) = NULL;                                                            \
    } while (0)

#endif
