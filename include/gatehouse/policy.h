/*
 * policy.h - the single door: may this person, from this address, reach
 * this target's port now? Every connect path (browser sessions, tunnels)
 * asks gh_policy_decide and audits its answer. Loop thread only.
 */
#ifndef GATEHOUSE_POLICY_H
#define GATEHOUSE_POLICY_H

#include <stdint.h>

struct gh_store;

enum gh_decision {
    GH_DECIDE_ALLOW = 0,
    GH_DECIDE_NO_GRANT,          /* no live grant for this target */
    GH_DECIDE_PORT_NOT_GRANTED,  /* live grants, none for this port */
    GH_DECIDE_SOURCE_NOT_ALLOWED /* a grant for the port, not from here */
};

/* Stable code of a decision ("allow", "no_grant", ...). */
const char *gh_decision_code(enum gh_decision d);

struct gh_policy_answer {
    enum gh_decision decision;
    int64_t grant_id;   /* when allowed: the grant the session is bound to */
    int64_t expires_ms; /* when allowed: when that grant ends */
};

/*
 * Decide for user_id coming from source (numeric IPv4/IPv6) to target's
 * port at now_ms. Of several matching grants the one that lasts longest
 * is chosen. Returns 0 with *ans filled, or GH_E_STORE/GH_E_INVAL (then
 * the caller must deny: the door fails closed).
 */
int gh_policy_decide(struct gh_store *st, const char *user_id,
                     const char *source, const char *target, unsigned port,
                     int64_t now_ms, struct gh_policy_answer *ans);

/* Is port in a canonical list like "22,3389"? 1 or 0. */
int gh_policy_port_in(const char *ports, unsigned port);

/* Is numeric address addr inside cidr ("" = anywhere, "10.0.0.0/8",
 * "2001:db8::/32", or one address)? 1, 0, or -1 for a malformed cidr or
 * address (treated as no match). */
int gh_policy_cidr_match(const char *cidr, const char *addr);

#endif
