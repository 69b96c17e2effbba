/*
 * main.c - gatehoused: start-up, the run, and shutdown.
 *
 * Exit status: 0 after a clean stop (or -t/-T/--help/--version), 1 when
 * something failed at run time, 2 for a usage or configuration error.
 */
#include "config.h"
#include "gateway.h"
#include "notify.h"
#include "broker.h"
#include "server.h"
#include "tls.h"

#include "gatehouse/err.h"
#include "gatehouse/fsutil.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/fetch.h"
#include "gatehouse/oidc.h"
#include "gatehouse/store.h"
#include "auth-http.h"

#include <curl/curl.h>
#include <time.h>
#include "gatehouse/version.h"

#include <errno.h>
#include <libwebsockets.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GH_EXIT_RUNTIME 1
#define GH_EXIT_USAGE   2
/* Most -o overrides on one command line. */
#define GH_MAX_OVERRIDES 64

static void
gh_usage(FILE *f)
{
    fprintf(
        f,
        "usage: gatehoused [-c FILE] [-o section.key=value]... [-t | -T]\n"
        "\n"
        "Gatehouse gateway daemon: HTTPS/WSS front end, identity, policy\n"
        "and session broker. With no configuration file it runs on its\n"
        "embedded defaults: https://127.0.0.1:8443/, data in\n"
        "./gatehouse-data (database, self-signed certificate).\n"
        "\n"
        "  -c, --config FILE     read configuration from FILE (INI)\n"
        "  -o, --option K=V      override one key, e.g. -o server.port=9443\n"
        "  -t, --test            check the configuration and exit\n"
        "  -T, --dump            print the effective configuration "
        "(secrets\n"
        "                        masked) and exit\n"
        "  -h, --help            this text\n"
        "  -V, --version         print the version\n"
        "\n"
        "Signals: SIGTERM/SIGINT stop within 2 s; SIGHUP reloads the\n"
        "reloadable keys. Exit status: 0 ok, 1 run-time failure, 2 usage\n"
        "or configuration error.\n");
}

void
gh_gateway_derive(struct gh_gateway *gw)
{
    gh_log_set_level((enum gh_log_level)gw->cfg->log_level);
    snprintf(gw->hsts_value, sizeof(gw->hsts_value), "max-age=%ld",
             gw->cfg->hsts_max_age);
}

static void
gh_gateway_audit(struct gh_gateway *gw, const char *action, const char *outcome,
                 const char *detail)
{
    struct gh_audit_event ev = {0};

    ev.actor = "system";
    ev.action = action;
    ev.outcome = outcome;
    ev.detail = detail;
    if (gh_store_audit_add(gw->store, &ev) != 0)
        gh_error("daemon", "msg=\"cannot write audit event\" action=%s",
                 action);
}

void
gh_gateway_reload(struct gh_gateway *gw)
{
    struct gh_config *fresh = NULL;
    struct gh_config_err err;
    int n;

    if (gh_config_load(gw->config_file, gw->overrides, gw->noverrides, &fresh,
                       &err) != 0) {
        gh_error("config",
                 "msg=\"reload failed; keeping the running configuration\" "
                 "err=%s",
                 gh_q(err.text));
        gw->metrics.reload_failures_total++;
        gh_gateway_audit(gw, "config.reload", "error", NULL);
        return;
    }
    n = gh_config_apply_reload(gw->cfg, fresh);
    gh_config_free(fresh);
    gh_gateway_derive(gw);
    gh_broker_reloaded(gw->broker);
    gw->metrics.reloads_total++;
    gh_info("config", "msg=\"reloaded\" changed=%d", n);
    gh_gateway_audit(gw, "config.reload", "ok", NULL);
}

