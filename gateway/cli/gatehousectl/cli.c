/*
 * cli.c - what a Gatehouse CLI verb needs whichever CLI runs it
 * (gatehousectl, gatehouse): messages and usage errors named after the
 * running program, the server URL and TLS trust, the access token (file,
 * environment or token cache), one API call with its refusal in words,
 * and the option parser every verb uses.
 *
 * Exit statuses are those of cli-token.h, documented in GH_CTL_EXIT_HELP.
 */
#include "ctl.h"
#include "cli-http.h"
#include "cli-token.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"
#include "gatehouse/version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

const char gh_ctl_exit_help[] =
    "Exit status: 0 success; 1 the server refused or failed (HTTP 4xx/5xx)\n"
    "or a network/TLS error; 2 usage error (bad option, bad duration,\n"
    "missing argument, unsafe token file or cache, refused server URL);\n"
    "3 not logged in, login expired or refused, or sign-in denied or\n"
    "expired.\n";

/* ---- messages ---- */

int
gh_ctl_usage_error(const struct gh_ctl_verb *v, const char *what)
{
    gh_ctl_err("%s", what);
    if (v != NULL)
        fprintf(stderr, "usage: %s %s\nTry '%s %s%s%s --help'.\n",
                gh_cli_agent(), v->usage, gh_cli_agent(), v->group,
                v->name ? " " : "", v->name ? v->name : "");
    else
        fprintf(stderr, "Try '%s --help'.\n", gh_cli_agent());
    return GH_CTL_EXIT_USAGE;
}

static void
gh_ctl_verb_help(const struct gh_ctl_verb *v)
{
    printf("usage: %s [global options] %s\n\n%s\n%s", gh_cli_agent(), v->usage,
           v->help, gh_ctl_exit_help);
}

/* ---- connection set-up: server URL, TLS, token ---- */

