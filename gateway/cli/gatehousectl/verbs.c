/* verbs.c - gatehousectl's verbs: parse, call /api/v1, print. */
#include "ctl.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct gh_ctl_col gh_ctl_request_cols[] = {
    {"ID", "id", GH_CTL_TEXT},
    {"STATE", "state", GH_CTL_TEXT},
    {"REQUESTER", "requester", GH_CTL_TEXT},
    {"TARGET", "target", GH_CTL_TEXT},
    {"PORTS", "ports", GH_CTL_TEXT},
    {"DURATION", "duration", GH_CTL_DUR},
    {"CREATED", "created", GH_CTL_TIME},
    {"DECIDED_BY", "decided_by", GH_CTL_TEXT},
    {"REASON", "reason", GH_CTL_TEXT},
};

static const struct gh_ctl_col gh_ctl_request_kv[] = {
    {"id:", "id", GH_CTL_TEXT},
    {"state:", "state", GH_CTL_TEXT},
    {"requester:", "requester", GH_CTL_TEXT},
    {"target:", "target", GH_CTL_TEXT},
    {"ports:", "ports", GH_CTL_TEXT},
    {"duration:", "duration", GH_CTL_DUR},
    {"reason:", "reason", GH_CTL_TEXT},
    {"source_cidr:", "source_cidr", GH_CTL_TEXT},
    {"created:", "created", GH_CTL_TIME},
    {"decided_by:", "decided_by", GH_CTL_TEXT},
    {"decision_reason:", "decision_reason", GH_CTL_TEXT},
    {"grant_id:", "grant_id", GH_CTL_TEXT},
};

static const struct gh_ctl_col gh_ctl_grant_cols[] = {
    {"ID", "id", GH_CTL_TEXT},
    {"USER", "user", GH_CTL_TEXT},
    {"TARGET", "target", GH_CTL_TEXT},
    {"PORTS", "ports", GH_CTL_TEXT},
    {"STARTS", "starts", GH_CTL_TIME},
    {"EXPIRES", "expires", GH_CTL_TIME},
    {"HOW", "how", GH_CTL_TEXT},
    {"BY", "created_by", GH_CTL_TEXT},
    {"REVOKED", "revoked", GH_CTL_OPTTIME},
    {"REQUEST", "request_id", GH_CTL_TEXT},
};

static const struct gh_ctl_col gh_ctl_audit_cols[] = {
    {"ID", "id", GH_CTL_TEXT},         {"TIME", "ts", GH_CTL_TIME_MS},
    {"ACTOR", "actor", GH_CTL_TEXT},   {"ACTION", "action", GH_CTL_TEXT},
    {"OBJECT", "object", GH_CTL_TEXT}, {"OUTCOME", "outcome", GH_CTL_TEXT},
    {"SOURCE", "source", GH_CTL_TEXT}, {"DETAIL", "detail", GH_CTL_TEXT},
};

static const struct gh_ctl_col gh_ctl_target_cols[] = {
    {"NAME", "name", GH_CTL_TEXT},
    {"PORTS", "ports", GH_CTL_TEXT},
    {"MAX_DURATION", "max_duration", GH_CTL_DUR},
    {"REASON", "reason_required", GH_CTL_BOOL},
    {"RECORDED", "recording_required", GH_CTL_BOOL},
    {"REQUEST", "can_request", GH_CTL_BOOL},
    {"APPROVE", "can_approve", GH_CTL_BOOL},
};

static const struct gh_ctl_col gh_ctl_decide_kv[] = {
    {"decision:", "decision", GH_CTL_TEXT},
    {"grant_id:", "grant_id", GH_CTL_TEXT},
    {"expires:", "expires", GH_CTL_OPTTIME},
};

static const struct gh_ctl_col gh_ctl_me_kv[] = {
    {"user_id:", "user_id", GH_CTL_TEXT}, {"name:", "name", GH_CTL_TEXT},
    {"email:", "email", GH_CTL_TEXT},     {"groups:", "groups", GH_CTL_TEXT},
    {"roles:", "roles", GH_CTL_TEXT},     {"auth:", "auth", GH_CTL_TEXT},
    {"expires:", "expires", GH_CTL_TIME},
};

