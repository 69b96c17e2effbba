/*
 * table.h - gatehousectl's human output: aligned tables, "key: value"
 * blocks, local ISO-8601 times, compact durations (1h30m), and the
 * parsers for the durations and times users type. Server text is shown
 * with control bytes replaced, so an answer cannot drive the terminal.
 */
#ifndef GH_CTL_TABLE_H
#define GH_CTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* A table cell wider than this is cut and ends in "...". */
#define GH_CTL_CELL_MAX 48

enum gh_ctl_fmt {
    GH_CTL_TEXT,    /* string (or any JSON, shown compact) */
    GH_CTL_TIME,    /* unix seconds, shown as local ISO-8601 */
    GH_CTL_TIME_MS, /* unix milliseconds, likewise */
    GH_CTL_DUR,     /* seconds, shown as 1h30m */
    GH_CTL_BOOL,    /* true/false shown as yes/no */
    GH_CTL_OPTTIME  /* unix seconds, 0 shown as "-" */
};

struct gh_ctl_col {
    const char *title; /* column header / key label */
    const char *key;   /* member of each JSON object */
    enum gh_ctl_fmt fmt;
};

/* Print items (a JSON array of objects) as an aligned table with a header
 * row; an empty array prints "(none)". */
void gh_ctl_table_print(FILE *f, const struct gh_ctl_col *cols, size_t ncols,
                        json_t *items);

/* Print one object as "label: value" lines; absent members are skipped. */
void gh_ctl_kv_print(FILE *f, const struct gh_ctl_col *cols, size_t ncols,
                     json_t *obj);

/* Format v per fmt into a new string (caller frees), control bytes
 * replaced by '?'. NULL or JSON null gives "-". */
char *gh_ctl_cell(json_t *v, enum gh_ctl_fmt fmt);

/* "2026-11-25T10:00:00+0100" for unix seconds t, local time zone. */
void gh_ctl_fmt_time(long long t, char buf[32]);

/* "1h30m", "45s", "2d3h" for seconds s ("0s" for 0). */
void gh_ctl_fmt_duration(long long s, char buf[32]);

/*
 * Parse a duration: "3600" (seconds), "30m", "1h30m", "2d", "90s".
 * Units d, h, m, s; result 1 s .. 366 d. Returns 0 or GH_E_INVAL.
 */
int gh_ctl_parse_duration(const char *s, long long *out);

/*
 * Parse a start time for --since: a duration meaning "that long before
 * now" ("1h"), a unix time in seconds (more than 9 digits), or ISO-8601
 * "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM|+HHMM]" (local time without a zone).
 * Returns 0 or GH_E_INVAL; *out in unix seconds.
 */
int gh_ctl_parse_since(const char *s, long long now, long long *out);

#endif