/* Read the first line of a token file that only its owner can read. */
static int
gh_ctl_token_from_file(const char *path, char **out)
{
    struct stat st;
    char *buf = NULL, *nl;
    ssize_t n;
    size_t len = 0;
    int fd, r = GH_CTL_EXIT_USAGE;

    *out = NULL;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        gh_ctl_err("cannot open token file %s: %s", path, strerror(errno));
        return GH_CTL_EXIT_USAGE;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        gh_ctl_err("token file %s is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        gh_ctl_err("token file %s is accessible by group or others (mode "
                   "%04o): refusing it; run 'chmod 600 %s'",
                   path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_uid != getuid() && st.st_uid != 0) {
        gh_ctl_err("token file %s belongs to another user: refusing it", path);
        goto out;
    }
    buf = gh_alloc(GH_CTL_TOKEN_MAX + 2, 1);
    while (len < GH_CTL_TOKEN_MAX + 1) {
        n = read(fd, buf + len, GH_CTL_TOKEN_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            gh_ctl_err("cannot read token file %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if ((nl = memchr(buf, '\n', len)) != NULL)
        *nl = '\0';
    else if (len > GH_CTL_TOKEN_MAX) {
        gh_ctl_err("token file %s: the token is longer than %u bytes", path,
                   GH_CTL_TOKEN_MAX);
        goto out;
    }
    *out = gh_strdup(buf);
    r = 0;
out:
    if (buf != NULL)
        gh_freezero(buf, GH_CTL_TOKEN_MAX + 2);
    close(fd);
    return r;
}

/* Trim the token and check it can only be a token: printable ASCII
 * without spaces, so it cannot split the Authorization header. */
static int
gh_ctl_token_check(char *t)
{
    size_t n = strlen(t), i;

    while (n > 0 && (t[n - 1] == '\r' || t[n - 1] == ' ' || t[n - 1] == '\t'))
        t[--n] = '\0';
    if (n == 0)
        return GH_E_INVAL;
    for (i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return GH_E_INVAL;
    return 0;
}

/* "sha256//BASE64" for libcurl from 64 hex digits or 44 base64 chars. */
static int
gh_ctl_pin_parse(const char *s, char **out)
{
    unsigned char md[32];
    char b64[48];
    size_t i;

    *out = NULL;
    if (strncmp(s, "sha256//", 8) == 0)
        s += 8;
    if (strlen(s) == 44 && s[43] == '=') {
        *out = gh_asprintf("sha256//%s", s);
        return 0;
    }
    if (strlen(s) != 64)
        return GH_E_INVAL;
    for (i = 0; i < 32; i++) {
        unsigned v;

        if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
            strchr("0123456789abcdefABCDEF", s[2 * i]) == NULL ||
            strchr("0123456789abcdefABCDEF", s[2 * i + 1]) == NULL)
            return GH_E_INVAL;
        md[i] = (unsigned char)v;
    }
    if (EVP_EncodeBlock((unsigned char *)b64, md, 32) != 44)
        return GH_E_INVAL;
    *out = gh_asprintf("sha256//%s", b64);
    return 0;
}

int
gh_ctl_tls_once(struct gh_ctl *ctl, const struct gh_ctl_verb *v)
{
    if ((ctl->conn.ca_file != NULL) + (ctl->pin_arg != NULL) +
            ctl->conn.insecure >
        1)
        return gh_ctl_usage_error(v, "use only one of --ca-file, "
                                     "--insecure-pin and --insecure");
    return 0;
}

/* The server URL and how to trust it; prints why not. */
int
gh_ctl_connect(struct gh_ctl *ctl, const char *server)
{
    const char *why;
    size_t n;

    if (server == NULL || *server == '\0')
        return gh_ctl_usage_error(NULL, "no server: use --server URL or set "
                                        "GATEHOUSE_SERVER");
    if (gh_ctl_url_check(server, &why) != 0) {
        gh_ctl_err("%s: %s", server, why);
        return GH_CTL_EXIT_USAGE;
    }
    gh_free(ctl->conn.server);
    gh_free(ctl->conn.pin);
    ctl->conn.server = gh_strdup(server);
    n = strlen(ctl->conn.server);
    while (n > 0 && ctl->conn.server[n - 1] == '/')
        ctl->conn.server[--n] = '\0';
    if (ctl->pin_arg != NULL &&
        gh_ctl_pin_parse(ctl->pin_arg, &ctl->conn.pin) != 0)
        return gh_ctl_usage_error(NULL, "--insecure-pin wants the SHA-256 "
                                        "of the server's public key: 64 hex "
                                        "digits or 44 base64 characters");
    if (ctl->conn.insecure && ctl->conn.pin == NULL)
        fprintf(stderr,
                "%s: warning: --insecure: the server's "
                "certificate is NOT checked; anyone on the path can "
                "read your token\n",
                gh_cli_agent());
    return 0;
}

/* Everything a verb needs before its first call; prints why not. */
int
gh_ctl_ready(struct gh_ctl *ctl)
{
    const char *env = getenv("GATEHOUSE_TOKEN");
    int r;

    if (ctl->token_file == NULL && (env == NULL || *env == '\0')) {
        /* An empty GATEHOUSE_TOKEN is as good as none. */
        unsetenv("GATEHOUSE_TOKEN");
        return gh_ctl_cached_token(ctl);
    }
    if ((r = gh_ctl_connect(ctl, ctl->server_arg)) != 0)
        return r;
    if (ctl->token_file != NULL) {
        if ((r = gh_ctl_token_from_file(ctl->token_file, &ctl->conn.token)))
            return r;
    } else {
        ctl->conn.token = gh_strdup(env);
        /* The environment string is ours to wipe; children never see it. */
        gh_wipe((char *)env, strlen(env));
        unsetenv("GATEHOUSE_TOKEN");
    }
    if (gh_ctl_token_check(ctl->conn.token) != 0) {
        gh_ctl_err("the access token is empty or holds spaces or control "
                   "characters");
        return GH_CTL_EXIT_USAGE;
    }
    return 0;
}

/* ---- one API call ---- */

/* Print the server's error as one line. */
static void
gh_ctl_print_refusal(const struct gh_ctl_resp *resp)
{
    const char *msg = json_string_value(json_object_get(resp->json, "message"));
    const char *code = json_string_value(json_object_get(resp->json, "error"));
    char *m, *c;

    if (msg == NULL && code == NULL) {
        gh_ctl_err("the server answered HTTP %ld", resp->status);
        return;
    }
    m = gh_ctl_cell(json_object_get(resp->json, "message"), GH_CTL_TEXT);
    c = gh_ctl_cell(json_object_get(resp->json, "error"), GH_CTL_TEXT);
    gh_ctl_err("%s (%s)", msg ? m : "refused", code ? c : "error");
    free(m);
    free(c);
}

/* True when the gateway does not know the path at all (as opposed to a
 * 404 about an object, like unknown_target). */
static int
gh_ctl_unknown_path(const struct gh_ctl_resp *resp)
{
    const char *e = json_string_value(json_object_get(resp->json, "error"));

    return resp->status == 404 &&
           (resp->json == NULL || (e != NULL && strcmp(e, "not_found") == 0));
}

/*
 * Call the API. On success *out is the answer's JSON (caller decrefs) and
 * 0 is returned; otherwise the error is printed and 1 returned. *status
 * (may be NULL) gets the HTTP status (0 for none). When the path itself
 * is unknown (404 not_found, or a 404 that is not JSON) and msg404 is not
 * NULL, msg404 is printed instead of the server's words: an older gateway.
 */
int
gh_ctl_api(struct gh_ctl *ctl, const char *method, const char *path,
           json_t *body, json_t **out, long *status, const char *msg404)
{
    struct gh_ctl_resp resp;
    int r;

    *out = NULL;
    if (status != NULL)
        *status = 0;
    r = gh_ctl_http_call(&ctl->conn, method, path, body, &resp);
    if (r != 0) {
        gh_ctl_err("%s", resp.err);
        r = GH_CTL_EXIT_FAIL;
        goto out;
    }
    if (status != NULL)
        *status = resp.status;
    if (msg404 != NULL && gh_ctl_unknown_path(&resp)) {
        gh_ctl_err("%s", msg404);
        r = GH_CTL_EXIT_FAIL;
        goto out;
    }
    if (resp.status < 200 || resp.status > 299) {
        gh_ctl_print_refusal(&resp);
        r = GH_CTL_EXIT_FAIL;
        /* The cached login itself is refused: only signing in again helps
         * (exit 3, as for a tunnel closed with 4401). */
        if (resp.status == 401 && ctl->token_cached) {
            gh_ctl_err("the gateway refused your cached login: run "
                       "%s login --server %s",
                       gh_cli_agent(), ctl->conn.server);
            r = GH_CTL_EXIT_AUTH;
        }
        goto out;
    }
    if (resp.json == NULL) {
        gh_ctl_err("the server's answer is not JSON (HTTP %ld)", resp.status);
        r = GH_CTL_EXIT_FAIL;
        goto out;
    }
    *out = json_incref(resp.json);
    r = 0;
out:
    gh_ctl_resp_cleanup(&resp);
    return r;
}

/* --json output: the server's document, pretty. */
void
gh_ctl_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);

    if (s == NULL)
        abort();
    puts(s);
    free(s);
}

/* After a table: say how to get the next page. */
void
gh_ctl_next_page(json_t *j)
{
    json_int_t next = json_integer_value(json_object_get(j, "next_after"));

    if (next > 0)
        fprintf(stderr, "(more: add --after %lld)\n", (long long)next);
}

/* ---- argument helpers ---- */

/* An object id: 1..18 digits. */
int
gh_ctl_id_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");

    return n > 0 && n <= 18 && s[n] == '\0' && strtoll(s, NULL, 10) > 0;
}

/* A positive count for --limit. */
int
gh_ctl_count_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");

    return n > 0 && n <= 9 && s[n] == '\0';
}

