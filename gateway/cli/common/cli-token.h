/*
 * cli-token.h - the access token a Gatehouse CLI verb uses, taken from the
 * token cache: which cached server a verb means, and the server's token
 * set refreshed (and written back) when it is about to expire. Shared by
 * gatehousectl and the gatehouse user CLI so that a login with either
 * works for both.
 *
 * Messages go to stderr prefixed with the program name given to
 * gh_cli_init() ("gatehouse: ..."), and name that program in the advice
 * ("run gatehouse login --server URL"). Results are the CLIs' exit
 * statuses, so a verb can return them as they are.
 *
 * Part of the gh_cli library. Single-threaded; the refresh blocks (at
 * most GH_CLI_TOTAL_S). Tokens are wiped when freed and never printed.
 */
#ifndef GATEHOUSE_CLI_TOKEN_H
#define GATEHOUSE_CLI_TOKEN_H

#include "cli-http.h"
#include "tokencache.h"

/* The exit statuses both CLIs document. */
#define GH_CLI_EXIT_OK    0
#define GH_CLI_EXIT_FAIL  1 /* the server refused or the network failed */
#define GH_CLI_EXIT_USAGE 2 /* usage or local set-up error */
/* Sign-in needed or refused: not logged in, the login expired and cannot
 * be refreshed, or the device approval was denied or ran out. */
#define GH_CLI_EXIT_AUTH 3

/* One line on stderr, prefixed "PROGRAM: ". */
void gh_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How the IdP is trusted: the system store, or GATEHOUSE_IDP_CA_FILE when
 * set. Never the gateway's --ca-file or pin (a pin is one server's key). */
void gh_cli_idp_tls(struct gh_cli_tls *t);

/* A failure to open or write the cache, said and turned into an exit
 * status: an unsafe or foreign file is a local set-up error (2). */
int gh_cli_cache_fail(int r, const struct gh_cli_cache_err *e);

/*
 * The server a verb means: server_arg (--server or GATEHOUSE_SERVER) when
 * given, else the cache's only server. Sets *out (caller frees) or says
 * why not and returns GH_CLI_EXIT_AUTH (nothing cached) or
 * GH_CLI_EXIT_USAGE (several servers cached: the verb will not guess).
 */
int gh_cli_pick_server(const char *server_arg, const struct gh_cli_cache *c,
                       char **out);

/*
 * server's token set from the open cache c into *t, refreshed at the IdP
 * and written back when the access token expires within
 * GH_CLI_REFRESH_MARGIN_S. Returns 0, or an exit status after saying why
 * (3: not logged in, damaged entry, login ended; 1: the IdP could not be
 * reached). On failure *t is empty.
 */
int gh_cli_fresh_tokens(struct gh_cli_cache *c, const char *server,
                        struct gh_cli_tokens *t);

#endif
