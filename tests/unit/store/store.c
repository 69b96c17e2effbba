/* Unit tests for gateway/store: migrations, meta, append-only audit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/mem.h"
#include "gatehouse/store.h"

#include <sqlite3.h>
#include <sys/time.h>

#include "../gh_test.h"

#define BUSY_MS 2000

struct fx {
    char *dir;
    char *db; /* DIR/gh.db */
    struct gh_store *st;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->dir = gh_test_mkdtemp("store");
    fx->db = gh_test_path(fx->dir, "gh.db");
    *state = fx;
    return 0;
}

/* setup plus an open store. */
static int
setup_open(void **state)
{
    struct fx *fx;

    setup(state);
    fx = *state;
    assert_int_equal(gh_store_open(fx->db, BUSY_MS, &fx->st), 0);
    assert_non_null(fx->st);
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    gh_store_close(fx->st);
    gh_test_rmtree(fx->dir);
    free(fx->db);
    free(fx->dir);
    free(fx);
    return 0;
}

/* ---- helpers: a direct sqlite3 connection, collected audit rows ---- */

static sqlite3 *
raw_open(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, BUSY_MS);
    return db;
}

/* First column of the first row of sql as a new string, NULL if none. */
static char *
raw_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    char *v = NULL;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
        v = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

static long long
raw_int(sqlite3 *db, const char *sql)
{
    char *t = raw_text(db, sql);
    long long v;

    assert_non_null(t);
    v = strtoll(t, NULL, 10);
    free(t);
    return v;
}

#define MAX_ROWS 64

/* Deep copies of the rows gh_store_audit_list reported. */
struct rows {
    int n;
    int stop_after; /* 0 = never stop early */
    int64_t id[MAX_ROWS];
    int64_t ts[MAX_ROWS];
    char *f[MAX_ROWS][6]; /* actor action object outcome source detail */
};

static char *
dup_or_null(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

static int
collect(const struct gh_audit_row *row, void *ctx)
{
    struct rows *r = ctx;

    assert_true(r->n < MAX_ROWS);
    r->id[r->n] = row->id;
    r->ts[r->n] = row->ev.ts_ms;
    r->f[r->n][0] = dup_or_null(row->ev.actor);
    r->f[r->n][1] = dup_or_null(row->ev.action);
    r->f[r->n][2] = dup_or_null(row->ev.object);
    r->f[r->n][3] = dup_or_null(row->ev.outcome);
    r->f[r->n][4] = dup_or_null(row->ev.source);
    r->f[r->n][5] = dup_or_null(row->ev.detail);
    r->n++;
    return r->stop_after != 0 && r->n >= r->stop_after;
}

static void
rows_free(struct rows *r)
{
    int i, j;

    for (i = 0; i < r->n; i++)
        for (j = 0; j < 6; j++)
            free(r->f[i][j]);
    memset(r, 0, sizeof(*r));
}

static int
list_all(struct gh_store *st, struct rows *r)
{
    memset(r, 0, sizeof(*r));
    return gh_store_audit_list(st, 0, MAX_ROWS, collect, r);
}

static int
audit_count(struct gh_store *st)
{
    struct rows r;
    int n = list_all(st, &r);

    rows_free(&r);
    return n;
}

static void
add_simple(struct gh_store *st, const char *actor, int64_t ts)
{
    struct gh_audit_event ev = {
        .ts_ms = ts, .actor = actor, .action = "test.event", .outcome = "ok"};

    assert_int_equal(gh_store_audit_add(st, &ev), 0);
}

/* ---- open and schema ---- */

static void
test_store__open_creates_at_latest(void **state)
{
    struct fx *fx = *state;
    sqlite3 *db;

    assert_true(gh_store_schema_latest() >= 1);
    assert_int_equal(gh_test_mode(fx->db), -1);
    assert_int_equal(gh_store_open(fx->db, BUSY_MS, &fx->st), 0);
    assert_non_null(fx->st);
    assert_true(gh_test_mode(fx->db) >= 0);
    assert_int_equal(gh_store_schema_version(fx->st), gh_store_schema_latest());
    db = raw_open(fx->db);
    assert_int_equal(raw_int(db, "PRAGMA user_version"),
                     gh_store_schema_latest());
    assert_int_equal(
        raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                    "AND name IN ('meta', 'audit')"),
        2);
    sqlite3_close(db);
}