/*
 * Parse a verb's options (only those in allowed, plus --help and --json)
 * and up to want positional arguments (exactly want). Returns -1 after
 * printing help (exit 0), 0 on success, or GH_CTL_EXIT_USAGE.
 */
static int
gh_ctl_parse(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
             char **argv, const struct option *allowed, int want,
             struct gh_ctl_args *a)
{
    struct option opts[16];
    char shorts[32] = "h";
    size_t n = 0, i, ns = 1;
    int c;

    memset(a, 0, sizeof(*a));
    opts[n++] = (struct option){"help", no_argument, NULL, GH_OPT_HELP};
    opts[n++] = (struct option){"json", no_argument, NULL, GH_OPT_JSON};
    for (i = 0; allowed != NULL && allowed[i].name != NULL && n < 15; i++)
        opts[n++] = allowed[i];
    opts[n] = (struct option){NULL, 0, NULL, 0};
    /* An allowed option whose id is a letter also has that short form
     * (-o for --output). */
    for (i = 2; i < n && ns + 2 < sizeof(shorts); i++) {
        if (opts[i].val < 'a' || opts[i].val > 'z')
            continue;
        shorts[ns++] = (char)opts[i].val;
        if (opts[i].has_arg == required_argument)
            shorts[ns++] = ':';
    }
    shorts[ns] = '\0';
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        switch (c) {
        case GH_OPT_HELP:
            gh_ctl_verb_help(v);
            return -1;
        case GH_OPT_JSON:
            ctl->json = 1;
            break;
        case GH_OPT_STATE:
            a->state = optarg;
            break;
        case GH_OPT_USER:
            a->user = optarg;
            break;
        case GH_OPT_TARGET:
            a->target = optarg;
            break;
        case GH_OPT_LIMIT:
            a->limit = optarg;
            if (!gh_ctl_count_ok(optarg))
                return gh_ctl_usage_error(v, "--limit wants a number");
            break;
        case GH_OPT_AFTER:
            a->after = optarg;
            if (!gh_ctl_id_ok(optarg))
                return gh_ctl_usage_error(v, "--after wants an id");
            break;
        case GH_OPT_DURATION:
            a->duration = optarg;
            break;
        case GH_OPT_REASON:
            a->reason = optarg;
            break;
        case GH_OPT_LIVE:
            a->live = 1;
            break;
        case GH_OPT_SINCE:
            a->since = optarg;
            break;
        case GH_OPT_ACTION:
            a->action = optarg;
            break;
        case GH_OPT_PORT:
            a->port = optarg;
            break;
        /* sessions and recordings (verbs-session.c) */
        case GH_OPT_UNTIL:
            a->until = optarg;
            break;
        case GH_OPT_OUTPUT:
            a->output = optarg;
            break;
        case GH_OPT_FORCE:
            a->force = 1;
            break;
        case GH_OPT_SPEED:
            a->speed = optarg;
            break;
        case GH_OPT_IDLE_CAP:
            a->idle_cap = optarg;
            break;
        /* login, logout, status (verbs-login.c) */
        case GH_OPT_SERVER:
            ctl->server_arg = optarg;
            break;
        case GH_OPT_CA_FILE:
            ctl->conn.ca_file = optarg;
            break;
        case GH_OPT_PIN:
            ctl->pin_arg = optarg;
            break;
        case GH_OPT_INSECURE:
            ctl->conn.insecure = 1;
            break;
        /* the gatehouse user CLI */
        case GH_OPT_LOCAL_PORT:
            a->local_port = optarg;
            break;
        case GH_OPT_BIND:
            a->bind = optarg;
            break;
        case GH_OPT_WAIT:
            a->wait = 1;
            break;
        case GH_OPT_CLIENT:
            a->client = optarg;
            break;
        case GH_OPT_PRINT:
            a->print = 1;
            break;
        case GH_OPT_SOURCE:
            a->source = optarg;
            break;
        case GH_OPT_BROWSER:
            a->browser = 1;
            break;
        case ':':
            return gh_ctl_usage_error(v, "an option is missing its value");
        default:
            return gh_ctl_usage_error(v, "unknown option");
        }
    }
    for (; optind < argc; optind++) {
        if (a->npos >= 4)
            return gh_ctl_usage_error(v, "too many arguments");
        a->pos[a->npos++] = argv[optind];
    }
    if (a->npos < want)
        return gh_ctl_usage_error(v, "missing argument");
    if (a->npos > want)
        return gh_ctl_usage_error(v, "too many arguments");
    return 0;
}

