/*
 * session.c - one live remote session: start (after the decision), the
 * relay between browser and worker, and every way it ends.
 *
 * Ownership: the broker's list owns each session. The browser connection
 * (ws), the worker link (link) and the worker process (pid) refer to it;
 * it is freed once it has ended and all three are gone.
 */
#include "broker-priv.h"
#include "resolve.h"

#include "api.h"
#include "auth-http.h"
#include "config-target.h"
#include "gateway.h"
#include "http.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/oidc.h"
#include "gatehouse/policy.h"
#include "gatehouse/store.h"
#include "gatehouse/target.h"
#include "gatehouse/worker.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The reasons of docs/PROTOCOL.md and their WebSocket close codes. */
static const struct {
    const char *reason;
    int code;
} gh_reasons[] = {
    {"target_closed", 1000},
    {"user_closed", 1000},
    {"server_shutdown", 1001},
    {"no_grant", 4403},
    {"port_not_granted", 4403},
    {"source_not_allowed", 4403},
    {"unknown_target", 4403},
    {"port_not_declared", 4403},
    {"error", 4403},
    {"grant_expired", 4408},
    {"grant_revoked", 4408},
    {"admin_kill", 4409},
    {"target_removed", 4410},
    {"idle_timeout", 4411},
    {"too_many_sessions", 4429},
    {"protocol_error", 4400},
    {"worker_failed", 4500},
    {"host_key_mismatch", 4502},
    {"host_key_unknown", 4502},
    {"auth_failed", 4503},
    {"connect_failed", 4504},
    {"unsupported_protocol", 4405},
    {"recording_failed", 4507},
};

int
gh_rsess_close_code(const char *reason)
{
    size_t i;

    for (i = 0; i < sizeof(gh_reasons) / sizeof(gh_reasons[0]); i++)
        if (strcmp(gh_reasons[i].reason, reason) == 0)
            return gh_reasons[i].code;
    return 4401; /* the authentication codes (unauthenticated, ...) */
}

/* A reason from the worker must be one of ours: it is not trusted. */
static const char *
gh_rsess_known_reason(const char *r)
{
    size_t i;

    if (r != NULL)
        for (i = 0; i < sizeof(gh_reasons) / sizeof(gh_reasons[0]); i++)
            if (strcmp(gh_reasons[i].reason, r) == 0)
                return gh_reasons[i].reason;
    return "worker_failed";
}

int64_t
gh_broker_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
gh_rsess_audit(struct gh_rsess *s, struct lws *wsi, const char *action,
               const char *outcome, json_t *detail)
{
    struct gh_gateway *gw = s->b->gw;
    char object[32];
    struct gh_audit_event ev;
    char *d = NULL;

    snprintf(object, sizeof(object), "session:%lld", (long long)s->id);
    if (wsi != NULL) {
        gh_auth_audit(wsi, s->user, action, outcome, detail);
        return;
    }
    if (detail != NULL) {
        json_object_set_new(detail, "session", json_integer(s->id));
        d = json_dumps(detail, JSON_COMPACT);
        json_decref(detail);
    }
    memset(&ev, 0, sizeof(ev));
    ev.actor = s->user;
    ev.action = action;
    ev.object = object;
    ev.outcome = outcome;
    ev.source = s->source;
    ev.detail = d;
    if (gh_store_audit_add(gw->store, &ev) != 0)
        gh_warn("broker", "msg=\"audit write failed\" action=%s", action);
    free(d);
}

void
gh_rsess_to_browser(struct gh_rsess *s, uint8_t type, const void *p, size_t len)
{
    if (s->ws == NULL || s->state == GH_RS_ENDED)
        return;
    gh_queue_push(&s->to_browser, LWS_PRE, &type, 1, p, len);
    lws_callback_on_writable(s->ws);
}

void
gh_rsess_status(struct gh_rsess *s, json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    if (t != NULL && s->tunnel)
        gh_tunnel_to_client(s, true, t, strlen(t)); /* a text message */
    else if (t != NULL)
        gh_rsess_to_browser(s, GH_F_STATUS, t, strlen(t));
    free(t);
}

