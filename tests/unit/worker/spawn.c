/* Unit tests for gateway/worker/spawn.c: gh_worker_spawn() starts a real
 * program (spawn_probe.c) that reports what it got: fds, session, signals,
 * environment, argv and, as root, the user it runs as. Failures leave no
 * fd and no child behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gatehouse/err.h"
#include "gatehouse/worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef GH_SPAWN_PROBE
#error "GH_SPAWN_PROBE must name the probe binary"
#endif

/* Whole test waits: the probe answers in milliseconds. */
#define WAIT_MS 10000

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

/* Read the probe's report (up to "end=1\n") from the non-blocking fd;
 * the text starts with a '\n' so that every line is "\nkey=value". */
static char *
read_report(int fd)
{
    size_t cap = 65536, n = 1;
    char *buf = malloc(cap);
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t got;

    assert_non_null(buf);
    buf[0] = '\n';
    for (;;) {
        buf[n] = '\0';
        if (strstr(buf, "end=1\n") != NULL)
            return buf;
        assert_true(poll(&p, 1, WAIT_MS) == 1);
        got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EAGAIN)
            continue;
        assert_true(got > 0);
        n += (size_t)got;
    }
}

/* Value of "key=" in the report (a static copy), or NULL. */
static const char *
field(const char *rep, const char *key)
{
    static char v[1024];
    char pat[128];
    const char *p;
    size_t n;

    snprintf(pat, sizeof(pat), "\n%s=", key);
    p = strstr(rep, pat);
    if (p == NULL)
        return NULL;
    p += strlen(pat);
    n = strcspn(p, "\n");
    if (n >= sizeof(v))
        n = sizeof(v) - 1;
    memcpy(v, p, n);
    v[n] = '\0';
    return v;
}

