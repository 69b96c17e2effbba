/*
 * Unit tests for JIT requests and grants in the store (the state machine)
 * and the single decision function, against a real SQLite file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gatehouse/err.h"
#include "gatehouse/policy.h"
#include "gatehouse/store.h"

#include "../gh_test.h"

#define T0   1800000000000LL /* a fixed "now", ms */
#define HOUR 3600LL

struct fx {
    char *dir, *db;
    struct gh_store *st;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->dir = gh_test_mkdtemp("policy");
    fx->db = gh_test_path(fx->dir, "g.db");
    assert_int_equal(gh_store_open(fx->db, 5000, &fx->st), 0);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    gh_store_close(fx->st);
    gh_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->db);
    free(fx);
    return 0;
}

static int64_t
request(struct fx *fx, const char *who, const char *target, const char *ports,
        int64_t dur_s, int64_t created_ms)
{
    struct gh_access_request r;
    int64_t id = 0;

    memset(&r, 0, sizeof(r));
    r.requester = who;
    r.target = target;
    r.ports = ports;
    r.duration_s = dur_s;
    r.reason = "deploy fix";
    r.created_ms = created_ms;
    assert_int_equal(gh_store_request_add(fx->st, &r, &id), 0);
    assert_true(id > 0);
    return id;
}

static enum gh_decision
decide(struct fx *fx, const char *who, const char *src, const char *target,
       unsigned port, int64_t now, int64_t *grant)
{
    struct gh_policy_answer a;

    assert_int_equal(gh_policy_decide(fx->st, who, src, target, port, now, &a),
                     0);
    if (grant != NULL)
        *grant = a.grant_id;
    return a.decision;
}

static void
test_policy__request_approve_allows(void **state)
{
    struct fx *fx = *state;
    struct gh_access_request *r = NULL;
    struct gh_grant *g = NULL;
    int64_t id, gid = 0, used = 0;

    id = request(fx, "alice", "web1", "22", 2 * HOUR, T0);
    assert_int_equal(decide(fx, "alice", "127.0.0.1", "web1", 22, T0, NULL),
                     GH_DECIDE_NO_GRANT);
    assert_int_equal(gh_store_request_approve(fx->st, id, "bob", "ok",
                                              "approved", 2 * HOUR, T0, &gid),
                     0);
    assert_int_equal(gh_store_request_get(fx->st, id, &r), 0);
    assert_string_equal(r->state, "approved");
    assert_string_equal(r->decided_by, "bob");
    assert_int_equal(gh_store_grant_get(fx->st, gid, &g), 0);
    assert_int_equal(g->starts_ms, T0);
    assert_int_equal(g->expires_ms, T0 + 2 * HOUR * 1000);
    assert_string_equal(g->how, "approved");
    assert_int_equal(g->request_id, id);
    assert_int_equal(
        decide(fx, "alice", "127.0.0.1", "web1", 22, T0 + 1, &used),
        GH_DECIDE_ALLOW);
    assert_int_equal(used, gid);
    /* Other user, other target, other port. */
    assert_int_equal(decide(fx, "eve", "127.0.0.1", "web1", 22, T0 + 1, NULL),
                     GH_DECIDE_NO_GRANT);
    assert_int_equal(decide(fx, "alice", "127.0.0.1", "db1", 22, T0 + 1, NULL),
                     GH_DECIDE_NO_GRANT);
    assert_int_equal(decide(fx, "alice", "127.0.0.1", "web1", 80, T0 + 1, NULL),
                     GH_DECIDE_PORT_NOT_GRANTED);
    gh_access_request_free(r);
    gh_grant_free(g);
}

static void
test_policy__clock_boundaries(void **state)
{
    struct fx *fx = *state;
    int64_t id, gid;
    int64_t end = T0 + HOUR * 1000;

    id = request(fx, "alice", "web1", "22", HOUR, T0);
    assert_int_equal(gh_store_request_approve(fx->st, id, "bob", NULL,
                                              "approved", HOUR, T0, &gid),
                     0);
    assert_int_equal(decide(fx, "alice", "::1", "web1", 22, T0 - 1, NULL),
                     GH_DECIDE_NO_GRANT); /* not started */
    assert_int_equal(decide(fx, "alice", "::1", "web1", 22, T0, NULL),
                     GH_DECIDE_ALLOW); /* exactly at start */
    assert_int_equal(decide(fx, "alice", "::1", "web1", 22, end - 1, NULL),
                     GH_DECIDE_ALLOW);
    assert_int_equal(decide(fx, "alice", "::1", "web1", 22, end, NULL),
                     GH_DECIDE_NO_GRANT); /* exactly at expiry: over */
}

