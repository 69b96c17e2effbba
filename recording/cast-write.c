/*
 * cast-write.c - the asciicast v2 writer (recording.h).
 *
 * Terminal bytes are decoded as UTF-8 in a streaming decoder (the
 * incomplete tail of one call waits for the next), escaped for JSON and
 * appended to a memory buffer as whole lines. Lines leave the buffer
 * with write(2) only: when GH_CAST_FLUSH_AT bytes wait, and on
 * gh_cast_flush(). A write that fails leaves the unwritten bytes where
 * they are, so the next attempt carries on exactly where the file ends
 * and the file never holds a line twice or a hole inside a line.
 *
 * Called from gatehoused's event loop only: nothing here blocks except
 * the fsync() in gh_cast_close().
 */
#include "gatehouse/recording.h"

#include "cast-priv.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

/* First size of the line buffer: a header with long names fits, and an
 * idle session costs little; it grows (doubling) up to GH_CAST_BUF_MAX. */
#define GH_CAST_BUF_INIT (16 * 1024)
/* "[" time ", \"o\", \"" is at most 1 + 20 + 1 + 3 + 8 = 33 bytes. */
#define GH_CAST_PREFIX_MAX 40
/* The escaper may pass its limit by one step: a U+FFFD for a broken
 * sequence (3 bytes) plus one escaped character (6 bytes). */
#define GH_CAST_STEP_MAX 16
/* Room one event line needs in the buffer, at most. */
#define GH_CAST_LINE_RESERVE                                                   \
    (GH_CAST_PREFIX_MAX + GH_CAST_EVENT_DATA_MAX + GH_CAST_STEP_MAX + 4)
/* Latest start time the writer puts in a header (unix seconds, about the
 * year 36812): the reader refuses later ones as garbage. */
#define GH_CAST_START_MAX (INT64_C(1) << 40)
/* The header: user, target (each twice) and TERM of at most
 * GH_CAST_META_MAX bytes, each byte escaped to at most 6, plus the fixed
 * text and numbers. */
#define GH_CAST_HEADER_MAX (6 * 6 * GH_CAST_META_MAX + 1024)

struct gh_cast {
    int fd;
    char *buf;                /* whole lines not yet written */
    size_t len, cap;          /* bytes in buf, its size */
    uint64_t last_ms;         /* time of the last event (times never fall) */
    struct gh_cast_u8 out_u8; /* carry of "o" events */
    struct gh_cast_u8 in_u8;  /* carry of "i" events */
    EVP_MD_CTX *md;           /* SHA-256 of every byte written */
    uint64_t written;         /* bytes in the file */
    uint64_t dropped;    /* input bytes dropped while the buffer was full */
    uint64_t unmarked;   /* dropped bytes not yet marked in the file */
    int unmarked_lost;   /* something (maybe a resize) was dropped */
    uint64_t write_errs; /* failed write() calls */
    int last_errno;      /* errno of the last failed write */
    int err, err_no;     /* first error (sticky) and its errno */
};

/* ---- UTF-8 decoding and JSON escaping ---- */

/* True for bytes copied as they are: printable ASCII but '"' and '\'. */
static inline int
gh_cast_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Bytes of 8 at once (SWAR): all of them plain? Each test below is the
 * classic exact "some byte is zero / less than n" bit trick. */
#define GH_CAST_ONES  UINT64_C(0x0101010101010101)
#define GH_CAST_HIGHS UINT64_C(0x8080808080808080)

static inline int
gh_cast_plain8(const unsigned char *p)
{
    uint64_t x, q, b, d, bad;

    memcpy(&x, p, 8);
    q = x ^ (0x22 * GH_CAST_ONES);           /* '"' */
    b = x ^ (0x5c * GH_CAST_ONES);           /* '\\' */
    d = x ^ (0x7f * GH_CAST_ONES);           /* DEL */
    bad = x |                                /* >= 0x80 */
          ((x - 0x20 * GH_CAST_ONES) & ~x) | /* < 0x20 */
          ((q - GH_CAST_ONES) & ~q) | ((b - GH_CAST_ONES) & ~b) |
          ((d - GH_CAST_ONES) & ~d);
    return (bad & GH_CAST_HIGHS) == 0;
}

