/* api.c - JIT requests, approvals, grants and decisions over JSON. */
#include "api.h"
#include "api-priv.h"
#include "broker.h"
#include "auth-http.h"
#include "config-target.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/policy.h"
#include "gatehouse/store.h"
#include "gatehouse/target.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct gh_gateway *
gh_api_gw(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

int64_t
gh_api_now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

const struct gh_target *
gh_api_target(struct lws *wsi, const char *name)
{
    struct gh_gateway *gw = gh_api_gw(wsi);

    return name ? gh_targets_find(gw->cfg->targets, gw->cfg->ntargets, name)
                : NULL;
}

/* May who see t at all? Requesters, its approvers, auditors, admins. */
static int
gh_api_sees(const struct gh_target *t, const struct gh_identity *who)
{
    return gh_identity_has_role(who, GH_ROLE_AUDITOR) ||
           gh_identity_has_role(who, GH_ROLE_ADMIN) ||
           gh_target_may_decide(t, who) ||
           (gh_identity_has_role(who, GH_ROLE_USER) &&
            (*t->requesters == '\0' ||
             gh_identity_in_groups(who, t->requesters)));
}

/* The request body as a JSON object (new ref), or NULL. */
json_t *
gh_api_body(struct gh_http_pss *pss)
{
    json_t *j;

    if (pss->req_body == NULL)
        return json_object();
    j = json_loadb(pss->req_body, pss->req_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *
gh_api_request_json(const struct gh_access_request *r, int64_t grant_id)
{
    json_t *j = json_pack(
        "{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I}", "id",
        (json_int_t)r->id, "requester", r->requester, "target", r->target,
        "ports", r->ports, "duration", (json_int_t)r->duration_s, "reason",
        r->reason ? r->reason : "", "source_cidr",
        r->source_cidr ? r->source_cidr : "", "state", r->state, "created",
        (json_int_t)(r->created_ms / 1000));

    if (r->decided_by != NULL)
        json_object_set_new(j, "decided_by", json_string(r->decided_by));
    if (r->decision_reason != NULL)
        json_object_set_new(j, "decision_reason",
                            json_string(r->decision_reason));
    if (grant_id > 0)
        json_object_set_new(j, "grant_id", json_integer(grant_id));
    return j;
}

static int
gh_api_targets(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    struct gh_auth a;
    json_t *list;
    size_t i;
    int r;

    if (!gh_auth_identify(wsi, pss, gh_api_targets, &a, &r))
        return r;
    list = json_array();
    for (i = 0; i < gw->cfg->ntargets; i++) {
        const struct gh_target *t = gw->cfg->targets[i];

        if (!gh_api_sees(t, a.id))
            continue;
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:b, s:b, s:b, s:b}", "name",
                            t->name, "ports", t->ports, "max_duration",
                            (json_int_t)t->max_duration, "reason_required",
                            (int)t->reason_required, "recording_required",
                            (int)t->recording_required, "can_request",
                            gh_identity_has_role(a.id, GH_ROLE_USER) &&
                                (*t->requesters == '\0' ||
                                 gh_identity_in_groups(a.id, t->requesters)),
                            "can_approve", gh_target_may_decide(t, a.id)));
    }
    gh_identity_free(a.id);
    return gh_http_json(wsi, pss, 200, json_pack("{s:o}", "targets", list));
}

/* Audit a JIT decision: actor, action, outcome, and what it was about. */
static void
gh_api_audit(struct lws *wsi, const struct gh_auth *a, const char *action,
             const char *outcome, const char *target, int64_t id,
             const char *why)
{
    gh_auth_audit(wsi, a->id->user_id, action, outcome,
                  json_pack("{s:s, s:I, s:s}", "target", target ? target : "",
                            "id", (json_int_t)id, "reason", why ? why : ""));
}

/* What a request or a direct grant asks for, parsed from its body. */
struct gh_api_ask {
    json_t *body;              /* owned */
    const struct gh_target *t; /* the target, visible to the caller */
    char *ports;               /* canonical (owned) */
    const char *reason, *cidr; /* borrowed from body, may be NULL */
    json_int_t duration;
};

static void
gh_api_ask_free(struct gh_api_ask *k)
{
    json_decref(k->body);
    free(k->ports);
}