void
gh_rsess_to_worker(struct gh_rsess *s, uint8_t type, const void *p, size_t len,
                   bool secret)
{
    uint8_t hdr[GH_FRAME_PREFIX + 1];
    struct gh_chunk *c;

    if (s->link == NULL || s->link_close_sent)
        return;
    gh_frame_link_header(hdr, type, len);
    c = gh_queue_push(&s->to_worker, 0, hdr, sizeof(hdr), p, len);
    c->secret = secret;
    lws_callback_on_writable(s->link);
    if (s->to_worker.bytes >= GH_BROKER_QUEUE_CAP && !s->ws_paused &&
        s->ws != NULL) {
        s->ws_paused = true;
        lws_rx_flow_control(s->ws, 0);
    }
}

static void
gh_rsess_unlink(struct gh_rsess *s)
{
    struct gh_broker *b = s->b;

    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        b->head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
}

void
gh_rsess_maybe_free(struct gh_rsess *s)
{
    if (s->state != GH_RS_ENDED || s->ws != NULL || s->link != NULL ||
        s->pid > 0)
        return;
    gh_rsess_unlink(s);
    gh_queue_clear(&s->to_browser);
    gh_queue_clear(&s->to_worker);
    gh_frame_rd_free(&s->rd);
    free(s->user);
    free(s->target);
    free(s->source);
    free(s->protocol);
    free(s->rec_file);
    free(s);
}

/* Ask the worker to stop: a CLOSE frame, then the link closes once it is
 * written; a worker still alive after the grace period is killed. */
static void
gh_rsess_stop_worker(struct gh_rsess *s, const char *reason)
{
    json_t *j;
    char *t;

    if (s->pid > 0 && s->kill_at_ms == 0)
        s->kill_at_ms = gh_broker_now_ms() + GH_BROKER_KILL_GRACE_MS;
    if (s->link == NULL || s->link_close_sent)
        return;
    gh_queue_clear(&s->to_worker); /* input not yet sent is moot */
    j = json_pack("{s:s}", "reason", reason);
    t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    gh_rsess_to_worker(s, GH_F_CLOSE, t, strlen(t), false);
    free(t);
    s->link_close_sent = true;
    if (s->link_paused) {
        s->link_paused = false;
        lws_rx_flow_control(s->link, 1);
    }
}

void
gh_rsess_end(struct gh_rsess *s, const char *reason, const char *message,
             bool flush)
{
    struct gh_gateway *gw = s->b->gw;
    int64_t now = gh_broker_now_ms();

    if (s->state == GH_RS_ENDED)
        return;
    gh_resolve_cancel(s->b->resolver, s->resolve_id);
    s->resolve_id = 0;
    s->end_reason = gh_rsess_known_reason(reason);
    if (s->ws != NULL)
        gh_ws_close(s->ws, s->end_reason, message, flush);
    s->state = GH_RS_ENDED;
    if (s->tunnel)
        gh_tunnel_stop(s);
    else
        gh_rsess_stop_worker(s, s->end_reason);
    gh_record_close(s);
    if (gh_store_remote_end(gw->store, s->id, now, s->end_reason, s->bytes_in,
                            s->bytes_out) != 0)
        gh_warn("broker", "msg=\"cannot mark session ended\" session=%lld",
                (long long)s->id);
    gh_info("broker",
            "msg=\"session ended\" session=%lld user=%s target=%s reason=%s "
            "seconds=%lld in=%lld out=%lld",
            (long long)s->id, gh_q(s->user), gh_q(s->target), s->end_reason,
            (long long)((now - s->started_ms) / 1000), (long long)s->bytes_in,
            (long long)s->bytes_out);
    gh_rsess_audit(s, NULL, "session.end",
                   strcmp(s->end_reason, "target_closed") == 0 ||
                           strcmp(s->end_reason, "user_closed") == 0
                       ? "ok"
                       : s->end_reason,
                   json_pack("{s:s, s:s?, s:I, s:I, s:I}", "reason",
                             s->end_reason, "message", message, "bytes_in",
                             (json_int_t)s->bytes_in, "bytes_out",
                             (json_int_t)s->bytes_out, "duration_ms",
                             (json_int_t)(now - s->started_ms)));
    s->b->live--;
    gh_metrics_sessions(&gw->metrics, s->b->live, s->end_reason);
}

