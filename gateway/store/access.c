/* access.c - JIT requests and grants in SQLite (see store.h). */
#include "store-priv.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <stdlib.h>
#include <string.h>

/*
 * Finish an INSERT whose binding returned rc: step it, report the new
 * row's id, finalize. Returns rc, or the step's failure.
 */
static int
gh_acc_insert_finish(struct gh_store *st, sqlite3_stmt *s, int rc, int64_t *id,
                     const char *what)
{
    if (rc == 0) {
        if (sqlite3_step(s) == SQLITE_DONE)
            *id = sqlite3_last_insert_rowid(st->db);
        else
            rc = gh_store_fail(st, what);
    }
    sqlite3_finalize(s);
    return rc;
}

int
gh_store_request_add(struct gh_store *st, const struct gh_access_request *r,
                     int64_t *id)
{
    sqlite3_stmt *s;
    int rc;

    if (r->duration_s <= 0)
        return GH_E_INVAL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO access_requests (requester, target, "
                           "ports, duration_s, reason, source_cidr, start_ms, "
                           "state, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, "
                           "?6, ?7, 'pending', ?8)",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "request add");
    if ((rc = gh_store_bind_text(s, 1, r->requester, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 2, r->target, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 3, r->ports, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 5, r->reason ? r->reason : "", 0)) != 0 ||
        (rc = gh_store_bind_text(s, 6, r->source_cidr ? r->source_cidr : "",
                                 0)) != 0)
        return gh_acc_insert_finish(st, s, rc, id, "request add");
    sqlite3_bind_int64(s, 4, r->duration_s);
    if (r->start_ms > 0)
        sqlite3_bind_int64(s, 7, r->start_ms);
    else
        sqlite3_bind_null(s, 7);
    sqlite3_bind_int64(s, 8, r->created_ms ? r->created_ms : gh_store_now_ms());
    return gh_acc_insert_finish(st, s, 0, id, "request add");
}

void
gh_access_request_free(struct gh_access_request *r)
{
    if (r == NULL)
        return;
    free((char *)r->requester);
    free((char *)r->target);
    free((char *)r->ports);
    free((char *)r->reason);
    free((char *)r->source_cidr);
    free((char *)r->state);
    free((char *)r->decided_by);
    free((char *)r->decision_reason);
    free(r);
}

#define GH_REQUEST_COLS                                                        \
    "id, requester, target, ports, duration_s, reason, source_cidr, "          \
    "coalesce(start_ms, 0), state, created_ms, coalesce(decided_ms, 0), "      \
    "decided_by, decision_reason"

/* Fill r from a row of GH_REQUEST_COLS; strings point into the row when
 * borrow, else are copies. */
static void
gh_acc_request_row(sqlite3_stmt *s, struct gh_access_request *r, int borrow)
{
    const char **f[] = {&r->requester,  &r->target,         &r->ports,
                        &r->reason,     &r->source_cidr,    &r->state,
                        &r->decided_by, &r->decision_reason};
    const int col[] = {1, 2, 3, 5, 6, 8, 11, 12};
    int i;

    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    r->duration_s = sqlite3_column_int64(s, 4);
    r->start_ms = sqlite3_column_int64(s, 7);
    r->created_ms = sqlite3_column_int64(s, 9);
    r->decided_ms = sqlite3_column_int64(s, 10);
    for (i = 0; i < 8; i++) {
        const char *t = (const char *)sqlite3_column_text(s, col[i]);

        *f[i] = borrow ? t : (t ? gh_strdup(t) : NULL);
    }
}

int
gh_store_request_get(struct gh_store *st, int64_t id,
                     struct gh_access_request **out)
{
    sqlite3_stmt *s;
    int rc;

    *out = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " GH_REQUEST_COLS
                           " FROM access_requests WHERE id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "request get");
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = gh_alloc(1, sizeof(**out));
        gh_acc_request_row(s, *out, 0);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? GH_E_NOTFOUND
                               : gh_store_fail(st, "request get");
    }
    sqlite3_finalize(s);
    return rc;
}

