/*
 * ssh.c - one browser SSH session: libssh, non-blocking, driven by poll()
 * over the SSH socket and the broker link.
 *
 * States, in order (docs/PROTOCOL.md, "Browser sessions"):
 *   CONNECT  TCP + key exchange; then the host key is checked against the
 *            pin: STATUS hostkey, STATUS credentials
 *   CREDS    waiting for CREDENTIAL (one may also arrive during CONNECT:
 *            it is held until the host key has been checked)
 *   AUTH     password or public-key authentication
 *   CHANNEL, PTY, SHELL   session channel, xterm-256color PTY, shell
 *   OPEN     STATUS open; OUTPUT <- channel, INPUT -> channel, RESIZE
 *   CLOSING  the channel hit EOF: a moment for the exit status, then
 *            CLOSE target_closed
 * Flow control: OUTPUT waits in the link's queue (at most GH_LINK_OUT_MAX);
 * while it is full the channel is not read, so libssh stops widening the
 * window and the VM stops. INPUT the channel cannot take yet stays in the
 * frame reader, and the link is not read until it has gone.
 */
#include "worker.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"
#include "gatehouse/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h> /* ssh_send_keepalive() is declared here */

/* Limits on START (the broker fills it from the operator's config). */
#define GH_SSH_CONNECT_TIMEOUT_DEFAULT 10
#define GH_SSH_CONNECT_TIMEOUT_MAX     120 /* a VM slower than 2 min is down */
#define GH_SSH_KEEPALIVE_DEFAULT       30
#define GH_SSH_KEEPALIVE_MAX           3600
#define GH_SSH_PIN_MAX                 128 /* "SHA256:" + 43 base64 chars */
/* Usernames: OpenSSH accepts longer, no real account is this long. */
#define GH_SSH_USER_MAX 256
/* How long a person may take to type a password. sshd's own
 * LoginGraceTime (default 120 s) usually ends it sooner. */
#define GH_SSH_CREDENTIAL_WAIT_MS (300 * 1000)
/* Keepalives without any byte from the VM before it counts as gone
 * (OpenSSH's ServerAliveCountMax default). */
#define GH_SSH_KEEPALIVE_MISSES 3
/* After the channel's EOF, how long to wait for its exit status. */
#define GH_SSH_EXIT_WAIT_MS 1000
/* Rounds of "write pending input, read output" per wake-up: each round
 * may free window for the next; a bound keeps the link served. */
#define GH_SSH_PUMP_ROUNDS 4
/* A path that can never exist (/dev/null is no directory): libssh's
 * ~/.ssh, known_hosts and identity lookups are pointed at it, so it needs
 * no passwd lookup and reads no file. */
#define GH_SSH_NO_DIR "/dev/null/.ssh"
/* Terminal type of the PTY: what xterm.js implements. */
#define GH_SSH_TERM "xterm-256color"
/* The SSH_MSG_DISCONNECT text the VM logs. */
#define GH_SSH_BYE "gatehouse session ended"

enum gh_ssh_state {
    GH_SSH_CONNECT,
    GH_SSH_CREDS,
    GH_SSH_AUTH,
    GH_SSH_CHANNEL,
    GH_SSH_PTY,
    GH_SSH_SHELL,
    GH_SSH_OPEN,
    GH_SSH_CLOSING,
    GH_SSH_DONE
};

struct gh_ssh {
    struct gh_link *l;
    ssh_session s;
    ssh_channel ch;
    struct ssh_channel_callbacks_struct cb;
    enum gh_ssh_state st;
    int exit;         /* GH_WORKER_EXIT_* once st is DONE */
    bool net_locked;  /* the Landlock network layer is on */
    bool have_cred;   /* a CREDENTIAL was taken */
    bool ssh_fd_dead; /* POLLHUP/POLLERR seen while not reading */

    /* START */
    char addr[INET6_ADDRSTRLEN];
    unsigned port;
    char pin[GH_SSH_PIN_MAX + 1];
    bool tofu;
    unsigned cols, rows;
    char user_default[GH_SSH_USER_MAX + 1];
    int connect_timeout; /* seconds */
    int keepalive;       /* seconds, 0 = off */

    /* CREDENTIAL (wiped and freed once used) */
    char user[GH_SSH_USER_MAX + 1];
    char *password;
    size_t password_len;
    ssh_key key;

    int64_t deadline;             /* of the current step; 0 = none */
    struct ssh_counter_struct rx; /* packets libssh received (all kinds) */
    uint64_t rx_seen;             /* rx.in_packets when last looked at */
    int64_t last_rx;              /* when the VM last sent a packet (OPEN) */
    int64_t last_ka;              /* when the last keepalive went out */
    bool resize_pending;
    const uint8_t *in; /* INPUT the channel has not taken yet */
    size_t in_len;
    uint64_t dropped_input; /* INPUT bytes before the shell was open */

