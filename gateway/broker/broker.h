/*
 * broker.h - live remote sessions: the browser's WebSocket on one side, a
 * sandboxed worker process on the other, the recorder in between, and the
 * enforcement that ends a session when its grant does.
 *
 *   browser --WSS "gatehouse.v1"--> ws.c --+-- session.c --+-- link.c
 *                                          |  (one object  |   socketpair
 *                                          |   per session)|   to the worker
 *                                          +-- record.c ---+
 *
 * Every session is bound to the grant the decision function chose. Once a
 * second the broker re-reads each live session's grant: revoked or
 * expired ends the session (so does an admin kill, an idle timeout, the
 * target leaving the configuration, or the gateway stopping). The browser
 * is told why with a CLOSE frame and a WebSocket close code
 * (docs/PROTOCOL.md).
 *
 * Event loop thread only.
 */
#ifndef GATEHOUSE_BROKER_H
#define GATEHOUSE_BROKER_H

#include <libwebsockets.h>

#include <stdbool.h>
#include <stdint.h>

struct gh_gateway;
struct gh_broker;

/* Bytes queued toward one side of one session before the other side is
 * no longer read (backpressure): a slow browser or VM costs at most this
 * much memory per direction. */
#define GH_BROKER_QUEUE_CAP (1024 * 1024)
/* A worker told to stop that is still alive after this is killed. */
#define GH_BROKER_KILL_GRACE_MS 2000
/* A browser that does not take its close frame within this is cut off. */
#define GH_BROKER_CLOSE_TIMEOUT_S 3
/* The protocol's per-connection receive buffer: one whole frame. */
#define GH_BROKER_RX_BUFFER (64 * 1024 + 16)

struct gh_broker *gh_broker_new(struct gh_gateway *gw);

/* At start: sessions and recordings a crashed gateway left "live" are
 * ended (gateway_restart) and their files measured (truncated). */
void gh_broker_recover(struct gh_broker *b);

/* Once a second: grants, idle timeouts, recording flushes, workers that
 * overstay their stop. */
void gh_broker_tick(struct gh_broker *b);

/* Answers from the resolver thread (target DNS names) are ready: go on
 * with their sessions. Loop thread, on its wake-up; NULL is fine. */
void gh_broker_dispatch(struct gh_broker *b);

/* SIGCHLD arrived: reap the broker's workers. */
void gh_broker_reap(struct gh_broker *b);

/* The configuration was reloaded: end sessions whose target is gone. */
void gh_broker_reloaded(struct gh_broker *b);

/* Grant id was revoked through this node: end its sessions now. */
void gh_broker_grant_revoked(struct gh_broker *b, int64_t grant_id);

/* An admin ends session id (reason code admin_kill). GH_E_NOTFOUND when
 * it is not live here. */
int gh_broker_kill(struct gh_broker *b, int64_t id, const char *by,
                   const char *why);

/* Where recordings are written. */
const char *gh_broker_recordings_dir(const struct gh_broker *b);

/* Live sessions on this node. */
unsigned gh_broker_live(const struct gh_broker *b);

/* The gateway is stopping: end every session (server_shutdown), stop the
 * workers and wait for them. Call before the lws context is destroyed. */
void gh_broker_shutdown(struct gh_broker *b);

/* Free what is left; after the lws context is gone. */
void gh_broker_free(struct gh_broker *b);

/* The lws protocols the broker serves (browser sessions, worker links). */
extern const struct lws_protocols gh_broker_ws_protocol;
extern const struct lws_protocols gh_broker_link_protocol;
/* Tunnels for native clients: the WebSocket and the TCP side. */
extern const struct lws_protocols gh_broker_tunnel_protocol;
extern const struct lws_protocols gh_broker_tunnel_tcp_protocol;

#endif