/*
 * Parse {target, ports, duration, reason?, source_cidr?} (plus whatever
 * else the caller reads from k->body). Returns 1 when usable; otherwise 0
 * with *r the error response. Targets the caller may not see do not exist.
 */
static int
gh_api_ask_parse(struct lws *wsi, struct gh_http_pss *pss,
                 const struct gh_identity *who, struct gh_api_ask *k, int *r)
{
    const char *tname, *ports_in;

    memset(k, 0, sizeof(*k));
    k->body = gh_api_body(pss);
    tname = json_string_value(json_object_get(k->body, "target"));
    ports_in = json_string_value(json_object_get(k->body, "ports"));
    k->reason = json_string_value(json_object_get(k->body, "reason"));
    k->cidr = json_string_value(json_object_get(k->body, "source_cidr"));
    k->duration = json_integer_value(json_object_get(k->body, "duration"));
    k->t = gh_api_target(wsi, tname);
    if (k->body == NULL || tname == NULL || ports_in == NULL ||
        !json_is_integer(json_object_get(k->body, "duration")))
        *r = gh_http_error(wsi, pss, 400, "bad_request",
                           "expected {target, ports, duration, reason}");
    else if (k->t == NULL || !gh_api_sees(k->t, who))
        *r = gh_http_error(wsi, pss, 404, "unknown_target", "no such target");
    else if (gh_ports_canonical(ports_in, &k->ports) != 0)
        *r = gh_http_error(wsi, pss, 400, "bad_ports",
                           "ports must be like \"22\" or \"22,3389\"");
    else if (k->cidr != NULL && *k->cidr != '\0' &&
             gh_policy_cidr_match(k->cidr, "::1") < 0)
        *r = gh_http_error(wsi, pss, 400, "bad_source_cidr",
                           "source_cidr must be an address or CIDR");
    else
        return 1;
    return 0;
}

