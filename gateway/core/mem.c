/* mem.c - checked allocation, secret wiping, constant-time compare. */
#include "gatehouse/mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static void
gh_oom(size_t count, size_t size)
{
    fprintf(stderr,
            "level=fatal comp=mem msg=\"out of memory\" count=%zu "
            "size=%zu\n",
            count, size);
    abort();
}

void *
gh_alloc(size_t count, size_t size)
{
    void *p;

    if (size != 0 && count > SIZE_MAX / size)
        gh_oom(count, size);
    p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        gh_oom(count, size);
    return p;
}

void *
gh_realloc(void *p, size_t count, size_t size)
{
    void *n;

    if (size != 0 && count > SIZE_MAX / size)
        gh_oom(count, size);
    n = realloc(p, count * size != 0 ? count * size : 1);
    if (n == NULL)
        gh_oom(count, size);
    return n;
}

char *
gh_strdup(const char *s)
{
    return s == NULL ? NULL : gh_strndup(s, strlen(s));
}

char *
gh_strndup(const char *s, size_t n)
{
    char *d;

    if (s == NULL)
        return NULL;
    n = strnlen(s, n); /* never read past a shorter string's NUL */
    d = gh_alloc(n + 1, 1);
    memcpy(d, s, n);
    return d;
}

char *
gh_asprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        gh_oom(0, 0);
    s = gh_alloc((size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void
gh_wipe(void *p, size_t len)
{
    if (p != NULL && len != 0)
        OPENSSL_cleanse(p, len);
}

void
gh_freezero(void *p, size_t len)
{
    if (p == NULL)
        return;
    gh_wipe(p, len);
    free(p);
}

int
gh_ct_memcmp(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) != 0;
}
