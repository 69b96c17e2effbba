/*
 * verbs-session.c - gatehousectl's verbs for remote sessions and their
 * recordings: list and kill sessions; list, show, download and play
 * recordings (docs/PROTOCOL.md, "Sessions and recordings").
 *
 * Recordings can be large, so the file is streamed: libcurl hands the
 * body over in pieces, each written to a temporary file and hashed as it
 * arrives; nothing holds more than one piece in memory. A download is
 * only kept (renamed into place, or played) when its size and SHA-256
 * match the gateway's index.
 */
#include "ctl.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"
#include "gatehouse/recording.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

/* A download slower than 1 KiB/s for 30 s has stalled. There is no total
 * timeout: a recording may be large and the link slow. */
#define GH_CTL_CAST_LOW_SPEED 1024L
#define GH_CTL_CAST_LOW_TIME  30L
/* An error answer (not the file) is a small JSON document. */
#define GH_CTL_ERRBODY_MAX (64u * 1024)
/* Speeds people use: a hundredth to a thousand times real time. */
#define GH_CTL_SPEED_MIN 0.01
#define GH_CTL_SPEED_MAX 1000.0
/* The longest pause --idle-cap may leave: a day. */
#define GH_CTL_IDLE_CAP_MAX 86400.0

static const struct gh_ctl_col gh_ctl_session_cols[] = {
    {"ID", "id", GH_CTL_TEXT},
    {"USER", "user", GH_CTL_TEXT},
    {"TARGET", "target", GH_CTL_TEXT},
    {"PORT", "port", GH_CTL_TEXT},
    {"PROTO", "protocol", GH_CTL_TEXT},
    {"KIND", "kind", GH_CTL_TEXT},
    {"STARTED", "started", GH_CTL_TIME_MS},
    {"ENDED", "ended", GH_CTL_TIME_MS},
    {"END_REASON", "end_reason", GH_CTL_TEXT},
    {"BYTES_IN", "bytes_in", GH_CTL_TEXT},
    {"BYTES_OUT", "bytes_out", GH_CTL_TEXT},
    {"RECORDING", "recording_id", GH_CTL_TEXT},
};

static const struct gh_ctl_col gh_ctl_recording_cols[] = {
    {"ID", "id", GH_CTL_TEXT},
    {"SESSION", "session_id", GH_CTL_TEXT},
    {"USER", "user", GH_CTL_TEXT},
    {"TARGET", "target", GH_CTL_TEXT},
    {"STARTED", "started", GH_CTL_TIME_MS},
    {"ENDED", "ended", GH_CTL_TIME_MS},
    {"SIZE", "size", GH_CTL_TEXT},
    {"STATE", "state", GH_CTL_TEXT},
};

static const struct gh_ctl_col gh_ctl_recording_kv[] = {
    {"id:", "id", GH_CTL_TEXT},
    {"session_id:", "session_id", GH_CTL_TEXT},
    {"user:", "user", GH_CTL_TEXT},
    {"target:", "target", GH_CTL_TEXT},
    {"grant_id:", "grant_id", GH_CTL_TEXT},
    {"started:", "started", GH_CTL_TIME_MS},
    {"ended:", "ended", GH_CTL_TIME_MS},
    {"size:", "size", GH_CTL_TEXT},
    {"cols:", "cols", GH_CTL_TEXT},
    {"rows:", "rows", GH_CTL_TEXT},
    {"sha256:", "sha256", GH_CTL_TEXT},
    {"state:", "state", GH_CTL_TEXT},
};

/* Set by SIGINT/SIGTERM while a download or playback runs. */
static volatile sig_atomic_t gh_ctl_stop;

static void
gh_ctl_on_signal(int sig)
{
    (void)sig;
    gh_ctl_stop = 1;
}

/* Catch SIGINT and SIGTERM (no SA_RESTART: sleeps and writes return) so
 * temporary files are removed and the terminal is restored. */
