/* config.c - the key table, INI parsing (inih), checks, dump and reload. */
#include "config.h"
#include "tls.h"
#include "config-target.h"

#include "gatehouse/err.h"
#include "gatehouse/fsutil.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef GH_DEFAULT_WEB_ROOT
#define GH_DEFAULT_WEB_ROOT "web"
#endif

#define GH_CFG_NONEMPTY 0x8 /* "" is not allowed */

#define F(field) offsetof(struct gh_config, field)
/* clang-format off */
const struct gh_config_key gh_config_keys[] = {
    {"server", "listen_address", GH_CFGT_ADDR, GH_CFG_STARTUP | GH_CFG_NONEMPTY,
     "127.0.0.1", 0, 0, F(listen_address),
     "Numeric IPv4 or IPv6 address to listen on (no DNS at start-up)."},
    {"server", "port", GH_CFGT_INT, GH_CFG_STARTUP, "8443", 0, 65535, F(port),
     "TCP port for HTTPS and WSS; 0 picks a free port (tests), logged at "
     "start."},
    {"server", "public_url", GH_CFGT_URL, GH_CFG_STARTUP, "", 0, 0,
     F(public_url),
     "The https:// URL users reach the gateway at; empty = derived from "
     "listen_address and port."},
    {"server", "data_dir", GH_CFGT_PATH, GH_CFG_STARTUP | GH_CFG_NONEMPTY,
     "gatehouse-data", 0, 0, F(data_dir),
     "Directory for the database, generated certificate and recordings; "
     "created with mode 0700."},
    {"server", "web_root", GH_CFGT_PATH, GH_CFG_STARTUP | GH_CFG_NONEMPTY,
     GH_DEFAULT_WEB_ROOT, 0, 0, F(web_root),
     "Directory of the web client's static files."},
    {"server", "max_connections", GH_CFGT_INT, GH_CFG_STARTUP, "4096", 16,
     1000000, F(max_connections),
     "Most open client connections; the file-descriptor limit is raised to "
     "fit. Bounds memory: each idle TLS connection costs tens of KiB."},
    {"tls", "cert_file", GH_CFGT_PATH, GH_CFG_STARTUP, "", 0, 0,
     F(tls_cert_file),
     "PEM certificate chain; empty = a self-signed one generated in "
     "data_dir on first start."},
    {"tls", "key_file", GH_CFGT_PATH, GH_CFG_STARTUP, "", 0, 0,
     F(tls_key_file), "PEM private key matching cert_file."},
    {"http", "hsts_max_age", GH_CFGT_INT, GH_CFG_RELOADABLE, "31536000", 0,
     63072000, F(hsts_max_age),
     "Strict-Transport-Security max-age in seconds (0 disables HSTS)."},
    {"log", "level", GH_CFGT_LEVEL, GH_CFG_RELOADABLE, "info", 0, 0,
     F(log_level), "error, warn, info, debug or trace."},
    {"store", "busy_timeout_ms", GH_CFGT_INT, GH_CFG_STARTUP, "5000", 0,
     60000, F(store_busy_timeout_ms),
     "How long a database call waits for a lock before failing."},
    {"oidc", "issuer", GH_CFGT_ISSUER, GH_CFG_STARTUP, "", 0, 0,
     F(oidc_issuer),
     "OpenID Connect issuer URL (https://; http:// only on loopback, for "
     "tests). Empty = nobody can sign in."},
    {"oidc", "client_id", GH_CFGT_STRING, GH_CFG_STARTUP, "gatehouse-web", 0,
     0, F(oidc_client_id), "Client id of the gateway's browser client."},
    {"oidc", "client_secret", GH_CFGT_STRING, GH_CFG_STARTUP | GH_CFG_SECRET,
     "", 0, 0, F(oidc_client_secret),
     "Client secret; prefer client_secret_file."},
    {"oidc", "client_secret_file", GH_CFGT_PATH, GH_CFG_STARTUP, "", 0, 0,
     F(oidc_client_secret_file),
     "File holding the client secret (first line)."},
    {"oidc", "audience", GH_CFGT_STRING, GH_CFG_STARTUP, "gatehouse", 0, 0,
     F(oidc_audience), "Required aud of bearer access tokens (CLIs)."},
    {"oidc", "scopes", GH_CFGT_STRING, GH_CFG_STARTUP,
     "openid email profile groups", 0, 0, F(oidc_scopes),
     "Scopes asked for at sign-in (browser and CLIs)."},
    {"oidc", "cli_client_id", GH_CFGT_STRING,
     GH_CFG_STARTUP | GH_CFG_NONEMPTY, "gatehouse-cli", 0, 0,
     F(oidc_cli_client_id),
     "Public client (device authorization grant) the CLIs sign in with; "
     "GET /api/v1/auth/cli tells them."},
    {"oidc", "cli_resource", GH_CFGT_STRING, GH_CFG_STARTUP, "", 0, 0,
     F(oidc_cli_resource),
     "Resource indicator (RFC 8707, an absolute URI) the CLIs send so the "
     "IdP issues access tokens for audience; empty = none sent."},
    {"oidc", "user_claim", GH_CFGT_STRING, GH_CFG_STARTUP | GH_CFG_NONEMPTY,
     "sub", 0, 0, F(oidc_user_claim), "Claim that is the user id."},
    {"oidc", "groups_claim", GH_CFGT_STRING, GH_CFG_STARTUP | GH_CFG_NONEMPTY,
     "groups", 0, 0, F(oidc_groups_claim), "Claim holding the groups."},
    {"oidc", "clock_skew", GH_CFGT_INT, GH_CFG_STARTUP, "60", 0, 600,
     F(oidc_clock_skew), "Seconds of clock skew allowed on exp/nbf/iat."},
    {"oidc", "jwks_refresh", GH_CFGT_INT, GH_CFG_STARTUP, "600", 2, 86400,
     F(oidc_jwks_refresh), "Seconds between routine JWKS refreshes."},
    {"oidc", "jwks_min_interval", GH_CFGT_INT, GH_CFG_STARTUP, "30", 1, 3600,
     F(oidc_jwks_min_interval),
     "An unknown kid refreshes the JWKS at most this often (seconds), so "
     "forged kids cannot make the gateway hammer its IdP."},
    {"session", "lifetime", GH_CFGT_INT, GH_CFG_STARTUP, "28800", 5, 604800,
     F(session_lifetime), "Absolute lifetime of a browser session, s."},
    {"session", "idle_timeout", GH_CFGT_INT, GH_CFG_STARTUP, "1800", 2,
     86400, F(session_idle_timeout),
     "A browser session unused this long ends, s."},
    {"roles", "user", GH_CFGT_STRING, GH_CFG_RELOADABLE, "gatehouse-users", 0,
     0, F(roles_user), "Comma-separated groups granting the user role."},
    {"roles", "approver", GH_CFGT_STRING, GH_CFG_RELOADABLE,
     "gatehouse-approvers", 0, 0, F(roles_approver),
     "Groups granting the approver role."},
    {"roles", "auditor", GH_CFGT_STRING, GH_CFG_RELOADABLE,
     "gatehouse-auditors", 0, 0, F(roles_auditor),
     "Groups granting the auditor role."},
    {"roles", "admin", GH_CFGT_STRING, GH_CFG_RELOADABLE, "gatehouse-admins",
     0, 0, F(roles_admin), "Groups granting the admin role."},
    {"jit", "pending_ttl", GH_CFGT_INT, GH_CFG_RELOADABLE, "3600", 1, 604800,
     F(jit_pending_ttl),
     "A request nobody decided within this many seconds expires."},
    {"sessions", "worker", GH_CFGT_PATH, GH_CFG_STARTUP | GH_CFG_NONEMPTY,
     GH_DEFAULT_WORKER, 0, 0, F(sessions_worker),
     "The per-session worker program (gatehouse-worker)."},
    {"sessions", "worker_user", GH_CFGT_STRING, GH_CFG_STARTUP, "nobody", 0,
     0, F(sessions_worker_user),
     "When gatehoused runs as root, workers run as this user."},
    {"sessions", "max", GH_CFGT_INT, GH_CFG_RELOADABLE, "1000", 1, 100000,
     F(sessions_max),
     "Most live sessions at once: each costs a worker process (a few MiB), "
     "so this bounds the gateway's memory."},
    {"sessions", "recordings_dir", GH_CFGT_PATH, GH_CFG_STARTUP, "", 0, 0,
     F(sessions_recordings_dir),
     "Where recordings are written (mode 0700); empty = "
     "data_dir/recordings."},
    {NULL, NULL, GH_CFGT_STRING, 0, NULL, 0, 0, 0, NULL},
};
/* clang-format on */
#undef F

