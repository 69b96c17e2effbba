/* metrics.c - Prometheus text exposition of the gateway's counters. */
#include "metrics.h"

#include "gatehouse/mem.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

void
gh_metrics_init(struct gh_metrics *m)
{
    struct timeval tv;

    memset(m, 0, sizeof(*m));
    gettimeofday(&tv, NULL);
    m->start_time = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void
gh_metrics_http(struct gh_metrics *m, unsigned status)
{
    if (status >= GH_METRICS_STATUS_MIN && status <= GH_METRICS_STATUS_MAX)
        m->http_status[status - GH_METRICS_STATUS_MIN]++;
}

/* A growing text buffer local to rendering. */
struct gh_mbuf {
    char *p;
    size_t len, cap;
};

static void gh_mbuf_printf(struct gh_mbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
gh_mbuf_printf(struct gh_mbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0);
        b->p = gh_realloc(b->p, b->cap, 1);
    }
}

/* Resident set size in bytes from /proc/self/statm, or 0. */
static unsigned long long
gh_metrics_rss(void)
{
    unsigned long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "re");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return res * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* Open file descriptors, counted in /proc/self/fd (minus the DIR's own). */
static long
gh_metrics_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

void
gh_metrics_render(const struct gh_metrics *m, const char *version, char **out,
                  size_t *len)
{
    struct gh_mbuf b = {gh_alloc(4096, 1), 0, 4096};
    unsigned i;

    gh_mbuf_printf(&b,
                   "# HELP gatehouse_build_info Gatehouse build.\n"
                   "# TYPE gatehouse_build_info gauge\n"
                   "gatehouse_build_info{version=\"%s\"} 1\n",
                   version);
    gh_mbuf_printf(&b,
                   "# HELP process_start_time_seconds Start time of the "
                   "process since unix epoch in seconds.\n"
                   "# TYPE process_start_time_seconds gauge\n"
                   "process_start_time_seconds %.3f\n",
                   m->start_time);
    gh_mbuf_printf(&b,
                   "# HELP process_resident_memory_bytes Resident memory "
                   "size in bytes.\n"
                   "# TYPE process_resident_memory_bytes gauge\n"
                   "process_resident_memory_bytes %llu\n",
                   gh_metrics_rss());
    gh_mbuf_printf(&b,
                   "# HELP process_open_fds Number of open file "
                   "descriptors.\n"
                   "# TYPE process_open_fds gauge\n"
                   "process_open_fds %ld\n",
                   gh_metrics_fds());
    gh_mbuf_printf(&b,
                   "# HELP gatehouse_open_connections Client connections "
                   "open now.\n"
                   "# TYPE gatehouse_open_connections gauge\n"
                   "gatehouse_open_connections %lld\n",
                   (long long)m->open_connections);
    gh_mbuf_printf(&b,
                   "# HELP gatehouse_connections_total Client connections "
                   "accepted since start.\n"
                   "# TYPE gatehouse_connections_total counter\n"
                   "gatehouse_connections_total %llu\n",
                   (unsigned long long)m->connections_total);
    gh_mbuf_printf(&b, "# HELP gatehouse_http_requests_total HTTP responses "
                       "sent, by status code.\n"
                       "# TYPE gatehouse_http_requests_total counter\n");
    for (i = 0; i <= GH_METRICS_STATUS_MAX - GH_METRICS_STATUS_MIN; i++)
        if (m->http_status[i] != 0)
            gh_mbuf_printf(&b,
                           "gatehouse_http_requests_total{code=\"%u\"} %llu\n",
                           i + GH_METRICS_STATUS_MIN,
                           (unsigned long long)m->http_status[i]);
    gh_mbuf_printf(&b,
                   "# HELP gatehouse_config_reloads_total Configuration "
                   "reloads (SIGHUP), by result.\n"
                   "# TYPE gatehouse_config_reloads_total counter\n"
                   "gatehouse_config_reloads_total{result=\"ok\"} %llu\n"
                   "gatehouse_config_reloads_total{result=\"error\"} %llu\n",
                   (unsigned long long)m->reloads_total,
                   (unsigned long long)m->reload_failures_total);
    gh_mbuf_printf(&b,
                   "# HELP gatehouse_sessions_live Remote sessions open now.\n"
                   "# TYPE gatehouse_sessions_live gauge\n"
                   "gatehouse_sessions_live %llu\n"
                   "# HELP gatehouse_sessions_total Remote sessions started "
                   "and ended since start.\n"
                   "# TYPE gatehouse_sessions_total counter\n"
                   "gatehouse_sessions_total{event=\"started\"} %llu\n"
                   "gatehouse_sessions_total{event=\"ended\"} %llu\n",
                   (unsigned long long)m->sessions_live,
                   (unsigned long long)m->sessions_started_total,
                   (unsigned long long)m->sessions_ended_total);
    *out = b.p;
    *len = b.len;
}

void
gh_metrics_sessions(struct gh_metrics *m, unsigned live, const char *ended)
{
    m->sessions_live = live;
    if (ended != NULL)
        m->sessions_ended_total++;
    else
        m->sessions_started_total++;
}
