/* remote.c - remote sessions and their recordings in SQLite (store.h). */
#include "store-priv.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <stdlib.h>
#include <string.h>

static char *
gh_rem_text(sqlite3_stmt *s, int col, int borrow)
{
    const char *t = (const char *)sqlite3_column_text(s, col);

    return borrow ? (char *)t : (t ? gh_strdup(t) : NULL);
}

/* Step a statement that changes rows; 0, GH_E_NOTFOUND (none changed) or
 * GH_E_STORE. Finalizes. */
static int
gh_rem_change(struct gh_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : gh_store_fail(st, what);

    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = GH_E_NOTFOUND;
    sqlite3_finalize(s);
    return rc;
}

int
gh_store_remote_add(struct gh_store *st, const struct gh_remote_session *r,
                    int64_t *id)
{
    sqlite3_stmt *s;
    int rc;

    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO remote_sessions (kind, protocol, "
                           "user_id, target, port, grant_id, source, "
                           "started_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                           "?8)",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "remote add");
    if ((rc = gh_store_bind_text(s, 1, r->kind, 0)) == 0 &&
        (rc = gh_store_bind_text(s, 2, r->protocol, 0)) == 0 &&
        (rc = gh_store_bind_text(s, 3, r->user_id, 0)) == 0 &&
        (rc = gh_store_bind_text(s, 4, r->target, 0)) == 0 &&
        (rc = gh_store_bind_text(s, 7, r->source ? r->source : "", 0)) == 0) {
        sqlite3_bind_int(s, 5, (int)r->port);
        sqlite3_bind_int64(s, 6, r->grant_id);
        sqlite3_bind_int64(s, 8,
                           r->started_ms ? r->started_ms : gh_store_now_ms());
        if (sqlite3_step(s) == SQLITE_DONE)
            *id = sqlite3_last_insert_rowid(st->db);
        else
            rc = gh_store_fail(st, "remote add");
    }
    sqlite3_finalize(s);
    return rc;
}

int
gh_store_remote_end(struct gh_store *st, int64_t id, int64_t now_ms,
                    const char *reason, int64_t bytes_in, int64_t bytes_out)
{
    sqlite3_stmt *s;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE remote_sessions SET ended_ms = ?2, "
                           "end_reason = ?3, bytes_in = ?4, bytes_out = ?5 "
                           "WHERE id = ?1 AND ended_ms IS NULL",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "remote end");
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms);
    if (gh_store_bind_text(s, 3, reason, 0) != 0) {
        sqlite3_finalize(s);
        return GH_E_INVAL;
    }
    sqlite3_bind_int64(s, 4, bytes_in);
    sqlite3_bind_int64(s, 5, bytes_out);
    return gh_rem_change(st, s, "remote end");
}

int
gh_store_remote_end_all(struct gh_store *st, int64_t now_ms, const char *reason)
{
    sqlite3_stmt *s;
    int rc;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE remote_sessions SET ended_ms = ?1, "
                           "end_reason = ?2 WHERE ended_ms IS NULL",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "remote end all");
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(st->db)
                                        : gh_store_fail(st, "remote end all");
    sqlite3_finalize(s);
    return rc;
}

#define GH_REMOTE_COLS                                                         \
    "s.id, s.kind, s.protocol, s.user_id, s.target, s.port, s.grant_id, "      \
    "s.source, s.started_ms, coalesce(s.ended_ms, 0), s.end_reason, "          \
    "s.bytes_in, s.bytes_out, coalesce(r.id, 0) FROM remote_sessions s "       \
    "LEFT JOIN recordings r ON r.session_id = s.id"

