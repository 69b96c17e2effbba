/* server.c - lws context, TLS vhost, signals, and the service loop. */
#include "server.h"
#include "http.h"
#include "notify.h"

#include "broker.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <libwebsockets.h>

/* The event loop's read buffer (see gh_server_start). */
#define GH_SERVER_IO_BUF (64u * 1024)

extern const char gh_http_tls12_ciphers[];

/* The once-a-second timer (one gateway per process). */
#define GH_SERVER_TICK_US (1000 * 1000)
static lws_sorted_usec_list_t gh_server_tick_sul;
static struct gh_gateway *gh_server_tick_gw;

static void
gh_server_tick(lws_sorted_usec_list_t *sul)
{
    gh_gateway_tick(gh_server_tick_gw);
    lws_sul_schedule(gh_server_tick_gw->lws, 0, sul, gh_server_tick,
                     GH_SERVER_TICK_US);
}

/* Called by the fetch thread: make the loop run gh_fetch_dispatch. */
void gh_server_wake(void *ctx);
void
gh_server_wake(void *ctx)
{
    lws_cancel_service((struct lws_context *)ctx);
}

/* Route lws's own diagnostics into our log (errors and warnings only:
 * its notices are per-connection chatter). */
static void
gh_server_lws_log(int level, const char *line)
{
    char buf[512];
    size_t n = strlen(line);

    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    memcpy(buf, line, n);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    gh_log(level == LLL_ERR ? GH_LOG_WARN : GH_LOG_DEBUG, "lws", "msg=%s",
           gh_q(buf));
}

static int
gh_server_signal_cb(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    struct gh_gateway *gw = lws_context_user(lws_get_context(wsi));
    struct signalfd_siginfo si;
    ssize_t n;

    (void)user;
    (void)in;
    (void)len;
    if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
        return -1; /* a WebSocket client asked for this protocol by name */
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    n = read(lws_get_socket_fd(wsi), &si, sizeof(si));
    if (n != (ssize_t)sizeof(si))
        return 0;
    switch (si.ssi_signo) {
    case SIGHUP:
        gh_info("daemon", "msg=\"SIGHUP: reloading configuration\"");
        gh_notify("RELOADING=1");
        gh_gateway_reload(gw);
        gh_notify("READY=1");
        break;
    case SIGTERM:
    case SIGINT:
        gh_info("daemon", "msg=\"stopping\" signal=%s",
                si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        gh_notify("STOPPING=1");
        gw->stopping = true;
        lws_cancel_service(lws_get_context(wsi));
        break;
    case SIGCHLD:
        gh_broker_reap(gw->broker);
        break;
    default:
        break;
    }
    return 0;
}

/* Filled at start: lws wants one array, and two entries come from the
 * broker's files. */
static struct lws_protocols gh_protocols[] = {
    {"http", gh_http_callback, sizeof(struct gh_http_pss), 0, 0, NULL, 0},
    {"gh-signal", gh_server_signal_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* gh_broker_ws_protocol */
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* gh_broker_link_protocol */
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* gh_broker_tunnel_protocol */
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* gh_broker_tunnel_tcp_protocol */
    {NULL, NULL, 0, 0, 0, NULL, 0}};

int
gh_server_block_signals(void)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return GH_E_INTERNAL;
    return 0;
}

/* Raise RLIMIT_NOFILE so max_connections fit; returns the fd budget. */
static unsigned
gh_server_fd_budget(long max_connections)
{
    rlim_t want = (rlim_t)max_connections + GH_SERVER_FD_RESERVE;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want <= rl.rlim_max ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want)
        gh_warn("daemon",
                "msg=\"file-descriptor limit below max_connections\" "
                "limit=%llu wanted=%llu",
                (unsigned long long)rl.rlim_cur, (unsigned long long)want);
    return (unsigned)(rl.rlim_cur < want ? rl.rlim_cur : want);
}

