/*
 * auth-http.h - the sign-in endpoints and request authentication:
 *   GET  /auth/login[?return_to=/path]   start the code flow (PKCE)
 *   GET  /auth/callback                  finish it, create the session
 *   POST /auth/logout                    end the session
 *   GET  /api/v1/me                      who am I (cookie or bearer)
 *   GET  /api/v1/auth/cli                how CLIs sign in (no auth)
 * Event loop thread only.
 */
#ifndef GATEHOUSE_DAEMON_AUTH_HTTP_H
#define GATEHOUSE_DAEMON_AUTH_HTTP_H

#include "http.h"

/* Returned by gh_auth_http_route for paths it does not serve. */
#define GH_AUTH_NOT_MINE 1

/* Browser logins waiting for their callback: a login not finished within
 * this many seconds is forgotten. */
#define GH_LOGIN_TTL 600
/* Logins in progress at once; the oldest is dropped beyond this, so a
 * flood of /auth/login cannot grow memory. */
#define GH_LOGINS_MAX 10000
/* Longest return_to path kept. */
#define GH_RETURN_TO_MAX 512
/* Cookie names: __Host- makes browsers insist on Secure, Path=/ and no
 * Domain, so no sibling host can set or read them. */
#define GH_SESSION_COOKIE "__Host-gh_session"
#define GH_LOGIN_COOKIE   "__Host-gh_login"
/* Both cookies are SameSite=Lax: the IdP's redirect back is a top-level
 * GET, which carries Lax cookies. */
#define GH_LOGIN_SAMESITE "Lax"

struct gh_logins *gh_logins_new(void);
void gh_logins_free(struct gh_logins *l);

/* Serve method+uri if it is an auth route; GH_AUTH_NOT_MINE otherwise. */
int gh_auth_http_route(struct lws *wsi, struct gh_http_pss *pss,
                       const char *method, const char *uri);

/* Who made this request. */
struct gh_auth {
    struct gh_identity *id; /* owned by the caller after success */
    const char *via;        /* "session" or "bearer" */
    int64_t expires;        /* unix seconds */
};

/*
 * Authenticate the request by session cookie or bearer token. Returns 1
 * with *a filled (free a->id), or 0 with *ret the value the handler must
 * return: an error response, or a deferral that calls resume again once
 * the JWKS refresh an unknown kid asked for has ended.
 */
int gh_auth_identify(struct lws *wsi, struct gh_http_pss *pss,
                     gh_http_resume_fn resume, struct gh_auth *a, int *ret);

enum gh_auth_outcome {
    GH_AUTH_OK,         /* *a filled */
    GH_AUTH_REFUSED,    /* *code, *msg say why */
    GH_AUTH_WAIT,       /* an unknown kid: a JWKS refresh may help */
    GH_AUTH_UNAVAILABLE /* no IdP (code idp_unavailable) */
};

/* The check under gh_auth_identify, for callers that are not HTTP
 * responses (the WebSocket handshake): never defers unless may_wait.
 * *code and *msg are static text. */
enum gh_auth_outcome gh_auth_check(struct lws *wsi, bool may_wait,
                                   struct gh_auth *a, const char **code,
                                   const char **msg);

/* CSRF check for a state-changing call: bearer requests pass; cookie
 * requests need our Origin and a JSON content type. a may be NULL. */
bool gh_auth_csrf_ok(struct lws *wsi, const struct gh_auth *a);

/* Append an audit event as actor with the peer's address; detail
 * (stolen) may be NULL. */
void gh_auth_audit(struct lws *wsi, const char *actor, const char *action,
                   const char *outcome, json_t *detail);

/* The connection is closing: drop what it waits for. */
void gh_auth_http_closed(struct lws *wsi, struct gh_http_pss *pss);

#endif