/* UPDATE pending → state; 0, GH_E_EXISTS (not pending) or GH_E_NOTFOUND. */
static int
gh_acc_decide(struct gh_store *st, int64_t id, const char *state,
              const char *by, const char *why, int64_t now_ms)
{
    sqlite3_stmt *s;
    int rc;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE access_requests SET state = ?2, "
                           "decided_ms = ?3, decided_by = ?4, "
                           "decision_reason = ?5 WHERE id = ?1 AND "
                           "state = 'pending'",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "request decide");
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now_ms);
    if ((rc = gh_store_bind_text(s, 4, by, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 5, why, 1)) != 0)
        goto out;
    if (sqlite3_step(s) != SQLITE_DONE) {
        rc = gh_store_fail(st, "request decide");
        goto out;
    }
    if (sqlite3_changes(st->db) == 1) {
        rc = 0;
    } else {
        struct gh_access_request *r = NULL;

        rc =
            gh_store_request_get(st, id, &r) == 0 ? GH_E_EXISTS : GH_E_NOTFOUND;
        gh_access_request_free(r);
    }
out:
    sqlite3_finalize(s);
    return rc;
}

int
gh_store_request_approve(struct gh_store *st, int64_t id, const char *by,
                         const char *why, const char *how, int64_t duration_s,
                         int64_t now_ms, int64_t *grant_id)
{
    struct gh_access_request *r = NULL;
    struct gh_grant g;
    int rc;

    if (duration_s <= 0 ||
        (strcmp(how, "approved") != 0 && strcmp(how, "auto") != 0))
        return GH_E_INVAL;
    /* One IMMEDIATE transaction: the state check, the state change and the
     * grant stand or fall together, and a concurrent approver waits. */
    if (gh_store_exec(st, "BEGIN IMMEDIATE") != 0)
        return GH_E_STORE;
    rc = gh_acc_decide(st, id, "approved", by, why, now_ms);
    if (rc != 0)
        goto fail;
    rc = gh_store_request_get(st, id, &r);
    if (rc != 0)
        goto fail;
    memset(&g, 0, sizeof(g));
    g.request_id = id;
    g.user_id = r->requester;
    g.target = r->target;
    g.ports = r->ports;
    g.source_cidr = r->source_cidr;
    g.starts_ms = r->start_ms > now_ms ? r->start_ms : now_ms;
    g.expires_ms = g.starts_ms + duration_s * 1000;
    g.how = how;
    g.created_by = by;
    g.created_ms = now_ms;
    rc = gh_store_grant_add(st, &g, grant_id);
    if (rc != 0)
        goto fail;
    gh_access_request_free(r);
    return gh_store_exec(st, "COMMIT");
fail:
    gh_access_request_free(r);
    gh_store_exec(st, "ROLLBACK");
    return rc;
}

int
gh_store_request_close(struct gh_store *st, int64_t id, const char *to_state,
                       const char *by, const char *why, int64_t now_ms)
{
    if (strcmp(to_state, "denied") != 0 && strcmp(to_state, "cancelled") != 0)
        return GH_E_INVAL;
    return gh_acc_decide(st, id, to_state, by, why, now_ms);
}

int
gh_store_requests_expire(struct gh_store *st, int64_t created_before_ms,
                         int64_t now_ms)
{
    sqlite3_stmt *s;
    int n;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE access_requests SET state = 'expired', "
                           "decided_ms = ?2, decided_by = 'system', "
                           "decision_reason = 'not decided in time' "
                           "WHERE state = 'pending' AND created_ms < ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "requests expire");
    sqlite3_bind_int64(s, 1, created_before_ms);
    sqlite3_bind_int64(s, 2, now_ms);
    n = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(st->db)
                                       : gh_store_fail(st, "requests expire");
    sqlite3_finalize(s);
    return n;
}

