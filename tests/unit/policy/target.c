/* Unit tests for a target's request and approval rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/target.h"

static struct gh_target web = {
    .name = "web1",
    .address = "198.18.0.2",
    .ports = "22,3389",
    .host_key = "",
    .requesters = "ops, dev",
    .approvers = "web-approvers",
    .auto_approve = "oncall",
    .max_duration = 4 * 3600,
    .reason_required = 1,
    .recording_required = 1,
};

/* A person with the given roles (bits) and groups. */
static struct gh_identity *
person(const char *uid, unsigned roles, const char *g1, const char *g2)
{
    struct gh_identity *id = calloc(1, sizeof(*id));
    const char *gs[2] = {g1, g2};
    int i;

    assert_non_null(id);
    id->user_id = strdup(uid);
    id->groups = calloc(3, sizeof(char *));
    for (i = 0; i < 2; i++)
        if (gs[i] != NULL)
            id->groups[id->ngroups++] = strdup(gs[i]);
    id->roles = roles;
    return id;
}

#define USER     (1u << GH_ROLE_USER)
#define APPROVER (1u << GH_ROLE_APPROVER)
#define ADMIN    (1u << GH_ROLE_ADMIN)
#define AUDITOR  (1u << GH_ROLE_AUDITOR)

static void
test_target__request_rules(void **state)
{
    struct gh_identity *alice = person("alice", USER, "dev", NULL);
    struct gh_identity *eve = person("eve", USER, "marketing", NULL);
    struct gh_identity *carol = person("carol", AUDITOR, "dev", NULL);
    struct gh_target anyone = web;

    (void)state;
    assert_int_equal(gh_target_check_request(&web, alice, "22", 3600, "fix"),
                     GH_RULE_OK);
    assert_int_equal(
        gh_target_check_request(&web, alice, "22,3389", 4 * 3600, "fix"),
        GH_RULE_OK); /* exactly the maximum */
    assert_int_equal(
        gh_target_check_request(&web, alice, "22", 4 * 3600 + 1, "fix"),
        GH_RULE_BAD_DURATION);
    assert_int_equal(gh_target_check_request(&web, alice, "22", 0, "fix"),
                     GH_RULE_BAD_DURATION);
    assert_int_equal(gh_target_check_request(&web, alice, "80", 60, "fix"),
                     GH_RULE_PORT_NOT_DECLARED);
    assert_int_equal(gh_target_check_request(&web, alice, "22,80", 60, "x"),
                     GH_RULE_PORT_NOT_DECLARED);
    assert_int_equal(gh_target_check_request(&web, alice, "", 60, "x"),
                     GH_RULE_PORT_NOT_DECLARED);
    assert_int_equal(gh_target_check_request(&web, alice, "22", 60, ""),
                     GH_RULE_REASON_REQUIRED);
    assert_int_equal(gh_target_check_request(&web, eve, "22", 60, "x"),
                     GH_RULE_NOT_A_REQUESTER);
    assert_int_equal(gh_target_check_request(&web, carol, "22", 60, "x"),
                     GH_RULE_NOT_A_USER);
    anyone.requesters = "";
    anyone.reason_required = 0;
    anyone.max_duration = 48 * 3600; /* the hard cap still holds */
    assert_int_equal(gh_target_check_request(&anyone, eve, "22", 60, ""),
                     GH_RULE_OK);
    assert_int_equal(
        gh_target_check_request(&anyone, eve, "22", 24 * 3600 + 1, ""),
        GH_RULE_BAD_DURATION);
    gh_identity_free(alice);
    gh_identity_free(eve);
    gh_identity_free(carol);
}

static void
test_target__approval_rules(void **state)
{
    struct gh_identity *bob =
        person("bob", USER | APPROVER, "web-approvers", NULL);
    struct gh_identity *other =
        person("olga", USER | APPROVER, "db-approvers", NULL);
    struct gh_identity *dave = person("dave", ADMIN, NULL, NULL);
    struct gh_access_request r;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.requester = "alice";
    r.state = "pending";
    r.duration_s = 3600;
    assert_int_equal(gh_target_check_approval(&web, bob, &r, 3600), GH_RULE_OK);
    assert_int_equal(gh_target_check_approval(&web, bob, &r, 1800),
                     GH_RULE_OK); /* may shorten */
    assert_int_equal(gh_target_check_approval(&web, bob, &r, 3601),
                     GH_RULE_LONGER_THAN_ASKED);
    assert_int_equal(gh_target_check_approval(&web, other, &r, 3600),
                     GH_RULE_NOT_AN_APPROVER); /* approver of another target */
    assert_int_equal(gh_target_check_approval(&web, dave, &r, 3600),
                     GH_RULE_OK); /* admins approve anywhere */
    r.requester = "bob";
    assert_int_equal(gh_target_check_approval(&web, bob, &r, 3600),
                     GH_RULE_SELF_APPROVAL);
    r.requester = "dave";
    assert_int_equal(gh_target_check_approval(&web, dave, &r, 3600),
                     GH_RULE_SELF_APPROVAL); /* admins too */
    r.requester = "alice";
    r.state = "denied";
    assert_int_equal(gh_target_check_approval(&web, bob, &r, 3600),
                     GH_RULE_NOT_PENDING);
    assert_true(gh_target_may_decide(&web, bob));
    assert_false(gh_target_may_decide(&web, other));
    assert_true(gh_target_may_decide(&web, dave));
    gh_identity_free(bob);
    gh_identity_free(other);
    gh_identity_free(dave);
}

static void
test_target__auto_approve(void **state)
{
    struct gh_identity *oncall = person("ola", USER, "dev", "oncall");
    struct gh_identity *dev = person("dan", USER, "dev", NULL);
    struct gh_target none = web;

    (void)state;
    assert_true(gh_target_auto_approves(&web, oncall));
    assert_false(gh_target_auto_approves(&web, dev));
    none.auto_approve = "";
    assert_false(gh_target_auto_approves(&none, oncall));
    gh_identity_free(oncall);
    gh_identity_free(dev);
}

static void
test_target__names_and_ports(void **state)
{
    char *p = NULL, big[200];

    (void)state;
    assert_true(gh_target_name_ok("web-1.prod_eu"));
    assert_false(gh_target_name_ok(""));
    assert_false(gh_target_name_ok("web 1"));
    assert_false(gh_target_name_ok("../etc"));
    assert_false(gh_target_name_ok("web/1"));
    memset(big, 'a', 65);
    big[65] = '\0';
    assert_false(gh_target_name_ok(big));
    assert_int_equal(gh_ports_canonical("3389, 22,22", &p), 0);
    assert_string_equal(p, "22,3389");
    free(p);
    assert_int_equal(gh_ports_canonical("0", &p), GH_E_INVAL);
    assert_int_equal(gh_ports_canonical("65536", &p), GH_E_INVAL);
    assert_int_equal(gh_ports_canonical("22,", &p), GH_E_INVAL);
    assert_int_equal(gh_ports_canonical("", &p), GH_E_INVAL);
    assert_int_equal(gh_ports_canonical("22;80", &p), GH_E_INVAL);
    assert_int_equal(gh_ports_canonical("-22", &p), GH_E_INVAL);
    assert_null(p);
    assert_string_equal(gh_rule_code(GH_RULE_SELF_APPROVAL), "self_approval");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target__request_rules),
        cmocka_unit_test(test_target__approval_rules),
        cmocka_unit_test(test_target__auto_approve),
        cmocka_unit_test(test_target__names_and_ports),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
