/*
 * verbs-login.c - login, logout, status, and the token every other verb
 * takes from the token cache when given neither --token-file nor
 * GATEHOUSE_TOKEN.
 *
 * Which server: --server (or GATEHOUSE_SERVER); without one, the only
 * server in the cache. With several cached servers and no --server the
 * verb refuses (exit 2) rather than guess which gateway an admin command
 * was meant for; status alone shows them all.
 *
 * The IdP is trusted through the system store, or GATEHOUSE_IDP_CA_FILE:
 * --ca-file, --insecure-pin and -k are about the gateway and never apply
 * to the IdP (a pin is one server's key; -k would expose the refresh
 * token).
 */
#include "ctl.h"
#include "cli-http.h"
#include "cli-token.h"
#include "oidc-device.h"
#include "oidc-loopback.h"
#include "tokencache.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Not secret facts about the cached token set, for status. */
struct gh_ctl_cache_info {
    char *issuer;
    long long expires_at;
    int refreshable;
};

static void
gh_ctl_cache_info_cleanup(struct gh_ctl_cache_info *i)
{
    gh_free(i->issuer);
}

/* The cached token for the verb's server into ctl->conn; info (may be
 * NULL) gets what status shows. */
static int
gh_ctl_token_from_cache(struct gh_ctl *ctl, struct gh_ctl_cache_info *info)
{
    struct gh_cli_cache *c = NULL;
    struct gh_cli_cache_err ce;
    struct gh_cli_tokens t = {0};
    char *server = NULL;
    int r;

    if ((r = gh_cli_cache_open(0, &c, &ce)) != 0)
        return gh_cli_cache_fail(r, &ce);
    if ((r = gh_cli_pick_server(ctl->server_arg, c, &server)) != 0 ||
        (r = gh_ctl_connect(ctl, server)) != 0 ||
        (r = gh_cli_fresh_tokens(c, server, &t)) != 0)
        goto out;
    ctl->conn.token = gh_strdup(t.access_token);
    ctl->token_cached = 1;
    /* The trust given at login, unless this command names its own. */
    if (ctl->conn.ca_file == NULL && ctl->conn.pin == NULL &&
        !ctl->conn.insecure) {
        if (t.pin != NULL)
            ctl->conn.pin = gh_strdup(t.pin);
        else if (t.ca_file != NULL)
            ctl->conn.ca_file = ctl->conn.ca_file_buf = gh_strdup(t.ca_file);
    }
    if (info != NULL) {
        info->issuer = gh_strdup(t.issuer);
        info->expires_at = t.expires_at;
        info->refreshable = t.refresh_token != NULL;
    }
out:
    gh_cli_tokens_cleanup(&t);
    gh_cli_cache_close(c);
    free(server);
    return r;
}

int
gh_ctl_cached_token(struct gh_ctl *ctl)
{
    return gh_ctl_token_from_cache(ctl, NULL);
}

int
gh_ctl_renew_token(struct gh_ctl *ctl)
{
    struct gh_cli_cache *c = NULL;
    struct gh_cli_cache_err ce;
    struct gh_cli_tokens t = {0};
    int r;

    if (!ctl->token_cached)
        return 0;
    if ((r = gh_cli_cache_open(0, &c, &ce)) != 0)
        return gh_cli_cache_fail(r, &ce);
    if ((r = gh_cli_fresh_tokens(c, ctl->conn.server, &t)) == 0) {
        gh_freezero(ctl->conn.token, strlen(ctl->conn.token));
        ctl->conn.token = gh_strdup(t.access_token);
    }
    gh_cli_tokens_cleanup(&t);
    gh_cli_cache_close(c);
    return r;
}

/* ---- login ---- */

/* "1h30m" from now until t. */
static void
gh_ctl_fmt_in(long long t, char buf[32])
{
    long long d = t - (long long)time(NULL);

    gh_ctl_fmt_duration(d > 0 ? d : 0, buf);
}

