/*
 * metrics.h - counters for GET /metrics (Prometheus text format 0.0.4).
 * Event loop thread only.
 */
#ifndef GATEHOUSE_DAEMON_METRICS_H
#define GATEHOUSE_DAEMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Status codes are counted in classes of one code each, 100..599. */
#define GH_METRICS_STATUS_MIN 100
#define GH_METRICS_STATUS_MAX 599

struct gh_metrics {
    double start_time;          /* unix seconds, with fraction */
    int64_t open_connections;   /* gauge: accepted, not yet closed */
    uint64_t connections_total; /* accepted since start */
    uint64_t http_status[GH_METRICS_STATUS_MAX - GH_METRICS_STATUS_MIN + 1];
    uint64_t reloads_total;
    uint64_t reload_failures_total;
    uint64_t sessions_live; /* gauge: remote sessions open now */
    uint64_t sessions_started_total;
    uint64_t sessions_ended_total;
};

void gh_metrics_init(struct gh_metrics *m);

/* Count one HTTP response with this status (others are ignored). */
void gh_metrics_http(struct gh_metrics *m, unsigned status);

/* The broker's live session count changed: a session started (ended
 * NULL) or ended (ended = its reason). */
void gh_metrics_sessions(struct gh_metrics *m, unsigned live,
                         const char *ended);

/*
 * Render every metric into a new buffer (*out, caller frees, *len bytes).
 * version goes into gatehouse_build_info.
 */
void gh_metrics_render(const struct gh_metrics *m, const char *version,
                       char **out, size_t *len);

#endif
