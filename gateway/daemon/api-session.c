/*
 * api-session.c - live sessions and recordings under /api/v1
 * (docs/PROTOCOL.md "Sessions and recordings"):
 *   GET  /api/v1/sessions[?live=1&user=&target=&after=&limit=]
 *   POST /api/v1/sessions/ID/kill            {reason?}   admins
 *   GET  /api/v1/recordings[?user=&target=&since=&until=&after=&limit=]
 *   GET  /api/v1/recordings/ID
 *   GET  /api/v1/recordings/ID/cast          the file
 * A recording the caller may not see answers 404, exactly like one that
 * does not exist: ids are sequential, so a different answer would tell.
 */
#include "api-priv.h"
#include "auth-http.h"
#include "broker.h"
#include "gateway.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/oidc.h"
#include "gatehouse/store.h"
#include "gatehouse/target.h"

#include <stdlib.h>
#include <string.h>

struct gh_sess_list {
    struct lws *wsi;
    const struct gh_identity *who;
    bool all; /* auditor or admin */
    json_t *rows;
    int64_t last_id;
};

static bool
gh_sess_all(const struct gh_identity *who)
{
    return gh_identity_has_role(who, GH_ROLE_AUDITOR) ||
           gh_identity_has_role(who, GH_ROLE_ADMIN);
}

/* May who see (and play) recording r? */
static bool
gh_sess_recording_visible(struct lws *wsi, const struct gh_identity *who,
                          const struct gh_recording *r)
{
    const struct gh_target *t;

    if (gh_sess_all(who))
        return true;
    if (strcmp(r->user_id, who->user_id) != 0)
        return false;
    t = gh_api_target(wsi, r->target);
    return t != NULL && t->owner_playback;
}

static json_t *
gh_sess_json(const struct gh_remote_session *r)
{
    return json_pack(
        "{s:I, s:s, s:s, s:i, s:s, s:s, s:I, s:s, s:I, s:o, s:o, s:I, s:I, "
        "s:o}",
        "id", (json_int_t)r->id, "user", r->user_id, "target", r->target,
        "port", (int)r->port, "protocol", r->protocol, "kind", r->kind,
        "grant_id", (json_int_t)r->grant_id, "source", r->source, "started",
        (json_int_t)r->started_ms, "ended",
        r->ended_ms ? json_integer(r->ended_ms) : json_null(), "end_reason",
        r->end_reason ? json_string(r->end_reason) : json_null(), "bytes_in",
        (json_int_t)r->bytes_in, "bytes_out", (json_int_t)r->bytes_out,
        "recording_id",
        r->recording_id ? json_integer(r->recording_id) : json_null());
}

static json_t *
gh_sess_recording_json(const struct gh_recording *r)
{
    return json_pack(
        "{s:I, s:I, s:s, s:s, s:I, s:I, s:o, s:I, s:o, s:i, s:i, s:s}", "id",
        (json_int_t)r->id, "session_id", (json_int_t)r->session_id, "user",
        r->user_id, "target", r->target, "grant_id", (json_int_t)r->grant_id,
        "started", (json_int_t)r->started_ms, "ended",
        r->ended_ms ? json_integer(r->ended_ms) : json_null(), "size",
        (json_int_t)r->size, "sha256",
        r->sha256 ? json_string(r->sha256) : json_null(), "cols", (int)r->cols,
        "rows", (int)r->rows, "state", r->state);
}

static int
gh_sess_list_session(const struct gh_remote_session *r, void *ctx)
{
    struct gh_sess_list *l = ctx;

    l->last_id = r->id;
    if (l->all || strcmp(r->user_id, l->who->user_id) == 0)
        json_array_append_new(l->rows, gh_sess_json(r));
    return 0;
}

static int
gh_sess_list_recording(const struct gh_recording *r, void *ctx)
{
    struct gh_sess_list *l = ctx;

    l->last_id = r->id;
    if (gh_sess_recording_visible(l->wsi, l->who, r))
        json_array_append_new(l->rows, gh_sess_recording_json(r));
    return 0;
}

