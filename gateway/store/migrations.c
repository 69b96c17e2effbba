/*
 * migrations.c - schema history. Append only: a released migration is
 * never edited, because databases in the field already ran it. Each later
 * feature adds its tables with a new entry at the end.
 */
#include "migrations.h"

const struct gh_migration gh_migrations[] = {
    {"meta and append-only audit",
     "CREATE TABLE meta ("
     "  key   TEXT PRIMARY KEY NOT NULL,"
     "  value TEXT NOT NULL"
     ") STRICT;"
     "CREATE TABLE audit ("
     "  id      INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  ts_ms   INTEGER NOT NULL,"
     "  actor   TEXT NOT NULL,"
     "  action  TEXT NOT NULL,"
     "  object  TEXT,"
     "  outcome TEXT NOT NULL,"
     "  source  TEXT,"
     "  detail  TEXT"
     ") STRICT;"
     "CREATE INDEX audit_ts ON audit(ts_ms);"
     "CREATE INDEX audit_actor ON audit(actor, ts_ms);"
     "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
     "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
     "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
     "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"},
    {"browser sessions",
     /* Only a SHA-256 of the session id is stored: a copy of the database
      * does not let anyone into a live session. */
     "CREATE TABLE browser_sessions ("
     "  id_hash      BLOB PRIMARY KEY NOT NULL,"
     "  user_id      TEXT NOT NULL,"
     "  identity     TEXT NOT NULL,"
     "  created_ms   INTEGER NOT NULL,"
     "  last_seen_ms INTEGER NOT NULL,"
     "  expires_ms   INTEGER NOT NULL,"
     "  ended_ms     INTEGER"
     ") STRICT;"
     "CREATE INDEX browser_sessions_user ON browser_sessions(user_id);"},
};

const size_t gh_migrations_count =
    sizeof(gh_migrations) / sizeof(gh_migrations[0]);
