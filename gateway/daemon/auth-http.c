/* auth-http.c - sign-in endpoints, browser sessions, bearer checks. */
#include "auth-http.h"
#include "api.h"

#include "gatehouse/b64.h"
#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/oidc.h"
#include "gatehouse/store.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

/* A random token: 32 bytes, base64url (43 chars). */
#define GH_TOKEN_BYTES 32
#define GH_TOKEN_LEN   43

struct gh_login {
    char state[GH_TOKEN_LEN + 1];
    char nonce[GH_TOKEN_LEN + 1];
    char verifier[GH_TOKEN_LEN + 1];
    char *return_to;
    int64_t created;
};

struct gh_logins {
    struct gh_login *v;
    size_t n, cap;
};

struct gh_logins *
gh_logins_new(void)
{
    return gh_alloc(1, sizeof(struct gh_logins));
}

static void
gh_login_clear(struct gh_login *l)
{
    free(l->return_to);
    gh_wipe(l, sizeof(*l));
}

void
gh_logins_free(struct gh_logins *ls)
{
    size_t i;

    if (ls == NULL)
        return;
    for (i = 0; i < ls->n; i++)
        gh_login_clear(&ls->v[i]);
    free(ls->v);
    free(ls);
}

static void
gh_logins_remove(struct gh_logins *ls, size_t i)
{
    gh_login_clear(&ls->v[i]);
    memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(ls->v[0]));
    ls->n--;
}

/* Forget logins older than GH_LOGIN_TTL (they are kept oldest first). */
static void
gh_logins_expire(struct gh_logins *ls, int64_t now)
{
    while (ls->n > 0 && now - ls->v[0].created > GH_LOGIN_TTL)
        gh_logins_remove(ls, 0);
}

static struct gh_login *
gh_logins_add(struct gh_logins *ls, int64_t now)
{
    gh_logins_expire(ls, now);
    if (ls->n == GH_LOGINS_MAX)
        gh_logins_remove(ls, 0);
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 16;
        ls->v = gh_realloc(ls->v, ls->cap, sizeof(ls->v[0]));
    }
    memset(&ls->v[ls->n], 0, sizeof(ls->v[0]));
    ls->v[ls->n].created = now;
    return &ls->v[ls->n++];
}

/* Take the login for state out of the list (one use only). */
static int
gh_logins_take(struct gh_logins *ls, const char *state, int64_t now,
               struct gh_login *out)
{
    size_t i;

    gh_logins_expire(ls, now);
    if (strlen(state) != GH_TOKEN_LEN)
        return GH_E_NOTFOUND;
    for (i = 0; i < ls->n; i++) {
        if (gh_ct_memcmp(ls->v[i].state, state, GH_TOKEN_LEN) == 0) {
            *out = ls->v[i];
            ls->v[i].return_to = NULL;
            gh_logins_remove(ls, i);
            return 0;
        }
    }
    return GH_E_NOTFOUND;
}

static struct gh_gateway *
gh_auth_gw(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static int64_t
gh_auth_now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* A fresh random base64url token into out (GH_TOKEN_LEN + 1 bytes). */
static int
gh_auth_token(char *out)
{
    char *s = NULL;

    if (gh_b64url_random(GH_TOKEN_BYTES, &s) != 0 ||
        strlen(s) != GH_TOKEN_LEN) {
        free(s);
        return GH_E_CRYPTO;
    }
    memcpy(out, s, GH_TOKEN_LEN + 1);
    gh_freezero(s, GH_TOKEN_LEN);
    return 0;
}

/* PKCE S256 challenge of verifier. Caller frees. */
static char *
gh_auth_challenge(const char *verifier)
{
    char *s = NULL;

    return gh_b64url_sha256(verifier, &s) == 0 ? s : NULL;
}

static void
gh_auth_hash(const char *id, unsigned char out[GH_SESSION_HASH_LEN])
{
    unsigned int n = 0;

    EVP_Digest(id, strlen(id), out, &n, EVP_sha256(), NULL);
}

void
gh_auth_audit(struct lws *wsi, const char *actor, const char *action,
              const char *outcome, json_t *detail)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);
    struct gh_audit_event ev = {0};
    char peer[64] = "";
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;

    lws_get_peer_simple(wsi, peer, sizeof(peer));
    ev.actor = actor ? actor : "-";
    ev.action = action;
    ev.outcome = outcome;
    ev.source = peer;
    ev.detail = d;
    if (gh_store_audit_add(gw->store, &ev) != 0)
        gh_error("auth", "msg=\"cannot write audit event\" action=%s", action);
    free(d);
    json_decref(detail);
}