void
gh_rsess_ws_gone(struct gh_rsess *s)
{
    s->ws = NULL;
    if (s->state != GH_RS_ENDED && !s->b->shutting_down)
        gh_rsess_end(s, "user_closed", "the browser went away", false);
    gh_rsess_maybe_free(s);
}

void
gh_rsess_link_gone(struct gh_rsess *s)
{
    s->link = NULL;
    if (s->state != GH_RS_ENDED && !s->b->shutting_down)
        gh_rsess_end(s, "worker_failed", "the session's worker stopped", true);
    gh_rsess_maybe_free(s);
}

static int
gh_rsess_spawn(struct gh_rsess *s, const struct gh_target *t,
               const char *address)
{
    struct gh_gateway *gw = s->b->gw;
    struct gh_worker_spawn o;
    lws_sock_file_fd_type u;
    json_t *start;
    char *text;
    int fd;

    memset(&o, 0, sizeof(o));
    o.path = gw->cfg->sessions_worker;
    o.user = geteuid() == 0 ? gw->cfg->sessions_worker_user : NULL;
    if (gh_worker_spawn(&o, &s->pid, &fd) != 0)
        return GH_E_INTERNAL;
    u.filefd = fd;
    s->link = lws_adopt_descriptor_vhost(gw->vhost, LWS_ADOPT_RAW_FILE_DESC, u,
                                         gh_broker_link_protocol.name, NULL);
    if (s->link == NULL) {
        close(fd);
        s->kill_at_ms = gh_broker_now_ms();
        return GH_E_INTERNAL;
    }
    lws_set_opaque_user_data(s->link, s);
    start = json_pack("{s:s, s:s, s:i, s:s, s:b, s:i, s:i, s:s, s:i, s:i}",
                      "protocol", s->protocol, "address", address, "port",
                      (int)s->port, "host_key", t->host_key, "tofu", 0, "cols",
                      (int)s->cols, "rows", (int)s->rows, "username", "",
                      "connect_timeout", 10, "keepalive", 30);
    text = json_dumps(start, JSON_COMPACT);
    json_decref(start);
    gh_rsess_to_worker(s, GH_F_START, text, strlen(text), false);
    free(text);
    return 0;
}

