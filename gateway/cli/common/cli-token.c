/* cli-token.c - the cached token a CLI verb uses (see cli-token.h). */
#include "cli-token.h"
#include "oidc-device.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
gh_cli_err(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", gh_cli_agent());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void
gh_cli_idp_tls(struct gh_cli_tls *t)
{
    const char *ca = getenv("GATEHOUSE_IDP_CA_FILE");

    memset(t, 0, sizeof(*t));
    t->ca_file = ca != NULL && *ca != '\0' ? ca : NULL;
}

int
gh_cli_cache_fail(int r, const struct gh_cli_cache_err *e)
{
    gh_cli_err("%s", e->text);
    return r == GH_E_PERM || r == GH_E_INVAL ? GH_CLI_EXIT_USAGE
                                             : GH_CLI_EXIT_FAIL;
}

int
gh_cli_pick_server(const char *server_arg, const struct gh_cli_cache *c,
                   char **out)
{
    size_t n = gh_cli_cache_count(c);
    const char *prog = gh_cli_agent();

    *out = NULL;
    if (server_arg != NULL && *server_arg != '\0') {
        *out = gh_cli_cache_key(server_arg);
        return 0;
    }
    if (n == 0) {
        gh_cli_err("not logged in: run %s login --server URL", prog);
        return GH_CLI_EXIT_AUTH;
    }
    if (n > 1) {
        gh_cli_err("the token cache holds %zu servers: choose one with "
                   "--server URL ('%s status' lists them)",
                   n, prog);
        return GH_CLI_EXIT_USAGE;
    }
    *out = gh_strdup(gh_cli_cache_server(c, 0));
    return 0;
}

int
gh_cli_fresh_tokens(struct gh_cli_cache *c, const char *server,
                    struct gh_cli_tokens *t)
{
    struct gh_cli_tokens fresh;
    struct gh_cli_oauth_err oe;
    struct gh_cli_cache_err ce;
    struct gh_cli_tls tls;
    const char *prog = gh_cli_agent();
    int r;

    ce.text[0] = '\0';
    r = gh_cli_cache_get(c, server, t);
    if (r == GH_E_NOTFOUND) {
        gh_cli_err("not logged in to %s: run %s login --server %s", server,
                   prog, server);
        return GH_CLI_EXIT_AUTH;
    }
    if (r != 0) {
        gh_cli_err("the token cache entry for %s is damaged: run %s login "
                   "--server %s",
                   server, prog, server);
        return GH_CLI_EXIT_AUTH;
    }
    if (t->expires_at - (long long)time(NULL) > GH_CLI_REFRESH_MARGIN_S)
        return 0;
    if (t->refresh_token == NULL) {
        gh_cli_err("your login to %s has expired: run %s login --server %s",
                   server, prog, server);
        gh_cli_tokens_cleanup(t);
        return GH_CLI_EXIT_AUTH;
    }
    gh_cli_idp_tls(&tls);
    r = gh_cli_refresh(t, &tls, &fresh, &oe);
    if (r == GH_E_PERM) {
        gh_cli_err("your login to %s has ended (%s): run %s login --server "
                   "%s",
                   server, oe.text, prog, server);
        gh_cli_tokens_cleanup(t);
        return GH_CLI_EXIT_AUTH;
    }
    if (r != 0) {
        gh_cli_err("cannot refresh the access token: %s", oe.text);
        gh_cli_tokens_cleanup(t);
        return GH_CLI_EXIT_FAIL;
    }
    gh_cli_tokens_cleanup(t);
    *t = fresh;
    /* The IdP may have rotated the refresh token: an unsaved new one is
     * lost, and the old one no longer works. Go on, but say so. */
    if (gh_cli_cache_put(c, server, t) != 0 || gh_cli_cache_save(c, &ce) != 0)
        gh_cli_err("warning: the refreshed tokens were not saved (%s); "
                   "the next command may need a new login",
                   ce.text[0] ? ce.text : "the cache refused the entry");
    return 0;
}
