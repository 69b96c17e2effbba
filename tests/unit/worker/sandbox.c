/* Unit tests for gateway/worker/sandbox.c: the sandbox is applied in a
 * forked child (as "nobody" when the test runs as root, like a worker),
 * which then tries what a taken-over worker would: open, create, remove
 * and execute files, fork, signal a process outside, connect over TCP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gh_test.h"
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* uid/gid of "nobody" on Debian. */
#define NOBODY 65534

static int report_fd = -1;

/* In the child: report the first failed check through the pipe. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            dprintf(report_fd, "line %d: %s (errno %d %s)", __LINE__, #cond,   \
                    errno, strerror(errno));                                   \
            _exit(1);                                                          \
        }                                                                      \
    } while (0)
/* A call that must fail with e. */
#define DENIED(call, e)                                                        \
    do {                                                                       \
        errno = 0;                                                             \
        CHECK((call) < 0 && errno == (e));                                     \
    } while (0)

struct fixture {
    char *dir;      /* 0755 */
    char *secret;   /* 0644, readable by nobody without a sandbox */
    int listener;   /* TCP on 127.0.0.1 */
    pid_t outsider; /* a process of the worker's uid outside the sandbox */
    struct sockaddr_in addr;
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    socklen_t len = sizeof(fx->addr);

    assert_non_null(fx);
    fx->dir = gh_test_mkdtemp("sandbox");
    assert_int_equal(chmod(fx->dir, 0755), 0);
    fx->secret = gh_test_path(fx->dir, "gatehouse.db");
    gh_test_write_str(fx->secret, "the data dir's database");
    assert_int_equal(chmod(fx->secret, 0644), 0);
    fx->listener = socket(AF_INET, SOCK_STREAM, 0);
    fx->addr.sin_family = AF_INET;
    fx->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(
        bind(fx->listener, (struct sockaddr *)&fx->addr, sizeof(fx->addr)), 0);
    assert_int_equal(listen(fx->listener, 16), 0);
    assert_int_equal(
        getsockname(fx->listener, (struct sockaddr *)&fx->addr, &len), 0);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    close(fx->listener);
    gh_test_rmtree(fx->dir);
    free(fx->secret);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Run fn(fx) in a child; returns 0, or its report in msg. */
static int
run_child(struct fixture *fx, void (*fn)(struct fixture *), char *msg,
          size_t cap)
{
    int p[2], status;
    ssize_t n;
    pid_t pid;

    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        fn(fx);
        _exit(0);
    }
    close(p[1]);
    n = read(p[0], msg, cap - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(msg + strlen(msg), cap - strlen(msg), " (status 0x%x)", status);
    return 1;
}

/* Run fn(fx) in a child; fail the test with the child's report. */
static void
in_child(struct fixture *fx, void (*fn)(struct fixture *))
{
    char msg[512];

    if (run_child(fx, fn, msg, sizeof(msg)) != 0)
        fail_msg("in the sandboxed child: %s", msg);
}

/* Become nobody when root, as a worker would be. */
static void
become_worker_user(void)
{
    if (geteuid() != 0)
        return;
    CHECK(setgroups(0, NULL) == 0);
    CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0);
    CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0);
}

static int
tcp_connect(const struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), r;

    if (s < 0)
        return -1;
    r = connect(s, (const struct sockaddr *)a, sizeof(*a));
    if (r != 0) {
        int e = errno;

        close(s);
        errno = e;
        return -1;
    }
    close(s);
    return 0;
}

/* Every file-system right is gone; fds opened before still work. */
static void
check_fs_denied(struct fixture *fx, int abi)
{
    char *sub = gh_test_path(fx->dir, "new"), *fifo, *ln;
    char *const argv[] = {(char *)"/bin/true", NULL};
    int fd;

    fifo = gh_test_path(fx->dir, "fifo");
    ln = gh_test_path(fx->dir, "link");
    DENIED(open(fx->secret, O_RDONLY), EACCES);
    DENIED(open(fx->secret, O_WRONLY), EACCES);
    DENIED(open(sub, O_CREAT | O_WRONLY, 0600), EACCES);
    DENIED(open(fx->dir, O_RDONLY | O_DIRECTORY), EACCES);
    DENIED(open("/etc/passwd", O_RDONLY), EACCES);
    if (!SANITIZED) /* their leak checker may read /proc/self */
        DENIED(open("/proc/self/status", O_RDONLY), EACCES);
    DENIED(open("/proc/1/status", O_RDONLY), EACCES);
    DENIED(open("/", O_RDONLY | O_DIRECTORY), EACCES);
    DENIED(unlink(fx->secret), EACCES);
    DENIED(mkdir(sub, 0700), EACCES);
    DENIED(mkfifo(fifo, 0600), EACCES);
    DENIED(symlink(fx->secret, ln), EACCES);
    DENIED(rename(fx->secret, sub), EACCES);
    DENIED(execve("/bin/true", argv, NULL), EACCES);
    if (abi >= 3)
        DENIED(truncate(fx->secret, 0), EACCES);
    /* Already-open descriptors are not affected. */
    fd = dup(2);
    CHECK(fd >= 0);
    close(fd);
    free(sub);
    free(fifo);
    free(ln);
}

