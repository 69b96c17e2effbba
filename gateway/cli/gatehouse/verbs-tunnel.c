/*
 * verbs-tunnel.c - the gatehouse verbs that move bytes: proxy (stdin and
 * stdout), tunnel (a local listener), and the native clients started
 * through them: ssh (OpenSSH through proxy, host key checking left on)
 * and rdp (xfreerdp3 against a local tunnel), plus ssh-config.
 *
 * The gateway decides everything (grant, port, source address); the CLI
 * only names a target and a port. Before a native client is started the
 * decision is asked for once, so "no grant" is said plainly instead of as
 * an ssh error.
 */
#include "gh.h"
#include "relay.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The default RDP client (Debian's freerdp3-x11). */
#define GH_USER_RDP_CLIENT "xfreerdp3"
/* Arguments given to a native client after "--". */
#define GH_USER_EXTRA_MAX 64

/* A target name from the command line: [A-Za-z0-9._-], the ".gatehouse"
 * suffix of ssh-config's hosts taken off. Returns a copy or NULL. */
static char *
gh_user_target(const char *s)
{
    size_t n = strlen(s), k = strlen(GH_USER_HOST_SUFFIX);

    if (n > k && strcmp(s + n - k, GH_USER_HOST_SUFFIX) == 0)
        n -= k;
    if (n == 0 || n > GH_USER_TARGET_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789._-",
                   s[i]) == NULL)
            return NULL;
    return gh_strndup(s, n);
}

/* A port 1..65535 (what == NULL: dflt). 0 when bad. */
static unsigned
gh_user_port(const char *what, unsigned dflt)
{
    char *e;
    long v;

    if (what == NULL)
        return dflt;
    errno = 0;
    v = strtol(what, &e, 10);
    if (errno != 0 || *what == '\0' || *e != '\0' || v < 1 || v > 65535)
        return 0;
    return (unsigned)v;
}

/* Split argv at "--": the verb's part stays in argc, the rest (for the
 * native client) goes to *extra and *nextra. */
static int
gh_user_split(int *argc, char **argv, char ***extra, int *nextra)
{
    *extra = NULL;
    *nextra = 0;
    for (int i = 1; i < *argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            *extra = argv + i + 1;
            *nextra = *argc - i - 1;
            *argc = i;
            break;
        }
    return *nextra <= GH_USER_EXTRA_MAX ? 0 : -1;
}

/* The relay's renew hook: the cached token, refreshed as needed. */
static const char *
gh_user_renew(void *arg)
{
    struct gh_ctl *ctl = arg;

    return gh_ctl_renew_token(ctl) == 0 ? ctl->conn.token : NULL;
}

/* The relay's configuration from a ready connection. */
static void
gh_user_conf(struct gh_ctl *ctl, const char *target, unsigned port,
             struct gh_relay_conf *rc)
{
    memset(rc, 0, sizeof(*rc));
    rc->server = ctl->conn.server;
    rc->token = ctl->conn.token;
    rc->ca_file = ctl->conn.ca_file;
    rc->pin = ctl->conn.pin;
    rc->insecure = ctl->conn.insecure;
    rc->target = target;
    rc->port = port;
    rc->renew = gh_user_renew;
    rc->renew_arg = ctl;
}

/* Ask the decision function before starting a client; 0 when allowed,
 * else an exit status after saying why and what to do. */
static int
gh_user_precheck(struct gh_ctl *ctl, const char *target, unsigned port)
{
    char *path = gh_strdup("/api/v1/decide"), ps[16];
    const char *d;
    json_t *j = NULL;
    int r;

    snprintf(ps, sizeof(ps), "%u", port);
    gh_ctl_url_add_query(&path, "target", target);
    gh_ctl_url_add_query(&path, "port", ps);
    r = gh_ctl_api(ctl, "GET", path, NULL, &j, NULL, NULL);
    free(path);
    if (r != 0)
        return r;
    d = json_string_value(json_object_get(j, "decision"));
    if (d != NULL && strcmp(d, "allow") == 0) {
        json_decref(j);
        return 0;
    }
    if (d != NULL && strcmp(d, "unknown_target") == 0)
        gh_ctl_err("%s is not a target you may reach ('%s targets' lists "
                   "them)",
                   target, gh_cli_agent());
    else if (d != NULL && strcmp(d, "port_not_declared") == 0)
        gh_ctl_err("%s does not offer port %u", target, port);
    else
        gh_ctl_err("no grant for %s port %u (%s): ask with '%s request %s "
                   "--port %u --reason ... --wait'",
                   target, port, d ? d : "refused", gh_cli_agent(), target,
                   port);
    json_decref(j);
    return GH_CTL_EXIT_FAIL;
}