struct gh_rsess *
gh_rsess_admit(struct gh_broker *b, struct lws *wsi, struct gh_ws_pss *pss,
               unsigned port, const struct gh_target **target)
{
    struct gh_gateway *gw = b->gw;
    const struct gh_target *t = NULL;
    struct gh_policy_answer ans;
    struct gh_remote_session row;
    struct gh_rsess *s;
    char peer[64] = "";
    const char *code;

    code = gh_api_door(wsi, pss->who, pss->target, port,
                       pss->tunnel ? "tunnel" : "connect", &ans, &t);
    if (strcmp(code, "allow") != 0) {
        gh_ws_close(wsi, code,
                    strcmp(code, "no_grant") == 0
                        ? "you have no live grant for this target"
                    : strcmp(code, "port_not_granted") == 0
                        ? "your grant does not cover this port"
                    : strcmp(code, "source_not_allowed") == 0
                        ? "your grant does not allow your address"
                    : strcmp(code, "port_not_declared") == 0
                        ? "the target does not offer this port"
                        : "no such target",
                    false);
        return NULL;
    }
    if (b->live >= (unsigned)gw->cfg->sessions_max) {
        gh_ws_close(wsi, "too_many_sessions",
                    "the gateway has as many sessions as it may hold", false);
        return NULL;
    }
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    s = gh_alloc(1, sizeof(*s));
    s->b = b;
    s->tunnel = pss->tunnel;
    s->user = gh_strdup(pss->who->user_id);
    s->target = gh_strdup(t->name);
    s->source = gh_strdup(peer);
    s->protocol = gh_strdup(pss->tunnel ? "tcp" : pss->protocol);
    s->port = port;
    s->grant_id = ans.grant_id;
    s->grant_expires_ms = ans.expires_ms;
    s->started_ms = s->last_active_ms = gh_broker_now_ms();
    s->idle_timeout_s = t->idle_timeout;
    s->record_input = t->record_input != 0;
    s->recording_required = t->recording_required != 0;
    s->cols = pss->cols;
    s->rows = pss->rows;
    s->ws = wsi;
    gh_frame_rd_init(&s->rd);
    memset(&row, 0, sizeof(row));
    row.kind = s->tunnel ? "tunnel" : "browser";
    row.protocol = s->protocol;
    row.user_id = s->user;
    row.target = s->target;
    row.port = port;
    row.grant_id = s->grant_id;
    row.source = s->source;
    row.started_ms = s->started_ms;
    if (gh_store_remote_add(gw->store, &row, &s->id) != 0) {
        gh_ws_close(wsi, "error", "the gateway's store failed", false);
        s->state = GH_RS_ENDED;
        s->ws = NULL;
        gh_rsess_maybe_free(s);
        return NULL;
    }
    s->next = b->head;
    if (b->head != NULL)
        b->head->prev = s;
    b->head = s;
    b->live++;
    gh_metrics_sessions(&gw->metrics, b->live, NULL);
    gh_rsess_audit(s, wsi, "session.start", "ok",
                   json_pack("{s:I, s:s, s:s, s:i, s:I}", "session",
                             (json_int_t)s->id, "kind", row.kind, "target",
                             s->target, "port", (int)port, "grant_id",
                             (json_int_t)s->grant_id));
    *target = t;
    return s;
}

/* Start the worker once the target's address is known. The target is
 * looked up again: a reload may have replaced it while its name
 * resolved. */
static void
gh_rsess_connect(struct gh_rsess *s, const char *address)
{
    struct gh_config *cfg = s->b->gw->cfg;
    const struct gh_target *t =
        gh_targets_find(cfg->targets, cfg->ntargets, s->target);

    if (t == NULL) {
        gh_rsess_end(s, "target_removed", "the target is no longer declared",
                     false);
        return;
    }
    if (gh_rsess_spawn(s, t, address) != 0) {
        gh_rsess_end(s, "worker_failed", "the session's worker did not start",
                     false);
        return;
    }
    gh_info("broker",
            "msg=\"session started\" session=%lld user=%s target=%s grant=%lld "
            "worker=%d",
            (long long)s->id, gh_q(s->user), gh_q(s->target),
            (long long)s->grant_id, (int)s->pid);
}

struct gh_rsess *
gh_rsess_start(struct gh_broker *b, struct lws *wsi, struct gh_ws_pss *pss)
{
    struct gh_gateway *gw = b->gw;
    const struct gh_target *t;
    struct gh_rsess *s;

    if (strcmp(pss->protocol, "ssh") != 0) {
        gh_ws_close(wsi, "unsupported_protocol", "only protocol=ssh is served",
                    false);
        return NULL;
    }
    t = gh_targets_find(gw->cfg->targets, gw->cfg->ntargets, pss->target);
    s = gh_rsess_admit(b, wsi, pss, t ? (unsigned)t->ssh_port : 22, &t);
    if (s == NULL)
        return NULL;
    /* The recording first: with recording required, no recording means
     * no session, before anything reaches the VM. */
    if (gh_record_open(s) != 0 && s->recording_required) {
        gh_rsess_end(s, "recording_failed",
                     "the session cannot be recorded, and this target "
                     "requires recording",
                     false);
        return s;
    }
    gh_rsess_status(
        s, json_pack("{s:s, s:I, s:s, s:s, s:I, s:I}", "state", "connecting",
                     "session", (json_int_t)s->id, "target", s->target, "user",
                     s->user, "grant_id", (json_int_t)s->grant_id,
                     "grant_expires", (json_int_t)s->grant_expires_ms));
    gh_rsess_resolve(s, t->address, gh_rsess_connect);
    return s;
}

