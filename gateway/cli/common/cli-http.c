/* cli-http.c - URL rules, libcurl options and bounded IdP requests. */
#include "cli-http.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *gh_cli_agent_name = "gatehouse";

/* jansson's allocator: wipe each block before it goes back to malloc, so
 * tokens held in parsed JSON do not linger in freed memory. */
static void
gh_cli_json_free(void *p)
{
    if (p == NULL)
        return;
    gh_wipe(p, malloc_usable_size(p));
    free(p);
}

void
gh_cli_init(const char *agent)
{
    gh_cli_agent_name = agent;
    json_set_alloc_funcs(malloc, gh_cli_json_free);
}

const char *
gh_cli_agent(void)
{
    return gh_cli_agent_name;
}

/* True for a host that never leaves this machine. */
static int
gh_cli_host_loopback(const char *host)
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
gh_cli_url_check(const char *url, const char **why)
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
        if (gh_cli_host_loopback(host))
            r = 0;
        else
            *why = "refusing to send a token over plain http to a host "
                   "that is not loopback; use https://";
    } else {
        *why = "the URL must start with https://";
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return r;
}

void
gh_cli_curl_setup(CURL *e, const struct gh_cli_tls *tls)
{
    curl_easy_setopt(e, CURLOPT_USERAGENT, gh_cli_agent_name);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, GH_CLI_CONNECT_S);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (tls == NULL)
        return;
    if (tls->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, tls->ca_file);
    if (tls->pin != NULL) {
        /* The pin replaces CA and name checks: the key itself is known. */
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, tls->pin);
    } else if (tls->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* Where the write callback collects the answer. */
struct gh_cli_sink {
    char *buf;
    size_t len, cap;
    int too_big;
};

static size_t
gh_cli_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct gh_cli_sink *s = ctx;
    size_t n = size * nmemb;
    char *nb;

    if (n > GH_CLI_BODY_MAX - s->len) {
        s->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (s->len + n + 1 > s->cap) {
        /* Grow by copying, never realloc: the old block is wiped. */
        size_t cap = s->len + n + 1 > 2 * s->cap ? s->len + n + 1 : 2 * s->cap;

        nb = gh_alloc(cap, 1);
        if (s->buf != NULL)
            memcpy(nb, s->buf, s->len);
        if (s->buf != NULL)
            gh_freezero(s->buf, s->cap);
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

int
gh_cli_fetch(const char *url, const struct gh_cli_tls *tls, const char *form,
             struct gh_cli_resp *out)
{
    struct gh_cli_sink sink = {0};
    struct curl_slist *hdrs = NULL, *h;
    char errbuf[CURL_ERROR_SIZE] = "";
    const char *why;
    CURL *e = NULL;
    CURLcode cc;
    int r = GH_E_IO;

    memset(out, 0, sizeof(*out));
    if (gh_cli_url_check(url, &why) != 0) {
        snprintf(out->err, sizeof(out->err), "%.200s: %s", url, why);
        return GH_E_INVAL;
    }
    e = curl_easy_init();
    if (e == NULL) {
        snprintf(out->err, sizeof(out->err), "cannot start libcurl");
        return GH_E_INTERNAL;
    }
    if ((h = curl_slist_append(hdrs, "Accept: application/json")) == NULL)
        abort();
    hdrs = h;
    gh_cli_curl_setup(e, tls);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, GH_CLI_TOTAL_S);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)GH_CLI_BODY_MAX);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, gh_cli_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    /* POSTFIELDS is not copied by libcurl: the caller's form (which it
     * wipes) is the only copy of the secrets it holds. */
    if (form != NULL)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);

    cc = curl_easy_perform(e);
    if (sink.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(out->err, sizeof(out->err),
                 "%.200s: the answer is larger than %u bytes", url,
                 GH_CLI_BODY_MAX);
        r = GH_E_TOOBIG;
        goto out;
    }
    if (cc != CURLE_OK) {
        /* Precisions keep the text inside err whatever the URL is. */
        snprintf(out->err, sizeof(out->err), "%.200s: %.255s", url,
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
    if (sink.buf != NULL)
        gh_freezero(sink.buf, sink.cap);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(e);
    return r;
}

void
gh_cli_resp_cleanup(struct gh_cli_resp *r)
{
    if (r->body != NULL)
        gh_freezero(r->body, r->len);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

void
gh_cli_strfree(char *s)
{
    if (s != NULL)
        gh_freezero(s, strlen(s));
}

void
gh_cli_form_add(char **form, const char *key, const char *value)
{
    char *esc, *n;

    esc = curl_easy_escape(NULL, value, 0);
    if (esc == NULL)
        abort(); /* only on out of memory */
    if (*form == NULL)
        n = gh_asprintf("%s=%s", key, esc);
    else
        n = gh_asprintf("%s&%s=%s", *form, key, esc);
    gh_wipe(esc, strlen(esc));
    curl_free(esc);
    gh_cli_strfree(*form);
    *form = n;
}

int
gh_cli_printable(const char *s, size_t max)
{
    size_t i;

    if (s == NULL || *s == '\0')
        return 0;
    for (i = 0; s[i] != '\0'; i++)
        if (i >= max || (unsigned char)s[i] <= 0x20 ||
            (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

int
gh_cli_token_ok(const char *t)
{
    return gh_cli_printable(t, GH_CLI_TOKEN_MAX);
}

const char *
gh_cli_json_str(json_t *o, const char *key, size_t max)
{
    const char *s = json_string_value(json_object_get(o, key));

    return gh_cli_printable(s, max) ? s : NULL;
}
