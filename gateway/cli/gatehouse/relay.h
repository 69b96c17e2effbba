/*
 * relay.h - the gatehouse CLI's data path: local byte streams (stdin and
 * stdout, or TCP connections accepted on a local listener) relayed
 * through the gateway's tunnel WebSocket (docs/PROTOCOL.md "Tunnels"),
 * one WebSocket (wsclient.h) per stream, in one poll() loop.
 *
 * Each direction has a bounded queue (GH_RELAY_QUEUE_CAP): when it is
 * full, reading from the side that fills it stops until it drains, so a
 * slow reader slows the sender instead of growing memory. Half-close is
 * passed on both ways ({"type":"eof"} and shutdown(SHUT_WR)).
 *
 * TLS: the gateway's certificate is checked before the bearer token is
 * sent - against the system store or a CA file (chain and host name or
 * IP), or against a pinned SHA-256 of its public key.
 *
 * Single-threaded; a run blocks until its end (see each function).
 */
#ifndef GATEHOUSE_CLI_RELAY_H
#define GATEHOUSE_CLI_RELAY_H

#include <sys/types.h>

/* Bytes queued one way before reading from the other side pauses: a few
 * TCP windows, enough to keep a gigabit path busy; bounds memory to 2 MiB
 * per stream. */
#define GH_RELAY_QUEUE_CAP (1024u * 1024)
/* One read from a local stream, and so the largest binary message sent;
 * the gateway takes any size up to 64 KiB. */
#define GH_RELAY_CHUNK (64u * 1024)
/* Local connections relayed at once by one tunnel; more are refused with
 * a message (each holds a WebSocket and up to 2 MiB of queues). */
#define GH_RELAY_STREAMS_MAX 64
/* Once the tunnel has ended, the local program has this long to take
 * what the gateway had already sent; then its connection is closed. */
#define GH_RELAY_DRAIN_S 2
/* The gateway must answer the WebSocket handshake within this time. */
#define GH_RELAY_CONNECT_S 10

/* How to reach the tunnel. Strings are borrowed for the run. */
struct gh_relay_conf {
    const char *server;  /* https://host[:port][/prefix], no trailing '/' */
    const char *token;   /* bearer access token */
    const char *ca_file; /* PEM bundle instead of the system store */
    const char *pin;     /* "sha256//BASE64" of the server's public key */
    int insecure;        /* no verification at all */
    const char *target;  /* declared target name */
    unsigned port;       /* declared, granted port */
    int verbose;         /* one line per connection opened and closed */
    /* When set, called before each connection after the first: the
     * access token to use now (refreshed when it is about to expire), or
     * NULL to keep the last one. The relay copies it. */
    const char *(*renew)(void *arg);
    void *renew_arg;
};

/* How a proxy's tunnel was lost when the gateway's reason did not arrive
 * (a connection closed while its last bytes were unread): the session to
 * ask the API about, and what to say if it cannot tell. */
struct gh_relay_lost {
    long long session; /* 0: nothing to ask (the reason was printed) */
    char why[256];
};

/*
 * Relay in (read) and out (write) through one tunnel until it ends.
 * Returns the CLI exit status: 0 when the target closed the connection
 * (a normal end), 1 when the gateway refused or ended it (its reason is
 * printed, or left in *lost), or the network failed.
 */
int gh_relay_proxy(const struct gh_relay_conf *c, int in, int out,
                   struct gh_relay_lost *lost);

/*
 * Accept on the listening socket lfd, one tunnel per connection, until
 * SIGINT or SIGTERM, or until child (when > 0) exits. Returns 0 on a
 * signal; with a child, its exit status (1 when it died of a signal).
 * lfd is closed.
 */
int gh_relay_listen(const struct gh_relay_conf *c, int lfd, pid_t child);

#endif
