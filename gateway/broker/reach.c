/*
 * reach.c - how a session gets to its target's address: an IP literal at
 * once; a DNS name through the resolver (resolve.h), off the loop, with
 * its answer checked there; the session waits for it in the meantime
 * (ended by gh_broker_tick after GH_RESOLVE_TIMEOUT_MS).
 */
#include "broker-priv.h"
#include "resolve.h"

#include "gateway.h"
#include "server.h"

#include "gatehouse/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/* Is addr a numeric IPv4/IPv6 address? */
static int
gh_rsess_numeric(const char *addr)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, addr, buf) == 1 ||
           inet_pton(AF_INET6, addr, buf) == 1;
}

/* A name's answer arrived (loop thread). */
static void
gh_rsess_resolved(void *ctx, const struct gh_resolve_result *r)
{
    struct gh_rsess *s = ctx;

    s->resolve_id = 0;
    if (s->state == GH_RS_ENDED)
        return;
    if (r->error != NULL) {
        gh_warn("broker",
                "msg=\"target name did not resolve\" session=%lld "
                "target=%s err=%s",
                (long long)s->id, gh_q(s->target), gh_q(r->error));
        gh_rsess_end(s, "connect_failed", r->error, false);
        return;
    }
    gh_info("broker",
            "msg=\"target name resolved\" session=%lld target=%s "
            "address=%s",
            (long long)s->id, gh_q(s->target), r->addr);
    s->resolved(s, r->addr);
}

void
gh_rsess_resolve(struct gh_rsess *s, const char *address,
                 void (*go)(struct gh_rsess *s, const char *addr))
{
    struct gh_gateway *gw = s->b->gw;

    if (gh_rsess_numeric(address)) {
        go(s, address);
        return;
    }
    if (s->b->resolver == NULL)
        s->b->resolver = gh_resolver_new(gh_server_wake, gw->lws);
    s->resolved = go;
    s->resolve_deadline_ms = gh_broker_now_ms() + GH_RESOLVE_TIMEOUT_MS;
    if (s->b->resolver == NULL ||
        gh_resolve_submit(s->b->resolver, address, gh_rsess_resolved, s,
                          &s->resolve_id) != 0) {
        s->resolve_id = 0;
        gh_rsess_end(s, "connect_failed",
                     "the gateway cannot resolve names right now (its "
                     "resolver is full or down)",
                     false);
    }
}

void
gh_broker_dispatch(struct gh_broker *b)
{
    if (b != NULL)
        gh_resolve_dispatch(b->resolver);
}
