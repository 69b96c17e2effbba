/*
 * fuzz_wsframe.c - libFuzzer target for what the CLI's WebSocket client
 * parses from the gateway: its frames (gateway/cli/gatehouse/wsframe.c)
 * and, with the same bytes as text, its answer to the upgrade
 * (wsupgrade.c: must refuse anything without the right accept value, and
 * must give a reason when it refuses).
 *
 * Input layout: byte 0 seeds the chunk sizes; the rest is the byte stream
 * from the "server", fed in chunks of 1 byte .. 64 KiB the way reads
 * arrive. Besides ASan/UBSan it checks what the API promises: a piece's
 * bytes lie inside the chunk given or the parser's own control buffer, a
 * control frame is at most 125 bytes and ends its message, a data piece
 * is text or binary, payload handed out never exceeds the input, a 0
 * return used the whole chunk, and after an error the parser keeps
 * refusing.
 */
#include "wsframe.h"
#include "wsupgrade.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_wsf_rx rx;
    struct gh_wsf_piece pc;
    uint32_t seed;
    size_t off = 1, given = 0, out = 0, take;
    volatile unsigned char sink = 0;
    int rc = 0;

    if (size < 1)
        return 0;
    {
        char *text = malloc(size + 1);
        const char *why = NULL;
        unsigned st = 0;

        if (text == NULL)
            abort();
        memcpy(text, data, size);
        text[size] = '\0';
        /* No 101 can pass without this exact accept value. */
        if (gh_wsu_response(text, "fuzz-accept-value=", "p.v1", &st, &why) ==
            0) {
            if (strstr(text, "fuzz-accept-value=") == NULL)
                abort();
        } else if (why == NULL || st > 999)
            abort();
        free(text);
    }
    seed = 0x9e3779b9u ^ data[0];
    gh_wsf_rx_init(&rx);
    while (off < size && rc >= 0) {
        const unsigned char *p, *start;
        size_t left;

        /* xorshift: chunk sizes from 1 byte to 64 KiB, mostly small. */
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        take = (seed & 0x100) ? (seed & 0xffff) + 1 : (seed & 0x1f) + 1;
        if (take > size - off)
            take = size - off;
        /* A copy of exactly the chunk, so a read past it is caught. */
        start = malloc(take);
        if (start == NULL)
            abort();
        memcpy((void *)start, data + off, take);
        p = start;
        left = take;
        given += take;
        while ((rc = gh_wsf_next(&rx, &p, &left, &pc)) == 1) {
            if (pc.op >= GH_WSF_CLOSE) {
                if (pc.len > GH_WSF_CONTROL_MAX || !pc.msg_end ||
                    pc.data != rx.ctl)
                    abort();
            } else {
                if (pc.op != GH_WSF_TEXT && pc.op != GH_WSF_BINARY)
                    abort();
                if (pc.len > 0 &&
                    (pc.data < start || pc.data + pc.len > start + take))
                    abort();
                out += pc.len;
            }
            for (size_t i = 0; i < pc.len; i++)
                sink ^= pc.data[i];
        }
        if (rc == 0 && left != 0)
            abort();
        if (rc < 0 && rx.err == NULL)
            abort();
        free((void *)start);
        off += take;
    }
    if (out > given)
        abort();
    if (rc < 0) {
        const unsigned char *p = (const unsigned char *)"\x82\x01x";
        size_t left = 3;

        if (gh_wsf_next(&rx, &p, &left, &pc) != -1)
            abort();
    }
    (void)sink;
    return 0;
}
