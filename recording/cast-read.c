/*
 * cast-read.c - the asciicast v2 reader and the crash-recovery scan
 * (recording.h).
 *
 * The reader takes files from anywhere (a download, an old gateway, a
 * person's editor): every line is bounded by GH_CAST_LINE_MAX before it
 * is parsed, jansson checks JSON and UTF-8, and every field is checked
 * for type and range before it is handed out. Errors name the line.
 */
#include "gatehouse/recording.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Latest header timestamp accepted (unix seconds, about the year 36812;
 * the writer's own limit): anything later is garbage. */
#define GH_CAST_READ_START_MAX (INT64_C(1) << 40)
/* Bytes asked of read() at a time (reader and scan). */
#define GH_CAST_READ_CHUNK (64 * 1024)

struct gh_cast_reader {
    int fd;          /* -1: reading mem */
    const char *mem; /* the memory source */
    size_t mem_len, mem_pos;
    char *buf; /* fd source: bytes read, [start, end) unused */
    size_t cap, start, end;
    int eof;            /* read() said end of file */
    unsigned long line; /* lines taken so far */
    int header_done;
    int err; /* sticky error of the last call */
    const char *why;
    unsigned long err_line;
    int truncated;
    json_t *header, *ev; /* parsed header, current event */
    struct gh_cast_header h;
};

static struct gh_cast_reader *
gh_cast_reader_new(void)
{
    struct gh_cast_reader *r = gh_alloc(1, sizeof(*r));

    r->fd = -1;
    r->why = "no error";
    return r;
}

struct gh_cast_reader *
gh_cast_reader_new_fd(int fd)
{
    struct gh_cast_reader *r = gh_cast_reader_new();

    r->fd = fd;
    return r;
}

struct gh_cast_reader *
gh_cast_reader_new_mem(const void *buf, size_t len)
{
    struct gh_cast_reader *r = gh_cast_reader_new();

    r->mem = buf;
    r->mem_len = buf != NULL ? len : 0;
    return r;
}

void
gh_cast_reader_free(struct gh_cast_reader *r)
{
    if (r == NULL)
        return;
    json_decref(r->header);
    json_decref(r->ev);
    free(r->buf);
    free(r);
}

/* Record an error about line (0: none) and return it. */
static int
gh_cast_rfail(struct gh_cast_reader *r, int err, const char *why,
              unsigned long line)
{
    r->err = err;
    r->why = why;
    r->err_line = line;
    return err;
}

/* Read more of the fd into buf; 0, or GH_E_IO. Sets eof. */
static int
gh_cast_fill(struct gh_cast_reader *r)
{
    ssize_t n;

    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end < GH_CAST_READ_CHUNK / 2) {
        size_t cap = r->cap == 0 ? GH_CAST_READ_CHUNK : 2 * r->cap;

        /* A line of GH_CAST_LINE_MAX plus its newline must fit. */
        if (cap > GH_CAST_LINE_MAX + GH_CAST_READ_CHUNK)
            cap = GH_CAST_LINE_MAX + GH_CAST_READ_CHUNK;
        if (cap > r->cap) {
            r->buf = gh_realloc(r->buf, cap, 1);
            r->cap = cap;
        }
    }
    do
        n = read(r->fd, r->buf + r->end, r->cap - r->end);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return GH_E_IO;
    if (n == 0)
        r->eof = 1;
    r->end += (size_t)n;
    return 0;
}

/*
 * The next line (without its '\n') at *p, *n bytes; *nl says whether it
 * ended in '\n'. Returns 1, 0 at the end, or an error.
 */
static int
gh_cast_line(struct gh_cast_reader *r, const char **p, size_t *n, int *nl)
{
    const char *s, *e;
    size_t avail;

    if (r->fd < 0) {
        avail = r->mem_len - r->mem_pos;
        if (avail == 0)
            return 0;
        s = r->mem + r->mem_pos;
        e = memchr(s, '\n',
                   avail < GH_CAST_LINE_MAX + 1 ? avail : GH_CAST_LINE_MAX + 1);
        r->line++;
        if (e == NULL && avail > GH_CAST_LINE_MAX)
            return gh_cast_rfail(r, GH_E_TOOBIG, "line longer than 1 MiB",
                                 r->line);
        *p = s;
        *nl = e != NULL;
        *n = e != NULL ? (size_t)(e - s) : avail;
        r->mem_pos += *n + (e != NULL);
        return 1;
    }
    for (;;) {
        avail = r->end - r->start;
        s = r->buf + r->start;
        e = avail > 0 ? memchr(s, '\n', avail) : NULL;
        if (e != NULL && (size_t)(e - s) <= GH_CAST_LINE_MAX) {
            r->line++;
            *p = s;
            *n = (size_t)(e - s);
            *nl = 1;
            r->start += *n + 1;
            return 1;
        }
        if (avail > GH_CAST_LINE_MAX) {
            r->line++;
            return gh_cast_rfail(r, GH_E_TOOBIG, "line longer than 1 MiB",
                                 r->line);
        }
        if (r->eof) {
            if (avail == 0)
                return 0;
            r->line++;
            *p = s;
            *n = avail;
            *nl = 0;
            r->start = r->end;
            return 1;
        }
        if (gh_cast_fill(r) != 0) {
            r->err = GH_E_IO;
            r->why = "cannot read the file";
            r->err_line = 0;
            return GH_E_IO;
        }
    }
}

