/*
 * main.c - gatehouse-worker: one browser session to one VM.
 *
 *   gatehouse-worker --fd 3 [--log-level LEVEL]
 *
 * Started by gatehoused (gh_worker_spawn) with its end of a socketpair as
 * fd 3. It sandboxes itself (sandbox.c), waits for START, and runs the
 * session that START names (ssh.c). Exit status: GH_WORKER_EXIT_* in
 * gatehouse/worker.h.
 */
#include "worker.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* The broker sends START as soon as the worker exists; a worker that
 * hears nothing for this long is an orphan of a broken broker. */
#define GH_WORKER_START_WAIT_MS (30 * 1000)
/* How long the last frames (CLOSE) may take to reach the broker before
 * the worker exits anyway. */
#define GH_WORKER_CLOSE_FLUSH_MS 2000
/* protocol names that START may carry; only SSH so far. */
#define GH_WORKER_PROTO_SSH "ssh"

static void
gh_worker_usage(void)
{
    fprintf(stderr,
            "usage: gatehouse-worker --fd N [--log-level LEVEL]\n"
            "\n"
            "The per-session worker of gatehoused: speaks SSH to one target\n"
            "and Gatehouse frames on fd N. Started by gatehoused only.\n");
}

/* Parse argv; returns the link fd or -1. */
static int
gh_worker_args(int argc, char **argv)
{
    enum gh_log_level lvl;
    char *end;
    long fd = -1;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
            errno = 0;
            fd = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || fd < 0 || fd > 1024)
                return -1;
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            if (gh_log_level_parse(argv[++i], &lvl) != 0)
                return -1;
            gh_log_set_level(lvl);
        } else {
            return -1;
        }
    }
    return (int)fd;
}

/*
 * Before the sandbox: everything that would read a file later (measured
 * with strace). OpenSSL reads its configuration and seeds its generator
 * on first use; glibc reads /etc/localtime on the first time conversion
 * (the log's timestamps); jansson seeds its hash function from
 * /dev/urandom when it makes its first object.
 */
static int
gh_worker_preload(void)
{
    unsigned char b[16];

    tzset();
    json_object_seed(0);
    if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG |
                                OPENSSL_INIT_ADD_ALL_CIPHERS |
                                OPENSSL_INIT_ADD_ALL_DIGESTS,
                            NULL) != 1 ||
        RAND_bytes(b, sizeof(b)) != 1)
        return GH_E_CRYPTO;
    return 0;
}

/* Wait for the first frame; it must be START. Returns the parsed JSON
 * (caller frees) or NULL with *exit set. */
static json_t *
gh_worker_wait_start(struct gh_link *l, int *exit)
{
    int64_t end = gh_now_ms() + GH_WORKER_START_WAIT_MS, left;
    struct gh_frame f;
    struct pollfd p;
    json_error_t jerr;
    json_t *o;
    int rc;

    for (;;) {
        rc = gh_link_next(l, &f);
        if (rc == 1)
            break;
        if (rc < 0) {
            gh_link_close(l, "protocol_error", "%s",
                          rc == GH_E_TOOBIG ? "frame too large"
                                            : "malformed frame or a type the "
                                              "broker may not send");
            *exit = GH_WORKER_EXIT_PROTOCOL;
            return NULL;
        }
        left = end - gh_now_ms();
        if (left <= 0) {
            gh_link_close(l, "protocol_error", "no START within %d s",
                          GH_WORKER_START_WAIT_MS / 1000);
            *exit = GH_WORKER_EXIT_PROTOCOL;
            return NULL;
        }
        p.fd = l->fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
            *exit = GH_WORKER_EXIT_FAILURE;
            return NULL;
        }
        if (p.revents != 0 && gh_link_read(l) < 0) {
            gh_info(GH_WK, "msg=\"broker link closed before START\"");
            *exit = GH_WORKER_EXIT_LINK;
            return NULL;
        }
    }
    if (f.type != GH_F_START) {
        gh_link_close(l, "protocol_error",
                      "the first frame must be START, "
                      "not %s",
                      gh_frame_type_name(f.type));
        if (f.type == GH_F_CREDENTIAL)
            gh_link_wipe_frame(l, &f);
        *exit = GH_WORKER_EXIT_PROTOCOL;
        return NULL;
    }
    o = json_loadb((const char *)f.payload, f.len, JSON_REJECT_DUPLICATES,
                   &jerr);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        gh_link_close(l, "protocol_error", "START is not a JSON object");
        *exit = GH_WORKER_EXIT_PROTOCOL;
        return NULL;
    }
    return o;
}

int
main(int argc, char **argv)
{
    struct gh_link link;
    json_t *start, *proto;
    int fd, exit = GH_WORKER_EXIT_FAILURE;

    signal(SIGPIPE, SIG_IGN); /* a gone broker is an EPIPE, not a death */
    fd = gh_worker_args(argc, argv);
    if (fd < 0) {
        gh_worker_usage();
        return GH_WORKER_EXIT_FAILURE;
    }
    if (fd <= 2 || fcntl(fd, F_GETFD) < 0) {
        gh_error(GH_WK, "msg=\"the link fd is not open\" fd=%d", fd);
        return GH_WORKER_EXIT_FAILURE;
    }
    /* Nothing but 0-2 and the link: the spawner closed the rest, but a
     * worker started some other way must not keep what it inherited. */
    if (fd > 3)
        syscall(SYS_close_range, 3U, (unsigned)fd - 1, 0U);
    syscall(SYS_close_range, (unsigned)fd + 1, ~0U, 0U);
    gh_json_wiping_alloc();
    if (gh_worker_preload() != 0) {
        gh_error(GH_WK, "msg=\"cannot initialise OpenSSL\"");
        return GH_WORKER_EXIT_FAILURE;
    }
    gh_link_init(&link, fd);
    if (gh_sandbox_apply() != 0) {
        gh_link_close(&link, "worker_failed",
                      "the worker could not sandbox itself");
        gh_link_drain(&link, GH_WORKER_CLOSE_FLUSH_MS);
        gh_link_free(&link);
        return GH_WORKER_EXIT_FAILURE;
    }

    start = gh_worker_wait_start(&link, &exit);
    if (start != NULL) {
        proto = json_object_get(start, "protocol");
        if (json_is_string(proto) &&
            strcmp(json_string_value(proto), GH_WORKER_PROTO_SSH) == 0) {
            exit = gh_ssh_run(&link, start);
        } else {
            gh_link_close(&link, "protocol_error",
                          "START: protocol must be \"ssh\"");
            exit = GH_WORKER_EXIT_PROTOCOL;
        }
        json_decref(start);
    }
    if (exit != GH_WORKER_EXIT_LINK &&
        gh_link_drain(&link, GH_WORKER_CLOSE_FLUSH_MS) != 0)
        gh_warn(GH_WK, "msg=\"the last frames did not reach the broker\"");
    gh_link_free(&link);
    gh_debug(GH_WK, "msg=\"exit\" status=%d", exit);
    return exit;
}