static void
test_policy__later_start(void **state)
{
    struct fx *fx = *state;
    struct gh_access_request r;
    struct gh_grant *g = NULL;
    int64_t id, gid;

    memset(&r, 0, sizeof(r));
    r.requester = "alice";
    r.target = "web1";
    r.ports = "22";
    r.duration_s = HOUR;
    r.reason = "window";
    r.start_ms = T0 + 10 * HOUR * 1000;
    r.created_ms = T0;
    assert_int_equal(gh_store_request_add(fx->st, &r, &id), 0);
    /* The approver shortens it to 30 minutes. */
    assert_int_equal(gh_store_request_approve(fx->st, id, "bob", "shorter",
                                              "approved", 1800, T0, &gid),
                     0);
    assert_int_equal(gh_store_grant_get(fx->st, gid, &g), 0);
    assert_int_equal(g->starts_ms, r.start_ms);
    assert_int_equal(g->expires_ms, r.start_ms + 1800 * 1000);
    assert_int_equal(decide(fx, "alice", "::1", "web1", 22, T0, NULL),
                     GH_DECIDE_NO_GRANT);
    assert_int_equal(decide(fx, "alice", "::1", "web1", 22, r.start_ms, NULL),
                     GH_DECIDE_ALLOW);
    gh_grant_free(g);
}

static void
test_policy__decided_once(void **state)
{
    struct fx *fx = *state;
    int64_t id, gid = 0;

    id = request(fx, "alice", "web1", "22", HOUR, T0);
    assert_int_equal(
        gh_store_request_close(fx->st, id, "denied", "bob", "not today", T0),
        0);
    /* No lost update: a later approval of a denied request fails and no
     * grant appears. */
    assert_int_equal(gh_store_request_approve(fx->st, id, "carol", NULL,
                                              "approved", HOUR, T0, &gid),
                     GH_E_EXISTS);
    assert_int_equal(decide(fx, "alice", "::1", "web1", 22, T0 + 1, NULL),
                     GH_DECIDE_NO_GRANT);
    assert_int_equal(
        gh_store_request_close(fx->st, id, "cancelled", "alice", NULL, T0),
        GH_E_EXISTS);
    assert_int_equal(
        gh_store_request_close(fx->st, 999999, "cancelled", "alice", NULL, T0),
        GH_E_NOTFOUND);
    assert_int_equal(
        gh_store_request_close(fx->st, id, "approved", "x", NULL, T0),
        GH_E_INVAL); /* only deny/cancel close a request */
}

static void
test_policy__pending_expiry(void **state)
{
    struct fx *fx = *state;
    struct gh_access_request *r = NULL;
    int64_t old, young;

    old = request(fx, "alice", "web1", "22", HOUR, T0 - 2 * HOUR * 1000);
    young = request(fx, "alice", "web1", "22", HOUR, T0 - 10 * 1000);
    assert_int_equal(gh_store_requests_expire(fx->st, T0 - HOUR * 1000, T0), 1);
    assert_int_equal(gh_store_request_get(fx->st, old, &r), 0);
    assert_string_equal(r->state, "expired");
    gh_access_request_free(r);
    assert_int_equal(gh_store_request_get(fx->st, young, &r), 0);
    assert_string_equal(r->state, "pending");
    gh_access_request_free(r);
}

static void
test_policy__revoke(void **state)
{
    struct fx *fx = *state;
    struct gh_grant g, *got = NULL;
    int64_t gid;

    memset(&g, 0, sizeof(g));
    g.user_id = "alice";
    g.target = "web1";
    g.ports = "22,3389";
    g.starts_ms = T0;
    g.expires_ms = T0 + HOUR * 1000;
    g.how = "direct";
    g.created_by = "dave";
    assert_int_equal(gh_store_grant_add(fx->st, &g, &gid), 0);
    assert_int_equal(decide(fx, "alice", "::1", "web1", 3389, T0 + 5, NULL),
                     GH_DECIDE_ALLOW);
    assert_int_equal(
        gh_store_grant_revoke(fx->st, gid, "dave", "done", T0 + 10), 0);
    assert_int_equal(decide(fx, "alice", "::1", "web1", 3389, T0 + 11, NULL),
                     GH_DECIDE_NO_GRANT);
    assert_int_equal(
        gh_store_grant_revoke(fx->st, gid, "dave", "again", T0 + 12),
        GH_E_NOTFOUND);
    /* History stays: the revoked grant is still there. */
    assert_int_equal(gh_store_grant_get(fx->st, gid, &got), 0);
    assert_int_equal(got->revoked_ms, T0 + 10);
    assert_string_equal(got->revoked_by, "dave");
    gh_grant_free(got);
}

static void
test_policy__source_cidr(void **state)
{
    struct fx *fx = *state;
    struct gh_grant g;
    int64_t gid;

    memset(&g, 0, sizeof(g));
    g.user_id = "alice";
    g.target = "web1";
    g.ports = "22";
    g.source_cidr = "10.1.0.0/16";
    g.starts_ms = T0;
    g.expires_ms = T0 + HOUR * 1000;
    g.how = "direct";
    g.created_by = "dave";
    assert_int_equal(gh_store_grant_add(fx->st, &g, &gid), 0);
    assert_int_equal(decide(fx, "alice", "10.1.2.3", "web1", 22, T0, NULL),
                     GH_DECIDE_ALLOW);
    assert_int_equal(decide(fx, "alice", "10.2.0.1", "web1", 22, T0, NULL),
                     GH_DECIDE_SOURCE_NOT_ALLOWED);
    assert_int_equal(
        decide(fx, "alice", "::ffff:10.1.0.9", "web1", 22, T0, NULL),
        GH_DECIDE_ALLOW); /* v4-mapped is the same address */
}

