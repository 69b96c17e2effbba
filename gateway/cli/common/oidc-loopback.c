/* oidc-loopback.c - the loopback redirect of a browser sign-in (see
 * oidc-loopback.h). */
#include "oidc-loopback.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The parameters of a redirect that matter, each at most this long (a
 * code or state is well under 1 KiB; error_description is cut). */
#define GH_CLI_LOOPBACK_PARAM_MAX 2048

int
gh_cli_loopback_listen(int *fd, char **redirect_uri)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    *fd = -1;
    *redirect_uri = NULL;
    if (s < 0)
        return GH_E_IO;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s, 8) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &al) != 0) {
        close(s);
        return GH_E_IO;
    }
    *fd = s;
    *redirect_uri = gh_asprintf("http://127.0.0.1:%u/callback",
                                (unsigned)ntohs(a.sin_port));
    return 0;
}

static int
gh_cli_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) ('+' is a space) into a new string; NULL when
 * malformed, too long, or holding a control byte. */
static char *
gh_cli_unescape(const char *s, size_t n)
{
    char *out, *o;
    size_t i;

    if (n > GH_CLI_LOOPBACK_PARAM_MAX)
        return NULL;
    o = out = gh_alloc(1, n + 1);
    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int h, l;

            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            h = gh_cli_hex((unsigned char)s[i + 1]);
            l = gh_cli_hex((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) {
                free(out);
                return NULL;
            }
            c = h * 16 + l;
            i += 2;
        } else if (c == '+')
            c = ' ';
        if (c < 0x20 || c == 0x7f) {
            free(out);
            return NULL;
        }
        *o++ = (char)c;
    }
    *o = '\0';
    return out;
}

/* The redirect's parameters. */
struct gh_cli_redirect {
    char *code, *state, *error, *error_description, *iss;
};

static void
gh_cli_redirect_cleanup(struct gh_cli_redirect *r)
{
    gh_cli_strfree(r->code);
    free(r->state);
    free(r->error);
    free(r->error_description);
    free(r->iss);
    memset(r, 0, sizeof(*r));
}

/* Parse the query of "GET /callback?QUERY HTTP/1.1". 0, or -1 when it
 * is malformed or names a parameter twice. Unknown parameters are
 * ignored. */
static int
gh_cli_redirect_parse(const char *q, size_t qlen, struct gh_cli_redirect *r)
{
    static const char *const names[] = {"code", "state", "error",
                                        "error_description", "iss"};
    char **slots[] = {&r->code, &r->state, &r->error, &r->error_description,
                      &r->iss};
    const char *p = q, *end = q + qlen, *amp, *eq;
    size_t k;

    while (p < end) {
        amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        eq = memchr(p, '=', (size_t)(amp - p));
        for (k = 0; eq != NULL && k < sizeof(names) / sizeof(names[0]); k++) {
            if ((size_t)(eq - p) != strlen(names[k]) ||
                memcmp(p, names[k], (size_t)(eq - p)) != 0)
                continue;
            if (*slots[k] != NULL)
                return -1; /* twice: which one would the IdP have meant? */
            *slots[k] = gh_cli_unescape(eq + 1, (size_t)(amp - eq - 1));
            if (*slots[k] == NULL)
                return -1;
        }
        p = amp + 1;
    }
    return 0;
}

/* Answer the browser and close the connection. */
static void
gh_cli_loopback_answer(int c, int status, const char *title, const char *text)
{
    char page[1024], head[512];
    int n = snprintf(page, sizeof(page),
                     "<!doctype html><meta charset=utf-8><title>%s</title>"
                     "<h1>%s</h1><p>%s</p>\n",
                     title, title, text);
    int h;

    if (n < 0 || (size_t)n >= sizeof(page))
        n = 0;
    /* The page holds nothing from the request; it must not be cached nor
     * leak this URL (it held the code) to anything it links. */
    h = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: text/html; charset=utf-8\r\n"
                 "Content-Length: %d\r\n"
                 "Cache-Control: no-store\r\n"
                 "Referrer-Policy: no-referrer\r\n"
                 "Content-Security-Policy: default-src 'none'\r\n"
                 "Connection: close\r\n\r\n",
                 status,
                 status == 200   ? "OK"
                 : status == 404 ? "Not Found"
                                 : "Bad Request",
                 n);
    if (h > 0 && (size_t)h < sizeof(head))
        (void)!send(c, head, (size_t)h, MSG_NOSIGNAL);
    (void)!send(c, page, (size_t)n, MSG_NOSIGNAL);
    close(c);
}

/* Read one request's head from c, all of it within
 * GH_CLI_LOOPBACK_READ_S (a client trickling a byte at a time does not
 * hold the listener longer). The target of a GET into *target and *tlen
 * (inside buf); -1 if none. */
