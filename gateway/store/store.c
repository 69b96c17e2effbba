/* store.c - the SQLite back-end of store.h; the only includer of sqlite3.h. */
#include "gatehouse/store.h"
#include "migrations.h"
#include "store-priv.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int64_t
gh_store_now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int
gh_store_fail(struct gh_store *st, const char *what)
{
    gh_error("store", "msg=%s err=%s", gh_q(what),
             gh_q(sqlite3_errmsg(st->db)));
    return GH_E_STORE;
}

int
gh_store_exec(struct gh_store *st, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gh_error("store", "msg=\"statement failed\" err=%s",
                 gh_q(msg ? msg : "?"));
        sqlite3_free(msg);
        return GH_E_STORE;
    }
    return 0;
}

static int
gh_store_user_version(struct gh_store *st, int *v)
{
    sqlite3_stmt *s;
    int r = GH_E_STORE;

    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) !=
        SQLITE_OK)
        return gh_store_fail(st, "cannot read user_version");
    if (sqlite3_step(s) == SQLITE_ROW) {
        *v = sqlite3_column_int(s, 0);
        r = 0;
    }
    sqlite3_finalize(s);
    return r;
}

/* Apply migration i in one IMMEDIATE transaction with its version bump, so
 * two processes opening a fresh file cannot both run it. */
static int
gh_store_migrate_one(struct gh_store *st, size_t i)
{
    char bump[64];
    int v;

    if (gh_store_exec(st, "BEGIN IMMEDIATE") != 0)
        return GH_E_STORE;
    /* Re-read under the lock: another opener may have migrated. */
    if (gh_store_user_version(st, &v) != 0)
        goto fail;
    if ((size_t)v > i) {
        gh_store_exec(st, "ROLLBACK");
        return 0;
    }
    snprintf(bump, sizeof(bump), "PRAGMA user_version = %zu", i + 1);
    if (gh_store_exec(st, gh_migrations[i].sql) != 0 ||
        gh_store_exec(st, bump) != 0 || gh_store_exec(st, "COMMIT") != 0)
        goto fail;
    gh_info("store", "msg=\"migrated\" version=%zu name=%s", i + 1,
            gh_q(gh_migrations[i].name));
    return 0;
fail:
    gh_store_exec(st, "ROLLBACK");
    return GH_E_STORE;
}

int
gh_store_open(const char *path, int busy_timeout_ms, struct gh_store **out)
{
    struct gh_store *st = gh_alloc(1, sizeof(*st));
    sqlite3_stmt *s = NULL;
    int r = GH_E_STORE, v;
    size_t i;

    *out = NULL;
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE,
                        NULL) != SQLITE_OK) {
        gh_error("store", "msg=\"cannot open database\" path=%s err=%s",
                 gh_q(path), gh_q(st->db ? sqlite3_errmsg(st->db) : "?"));
        goto out;
    }
    sqlite3_busy_timeout(st->db, busy_timeout_ms);
    /* Defence in depth: nothing here loads extensions or trusts the
     * schema's own SQL functions. */
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    if (gh_store_exec(st, "PRAGMA foreign_keys = ON") != 0 ||
        gh_store_exec(st, "PRAGMA synchronous = NORMAL") != 0)
        goto out;
    if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) !=
            SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
        gh_store_fail(st, "cannot switch to WAL mode");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (gh_store_user_version(st, &v) != 0)
        goto out;
    if ((size_t)v > gh_migrations_count) {
        gh_error("store",
                 "msg=\"database schema is newer than this gatehoused\" "
                 "path=%s version=%d known=%zu",
                 gh_q(path), v, gh_migrations_count);
        r = GH_E_SCHEMA;
        goto out;
    }
    for (i = (size_t)v; i < gh_migrations_count; i++)
        if (gh_store_migrate_one(st, i) != 0)
            goto out;
    if (gh_store_user_version(st, &st->version) != 0)
        goto out;
    if (sqlite3_prepare_v3(st->db,
                           "INSERT INTO audit (ts_ms, actor, action, object, "
                           "outcome, source, detail) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, SQLITE_PREPARE_PERSISTENT, &st->audit_insert,
                           NULL) != SQLITE_OK) {
        gh_store_fail(st, "cannot prepare audit insert");
        goto out;
    }
    *out = st;
    st = NULL;
    r = 0;
out:
    sqlite3_finalize(s);
    gh_store_close(st);
    return r;
}