static const struct gh_ctl_col gh_ctl_grant_kv[] = {
    {"id:", "id", GH_CTL_TEXT},           {"user:", "user", GH_CTL_TEXT},
    {"target:", "target", GH_CTL_TEXT},   {"ports:", "ports", GH_CTL_TEXT},
    {"expires:", "expires", GH_CTL_TIME}, {"how:", "how", GH_CTL_TEXT},
};

/* Print a list answer {"items":[...],"next_after"} or its JSON. */
static void
gh_ctl_print_list(struct gh_ctl *ctl, json_t *j, const struct gh_ctl_col *c,
                  size_t n)
{
    if (ctl->json) {
        gh_ctl_print_json(j);
        return;
    }
    gh_ctl_table_print(stdout, c, n, json_object_get(j, "items"));
    gh_ctl_next_page(j);
}

static void
gh_ctl_print_obj(struct gh_ctl *ctl, json_t *j, const struct gh_ctl_col *c,
                 size_t n)
{
    if (ctl->json)
        gh_ctl_print_json(j);
    else
        gh_ctl_kv_print(stdout, c, n, j);
}

/* GET path, print as list or object. */
static int
gh_ctl_get(struct gh_ctl *ctl, const char *path, const struct gh_ctl_col *c,
           size_t n, int list)
{
    json_t *j = NULL;
    int r = gh_ctl_api(ctl, "GET", path, NULL, &j, NULL, NULL);

    if (r == 0) {
        if (list)
            gh_ctl_print_list(ctl, j, c, n);
        else
            gh_ctl_print_obj(ctl, j, c, n);
    }
    json_decref(j);
    return r;
}

/*
 * GET a listing at base with every filter the verb's options could set
 * (the others are NULL and add nothing), printed as a table of cols.
 * since is the --since value already turned into unix seconds, or NULL.
 */
static int
gh_ctl_list(struct gh_ctl *ctl, const char *base, const struct gh_ctl_args *a,
            const char *since, const struct gh_ctl_col *cols, size_t ncols)
{
    char *path = gh_strdup(base);
    int r;

    gh_ctl_url_add_query(&path, "state", a->state);
    gh_ctl_url_add_query(&path, "user", a->user);
    gh_ctl_url_add_query(&path, "target", a->target);
    gh_ctl_url_add_query(&path, "live", a->live ? "1" : NULL);
    gh_ctl_url_add_query(&path, "action", a->action);
    gh_ctl_url_add_query(&path, "since", since);
    gh_ctl_url_add_query(&path, "limit", a->limit);
    gh_ctl_url_add_query(&path, "after", a->after);
    r = gh_ctl_get(ctl, path, cols, ncols, 1);
    free(path);
    return r;
}

/* ---- verbs ---- */