static void
test_store__journal_mode_wal(void **state)
{
    struct fx *fx = *state;
    sqlite3 *db = raw_open(fx->db);
    char *mode = raw_text(db, "PRAGMA journal_mode");

    assert_non_null(mode);
    assert_string_equal(mode, "wal");
    free(mode);
    sqlite3_close(db);
}

/* Data survives a close; the second open finds the schema current and
 * runs no migration (none is logged, user_version unchanged). */
static void
test_store__reopen_keeps_data(void **state)
{
    struct fx *fx = *state;
    struct rows r;
    char *v = NULL, *log;
    int fd;

    assert_int_equal(gh_store_meta_set(fx->st, "install_id", "abc-123"), 0);
    add_simple(fx->st, "alice", 1000);
    gh_store_close(fx->st);
    fx->st = NULL;

    fd = gh_test_log_begin();
    assert_int_equal(gh_store_open(fx->db, BUSY_MS, &fx->st), 0);
    log = gh_test_log_end(fd, NULL);
    assert_null(strstr(log, "migrated"));
    free(log);
    assert_int_equal(gh_store_schema_version(fx->st), gh_store_schema_latest());
    assert_int_equal(gh_store_meta_get(fx->st, "install_id", &v), 0);
    assert_string_equal(v, "abc-123");
    free(v);
    assert_int_equal(list_all(fx->st, &r), 1);
    assert_string_equal(r.f[0][0], "alice");
    assert_int_equal(r.ts[0], 1000);
    rows_free(&r);
}

/* The first open of a fresh file does log its migrations (the reopen
 * test above relies on this to mean something). */
static void
test_store__first_open_logs_migration(void **state)
{
    struct fx *fx = *state;
    char *log;
    int fd;

    fd = gh_test_log_begin();
    assert_int_equal(gh_store_open(fx->db, BUSY_MS, &fx->st), 0);
    log = gh_test_log_end(fd, NULL);
    assert_non_null(strstr(log, "migrated"));
    free(log);
}

