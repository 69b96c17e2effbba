/*
 * sandbox.c - what gatehouse-worker gives up right after it starts.
 *
 * The worker parses bytes from a VM that may be hostile (libssh, later
 * FreeRDP). If such a VM takes the worker over, it should find a process
 * that holds its own session's credential and nothing else, and that can
 * reach nothing else. The spawner (spawn.c) already gave the worker its
 * own session, no inherited fds but 0-3, a minimal environment and, when
 * gatehoused runs as root, an unprivileged user. main.c first loads what
 * would otherwise be read from files later (OpenSSL's configuration and
 * random seed, glibc's time zone, jansson's hash seed). Then, here, in
 * this order:
 *
 * - chdir("/"), umask 077: the broker's working directory may be its data
 *   directory; nothing is reached relative to it afterwards.
 * - PR_SET_NO_NEW_PRIVS: no execve() can ever raise privileges again
 *   (setuid binaries, file capabilities); also what Landlock requires.
 * - PR_SET_DUMPABLE 0: the worker holds a password or private key. No core
 *   file, and no ptrace or /proc/PID/mem access by other processes of the
 *   same uid (every worker shares that uid).
 * - RLIMIT_CORE 0: no core file even if dumpable were set again.
 * - RLIMIT_NOFILE GH_SANDBOX_NOFILE: the worker needs fds 0-3 and one TCP
 *   socket; a taken-over worker cannot hoard descriptors.
 * - RLIMIT_NPROC 0: no fork() or new threads (libssh and OpenSSL create
 *   none here). The kernel does not apply it to root, and sanitizer builds
 *   leave it out (their leak checker starts a thread at exit).
 * - RLIMIT_FSIZE 0: no file can be written, should one be opened. Left
 *   out when stderr is a regular file: the log lines must still go there
 *   (SIGXFSZ would end the worker at its first line).
 * - RLIMIT_DATA GH_SANDBOX_DATA_MAX: libssh accepts channel data past the
 *   window it granted ("buggy remote"), so a hostile sshd could make it
 *   buffer without end; the limit turns that into the end of one session
 *   instead of memory pressure on the gateway. Left out of sanitizer
 *   builds (their shadow memory is far larger).
 * - Landlock, file-system layer: every access right the kernel knows is
 *   handled and no rule grants any. After this the worker cannot open,
 *   create, remove, rename, truncate or execute anything by path: not the
 *   gateway's data directory, database, keys or recordings, not /etc, not
 *   /proc. Descriptors opened before (0-3) keep working. Measured with
 *   strace over password and key sessions: after the sandbox the worker
 *   makes exactly two open attempts, both refused and both harmless:
 *   libssh reads the known_hosts files during key exchange to order its
 *   host key algorithms; they are set to /dev/null and the refusal makes
 *   libssh use its default order (the key is checked against the pin, not
 *   known_hosts). Sanitizer builds only: reading below /proc/self is
 *   allowed, for the leak checker at exit.
 * - Landlock scopes (ABI 6, Linux 6.12): no signals to processes outside
 *   the sandbox (other workers share the uid; the broker may too) and no
 *   connecting to abstract UNIX sockets (X11, D-Bus and the like).
 * - Landlock network layer (ABI 4, Linux 6.7), gh_sandbox_net_lock(): as
 *   soon as libssh has made its one TCP connect() to the VM (before any
 *   byte from the VM is parsed), no other TCP connect or bind is possible:
 *   a taken-over worker cannot pivot to other hosts.
 *
 * On a kernel without Landlock (or with it disabled) the worker logs one
 * warning and runs with the other measures. Debian 12's kernel (6.1) has
 * ABI 2: the file-system layer applies, scopes and network do not.
 * Not covered (later: seccomp): UDP and other socket families, and
 * connecting to path-named UNIX sockets, which Landlock does not mediate.
 */
#include "worker.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>

/* fds: 0-3 and the SSH socket (measured: nothing else is ever open), with
 * room to spare: small, but not so tight that a libssh change breaks it. */