static int
gh_api_request_create(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    struct gh_access_request req, *stored = NULL;
    struct gh_api_ask k;
    enum gh_rule rule;
    struct gh_auth a;
    int64_t id = 0, gid = 0, now = gh_api_now_ms();
    int r;

    if (!gh_auth_identify(wsi, pss, gh_api_request_create, &a, &r))
        return r;
    memset(&k, 0, sizeof(k));
    if (!gh_auth_csrf_ok(wsi, &a)) {
        r = gh_http_error(wsi, pss, 403, "csrf", "cross-site request refused");
        goto out;
    }
    if (!gh_api_ask_parse(wsi, pss, a.id, &k, &r))
        goto out;
    rule = gh_target_check_request(k.t, a.id, k.ports, k.duration, k.reason);
    if (rule != GH_RULE_OK) {
        gh_api_audit(wsi, &a, "jit.request", "denied", k.t->name, 0,
                     gh_rule_code(rule));
        r = gh_http_error(wsi, pss, 403, gh_rule_code(rule),
                          "the target's policy refuses this request");
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.requester = a.id->user_id;
    req.target = k.t->name;
    req.ports = k.ports;
    req.duration_s = k.duration;
    req.reason = k.reason ? k.reason : "";
    req.source_cidr = k.cidr ? k.cidr : "";
    req.created_ms = now;
    if (gh_store_request_add(gw->store, &req, &id) != 0) {
        r = gh_http_error(wsi, pss, 500, "internal",
                          "cannot record the request");
        goto out;
    }
    gh_api_audit(wsi, &a, "jit.request", "ok", k.t->name, id, NULL);
    if (gh_target_auto_approves(k.t, a.id) &&
        gh_store_request_approve(gw->store, id, "policy",
                                 "auto-approved by policy", "auto", k.duration,
                                 now, &gid) == 0)
        gh_auth_audit(wsi, "policy", "jit.approve", "ok",
                      json_pack("{s:s, s:I, s:s, s:I}", "target", k.t->name,
                                "id", (json_int_t)id, "how", "auto", "grant_id",
                                (json_int_t)gid));
    if (gh_store_request_get(gw->store, id, &stored) != 0)
        r = gh_http_error(wsi, pss, 500, "internal", "cannot read back");
    else
        r = gh_http_json(wsi, pss, 201, gh_api_request_json(stored, gid));
out:
    gh_api_ask_free(&k);
    gh_access_request_free(stored);
    gh_identity_free(a.id);
    return r;
}

/* Parse "/api/v1/<what>/ID[/verb]"; 0 on success. */
int
gh_api_id(const char *uri, const char *prefix, int64_t *id, const char **verb)
{
    size_t n = strlen(prefix);
    char *end;
    long long v;

    if (strncmp(uri, prefix, n) != 0 || uri[n] < '1' || uri[n] > '9')
        return GH_E_INVAL;
    v = strtoll(uri + n, &end, 10);
    if (v <= 0 || (*end != '\0' && *end != '/'))
        return GH_E_INVAL;
    *id = v;
    *verb = *end == '/' ? end + 1 : "";
    return 0;
}

static int
gh_api_request_one(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    struct gh_access_request *req = NULL;
    const struct gh_target *t;
    const char *verb, *why;
    json_int_t dur;
    struct gh_auth a;
    enum gh_rule rule;
    int64_t id, gid = 0, now = gh_api_now_ms();
    json_t *body = NULL;
    int r, rc;

    if (!gh_auth_identify(wsi, pss, gh_api_request_one, &a, &r))
        return r;
    if (gh_api_id(pss->post_uri, "/api/v1/requests/", &id, &verb) != 0 ||
        gh_store_request_get(gw->store, id, &req) != 0) {
        r = gh_http_error(wsi, pss, 404, "not_found", "no such request");
        goto out;
    }
    t = gh_api_target(wsi, req->target);
    /* Not yours and not yours to decide: it does not exist (no IDOR). */
    if (strcmp(req->requester, a.id->user_id) != 0 &&
        !gh_identity_has_role(a.id, GH_ROLE_AUDITOR) &&
        !gh_identity_has_role(a.id, GH_ROLE_ADMIN) &&
        (t == NULL || !gh_target_may_decide(t, a.id))) {
        r = gh_http_error(wsi, pss, 404, "not_found", "no such request");
        goto out;
    }
    if (*verb == '\0') {
        r = pss->head || lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0
                ? gh_http_json(wsi, pss, 200, gh_api_request_json(req, 0))
                : gh_http_error(wsi, pss, 405, "method_not_allowed", "use GET");
        goto out;
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0) {
        r = gh_http_error(wsi, pss, 405, "method_not_allowed", "use POST");
        goto out;
    }
    if (!gh_auth_csrf_ok(wsi, &a)) {
        r = gh_http_error(wsi, pss, 403, "csrf", "cross-site request refused");
        goto out;
    }
    body = gh_api_body(pss);
    why = json_string_value(json_object_get(body, "reason"));
    if (body == NULL) {
        r = gh_http_error(wsi, pss, 400, "bad_request", "body must be JSON");
        goto out;
    }
    if (strcmp(verb, "approve") == 0) {
        dur = json_is_integer(json_object_get(body, "duration"))
                  ? json_integer_value(json_object_get(body, "duration"))
                  : req->duration_s;
        rule = t == NULL ? GH_RULE_NOT_AN_APPROVER
                         : gh_target_check_approval(t, a.id, req, dur);
        if (rule != GH_RULE_OK) {
            gh_api_audit(wsi, &a, "jit.approve", "denied", req->target, id,
                         gh_rule_code(rule));
            r = gh_http_error(wsi, pss, rule == GH_RULE_NOT_PENDING ? 409 : 403,
                              gh_rule_code(rule), "approval refused");
            goto out;
        }
        rc = gh_store_request_approve(gw->store, id, a.id->user_id, why,
                                      "approved", dur, now, &gid);
    } else if (strcmp(verb, "deny") == 0) {
        if (t == NULL || !gh_target_may_decide(t, a.id)) {
            r = gh_http_error(wsi, pss, 403, "not_an_approver",
                              "only an approver of this target may deny");
            goto out;
        }
        rc = gh_store_request_close(gw->store, id, "denied", a.id->user_id, why,
                                    now);
    } else if (strcmp(verb, "cancel") == 0) {
        if (strcmp(req->requester, a.id->user_id) != 0) {
            r = gh_http_error(wsi, pss, 403, "not_requester",
                              "only the requester may cancel");
            goto out;
        }
        rc = gh_store_request_close(gw->store, id, "cancelled", a.id->user_id,
                                    why, now);
    } else {
        r = gh_http_error(wsi, pss, 404, "not_found", "no such action");
        goto out;
    }
    if (rc != 0) {
        r = gh_http_error(wsi, pss, rc == GH_E_EXISTS ? 409 : 500,
                          rc == GH_E_EXISTS ? "not_pending" : "internal",
                          rc == GH_E_EXISTS ? "already decided"
                                            : "store failure");
        goto out;
    }
    {
        char action[32];

        snprintf(action, sizeof(action), "jit.%s", verb);
        gh_api_audit(wsi, &a, action, "ok", req->target, id, why);
    }
    gh_access_request_free(req);
    req = NULL;
    if (gh_store_request_get(gw->store, id, &req) != 0) {
        r = gh_http_error(wsi, pss, 500, "internal", "cannot read back");
        goto out;
    }
    r = gh_http_json(wsi, pss, 200, gh_api_request_json(req, gid));
out:
    json_decref(body);
    gh_access_request_free(req);
    gh_identity_free(a.id);
    return r;
}

static int
gh_api_grant_revoke(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    struct gh_grant *g = NULL;
    const struct gh_target *t;
    const char *verb, *why;
    struct gh_auth a;
    json_t *body = NULL;
    int64_t id;
    int r, rc;

    if (!gh_auth_identify(wsi, pss, gh_api_grant_revoke, &a, &r))
        return r;
    if (gh_api_id(pss->post_uri, "/api/v1/grants/", &id, &verb) != 0 ||
        strcmp(verb, "revoke") != 0 ||
        gh_store_grant_get(gw->store, id, &g) != 0) {
        r = gh_http_error(wsi, pss, 404, "not_found", "no such grant");
        goto out;
    }
    t = gh_api_target(wsi, g->target);
    if (!gh_identity_has_role(a.id, GH_ROLE_ADMIN) &&
        (t == NULL || !gh_target_may_decide(t, a.id))) {
        r = gh_http_error(wsi, pss, 404, "not_found", "no such grant");
        goto out;
    }
    if (!gh_auth_csrf_ok(wsi, &a)) {
        r = gh_http_error(wsi, pss, 403, "csrf", "cross-site request refused");
        goto out;
    }
    body = gh_api_body(pss);
    why = json_string_value(json_object_get(body, "reason"));
    rc = gh_store_grant_revoke(gw->store, id, a.id->user_id, why,
                               gh_api_now_ms());
    if (rc != 0) {
        r = gh_http_error(wsi, pss, rc == GH_E_NOTFOUND ? 409 : 500,
                          rc == GH_E_NOTFOUND ? "not_live" : "internal",
                          rc == GH_E_NOTFOUND ? "the grant is not live"
                                              : "store failure");
        goto out;
    }
    gh_api_audit(wsi, &a, "jit.revoke", "ok", g->target, id, why);
    /* Sessions on this node end now; other nodes see it within a tick. */
    gh_broker_grant_revoked(gw->broker, id);
    r = gh_http_json(
        wsi, pss, 200,
        json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
out:
    json_decref(body);
    gh_grant_free(g);
    gh_identity_free(a.id);
    return r;
}

/* POST /api/v1/grants: an admin grants access directly (recorded as
 * such); the target's ports and maximum duration still hold. */
static int
gh_api_grant_create(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    struct gh_api_ask k;
    struct gh_grant g;
    struct gh_auth a;
    const char *user;
    int64_t id = 0, now = gh_api_now_ms();
    int r;

    if (!gh_auth_identify(wsi, pss, gh_api_grant_create, &a, &r))
        return r;
    memset(&k, 0, sizeof(k));
    if (!gh_identity_has_role(a.id, GH_ROLE_ADMIN)) {
        r = gh_http_error(wsi, pss, 403, "not_an_admin",
                          "only admins grant access directly");
        goto out;
    }
    if (!gh_auth_csrf_ok(wsi, &a)) {
        r = gh_http_error(wsi, pss, 403, "csrf", "cross-site request refused");
        goto out;
    }
    if (!gh_api_ask_parse(wsi, pss, a.id, &k, &r))
        goto out;
    user = json_string_value(json_object_get(k.body, "user"));
    if (user == NULL || *user == '\0' || strlen(user) > GH_ACCESS_FIELD_MAX) {
        r = gh_http_error(wsi, pss, 400, "bad_request",
                          "expected {user, target, ports, duration, reason}");
    } else if (!gh_target_ports_declared(k.t, k.ports)) {
        r = gh_http_error(wsi, pss, 403, "port_not_declared",
                          "the target does not offer that port");
    } else if (k.duration <= 0 || k.duration > k.t->max_duration ||
               k.duration > GH_GRANT_HARD_CAP_S) {
        r = gh_http_error(wsi, pss, 403, "bad_duration",
                          "longer than the target allows");
    } else {
        memset(&g, 0, sizeof(g));
        g.user_id = user;
        g.target = k.t->name;
        g.ports = k.ports;
        g.source_cidr = k.cidr ? k.cidr : "";
        g.starts_ms = now;
        g.expires_ms = now + (int64_t)k.duration * 1000;
        g.how = "direct";
        g.created_by = a.id->user_id;
        g.created_ms = now;
        if (gh_store_grant_add(gw->store, &g, &id) != 0) {
            r = gh_http_error(wsi, pss, 500, "internal",
                              "cannot record the grant");
            goto out;
        }
        gh_auth_audit(wsi, a.id->user_id, "jit.grant", "ok",
                      json_pack("{s:s, s:s, s:s, s:I, s:s}", "user", user,
                                "target", k.t->name, "ports", k.ports, "id",
                                (json_int_t)id, "reason",
                                k.reason ? k.reason : ""));
        r = gh_http_json(wsi, pss, 201,
                         json_pack("{s:I, s:s, s:s, s:s, s:I, s:s}", "id",
                                   (json_int_t)id, "user", user, "target",
                                   k.t->name, "ports", k.ports, "expires",
                                   (json_int_t)(g.expires_ms / 1000), "how",
                                   "direct"));
    }
out:
    gh_api_ask_free(&k);
    gh_identity_free(a.id);
    return r;
}

const char *
gh_api_door(struct lws *wsi, const struct gh_identity *who, const char *tname,
            unsigned port, const char *via, struct gh_policy_answer *ans,
            const struct gh_target **target)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    const struct gh_target *t = gh_api_target(wsi, tname);
    char peer[64] = "";
    const char *code;

    lws_get_peer_simple(wsi, peer, sizeof(peer));
    memset(ans, 0, sizeof(*ans));
    if (t == NULL || !gh_api_sees(t, who))
        code = "unknown_target";
    else if (!gh_policy_port_in(t->ports, port))
        code = "port_not_declared";
    else if (gh_policy_decide(gw->store, who->user_id, peer, t->name, port,
                              gh_api_now_ms(), ans) != 0)
        code = "error"; /* fails closed */
    else
        code = gh_decision_code(ans->decision);
    gh_auth_audit(wsi, who->user_id, "jit.decide",
                  strcmp(code, "allow") == 0 ? "ok" : "denied",
                  json_pack("{s:s, s:I, s:s, s:I, s:s}", "target",
                            tname ? tname : "", "port", (json_int_t)port,
                            "decision", code, "grant_id",
                            (json_int_t)ans->grant_id, "via", via));
    if (target != NULL)
        *target = strcmp(code, "allow") == 0 ? t : NULL;
    return code;
}

static int
gh_api_decide(struct lws *wsi, struct gh_http_pss *pss)
{
    char tbuf[GH_TARGET_NAME_MAX + 16], pbuf[16];
    const char *tname, *pstr, *code;
    struct gh_policy_answer ans;
    struct gh_auth a;
    unsigned long port;
    char *end;
    int r;

    if (!gh_auth_identify(wsi, pss, gh_api_decide, &a, &r))
        return r;
    tname = gh_http_arg(wsi, "target=", tbuf, sizeof(tbuf), NULL);
    pstr = gh_http_arg(wsi, "port=", pbuf, sizeof(pbuf), NULL);
    port = pstr ? strtoul(pstr, &end, 10) : 0;
    if (pstr == NULL || *end != '\0' || port == 0 || port > 65535) {
        r = gh_http_error(wsi, pss, 400, "bad_request",
                          "expected ?target=NAME&port=N");
        goto out;
    }
    code = gh_api_door(wsi, a.id, tname, (unsigned)port, "api", &ans, NULL);
    r = gh_http_json(wsi, pss, 200,
                     json_pack("{s:s, s:I, s:I}", "decision", code, "grant_id",
                               (json_int_t)ans.grant_id, "expires",
                               (json_int_t)(ans.expires_ms / 1000)));
out:
    gh_identity_free(a.id);
    return r;
}

/* A query argument into buf (NULL when absent or empty); one that does
 * not fit sets *bad, so a filter is never silently dropped. */
const char *
gh_api_arg(struct lws *wsi, const char *name, char *buf, size_t len, bool *bad)
{
    bool too_long;
    const char *v = gh_http_arg(wsi, name, buf, len, &too_long);

    if (too_long)
        *bad = true;
    return v != NULL && *v != '\0' ? v : NULL;
}

struct gh_api_list {
    struct lws *wsi;
    const struct gh_identity *who;
    bool all; /* auditor or admin: sees every row */
    json_t *rows;
    int64_t last_id;
};

/* May the lister see a row about target owned by user? */
static bool
gh_api_list_visible(struct gh_api_list *l, const char *user, const char *target)
{
    const struct gh_target *t;

    if (l->all || strcmp(user, l->who->user_id) == 0)
        return true;
    t = gh_api_target(l->wsi, target);
    return t != NULL && gh_target_may_decide(t, l->who);
}

static int
gh_api_list_request(const struct gh_access_request *r, void *ctx)
{
    struct gh_api_list *l = ctx;

    l->last_id = r->id;
    if (gh_api_list_visible(l, r->requester, r->target))
        json_array_append_new(l->rows, gh_api_request_json(r, 0));
    return 0;
}

static int
gh_api_list_grant(const struct gh_grant *g, void *ctx)
{
    struct gh_api_list *l = ctx;

    l->last_id = g->id;
    if (gh_api_list_visible(l, g->user_id, g->target))
        json_array_append_new(
            l->rows,
            json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, "
                      "s:I}",
                      "id", (json_int_t)g->id, "request_id",
                      (json_int_t)g->request_id, "user", g->user_id, "target",
                      g->target, "ports", g->ports, "source_cidr",
                      g->source_cidr ? g->source_cidr : "", "starts",
                      (json_int_t)(g->starts_ms / 1000), "expires",
                      (json_int_t)(g->expires_ms / 1000), "how", g->how,
                      "created_by", g->created_by, "revoked",
                      (json_int_t)(g->revoked_ms / 1000)));
    return 0;
}