/* Data directory, store, TLS files and web root; logs what failed. */
static int
gh_gateway_open(struct gh_gateway *gw)
{
    struct gh_config *cfg = gw->cfg;
    char *db;
    int r, generated = 0;

    r = gh_dir_make_private(cfg->data_dir);
    if (r != 0) {
        gh_error("daemon",
                 "msg=\"cannot create data directory\" path=%s "
                 "err=%s",
                 gh_q(cfg->data_dir), gh_q(strerror(errno)));
        return r;
    }
    db = gh_asprintf("%s/gatehouse.db", cfg->data_dir);
    r = gh_store_open(db, (int)cfg->store_busy_timeout_ms, &gw->store);
    free(db);
    if (r != 0)
        return r;
    if (*cfg->tls_cert_file != '\0') {
        gw->cert_file = gh_strdup(cfg->tls_cert_file);
        gw->key_file = gh_strdup(cfg->tls_key_file);
    } else {
        r = gh_tls_ensure_selfsigned(cfg->data_dir, cfg->listen_address,
                                     &gw->cert_file, &gw->key_file, &generated);
        if (r != 0)
            return r;
        if (generated)
            gh_info("tls",
                    "msg=\"generated a self-signed certificate\" "
                    "path=%s",
                    gh_q(gw->cert_file));
    }
    gw->web_root_real = realpath(cfg->web_root, NULL);
    if (gw->web_root_real == NULL) {
        gh_error("daemon", "msg=\"web root unusable\" path=%s err=%s",
                 gh_q(cfg->web_root), gh_q(strerror(errno)));
        return GH_E_IO;
    }
    return 0;
}

void
gh_gateway_tick(struct gh_gateway *gw)
{
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    int n;

    if (gw->oidc != NULL)
        gh_oidc_tick(gw->oidc, now_ms / 1000);
    if (gw->broker != NULL)
        gh_broker_tick(gw->broker);
    /* Pending requests nobody decided in time expire (one indexed UPDATE
     * a second; nothing to do is the common case). */
    n = gh_store_requests_expire(
        gw->store, now_ms - gw->cfg->jit_pending_ttl * 1000, now_ms);
    if (n > 0) {
        char detail[64];

        snprintf(detail, sizeof(detail), "{\"expired\":%d}", n);
        gh_gateway_audit(gw, "jit.expire", "ok", detail);
        gh_info("jit", "msg=\"pending requests expired\" count=%d", n);
    }
}

/* Sign-in: the fetch thread and the relying party (after the loop exists,
 * since the fetch thread wakes it). */
static int
gh_gateway_open_auth(struct gh_gateway *gw)
{
    struct gh_config *c = gw->cfg;
    struct gh_oidc_config oc;
    char *redirect;

    gw->fetch = gh_fetch_new(gh_server_wake, gw->lws);
    if (gw->fetch == NULL) {
        gh_error("daemon", "msg=\"cannot start the fetch thread\"");
        return GH_E_INTERNAL;
    }
    gw->logins = gh_logins_new();
    redirect = gh_asprintf("%sauth/callback", gw->url);
    memset(&oc, 0, sizeof(oc));
    oc.issuer = c->oidc_issuer;
    oc.client_id = c->oidc_client_id;
    oc.client_secret = c->oidc_client_secret;
    oc.audience = c->oidc_audience;
    oc.redirect_uri = redirect;
    oc.scopes = c->oidc_scopes;
    oc.user_claim = c->oidc_user_claim;
    oc.groups_claim = c->oidc_groups_claim;
    oc.skew = c->oidc_clock_skew;
    oc.jwks_refresh = c->oidc_jwks_refresh;
    oc.jwks_min_interval = c->oidc_jwks_min_interval;
    oc.role_groups[GH_ROLE_USER] = c->roles_user;
    oc.role_groups[GH_ROLE_APPROVER] = c->roles_approver;
    oc.role_groups[GH_ROLE_AUDITOR] = c->roles_auditor;
    oc.role_groups[GH_ROLE_ADMIN] = c->roles_admin;
    gw->oidc = gh_oidc_new(&oc, gw->fetch);
    free(redirect);
    if (*c->oidc_issuer == '\0')
        gh_warn("auth", "msg=\"no identity provider configured "
                        "(oidc.issuer): nobody can sign in\"");
    return 0;
}