/* True when the line holds only blanks (JSON whitespace). */
static int
gh_cast_blank(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

/* An integer member of o in lo..hi into *v; 0 or -1. */
static int
gh_cast_int_member(json_t *o, const char *key, long long lo, long long hi,
                   long long *v)
{
    json_t *j = json_object_get(o, key);

    if (!json_is_integer(j) || json_integer_value(j) < lo ||
        json_integer_value(j) > hi)
        return -1;
    *v = json_integer_value(j);
    return 0;
}

int
gh_cast_reader_header(struct gh_cast_reader *r, struct gh_cast_header *h)
{
    const char *p = NULL;
    size_t n = 0;
    int nl = 0, rc;
    long long w, hh, ts = 0;
    json_t *j, *g;

    if (r->err != 0)
        return r->err;
    if (r->header_done) {
        *h = r->h;
        return 0;
    }
    memset(h, 0, sizeof(*h));
    rc = gh_cast_line(r, &p, &n, &nl);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return gh_cast_rfail(r, GH_E_INVAL, "empty file: no header", 1);
    r->header = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(r->header))
        return gh_cast_rfail(r, GH_E_INVAL,
                             nl ? "the header is not a JSON object"
                                : "the file ends inside its header",
                             1);
    j = r->header;
    if (gh_cast_int_member(j, "version", 2, 2, &w) != 0)
        return gh_cast_rfail(r, GH_E_INVAL, "not asciicast version 2", 1);
    if (gh_cast_int_member(j, "width", 1, GH_CAST_READ_DIM_MAX, &w) != 0 ||
        gh_cast_int_member(j, "height", 1, GH_CAST_READ_DIM_MAX, &hh) != 0)
        return gh_cast_rfail(r, GH_E_INVAL,
                             "width or height missing or out of range", 1);
    if (json_object_get(j, "timestamp") != NULL &&
        gh_cast_int_member(j, "timestamp", 0, GH_CAST_READ_START_MAX, &ts) != 0)
        return gh_cast_rfail(r, GH_E_INVAL, "bad timestamp", 1);
    r->h.width = (unsigned)w;
    r->h.height = (unsigned)hh;
    r->h.timestamp = ts;
    if (json_is_number(json_object_get(j, "idle_time_limit"))) {
        double t = json_number_value(json_object_get(j, "idle_time_limit"));

        if (isfinite(t) && t > 0 && t <= GH_CAST_TIME_MAX)
            r->h.idle_time_limit = t;
    }
    r->h.title = json_string_value(json_object_get(j, "title"));
    if (r->h.title != NULL &&
        strlen(r->h.title) != json_string_length(json_object_get(j, "title")))
        r->h.title = NULL; /* holds a NUL: not a title we can show */
    g = json_object_get(j, "gatehouse");
    r->h.input_recorded = json_is_true(json_object_get(g, "input"));
    r->header_done = 1;
    *h = r->h;
    return 0;
}

/* "COLSxROWS" with each in 1..GH_CAST_READ_DIM_MAX. */
static int
gh_cast_parse_size(const char *s, size_t len, unsigned *cols, unsigned *rows)
{
    unsigned v[2] = {0, 0};
    size_t i = 0, k, digits;

    for (k = 0; k < 2; k++) {
        for (digits = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (++digits > 5)
                return -1;
            v[k] = v[k] * 10 + (unsigned)(s[i] - '0');
        }
        if (digits == 0 || v[k] < 1 || v[k] > GH_CAST_READ_DIM_MAX)
            return -1;
        if (k == 0 && (i >= len || s[i++] != 'x'))
            return -1;
    }
    if (i != len)
        return -1;
    *cols = v[0];
    *rows = v[1];
    return 0;
}

/*
 * Check one parsed event line. Returns 1 with *ev filled, 0 for an event
 * of a type we skip, or -1 with *why set.
 */
static int
gh_cast_event_check(json_t *a, struct gh_cast_event *ev, const char **why)
{
    json_t *t = json_array_get(a, 0), *ty = json_array_get(a, 1);
    json_t *d = json_array_get(a, 2);
    const char *type;
    double secs;

    if (!json_is_array(a) || json_array_size(a) != 3) {
        *why = "an event is not a [time, type, data] array";
        return -1;
    }
    if (!json_is_number(t)) {
        *why = "an event time is not a number";
        return -1;
    }
    secs = json_number_value(t);
    if (!isfinite(secs) || secs < 0 || secs > GH_CAST_TIME_MAX) {
        *why = "an event time is negative or too large";
        return -1;
    }
    if (!json_is_string(ty)) {
        *why = "an event type is not a string";
        return -1;
    }
    type = json_string_value(ty);
    if (json_string_length(ty) != 1 ||
        (type[0] != 'o' && type[0] != 'i' && type[0] != 'r' && type[0] != 'm'))
        return 0; /* another kind of event: the format is open to them */
    if (!json_is_string(d)) {
        *why = "event data is not a string";
        return -1;
    }
    memset(ev, 0, sizeof(*ev));
    ev->time = secs;
    ev->ms = (uint64_t)llround(secs * 1000.0);
    ev->type = (enum gh_cast_ev_type)type[0];
    ev->data = json_string_value(d);
    ev->len = json_string_length(d);
    if (ev->type == GH_CAST_EV_RESIZE &&
        gh_cast_parse_size(ev->data, ev->len, &ev->cols, &ev->rows) != 0) {
        *why = "a resize event is not COLSxROWS";
        return -1;
    }
    return 1;
}

