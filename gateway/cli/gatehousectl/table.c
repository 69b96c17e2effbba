/* table.c - aligned tables and the time/duration formats of gatehousectl. */
#include "table.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest duration anyone types: a year (grants are far shorter). */
#define GH_CTL_DURATION_MAX (366LL * 86400)

void
gh_ctl_fmt_time(long long t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (localtime_r(&tt, &tm) == NULL ||
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
        snprintf(buf, 32, "%lld", t);
}

void
gh_ctl_fmt_duration(long long s, char buf[32])
{
    static const struct {
        char unit;
        long long secs;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t i, n = 0;

    if (s <= 0) {
        snprintf(buf, 32, "%llds", s);
        return;
    }
    buf[0] = '\0';
    for (i = 0; i < sizeof(units) / sizeof(units[0]) && n < 28; i++) {
        if (s >= units[i].secs) {
            n += (size_t)snprintf(buf + n, 32 - n, "%lld%c", s / units[i].secs,
                                  units[i].unit);
            s %= units[i].secs;
        }
    }
}

/* Replace control bytes (and DEL) so server text cannot move the cursor
 * or change colours. */
static void
gh_ctl_sanitize(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* True when v is an array of strings only (groups, roles). */
static int
gh_ctl_all_strings(json_t *v)
{
    size_t i;
    json_t *e;

    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return 0;
    }
    return 1;
}

/* "a,b,c" from an array of strings; "-" when empty. Caller frees. */
static char *
gh_ctl_join(json_t *v)
{
    size_t i, n = 2;
    json_t *e;
    char *s;

    json_array_foreach(v, i, e) n += strlen(json_string_value(e)) + 1;
    s = gh_alloc(n, 1);
    json_array_foreach(v, i, e)
    {
        if (i > 0)
            strcat(s, ",");
        strcat(s, json_string_value(e));
    }
    if (*s == '\0')
        strcpy(s, "-");
    return s;
}

char *
gh_ctl_cell(json_t *v, enum gh_ctl_fmt fmt)
{
    char buf[32];
    char *s;

    if (v == NULL || json_is_null(v))
        return gh_strdup("-");
    if (json_is_integer(v) && fmt != GH_CTL_TEXT && fmt != GH_CTL_BOOL) {
        long long n = json_integer_value(v);

        if (fmt == GH_CTL_OPTTIME && n == 0)
            return gh_strdup("-");
        if (fmt == GH_CTL_DUR)
            gh_ctl_fmt_duration(n, buf);
        else
            gh_ctl_fmt_time(fmt == GH_CTL_TIME_MS ? n / 1000 : n, buf);
        return gh_strdup(buf);
    }
    if (json_is_boolean(v))
        return gh_strdup(json_is_true(v) ? "yes" : "no");
    if (json_is_string(v)) {
        s = gh_strdup(json_string_value(v));
        if (*s == '\0') {
            free(s);
            return gh_strdup("-");
        }
    } else if (json_is_integer(v)) {
        s = gh_asprintf("%lld", (long long)json_integer_value(v));
    } else if (json_is_array(v) && gh_ctl_all_strings(v)) {
        s = gh_ctl_join(v);
    } else {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

        s = gh_strdup(d ? d : "?");
        free(d);
    }
    gh_ctl_sanitize(s);
    return s;
}

/* One cell padded to width, or the last one of its row and a newline. */
static void
gh_ctl_put_cell(FILE *f, const char *s, size_t width, int last)
{
    if (last)
        fprintf(f, "%s\n", s);
    else
        fprintf(f, "%-*s  ", (int)width, s);
}

void
gh_ctl_table_print(FILE *f, const struct gh_ctl_col *cols, size_t ncols,
                   json_t *items)
{
    size_t rows = json_array_size(items), i, j;
    size_t *width = gh_alloc(ncols, sizeof(*width));
    char **cell = gh_alloc(rows * ncols + 1, sizeof(*cell));

    if (rows == 0) {
        fprintf(f, "(none)\n");
        goto out;
    }
    for (j = 0; j < ncols; j++)
        width[j] = strlen(cols[j].title);
    for (i = 0; i < rows; i++) {
        json_t *o = json_array_get(items, i);

        for (j = 0; j < ncols; j++) {
            char *c = gh_ctl_cell(json_object_get(o, cols[j].key), cols[j].fmt);

            if (strlen(c) > GH_CTL_CELL_MAX)
                strcpy(c + GH_CTL_CELL_MAX - 3, "...");
            cell[i * ncols + j] = c;
            if (strlen(c) > width[j])
                width[j] = strlen(c);
        }
    }
    for (j = 0; j < ncols; j++)
        gh_ctl_put_cell(f, cols[j].title, width[j], j + 1 == ncols);
    for (i = 0; i < rows; i++)
        for (j = 0; j < ncols; j++)
            gh_ctl_put_cell(f, cell[i * ncols + j], width[j], j + 1 == ncols);
out:
    for (i = 0; i < rows * ncols; i++)
        free(cell[i]);
    free(cell);
    free(width);
}

void
gh_ctl_kv_print(FILE *f, const struct gh_ctl_col *cols, size_t ncols,
                json_t *obj)
{
    size_t j, w = 0;

    for (j = 0; j < ncols; j++)
        if (strlen(cols[j].title) > w)
            w = strlen(cols[j].title);
    for (j = 0; j < ncols; j++) {
        json_t *v = json_object_get(obj, cols[j].key);
        char *c;

        if (v == NULL)
            continue;
        c = gh_ctl_cell(v, cols[j].fmt);
        fprintf(f, "%-*s  %s\n", (int)w + 1, cols[j].title, c);
        free(c);
    }
}

int
gh_ctl_parse_duration(const char *s, long long *out)
{
    long long total = 0, n;
    const char *p = s;
    char *end;

    *out = 0;
    if (s == NULL || *s == '\0')
        return GH_E_INVAL;
    while (*p != '\0') {
        if (!isdigit((unsigned char)*p))
            return GH_E_INVAL;
        errno = 0;
        n = strtoll(p, &end, 10);
        if (errno != 0 || n > GH_CTL_DURATION_MAX)
            return GH_E_INVAL;
        switch (*end) {
        case 'd':
            n *= 86400;
            break;
        case 'h':
            n *= 3600;
            break;
        case 'm':
            n *= 60;
            break;
        case 's':
            break;
        case '\0':
            if (p != s) /* "1h30" is ambiguous */
                return GH_E_INVAL;
            end--; /* a bare number is seconds */
            break;
        default:
            return GH_E_INVAL;
        }
        total += n;
        if (total > GH_CTL_DURATION_MAX)
            return GH_E_INVAL;
        p = end + 1;
    }
    if (total <= 0)
        return GH_E_INVAL;
    *out = total;
    return 0;
}

/* Parse exactly n digits at *p into *v, advancing *p. */
static int
gh_ctl_digits(const char **p, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return GH_E_INVAL;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return 0;
}

/* ISO-8601 date, optional time, optional zone. */
static int
gh_ctl_parse_iso(const char *s, long long *out)
{
    struct tm tm;
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, zh, zm, sign;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (gh_ctl_digits(&p, 4, &y) || *p++ != '-' || gh_ctl_digits(&p, 2, &mo) ||
        *p++ != '-' || gh_ctl_digits(&p, 2, &d))
        return GH_E_INVAL;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (gh_ctl_digits(&p, 2, &h) || *p++ != ':' ||
            gh_ctl_digits(&p, 2, &mi))
            return GH_E_INVAL;
        if (*p == ':') {
            p++;
            if (gh_ctl_digits(&p, 2, &sec))
                return GH_E_INVAL;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return GH_E_INVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    if (*p == '\0') {
        tm.tm_isdst = -1;
        t = mktime(&tm);
        if (t == (time_t)-1)
            return GH_E_INVAL;
        *out = (long long)t;
        return 0;
    }
    t = timegm(&tm);
    if (*p == 'Z' && p[1] == '\0') {
        *out = (long long)t;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return GH_E_INVAL;
    sign = *p++ == '-' ? -1 : 1;
    if (gh_ctl_digits(&p, 2, &zh))
        return GH_E_INVAL;
    if (*p == ':')
        p++;
    if (gh_ctl_digits(&p, 2, &zm) || *p != '\0' || zh > 23 || zm > 59)
        return GH_E_INVAL;
    *out = (long long)t - sign * (zh * 3600LL + zm * 60LL);
    return 0;
}

int
gh_ctl_parse_since(const char *s, long long now, long long *out)
{
    long long d;
    size_t i, n;

    *out = 0;
    if (s == NULL || *s == '\0')
        return GH_E_INVAL;
    n = strlen(s);
    for (i = 0; i < n && isdigit((unsigned char)s[i]); i++)
        ;
    if (i == n && n > 9 && n < 19) {
        *out = strtoll(s, NULL, 10);
        return 0;
    }
    if (gh_ctl_parse_iso(s, out) == 0)
        return 0;
    if (gh_ctl_parse_duration(s, &d) == 0) {
        *out = now - d;
        return 0;
    }
    return GH_E_INVAL;
}