static void
child_full_sandbox(struct fixture *fx)
{
    struct rlimit rl;
    pid_t outsider = fx->outsider;
    int abi, fd;

    become_worker_user();
    /* Before: nobody may read the file and connect. */
    fd = open(fx->secret, O_RDONLY);
    CHECK(fd >= 0);
    close(fd);
    CHECK(tcp_connect(&fx->addr) == 0);
    CHECK(kill(outsider, 0) == 0);

    CHECK(gh_sandbox_apply() == 0);
    abi = gh_sandbox_landlock_abi();

    CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
    CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
    CHECK(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 &&
          rl.rlim_max == 0);
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 16 &&
          rl.rlim_max == 16);
    if (!SANITIZED) {
        CHECK(getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_max == 0);
        CHECK(getrlimit(RLIMIT_DATA, &rl) == 0 &&
              rl.rlim_max == 256UL * 1024 * 1024);
        if (getuid() != 0)
            DENIED(fork(), EAGAIN);
    }
    if (abi >= 1)
        check_fs_denied(fx, abi);
    if (abi >= 6)
        DENIED(kill(outsider, 0), EPERM);
    /* TCP is still open until the network lock... */
    CHECK(tcp_connect(&fx->addr) == 0);
    CHECK(gh_sandbox_net_lock() == (abi >= 4 ? 0 : 1));
    /* ...and closed after it. */
    if (abi >= 4)
        DENIED(tcp_connect(&fx->addr), EACCES);
}

static void
test_sandbox__full(void **state)
{
    struct fixture *fx = *state;
    char msg[512], c = 0;
    int ready[2], r;

    /* The outsider has the worker's uid and is not sandboxed: once the
     * signal scope is on, the worker must not reach it. It says when it
     * has that uid, keeps none of our output fds (a test runner waits for
     * them to close) and is killed whatever the result. */
    assert_int_equal(pipe(ready), 0);
    fflush(NULL);
    fx->outsider = fork();
    assert_true(fx->outsider >= 0);
    if (fx->outsider == 0) {
        int null = open("/dev/null", O_RDWR);

        dup2(null, 1);
        dup2(null, 2);
        close(ready[0]);
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 ||
                               setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
                               setresuid(NOBODY, NOBODY, NOBODY) != 0))
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        close(ready[1]);
        pause();
        _exit(0);
    }
    close(ready[1]);
    r = (int)read(ready[0], &c, 1);
    close(ready[0]);
    if (r == 1)
        r = run_child(fx, child_full_sandbox, msg, sizeof(msg));
    else
        snprintf(msg, sizeof(msg), "the outsider did not start");
    kill(fx->outsider, SIGKILL);
    waitpid(fx->outsider, NULL, 0);
    if (r != 0)
        fail_msg("in the sandboxed child: %s", msg);
}

/* The file-system layer alone, as on older kernels (ABI 1 and 2: Debian
 * 12's 6.1 has 2). */
static void
child_abi1(struct fixture *fx)
{
    become_worker_user();
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK(gh_sandbox_landlock_fs(1) == 0);
    check_fs_denied(fx, 1);
}

static void
child_abi2(struct fixture *fx)
{
    become_worker_user();
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK(gh_sandbox_landlock_fs(2) == 0);
    check_fs_denied(fx, 2);
    /* No scopes at ABI 2: TCP and signals are untouched. */
    CHECK(tcp_connect(&fx->addr) == 0);
}

/* ABI 0: nothing is restricted (the worker logs it and goes on). */
static void
child_abi0(struct fixture *fx)
{
    int fd;

    CHECK(gh_sandbox_landlock_fs(0) == 1);
    fd = open(fx->secret, O_RDONLY);
    CHECK(fd >= 0);
    close(fd);
}

static void
test_sandbox__older_abis(void **state)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);

    if (abi < 2)
        skip();
    in_child(*state, child_abi1);
    in_child(*state, child_abi2);
    in_child(*state, child_abi0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox__full),
        cmocka_unit_test(test_sandbox__older_abis),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