/* The refused token's own account of itself, never the token. */
static json_t *
gh_auth_token_detail(enum gh_jwt_reason why, const struct gh_jwt_info *info)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "reason",
                     gh_jwt_reason_code(why), "iss", info->iss, "sub",
                     info->sub, "kid", info->kid, "alg", info->alg);
}

/* Most bytes of Cookie header examined: browsers cap a cookie at 4 KiB,
 * and the gateway's own are short. */
#define GH_COOKIE_HDR_MAX 8192

/*
 * Copy cookie name's value into buf (NUL-terminated, *len its length).
 * Over HTTP/2 a browser sends each cookie as its own header fragment, and
 * lws_http_cookie_get looks at the first only; so walk every fragment and
 * every "a=b; c=d" pair in it. Other sites on the same host (cookies
 * ignore ports) may add their own cookies here.
 */
static int
gh_auth_cookie_get(struct lws *wsi, const char *name, char *buf, size_t cap,
                   size_t *len)
{
    char hdr[GH_COOKIE_HDR_MAX];
    size_t nl = strlen(name);
    int frag, n;

    *len = 0;
    buf[0] = '\0';
    for (frag = 0; frag < 64; frag++) {
        const char *p, *e, *v;

        n = lws_hdr_copy_fragment(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_COOKIE,
                                  frag);
        if (n <= 0)
            break;
        for (p = hdr; *p != '\0'; p = *e ? e + 1 : e) {
            while (*p == ' ' || *p == ';')
                p++;
            e = strchr(p, ';');
            if (e == NULL)
                e = p + strlen(p);
            if ((size_t)(e - p) > nl && strncmp(p, name, nl) == 0 &&
                p[nl] == '=') {
                v = p + nl + 1;
                if ((size_t)(e - v) >= cap)
                    return GH_E_TOOBIG;
                memcpy(buf, v, (size_t)(e - v));
                buf[e - v] = '\0';
                *len = (size_t)(e - v);
                return 0;
            }
        }
    }
    return GH_E_NOTFOUND;
}

static char *
gh_auth_cookie(const char *name, const char *value, long max_age,
               const char *samesite)
{
    return gh_asprintf("%s=%s; Path=/; Secure; HttpOnly; SameSite=%s; "
                       "Max-Age=%ld",
                       name, value, samesite, max_age);
}

/* Is return_to one of our own paths? (No open redirect.) */
static int
gh_auth_return_ok(const char *p)
{
    size_t i;

    if (p[0] != '/' || p[1] == '/' || p[1] == '\\' ||
        strlen(p) > GH_RETURN_TO_MAX)
        return 0;
    for (i = 0; p[i] != '\0'; i++)
        if ((unsigned char)p[i] < 0x21 || p[i] == 0x7f || p[i] == '\\')
            return 0;
    return 1;
}

static int
gh_auth_unavailable(struct lws *wsi, struct gh_http_pss *pss, unsigned status)
{
    const char *why = gh_oidc_unavailable(gh_auth_gw(wsi)->oidc);

    return gh_http_error(wsi, pss, status, "idp_unavailable",
                         why ? why : "sign-in is not available");
}

static int
gh_auth_login(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);
    char buf[GH_RETURN_TO_MAX + 32];
    const char *rt;
    struct gh_login *l;
    char *challenge = NULL, *url = NULL;
    int64_t now = gh_auth_now_ms() / 1000;

    if (gh_oidc_login_unavailable(gw->oidc) != NULL)
        return gh_http_error(wsi, pss, 503, "idp_unavailable",
                             gh_oidc_login_unavailable(gw->oidc));
    rt = gh_http_arg(wsi, "return_to=", buf, sizeof(buf), NULL);
    l = gh_logins_add(gw->logins, now);
    if (gh_auth_token(l->state) != 0 || gh_auth_token(l->nonce) != 0 ||
        gh_auth_token(l->verifier) != 0)
        goto fail;
    l->return_to = gh_strdup(rt != NULL && gh_auth_return_ok(rt) ? rt : "/");
    challenge = gh_auth_challenge(l->verifier);
    if (challenge == NULL ||
        gh_oidc_auth_url(gw->oidc, l->state, l->nonce, challenge, &url) != 0)
        goto fail;
    free(challenge);
    pss->location = url;
    pss->cookies[0] = gh_auth_cookie(GH_LOGIN_COOKIE, l->state, GH_LOGIN_TTL,
                                     GH_LOGIN_SAMESITE);
    return gh_http_respond(wsi, pss, 302, "text/plain", NULL, 0);