int
gh_ctl_requests_list(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                     char **argv)
{
    static const struct option o[] = {
        {"state", required_argument, NULL, GH_OPT_STATE},
        {"user", required_argument, NULL, GH_OPT_USER},
        {"target", required_argument, NULL, GH_OPT_TARGET},
        {"limit", required_argument, NULL, GH_OPT_LIMIT},
        {"after", required_argument, NULL, GH_OPT_AFTER},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    return gh_ctl_list(ctl, "/api/v1/requests", &a, NULL, gh_ctl_request_cols,
                       GH_NCOLS(gh_ctl_request_cols));
}

int
gh_ctl_requests_show(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                     char **argv)
{
    struct gh_ctl_args a;
    char *path;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, NULL, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if (!gh_ctl_id_ok(a.pos[0]))
        return gh_ctl_usage_error(v, "ID must be a request number");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    path = gh_asprintf("/api/v1/requests/%s", a.pos[0]);
    r = gh_ctl_get(ctl, path, gh_ctl_request_kv, GH_NCOLS(gh_ctl_request_kv),
                   0);
    free(path);
    return r;
}

/* POST path with body (taken); print the answer with cols. */
static int
gh_ctl_post(struct gh_ctl *ctl, const char *path, json_t *body,
            const struct gh_ctl_col *c, size_t n)
{
    json_t *j = NULL;
    int r = gh_ctl_api(ctl, "POST", path, body, &j, NULL, NULL);

    if (r == 0)
        gh_ctl_print_obj(ctl, j, c, n);
    json_decref(j);
    json_decref(body);
    return r;
}

/* approve, deny, cancel: the same shape with different options. */
int
gh_ctl_requests_decide(struct gh_ctl *ctl, const struct gh_ctl_verb *v,
                       int argc, char **argv)
{
    static const struct option o[] = {
        {"duration", required_argument, NULL, GH_OPT_DURATION},
        {"reason", required_argument, NULL, GH_OPT_REASON},
        {NULL, 0, NULL, 0}};
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    int approve = strcmp(v->name, "approve") == 0;
    int deny = strcmp(v->name, "deny") == 0;
    struct gh_ctl_args a;
    long long secs = 0;
    json_t *body;
    char *path;
    int r;

    r = gh_ctl_begin(ctl, v, argc, argv,
                     approve ? o
                     : deny  ? o + 1
                             : none,
                     1, &a);
    if (r != 0)
        return r < 0 ? 0 : r;
    if (!gh_ctl_id_ok(a.pos[0]))
        return gh_ctl_usage_error(v, "ID must be a request number");
    if (a.duration != NULL && gh_ctl_parse_duration(a.duration, &secs) != 0)
        return gh_ctl_usage_error(v, "bad --duration: use e.g. 30m, 1h30m "
                                     "or 3600 (seconds)");
    if (deny && (a.reason == NULL || *a.reason == '\0'))
        return gh_ctl_usage_error(v, "deny needs --reason TEXT");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    body = json_object();
    if (secs > 0)
        json_object_set_new(body, "duration", json_integer(secs));
    if (a.reason != NULL)
        json_object_set_new(body, "reason", json_string(a.reason));
    path = gh_asprintf("/api/v1/requests/%s/%s", a.pos[0], v->name);
    r = gh_ctl_post(ctl, path, body, gh_ctl_request_kv,
                    GH_NCOLS(gh_ctl_request_kv));
    free(path);
    return r;
}

int
gh_ctl_grants_list(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                   char **argv)
{
    static const struct option o[] = {
        {"user", required_argument, NULL, GH_OPT_USER},
        {"target", required_argument, NULL, GH_OPT_TARGET},
        {"live", no_argument, NULL, GH_OPT_LIVE},
        {"limit", required_argument, NULL, GH_OPT_LIMIT},
        {"after", required_argument, NULL, GH_OPT_AFTER},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    return gh_ctl_list(ctl, "/api/v1/grants", &a, NULL, gh_ctl_grant_cols,
                       GH_NCOLS(gh_ctl_grant_cols));
}

int
gh_ctl_grants_revoke(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                     char **argv)
{
    static const struct option o[] = {
        {"reason", required_argument, NULL, GH_OPT_REASON}, {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    json_t *j = NULL, *body;
    char *path;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if (!gh_ctl_id_ok(a.pos[0]))
        return gh_ctl_usage_error(v, "ID must be a grant number");
    if (a.reason == NULL || *a.reason == '\0')
        return gh_ctl_usage_error(v, "revoke needs --reason TEXT");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    path = gh_asprintf("/api/v1/grants/%s/revoke", a.pos[0]);
    body = json_pack("{s:s}", "reason", a.reason);
    r = gh_ctl_api(ctl, "POST", path, body, &j, NULL, NULL);
    if (r == 0 && ctl->json)
        gh_ctl_print_json(j);
    else if (r == 0)
        printf("grant %s revoked\n", a.pos[0]);
    json_decref(body);
    json_decref(j);
    free(path);
    return r;
}

int
gh_ctl_grants_create(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                     char **argv)
{
    static const struct option o[] = {
        {"port", required_argument, NULL, GH_OPT_PORT},
        {"duration", required_argument, NULL, GH_OPT_DURATION},
        {"reason", required_argument, NULL, GH_OPT_REASON},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    long long secs;
    json_t *body, *j = NULL;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 2, &a)) != 0)
        return r < 0 ? 0 : r;
    if (a.port == NULL || *a.port == '\0' ||
        strspn(a.port, "0123456789,") != strlen(a.port))
        return gh_ctl_usage_error(v, "grants create needs --port like 22 "
                                     "or 22,3389");
    if (a.duration == NULL || gh_ctl_parse_duration(a.duration, &secs) != 0)
        return gh_ctl_usage_error(v, "grants create needs --duration like "
                                     "30m, 1h or 3600");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    body = json_pack("{s:s, s:s, s:s, s:I, s:s}", "user", a.pos[0], "target",
                     a.pos[1], "ports", a.port, "duration", (json_int_t)secs,
                     "reason", a.reason ? a.reason : "");
    r = gh_ctl_api(ctl, "POST", "/api/v1/grants", body, &j, NULL,
                   "this gateway does not support direct grants yet");
    if (r == 0)
        gh_ctl_print_obj(ctl, j, gh_ctl_grant_kv, GH_NCOLS(gh_ctl_grant_kv));
    json_decref(body);
    json_decref(j);
    return r;
}

int
gh_ctl_audit_list(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                  char **argv)
{
    static const struct option o[] = {
        {"since", required_argument, NULL, GH_OPT_SINCE},
        {"user", required_argument, NULL, GH_OPT_USER},
        {"action", required_argument, NULL, GH_OPT_ACTION},
        {"limit", required_argument, NULL, GH_OPT_LIMIT},
        {"after", required_argument, NULL, GH_OPT_AFTER},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    long long since = 0;
    char buf[24];
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if (a.since != NULL &&
        gh_ctl_parse_since(a.since, (long long)time(NULL), &since) != 0)
        return gh_ctl_usage_error(v, "bad --since: use e.g. 1h, "
                                     "2026-11-25T08:00 or a unix time");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    snprintf(buf, sizeof(buf), "%lld", since);
    return gh_ctl_list(ctl, "/api/v1/audit", &a, a.since ? buf : NULL,
                       gh_ctl_audit_cols, GH_NCOLS(gh_ctl_audit_cols));
}

int
gh_ctl_targets(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
               char **argv)
{
    struct gh_ctl_args a;
    json_t *j = NULL;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, NULL, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    r = gh_ctl_api(ctl, "GET", "/api/v1/targets", NULL, &j, NULL, NULL);
    if (r == 0 && ctl->json)
        gh_ctl_print_json(j);
    else if (r == 0)
        gh_ctl_table_print(stdout, gh_ctl_target_cols,
                           GH_NCOLS(gh_ctl_target_cols),
                           json_object_get(j, "targets"));
    json_decref(j);
    return r;
}

int
gh_ctl_decide(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
              char **argv)
{
    struct gh_ctl_args a;
    char *path;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, NULL, 2, &a)) != 0)
        return r < 0 ? 0 : r;
    if (!gh_ctl_count_ok(a.pos[1]) || strtol(a.pos[1], NULL, 10) < 1 ||
        strtol(a.pos[1], NULL, 10) > 65535)
        return gh_ctl_usage_error(v, "PORT must be 1..65535");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    path = gh_strdup("/api/v1/decide");
    gh_ctl_url_add_query(&path, "target", a.pos[0]);
    gh_ctl_url_add_query(&path, "port", a.pos[1]);
    r = gh_ctl_get(ctl, path, gh_ctl_decide_kv, GH_NCOLS(gh_ctl_decide_kv), 0);
    free(path);
    return r;
}

