/* log.c - one escaped line per event, written with a single write(). */
#include "gatehouse/log.h"
#include "gatehouse/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum gh_log_level gh_log_level_cur = GH_LOG_INFO;
static int gh_log_fd = 2;

static const char *const gh_level_names[] = {"error", "warn", "info", "debug",
                                             "trace"};

/* Quoted values longer than this are cut: enough for paths and names. */
#define GH_LOG_Q_MAX  200
#define GH_LOG_Q_RING 8

void
gh_log_set_level(enum gh_log_level level)
{
    gh_log_level_cur = level;
}

enum gh_log_level
gh_log_get_level(void)
{
    return gh_log_level_cur;
}

int
gh_log_enabled(enum gh_log_level level)
{
    return level <= gh_log_level_cur;
}

void
gh_log_set_fd(int fd)
{
    gh_log_fd = fd;
}

const char *
gh_log_level_name(enum gh_log_level level)
{
    if ((unsigned)level > GH_LOG_TRACE)
        return "?";
    return gh_level_names[level];
}

int
gh_log_level_parse(const char *s, enum gh_log_level *out)
{
    size_t i;

    for (i = 0; i < sizeof(gh_level_names) / sizeof(gh_level_names[0]); i++) {
        if (strcmp(s, gh_level_names[i]) == 0) {
            *out = (enum gh_log_level)i;
            return 0;
        }
    }
    return GH_E_INVAL;
}

const char *
gh_q(const char *s)
{
    /* Every input byte may double when escaped, plus quotes and "...". */
    static _Thread_local char ring[GH_LOG_Q_RING][2 * GH_LOG_Q_MAX + 8];
    static _Thread_local unsigned next;
    char *b = ring[next++ % GH_LOG_Q_RING];
    size_t o = 0, i;

    if (s == NULL)
        return "-";
    b[o++] = '"';
    for (i = 0; s[i] != '\0' && i < GH_LOG_Q_MAX; i++) {
        if (s[i] == '"' || s[i] == '\\')
            b[o++] = '\\';
        b[o++] = s[i];
    }
    if (s[i] != '\0') {
        memcpy(b + o, "...", 3);
        o += 3;
    }
    b[o++] = '"';
    b[o] = '\0';
    return b;
}

/*
 * Copy src into dst (at most cap bytes) escaping control bytes. Returns
 * bytes written; *cut is set when src did not fit whole.
 */
static size_t
gh_log_escape(char *dst, size_t cap, const char *src, int *cut)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    const unsigned char *p;

    *cut = 0;
    for (p = (const unsigned char *)src; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            if (o + 4 > cap)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[*p >> 4];
            dst[o++] = hex[*p & 15];
        } else {
            if (o + 1 > cap)
                break;
            dst[o++] = (char)*p;
        }
    }
    *cut = *p != '\0';
    return o;
}

void
gh_log(enum gh_log_level level, const char *comp, const char *fmt, ...)
{
    char msg[GH_LOG_LINE_MAX];
    char line[GH_LOG_LINE_MAX];
    size_t o = 0;
    int n, cut, saved = errno;
    va_list ap;

    if (!gh_log_enabled(level))
        return;
    if (getenv("JOURNAL_STREAM") == NULL) {
        struct timeval tv;
        struct tm tm;

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        o += strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
        n = snprintf(line + o, sizeof(line) - o, ".%03ldZ ",
                     (long)(tv.tv_usec / 1000));
        if (n > 0)
            o += (size_t)n;
    }
    n = snprintf(line + o, sizeof(line) - o, "level=%s comp=%s pid=%ld ",
                 gh_log_level_name(level), comp ? comp : "-", (long)getpid());
    if (n > 0)
        o += (size_t)n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(msg, sizeof(msg), "msg=\"(unformattable)\"");
    /* Room is kept for "..." and the newline: a line never exceeds
     * GH_LOG_LINE_MAX, and a cut line always says so. */
    o += gh_log_escape(line + o, sizeof(line) - o - 4, msg, &cut);
    if (cut || n >= (int)sizeof(msg)) {
        memcpy(line + o, "...", 3);
        o += 3;
    }
    line[o++] = '\n';
    /* One write keeps the line whole even when processes share stderr. */
    if (write(gh_log_fd, line, o) < 0) {
        /* Nowhere left to report it. */
    }
    errno = saved;
}
