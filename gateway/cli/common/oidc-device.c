/* oidc-device.c - discovery, the device grant, refresh and revocation. */
#include "oidc-device.h"

#include "gatehouse/b64.h"
#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GH_CLI_DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
/* How much of an IdP's error_description is shown. */
#define GH_CLI_ERR_DESC_MAX 200
/* Longest scope list taken from the gateway. */
#define GH_CLI_SCOPES_MAX 1024

void
gh_cli_oerr(struct gh_cli_oauth_err *err, const char *fmt, ...)
{
    va_list ap;
    size_t i;

    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    /* Parts of the text come from servers: never let them drive the
     * terminal. */
    for (i = 0; err->text[i] != '\0'; i++)
        if ((unsigned char)err->text[i] < 0x20 ||
            (unsigned char)err->text[i] >= 0x7f)
            err->text[i] = '?';
}

static void
gh_cli_err_clear(struct gh_cli_oauth_err *err)
{
    err->error[0] = '\0';
    err->text[0] = '\0';
}

static long long
gh_cli_now(void)
{
    return (long long)time(NULL);
}

static void
gh_cli_sleep_s(long s)
{
    struct timespec ts = {s, 0};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The IdP answered an OAuth error ({"error": ..., "error_description"}):
 * copy it into err and return GH_E_PERM; otherwise GH_E_INVAL with a
 * message naming what. */
static int
gh_cli_oauth_error(const struct gh_cli_resp *resp, const char *what,
                   struct gh_cli_oauth_err *err)
{
    const char *code =
        gh_cli_json_str(resp->json, "error", sizeof(err->error) - 1);
    const char *desc =
        json_string_value(json_object_get(resp->json, "error_description"));

    if (code == NULL) {
        gh_cli_oerr(err, "%s: HTTP %ld without an OAuth error", what,
                    resp->status);
        return GH_E_INVAL;
    }
    snprintf(err->error, sizeof(err->error), "%s", code);
    if (desc != NULL)
        gh_cli_oerr(err, "%s: %s (%.*s)", what, code, GH_CLI_ERR_DESC_MAX,
                    desc);
    else
        gh_cli_oerr(err, "%s: %s", what, code);
    return GH_E_PERM;
}

/* ---- the gateway's sign-in facts ---- */

void
gh_cli_signin_cleanup(struct gh_cli_signin *s)
{
    free(s->issuer);
    free(s->client_id);
    free(s->audience);
    free(s->scopes);
    free(s->resource);
    memset(s, 0, sizeof(*s));
}

/* Scopes: space-separated printable words. */
static int
gh_cli_scopes_ok(const char *s)
{
    size_t i;

    if (s == NULL || *s == '\0' || strlen(s) > GH_CLI_SCOPES_MAX)
        return 0;
    for (i = 0; s[i] != '\0'; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

int
gh_cli_signin_parse(json_t *j, struct gh_cli_signin *out,
                    struct gh_cli_oauth_err *err)
{
    const char *iss = gh_cli_json_str(j, "issuer", GH_CLI_URL_MAX);
    const char *cid = gh_cli_json_str(j, "client_id", GH_CLI_URL_MAX);
    const char *aud = gh_cli_json_str(j, "audience", GH_CLI_URL_MAX);
    const char *sc = json_string_value(json_object_get(j, "scopes"));
    json_t *res = json_object_get(j, "resource");
    const char *why;

    memset(out, 0, sizeof(*out));
    gh_cli_err_clear(err);
    if (iss == NULL || cid == NULL || aud == NULL || !gh_cli_scopes_ok(sc) ||
        (res != NULL &&
         gh_cli_json_str(j, "resource", GH_CLI_URL_MAX) == NULL)) {
        gh_cli_oerr(err, "the gateway's sign-in answer lacks issuer, "
                         "client_id, audience or scopes, or one is not "
                         "plain text");
        return GH_E_INVAL;
    }
    if (gh_cli_url_check(iss, &why) != 0) {
        gh_cli_oerr(err, "the gateway names the issuer %s: %s", iss, why);
        return GH_E_INVAL;
    }
    out->issuer = gh_strdup(iss);
    out->client_id = gh_strdup(cid);
    out->audience = gh_strdup(aud);
    out->scopes = gh_strdup(sc);
    if (res != NULL)
        out->resource = gh_strdup(json_string_value(res));
    return 0;
}

/* ---- discovery ---- */

void
gh_cli_idp_cleanup(struct gh_cli_idp *i)
{
    free(i->issuer);
    free(i->device_endpoint);
    free(i->authorization_endpoint);
    free(i->token_endpoint);
    free(i->revocation_endpoint);
    memset(i, 0, sizeof(*i));
}

/* True when the JSON array a holds the string s. */
static int
gh_cli_array_has(json_t *a, const char *s)
{
    size_t i;

    for (i = 0; i < json_array_size(a); i++) {
        const char *v = json_string_value(json_array_get(a, i));

        if (v != NULL && strcmp(v, s) == 0)
            return 1;
    }
    return 0;
}

/* An endpoint from the document: present, plain text, an allowed URL. */
static int
gh_cli_endpoint(json_t *doc, const char *key, int required, char **out,
                struct gh_cli_oauth_err *err)
{
    const char *u = gh_cli_json_str(doc, key, GH_CLI_URL_MAX);
    const char *why;

    *out = NULL;
    if (u == NULL) {
        if (!required && json_object_get(doc, key) == NULL)
            return 0;
        gh_cli_oerr(err,
                    required && json_object_get(doc, key) == NULL
                        ? "the identity provider has no %s"
                        : "the identity provider's %s is not a URL",
                    key);
        return GH_E_INVAL;
    }
    if (gh_cli_url_check(u, &why) != 0) {
        gh_cli_oerr(err, "the identity provider's %s %s: %s", key, u, why);
        return GH_E_INVAL;
    }
    *out = gh_strdup(u);
    return 0;
}

int
gh_cli_discover(const char *issuer, const struct gh_cli_tls *tls,
                struct gh_cli_idp *out, struct gh_cli_oauth_err *err)
{
    struct gh_cli_resp resp;
    json_t *grants;
    const char *iss;
    char *url, *base = gh_strdup(issuer);
    size_t n = strlen(base);
    int r;

    memset(out, 0, sizeof(*out));
    gh_cli_err_clear(err);
    /* OpenID Connect Discovery 1.0 section 4: a trailing slash of the
     * issuer is dropped before the well-known path is added. */
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    url = gh_asprintf("%s/.well-known/openid-configuration", base);
    free(base);
    r = gh_cli_fetch(url, tls, NULL, &resp);
    if (r != 0) {
        gh_cli_oerr(err, "%s", resp.err);
        goto out;
    }
    r = GH_E_INVAL;
    if (resp.status != 200 || !json_is_object(resp.json)) {
        gh_cli_oerr(err, "%.300s: HTTP %ld, not a discovery document", url,
                    resp.status);
        goto out;
    }
    /* Section 4.3: the document must name the issuer it was fetched
     * for, exactly, or it may be another IdP's (mix-up). */
    iss = gh_cli_json_str(resp.json, "issuer", GH_CLI_URL_MAX);
    if (iss == NULL || strcmp(iss, issuer) != 0) {
        gh_cli_oerr(err,
                    "the discovery document at %.300s names another issuer "
                    "(%.300s)",
                    url, iss ? iss : "none");
        goto out;
    }
    if (gh_cli_endpoint(resp.json, "device_authorization_endpoint", 0,
                        &out->device_endpoint, err) != 0 ||
        gh_cli_endpoint(resp.json, "authorization_endpoint", 0,
                        &out->authorization_endpoint, err) != 0 ||
        gh_cli_endpoint(resp.json, "token_endpoint", 1, &out->token_endpoint,
                        err) != 0 ||
        gh_cli_endpoint(resp.json, "revocation_endpoint", 0,
                        &out->revocation_endpoint, err) != 0)
        goto out;
    /* A device endpoint for a grant the IdP says it does not offer is no
     * device grant. */
    grants = json_object_get(resp.json, "grant_types_supported");
    if (grants != NULL && !gh_cli_array_has(grants, GH_CLI_DEVICE_GRANT)) {
        free(out->device_endpoint);
        out->device_endpoint = NULL;
    }
    if (out->device_endpoint == NULL && out->authorization_endpoint == NULL) {
        gh_cli_oerr(err,
                    "the identity provider %s offers neither the device "
                    "authorization grant nor an authorization endpoint",
                    issuer);
        goto out;
    }
    out->issuer = gh_strdup(issuer);
    out->offline_access = gh_cli_array_has(
        json_object_get(resp.json, "scopes_supported"), "offline_access");
    r = 0;
out:
    if (r != 0)
        gh_cli_idp_cleanup(out);
    gh_cli_resp_cleanup(&resp);
    free(url);
    return r;
}

/* ---- the device grant ---- */

/* The scopes asked for: the gateway's, plus offline_access (a refresh
 * token that outlives the IdP's browser session) where it is offered. */
static char *
gh_cli_scope(const struct gh_cli_idp *idp, const struct gh_cli_signin *s)
{
    if (idp->offline_access && strstr(s->scopes, "offline_access") == NULL)
        return gh_asprintf("%s offline_access", s->scopes);
    return gh_strdup(s->scopes);
}

void
gh_cli_device_cleanup(struct gh_cli_device *d)
{
    gh_cli_strfree(d->device_code);
    free(d->user_code);
    free(d->verification_uri);
    free(d->verification_uri_complete);
    memset(d, 0, sizeof(*d));
}

/* A URL to show the person: printable, http(s). */
static const char *
gh_cli_show_url(json_t *o, const char *key)
{
    const char *u = gh_cli_json_str(o, key, GH_CLI_URL_MAX);

    if (u == NULL ||
        (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
        return NULL;
    return u;
}

int
gh_cli_device_start(const struct gh_cli_idp *idp, const struct gh_cli_signin *s,
                    const struct gh_cli_tls *tls, struct gh_cli_device *out,
                    struct gh_cli_oauth_err *err)
{
    struct gh_cli_resp resp;
    const char *dc, *uc, *vu, *vuc;
    json_t *exp, *iv;
    char *form = NULL, *scope;
    long long ttl;
    int r;

    memset(out, 0, sizeof(*out));
    gh_cli_err_clear(err);
    if (idp->device_endpoint == NULL) {
        gh_cli_oerr(err,
                    "the identity provider %s does not offer the device "
                    "authorization grant: sign in with login --browser",
                    idp->issuer);
        return GH_E_INVAL;
    }
    scope = gh_cli_scope(idp, s);
    gh_cli_form_add(&form, "client_id", s->client_id);
    gh_cli_form_add(&form, "scope", scope);
    if (s->resource != NULL)
        gh_cli_form_add(&form, "resource", s->resource);
    free(scope);
    r = gh_cli_fetch(idp->device_endpoint, tls, form, &resp);
    gh_cli_strfree(form);
    if (r != 0) {
        gh_cli_oerr(err, "%s", resp.err);
        goto out;
    }
    if (resp.status != 200) {
        r = gh_cli_oauth_error(&resp, "device authorization refused", err);
        goto out;
    }
    r = GH_E_INVAL;
    dc = gh_cli_json_str(resp.json, "device_code", GH_CLI_TOKEN_MAX);
    uc = gh_cli_json_str(resp.json, "user_code", GH_CLI_USER_CODE_MAX);
    vu = gh_cli_show_url(resp.json, "verification_uri");
    vuc = gh_cli_show_url(resp.json, "verification_uri_complete");
    exp = json_object_get(resp.json, "expires_in");
    iv = json_object_get(resp.json, "interval");
    if (dc == NULL || uc == NULL || vu == NULL || !json_is_integer(exp) ||
        json_integer_value(exp) <= 0 ||
        (json_object_get(resp.json, "verification_uri_complete") != NULL &&
         vuc == NULL) ||
        (iv != NULL && !json_is_integer(iv))) {
        gh_cli_oerr(err, "the identity provider's device authorization "
                         "answer is incomplete or not plain text");
        goto out;
    }
    ttl = json_integer_value(exp);
    if (ttl > GH_CLI_DEVICE_WAIT_MAX_S)
        ttl = GH_CLI_DEVICE_WAIT_MAX_S;
    out->device_code = gh_strdup(dc);
    out->user_code = gh_strdup(uc);
    out->verification_uri = gh_strdup(vu);
    out->verification_uri_complete = vuc ? gh_strdup(vuc) : NULL;
    out->expires_at = gh_cli_now() + ttl;
    out->interval =
        iv != NULL ? (long)json_integer_value(iv) : GH_CLI_POLL_DEFAULT_S;
    if (out->interval < 1)
        out->interval = 1;
    if (out->interval > GH_CLI_POLL_MAX_S)
        out->interval = GH_CLI_POLL_MAX_S;
    r = 0;
out:
    gh_cli_resp_cleanup(&resp);
    return r;
}

/* exp of a JWT, read without verifying (only to plan a refresh; the
 * gateway verifies). 0 when t is no JWT with an exp. */
static long long
gh_cli_jwt_exp(const char *t)
{
    const char *a = strchr(t, '.'), *b = a ? strchr(a + 1, '.') : NULL;
    unsigned char *raw = NULL;
    size_t len = 0;
    long long exp = 0;
    json_t *j;

    if (b == NULL ||
        gh_b64url_decode(a + 1, (size_t)(b - a - 1), &raw, &len) != 0)
        return 0;
    j = json_loadb((const char *)raw, len, 0, NULL);
    if (json_is_integer(json_object_get(j, "exp")))
        exp = json_integer_value(json_object_get(j, "exp"));
    json_decref(j);
    gh_freezero(raw, len + 1);
    return exp;
}

/* A token answer (RFC 6749 section 5.1) into out's token fields. */
static int
gh_cli_token_answer(const struct gh_cli_resp *resp, struct gh_cli_tokens *out,
                    struct gh_cli_oauth_err *err)
{
    const char *type =
        json_string_value(json_object_get(resp->json, "token_type"));
    json_t *at = json_object_get(resp->json, "access_token");
    json_t *rt = json_object_get(resp->json, "refresh_token");
    json_t *ei = json_object_get(resp->json, "expires_in");
    long long now = gh_cli_now(), ttl, exp;

    if (type == NULL || strcasecmp(type, "Bearer") != 0) {
        gh_cli_oerr(err, "the identity provider issued no bearer token");
        return GH_E_INVAL;
    }
    if (!gh_cli_token_ok(json_string_value(at)) ||
        (rt != NULL && !gh_cli_token_ok(json_string_value(rt)))) {
        gh_cli_oerr(err,
                    "the identity provider's token is empty, longer "
                    "than %u bytes, or holds spaces or control "
                    "characters",
                    GH_CLI_TOKEN_MAX);
        return GH_E_INVAL;
    }
    if (json_is_integer(ei) && json_integer_value(ei) > 0)
        ttl = json_integer_value(ei);
    else if ((exp = gh_cli_jwt_exp(json_string_value(at))) > now)
        ttl = exp - now;
    else
        ttl = GH_CLI_TTL_UNKNOWN_S;
    if (ttl > GH_CLI_TTL_MAX_S)
        ttl = GH_CLI_TTL_MAX_S;
    gh_cli_strfree(out->access_token);
    out->access_token = gh_strdup(json_string_value(at));
    if (rt != NULL) {
        gh_cli_strfree(out->refresh_token);
        out->refresh_token = gh_strdup(json_string_value(rt));
    }
    out->expires_at = now + ttl;
    return 0;
}

/* What a later refresh needs, from where the token set came from. */
static void
gh_cli_tokens_meta(const struct gh_cli_idp *idp, const struct gh_cli_signin *s,
                   struct gh_cli_tokens *out)
{
    out->issuer = gh_strdup(idp->issuer);
    out->token_endpoint = gh_strdup(idp->token_endpoint);
    out->revocation_endpoint = gh_strdup(idp->revocation_endpoint);
    out->client_id = gh_strdup(s->client_id);
    out->resource = gh_strdup(s->resource);
}

/* One poll of the token endpoint. 0 with *out filled; 1 to poll again;
 * 2 to poll again after a network failure (err says which; *interval has
 * grown); else an error. */
static int
gh_cli_device_poll(const struct gh_cli_idp *idp, const struct gh_cli_signin *s,
                   const struct gh_cli_tls *tls, const struct gh_cli_device *d,
                   long *interval, struct gh_cli_tokens *out,
                   struct gh_cli_oauth_err *err)
{
    struct gh_cli_resp resp;
    char *form = NULL;
    int r;

    gh_cli_form_add(&form, "grant_type", GH_CLI_DEVICE_GRANT);
    gh_cli_form_add(&form, "device_code", d->device_code);
    gh_cli_form_add(&form, "client_id", s->client_id);
    r = gh_cli_fetch(idp->token_endpoint, tls, form, &resp);
    gh_cli_strfree(form);
    if (r != 0 || resp.status >= 500) {
        /* RFC 8628 section 3.5: back off on a connection problem. */
        if (r != 0)
            gh_cli_oerr(err, "%s", resp.err);
        else
            gh_cli_oerr(err, "%s: HTTP %ld", idp->token_endpoint, resp.status);
        if (*interval < GH_CLI_POLL_BACKOFF_MAX_S) {
            *interval *= 2;
            if (*interval > GH_CLI_POLL_BACKOFF_MAX_S)
                *interval = GH_CLI_POLL_BACKOFF_MAX_S;
        }
        r = r == GH_E_INVAL ? GH_E_INVAL : 2;
        goto out;
    }
    if (resp.status == 200) {
        r = gh_cli_token_answer(&resp, out, err);
        goto out;
    }
    r = gh_cli_oauth_error(&resp, "sign-in failed", err);
    if (r == GH_E_PERM && strcmp(err->error, "authorization_pending") == 0) {
        r = 1;
    } else if (r == GH_E_PERM && strcmp(err->error, "slow_down") == 0) {
        *interval += GH_CLI_POLL_SLOWDOWN_S;
        if (*interval > GH_CLI_POLL_MAX_S)
            *interval = GH_CLI_POLL_MAX_S;
        r = 1;
    }
out:
    gh_cli_resp_cleanup(&resp);
    return r;
}

int
gh_cli_device_wait(const struct gh_cli_idp *idp, const struct gh_cli_signin *s,
                   const struct gh_cli_tls *tls, struct gh_cli_device *d,
                   struct gh_cli_tokens *out, struct gh_cli_oauth_err *err)
{
    long interval = d->interval;
    int r = 1;

    memset(out, 0, sizeof(*out));
    gh_cli_err_clear(err);
    for (;;) {
        if (gh_cli_now() + interval > d->expires_at && r == 2) {
            /* Unreachable till the end: say so, with the last failure. */
            char last[sizeof(err->text)];

            snprintf(last, sizeof(last), "%s", err->text);
            gh_cli_oerr(err,
                        "the identity provider could not be reached before "
                        "the code expired: %.400s",
                        last);
            return GH_E_IO;
        }
        if (gh_cli_now() + interval > d->expires_at) {
            /* The IdP would only say expired_token now. */
            snprintf(err->error, sizeof(err->error), "expired_token");
            gh_cli_oerr(err, "the code expired before it was approved");
            return GH_E_PERM;
        }
        gh_cli_sleep_s(interval);
        r = gh_cli_device_poll(idp, s, tls, d, &interval, out, err);
        if (r != 1 && r != 2)
            break;
    }
    if (r != 0) {
        gh_cli_tokens_cleanup(out);
        return r;
    }
    gh_cli_err_clear(err);
    gh_cli_tokens_meta(idp, s, out);
    return 0;
}

/* ---- the authorization code grant (a browser and a loopback redirect) ---- */

/* n random bytes, base64url: a state or a PKCE verifier (RFC 7636 4.1:
 * 32 bytes give the recommended 43 characters). */
static char *
gh_cli_random_b64url(size_t n)
{
    char *out = NULL;

    if (gh_b64url_random(n, &out) != 0)
        abort(); /* no randomness: nothing safe to do */
    return out;
}

void
gh_cli_authz_cleanup(struct gh_cli_authz *a)
{
    free(a->url);
    free(a->redirect_uri);
    free(a->state);
    gh_cli_strfree(a->code_verifier);
    memset(a, 0, sizeof(*a));
}

int
gh_cli_authz_start(const struct gh_cli_idp *idp, const struct gh_cli_signin *s,
                   const char *redirect_uri, struct gh_cli_authz *out,
                   struct gh_cli_oauth_err *err)
{
    char *q = NULL, *challenge = NULL, *scope;

    memset(out, 0, sizeof(*out));
    gh_cli_err_clear(err);
    if (idp->authorization_endpoint == NULL) {
        gh_cli_oerr(err,
                    "the identity provider %s has no authorization "
                    "endpoint: sign in without --browser (device grant)",
                    idp->issuer);
        return GH_E_INVAL;
    }
    out->redirect_uri = gh_strdup(redirect_uri);
    out->state = gh_cli_random_b64url(32);
    out->code_verifier = gh_cli_random_b64url(32);
    /* S256 (RFC 7636 4.2): the verifier never leaves until the code is
     * exchanged, so a code caught on the way is worthless. */
    if (gh_b64url_sha256(out->code_verifier, &challenge) != 0)
        abort();
    scope = gh_cli_scope(idp, s);
    gh_cli_form_add(&q, "response_type", "code");
    gh_cli_form_add(&q, "client_id", s->client_id);
    gh_cli_form_add(&q, "redirect_uri", redirect_uri);
    gh_cli_form_add(&q, "scope", scope);
    gh_cli_form_add(&q, "state", out->state);
    gh_cli_form_add(&q, "code_challenge", challenge);
    gh_cli_form_add(&q, "code_challenge_method", "S256");
    if (s->resource != NULL)
        gh_cli_form_add(&q, "resource", s->resource);
    out->url =
        gh_asprintf("%s%c%s", idp->authorization_endpoint,
                    strchr(idp->authorization_endpoint, '?') ? '&' : '?', q);
    free(q);
    free(scope);
    free(challenge);
    return 0;
}

int
gh_cli_authz_exchange(const struct gh_cli_idp *idp,
                      const struct gh_cli_signin *s,
                      const struct gh_cli_tls *tls,
                      const struct gh_cli_authz *a, const char *code,
                      struct gh_cli_tokens *out, struct gh_cli_oauth_err *err)
{
    struct gh_cli_resp resp;
    char *form = NULL;
    int r;

    memset(out, 0, sizeof(*out));
    gh_cli_err_clear(err);
    gh_cli_form_add(&form, "grant_type", "authorization_code");
    gh_cli_form_add(&form, "code", code);
    gh_cli_form_add(&form, "redirect_uri", a->redirect_uri);
    gh_cli_form_add(&form, "client_id", s->client_id);
    gh_cli_form_add(&form, "code_verifier", a->code_verifier);
    if (s->resource != NULL)
        gh_cli_form_add(&form, "resource", s->resource);
    r = gh_cli_fetch(idp->token_endpoint, tls, form, &resp);
    gh_cli_strfree(form);
    if (r != 0)
        gh_cli_oerr(err, "%s", resp.err);
    else if (resp.status != 200)
        r = gh_cli_oauth_error(&resp, "sign-in failed", err);
    else
        r = gh_cli_token_answer(&resp, out, err);
    gh_cli_resp_cleanup(&resp);
    if (r != 0) {
        gh_cli_tokens_cleanup(out);
        return r;
    }
    gh_cli_tokens_meta(idp, s, out);
    return 0;
}

/* ---- refresh and revocation ---- */

int
gh_cli_refresh(const struct gh_cli_tokens *old, const struct gh_cli_tls *tls,
               struct gh_cli_tokens *out, struct gh_cli_oauth_err *err)
{
    struct gh_cli_resp resp;
    char *form = NULL;
    int r;

    memset(out, 0, sizeof(*out));
    gh_cli_err_clear(err);
    if (old->refresh_token == NULL) {
        gh_cli_oerr(err, "no refresh token");
        return GH_E_NOTFOUND;
    }
    gh_cli_form_add(&form, "grant_type", "refresh_token");
    gh_cli_form_add(&form, "refresh_token", old->refresh_token);
    gh_cli_form_add(&form, "client_id", old->client_id);
    if (old->resource != NULL)
        gh_cli_form_add(&form, "resource", old->resource);
    r = gh_cli_fetch(old->token_endpoint, tls, form, &resp);
    gh_cli_strfree(form);
    if (r != 0) {
        gh_cli_oerr(err, "%s", resp.err);
        goto out;
    }
    if (resp.status >= 500) {
        gh_cli_oerr(err, "%s: HTTP %ld", old->token_endpoint, resp.status);
        r = GH_E_IO;
        goto out;
    }
    if (resp.status != 200) {
        r = gh_cli_oauth_error(&resp, "refresh refused", err);
        goto out;
    }
    out->refresh_token = gh_strdup(old->refresh_token);
    if ((r = gh_cli_token_answer(&resp, out, err)) != 0)
        goto out;
    out->issuer = gh_strdup(old->issuer);
    out->token_endpoint = gh_strdup(old->token_endpoint);
    out->revocation_endpoint = gh_strdup(old->revocation_endpoint);
    out->client_id = gh_strdup(old->client_id);
    out->resource = gh_strdup(old->resource);
    out->ca_file = gh_strdup(old->ca_file);
    out->pin = gh_strdup(old->pin);
out:
    if (r != 0)
        gh_cli_tokens_cleanup(out);
    gh_cli_resp_cleanup(&resp);
    return r;
}

int
gh_cli_revoke(const struct gh_cli_tokens *t, const struct gh_cli_tls *tls,
              struct gh_cli_oauth_err *err)
{
    struct gh_cli_resp resp;
    char *form = NULL;
    int r;

    gh_cli_err_clear(err);
    if (t->refresh_token == NULL || t->revocation_endpoint == NULL)
        return GH_E_NOTFOUND;
    gh_cli_form_add(&form, "token", t->refresh_token);
    gh_cli_form_add(&form, "token_type_hint", "refresh_token");
    gh_cli_form_add(&form, "client_id", t->client_id);
    r = gh_cli_fetch(t->revocation_endpoint, tls, form, &resp);
    gh_cli_strfree(form);
    if (r != 0) {
        gh_cli_oerr(err, "%s", resp.err);
    } else if (resp.status != 200) {
        r = gh_cli_oauth_error(&resp, "revocation refused", err);
        if (r == GH_E_INVAL)
            r = GH_E_PERM;
    }
    gh_cli_resp_cleanup(&resp);
    return r;
}
