/*
 * recording.h - session recordings in asciicast v2 (.cast): the writer
 * gatehoused's broker feeds with what the user saw, and the reader,
 * scanner and player the offline tools (gatehousectl) use.
 *
 * File format (recording/README.md has the details):
 *
 *   {"version":2,"width":80,"height":24,"timestamp":1700000000,
 *    "title":"alice@web1","env":{"TERM":"xterm-256color"},
 *    "gatehouse":{"format":1,"session":7,"grant":3,"user":"alice",
 *                 "target":"web1","input":false}}
 *   [0.250, "o", "$ ls\r\n"]
 *   [1.000, "r", "100x30"]
 *
 * One event per line, each line valid UTF-8 JSON with every control
 * character escaped, so a line can neither break nor forge another.
 * Stock `asciinema cat/play` and asciinema-player ignore the "gatehouse"
 * key and the "r", "i" and "m" events they do not handle.
 *
 * Writer threading: a struct gh_cast belongs to one thread (the broker's
 * event loop). It never blocks for long: events go to a memory buffer and
 * reach the file with plain write(2) calls of whole lines, when the buffer
 * passes GH_CAST_FLUSH_AT and on gh_cast_flush(). Only gh_cast_close()
 * calls fsync(). Reader, scan and play are for any thread, one object per
 * thread.
 */
#ifndef GATEHOUSE_RECORDING_H
#define GATEHOUSE_RECORDING_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Longest file name gh_cast_open() takes: ids and a timestamp fit in a
 * quarter of NAME_MAX, and short names stay readable in listings. */
#define GH_CAST_NAME_MAX 128
/* Terminal size limits of the writer: the same as RESIZE frames
 * (GH_FRAME_DIM_MAX), so every size the broker accepts can be recorded. */
#define GH_CAST_DIM_MAX 1000
/* Longest user, target or TERM value in a header: user ids are claim
 * values and target names are short; this keeps the header one line. */
#define GH_CAST_META_MAX 512
/* Pending bytes that trigger a write(): 64 KiB is one frame's worth and
 * a cheap write; the broker's once-a-second flush covers slow output. */
#define GH_CAST_FLUSH_AT (64 * 1024)
/* Hard cap of pending bytes per recording while writes fail (disk full,
 * I/O error): beyond it output is dropped, reported and marked in the
 * file, never buffered further. */
#define GH_CAST_BUF_MAX (1024 * 1024)
/* An event's escaped data is cut into several events with the same time
 * after this many bytes: lines stay far below GH_CAST_LINE_MAX whatever
 * the caller passes in one call. */
#define GH_CAST_EVENT_DATA_MAX (64 * 1024)
/* Longest line the reader accepts (a hostile or foreign file): 16 times
 * the longest line the writer makes. */
#define GH_CAST_LINE_MAX (1024 * 1024)
/* Largest width/height the reader accepts from a foreign file. */
#define GH_CAST_READ_DIM_MAX 10000
/* Latest event time the reader accepts, in seconds: 10 years; beyond,
 * a time is garbage (and millisecond arithmetic would overflow). */
#define GH_CAST_TIME_MAX (10.0 * 366 * 86400)

/* ------------------------------------------------------------------ */
/* Writer (gatehoused's broker)                                         */
/* ------------------------------------------------------------------ */

struct gh_cast;

/* What the header says. Strings are borrowed for the call only. */
struct gh_cast_meta {
    unsigned cols, rows; /* initial size, 1..GH_CAST_DIM_MAX */
    int64_t start_unix;  /* session start, unix seconds ("timestamp") */
    const char *user;    /* user id (required; title is user@target) */
    const char *target;  /* target name (required) */
    int64_t session_id;  /* remote_sessions.id; 0 = not known */
    int64_t grant_id;    /* the grant the session runs under; 0 = none */
    const char *term;    /* env.TERM; NULL = "xterm-256color" */
    int input_recorded;  /* policy records keystrokes ("i" events) */
};

/* Counters of one recording (for logs and metrics). */
struct gh_cast_stats {
    uint64_t written;    /* bytes in the file (header included) */
    uint64_t pending;    /* bytes waiting in memory */
    uint64_t dropped;    /* input bytes dropped because the buffer was full */
    uint64_t write_errs; /* failed write() calls */
};

/*
 * True when name is a plain file name gh_cast_open() accepts: 1 to
 * GH_CAST_NAME_MAX characters of [A-Za-z0-9._-], not starting with '.'.
 */
