/* broker-priv.h - what the broker's files share (private). */
#ifndef GATEHOUSE_BROKER_PRIV_H
#define GATEHOUSE_BROKER_PRIV_H

#include "broker.h"

#include "gatehouse/frame.h"

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- queue.c: bytes waiting for one side ---- */

struct gh_chunk {
    struct gh_chunk *next;
    size_t len;  /* bytes at p */
    size_t off;  /* already written (byte streams) */
    bool secret; /* wiped when freed (credentials) */
    bool text;   /* a WebSocket text message (tunnel control) */
    unsigned char *p;
    unsigned char mem[]; /* headroom, then the bytes */
};

struct gh_queue {
    struct gh_chunk *head, *tail;
    size_t bytes; /* queued and not yet written */
};

/* Append a chunk of pre bytes of headroom, then a[0..alen) b[0..blen). */
struct gh_chunk *gh_queue_push(struct gh_queue *q, size_t pre, const void *a,
                               size_t alen, const void *b, size_t blen);
/* Drop the head chunk. */
void gh_queue_pop(struct gh_queue *q);
void gh_queue_clear(struct gh_queue *q);

/* ---- session.c ---- */

enum gh_rs_state {
    GH_RS_CONNECTING,  /* worker started, host key not checked yet */
    GH_RS_CREDENTIALS, /* waiting for the browser's credential */
    GH_RS_OPEN,        /* shell open */
    GH_RS_ENDED
};

struct gh_cast;

struct gh_rsess {
    struct gh_rsess *next, *prev;
    struct gh_broker *b;
    int64_t id;      /* remote_sessions row */
    bool tunnel;     /* a raw TCP tunnel (tunnel.c), not a worker session */
    bool client_eof; /* tunnel: the client sent {"type":"eof"} */
    char *user, *target, *source, *protocol;
    unsigned port;
    int64_t grant_id, grant_expires_ms;
    int64_t started_ms, last_active_ms;
    long idle_timeout_s;
    bool record_input, recording_required;
    enum gh_rs_state state;
    unsigned cols, rows;
    /* the browser side (NULL once its connection is gone) */
    struct lws *ws;
    struct gh_queue to_browser;
    bool ws_paused; /* browser input not read: the worker queue is full */
    /* the worker side */
    struct lws *link;
    pid_t pid;          /* 0 once reaped */
    int64_t kill_at_ms; /* SIGKILL the worker if alive then (0 = no) */
    struct gh_queue to_worker;
    struct gh_frame_rd rd;
    bool link_paused;     /* worker output not read: the browser is slow */
    bool link_close_sent; /* the worker was told to stop */
    /* counters */
    int64_t bytes_in, bytes_out;
    /* the recording */
    struct gh_cast *rec;
    int64_t rec_id;
    char *rec_file;
    bool rec_failed;
    /* a target declared by name: its answer is awaited (resolve.h) */
    uint64_t resolve_id; /* 0: not waiting */
    int64_t resolve_deadline_ms;
    void (*resolved)(struct gh_rsess *s, const char *addr);
    /* how it ended */
    const char *end_reason;
};

struct gh_broker {
    struct gh_gateway *gw;
    struct gh_rsess *head;
    unsigned live;
    bool shutting_down;
    char *rec_dir;                /* recordings directory (owned) */
    struct gh_resolver *resolver; /* started at the first name (owned) */
};

/* Start a session for an allowed decision (ws.c calls it). On failure the
 * browser has been told and NULL is returned. */
struct gh_ws_pss;
struct gh_target;
/* The door, the session limit and the bookkeeping every kind of session
 * shares: decide for pss->who on port, then create the session (row,
 * list, audit). On refusal the client has been told and NULL returned. */
struct gh_rsess *gh_rsess_admit(struct gh_broker *b, struct lws *wsi,
                                struct gh_ws_pss *pss, unsigned port,
                                const struct gh_target **target);
struct gh_rsess *gh_rsess_start(struct gh_broker *b, struct lws *wsi,
                                struct gh_ws_pss *pss);

/* End s with a reason code from docs/PROTOCOL.md and a message (may be
 * NULL). flush: the browser gets the output still queued first. */
void gh_rsess_end(struct gh_rsess *s, const char *reason, const char *message,
                  bool flush);