#define GH_SANDBOX_NOFILE 16
/* Heap and other private data. A session measured 7 MiB RSS idle and
 * 8 MiB under a flood it could not pass on (libssh's 1.25 MB channel
 * window, our 1 MiB queue, OpenSSL); 256 MiB is far above that and far
 * below what hurts the gateway. */
#define GH_SANDBOX_DATA_MAX (256UL * 1024 * 1024)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GH_SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GH_SANDBOX_SANITIZED 1
#endif
#endif
#ifndef GH_SANDBOX_SANITIZED
#define GH_SANDBOX_SANITIZED 0
#endif

/* Landlock definitions newer than the system's <linux/landlock.h> (Debian
 * 12 ships Linux 6.1's: ABI 2). Values are the kernel's UAPI. */
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#define GH_LL_FS_ABI1         ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define GH_LL_FS_REFER        (1ULL << 13)       /* ABI 2 */
#define GH_LL_FS_TRUNCATE     (1ULL << 14)       /* ABI 3 */
#define GH_LL_FS_IOCTL_DEV    (1ULL << 15)       /* ABI 5 */
#define GH_LL_NET_BIND_TCP    (1ULL << 0)        /* ABI 4 */
#define GH_LL_NET_CONNECT_TCP (1ULL << 1)        /* ABI 4 */
#define GH_LL_SCOPE_ABSTRACT  (1ULL << 0)        /* ABI 6 */
#define GH_LL_SCOPE_SIGNAL    (1ULL << 1)        /* ABI 6 */
/* The newest ABI whose rights this file knows. */
#define GH_LL_ABI_KNOWN 6

/* struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix. */
struct gh_ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};

static int gh_sandbox_abi = -1; /* -1: not asked yet */

/* The kernel's Landlock ABI (0: none), asked once; logs once if none. */
static int
gh_sandbox_ll_abi(void)
{
    long v;

    if (gh_sandbox_abi >= 0)
        return gh_sandbox_abi;
    v = syscall(SYS_landlock_create_ruleset, NULL, 0,
                LANDLOCK_CREATE_RULESET_VERSION);
    if (v < 0) {
        gh_warn(GH_WK,
                "msg=\"Landlock unavailable: the worker runs without its "
                "file-system sandbox\" err=%s",
                gh_q(strerror(errno)));
        gh_sandbox_abi = 0;
    } else {
        gh_sandbox_abi = (int)v;
    }
    return gh_sandbox_abi;
}

int
gh_sandbox_landlock_abi(void)
{
    return gh_sandbox_abi < 0 ? 0 : gh_sandbox_abi;
}

/* Create a ruleset for attr at abi, let reading below read_beneath (NULL:
 * nothing) and enforce it on this thread. */
static int
gh_sandbox_ll_enforce(const struct gh_ll_ruleset_attr *attr, int abi,
                      const char *read_beneath)
{
    size_t size = abi >= 6   ? sizeof(*attr)
                  : abi >= 4 ? 2 * sizeof(uint64_t)
                             : sizeof(uint64_t);
    struct landlock_path_beneath_attr pb;
    int fd, r = 0;

    fd = (int)syscall(SYS_landlock_create_ruleset, attr, size, 0U);
    if (fd < 0) {
        gh_error(GH_WK, "msg=\"landlock_create_ruleset failed\" err=%s",
                 gh_q(strerror(errno)));
        return GH_E_INTERNAL;
    }
    if (read_beneath != NULL) {
        memset(&pb, 0, sizeof(pb));
        pb.allowed_access =
            LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
        pb.parent_fd = open(read_beneath, O_PATH | O_CLOEXEC);
        if (pb.parent_fd < 0 ||
            syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH, &pb,
                    0U) != 0) {
            gh_error(GH_WK, "msg=\"landlock_add_rule failed\" path=%s err=%s",
                     gh_q(read_beneath), gh_q(strerror(errno)));
            r = GH_E_INTERNAL;
        }
        if (pb.parent_fd >= 0)
            close(pb.parent_fd);
    }
    if (r == 0 && syscall(SYS_landlock_restrict_self, fd, 0U) != 0) {
        gh_error(GH_WK, "msg=\"landlock_restrict_self failed\" err=%s",
                 gh_q(strerror(errno)));
        r = GH_E_INTERNAL;
    }
    close(fd);
    return r;
}

