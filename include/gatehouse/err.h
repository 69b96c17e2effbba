/*
 * err.h - error codes shared by every Gatehouse module.
 *
 * Functions return int: 0 on success, a negative GH_E_* on failure.
 * Constructors return NULL on failure instead. gh_strerror() gives the
 * text; it never returns NULL.
 */
#ifndef GATEHOUSE_ERR_H
#define GATEHOUSE_ERR_H

enum gh_err {
    GH_OK = 0,
    GH_E_INTERNAL = -1, /* a bug in Gatehouse */
    GH_E_NOMEM = -2,    /* allocation failed (normally aborts instead) */
    GH_E_INVAL = -3,    /* bad argument or malformed input */
    GH_E_IO = -4,       /* read/write/open failed; errno kept */
    GH_E_CONFIG = -5,   /* configuration is invalid */
    GH_E_STORE = -6,    /* database error */
    GH_E_CRYPTO = -7,   /* OpenSSL failure */
    GH_E_NOTFOUND = -8, /* no such object */
    GH_E_TOOBIG = -9,   /* input exceeds a named limit */
    GH_E_EXISTS = -10,  /* object already exists */
    GH_E_PERM = -11,    /* permission denied */
    GH_E_SCHEMA = -12,  /* database schema newer than this program */
    GH_E_LAST = -13
};

/* Text for a GH_E_* code (or "unknown error"). Static storage; any thread. */
const char *gh_strerror(int r);

#endif
