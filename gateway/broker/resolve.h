/*
 * resolve.h - target DNS names resolved off the event loop.
 *
 * A target may be declared by name (address = db1.internal). The loop
 * must never block on DNS, so names go to a small pool of threads that
 * call getaddrinfo(); each answer comes back to the loop thread, which
 * calls its callback from gh_resolve_dispatch() (woken like the fetch
 * thread, through lws_cancel_service).
 *
 * A name is resolved for every connection (DNS may change; nothing is
 * cached here beyond what the system does), and an answer that points at
 * the gateway's own machine or at link-local space is not used: a name's
 * owner (whoever controls its DNS) must not be able to turn a declared
 * target into 127.0.0.1 or 169.254.169.254. An operator who means such an
 * address writes it as an IP literal.
 *
 * Threads: every function is for the loop thread only.
 */
#ifndef GATEHOUSE_BROKER_RESOLVE_H
#define GATEHOUSE_BROKER_RESOLVE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Threads resolving at once: a name whose servers do not answer holds a
 * thread for the resolver's own timeout (resolv.conf), the others go on. */
#define GH_RESOLVE_THREADS 2
/* Names queued at once; more is a sign of a dead DNS server, and further
 * connections fail at once instead of waiting in line. */
#define GH_RESOLVE_QUEUE_MAX 64
/* Longest name taken (DNS names are at most 253 bytes). */
#define GH_RESOLVE_NAME_MAX 255
/* A session waits this long for its name before it fails, whatever the
 * system resolver's own timeouts are. */
#define GH_RESOLVE_TIMEOUT_MS 10000

struct gh_resolver;

struct gh_resolve_result {
    const char *error; /* NULL, or why there is no usable address */
    char addr[64];     /* the address chosen, numeric */
};

typedef void (*gh_resolve_done_fn)(void *ctx,
                                   const struct gh_resolve_result *r);
typedef void (*gh_resolve_wake_fn)(void *wake_ctx);

/* Start the threads; wake(wake_ctx) is called from them when answers are
 * ready. NULL on failure. */
struct gh_resolver *gh_resolver_new(gh_resolve_wake_fn wake, void *wake_ctx);

/* Queue name; fn(ctx, result) runs
 * later on the loop thread, once, unless cancelled. 0, or -1 when the
 * queue is full or the name too long (nothing is called). */
int gh_resolve_submit(struct gh_resolver *r, const char *name,
                      gh_resolve_done_fn fn, void *ctx, uint64_t *id);

/* Request id's callback will not be called. */
void gh_resolve_cancel(struct gh_resolver *r, uint64_t id);

/* Call the callbacks of answered requests. */
void gh_resolve_dispatch(struct gh_resolver *r);

/* Stop: nothing is called any more and no thread wakes the loop after
 * this returns. A thread still inside getaddrinfo() finishes on its own
 * and frees what it shares. NULL is fine. */
void gh_resolver_free(struct gh_resolver *r);

/* May a name's answer be used? Not the unspecified address, loopback,
 * link-local, multicast or broadcast (v4-mapped forms included). */
bool gh_resolve_addr_ok(const struct sockaddr *sa);

#endif
