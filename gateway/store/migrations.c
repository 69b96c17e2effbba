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
    {"access requests and grants",
     /* History is never deleted: states move forward, grants are revoked
      * or run out, and the rows stay for auditors. */
     "CREATE TABLE access_requests ("
     "  id          INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  requester   TEXT NOT NULL,"
     "  target      TEXT NOT NULL,"
     "  ports       TEXT NOT NULL,"
     "  duration_s  INTEGER NOT NULL CHECK (duration_s > 0),"
     "  reason      TEXT NOT NULL,"
     "  source_cidr TEXT NOT NULL DEFAULT '',"
     "  start_ms    INTEGER,"
     "  state       TEXT NOT NULL CHECK (state IN ('pending', 'approved',"
     "                'denied', 'cancelled', 'expired')),"
     "  created_ms  INTEGER NOT NULL,"
     "  decided_ms  INTEGER,"
     "  decided_by  TEXT,"
     "  decision_reason TEXT"
     ") STRICT;"
     "CREATE INDEX access_requests_state ON access_requests(state, "
     "  created_ms);"
     "CREATE INDEX access_requests_requester ON access_requests(requester,"
     "  created_ms);"
     "CREATE TABLE grants ("
     "  id          INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  request_id  INTEGER REFERENCES access_requests(id),"
     "  user_id     TEXT NOT NULL,"
     "  target      TEXT NOT NULL,"
     "  ports       TEXT NOT NULL,"
     "  source_cidr TEXT NOT NULL DEFAULT '',"
     "  starts_ms   INTEGER NOT NULL,"
     "  expires_ms  INTEGER NOT NULL CHECK (expires_ms > starts_ms),"
     "  how         TEXT NOT NULL CHECK (how IN ('approved', 'auto',"
     "                'direct')),"
     "  created_by  TEXT NOT NULL,"
     "  created_ms  INTEGER NOT NULL,"
     "  revoked_ms  INTEGER,"
     "  revoked_by  TEXT,"
     "  revoke_reason TEXT"
     ") STRICT;"
     "CREATE INDEX grants_live ON grants(user_id, target, expires_ms) "
     "  WHERE revoked_ms IS NULL;"
     "CREATE INDEX grants_expiry ON grants(expires_ms) "
     "  WHERE revoked_ms IS NULL;"},
    {"remote sessions and recordings",
     /* A session row is written when the decision allowed it and ended
      * when it ends; a gateway that died leaves rows that the next start
      * ends (reason gateway_restart). */
     "CREATE TABLE remote_sessions ("
     "  id         INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  kind       TEXT NOT NULL CHECK (kind IN ('browser', 'tunnel')),"
     "  protocol   TEXT NOT NULL,"
     "  user_id    TEXT NOT NULL,"
     "  target     TEXT NOT NULL,"
     "  port       INTEGER NOT NULL,"
     "  grant_id   INTEGER NOT NULL REFERENCES grants(id),"
     "  source     TEXT NOT NULL,"
     "  started_ms INTEGER NOT NULL,"
     "  ended_ms   INTEGER,"
     "  end_reason TEXT,"
     "  bytes_in   INTEGER NOT NULL DEFAULT 0,"
     "  bytes_out  INTEGER NOT NULL DEFAULT 0"
     ") STRICT;"
     "CREATE INDEX remote_sessions_live ON remote_sessions(id) "
     "  WHERE ended_ms IS NULL;"
     "CREATE INDEX remote_sessions_user ON remote_sessions(user_id, id);"
     "CREATE TABLE recordings ("
     "  id         INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  session_id INTEGER NOT NULL UNIQUE REFERENCES remote_sessions(id),"
     "  user_id    TEXT NOT NULL,"
     "  target     TEXT NOT NULL,"
     "  grant_id   INTEGER NOT NULL,"
     "  file       TEXT NOT NULL UNIQUE,"
     "  cols       INTEGER NOT NULL,"
     "  rows       INTEGER NOT NULL,"
     "  started_ms INTEGER NOT NULL,"
     "  ended_ms   INTEGER,"
     "  size       INTEGER NOT NULL DEFAULT 0,"
     "  sha256     TEXT,"
     "  state      TEXT NOT NULL CHECK (state IN ('recording', 'complete',"
     "               'truncated'))"
     ") STRICT;"
     "CREATE INDEX recordings_user ON recordings(user_id, started_ms);"
     "CREATE INDEX recordings_started ON recordings(started_ms);"},
};

const size_t gh_migrations_count =
    sizeof(gh_migrations) / sizeof(gh_migrations[0]);