size_t
gh_config_nkeys(void)
{
    size_t n = 0;

    while (gh_config_keys[n].name != NULL)
        n++;
    return n;
}

/* Where each key's value came from, for messages. */
struct gh_cfg_origin {
    const char *where; /* file name, "command line" or "default" */
    int line;          /* 0 when not from a file */
};

struct gh_cfg_parse {
    struct gh_config *cfg;
    struct gh_cfg_origin *origin; /* one per key */
    struct gh_config_err *err;
    const char *file;
    FILE *fp;
    int line; /* line the reader returned last */
    bool too_long;
    bool failed;
    struct gh_target_parse *targets;
};

static void gh_cfg_errf(struct gh_config_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
gh_cfg_errf(struct gh_config_err *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
}

static char **
gh_cfg_strp(struct gh_config *cfg, const struct gh_config_key *k)
{
    return (char **)(void *)((char *)cfg + k->offset);
}

static long *
gh_cfg_longp(struct gh_config *cfg, const struct gh_config_key *k)
{
    return (long *)(void *)((char *)cfg + k->offset);
}

static bool
gh_cfg_is_string(enum gh_cfg_type t)
{
    return t == GH_CFGT_STRING || t == GH_CFGT_PATH || t == GH_CFGT_ADDR ||
           t == GH_CFGT_URL || t == GH_CFGT_ISSUER;
}

/* True when s has a byte below 0x20 or 0x7f: never valid in a value. */
static bool
gh_cfg_has_ctl(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/*
 * Parse text for key k into cfg. On error writes the reason (without the
 * origin) into why and returns GH_E_CONFIG.
 */
static int
gh_cfg_parse_value(struct gh_config *cfg, const struct gh_config_key *k,
                   const char *text, char *why, size_t whylen)
{
    if (gh_cfg_has_ctl(text)) {
        snprintf(why, whylen, "value contains a control character");
        return GH_E_CONFIG;
    }
    if ((k->flags & GH_CFG_NONEMPTY) && *text == '\0') {
        snprintf(why, whylen, "must not be empty");
        return GH_E_CONFIG;
    }
    switch (k->type) {
    case GH_CFGT_ADDR: {
        unsigned char buf[sizeof(struct in6_addr)];

        if (inet_pton(AF_INET, text, buf) != 1 &&
            inet_pton(AF_INET6, text, buf) != 1) {
            snprintf(why, whylen, "%s is not a numeric IPv4 or IPv6 address",
                     gh_q(text));
            return GH_E_CONFIG;
        }
        break;
    }
    case GH_CFGT_URL:
        if (*text != '\0' &&
            (strncmp(text, "https://", 8) != 0 || text[8] == '\0' ||
             text[8] == '/' || strpbrk(text, " \"'<>\\") != NULL)) {
            snprintf(why, whylen, "%s is not an absolute https:// URL",
                     gh_q(text));
            return GH_E_CONFIG;
        }
        break;
    case GH_CFGT_ISSUER:
        if (*text != '\0' && strncmp(text, "https://", 8) != 0 &&
            strncmp(text, "http://127.0.0.1:", 17) != 0 &&
            strncmp(text, "http://localhost:", 17) != 0 &&
            strncmp(text, "http://[::1]:", 13) != 0) {
            snprintf(why, whylen,
                     "%s is not an https:// URL (http:// only on loopback)",
                     gh_q(text));
            return GH_E_CONFIG;
        }
        break;
    case GH_CFGT_STRING:
    case GH_CFGT_PATH:
        break;
    case GH_CFGT_INT: {
        char *end;
        long v;

        errno = 0;
        v = strtol(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno != 0 || v < k->min ||
            v > k->max) {
            snprintf(why, whylen, "%s is not a whole number from %ld to %ld",
                     gh_q(text), k->min, k->max);
            return GH_E_CONFIG;
        }
        *gh_cfg_longp(cfg, k) = v;
        return 0;
    }
    case GH_CFGT_BOOL: {
        static const char *const yes[] = {"yes", "true", "on", "1"};
        static const char *const no[] = {"no", "false", "off", "0"};
        size_t i;

        for (i = 0; i < 4; i++) {
            if (strcmp(text, yes[i]) == 0) {
                *gh_cfg_longp(cfg, k) = 1;
                return 0;
            }
            if (strcmp(text, no[i]) == 0) {
                *gh_cfg_longp(cfg, k) = 0;
                return 0;
            }
        }
        snprintf(why, whylen, "%s is not yes or no", gh_q(text));
        return GH_E_CONFIG;
    }
    case GH_CFGT_LEVEL: {
        enum gh_log_level lv;

        if (gh_log_level_parse(text, &lv) != 0) {
            snprintf(why, whylen,
                     "%s is not a log level (error, warn, info, debug, trace)",
                     gh_q(text));
            return GH_E_CONFIG;
        }
        *gh_cfg_longp(cfg, k) = (long)lv;
        return 0;
    }
    }
    /* String types: replace the owned copy. */
    free(*gh_cfg_strp(cfg, k));
    *gh_cfg_strp(cfg, k) = gh_strdup(text);
    return 0;
}

static const struct gh_config_key *
gh_cfg_find(const char *section, const char *name, size_t *idx)
{
    size_t i;

    for (i = 0; gh_config_keys[i].name != NULL; i++) {
        if (strcmp(gh_config_keys[i].section, section) == 0 &&
            strcmp(gh_config_keys[i].name, name) == 0) {
            *idx = i;
            return &gh_config_keys[i];
        }
    }
    return NULL;
}

/*
 * fgets-style reader for inih that counts lines and spots long ones. A line
 * is its content without the newline; more than GH_CONFIG_LINE_MAX bytes
 * of content is an error (inih's buffer is sized to hold exactly that).
 */
static char *
gh_cfg_reader(char *str, int num, void *stream)
{
    struct gh_cfg_parse *p = stream;
    int c, n = 0, content;

    if (num <= 1)
        return NULL;
    while ((c = getc(p->fp)) != EOF) {
        if (n < num - 1)
            str[n] = (char)c;
        n++;
        if (c == '\n')
            break;
        if (c == '\0' && !p->failed) {
            p->failed = true;
            gh_cfg_errf(p->err, "%s:%d: the file contains a NUL byte", p->file,
                        p->line + 1);
        }
    }
    if (n == 0)
        return NULL;
    p->line++;
    content = n - (c == '\n' ? 1 : 0);
    if (content > GH_CONFIG_LINE_MAX || n > num - 1) {
        if (!p->failed) {
            p->failed = true;
            p->too_long = true;
            gh_cfg_errf(p->err, "%s:%d: line longer than %d bytes", p->file,
                        p->line, GH_CONFIG_LINE_MAX);
        }
        /* Return a harmless comment so inih keeps its line count. */
        strcpy(str, "#\n");
        return str;
    }
    str[n] = '\0';
    return str;
}

static int
gh_cfg_handler(void *user, const char *section, const char *name,
               const char *value)
{
    struct gh_cfg_parse *p = user;
    const struct gh_config_key *k;
    char why[GH_CONFIG_ERR_MAX / 2];
    size_t idx;

    if (p->failed)
        return 0;
    if (strncmp(section, GH_TARGET_SECTION, strlen(GH_TARGET_SECTION)) == 0) {
        if (gh_target_parse_key(p->targets, section, name, value, p->line, why,
                                sizeof(why)) != 0) {
            p->failed = true;
            gh_cfg_errf(p->err, "%s:%d: %s.%s: %s", p->file, p->line, section,
                        name, why);
            return 0;
        }
        return 1;
    }
    gh_target_parse_note_section(p->targets, section);
    k = gh_cfg_find(section, name, &idx);
    if (k == NULL) {
        p->failed = true;
        if (*section == '\0')
            gh_cfg_errf(p->err, "%s:%d: %s: key outside any [section]", p->file,
                        p->line, name);
        else
            gh_cfg_errf(p->err, "%s:%d: %s.%s: unknown key", p->file, p->line,
                        section, name);
        return 0;
    }
    if (p->origin[idx].line != 0) {
        p->failed = true;
        gh_cfg_errf(p->err, "%s:%d: %s.%s: set twice (first on line %d)",
                    p->file, p->line, section, name, p->origin[idx].line);
        return 0;
    }
    if (gh_cfg_parse_value(p->cfg, k, value, why, sizeof(why)) != 0) {
        p->failed = true;
        gh_cfg_errf(p->err, "%s:%d: %s.%s: %s", p->file, p->line, section, name,
                    why);
        return 0;
    }
    p->origin[idx].where = p->file;
    p->origin[idx].line = p->line;
    return 1;
}

static int
gh_cfg_parse_file(struct gh_cfg_parse *p, const char *file)
{
    struct stat st;
    int r;

    p->file = file;
    p->fp = fopen(file, "re");
    if (p->fp == NULL) {
        gh_cfg_errf(p->err, "%s: cannot open configuration file: %s", file,
                    strerror(errno));
        return GH_E_CONFIG;
    }
    if (fstat(fileno(p->fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        gh_cfg_errf(p->err, "%s: not a regular file", file);
        fclose(p->fp);
        return GH_E_CONFIG;
    }
    if (st.st_size > GH_CONFIG_FILE_MAX) {
        gh_cfg_errf(p->err, "%s: larger than %d bytes", file,
                    GH_CONFIG_FILE_MAX);
        fclose(p->fp);
        return GH_E_CONFIG;
    }
    /* Debian's libinih exposes its build options as variables. */
    ini_use_stack = false;
    ini_allow_realloc = false;
    /* Content + newline + NUL, with a byte to spare. */
    ini_initial_alloc = GH_CONFIG_LINE_MAX + 3;
    ini_max_line = GH_CONFIG_LINE_MAX + 3;
    ini_allow_multiline = false;
    ini_stop_on_first_error = true;
    r = ini_parse_stream(gh_cfg_reader, p, gh_cfg_handler, p);
    fclose(p->fp);
    p->fp = NULL;
    if (r == 0 && !p->failed)
        return 0;
    if (!p->failed) {
        if (r > 0)
            gh_cfg_errf(p->err,
                        "%s:%d: syntax error (expected [section] or "
                        "key = value)",
                        file, r);
        else
            gh_cfg_errf(p->err, "%s: cannot parse (%d)", file, r);
    }
    return GH_E_CONFIG;
}

static int
gh_cfg_override(struct gh_cfg_parse *p, const char *o)
{
    const struct gh_config_key *k;
    const char *eq = strchr(o, '='), *dot;
    char section[64], name[64], why[GH_CONFIG_ERR_MAX / 2];
    size_t idx, sl, nl;

    dot = strchr(o, '.');
    if (eq == NULL || dot == NULL || dot > eq) {
        gh_cfg_errf(p->err, "command line: -o %s: expected section.key=value",
                    gh_q(o));
        return GH_E_CONFIG;
    }
    sl = (size_t)(dot - o);
    nl = (size_t)(eq - dot - 1);
    if (sl >= sizeof(section) || nl >= sizeof(name)) {
        gh_cfg_errf(p->err, "command line: -o: key too long");
        return GH_E_CONFIG;
    }
    memcpy(section, o, sl);
    section[sl] = '\0';
    memcpy(name, dot + 1, nl);
    name[nl] = '\0';
    k = gh_cfg_find(section, name, &idx);
    if (k == NULL) {
        gh_cfg_errf(p->err, "command line: -o %s.%s: unknown key", section,
                    name);
        return GH_E_CONFIG;
    }
    if (gh_cfg_parse_value(p->cfg, k, eq + 1, why, sizeof(why)) != 0) {
        gh_cfg_errf(p->err, "command line: -o %s.%s: %s", section, name, why);
        return GH_E_CONFIG;
    }
    p->origin[idx].where = "command line";
    p->origin[idx].line = 0;
    return 0;
}

/* "FILE:LINE: section.key" or "default: section.key" for key index i. */
static void
gh_cfg_origin_text(const struct gh_cfg_parse *p, size_t i, char *buf,
                   size_t len)
{
    const struct gh_config_key *k = &gh_config_keys[i];

    if (p->origin[i].line > 0)
        snprintf(buf, len, "%s:%d: %s.%s", p->origin[i].where,
                 p->origin[i].line, k->section, k->name);
    else
        snprintf(buf, len, "%s: %s.%s", p->origin[i].where, k->section,
                 k->name);
}

static size_t
gh_cfg_index_of(size_t offset)
{
    size_t i;

    for (i = 0; gh_config_keys[i].name != NULL; i++)
        if (gh_config_keys[i].offset == offset)
            return i;
    return 0;
}

/* Checks that look at the file system. */
static int
gh_cfg_check_fs(struct gh_cfg_parse *p)
{
    struct gh_config *c = p->cfg;
    char where[512], why[512];
    const char *w;
    struct stat st;
    size_t i;

    i = gh_cfg_index_of(offsetof(struct gh_config, data_dir));
    if (gh_dir_check_writable(c->data_dir, &w) != 0) {
        gh_cfg_origin_text(p, i, where, sizeof(where));
        gh_cfg_errf(p->err, "%s: data directory %s %s: %s", where,
                    gh_q(c->data_dir), w, strerror(errno));
        return GH_E_CONFIG;
    }
    i = gh_cfg_index_of(offsetof(struct gh_config, web_root));
    if (stat(c->web_root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        gh_cfg_origin_text(p, i, where, sizeof(where));
        gh_cfg_errf(p->err, "%s: web root %s is not a readable directory",
                    where, gh_q(c->web_root));
        return GH_E_CONFIG;
    }
    if ((*c->tls_cert_file == '\0') != (*c->tls_key_file == '\0')) {
        i = gh_cfg_index_of(*c->tls_cert_file == '\0'
                                ? offsetof(struct gh_config, tls_key_file)
                                : offsetof(struct gh_config, tls_cert_file));
        gh_cfg_origin_text(p, i, where, sizeof(where));
        gh_cfg_errf(p->err,
                    "%s: tls.cert_file and tls.key_file must be set together",
                    where);
        return GH_E_CONFIG;
    }
    if (*c->oidc_client_secret != '\0' && *c->oidc_client_secret_file != '\0') {
        i = gh_cfg_index_of(
            offsetof(struct gh_config, oidc_client_secret_file));
        gh_cfg_origin_text(p, i, where, sizeof(where));
        gh_cfg_errf(p->err,
                    "%s: set oidc.client_secret or oidc.client_secret_file, "
                    "not both",
                    where);
        return GH_E_CONFIG;
    }
    if (*c->oidc_client_secret_file != '\0') {
        char *sec = NULL;
        size_t n = 0;

        i = gh_cfg_index_of(
            offsetof(struct gh_config, oidc_client_secret_file));
        if (gh_file_read(c->oidc_client_secret_file, 4096, &sec, &n) != 0) {
            gh_cfg_origin_text(p, i, where, sizeof(where));
            gh_cfg_errf(p->err, "%s: cannot read %s: %s", where,
                        gh_q(c->oidc_client_secret_file), strerror(errno));
            return GH_E_CONFIG;
        }
        sec[strcspn(sec, "\r\n")] = '\0';
        free(c->oidc_client_secret);
        c->oidc_client_secret = gh_strdup(sec);
        gh_freezero(sec, n);
    }
    if (*c->tls_cert_file != '\0') {
        int which = 0;

        if (gh_tls_check_pair(c->tls_cert_file, c->tls_key_file, &which, why,
                              sizeof(why)) != 0) {
            i = gh_cfg_index_of(which == 0
                                    ? offsetof(struct gh_config, tls_cert_file)
                                    : offsetof(struct gh_config, tls_key_file));
            gh_cfg_origin_text(p, i, where, sizeof(where));
            gh_cfg_errf(p->err, "%s: %s", where, why);
            return GH_E_CONFIG;
        }
    }
    return 0;
}

static int
gh_cfg_load(const char *file, const char *const *overrides, size_t n,
            bool check_fs, struct gh_config **out, struct gh_config_err *err)
{
    struct gh_cfg_parse p;
    size_t nkeys = gh_config_nkeys(), i;
    char why[GH_CONFIG_ERR_MAX / 2];
    int r = GH_E_CONFIG;

    memset(&p, 0, sizeof(p));
    memset(err, 0, sizeof(*err));
    p.cfg = gh_alloc(1, sizeof(*p.cfg));
    p.origin = gh_alloc(nkeys, sizeof(*p.origin));
    p.err = err;
    for (i = 0; i < nkeys; i++) {
        const struct gh_config_key *k = &gh_config_keys[i];

        if (gh_cfg_is_string(k->type))
            *gh_cfg_strp(p.cfg, k) = gh_strdup("");
        if (gh_cfg_parse_value(p.cfg, k, k->def, why, sizeof(why)) != 0) {
            gh_cfg_errf(err, "default: %s.%s: %s", k->section, k->name, why);
            goto out;
        }
        p.origin[i].where = "default";
    }
    p.cfg->file = gh_strdup(file ? file : "");
    p.targets = gh_target_parse_new();
    if (file != NULL && gh_cfg_parse_file(&p, file) != 0)
        goto out;
    if (gh_target_parse_finish(p.targets, file ? file : "-", err->text,
                               sizeof(err->text), &p.cfg->targets,
                               &p.cfg->ntargets) != 0)
        goto out;
    for (i = 0; i < n; i++)
        if (gh_cfg_override(&p, overrides[i]) != 0)
            goto out;
    if (check_fs && gh_cfg_check_fs(&p) != 0)
        goto out;
    *out = p.cfg;
    p.cfg = NULL;
    r = 0;
out:
    gh_config_free(p.cfg);
    gh_target_parse_free(p.targets);
    free(p.origin);
    return r;
}

int
gh_config_load(const char *file, const char *const *overrides, size_t n,
               struct gh_config **out, struct gh_config_err *err)
{
    return gh_cfg_load(file, overrides, n, true, out, err);
}

int
gh_config_load_nocheck(const char *file, const char *const *overrides, size_t n,
                       struct gh_config **out, struct gh_config_err *err)
{
    return gh_cfg_load(file, overrides, n, false, out, err);
}

void
gh_config_free(struct gh_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; gh_config_keys[i].name != NULL; i++) {
        const struct gh_config_key *k = &gh_config_keys[i];

        if (gh_cfg_is_string(k->type)) {
            char **sp = gh_cfg_strp(cfg, k);

            if (*sp != NULL && (k->flags & GH_CFG_SECRET))
                gh_wipe(*sp, strlen(*sp));
            free(*sp);
        }
    }
    gh_targets_free(cfg->targets, cfg->ntargets);
    free(cfg->file);
    free(cfg);
}

void
gh_config_dump_table(const struct gh_config_key *table, size_t nkeys,
                     const void *values, FILE *f)
{
    const char *section = NULL;
    size_t i;

    for (i = 0; i < nkeys; i++) {
        const struct gh_config_key *k = &table[i];
        const char *field = (const char *)values + k->offset;

        if (section == NULL || strcmp(section, k->section) != 0) {
            fprintf(f, "%s[%s]\n", section ? "\n" : "", k->section);
            section = k->section;
        }
        if (gh_cfg_is_string(k->type)) {
            const char *v = *(char *const *)(const void *)field;

            if ((k->flags & GH_CFG_SECRET) && *v != '\0')
                v = "********";
            fprintf(f, "%s = %s\n", k->name, v);
        } else if (k->type == GH_CFGT_LEVEL) {
            fprintf(f, "%s = %s\n", k->name,
                    gh_log_level_name((enum gh_log_level) *
                                      (const long *)(const void *)field));
        } else if (k->type == GH_CFGT_BOOL) {
            fprintf(f, "%s = %s\n", k->name,
                    *(const long *)(const void *)field ? "yes" : "no");
        } else {
            fprintf(f, "%s = %ld\n", k->name,
                    *(const long *)(const void *)field);
        }
    }
}

void
gh_config_dump(const struct gh_config *cfg, FILE *f)
{
    gh_config_dump_table(gh_config_keys, gh_config_nkeys(), cfg, f);
    gh_targets_dump(cfg->targets, cfg->ntargets, f);
}

int
gh_config_apply_reload(struct gh_config *running, struct gh_config *fresh)
{
    struct gh_target **tv;
    int applied = 0;
    size_t i, tn;

    /* Targets are reloadable as a whole: swap the lists. */
    tv = running->targets;
    tn = running->ntargets;
    running->targets = fresh->targets;
    running->ntargets = fresh->ntargets;
    fresh->targets = tv;
    fresh->ntargets = tn;
    if (running->ntargets != tn)
        applied++;
    gh_info("config", "msg=\"targets loaded\" count=%zu", running->ntargets);

    for (i = 0; gh_config_keys[i].name != NULL; i++) {
        const struct gh_config_key *k = &gh_config_keys[i];
        bool changed;

        if (gh_cfg_is_string(k->type))
            changed = strcmp(*gh_cfg_strp(running, k),
                             *gh_cfg_strp((struct gh_config *)fresh, k)) != 0;
        else
            changed = *gh_cfg_longp(running, k) !=
                      *gh_cfg_longp((struct gh_config *)fresh, k);
        if (!changed)
            continue;
        if (!(k->flags & GH_CFG_RELOADABLE)) {
            gh_warn("config",
                    "msg=\"changed key needs a restart; keeping the running "
                    "value\" key=%s.%s",
                    k->section, k->name);
            continue;
        }
        if (gh_cfg_is_string(k->type)) {
            free(*gh_cfg_strp(running, k));
            *gh_cfg_strp(running, k) =
                gh_strdup(*gh_cfg_strp((struct gh_config *)fresh, k));
        } else {
            *gh_cfg_longp(running, k) =
                *gh_cfg_longp((struct gh_config *)fresh, k);
        }
        gh_info("config", "msg=\"reloaded key\" key=%s.%s", k->section,
                k->name);
        applied++;
    }
    return applied;
}

char *
gh_config_url(const struct gh_config *cfg, int port)
{
    const char *host = cfg->listen_address;
    bool v6 = strchr(host, ':') != NULL;

    if (*cfg->public_url != '\0')
        return gh_strdup(cfg->public_url);
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    return gh_asprintf("https://%s%s%s:%d/", v6 ? "[" : "", host, v6 ? "]" : "",
                       port);
}