    int exit_status; /* -1 = none */
    char exit_signal[32];
};

/* ---------------------------------------------------------------- end */

/* End the session with CLOSE reason (exit status ok). */
static void gh_ssh_end(struct gh_ssh *w, int exit, const char *reason,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
gh_ssh_end(struct gh_ssh *w, int exit, const char *reason, const char *fmt, ...)
{
    char msg[GH_LINK_MSG_MAX];
    va_list ap;

    if (w->st == GH_SSH_DONE)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (gh_link_close(w->l, reason, "%s", msg) != 0)
        gh_warn(GH_WK, "msg=\"CLOSE did not fit the queue\"");
    w->st = GH_SSH_DONE;
    w->exit = exit;
}

/* The broker broke the protocol. */
static void
gh_ssh_protocol_error(struct gh_ssh *w, const char *what)
{
    gh_warn(GH_WK, "msg=\"protocol error from the broker\" what=%s",
            gh_q(what));
    gh_ssh_end(w, GH_WORKER_EXIT_PROTOCOL, "protocol_error", "%s", what);
}

/* The broker's end is gone: nobody to tell. */
static void
gh_ssh_link_lost(struct gh_ssh *w)
{
    if (w->st == GH_SSH_DONE)
        return;
    gh_info(GH_WK, "msg=\"broker link closed\" state=%d", (int)w->st);
    w->st = GH_SSH_DONE;
    w->exit = GH_WORKER_EXIT_LINK;
}

/* A failure talking to the VM: connect_failed before the shell is open,
 * target_closed after. */
static void
gh_ssh_fail(struct gh_ssh *w, const char *what)
{
    const char *err = ssh_get_error(w->s);

    if (w->st >= GH_SSH_OPEN)
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "target_closed",
                   "connection to the VM lost (%s: %s)", what, err);
    else
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "connect_failed",
                   "cannot reach %s port %u (%s: %s)", w->addr, w->port, what,
                   err);
}

/* Forget the credential: wipe and free. */
static void
gh_ssh_forget_cred(struct gh_ssh *w)
{
    gh_freezero(w->password, w->password_len);
    w->password = NULL;
    w->password_len = 0;
    ssh_key_free(w->key);
    w->key = NULL;
}

/* ---------------------------------------------------------------- START */

/* Integer member key of o in lo..hi, or def when absent. */
static int
gh_ssh_int(const json_t *o, const char *key, long lo, long hi, long def,
           long *out)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi)
        return GH_E_INVAL;
    *out = (long)json_integer_value(v);
    return 0;
}

/* String member key of o (at most max bytes) into buf, "" when absent. */
static int
gh_ssh_str(const json_t *o, const char *key, char *buf, size_t max,
           bool required)
{
    json_t *v = json_object_get(o, key);
    size_t n;

    buf[0] = '\0';
    if (v == NULL)
        return required ? GH_E_INVAL : 0;
    if (!json_is_string(v))
        return GH_E_INVAL;
    n = json_string_length(v);
    if (n > max || strlen(json_string_value(v)) != n)
        return GH_E_INVAL; /* too long, or a NUL inside */
    memcpy(buf, json_string_value(v), n + 1);
    return 0;
}

/* Parse START into w; a message for protocol_error on failure. */
static const char *
gh_ssh_parse_start(struct gh_ssh *w, const json_t *o)
{
    unsigned char a[sizeof(struct in6_addr)];
    json_t *tofu;
    long v;

    if (gh_ssh_str(o, "address", w->addr, sizeof(w->addr) - 1, true) != 0 ||
        (inet_pton(AF_INET, w->addr, a) != 1 &&
         inet_pton(AF_INET6, w->addr, a) != 1))
        return "START: address must be a numeric IPv4 or IPv6 address";
    if (gh_ssh_int(o, "port", 1, 65535, -1, &v) != 0 || v < 0)
        return "START: port must be 1..65535";
    w->port = (unsigned)v;
    if (gh_ssh_str(o, "host_key", w->pin, GH_SSH_PIN_MAX, true) != 0 ||
        (w->pin[0] != '\0' && strncmp(w->pin, "SHA256:", 7) != 0))
        return "START: host_key must be \"SHA256:...\" or \"\"";
    tofu = json_object_get(o, "tofu");
    if (tofu != NULL && !json_is_boolean(tofu))
        return "START: tofu must be a boolean";
    w->tofu = json_is_true(tofu);
    if (gh_ssh_int(o, "cols", 1, GH_FRAME_DIM_MAX, 80, &v) != 0)
        return "START: cols must be 1..1000";
    w->cols = (unsigned)v;
    if (gh_ssh_int(o, "rows", 1, GH_FRAME_DIM_MAX, 24, &v) != 0)
        return "START: rows must be 1..1000";
    w->rows = (unsigned)v;
    if (gh_ssh_str(o, "username", w->user_default, GH_SSH_USER_MAX, false) != 0)
        return "START: username must be a string of at most 256 bytes";
    if (gh_ssh_int(o, "connect_timeout", 1, GH_SSH_CONNECT_TIMEOUT_MAX,
                   GH_SSH_CONNECT_TIMEOUT_DEFAULT, &v) != 0)
        return "START: connect_timeout must be 1..120";
    w->connect_timeout = (int)v;
    if (gh_ssh_int(o, "keepalive", 0, GH_SSH_KEEPALIVE_MAX,
                   GH_SSH_KEEPALIVE_DEFAULT, &v) != 0)
        return "START: keepalive must be 0..3600";
    w->keepalive = (int)v;
    return NULL;
}

