/* tokencache.c - the CLIs' token cache: checked, locked, atomic. */
#include "tokencache.h"
#include "cli-http.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* Between two attempts to take another CLI's lock. */
#define GH_CLI_CACHE_LOCK_POLL_MS 100
/* Random bytes in a temporary file's name (hex-encoded). */
#define GH_CLI_CACHE_TMP_RAND 8

struct gh_cli_cache {
    char *dir;   /* the cache directory */
    char *path;  /* dir/tokens.json, for messages */
    int dfd;     /* the directory, locked; -1 while it does not exist */
    json_t *doc; /* {"version": 1, "servers": {...}} */
};

static void gh_cli_cache_errf(struct gh_cli_cache_err *err, const char *fmt,
                              ...) __attribute__((format(printf, 2, 3)));

static void
gh_cli_cache_errf(struct gh_cli_cache_err *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
}

void
gh_cli_tokens_cleanup(struct gh_cli_tokens *t)
{
    free(t->issuer);
    free(t->token_endpoint);
    free(t->revocation_endpoint);
    free(t->client_id);
    free(t->resource);
    free(t->ca_file);
    free(t->pin);
    gh_cli_strfree(t->access_token);
    gh_cli_strfree(t->refresh_token);
    memset(t, 0, sizeof(*t));
}

char *
gh_cli_cache_dir(void)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    struct passwd *pw;

    /* The XDG base directory spec: a relative value is to be ignored. */
    if (x != NULL && x[0] == '/')
        return gh_asprintf("%s/%s", x, GH_CLI_CACHE_DIR);
    if (home == NULL || home[0] != '/') {
        pw = getpwuid(getuid());
        home = pw != NULL ? pw->pw_dir : NULL;
    }
    if (home == NULL || home[0] != '/')
        return NULL;
    return gh_asprintf("%s/.config/%s", home, GH_CLI_CACHE_DIR);
}

char *
gh_cli_cache_key(const char *server)
{
    char *k = gh_strdup(server);
    size_t n = strlen(k);

    while (n > 0 && k[n - 1] == '/')
        k[--n] = '\0';
    return k;
}

/* mkdir -p with mode 0700 for every directory it makes (the XDG spec's
 * mode for a missing base directory). */
static int
gh_cli_mkdirs(const char *path)
{
    char *p = gh_strdup(path), *s;
    int r = 0;

    for (s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        {
            char c = *s;

            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST)
                r = GH_E_IO;
            *s = c;
        }
        if (r != 0 || *s == '\0')
            break;
    }
    free(p);
    return r;
}

static void
gh_cli_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Open, check and lock the directory; dfd stays -1 when it is missing
 * and create is 0. */
static int
gh_cli_cache_opendir(struct gh_cli_cache *c, int create,
                     struct gh_cli_cache_err *err)
{
    struct stat st;
    long waited = 0;
    int fd;

    if (create && gh_cli_mkdirs(c->dir) != 0) {
        gh_cli_cache_errf(err, "cannot create %s: %s", c->dir, strerror(errno));
        return GH_E_IO;
    }
    fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && !create)
        return 0;
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
        gh_cli_cache_errf(err,
                          "%s is a symbolic link or not a directory: "
                          "refusing it",
                          c->dir);
        return GH_E_PERM;
    }
    if (fd < 0) {
        gh_cli_cache_errf(err, "cannot open %s: %s", c->dir, strerror(errno));
        return GH_E_IO;
    }
    if (fstat(fd, &st) != 0 || st.st_uid != getuid()) {
        gh_cli_cache_errf(err, "%s belongs to another user: refusing it",
                          c->dir);
        close(fd);
        return GH_E_PERM;
    }
    /* Whoever may write the directory may swap the file. */
    if ((st.st_mode & 022) != 0) {
        gh_cli_cache_errf(err,
                          "%s is writable by group or others (mode %04o): "
                          "refusing it; run 'chmod 700 %s'",
                          c->dir, (unsigned)(st.st_mode & 07777), c->dir);
        close(fd);
        return GH_E_PERM;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            gh_cli_cache_errf(err, "cannot lock %s: %s", c->dir,
                              strerror(errno));
            close(fd);
            return GH_E_IO;
        }
        if (waited >= GH_CLI_CACHE_LOCK_WAIT_S * 1000L) {
            gh_cli_cache_errf(err,
                              "%s is locked by another gatehouse program "
                              "for more than %d s",
                              c->dir, GH_CLI_CACHE_LOCK_WAIT_S);
            close(fd);
            return GH_E_IO;
        }
        gh_cli_sleep_ms(GH_CLI_CACHE_LOCK_POLL_MS);
        waited += GH_CLI_CACHE_LOCK_POLL_MS;
    }
    c->dfd = fd;
    return 0;
}