static void
gh_gateway_announce(struct gh_gateway *gw)
{
    char fp[96], spki[48];

    int port = lws_get_vhost_listen_port(gw->vhost);

    if (gh_tls_fingerprints(gw->cert_file, fp, spki) != 0) {
        strcpy(fp, "?");
        strcpy(spki, "?");
    }
    gh_info("daemon",
            "msg=\"Gatehouse is ready\" url=%s port=%d version=%s "
            "cert_sha256=%s spki_sha256=%s data_dir=%s schema=%d",
            gw->url, port, GH_VERSION, fp, spki, gh_q(gw->cfg->data_dir),
            gh_store_schema_version(gw->store));
}

static void
gh_gateway_close(struct gh_gateway *gw)
{
    /* The fetch thread wakes the loop: stop it before the loop goes. */
    gh_fetch_free(gw->fetch);
    gw->fetch = NULL;
    gh_broker_shutdown(gw->broker);
    gh_server_stop(gw);
    gh_broker_free(gw->broker);
    gw->broker = NULL;
    gh_oidc_free(gw->oidc);
    gh_logins_free(gw->logins);
    gh_store_close(gw->store);
    gh_config_free(gw->cfg);
    free(gw->cert_file);
    free(gw->key_file);
    free(gw->url);
    free(gw->web_root_real);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"option", required_argument, NULL, 'o'},
        {"test", no_argument, NULL, 't'},
        {"dump", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *overrides[GH_MAX_OVERRIDES];
    struct gh_gateway gw;
    struct gh_config_err err;
    size_t noverrides = 0;
    const char *file = NULL;
    int c, test = 0, dump = 0, rc = GH_EXIT_RUNTIME;

    memset(&gw, 0, sizeof(gw));
    umask(077);
    opterr = 0; /* one line of our own instead of getopt's */
    while ((c = getopt_long(argc, argv, ":c:o:tThV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'o':
            if (noverrides == GH_MAX_OVERRIDES) {
                fprintf(stderr, "gatehoused: more than %d -o options\n",
                        GH_MAX_OVERRIDES);
                return GH_EXIT_USAGE;
            }
            overrides[noverrides++] = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'T':
            dump = 1;
            break;
        case 'h':
            gh_usage(stdout);
            return 0;
        case 'V':
            printf("gatehoused %s\n", GH_VERSION);
            return 0;
        case ':':
            fprintf(stderr,
                    "gatehoused: option %s needs an argument "
                    "(try --help)\n",
                    argv[optind - 1]);
            return GH_EXIT_USAGE;
        default:
            fprintf(stderr, "gatehoused: unknown option %s (try --help)\n",
                    argv[optind - 1]);
            return GH_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "gatehoused: unexpected argument %s (try --help)\n",
                argv[optind]);
        return GH_EXIT_USAGE;
    }
    if (gh_config_load(file, overrides, noverrides, &gw.cfg, &err) != 0) {
        fprintf(stderr, "gatehoused: %s\n", err.text);
        return GH_EXIT_USAGE;
    }
    if (test || dump) {
        if (dump)
            gh_config_dump(gw.cfg, stdout);
        else
            fprintf(stderr, "gatehoused: configuration %s is valid\n",
                    file ? file : "(embedded defaults)");
        gh_config_free(gw.cfg);
        return 0;
    }
    gw.config_file = file;
    gw.overrides = overrides;
    gw.noverrides = noverrides;
    gh_metrics_init(&gw.metrics);
    gh_gateway_derive(&gw);

    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread */
    if (gh_server_block_signals() != 0 || gh_gateway_open(&gw) != 0 ||
        gh_server_start(&gw) != 0)
        goto out;
    gw.url = gh_config_url(gw.cfg, lws_get_vhost_listen_port(gw.vhost));
    if (gh_gateway_open_auth(&gw) != 0)
        goto out;
    gw.broker = gh_broker_new(&gw);
    gh_broker_recover(gw.broker);
    gh_gateway_audit(&gw, "gateway.start", "ok", NULL);
    gh_gateway_announce(&gw);
    gh_notify("READY=1");
    gh_server_run(&gw);
    gh_gateway_audit(&gw, "gateway.stop", "ok", NULL);
    rc = 0;
out:
    gh_gateway_close(&gw);
    if (rc == 0)
        gh_info("daemon", "msg=stopped");
    else
        gh_error("daemon", "msg=\"cannot start; see the lines above\"");
    curl_global_cleanup();
    return rc;
}