/* ---------------------------------------------------------------- libssh */

/* libssh's own diagnostics, at debug and trace only. */
static void
gh_ssh_log_cb(int priority, const char *function, const char *buffer,
              void *userdata)
{
    (void)userdata;
    gh_log(priority <= SSH_LOG_WARNING ? GH_LOG_DEBUG : GH_LOG_TRACE, "libssh",
           "fn=%s msg=%s", function ? function : "-", gh_q(buffer));
}

static void
gh_ssh_exit_status_cb(ssh_session session, ssh_channel channel, int status,
                      void *userdata)
{
    struct gh_ssh *w = userdata;

    (void)session;
    (void)channel;
    w->exit_status = status;
}

static void
gh_ssh_exit_signal_cb(ssh_session session, ssh_channel channel,
                      const char *signal, int core, const char *errmsg,
                      const char *lang, void *userdata)
{
    struct gh_ssh *w = userdata;
    size_t i;

    (void)session;
    (void)channel;
    (void)core;
    (void)errmsg;
    (void)lang;
    snprintf(w->exit_signal, sizeof(w->exit_signal), "%s",
             signal ? signal : "?");
    for (i = 0; w->exit_signal[i] != '\0'; i++)
        if ((unsigned char)w->exit_signal[i] < 0x20 ||
            (unsigned char)w->exit_signal[i] >= 0x7f)
            w->exit_signal[i] = '?';
}

static int
gh_ssh_setup(struct gh_ssh *w)
{
    int no = 0, yes = 1, verbosity = SSH_LOG_NOLOG;
    long timeout = w->connect_timeout;
    const char *user = w->user_default[0] ? w->user_default : "gatehouse";

    if (gh_log_enabled(GH_LOG_TRACE))
        verbosity = SSH_LOG_PROTOCOL;
    else if (gh_log_enabled(GH_LOG_DEBUG))
        verbosity = SSH_LOG_WARNING;
    ssh_set_log_callback(gh_ssh_log_cb);
    w->s = ssh_new();
    if (w->s == NULL)
        return GH_E_NOMEM;
    /* Nothing from ~/.ssh/config or /etc/ssh/ssh_config (ProxyCommand!),
     * no DNS (a numeric host), no agent, no X11, no forwarding: libssh
     * does none of those unless asked, and it is never asked here. */
    if (ssh_options_set(w->s, SSH_OPTIONS_PROCESS_CONFIG, &no) != 0 ||
        ssh_options_set(w->s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) != 0 ||
        ssh_options_set(w->s, SSH_OPTIONS_HOST, w->addr) != 0 ||
        ssh_options_set(w->s, SSH_OPTIONS_PORT, &w->port) != 0 ||
        ssh_options_set(w->s, SSH_OPTIONS_NODELAY, &yes) != 0 ||
        ssh_options_set(w->s, SSH_OPTIONS_TIMEOUT, &timeout) != 0 ||
        ssh_options_set(w->s, SSH_OPTIONS_SSH_DIR, GH_SSH_NO_DIR) != 0 ||
        ssh_options_set(w->s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") != 0 ||
        ssh_options_set(w->s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") !=
            0 ||
        ssh_options_set(w->s, SSH_OPTIONS_GSSAPI_DELEGATE_CREDENTIALS, &no) !=
            0 ||
        ssh_options_set(w->s, SSH_OPTIONS_USER, user) != 0) {
        gh_error(GH_WK, "msg=\"libssh option refused\" err=%s",
                 gh_q(ssh_get_error(w->s)));
        return GH_E_INTERNAL;
    }
    ssh_set_blocking(w->s, 0);
    /* Counts every packet libssh takes in, wherever it reads them (the
     * keepalive answer may be read inside another libssh call). */
    ssh_set_counters(w->s, NULL, &w->rx);
    return 0;
}

/* The server's key against the pin. Ends the session on a mismatch. */
static void
gh_ssh_check_host_key(struct gh_ssh *w)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0, n;
    char *fp = NULL;
    const char *type;

    if (ssh_get_server_publickey(w->s, &key) != SSH_OK ||
        ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) !=
            0 ||
        (fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash,
                                       hlen)) == NULL) {
        gh_ssh_fail(w, "reading the host key");
        goto out;
    }
    type = ssh_key_type_to_char(ssh_key_type(key));
    n = strlen(fp);
    if (w->pin[0] == '\0' && !w->tofu) {
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "host_key_unknown",
                   "no host key is pinned for this target; the VM presented "
                   "%s %s",
                   type ? type : "?", fp);
        goto out;
    }
    if (w->pin[0] != '\0' &&
        (strlen(w->pin) != n || gh_ct_memcmp(w->pin, fp, n) != 0)) {
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "host_key_mismatch",
                   "the VM's host key does not match the pinned one: "
                   "expected %s, got %s (%s)",
                   w->pin, fp, type ? type : "?");
        goto out;
    }
    gh_info(GH_WK, "msg=\"host key ok\" fingerprint=%s type=%s pinned=%s", fp,
            type ? type : "?", w->pin[0] ? "yes" : "tofu");
    gh_link_status(w->l, "hostkey", "fingerprint", fp);
    gh_link_status(w->l, "credentials", NULL, NULL);
    w->st = GH_SSH_CREDS;
    w->deadline = gh_now_ms() + GH_SSH_CREDENTIAL_WAIT_MS;
