/*
 * store.h - the only door to persistent state.
 *
 * Only gatehoused opens the store; workers and CLIs never do. The SQLite
 * back-end (gateway/store/) is the only file that includes sqlite3.h, so
 * another back-end (PostgreSQL, for several gateway nodes) can implement
 * this header later without touching its callers.
 *
 * Calls are short and indexed: they run on the event loop thread. The
 * handle is not shared between threads.
 */
#ifndef GATEHOUSE_STORE_H
#define GATEHOUSE_STORE_H

#include <stdint.h>

struct gh_store;

/* Audit detail longer than this is refused: an event is not a log dump. */
#define GH_AUDIT_DETAIL_MAX (16 * 1024)
/* Each short audit field (actor, action, object, outcome, source). */
#define GH_AUDIT_FIELD_MAX 512

/*
 * Open (creating if needed) the store at path, apply pending migrations in
 * order, each in its own transaction. GH_E_SCHEMA when the database was
 * written by a newer Gatehouse. busy_timeout_ms bounds lock waits.
 * On success *out is a new handle; close it with gh_store_close.
 */
int gh_store_open(const char *path, int busy_timeout_ms, struct gh_store **out);

/* Close the handle (NULL is fine). */
void gh_store_close(struct gh_store *st);

/* Schema version the store is at, and the newest this build knows. */
int gh_store_schema_version(struct gh_store *st);
int gh_store_schema_latest(void);

/* A cheap round trip proving the store answers: 0 or GH_E_STORE. */
int gh_store_ping(struct gh_store *st);

/* Read a meta value: *out is a new string (caller frees), or
 * GH_E_NOTFOUND. */
int gh_store_meta_get(struct gh_store *st, const char *key, char **out);
/* Insert or replace a meta value. */
int gh_store_meta_set(struct gh_store *st, const char *key, const char *value);

/* One audit event. Strings are borrowed for the call; NULL = absent.
 * detail is a JSON object text or NULL. */
struct gh_audit_event {
    int64_t ts_ms;       /* 0 = now */
    const char *actor;   /* who: user id, "system", ... (required) */
    const char *action;  /* what: "gateway.start", "auth.login", ... */
    const char *object;  /* on what: target, request id, ... */
    const char *outcome; /* "ok", "denied", "error", ... (required) */
    const char *source;  /* peer address */
    const char *detail;  /* JSON object */
};

/* Append an event; the table refuses updates and deletes. Returns 0,
 * GH_E_INVAL (missing or oversized field) or GH_E_STORE. */
int gh_store_audit_add(struct gh_store *st, const struct gh_audit_event *ev);

/* Row of gh_store_audit_list, valid only during the callback. */
struct gh_audit_row {
    int64_t id;
    struct gh_audit_event ev;
};

/* Call fn for events with id > after_id, oldest first, at most limit of
 * them. fn returns non-zero to stop early. Returns rows seen or < 0. */
int gh_store_audit_list(struct gh_store *st, int64_t after_id, int limit,
                        int (*fn)(const struct gh_audit_row *row, void *ctx),
                        void *ctx);

/* Length of a browser-session id hash (SHA-256). */
#define GH_SESSION_HASH_LEN 32

/* Record a new browser session. identity is the JSON the auth module
 * stores (gh_identity_dump). */
int gh_store_session_add(struct gh_store *st,
                         const unsigned char hash[GH_SESSION_HASH_LEN],
                         const char *user_id, const char *identity,
                         int64_t now_ms, int64_t expires_ms);

/*
 * Find a live session: not ended, now < expires, and used within idle_ms.
 * On success *identity is a new string (caller frees), *expires_ms its
 * end, and its last use becomes now. GH_E_NOTFOUND otherwise.
 */
int gh_store_session_get(struct gh_store *st,
                         const unsigned char hash[GH_SESSION_HASH_LEN],
                         int64_t now_ms, int64_t idle_ms, char **identity,
                         int64_t *expires_ms);

