/* http.c - bounded libcurl requests to the gateway's JSON API. */
#include "http.h"
#include "cli-http.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

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

int
gh_ctl_url_check(const char *url, const char **why)
{
    return gh_cli_url_check(url, why);
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
    struct gh_cli_tls tls;
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
    /* No token: an unauthenticated call (GET /api/v1/auth/cli). */
    if (c->token != NULL) {
        auth = gh_asprintf("Authorization: Bearer %s", c->token);
        h = curl_slist_append(hdrs, auth);
        gh_freezero(auth, strlen(auth));
        auth = NULL;
        if (h == NULL)
            abort();
        hdrs = h;
    }
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
    tls.ca_file = c->ca_file;
    tls.pin = c->pin;
    tls.insecure = c->insecure;
    gh_cli_curl_setup(e, &tls);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, GH_CTL_TOTAL_S);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)GH_CTL_BODY_MAX);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, gh_ctl_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);

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
    gh_free(c->ca_file_buf);
}