out:
    ssh_string_free_char(fp);
    ssh_clean_pubkey_hash(&hash);
    ssh_key_free(key);
}

static void
gh_ssh_step_connect(struct gh_ssh *w)
{
    int rc = ssh_connect(w->s);

    if (!w->net_locked && ssh_get_fd(w->s) != SSH_INVALID_SOCKET) {
        /* The one TCP connect has been made: no other from here on. */
        if (gh_sandbox_net_lock() < 0) {
            gh_ssh_end(w, GH_WORKER_EXIT_FAILURE, "worker_failed",
                       "the worker could not finish its sandbox");
            return;
        }
        w->net_locked = true;
    }
    if (rc == SSH_AGAIN)
        return;
    if (rc != SSH_OK) {
        gh_ssh_fail(w, "connect");
        return;
    }
    gh_ssh_check_host_key(w);
}

static void
gh_ssh_step_auth(struct gh_ssh *w)
{
    int rc;

    if (w->key != NULL)
        rc = ssh_userauth_publickey(w->s, NULL, w->key);
    else
        rc = ssh_userauth_password(w->s, NULL, w->password);
    if (rc == SSH_AUTH_AGAIN)
        return;
    if (rc == SSH_AUTH_SUCCESS) {
        gh_info(GH_WK, "msg=\"authenticated\" user=%s method=%s", gh_q(w->user),
                w->key ? "publickey" : "password");
        gh_ssh_forget_cred(w);
        w->l->secret = false;
        w->st = GH_SSH_CHANNEL;
        w->deadline = gh_now_ms() + (int64_t)w->connect_timeout * 1000;
        return;
    }
    if (rc == SSH_AUTH_DENIED)
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "auth_failed",
                   "the VM refused the %s for user %s",
                   w->key ? "key" : "password", w->user);
    else if (rc == SSH_AUTH_PARTIAL)
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "auth_failed",
                   "the VM accepted the %s for user %s but asks for a "
                   "further step (multi-factor), which this session cannot "
                   "give",
                   w->key ? "key" : "password", w->user);
    else
        gh_ssh_fail(w, "authentication");
    gh_ssh_forget_cred(w);
}

