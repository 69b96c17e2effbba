/*
 * link.c - the worker's end of the broker link (fd 3): frames in through
 * the shared reader (gateway/core/frame.c), frames out through one bounded
 * queue. OUTPUT fills the queue up to GH_LINK_OUT_MAX; control frames may
 * use GH_LINK_CTL_RESERVE more, so a CLOSE always fits behind a full queue.
 */
#include "worker.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Header of one frame on the link: length prefix and type byte. */
#define GH_LINK_HDR (GH_FRAME_PREFIX + 1)
/* Hardest limit of the queue. */
#define GH_LINK_CAP_MAX (GH_LINK_OUT_MAX + GH_LINK_CTL_RESERVE)
/* Smallest OUTPUT read worth a frame: below this much free space the
 * queue counts as full, so a draining queue is not refilled byte by byte. */
#define GH_LINK_READ_MIN 4096
/* First allocation of the queue, and the size it shrinks back to when
 * drained: an idle session keeps little memory. */
#define GH_LINK_OUT_SMALL (16 * 1024)

int64_t
gh_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
gh_link_init(struct gh_link *l, int fd)
{
    int fl;

    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->secret = true;
    gh_frame_rd_init(&l->rd);
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void
gh_link_free(struct gh_link *l)
{
    if (l->rd.buf != NULL)
        gh_wipe(l->rd.buf, l->rd.cap);
    gh_frame_rd_free(&l->rd);
    gh_freezero(l->out, l->out_cap);
    l->out = NULL;
    l->out_cap = l->out_start = l->out_end = 0;
}

size_t
gh_link_pending(const struct gh_link *l)
{
    return l->out_end - l->out_start;
}

/* Make room for need more bytes after out_end. */
static void
gh_link_reserve(struct gh_link *l, size_t need)
{
    size_t used = gh_link_pending(l), cap;

    if (l->out_end + need <= l->out_cap)
        return;
    if (l->out_start > 0) {
        memmove(l->out, l->out + l->out_start, used);
        l->out_start = 0;
        l->out_end = used;
        if (used + need <= l->out_cap)
            return;
    }
    cap = l->out_cap ? l->out_cap : GH_LINK_OUT_SMALL;
    while (cap < used + need)
        cap *= 2;
    if (cap > GH_LINK_CAP_MAX)
        cap = GH_LINK_CAP_MAX;
    l->out = gh_realloc(l->out, 1, cap);
    l->out_cap = cap;
}

size_t
gh_link_out_room(const struct gh_link *l)
{
    size_t used = gh_link_pending(l), room;

    if (used + GH_LINK_HDR + GH_LINK_READ_MIN > GH_LINK_OUT_MAX)
        return 0;
    room = GH_LINK_OUT_MAX - used - GH_LINK_HDR;
    return room > GH_FRAME_PAYLOAD_MAX ? GH_FRAME_PAYLOAD_MAX : room;
}

uint8_t *
gh_link_out_reserve(struct gh_link *l, size_t *room)
{
    *room = gh_link_out_room(l);
    if (*room == 0)
        return NULL;
    gh_link_reserve(l, GH_LINK_HDR + *room);
    return l->out + l->out_end + GH_LINK_HDR;
}

void
gh_link_out_commit(struct gh_link *l, size_t n)
{
    if (n == 0)
        return;
    gh_frame_link_header(l->out + l->out_end, GH_F_OUTPUT, n);
    l->out_end += GH_LINK_HDR + n;
}

int
gh_link_send(struct gh_link *l, uint8_t type, const void *p, size_t n)
{
    if (n > GH_LINK_CTL_RESERVE ||
        gh_link_pending(l) + GH_LINK_HDR + n > GH_LINK_CAP_MAX)
        return GH_E_TOOBIG;
    gh_link_reserve(l, GH_LINK_HDR + n);
    gh_frame_link_header(l->out + l->out_end, type, n);
    if (n > 0)
        memcpy(l->out + l->out_end + GH_LINK_HDR, p, n);
    l->out_end += GH_LINK_HDR + n;
    return 0;
}

int
gh_link_send_json(struct gh_link *l, uint8_t type, const json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    int r;

    if (s == NULL)
        return GH_E_NOMEM;
    r = gh_link_send(l, type, s, strlen(s));
    free(s);
    return r;
}

int
gh_link_status(struct gh_link *l, const char *event, const char *key,
               const char *value)
{
    json_t *o = json_pack("{s:s}", "event", event);
    int r;

    if (o == NULL)
        return GH_E_NOMEM;
    if (key != NULL)
        json_object_set_new(o, key, json_string(value));
    r = gh_link_send_json(l, GH_F_STATUS, o);
    json_decref(o);
    return r;
}

int
gh_link_close(struct gh_link *l, const char *reason, const char *fmt, ...)
{
    char msg[GH_LINK_MSG_MAX];
    json_t *o, *m;
    va_list ap;
    size_t i;
    int r;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Server error texts may hold any bytes; JSON strings need UTF-8. */
    m = json_string(msg);
    if (m == NULL) {
        for (i = 0; msg[i] != '\0'; i++)
            if ((unsigned char)msg[i] >= 0x80)
                msg[i] = '?';
        m = json_string(msg);
    }
    o = json_pack("{s:s,s:o*}", "reason", reason, "message", m);
    if (o == NULL)
        return GH_E_NOMEM;
    r = gh_link_send_json(l, GH_F_CLOSE, o);
    json_decref(o);
    gh_info(GH_WK, "msg=\"session end\" reason=%s message=%s", reason,
            gh_q(msg));
    return r;
}

int
gh_link_flush(struct gh_link *l)
{
    ssize_t n;

    while (gh_link_pending(l) > 0 && !l->broken) {
        n = write(l->fd, l->out + l->out_start, gh_link_pending(l));
        if (n > 0) {
            l->out_start += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        l->broken = true;
        return GH_E_IO;
    }
    if (l->broken)
        return GH_E_IO;
    l->out_start = l->out_end = 0;
    if (l->out_cap > GH_LINK_OUT_SMALL) {
        /* Drained after a burst: give the memory back. */
        gh_free(l->out);
        l->out_cap = 0;
    }
    return 0;
}

int
gh_link_drain(struct gh_link *l, int ms)
{
    int64_t end = gh_now_ms() + ms, left;
    struct pollfd p;

    for (;;) {
        if (gh_link_flush(l) != 0)
            return GH_E_IO;
        if (gh_link_pending(l) == 0)
            return 0;
        left = end - gh_now_ms();
        if (left <= 0)
            return GH_E_IO;
        p.fd = l->fd;
        p.events = POLLOUT;
        p.revents = 0;
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return GH_E_IO;
    }
}

/* Bytes still missing from the frame at the reader's start: its prefix
 * first, then the rest. Never 0. */
static size_t
gh_link_frame_missing(const struct gh_frame_rd *r)
{
    size_t have = r->end - r->start, total;
    const uint8_t *p = r->buf + r->start;

    if (have < GH_FRAME_PREFIX)
        return GH_FRAME_PREFIX - have;
    total = GH_FRAME_PREFIX + (((size_t)p[0] << 24) | ((size_t)p[1] << 16) |
                               ((size_t)p[2] << 8) | (size_t)p[3]);
    return total > have ? total - have : 1;
}

int
gh_link_read(struct gh_link *l)
{
    uint8_t *p;
    size_t avail, want;
    ssize_t n;

    if (l->secret && l->rd.buf != NULL && l->rd.start == l->rd.end)
        gh_wipe(l->rd.buf, l->rd.cap); /* a consumed credential's traces */
    want = l->secret ? gh_link_frame_missing(&l->rd) : SIZE_MAX;
    p = gh_frame_rd_space(&l->rd, &avail);
    if (want > avail)
        want = avail;
    do
        n = read(l->fd, p, want);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        gh_frame_rd_commit(&l->rd, (size_t)n);
        return (int)n;
    }
    if (n == 0) {
        l->eof = true;
        return GH_E_IO;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    l->broken = true;
    return GH_E_IO;
}

int
gh_link_next(struct gh_link *l, struct gh_frame *f)
{
    return gh_frame_rd_next(&l->rd, GH_FROM_BROKER, f);
}

void
gh_link_wipe_frame(struct gh_link *l, const struct gh_frame *f)
{
    /* The frame lies in the reader's buffer, header included. */
    uint8_t *p = (uint8_t *)(uintptr_t)f->payload - GH_LINK_HDR;

    if (p >= l->rd.buf && p + GH_LINK_HDR + f->len <= l->rd.buf + l->rd.cap)
        gh_wipe(p, GH_LINK_HDR + f->len);
}

/* jansson frees through here: every block is wiped first. */
static void
gh_json_free(void *p)
{
    if (p != NULL)
        gh_freezero(p, malloc_usable_size(p));
}

void
gh_json_wiping_alloc(void)
{
    json_set_alloc_funcs(malloc, gh_json_free);
}