static int
gh_cli_loopback_read(int c, char *buf, size_t cap, const char **target,
                     size_t *tlen)
{
    time_t end = time(NULL) + GH_CLI_LOOPBACK_READ_S;
    struct pollfd p = {c, POLLIN, 0};
    size_t n = 0;
    ssize_t r;
    const char *sp;

    while (n < cap - 1) {
        time_t left = end - time(NULL);

        if (left <= 0 || poll(&p, 1, (int)left * 1000) <= 0)
            return -1;
        r = recv(c, buf + n, cap - 1 - n, MSG_DONTWAIT);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            break;
    }
    if (strncmp(buf, "GET ", 4) != 0 || (sp = strchr(buf + 4, ' ')) == NULL ||
        strncmp(sp, " HTTP/1.", 8) != 0)
        return -1;
    *target = buf + 4;
    *tlen = (size_t)(sp - (buf + 4));
    return 0;
}

int
gh_cli_loopback_wait(int fd, const char *state, const char *issuer, int wait_s,
                     char **code, struct gh_cli_oauth_err *err)
{
    time_t end = time(NULL) + wait_s;
    struct gh_cli_redirect rd;
    struct pollfd p = {fd, POLLIN, 0};
    char *buf = gh_alloc(1, GH_CLI_LOOPBACK_REQ_MAX);
    const char *target, *q;
    size_t tlen, plen;
    int c, r = GH_E_IO;

    *code = NULL;
    err->error[0] = '\0';
    memset(&rd, 0, sizeof(rd));
    for (;;) {
        time_t now = time(NULL);

        if (now >= end) {
            gh_cli_oerr(err,
                        "no answer from the browser within %d s: run login "
                        "again",
                        wait_s);
            break;
        }
        if (poll(&p, 1, (int)(end - now) * 1000) <= 0)
            continue;
        c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        if (gh_cli_loopback_read(c, buf, GH_CLI_LOOPBACK_REQ_MAX, &target,
                                 &tlen) != 0) {
            gh_cli_loopback_answer(c, 400, "Bad request", "Not a sign-in.");
            continue;
        }
        q = memchr(target, '?', tlen);
        plen = q ? (size_t)(q - target) : tlen;
        if (plen != strlen("/callback") ||
            memcmp(target, "/callback", plen) != 0) {
            gh_cli_loopback_answer(c, 404, "Not found", "Nothing here.");
            continue;
        }
        gh_cli_redirect_cleanup(&rd);
        if (q == NULL ||
            gh_cli_redirect_parse(q + 1, tlen - plen - 1, &rd) != 0 ||
            rd.state == NULL || strlen(rd.state) != strlen(state) ||
            gh_ct_memcmp(rd.state, state, strlen(state)) != 0) {
            /* Not the answer to our request (stale, forged or mangled):
             * the real one may still come. */
            gh_cli_loopback_answer(c, 400, "Not this sign-in",
                                   "This page does not answer the sign-in "
                                   "the command line is waiting for.");
            continue;
        }
        if (rd.iss != NULL && strcmp(rd.iss, issuer) != 0) {
            gh_cli_loopback_answer(c, 400, "Sign-in failed",
                                   "The answer came from another identity "
                                   "provider.");
            gh_cli_oerr(err,
                        "the sign-in answer names issuer %.200s, not %.200s "
                        "(mix-up?)",
                        rd.iss, issuer);
            r = GH_E_INVAL;
            break;
        }
        if (rd.error != NULL) {
            gh_cli_loopback_answer(c, 200, "Sign-in failed",
                                   "The identity provider said no. See the "
                                   "command line for why.");
            snprintf(err->error, sizeof(err->error), "%s", rd.error);
            gh_cli_oerr(err, "sign-in failed: %.64s%s%.200s%s", rd.error,
                        rd.error_description ? " (" : "",
                        rd.error_description ? rd.error_description : "",
                        rd.error_description ? ")" : "");
            r = GH_E_PERM;
            break;
        }
        if (rd.code == NULL || rd.code[0] == '\0') {
            gh_cli_loopback_answer(c, 400, "Sign-in failed", "No code came.");
            gh_cli_oerr(err, "the identity provider sent no code");
            r = GH_E_INVAL;
            break;
        }
        gh_cli_loopback_answer(c, 200, "Signed in",
                               "You can close this tab and return to the "
                               "command line.");
        *code = rd.code;
        rd.code = NULL;
        r = 0;
        break;
    }
    gh_cli_redirect_cleanup(&rd);
    gh_freezero(buf, GH_CLI_LOOPBACK_REQ_MAX);
    return r;
}