static void
gh_ssh_step_channel(struct gh_ssh *w)
{
    int rc;

    switch (w->st) {
    case GH_SSH_CHANNEL:
        if (w->ch == NULL) {
            w->ch = ssh_channel_new(w->s);
            if (w->ch == NULL) {
                gh_ssh_fail(w, "channel");
                return;
            }
            ssh_callbacks_init(&w->cb);
            w->cb.userdata = w;
            w->cb.channel_exit_status_function = gh_ssh_exit_status_cb;
            w->cb.channel_exit_signal_function = gh_ssh_exit_signal_cb;
            ssh_set_channel_callbacks(w->ch, &w->cb);
        }
        rc = ssh_channel_open_session(w->ch);
        if (rc == SSH_AGAIN)
            return;
        if (rc != SSH_OK) {
            gh_ssh_fail(w, "opening a session channel");
            return;
        }
        /* The PTY request carries the size as of now; a RESIZE from here
         * on is applied once the shell is open. */
        w->resize_pending = false;
        w->st = GH_SSH_PTY;
        __attribute__((fallthrough));
    case GH_SSH_PTY:
        rc = ssh_channel_request_pty_size(w->ch, GH_SSH_TERM, (int)w->cols,
                                          (int)w->rows);
        if (rc == SSH_AGAIN)
            return;
        if (rc != SSH_OK) {
            gh_ssh_fail(w, "requesting a terminal");
            return;
        }
        w->st = GH_SSH_SHELL;
        __attribute__((fallthrough));
    case GH_SSH_SHELL:
        rc = ssh_channel_request_shell(w->ch);
        if (rc == SSH_AGAIN)
            return;
        if (rc != SSH_OK) {
            gh_ssh_fail(w, "starting the shell");
            return;
        }
        break;
    default:
        return;
    }
    w->st = GH_SSH_OPEN;
    w->deadline = 0;
    w->last_rx = w->last_ka = gh_now_ms();
    gh_info(GH_WK, "msg=\"shell open\" cols=%u rows=%u", w->cols, w->rows);
    gh_link_status(w->l, "open", NULL, NULL);
}

/* Apply a RESIZE that came while the PTY was being set up. */
static void
gh_ssh_apply_resize(struct gh_ssh *w)
{
    if (!w->resize_pending || w->st != GH_SSH_OPEN)
        return;
    w->resize_pending = false;
    if (ssh_channel_change_pty_size(w->ch, (int)w->cols, (int)w->rows) ==
        SSH_ERROR)
        gh_ssh_fail(w, "resize");
}

/* Channel output into OUTPUT frames until the channel is empty or the
 * queue is full. Returns bytes read; notices EOF and errors. */
static size_t
gh_ssh_read_output(struct gh_ssh *w)
{
    size_t total = 0, room;
    uint8_t *p;
    int n, is_stderr, eof = 0;

    while (w->st == GH_SSH_OPEN &&
           (p = gh_link_out_reserve(w->l, &room)) != NULL) {
        eof = 0;
        for (is_stderr = 0; is_stderr < 2; is_stderr++) {
            n = ssh_channel_read_nonblocking(w->ch, p, (uint32_t)room,
                                             is_stderr);
            if (n > 0)
                break;
            if (n == SSH_EOF)
                eof++;
            else if (n < 0) {
                gh_ssh_fail(w, "reading");
                return total;
            }
        }
        if (n > 0) {
            gh_link_out_commit(w->l, (size_t)n);
            total += (size_t)n;
            continue;
        }
        if (eof == 2) {
            /* Both streams are at their end: the exit status (or signal)
             * usually comes with it, or right after. */
            w->st = GH_SSH_CLOSING;
            w->deadline = gh_now_ms() + GH_SSH_EXIT_WAIT_MS;
            w->in_len = 0; /* nobody reads INPUT any more */
        }
        break;
    }
    return total;
}

/* Pending INPUT into the channel. Returns bytes written. */
static size_t
gh_ssh_write_input(struct gh_ssh *w)
{
    int n;

    if (w->in_len == 0 || w->st != GH_SSH_OPEN)
        return 0;
    n = ssh_channel_write(w->ch, w->in, (uint32_t)w->in_len);
    if (n < 0) {
        gh_ssh_fail(w, "writing");
        return 0;
    }
    w->in += n;
    w->in_len -= (size_t)n;
    return (size_t)n;
}

/* OPEN: move bytes both ways until nothing moves. */
static void
gh_ssh_pump(struct gh_ssh *w)
{
    int round;

    for (round = 0; round < GH_SSH_PUMP_ROUNDS && w->st == GH_SSH_OPEN;
         round++) {
        size_t moved = gh_ssh_write_input(w);

        moved += gh_ssh_read_output(w);
        if (moved == 0)
            break;
    }
}

/* CLOSING: wait a moment for the exit status, then end. */
static void
gh_ssh_step_closing(struct gh_ssh *w)
{
    int st;

    if (w->exit_status < 0 && w->exit_signal[0] == '\0' &&
        !ssh_channel_is_closed(w->ch)) {
        /* Processes pending packets without blocking (the session is
         * non-blocking); the callbacks record what arrives. */
        st = ssh_channel_get_exit_status(w->ch);
        if (st >= 0)
            w->exit_status = st;
        if (w->exit_status < 0 && w->exit_signal[0] == '\0' &&
            !ssh_channel_is_closed(w->ch) && gh_now_ms() < w->deadline &&
            ssh_is_connected(w->s))
            return;
    }
    if (w->exit_signal[0] != '\0')
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "target_closed",
                   "the shell was killed by signal %s", w->exit_signal);
    else if (w->exit_status >= 0)
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "target_closed",
                   "the shell exited with status %d", w->exit_status);
    else
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "target_closed",
                   "the VM closed the session");
}