/* Append code point cp to o, escaped for a JSON string; returns bytes.
 * Escaped: '"', '\', C0 controls, DEL, C1 controls (U+0080..U+009F) and
 * U+2028/U+2029 (line separators to JavaScript), so a line holds no byte
 * a terminal, a log viewer or a JSON-lines splitter would act on. */
static size_t
gh_cast_put_cp(char *o, uint32_t cp)
{
    static const char hex[] = "0123456789abcdef";

    if (cp < 0x80 && gh_cast_plain((unsigned char)cp)) {
        o[0] = (char)cp;
        return 1;
    }
    switch (cp) {
    case '"':
        memcpy(o, "\\\"", 2);
        return 2;
    case '\\':
        memcpy(o, "\\\\", 2);
        return 2;
    case '\n':
        memcpy(o, "\\n", 2);
        return 2;
    case '\r':
        memcpy(o, "\\r", 2);
        return 2;
    case '\t':
        memcpy(o, "\\t", 2);
        return 2;
    case '\b':
        memcpy(o, "\\b", 2);
        return 2;
    case '\f':
        memcpy(o, "\\f", 2);
        return 2;
    default:
        break;
    }
    if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029) {
        o[0] = '\\';
        o[1] = 'u';
        o[2] = hex[(cp >> 12) & 0xf];
        o[3] = hex[(cp >> 8) & 0xf];
        o[4] = hex[(cp >> 4) & 0xf];
        o[5] = hex[cp & 0xf];
        return 6;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* U+FFFD, the replacement character, at o; returns 3. */
static inline size_t
gh_cast_put_fffd(char *o)
{
    memcpy(o, "\xef\xbf\xbd", 3);
    return 3;
}

size_t
gh_cast_escape(struct gh_cast_u8 *up, const unsigned char *in, size_t len,
               char *out, size_t *olen, size_t limit)
{
    /* A local copy: stores through out (a char *) could alias *up, which
     * would make the compiler reload it after every byte written. */
    struct gh_cast_u8 st = *up, *u = &st;
    size_t i = 0, o = *olen;

    while (i < len && o < limit) {
        unsigned char c = in[i];

        if (u->n == 0) {
            if (gh_cast_plain(c)) {
                size_t j = i + 1, room = limit - o;
                size_t end = len - i < room ? len : i + room;

                while (j + 8 <= end && gh_cast_plain8(in + j))
                    j += 8;
                while (j < end && gh_cast_plain(in[j]))
                    j++;
                memcpy(out + o, in + i, j - i);
                o += j - i;
                i = j;
                continue;
            }
            i++;
            if (c < 0x80) {
                o += gh_cast_put_cp(out + o, c);
                continue;
            }
            /* Table 3-7 of the Unicode standard: the lead byte fixes the
             * length and the range of the second byte (no overlongs, no
             * surrogates, nothing above U+10FFFF). */
            if (c >= 0xc2 && c <= 0xdf) {
                u->need = 2;
                u->cp = c & 0x1f;
            } else if (c >= 0xe0 && c <= 0xef) {
                u->need = 3;
                u->cp = c & 0x0f;
            } else if (c >= 0xf0 && c <= 0xf4) {
                u->need = 4;
                u->cp = c & 0x07;
            } else {
                o += gh_cast_put_fffd(out + o);
                continue;
            }
            u->lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
            u->hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
            u->n = 1;
            continue;
        }
        if (c >= u->lo && c <= u->hi) {
            u->cp = (u->cp << 6) | (c & 0x3f);
            u->lo = 0x80;
            u->hi = 0xbf;
            i++;
            if (++u->n == u->need) {
                o += gh_cast_put_cp(out + o, u->cp);
                u->n = 0;
            }
            continue;
        }
        /* The maximal subpart ends here: one U+FFFD for it, and c is
         * looked at again as the start of something new. */
        o += gh_cast_put_fffd(out + o);
        u->n = 0;
    }
    *up = st;
    *olen = o;
    return i;
}

size_t
gh_cast_escape_end(struct gh_cast_u8 *u, char *out)
{
    if (u->n == 0)
        return 0;
    u->n = 0;
    return gh_cast_put_fffd(out);
}

/* ---- the buffer and the file ---- */

/* Remember the first error of this recording. */
static void
gh_cast_fail(struct gh_cast *rec, int err, int err_no)
{
    if (rec->err == 0) {
        rec->err = err;
        rec->err_no = err_no;
    }
}

/* Write every byte waiting in the buffer (whole lines: the buffer only
 * holds whole lines between calls). Short writes continue; a failure
 * keeps the rest for the next attempt. 0 or GH_E_IO (errno kept). */
static int
gh_cast_write_out(struct gh_cast *rec)
{
    size_t off = 0;
    int r = 0;

    while (off < rec->len) {
        ssize_t n = write(rec->fd, rec->buf + off, rec->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            rec->last_errno = errno;
            rec->write_errs++;
            gh_cast_fail(rec, GH_E_IO, errno);
            r = GH_E_IO;
            break;
        }
        if (EVP_DigestUpdate(rec->md, rec->buf + off, (size_t)n) != 1)
            abort(); /* SHA-256 over memory cannot fail */
        off += (size_t)n;
        rec->written += (uint64_t)n;
    }
    if (off > 0) {
        memmove(rec->buf, rec->buf + off, rec->len - off);
        rec->len -= off;
    }
    if (r != 0)
        errno = rec->last_errno;
    return r;
}

/* Make room for n more bytes, within GH_CAST_BUF_MAX; when the buffer is
 * that full, first try to write it out. 0 or GH_E_TOOBIG. */
static int
gh_cast_room(struct gh_cast *rec, size_t n)
{
    size_t want;

    if (rec->len + n > GH_CAST_BUF_MAX && rec->len > 0)
        (void)gh_cast_write_out(rec);
    if (rec->len + n > GH_CAST_BUF_MAX)
        return GH_E_TOOBIG;
    want = rec->len + n;
    if (want > rec->cap) {
        size_t cap = rec->cap * 2;

        if (cap < want)
            cap = want;
        if (cap > GH_CAST_BUF_MAX)
            cap = GH_CAST_BUF_MAX;
        rec->buf = gh_realloc(rec->buf, cap, 1);
        rec->cap = cap;
    }
    return 0;
}

/* Write out when enough waits. 0 or GH_E_IO. */
static int
gh_cast_maybe_write(struct gh_cast *rec)
{
    if (rec->len >= GH_CAST_FLUSH_AT)
        return gh_cast_write_out(rec);
    return 0;
}

/* "[SECONDS.MMM, \"T\", \"" at o; returns its length. */
static size_t
gh_cast_prefix(char *o, uint64_t ms, char type)
{
    return (size_t)snprintf(o, GH_CAST_PREFIX_MAX, "[%llu.%03u, \"%c\", \"",
                            (unsigned long long)(ms / 1000),
                            (unsigned)(ms % 1000), type);
}

/* Times never go backwards in the file: players sort nothing. */
static uint64_t
gh_cast_time(struct gh_cast *rec, uint64_t ms)
{
    if (ms < rec->last_ms)
        ms = rec->last_ms;
    rec->last_ms = ms;
    return ms;
}

/* Count n input bytes as dropped (the buffer is full of lines the disk
 * refuses). The carry is part of what was lost. */
static int
gh_cast_drop(struct gh_cast *rec, struct gh_cast_u8 *u, size_t n)
{
    rec->dropped += n;
    rec->unmarked += n;
    rec->unmarked_lost = 1;
    if (u != NULL)
        u->n = 0;
    gh_cast_fail(rec, GH_E_IO, rec->last_errno ? rec->last_errno : ENOSPC);
    errno = rec->last_errno ? rec->last_errno : ENOSPC;
    return GH_E_IO;
}

/*
 * Append events of type with the text in[0..len) decoded through u.
 * final: an incomplete sequence left at the end becomes U+FFFD now.
 * empty_ok: write the event even when its data is empty (markers).
 * Returns 0 or GH_E_IO (write failed, or data dropped).
 */
static int
gh_cast_text(struct gh_cast *rec, uint64_t ms, char type, struct gh_cast_u8 *u,
             const unsigned char *in, size_t len, int final, int empty_ok)
{
    size_t i = 0;
    int r = 0;

    do {
        size_t start = rec->len, data0;

        if (gh_cast_room(rec, GH_CAST_LINE_RESERVE) != 0)
            return gh_cast_drop(rec, u, len - i);
        rec->len += gh_cast_prefix(rec->buf + rec->len, ms, type);
        data0 = rec->len;
        i += gh_cast_escape(u, in + i, len - i, rec->buf, &rec->len,
                            data0 + GH_CAST_EVENT_DATA_MAX);
        if (final && i == len)
            rec->len += gh_cast_escape_end(u, rec->buf + rec->len);
        if (rec->len == data0 && !empty_ok) {
            rec->len = start; /* all of it went into the carry */
            break;
        }
        empty_ok = 0;
        memcpy(rec->buf + rec->len, "\"]\n", 3);
        rec->len += 3;
        if (gh_cast_maybe_write(rec) != 0)
            r = GH_E_IO;
    } while (i < len);
    return r;
}

/* After output was dropped, say so in the file (once writes work again)
 * before the next event. */
static int
gh_cast_mark_drop(struct gh_cast *rec, uint64_t ms)
{
    struct gh_cast_u8 u = {0};
    char label[160];
    int n;

    if (!rec->unmarked_lost)
        return 0;
    if (rec->len + GH_CAST_LINE_RESERVE > GH_CAST_BUF_MAX &&
        gh_cast_write_out(rec) != 0)
        return GH_E_IO; /* still failing: mark later */
    n = snprintf(label, sizeof(label),
                 "gatehouse: recording interrupted (%s): %llu bytes of "
                 "terminal data lost",
                 strerror(rec->last_errno ? rec->last_errno : ENOSPC),
                 (unsigned long long)rec->unmarked);
    rec->unmarked = 0;
    rec->unmarked_lost = 0;
    return gh_cast_text(rec, ms, 'm', &u, (const unsigned char *)label,
                        (size_t)n, 1, 1);
}

/* ---- API ---- */

int
gh_cast_name_ok(const char *name)
{
    size_t n;

    if (name == NULL || name[0] == '\0' || name[0] == '.')
        return 0;
    n = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-");
    return name[n] == '\0' && n <= GH_CAST_NAME_MAX;
}

/* Append a JSON string (quotes included) of the bytes of s. */
static void
gh_cast_put_str(struct gh_cast *rec, const char *s)
{
    struct gh_cast_u8 u = {0};

    rec->buf[rec->len++] = '"';
    gh_cast_escape(&u, (const unsigned char *)s, strlen(s), rec->buf, &rec->len,
                   SIZE_MAX);
    rec->len += gh_cast_escape_end(&u, rec->buf + rec->len);
    rec->buf[rec->len++] = '"';
}

/* Append printf text; the header's room was reserved. */
static void gh_cast_put_fmt(struct gh_cast *rec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
gh_cast_put_fmt(struct gh_cast *rec, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(rec->buf + rec->len, rec->cap - rec->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= rec->cap - rec->len)
        abort(); /* GH_CAST_HEADER_MAX is wrong */
    rec->len += (size_t)n;
}

static int
gh_cast_meta_ok(const struct gh_cast_meta *m)
{
    return m != NULL && m->cols >= 1 && m->cols <= GH_CAST_DIM_MAX &&
           m->rows >= 1 && m->rows <= GH_CAST_DIM_MAX && m->user != NULL &&
           m->user[0] != '\0' && strlen(m->user) <= GH_CAST_META_MAX &&
           m->target != NULL && m->target[0] != '\0' &&
           strlen(m->target) <= GH_CAST_META_MAX &&
           (m->term == NULL || strlen(m->term) <= GH_CAST_META_MAX) &&
           m->session_id >= 0 && m->grant_id >= 0 && m->start_unix >= 0 &&
           m->start_unix <= GH_CAST_START_MAX;
}

/* The header line, into the (empty) buffer. */
static void
gh_cast_header(struct gh_cast *rec, const struct gh_cast_meta *m)
{
    gh_cast_put_fmt(rec,
                    "{\"version\":2,\"width\":%u,\"height\":%u,"
                    "\"timestamp\":%lld,\"title\":",
                    m->cols, m->rows, (long long)m->start_unix);
    /* title = user@target, as one string. */
    {
        char *title = gh_asprintf("%s@%s", m->user, m->target);

        gh_cast_put_str(rec, title);
        free(title);
    }
    gh_cast_put_fmt(rec, ",\"env\":{\"TERM\":");
    gh_cast_put_str(rec, m->term ? m->term : "xterm-256color");
    gh_cast_put_fmt(rec,
                    "},\"gatehouse\":{\"format\":%d,\"session\":%lld,"
                    "\"grant\":%lld,\"user\":",
                    GH_CAST_GATEHOUSE_FORMAT, (long long)m->session_id,
                    (long long)m->grant_id);
    gh_cast_put_str(rec, m->user);
    gh_cast_put_fmt(rec, ",\"target\":");
    gh_cast_put_str(rec, m->target);
    gh_cast_put_fmt(rec, ",\"input\":%s}}\n",
                    m->input_recorded ? "true" : "false");
}

int
gh_cast_open(int dir_fd, const char *name, const struct gh_cast_meta *m,
             struct gh_cast **out)
{
    struct gh_cast *rec;
    int fd, saved;

    *out = NULL;
    if (!gh_cast_name_ok(name) || !gh_cast_meta_ok(m)) {
        errno = EINVAL;
        return GH_E_INVAL;
    }
    fd = openat(dir_fd, name,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? GH_E_EXISTS : GH_E_IO;
    rec = gh_alloc(1, sizeof(*rec));
    rec->fd = fd;
    rec->cap = GH_CAST_BUF_INIT;
    if (rec->cap < GH_CAST_HEADER_MAX)
        rec->cap = GH_CAST_HEADER_MAX;
    rec->buf = gh_alloc(rec->cap, 1);
    rec->md = EVP_MD_CTX_new();
    if (rec->md == NULL || EVP_DigestInit_ex(rec->md, EVP_sha256(), NULL) != 1)
        abort(); /* only on out of memory */
    gh_cast_header(rec, m);
    if (gh_cast_write_out(rec) != 0) {
        saved = errno;
        (void)unlinkat(dir_fd, name, 0);
        close(fd);
        EVP_MD_CTX_free(rec->md);
        free(rec->buf);
        free(rec);
        errno = saved;
        return GH_E_IO;
    }
    *out = rec;
    return 0;
}

int
gh_cast_output(struct gh_cast *rec, uint64_t ms, const void *buf, size_t len)
{
    int r;

    if (len == 0)
        return 0;
    ms = gh_cast_time(rec, ms);
    r = gh_cast_mark_drop(rec, ms);
    if (gh_cast_text(rec, ms, 'o', &rec->out_u8, buf, len, 0, 0) != 0)
        r = GH_E_IO;
    return r;
}

int
gh_cast_input(struct gh_cast *rec, uint64_t ms, const void *buf, size_t len)
{
    int r;

    if (len == 0)
        return 0;
    ms = gh_cast_time(rec, ms);
    r = gh_cast_mark_drop(rec, ms);
    if (gh_cast_text(rec, ms, 'i', &rec->in_u8, buf, len, 0, 0) != 0)
        r = GH_E_IO;
    return r;
}

int
gh_cast_resize(struct gh_cast *rec, uint64_t ms, unsigned cols, unsigned rows)
{
    char text[24];
    struct gh_cast_u8 u = {0};
    int n, r;

    if (cols < 1 || cols > GH_CAST_DIM_MAX || rows < 1 ||
        rows > GH_CAST_DIM_MAX)
        return GH_E_INVAL;
    ms = gh_cast_time(rec, ms);
    r = gh_cast_mark_drop(rec, ms);
    n = snprintf(text, sizeof(text), "%ux%u", cols, rows);
    if (gh_cast_text(rec, ms, 'r', &u, (const unsigned char *)text, (size_t)n,
                     1, 0) != 0)
        r = GH_E_IO;
    return r;
}

int
gh_cast_marker(struct gh_cast *rec, uint64_t ms, const char *label)
{
    struct gh_cast_u8 u = {0};
    int r;

    ms = gh_cast_time(rec, ms);
    r = gh_cast_mark_drop(rec, ms);
    if (gh_cast_text(rec, ms, 'm', &u, (const unsigned char *)label,
                     strlen(label), 1, 1) != 0)
        r = GH_E_IO;
    return r;
}

int
gh_cast_flush(struct gh_cast *rec)
{
    if (rec->unmarked_lost)
        (void)gh_cast_mark_drop(rec, rec->last_ms);
    if (rec->len == 0)
        return 0;
    return gh_cast_write_out(rec);
}

int
gh_cast_status(const struct gh_cast *rec, int *err_no)
{
    if (err_no != NULL)
        *err_no = rec->err_no;
    return rec->err;
}

void
gh_cast_get_stats(const struct gh_cast *rec, struct gh_cast_stats *st)
{
    st->written = rec->written;
    st->pending = rec->len;
    st->dropped = rec->dropped;
    st->write_errs = rec->write_errs;
}

/* "o" or "i" event holding only the U+FFFD of a dangling sequence. */
static void
gh_cast_end_carry(struct gh_cast *rec, char type, struct gh_cast_u8 *u)
{
    if (u->n > 0)
        (void)gh_cast_text(rec, rec->last_ms, type, u,
                           (const unsigned char *)"", 0, 1, 0);
}

int
gh_cast_close(struct gh_cast *rec, uint64_t *size, char sha256_hex[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0, k;
    int r;

    if (size != NULL)
        *size = 0;
    if (sha256_hex != NULL)
        sha256_hex[0] = '\0';
    if (rec == NULL)
        return 0;
    gh_cast_end_carry(rec, 'o', &rec->out_u8);
    gh_cast_end_carry(rec, 'i', &rec->in_u8);
    (void)gh_cast_flush(rec);
    if (fsync(rec->fd) != 0)
        gh_cast_fail(rec, GH_E_IO, errno);
    if (close(rec->fd) != 0 && errno != EINTR)
        gh_cast_fail(rec, GH_E_IO, errno);
    if (EVP_DigestFinal_ex(rec->md, md, &mdlen) != 1)
        abort();
    if (size != NULL)
        *size = rec->written;
    if (sha256_hex != NULL) {
        for (k = 0; k < mdlen && k < 32; k++) {
            sha256_hex[2 * k] = hex[md[k] >> 4];
            sha256_hex[2 * k + 1] = hex[md[k] & 0xf];
        }
        sha256_hex[2 * k] = '\0';
    }
    r = rec->err;
    errno = rec->err_no;
    EVP_MD_CTX_free(rec->md);
    free(rec->buf);
    free(rec);
    return r;
}