/* Tell the person where to approve; stderr, so stdout stays clean. */
static void
gh_ctl_login_prompt(const char *server, const struct gh_cli_device *d)
{
    char in[32];

    gh_ctl_fmt_in(d->expires_at, in);
    if (d->verification_uri_complete != NULL)
        fprintf(stderr,
                "To sign in to %s, open this page in a browser:\n\n"
                "    %s\n\n"
                "and check that it shows this code (or open %s\n"
                "and enter it):\n\n"
                "    user code: %s\n\n",
                server, d->verification_uri_complete, d->verification_uri,
                d->user_code);
    else
        fprintf(stderr,
                "To sign in to %s, open this page in a browser:\n\n"
                "    %s\n\n"
                "and enter this code:\n\n"
                "    user code: %s\n\n",
                server, d->verification_uri, d->user_code);
    fprintf(stderr,
            "Waiting for your approval (the code expires in %s; Ctrl-C "
            "gives up)...\n",
            in);
}

/* Open url in the person's browser: $BROWSER (one program, given the URL
 * as its argument, no shell), else xdg-open on a graphical session;
 * nothing otherwise (the URL is printed either way). Not waited for. */
static void
gh_ctl_open_browser(const char *url)
{
    const char *b = getenv("BROWSER"), *cmd = NULL;
    pid_t pid;
    int dn;

    if (b != NULL && *b != '\0')
        cmd = b;
    else if (getenv("DISPLAY") != NULL || getenv("WAYLAND_DISPLAY") != NULL)
        cmd = "xdg-open";
    if (cmd == NULL)
        return;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        /* A grandchild: the browser may live on; nobody waits for it. */
        if (fork() != 0)
            _exit(0);
        if ((dn = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
            dup2(dn, 0);
            dup2(dn, 1);
            dup2(dn, 2);
        }
        execlp(cmd, cmd, url, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}

/* Sign in through a browser: authorization code + PKCE, redirected back
 * to a listener on 127.0.0.1 (RFC 8252). */
static int
gh_ctl_login_browser(const char *server, const struct gh_cli_idp *idp,
                     const struct gh_cli_signin *si,
                     const struct gh_cli_tls *tls, struct gh_cli_tokens *t,
                     struct gh_cli_oauth_err *oe)
{
    struct gh_cli_authz az = {0};
    char *ru = NULL, *code = NULL;
    int fd = -1, r;

    if (gh_cli_loopback_listen(&fd, &ru) != 0) {
        gh_cli_oerr(oe, "cannot listen on 127.0.0.1 for the browser: %s",
                    strerror(errno));
        return GH_E_IO;
    }
    if ((r = gh_cli_authz_start(idp, si, ru, &az, oe)) != 0)
        goto out;
    fprintf(stderr,
            "To sign in to %s, open this page in a browser (if none "
            "opened):\n\n"
            "    %s\n\n"
            "Waiting for the browser to come back to %s (%d min; Ctrl-C "
            "gives up)...\n",
            server, az.url, ru, GH_CLI_BROWSER_WAIT_S / 60);
    gh_ctl_open_browser(az.url);
    if ((r = gh_cli_loopback_wait(fd, az.state, idp->issuer,
                                  GH_CLI_BROWSER_WAIT_S, &code, oe)) != 0)
        goto out;
    r = gh_cli_authz_exchange(idp, si, tls, &az, code, t, oe);
out:
    if (fd >= 0)
        close(fd);
    gh_cli_strfree(code);
    gh_cli_authz_cleanup(&az);
    free(ru);
    return r;
}

/* The device grant's end as an exit status, in words. */
static int
gh_ctl_login_failed(int r, const struct gh_cli_oauth_err *oe)
{
    if (r == GH_E_PERM && strcmp(oe->error, "access_denied") == 0) {
        gh_ctl_err("sign-in was denied at the identity provider");
        return GH_CTL_EXIT_AUTH;
    }
    if (r == GH_E_PERM && strcmp(oe->error, "expired_token") == 0) {
        gh_ctl_err("the code expired before it was approved: run "
                   "%s login again",
                   gh_cli_agent());
        return GH_CTL_EXIT_AUTH;
    }
    gh_ctl_err("%s", oe->text);
    return r == GH_E_PERM ? GH_CTL_EXIT_AUTH : GH_CTL_EXIT_FAIL;
}

/* The gateway's answer to /api/v1/me as "bob (roles: user,approver)". */
static char *
gh_ctl_who(json_t *me)
{
    char *roles = gh_ctl_cell(json_object_get(me, "roles"), GH_CTL_TEXT);
    char *user = gh_ctl_cell(json_object_get(me, "user_id"), GH_CTL_TEXT);
    char *s = gh_asprintf("%s (roles: %s)", user, roles);

    free(roles);
    free(user);
    return s;
}

int
gh_ctl_login(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
             char **argv)
{
    static const struct option o[] = {
        {"server", required_argument, NULL, GH_OPT_SERVER},
        {"ca-file", required_argument, NULL, GH_OPT_CA_FILE},
        {"insecure-pin", required_argument, NULL, GH_OPT_PIN},
        {"insecure", no_argument, NULL, GH_OPT_INSECURE},
        {"browser", no_argument, NULL, GH_OPT_BROWSER},
        {NULL, 0, NULL, 0}};
    struct gh_cli_signin si = {0};
    struct gh_cli_idp idp = {0};
    struct gh_cli_device dev = {0};
    struct gh_cli_tokens t = {0};
    struct gh_cli_oauth_err oe;
    struct gh_cli_cache_err ce;
    struct gh_cli_cache *c = NULL;
    struct gh_cli_tls tls;
    struct gh_ctl_args a;
    json_t *info = NULL, *me = NULL;
    char exp[32], *who = NULL;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_ctl_tls_once(ctl, v)) != 0)
        return r;
    if (ctl->server_arg == NULL || *ctl->server_arg == '\0')
        return gh_ctl_usage_error(v, "login needs --server URL (or "
                                     "GATEHOUSE_SERVER)");
    /* An unsafe cache is refused now, not after the person approved. */
    if ((r = gh_cli_cache_open(1, &c, &ce)) != 0)
        return gh_cli_cache_fail(r, &ce);
    gh_cli_cache_close(c);
    c = NULL;
    if ((r = gh_ctl_connect(ctl, ctl->server_arg)) != 0)
        return r;
    r = gh_ctl_api(ctl, "GET", "/api/v1/auth/cli", NULL, &info, NULL,
                   "this gateway does not offer CLI sign-in (no "
                   "/api/v1/auth/cli): use --token-file FILE");
    if (r != 0)
        goto out;
    gh_cli_idp_tls(&tls);
    r = GH_CTL_EXIT_FAIL;
    if (gh_cli_signin_parse(info, &si, &oe) != 0 ||
        gh_cli_discover(si.issuer, &tls, &idp, &oe) != 0) {
        gh_ctl_err("%s", oe.text);
        goto out;
    }
    if (a.browser) {
        r = gh_ctl_login_browser(ctl->conn.server, &idp, &si, &tls, &t, &oe);
    } else if ((r = gh_cli_device_start(&idp, &si, &tls, &dev, &oe)) == 0) {
        gh_ctl_login_prompt(ctl->conn.server, &dev);
        r = gh_cli_device_wait(&idp, &si, &tls, &dev, &t, &oe);
    }
    if (r != 0) {
        r = gh_ctl_login_failed(r, &oe);
        goto out;
    }
    /* Keep how the gateway was trusted for later commands (a relative
     * CA path would change meaning with the working directory). */
    if (ctl->conn.pin != NULL)
        t.pin = gh_strdup(ctl->conn.pin);
    else if (ctl->conn.ca_file != NULL &&
             (t.ca_file = realpath(ctl->conn.ca_file, NULL)) == NULL) {
        gh_ctl_err("cannot resolve --ca-file %s", ctl->conn.ca_file);
        r = GH_CTL_EXIT_USAGE;
        goto out;
    }
    /* Prove the token works here before keeping it: a token for another
     * audience would only fail later, on every command. */
    ctl->conn.token = gh_strdup(t.access_token);
    if (gh_ctl_api(ctl, "GET", "/api/v1/me", NULL, &me, NULL, NULL) != 0) {
        gh_ctl_err("the gateway refused the new access token; its "
                   "oidc.audience and oidc.cli_resource must match what "
                   "the identity provider issues to %s",
                   si.client_id);
        r = GH_CTL_EXIT_FAIL;
        goto out;
    }
    if ((r = gh_cli_cache_open(1, &c, &ce)) != 0) {
        r = gh_cli_cache_fail(r, &ce);
        goto out;
    }
    if ((r = gh_cli_cache_put(c, ctl->conn.server, &t)) != 0) {
        if (r == GH_E_TOOBIG)
            gh_ctl_err("the token cache already holds %d servers: log out "
                       "of one first",
                       GH_CLI_CACHE_SERVERS_MAX);
        else
            gh_ctl_err("the server URL cannot be a key of the token cache "
                       "(not UTF-8)");
        r = GH_CTL_EXIT_FAIL;
        goto out;
    }
    if ((r = gh_cli_cache_save(c, &ce)) != 0) {
        r = gh_cli_cache_fail(r, &ce);
        goto out;
    }
    if (ctl->json) {
        json_object_set_new(me, "server", json_string(ctl->conn.server));
        gh_ctl_print_json(me);
    } else {
        who = gh_ctl_who(me);
        gh_ctl_fmt_time(t.expires_at, exp);
        printf("Logged in to %s as %s.\nThe access token expires at %s%s.\n",
               ctl->conn.server, who, exp,
               t.refresh_token ? " and is refreshed as needed" : "");
    }
    r = 0;
out:
    gh_cli_cache_close(c);
    gh_cli_tokens_cleanup(&t);
    gh_cli_device_cleanup(&dev);
    gh_cli_idp_cleanup(&idp);
    gh_cli_signin_cleanup(&si);
    json_decref(info);
    json_decref(me);
    free(who);
    return r;
}

