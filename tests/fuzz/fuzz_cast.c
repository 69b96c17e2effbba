/*
 * fuzz_cast.c - libFuzzer target for recording/ (the asciicast writer,
 * reader and player).
 *
 * Each input is used two ways:
 *   1. as a script for the writer: records of one control byte
 *      (kind = top two bits, n = low six) and then data bytes:
 *        kind 0  n bytes of output (n = 0: gh_cast_flush instead)
 *        kind 1  n bytes of output, then a resize to (n+1)x(n+1)
 *        kind 2  n*64 bytes of output (bigger chunks)
 *        kind 3  n bytes of keystrokes (an "i" event)
 *      The file the writer makes must be whole lines, each valid JSON
 *      holding no raw control byte, and the "o" (and "i") data put
 *      together must equal the bytes given, decoded by an independent
 *      reference decoder (one U+FFFD per maximal ill-formed subpart);
 *   2. as a cast file for the reader (every event checked against what
 *      the API promises) and, when small, the player (pauses capped).
 */
#include "gatehouse/err.h"
#include "gatehouse/recording.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

/* Inputs larger than this are cut: they find nothing more, only slower. */
#define FUZZ_INPUT_MAX (256 * 1024)
/* Play only small inputs: each played event costs a clock_nanosleep. */
#define FUZZ_PLAY_MAX 4096

/* Scratch files live on tmpfs when there is one: gh_cast_close() calls
 * fsync(), which a disk makes slow and tmpfs makes free. */
static char fuzz_dir[64];
static int fuzz_dfd = -1;
static int fuzz_null = -1;
static unsigned long fuzz_seq;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch directory is empty between inputs: remove it at exit. */
static void
fuzz_cleanup(void)
{
    rmdir(fuzz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(fuzz_dir, sizeof(fuzz_dir), "/dev/shm/gh-fuzz-cast-XXXXXX");
    if (mkdtemp(fuzz_dir) == NULL) {
        snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/gh-fuzz-cast-XXXXXX");
        if (mkdtemp(fuzz_dir) == NULL)
            abort();
    }
    atexit(fuzz_cleanup);
    fuzz_dfd = open(fuzz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fuzz_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fuzz_dfd < 0 || fuzz_null < 0)
        abort();
    return 0;
}

/* ---- the reference decoder (written apart from the writer's) ---- */

/* UTF-8 of in[0..n) with each maximal ill-formed subpart replaced by
 * U+FFFD, appended to out (room: 3 * n). Returns the bytes written. */
static size_t
ref_decode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;

    while (i < n) {
        uint8_t c = in[i];
        size_t need, k;
        uint8_t lo = 0x80, hi = 0xbf;

        if (c < 0x80) {
            out[o++] = c;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 2;
        else if (c == 0xe0)
            need = 3, lo = 0xa0;
        else if (c == 0xed)
            need = 3, hi = 0x9f;
        else if (c >= 0xe1 && c <= 0xef)
            need = 3;
        else if (c == 0xf0)
            need = 4, lo = 0x90;
        else if (c == 0xf4)
            need = 4, hi = 0x8f;
        else if (c >= 0xf1 && c <= 0xf3)
            need = 4;
        else
            need = 0;
        k = 1;
        while (need > 0 && k < need && i + k < n) {
            uint8_t b = in[i + k];

            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf))
                break;
            k++;
        }
        if (need > 0 && k == need) {
            memcpy(out + o, in + i, need);
            o += need;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        i += k;
    }
    return o;
}

/* ---- part 1: the writer ---- */

struct fuzz_stream {
    uint8_t *in; /* bytes given */
    size_t in_len;
    uint8_t *got; /* decoded from the file */
    size_t got_len, got_cap;
};

static void
fuzz_append(struct fuzz_stream *s, const char *p, size_t n)
{
    if (s->got_len + n > s->got_cap) {
        s->got_cap = (s->got_len + n) * 2;
        s->got = realloc(s->got, s->got_cap);
        if (s->got == NULL)
            abort();
    }
    memcpy(s->got + s->got_len, p, n);
    s->got_len += n;
}

/* Check the file and collect the data of its events. */
static void
fuzz_check_file(const char *buf, size_t len, struct fuzz_stream *o,
                struct fuzz_stream *in)
{
    const char *p = buf, *end = buf + len;
    size_t lines = 0, i;

    if (len == 0 || buf[len - 1] != '\n')
        abort(); /* a closed recording is whole lines */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if ((c < 0x20 && c != '\n') || c == 0x7f)
            abort();
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_t *j, *d;
        const char *type;

        if ((size_t)(nl - p) > GH_CAST_EVENT_DATA_MAX + 64 && lines > 0)
            abort(); /* a line the writer should have cut */
        j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, NULL);
        if (j == NULL)
            abort();
        if (lines++ == 0) {
            if (!json_is_object(j))
                abort();
            json_decref(j);
            p = nl + 1;
            continue;
        }
        d = json_array_get(j, 2);
        if (!json_is_array(j) || json_array_size(j) != 3 ||
            !json_is_number(json_array_get(j, 0)) || !json_is_string(d) ||
            !json_is_string(json_array_get(j, 1)))
            abort();
        type = json_string_value(json_array_get(j, 1));
        if (strcmp(type, "o") == 0)
            fuzz_append(o, json_string_value(d), json_string_length(d));
        else if (strcmp(type, "i") == 0)
            fuzz_append(in, json_string_value(d), json_string_length(d));
        else if (strcmp(type, "r") != 0)
            abort();
        json_decref(j);
        p = nl + 1;
    }
}

