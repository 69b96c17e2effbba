/* target.c - request and approval rules of a target (see target.h). */
#include "gatehouse/target.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"
#include "gatehouse/policy.h"

#include <stdlib.h>
#include <string.h>

/* Most ports one target or request names. */
#define GH_PORTS_MAX 32

static const char *const gh_rule_codes[] = {
    "ok",
    "not_a_user",
    "not_a_requester",
    "port_not_declared",
    "bad_duration",
    "reason_required",
    "reason_too_long",
    "self_approval",
    "not_an_approver",
    "longer_than_asked",
    "not_pending",
};

const char *
gh_rule_code(enum gh_rule r)
{
    return (unsigned)r < sizeof(gh_rule_codes) / sizeof(gh_rule_codes[0])
               ? gh_rule_codes[r]
               : "unknown";
}

int
gh_target_name_ok(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > GH_TARGET_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int
gh_port_cmp(const void *a, const void *b)
{
    return (int)*(const unsigned *)a - (int)*(const unsigned *)b;
}

int
gh_ports_canonical(const char *text, char **out)
{
    unsigned v[GH_PORTS_MAX];
    size_t n = 0, i, o = 0;
    const char *p = text;
    char buf[GH_PORTS_MAX * 6 + 1];
    char *end;
    unsigned long x;

    *out = NULL;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9')
            return GH_E_INVAL;
        x = strtoul(p, &end, 10);
        if (x == 0 || x > 65535 || n == GH_PORTS_MAX)
            return GH_E_INVAL;
        v[n++] = (unsigned)x;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        if (*p++ != ',')
            return GH_E_INVAL;
    }
    qsort(v, n, sizeof(v[0]), gh_port_cmp);
    for (i = 0; i < n; i++) {
        if (i > 0 && v[i] == v[i - 1])
            continue;
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%u", o ? "," : "",
                              v[i]);
    }
    *out = gh_strdup(buf);
    return 0;
}

int
gh_target_ports_declared(const struct gh_target *t, const char *want)
{
    const char *p = want;
    char *end;
    unsigned long x;

    while (*p != '\0') {
        x = strtoul(p, &end, 10);
        if (end == p || !gh_policy_port_in(t->ports, (unsigned)x))
            return 0;
        p = *end == ',' ? end + 1 : end;
    }
    return want[0] != '\0';
}

enum gh_rule
gh_target_check_request(const struct gh_target *t,
                        const struct gh_identity *who, const char *ports,
                        int64_t duration_s, const char *reason)
{
    if (!gh_identity_has_role(who, GH_ROLE_USER) &&
        !gh_identity_has_role(who, GH_ROLE_ADMIN))
        return GH_RULE_NOT_A_USER;
    if (*t->requesters != '\0' && !gh_identity_in_groups(who, t->requesters))
        return GH_RULE_NOT_A_REQUESTER;
    if (ports == NULL || !gh_target_ports_declared(t, ports))
        return GH_RULE_PORT_NOT_DECLARED;
    if (duration_s <= 0 || duration_s > t->max_duration ||
        duration_s > GH_GRANT_HARD_CAP_S)
        return GH_RULE_BAD_DURATION;
    if (reason != NULL && strlen(reason) > GH_REASON_MAX)
        return GH_RULE_REASON_TOO_LONG;
    if (t->reason_required && (reason == NULL || *reason == '\0'))
        return GH_RULE_REASON_REQUIRED;
    return GH_RULE_OK;
}

int
gh_target_auto_approves(const struct gh_target *t,
                        const struct gh_identity *who)
{
    return *t->auto_approve != '\0' &&
           gh_identity_in_groups(who, t->auto_approve);
}

int
gh_target_may_decide(const struct gh_target *t, const struct gh_identity *who)
{
    if (gh_identity_has_role(who, GH_ROLE_ADMIN))
        return 1;
    if (!gh_identity_has_role(who, GH_ROLE_APPROVER))
        return 0;
    return *t->approvers == '\0' || gh_identity_in_groups(who, t->approvers);
}

enum gh_rule
gh_target_check_approval(const struct gh_target *t,
                         const struct gh_identity *approver,
                         const struct gh_access_request *r, int64_t duration_s)
{
    if (strcmp(r->state, "pending") != 0)
        return GH_RULE_NOT_PENDING;
    /* Checked before roles: an admin does not approve their own either. */
    if (strcmp(approver->user_id, r->requester) == 0)
        return GH_RULE_SELF_APPROVAL;
    if (!gh_target_may_decide(t, approver))
        return GH_RULE_NOT_AN_APPROVER;
    if (duration_s <= 0)
        return GH_RULE_BAD_DURATION;
    if (duration_s > r->duration_s)
        return GH_RULE_LONGER_THAN_ASKED;
    if (duration_s > t->max_duration || duration_s > GH_GRANT_HARD_CAP_S)
        return GH_RULE_BAD_DURATION;
    return GH_RULE_OK;
}

void
gh_target_free(struct gh_target *t)
{
    if (t == NULL)
        return;
    free(t->name);
    free(t->address);
    free(t->ports);
    free(t->host_key);
    free(t->requesters);
    free(t->approvers);
    free(t->auto_approve);
    free(t);
}
