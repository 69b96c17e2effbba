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

#endif