/* The decoded data must be the reference decoding of the input. */
static void
fuzz_check_stream(const struct fuzz_stream *s)
{
    uint8_t *want = malloc(3 * s->in_len + 1);
    size_t n;

    if (want == NULL)
        abort();
    n = ref_decode(s->in, s->in_len, want);
    if (n != s->got_len || (n > 0 && memcmp(want, s->got, n) != 0))
        abort();
    free(want);
}

static void
fuzz_writer(const uint8_t *data, size_t size)
{
    struct gh_cast_meta m = {.cols = 80,
                             .rows = 24,
                             .start_unix = 1700000000,
                             .user = "fuzz",
                             .target = "t"};
    struct fuzz_stream o = {0}, in = {0};
    struct gh_cast *rec = NULL;
    size_t i = 0, len = 0;
    uint64_t ms = 0, fsize = 0;
    char name[64], *buf;
    ssize_t got;
    int fd;

    o.in = malloc(size + 1);
    in.in = malloc(size + 1);
    if (o.in == NULL || in.in == NULL)
        abort();
    snprintf(name, sizeof(name), "w%lu.cast", fuzz_seq++);
    if (gh_cast_open(fuzz_dfd, name, &m, &rec) != 0)
        abort();
    while (i < size) {
        unsigned kind = data[i] >> 6, n = data[i] & 0x3f;
        size_t take = kind == 2 ? (size_t)n * 64 : n;

        i++;
        if (take > size - i)
            take = size - i;
        ms += data[i - 1];
        if (kind == 0 && n == 0) {
            if (gh_cast_flush(rec) != 0)
                abort();
            continue;
        }
        if (kind == 3) {
            if (gh_cast_input(rec, ms, data + i, take) != 0)
                abort();
            memcpy(in.in + in.in_len, data + i, take);
            in.in_len += take;
        } else {
            if (gh_cast_output(rec, ms, data + i, take) != 0)
                abort();
            memcpy(o.in + o.in_len, data + i, take);
            o.in_len += take;
            if (kind == 1 && gh_cast_resize(rec, ms, n + 1, n + 1) != 0)
                abort();
        }
        i += take;
    }
    if (gh_cast_close(rec, &fsize, NULL) != 0)
        abort();
    fd = openat(fuzz_dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        abort();
    buf = malloc(fsize + 1);
    if (buf == NULL)
        abort();
    while (len < fsize && (got = read(fd, buf + len, fsize - len)) > 0)
        len += (size_t)got;
    if (len != fsize)
        abort();
    close(fd);
    unlinkat(fuzz_dfd, name, 0);
    fuzz_check_file(buf, len, &o, &in);
    fuzz_check_stream(&o);
    fuzz_check_stream(&in);
    free(buf);
    free(o.in);
    free(o.got);
    free(in.in);
    free(in.got);
}

/* ---- part 2: the reader and the player ---- */

static void
fuzz_reader(const uint8_t *data, size_t size)
{
    struct gh_cast_reader *r = gh_cast_reader_new_mem(data, size);
    struct gh_cast_header h;
    struct gh_cast_event ev;
    unsigned long line = 0;
    const char *why;
    int rc;

    rc = gh_cast_reader_header(r, &h);
    if (rc == 0 && (h.width < 1 || h.width > GH_CAST_READ_DIM_MAX ||
                    h.height < 1 || h.height > GH_CAST_READ_DIM_MAX))
        abort();
    while ((rc = gh_cast_reader_next(r, &ev)) == 1) {
        if (ev.data == NULL || ev.data[ev.len] != '\0' ||
            ev.ms > (uint64_t)(GH_CAST_TIME_MAX * 1000) + 1 ||
            !(ev.time >= 0) ||
            (ev.type != GH_CAST_EV_OUTPUT && ev.type != GH_CAST_EV_INPUT &&
             ev.type != GH_CAST_EV_RESIZE && ev.type != GH_CAST_EV_MARKER))
            abort();
        if (ev.type == GH_CAST_EV_RESIZE &&
            (ev.cols < 1 || ev.cols > GH_CAST_READ_DIM_MAX || ev.rows < 1 ||
             ev.rows > GH_CAST_READ_DIM_MAX))
            abort();
    }
    why = gh_cast_reader_why(r, &line);
    /* An error names a line that was read (or line 1 of an empty file). */
    if (why == NULL ||
        (line > gh_cast_reader_lines(r) && !(line == 1 && size == 0)))
        abort();
    if (rc < 0 && (rc != GH_E_INVAL && rc != GH_E_TOOBIG))
        abort();
    if (rc == 0 && line != 0)
        abort();
    gh_cast_reader_free(r);
    if (size <= FUZZ_PLAY_MAX) {
        r = gh_cast_reader_new_mem(data, size);
        rc = gh_cast_play(r, fuzz_null, 1.0, 1e-6, NULL);
        if (rc != 0 && rc != GH_E_INVAL && rc != GH_E_TOOBIG)
            abort();
        gh_cast_reader_free(r);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_INPUT_MAX)
        size = FUZZ_INPUT_MAX;
    fuzz_writer(data, size);
    fuzz_reader(data, size);
    return 0;
}