/* A listening TCP socket on bind:port (port 0: any); prints why not. */
static int
gh_user_listen(const char *bind_addr, unsigned port, unsigned *bound)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    int fd, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, bind_addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, bind_addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof(*a6);
    } else {
        gh_ctl_err("--bind wants an IP address, not %s", bind_addr);
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        gh_ctl_err("socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0) {
        gh_ctl_err("cannot listen on %s port %u: %s", bind_addr, port,
                   strerror(errno));
        close(fd);
        return -1;
    }
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *bound = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    return fd;
}

/* Loopback addresses only reach this machine's users. */
static int
gh_user_is_loopback(const char *a)
{
    return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

/* ---- proxy ---- */

/* The tunnel was lost without the gateway's reason: the session's row
 * says why it ended (revoked, expired, killed...), else the network
 * error stands. */
static void
gh_user_why_lost(struct gh_ctl *ctl, const char *target, unsigned port,
                 const struct gh_relay_lost *lost)
{
    char after[32];
    char *path = gh_strdup("/api/v1/sessions");
    const char *why = NULL;
    json_t *j = NULL, *it;

    snprintf(after, sizeof(after), "%lld", lost->session - 1);
    gh_ctl_url_add_query(&path, "after", after);
    gh_ctl_url_add_query(&path, "limit", "1");
    if (gh_ctl_api(ctl, "GET", path, NULL, &j, NULL, NULL) == 0) {
        it = json_array_get(json_object_get(j, "items"), 0);
        if (json_integer_value(json_object_get(it, "id")) == lost->session)
            why = gh_cli_json_str(it, "end_reason", 64);
    }
    if (why != NULL)
        gh_ctl_err("%s:%u: the gateway ended the tunnel (%s)", target, port,
                   why);
    else
        gh_ctl_err("%s:%u: %s", target, port, lost->why);
    json_decref(j);
    free(path);
}

int
gh_user_proxy(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
              char **argv)
{
    struct gh_relay_conf rc;
    struct gh_relay_lost lost;
    struct gh_ctl_args a;
    unsigned port;
    char *target;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, NULL, 2, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((target = gh_user_target(a.pos[0])) == NULL)
        return gh_ctl_usage_error(v, "TARGET is a target's name "
                                     "([A-Za-z0-9._-])");
    if ((port = gh_user_port(a.pos[1], 0)) == 0) {
        free(target);
        return gh_ctl_usage_error(v, "PORT is 1..65535");
    }
    if ((r = gh_ctl_ready(ctl)) == 0) {
        gh_user_conf(ctl, target, port, &rc);
        r = gh_relay_proxy(&rc, STDIN_FILENO, STDOUT_FILENO, &lost);
        if (lost.session > 0)
            gh_user_why_lost(ctl, target, port, &lost);
    }
    free(target);
    return r;
}

/* ---- tunnel ---- */

int
gh_user_tunnel(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
               char **argv)
{
    static const struct option o[] = {
        {"port", required_argument, NULL, GH_OPT_PORT},
        {"local-port", required_argument, NULL, GH_OPT_LOCAL_PORT},
        {"bind", required_argument, NULL, GH_OPT_BIND},
        {NULL, 0, NULL, 0}};
    struct gh_relay_conf rc;
    struct gh_ctl_args a;
    unsigned port, local, bound = 0;
    const char *bind_addr;
    char *target;
    int r, lfd;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((target = gh_user_target(a.pos[0])) == NULL)
        return gh_ctl_usage_error(v, "TARGET is a target's name "
                                     "([A-Za-z0-9._-])");
    port = gh_user_port(a.port, 0);
    local = a.local_port != NULL && strcmp(a.local_port, "0") == 0
                ? 0
                : gh_user_port(a.local_port, 0);
    bind_addr = a.bind != NULL ? a.bind : "127.0.0.1";
    if (port == 0 || (local == 0 && (a.local_port == NULL ||
                                     strcmp(a.local_port, "0") != 0))) {
        free(target);
        return gh_ctl_usage_error(v, "tunnel needs --port N and "
                                     "--local-port N (1..65535, or 0 for "
                                     "any free port)");
    }
    if ((r = gh_ctl_ready(ctl)) != 0) {
        free(target);
        return r;
    }
    if ((lfd = gh_user_listen(bind_addr, local, &bound)) < 0) {
        free(target);
        return GH_CTL_EXIT_USAGE;
    }
    if (!gh_user_is_loopback(bind_addr))
        gh_ctl_err("warning: listening on %s: anyone who can reach it "
                   "uses your grant",
                   bind_addr);
    printf("Tunnel to %s port %u listening on %s%s%s:%u (Ctrl-C ends it).\n",
           target, port, strchr(bind_addr, ':') ? "[" : "", bind_addr,
           strchr(bind_addr, ':') ? "]" : "", bound);
    fflush(stdout);
    gh_user_conf(ctl, target, port, &rc);
    rc.verbose = 1;
    r = gh_relay_listen(&rc, lfd, 0);
    free(target);
    return r;
}

/* ---- native clients ---- */

/* s single-quoted for a shell into *out (appended), or -1 when s holds a
 * quote or a control character (it is refused, not escaped). */
static int
gh_user_shq(char **out, const char *s)
{
    char *n;

    for (const char *p = s; *p != '\0'; p++)
        if (*p == '\'' || (unsigned char)*p < 0x20)
            return -1;
    n = gh_asprintf("%s%s'%s'", *out ? *out : "", *out ? " " : "", s);
    free(*out);
    *out = n;
    return 0;
}

/* The proxy command that runs this program again with the same server
 * and trust (never the token: it comes from the cache or the inherited
 * environment). */
static char *
gh_user_proxy_command(struct gh_ctl *ctl)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *cmd = NULL;
    int bad;

    if (n <= 0) {
        gh_ctl_err("cannot find this program's path: %s", strerror(errno));
        return NULL;
    }
    exe[n] = '\0';
    bad = gh_user_shq(&cmd, exe);
    bad |= gh_user_shq(&cmd, "--server") | gh_user_shq(&cmd, ctl->conn.server);
    if (ctl->conn.pin != NULL)
        bad |= gh_user_shq(&cmd, "--insecure-pin") |
               gh_user_shq(&cmd, ctl->conn.pin);
    else if (ctl->conn.ca_file != NULL)
        bad |= gh_user_shq(&cmd, "--ca-file") |
               gh_user_shq(&cmd, ctl->conn.ca_file);
    else if (ctl->conn.insecure)
        bad |= gh_user_shq(&cmd, "--insecure");
    if (ctl->token_file != NULL)
        bad |= gh_user_shq(&cmd, "--token-file") |
               gh_user_shq(&cmd, ctl->token_file);
    if (bad) {
        gh_ctl_err("a path or URL holds a quote or control character");
        free(cmd);
        return NULL;
    }
    exe[0] = '\0';
    {
        char *full = gh_asprintf("%s proxy %%n %%p", cmd);

        free(cmd);
        return full;
    }
}