void
gh_rsess_from_browser(struct gh_rsess *s, const struct gh_frame *f)
{
    unsigned cols, rows;

    if (s->state == GH_RS_ENDED)
        return;
    switch (f->type) {
    case GH_F_INPUT:
        if (s->state != GH_RS_OPEN)
            return; /* typing before the shell is open goes nowhere */
        s->last_active_ms = gh_broker_now_ms();
        s->bytes_in += (int64_t)f->len;
        if (s->record_input)
            gh_record_input(s, f->payload, f->len);
        gh_rsess_to_worker(s, GH_F_INPUT, f->payload, f->len, false);
        break;
    case GH_F_RESIZE:
        if (gh_frame_resize_get(f, &cols, &rows) != 0)
            return;
        s->cols = cols;
        s->rows = rows;
        gh_record_resize(s, cols, rows);
        gh_rsess_to_worker(s, GH_F_RESIZE, f->payload, f->len, false);
        break;
    case GH_F_CREDENTIAL:
        if (s->state != GH_RS_CREDENTIALS) {
            gh_rsess_end(s, "protocol_error",
                         "a credential was sent when none was asked for",
                         false);
            return;
        }
        /* Passed through, never parsed, logged or recorded here. */
        gh_rsess_to_worker(s, GH_F_CREDENTIAL, f->payload, f->len, true);
        break;
    case GH_F_CLOSE:
        gh_rsess_end(s, "user_closed", "you closed the session", false);
        break;
    default:
        break;
    }
}

/* STATUS from the worker: {"event": ...}. */
static int
gh_rsess_worker_status(struct gh_rsess *s, const struct gh_frame *f)
{
    json_t *j = json_loadb((const char *)f->payload, f->len, 0, NULL);
    const char *ev = json_string_value(json_object_get(j, "event"));
    int rc = 0;

    if (ev == NULL) {
        rc = -1;
    } else if (strcmp(ev, "hostkey") == 0 && s->state == GH_RS_CONNECTING) {
        const char *fp = json_string_value(json_object_get(j, "fingerprint"));

        gh_rsess_audit(s, NULL, "session.hostkey", "ok",
                       json_pack("{s:s}", "fingerprint", fp ? fp : ""));
    } else if (strcmp(ev, "credentials") == 0 && s->state == GH_RS_CONNECTING) {
        const char *at = strchr(s->user, '@');

        s->state = GH_RS_CREDENTIALS;
        gh_rsess_status(
            s,
            json_pack("{s:s, s:s%}", "state", "credentials", "username",
                      s->user, at ? (size_t)(at - s->user) : strlen(s->user)));
    } else if (strcmp(ev, "open") == 0 && s->state != GH_RS_OPEN) {
        s->state = GH_RS_OPEN;
        s->last_active_ms = gh_broker_now_ms();
        gh_rsess_status(s, json_pack("{s:s, s:i, s:i}", "state", "open", "cols",
                                     (int)s->cols, "rows", (int)s->rows));
        gh_rsess_audit(s, NULL, "session.open", "ok", json_object());
    } else {
        rc = -1;
    }
    json_decref(j);
    return rc;
}

int
gh_rsess_from_worker(struct gh_rsess *s, const struct gh_frame *f)
{
    json_t *j;

    if (s->state == GH_RS_ENDED)
        return 1;
    switch (f->type) {
    case GH_F_OUTPUT:
        if (s->state != GH_RS_OPEN)
            break; /* nothing is shown before the shell is open */
        s->bytes_out += (int64_t)f->len;
        s->last_active_ms = gh_broker_now_ms();
        gh_record_output(s, f->payload, f->len);
        if (s->rec_failed && s->recording_required) {
            gh_rsess_end(s, "recording_failed",
                         "writing the recording failed, and this target "
                         "requires recording",
                         false);
            return 1;
        }
        gh_rsess_to_browser(s, GH_F_OUTPUT, f->payload, f->len);
        if (s->to_browser.bytes >= GH_BROKER_QUEUE_CAP && !s->link_paused &&
            s->link != NULL) {
            s->link_paused = true;
            lws_rx_flow_control(s->link, 0);
        }
        return 0;
    case GH_F_STATUS:
        if (gh_rsess_worker_status(s, f) == 0)
            return 0;
        break;
    case GH_F_CLOSE: {
        const char *reason, *msg;

        j = json_loadb((const char *)f->payload, f->len, 0, NULL);
        reason = json_string_value(json_object_get(j, "reason"));
        msg = json_string_value(json_object_get(j, "message"));
        gh_rsess_end(s, gh_rsess_known_reason(reason), msg, true);
        json_decref(j);
        return 1;
    }
    default:
        break;
    }
    gh_rsess_end(s, "worker_failed", "the worker broke the protocol", false);
    return 1;
}

