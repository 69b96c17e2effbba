/*
 * link.c - the worker side of a session: the broker's end of the
 * socketpair, adopted into the event loop as a raw descriptor. Frames are
 * length-prefixed (docs/PROTOCOL.md); the worker is not trusted, so every
 * frame is checked like the browser's.
 */
#include "broker-priv.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"

#include <errno.h>
#include <unistd.h>

/* Reads per readable event before other connections get their turn. */
#define GH_LINK_READS_PER_EVENT 8

static int
gh_link_rx(struct lws *wsi, struct gh_rsess *s)
{
    struct gh_frame f;
    uint8_t *p;
    size_t avail;
    ssize_t n;
    int i, rc;

    for (i = 0; i < GH_LINK_READS_PER_EVENT && !s->link_paused; i++) {
        p = gh_frame_rd_space(&s->rd, &avail);
        n = read(lws_get_socket_fd(wsi), p, avail);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n <= 0)
            return -1; /* the worker closed its end or died */
        gh_frame_rd_commit(&s->rd, (size_t)n);
        while ((rc = gh_frame_rd_next(&s->rd, GH_FROM_WORKER, &f)) == 1)
            if (gh_rsess_from_worker(s, &f) != 0)
                break;
        if (rc < 0) {
            gh_warn("broker", "msg=\"bad frame from worker\" session=%lld",
                    (long long)s->id);
            gh_rsess_end(s, "worker_failed", "the worker broke the protocol",
                         false);
        }
        if (s->state == GH_RS_ENDED && s->link_close_sent &&
            s->to_worker.head == NULL)
            return -1;
        if (s->state == GH_RS_ENDED)
            return 0;
    }
    return 0;
}

static int
gh_link_tx(struct lws *wsi, struct gh_rsess *s)
{
    struct gh_chunk *c;
    ssize_t n;

    while ((c = s->to_worker.head) != NULL) {
        n = write(lws_get_socket_fd(wsi), c->p + c->off, c->len - c->off);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (n < 0)
            return -1;
        c->off += (size_t)n;
        s->to_worker.bytes -= (size_t)n;
        if (c->off == c->len)
            gh_queue_pop(&s->to_worker);
    }
    if (s->ws_paused && s->ws != NULL) {
        s->ws_paused = false;
        lws_rx_flow_control(s->ws, 1);
    }
    /* Told to stop and everything written: close our end. */
    return s->link_close_sent ? -1 : 0;
}

static int
gh_link_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                 void *in, size_t len)
{
    struct gh_rsess *s = lws_get_opaque_user_data(wsi);

    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* never a WebSocket protocol */
    case LWS_CALLBACK_RAW_RX_FILE:
        return s ? gh_link_rx(wsi, s) : -1;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        return s ? gh_link_tx(wsi, s) : -1;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (s != NULL) {
            lws_set_opaque_user_data(wsi, NULL);
            gh_rsess_link_gone(s);
        }
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols gh_broker_link_protocol = {
    "gh-worker", gh_link_callback, 0, 0, 0, NULL, 0};
