/* wsupgrade.c - the WebSocket upgrade request and answer (see
 * wsupgrade.h). */
#include "wsupgrade.h"

#include "gatehouse/mem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

/* RFC 6455 1.3: the key's GUID. */
#define GH_WSU_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* Longest header value looked at; the ones checked are short. */
#define GH_WSU_VALUE_MAX 256

bool
gh_wsu_fields_ok(const char *host, const char *token, const char **why)
{
    const char *t;

    for (t = token; *t != '\0'; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
            *why = "the cached token is malformed: log in again";
            return false;
        }
    for (t = host; *t != '\0'; t++)
        if (strchr("0123456789abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:%_",
                   *t) == NULL) {
            *why = "the server's host name is malformed";
            return false;
        }
    return true;
}

char *
gh_wsu_request(const struct gh_wsu_req *r, size_t *cap,
               char accept[GH_WSU_ACCEPT_LEN])
{
    unsigned char raw[16], md[20], ip[16];
    char key[32], cat[80], *req;
    unsigned int mdlen = 0;
    bool v6 = inet_pton(AF_INET6, r->host, ip) == 1;
    int n;

    /* A fresh key and the answer it calls for (RFC 6455 4.1, 4.2.2). */
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
    snprintf(cat, sizeof(cat), "%s%s", key, GH_WSU_GUID);
    if (EVP_Digest(cat, strlen(cat), md, &mdlen, EVP_sha1(), NULL) != 1 ||
        mdlen != sizeof(md))
        return NULL;
    EVP_EncodeBlock((unsigned char *)accept, md, sizeof(md));
    *cap = strlen(r->path) + strlen(r->host) + strlen(r->protocol) +
           strlen(r->token) + 512;
    req = gh_alloc(1, *cap);
    n = snprintf(req, *cap,
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s%s%s:%d\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Protocol: %s\r\n"
                 "Authorization: Bearer %s\r\n"
                 "User-Agent: gatehouse\r\n"
                 "\r\n",
                 r->path, v6 ? "[" : "", r->host, v6 ? "]" : "", r->port, key,
                 r->protocol, r->token);
    /* 512 bytes cover every fixed part: it always fits. */
    if (n < 0 || (size_t)n >= *cap)
        req[0] = '\0';
    return req;
}

/* The value of header name among the header lines at hdr, copied to out;
 * false when absent or longer than cap. */
static bool
gh_wsu_header(const char *hdr, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name), vl;
    const char *p, *v, *e;

    for (p = hdr; (e = strstr(p, "\r\n")) != NULL && e != p; p = e + 2) {
        if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
            continue;
        for (v = p + nl + 1; *v == ' ' || *v == '\t'; v++)
            ;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        vl = (size_t)(e - v);
        if (vl >= cap)
            return false;
        memcpy(out, v, vl);
        out[vl] = '\0';
        return true;
    }
    return false;
}

int
gh_wsu_response(const char *resp, const char *accept, const char *protocol,
                unsigned *status, const char **why)
{
    char val[GH_WSU_VALUE_MAX], *tok, *save;
    const char *hdr;
    bool upgrade = false;
    unsigned st;

    *status = 0;
    /* "HTTP/1.1 " and three digits, then a space or the line's end. */
    if (strncmp(resp, "HTTP/1.1 ", 9) != 0 ||
        !isdigit((unsigned char)resp[9]) || !isdigit((unsigned char)resp[10]) ||
        !isdigit((unsigned char)resp[11]) ||
        (resp[12] != ' ' && resp[12] != '\r') ||
        (hdr = strstr(resp, "\r\n")) == NULL) {
        *why = "the gateway's answer is not HTTP/1.1";
        return -1;
    }
    st = (unsigned)(resp[9] - '0') * 100 + (unsigned)(resp[10] - '0') * 10 +
         (unsigned)(resp[11] - '0');
    hdr += 2;
    if (st != 101) {
        *status = st;
        *why = "the gateway refused the upgrade";
        return -1;
    }
    if (!gh_wsu_header(hdr, "Upgrade", val, sizeof(val)) ||
        strcasecmp(val, "websocket") != 0) {
        *why = "the gateway did not upgrade to WebSocket";
        return -1;
    }
    if (gh_wsu_header(hdr, "Connection", val, sizeof(val)))
        for (tok = strtok_r(val, ", ", &save); tok != NULL;
             tok = strtok_r(NULL, ", ", &save))
            upgrade = upgrade || strcasecmp(tok, "upgrade") == 0;
    if (!upgrade) {
        *why = "the gateway did not upgrade the connection";
        return -1;
    }
    if (!gh_wsu_header(hdr, "Sec-WebSocket-Accept", val, sizeof(val)) ||
        strcmp(val, accept) != 0) {
        *why = "the gateway's Sec-WebSocket-Accept is wrong";
        return -1;
    }
    if (!gh_wsu_header(hdr, "Sec-WebSocket-Protocol", val, sizeof(val)) ||
        strcmp(val, protocol) != 0) {
        *why = "the gateway does not speak the tunnel's subprotocol";
        return -1;
    }
    if (gh_wsu_header(hdr, "Sec-WebSocket-Extensions", val, sizeof(val))) {
        *why = "the gateway chose an extension not asked for";
        return -1;
    }
    return 0;
}
