/*
 * config-target.c - [target NAME] sections of the configuration: the
 * machines people may reach and each one's access policy.
 *
 *   [target web1]
 *   address = 198.18.0.2           ; IP literal or DNS name
 *   ports = 22, 3389
 *   host_key = SHA256:...          ; pinned SSH host key
 *   requesters = ops, dev          ; groups that may ask ("" = any user)
 *   approvers = web-approvers      ; groups that may approve ("" = any
 *                                  ; approver; admins always may)
 *   auto_approve = oncall          ; groups approved by policy
 *   max_duration = 28800           ; seconds, at most 86400
 *   reason_required = yes
 *   recording_required = yes
 *   ssh_port = 22                  ; the port browser SSH sessions use
 *   idle_timeout = 1800            ; seconds without input or output
 *   record_input = no              ; keystrokes in recordings (passwords!)
 *   owner_playback = no            ; users may play their own recordings
 */
#include "config-target.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys of a target section, in dump order. */
static const char *const gh_tkeys[] = {
    "address",       "ports",           "host_key",
    "requesters",    "approvers",       "auto_approve",
    "max_duration",  "reason_required", "recording_required",
    "ssh_port",      "idle_timeout",    "record_input",
    "owner_playback"};
#define GH_TKEYS (sizeof(gh_tkeys) / sizeof(gh_tkeys[0]))

struct gh_target_set_entry {
    struct gh_target *t;
    unsigned set;   /* bit per gh_tkeys index */
    int first_line; /* of its first key, for messages */
};

struct gh_target_parse {
    struct gh_target_set_entry *v;
    size_t n;
    char last_section[GH_TARGET_NAME_MAX + 16];
};

struct gh_target_parse *
gh_target_parse_new(void)
{
    return gh_alloc(1, sizeof(struct gh_target_parse));
}

void
gh_target_parse_free(struct gh_target_parse *tp)
{
    size_t i;

    if (tp == NULL)
        return;
    for (i = 0; i < tp->n; i++)
        gh_target_free(tp->v[i].t);
    free(tp->v);
    free(tp);
}

static struct gh_target *
gh_target_new(const char *name)
{
    struct gh_target *t = gh_alloc(1, sizeof(*t));

    t->name = gh_strdup(name);
    t->address = gh_strdup("");
    t->ports = gh_strdup("");
    t->host_key = gh_strdup("");
    t->requesters = gh_strdup("");
    t->approvers = gh_strdup("");
    t->auto_approve = gh_strdup("");
    t->max_duration = GH_GRANT_DEFAULT_MAX_S;
    t->reason_required = 1;
    t->recording_required = 1;
    t->ssh_port = 22;
    t->idle_timeout = GH_IDLE_DEFAULT_S;
    return t;
}

static int
gh_target_bool(const char *v, long *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") ||
        !strcmp(v, "1"))
        *out = 1;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") ||
             !strcmp(v, "0"))
        *out = 0;
    else
        return GH_E_INVAL;
    return 0;
}

/* A DNS name or IP literal: letters, digits, '.', '-', ':' (IPv6). */
static int
gh_target_address_ok(const char *a)
{
    size_t i, n = strlen(a);

    if (n == 0 || n > 253)
        return 0;
    for (i = 0; i < n; i++) {
        char c = a[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':'))
            return 0;
    }
    return 1;
}

static void
gh_target_replace(char **field, const char *v)
{
    free(*field);
    *field = gh_strdup(v);
}

void
gh_target_parse_note_section(struct gh_target_parse *tp, const char *section)
{
    snprintf(tp->last_section, sizeof(tp->last_section), "%s", section);
}