int
gh_store_grant_add(struct gh_store *st, const struct gh_grant *g, int64_t *id)
{
    sqlite3_stmt *s;
    int rc;

    if (g->expires_ms <= g->starts_ms || g->how == NULL)
        return GH_E_INVAL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO grants (request_id, user_id, target, "
                           "ports, source_cidr, starts_ms, expires_ms, how, "
                           "created_by, created_ms) VALUES (?1, ?2, ?3, ?4, "
                           "?5, ?6, ?7, ?8, ?9, ?10)",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "grant add");
    if (g->request_id > 0)
        sqlite3_bind_int64(s, 1, g->request_id);
    else
        sqlite3_bind_null(s, 1);
    if ((rc = gh_store_bind_text(s, 2, g->user_id, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 3, g->target, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 4, g->ports, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 5, g->source_cidr ? g->source_cidr : "",
                                 0)) != 0 ||
        (rc = gh_store_bind_text(s, 8, g->how, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 9, g->created_by, 0)) != 0)
        return gh_acc_insert_finish(st, s, rc, id, "grant add");
    sqlite3_bind_int64(s, 6, g->starts_ms);
    sqlite3_bind_int64(s, 7, g->expires_ms);
    sqlite3_bind_int64(s, 10,
                       g->created_ms ? g->created_ms : gh_store_now_ms());
    return gh_acc_insert_finish(st, s, 0, id, "grant add");
}

void
gh_grant_free(struct gh_grant *g)
{
    if (g == NULL)
        return;
    free((char *)g->user_id);
    free((char *)g->target);
    free((char *)g->ports);
    free((char *)g->source_cidr);
    free((char *)g->how);
    free((char *)g->created_by);
    free((char *)g->revoked_by);
    free((char *)g->revoke_reason);
    free(g);
}

#define GH_GRANT_COLS                                                          \
    "id, coalesce(request_id, 0), user_id, target, ports, source_cidr, "       \
    "starts_ms, expires_ms, how, created_by, created_ms, "                     \
    "coalesce(revoked_ms, 0), revoked_by, revoke_reason"

/* Fill g from a row of GH_GRANT_COLS; strings point into the row when
 * borrow, else are copies. */
static void
gh_acc_grant_row(sqlite3_stmt *s, struct gh_grant *g, int borrow)
{
    int i;

    memset(g, 0, sizeof(*g));
    g->id = sqlite3_column_int64(s, 0);
    g->request_id = sqlite3_column_int64(s, 1);
    g->starts_ms = sqlite3_column_int64(s, 6);
    g->expires_ms = sqlite3_column_int64(s, 7);
    g->created_ms = sqlite3_column_int64(s, 10);
    g->revoked_ms = sqlite3_column_int64(s, 11);
    {
        const char **f[] = {&g->user_id,     &g->target,       &g->ports,
                            &g->source_cidr, &g->how,          &g->created_by,
                            &g->revoked_by,  &g->revoke_reason};
        const int col[] = {2, 3, 4, 5, 8, 9, 12, 13};

        for (i = 0; i < 8; i++) {
            const char *t = (const char *)sqlite3_column_text(s, col[i]);

            *f[i] = borrow ? t : (t ? gh_strdup(t) : NULL);
        }
    }
}

int
gh_store_grant_get(struct gh_store *st, int64_t id, struct gh_grant **out)
{
    sqlite3_stmt *s;
    int rc;

    *out = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " GH_GRANT_COLS " FROM grants WHERE id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "grant get");
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = gh_alloc(1, sizeof(**out));
        gh_acc_grant_row(s, *out, 0);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? GH_E_NOTFOUND : gh_store_fail(st, "grant get");
    }
    sqlite3_finalize(s);
    return rc;
}

int
gh_store_grant_revoke(struct gh_store *st, int64_t id, const char *by,
                      const char *why, int64_t now_ms)
{
    sqlite3_stmt *s;
    int rc;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE grants SET revoked_ms = ?2, revoked_by = "
                           "?3, revoke_reason = ?4 WHERE id = ?1 AND "
                           "revoked_ms IS NULL AND expires_ms > ?2",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "grant revoke");
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms);
    if ((rc = gh_store_bind_text(s, 3, by, 0)) != 0 ||
        (rc = gh_store_bind_text(s, 4, why, 1)) != 0)
        goto out;
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = gh_store_fail(st, "grant revoke");
    else
        rc = sqlite3_changes(st->db) == 1 ? 0 : GH_E_NOTFOUND;