/* ---- logout ---- */

int
gh_ctl_logout(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
              char **argv)
{
    static const struct option o[] = {
        {"server", required_argument, NULL, GH_OPT_SERVER}, {NULL, 0, NULL, 0}};
    struct gh_cli_cache *c = NULL;
    struct gh_cli_cache_err ce;
    struct gh_cli_oauth_err oe;
    struct gh_cli_tokens t = {0};
    struct gh_cli_tls tls;
    struct gh_ctl_args a;
    char *server = NULL;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_cli_cache_open(0, &c, &ce)) != 0)
        return gh_cli_cache_fail(r, &ce);
    if ((r = gh_cli_pick_server(ctl->server_arg, c, &server)) != 0)
        goto out;
    /* A damaged entry is removed all the same; it just cannot be
     * revoked. */
    (void)gh_cli_cache_get(c, server, &t);
    if (gh_cli_cache_remove(c, server) != 0) {
        gh_ctl_err("not logged in to %s (nothing to do)", server);
        r = 0;
        goto out;
    }
    /* Forget first: a revocation that fails must not keep the tokens. */
    if ((r = gh_cli_cache_save(c, &ce)) != 0) {
        r = gh_cli_cache_fail(r, &ce);
        goto out;
    }
    gh_cli_cache_close(c);
    c = NULL;
    gh_cli_idp_tls(&tls);
    r = gh_cli_revoke(&t, &tls, &oe);
    if (r != 0 && r != GH_E_NOTFOUND)
        gh_ctl_err("warning: the identity provider did not revoke the "
                   "refresh token (%s); it stays valid until it expires",
                   oe.text);
    printf("Logged out of %s.\n", server);
    r = 0;
