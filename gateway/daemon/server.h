/*
 * server.h - the libwebsockets context of gatehoused: one thread, one
 * loop. Signals arrive through a signalfd adopted into the loop, so
 * SIGTERM, SIGINT and SIGHUP are handled as ordinary events.
 */
#ifndef GATEHOUSE_DAEMON_SERVER_H
#define GATEHOUSE_DAEMON_SERVER_H

#include "gateway.h"

/* Slack above max_connections for the listener, store, log, signalfd and
 * the descriptors later features open (workers, target sockets). */
#define GH_SERVER_FD_RESERVE 64
/* A graceful stop must finish within this; the unit file's TimeoutStopSec
 * and the tests rely on it. */
#define GH_SERVER_STOP_BUDGET_MS 2000

/*
 * Create the context and the TLS vhost listening on the configured
 * address, with the signal fd adopted. Signals must already be blocked
 * (gh_server_block_signals). Returns 0 or a GH_E_* (and logs why).
 */
int gh_server_start(struct gh_gateway *gw);

/* Run the loop until SIGTERM/SIGINT. Returns 0. */
int gh_server_run(struct gh_gateway *gw);

/* Destroy the context (closes every connection). NULL context is fine. */
void gh_server_stop(struct gh_gateway *gw);

/* Wake the loop from another thread (ctx: the lws_context). */
void gh_server_wake(void *ctx);

/* Block SIGTERM, SIGINT, SIGHUP (delivered via signalfd) and ignore
 * SIGPIPE. Call before any thread exists. */
int gh_server_block_signals(void);

#endif
