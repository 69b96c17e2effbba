/*
 * wsframe.c - RFC 6455 framing for the CLI's data path (see wsframe.h).
 */
#include "wsframe.h"

#include <string.h>

size_t
gh_wsf_header(unsigned char out[GH_WSF_HEADER_MAX], enum gh_wsf_op op,
              uint64_t len, const unsigned char mask[4])
{
    size_t n = 2;

    out[0] = (unsigned char)(0x80 | (unsigned)op);
    if (len < 126)
        out[1] = (unsigned char)(0x80 | len);
    else if (len <= 0xffff) {
        out[1] = 0x80 | 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        n = 4;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 10;
    }
    memcpy(out + n, mask, 4);
    return n + 4;
}

void
gh_wsf_mask(unsigned char *dst, const unsigned char *src, size_t n,
            const unsigned char mask[4])
{
    uint64_t m8, w;
    size_t i = 0;

    /* The mask repeated over a word: the XOR then runs eight bytes at a
     * time (memcpy keeps it free of alignment assumptions; compilers turn
     * it into plain loads and stores, or vectors). */
    memcpy(&m8, mask, 4);
    memcpy((unsigned char *)&m8 + 4, mask, 4);
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= m8;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ mask[i & 3];
}

void
gh_wsf_rx_init(struct gh_wsf_rx *rx)
{
    memset(rx, 0, sizeof(*rx));
    rx->hneed = 2;
    rx->msg = GH_WSF_CONT;
}

static int
gh_wsf_fail(struct gh_wsf_rx *rx, const char *why)
{
    rx->err = why;
    return -1;
}

/* The header is complete: check it and start the payload. */
static int
gh_wsf_start(struct gh_wsf_rx *rx)
{
    unsigned op = rx->hdr[0] & 0x0f;
    unsigned l7 = rx->hdr[1] & 0x7f;
    uint64_t len = l7;

    if (l7 == 126)
        len = ((uint64_t)rx->hdr[2] << 8) | rx->hdr[3];
    else if (l7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | rx->hdr[2 + i];
        if (len >> 63)
            return gh_wsf_fail(rx, "frame length has its top bit set");
    }
    rx->fin = (rx->hdr[0] & 0x80) != 0;
    rx->left = len;
    rx->ctl_len = 0;
    switch (op) {
    case GH_WSF_CLOSE:
    case GH_WSF_PING:
    case GH_WSF_PONG:
        if (!rx->fin)
            return gh_wsf_fail(rx, "fragmented control frame");
        if (len > GH_WSF_CONTROL_MAX)
            return gh_wsf_fail(rx, "control frame over 125 bytes");
        break;
    case GH_WSF_CONT:
        if (rx->msg == GH_WSF_CONT)
            return gh_wsf_fail(rx, "continuation outside a message");
        break;
    case GH_WSF_TEXT:
    case GH_WSF_BINARY:
        if (rx->msg != GH_WSF_CONT)
            return gh_wsf_fail(rx, "new message inside a fragmented one");
        break;
    default:
        return gh_wsf_fail(rx, "unknown opcode");
    }
    rx->op = (enum gh_wsf_op)op;
    rx->in_frame = true;
    return 0;
}

/* Read header bytes; 1 when the header is complete. */
static int
gh_wsf_header_in(struct gh_wsf_rx *rx, const unsigned char **buf, size_t *len)
{
    while (*len > 0 && rx->hlen < rx->hneed) {
        rx->hdr[rx->hlen++] = *(*buf)++;
        (*len)--;
        if (rx->hlen == 2) {
            if (rx->hdr[0] & 0x70)
                return gh_wsf_fail(rx, "reserved bits set (no extension "
                                       "was agreed)");
            if (rx->hdr[1] & 0x80)
                return gh_wsf_fail(rx, "masked frame from the server");
            if ((rx->hdr[1] & 0x7f) == 126)
                rx->hneed = 4;
            else if ((rx->hdr[1] & 0x7f) == 127)
                rx->hneed = 10;
        }
    }
    return rx->hlen == rx->hneed ? 1 : 0;
}

int
gh_wsf_next(struct gh_wsf_rx *rx, const unsigned char **buf, size_t *len,
            struct gh_wsf_piece *out)
{
    size_t n;
    int rc;

    if (rx->err != NULL)
        return -1;
    if (!rx->in_frame) {
        if ((rc = gh_wsf_header_in(rx, buf, len)) <= 0)
            return rc;
        if (gh_wsf_start(rx) < 0)
            return -1;
    }
    n = rx->left < *len ? (size_t)rx->left : *len;
    if (rx->op >= GH_WSF_CLOSE) {
        /* A control frame is handed out whole (it may interrupt a
         * fragmented message, which goes on after it). */
        if (n > 0)
            memcpy(rx->ctl + rx->ctl_len, *buf, n);
        rx->ctl_len += n;
        *buf += n;
        *len -= n;
        rx->left -= n;
        if (rx->left > 0)
            return 0;
        out->op = rx->op;
        out->data = rx->ctl;
        out->len = rx->ctl_len;
        out->msg_end = true;
    } else {
        /* Data: whatever has arrived, in place. An empty piece is
         * handed out only when it ends the frame. */
        if (n == 0 && rx->left > 0)
            return 0;
        if (rx->op != GH_WSF_CONT)
            rx->msg = rx->op;
        out->op = rx->msg;
        out->data = *buf;
        out->len = n;
        *buf += n;
        *len -= n;
        rx->left -= n;
        out->msg_end = rx->left == 0 && rx->fin;
        if (rx->left > 0)
            return 1;
        if (rx->fin)
            rx->msg = GH_WSF_CONT;
    }
    rx->in_frame = false;
    rx->hlen = 0;
    rx->hneed = 2;
    return 1;
}