out:
    gh_cli_cache_close(c);
    gh_cli_tokens_cleanup(&t);
    free(server);
    return r;
}

/* ---- status ---- */

static const struct gh_ctl_col gh_ctl_status_kv[] = {
    {"server:", "server", GH_CTL_TEXT},
    {"user:", "user", GH_CTL_TEXT},
    {"name:", "name", GH_CTL_TEXT},
    {"roles:", "roles", GH_CTL_TEXT},
    {"token:", "source", GH_CTL_TEXT},
    {"expires:", "expires", GH_CTL_TIME},
    {"refresh:", "refreshable", GH_CTL_BOOL},
    {"issuer:", "issuer", GH_CTL_TEXT},
};

/* One server's status as JSON (never a token); 0 or an exit status. */
static int
gh_ctl_status_one(struct gh_ctl *ctl, int cached, json_t **out)
{
    struct gh_ctl_cache_info info = {0};
    json_t *me = NULL, *j;
    int r;

    *out = NULL;
    r = cached ? gh_ctl_token_from_cache(ctl, &info) : gh_ctl_ready(ctl);
    if (r != 0)
        goto out;
    j = json_pack("{s:s, s:s}", "server", ctl->conn.server, "source",
                  !cached            ? "given"
                  : info.refreshable ? "cached, refreshed as needed"
                                     : "cached");
    if (j == NULL)
        abort();
    if (cached) {
        json_object_set_new(j, "expires", json_integer(info.expires_at));
        json_object_set_new(j, "refreshable", json_boolean(info.refreshable));
        json_object_set_new(j, "issuer", json_string(info.issuer));
    }
    r = gh_ctl_api(ctl, "GET", "/api/v1/me", NULL, &me, NULL, NULL);
    if (r == 0) {
        json_object_set(j, "user", json_object_get(me, "user_id"));
        json_object_set(j, "name", json_object_get(me, "name"));
        json_object_set(j, "roles", json_object_get(me, "roles"));
        if (!cached)
            json_object_set(j, "expires", json_object_get(me, "expires"));
    }
    *out = j;
out:
    json_decref(me);
    gh_ctl_cache_info_cleanup(&info);
    return r;
}