static int
gh_sess_list(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    char b_user[GH_ACCESS_FIELD_MAX + 8], b_target[GH_TARGET_NAME_MAX + 16];
    char b_after[24], b_limit[16], b_live[8], b_since[24], b_until[24];
    const char *after, *limit, *since, *until;
    struct gh_remote_filter f;
    struct gh_sess_list l;
    bool bad = false, recordings;
    struct gh_auth a;
    int r, n;

    if (!gh_auth_identify(wsi, pss, gh_sess_list, &a, &r))
        return r;
    recordings = strncmp(pss->post_uri, "/api/v1/recordings", 18) == 0;
    memset(&f, 0, sizeof(f));
    memset(&l, 0, sizeof(l));
    l.wsi = wsi;
    l.who = a.id;
    l.all = gh_sess_all(a.id);
    f.user = gh_api_arg(wsi, "user=", b_user, sizeof(b_user), &bad);
    f.target = gh_api_arg(wsi, "target=", b_target, sizeof(b_target), &bad);
    after = gh_api_arg(wsi, "after=", b_after, sizeof(b_after), &bad);
    limit = gh_api_arg(wsi, "limit=", b_limit, sizeof(b_limit), &bad);
    since = gh_api_arg(wsi, "since=", b_since, sizeof(b_since), &bad);
    until = gh_api_arg(wsi, "until=", b_until, sizeof(b_until), &bad);
    f.live = !recordings &&
             gh_api_arg(wsi, "live=", b_live, sizeof(b_live), &bad) != NULL;
    if (bad) {
        gh_identity_free(a.id);
        return gh_http_error(wsi, pss, 400, "bad_request",
                             "a query argument is too long");
    }
    f.after_id = after ? strtoll(after, NULL, 10) : 0;
    f.limit = limit ? atoi(limit) : GH_LIST_MAX;
    if (f.limit <= 0 || f.limit > GH_LIST_MAX)
        f.limit = GH_LIST_MAX;
    /* since/until are unix seconds, like the audit listing's since. */
    f.since_ms = since ? strtoll(since, NULL, 10) * 1000 : 0;
    f.until_ms = until ? strtoll(until, NULL, 10) * 1000 : 0;
    /* Without the auditor or admin role only one's own rows exist. */
    if (!l.all)
        f.user = a.id->user_id;
    l.rows = json_array();
    n = recordings
            ? gh_store_recording_list(gw->store, &f, gh_sess_list_recording, &l)
            : gh_store_remote_list(gw->store, &f, gh_sess_list_session, &l);
    gh_identity_free(a.id);
    if (n < 0) {
        json_decref(l.rows);
        return gh_http_error(wsi, pss, n == GH_E_INVAL ? 400 : 500,
                             n == GH_E_INVAL ? "bad_request" : "internal",
                             "cannot list");
    }
    return gh_http_json(wsi, pss, 200,
                        json_pack("{s:o, s:I}", "items", l.rows, "next_after",
                                  (json_int_t)(n == f.limit ? l.last_id : 0)));
}

