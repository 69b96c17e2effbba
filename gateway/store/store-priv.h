/* store-priv.h - what the SQLite back-end's files share (private). */
#ifndef GATEHOUSE_STORE_PRIV_H
#define GATEHOUSE_STORE_PRIV_H

#include <sqlite3.h>
#include <stdint.h>

#include "gatehouse/store.h"

struct gh_store {
    sqlite3 *db;
    sqlite3_stmt *audit_insert;
    sqlite3_stmt *grants_live; /* the decision's query, prepared once */
    int version;
};

/* Log sqlite's error for what; returns GH_E_STORE. */
int gh_store_fail(struct gh_store *st, const char *what);
/* Run SQL without results; 0 or GH_E_STORE. */
int gh_store_exec(struct gh_store *st, const char *sql);
int64_t gh_store_now_ms(void);
/* Bind text v at i: bounded by GH_ACCESS_FIELD_MAX; NULL binds NULL when
 * optional, else is GH_E_INVAL. 0, GH_E_INVAL or GH_E_STORE. */
int gh_store_bind_text(sqlite3_stmt *s, int i, const char *v, int optional);
/* A listing's row limit: 1..GH_LIST_MAX, anything else the maximum. */
int gh_store_list_limit(int limit);

#endif