/* Close our end and reap the probe; returns its wait status. */
static int
finish(pid_t pid, int fd)
{
    int status;

    close(fd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* What gatehoused looks like when it spawns: TERM/INT/HUP/CHLD blocked
 * for its signalfd, SIGPIPE ignored, an fd open without close-on-exec. */
static int
setup(void **state)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    *state = (void *)(intptr_t)open("/dev/null", O_RDONLY); /* no CLOEXEC */
    assert_true((intptr_t)*state >= 0);
    setenv("GH_TEST_SECRET", "must-not-reach-the-worker", 1);
    setenv("JOURNAL_STREAM", "8:1234", 1);
    return 0;
}

static int
teardown(void **state)
{
    close((int)(intptr_t)*state);
    return 0;
}

static void
test_spawn__child_state(void **state)
{
    struct gh_worker_spawn o = {GH_SPAWN_PROBE, NULL};
    int fd, before = count_fds(), fl;
    const char *v;
    char *rep;
    pid_t pid;

    (void)state;
    assert_int_equal(gh_worker_spawn(&o, &pid, &fd), 0);
    assert_true(pid > 0);
    assert_true(fd > 2);
    fl = fcntl(fd, F_GETFL);
    assert_true(fl & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(count_fds(), before + 1);
    rep = read_report(fd);

    assert_string_equal(field(rep, "fd3_socket"), "1");
    assert_string_equal(field(rep, "fd3_cloexec"), "0");
    assert_string_equal(field(rep, "fd0"), "/dev/null");
    assert_string_equal(field(rep, "fd1"), "/dev/null");
    assert_string_equal(field(rep, "fds"), "0,1,2,3,");
    assert_string_equal(field(rep, "pgid_is_pid"), "1");
    assert_string_equal(field(rep, "sid_is_pid"), "1");
    assert_string_equal(field(rep, "SigBlk"), "0000000000000000");
    assert_string_equal(field(rep, "SigIgn"), "0000000000000000");
    assert_string_equal(field(rep, "argv0"), GH_SPAWN_PROBE);
    assert_string_equal(field(rep, "argv1"), "--fd");
    assert_string_equal(field(rep, "argv2"), "3");
    assert_string_equal(field(rep, "argv3"), "--log-level");
    assert_non_null(field(rep, "argv4"));
    assert_null(field(rep, "argv5"));
    /* Only the pass-through variables. */
    assert_null(strstr(rep, "GH_TEST_SECRET"));
    assert_null(strstr(rep, "env=PATH="));
    v = field(rep, "env");
    assert_non_null(v);
    assert_non_null(strstr(rep, "env=JOURNAL_STREAM=8:1234\n"));
    free(rep);
    assert_int_equal(finish(pid, fd), 0);
    assert_int_equal(count_fds(), before);
}

/* The process group is the worker's own: kill(-pid) ends it. */
static void
test_spawn__own_group(void **state)
{
    struct gh_worker_spawn o = {GH_SPAWN_PROBE, NULL};
    int fd, status;
    char *rep;
    pid_t pid;

    (void)state;
    assert_int_equal(gh_worker_spawn(&o, &pid, &fd), 0);
    rep = read_report(fd);
    free(rep);
    assert_int_equal(getpgid(pid), pid);
    assert_int_not_equal(getpgid(pid), getpgrp());
    assert_int_equal(kill(-pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    close(fd);
}

/* As root: the worker runs as the named user, with its primary group
 * only. */
static void
test_spawn__drops_to_user(void **state)
{
    struct gh_worker_spawn o = {GH_SPAWN_PROBE, "nobody"};
    struct passwd *pw;
    char uid[32], gid[32], *rep;
    int fd;
    pid_t pid;

    (void)state;
    if (geteuid() != 0)
        skip();
    pw = getpwnam("nobody");
    if (pw == NULL)
        skip();
    snprintf(uid, sizeof(uid), "%u", (unsigned)pw->pw_uid);
    snprintf(gid, sizeof(gid), "%u", (unsigned)pw->pw_gid);
    assert_int_equal(gh_worker_spawn(&o, &pid, &fd), 0);
    rep = read_report(fd);
    assert_string_equal(field(rep, "uid"), uid);
    assert_string_equal(field(rep, "euid"), uid);
    assert_string_equal(field(rep, "gid"), gid);
    assert_string_equal(field(rep, "egid"), gid);
    assert_string_equal(field(rep, "groups"), "0");
    assert_string_equal(field(rep, "fds"), "0,1,2,3,");
    free(rep);
    assert_int_equal(finish(pid, fd), 0);
}

/* Refusals: nothing started, nothing left open, no child to reap. */
static void
test_spawn__failures_leave_nothing(void **state)
{
    struct gh_worker_spawn o = {NULL, NULL};
    int fd = 42, before = count_fds();
    pid_t pid = 42;

    (void)state;
    assert_int_equal(gh_worker_spawn(&o, &pid, &fd), GH_E_INVAL);
    assert_int_equal(pid, -1);
    assert_int_equal(fd, -1);
    o.path = "relative/worker";
    assert_int_equal(gh_worker_spawn(&o, &pid, &fd), GH_E_INVAL);
    o.path = "/nonexistent/gatehouse-worker";
    assert_int_equal(gh_worker_spawn(&o, &pid, &fd), GH_E_IO);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(pid, -1);
    assert_int_equal(fd, -1);
    o.path = "/dev/null"; /* not executable */
    assert_int_equal(gh_worker_spawn(&o, &pid, &fd), GH_E_IO);
    assert_int_equal(errno, EACCES);
    if (geteuid() == 0) {
        o.path = GH_SPAWN_PROBE;
        o.user = "gh-no-such-user-here";
        assert_int_equal(gh_worker_spawn(&o, &pid, &fd), GH_E_NOTFOUND);
        o.user = "root";
        assert_int_equal(gh_worker_spawn(&o, &pid, &fd), GH_E_INVAL);
    }
    assert_int_equal(count_fds(), before);
    /* The children that failed to exec were reaped. */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* The parent's signal mask is as it was. */
static void
test_spawn__parent_mask_kept(void **state)
{
    struct gh_worker_spawn o = {GH_SPAWN_PROBE, NULL};
    sigset_t before, after;
    int fd;
    pid_t pid;

    (void)state;
    sigprocmask(SIG_SETMASK, NULL, &before);
    assert_int_equal(gh_worker_spawn(&o, &pid, &fd), 0);
    sigprocmask(SIG_SETMASK, NULL, &after);
    assert_int_equal(sigismember(&after, SIGTERM), 1);
    assert_int_equal(sigismember(&after, SIGCHLD), 1);
    assert_int_equal(sigismember(&after, SIGUSR1),
                     sigismember(&before, SIGUSR1));
    free(read_report(fd));
    assert_int_equal(finish(pid, fd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn__child_state),
        cmocka_unit_test(test_spawn__own_group),
        cmocka_unit_test(test_spawn__drops_to_user),
        cmocka_unit_test(test_spawn__failures_leave_nothing),
        cmocka_unit_test(test_spawn__parent_mask_kept),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
