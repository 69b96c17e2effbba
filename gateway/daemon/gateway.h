/*
 * gateway.h - the state of one running gatehoused, owned by main() and
 * borrowed by every daemon module for the process lifetime. Event loop
 * thread only.
 */
#ifndef GATEHOUSE_DAEMON_GATEWAY_H
#define GATEHOUSE_DAEMON_GATEWAY_H

#include "config.h"
#include "metrics.h"

#include <stdbool.h>

struct lws_context;
struct lws_vhost;
struct gh_store;
struct gh_fetch;
struct gh_oidc;
struct gh_logins;
struct gh_broker;

/* Length of the Strict-Transport-Security value buffer. */
#define GH_HSTS_VALUE_MAX 64

struct gh_gateway {
    struct gh_config *cfg;        /* running configuration (owned) */
    const char *config_file;      /* -c argument or NULL (borrowed) */
    const char *const *overrides; /* -o arguments (borrowed) */
    size_t noverrides;
    struct gh_store *store;     /* owned */
    char *cert_file, *key_file; /* in use (owned) */
    char *url;                  /* printed at start (owned) */
    char *web_root_real;        /* realpath of cfg->web_root (owned) */
    struct lws_context *lws;
    struct lws_vhost *vhost;
    struct gh_fetch *fetch;   /* IdP requests off the loop (owned) */
    struct gh_oidc *oidc;     /* sign-in (owned) */
    struct gh_logins *logins; /* browser logins in progress (owned) */
    struct gh_broker *broker; /* live remote sessions (owned) */
    struct gh_metrics metrics;
    char hsts_value[GH_HSTS_VALUE_MAX]; /* rebuilt on reload */
    volatile bool stopping;
    bool stopping_logged;
};

/* Re-read the configuration file and apply reloadable keys (SIGHUP). */
void gh_gateway_reload(struct gh_gateway *gw);

/* Once a second on the loop: IdP discovery retries, JWKS refreshes. */
void gh_gateway_tick(struct gh_gateway *gw);

/* Recompute values derived from reloadable keys (HSTS header, log level). */
void gh_gateway_derive(struct gh_gateway *gw);

#endif
