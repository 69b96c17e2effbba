/*
 * oidc-device.h - how the Gatehouse CLIs get and keep an access token:
 * the gateway's sign-in facts (GET /api/v1/auth/cli), the IdP's discovery
 * document, the OAuth 2.0 Device Authorization Grant (RFC 8628), or the
 * authorization code grant with PKCE (RFC 7636) for a native app on a
 * loopback redirect (RFC 8252; the redirect itself is oidc-loopback.h),
 * refresh (RFC 6749 section 6) and revocation of the refresh token
 * (RFC 7009).
 *
 * The CLI client is public (no secret): what protects the tokens is TLS
 * to the IdP (https, or http to loopback only), the person approving the
 * user code in their browser, and the 0600 token cache.
 *
 * Part of the gh_cli library. Single-threaded; the calls block (each
 * request at most GH_CLI_TOTAL_S; the device wait until the code
 * expires). Codes and tokens are wiped when freed and never printed.
 */
#ifndef GATEHOUSE_CLI_OIDC_DEVICE_H
#define GATEHOUSE_CLI_OIDC_DEVICE_H

#include "cli-http.h"
#include "tokencache.h"

#include <jansson.h>

/* RFC 8628 section 3.5: poll every 5 s when the IdP names no interval. */
#define GH_CLI_POLL_DEFAULT_S 5
/* slow_down adds 5 s to the interval, for good (RFC 8628 section 3.5). */
#define GH_CLI_POLL_SLOWDOWN_S 5
/* An interval beyond 5 min is a broken IdP: nobody waits that long. */
#define GH_CLI_POLL_MAX_S 300
/* Network trouble while polling backs off by doubling, up to a minute. */
#define GH_CLI_POLL_BACKOFF_MAX_S 60
/* Waiting for approval ends after 30 min whatever the IdP says: the
 * person who started it has long gone. */
#define GH_CLI_DEVICE_WAIT_MAX_S 1800
/* A user code is typed by a person: anything longer is not one. */
#define GH_CLI_USER_CODE_MAX 64
/* An access token whose lifetime the IdP does not state (no expires_in,
 * not a JWT with exp) is treated as living 5 min, then refreshed. */
#define GH_CLI_TTL_UNKNOWN_S 300
/* A stated lifetime beyond a year is a mistake; it is cut to this. */
#define GH_CLI_TTL_MAX_S (366L * 24 * 3600)
/* Refresh when the access token expires within this many seconds, so it
 * does not run out between the check and the gateway's. */
#define GH_CLI_REFRESH_MARGIN_S 60

/* Why a call failed. */
struct gh_cli_oauth_err {
    /* The OAuth error code the IdP answered (access_denied,
     * expired_token, invalid_grant, ...), or "" when the failure was
     * local or on the network. expired_token is also set when the
     * device code ran out without an answer. */
    char error[64];
    char text[512]; /* for the person, control characters replaced */
};

/* err->text = the message, with control and non-ASCII bytes replaced
 * (parts of it come from servers); err->error is left alone. */