int
gh_ctl_status(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
              char **argv)
{
    static const struct option o[] = {
        {"server", required_argument, NULL, GH_OPT_SERVER},
        {"ca-file", required_argument, NULL, GH_OPT_CA_FILE},
        {"insecure-pin", required_argument, NULL, GH_OPT_PIN},
        {"insecure", no_argument, NULL, GH_OPT_INSECURE},
        {NULL, 0, NULL, 0}};
    const char *env = getenv("GATEHOUSE_TOKEN");
    int cached = ctl->token_file == NULL && (env == NULL || *env == '\0');
    struct gh_cli_cache *c = NULL;
    struct gh_cli_cache_err ce;
    struct gh_ctl_args a;
    json_t *servers = json_array(), *all, *one;
    size_t i, n = 1;
    char **names = NULL;
    int r, worst = 0;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0 ||
        (r = gh_ctl_tls_once(ctl, v)) != 0) {
        json_decref(servers);
        return r < 0 ? 0 : r;
    }
    /* Without --server, every cached server (each refreshed as needed;
     * the cache is not held open meanwhile). */
    if (cached && (ctl->server_arg == NULL || *ctl->server_arg == '\0')) {
        if ((r = gh_cli_cache_open(0, &c, &ce)) != 0) {
            json_decref(servers);
            return gh_cli_cache_fail(r, &ce);
        }
        n = gh_cli_cache_count(c);
        names = gh_alloc(n + 1, sizeof(*names));
        for (i = 0; i < n; i++)
            names[i] = gh_strdup(gh_cli_cache_server(c, i));
        gh_cli_cache_close(c);
        if (n == 0) {
            gh_ctl_err("not logged in: run %s login --server URL",
                       gh_cli_agent());
            worst = GH_CTL_EXIT_AUTH;
        }
    }
    for (i = 0; i < n; i++) {
        if (names != NULL)
            ctl->server_arg = names[i];
        r = gh_ctl_status_one(ctl, cached, &one);
        if (r != 0 && worst == 0)
            worst = r;
        if (one != NULL)
            json_array_append_new(servers, one);
        if (one != NULL && !ctl->json) {
            if (i > 0)
                putchar('\n');
            gh_ctl_kv_print(stdout, gh_ctl_status_kv,
                            GH_NCOLS(gh_ctl_status_kv), one);
        }
        /* The next server gets a connection of its own. */
        gh_ctl_conn_cleanup(&ctl->conn);
        ctl->token_cached = 0;
    }
    if (ctl->json) {
        all = json_pack("{s:o}", "servers", servers);
        gh_ctl_print_json(all);
        json_decref(all);
    } else {
        json_decref(servers);
    }
    if (names != NULL)
        ctl->server_arg = NULL;
    for (i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
    return worst;
}