static void
test_store__newer_schema_refused(void **state)
{
    struct fx *fx = *state;
    struct gh_store *st = (struct gh_store *)fx; /* poison */
    char sql[64];
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
             gh_store_schema_latest() + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(gh_store_open(fx->db, BUSY_MS, &st), GH_E_SCHEMA);
    assert_null(st);
    /* Nothing was migrated into it. */
    db = raw_open(fx->db);
    assert_int_equal(raw_int(db, "PRAGMA user_version"),
                     gh_store_schema_latest() + 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"), 0);
    sqlite3_close(db);
}

static void
test_store__open_bad_paths(void **state)
{
    struct fx *fx = *state;
    struct gh_store *st = (struct gh_store *)fx;
    char *missing = gh_test_path(fx->dir, "no/such/dir/gh.db");
    char *garbage = gh_test_path(fx->dir, "garbage.db");
    char *link = gh_test_path(fx->dir, "link.db");

    assert_int_equal(gh_store_open(missing, BUSY_MS, &st), GH_E_STORE);
    assert_null(st);

    gh_test_write_str(garbage, "this is not an SQLite database, not at all "
                               "and it is long enough to have a header\n");
    st = (struct gh_store *)fx;
    assert_int_equal(gh_store_open(garbage, BUSY_MS, &st), GH_E_STORE);
    assert_null(st);

    /* The store is opened with SQLITE_OPEN_NOFOLLOW: a symlinked path
     * (someone pointing the database elsewhere) is refused. */
    assert_int_equal(gh_store_open(fx->db, BUSY_MS, &st), 0);
    gh_store_close(st);
    assert_int_equal(symlink(fx->db, link), 0);
    st = (struct gh_store *)fx;
    assert_int_equal(gh_store_open(link, BUSY_MS, &st), GH_E_STORE);
    assert_null(st);
    free(missing);
    free(garbage);
    free(link);
    gh_store_close(NULL);
}

static void
test_store__ping(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(gh_store_ping(fx->st), 0);
}

/* ---- meta ---- */

static void
test_store__meta_set_get(void **state)
{
    struct fx *fx = *state;
    char *v = (char *)"sentinel";

    assert_int_equal(gh_store_meta_get(fx->st, "k", &v), GH_E_NOTFOUND);
    assert_null(v);
    assert_int_equal(gh_store_meta_set(fx->st, "k", "one"), 0);
    assert_int_equal(gh_store_meta_get(fx->st, "k", &v), 0);
    assert_string_equal(v, "one");
    free(v);
    assert_int_equal(gh_store_meta_set(fx->st, "k", "two"), 0);
    assert_int_equal(gh_store_meta_get(fx->st, "k", &v), 0);
    assert_string_equal(v, "two");
    free(v);
    /* Keys are separate; empty and quoted values round-trip. */
    assert_int_equal(gh_store_meta_set(fx->st, "empty", ""), 0);
    assert_int_equal(gh_store_meta_set(fx->st, "q", "it's \"x\"; --"), 0);
    assert_int_equal(gh_store_meta_get(fx->st, "empty", &v), 0);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(gh_store_meta_get(fx->st, "q", &v), 0);
    assert_string_equal(v, "it's \"x\"; --");
    free(v);
    assert_int_equal(gh_store_meta_get(fx->st, "k", &v), 0);
    assert_string_equal(v, "two");
    free(v);
    v = (char *)"sentinel";
    assert_int_equal(gh_store_meta_get(fx->st, "K", &v), GH_E_NOTFOUND);
    assert_null(v);
}

/* ---- audit ---- */

static void
test_store__audit_order_and_paging(void **state)
{
    struct fx *fx = *state;
    struct rows r;
    char actor[16];
    int64_t second, last;
    int i;

    for (i = 0; i < 5; i++) {
        snprintf(actor, sizeof(actor), "user%d", i);
        /* Timestamps out of order: the list follows insertion (id). */
        add_simple(fx->st, actor, 5000 - i);
    }
    assert_int_equal(list_all(fx->st, &r), 5);
    for (i = 0; i < 5; i++) {
        snprintf(actor, sizeof(actor), "user%d", i);
        assert_string_equal(r.f[i][0], actor);
        assert_int_equal(r.ts[i], 5000 - i);
        if (i > 0)
            assert_true(r.id[i] > r.id[i - 1]);
    }
    second = r.id[1];
    last = r.id[4];
    rows_free(&r);

    /* after_id: strictly after. */
    assert_int_equal(gh_store_audit_list(fx->st, second, MAX_ROWS, collect, &r),
                     3);
    assert_string_equal(r.f[0][0], "user2");
    assert_string_equal(r.f[2][0], "user4");
    rows_free(&r);
    assert_int_equal(gh_store_audit_list(fx->st, last, MAX_ROWS, collect, &r),
                     0);
    rows_free(&r);

    /* limit, then the next page from the last id seen. */
    assert_int_equal(gh_store_audit_list(fx->st, 0, 2, collect, &r), 2);
    assert_string_equal(r.f[0][0], "user0");
    assert_string_equal(r.f[1][0], "user1");
    second = r.id[1];
    rows_free(&r);
    assert_int_equal(gh_store_audit_list(fx->st, second, 2, collect, &r), 2);
    assert_string_equal(r.f[0][0], "user2");
    assert_string_equal(r.f[1][0], "user3");
    rows_free(&r);

    /* The callback stops the walk early. */
    r.stop_after = 1;
    assert_int_equal(gh_store_audit_list(fx->st, 0, MAX_ROWS, collect, &r), 1);
    assert_int_equal(r.n, 1);
    rows_free(&r);
}

static void
test_store__audit_fields_round_trip(void **state)
{
    struct fx *fx = *state;
    struct gh_audit_event full = {
        .ts_ms = 1764057600123LL,
        .actor = "user:42",
        .action = "auth.login",
        .object = "target:web-01",
        .outcome = "denied",
        .source = "2001:db8::1",
        .detail = "{\"reason\":\"no grant\",\"n\":1}",
    };
    struct gh_audit_event sparse = {.ts_ms = 7,
                                    .actor = "system",
                                    .action = "gateway.start",
                                    .outcome = "ok"};
    struct rows r;

    assert_int_equal(gh_store_audit_add(fx->st, &full), 0);
    assert_int_equal(gh_store_audit_add(fx->st, &sparse), 0);
    assert_int_equal(list_all(fx->st, &r), 2);
    assert_int_equal(r.ts[0], full.ts_ms);
    assert_string_equal(r.f[0][0], full.actor);
    assert_string_equal(r.f[0][1], full.action);
    assert_string_equal(r.f[0][2], full.object);
    assert_string_equal(r.f[0][3], full.outcome);
    assert_string_equal(r.f[0][4], full.source);
    assert_string_equal(r.f[0][5], full.detail);
    /* NULL stays NULL, not "". */
    assert_int_equal(r.ts[1], 7);
    assert_string_equal(r.f[1][0], "system");
    assert_null(r.f[1][2]);
    assert_null(r.f[1][4]);
    assert_null(r.f[1][5]);
    rows_free(&r);
}

static void
test_store__audit_ts_zero_means_now(void **state)
{
    struct fx *fx = *state;
    struct timeval tv;
    int64_t before, after;
    struct rows r;

    gettimeofday(&tv, NULL);
    before = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    add_simple(fx->st, "clock", 0);
    gettimeofday(&tv, NULL);
    after = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    assert_int_equal(list_all(fx->st, &r), 1);
    assert_true(r.ts[0] >= before);
    assert_true(r.ts[0] <= after);
    rows_free(&r);
}

/* Hostile-looking text and arbitrary bytes are data, stored verbatim. */
static void
test_store__audit_verbatim_bytes(void **state)
{
    struct fx *fx = *state;
    static const char inj[] = "x'); DROP TABLE audit; --";
    static const char inj2[] = "\" OR 1=1; DELETE FROM meta WHERE '1'='1";
    static const char utf8[] = "Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac "
                               "\xf0\x9f\x9a\x80";
    static const char raw[] = "\xff\xfe\x80\xc3(bad\x01\x7f";
    struct gh_audit_event ev = {.ts_ms = 1,
                                .actor = inj,
                                .action = inj2,
                                .object = utf8,
                                .outcome = raw,
                                .source = "%s%n%x",
                                .detail = utf8};
    struct rows r;
    char *v = NULL;

    assert_int_equal(gh_store_meta_set(fx->st, "canary", "alive"), 0);
    assert_int_equal(gh_store_audit_add(fx->st, &ev), 0);
    assert_int_equal(list_all(fx->st, &r), 1);
    assert_string_equal(r.f[0][0], inj);
    assert_string_equal(r.f[0][1], inj2);
    assert_int_equal(strlen(r.f[0][2]), sizeof(utf8) - 1);
    assert_memory_equal(r.f[0][2], utf8, sizeof(utf8));
    assert_int_equal(strlen(r.f[0][3]), sizeof(raw) - 1);
    assert_memory_equal(r.f[0][3], raw, sizeof(raw));
    assert_string_equal(r.f[0][4], "%s%n%x");
    rows_free(&r);
    /* The "injections" did nothing. */
    assert_int_equal(gh_store_meta_get(fx->st, "canary", &v), 0);
    assert_string_equal(v, "alive");
    free(v);
    assert_int_equal(gh_store_ping(fx->st), 0);
    add_simple(fx->st, "after", 2);
    assert_int_equal(audit_count(fx->st), 2);
}

static void
test_store__audit_required_fields(void **state)
{
    struct fx *fx = *state;
    struct gh_audit_event ev = {
        .ts_ms = 1, .actor = "a", .action = "b", .outcome = "c"};
    struct gh_audit_event bad;

    bad = ev;
    bad.actor = NULL;
    assert_int_equal(gh_store_audit_add(fx->st, &bad), GH_E_INVAL);
    bad = ev;
    bad.action = NULL;
    assert_int_equal(gh_store_audit_add(fx->st, &bad), GH_E_INVAL);
    bad = ev;
    bad.outcome = NULL;
    assert_int_equal(gh_store_audit_add(fx->st, &bad), GH_E_INVAL);
    assert_int_equal(audit_count(fx->st), 0);
    assert_int_equal(gh_store_audit_add(fx->st, &ev), 0);
    assert_int_equal(audit_count(fx->st), 1);
}

/* Each short field: GH_AUDIT_FIELD_MAX bytes pass, one more is refused
 * with nothing stored; detail likewise at GH_AUDIT_DETAIL_MAX. */
static void
test_store__audit_size_limits(void **state)
{
    struct fx *fx = *state;
    char *at = malloc(GH_AUDIT_FIELD_MAX + 1);
    char *over = malloc(GH_AUDIT_FIELD_MAX + 2);
    char *dat = malloc(GH_AUDIT_DETAIL_MAX + 1);
    char *dover = malloc(GH_AUDIT_DETAIL_MAX + 2);
    struct gh_audit_event base = {
        .ts_ms = 1, .actor = "a", .action = "b", .outcome = "c"};
    struct gh_audit_event ev;
    const char **field[5];
    struct rows r;
    int i, stored = 0;

    assert_non_null(at);
    assert_non_null(over);
    assert_non_null(dat);
    assert_non_null(dover);
    memset(at, 'f', GH_AUDIT_FIELD_MAX);
    at[GH_AUDIT_FIELD_MAX] = '\0';
    memset(over, 'g', GH_AUDIT_FIELD_MAX + 1);
    over[GH_AUDIT_FIELD_MAX + 1] = '\0';
    memset(dat, 'd', GH_AUDIT_DETAIL_MAX);
    dat[GH_AUDIT_DETAIL_MAX] = '\0';
    memset(dover, 'e', GH_AUDIT_DETAIL_MAX + 1);
    dover[GH_AUDIT_DETAIL_MAX + 1] = '\0';

    for (i = 0; i < 5; i++) {
        ev = base;
        field[0] = &ev.actor;
        field[1] = &ev.action;
        field[2] = &ev.object;
        field[3] = &ev.outcome;
        field[4] = &ev.source;
        *field[i] = over;
        assert_int_equal(gh_store_audit_add(fx->st, &ev), GH_E_INVAL);
        assert_int_equal(audit_count(fx->st), stored);
        *field[i] = at;
        assert_int_equal(gh_store_audit_add(fx->st, &ev), 0);
        assert_int_equal(audit_count(fx->st), ++stored);
    }
    ev = base;
    ev.detail = dover;
    assert_int_equal(gh_store_audit_add(fx->st, &ev), GH_E_INVAL);
    assert_int_equal(audit_count(fx->st), stored);
    ev.detail = dat;
    assert_int_equal(gh_store_audit_add(fx->st, &ev), 0);
    assert_int_equal(audit_count(fx->st), ++stored);

    /* No "g"/"e" text made it in; the maximal values are whole. */
    assert_int_equal(list_all(fx->st, &r), stored);
    for (i = 0; i < r.n; i++) {
        int j;

        for (j = 0; j < 6; j++)
            if (r.f[i][j] != NULL) {
                assert_int_not_equal(r.f[i][j][0], 'g');
                assert_int_not_equal(r.f[i][j][0], 'e');
            }
    }
    assert_string_equal(r.f[0][0], at);
    assert_int_equal(strlen(r.f[stored - 1][5]), GH_AUDIT_DETAIL_MAX);
    rows_free(&r);
    free(at);
    free(over);
    free(dat);
    free(dover);
}

/* The table refuses UPDATE and DELETE even from another connection that
 * bypasses gh_store. */
static void
test_store__audit_append_only(void **state)
{
    struct fx *fx = *state;
    struct gh_audit_event ev = {.ts_ms = 99,
                                .actor = "mallory",
                                .action = "auth.login",
                                .object = "obj",
                                .outcome = "denied",
                                .source = "192.0.2.9"};
    struct rows r;
    sqlite3 *db;
    char *err = NULL;

    assert_int_equal(gh_store_audit_add(fx->st, &ev), 0);
    db = raw_open(fx->db);
    assert_int_not_equal(sqlite3_exec(db,
                                      "UPDATE audit SET outcome = 'ok' "
                                      "WHERE actor = 'mallory'",
                                      NULL, NULL, &err),
                         SQLITE_OK);
    assert_non_null(err);
    assert_non_null(strstr(err, "append-only"));
    sqlite3_free(err);
    err = NULL;
    assert_int_not_equal(
        sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, &err), SQLITE_OK);
    assert_non_null(err);
    assert_non_null(strstr(err, "append-only"));
    sqlite3_free(err);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit"), 1);
    sqlite3_close(db);

    assert_int_equal(list_all(fx->st, &r), 1);
    assert_string_equal(r.f[0][3], "denied");
    assert_string_equal(r.f[0][0], "mallory");
    assert_int_equal(r.ts[0], 99);
    rows_free(&r);
}

#define T(name)  cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TO(name) cmocka_unit_test_setup_teardown(name, setup_open, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store__open_creates_at_latest),
        TO(test_store__journal_mode_wal),
        TO(test_store__reopen_keeps_data),
        T(test_store__first_open_logs_migration),
        T(test_store__newer_schema_refused),
        T(test_store__open_bad_paths),
        TO(test_store__ping),
        TO(test_store__meta_set_get),
        TO(test_store__audit_order_and_paging),
        TO(test_store__audit_fields_round_trip),
        TO(test_store__audit_ts_zero_means_now),
        TO(test_store__audit_verbatim_bytes),
        TO(test_store__audit_required_fields),
        TO(test_store__audit_size_limits),
        TO(test_store__audit_append_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
