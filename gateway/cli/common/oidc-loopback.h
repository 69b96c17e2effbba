/*
 * oidc-loopback.h - the CLI end of a browser sign-in (RFC 8252 section
 * 7.3): a listener on 127.0.0.1 at a port the kernel picks, and the one
 * redirect the identity provider sends the browser back with.
 *
 * Anything may connect to a loopback port, so every request is hostile:
 * only GET /callback is considered, its query is parsed strictly (each
 * parameter once, percent-decoding checked, printable values only), the
 * state must be the one sent (compared in constant time) and an iss, when
 * present, must be the issuer's (RFC 9207). A request that fails these
 * is answered 400 and the wait goes on, so a stray or forged request
 * cannot end a sign-in; the code is taken from the first one that passes.
 *
 * Part of the gh_cli library. Blocking, single-threaded.
 */
#ifndef GATEHOUSE_CLI_OIDC_LOOPBACK_H
#define GATEHOUSE_CLI_OIDC_LOOPBACK_H

#include "oidc-device.h"

/* How long the person has to finish in the browser. */
#define GH_CLI_BROWSER_WAIT_S 300
/* One request to the listener must arrive whole within this time. */
#define GH_CLI_LOOPBACK_READ_S 10
/* The request line and headers a browser sends: a few KiB. */
#define GH_CLI_LOOPBACK_REQ_MAX 16384

/* Listen on 127.0.0.1:0. 0 with *fd and *redirect_uri
 * ("http://127.0.0.1:PORT/callback", caller frees), or GH_E_IO. */
int gh_cli_loopback_listen(int *fd, char **redirect_uri);

/*
 * Serve the listener fd until the redirect with state comes (at most
 * wait_s seconds): 0 with *code (caller frees with gh_cli_strfree);
 * GH_E_PERM when the IdP sent an error (err->error, e.g. access_denied);
 * GH_E_INVAL when the redirect names another issuer; GH_E_IO on timeout
 * or a failing listener. The browser is answered with a short page
 * either way. fd stays open.
 */
int gh_cli_loopback_wait(int fd, const char *state, const char *issuer,
                         int wait_s, char **code, struct gh_cli_oauth_err *err);

#endif