static void
gh_rem_session_row(sqlite3_stmt *s, struct gh_remote_session *r, int borrow)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    r->kind = gh_rem_text(s, 1, borrow);
    r->protocol = gh_rem_text(s, 2, borrow);
    r->user_id = gh_rem_text(s, 3, borrow);
    r->target = gh_rem_text(s, 4, borrow);
    r->port = (unsigned)sqlite3_column_int(s, 5);
    r->grant_id = sqlite3_column_int64(s, 6);
    r->source = gh_rem_text(s, 7, borrow);
    r->started_ms = sqlite3_column_int64(s, 8);
    r->ended_ms = sqlite3_column_int64(s, 9);
    r->end_reason = gh_rem_text(s, 10, borrow);
    r->bytes_in = sqlite3_column_int64(s, 11);
    r->bytes_out = sqlite3_column_int64(s, 12);
    r->recording_id = sqlite3_column_int64(s, 13);
}

void
gh_remote_session_free(struct gh_remote_session *r)
{
    if (r == NULL)
        return;
    free((char *)r->kind);
    free((char *)r->protocol);
    free((char *)r->user_id);
    free((char *)r->target);
    free((char *)r->source);
    free((char *)r->end_reason);
    free(r);
}

int
gh_store_remote_get(struct gh_store *st, int64_t id,
                    struct gh_remote_session **out)
{
    sqlite3_stmt *s;
    int rc;

    *out = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT " GH_REMOTE_COLS " WHERE s.id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "remote get");
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = gh_alloc(1, sizeof(**out));
        gh_rem_session_row(s, *out, 0);
        rc = 0;
    } else {
        rc =
            rc == SQLITE_DONE ? GH_E_NOTFOUND : gh_store_fail(st, "remote get");
    }
    sqlite3_finalize(s);
    return rc;
}

/* Bind the filter's common parameters ?1..?6 of a list query. */
static int
gh_rem_bind_filter(sqlite3_stmt *s, const struct gh_remote_filter *f)
{
    sqlite3_bind_int64(s, 1, f->after_id);
    if (gh_store_bind_text(s, 2, f->user, 1) != 0 ||
        gh_store_bind_text(s, 3, f->target, 1) != 0)
        return GH_E_INVAL;
    sqlite3_bind_int(s, 4, f->live ? 1 : 0);
    sqlite3_bind_int64(s, 5, f->since_ms);
    sqlite3_bind_int64(s, 6, f->until_ms);
    sqlite3_bind_int(s, 7, gh_store_list_limit(f->limit));
    return 0;
}

