/*
 * wsclient.h - one WebSocket client connection to the gateway, for the
 * CLI's data path: a non-blocking TCP connect, TLS (OpenSSL) with the
 * gateway checked before anything is written, the HTTP/1.1 upgrade with
 * the bearer token (wsupgrade.h), then frames (wsframe.h).
 *
 * Why not libwebsockets here: lws 4.1's client masks what it sends one
 * byte at a time and runs its frame state machine once per received
 * byte; measured, that was 65 % of the CLI's CPU on a bulk stream
 * (docs/ARCHITECTURE.md, "The CLI's data path"). This connection hands
 * received payload out in place and masks a word at a time.
 *
 * It is driven by its owner's poll(): gh_wsc_events() says what to wait
 * for, gh_wsc_service() makes what progress it can (never blocking) and
 * calls back for each piece of data. It never frees itself: once its
 * state is GH_WSC_DONE the owner reads why and frees it.
 */
#ifndef GATEHOUSE_CLI_WSCLIENT_H
#define GATEHOUSE_CLI_WSCLIENT_H

#include "wsframe.h"

#include <stdbool.h>
#include <stddef.h>

#include <netdb.h>
#include <openssl/ssl.h>

/* The gateway's answer to the upgrade request, status line and headers:
 * a real one is a few hundred bytes. */
#define GH_WSC_RESPONSE_MAX 8192
/* After our close frame, how long the gateway has to answer with its own
 * before the connection is dropped. */
#define GH_WSC_CLOSE_S 2

enum gh_wsc_state {
    GH_WSC_CONNECTING, /* TCP */
    GH_WSC_TLS,        /* TLS handshake */
    GH_WSC_REQUEST,    /* writing the upgrade request */
    GH_WSC_RESPONSE,   /* reading the answer */
    GH_WSC_OPEN,
    GH_WSC_CLOSING, /* our close frame queued or sent */
    GH_WSC_DONE
};

struct gh_wsc_conf {
    const struct addrinfo *addrs; /* the gateway, tried in order */
    SSL_CTX *ssl;                 /* NULL: plain HTTP (loopback) */
    const char *host;             /* for Host, SNI and the name check */
    int port;
    const char *path;     /* request target, escaped */
    const char *protocol; /* subprotocol asked for and required */
    const char *token;    /* bearer token (copied, wiped when sent) */
    const char *server;   /* the URL, for messages */
    const char *pin;      /* sha256//... of the gateway's key, or NULL */
    bool insecure;        /* no check of the gateway at all */
    int connect_s;        /* TCP + TLS + upgrade within this */
    size_t text_max;      /* longest text message taken */
};

struct gh_wsc_ops {
    /* Binary payload as it arrives (pieces of messages, in order). */
    void (*data)(void *arg, const unsigned char *p, size_t len);
    /* A whole text message (at most text_max bytes). */
    void (*text)(void *arg, const char *p, size_t len);
};

struct gh_wsc;

/* Start connecting. Never NULL; a failure to start shows as DONE. */
struct gh_wsc *gh_wsc_open(const struct gh_wsc_conf *conf,
                           const struct gh_wsc_ops *ops, void *arg);

/* The socket to poll (-1 when none), what to poll it for, and whether
 * gh_wsc_service() has work even without an event (bytes already read
 * and decrypted, waiting while reception was paused). */
int gh_wsc_fd(const struct gh_wsc *w);
short gh_wsc_events(const struct gh_wsc *w);
bool gh_wsc_ready(const struct gh_wsc *w);

/* Milliseconds (CLOCK_MONOTONIC) by which gh_wsc_service() must run
 * again whatever happens, or 0 for no deadline. */
long long gh_wsc_deadline(const struct gh_wsc *w);

/* Make progress: revents from poll (0 is fine). */
void gh_wsc_service(struct gh_wsc *w, short revents);

/* Queue a message (binary or text, at most 64 KiB by the protocol) to be
 * sent once the connection is open. False once closing or done. */
bool gh_wsc_send(struct gh_wsc *w, enum gh_wsf_op op, const void *p,
                 size_t len);

/* Payload bytes queued and not yet handed to the socket. */
size_t gh_wsc_queued(const struct gh_wsc *w);

/* Stop (false) or resume reading from the gateway: backpressure. */
void gh_wsc_rx(struct gh_wsc *w, bool on);

/* Drop what is queued, send a normal close and wait (GH_WSC_CLOSE_S) for
 * the gateway's. */
void gh_wsc_close(struct gh_wsc *w);

enum gh_wsc_state gh_wsc_state(const struct gh_wsc *w);

/* The close code the gateway sent (RFC 6455 7.1.5), or 0 if none. */
unsigned gh_wsc_close_code(const struct gh_wsc *w);

/* The upgrade succeeded (the connection was OPEN at some point, even if
 * it is DONE now). */
bool gh_wsc_upgraded(const struct gh_wsc *w);

/*
 * Once DONE: NULL after a close handshake (either side began it);
 * otherwise what went wrong, in words. *status is the HTTP status of a
 * refused upgrade (0 if none); *said is true when the reason was
 * already printed (the gateway's certificate was refused).
 */
const char *gh_wsc_why(const struct gh_wsc *w, unsigned *status, bool *said);

void gh_wsc_free(struct gh_wsc *w);

/* Now, in milliseconds of CLOCK_MONOTONIC. */
long long gh_wsc_now(void);

#endif
