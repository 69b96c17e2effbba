/*
 * cast.c - throughput of the asciicast writer (recording/): MB of
 * terminal output per second through gh_cast_output() in 4 KiB chunks
 * (an SSH channel read), with gh_cast_flush() every 256 calls (the
 * broker flushes once a second; at these rates that is far more often),
 * into a file in DIR (default: the working directory).
 *
 *   bench_cast [DIR [MB]]
 *
 * Prints figures for three kinds of output and asserts nothing:
 *   text   - shell/compiler output: ASCII, colour escapes, some UTF-8
 *   ascii  - printable ASCII only (the fast path)
 *   binary - random bytes (`cat /dev/urandom`: mostly U+FFFD and \u00XX)
 * and the slowest single gh_cast_output() call (it runs on the event
 * loop: its worst case matters more than its mean).
 */
#include "gatehouse/recording.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_CHUNK       4096
#define BENCH_FLUSH_EVERY 256

static double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fill buf with n bytes of the kind asked. */
static void
bench_fill(const char *kind, unsigned char *buf, size_t n)
{
    static const char text[] =
        "\x1b[01;34mdrwxr-xr-x\x1b[0m  2 alice staff  4096 Nov 25 08:00 "
        "src\r\ngcc -O2 -c main.c -o main.o\r\nmain.c:12:5: \x1b[1;35m"
        "warning:\x1b[0m unused variable \xe2\x80\x98x\xe2\x80\x99 "
        "[-Wunused-variable]\r\n   12 |     int x;\r\n      |         "
        "\x1b[1;32m^\x1b[0m\r\n\xe2\x94\x82 \xc3\xa9t\xc3\xa9 \xe2\x94\x82\r\n";
    size_t i;
    unsigned x = 12345;

    for (i = 0; i < n; i++) {
        if (strcmp(kind, "text") == 0) {
            buf[i] = (unsigned char)text[i % (sizeof(text) - 1)];
        } else if (strcmp(kind, "ascii") == 0) {
            buf[i] = (unsigned char)(i % 81 == 80 ? '\n' : 'a' + i % 26);
        } else {
            x = x * 1103515245u + 12345u;
            buf[i] = (unsigned char)(x >> 16);
        }
    }
}

static int
bench_run(int dfd, const char *kind, size_t mb)
{
    struct gh_cast_meta m = {.cols = 80,
                             .rows = 24,
                             .start_unix = 1700000000,
                             .user = "bench",
                             .target = "t"};
    struct gh_cast *rec = NULL;
    /* A buffer of chunks that do not all start at a character. */
    size_t pool = 1024 * 1024 + BENCH_CHUNK, total = mb * 1000 * 1000;
    unsigned char *buf = malloc(pool);
    size_t done = 0, calls = 0, off = 0;
    double t0, t1, worst = 0, c0, c1;
    uint64_t size = 0;
    char name[64], sha[65];

    if (buf == NULL)
        return 1;
    bench_fill(kind, buf, pool);
    snprintf(name, sizeof(name), "bench-%s.cast", kind);
    unlinkat(dfd, name, 0);
    if (gh_cast_open(dfd, name, &m, &rec) != 0)
        return 1;
    c0 = (double)clock() / CLOCKS_PER_SEC;
    t0 = bench_now();
    while (done < total) {
        double a = bench_now(), b;

        if (gh_cast_output(rec, calls, buf + off, BENCH_CHUNK) != 0)
            return 1;
        if (++calls % BENCH_FLUSH_EVERY == 0 && gh_cast_flush(rec) != 0)
            return 1;
        b = bench_now();
        if (b - a > worst)
            worst = b - a;
        done += BENCH_CHUNK;
        off = (off + BENCH_CHUNK + 1) % (pool - BENCH_CHUNK);
    }
    if (gh_cast_flush(rec) != 0)
        return 1;
    t1 = bench_now();
    c1 = (double)clock() / CLOCKS_PER_SEC;
    if (gh_cast_close(rec, &size, sha) != 0)
        return 1;
    printf("%-6s %6.0f MB in %6.3f s = %7.1f MB/s (cpu %6.3f s); file "
           "%.1f MB; slowest call %.2f ms\n",
           kind, (double)done / 1e6, t1 - t0, (double)done / 1e6 / (t1 - t0),
           c1 - c0, (double)size / 1e6, worst * 1e3);
    unlinkat(dfd, name, 0);
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    size_t mb = argc > 2 ? (size_t)atol(argv[2]) : 100;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);

    if (dfd < 0 || mb == 0) {
        fprintf(stderr, "usage: bench_cast [DIR [MB]]\n");
        return 2;
    }
    printf("gh_cast_output, %zu MB each, %d-byte chunks, flush every %d "
           "calls, into %s\n",
           mb, BENCH_CHUNK, BENCH_FLUSH_EVERY, dir);
    if (bench_run(dfd, "text", mb) || bench_run(dfd, "ascii", mb) ||
        bench_run(dfd, "binary", mb))
        return 1;
    close(dfd);
    return 0;
}