fail:
    free(challenge);
    return gh_http_error(wsi, pss, 500, "internal", "cannot start sign-in");
}

static int gh_auth_callback_resume(struct lws *wsi, struct gh_http_pss *pss);

static void
gh_auth_exchange_done(void *ctx, struct gh_oidc_login *res)
{
    struct lws *wsi = ctx;
    struct gh_http_pss *pss = lws_wsi_user(wsi);

    pss->fetch_id = 0;
    pss->login_error = res->error;
    if (res->error == NULL) {
        pss->login = res->id;
        res->id = NULL; /* taken */
    } else {
        gh_auth_audit(wsi, res->info.sub[0] ? res->info.sub : "-", "auth.login",
                      "denied",
                      json_pack("{s:s, s:s, s:s, s:s}", "error", res->error,
                                "reason", gh_jwt_reason_code(res->why), "iss",
                                res->info.iss, "kid", res->info.kid));
    }
    gh_http_wake(wsi);
}

static int
gh_auth_callback(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);
    char sbuf[128], cbuf[2048], ebuf[128], cookie[128];
    const char *state, *code, *error;
    size_t clen = sizeof(cookie);
    struct gh_login l;
    int64_t now = gh_auth_now_ms() / 1000;

    if (gh_oidc_unavailable(gw->oidc) != NULL)
        return gh_auth_unavailable(wsi, pss, 503);
    state = gh_http_arg(wsi, "state=", sbuf, sizeof(sbuf), NULL);
    code = gh_http_arg(wsi, "code=", cbuf, sizeof(cbuf), NULL);
    error = gh_http_arg(wsi, "error=", ebuf, sizeof(ebuf), NULL);
    /* The login must have started in this browser: its cookie carries the
     * same state. This stops login CSRF (someone else's code). */
    if (state == NULL ||
        gh_auth_cookie_get(wsi, GH_LOGIN_COOKIE, cookie, sizeof(cookie),
                           &clen) != 0 ||
        clen != strlen(state) || gh_ct_memcmp(cookie, state, clen) != 0 ||
        gh_logins_take(gw->logins, state, now, &l) != 0) {
        gh_auth_audit(wsi, "-", "auth.login", "denied",
                      json_pack("{s:s}", "reason", "bad_state"));
        return gh_http_error(wsi, pss, 400, "bad_state",
                             "this sign-in was not started here, was "
                             "already used, or expired; start again");
    }
    pss->cookies[0] = gh_auth_cookie(GH_LOGIN_COOKIE, "", 0, GH_LOGIN_SAMESITE);
    pss->return_to = l.return_to;
    l.return_to = NULL;
    if (error != NULL || code == NULL) {
        gh_login_clear(&l);
        gh_auth_audit(
            wsi, "-", "auth.login", "denied",
            json_pack("{s:s}", "reason", error ? "idp_error" : "no_code"));
        return gh_http_error(wsi, pss, 401, "login_refused",
                             "the identity provider did not sign you in");
    }
    if (gh_oidc_exchange(gw->oidc, code, l.verifier, l.nonce,
                         gh_auth_exchange_done, wsi, &pss->fetch_id) != 0) {
        gh_login_clear(&l);
        return gh_auth_unavailable(wsi, pss, 503);
    }
    gh_login_clear(&l);
    return gh_http_defer(wsi, pss, gh_auth_callback_resume);
}

