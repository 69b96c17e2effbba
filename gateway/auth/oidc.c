/* oidc.c - discovery, JWKS cache, bearer checks and the code exchange. */
#include "gatehouse/oidc.h"

#include "gatehouse/b64.h"
#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct gh_oidc_waiter {
    void (*fn)(void *ctx);
    void *ctx;
};

struct gh_oidc {
    /* configuration (owned copies) */
    char *issuer, *client_id, *client_secret, *audience, *redirect_uri;
    char *scopes, *user_claim, *groups_claim;
    char *role_groups[GH_ROLE_COUNT];
    int64_t skew, jwks_refresh, jwks_min_interval;
    int allow_http;
    struct gh_fetch *fetch;
    /* discovered */
    char *authorization_endpoint, *token_endpoint, *jwks_uri;
    char *end_session_endpoint;
    struct gh_jwks *jwks;
    /* progress */
    enum gh_oidc_state state;
    char unavailable[256];
    char login_unavailable[256];
    bool busy;             /* a discovery or JWKS fetch is under way */
    bool last_failed;      /* the last fetch failed (IdP unreachable?) */
    int64_t next_attempt;  /* when to retry or refresh */
    int64_t last_jwks_try; /* last JWKS fetch started */
    struct gh_oidc_waiter waiters[GH_OIDC_WAITERS_MAX];
    size_t nwaiters;
};

static const char *const gh_role_names[GH_ROLE_COUNT] = {"user", "approver",
                                                         "auditor", "admin"};

const char *
gh_role_name(enum gh_role r)
{
    return (unsigned)r < GH_ROLE_COUNT ? gh_role_names[r] : "?";
}

static int64_t
gh_oidc_now(void)
{
    return (int64_t)time(NULL);
}

/* http:// is acceptable only for an IdP on this machine (tests, demo). */
static int
gh_oidc_loopback_http(const char *url)
{
    return strncmp(url, "http://127.0.0.1:", 17) == 0 ||
           strncmp(url, "http://127.0.0.1/", 17) == 0 ||
           strncmp(url, "http://localhost:", 17) == 0 ||
           strncmp(url, "http://[::1]:", 13) == 0;
}

struct gh_oidc *
gh_oidc_new(const struct gh_oidc_config *cfg, struct gh_fetch *fetch)
{
    struct gh_oidc *o = gh_alloc(1, sizeof(*o));
    int i;

    o->issuer = gh_strdup(cfg->issuer ? cfg->issuer : "");
    o->client_id = gh_strdup(cfg->client_id ? cfg->client_id : "");
    o->client_secret = gh_strdup(cfg->client_secret ? cfg->client_secret : "");
    o->audience = gh_strdup(cfg->audience ? cfg->audience : "");
    o->redirect_uri = gh_strdup(cfg->redirect_uri ? cfg->redirect_uri : "");
    o->scopes = gh_strdup(cfg->scopes ? cfg->scopes : "openid");
    o->user_claim = gh_strdup(cfg->user_claim ? cfg->user_claim : "sub");
    o->groups_claim =
        gh_strdup(cfg->groups_claim ? cfg->groups_claim : "groups");
    for (i = 0; i < GH_ROLE_COUNT; i++)
        o->role_groups[i] =
            gh_strdup(cfg->role_groups[i] ? cfg->role_groups[i] : "");
    o->skew = cfg->skew;
    o->jwks_refresh = cfg->jwks_refresh > 0 ? cfg->jwks_refresh : 600;
    o->jwks_min_interval =
        cfg->jwks_min_interval > 0 ? cfg->jwks_min_interval : 30;
    o->fetch = fetch;
    o->allow_http = gh_oidc_loopback_http(o->issuer);
    if (*o->issuer == '\0') {
        o->state = GH_OIDC_OFF;
        snprintf(o->unavailable, sizeof(o->unavailable),
                 "no identity provider is configured (oidc.issuer)");
    } else {
        o->state = GH_OIDC_STARTING;
        snprintf(o->unavailable, sizeof(o->unavailable),
                 "the identity provider has not been reached yet");
    }
    return o;
}