/* Read and check tokens.json; a missing file is an empty cache. */
static int
gh_cli_cache_read(struct gh_cli_cache *c, struct gh_cli_cache_err *err)
{
    struct stat st;
    json_error_t je;
    json_t *servers, *v;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    ssize_t n;
    int fd, r = GH_E_IO;

    fd = openat(c->dfd, GH_CLI_CACHE_FILE,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0 && errno == ELOOP) {
        gh_cli_cache_errf(err, "%s is a symbolic link: refusing it", c->path);
        return GH_E_PERM;
    }
    if (fd < 0) {
        gh_cli_cache_errf(err, "cannot open %s: %s", c->path, strerror(errno));
        return GH_E_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        gh_cli_cache_errf(err, "%s is not a regular file: refusing it",
                          c->path);
        r = GH_E_PERM;
        goto out;
    }
    if (st.st_uid != getuid()) {
        gh_cli_cache_errf(err, "%s belongs to another user: refusing it",
                          c->path);
        r = GH_E_PERM;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        gh_cli_cache_errf(err,
                          "token cache %s is accessible by group or others "
                          "(mode %04o): refusing it; run 'chmod 600 %s'",
                          c->path, (unsigned)(st.st_mode & 07777), c->path);
        r = GH_E_PERM;
        goto out;
    }
    if ((unsigned long long)st.st_size > GH_CLI_CACHE_MAX) {
        gh_cli_cache_errf(err, "%s is larger than %u bytes", c->path,
                          GH_CLI_CACHE_MAX);
        r = GH_E_INVAL;
        goto out;
    }
    cap = (size_t)st.st_size + 1;
    buf = gh_alloc(cap, 1);
    while (len < (size_t)st.st_size) {
        n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            gh_cli_cache_errf(err, "cannot read %s: %s", c->path,
                              strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        gh_cli_cache_errf(err,
                          "%s is not valid JSON (line %d): fix or "
                          "remove it",
                          c->path, je.line);
        r = GH_E_INVAL;
        goto out;
    }
    json_decref(c->doc);
    c->doc = v;
    servers = json_object_get(v, "servers");
    if (!json_is_object(v) || !json_is_integer(json_object_get(v, "version")) ||
        json_integer_value(json_object_get(v, "version")) < 1 ||
        !json_is_object(servers)) {
        gh_cli_cache_errf(err,
                          "%s is not a Gatehouse token cache: fix or "
                          "remove it",
                          c->path);
        r = GH_E_INVAL;
        goto out;
    }
    if (json_integer_value(json_object_get(v, "version")) >
        GH_CLI_CACHE_VERSION) {
        gh_cli_cache_errf(
            err,
            "%s was written by a newer Gatehouse (format "
            "version %lld): refusing to change it",
            c->path,
            (long long)json_integer_value(json_object_get(v, "version")));
        r = GH_E_INVAL;
        goto out;
    }
    if (json_object_size(servers) > GH_CLI_CACHE_SERVERS_MAX) {
        gh_cli_cache_errf(err, "%s holds more than %d servers", c->path,
                          GH_CLI_CACHE_SERVERS_MAX);
        r = GH_E_INVAL;
        goto out;
    }
    r = 0;
out:
    if (buf != NULL)
        gh_freezero(buf, cap);
    close(fd);
    return r;
}

int
gh_cli_cache_open(int create, struct gh_cli_cache **out,
                  struct gh_cli_cache_err *err)
{
    struct gh_cli_cache *c;
    int r;

    *out = NULL;
    err->text[0] = '\0';
    c = gh_alloc(1, sizeof(*c));
    c->dfd = -1;
    c->dir = gh_cli_cache_dir();
    if (c->dir == NULL) {
        gh_cli_cache_errf(err, "no home directory: set HOME or "
                               "XDG_CONFIG_HOME");
        gh_cli_cache_close(c);
        return GH_E_IO;
    }
    c->path = gh_asprintf("%s/%s", c->dir, GH_CLI_CACHE_FILE);
    c->doc =
        json_pack("{s:i, s:{}}", "version", GH_CLI_CACHE_VERSION, "servers");
    if (c->doc == NULL)
        abort();
    if ((r = gh_cli_cache_opendir(c, create, err)) != 0 ||
        (c->dfd >= 0 && (r = gh_cli_cache_read(c, err)) != 0)) {
        gh_cli_cache_close(c);
        return r;
    }
    *out = c;
    return 0;
}

void
gh_cli_cache_close(struct gh_cli_cache *c)
{
    if (c == NULL)
        return;
    if (c->dfd >= 0)
        close(c->dfd);   /* releases the lock */
    json_decref(c->doc); /* jansson wipes (gh_cli_init) */
    free(c->dir);
    free(c->path);
    free(c);
}

const char *
gh_cli_cache_path(const struct gh_cli_cache *c)
{
    return c->path;
}

size_t
gh_cli_cache_count(const struct gh_cli_cache *c)
{
    return json_object_size(json_object_get(c->doc, "servers"));
}

const char *
gh_cli_cache_server(const struct gh_cli_cache *c, size_t i)
{
    json_t *servers = json_object_get(c->doc, "servers");
    void *it = json_object_iter(servers);

    while (it != NULL && i-- > 0)
        it = json_object_iter_next(servers, it);
    return it != NULL ? json_object_iter_key(it) : NULL;
}

/* A string member copied, or NULL when absent; GH_E_INVAL when present
 * but not 1..max printable bytes. */
static int
gh_cli_cache_str(json_t *o, const char *key, size_t max, char **out)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!gh_cli_printable(json_string_value(v), max))
        return GH_E_INVAL;
    *out = gh_strdup(json_string_value(v));
    return 0;
}