/* The token given by GATEHOUSE_TOKEN goes on to the proxy child. */
static void
gh_user_pass_token(struct gh_ctl *ctl)
{
    if (!ctl->token_cached && ctl->token_file == NULL)
        setenv("GATEHOUSE_TOKEN", ctl->conn.token, 1);
}

int
gh_user_ssh(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
            char **argv)
{
    static const struct option o[] = {
        {"port", required_argument, NULL, GH_OPT_PORT}, {NULL, 0, NULL, 0}};
    struct gh_ctl_args a;
    char **extra, *target, *cmd = NULL, *pc = NULL, ps[16], **av;
    int nextra, r, i, k = 0;
    unsigned port;

    if (gh_user_split(&argc, argv, &extra, &nextra) != 0)
        return gh_ctl_usage_error(v, "too many ssh arguments");
    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((target = gh_user_target(a.pos[0])) == NULL)
        return gh_ctl_usage_error(v, "TARGET is a target's name "
                                     "([A-Za-z0-9._-])");
    if ((port = gh_user_port(a.port, 22)) == 0) {
        free(target);
        return gh_ctl_usage_error(v, "--port is 1..65535");
    }
    if ((r = gh_ctl_ready(ctl)) != 0 ||
        (r = gh_user_precheck(ctl, target, port)) != 0 ||
        (cmd = gh_user_proxy_command(ctl)) == NULL) {
        free(target);
        return r != 0 ? r : GH_CTL_EXIT_USAGE;
    }
    gh_user_pass_token(ctl);
    snprintf(ps, sizeof(ps), "%u", port);
    pc = gh_asprintf("ProxyCommand=%s", cmd);
    av = gh_alloc((size_t)nextra + 12, sizeof(*av));
    av[k++] = "ssh";
    av[k++] = "-o";
    av[k++] = pc;
    /* No address to check: the host key is checked under the target's
     * name, in the user's own known_hosts. */
    av[k++] = "-o";
    av[k++] = "CheckHostIP=no";
    av[k++] = "-p";
    av[k++] = ps;
    /* ssh takes options after the destination too: the user's options
     * and command follow it as they were given. */
    av[k++] = target;
    for (i = 0; i < nextra; i++)
        av[k++] = extra[i];
    av[k] = NULL;
    fflush(stdout);
    execvp("ssh", av);
    gh_ctl_err("cannot run ssh: %s", strerror(errno));
    free(av);
    free(pc);
    free(cmd);
    free(target);
    return GH_CTL_EXIT_FAIL;
}