int gh_cast_name_ok(const char *name);

/*
 * Create name inside the directory dir_fd (AT_FDCWD: the working
 * directory) with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode 0600, and
 * write the header line. name is chosen by the caller, never by a user,
 * and must pass gh_cast_name_ok(). Strings in m that are not valid UTF-8
 * are written with U+FFFD in place of bad bytes.
 *
 * Returns 0 with *out (free it with gh_cast_close()), GH_E_INVAL for a bad
 * name or meta, GH_E_EXISTS when the file exists, GH_E_IO when it cannot
 * be created or the header cannot be written (errno kept; nothing is left
 * behind in that case).
 */
int gh_cast_open(int dir_fd, const char *name, const struct gh_cast_meta *m,
                 struct gh_cast **out);

/*
 * Record terminal output: len arbitrary bytes, ms milliseconds after the
 * start (times that go backwards are recorded as the previous time). An
 * incomplete UTF-8 sequence at the end is kept for the next call; invalid
 * bytes become U+FFFD (one per maximal ill-formed subpart, as in the
 * Unicode standard and WHATWG). Large inputs become several events with
 * the same time.
 *
 * Returns 0, or GH_E_IO when a write() failed (the data stays buffered
 * and is retried) or output had to be dropped because GH_CAST_BUF_MAX
 * bytes were already waiting (it is marked in the file once writes work
 * again). The first error is remembered: see gh_cast_status().
 */
int gh_cast_output(struct gh_cast *rec, uint64_t ms, const void *buf,
                   size_t len);

/* Record keystrokes ("i" event), with its own UTF-8 carry. The broker
 * calls it only where policy records input: it catches passwords.
 * Returns as gh_cast_output(). */
int gh_cast_input(struct gh_cast *rec, uint64_t ms, const void *buf,
                  size_t len);

/* Record a terminal resize ("r" event "COLSxROWS"). GH_E_INVAL when a
 * size is outside 1..GH_CAST_DIM_MAX; else as gh_cast_output(). */
int gh_cast_resize(struct gh_cast *rec, uint64_t ms, unsigned cols,
                   unsigned rows);

/* Record a marker ("m" event) with label, a NUL-terminated text of ours
 * (e.g. "grant revoked"). Returns as gh_cast_output(). */
int gh_cast_marker(struct gh_cast *rec, uint64_t ms, const char *label);

/* Write every whole line waiting in memory (the broker calls this once a
 * second; it costs nothing when nothing waits). 0 or GH_E_IO. */
int gh_cast_flush(struct gh_cast *rec);

/* The first error this recording met (GH_E_IO) and its errno in *err_no
 * (may be NULL), or 0 when every write so far worked and nothing was
 * dropped. Sticky: a later successful write does not clear it. */
int gh_cast_status(const struct gh_cast *rec, int *err_no);

/* Counters (see struct gh_cast_stats). */
void gh_cast_get_stats(const struct gh_cast *rec, struct gh_cast_stats *st);

/*
 * Finish the recording: an incomplete UTF-8 sequence left over becomes
 * U+FFFD, everything is written, the file is fsync()ed (this may block;
 * it happens once per session) and closed, and rec is freed (NULL is
 * accepted and does nothing).
 *
 * *size (may be NULL) gets the file's size and sha256_hex (may be NULL)
 * the lowercase hex SHA-256 of exactly those bytes, both also on error.
 * Returns 0, or GH_E_IO when anything was lost during the recording or
 * now (see gh_cast_status()), with errno of the first error.
 */
int gh_cast_close(struct gh_cast *rec, uint64_t *size, char sha256_hex[65]);

/* ------------------------------------------------------------------ */
/* Reader (offline tools; robust to hostile files)                      */
/* ------------------------------------------------------------------ */

struct gh_cast_reader;

/* The header of a file being read; strings valid until the reader is
 * freed. */
struct gh_cast_header {
    unsigned width, height; /* 1..GH_CAST_READ_DIM_MAX */
    int64_t timestamp;      /* unix seconds, 0 when absent */
    double idle_time_limit; /* seconds, 0 when absent */
    const char *title;      /* NULL when absent */
    int input_recorded;     /* gatehouse.input, 0 when absent */
};

enum gh_cast_ev_type {
    GH_CAST_EV_OUTPUT = 'o',
    GH_CAST_EV_INPUT = 'i',
    GH_CAST_EV_RESIZE = 'r',
    GH_CAST_EV_MARKER = 'm'
};

