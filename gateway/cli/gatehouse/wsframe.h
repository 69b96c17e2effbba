/*
 * wsframe.h - RFC 6455 framing, client side, with no I/O: the header of
 * a masked client frame, the masking itself (a word at a time), and an
 * incremental parser of the server's frames that hands payload out in
 * place, as it arrives, without copying it.
 *
 * The parser takes hostile input: every rule of RFC 6455 section 5 that
 * applies to a client without extensions is enforced (no reserved bits,
 * no mask from a server, known opcodes only, control frames whole and at
 * most 125 bytes, continuations only inside a fragmented message, the
 * 64-bit length's top bit clear). The first error is sticky.
 */
#ifndef GATEHOUSE_CLI_WSFRAME_H
#define GATEHOUSE_CLI_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gh_wsf_op {
    GH_WSF_CONT = 0x0,
    GH_WSF_TEXT = 0x1,
    GH_WSF_BINARY = 0x2,
    GH_WSF_CLOSE = 0x8,
    GH_WSF_PING = 0x9,
    GH_WSF_PONG = 0xa
};

/* Largest header of a client frame: 2 + 8 (64-bit length) + 4 (mask). */
#define GH_WSF_HEADER_MAX 14
/* Largest control frame payload (RFC 6455 5.5). */
#define GH_WSF_CONTROL_MAX 125

/*
 * Write the header of a masked frame (op, FIN set, len bytes of payload,
 * masked with mask) to out; returns its length (6, 8 or 14).
 */
size_t gh_wsf_header(unsigned char out[GH_WSF_HEADER_MAX], enum gh_wsf_op op,
                     uint64_t len, const unsigned char mask[4]);

/* dst = src XOR mask, repeating from mask[0]; dst may equal src. */
void gh_wsf_mask(unsigned char *dst, const unsigned char *src, size_t n,
                 const unsigned char mask[4]);

/* A piece of what the server sent. */
struct gh_wsf_piece {
    enum gh_wsf_op op; /* TEXT or BINARY (a continuation says which), or a
                          control opcode */
    const unsigned char *data; /* in the caller's buffer, or the parser's
                                  own for control frames */
    size_t len;
    bool msg_end; /* the last piece of its message */
};

struct gh_wsf_rx {
    unsigned char hdr[GH_WSF_HEADER_MAX];
    size_t hlen, hneed; /* header bytes so far, and needed */
    uint64_t left;      /* payload bytes left in this frame */
    enum gh_wsf_op op;  /* this frame's opcode */
    bool fin, in_frame; /* header done, payload (maybe 0) pending */
    enum gh_wsf_op msg; /* data message in progress, or CONT: none */
    unsigned char ctl[GH_WSF_CONTROL_MAX];
    size_t ctl_len;
    const char *err; /* first error, static text; sticky */
};

/* A parser at the start of a stream. */
void gh_wsf_rx_init(struct gh_wsf_rx *rx);

/*
 * Take the next piece from *buf (*len bytes), advancing both past what
 * was used. Returns 1 with *out filled (a data piece may be empty: an
 * empty frame, or the end of a message), 0 when everything given was
 * used and more is needed, -1 on a protocol error (rx->err says which;
 * the connection must be failed, with close code 1002).
 */
int gh_wsf_next(struct gh_wsf_rx *rx, const unsigned char **buf, size_t *len,
                struct gh_wsf_piece *out);

#endif