int
gh_ctl_whoami(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
              char **argv)
{
    struct gh_ctl_args a;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, NULL, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    return gh_ctl_get(ctl, "/api/v1/me", gh_ctl_me_kv, GH_NCOLS(gh_ctl_me_kv),
                      0);
}

/* ---- the gatehouse user CLI's requests ---- */

/* How often request --wait asks whether a decision came: a person
 * decides in seconds to minutes; 2 s feels immediate and costs nothing. */
#define GH_CTL_WAIT_POLL_S 2
/* Consecutive failed polls before --wait gives up (a minute of them). */
#define GH_CTL_WAIT_FAILS_MAX 30

/* The decision on request id, waited for; an exit status. */
static int
gh_ctl_request_wait(struct gh_ctl *ctl, json_int_t id)
{
    char path[64];
    const char *state;
    json_t *j = NULL;
    int fails = 0, r;

    fprintf(stderr,
            "Waiting for an approver to decide on request %lld (Ctrl-C stops "
            "waiting; the request stays pending)...\n",
            (long long)id);
    snprintf(path, sizeof(path), "/api/v1/requests/%lld", (long long)id);
    for (;;) {
        sleep(GH_CTL_WAIT_POLL_S);
        json_decref(j);
        j = NULL;
        if (gh_ctl_api(ctl, "GET", path, NULL, &j, NULL, NULL) != 0) {
            if (++fails >= GH_CTL_WAIT_FAILS_MAX)
                return GH_CTL_EXIT_FAIL;
            continue;
        }
        fails = 0;
        state = json_string_value(json_object_get(j, "state"));
        if (state != NULL && strcmp(state, "pending") != 0)
            break;
    }
    gh_ctl_print_obj(ctl, j, gh_ctl_request_kv, GH_NCOLS(gh_ctl_request_kv));
    if (strcmp(state, "approved") == 0) {
        fprintf(stderr, "Approved: you may connect now.\n");
        r = 0;
    } else {
        fprintf(stderr, "The request was %s.\n", state);
        r = GH_CTL_EXIT_FAIL;
    }
    json_decref(j);
    return r;
}