void gh_cli_oerr(struct gh_cli_oauth_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* What the gateway says about signing in (GET /api/v1/auth/cli). */
struct gh_cli_signin {
    char *issuer;
    char *client_id;
    char *audience;
    char *scopes;
    char *resource; /* optional */
};

/* Check the gateway's answer j and copy it into *out. Returns 0 or
 * GH_E_INVAL with err. */
int gh_cli_signin_parse(json_t *j, struct gh_cli_signin *out,
                        struct gh_cli_oauth_err *err);
void gh_cli_signin_cleanup(struct gh_cli_signin *s);

/* The parts of the IdP's discovery document the CLIs use. */
struct gh_cli_idp {
    char *issuer;
    char *device_endpoint;        /* NULL: no device grant offered */
    char *authorization_endpoint; /* NULL: no browser sign-in */
    char *token_endpoint;
    char *revocation_endpoint; /* optional */
    int offline_access;        /* scopes_supported lists offline_access */
};

/*
 * Fetch ISSUER/.well-known/openid-configuration over tls and check it:
 * its issuer must equal issuer exactly; it must offer the device grant or
 * an authorization endpoint (each flow checks for its own when it
 * starts), and every endpoint must pass gh_cli_url_check. Returns 0, GH_E_IO
 * (network), or GH_E_INVAL (a document that fails a check), with err.
 */
int gh_cli_discover(const char *issuer, const struct gh_cli_tls *tls,
                    struct gh_cli_idp *out, struct gh_cli_oauth_err *err);
void gh_cli_idp_cleanup(struct gh_cli_idp *i);

/* A started device authorization. */
struct gh_cli_device {
    char *device_code; /* secret */
    char *user_code;
    char *verification_uri;
    char *verification_uri_complete; /* optional */
    long long expires_at;            /* unix seconds */
    long interval;                   /* seconds between polls */
};

/*
 * POST the device authorization request: client_id, the gateway's scopes
 * (plus offline_access when the IdP lists it), and resource when the
 * gateway names one. Every field of the answer that is shown to the
 * person is checked to be printable. Returns 0, GH_E_IO, GH_E_PERM (the
 * IdP refused: err->error) or GH_E_INVAL.
 */
int gh_cli_device_start(const struct gh_cli_idp *idp,
                        const struct gh_cli_signin *s,
                        const struct gh_cli_tls *tls, struct gh_cli_device *out,
                        struct gh_cli_oauth_err *err);
void gh_cli_device_cleanup(struct gh_cli_device *d);

/*
 * Poll the token endpoint until the person approves, honouring interval,
 * authorization_pending and slow_down; network failures back off. On
 * approval *out holds the token set (with the issuer, endpoints, client
 * id and resource to refresh it later). Returns 0; GH_E_PERM when the
 * IdP said no or the code expired (err->error: access_denied,
 * expired_token, ...); GH_E_IO when the network failed until the code
 * ran out; GH_E_INVAL for an answer that breaks the protocol.
 */
int gh_cli_device_wait(const struct gh_cli_idp *idp,
                       const struct gh_cli_signin *s,
                       const struct gh_cli_tls *tls, struct gh_cli_device *d,
                       struct gh_cli_tokens *out, struct gh_cli_oauth_err *err);

/* An authorization code request (RFC 6749 section 4.1) with PKCE S256. */
struct gh_cli_authz {
    char *url;           /* for the browser */
    char *redirect_uri;  /* http://127.0.0.1:PORT/callback */
    char *state;         /* the redirect must bring it back */
    char *code_verifier; /* secret until the code is exchanged */
};

/*
 * Build the request: client_id, the gateway's scopes (plus
 * offline_access when offered), resource when named, a fresh state and
 * PKCE verifier (32 random bytes each). Returns 0, or GH_E_INVAL when the
 * IdP has no authorization endpoint.
 */
int gh_cli_authz_start(const struct gh_cli_idp *idp,
                       const struct gh_cli_signin *s, const char *redirect_uri,
                       struct gh_cli_authz *out, struct gh_cli_oauth_err *err);

/*
 * Trade code for a token set at the token endpoint (with the verifier and
 * the same redirect_uri). *out is filled as gh_cli_device_wait fills it.
 * Returns 0, GH_E_PERM (refused: err->error), GH_E_IO or GH_E_INVAL.
 */
int gh_cli_authz_exchange(const struct gh_cli_idp *idp,
                          const struct gh_cli_signin *s,
                          const struct gh_cli_tls *tls,
                          const struct gh_cli_authz *a, const char *code,
                          struct gh_cli_tokens *out,
                          struct gh_cli_oauth_err *err);
void gh_cli_authz_cleanup(struct gh_cli_authz *a);

/*
 * Trade old's refresh token for a new token set at old's token endpoint.
 * *out is old's metadata with the new tokens (the old refresh token is
 * kept when the IdP sends no new one). Returns 0, GH_E_PERM (refused:
 * err->error, typically invalid_grant), GH_E_IO or GH_E_INVAL.
 */
int gh_cli_refresh(const struct gh_cli_tokens *old,
                   const struct gh_cli_tls *tls, struct gh_cli_tokens *out,
                   struct gh_cli_oauth_err *err);

/*
 * Revoke t's refresh token at its revocation endpoint (RFC 7009). JWT
 * access tokens cannot be revoked; they run out. Returns 0,
 * GH_E_NOTFOUND when there is no refresh token or no endpoint, GH_E_IO,
 * or GH_E_PERM when the IdP refused.
 */
int gh_cli_revoke(const struct gh_cli_tokens *t, const struct gh_cli_tls *tls,
                  struct gh_cli_oauth_err *err);

#endif
