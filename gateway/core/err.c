/* err.c - text for GH_E_* codes. */
#include "gatehouse/err.h"

static const char *const gh_err_text[] = {
    "success",
    "internal error",
    "out of memory",
    "invalid argument",
    "input/output error",
    "invalid configuration",
    "database error",
    "cryptographic failure",
    "not found",
    "too big",
    "already exists",
    "permission denied",
    "database schema is newer than this program",
};

const char *
gh_strerror(int r)
{
    if (r > 0 || r <= GH_E_LAST)
        return "unknown error";
    return gh_err_text[-r];
}
