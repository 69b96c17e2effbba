/*
 * spawn.c - fork + exec of one gatehouse-worker (see gatehouse/worker.h).
 *
 * gatehoused has a libcurl thread, so after fork() the child may only make
 * async-signal-safe calls: everything that allocates or reads files (the
 * user lookup, the argv and environment) is prepared before fork, and the
 * child uses raw system calls for the credential changes, which in glibc
 * would otherwise try to reach the parent's other threads.
 */
#include "gatehouse/worker.h"
#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* getpwnam_r() scratch space: passwd lines are short; glibc suggests
 * sysconf(_SC_GETPW_R_SIZE_MAX), which is 1 KiB here. */
#define GH_SPAWN_PW_BUF 4096
/* In the child, the fds to keep are first moved at or above this number so
 * that placing them at 0, 1 and 3 never overwrites one another. */
#define GH_SPAWN_FD_HIGH 10
/* Variables passed through to the worker (see worker.h). */
static const char *const gh_spawn_env_keep[] = {
    "JOURNAL_STREAM", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};
#define GH_SPAWN_ENV_MAX (sizeof(gh_spawn_env_keep) / sizeof(char *))

/* What the child reports through the exec pipe when a step fails. */
struct gh_spawn_err {
    int step;
    int err;
};

enum {
    GH_SPAWN_STEP_FDS = 1,
    GH_SPAWN_STEP_SETSID,
    GH_SPAWN_STEP_CRED,
    GH_SPAWN_STEP_EXEC
};

static const char *
gh_spawn_step_name(int step)
{
    switch (step) {
    case GH_SPAWN_STEP_FDS:
        return "fds";
    case GH_SPAWN_STEP_SETSID:
        return "setsid";
    case GH_SPAWN_STEP_CRED:
        return "credentials";
    case GH_SPAWN_STEP_EXEC:
        return "exec";
    default:
        return "?";
    }
}