static void
test_policy__cidr_and_ports(void **state)
{
    (void)state;
    assert_int_equal(gh_policy_cidr_match("", "1.2.3.4"), 1);
    assert_int_equal(gh_policy_cidr_match("1.2.3.4", "1.2.3.4"), 1);
    assert_int_equal(gh_policy_cidr_match("1.2.3.4", "1.2.3.5"), 0);
    assert_int_equal(gh_policy_cidr_match("1.2.3.0/25", "1.2.3.127"), 1);
    assert_int_equal(gh_policy_cidr_match("1.2.3.0/25", "1.2.3.128"), 0);
    assert_int_equal(gh_policy_cidr_match("0.0.0.0/0", "9.9.9.9"), 1);
    assert_int_equal(gh_policy_cidr_match("0.0.0.0/0", "::1"), 0);
    assert_int_equal(gh_policy_cidr_match("2001:db8::/32", "2001:db8:1::7"), 1);
    assert_int_equal(gh_policy_cidr_match("2001:db8::/32", "2001:db9::7"), 0);
    assert_int_equal(gh_policy_cidr_match("1.2.3.0/33", "1.2.3.4"), -1);
    assert_int_equal(gh_policy_cidr_match("1.2.3.0/x", "1.2.3.4"), -1);
    assert_int_equal(gh_policy_cidr_match("nonsense", "1.2.3.4"), -1);
    assert_int_equal(gh_policy_cidr_match("1.2.3.0/24", "not-an-ip"), -1);
    assert_int_equal(gh_policy_port_in("22", 22), 1);
    assert_int_equal(gh_policy_port_in("22,3389", 3389), 1);
    assert_int_equal(gh_policy_port_in("22,3389", 338), 0);
    assert_int_equal(gh_policy_port_in("220", 22), 0);
    assert_int_equal(gh_policy_port_in("", 22), 0);
    assert_int_equal(gh_policy_port_in("22;80", 80), 0);
}

static void
test_policy__hostile_text(void **state)
{
    struct fx *fx = *state;
    struct gh_access_request *r = NULL;
    static const char *const evil[] = {"'; DROP TABLE grants; --", "a\"b\\c",
                                       "\xff\xfe not utf-8",
                                       "Robert'); DELETE FROM audit; --"};
    char big[GH_ACCESS_FIELD_MAX + 2];
    struct gh_access_request q;
    int64_t id;
    size_t i;

    for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
        id = request(fx, evil[i], evil[i], "22", HOUR, T0);
        assert_int_equal(gh_store_request_get(fx->st, id, &r), 0);
        assert_string_equal(r->requester, evil[i]);
        assert_string_equal(r->target, evil[i]);
        gh_access_request_free(r);
    }
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memset(&q, 0, sizeof(q));
    q.requester = "alice";
    q.target = "web1";
    q.ports = "22";
    q.duration_s = HOUR;
    q.reason = big;
    assert_int_equal(gh_store_request_add(fx->st, &q, &id), GH_E_INVAL);
    q.reason = "ok";
    q.duration_s = 0;
    assert_int_equal(gh_store_request_add(fx->st, &q, &id), GH_E_INVAL);
    /* The tables are still there and answer. */
    assert_int_equal(decide(fx, "alice", "::1", "web1", 22, T0, NULL),
                     GH_DECIDE_NO_GRANT);
}

static void
test_policy__bad_arguments_fail_closed(void **state)
{
    struct fx *fx = *state;
    struct gh_policy_answer a;

    assert_int_equal(
        gh_policy_decide(fx->st, "alice", "::1", "web1", 0, T0, &a),
        GH_E_INVAL);
    assert_int_not_equal(a.decision, GH_DECIDE_ALLOW);
    assert_int_equal(gh_policy_decide(fx->st, NULL, "::1", "web1", 22, T0, &a),
                     GH_E_INVAL);
    assert_int_not_equal(a.decision, GH_DECIDE_ALLOW);
    assert_string_equal(gh_decision_code(GH_DECIDE_PORT_NOT_GRANTED),
                        "port_not_granted");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_policy__request_approve_allows,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy__clock_boundaries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_policy__later_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_policy__decided_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_policy__pending_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_policy__revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy__source_cidr, setup,
                                        teardown),
        cmocka_unit_test(test_policy__cidr_and_ports),
        cmocka_unit_test_setup_teardown(test_policy__hostile_text, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_policy__bad_arguments_fail_closed,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