/* ---- the broker ---- */

struct gh_broker *
gh_broker_new(struct gh_gateway *gw)
{
    struct gh_broker *b = gh_alloc(1, sizeof(*b));

    b->gw = gw;
    b->rec_dir = gw->cfg->sessions_recordings_dir[0]
                     ? gh_strdup(gw->cfg->sessions_recordings_dir)
                     : gh_asprintf("%s/recordings", gw->cfg->data_dir);
    return b;
}

void
gh_broker_recover(struct gh_broker *b)
{
    int n = gh_store_remote_end_all(b->gw->store, gh_broker_now_ms(),
                                    "gateway_restart");

    if (n > 0)
        gh_warn("broker",
                "msg=\"sessions left live by an earlier run marked ended\" "
                "count=%d",
                n);
    gh_record_recover(b);
}

/* Is s's grant still good? Re-read from the store each time, so a
 * revocation by any path (another node, the CLI, the web page) counts. */
static const char *
gh_rsess_grant_check(struct gh_rsess *s, int64_t now)
{
    struct gh_grant *g = NULL;
    const char *why = NULL;
    int rc = gh_store_grant_get(s->b->gw->store, s->grant_id, &g);

    if (rc == GH_E_NOTFOUND)
        why = "grant_revoked";
    else if (rc != 0)
        why = NULL; /* a store hiccup: the expiry below still holds */
    else if (g->revoked_ms != 0)
        why = "grant_revoked";
    else
        s->grant_expires_ms = g->expires_ms;
    gh_grant_free(g);
    if (why == NULL && now >= s->grant_expires_ms)
        why = "grant_expired";
    return why;
}

void
gh_broker_tick(struct gh_broker *b)
{
    struct gh_rsess *s, *next;
    int64_t now = gh_broker_now_ms();
    const char *why;

    for (s = b->head; s != NULL; s = next) {
        next = s->next;
        if (s->state == GH_RS_ENDED) {
            if (s->pid > 0 && s->kill_at_ms != 0 && now >= s->kill_at_ms) {
                gh_warn("broker",
                        "msg=\"worker did not stop; killing it\" "
                        "session=%lld worker=%d",
                        (long long)s->id, (int)s->pid);
                kill(-s->pid, SIGKILL);
                s->kill_at_ms = now + GH_BROKER_KILL_GRACE_MS;
            }
            continue;
        }
        if ((why = gh_rsess_grant_check(s, now)) != NULL) {
            gh_rsess_end(s, why,
                         strcmp(why, "grant_expired") == 0
                             ? "your access grant has expired"
                             : "your access grant was revoked",
                         false);
            continue;
        }
        if (s->resolve_id != 0 && now >= s->resolve_deadline_ms) {
            gh_rsess_end(s, "connect_failed",
                         "the target's name did not resolve in time", false);
            continue;
        }
        if (now - s->last_active_ms >= (int64_t)s->idle_timeout_s * 1000) {
            gh_rsess_end(s, "idle_timeout", "no input or output for too long",
                         false);
            continue;
        }
        if (gh_record_flush(s) != 0 && s->recording_required)
            gh_rsess_end(s, "recording_failed",
                         "writing the recording failed, and this target "
                         "requires recording",
                         false);
    }
}

