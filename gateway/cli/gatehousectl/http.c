/* http.c - bounded libcurl requests to the gateway's JSON API. */
#include "http.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* Where the write callback collects the answer. */
struct gh_ctl_sink {
    char *buf;
    size_t len, cap;
    int too_big;
};

/* True for a host that never leaves this machine. */
static int
gh_ctl_host_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    char *h;
    size_t n;
    int ok = 0;

    if (strcasecmp(host, "localhost") == 0)
        return 1;
    /* curl gives IPv6 hosts in brackets. */
    n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']')
        h = gh_strndup(host + 1, n - 2);
    else
        h = gh_strdup(host);
    if (inet_pton(AF_INET, h, &a4) == 1)
        ok = (ntohl(a4.s_addr) >> 24) == 127;
    else if (inet_pton(AF_INET6, h, &a6) == 1)
        ok = IN6_IS_ADDR_LOOPBACK(&a6);
    free(h);
    return ok;
}

int
gh_ctl_url_check(const char *url, const char **why)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int r = GH_E_INVAL;

    *why = "not a valid URL";
    if (u == NULL)
        return GH_E_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (strcasecmp(scheme, "https") == 0) {
        r = 0;
    } else if (strcasecmp(scheme, "http") == 0) {
        if (gh_ctl_host_loopback(host))
            r = 0;
        else
            *why = "refusing to send a token over plain http to a host "
                   "that is not loopback; use https://";
    } else {
        *why = "the server URL must start with https://";
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return r;
}

int
gh_ctl_http_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0
                                                             : GH_E_INTERNAL;
}

void
gh_ctl_http_done(void)
{
    curl_global_cleanup();
}

static size_t
gh_ctl_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct gh_ctl_sink *s = ctx;
    size_t n = size * nmemb;

    if (n > GH_CTL_BODY_MAX - s->len) {
        s->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (s->len + n + 1 > s->cap) {
        s->cap = s->len + n + 1 > 2 * s->cap ? s->len + n + 1 : 2 * s->cap;
        s->buf = gh_realloc(s->buf, s->cap, 1);
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

void
gh_ctl_url_add_query(char **url, const char *key, const char *value)
{
    char *esc, *n;

    if (value == NULL)
        return;
    esc = curl_easy_escape(NULL, value, 0);
    if (esc == NULL)
        abort(); /* only on out of memory */
    n = gh_asprintf("%s%c%s=%s", *url, strchr(*url, '?') ? '&' : '?', key, esc);
    curl_free(esc);
    free(*url);
    *url = n;
}

/* Wipe then free a header list: one entry carries the token. */
static void
gh_ctl_slist_free(struct curl_slist *l)
{
    struct curl_slist *p;

    for (p = l; p != NULL; p = p->next)
        gh_wipe(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

int
gh_ctl_http_call(const struct gh_ctl_conn *c, const char *method,
                 const char *path, json_t *body, struct gh_ctl_resp *out)
{
    struct gh_ctl_sink sink = {0};
    struct curl_slist *hdrs = NULL, *h;
    char *url = NULL, *auth = NULL, *payload = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *e = NULL;
    CURLcode cc;
    int r = GH_E_IO;

    memset(out, 0, sizeof(*out));
    e = curl_easy_init();
    if (e == NULL) {
        snprintf(out->err, sizeof(out->err), "cannot start libcurl");
        r = GH_E_INTERNAL;
        goto out;
    }
    url = gh_asprintf("%s%s", c->server, path);
    auth = gh_asprintf("Authorization: Bearer %s", c->token);
    h = curl_slist_append(hdrs, auth);
    gh_freezero(auth, strlen(auth));
    auth = NULL;
    if (h == NULL)
        abort();
    hdrs = h;
    if ((h = curl_slist_append(hdrs, "Accept: application/json")) == NULL)
        abort();
    hdrs = h;
    if (body != NULL) {
        payload = json_dumps(body, JSON_COMPACT);
        if (payload == NULL)
            abort();
        if ((h = curl_slist_append(hdrs, "Content-Type: application/json")) ==
            NULL)
            abort();
        hdrs = h;
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload);
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "gatehousectl");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, GH_CTL_CONNECT_S);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, GH_CTL_TOTAL_S);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)GH_CTL_BODY_MAX);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, gh_ctl_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    if (c->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->pin != NULL) {
        /* The pin replaces CA and name checks: the key itself is known. */
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, c->pin);
    } else if (c->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    cc = curl_easy_perform(e);
    if (sink.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(out->err, sizeof(out->err),
                 "the server's answer is larger than %u bytes",
                 GH_CTL_BODY_MAX);
        r = GH_E_TOOBIG;
        goto out;
    }
    if (cc != CURLE_OK) {
        /* Precisions keep the text inside err whatever the server URL is. */
        snprintf(out->err, sizeof(out->err), "%.200s: %.255s", c->server,
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = sink.buf ? sink.buf : gh_strdup("");
    out->len = sink.len;
    sink.buf = NULL;
    out->json = json_loadb(out->body, out->len, JSON_REJECT_DUPLICATES, NULL);
    r = 0;
out:
    free(sink.buf);
    free(payload);
    free(url);
    gh_ctl_slist_free(hdrs);
    if (e != NULL)
        curl_easy_cleanup(e);
    return r;
}

void
gh_ctl_resp_cleanup(struct gh_ctl_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

void
gh_ctl_conn_cleanup(struct gh_ctl_conn *c)
{
    if (c->token != NULL)
        gh_freezero(c->token, strlen(c->token));
    c->token = NULL;
    gh_free(c->server);
    gh_free(c->pin);
}
