/*
 * record.c - the broker's side of recordings: every browser session is
 * recorded here, by the trusted side, as asciicast v2 (recording.h), and
 * indexed in the store. File names are made from the session id and the
 * time, never from anything a user sent.
 */
#include "broker-priv.h"

#include "gateway.h"

#include "gatehouse/err.h"
#include "gatehouse/fsutil.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/recording.h"
#include "gatehouse/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The recordings directory, opened once per call (cheap; a session start
 * is rare next to its traffic) so that a directory replaced while the
 * gateway runs is not written through a stale descriptor. */
static int
gh_record_dir(struct gh_broker *b)
{
    if (gh_dir_make_private(b->rec_dir) != 0)
        return -1;
    return open(b->rec_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static uint64_t
gh_record_ms(const struct gh_rsess *s)
{
    int64_t d = gh_broker_now_ms() - s->started_ms;

    return d > 0 ? (uint64_t)d : 0;
}

int
gh_record_open(struct gh_rsess *s)
{
    struct gh_gateway *gw = s->b->gw;
    struct gh_cast_meta m;
    struct gh_recording row;
    char name[GH_CAST_NAME_MAX], when[32];
    time_t now = (time_t)(s->started_ms / 1000);
    struct tm tm;
    int dfd, rc;

    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(name, sizeof(name), "session-%lld-%s.cast", (long long)s->id,
             when);
    memset(&m, 0, sizeof(m));
    m.cols = s->cols;
    m.rows = s->rows;
    m.start_unix = now;
    m.user = s->user;
    m.target = s->target;
    m.session_id = s->id;
    m.grant_id = s->grant_id;
    m.input_recorded = s->record_input;
    dfd = gh_record_dir(s->b);
    if (dfd < 0) {
        rc = GH_E_IO;
    } else {
        rc = gh_cast_open(dfd, name, &m, &s->rec);
        close(dfd);
    }
    if (rc != 0) {
        gh_error("broker",
                 "msg=\"cannot create recording\" session=%lld dir=%s "
                 "err=%s",
                 (long long)s->id, gh_q(s->b->rec_dir), gh_q(strerror(errno)));
        s->rec_failed = true;
        return rc;
    }
    memset(&row, 0, sizeof(row));
    row.session_id = s->id;
    row.user_id = s->user;
    row.target = s->target;
    row.grant_id = s->grant_id;
    row.file = name;
    row.cols = s->cols;
    row.rows = s->rows;
    row.started_ms = s->started_ms;
    if (gh_store_recording_add(gw->store, &row, &s->rec_id) != 0) {
        /* Unindexed means unfindable: as bad as not written. */
        gh_cast_close(s->rec, NULL, NULL);
        s->rec = NULL;
        s->rec_failed = true;
        return GH_E_STORE;
    }
    s->rec_file = gh_strdup(name);
    return 0;
}

static void
gh_record_check(struct gh_rsess *s, int rc)
{
    int e = 0;

    if (rc == 0 || s->rec_failed)
        return;
    gh_cast_status(s->rec, &e);
    gh_error("broker", "msg=\"recording write failed\" session=%lld err=%s",
             (long long)s->id, gh_q(strerror(e)));
    s->rec_failed = true;
}

void
gh_record_output(struct gh_rsess *s, const void *p, size_t len)
{
    if (s->rec != NULL)
        gh_record_check(s, gh_cast_output(s->rec, gh_record_ms(s), p, len));
}

void
gh_record_input(struct gh_rsess *s, const void *p, size_t len)
{
    if (s->rec != NULL)
        gh_record_check(s, gh_cast_input(s->rec, gh_record_ms(s), p, len));
}

void
gh_record_resize(struct gh_rsess *s, unsigned cols, unsigned rows)
{
    if (s->rec != NULL)
        gh_record_check(s, gh_cast_resize(s->rec, gh_record_ms(s), cols, rows));
}

int
gh_record_flush(struct gh_rsess *s)
{
    if (s->rec != NULL)
        gh_record_check(s, gh_cast_flush(s->rec));
    return s->rec_failed ? GH_E_IO : 0;
}

void
gh_record_close(struct gh_rsess *s)
{
    char sha[65] = "";
    uint64_t size = 0;
    int rc;

    if (s->rec == NULL)
        return;
    if (s->end_reason != NULL)
        gh_cast_marker(s->rec, gh_record_ms(s), s->end_reason);
    rc = gh_cast_close(s->rec, &size, sha);
    s->rec = NULL;
    if (gh_store_recording_finish(s->b->gw->store, s->rec_id,
                                  gh_broker_now_ms(), (int64_t)size, sha,
                                  rc == 0 ? "complete" : "truncated") != 0)
        gh_warn("broker", "msg=\"cannot index finished recording\" id=%lld",
                (long long)s->rec_id);
}

/* ---- at start: recordings a crash left open ---- */

struct gh_record_open_row {
    int64_t id, started_ms;
    char *file;
};

struct gh_record_batch {
    struct gh_record_open_row v[GH_LIST_MAX];
    int n;
};

static int
gh_record_collect(const struct gh_recording *r, void *ctx)
{
    struct gh_record_batch *b = ctx;

    b->v[b->n].id = r->id;
    b->v[b->n].started_ms = r->started_ms;
    b->v[b->n].file = gh_strdup(r->file);
    b->n++;
    return 0;
}

void
gh_record_recover(struct gh_broker *b)
{
    struct gh_store *st = b->gw->store;
    struct gh_remote_filter f;
    struct gh_record_batch *batch = gh_alloc(1, sizeof(*batch));
    struct gh_cast_scan scan;
    int dfd = gh_record_dir(b), i, fixed = 0;

    memset(&f, 0, sizeof(f));
    f.live = 1;
    f.limit = GH_LIST_MAX;
    do {
        batch->n = 0;
        if (gh_store_recording_list(st, &f, gh_record_collect, batch) < 0)
            break;
        for (i = 0; i < batch->n; i++) {
            struct gh_record_open_row *o = &batch->v[i];

            memset(&scan, 0, sizeof(scan));
            if (dfd < 0 || gh_cast_scan(dfd, o->file, &scan) != 0)
                gh_warn("broker",
                        "msg=\"recording left open is unreadable\" id=%lld "
                        "file=%s",
                        (long long)o->id, gh_q(o->file));
            gh_store_recording_finish(
                st, o->id, o->started_ms + (int64_t)scan.last_ms,
                (int64_t)scan.size, scan.sha256[0] ? scan.sha256 : NULL,
                "truncated");
            fixed++;
            f.after_id = o->id;
            free(o->file);
        }
    } while (batch->n == GH_LIST_MAX);
    if (dfd >= 0)
        close(dfd);
    free(batch);
    if (fixed > 0)
        gh_warn("broker",
                "msg=\"recordings left open by an earlier run indexed as "
                "truncated\" count=%d",
                fixed);
}