/* End a session (logout). GH_E_NOTFOUND when there was none live. */
int gh_store_session_end(struct gh_store *st,
                         const unsigned char hash[GH_SESSION_HASH_LEN],
                         int64_t now_ms);

/*
 * Just-in-time access: requests and grants. Strings in these structs are
 * borrowed on input; on output they belong to the struct and are freed by
 * its free function. Times are unix milliseconds.
 */
struct gh_access_request {
    int64_t id;
    const char *requester, *target;
    const char *ports; /* canonical list, e.g. "22,3389" */
    int64_t duration_s;
    const char *reason;
    const char *source_cidr; /* "" = from anywhere */
    int64_t start_ms;        /* 0 = when approved */
    const char *state;       /* pending approved denied cancelled expired */
    int64_t created_ms, decided_ms;
    const char *decided_by, *decision_reason;
};

struct gh_grant {
    int64_t id, request_id; /* request_id 0 for a direct grant */
    const char *user_id, *target, *ports, *source_cidr;
    int64_t starts_ms, expires_ms;
    const char *how; /* approved, auto, direct */
    const char *created_by;
    int64_t created_ms, revoked_ms;
    const char *revoked_by, *revoke_reason;
};

/* Text fields of requests and grants longer than this are refused. */
#define GH_ACCESS_FIELD_MAX 1024

/* Add a pending request; *id its id. */
int gh_store_request_add(struct gh_store *st, const struct gh_access_request *r,
                         int64_t *id);
/* Read request id (caller frees with gh_access_request_free). */
int gh_store_request_get(struct gh_store *st, int64_t id,
                         struct gh_access_request **out);
void gh_access_request_free(struct gh_access_request *r);

/*
 * Approve pending request id and create its grant, atomically: the grant
 * runs duration_s (the approver may shorten it) from the request's start
 * or from now. how is "approved" or "auto". GH_E_EXISTS when the request
 * is no longer pending (decided by someone else first: no lost update).
 */
int gh_store_request_approve(struct gh_store *st, int64_t id, const char *by,
                             const char *why, const char *how,
                             int64_t duration_s, int64_t now_ms,
                             int64_t *grant_id);

/* Move pending request id to "denied" or "cancelled". GH_E_EXISTS when
 * it is no longer pending, GH_E_NOTFOUND when there is no such id. */
int gh_store_request_close(struct gh_store *st, int64_t id,
                           const char *to_state, const char *by,
                           const char *why, int64_t now_ms);

/* Expire requests pending since before created_before_ms; returns how
 * many, or < 0. */
int gh_store_requests_expire(struct gh_store *st, int64_t created_before_ms,
                             int64_t now_ms);

/* Add a grant directly (admin); *id its id. */
int gh_store_grant_add(struct gh_store *st, const struct gh_grant *g,
                       int64_t *id);
/* Read grant id (caller frees with gh_grant_free). */
int gh_store_grant_get(struct gh_store *st, int64_t id, struct gh_grant **out);
void gh_grant_free(struct gh_grant *g);

/* Revoke live grant id. GH_E_NOTFOUND when none is live with that id. */
int gh_store_grant_revoke(struct gh_store *st, int64_t id, const char *by,
                          const char *why, int64_t now_ms);

/* Filters for listing requests and grants; NULL/0 fields match all. */
struct gh_access_filter {
    const char *state; /* requests only */
    const char *user;  /* requester / grantee */
    const char *target;
    int64_t live_at_ms; /* grants only: live at this time */
    int64_t after_id;   /* paging: ids greater than this */
    int limit;          /* 1..GH_LIST_MAX */
};

/* Most rows one listing returns; callers page with after_id. */
#define GH_LIST_MAX 200

/* Call fn for matching requests, oldest id first (each valid only during
 * the call; fn returns non-zero to stop). Returns rows seen or < 0. */
int
gh_store_requests_list(struct gh_store *st, const struct gh_access_filter *f,
                       int (*fn)(const struct gh_access_request *r, void *ctx),
                       void *ctx);

/* The same for grants. */
int gh_store_grants_list(struct gh_store *st, const struct gh_access_filter *f,
                         int (*fn)(const struct gh_grant *g, void *ctx),
                         void *ctx);

