/*
 * cast-tool.c - drives gh_recording for the recording script tests.
 *
 *   cast-tool write DIR NAME EXPECT [crash]
 *       record a fixed session (with UTF-8 split across events, bad
 *       bytes, controls, a resize, input, a marker) to DIR/NAME; the
 *       output that should play back goes to EXPECT. With "crash": flush,
 *       record more, and _exit() without closing (EXPECT holds only what
 *       was flushed).
 *   cast-tool scan DIR NAME
 *       print gh_cast_scan's findings as key=value lines.
 *   cast-tool cat FILE
 *       print the output events (our reader), like `asciinema cat`.
 *   cast-tool big FILE MIB
 *       write a recording with MIB MiB of output (for downloads).
 */
#include "gatehouse/err.h"
#include "gatehouse/recording.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
usage(void)
{
    fprintf(stderr, "usage: cast-tool write DIR NAME EXPECT [crash] | "
                    "scan DIR NAME | cat FILE | big FILE MIB\n");
    return 2;
}

/* What a player shows for each chunk given to gh_cast_output. */
struct step {
    const char *in;
    const char *shown;
};

static const struct step steps[] = {
    {"$ echo hello\r\n", "$ echo hello\r\n"},
    {"hello \xf0\x9f", "hello "},
    {"\x98\x80 w\xc3", "\xf0\x9f\x98\x80 w"},
    {"\xb6rld\r\n", "\xc3\xb6rld\r\n"},
    {"\x1b[1;31mred\x1b[0m \"q\" \\ \x7f\r\n",
     "\x1b[1;31mred\x1b[0m \"q\" \\ \x7f\r\n"},
    {"bad:\xff\xfe.\r\n", "bad:\xef\xbf\xbd\xef\xbf\xbd.\r\n"},
};

static const struct step after_crash[] = {
    {"never flushed\r\n", "never flushed\r\n"},
};

static int
cmd_write(const char *dir, const char *name, const char *expect, int crash)
{
    struct gh_cast_meta m = {.cols = 80,
                             .rows = 24,
                             .start_unix = 1700000000,
                             .user = "alice",
                             .target = "web1",
                             .session_id = 42,
                             .grant_id = 9};
    struct gh_cast *rec = NULL;
    FILE *ex = fopen(expect, "wb");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY), rc;
    size_t i;

    if (ex == NULL || dfd < 0 || gh_cast_open(dfd, name, &m, &rec) != 0)
        return 1;
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (gh_cast_output(rec, 300 * i, steps[i].in, strlen(steps[i].in)) != 0)
            return 1;
        fputs(steps[i].shown, ex);
        if (i == 2 && (gh_cast_resize(rec, 700, 100, 30) != 0 ||
                       gh_cast_input(rec, 750, "ls\r", 3) != 0 ||
                       gh_cast_marker(rec, 760, "mark") != 0))
            return 1;
    }
    if (fclose(ex) != 0 || gh_cast_flush(rec) != 0)
        return 1;
    if (crash) {
        for (i = 0; i < sizeof(after_crash) / sizeof(after_crash[0]); i++)
            if (gh_cast_output(rec, 5000, after_crash[i].in,
                               strlen(after_crash[i].in)) != 0)
                return 1;
        _exit(0); /* no close, no flush: a SIGKILLed gateway */
    }
    rc = gh_cast_close(rec, NULL, NULL);
    close(dfd);
    return rc == 0 ? 0 : 1;
}

static int
cmd_scan(const char *dir, const char *name)
{
    struct gh_cast_scan sc;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);

    if (dfd < 0 || gh_cast_scan(dfd, name, &sc) != 0)
        return 1;
    printf("size=%llu\nsha256=%s\nwhole_size=%llu\nevents=%llu\n"
           "last_ms=%llu\ntruncated=%d\nbad_line=%lu\n",
           (unsigned long long)sc.size, sc.sha256,
           (unsigned long long)sc.whole_size, (unsigned long long)sc.events,
           (unsigned long long)sc.last_ms, sc.truncated, sc.bad_line);
    close(dfd);
    return 0;
}

static int
cmd_cat(const char *file)
{
    int fd = open(file, O_RDONLY);
    struct gh_cast_reader *r;
    struct gh_cast_event ev;
    int rc;

    if (fd < 0)
        return 1;
    r = gh_cast_reader_new_fd(fd);
    while ((rc = gh_cast_reader_next(r, &ev)) == 1)
        if (ev.type == GH_CAST_EV_OUTPUT)
            fwrite(ev.data, 1, ev.len, stdout);
    if (rc < 0) {
        unsigned long line;
        const char *why = gh_cast_reader_why(r, &line);

        fprintf(stderr, "cast-tool: line %lu: %s\n", line, why);
    } else if (gh_cast_reader_truncated(r)) {
        fprintf(stderr, "cast-tool: truncated\n");
    }
    gh_cast_reader_free(r);
    close(fd);
    return rc < 0 ? 1 : 0;
}

static int
cmd_big(const char *file, long mib)
{
    struct gh_cast_meta m = {.cols = 80,
                             .rows = 24,
                             .start_unix = 1700000000,
                             .user = "bob",
                             .target = "web2"};
    struct gh_cast *rec = NULL;
    char chunk[4096];
    long i;

    memset(chunk, 'z', sizeof(chunk));
    chunk[sizeof(chunk) - 2] = '\r';
    chunk[sizeof(chunk) - 1] = '\n';
    if (gh_cast_open(AT_FDCWD, file, &m, &rec) != 0)
        return 1;
    for (i = 0; i < mib * 256; i++)
        if (gh_cast_output(rec, (uint64_t)i, chunk, sizeof(chunk)) != 0)
            return 1;
    return gh_cast_close(rec, NULL, NULL) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv[2], argv[3], argv[4],
                         argc > 5 && strcmp(argv[5], "crash") == 0);
    if (argc == 4 && strcmp(argv[1], "scan") == 0)
        return cmd_scan(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "cat") == 0)
        return cmd_cat(argv[2]);
    if (argc == 4 && strcmp(argv[1], "big") == 0)
        return cmd_big(argv[2], atol(argv[3]));
    return usage();
}
