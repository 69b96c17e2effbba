/* Unit tests for gateway/daemon/metrics.c: counters and exposition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "metrics.h"

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* A sample line of the Prometheus text format 0.0.4. */
#define SAMPLE_RE "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[^}]*\\})? [-+0-9.eE]+$"

static double
now_s(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static char *
render(const struct gh_metrics *m, const char *version)
{
    char *out = NULL;
    size_t len = 0;

    gh_metrics_render(m, version, &out, &len);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    assert_true(len > 0);
    assert_int_equal(out[len - 1], '\n');
    return out;
}

/* True when text has line as a whole line. */
static bool
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    const char *p = text;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
        p++;
    }
    return false;
}

static void
test_metrics__init(void **state)
{
    struct gh_metrics m;
    double before, after;
    size_t i;

    (void)state;
    memset(&m, 0xab, sizeof(m));
    before = now_s();
    gh_metrics_init(&m);
    after = now_s();
    assert_true(m.start_time >= before - 0.001);
    assert_true(m.start_time <= after + 0.001);
    assert_int_equal(m.open_connections, 0);
    assert_int_equal(m.connections_total, 0);
    assert_int_equal(m.reloads_total, 0);
    assert_int_equal(m.reload_failures_total, 0);
    for (i = 0; i < sizeof(m.http_status) / sizeof(m.http_status[0]); i++)
        assert_int_equal(m.http_status[i], 0);
}

static void
test_metrics__http_counts(void **state)
{
    struct gh_metrics m;
    uint64_t sum = 0;
    size_t i;

    (void)state;
    gh_metrics_init(&m);
    gh_metrics_http(&m, 200);
    gh_metrics_http(&m, 200);
    gh_metrics_http(&m, 404);
    gh_metrics_http(&m, 99);
    gh_metrics_http(&m, 600);
    gh_metrics_http(&m, 0);
    gh_metrics_http(&m, 65535);
    gh_metrics_http(&m, (unsigned)-1);
    assert_int_equal(m.http_status[200 - GH_METRICS_STATUS_MIN], 2);
    assert_int_equal(m.http_status[404 - GH_METRICS_STATUS_MIN], 1);
    for (i = 0; i < sizeof(m.http_status) / sizeof(m.http_status[0]); i++)
        sum += m.http_status[i];
    assert_int_equal(sum, 3);
    /* Nothing spilled into the neighbouring fields. */
    assert_int_equal(m.reloads_total, 0);
    assert_int_equal(m.reload_failures_total, 0);
    assert_int_equal(m.connections_total, 0);
    /* The edges of the range count. */
    gh_metrics_http(&m, GH_METRICS_STATUS_MIN);
    gh_metrics_http(&m, GH_METRICS_STATUS_MAX);
    assert_int_equal(m.http_status[0], 1);
    assert_int_equal(
        m.http_status[GH_METRICS_STATUS_MAX - GH_METRICS_STATUS_MIN], 1);
}

static void
test_metrics__render_values(void **state)
{
    struct gh_metrics m;
    char *out, want[128];

    (void)state;
    gh_metrics_init(&m);
    m.open_connections = 3;
    m.connections_total = 17;
    m.reloads_total = 2;
    m.reload_failures_total = 1;
    gh_metrics_http(&m, 200);
    gh_metrics_http(&m, 200);
    gh_metrics_http(&m, 404);
    gh_metrics_http(&m, 99);
    gh_metrics_http(&m, 600);
    out = render(&m, "1.2.3-test");
    assert_true(has_line(out, "gatehouse_http_requests_total{code=\"200\"} 2"));
    assert_true(has_line(out, "gatehouse_http_requests_total{code=\"404\"} 1"));
    assert_null(strstr(out, "code=\"99\""));
    assert_null(strstr(out, "code=\"600\""));
    assert_null(strstr(out, "code=\"500\""));
    assert_true(
        has_line(out, "gatehouse_build_info{version=\"1.2.3-test\"} 1"));
    assert_true(has_line(out, "gatehouse_open_connections 3"));
    assert_true(has_line(out, "gatehouse_connections_total 17"));
    assert_true(
        has_line(out, "gatehouse_config_reloads_total{result=\"ok\"} 2"));
    assert_true(
        has_line(out, "gatehouse_config_reloads_total{result=\"error\"} 1"));
    snprintf(want, sizeof(want), "process_start_time_seconds %.3f",
             m.start_time);
    assert_true(has_line(out, want));
    assert_non_null(strstr(out, "\nprocess_resident_memory_bytes "));
    assert_null(strstr(out, "\nprocess_resident_memory_bytes 0\n"));
    assert_non_null(strstr(out, "\nprocess_open_fds "));
    free(out);
}