/* Keepalives while OPEN; a VM silent for GH_SSH_KEEPALIVE_MISSES of them
 * is gone. Not while the queue is full: the VM is then held back by us. */
static void
gh_ssh_keepalive(struct gh_ssh *w, int64_t now, bool reading)
{
    int64_t period = (int64_t)w->keepalive * 1000;

    if (w->keepalive == 0 || w->st != GH_SSH_OPEN)
        return;
    if (!reading || w->rx.in_packets != w->rx_seen) {
        w->rx_seen = w->rx.in_packets;
        w->last_rx = now;
        if (!reading)
            return;
    }
    if (now - w->last_rx >= period * GH_SSH_KEEPALIVE_MISSES) {
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "target_closed",
                   "the VM stopped answering keepalives (%d s)",
                   w->keepalive * GH_SSH_KEEPALIVE_MISSES);
        return;
    }
    if (now - w->last_rx >= period && now - w->last_ka >= period) {
        /* keepalive@openssh.com with want-reply: the answer counts as
         * traffic. libssh keeps one request in flight and clears a
         * finished one on the next call: two calls always leave exactly
         * one new request out. */
        ssh_send_keepalive(w->s);
        ssh_send_keepalive(w->s);
        w->last_ka = now;
    }
}

/* ---------------------------------------------------------------- frames */

/* CREDENTIAL: take the username and the password or key. The frame and
 * every copy are wiped here or once used. */
static void
gh_ssh_take_credential(struct gh_ssh *w, const struct gh_frame *f)
{
    json_t *o, *user, *pw, *key, *pass;
    const char *bad = NULL;
    json_error_t jerr;
    int rc;

    if (w->have_cred || w->st > GH_SSH_CREDS) {
        gh_link_wipe_frame(w->l, f);
        gh_ssh_protocol_error(w, "CREDENTIAL: a credential was already given");
        return;
    }
    o = json_loadb((const char *)f->payload, f->len, JSON_REJECT_DUPLICATES,
                   &jerr);
    gh_link_wipe_frame(w->l, f);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        gh_ssh_protocol_error(w, "CREDENTIAL: not a JSON object");
        return;
    }
    user = json_object_get(o, "username");
    pw = json_object_get(o, "password");
    key = json_object_get(o, "private_key");
    pass = json_object_get(o, "passphrase");
    if (user != NULL &&
        gh_ssh_str(o, "username", w->user, GH_SSH_USER_MAX, false) != 0)
        bad = "CREDENTIAL: username must be a string of at most 256 bytes";
    else if ((pw == NULL) == (key == NULL))
        bad = "CREDENTIAL: give either password or private_key";
    else if ((pw != NULL && !json_is_string(pw)) ||
             (key != NULL && !json_is_string(key)) ||
             (pass != NULL && !json_is_string(pass)) ||
             (pw != NULL && pass != NULL))
        bad = "CREDENTIAL: password, private_key and passphrase are strings "
              "(passphrase only with private_key)";
    if (bad != NULL) {
        json_decref(o); /* jansson frees through gh_json_free: wiped */
        gh_ssh_protocol_error(w, bad);
        return;
    }
    if (w->user[0] == '\0')
        memcpy(w->user, w->user_default, sizeof(w->user));
    w->have_cred = true;
    if (pw != NULL) {
        w->password_len = json_string_length(pw) + 1;
        w->password = gh_alloc(1, w->password_len);
        memcpy(w->password, json_string_value(pw), w->password_len);
        rc = 0;
    } else {
        rc = ssh_pki_import_privkey_base64(
            json_string_value(key), pass ? json_string_value(pass) : NULL, NULL,
            NULL, &w->key);
    }
    json_decref(o);
    if (rc != SSH_OK) {
        w->key = NULL;
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "auth_failed",
                   "the private key could not be read (wrong passphrase, or "
                   "not an OpenSSH or PEM private key)");
        return;
    }
    if (w->user[0] == '\0') {
        gh_ssh_forget_cred(w);
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "auth_failed", "no username given");
        return;
    }
    if (ssh_options_set(w->s, SSH_OPTIONS_USER, w->user) != 0) {
        gh_ssh_forget_cred(w);
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "auth_failed",
                   "the username was refused");
        return;
    }
    gh_debug(GH_WK, "msg=\"credential received\" user=%s method=%s",
             gh_q(w->user), w->key ? "publickey" : "password");
}