int
gh_ctl_request_create(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                      char **argv)
{
    static const struct option o[] = {
        {"port", required_argument, NULL, GH_OPT_PORT},
        {"duration", required_argument, NULL, GH_OPT_DURATION},
        {"reason", required_argument, NULL, GH_OPT_REASON},
        {"source", required_argument, NULL, GH_OPT_SOURCE},
        {"wait", no_argument, NULL, GH_OPT_WAIT},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    long long secs = 3600;
    const char *state;
    json_t *body, *j = NULL;
    json_int_t id;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if (a.port == NULL || *a.port == '\0' ||
        strspn(a.port, "0123456789,") != strlen(a.port))
        return gh_ctl_usage_error(v, "request needs --port like 22 or "
                                     "22,3389");
    if (a.duration != NULL && gh_ctl_parse_duration(a.duration, &secs) != 0)
        return gh_ctl_usage_error(v, "--duration wants 30m, 1h or 3600");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    body = json_pack("{s:s, s:s, s:I, s:s}", "target", a.pos[0], "ports",
                     a.port, "duration", (json_int_t)secs, "reason",
                     a.reason ? a.reason : "");
    if (body == NULL)
        abort();
    if (a.source != NULL)
        json_object_set_new(body, "source_cidr", json_string(a.source));
    r = gh_ctl_api(ctl, "POST", "/api/v1/requests", body, &j, NULL, NULL);
    json_decref(body);
    if (r != 0)
        return r;
    state = json_string_value(json_object_get(j, "state"));
    id = json_integer_value(json_object_get(j, "id"));
    if (state != NULL && strcmp(state, "pending") == 0 && a.wait) {
        json_decref(j);
        return gh_ctl_request_wait(ctl, id);
    }
    gh_ctl_print_obj(ctl, j, gh_ctl_request_kv, GH_NCOLS(gh_ctl_request_kv));
    if (state != NULL && strcmp(state, "approved") == 0)
        fprintf(stderr, "Approved by policy: you may connect now.\n");
    else
        fprintf(stderr,
                "Request %lld is pending: an approver must decide on it "
                "('%s requests' shows its state; --wait waits).\n",
                (long long)id, gh_cli_agent());
    json_decref(j);
    return 0;
}

int
gh_ctl_requests_mine(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                     char **argv)
{
    static const struct option o[] = {
        {"state", required_argument, NULL, GH_OPT_STATE},
        {"limit", required_argument, NULL, GH_OPT_LIMIT},
        {"after", required_argument, NULL, GH_OPT_AFTER},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    json_t *me = NULL;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_ctl_ready(ctl)) != 0 ||
        (r = gh_ctl_api(ctl, "GET", "/api/v1/me", NULL, &me, NULL, NULL)) != 0)
        return r;
    a.user = json_string_value(json_object_get(me, "user_id"));
    if (a.user == NULL) {
        json_decref(me);
        gh_ctl_err("the gateway did not say who you are");
        return GH_CTL_EXIT_FAIL;
    }
    r = gh_ctl_list(ctl, "/api/v1/requests", &a, NULL, gh_ctl_request_cols,
                    GH_NCOLS(gh_ctl_request_cols));
    json_decref(me);
    return r;
}