static int
gh_server_adopt_signals(struct gh_gateway *gw)
{
    lws_sock_file_fd_type fd;
    sigset_t set;
    int sfd;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD); /* workers ending */
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        gh_error("daemon", "msg=\"signalfd failed\" err=%s",
                 gh_q(strerror(errno)));
        return GH_E_INTERNAL;
    }
    fd.filefd = sfd;
    /* lws owns sfd from here and closes it with the context. */
    if (lws_adopt_descriptor_vhost(gw->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                   "gh-signal", NULL) == NULL) {
        close(sfd);
        gh_error("daemon", "msg=\"cannot adopt signal fd\"");
        return GH_E_INTERNAL;
    }
    return 0;
}

int
gh_server_start(struct gh_gateway *gw)
{
    struct lws_context_creation_info info;
    const struct gh_config *cfg = gw->cfg;

    lws_set_log_level(LLL_ERR | LLL_WARN, gh_server_lws_log);
    gh_protocols[2] = gh_broker_ws_protocol;
    gh_protocols[3] = gh_broker_link_protocol;
    gh_protocols[4] = gh_broker_tunnel_protocol;
    gh_protocols[5] = gh_broker_tunnel_tcp_protocol;

    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.user = gw;
    info.fd_limit_per_thread = gh_server_fd_budget(cfg->max_connections);
    info.count_threads = 1;
    /* Room for a 16 KiB bearer token (GH_JWT_MAX) plus other headers. */
    info.max_http_header_data = 24 * 1024;
    /* lws reads sockets (and TLS records) into this per-thread buffer:
     * its 4 KiB default cut tunnels into 4 KiB messages and cost ~10x
     * the syscalls (tests/bench/tunnel.mjs); 64 KiB is a TLS record's
     * worth of slack and costs 60 KiB once. */
    info.pt_serv_buf_size = GH_SERVER_IO_BUF;
    gw->lws = lws_create_context(&info);
    if (gw->lws == NULL) {
        gh_error("daemon", "msg=\"cannot create event loop context\"");
        return GH_E_INTERNAL;
    }

    memset(&info, 0, sizeof(info));
    info.vhost_name = "gatehouse";
    info.iface = cfg->listen_address;
    info.port = (int)cfg->port;
    info.protocols = gh_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    if (strchr(cfg->listen_address, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.ssl_cert_filepath = gw->cert_file;
    info.ssl_private_key_filepath = gw->key_file;
    info.ssl_cipher_list = gh_http_tls12_ciphers;
    info.ssl_options_set =
        (long)(SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
    info.headers = gh_http_security_headers(gw);
    /* HTTP/1.1 only: lws 4.1.6 advertises WebSockets over HTTP/2 (RFC
     * 8441, with no API to withhold it), and Chromium's session
     * WebSockets over it stall for about a minute before the first frame
     * (docs/ARCHITECTURE.md, "Departures"). Over HTTP/1.1 they work. */
    info.alpn = "http/1.1";
    info.server_string = "Gatehouse";
    info.keepalive_timeout = 60;
    info.timeout_secs = 20;
    info.user = gw;
    gw->vhost = lws_create_vhost(gw->lws, &info);
    if (gw->vhost == NULL) {
        gh_error("daemon",
                 "msg=\"cannot listen (address in use, or bad TLS files?)\" "
                 "address=%s port=%ld",
                 gh_q(cfg->listen_address), cfg->port);
        return GH_E_IO;
    }
    if (gh_server_adopt_signals(gw) != 0)
        return GH_E_INTERNAL;
    gh_server_tick_gw = gw;
    lws_sul_schedule(gw->lws, 0, &gh_server_tick_sul, gh_server_tick, 1);
    return 0;
}

int
gh_server_run(struct gh_gateway *gw)
{
    while (!gw->stopping)
        if (lws_service(gw->lws, 0) < 0)
            break;
    return 0;
}

void
gh_server_stop(struct gh_gateway *gw)
{
    if (gw->lws == NULL)
        return;
    /* Closes every connection and the listener at once; nothing in this
     * release has work in flight that a short wait would save. */
    lws_context_destroy(gw->lws);
    gw->lws = NULL;
    gw->vhost = NULL;
}