/* Every sample line parses; every metric has a # TYPE line before its
 * first sample, and # lines are HELP or TYPE for a known name. */
static void
check_exposition(char *out)
{
    regex_t re;
    char *line, *save = NULL, name[128], typed[32][128];
    int ntyped = 0, i, nsamples = 0;

    assert_int_equal(regcomp(&re, SAMPLE_RE, REG_EXTENDED | REG_NOSUB), 0);
    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n;

        if (strncmp(line, "# TYPE ", 7) == 0) {
            const char *sp = strchr(line + 7, ' ');
            const char *type;

            assert_non_null(sp);
            type = sp + 1;
            assert_true(strcmp(type, "counter") == 0 ||
                        strcmp(type, "gauge") == 0);
            assert_true(ntyped < 32);
            n = (size_t)(sp - (line + 7));
            assert_true(n < sizeof(typed[0]));
            memcpy(typed[ntyped], line + 7, n);
            typed[ntyped][n] = '\0';
            ntyped++;
            continue;
        }
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (line[0] == '#')
            fail_msg("unexpected comment line: %s", line);
        if (regexec(&re, line, 0, NULL, 0) != 0)
            fail_msg("not a Prometheus sample line: \"%s\"", line);
        n = strcspn(line, "{ ");
        assert_true(n < sizeof(name));
        memcpy(name, line, n);
        name[n] = '\0';
        for (i = 0; i < ntyped; i++)
            if (strcmp(typed[i], name) == 0)
                break;
        if (i == ntyped)
            fail_msg("sample %s has no # TYPE line before it", name);
        nsamples++;
    }
    assert_true(nsamples >= 8);
    /* TYPE lines are unique. */
    for (i = 0; i < ntyped; i++) {
        int j;

        for (j = i + 1; j < ntyped; j++)
            assert_string_not_equal(typed[i], typed[j]);
    }
    regfree(&re);
}

static void
test_metrics__render_format(void **state)
{
    struct gh_metrics m;
    char *out;

    (void)state;
    gh_metrics_init(&m);
    gh_metrics_http(&m, 200);
    gh_metrics_http(&m, 503);
    m.open_connections = 1;
    out = render(&m, "0.1.0");
    check_exposition(out);
    free(out);
}

/* Each metric name: # HELP and # TYPE. */
static void
test_metrics__help_and_type_for_each(void **state)
{
    static const char *const names[] = {
        "gatehouse_build_info",          "process_start_time_seconds",
        "process_resident_memory_bytes", "process_open_fds",
        "gatehouse_open_connections",    "gatehouse_connections_total",
        "gatehouse_http_requests_total", "gatehouse_config_reloads_total"};
    struct gh_metrics m;
    char *out, want[160];
    size_t i;

    (void)state;
    gh_metrics_init(&m);
    out = render(&m, "0.1.0");
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(want, sizeof(want), "# TYPE %s ", names[i]);
        if (strstr(out, want) == NULL)
            fail_msg("no \"%s\"", want);
        snprintf(want, sizeof(want), "# HELP %s ", names[i]);
        if (strstr(out, want) == NULL)
            fail_msg("no \"%s\"", want);
    }
    /* Counters end in _total. */
    assert_non_null(
        strstr(out, "# TYPE gatehouse_http_requests_total counter\n"));
    assert_non_null(
        strstr(out, "# TYPE gatehouse_connections_total counter\n"));
    free(out);
}

/* Every status code in use: the output outgrows any first buffer and
 * still holds every line, well formed. */
static void
test_metrics__render_all_codes(void **state)
{
    struct gh_metrics m;
    char *out, *copy, want[96];
    unsigned c;

    (void)state;
    gh_metrics_init(&m);
    for (c = GH_METRICS_STATUS_MIN; c <= GH_METRICS_STATUS_MAX; c++) {
        gh_metrics_http(&m, c);
        if (c % 7 == 0)
            gh_metrics_http(&m, c);
    }
    out = render(&m, "big");
    assert_true(strlen(out) > 4096 * 4);
    for (c = GH_METRICS_STATUS_MIN; c <= GH_METRICS_STATUS_MAX; c++) {
        snprintf(want, sizeof(want),
                 "gatehouse_http_requests_total{code=\"%u\"} %u", c,
                 c % 7 == 0 ? 2u : 1u);
        if (!has_line(out, want))
            fail_msg("missing: %s", want);
    }
    copy = strdup(out);
    assert_non_null(copy);
    check_exposition(copy);
    free(copy);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics__init),
        cmocka_unit_test(test_metrics__http_counts),
        cmocka_unit_test(test_metrics__render_values),
        cmocka_unit_test(test_metrics__render_format),
        cmocka_unit_test(test_metrics__help_and_type_for_each),
        cmocka_unit_test(test_metrics__render_all_codes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