/* The browser sent frame f. */
void gh_rsess_from_browser(struct gh_rsess *s, const struct gh_frame *f);
/* The worker sent frame f. Returns non-zero when the session ended. */
int gh_rsess_from_worker(struct gh_rsess *s, const struct gh_frame *f);

/* Queue a frame toward the browser / the worker and ask to write. */
void gh_rsess_to_browser(struct gh_rsess *s, uint8_t type, const void *p,
                         size_t len);
void gh_rsess_to_worker(struct gh_rsess *s, uint8_t type, const void *p,
                        size_t len, bool secret);

/* A side's connection closed. */
void gh_rsess_ws_gone(struct gh_rsess *s);
void gh_rsess_link_gone(struct gh_rsess *s);

/* reach.c: connect s to address (the target's, as declared): at once with an IP
 * literal, else once the name has resolved (off the loop, resolve.h),
 * by calling go(s, numeric address) - or ending s with connect_failed. */
void gh_rsess_resolve(struct gh_rsess *s, const char *address,
                      void (*go)(struct gh_rsess *s, const char *addr));

/* Free s if nothing refers to it any more. */
void gh_rsess_maybe_free(struct gh_rsess *s);

/* The WebSocket close code of a reason. */
int gh_rsess_close_code(const char *reason);

/* ---- ws.c ---- */

/* Longest target name query argument kept. */
#define GH_WS_ARG_MAX 128

struct gh_ws_pss {
    struct gh_rsess *s;
    bool tunnel;   /* /api/v1/tunnel: raw bytes, JSON text control */
    unsigned port; /* tunnel: the port asked for (0 = none or bad) */
    /* from the handshake */
    struct gh_identity *who; /* owned until the session takes it */
    const char *auth_code, *auth_msg;
    char target[GH_WS_ARG_MAX];
    char protocol[16];
    unsigned cols, rows;
    /* a message being received in fragments */
    unsigned char *msg;
    size_t msg_len;
    /* closing: a CLOSE frame then the WebSocket close */
    const char *close_reason;
    char *close_frame; /* JSON of the CLOSE frame, owned */
    bool close_frame_sent;
};

/* The handshake checks of both WebSocket endpoints (path, Origin,
 * arguments, identity); non-zero refuses the upgrade. */
int gh_ws_handshake(struct lws *wsi, struct gh_ws_pss *pss, bool tunnel);
/* Write the next queued message, or the close, to the client. */
int gh_ws_writeable(struct lws *wsi, struct gh_ws_pss *pss);
/* The client connection closed: detach and free what the pss holds. */
void gh_ws_closed(struct gh_ws_pss *pss);

/* ---- tunnel.c ---- */

/* A tunnel WebSocket was established: decide and connect. */
struct gh_rsess *gh_tunnel_start(struct gh_broker *b, struct lws *wsi,
                                 struct gh_ws_pss *pss);
/* End the TCP side of tunnel s (from gh_rsess_end). */
void gh_tunnel_stop(struct gh_rsess *s);
/* Queue bytes (binary) or a control message (text) for a tunnel's
 * client. */
void gh_tunnel_to_client(struct gh_rsess *s, bool text, const void *p,
                         size_t len);
/* A JSON status for the session's client (consumes j): a STATUS frame
 * for a browser, a text control message for a tunnel. */
void gh_rsess_status(struct gh_rsess *s, json_t *j);

/* Send a CLOSE frame with reason and message, then close the WebSocket.
 * flush: output already queued for the browser goes first. */
void gh_ws_close(struct lws *wsi, const char *reason, const char *message,
                 bool flush);

/* ---- record.c ---- */

/* Open s's recording; GH_E_* when it cannot be written. */
int gh_record_open(struct gh_rsess *s);
void gh_record_output(struct gh_rsess *s, const void *p, size_t len);
void gh_record_input(struct gh_rsess *s, const void *p, size_t len);
void gh_record_resize(struct gh_rsess *s, unsigned cols, unsigned rows);
/* Write what is buffered; non-zero when writing failed. */
int gh_record_flush(struct gh_rsess *s);
void gh_record_close(struct gh_rsess *s);
/* At start: measure recordings a crash left open. */
void gh_record_recover(struct gh_broker *b);

int64_t gh_broker_now_ms(void);

#endif