/* Child only: report the failed step and leave without atexit handlers. */
static void __attribute__((noreturn)) gh_spawn_child_fail(int errfd, int step)
{
    struct gh_spawn_err e = {step, errno};
    ssize_t n;

    do
        n = write(errfd, &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    _exit(127);
}

/* Child only: close every fd from lo up (close_range, or a loop on kernels
 * before 5.9). */
static void
gh_spawn_child_close_from(int lo)
{
    int fd;
    long max;

    if (syscall(SYS_close_range, (unsigned)lo, ~0U, 0U) == 0)
        return;
    max = sysconf(_SC_OPEN_MAX); /* async-signal-safe in glibc */
    if (max < 0 || max > 65536)
        max = 65536;
    for (fd = lo; fd < max; fd++)
        close(fd);
}

/* Child only: never returns. */
static void __attribute__((noreturn))
gh_spawn_child(int link, int devnull, int errfd, int drop, uid_t uid, gid_t gid,
               const char *path, char *const argv[], char *const envp[])
{
    struct sigaction sa;
    sigset_t none;
    int a, n, e, sig;

    /* Default dispositions: the broker ignores SIGPIPE, and a handler
     * address means nothing after exec anyway. Signals stay blocked (the
     * parent blocked all around fork) until just before exec. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* fails harmlessly for KILL, STOP */

    a = fcntl(link, F_DUPFD, GH_SPAWN_FD_HIGH);
    n = fcntl(devnull, F_DUPFD, GH_SPAWN_FD_HIGH);
    e = fcntl(errfd, F_DUPFD_CLOEXEC, GH_SPAWN_FD_HIGH);
    if (e < 0)
        gh_spawn_child_fail(errfd, GH_SPAWN_STEP_FDS);
    errfd = e;
    if (a < 0 || n < 0 || dup2(n, 0) < 0 || dup2(n, 1) < 0 ||
        dup2(a, GH_WORKER_LINK_FD) < 0)
        gh_spawn_child_fail(errfd, GH_SPAWN_STEP_FDS);
    /* A closed stderr would let the worker's first socket land on fd 2
     * and its log lines go there. */
    if (fcntl(2, F_GETFD) < 0 && dup2(n, 2) < 0)
        gh_spawn_child_fail(errfd, GH_SPAWN_STEP_FDS);
    /* Everything above 3 but the exec pipe: move that to 4 first. */
    if (dup3(errfd, 4, O_CLOEXEC) < 0)
        gh_spawn_child_fail(errfd, GH_SPAWN_STEP_FDS);
    errfd = 4;
    gh_spawn_child_close_from(5);

    /* Own session and process group: the broker stops the whole group, and
     * no terminal's signals reach the worker. */
    if (setsid() < 0)
        gh_spawn_child_fail(errfd, GH_SPAWN_STEP_SETSID);

    if (drop) {
        if (syscall(SYS_setgroups, 0, NULL) != 0 ||
            syscall(SYS_setresgid, gid, gid, gid) != 0 ||
            syscall(SYS_setresuid, uid, uid, uid) != 0)
            gh_spawn_child_fail(errfd, GH_SPAWN_STEP_CRED);
        /* Proof: uid 0 must be out of reach now. */
        if (syscall(SYS_setresuid, 0, 0, 0) == 0) {
            errno = EPERM;
            gh_spawn_child_fail(errfd, GH_SPAWN_STEP_CRED);
        }
    }

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    gh_spawn_child_fail(errfd, GH_SPAWN_STEP_EXEC);
}

/* Look up user before fork. */
static int
gh_spawn_user(const char *user, uid_t *uid, gid_t *gid)
{
    struct passwd pw, *res = NULL;
    char *buf = gh_alloc(1, GH_SPAWN_PW_BUF);
    int rc;

    rc = getpwnam_r(user, &pw, buf, GH_SPAWN_PW_BUF, &res);
    if (rc != 0 || res == NULL) {
        gh_error("worker", "msg=\"worker user not found\" user=%s err=%s",
                 gh_q(user), gh_q(rc != 0 ? strerror(rc) : "no such user"));
        gh_free(buf);
        return GH_E_NOTFOUND;
    }
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    gh_free(buf);
    if (*uid == 0 || *gid == 0) {
        gh_error("worker", "msg=\"worker user must not be root\" user=%s",
                 gh_q(user));
        return GH_E_INVAL;
    }
    return 0;
}

int
gh_worker_spawn(const struct gh_worker_spawn *o, pid_t *pid, int *fd)
{
    char *argv[6], *envp[GH_SPAWN_ENV_MAX];
    char fdarg[16];
    int sv[2] = {-1, -1}, ep[2] = {-1, -1}, devnull = -1;
    int drop = 0, r = GH_E_IO, saved, status;
    uid_t uid = 0;
    gid_t gid = 0;
    sigset_t all, old;
    struct gh_spawn_err ce;
    size_t i, ne = 0;
    ssize_t n;
    pid_t child;

    *pid = -1;
    *fd = -1;
    if (o == NULL || o->path == NULL || o->path[0] != '/')
        return GH_E_INVAL;
    if (o->user != NULL && geteuid() == 0) {
        r = gh_spawn_user(o->user, &uid, &gid);
        if (r != 0)
            return r;
        drop = 1;
        r = GH_E_IO;
    }

    /* argv and envp point into static strings, fdarg and the environment:
     * nothing to free, nothing allocated after fork. */
    snprintf(fdarg, sizeof(fdarg), "%d", GH_WORKER_LINK_FD);
    argv[0] = (char *)o->path;
    argv[1] = (char *)"--fd";
    argv[2] = fdarg;
    argv[3] = (char *)"--log-level";
    argv[4] = (char *)gh_log_level_name(gh_log_get_level());
    argv[5] = NULL;
    for (i = 0; gh_spawn_env_keep[i] != NULL; i++) {
        size_t kl = strlen(gh_spawn_env_keep[i]);
        char **e;

        for (e = environ; e != NULL && *e != NULL; e++) {
            if (strncmp(*e, gh_spawn_env_keep[i], kl) == 0 && (*e)[kl] == '=') {
                envp[ne++] = *e;
                break;
            }
        }
    }
    envp[ne] = NULL;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        goto fail;
    if (pipe2(ep, O_CLOEXEC) != 0)
        goto fail;
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0)
        goto fail;

    /* No signal handler may run in the child before its dispositions are
     * reset: block everything across fork (the child unblocks right before
     * exec). pthread_sigmask: other threads keep their own masks. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    child = fork();
    if (child == 0)
        gh_spawn_child(sv[1], devnull, ep[1], drop, uid, gid, o->path, argv,
                       envp);
    saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    if (child < 0)
        goto fail;

    close(sv[1]);
    sv[1] = -1;
    close(ep[1]);
    ep[1] = -1;
    close(devnull);
    devnull = -1;

    /* EOF = the exec happened (the pipe is close-on-exec). */
    do
        n = read(ep[0], &ce, sizeof(ce));
    while (n < 0 && errno == EINTR);
    close(ep[0]);
    ep[0] = -1;
    if (n != 0) {
        if (n != (ssize_t)sizeof(ce)) {
            ce.step = 0;
            ce.err = n < 0 ? errno : EIO;
        }
        gh_error("worker", "msg=\"cannot start worker\" path=%s step=%s err=%s",
                 gh_q(o->path), gh_spawn_step_name(ce.step),
                 gh_q(strerror(ce.err)));
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        errno = ce.err;
        goto fail;
    }

    if (fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) != 0) {
        saved = errno;
        kill(child, SIGKILL);
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        errno = saved;
        goto fail;
    }
    *pid = child;
    *fd = sv[0];
    gh_debug("worker", "msg=\"worker started\" pid=%ld user=%s", (long)child,
             gh_q(drop ? o->user : "(same)"));
    return 0;

fail:
    saved = errno;
    for (i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (ep[i] >= 0)
            close(ep[i]);
    }
    if (devnull >= 0)
        close(devnull);
    errno = saved;
    return r;
}