static int
gh_auth_callback_resume(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);
    unsigned char hash[GH_SESSION_HASH_LEN];
    char id[GH_TOKEN_LEN + 1];
    char *dump;
    int64_t now = gh_auth_now_ms();
    int64_t life = gw->cfg->session_lifetime * 1000;

    if (pss->fetch_id != 0)
        return gh_http_defer(wsi, pss, gh_auth_callback_resume);
    if (pss->login == NULL)
        return gh_http_error(wsi, pss, 401, "login_refused",
                             pss->login_error ? pss->login_error
                                              : "sign-in failed");
    if (gh_auth_token(id) != 0)
        return gh_http_error(wsi, pss, 500, "internal", "no randomness");
    gh_auth_hash(id, hash);
    dump = gh_identity_dump(pss->login);
    if (gh_store_session_add(gw->store, hash, pss->login->user_id, dump, now,
                             now + life) != 0) {
        free(dump);
        gh_wipe(id, sizeof(id));
        return gh_http_error(wsi, pss, 500, "internal",
                             "cannot record the session");
    }
    free(dump);
    gh_auth_audit(wsi, pss->login->user_id, "auth.login", "ok",
                  json_pack("{s:s, s:s}", "via", "browser", "iss",
                            pss->login->iss ? pss->login->iss : ""));
    gh_info("auth", "msg=\"signed in\" user=%s", gh_q(pss->login->user_id));
    free(pss->cookies[1]);
    pss->cookies[1] =
        gh_auth_cookie(GH_SESSION_COOKIE, id, gw->cfg->session_lifetime, "Lax");
    gh_wipe(id, sizeof(id));
    pss->location = gh_strdup(pss->return_to ? pss->return_to : "/");
    return gh_http_respond(wsi, pss, 302, "text/plain", NULL, 0);
}

/* Identity from the session cookie, or NULL. */
static struct gh_identity *
gh_auth_from_cookie(struct lws *wsi, int64_t *expires_ms, bool *had_cookie)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);
    char cookie[128], *json = NULL;
    size_t clen = sizeof(cookie);
    unsigned char hash[GH_SESSION_HASH_LEN];
    struct gh_identity *id = NULL;

    *had_cookie = false;
    if (gh_auth_cookie_get(wsi, GH_SESSION_COOKIE, cookie, sizeof(cookie),
                           &clen) != 0)
        return NULL;
    *had_cookie = true;
    if (clen != GH_TOKEN_LEN)
        return NULL;
    gh_auth_hash(cookie, hash);
    gh_wipe(cookie, sizeof(cookie));
    if (gh_store_session_get(gw->store, hash, gh_auth_now_ms(),
                             gw->cfg->session_idle_timeout * 1000, &json,
                             expires_ms) == 0)
        id = gh_identity_load(json);
    free(json);
    return id;
}

static void
gh_auth_jwks_ready(void *ctx)
{
    struct lws *wsi = ctx;
    struct gh_http_pss *pss = lws_wsi_user(wsi);

    pss->waiting_jwks = false;
    gh_http_wake(wsi);
}

/*
 * The identification both the HTTP and the WebSocket paths share: cookie,
 * then bearer token. may_wait lets an unknown kid ask for a JWKS refresh
 * (GH_AUTH_WAIT). On GH_AUTH_REFUSED *code and *msg say why (static).
 */