/* POST /api/v1/sessions/ID/kill */
static int
gh_sess_kill(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    struct gh_remote_session *row = NULL;
    const char *verb, *why = NULL;
    json_t *body = NULL;
    struct gh_auth a;
    int64_t id;
    int r, rc;

    if (!gh_auth_identify(wsi, pss, gh_sess_kill, &a, &r))
        return r;
    if (gh_api_id(pss->post_uri, "/api/v1/sessions/", &id, &verb) != 0 ||
        strcmp(verb, "kill") != 0) {
        r = gh_http_error(wsi, pss, 404, "not_found", "no such path");
        goto out;
    }
    if (!gh_auth_csrf_ok(wsi, &a)) {
        r = gh_http_error(wsi, pss, 403, "csrf", "cross-site request refused");
        goto out;
    }
    if (!gh_identity_has_role(a.id, GH_ROLE_ADMIN)) {
        gh_auth_audit(wsi, a.id->user_id, "session.kill", "denied",
                      json_pack("{s:I, s:s}", "session", (json_int_t)id,
                                "reason", "not_an_admin"));
        r = gh_http_error(wsi, pss, 403, "not_an_admin",
                          "only admins end other people's sessions");
        goto out;
    }
    body = gh_api_body(pss);
    if (body == NULL) {
        r = gh_http_error(wsi, pss, 400, "bad_request",
                          "the body must be a JSON object");
        goto out;
    }
    why = json_string_value(json_object_get(body, "reason"));
    if (why != NULL && strlen(why) > GH_REASON_MAX) {
        r = gh_http_error(wsi, pss, 400, "reason_too_long",
                          "the reason is too long");
        goto out;
    }
    if (gh_store_remote_get(gw->store, id, &row) != 0) {
        r = gh_http_error(wsi, pss, 404, "not_found", "no such session");
        goto out;
    }
    rc = gh_broker_kill(gw->broker, id, a.id->user_id, why);
    gh_auth_audit(wsi, a.id->user_id, "session.kill", rc == 0 ? "ok" : "error",
                  json_pack("{s:I, s:s, s:s, s:s}", "session", (json_int_t)id,
                            "user", row->user_id, "target", row->target,
                            "reason", why ? why : ""));
    if (rc != 0)
        r = gh_http_error(wsi, pss, 409, "not_live",
                          "the session is not live on this gateway");
    else
        r = gh_http_json(
            wsi, pss, 200,
            json_pack("{s:I, s:b}", "id", (json_int_t)id, "killed", 1));
out:
    json_decref(body);
    gh_remote_session_free(row);
    gh_identity_free(a.id);
    return r;
}

/* GET /api/v1/recordings/ID[/cast] */
static int
gh_sess_recording(struct lws *wsi, struct gh_http_pss *pss)
{
    struct gh_gateway *gw = gh_api_gw(wsi);
    struct gh_recording *rec = NULL;
    const char *verb;
    struct gh_auth a;
    char *path;
    int64_t id;
    int r;

    if (!gh_auth_identify(wsi, pss, gh_sess_recording, &a, &r))
        return r;
    if (gh_api_id(pss->post_uri, "/api/v1/recordings/", &id, &verb) != 0 ||
        (*verb != '\0' && strcmp(verb, "cast") != 0) ||
        gh_store_recording_get(gw->store, id, &rec) != 0 ||
        !gh_sess_recording_visible(wsi, a.id, rec)) {
        r = gh_http_error(wsi, pss, 404, "not_found", "no such recording");
        goto out;
    }
    if (*verb == '\0') {
        r = gh_http_json(wsi, pss, 200, gh_sess_recording_json(rec));
        goto out;
    }
    gh_auth_audit(wsi, a.id->user_id, "recording.download", "ok",
                  json_pack("{s:I, s:s, s:s}", "recording", (json_int_t)id,
                            "user", rec->user_id, "target", rec->target));
    /* The file name comes from the index, which the broker wrote. */
    path = gh_asprintf("%s/%s",
                       gw->broker ? gh_broker_recordings_dir(gw->broker) : ".",
                       rec->file);
    r = gh_http_file(wsi, path, "application/x-asciicast");
    free(path);
out:
    gh_recording_free(rec);
    gh_identity_free(a.id);
    return r;
}

int
gh_api_session_route(struct lws *wsi, struct gh_http_pss *pss, bool get,
                     bool post, const char *uri)
{
    if ((strcmp(uri, "/api/v1/sessions") == 0 ||
         strcmp(uri, "/api/v1/recordings") == 0) &&
        get)
        return gh_sess_list(wsi, pss);
    if (strncmp(uri, "/api/v1/sessions/", 17) == 0 && post)
        return gh_sess_kill(wsi, pss);
    if (strncmp(uri, "/api/v1/recordings/", 19) == 0 && get)
        return gh_sess_recording(wsi, pss);
    return gh_http_error(wsi, pss, 404, "not_found", "no such path");
}
