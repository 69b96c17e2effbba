/* frame.c - the session wire format (see include/gatehouse/frame.h). */
#include "gatehouse/frame.h"
#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <stdlib.h>
#include <string.h>

/* The reader's first (and idle) buffer: enough for typing and small
 * output, so an idle session holds little. */
#define GH_FRAME_RD_SMALL 4096
/* One whole frame on the link: prefix, type byte, payload. */
#define GH_FRAME_LINK_MAX (GH_FRAME_PREFIX + 1 + GH_FRAME_PAYLOAD_MAX)

const char *
gh_frame_type_name(uint8_t type)
{
    switch (type) {
    case GH_F_OUTPUT:
        return "output";
    case GH_F_INPUT:
        return "input";
    case GH_F_RESIZE:
        return "resize";
    case GH_F_STATUS:
        return "status";
    case GH_F_CREDENTIAL:
        return "credential";
    case GH_F_START:
        return "start";
    case GH_F_CLOSE:
        return "close";
    default:
        return "unknown";
    }
}

static int
gh_frame_allowed(uint8_t type, enum gh_frame_from from)
{
    switch (from) {
    case GH_FROM_BROWSER:
        return type == GH_F_INPUT || type == GH_F_RESIZE ||
               type == GH_F_CREDENTIAL || type == GH_F_CLOSE;
    case GH_FROM_WORKER:
        return type == GH_F_OUTPUT || type == GH_F_STATUS || type == GH_F_CLOSE;
    case GH_FROM_BROKER:
        return type == GH_F_START || type == GH_F_INPUT ||
               type == GH_F_RESIZE || type == GH_F_CREDENTIAL ||
               type == GH_F_CLOSE;
    }
    return 0;
}

int
gh_frame_parse(const uint8_t *msg, size_t len, enum gh_frame_from from,
               struct gh_frame *f)
{
    unsigned c, r;

    if (msg == NULL || len == 0)
        return GH_E_INVAL;
    if (len - 1 > GH_FRAME_PAYLOAD_MAX)
        return GH_E_TOOBIG;
    if (!gh_frame_allowed(msg[0], from))
        return GH_E_INVAL;
    f->type = msg[0];
    f->payload = msg + 1;
    f->len = len - 1;
    if (f->type == GH_F_RESIZE && gh_frame_resize_get(f, &c, &r) != 0)
        return GH_E_INVAL;
    return 0;
}

int
gh_frame_resize_get(const struct gh_frame *f, unsigned *cols, unsigned *rows)
{
    unsigned c, r;

    if (f->type != GH_F_RESIZE || f->len != 4)
        return GH_E_INVAL;
    c = ((unsigned)f->payload[0] << 8) | f->payload[1];
    r = ((unsigned)f->payload[2] << 8) | f->payload[3];
    if (c < 1 || c > GH_FRAME_DIM_MAX || r < 1 || r > GH_FRAME_DIM_MAX)
        return GH_E_INVAL;
    *cols = c;
    *rows = r;
    return 0;
}

void
gh_frame_resize_put(uint8_t out[4], unsigned cols, unsigned rows)
{
    out[0] = (uint8_t)(cols >> 8);
    out[1] = (uint8_t)cols;
    out[2] = (uint8_t)(rows >> 8);
    out[3] = (uint8_t)rows;
}

size_t
gh_frame_link_header(uint8_t out[GH_FRAME_PREFIX + 1], uint8_t type,
                     size_t payload_len)
{
    uint32_t n = (uint32_t)(payload_len + 1);

    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    out[4] = type;
    return GH_FRAME_PREFIX + 1;
}

void
gh_frame_rd_init(struct gh_frame_rd *r)
{
    memset(r, 0, sizeof(*r));
}

void
gh_frame_rd_free(struct gh_frame_rd *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

/* Bytes the frame at start needs in all, or 0 when its prefix is not in. */
static size_t
gh_frame_rd_need(const struct gh_frame_rd *r)
{
    const uint8_t *p;

    if (r->buf == NULL || r->end - r->start < GH_FRAME_PREFIX)
        return 0;
    p = r->buf + r->start;
    return GH_FRAME_PREFIX + (((size_t)p[0] << 24) | ((size_t)p[1] << 16) |
                              ((size_t)p[2] << 8) | (size_t)p[3]);
}

uint8_t *
gh_frame_rd_space(struct gh_frame_rd *r, size_t *avail)
{
    size_t need = gh_frame_rd_need(r), want;

    if (r->start == r->end && r->cap > GH_FRAME_RD_SMALL) {
        /* Drained after a large frame: give the memory back. */
        free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
    if (r->start == r->end)
        r->start = r->end = 0;
    if (r->buf == NULL) {
        r->buf = gh_alloc(1, GH_FRAME_RD_SMALL);
        r->cap = GH_FRAME_RD_SMALL;
    }
    if (r->start > 0 && r->cap - r->end < GH_FRAME_RD_SMALL) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    /* Grow to hold the frame being read (bounded: next() refuses a
     * prefix over the maximum before we get here again). */
    want = need > GH_FRAME_LINK_MAX ? GH_FRAME_LINK_MAX : need;
    if (want > r->cap - r->start) {
        r->buf = gh_realloc(r->buf, 1, r->start + want);
        r->cap = r->start + want;
    }
    if (r->end == r->cap) {
        /* A whole frame is in: next() will take it. Never 0 bytes. */
        r->buf = gh_realloc(r->buf, 1, r->cap + GH_FRAME_RD_SMALL);
        r->cap += GH_FRAME_RD_SMALL;
    }
    *avail = r->cap - r->end;
    return r->buf + r->end;
}

void
gh_frame_rd_commit(struct gh_frame_rd *r, size_t n)
{
    if (n > r->cap - r->end)
        abort(); /* a caller bug: more than gh_frame_rd_space allowed */
    r->end += n;
}

int
gh_frame_rd_next(struct gh_frame_rd *r, enum gh_frame_from from,
                 struct gh_frame *f)
{
    size_t need = gh_frame_rd_need(r);
    int rc;

    if (need == 0)
        return 0;
    if (need == GH_FRAME_PREFIX)
        return GH_E_INVAL; /* a zero length: not even a type byte */
    if (need > GH_FRAME_LINK_MAX)
        return GH_E_TOOBIG;
    if (r->end - r->start < need)
        return 0;
    rc = gh_frame_parse(r->buf + r->start + GH_FRAME_PREFIX,
                        need - GH_FRAME_PREFIX, from, f);
    if (rc != 0)
        return rc;
    r->start += need;
    return 1;
}