int
gh_cli_cache_get(const struct gh_cli_cache *c, const char *server,
                 struct gh_cli_tokens *out)
{
    char *key = gh_cli_cache_key(server);
    json_t *e = json_object_get(json_object_get(c->doc, "servers"), key);
    json_t *exp = json_object_get(e, "expires_at");
    int r;

    memset(out, 0, sizeof(*out));
    free(key);
    if (e == NULL)
        return GH_E_NOTFOUND;
    if (!json_is_object(e) || !json_is_integer(exp))
        return GH_E_INVAL;
    out->expires_at = json_integer_value(exp);
    if ((r = gh_cli_cache_str(e, "issuer", GH_CLI_URL_MAX, &out->issuer)) ||
        (r = gh_cli_cache_str(e, "token_endpoint", GH_CLI_URL_MAX,
                              &out->token_endpoint)) ||
        (r = gh_cli_cache_str(e, "revocation_endpoint", GH_CLI_URL_MAX,
                              &out->revocation_endpoint)) ||
        (r = gh_cli_cache_str(e, "client_id", GH_CLI_URL_MAX,
                              &out->client_id)) ||
        (r = gh_cli_cache_str(e, "resource", GH_CLI_URL_MAX, &out->resource)) ||
        (r = gh_cli_cache_str(e, "ca_file", GH_CLI_URL_MAX, &out->ca_file)) ||
        (r = gh_cli_cache_str(e, "pin", GH_CLI_URL_MAX, &out->pin)) ||
        (r = gh_cli_cache_str(e, "access_token", GH_CLI_TOKEN_MAX,
                              &out->access_token)) ||
        (r = gh_cli_cache_str(e, "refresh_token", GH_CLI_TOKEN_MAX,
                              &out->refresh_token)))
        goto fail;
    if (out->issuer == NULL || out->token_endpoint == NULL ||
        out->client_id == NULL || out->access_token == NULL) {
        r = GH_E_INVAL;
        goto fail;
    }
    return 0;
fail:
    gh_cli_tokens_cleanup(out);
    return r;
}