void
gh_broker_reap(struct gh_broker *b)
{
    struct gh_rsess *s, *next;
    int status;
    pid_t r;

    if (b == NULL)
        return;
    for (s = b->head; s != NULL; s = next) {
        next = s->next;
        if (s->pid <= 0)
            continue;
        r = waitpid(s->pid, &status, WNOHANG);
        if (r != s->pid)
            continue;
        if (WIFSIGNALED(status))
            gh_info("broker",
                    "msg=\"worker ended by signal\" session=%lld signal=%d",
                    (long long)s->id, WTERMSIG(status));
        s->pid = 0;
        if (s->state != GH_RS_ENDED && s->link == NULL)
            gh_rsess_end(s, "worker_failed", "the session's worker stopped",
                         true);
        gh_rsess_maybe_free(s);
    }
}

void
gh_broker_reloaded(struct gh_broker *b)
{
    struct gh_rsess *s, *next;
    struct gh_config *cfg;

    if (b == NULL)
        return;
    cfg = b->gw->cfg;
    for (s = b->head; s != NULL; s = next) {
        next = s->next;
        if (s->state != GH_RS_ENDED &&
            gh_targets_find(cfg->targets, cfg->ntargets, s->target) == NULL)
            gh_rsess_end(s, "target_removed",
                         "the target was removed from the gateway's "
                         "configuration",
                         false);
    }
}

void
gh_broker_grant_revoked(struct gh_broker *b, int64_t grant_id)
{
    struct gh_rsess *s, *next;

    if (b == NULL)
        return;
    for (s = b->head; s != NULL; s = next) {
        next = s->next;
        if (s->state != GH_RS_ENDED && s->grant_id == grant_id)
            gh_rsess_end(s, "grant_revoked", "your access grant was revoked",
                         false);
    }
}

int
gh_broker_kill(struct gh_broker *b, int64_t id, const char *by, const char *why)
{
    struct gh_rsess *s;
    char *msg;

    for (s = b->head; s != NULL; s = s->next)
        if (s->id == id && s->state != GH_RS_ENDED)
            break;
    if (s == NULL)
        return GH_E_NOTFOUND;
    msg = gh_asprintf("ended by an administrator (%s)%s%s", by,
                      why && *why ? ": " : "", why && *why ? why : "");
    gh_rsess_end(s, "admin_kill", msg, false);
    free(msg);
    return 0;
}

const char *
gh_broker_recordings_dir(const struct gh_broker *b)
{
    return b->rec_dir;
}

unsigned
gh_broker_live(const struct gh_broker *b)
{
    return b ? b->live : 0;
}

void
gh_broker_shutdown(struct gh_broker *b)
{
    struct gh_rsess *s, *next;
    int status, i;

    if (b == NULL)
        return;
    for (s = b->head; s != NULL; s = next) {
        next = s->next;
        gh_rsess_end(s, "server_shutdown", "the gateway is stopping", false);
    }
    /* It wakes the loop: stopped while the loop is still there. */
    gh_resolver_free(b->resolver);
    b->resolver = NULL;
    b->shutting_down = true;
    /* Workers hold nothing worth a grace period once their session has
     * ended: stop them now and wait (SIGKILL is prompt). */
    for (s = b->head; s != NULL; s = s->next)
        if (s->pid > 0)
            kill(-s->pid, SIGKILL);
    for (s = b->head; s != NULL; s = s->next)
        for (i = 0; s->pid > 0 && i < 200; i++) {
            if (waitpid(s->pid, &status, WNOHANG) == s->pid ||
                kill(s->pid, 0) != 0)
                s->pid = 0;
            else
                usleep(10 * 1000);
        }
}

void
gh_broker_free(struct gh_broker *b)
{
    struct gh_rsess *s, *next;

    if (b == NULL)
        return;
    for (s = b->head; s != NULL; s = next) {
        next = s->next;
        s->ws = NULL;
        s->link = NULL;
        s->pid = 0;
        s->state = GH_RS_ENDED;
        gh_rsess_maybe_free(s);
    }
    gh_resolver_free(b->resolver);
    free(b->rec_dir);
    free(b);
}
