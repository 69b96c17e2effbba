/*
 * worker.h - what the parts of gatehouse-worker share (private to
 * gateway/worker/): the link to the broker, the sandbox, the SSH session.
 * Single-threaded: everything runs on the worker's one thread.
 */
#ifndef GATEHOUSE_WORKER_PRIV_H
#define GATEHOUSE_WORKER_PRIV_H

#include "gatehouse/frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Log component of every worker line. */
#define GH_WK "worker"

/*
 * Bytes of OUTPUT queued toward the broker at most. When the queue holds
 * this much, the worker stops reading the SSH channel: libssh then stops
 * growing the channel window and the VM's sshd stops sending (its shell
 * blocks on write). 1 MiB is sixteen full frames: enough to keep a fast
 * broker busy, small enough that a thousand stalled sessions cost 1 GiB.
 */
#define GH_LINK_OUT_MAX (1024 * 1024)
/* Control frames (STATUS, CLOSE) may go past GH_LINK_OUT_MAX by this
 * much, so that a full queue never loses the CLOSE that ends it. */
#define GH_LINK_CTL_RESERVE (16 * 1024)
/* A CLOSE or STATUS message is cut to this many bytes: reasons are short,
 * and messages may quote a server's error text. */
#define GH_LINK_MSG_MAX 1024

/* The link to the broker: fd 3, a frame reader and a bounded out queue. */
struct gh_link {
    int fd;
    struct gh_frame_rd rd;
    uint8_t *out;     /* queued frames, already length-prefixed */
    size_t out_cap;   /* allocated */
    size_t out_start; /* first unsent byte */
    size_t out_end;   /* one past the last queued byte */
    bool secret;      /* frames may carry a credential: wipe as we go */
    bool eof;         /* the broker's end is closed */
    bool broken;      /* a read or write failed: the broker is gone */
};

/* Set up l on fd (made non-blocking). secret starts true. */
void gh_link_init(struct gh_link *l, int fd);
/* Wipe and free the buffers; does not close fd. */
void gh_link_free(struct gh_link *l);

/* Bytes queued and not yet written. */
size_t gh_link_pending(const struct gh_link *l);

/*
 * Room for an OUTPUT frame's payload now (0 when the queue is at
 * GH_LINK_OUT_MAX), at most GH_FRAME_PAYLOAD_MAX. gh_link_out_reserve
 * returns where to put up to that many payload bytes; gh_link_out_commit
 * queues an OUTPUT frame of the first n of them (n may be 0: nothing).
 */
size_t gh_link_out_room(const struct gh_link *l);
uint8_t *gh_link_out_reserve(struct gh_link *l, size_t *room);
void gh_link_out_commit(struct gh_link *l, size_t n);

/* Queue a control frame of type with payload p[0..n) (n at most
 * GH_LINK_CTL_RESERVE). GH_E_TOOBIG when even the reserve is full. */
int gh_link_send(struct gh_link *l, uint8_t type, const void *p, size_t n);
/* Queue obj (borrowed) as compact JSON in a frame of type. */
int gh_link_send_json(struct gh_link *l, uint8_t type, const json_t *obj);
/* Queue STATUS {"event": event} plus key=value when key is not NULL. */
int gh_link_status(struct gh_link *l, const char *event, const char *key,
                   const char *value);
/* Queue CLOSE {"reason": reason, "message": printf(fmt...)}. */
int gh_link_close(struct gh_link *l, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write what the socket takes now. 0, or GH_E_IO (and l->broken) when the
 * broker is gone. */
int gh_link_flush(struct gh_link *l);
/* Flush for at most ms milliseconds (used before exiting). 0 when all was
 * written. */
int gh_link_drain(struct gh_link *l, int ms);

/*
 * Read what the socket has into the frame reader, never past the end of
 * the frame being read, so that a credential never sits in a buffer that
 * realloc() moves (the old copy would stay in freed memory). Returns the
 * bytes read, 0 when nothing was available, GH_E_IO (l->eof or l->broken)
 * when the broker is gone.
 */
int gh_link_read(struct gh_link *l);
/* The next whole frame from the broker: 1, 0 (need more) or GH_E_INVAL /
 * GH_E_TOOBIG (the stream is corrupt). f is valid until the next call. */
int gh_link_next(struct gh_link *l, struct gh_frame *f);
/* Wipe a frame's bytes in the reader's buffer (a credential). */
void gh_link_wipe_frame(struct gh_link *l, const struct gh_frame *f);

/* Milliseconds on the monotonic clock. */
int64_t gh_now_ms(void);

/*
 * The sandbox (sandbox.c). gh_sandbox_apply runs once, right after start:
 * no_new_privs, not dumpable, rlimits, Landlock file-system layer (no file
 * may be opened) and, where the kernel has them, scopes (no signals to or
 * abstract sockets of processes outside the sandbox). 0, or GH_E_INTERNAL
 * when a step that every kernel supports failed (the worker must exit).
 * Landlock that the kernel lacks is logged once and skipped.
 */
int gh_sandbox_apply(void);
/*
 * Once the worker's one TCP connection exists: with Landlock ABI >= 4,
 * forbid every further TCP connect and bind. 0 when applied, 1 when the
 * kernel cannot, GH_E_INTERNAL on failure.
 */
int gh_sandbox_net_lock(void);
/* The Landlock ABI in use (0 = none), for logs and tests. */
int gh_sandbox_landlock_abi(void);
/* Tests: apply only the Landlock file-system layer as if the kernel's ABI
 * were at most abi_max. 0, 1 (unsupported) or GH_E_INTERNAL. */
int gh_sandbox_landlock_fs(int abi_max);

/* jansson allocation functions that wipe every block they free (set once
 * at start: CREDENTIAL JSON goes through jansson). */
void gh_json_wiping_alloc(void);

/*
 * Run the SSH session described by START (borrowed) over l until it ends.
 * Returns the process exit status (GH_WORKER_EXIT_*).
 */
int gh_ssh_run(struct gh_link *l, const json_t *start);

#endif
