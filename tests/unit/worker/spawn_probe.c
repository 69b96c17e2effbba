/*
 * spawn_probe.c - stands in for gatehouse-worker in the spawner's unit test
 * (tests/unit/worker/spawn.c). It writes what it was started with to fd 3,
 * one "key=value" line each, then waits for fd 3 to close and exits 0.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The /proc/self/status line that starts with key, without the key. */
static void
status_line(FILE *out, const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    size_t n = strlen(key);

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            char *v = line + n + 1;

            v += strspn(v, " \t");
            fprintf(out, "%s=%s", key, v); /* v ends in '\n' */
        }
    }
    fclose(f);
}

int
main(int argc, char **argv)
{
    FILE *out;
    DIR *d;
    struct dirent *e;
    struct stat st;
    gid_t groups[64];
    char path[64], link[256];
    int i, n, fl;
    ssize_t len;
    extern char **environ;

    fl = fcntl(3, F_GETFD);
    out = fdopen(dup(3), "w");
    if (out == NULL)
        return 1;
    fprintf(out, "fd3_cloexec=%d\n", fl >= 0 && (fl & FD_CLOEXEC) ? 1 : 0);
    fprintf(out, "fd3_socket=%d\n",
            fstat(3, &st) == 0 && S_ISSOCK(st.st_mode) ? 1 : 0);
    fprintf(out, "uid=%u\neuid=%u\ngid=%u\negid=%u\n", (unsigned)getuid(),
            (unsigned)geteuid(), (unsigned)getgid(), (unsigned)getegid());
    n = getgroups(64, groups);
    fprintf(out, "groups=%d\n", n);
    fprintf(out, "pgid_is_pid=%d\n", getpgrp() == getpid() ? 1 : 0);
    fprintf(out, "sid_is_pid=%d\n", getsid(0) == getpid() ? 1 : 0);
    status_line(out, "SigBlk");
    status_line(out, "SigIgn");
    for (i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", i);
        len = readlink(path, link, sizeof(link) - 1);
        link[len > 0 ? len : 0] = '\0';
        fprintf(out, "fd%d=%s\n", i, link);
    }
    d = opendir("/proc/self/fd");
    fprintf(out, "fds=");
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d) ||
            atoi(e->d_name) == fileno(out))
            continue;
        fprintf(out, "%s,", e->d_name);
    }
    fprintf(out, "\n");
    if (d != NULL)
        closedir(d);
    for (i = 0; environ[i] != NULL; i++)
        fprintf(out, "env=%s\n", environ[i]);
    for (i = 0; i < argc; i++)
        fprintf(out, "argv%d=%s\n", i, argv[i]);
    fprintf(out, "end=1\n");
    fclose(out);
    /* Stay until the test closes its end. */
    while (read(3, link, sizeof(link)) > 0)
        ;
    return 0;
}