static void
gh_ctl_catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = gh_ctl_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* GET path (listing with filters) and print a table or JSON. */
static int
gh_ctl_session_list_get(struct gh_ctl *ctl, char *path,
                        const struct gh_ctl_col *cols, size_t ncols,
                        const char *msg404)
{
    json_t *j = NULL;
    int r = gh_ctl_api(ctl, "GET", path, NULL, &j, NULL, msg404);

    if (r == 0 && ctl->json) {
        gh_ctl_print_json(j);
    } else if (r == 0) {
        gh_ctl_table_print(stdout, cols, ncols, json_object_get(j, "items"));
        gh_ctl_next_page(j);
    }
    json_decref(j);
    free(path);
    return r;
}

int
gh_ctl_sessions_list(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                     char **argv)
{
    static const struct option o[] = {
        {"live", no_argument, NULL, GH_OPT_LIVE},
        {"user", required_argument, NULL, GH_OPT_USER},
        {"target", required_argument, NULL, GH_OPT_TARGET},
        {"limit", required_argument, NULL, GH_OPT_LIMIT},
        {"after", required_argument, NULL, GH_OPT_AFTER},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    char *path;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    path = gh_strdup("/api/v1/sessions");
    gh_ctl_url_add_query(&path, "live", a.live ? "1" : NULL);
    gh_ctl_url_add_query(&path, "user", a.user);
    gh_ctl_url_add_query(&path, "target", a.target);
    gh_ctl_url_add_query(&path, "limit", a.limit);
    gh_ctl_url_add_query(&path, "after", a.after);
    return gh_ctl_session_list_get(ctl, path, gh_ctl_session_cols,
                                   GH_NCOLS(gh_ctl_session_cols),
                                   "this gateway does not list sessions yet");
}

int
gh_ctl_sessions_kill(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                     char **argv)
{
    static const struct option o[] = {
        {"reason", required_argument, NULL, GH_OPT_REASON}, {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    json_t *j = NULL, *body;
    char *path;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if (!gh_ctl_id_ok(a.pos[0]))
        return gh_ctl_usage_error(v, "ID must be a session number");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    body = json_object();
    if (a.reason != NULL)
        json_object_set_new(body, "reason", json_string(a.reason));
    path = gh_asprintf("/api/v1/sessions/%s/kill", a.pos[0]);
    r = gh_ctl_api(ctl, "POST", path, body, &j, NULL, NULL);
    if (r == 0 && ctl->json)
        gh_ctl_print_json(j);
    else if (r == 0)
        printf("session %s killed\n", a.pos[0]);
    json_decref(body);
    json_decref(j);
    free(path);
    return r;
}

int
gh_ctl_recordings_list(struct gh_ctl *ctl, const struct gh_ctl_verb *v,
                       int argc, char **argv)
{
    static const struct option o[] = {
        {"user", required_argument, NULL, GH_OPT_USER},
        {"target", required_argument, NULL, GH_OPT_TARGET},
        {"since", required_argument, NULL, GH_OPT_SINCE},
        {"until", required_argument, NULL, GH_OPT_UNTIL},
        {"limit", required_argument, NULL, GH_OPT_LIMIT},
        {"after", required_argument, NULL, GH_OPT_AFTER},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    long long since = 0, until = 0, now = (long long)time(NULL);
    char b_since[24], b_until[24], *path;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if (a.since != NULL && gh_ctl_parse_since(a.since, now, &since) != 0)
        return gh_ctl_usage_error(v, "bad --since: use e.g. 1h, "
                                     "2026-11-25T08:00 or a unix time");
    if (a.until != NULL && gh_ctl_parse_since(a.until, now, &until) != 0)
        return gh_ctl_usage_error(v, "bad --until: use e.g. 1h, "
                                     "2026-11-25T08:00 or a unix time");
    if (a.since != NULL && a.until != NULL && until < since)
        return gh_ctl_usage_error(v, "--until is before --since");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    snprintf(b_since, sizeof(b_since), "%lld", since);
    snprintf(b_until, sizeof(b_until), "%lld", until);
    path = gh_strdup("/api/v1/recordings");
    gh_ctl_url_add_query(&path, "user", a.user);
    gh_ctl_url_add_query(&path, "target", a.target);
    gh_ctl_url_add_query(&path, "since", a.since ? b_since : NULL);
    gh_ctl_url_add_query(&path, "until", a.until ? b_until : NULL);
    gh_ctl_url_add_query(&path, "limit", a.limit);
    gh_ctl_url_add_query(&path, "after", a.after);
    return gh_ctl_session_list_get(ctl, path, gh_ctl_recording_cols,
                                   GH_NCOLS(gh_ctl_recording_cols),
                                   "this gateway does not list recordings yet");
}

/* GET the index entry of recording id; 0 with *out or an exit status. */
static int
gh_ctl_recording_index(struct gh_ctl *ctl, const char *id, json_t **out)
{
    char *path = gh_asprintf("/api/v1/recordings/%s", id);
    int r = gh_ctl_api(ctl, "GET", path, NULL, out, NULL, NULL);

    free(path);
    return r;
}

int
gh_ctl_recordings_show(struct gh_ctl *ctl, const struct gh_ctl_verb *v,
                       int argc, char **argv)
{
    struct gh_ctl_args a;
    json_t *j = NULL;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, NULL, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if (!gh_ctl_id_ok(a.pos[0]))
        return gh_ctl_usage_error(v, "ID must be a recording number");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    r = gh_ctl_recording_index(ctl, a.pos[0], &j);
    if (r == 0 && ctl->json)
        gh_ctl_print_json(j);
    else if (r == 0)
        gh_ctl_kv_print(stdout, gh_ctl_recording_kv,
                        GH_NCOLS(gh_ctl_recording_kv), j);
    json_decref(j);
    return r;
}

/* ---- streaming download ---- */

/* Where a streamed body goes. */
struct gh_ctl_dl {
    CURL *e;
    int fd;         /* the file (status 200) */
    EVP_MD_CTX *md; /* SHA-256 of what was written */
    uint64_t got;   /* bytes written */
    uint64_t max;   /* the index's size: more is refused */
    long status;    /* HTTP status, known at the first byte */
    char *err;      /* the body of a refusal, bounded */
    size_t err_len;
    int too_big;  /* more than max */
    int io_errno; /* a write to fd failed */
};

static size_t
gh_ctl_dl_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct gh_ctl_dl *d = ctx;
    size_t n = size * nmemb, off = 0;

    if (d->status == 0)
        curl_easy_getinfo(d->e, CURLINFO_RESPONSE_CODE, &d->status);
    if (d->status != 200) {
        size_t keep = GH_CTL_ERRBODY_MAX - d->err_len;

        if (keep > n)
            keep = n;
        if (d->err == NULL)
            d->err = gh_alloc(GH_CTL_ERRBODY_MAX + 1, 1);
        memcpy(d->err + d->err_len, data, keep);
        d->err_len += keep;
        return n; /* the rest of a long refusal is not needed */
    }
    if (n > d->max - d->got) {
        d->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    while (off < n) {
        ssize_t w = write(d->fd, data + off, n - off);

        if (w < 0 && errno == EINTR && !gh_ctl_stop)
            continue;
        if (w <= 0) {
            d->io_errno = w < 0 ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    if (EVP_DigestUpdate(d->md, data, n) != 1)
        abort(); /* hashing memory cannot fail */
    d->got += n;
    return n;
}

/* Abort the transfer when Ctrl-C was pressed. */
static int
gh_ctl_dl_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
                   curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ctx;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return gh_ctl_stop ? 1 : 0;
}

/* Print a refusal the way gh_ctl_api does: "message (error)", with
 * control bytes of the server's text replaced. */
static void
gh_ctl_dl_refusal(const struct gh_ctl_dl *d)
{
    json_t *j = d->err != NULL ? json_loadb(d->err, d->err_len, 0, NULL) : NULL;
    json_t *msg = json_object_get(j, "message");
    json_t *code = json_object_get(j, "error");
    char *m, *c;

    if (!json_is_string(msg) && !json_is_string(code)) {
        gh_ctl_err("the server answered HTTP %ld", d->status);
    } else {
        m = gh_ctl_cell(msg, GH_CTL_TEXT);
        c = gh_ctl_cell(code, GH_CTL_TEXT);
        gh_ctl_err("%s (%s)", json_is_string(msg) ? m : "refused",
                   json_is_string(code) ? c : "error");
        free(m);
        free(c);
    }
    json_decref(j);
}

/* Wipe then free a header list: one entry carries the token. */
static void
gh_ctl_dl_slist_free(struct curl_slist *l)
{
    struct curl_slist *p;

    for (p = l; p != NULL; p = p->next)
        gh_wipe(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

/*
 * GET path into fd, at most max bytes, hashing them into sha_hex. The
 * same TLS rules as every other call (http.c): https, or http to
 * loopback; CA file, pin or -k; no redirects. Returns 0 or an exit
 * status after printing why.
 */
static int
gh_ctl_dl_get(const struct gh_ctl_conn *c, const char *path, int fd,
              uint64_t max, uint64_t *got, char sha_hex[65])
{
    struct gh_ctl_dl d;
    struct curl_slist *hdrs = NULL, *h;
    char *url, *auth, errbuf[CURL_ERROR_SIZE] = "";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0, k;
    CURLcode cc;
    int r = GH_CTL_EXIT_FAIL;

    memset(&d, 0, sizeof(d));
    d.fd = fd;
    d.max = max;
    d.md = EVP_MD_CTX_new();
    d.e = curl_easy_init();
    if (d.md == NULL || EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1 ||
        d.e == NULL) {
        gh_ctl_err("cannot start the download");
        goto out;
    }
    url = gh_asprintf("%s%s", c->server, path);
    auth = gh_asprintf("Authorization: Bearer %s", c->token);
    h = curl_slist_append(hdrs, auth);
    gh_freezero(auth, strlen(auth));
    if (h == NULL)
        abort();
    hdrs = h;
    if ((h = curl_slist_append(hdrs, "Accept: application/x-asciicast, "
                                     "application/json")) == NULL)
        abort();
    hdrs = h;
    curl_easy_setopt(d.e, CURLOPT_URL, url);
    curl_easy_setopt(d.e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(d.e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(d.e, CURLOPT_USERAGENT, "gatehousectl");
    curl_easy_setopt(d.e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(d.e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(d.e, CURLOPT_CONNECTTIMEOUT, GH_CTL_CONNECT_S);
    curl_easy_setopt(d.e, CURLOPT_LOW_SPEED_LIMIT, GH_CTL_CAST_LOW_SPEED);
    curl_easy_setopt(d.e, CURLOPT_LOW_SPEED_TIME, GH_CTL_CAST_LOW_TIME);
    /* A Content-Length beyond the index's size stops the transfer at
     * once (a refusal is allowed its own small size). */
    curl_easy_setopt(
        d.e, CURLOPT_MAXFILESIZE_LARGE,
        (curl_off_t)(max > GH_CTL_ERRBODY_MAX ? max : GH_CTL_ERRBODY_MAX));
    curl_easy_setopt(d.e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(d.e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(d.e, CURLOPT_WRITEFUNCTION, gh_ctl_dl_write);
    curl_easy_setopt(d.e, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(d.e, CURLOPT_XFERINFOFUNCTION, gh_ctl_dl_progress);
    curl_easy_setopt(d.e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(d.e, CURLOPT_ERRORBUFFER, errbuf);
    if (c->ca_file != NULL)
        curl_easy_setopt(d.e, CURLOPT_CAINFO, c->ca_file);
    if (c->pin != NULL) {
        curl_easy_setopt(d.e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(d.e, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(d.e, CURLOPT_PINNEDPUBLICKEY, c->pin);
    } else if (c->insecure) {
        curl_easy_setopt(d.e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(d.e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    cc = curl_easy_perform(d.e);
    free(url);
    if (d.status == 0)
        curl_easy_getinfo(d.e, CURLINFO_RESPONSE_CODE, &d.status);
    if (gh_ctl_stop) {
        gh_ctl_err("interrupted");
    } else if (d.io_errno != 0) {
        gh_ctl_err("cannot write the download: %s", strerror(d.io_errno));
    } else if (d.too_big ||
               (cc == CURLE_FILESIZE_EXCEEDED && d.status == 200)) {
        gh_ctl_err("the server sent more than the %llu bytes its index "
                   "gives: refused",
                   (unsigned long long)max);
    } else if (d.status != 0 && d.status != 200) {
        gh_ctl_dl_refusal(&d);
    } else if (cc != CURLE_OK) {
        gh_ctl_err("%.200s: %.255s", c->server,
                   errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        r = 0;
    }
    if (EVP_DigestFinal_ex(d.md, md, &mdlen) != 1)
        abort();
    for (k = 0; k < mdlen && k < 32; k++)
        snprintf(sha_hex + 2 * k, 3, "%02x", md[k]);
    sha_hex[2 * k] = '\0';
    *got = d.got;
out:
    gh_ctl_dl_slist_free(hdrs);
    if (d.e != NULL)
        curl_easy_cleanup(d.e);
    EVP_MD_CTX_free(d.md);
    free(d.err);
    return r;
}

/* True for 64 hex digits. */
static int
gh_ctl_sha_ok(const char *s)
{
    return s != NULL && strlen(s) == 64 &&
           strspn(s, "0123456789abcdefABCDEF") == 64;
}

/*
 * Fetch recording id into fd and check it against the index: its size
 * and SHA-256 must be what the gateway recorded when the file was
 * closed. *index gets the index entry (caller decrefs). Returns 0 or an
 * exit status after printing why.
 */
static int
gh_ctl_recording_fetch(struct gh_ctl *ctl, const char *id, int fd,
                       json_t **index)
{
    const char *want, *state;
    json_int_t size;
    uint64_t got = 0;
    char sha[65], *path;
    int r;

    *index = NULL;
    if ((r = gh_ctl_recording_index(ctl, id, index)) != 0)
        return r;
    want = json_string_value(json_object_get(*index, "sha256"));
    state = json_string_value(json_object_get(*index, "state"));
    size = json_integer_value(json_object_get(*index, "size"));
    if (state != NULL && strcmp(state, "recording") == 0) {
        gh_ctl_err("recording %s is still being written: its SHA-256 is not "
                   "known until the session ends; try again then",
                   id);
        return GH_CTL_EXIT_FAIL;
    }
    if (!gh_ctl_sha_ok(want) ||
        !json_is_integer(json_object_get(*index, "size")) || size < 0) {
        gh_ctl_err("the index of recording %s has no valid size and "
                   "SHA-256: it cannot be verified, so it is not "
                   "downloaded",
                   id);
        return GH_CTL_EXIT_FAIL;
    }
    path = gh_asprintf("/api/v1/recordings/%s/cast", id);
    r = gh_ctl_dl_get(&ctl->conn, path, fd, (uint64_t)size, &got, sha);
    free(path);
    if (r != 0)
        return r;
    if (got != (uint64_t)size || strcasecmp(sha, want) != 0) {
        gh_ctl_err("recording %s does not match the gateway's index: got "
                   "%llu bytes with SHA-256 %s, the index says %lld bytes "
                   "with %s; refused",
                   id, (unsigned long long)got, sha, (long long)size, want);
        return GH_CTL_EXIT_FAIL;
    }
    return 0;
}

/* Put tmp at path: never over an existing file unless force. */
static int
gh_ctl_put_in_place(const char *tmp, const char *path, int force)
{
    if (force)
        return rename(tmp, path);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* A file system without RENAME_NOREPLACE: link() refuses too. */
    if (link(tmp, path) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

int
gh_ctl_recordings_download(struct gh_ctl *ctl, const struct gh_ctl_verb *v,
                           int argc, char **argv)
{
    static const struct option o[] = {
        {"output", required_argument, NULL, GH_OPT_OUTPUT},
        {"force", no_argument, NULL, GH_OPT_FORCE},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    struct stat st;
    json_t *index = NULL;
    char *path = NULL, *tmp = NULL, *slash;
    int r, fd = -1;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if (!gh_ctl_id_ok(a.pos[0]))
        return gh_ctl_usage_error(v, "ID must be a recording number");
    if (a.output != NULL && *a.output == '\0')
        return gh_ctl_usage_error(v, "-o wants a file name");
    path = a.output != NULL ? gh_strdup(a.output)
                            : gh_asprintf("recording-%s.cast", a.pos[0]);
    if (lstat(path, &st) == 0 && (S_ISDIR(st.st_mode) || !a.force)) {
        gh_ctl_err("%s exists%s", path,
                   S_ISDIR(st.st_mode) ? " and is a directory"
                                       : ": use --force to replace it");
        free(path);
        return GH_CTL_EXIT_USAGE;
    }
    /* The temporary file sits beside the target, so the rename is
     * atomic; it is hidden, private and removed on any failure. */
    slash = strrchr(path, '/');
    if (slash != NULL)
        tmp = gh_asprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path,
                          slash + 1);
    else
        tmp = gh_asprintf(".%s.XXXXXX", path);
    if ((r = gh_ctl_ready(ctl)) != 0)
        goto out;
    gh_ctl_catch_signals();
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        gh_ctl_err("cannot create a file beside %s: %s", path, strerror(errno));
        r = GH_CTL_EXIT_USAGE;
        goto out;
    }
    r = gh_ctl_recording_fetch(ctl, a.pos[0], fd, &index);
    if (r == 0 && fsync(fd) != 0) {
        gh_ctl_err("cannot write %s: %s", tmp, strerror(errno));
        r = GH_CTL_EXIT_FAIL;
    }
    if (close(fd) != 0 && r == 0) {
        gh_ctl_err("cannot write %s: %s", tmp, strerror(errno));
        r = GH_CTL_EXIT_FAIL;
    }
    fd = -1;
    if (r == 0 && gh_ctl_put_in_place(tmp, path, a.force) != 0) {
        gh_ctl_err("cannot create %s: %s", path,
                   errno == EEXIST ? "it appeared meanwhile (use --force)"
                                   : strerror(errno));
        r = GH_CTL_EXIT_FAIL;
    }
    if (r != 0) {
        unlink(tmp);
        goto out;
    }
    if (ctl->json) {
        json_object_set_new(index, "file", json_string(path));
        gh_ctl_print_json(index);
    } else {
        printf("recording %s saved to %s (%lld bytes, SHA-256 verified)\n",
               a.pos[0], path,
               (long long)json_integer_value(json_object_get(index, "size")));
    }
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    json_decref(index);
    free(tmp);
    free(path);
    return r;
}

/* An unnamed temporary file (O_TMPFILE) in $TMPDIR or /tmp; a named one,
 * unlinked at once, where the file system has no O_TMPFILE. */
static int
gh_ctl_anon_file(void)
{
    const char *dir = getenv("TMPDIR");
    char *tmpl;
    int fd;

    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    tmpl = gh_asprintf("%s/gatehousectl-XXXXXX", dir);
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd >= 0)
        unlink(tmpl);
    free(tmpl);
    return fd;
}

/* A number in lo..hi for --speed and --idle-cap. */
static int
gh_ctl_parse_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(d) || d < lo ||
        d > hi)
        return GH_E_INVAL;
    *out = d;
    return 0;
}

int
gh_ctl_recordings_play(struct gh_ctl *ctl, const struct gh_ctl_verb *v,
                       int argc, char **argv)
{
    static const struct option o[] = {
        {"speed", required_argument, NULL, GH_OPT_SPEED},
        {"idle-cap", required_argument, NULL, GH_OPT_IDLE_CAP},
        {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    struct gh_cast_reader *rd = NULL;
    struct gh_cast_header h;
    struct termios saved, raw;
    struct winsize ws;
    json_t *index = NULL;
    double speed = 1, cap = 0;
    unsigned long line = 0;
    int r, rc, fd = -1, tty_in = 0, tty_out;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if (!gh_ctl_id_ok(a.pos[0]))
        return gh_ctl_usage_error(v, "ID must be a recording number");
    if (a.speed != NULL && gh_ctl_parse_number(a.speed, GH_CTL_SPEED_MIN,
                                               GH_CTL_SPEED_MAX, &speed) != 0)
        return gh_ctl_usage_error(v, "--speed wants a number from 0.01 to "
                                     "1000");
    if (a.idle_cap != NULL &&
        (gh_ctl_parse_number(a.idle_cap, 0, GH_CTL_IDLE_CAP_MAX, &cap) != 0 ||
         cap <= 0))
        return gh_ctl_usage_error(v, "--idle-cap wants seconds, more than 0 "
                                     "and at most 86400");
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    gh_ctl_catch_signals();
    if ((fd = gh_ctl_anon_file()) < 0) {
        gh_ctl_err("cannot create a temporary file: %s", strerror(errno));
        return GH_CTL_EXIT_USAGE;
    }
    if ((r = gh_ctl_recording_fetch(ctl, a.pos[0], fd, &index)) != 0)
        goto out;
    if (lseek(fd, 0, SEEK_SET) != 0) {
        gh_ctl_err("cannot read the download: %s", strerror(errno));
        r = GH_CTL_EXIT_FAIL;
        goto out;
    }
    rd = gh_cast_reader_new_fd(fd);
    if (gh_cast_reader_header(rd, &h) != 0) {
        gh_ctl_err("recording %s: line 1: %s", a.pos[0],
                   gh_cast_reader_why(rd, NULL));
        r = GH_CTL_EXIT_FAIL;
        goto out;
    }
    tty_out = isatty(STDOUT_FILENO);
    if (tty_out && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
        ws.ws_col > 0 && (ws.ws_col < h.width || ws.ws_row < h.height))
        fprintf(stderr,
                "gatehousectl: the recording is %ux%u and this terminal "
                "%ux%u: lines may wrap\n",
                h.width, h.height, (unsigned)ws.ws_col, (unsigned)ws.ws_row);
    /* Keys typed, and answers the terminal gives to queries in the
     * recording, must not echo now nor reach the shell afterwards. */
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
        tty_in = 1;
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    rc = gh_cast_play(rd, STDOUT_FILENO, speed, cap, &gh_ctl_stop);
    if (tty_out && write(STDOUT_FILENO, "\033[0m\033[?25h", 10) < 0) {
        /* plain colours and a visible cursor again, if it can */
    }
    if (tty_in) {
        tcflush(STDIN_FILENO, TCIFLUSH);
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
    if (rc == GH_E_IO) {
        gh_ctl_err("cannot write to the terminal: %s", strerror(errno));
        r = GH_CTL_EXIT_FAIL;
    } else if (rc != 0) {
        const char *why = gh_cast_reader_why(rd, &line);

        gh_ctl_err("recording %s: line %lu: %s", a.pos[0], line, why);
        r = GH_CTL_EXIT_FAIL;
    } else if (gh_cast_reader_truncated(rd)) {
        fprintf(stderr, "\ngatehousectl: the recording ends in a partial "
                        "line (the gateway stopped while writing it)\n");
    }
out:
    gh_cast_reader_free(rd);
    if (fd >= 0)
        close(fd);
    json_decref(index);
    return r;
}