static int
gh_api_list_audit(const struct gh_audit_row *row, void *ctx)
{
    struct gh_api_list *l = ctx;
    json_t *detail =
        row->ev.detail ? json_loads(row->ev.detail, 0, NULL) : NULL;

    l->last_id = row->id;
    json_array_append_new(
        l->rows,
        json_pack("{s:I, s:I, s:s, s:s, s:s?, s:s, s:s?, s:o}", "id",
                  (json_int_t)row->id, "ts", (json_int_t)row->ev.ts_ms, "actor",
                  row->ev.actor, "action", row->ev.action, "object",
                  row->ev.object, "outcome", row->ev.outcome, "source",
                  row->ev.source, "detail", detail ? detail : json_null()));
    return 0;
}

static int
gh_api_list(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    char b_state[32], b_user[GH_ACCESS_FIELD_MAX + 8];
    char b_target[GH_TARGET_NAME_MAX + 16], b_after[24], b_limit[16];
    char b_live[8], b_action[64], b_since[24];
    struct gh_access_filter f;
    struct gh_api_list l;
    const char *after, *limit, *since;
    struct gh_auth a;
    bool bad = false;
    int r, n;

    if (!gh_auth_identify(wsi, pss, gh_api_list, &a, &r))
        return r;
    memset(&f, 0, sizeof(f));
    memset(&l, 0, sizeof(l));
    l.wsi = wsi;
    l.who = a.id;
    l.all = gh_identity_has_role(a.id, GH_ROLE_AUDITOR) ||
            gh_identity_has_role(a.id, GH_ROLE_ADMIN);
    l.rows = json_array();
    f.state = gh_api_arg(wsi, "state=", b_state, sizeof(b_state), &bad);
    f.user = gh_api_arg(wsi, "user=", b_user, sizeof(b_user), &bad);
    f.target = gh_api_arg(wsi, "target=", b_target, sizeof(b_target), &bad);
    after = gh_api_arg(wsi, "after=", b_after, sizeof(b_after), &bad);
    limit = gh_api_arg(wsi, "limit=", b_limit, sizeof(b_limit), &bad);
    f.after_id = after ? strtoll(after, NULL, 10) : 0;
    f.limit = limit ? atoi(limit) : GH_LIST_MAX;
    if (bad) {
        json_decref(l.rows);
        gh_identity_free(a.id);
        return gh_http_error(wsi, pss, 400, "bad_request",
                             "a query argument is too long");
    }
    if (f.limit <= 0 || f.limit > GH_LIST_MAX)
        f.limit = GH_LIST_MAX;
    /* Someone who decides on no target lists only their own rows. */
    if (!l.all && f.user == NULL) {
        size_t i;
        bool approver = false;

        for (i = 0; i < gw->cfg->ntargets; i++)
            approver =
                approver || gh_target_may_decide(gw->cfg->targets[i], a.id);
        if (!approver)
            f.user = a.id->user_id;
    }
    if (strcmp(pss->post_uri, "/api/v1/requests") == 0) {
        n = gh_store_requests_list(gw->store, &f, gh_api_list_request, &l);
    } else if (strcmp(pss->post_uri, "/api/v1/grants") == 0) {
        if (gh_api_arg(wsi, "live=", b_live, sizeof(b_live), &bad) != NULL)
            f.live_at_ms = gh_api_now_ms();
        n = gh_store_grants_list(gw->store, &f, gh_api_list_grant, &l);
    } else {
        if (!l.all) {
            json_decref(l.rows);
            gh_identity_free(a.id);
            return gh_http_error(wsi, pss, 403, "not_an_auditor",
                                 "the audit log is for auditors and admins");
        }
        since = gh_api_arg(wsi, "since=", b_since, sizeof(b_since), &bad);
        n = gh_store_audit_query(
            gw->store, f.after_id, f.limit, f.user,
            gh_api_arg(wsi, "action=", b_action, sizeof(b_action), &bad),
            since ? strtoll(since, NULL, 10) * 1000 : 0, gh_api_list_audit, &l);
    }
    gh_identity_free(a.id);
    if (bad) { /* an argument read after the first check was too long */
        json_decref(l.rows);
        return gh_http_error(wsi, pss, 400, "bad_request",
                             "a query argument is too long");
    }
    if (n < 0) {
        json_decref(l.rows);
        return gh_http_error(wsi, pss, n == GH_E_INVAL ? 400 : 500,
                             n == GH_E_INVAL ? "bad_request" : "internal",
                             "cannot list");
    }
    /* next_after pages on: rows the lister may not see still advance it. */
    return gh_http_json(wsi, pss, 200,
                        json_pack("{s:o, s:I}", "items", l.rows, "next_after",
                                  (json_int_t)(n == f.limit ? l.last_id : 0)));
}