int
gh_store_remote_list(struct gh_store *st, const struct gh_remote_filter *f,
                     int (*fn)(const struct gh_remote_session *r, void *ctx),
                     void *ctx)
{
    struct gh_remote_session r;
    sqlite3_stmt *s;
    int n = 0, rc;

    if (sqlite3_prepare_v2(
            st->db,
            "SELECT " GH_REMOTE_COLS " WHERE s.id > ?1 "
            "AND (?2 IS NULL OR s.user_id = ?2) "
            "AND (?3 IS NULL OR s.target = ?3) "
            "AND (?4 = 0 OR s.ended_ms IS NULL) "
            "AND (?5 = 0 OR s.started_ms >= ?5) "
            "AND (?6 = 0 OR s.started_ms < ?6) ORDER BY s.id LIMIT ?7",
            -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "remote list");
    if (gh_rem_bind_filter(s, f) != 0) {
        sqlite3_finalize(s);
        return GH_E_INVAL;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        gh_rem_session_row(s, &r, 1);
        n++;
        if (fn(&r, ctx) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        n = gh_store_fail(st, "remote list");
    sqlite3_finalize(s);
    return n;
}

int
gh_store_recording_add(struct gh_store *st, const struct gh_recording *r,
                       int64_t *id)
{
    sqlite3_stmt *s;
    int rc;

    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO recordings (session_id, user_id, "
                           "target, grant_id, file, cols, rows, started_ms, "
                           "state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                           "'recording')",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "recording add");
    sqlite3_bind_int64(s, 1, r->session_id);
    if ((rc = gh_store_bind_text(s, 2, r->user_id, 0)) == 0 &&
        (rc = gh_store_bind_text(s, 3, r->target, 0)) == 0 &&
        (rc = gh_store_bind_text(s, 5, r->file, 0)) == 0) {
        sqlite3_bind_int64(s, 4, r->grant_id);
        sqlite3_bind_int(s, 6, (int)r->cols);
        sqlite3_bind_int(s, 7, (int)r->rows);
        sqlite3_bind_int64(s, 8, r->started_ms);
        if (sqlite3_step(s) == SQLITE_DONE)
            *id = sqlite3_last_insert_rowid(st->db);
        else
            rc = gh_store_fail(st, "recording add");
    }
    sqlite3_finalize(s);
    return rc;
}

int
gh_store_recording_finish(struct gh_store *st, int64_t id, int64_t ended_ms,
                          int64_t size, const char *sha256, const char *state)
{
    sqlite3_stmt *s;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE recordings SET ended_ms = ?2, size = ?3, "
                           "sha256 = ?4, state = ?5 WHERE id = ?1 AND "
                           "state = 'recording'",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "recording finish");
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, ended_ms);
    sqlite3_bind_int64(s, 3, size);
    if (gh_store_bind_text(s, 4, sha256, 1) != 0 ||
        gh_store_bind_text(s, 5, state, 0)) {
        sqlite3_finalize(s);
        return GH_E_INVAL;
    }
    return gh_rem_change(st, s, "recording finish");
}

#define GH_RECORDING_COLS                                                      \
    "id, session_id, user_id, target, grant_id, file, cols, rows, "            \
    "started_ms, coalesce(ended_ms, 0), size, sha256, state FROM recordings"

static void
gh_rem_recording_row(sqlite3_stmt *s, struct gh_recording *r, int borrow)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    r->session_id = sqlite3_column_int64(s, 1);
    r->user_id = gh_rem_text(s, 2, borrow);
    r->target = gh_rem_text(s, 3, borrow);
    r->grant_id = sqlite3_column_int64(s, 4);
    r->file = gh_rem_text(s, 5, borrow);
    r->cols = (unsigned)sqlite3_column_int(s, 6);
    r->rows = (unsigned)sqlite3_column_int(s, 7);
    r->started_ms = sqlite3_column_int64(s, 8);
    r->ended_ms = sqlite3_column_int64(s, 9);
    r->size = sqlite3_column_int64(s, 10);
    r->sha256 = gh_rem_text(s, 11, borrow);
    r->state = gh_rem_text(s, 12, borrow);
}

void
gh_recording_free(struct gh_recording *r)
{
    if (r == NULL)
        return;
    free((char *)r->user_id);
    free((char *)r->target);
    free((char *)r->file);
    free((char *)r->sha256);
    free((char *)r->state);
    free(r);
}

int
gh_store_recording_get(struct gh_store *st, int64_t id,
                       struct gh_recording **out)
{
    sqlite3_stmt *s;
    int rc;

    *out = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT " GH_RECORDING_COLS " WHERE id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "recording get");
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = gh_alloc(1, sizeof(**out));
        gh_rem_recording_row(s, *out, 0);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? GH_E_NOTFOUND
                               : gh_store_fail(st, "recording get");
    }
    sqlite3_finalize(s);
    return rc;
}

int
gh_store_recording_list(struct gh_store *st, const struct gh_remote_filter *f,
                        int (*fn)(const struct gh_recording *r, void *ctx),
                        void *ctx)
{
    struct gh_recording r;
    sqlite3_stmt *s;
    int n = 0, rc;

    if (sqlite3_prepare_v2(
            st->db,
            "SELECT " GH_RECORDING_COLS " WHERE id > ?1 "
            "AND (?2 IS NULL OR user_id = ?2) "
            "AND (?3 IS NULL OR target = ?3) "
            "AND (?4 = 0 OR state = 'recording') "
            "AND (?5 = 0 OR started_ms >= ?5) "
            "AND (?6 = 0 OR started_ms < ?6) ORDER BY id LIMIT ?7",
            -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "recording list");
    if (gh_rem_bind_filter(s, f) != 0) {
        sqlite3_finalize(s);
        return GH_E_INVAL;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        gh_rem_recording_row(s, &r, 1);
        n++;
        if (fn(&r, ctx) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        n = gh_store_fail(st, "recording list");
    sqlite3_finalize(s);
    return n;
}