out:
    sqlite3_finalize(s);
    return rc;
}

int
gh_store_grants_live(struct gh_store *st, const char *user, const char *target,
                     int64_t now_ms,
                     int (*fn)(const struct gh_grant *g, void *ctx), void *ctx)
{
    struct gh_grant g;
    sqlite3_stmt *s;
    int n = 0, rc;

    /* Prepared once: this is the hot path of every connect decision. */
    if (st->grants_live == NULL &&
        sqlite3_prepare_v3(st->db,
                           "SELECT " GH_GRANT_COLS " FROM grants "
                           "WHERE user_id = ?1 AND target = ?2 AND "
                           "revoked_ms IS NULL AND expires_ms > ?3 AND "
                           "starts_ms <= ?3 ORDER BY expires_ms DESC "
                           "LIMIT ?4",
                           -1, SQLITE_PREPARE_PERSISTENT, &st->grants_live,
                           NULL) != SQLITE_OK)
        return gh_store_fail(st, "grants live");
    s = st->grants_live;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now_ms);
    sqlite3_bind_int(s, 4, GH_GRANTS_LIVE_MAX);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        gh_acc_grant_row(s, &g, 1);
        n++;
        if (fn(&g, ctx) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        n = gh_store_fail(st, "grants live");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return n;
}

int
gh_store_requests_list(struct gh_store *st, const struct gh_access_filter *f,
                       int (*fn)(const struct gh_access_request *r, void *ctx),
                       void *ctx)
{
    struct gh_access_request r;
    sqlite3_stmt *s;
    int n = 0, rc;

    /* Absent filters are NULL binds: "?1 IS NULL OR col = ?1". */
    if (sqlite3_prepare_v2(
            st->db,
            "SELECT " GH_REQUEST_COLS " FROM access_requests WHERE id > ?1 "
            "AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR requester = ?3) "
            "AND (?4 IS NULL OR target = ?4) ORDER BY id LIMIT ?5",
            -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "requests list");
    sqlite3_bind_int64(s, 1, f->after_id);
    /* A filter that cannot be bound must not turn into "match all". */
    if (gh_store_bind_text(s, 2, f->state, 1) != 0 ||
        gh_store_bind_text(s, 3, f->user, 1) != 0 ||
        gh_store_bind_text(s, 4, f->target, 1) != 0) {
        sqlite3_finalize(s);
        return GH_E_INVAL;
    }
    sqlite3_bind_int(s, 5, gh_store_list_limit(f->limit));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        gh_acc_request_row(s, &r, 1);
        n++;
        if (fn(&r, ctx) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        n = gh_store_fail(st, "requests list");
    sqlite3_finalize(s);
    return n;
}

int
gh_store_grants_list(struct gh_store *st, const struct gh_access_filter *f,
                     int (*fn)(const struct gh_grant *g, void *ctx), void *ctx)
{
    struct gh_grant g;
    sqlite3_stmt *s;
    int n = 0, rc;

    if (sqlite3_prepare_v2(
            st->db,
            "SELECT " GH_GRANT_COLS " FROM grants WHERE id > ?1 "
            "AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR target = ?3) "
            "AND (?4 = 0 OR (revoked_ms IS NULL AND starts_ms <= ?4 "
            "AND expires_ms > ?4)) ORDER BY id LIMIT ?5",
            -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "grants list");
    sqlite3_bind_int64(s, 1, f->after_id);
    if (gh_store_bind_text(s, 2, f->user, 1) != 0 ||
        gh_store_bind_text(s, 3, f->target, 1) != 0) {
        sqlite3_finalize(s);
        return GH_E_INVAL;
    }
    sqlite3_bind_int64(s, 4, f->live_at_ms);
    sqlite3_bind_int(s, 5, gh_store_list_limit(f->limit));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        gh_acc_grant_row(s, &g, 1);
        n++;
        if (fn(&g, ctx) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        n = gh_store_fail(st, "grants list");
    sqlite3_finalize(s);
    return n;
}