int
gh_api_route(struct lws *wsi, struct gh_http_pss *pss, bool get, bool post,
             const char *uri)
{
    /* Deferred calls run again from pss->post_uri. */
    if (uri != pss->post_uri) {
        if (strlen(uri) >= sizeof(pss->post_uri))
            return gh_http_error(wsi, pss, 404, "not_found", "no such path");
        strcpy(pss->post_uri, uri);
    }
    if (strcmp(uri, "/api/v1/targets") == 0 && get)
        return gh_api_targets(wsi, pss);
    if (strcmp(uri, "/api/v1/requests") == 0 && post)
        return gh_api_request_create(wsi, pss);
    if ((strcmp(uri, "/api/v1/requests") == 0 ||
         strcmp(uri, "/api/v1/grants") == 0 ||
         strcmp(uri, "/api/v1/audit") == 0) &&
        get)
        return gh_api_list(wsi, pss);
    if (strcmp(uri, "/api/v1/decide") == 0 && get)
        return gh_api_decide(wsi, pss);
    if (strncmp(uri, "/api/v1/sessions", 16) == 0 ||
        strncmp(uri, "/api/v1/recordings", 18) == 0)
        return gh_api_session_route(wsi, pss, get, post, uri);
    if (strncmp(uri, "/api/v1/requests/", 17) == 0 && (get || post))
        return gh_api_request_one(wsi, pss);
    if (strcmp(uri, "/api/v1/grants") == 0 && post)
        return gh_api_grant_create(wsi, pss);
    if (strncmp(uri, "/api/v1/grants/", 15) == 0 && post)
        return gh_api_grant_revoke(wsi, pss);
    return GH_AUTH_NOT_MINE;
}