void
gh_oidc_free(struct gh_oidc *o)
{
    int i;

    if (o == NULL)
        return;
    free(o->issuer);
    free(o->client_id);
    if (o->client_secret != NULL)
        gh_freezero(o->client_secret, strlen(o->client_secret));
    free(o->audience);
    free(o->redirect_uri);
    free(o->scopes);
    free(o->user_claim);
    free(o->groups_claim);
    for (i = 0; i < GH_ROLE_COUNT; i++)
        free(o->role_groups[i]);
    free(o->authorization_endpoint);
    free(o->token_endpoint);
    free(o->jwks_uri);
    free(o->end_session_endpoint);
    gh_jwks_free(o->jwks);
    free(o);
}

enum gh_oidc_state
gh_oidc_state(const struct gh_oidc *o)
{
    return o->state;
}

const char *
gh_oidc_unavailable(const struct gh_oidc *o)
{
    return o->state == GH_OIDC_READY ? NULL : o->unavailable;
}

const char *
gh_oidc_login_unavailable(const struct gh_oidc *o)
{
    if (o->state != GH_OIDC_READY)
        return o->unavailable;
    return o->last_failed ? o->login_unavailable : NULL;
}

const char *
gh_oidc_end_session(const struct gh_oidc *o)
{
    return o->end_session_endpoint;
}

const char *
gh_oidc_client_id(const struct gh_oidc *o)
{
    return o->client_id;
}

static void
gh_oidc_wake_waiters(struct gh_oidc *o)
{
    size_t i, n = o->nwaiters;
    struct gh_oidc_waiter w[GH_OIDC_WAITERS_MAX];

    /* Copy first: a callback may register or forget waiters. */
    memcpy(w, o->waiters, n * sizeof(w[0]));
    o->nwaiters = 0;
    for (i = 0; i < n; i++)
        w[i].fn(w[i].ctx);
}

static void
gh_oidc_failed(struct gh_oidc *o, const char *what, const char *detail)
{
    o->busy = false;
    o->last_failed = true;
    snprintf(o->login_unavailable, sizeof(o->login_unavailable),
             "the identity provider is unreachable (%s)", what);
    if (o->state != GH_OIDC_READY) {
        o->state = GH_OIDC_FAILING;
        snprintf(o->unavailable, sizeof(o->unavailable),
                 "the identity provider is unreachable (%s)", what);
    }
    o->next_attempt = gh_oidc_now() + GH_OIDC_RETRY_INTERVAL;
    gh_warn("oidc", "msg=%s issuer=%s err=%s", gh_q(what), gh_q(o->issuer),
            gh_q(detail));
    gh_oidc_wake_waiters(o);
}

static void
gh_oidc_jwks_done(void *ctx, const struct gh_fetch_result *r)
{
    struct gh_oidc *o = ctx;
    struct gh_jwks *ks = NULL;
    char err[256];

    if (r->error != NULL || r->status != 200) {
        gh_oidc_failed(o, "JWKS fetch failed",
                       r->error ? r->error : "unexpected HTTP status");
        return;
    }
    if (gh_jwks_parse(r->body, r->len, &ks, err, sizeof(err)) != 0) {
        gh_oidc_failed(o, "JWKS unusable", err);
        return;
    }
    gh_jwks_free(o->jwks);
    o->jwks = ks;
    o->busy = false;
    o->last_failed = false;
    if (o->state != GH_OIDC_READY)
        gh_info("oidc", "msg=\"identity provider ready\" issuer=%s keys=%zu",
                gh_q(o->issuer), gh_jwks_count(ks));
    else
        gh_info("oidc", "msg=\"JWKS refreshed\" keys=%zu", gh_jwks_count(ks));
    o->state = GH_OIDC_READY;
    o->next_attempt = gh_oidc_now() + o->jwks_refresh;
    gh_oidc_wake_waiters(o);
}

static void
gh_oidc_fetch_jwks(struct gh_oidc *o)
{
    struct gh_fetch_req req = {0};

    req.url = o->jwks_uri;
    req.allow_http = o->allow_http;
    o->busy = true;
    o->last_jwks_try = gh_oidc_now();
    if (gh_fetch_submit(o->fetch, &req, gh_oidc_jwks_done, NULL, o, NULL) != 0)
        gh_oidc_failed(o, "JWKS fetch not queued", "queue full");
}

