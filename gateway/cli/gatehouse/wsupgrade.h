/*
 * wsupgrade.h - the HTTP/1.1 upgrade of the CLI's WebSocket client
 * (RFC 6455 section 4), with no I/O: the request it sends (with the
 * bearer token) and the check of the gateway's answer.
 *
 * The answer is hostile input: the status line must be HTTP/1.1, a 101
 * must carry Upgrade: websocket, Connection: upgrade, the
 * Sec-WebSocket-Accept the key calls for and the subprotocol asked for,
 * and no extension (none was offered).
 */
#ifndef GATEHOUSE_CLI_WSUPGRADE_H
#define GATEHOUSE_CLI_WSUPGRADE_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a Sec-WebSocket-Accept value (base64 of 20 bytes, 28). */
#define GH_WSU_ACCEPT_LEN 32

struct gh_wsu_req {
    const char *host; /* a DNS name or IP literal (v6 without brackets) */
    int port;
    const char *path;     /* request target, escaped */
    const char *protocol; /* subprotocol */
    const char *token;    /* bearer token */
};

/* Can host and token go into the request? Neither may hold a byte that
 * ends a line or a token early (the token comes from a file: a bad one
 * must not add headers). False with *why. */
bool gh_wsu_fields_ok(const char *host, const char *token, const char **why);

/*
 * The request text with a fresh key, into a new string of *cap bytes
 * (the caller wipes all *cap of them: it holds the token), and the
 * Sec-WebSocket-Accept the answer must carry. NULL when no random bytes
 * could be had.
 */
char *gh_wsu_request(const struct gh_wsu_req *r, size_t *cap,
                     char accept[GH_WSU_ACCEPT_LEN]);

/*
 * Check the answer resp: status line and headers, NUL-terminated right
 * after the last header's CRLF. 0 for a good 101; else -1 with *why (a
 * static text) and *status = the HTTP status of a refusal (0 when the
 * answer is broken rather than a refusal).
 */
int gh_wsu_response(const char *resp, const char *accept, const char *protocol,
                    unsigned *status, const char **why);

#endif