int
gh_cli_cache_put(struct gh_cli_cache *c, const char *server,
                 const struct gh_cli_tokens *t)
{
    json_t *servers = json_object_get(c->doc, "servers");
    char *key = gh_cli_cache_key(server);
    json_t *e;

    if (json_object_get(servers, key) == NULL &&
        json_object_size(servers) >= GH_CLI_CACHE_SERVERS_MAX) {
        free(key);
        return GH_E_TOOBIG;
    }
    e = json_pack("{s:s, s:s, s:s, s:s, s:I}", "issuer", t->issuer,
                  "token_endpoint", t->token_endpoint, "client_id",
                  t->client_id, "access_token", t->access_token, "expires_at",
                  (json_int_t)t->expires_at);
    if (e == NULL)
        abort();
    if (t->refresh_token != NULL)
        json_object_set_new(e, "refresh_token", json_string(t->refresh_token));
    if (t->resource != NULL)
        json_object_set_new(e, "resource", json_string(t->resource));
    if (t->revocation_endpoint != NULL)
        json_object_set_new(e, "revocation_endpoint",
                            json_string(t->revocation_endpoint));
    if (t->ca_file != NULL)
        json_object_set_new(e, "ca_file", json_string(t->ca_file));
    if (t->pin != NULL)
        json_object_set_new(e, "pin", json_string(t->pin));
    /* jansson takes e even when it refuses the key (not UTF-8). */
    if (json_object_set_new(servers, key, e) != 0) {
        free(key);
        return GH_E_INVAL;
    }
    free(key);
    return 0;
}

int
gh_cli_cache_remove(struct gh_cli_cache *c, const char *server)
{
    char *key = gh_cli_cache_key(server);
    int r = json_object_del(json_object_get(c->doc, "servers"), key);

    free(key);
    return r == 0 ? 0 : GH_E_NOTFOUND;
}

/* Write all of len bytes to fd. */
static int
gh_cli_write_all(int fd, const char *p, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return GH_E_IO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
gh_cli_cache_save(struct gh_cli_cache *c, struct gh_cli_cache_err *err)
{
    unsigned char rnd[GH_CLI_CACHE_TMP_RAND];
    char tmp[sizeof(GH_CLI_CACHE_FILE) + 2 * GH_CLI_CACHE_TMP_RAND + 8];
    char *text = NULL;
    size_t i, n;
    int fd = -1, r;

    err->text[0] = '\0';
    if (c->dfd < 0 && (r = gh_cli_cache_opendir(c, 1, err)) != 0)
        return r;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        gh_cli_cache_errf(err, "no random bytes: %s", strerror(errno));
        return GH_E_IO;
    }
    n = (size_t)snprintf(tmp, sizeof(tmp), ".%s.", GH_CLI_CACHE_FILE);
    for (i = 0; i < sizeof(rnd); i++, n += 2)
        snprintf(tmp + n, sizeof(tmp) - n, "%02x", rnd[i]);
    text = json_dumps(c->doc, JSON_INDENT(2));
    if (text == NULL)
        abort();
    r = GH_E_IO;
    fd = openat(c->dfd, tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    /* The umask may have taken bits away, never added: still set it. */
    if (fchmod(fd, 0600) != 0 || gh_cli_write_all(fd, text, strlen(text)) ||
        gh_cli_write_all(fd, "\n", 1) || fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (renameat(c->dfd, tmp, c->dfd, GH_CLI_CACHE_FILE) != 0)
        goto fail;
    /* The rename itself must survive a crash too. */
    (void)fsync(c->dfd);
    gh_cli_strfree(text);
    return 0;
fail:
    gh_cli_cache_errf(err, "cannot write %s: %s", c->path, strerror(errno));
    if (fd >= 0)
        close(fd);
    (void)unlinkat(c->dfd, tmp, 0);
    gh_cli_strfree(text);
    return r;
}