enum gh_auth_outcome
gh_auth_check(struct lws *wsi, bool may_wait, struct gh_auth *a,
              const char **code, const char **msg)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);
    struct gh_jwt_info info;
    enum gh_jwt_reason why;
    enum gh_oidc_verdict v;
    int64_t exp_ms = 0;
    bool had_cookie;
    char *auth;
    int len;

    memset(a, 0, sizeof(*a));
    *code = "idp_unavailable";
    *msg = gh_oidc_unavailable(gw->oidc);
    if (*msg == NULL)
        *msg = "sign-in is not available";
    a->id = gh_auth_from_cookie(wsi, &exp_ms, &had_cookie);
    if (a->id != NULL) {
        a->via = "session";
        a->expires = exp_ms / 1000;
        return GH_AUTH_OK;
    }
    len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (len <= 0) {
        if (gh_oidc_unavailable(gw->oidc) != NULL)
            return GH_AUTH_UNAVAILABLE;
        *code = had_cookie ? "session_expired" : "unauthenticated";
        *msg = had_cookie ? "your session has ended; sign in again"
                          : "sign in, or send a bearer token";
        return GH_AUTH_REFUSED;
    }
    auth = gh_alloc((size_t)len + 1, 1);
    if (lws_hdr_copy(wsi, auth, len + 1, WSI_TOKEN_HTTP_AUTHORIZATION) != len ||
        strncasecmp(auth, "Bearer ", 7) != 0) {
        gh_freezero(auth, (size_t)len);
        *code = "unauthenticated";
        *msg = "Authorization must be Bearer <token>";
        return GH_AUTH_REFUSED;
    }
    v = gh_oidc_check_bearer(gw->oidc, auth + 7, (size_t)len - 7,
                             gh_auth_now_ms() / 1000, may_wait, &a->id, &why,
                             &info);
    gh_freezero(auth, (size_t)len);
    switch (v) {
    case GH_OIDC_ACCEPT:
        a->via = "bearer";
        a->expires = a->id->expires;
        return GH_AUTH_OK;
    case GH_OIDC_WAIT:
        return GH_AUTH_WAIT;
    case GH_OIDC_UNAVAILABLE:
        return GH_AUTH_UNAVAILABLE;
    case GH_OIDC_REFUSE:
    default:
        gh_auth_audit(wsi, info.sub[0] ? info.sub : "-", "auth.token", "denied",
                      gh_auth_token_detail(why, &info));
        gh_info("auth", "msg=\"token refused\" reason=%s iss=%s sub=%s kid=%s",
                gh_jwt_reason_code(why), gh_q(info.iss), gh_q(info.sub),
                gh_q(info.kid));
        *code = gh_jwt_reason_code(why);
        *msg = "the bearer token was refused";
        return GH_AUTH_REFUSED;
    }
}

int
gh_auth_identify(struct lws *wsi, struct gh_http_pss *pss,
                 gh_http_resume_fn resume, struct gh_auth *a, int *ret)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);
    const char *code, *msg;

    switch (gh_auth_check(wsi, !pss->retried, a, &code, &msg)) {
    case GH_AUTH_OK:
        return 1;
    case GH_AUTH_WAIT:
        pss->retried = true;
        if (gh_oidc_when_jwks(gw->oidc, gh_auth_jwks_ready, wsi) != 0) {
            *ret = gh_auth_unavailable(wsi, pss, 503);
            return 0;
        }
        pss->waiting_jwks = true;
        *ret = gh_http_defer(wsi, pss, resume);
        return 0;
    case GH_AUTH_UNAVAILABLE:
        *ret = gh_auth_unavailable(wsi, pss, 401);
        return 0;
    case GH_AUTH_REFUSED:
    default:
        *ret = gh_http_error(wsi, pss, 401, code, msg);
        return 0;
    }
}

static int
gh_auth_me(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_auth a;
    json_t *j;
    int r;

    if (!gh_auth_identify(wsi, pss, gh_auth_me, &a, &r))
        return r;
    j = gh_identity_json(a.id);
    json_object_set_new(j, "auth", json_string(a.via));
    json_object_set_new(j, "expires", json_integer(a.expires));
    gh_identity_free(a.id);
    return gh_http_json(wsi, pss, 200, j);
}

/*
 * GET /api/v1/auth/cli: how a CLI signs in, so that gatehousectl and
 * gatehouse need only the gateway's URL. Unauthenticated: it tells nothing
 * the IdP's own discovery does not (the CLI client is public).
 */
static int
gh_auth_cli_info(struct lws *wsi, struct gh_http_pss *pss)
{
    const struct gh_config *cfg = gh_auth_gw(wsi)->cfg;
    json_t *j;

    if (cfg->oidc_issuer[0] == '\0')
        return gh_http_error(wsi, pss, 503, "idp_unavailable",
                             "sign-in is not configured on this gateway "
                             "(oidc.issuer is empty)");
    j = json_pack("{s:s, s:s, s:s, s:s}", "issuer", cfg->oidc_issuer,
                  "client_id", cfg->oidc_cli_client_id, "audience",
                  cfg->oidc_audience, "scopes", cfg->oidc_scopes);
    if (j == NULL)
        return gh_http_error(wsi, pss, 500, "internal", "out of memory");
    if (cfg->oidc_cli_resource[0] != '\0')
        json_object_set_new(j, "resource", json_string(cfg->oidc_cli_resource));
    return gh_http_json(wsi, pss, 200, j);
}