/* Copy a string member of a discovery document. */
static char *
gh_oidc_member(json_t *doc, const char *name)
{
    const char *s = json_string_value(json_object_get(doc, name));

    return s != NULL && *s != '\0' ? gh_strdup(s) : NULL;
}

/* An endpoint must use the issuer's scheme rules: https, or loopback http
 * for a loopback issuer. */
static int
gh_oidc_endpoint_ok(const struct gh_oidc *o, const char *url)
{
    if (url == NULL)
        return 0;
    if (strncmp(url, "https://", 8) == 0)
        return 1;
    return o->allow_http && gh_oidc_loopback_http(url);
}

static void
gh_oidc_discovery_done(void *ctx, const struct gh_fetch_result *r)
{
    struct gh_oidc *o = ctx;
    json_error_t jerr;
    json_t *doc;
    const char *iss;

    if (r->error != NULL || r->status != 200) {
        gh_oidc_failed(o, "discovery failed",
                       r->error ? r->error : "unexpected HTTP status");
        return;
    }
    doc = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);
    iss = json_string_value(json_object_get(doc, "issuer"));
    if (doc == NULL || !json_is_object(doc) || iss == NULL ||
        strcmp(iss, o->issuer) != 0) {
        json_decref(doc);
        gh_oidc_failed(o, "discovery document unusable",
                       "not JSON, or issuer does not match oidc.issuer");
        return;
    }
    free(o->authorization_endpoint);
    free(o->token_endpoint);
    free(o->jwks_uri);
    free(o->end_session_endpoint);
    o->authorization_endpoint = gh_oidc_member(doc, "authorization_endpoint");
    o->token_endpoint = gh_oidc_member(doc, "token_endpoint");
    o->jwks_uri = gh_oidc_member(doc, "jwks_uri");
    o->end_session_endpoint = gh_oidc_member(doc, "end_session_endpoint");
    json_decref(doc);
    if (!gh_oidc_endpoint_ok(o, o->authorization_endpoint) ||
        !gh_oidc_endpoint_ok(o, o->token_endpoint) ||
        !gh_oidc_endpoint_ok(o, o->jwks_uri) ||
        (o->end_session_endpoint != NULL &&
         !gh_oidc_endpoint_ok(o, o->end_session_endpoint))) {
        gh_oidc_failed(o, "discovery document unusable",
                       "missing or insecure endpoint");
        return;
    }
    gh_oidc_fetch_jwks(o);
}

static void
gh_oidc_discover(struct gh_oidc *o)
{
    struct gh_fetch_req req = {0};
    char *url;

    size_t n = strlen(o->issuer);

    if (n > 0 && o->issuer[n - 1] == '/')
        n--;
    url =
        gh_asprintf("%.*s/.well-known/openid-configuration", (int)n, o->issuer);
    req.url = url;
    req.allow_http = o->allow_http;
    o->busy = true;
    if (gh_fetch_submit(o->fetch, &req, gh_oidc_discovery_done, NULL, o,
                        NULL) != 0)
        gh_oidc_failed(o, "discovery not queued", "queue full");
    free(url);
}

void
gh_oidc_tick(struct gh_oidc *o, int64_t now)
{
    if (o->state == GH_OIDC_OFF || o->busy || now < o->next_attempt)
        return;
    if (o->jwks_uri == NULL || o->state != GH_OIDC_READY)
        gh_oidc_discover(o);
    else
        gh_oidc_fetch_jwks(o);
}

int
gh_oidc_when_jwks(struct gh_oidc *o, void (*fn)(void *ctx), void *ctx)
{
    if (o->nwaiters == GH_OIDC_WAITERS_MAX)
        return GH_E_TOOBIG;
    o->waiters[o->nwaiters].fn = fn;
    o->waiters[o->nwaiters].ctx = ctx;
    o->nwaiters++;
    return 0;
}

void
gh_oidc_forget(struct gh_oidc *o, void *ctx)
{
    size_t i = 0;

    while (i < o->nwaiters) {
        if (o->waiters[i].ctx == ctx)
            o->waiters[i] = o->waiters[--o->nwaiters];
        else
            i++;
    }
}

