/*
 * fetch.h - HTTP requests to the identity provider, off the event loop.
 *
 * One thread owns libcurl and runs queued requests one at a time; each
 * finished request is handed back to the event loop thread, which calls
 * its callback from gh_fetch_dispatch(). The loop never blocks on the
 * network, and an unreachable IdP only makes requests fail after their
 * timeout.
 *
 * Threads: gh_fetch_new/submit/cancel/dispatch/free are for the loop
 * thread only; the wake function is called from the fetch thread.
 */
#ifndef GATEHOUSE_FETCH_H
#define GATEHOUSE_FETCH_H

#include <stddef.h>
#include <stdint.h>

/* A response body larger than this is an error: discovery documents,
 * JWKS and token responses are a few KiB. */
#define GH_FETCH_BODY_MAX (1024 * 1024)
/* Whole-request and connect time limits. */
#define GH_FETCH_TIMEOUT_MS         10000
#define GH_FETCH_CONNECT_TIMEOUT_MS 5000
/* Requests queued at once; more is a sign of a stuck IdP. */
#define GH_FETCH_QUEUE_MAX 256

struct gh_fetch;

struct gh_fetch_req {
    const char *url;
    const char *form;       /* x-www-form-urlencoded body: POST; NULL: GET */
    const char *basic_user; /* HTTP Basic credentials, or NULL */
    const char *basic_pass; /* a secret: wiped after use, never logged */
    int allow_http;         /* permit http:// (loopback test IdPs only) */
};

struct gh_fetch_result {
    long status;      /* HTTP status, 0 when no response */
    const char *body; /* NUL-terminated, borrowed during the callback */
    size_t len;
    const char *error; /* NULL, or why there is no usable response */
};

typedef void (*gh_fetch_done_fn)(void *ctx, const struct gh_fetch_result *r);
/* Called instead of the done function for a request that was cancelled or
 * dropped at shutdown, so its ctx can be freed. */
typedef void (*gh_fetch_drop_fn)(void *ctx);
typedef void (*gh_fetch_wake_fn)(void *wake_ctx);

/* Start the fetch thread. wake(wake_ctx) is called from that thread when
 * results are ready (e.g. lws_cancel_service). NULL on failure. */
struct gh_fetch *gh_fetch_new(gh_fetch_wake_fn wake, void *wake_ctx);

/*
 * Queue a request; fn(ctx, result) runs later on the loop thread, exactly
 * once — or drop(ctx) (may be NULL) if it is cancelled or dropped. The
 * request's strings are copied. *id (may be NULL) identifies it for
 * gh_fetch_cancel. GH_E_TOOBIG when the queue is full (nothing called).
 */
int gh_fetch_submit(struct gh_fetch *f, const struct gh_fetch_req *req,
                    gh_fetch_done_fn fn, gh_fetch_drop_fn drop, void *ctx,
                    uint64_t *id);

/* Request id's done function will not be called; its drop function will
 * (the network request itself may still complete). */
void gh_fetch_cancel(struct gh_fetch *f, uint64_t id);

/* Call the callbacks of finished requests. Loop thread. */
void gh_fetch_dispatch(struct gh_fetch *f);

/* Stop the thread (waits for a running request's timeout at most) and
 * drop everything queued without calling callbacks. NULL is fine. */
void gh_fetch_free(struct gh_fetch *f);

#endif