bool
gh_auth_csrf_ok(struct lws *wsi, const struct gh_auth *a)
{
    char hdr[64];

    /* A bearer token is never sent by a browser on its own. */
    if (a != NULL && strcmp(a->via, "bearer") == 0)
        return true;
    /* Cookie: the Origin must be ours, and the body JSON — a cross-site
     * form cannot send application/json without a CORS preflight, which
     * this gateway never grants. */
    return gh_http_same_origin(wsi) &&
           lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_CONTENT_TYPE) >
               0 &&
           strncasecmp(hdr, "application/json", 16) == 0;
}

static int
gh_auth_logout(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);
    char cookie[128], hdr[64];
    size_t clen = sizeof(cookie);
    unsigned char hash[GH_SESSION_HASH_LEN];
    struct gh_identity *id;
    const char *end;
    int64_t exp_ms;
    bool had;
    json_t *j;

    /* CSRF: the Origin must be ours, and the body JSON — a cross-site
     * form cannot send application/json without a CORS preflight, which
     * this gateway never grants. */
    if (!gh_http_same_origin(wsi) ||
        lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0 ||
        strncasecmp(hdr, "application/json", 16) != 0)
        return gh_http_error(wsi, pss, 403, "csrf",
                             "cross-site request refused");
    id = gh_auth_from_cookie(wsi, &exp_ms, &had);
    if (gh_auth_cookie_get(wsi, GH_SESSION_COOKIE, cookie, sizeof(cookie),
                           &clen) == 0) {
        gh_auth_hash(cookie, hash);
        gh_wipe(cookie, sizeof(cookie));
        gh_store_session_end(gw->store, hash, gh_auth_now_ms());
    }
    if (id != NULL)
        gh_auth_audit(wsi, id->user_id, "auth.logout", "ok", NULL);
    gh_identity_free(id);
    pss->cookies[0] = gh_auth_cookie(GH_SESSION_COOKIE, "", 0, "Lax");
    end = gh_oidc_end_session(gw->oidc);
    j = json_pack("{s:b}", "logged_out", 1);
    if (end != NULL) {
        char *u = gh_asprintf("%s%sclient_id=%s&post_logout_redirect_uri=%s",
                              end, strchr(end, '?') ? "&" : "?",
                              gh_oidc_client_id(gw->oidc), gw->url);

        json_object_set_new(j, "end_session_url", json_string(u));
        free(u);
    }
    return gh_http_json(wsi, pss, 200, j);
}

int
gh_auth_http_route(struct lws *wsi, struct gh_http_pss *pss, const char *method,
                   const char *uri)
{
    bool get = method != NULL &&
               (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
    bool post = method != NULL && strcmp(method, "POST") == 0;

    if (strcmp(uri, "/auth/login") == 0 && get)
        return gh_auth_login(wsi, pss);
    if (strcmp(uri, "/auth/callback") == 0 && get)
        return gh_auth_callback(wsi, pss);
    if (strcmp(uri, "/auth/logout") == 0 && post)
        return gh_auth_logout(wsi, pss);
    if (strcmp(uri, "/api/v1/me") == 0 && get)
        return gh_auth_me(wsi, pss);
    if (strcmp(uri, "/api/v1/auth/cli") == 0)
        return get ? gh_auth_cli_info(wsi, pss)
                   : gh_http_error(wsi, pss, 405, "method_not_allowed",
                                   "GET only");
    if (strncmp(uri, "/api/v1/", 8) == 0) {
        int r = gh_api_route(wsi, pss, get, post, uri);

        if (r != GH_AUTH_NOT_MINE)
            return r;
    }
    if (strncmp(uri, "/auth/", 6) == 0 || strncmp(uri, "/api/", 5) == 0)
        return gh_http_error(wsi, pss, get || post ? 404 : 405,
                             get || post ? "not_found" : "method_not_allowed",
                             "no such endpoint");
    return GH_AUTH_NOT_MINE;
}

void
gh_auth_http_closed(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_auth_gw(wsi);

    if (pss->waiting_jwks && gw->oidc != NULL)
        gh_oidc_forget(gw->oidc, wsi);
    pss->waiting_jwks = false;
    if (pss->fetch_id != 0 && gw->oidc != NULL)
        gh_oidc_cancel(gw->oidc, pss->fetch_id);
    pss->fetch_id = 0;
}