/* Parse a verb's arguments (GNU getopt: options may follow positionals;
 * "--" ends options, so an argument may start with '-'). */
int
gh_ctl_begin(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
             char **argv, const struct option *allowed, int want,
             struct gh_ctl_args *a)
{
    return gh_ctl_parse(ctl, v, argc, argv, allowed, want, a);
}

/* ---- the program: global options, verb lookup, dispatch ---- */

static void
gh_ctl_help(const struct gh_ctl_prog *p, FILE *f)
{
    size_t i;

    fprintf(f,
            "usage: %s [--server URL] [--token-file FILE]\n"
            "       [--ca-file FILE | --insecure-pin SHA256 | -k] [--json] "
            "VERB ...\n\n"
            "%s\n"
            "Global options:\n"
            "  --server URL         gateway base URL (env GATEHOUSE_SERVER);\n"
            "                       https only (http only to loopback)\n"
            "  --token-file FILE    file whose first line is your access "
            "token;\n"
            "                       must not be readable by group/others\n"
            "                       (else env GATEHOUSE_TOKEN, else the "
            "token\n"
            "                       cache of '%s login')\n"
            "  --ca-file FILE       trust this CA (or self-signed cert) "
            "instead of\n"
            "                       the system store\n"
            "  --insecure-pin HASH  trust only the server key with this "
            "SHA-256\n"
            "                       (hex, or base64 as gatehoused logs it)\n"
            "  -k, --insecure       do not verify TLS at all (warns)\n"
            "  --json               print the server's JSON, pretty\n"
            "  -h, --help           this help; VERB --help for a verb\n"
            "  --version            print the version\n\n"
            "Verbs:\n",
            p->name, p->intro, p->name);
    for (i = 0; i < p->nverbs; i++)
        fprintf(f, "  %s\n", p->verbs[i].usage);
    fprintf(f, "\n%s", gh_ctl_exit_help);
}

