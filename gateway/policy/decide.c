/* decide.c - the decision function over live grants. */
#include "gatehouse/policy.h"

#include "gatehouse/err.h"
#include "gatehouse/store.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const char *const gh_decision_codes[] = {
    "allow", "no_grant", "port_not_granted", "source_not_allowed"};

const char *
gh_decision_code(enum gh_decision d)
{
    return (unsigned)d < 4 ? gh_decision_codes[d] : "unknown";
}

int
gh_policy_port_in(const char *ports, unsigned port)
{
    const char *p = ports;
    char *end;
    unsigned long v;

    while (*p != '\0') {
        v = strtoul(p, &end, 10);
        if (end == p)
            return 0;
        if (v == port)
            return 1;
        p = end;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return 0;
    }
    return 0;
}

/* Parse a numeric address into 16 bytes (IPv4 as v4-mapped). */
static int
gh_policy_addr(const char *s, unsigned char out[16], int *is4)
{
    unsigned char v4[4];

    if (inet_pton(AF_INET6, s, out) == 1) {
        *is4 = 0;
        return 0;
    }
    if (inet_pton(AF_INET, s, v4) != 1)
        return -1;
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
    *is4 = 1;
    return 0;
}

/* Is a (16 bytes) an IPv4-mapped IPv6 address (::ffff:a.b.c.d)? */
static int
gh_policy_mapped(const unsigned char a[16])
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};

    return memcmp(a, prefix, sizeof(prefix)) == 0;
}

int
gh_policy_cidr_match(const char *cidr, const char *addr)
{
    unsigned char net[16], a[16];
    char buf[64];
    const char *slash;
    unsigned long bits;
    int net4, a4, i;
    char *end;

    if (cidr == NULL || *cidr == '\0')
        return 1;
    if (gh_policy_addr(addr, a, &a4) != 0)
        return -1;
    slash = strchr(cidr, '/');
    if (slash == NULL || (size_t)(slash - cidr) >= sizeof(buf)) {
        if (strlen(cidr) >= sizeof(buf))
            return -1;
        strcpy(buf, cidr);
    } else {
        memcpy(buf, cidr, (size_t)(slash - cidr));
        buf[slash - cidr] = '\0';
    }
    if (gh_policy_addr(buf, net, &net4) != 0)
        return -1;
    if (slash == NULL) {
        bits = 128;
    } else {
        bits = strtoul(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || bits > (net4 ? 32u : 128u))
            return -1;
        if (net4)
            bits += 96;
    }
    /* A v4 network holds only v4 addresses (plain or v4-mapped); a v6
     * network compares all 128 bits, v4-mapped ones included. */
    (void)a4;
    if (net4 && !gh_policy_mapped(a))
        return 0;
    for (i = 0; bits >= 8; i++, bits -= 8)
        if (net[i] != a[i])
            return 0;
    if (bits > 0) {
        unsigned char mask = (unsigned char)(0xff << (8 - bits));

        if ((net[i] & mask) != (a[i] & mask))
            return 0;
    }
    return 1;
}

struct gh_decide_ctx {
    const char *source;
    unsigned port;
    struct gh_policy_answer *ans;
};

static int
gh_decide_one(const struct gh_grant *g, void *arg)
{
    struct gh_decide_ctx *c = arg;

    if (!gh_policy_port_in(g->ports, c->port))
        return 0;
    if (gh_policy_cidr_match(g->source_cidr, c->source) != 1) {
        c->ans->decision = GH_DECIDE_SOURCE_NOT_ALLOWED;
        return 0;
    }
    /* Rows come latest expiry first: the first match lasts longest. */
    c->ans->decision = GH_DECIDE_ALLOW;
    c->ans->grant_id = g->id;
    c->ans->expires_ms = g->expires_ms;
    return 1;
}

int
gh_policy_decide(struct gh_store *st, const char *user_id, const char *source,
                 const char *target, unsigned port, int64_t now_ms,
                 struct gh_policy_answer *ans)
{
    struct gh_decide_ctx c;
    int n;

    memset(ans, 0, sizeof(*ans));
    ans->decision = GH_DECIDE_NO_GRANT;
    if (user_id == NULL || source == NULL || target == NULL || port == 0 ||
        port > 65535)
        return GH_E_INVAL;
    c.source = source;
    c.port = port;
    c.ans = ans;
    n = gh_store_grants_live(st, user_id, target, now_ms, gh_decide_one, &c);
    if (n < 0) {
        ans->decision = GH_DECIDE_NO_GRANT;
        return n;
    }
    if (n > 0 && ans->decision == GH_DECIDE_NO_GRANT)
        ans->decision = GH_DECIDE_PORT_NOT_GRANTED;
    return 0;
}