void
gh_store_close(struct gh_store *st)
{
    if (st == NULL)
        return;
    sqlite3_finalize(st->audit_insert);
    sqlite3_finalize(st->grants_live);
    sqlite3_close_v2(st->db);
    free(st);
}

int
gh_store_schema_version(struct gh_store *st)
{
    return st->version;
}

int
gh_store_schema_latest(void)
{
    return (int)gh_migrations_count;
}

int
gh_store_ping(struct gh_store *st)
{
    sqlite3_stmt *s;
    int r = GH_E_STORE;

    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM meta", -1, &s, NULL) !=
        SQLITE_OK)
        return gh_store_fail(st, "ping failed");
    if (sqlite3_step(s) == SQLITE_ROW)
        r = 0;
    sqlite3_finalize(s);
    return r;
}

int
gh_store_meta_get(struct gh_store *st, const char *key, char **out)
{
    sqlite3_stmt *s;
    int r = GH_E_NOTFOUND, rc;

    *out = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?1", -1,
                           &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "meta get");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = gh_strndup((const char *)sqlite3_column_text(s, 0),
                          (size_t)sqlite3_column_bytes(s, 0));
        r = 0;
    } else if (rc != SQLITE_DONE) {
        r = gh_store_fail(st, "meta get");
    }
    sqlite3_finalize(s);
    return r;
}

int
gh_store_meta_set(struct gh_store *st, const char *key, const char *value)
{
    sqlite3_stmt *s;
    int r = 0;

    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                           "ON CONFLICT(key) DO UPDATE SET value = ?2",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "meta set");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        r = gh_store_fail(st, "meta set");
    sqlite3_finalize(s);
    return r;
}

/* Bind an optional text field; refuses over-long values. */
static int
gh_store_bind_opt(sqlite3_stmt *s, int i, const char *v, size_t max)
{
    if (v == NULL)
        return sqlite3_bind_null(s, i) == SQLITE_OK ? 0 : GH_E_STORE;
    if (strlen(v) > max)
        return GH_E_INVAL;
    return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) == SQLITE_OK
               ? 0
               : GH_E_STORE;
}

int
gh_store_audit_add(struct gh_store *st, const struct gh_audit_event *ev)
{
    sqlite3_stmt *s = st->audit_insert;
    int r;

    if (ev->actor == NULL || ev->action == NULL || ev->outcome == NULL)
        return GH_E_INVAL;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_int64(s, 1, ev->ts_ms ? ev->ts_ms : gh_store_now_ms());
    if ((r = gh_store_bind_opt(s, 2, ev->actor, GH_AUDIT_FIELD_MAX)) != 0 ||
        (r = gh_store_bind_opt(s, 3, ev->action, GH_AUDIT_FIELD_MAX)) != 0 ||
        (r = gh_store_bind_opt(s, 4, ev->object, GH_AUDIT_FIELD_MAX)) != 0 ||
        (r = gh_store_bind_opt(s, 5, ev->outcome, GH_AUDIT_FIELD_MAX)) != 0 ||
        (r = gh_store_bind_opt(s, 6, ev->source, GH_AUDIT_FIELD_MAX)) != 0 ||
        (r = gh_store_bind_opt(s, 7, ev->detail, GH_AUDIT_DETAIL_MAX)) != 0)
        goto out;
    if (sqlite3_step(s) != SQLITE_DONE)
        r = gh_store_fail(st, "audit insert");
out:
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return r;
}

static const char *
gh_col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

int
gh_store_audit_list(struct gh_store *st, int64_t after_id, int limit,
                    int (*fn)(const struct gh_audit_row *row, void *ctx),
                    void *ctx)
{
    return gh_store_audit_query(st, after_id, limit, NULL, NULL, 0, fn, ctx);
}