/* One frame from the broker. */
static void
gh_ssh_frame(struct gh_ssh *w, const struct gh_frame *f)
{
    unsigned c, r;

    switch (f->type) {
    case GH_F_CLOSE:
        gh_info(GH_WK, "msg=\"broker closed the session\"");
        w->st = GH_SSH_DONE;
        w->exit = GH_WORKER_EXIT_OK;
        return;
    case GH_F_START:
        gh_ssh_protocol_error(w, "START: sent twice");
        return;
    case GH_F_CREDENTIAL:
        gh_ssh_take_credential(w, f);
        return;
    case GH_F_RESIZE:
        if (gh_frame_resize_get(f, &c, &r) != 0) {
            gh_ssh_protocol_error(w, "RESIZE: bad size");
            return;
        }
        w->cols = c;
        w->rows = r;
        w->resize_pending = true;
        gh_ssh_apply_resize(w);
        return;
    case GH_F_INPUT:
        if (w->st != GH_SSH_OPEN) {
            /* Typed before the shell exists (or after it ended). */
            w->dropped_input += f->len;
            return;
        }
        w->in = f->payload;
        w->in_len = f->len;
        gh_ssh_write_input(w);
        return;
    default:
        gh_ssh_protocol_error(w, "unexpected frame type");
        return;
    }
}

/* Read the link and handle whole frames until it has nothing, INPUT is
 * left over, or the session ends. */
static void
gh_ssh_read_link(struct gh_ssh *w)
{
    struct gh_frame f;
    int rc;

    for (;;) {
        while (w->in_len == 0 && w->st != GH_SSH_DONE) {
            rc = gh_link_next(w->l, &f);
            if (rc == 0)
                break;
            if (rc < 0) {
                gh_ssh_protocol_error(w, rc == GH_E_TOOBIG
                                             ? "frame too large"
                                             : "malformed frame or a type "
                                               "the broker may not send");
                return;
            }
            gh_ssh_frame(w, &f);
        }
        if (w->in_len > 0 || w->st == GH_SSH_DONE)
            return;
        rc = gh_link_read(w->l);
        if (rc == 0)
            return;
        if (rc < 0) {
            gh_ssh_link_lost(w);
            return;
        }
    }
}

/* ---------------------------------------------------------------- loop */

/* Milliseconds poll() may sleep: until the step's deadline or the next
 * keepalive check; -1 when nothing is due. */
static int
gh_ssh_timeout(const struct gh_ssh *w, int64_t now)
{
    int64_t t = INT64_MAX, next;

    if (w->deadline > 0)
        t = w->deadline - now;
    if (w->st == GH_SSH_OPEN && w->keepalive > 0) {
        next = (w->last_rx > w->last_ka ? w->last_rx : w->last_ka) +
               (int64_t)w->keepalive * 1000;
        if (next - now < t)
            t = next - now;
    }
    if (t == INT64_MAX)
        return -1;
    if (t < 0)
        return 0;
    /* Wake at least once a minute: a clock step must not stall us. */
    return t > 60000 ? 60000 : (int)t;
}

static void
gh_ssh_check_deadline(struct gh_ssh *w, int64_t now)
{
    if (w->deadline == 0 || now < w->deadline)
        return;
    switch (w->st) {
    case GH_SSH_CONNECT:
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "connect_failed",
                   "no SSH answer from %s port %u within %d s", w->addr,
                   w->port, w->connect_timeout);
        break;
    case GH_SSH_CREDS:
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "auth_failed",
                   "no credential within %d s",
                   GH_SSH_CREDENTIAL_WAIT_MS / 1000);
        break;
    case GH_SSH_AUTH:
    case GH_SSH_CHANNEL:
    case GH_SSH_PTY:
    case GH_SSH_SHELL:
        gh_ssh_end(w, GH_WORKER_EXIT_OK, "connect_failed",
                   "the VM at %s port %u stopped answering during log-in "
                   "(%d s)",
                   w->addr, w->port, w->connect_timeout);
        break;
    default:
        break; /* CLOSING: its step reads the deadline */
    }
}

/* Run the current state's step; again while it moves to a new state. */
static void
gh_ssh_step(struct gh_ssh *w)
{
    enum gh_ssh_state before;

    do {
        before = w->st;
        switch (w->st) {
        case GH_SSH_CONNECT:
            gh_ssh_step_connect(w);
            break;
        case GH_SSH_CREDS:
            if (w->have_cred) {
                w->st = GH_SSH_AUTH;
                w->deadline = gh_now_ms() + (int64_t)w->connect_timeout * 1000;
            }
            break;
        case GH_SSH_AUTH:
            gh_ssh_step_auth(w);
            break;
        case GH_SSH_CHANNEL:
        case GH_SSH_PTY:
        case GH_SSH_SHELL:
            gh_ssh_step_channel(w);
            gh_ssh_apply_resize(w);
            break;
        case GH_SSH_OPEN:
            gh_ssh_pump(w);
            break;
        case GH_SSH_CLOSING:
            gh_ssh_step_closing(w);
            break;
        case GH_SSH_DONE:
            break;
        }
    } while (w->st != before && w->st != GH_SSH_DONE);
}