/* The verb argv[vi] (with its sub-verb) names, or NULL. */
static const struct gh_ctl_verb *
gh_ctl_find(const struct gh_ctl_prog *p, const char *group, const char *sub)
{
    size_t i;

    for (i = 0; i < p->nverbs; i++) {
        if (strcmp(p->verbs[i].group, group) != 0)
            continue;
        if (p->verbs[i].name == NULL ||
            (sub != NULL && strcmp(p->verbs[i].name, sub) == 0))
            return &p->verbs[i];
    }
    return NULL;
}

int
gh_ctl_main(const struct gh_ctl_prog *p, int argc, char **argv)
{
    static const struct option o[] = {
        {"server", required_argument, NULL, 's'},
        {"token-file", required_argument, NULL, 't'},
        {"ca-file", required_argument, NULL, 'c'},
        {"insecure-pin", required_argument, NULL, 'p'},
        {"insecure", no_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    struct gh_ctl ctl;
    const struct gh_ctl_verb *v;
    const char *sub;
    size_t i;
    int c, r, vi, known = 0;

    gh_cli_init(p->name);
    memset(&ctl, 0, sizeof(ctl));
    ctl.argv0 = argv[0];
    ctl.server_arg = getenv("GATEHOUSE_SERVER");
    if (ctl.server_arg != NULL && *ctl.server_arg == '\0')
        ctl.server_arg = NULL;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+hk", o, NULL)) != -1) {
        switch (c) {
        case 's':
            ctl.server_arg = optarg;
            break;
        case 't':
            ctl.token_file = optarg;
            break;
        case 'c':
            ctl.conn.ca_file = optarg;
            break;
        case 'p':
            ctl.pin_arg = optarg;
            break;
        case 'k':
            ctl.conn.insecure = 1;
            break;
        case 'j':
            ctl.json = 1;
            break;
        case 'h':
            gh_ctl_help(p, stdout);
            return GH_CTL_EXIT_OK;
        case 'V':
            printf("%s %s\n", p->name, GH_VERSION);
            return GH_CTL_EXIT_OK;
        default:
            return gh_ctl_usage_error(NULL, optopt ? "bad or incomplete option"
                                                   : "unknown option");
        }
    }
    if ((r = gh_ctl_tls_once(&ctl, NULL)) != 0)
        return r;
    if (optind >= argc)
        return gh_ctl_usage_error(NULL, "missing VERB");
    vi = optind;
    sub = vi + 1 < argc ? argv[vi + 1] : NULL;
    v = gh_ctl_find(p, argv[vi], sub);
    if (v == NULL) {
        for (i = 0; i < p->nverbs; i++)
            known |= strcmp(p->verbs[i].group, argv[vi]) == 0;
        if (known && sub != NULL &&
            (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
            for (i = 0; i < p->nverbs; i++)
                if (strcmp(p->verbs[i].group, argv[vi]) == 0)
                    printf("usage: %s %s\n", p->name, p->verbs[i].usage);
            return GH_CTL_EXIT_OK;
        }
        return gh_ctl_usage_error(NULL, known ? "unknown or missing sub-verb"
                                              : "unknown verb");
    }
    if (gh_ctl_http_init() != 0) {
        gh_ctl_err("cannot initialise libcurl");
        return GH_CTL_EXIT_FAIL;
    }
    /* The verb's own argv starts at its last word. */
    vi += v->name != NULL ? 1 : 0;
    r = v->run(&ctl, v, argc - vi, argv + vi);
    gh_ctl_conn_cleanup(&ctl.conn);
    gh_ctl_http_done();
    fflush(stdout);
    if (ferror(stdout) && r == 0)
        r = GH_CTL_EXIT_FAIL;
    return r;
}