/* Build an identity from verified claims; NULL when a required claim is
 * missing or malformed. */
static struct gh_identity *
gh_oidc_identity(const struct gh_oidc *o, const struct gh_jwt *t)
{
    const json_t *c = gh_jwt_claims(t), *groups, *v;
    const char *uid = gh_jwt_claim_str(t, o->user_claim);
    struct gh_identity *id;
    size_t i, r;

    if (uid == NULL || *uid == '\0')
        return NULL;
    groups = json_object_get(c, o->groups_claim);
    if (groups != NULL && (!json_is_array(groups) ||
                           json_array_size(groups) > GH_OIDC_GROUPS_MAX))
        return NULL;
    id = gh_alloc(1, sizeof(*id));
    id->user_id = gh_strdup(uid);
    id->iss = gh_strdup(gh_jwt_claim_str(t, "iss"));
    id->sub = gh_strdup(gh_jwt_claim_str(t, "sub"));
    id->name = gh_strdup(gh_jwt_claim_str(t, "name"));
    id->email = gh_strdup(gh_jwt_claim_str(t, "email"));
    id->expires = gh_jwt_exp(t);
    id->ngroups = 0;
    id->groups = gh_alloc(json_array_size(groups) + 1, sizeof(char *));
    json_array_foreach(groups, i, v)
    {
        if (json_is_string(v))
            id->groups[id->ngroups++] = gh_strdup(json_string_value(v));
    }
    for (r = 0; r < GH_ROLE_COUNT; r++)
        for (i = 0; i < id->ngroups; i++)
            if (gh_group_in_list(o->role_groups[r], id->groups[i]))
                id->roles |= 1u << r;
    return id;
}

enum gh_oidc_verdict
gh_oidc_check_bearer(struct gh_oidc *o, const char *token, size_t len,
                     int64_t now, int allow_wait, struct gh_identity **id,
                     enum gh_jwt_reason *why, struct gh_jwt_info *info)
{
    struct gh_jwt_expect ex = {0};
    struct gh_jwt *t = NULL;
    enum gh_jwt_reason r;

    *id = NULL;
    *why = GH_JWT_OK;
    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (o->state != GH_OIDC_READY)
        return GH_OIDC_UNAVAILABLE;
    ex.issuer = o->issuer;
    ex.audience = o->audience;
    ex.now = now;
    ex.skew = o->skew;
    ex.typ = "at+jwt";
    r = gh_jwt_verify(token, len, o->jwks, &ex, &t, info);
    if (r == GH_JWT_UNKNOWN_KID && allow_wait) {
        if (o->busy)
            return GH_OIDC_WAIT;
        if (now - o->last_jwks_try >= o->jwks_min_interval) {
            gh_oidc_fetch_jwks(o);
            return GH_OIDC_WAIT;
        }
    }
    if (r != GH_JWT_OK) {
        *why = r;
        return GH_OIDC_REFUSE;
    }
    *id = gh_oidc_identity(o, t);
    gh_jwt_free(t);
    if (*id == NULL) {
        *why = GH_JWT_MISSING_CLAIM;
        return GH_OIDC_REFUSE;
    }
    return GH_OIDC_ACCEPT;
}

/* URL-encode s with libcurl (no hand-written escaping). */
static char *
gh_oidc_esc(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *r = gh_strdup(e);

    curl_free(e);
    return r;
}

int
gh_oidc_auth_url(struct gh_oidc *o, const char *state, const char *nonce,
                 const char *code_challenge, char **url)
{
    char *cid, *ru, *sc, *st, *no, *cc;

    *url = NULL;
    if (o->state != GH_OIDC_READY)
        return GH_E_NOTFOUND;
    cid = gh_oidc_esc(o->client_id);
    ru = gh_oidc_esc(o->redirect_uri);
    sc = gh_oidc_esc(o->scopes);
    st = gh_oidc_esc(state);
    no = gh_oidc_esc(nonce);
    cc = gh_oidc_esc(code_challenge);
    *url = gh_asprintf("%s%sresponse_type=code&client_id=%s&redirect_uri=%s"
                       "&scope=%s&state=%s&nonce=%s&code_challenge=%s"
                       "&code_challenge_method=S256",
                       o->authorization_endpoint,
                       strchr(o->authorization_endpoint, '?') ? "&" : "?", cid,
                       ru, sc, st, no, cc);
    free(cid);
    free(ru);
    free(sc);
    free(st);
    free(no);
    free(cc);
    return 0;
}