int
gh_cast_reader_next(struct gh_cast_reader *r, struct gh_cast_event *ev)
{
    struct gh_cast_header h;
    const char *p = NULL, *why = NULL;
    size_t n = 0;
    int nl = 0, rc;

    if (r->err != 0)
        return r->err;
    if (!r->header_done && (rc = gh_cast_reader_header(r, &h)) != 0)
        return rc;
    json_decref(r->ev);
    r->ev = NULL;
    for (;;) {
        rc = gh_cast_line(r, &p, &n, &nl);
        if (rc <= 0)
            return rc;
        if (gh_cast_blank(p, n))
            continue;
        /* JSON_ALLOW_NUL: terminal output may hold NUL (written as
         * \u0000); the length says where the string ends. */
        r->ev = json_loadb(p, n, JSON_ALLOW_NUL, NULL);
        rc = r->ev != NULL ? gh_cast_event_check(r->ev, ev, &why) : -1;
        if (rc < 0 && !nl) {
            /* The last line, cut short: a crash while writing it. */
            json_decref(r->ev);
            r->ev = NULL;
            r->truncated = 1;
            return 0;
        }
        if (r->ev == NULL)
            return gh_cast_rfail(r, GH_E_INVAL, "a line is not valid JSON",
                                 r->line);
        if (rc < 0)
            return gh_cast_rfail(r, GH_E_INVAL, why, r->line);
        if (rc == 1)
            return 1;
        json_decref(r->ev);
        r->ev = NULL;
    }
}

const char *
gh_cast_reader_why(const struct gh_cast_reader *r, unsigned long *line)
{
    if (line != NULL)
        *line = r->err != 0 ? r->err_line : 0;
    return r->err != 0 ? r->why : "no error";
}

int
gh_cast_reader_truncated(const struct gh_cast_reader *r)
{
    return r->truncated;
}

unsigned long
gh_cast_reader_lines(const struct gh_cast_reader *r)
{
    return r->line;
}

/* ---- scan ---- */

/* Pass 1: size, SHA-256 and the end of the last whole line. */
static int
gh_cast_scan_bytes(int fd, struct gh_cast_scan *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0, k;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *buf = gh_alloc(GH_CAST_READ_CHUNK, 1);
    int r = 0;

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        abort(); /* only on out of memory */
    for (;;) {
        ssize_t n = read(fd, buf, GH_CAST_READ_CHUNK);
        char *nl;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = GH_E_IO;
            break;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
            abort();
        nl = memrchr(buf, '\n', (size_t)n);
        if (nl != NULL)
            out->whole_size = out->size + (uint64_t)(nl - buf) + 1;
        out->size += (uint64_t)n;
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        abort();
    for (k = 0; k < mdlen && k < 32; k++) {
        out->sha256[2 * k] = hex[md[k] >> 4];
        out->sha256[2 * k + 1] = hex[md[k] & 0xf];
    }
    out->sha256[2 * k] = '\0';
    out->truncated = out->size != out->whole_size;
    EVP_MD_CTX_free(ctx);
    free(buf);
    return r;
}

int
gh_cast_scan(int dir_fd, const char *path, struct gh_cast_scan *out)
{
    struct gh_cast_reader *rd = NULL;
    struct gh_cast_event ev;
    struct stat st;
    int fd, r, saved;

    memset(out, 0, sizeof(*out));
    /* O_NONBLOCK: opening a FIFO planted here must not hang the start. */
    fd = openat(dir_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return GH_E_IO;
    if (fstat(fd, &st) != 0) {
        r = GH_E_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        r = GH_E_INVAL;
        goto out;
    }
    if ((r = gh_cast_scan_bytes(fd, out)) != 0)
        goto out;
    /* Pass 2: how far it parses. */
    if (lseek(fd, 0, SEEK_SET) != 0) {
        r = GH_E_IO;
        goto out;
    }
    rd = gh_cast_reader_new_fd(fd);
    while ((r = gh_cast_reader_next(rd, &ev)) == 1) {
        out->events++;
        out->last_ms = ev.ms;
    }
    if (r == GH_E_IO)
        goto out;
    if (r < 0) {
        unsigned long line = 0;

        (void)gh_cast_reader_why(rd, &line);
        out->bad_line = line ? line : 1;
    }
    r = 0;
out:
    saved = errno;
    gh_cast_reader_free(rd);
    close(fd);
    errno = saved;
    return r;
}