/* One event; data is valid until the next call on the reader. */
struct gh_cast_event {
    double time; /* seconds since the start, as in the file */
    uint64_t ms; /* time in milliseconds (rounded) */
    enum gh_cast_ev_type type;
    const char *data;    /* UTF-8, NUL-terminated, may hold NULs */
    size_t len;          /* bytes of data */
    unsigned cols, rows; /* GH_CAST_EV_RESIZE only */
};

/* A reader of the file open on fd (borrowed; read from its current
 * offset; the caller closes it after gh_cast_reader_free()). */
struct gh_cast_reader *gh_cast_reader_new_fd(int fd);
/* A reader of len bytes at buf (borrowed until the reader is freed). */
struct gh_cast_reader *gh_cast_reader_new_mem(const void *buf, size_t len);

/*
 * Read (once) and return the header. Returns 0; GH_E_INVAL when the first
 * line is not an asciicast v2 header (version 2, integer width and height
 * in range); GH_E_TOOBIG for a line over GH_CAST_LINE_MAX; GH_E_IO on a
 * read error. gh_cast_reader_why() explains.
 */
int gh_cast_reader_header(struct gh_cast_reader *r, struct gh_cast_header *h);

/*
 * The next event (the header is read first if needed). Returns 1 with *ev,
 * 0 at the end of the file, or an error as gh_cast_reader_header(): a line
 * that is not [time, "type", "data"] with a finite time in
 * 0..GH_CAST_TIME_MAX, a resize that is not "COLSxROWS", bad UTF-8 or bad
 * JSON. Blank lines and events of unknown types are skipped. A last line
 * without its newline that does not parse is the trace of a crash: it
 * ends the file (0) and gh_cast_reader_truncated() says so. After an
 * error every later call returns the same error.
 */
int gh_cast_reader_next(struct gh_cast_reader *r, struct gh_cast_event *ev);

/* Why the last call failed (static text, never NULL) and on which line
 * (1 = the header; 0 when not about a line). */
const char *gh_cast_reader_why(const struct gh_cast_reader *r,
                               unsigned long *line);

/* True when the file ended in a partial line that was ignored. */
int gh_cast_reader_truncated(const struct gh_cast_reader *r);

/* Lines read so far (the header counts). */
unsigned long gh_cast_reader_lines(const struct gh_cast_reader *r);

void gh_cast_reader_free(struct gh_cast_reader *r);

/* ------------------------------------------------------------------ */
/* Scan (crash recovery at gateway start) and play                      */
/* ------------------------------------------------------------------ */

/* What gh_cast_scan() found. */
struct gh_cast_scan {
    uint64_t size;          /* bytes in the file */
    char sha256[65];        /* hex SHA-256 of those bytes */
    uint64_t whole_size;    /* bytes up to and including the last '\n' */
    uint64_t events;        /* events that parsed */
    uint64_t last_ms;       /* time of the last event that parsed */
    int truncated;          /* the file ends in a partial line */
    unsigned long bad_line; /* first line that does not parse, 0: none */
};

/*
 * Size and SHA-256 of the file path (relative to dir_fd, or AT_FDCWD) as
 * it is, and how far it parses, without modifying it: what the gateway
 * needs at start to index a recording it did not close. The last
 * component is not followed if it is a symbolic link; it must be a
 * regular file. Returns 0 (even when lines do not parse: see bad_line),
 * GH_E_IO (errno kept) or GH_E_INVAL (not a regular file).
 */
int gh_cast_scan(int dir_fd, const char *path, struct gh_cast_scan *out);

/*
 * Play the output events of r to out_fd with their timing: each pause is
 * cut to idle_cap seconds (idle_cap 0: the header's idle_time_limit if
 * any; < 0: no cap), then divided by speed (> 0; 2 = twice as fast).
 * Input, resize and marker events are not shown. Stops early when *stop
 * (may be NULL; set it from a signal handler) becomes non-zero.
 *
 * Returns 0 at the end of the recording (a truncated last line included)
 * or when stopped; GH_E_INVAL for a bad speed; a reader error (see
 * gh_cast_reader_why()) after playing everything before the bad line;
 * GH_E_IO when out_fd fails.
 */
int gh_cast_play(struct gh_cast_reader *r, int out_fd, double speed,
                 double idle_cap, const volatile sig_atomic_t *stop);

#endif