int
gh_target_parse_key(struct gh_target_parse *tp, const char *section,
                    const char *key, const char *value, int line, char *why,
                    size_t whylen)
{
    const char *name = section + strlen(GH_TARGET_SECTION);
    struct gh_target_set_entry *e = NULL;
    struct gh_target *t;
    size_t i, k;
    char *end, *ports;
    long v;

    if (!gh_target_name_ok(name)) {
        snprintf(why, whylen,
                 "target name %s must be 1-64 of A-Z a-z 0-9 . _ -",
                 gh_q(name));
        return GH_E_CONFIG;
    }
    for (i = 0; i < tp->n; i++)
        if (strcmp(tp->v[i].t->name, name) == 0)
            e = &tp->v[i];
    if (e != NULL && strcmp(tp->last_section, section) != 0) {
        snprintf(why, whylen, "target %s is defined twice (first on line %d)",
                 name, e->first_line);
        return GH_E_CONFIG;
    }
    snprintf(tp->last_section, sizeof(tp->last_section), "%s", section);
    if (e == NULL) {
        tp->v = gh_realloc(tp->v, tp->n + 1, sizeof(tp->v[0]));
        e = &tp->v[tp->n++];
        e->t = gh_target_new(name);
        e->set = 0;
        e->first_line = line;
    }
    t = e->t;
    for (k = 0; k < GH_TKEYS; k++)
        if (strcmp(key, gh_tkeys[k]) == 0)
            break;
    if (k == GH_TKEYS) {
        snprintf(why, whylen, "unknown key");
        return GH_E_CONFIG;
    }
    if (e->set & (1u << k)) {
        snprintf(why, whylen, "set twice in this target");
        return GH_E_CONFIG;
    }
    e->set |= 1u << k;
    switch (k) {
    case 0:
        if (!gh_target_address_ok(value)) {
            snprintf(why, whylen, "%s is not an IP address or DNS name",
                     gh_q(value));
            return GH_E_CONFIG;
        }
        gh_target_replace(&t->address, value);
        break;
    case 1:
        if (gh_ports_canonical(value, &ports) != 0) {
            snprintf(why, whylen,
                     "%s is not a list of ports 1-65535 (e.g. 22, 3389)",
                     gh_q(value));
            return GH_E_CONFIG;
        }
        free(t->ports);
        t->ports = ports;
        break;
    case 2:
        if (*value != '\0' && strncmp(value, "SHA256:", 7) != 0) {
            snprintf(why, whylen,
                     "expected a SHA256:... fingerprint (ssh-keygen -lf)");
            return GH_E_CONFIG;
        }
        gh_target_replace(&t->host_key, value);
        break;
    case 3:
        gh_target_replace(&t->requesters, value);
        break;
    case 4:
        gh_target_replace(&t->approvers, value);
        break;
    case 5:
        gh_target_replace(&t->auto_approve, value);
        break;
    case 6:
        v = strtol(value, &end, 10);
        if (*value == '\0' || *end != '\0' || v < 60 ||
            v > GH_GRANT_HARD_CAP_S) {
            snprintf(why, whylen, "%s is not a number of seconds from 60 to %d",
                     gh_q(value), GH_GRANT_HARD_CAP_S);
            return GH_E_CONFIG;
        }
        t->max_duration = v;
        break;
    case 9:
    case 10: {
        long lo = k == 9 ? 1 : GH_IDLE_MIN_S,
             hi = k == 9 ? 65535 : GH_GRANT_HARD_CAP_S;

        v = strtol(value, &end, 10);
        if (*value == '\0' || *end != '\0' || v < lo || v > hi) {
            snprintf(why, whylen, "%s is not a number from %ld to %ld",
                     gh_q(value), lo, hi);
            return GH_E_CONFIG;
        }
        *(k == 9 ? &t->ssh_port : &t->idle_timeout) = v;
        break;
    }
    default: {
        long *const flags[] = {&t->reason_required, &t->recording_required,
                               &t->record_input, &t->owner_playback};

        if (gh_target_bool(value, flags[k == 7   ? 0
                                        : k == 8 ? 1
                                                 : k - 9]) != 0) {
            snprintf(why, whylen, "%s is not yes or no", gh_q(value));
            return GH_E_CONFIG;
        }
        break;
    }
    }
    return 0;
}

int
gh_target_parse_finish(struct gh_target_parse *tp, const char *file, char *err,
                       size_t errlen, struct gh_target ***out, size_t *n)
{
    size_t i;

    for (i = 0; i < tp->n; i++) {
        struct gh_target_set_entry *e = &tp->v[i];

        if ((e->set & 3u) != 3u) {
            snprintf(err, errlen,
                     "%s:%d: target %s: address and ports are "
                     "required",
                     file, e->first_line, e->t->name);
            return GH_E_CONFIG;
        }
        if ((e->set & (1u << 9)) &&
            !gh_policy_port_in(e->t->ports, (unsigned)e->t->ssh_port)) {
            snprintf(err, errlen,
                     "%s:%d: target %s: ssh_port %ld is not one of its ports",
                     file, e->first_line, e->t->name, e->t->ssh_port);
            return GH_E_CONFIG;
        }
    }
    *out = gh_alloc(tp->n + 1, sizeof(**out));
    for (i = 0; i < tp->n; i++) {
        (*out)[i] = tp->v[i].t;
        tp->v[i].t = NULL;
    }
    *n = tp->n;
    return 0;
}

void
gh_targets_free(struct gh_target **v, size_t n)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < n; i++)
        gh_target_free(v[i]);
    free(v);
}

void
gh_targets_dump(struct gh_target *const *v, size_t n, FILE *f)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const struct gh_target *t = v[i];

        fprintf(f,
                "\n[target %s]\naddress = %s\nports = %s\nhost_key = %s\n"
                "requesters = %s\napprovers = %s\nauto_approve = %s\n"
                "max_duration = %ld\nreason_required = %s\n"
                "recording_required = %s\nssh_port = %ld\n"
                "idle_timeout = %ld\nrecord_input = %s\n"
                "owner_playback = %s\n",
                t->name, t->address, t->ports, t->host_key, t->requesters,
                t->approvers, t->auto_approve, t->max_duration,
                t->reason_required ? "yes" : "no",
                t->recording_required ? "yes" : "no", t->ssh_port,
                t->idle_timeout, t->record_input ? "yes" : "no",
                t->owner_playback ? "yes" : "no");
    }
}

const struct gh_target *
gh_targets_find(struct gh_target *const *v, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i]->name, name) == 0)
            return v[i];
    return NULL;
}
