/*
 * frame.h - the session wire format shared by the browser, the broker
 * (gatehoused) and the per-session workers. docs/PROTOCOL.md is the
 * specification; this is its one implementation.
 *
 * A frame is a type byte and a payload. On the WebSocket one binary
 * message is one frame. On the broker <-> worker socketpair each frame is
 * preceded by its length (type byte + payload) as a 32-bit big-endian
 * integer. Every length is checked, every type is checked against the
 * direction it travels, and anything else ends the session.
 *
 * Pure functions and a reader object; any thread.
 */
#ifndef GATEHOUSE_FRAME_H
#define GATEHOUSE_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Wire version; the WebSocket subprotocol name carries it. */
#define GH_FRAME_VERSION     1
#define GH_FRAME_SUBPROTOCOL "gatehouse.v1"

/* Largest payload of one frame. Terminal output is cut into frames no
 * larger than this; a larger message from a browser is an error. 64 KiB
 * keeps one frame's copy cheap and lets the 1 MiB direction caps hold
 * several frames in flight. */
#define GH_FRAME_PAYLOAD_MAX (64 * 1024)
/* The length prefix on the worker link. */
#define GH_FRAME_PREFIX 4
/* Terminal sizes outside 1..GH_FRAME_DIM_MAX are refused. */
#define GH_FRAME_DIM_MAX 1000

enum gh_frame_type {
    GH_F_OUTPUT = 0x01,     /* worker -> browser: terminal output bytes */
    GH_F_INPUT = 0x02,      /* browser -> worker: keystrokes, paste */
    GH_F_RESIZE = 0x03,     /* browser -> worker: u16 cols, u16 rows (BE) */
    GH_F_STATUS = 0x04,     /* broker -> browser, worker -> broker: JSON */
    GH_F_CREDENTIAL = 0x05, /* browser -> worker: JSON, never logged */
    GH_F_START = 0x06,      /* broker -> worker: JSON session parameters */
    GH_F_CLOSE = 0x07       /* any -> peer: JSON {"reason","message"} */
};

/* Who sent the frame being parsed: decides which types are allowed. */
enum gh_frame_from {
    GH_FROM_BROWSER, /* INPUT, RESIZE, CREDENTIAL, CLOSE */
    GH_FROM_WORKER,  /* OUTPUT, STATUS, CLOSE */
    GH_FROM_BROKER   /* as the worker sees it: START, INPUT, RESIZE,
                        CREDENTIAL, CLOSE */
};

struct gh_frame {
    uint8_t type;
    const uint8_t *payload; /* points into the parsed buffer */
    size_t len;
};

/* Stable name of a type ("output", ...), or "unknown". */
const char *gh_frame_type_name(uint8_t type);

/*
 * Parse one whole message msg[0..len) sent by from. Returns 0 with *f
 * pointing into msg, GH_E_INVAL for an empty message, an unknown type, a
 * type not allowed from that side or a malformed fixed-size payload
 * (RESIZE), GH_E_TOOBIG for a payload over GH_FRAME_PAYLOAD_MAX.
 */
int gh_frame_parse(const uint8_t *msg, size_t len, enum gh_frame_from from,
                   struct gh_frame *f);

/* A RESIZE frame's size; GH_E_INVAL when outside 1..GH_FRAME_DIM_MAX. */
int gh_frame_resize_get(const struct gh_frame *f, unsigned *cols,
                        unsigned *rows);

/* Encode a RESIZE payload (4 bytes). */
void gh_frame_resize_put(uint8_t out[4], unsigned cols, unsigned rows);

/* Encode the worker-link header of a frame: out[0..4) is the length
 * (1 + payload_len), out[4] the type. Returns GH_FRAME_PREFIX + 1. */
size_t gh_frame_link_header(uint8_t out[GH_FRAME_PREFIX + 1], uint8_t type,
                            size_t payload_len);

/*
 * Incremental reader for the worker link. It owns a buffer that starts
 * small (so idle sessions cost little) and grows to one whole frame at
 * most. Use: p = gh_frame_rd_space(&r, &n); read up to n bytes into p;
 * gh_frame_rd_commit(&r, got); then call gh_frame_rd_next until it
 * returns 0.
 */
struct gh_frame_rd {
    uint8_t *buf;
    size_t cap;   /* allocated */
    size_t start; /* first unconsumed byte */
    size_t end;   /* one past the last byte read */
};

void gh_frame_rd_init(struct gh_frame_rd *r);
void gh_frame_rd_free(struct gh_frame_rd *r);

/* Where to read into and how much fits (never 0). */
uint8_t *gh_frame_rd_space(struct gh_frame_rd *r, size_t *avail);
void gh_frame_rd_commit(struct gh_frame_rd *r, size_t n);

/*
 * The next whole frame: 1 with *f valid until the next call on r, 0 when
 * more bytes are needed, GH_E_INVAL / GH_E_TOOBIG when the stream is
 * corrupt (the session must end: the stream cannot be resynchronised).
 */
int gh_frame_rd_next(struct gh_frame_rd *r, enum gh_frame_from from,
                     struct gh_frame *f);

#endif
