/*
 * worker.h - starting a per-session worker (gatehouse-worker) and what the
 * broker needs to know about it.
 *
 * A worker is one process per browser session. It speaks one protocol to
 * one target (SSH now) and frames (gatehouse/frame.h) to the broker over
 * a socketpair: the broker's end is returned here, the worker's end is its
 * fd 3. docs/PROTOCOL.md ("Worker -> broker") says what flows over it.
 *
 * The worker sandboxes itself at start (no_new_privs, not dumpable, no core
 * files, small fd and process limits, Landlock: no file opens, no new TCP
 * connections once connected, no signals to processes outside it). The
 * spawner adds what only the parent can do: its own session and process
 * group, no inherited fds, a minimal environment and, when gatehoused runs
 * as root, an unprivileged user.
 */
#ifndef GATEHOUSE_WORKER_H
#define GATEHOUSE_WORKER_H

#include <sys/types.h>

/* The worker's end of the socketpair, in the worker. */
#define GH_WORKER_LINK_FD 3

/*
 * Exit status of gatehouse-worker (what waitpid() reports):
 *   OK        the session ended in order: the worker sent its CLOSE
 *             (target_closed, auth_failed, host_key_*, connect_failed) or
 *             the broker sent CLOSE;
 *   FAILURE   usage, set-up or internal error (CLOSE worker_failed sent
 *             when the link still worked);
 *   PROTOCOL  the broker sent a bad frame (CLOSE protocol_error sent);
 *   LINK      the broker's end closed (or failed) before any CLOSE.
 * Death by a signal (SIGSEGV, SIGABRT, SIGKILL, SIGXCPU...) is a crash:
 * the broker reports worker_failed.
 */
#define GH_WORKER_EXIT_OK       0
#define GH_WORKER_EXIT_FAILURE  1
#define GH_WORKER_EXIT_PROTOCOL 2
#define GH_WORKER_EXIT_LINK     3

struct gh_worker_spawn {
    /* The worker binary (absolute path: no PATH search). */
    const char *path;
    /* When gatehoused runs as root: the user the worker runs as (its uid
     * and primary gid, no supplementary groups; looked up before fork).
     * NULL = stay. Ignored when not root. A user with uid 0 is refused. */
    const char *user;
};

/*
 * Start one worker: argv is `PATH --fd 3 --log-level LEVEL` (the current
 * gh_log level). The child:
 *   - gets its end of a SOCK_STREAM socketpair as fd 3, /dev/null as fds 0
 *     and 1, and keeps fd 2 (stderr: its log lines, one per write());
 *     every other fd is closed;
 *   - runs in its own session and process group (pgid = pid): stop a
 *     worker with kill(-pid, SIGKILL);
 *   - starts with no blocked signals and default dispositions (gatehoused
 *     blocks TERM/INT/HUP for its signalfd and ignores PIPE);
 *   - gets an environment of JOURNAL_STREAM and the sanitizer options
 *     (ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS) only, where set: the
 *     daemon's own environment may hold secrets;
 *   - drops to o->user when running as root (setgroups(0), setresgid,
 *     setresuid), then execve()s.
 * Between fork and exec the child only makes async-signal-safe calls, so
 * this is safe in a process with other threads (libcurl's).
 *
 * Returns 0 once the child has exec'd (a close-on-exec pipe reports a
 * failed exec), with *pid and *fd (the broker's end: O_NONBLOCK,
 * FD_CLOEXEC; the caller owns it and reaps pid). On failure returns
 * GH_E_INVAL (no path, uid 0 user), GH_E_NOTFOUND (no such user), GH_E_IO
 * (socketpair, fork or exec failed; errno kept) with no fd open and no
 * child left (a child that failed to exec is reaped here). The event loop
 * thread calls it; it blocks only until the child's exec.
 */
int gh_worker_spawn(const struct gh_worker_spawn *o, pid_t *pid, int *fd);

#endif
