/*
 * fuzz_frame.c - libFuzzer target for the session wire format
 * (gateway/core/frame.c): the parser, RESIZE decoding and the worker-link
 * reader, from all three sides.
 *
 * Input layout: byte 0 picks the side (mod 3), byte 1 seeds the chunk
 * sizes; the rest is the byte stream. Each input is used three ways:
 *   1. the whole rest as one WebSocket message for gh_frame_parse, from
 *      every side;
 *   2. the rest as a link stream fed to the reader in chunks whose sizes
 *      follow a small generator seeded by byte 1 (1 byte .. 64 KiB), the
 *      way reads from a socket arrive;
 *   3. every frame the reader yields is parsed again on its own.
 * Besides ASan/UBSan it checks what the API promises: a frame's type is
 * allowed from that side, its payload is within the limit and inside the
 * reader's buffer, a RESIZE decodes within 1..GH_FRAME_DIM_MAX, the reader
 * never offers 0 bytes nor grows past one frame plus its small buffer, and
 * after an error the reader keeps refusing.
 */
#include "gatehouse/err.h"
#include "gatehouse/frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* frame.c's small buffer and largest link frame. */
#define FUZZ_RD_SMALL 4096
#define FUZZ_LINK_MAX (GH_FRAME_PREFIX + 1 + GH_FRAME_PAYLOAD_MAX)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_allowed(uint8_t t, enum gh_frame_from from)
{
    switch (from) {
    case GH_FROM_BROWSER:
        return t == GH_F_INPUT || t == GH_F_RESIZE || t == GH_F_CREDENTIAL ||
               t == GH_F_CLOSE;
    case GH_FROM_WORKER:
        return t == GH_F_OUTPUT || t == GH_F_STATUS || t == GH_F_CLOSE;
    case GH_FROM_BROKER:
        return t == GH_F_START || t == GH_F_INPUT || t == GH_F_RESIZE ||
               t == GH_F_CREDENTIAL || t == GH_F_CLOSE;
    }
    return 0;
}

/* What any accepted frame must satisfy. */
static void
fuzz_check_frame(const struct gh_frame *f, enum gh_frame_from from)
{
    unsigned c, r;

    if (!fuzz_allowed(f->type, from))
        abort();
    if (f->len > GH_FRAME_PAYLOAD_MAX)
        abort();
    if (strcmp(gh_frame_type_name(f->type), "unknown") == 0)
        abort();
    if (f->type == GH_F_RESIZE) {
        if (gh_frame_resize_get(f, &c, &r) != 0)
            abort();
        if (c < 1 || c > GH_FRAME_DIM_MAX || r < 1 || r > GH_FRAME_DIM_MAX)
            abort();
    } else if (gh_frame_resize_get(f, &c, &r) != GH_E_INVAL) {
        abort();
    }
}

static void
fuzz_parse_whole(const uint8_t *msg, size_t len)
{
    enum gh_frame_from froms[] = {GH_FROM_BROWSER, GH_FROM_WORKER,
                                  GH_FROM_BROKER};
    struct gh_frame f;
    size_t i;
    int rc;

    for (i = 0; i < 3; i++) {
        rc = gh_frame_parse(msg, len, froms[i], &f);
        if (rc == 0) {
            if (f.payload != msg + 1 || f.len != len - 1)
                abort();
            fuzz_check_frame(&f, froms[i]);
        } else if (rc != GH_E_INVAL && rc != GH_E_TOOBIG) {
            abort();
        } else if (len == 0 && rc != GH_E_INVAL) {
            abort();
        }
    }
}

static void
fuzz_stream(const uint8_t *s, size_t n, enum gh_frame_from from, uint32_t seed)
{
    struct gh_frame_rd r;
    struct gh_frame f, g;
    size_t off = 0, avail, take;
    uint8_t *p;
    int rc = 0;

    gh_frame_rd_init(&r);
    while (off < n && rc >= 0) {
        p = gh_frame_rd_space(&r, &avail);
        if (p == NULL || avail == 0)
            abort();
        if (r.cap > FUZZ_LINK_MAX + FUZZ_RD_SMALL)
            abort();
        /* xorshift: chunk sizes from 1 byte to 64 KiB, mostly small. */
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        take = (seed & 0x100) ? (seed & 0xffff) + 1 : (seed & 0x1f) + 1;
        if (take > n - off)
            take = n - off;
        if (take > avail)
            take = avail;
        memcpy(p, s + off, take);
        gh_frame_rd_commit(&r, take);
        off += take;
        while ((rc = gh_frame_rd_next(&r, from, &f)) == 1) {
            if (f.payload < r.buf || f.payload + f.len > r.buf + r.end)
                abort();
            fuzz_check_frame(&f, from);
            /* The same bytes parse the same way on their own. */
            if (gh_frame_parse(f.payload - 1, f.len + 1, from, &g) != 0 ||
                g.type != f.type || g.len != f.len)
                abort();
        }
        if (rc < 0 && rc != GH_E_INVAL && rc != GH_E_TOOBIG)
            abort();
    }
    /* A broken stream stays broken. */
    if (rc < 0 && gh_frame_rd_next(&r, from, &f) != rc)
        abort();
    gh_frame_rd_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum gh_frame_from froms[] = {GH_FROM_BROWSER, GH_FROM_WORKER,
                                  GH_FROM_BROKER};

    if (size < 2)
        return 0;
    fuzz_parse_whole(data + 2, size - 2);
    fuzz_stream(data + 2, size - 2, froms[data[0] % 3],
                0x9e3779b9u ^ ((uint32_t)data[1] * 0x01000193u));
    return 0;
}