static void
gh_ssh_teardown(struct gh_ssh *w)
{
    gh_ssh_forget_cred(w);
    if (w->ch != NULL) {
        if (ssh_channel_is_open(w->ch))
            ssh_channel_close(w->ch);
        ssh_channel_free(w->ch);
        w->ch = NULL;
    }
    if (w->s != NULL) {
        if (ssh_get_fd(w->s) != SSH_INVALID_SOCKET)
            ssh_disconnect(w->s);
        ssh_free(w->s);
        w->s = NULL;
    }
}

int
gh_ssh_run(struct gh_link *l, const json_t *start)
{
    struct gh_ssh *w = gh_alloc(1, sizeof(*w));
    struct pollfd p[2];
    const char *bad;
    int64_t now;
    int flags, n, exit;
    bool reading;

    w->l = l;
    w->exit_status = -1;
    bad = gh_ssh_parse_start(w, start);
    if (bad != NULL) {
        gh_ssh_protocol_error(w, bad);
        goto out;
    }
    if (gh_ssh_setup(w) != 0) {
        gh_ssh_end(w, GH_WORKER_EXIT_FAILURE, "worker_failed",
                   "the worker could not set up libssh");
        goto out;
    }
    gh_info(GH_WK,
            "msg=\"connecting\" address=%s port=%u pinned=%s cols=%u "
            "rows=%u",
            w->addr, w->port,
            w->pin[0] ? "yes"
            : w->tofu ? "tofu"
                      : "no",
            w->cols, w->rows);
    w->st = GH_SSH_CONNECT;
    w->deadline = gh_now_ms() + (int64_t)w->connect_timeout * 1000;
    gh_ssh_read_link(w); /* frames the broker sent right behind START */
    gh_ssh_step(w);

    while (w->st != GH_SSH_DONE) {
        if (gh_link_flush(l) != 0) {
            gh_ssh_link_lost(w);
            break;
        }
        now = gh_now_ms();
        /* The link: read unless INPUT waits for the channel. */
        p[0].fd = l->fd;
        p[0].events = (w->in_len == 0 ? POLLIN : 0) |
                      (gh_link_pending(l) > 0 ? POLLOUT : 0);
        /* The VM: what libssh wants, but no reading while the OUTPUT queue
         * is full (that is the backpressure), and nothing while waiting
         * for the person's credential. */
        p[1].fd = -1;
        p[1].events = 0;
        reading = !(w->st == GH_SSH_OPEN && gh_link_out_room(l) == 0);
        if (w->st != GH_SSH_CREDS && ssh_get_fd(w->s) != SSH_INVALID_SOCKET &&
            !(w->ssh_fd_dead && !reading)) {
            flags = ssh_get_poll_flags(w->s);
            p[1].fd = ssh_get_fd(w->s);
            p[1].events =
                (short)(((flags & SSH_READ_PENDING) && reading ? POLLIN : 0) |
                        (flags & SSH_WRITE_PENDING ? POLLOUT : 0));
        }
        if (reading)
            w->ssh_fd_dead = false;
        n = poll(p, 2, gh_ssh_timeout(w, now));
        if (n < 0 && errno != EINTR) {
            gh_ssh_end(w, GH_WORKER_EXIT_FAILURE, "worker_failed",
                       "poll failed: %s", strerror(errno));
            break;
        }
        now = gh_now_ms();
        if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (w->in_len == 0)
                gh_ssh_read_link(w);
            else if (p[0].revents & (POLLHUP | POLLERR))
                gh_ssh_link_lost(w); /* gone while we held its INPUT */
        }
        if (w->st == GH_SSH_DONE)
            break;
        if (n > 0 && p[1].fd >= 0 && p[1].revents != 0) {
            if (!reading && (p[1].revents & (POLLHUP | POLLERR)))
                w->ssh_fd_dead = true; /* noticed once reading resumes */
            if (!reading && (p[1].revents & POLLOUT))
                ssh_blocking_flush(w->s, 0);
        }
        gh_ssh_step(w);
        gh_ssh_check_deadline(w, now);
        gh_ssh_keepalive(w, now, reading);
        if (w->st == GH_SSH_OPEN && w->in_len == 0 && l->rd.end > l->rd.start)
            gh_ssh_read_link(w); /* frames left behind the INPUT */
    }

out:
    if (w->dropped_input > 0)
        gh_debug(GH_WK,
                 "msg=\"input before the shell was open, dropped\" "
                 "bytes=%llu",
                 (unsigned long long)w->dropped_input);
    gh_ssh_teardown(w);
    exit = w->exit;
    gh_free(w);
    return exit;
}