/* Audit events with id > after_id, optionally only of actor and/or with
 * action (exact) and at or after since_ms; at most limit. */
int gh_store_audit_query(struct gh_store *st, int64_t after_id, int limit,
                         const char *actor, const char *action,
                         int64_t since_ms,
                         int (*fn)(const struct gh_audit_row *row, void *ctx),
                         void *ctx);

/* Most candidate grants the decision looks at for one user and target. */
#define GH_GRANTS_LIVE_MAX 32

/*
 * Call fn for the live grants of user on target at now_ms (not revoked,
 * started, not expired), latest expiry first, at most GH_GRANTS_LIVE_MAX.
 * The grant passed to fn is valid only during the call; fn returns
 * non-zero to stop. Returns how many were seen, or < 0.
 */
int gh_store_grants_live(struct gh_store *st, const char *user,
                         const char *target, int64_t now_ms,
                         int (*fn)(const struct gh_grant *g, void *ctx),
                         void *ctx);

/*
 * Remote sessions (a browser terminal or a tunnel) and their recordings.
 * Strings are borrowed on input; rows passed to list callbacks are valid
 * only during the call; *_get results are freed with their free function.
 */
struct gh_remote_session {
    int64_t id;
    const char *kind;     /* "browser" or "tunnel" */
    const char *protocol; /* "ssh", "rdp", "tcp" */
    const char *user_id, *target;
    unsigned port;
    int64_t grant_id;
    const char *source;
    int64_t started_ms, ended_ms; /* ended 0 while live */
    const char *end_reason;       /* NULL while live */
    int64_t bytes_in, bytes_out;  /* browser -> VM, VM -> browser */
    int64_t recording_id;         /* 0 = none */
};

int gh_store_remote_add(struct gh_store *st, const struct gh_remote_session *r,
                        int64_t *id);
/* End live session id. GH_E_NOTFOUND when it is not live. */
int gh_store_remote_end(struct gh_store *st, int64_t id, int64_t now_ms,
                        const char *reason, int64_t bytes_in,
                        int64_t bytes_out);
/* End every session still marked live (a start after a crash); returns
 * how many, or < 0. */
int gh_store_remote_end_all(struct gh_store *st, int64_t now_ms,
                            const char *reason);
int gh_store_remote_get(struct gh_store *st, int64_t id,
                        struct gh_remote_session **out);
void gh_remote_session_free(struct gh_remote_session *r);

struct gh_remote_filter {
    const char *user, *target;  /* NULL = any */
    int live;                   /* only live ones */
    int64_t since_ms, until_ms; /* started within; 0 = unbounded */
    int64_t after_id;
    int limit; /* 1..GH_LIST_MAX */
};

int gh_store_remote_list(struct gh_store *st, const struct gh_remote_filter *f,
                         int (*fn)(const struct gh_remote_session *r,
                                   void *ctx),
                         void *ctx);

struct gh_recording {
    int64_t id, session_id;
    const char *user_id, *target;
    int64_t grant_id;
    const char *file; /* name inside the recordings directory */
    unsigned cols, rows;
    int64_t started_ms, ended_ms;
    int64_t size;
    const char *sha256; /* hex; NULL while recording */
    const char *state;  /* recording, complete, truncated */
};

int gh_store_recording_add(struct gh_store *st, const struct gh_recording *r,
                           int64_t *id);
/* Close recording id: state "complete" or "truncated". */
int gh_store_recording_finish(struct gh_store *st, int64_t id, int64_t ended_ms,
                              int64_t size, const char *sha256,
                              const char *state);
int gh_store_recording_get(struct gh_store *st, int64_t id,
                           struct gh_recording **out);
void gh_recording_free(struct gh_recording *r);
/* Recordings by filter (user, target, since/until on started; live =
 * only those still "recording"). */
int gh_store_recording_list(struct gh_store *st,
                            const struct gh_remote_filter *f,
                            int (*fn)(const struct gh_recording *r, void *ctx),
                            void *ctx);

#endif
