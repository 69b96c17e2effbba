/*
 * oidc.h - the gateway's relying party: discovery, the JWKS cache, bearer
 * access tokens from the CLIs, and the browser's authorization code flow
 * with PKCE. Identities and roles come from the verified claims.
 *
 * Network calls go through gh_fetch (off the loop). Closed by default:
 * until discovery and the JWKS have loaded, every check answers
 * GH_OIDC_UNAVAILABLE with a reason, and nothing is let in.
 *
 * Loop thread only.
 */
#ifndef GATEHOUSE_OIDC_H
#define GATEHOUSE_OIDC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gatehouse/fetch.h"
#include "gatehouse/jwt.h"

/* Retry a failed discovery or JWKS fetch after this many seconds. */
#define GH_OIDC_RETRY_INTERVAL 5
/* Groups kept from a token; more is refused as malformed. */
#define GH_OIDC_GROUPS_MAX 256
/* Waiters for one JWKS refresh (requests holding on an unknown kid). */
#define GH_OIDC_WAITERS_MAX 1024

enum gh_role {
    GH_ROLE_USER = 0,
    GH_ROLE_APPROVER,
    GH_ROLE_AUDITOR,
    GH_ROLE_ADMIN,
    GH_ROLE_COUNT
};

/* Name of a role ("user", "approver", "auditor", "admin"). */
const char *gh_role_name(enum gh_role r);

struct gh_oidc_config {
    const char *issuer;        /* exact iss; discovery lives under it */
    const char *client_id;     /* the browser client */
    const char *client_secret; /* borrowed; never logged */
    const char *audience;      /* aud of bearer access tokens */
    const char *redirect_uri;  /* PUBLIC_URL/auth/callback */
    const char *scopes;        /* space-separated */
    const char *user_claim;    /* claim holding the user id */
    const char *groups_claim;  /* claim holding the group list */
    int64_t skew;              /* seconds */
    int64_t jwks_refresh;      /* seconds between routine refreshes */
    int64_t jwks_min_interval; /* unknown kid: refresh at most this often */
    /* Comma-separated groups that grant each role. */
    const char *role_groups[GH_ROLE_COUNT];
};

struct gh_identity {
    char *user_id; /* from user_claim */
    char *iss, *sub, *name, *email;
    char **groups;
    size_t ngroups;
    unsigned roles;  /* bit (1u << enum gh_role) */
    int64_t expires; /* token exp, unix seconds */
};

void gh_identity_free(struct gh_identity *id);
/* Is group g named in list ("a, b,c"; exact names)? 1 or 0. */
int gh_group_in_list(const char *list, const char *g);
/* Is any of id's groups named in list? 1 or 0. */
int gh_identity_in_groups(const struct gh_identity *id, const char *list);
/* Does id hold role r? */
#define gh_identity_has_role(id, r) (((id)->roles & (1u << (r))) != 0)
/* {"user_id","name","email","groups":[...],"roles":[...]} (new ref). */
json_t *gh_identity_json(const struct gh_identity *id);
/* The identity as stored with a browser session, and back. */
char *gh_identity_dump(const struct gh_identity *id);
struct gh_identity *gh_identity_load(const char *json);

enum gh_oidc_state {
    GH_OIDC_OFF = 0,  /* no issuer configured */
    GH_OIDC_STARTING, /* discovery or JWKS not loaded yet */
    GH_OIDC_READY,
    GH_OIDC_FAILING /* last attempt failed; retrying */
};

struct gh_oidc;

/* The config's strings are copied. fetch is borrowed. */
struct gh_oidc *gh_oidc_new(const struct gh_oidc_config *cfg,
                            struct gh_fetch *fetch);
void gh_oidc_free(struct gh_oidc *o);

/* Drive discovery retries and routine JWKS refreshes; call every second
 * or so with the current time. */
void gh_oidc_tick(struct gh_oidc *o, int64_t now);

enum gh_oidc_state gh_oidc_state(const struct gh_oidc *o);
/* NULL when ready, else why sign-in cannot work right now. */
const char *gh_oidc_unavailable(const struct gh_oidc *o);
/* Stricter, for starting a browser login: also not when the last fetch
 * from the IdP failed (cached keys still verify tokens meanwhile). */
const char *gh_oidc_login_unavailable(const struct gh_oidc *o);

enum gh_oidc_verdict {
    GH_OIDC_ACCEPT = 0,
    GH_OIDC_REFUSE,     /* *why says which rule */
    GH_OIDC_WAIT,       /* unknown kid: a JWKS refresh is under way */
    GH_OIDC_UNAVAILABLE /* not configured or not ready: 401/503 */
};

/*
 * Check a bearer access token (typ at+jwt, aud = audience). On ACCEPT
 * *id is a new identity. On WAIT the caller registers with
 * gh_oidc_when_jwks and checks again once (a second unknown kid is
 * refused). info, when not NULL, says what the token claimed.
 */
enum gh_oidc_verdict
gh_oidc_check_bearer(struct gh_oidc *o, const char *token, size_t len,
                     int64_t now, int allow_wait, struct gh_identity **id,
                     enum gh_jwt_reason *why, struct gh_jwt_info *info);

/* Call fn(ctx) once the JWKS refresh under way ends (ok or not). */
int gh_oidc_when_jwks(struct gh_oidc *o, void (*fn)(void *ctx), void *ctx);
/* Forget every waiter with this ctx (its request went away). */
void gh_oidc_forget(struct gh_oidc *o, void *ctx);

/* The authorization URL for a login (caller frees *url). */
int gh_oidc_auth_url(struct gh_oidc *o, const char *state, const char *nonce,
                     const char *code_challenge, char **url);

/* Result of exchanging an authorization code. */
struct gh_oidc_login {
    struct gh_identity *id; /* taken by the callback if it keeps it */
    const char *error;      /* NULL on success */
    enum gh_jwt_reason why; /* when the ID token was refused */
    struct gh_jwt_info info;
};

/* Exchange code (with PKCE verifier) at the token endpoint and verify the
 * ID token against nonce; fn runs on the loop later. *req_id (may be
 * NULL) lets the caller cancel via gh_oidc_cancel. */
int gh_oidc_exchange(struct gh_oidc *o, const char *code, const char *verifier,
                     const char *nonce,
                     void (*fn)(void *ctx, struct gh_oidc_login *res),
                     void *ctx, uint64_t *req_id);
void gh_oidc_cancel(struct gh_oidc *o, uint64_t req_id);

/* The IdP's end_session_endpoint, or NULL. */
const char *gh_oidc_end_session(const struct gh_oidc *o);
const char *gh_oidc_client_id(const struct gh_oidc *o);

#endif