int
gh_sandbox_landlock_fs(int abi_max)
{
    struct gh_ll_ruleset_attr attr;
    int abi = gh_sandbox_ll_abi();

    if (abi > abi_max)
        abi = abi_max;
    if (abi > GH_LL_ABI_KNOWN)
        abi = GH_LL_ABI_KNOWN;
    if (abi < 1)
        return 1;
    memset(&attr, 0, sizeof(attr));
    attr.handled_access_fs = GH_LL_FS_ABI1;
    if (abi >= 2)
        attr.handled_access_fs |= GH_LL_FS_REFER;
    if (abi >= 3)
        attr.handled_access_fs |= GH_LL_FS_TRUNCATE;
    if (abi >= 5)
        attr.handled_access_fs |= GH_LL_FS_IOCTL_DEV;
    if (abi >= 6)
        attr.scoped = GH_LL_SCOPE_ABSTRACT | GH_LL_SCOPE_SIGNAL;
    /* No rule: nothing below / may be opened by path. Sanitizer builds
     * only: the leak checker reads /proc/self/{maps,task} at exit. */
    return gh_sandbox_ll_enforce(&attr, abi,
                                 GH_SANDBOX_SANITIZED ? "/proc/self" : NULL);
}

int
gh_sandbox_net_lock(void)
{
    struct gh_ll_ruleset_attr attr;
    int abi = gh_sandbox_ll_abi();

    if (abi < 4)
        return 1;
    memset(&attr, 0, sizeof(attr));
    attr.handled_access_net = GH_LL_NET_BIND_TCP | GH_LL_NET_CONNECT_TCP;
    if (gh_sandbox_ll_enforce(
            &attr, abi > GH_LL_ABI_KNOWN ? GH_LL_ABI_KNOWN : abi, NULL) != 0)
        return GH_E_INTERNAL;
    return 0;
}

/* Lower both limits of resource to v. */
static int
gh_sandbox_limit(int resource, const char *name, rlim_t v)
{
    struct rlimit rl = {v, v};

    if (setrlimit(resource, &rl) != 0) {
        gh_error(GH_WK, "msg=\"setrlimit failed\" limit=%s err=%s", name,
                 gh_q(strerror(errno)));
        return GH_E_INTERNAL;
    }
    return 0;
}

int
gh_sandbox_apply(void)
{
    struct stat st;
    int r, fsize = 0;

    umask(077);
    if (chdir("/") != 0) {
        gh_error(GH_WK, "msg=\"chdir / failed\" err=%s", gh_q(strerror(errno)));
        return GH_E_INTERNAL;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        gh_error(GH_WK, "msg=\"prctl failed\" err=%s", gh_q(strerror(errno)));
        return GH_E_INTERNAL;
    }
    if (gh_sandbox_limit(RLIMIT_CORE, "core", 0) != 0 ||
        gh_sandbox_limit(RLIMIT_NOFILE, "nofile", GH_SANDBOX_NOFILE) != 0)
        return GH_E_INTERNAL;
    if (!GH_SANDBOX_SANITIZED &&
        (gh_sandbox_limit(RLIMIT_NPROC, "nproc", 0) != 0 ||
         gh_sandbox_limit(RLIMIT_DATA, "data", GH_SANDBOX_DATA_MAX) != 0))
        return GH_E_INTERNAL;
    if (fstat(2, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (gh_sandbox_limit(RLIMIT_FSIZE, "fsize", 0) != 0)
            return GH_E_INTERNAL;
        fsize = 1;
    }
    r = gh_sandbox_landlock_fs(GH_LL_ABI_KNOWN);
    if (r < 0)
        return r;
    gh_debug(GH_WK,
             "msg=\"sandboxed\" landlock_abi=%d nofile=%d fsize_limit=%s "
             "nproc_limit=%s",
             gh_sandbox_landlock_abi(), GH_SANDBOX_NOFILE, fsize ? "yes" : "no",
             GH_SANDBOX_SANITIZED ? "no" : "yes");
    return 0;
}
