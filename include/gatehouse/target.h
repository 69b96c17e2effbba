/*
 * target.h - a machine people may reach, as the operator declares it, and
 * the rules for requesting and approving access to it. Pure functions;
 * any thread.
 */
#ifndef GATEHOUSE_TARGET_H
#define GATEHOUSE_TARGET_H

#include <stdint.h>

#include "gatehouse/oidc.h"
#include "gatehouse/store.h"

/* No grant lasts longer than a day, whatever a target's policy says. */
#define GH_GRANT_HARD_CAP_S (24 * 3600)
/* Default maximum grant for a target. */
#define GH_GRANT_DEFAULT_MAX_S (8 * 3600)
/* Longest target name: it appears in URLs, logs and tables. */
#define GH_TARGET_NAME_MAX 64
/* Default idle timeout of a session: no input or output for this long
 * ends it (as Azure Bastion and most SSH bastions do). */
#define GH_IDLE_DEFAULT_S (30 * 60)
/* Shortest idle timeout accepted: the enforcement tick is 1 s, so less
 * than a few seconds would end sessions between two keystrokes. */
#define GH_IDLE_MIN_S 5
/* Longest request reason kept. */
#define GH_REASON_MAX 1024

struct gh_target {
    char *name;
    char *address;      /* IP literal or DNS name */
    char *ports;        /* canonical "22,3389" */
    char *host_key;     /* pinned SSH host key fingerprint (SHA256:...) */
    char *requesters;   /* groups that may request; "" = any user */
    char *approvers;    /* groups that may approve; "" = any approver */
    char *auto_approve; /* groups whose requests policy approves */
    long max_duration;  /* seconds, <= GH_GRANT_HARD_CAP_S */
    long reason_required;
    long recording_required;
    long ssh_port;       /* port of browser SSH sessions (default 22) */
    long idle_timeout;   /* seconds */
    long record_input;   /* keystrokes in recordings */
    long owner_playback; /* users may play their own recordings */
};

enum gh_rule {
    GH_RULE_OK = 0,
    GH_RULE_NOT_A_USER,        /* no user (or admin) role */
    GH_RULE_NOT_A_REQUESTER,   /* not in the target's requesters */
    GH_RULE_PORT_NOT_DECLARED, /* a port the target does not offer */
    GH_RULE_BAD_DURATION,      /* <= 0, or over the target's maximum */
    GH_RULE_REASON_REQUIRED,   /* empty reason where one is required */
    GH_RULE_REASON_TOO_LONG,
    GH_RULE_SELF_APPROVAL,     /* nobody approves their own request */
    GH_RULE_NOT_AN_APPROVER,   /* no approver role for this target */
    GH_RULE_LONGER_THAN_ASKED, /* approval may only shorten */
    GH_RULE_NOT_PENDING
};

/* Stable snake_case code of a rule ("self_approval", ...). */
const char *gh_rule_code(enum gh_rule r);

/* Is name a valid target name ([A-Za-z0-9._-], 1..64)? 1 or 0. */
int gh_target_name_ok(const char *name);

/*
 * Canonical port list from text like "22, 3389": sorted, unique, each
 * 1..65535, at most 32 ports. *out is a new string. GH_E_INVAL otherwise.
 */
int gh_ports_canonical(const char *text, char **out);

/* Is every port of want (canonical, non-empty) one that t declares? */
int gh_target_ports_declared(const struct gh_target *t, const char *want);

/* May who ask for ports (canonical) on t for duration_s with reason? */
enum gh_rule gh_target_check_request(const struct gh_target *t,
                                     const struct gh_identity *who,
                                     const char *ports, int64_t duration_s,
                                     const char *reason);

/* Does t's policy approve who's requests on its own? 1 or 0. */
int gh_target_auto_approves(const struct gh_target *t,
                            const struct gh_identity *who);

/* May approver approve r (on t) for duration_s? */
enum gh_rule gh_target_check_approval(const struct gh_target *t,
                                      const struct gh_identity *approver,
                                      const struct gh_access_request *r,
                                      int64_t duration_s);

/* May who revoke grants on, or deny requests for, t? (Approvers of t
 * and admins.) */
int gh_target_may_decide(const struct gh_target *t,
                         const struct gh_identity *who);

void gh_target_free(struct gh_target *t);

#endif