int
gh_store_audit_query(struct gh_store *st, int64_t after_id, int limit,
                     const char *actor, const char *action, int64_t since_ms,
                     int (*fn)(const struct gh_audit_row *row, void *ctx),
                     void *ctx)
{
    struct gh_audit_row row;
    sqlite3_stmt *s;
    int n = 0, rc;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, ts_ms, actor, action, object, outcome, "
                           "source, detail FROM audit WHERE id > ?1 "
                           "AND (?3 IS NULL OR actor = ?3) "
                           "AND (?4 IS NULL OR action = ?4) AND ts_ms >= ?5 "
                           "ORDER BY id LIMIT ?2",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "audit list");
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int(s, 2, limit);
    /* Bound without a length limit on purpose: a filter that failed to
     * bind would match everything. */
    if ((actor != NULL &&
         sqlite3_bind_text(s, 3, actor, -1, SQLITE_STATIC) != SQLITE_OK) ||
        (action != NULL &&
         sqlite3_bind_text(s, 4, action, -1, SQLITE_STATIC) != SQLITE_OK)) {
        sqlite3_finalize(s);
        return GH_E_INVAL;
    }
    sqlite3_bind_int64(s, 5, since_ms);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&row, 0, sizeof(row));
        row.id = sqlite3_column_int64(s, 0);
        row.ev.ts_ms = sqlite3_column_int64(s, 1);
        row.ev.actor = gh_col_text(s, 2);
        row.ev.action = gh_col_text(s, 3);
        row.ev.object = gh_col_text(s, 4);
        row.ev.outcome = gh_col_text(s, 5);
        row.ev.source = gh_col_text(s, 6);
        row.ev.detail = gh_col_text(s, 7);
        n++;
        if (fn(&row, ctx) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        n = gh_store_fail(st, "audit list");
    sqlite3_finalize(s);
    return n;
}

int
gh_store_session_add(struct gh_store *st,
                     const unsigned char hash[GH_SESSION_HASH_LEN],
                     const char *user_id, const char *identity, int64_t now_ms,
                     int64_t expires_ms)
{
    sqlite3_stmt *s;
    int r = 0;

    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO browser_sessions (id_hash, user_id, "
                           "identity, created_ms, last_seen_ms, expires_ms) "
                           "VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "session add");
    sqlite3_bind_blob(s, 1, hash, GH_SESSION_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, identity, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now_ms);
    sqlite3_bind_int64(s, 5, expires_ms);
    if (sqlite3_step(s) != SQLITE_DONE)
        r = gh_store_fail(st, "session add");
    sqlite3_finalize(s);
    return r;
}

int
gh_store_session_get(struct gh_store *st,
                     const unsigned char hash[GH_SESSION_HASH_LEN],
                     int64_t now_ms, int64_t idle_ms, char **identity,
                     int64_t *expires_ms)
{
    sqlite3_stmt *s;
    int r = GH_E_NOTFOUND, rc;

    *identity = NULL;
    /* One statement finds and touches the session, so two requests cannot
     * race an idle expiry. */
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE browser_sessions SET last_seen_ms = ?2 "
                           "WHERE id_hash = ?1 AND ended_ms IS NULL "
                           "AND expires_ms > ?2 AND last_seen_ms + ?3 > ?2 "
                           "RETURNING identity, expires_ms",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "session get");
    sqlite3_bind_blob(s, 1, hash, GH_SESSION_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, idle_ms);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *identity = gh_strdup((const char *)sqlite3_column_text(s, 0));
        *expires_ms = sqlite3_column_int64(s, 1);
        r = 0;
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE)
        r = gh_store_fail(st, "session get");
    sqlite3_finalize(s);
    if (r != 0) {
        free(*identity);
        *identity = NULL;
    }
    return r;
}

int
gh_store_session_end(struct gh_store *st,
                     const unsigned char hash[GH_SESSION_HASH_LEN],
                     int64_t now_ms)
{
    sqlite3_stmt *s;
    int r = 0;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE browser_sessions SET ended_ms = ?2 "
                           "WHERE id_hash = ?1 AND ended_ms IS NULL",
                           -1, &s, NULL) != SQLITE_OK)
        return gh_store_fail(st, "session end");
    sqlite3_bind_blob(s, 1, hash, GH_SESSION_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    if (sqlite3_step(s) != SQLITE_DONE)
        r = gh_store_fail(st, "session end");
    else if (sqlite3_changes(st->db) == 0)
        r = GH_E_NOTFOUND;
    sqlite3_finalize(s);
    return r;
}

int
gh_store_bind_text(sqlite3_stmt *s, int i, const char *v, int optional)
{
    if (v == NULL)
        return optional && sqlite3_bind_null(s, i) == SQLITE_OK ? 0
                                                                : GH_E_INVAL;
    if (strlen(v) > GH_ACCESS_FIELD_MAX)
        return GH_E_INVAL;
    return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) == SQLITE_OK
               ? 0
               : GH_E_STORE;
}

int
gh_store_list_limit(int limit)
{
    return limit < 1 || limit > GH_LIST_MAX ? GH_LIST_MAX : limit;
}