struct gh_oidc_exchange {
    struct gh_oidc *o;
    char *nonce;
    void (*fn)(void *ctx, struct gh_oidc_login *res);
    void *ctx;
};

/* Frees an exchange whose result nobody waits for any more. */
static void
gh_oidc_exchange_drop(void *ctx)
{
    struct gh_oidc_exchange *x = ctx;

    if (x->nonce != NULL)
        gh_freezero(x->nonce, strlen(x->nonce));
    free(x);
}

static void
gh_oidc_exchange_done(void *ctx, const struct gh_fetch_result *r)
{
    struct gh_oidc_exchange *x = ctx;
    struct gh_oidc *o = x->o;
    struct gh_oidc_login res;
    struct gh_jwt_expect ex = {0};
    struct gh_jwt *t = NULL;
    json_error_t jerr;
    json_t *doc = NULL;
    const char *idt;

    memset(&res, 0, sizeof(res));
    if (r->error != NULL) {
        res.error = "the identity provider did not answer";
        goto out;
    }
    doc = json_loadb(r->body, r->len, 0, &jerr);
    if (r->status != 200 || !json_is_object(doc)) {
        res.error = "the identity provider refused the authorization code";
        goto out;
    }
    idt = json_string_value(json_object_get(doc, "id_token"));
    if (idt == NULL) {
        res.error = "the token response has no id_token";
        goto out;
    }
    ex.issuer = o->issuer;
    ex.audience = o->client_id;
    ex.now = gh_oidc_now();
    ex.skew = o->skew;
    ex.nonce = x->nonce;
    res.why = gh_jwt_verify(idt, strlen(idt), o->jwks, &ex, &t, &res.info);
    if (res.why != GH_JWT_OK) {
        res.error = "the ID token was refused";
        goto out;
    }
    res.id = gh_oidc_identity(o, t);
    if (res.id == NULL) {
        res.error = "the ID token lacks the user id or has bad groups";
        res.why = GH_JWT_MISSING_CLAIM;
    }
out:
    x->fn(x->ctx, &res);
    gh_identity_free(res.id);
    gh_jwt_free(t);
    json_decref(doc);
    gh_oidc_exchange_drop(x);
}

int
gh_oidc_exchange(struct gh_oidc *o, const char *code, const char *verifier,
                 const char *nonce,
                 void (*fn)(void *ctx, struct gh_oidc_login *res), void *ctx,
                 uint64_t *req_id)
{
    struct gh_fetch_req req = {0};
    struct gh_oidc_exchange *x;
    char *ec, *ev, *er, *form;
    int r;

    if (o->state != GH_OIDC_READY)
        return GH_E_NOTFOUND;
    ec = gh_oidc_esc(code);
    ev = gh_oidc_esc(verifier);
    er = gh_oidc_esc(o->redirect_uri);
    form = gh_asprintf("grant_type=authorization_code&code=%s"
                       "&redirect_uri=%s&code_verifier=%s",
                       ec, er, ev);
    x = gh_alloc(1, sizeof(*x));
    x->o = o;
    x->nonce = gh_strdup(nonce);
    x->fn = fn;
    x->ctx = ctx;
    req.url = o->token_endpoint;
    req.form = form;
    req.basic_user = o->client_id;
    req.basic_pass = o->client_secret;
    req.allow_http = o->allow_http;
    r = gh_fetch_submit(o->fetch, &req, gh_oidc_exchange_done,
                        gh_oidc_exchange_drop, x, req_id);
    if (r != 0)
        gh_oidc_exchange_drop(x);
    gh_freezero(form, strlen(form));
    gh_freezero(ec, strlen(ec));
    gh_freezero(ev, strlen(ev));
    free(er);
    return r;
}

void
gh_oidc_cancel(struct gh_oidc *o, uint64_t req_id)
{
    gh_fetch_cancel(o->fetch, req_id);
}