int
gh_user_ssh_config(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                   char **argv)
{
    struct gh_ctl_args a;
    char *cmd;
    int r;

    if ((r = gh_ctl_begin(ctl, v, argc, argv, NULL, 0, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((r = gh_ctl_ready(ctl)) != 0)
        return r;
    if ((cmd = gh_user_proxy_command(ctl)) == NULL)
        return GH_CTL_EXIT_USAGE;
    printf("# Gatehouse: ssh, scp, sftp and rsync to TARGET%s go through\n"
           "# %s (a grant for the target's port is still needed).\n"
           "Host *%s\n"
           "    ProxyCommand %s\n"
           "    CheckHostIP no\n",
           GH_USER_HOST_SUFFIX, ctl->conn.server, GH_USER_HOST_SUFFIX, cmd);
    free(cmd);
    return 0;
}

int
gh_user_rdp(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
            char **argv)
{
    static const struct option o[] = {
        {"port", required_argument, NULL, GH_OPT_PORT},
        {"local-port", required_argument, NULL, GH_OPT_LOCAL_PORT},
        {"client", required_argument, NULL, GH_OPT_CLIENT},
        {"print", no_argument, NULL, GH_OPT_PRINT},
        {NULL, 0, NULL, 0}};
    struct gh_relay_conf rc;
    struct gh_ctl_args a;
    posix_spawnattr_t at;
    sigset_t none;
    const char *client;
    char **extra, *target, vopt[64], **av;
    unsigned port, local = 0, bound = 0;
    int nextra, r, lfd, k = 0;
    pid_t pid;

    if (gh_user_split(&argc, argv, &extra, &nextra) != 0)
        return gh_ctl_usage_error(v, "too many client arguments");
    if ((r = gh_ctl_begin(ctl, v, argc, argv, o, 1, &a)) != 0)
        return r < 0 ? 0 : r;
    if ((target = gh_user_target(a.pos[0])) == NULL)
        return gh_ctl_usage_error(v, "TARGET is a target's name "
                                     "([A-Za-z0-9._-])");
    port = gh_user_port(a.port, 3389);
    if (a.local_port != NULL && (local = gh_user_port(a.local_port, 0)) == 0)
        port = 0;
    if (port == 0) {
        free(target);
        return gh_ctl_usage_error(v, "--port and --local-port are 1..65535");
    }
    client = a.client ? a.client : getenv("GATEHOUSE_RDP_CLIENT");
    if (client == NULL || *client == '\0')
        client = GH_USER_RDP_CLIENT;
    if ((r = gh_ctl_ready(ctl)) != 0 ||
        (r = gh_user_precheck(ctl, target, port)) != 0) {
        free(target);
        return r;
    }
    if ((lfd = gh_user_listen("127.0.0.1", local, &bound)) < 0) {
        free(target);
        return GH_CTL_EXIT_USAGE;
    }
    gh_user_conf(ctl, target, port, &rc);
    rc.verbose = a.print;
    if (a.print) {
        printf("RDP tunnel to %s port %u listening on 127.0.0.1:%u: point "
               "mstsc or any RDP client at it (Ctrl-C ends it).\n",
               target, port, bound);
        fflush(stdout);
        r = gh_relay_listen(&rc, lfd, 0);
        free(target);
        return r;
    }
    snprintf(vopt, sizeof(vopt), "/v:127.0.0.1:%u", bound);
    av = gh_alloc((size_t)nextra + 3, sizeof(*av));
    av[k++] = (char *)client;
    av[k++] = vopt;
    for (int i = 0; i < nextra; i++)
        av[k++] = extra[i];
    av[k] = NULL;
    sigemptyset(&none);
    posix_spawnattr_init(&at);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    r = posix_spawnp(&pid, client, NULL, &at, av, environ);
    posix_spawnattr_destroy(&at);
    free(av);
    if (r != 0) {
        gh_ctl_err("cannot run %s: %s (--client PATH, or --print for "
                   "another client)",
                   client, strerror(r));
        close(lfd);
        free(target);
        return GH_CTL_EXIT_FAIL;
    }
    fprintf(stderr, "Started %s against the tunnel to %s port %u.\n", client,
            target, port);
    r = gh_relay_listen(&rc, lfd, pid);
    free(target);
    return r;
}
