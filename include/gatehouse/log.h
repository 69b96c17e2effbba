/*
 * log.h - diagnostics: one line per event on stderr.
 *
 *   ts=2026-11-25T08:00:00.123Z level=info comp=http pid=42 msg="..." k=v
 *
 * The timestamp is left out when stderr goes to journald (JOURNAL_STREAM
 * set), which stamps lines itself. Every byte below 0x20 and 0x7f in the
 * formatted text is escaped, so a value from a peer cannot forge a line.
 * Values that may hold spaces or quotes go through gh_q().
 *
 * Never log tokens, passwords, keystrokes, cookies or whole JWTs.
 * Audit events are separate: they go to the store's audit table.
 */
#ifndef GATEHOUSE_LOG_H
#define GATEHOUSE_LOG_H

enum gh_log_level {
    GH_LOG_ERROR = 0,
    GH_LOG_WARN,
    GH_LOG_INFO,
    GH_LOG_DEBUG,
    GH_LOG_TRACE
};

/* Lines longer than this are cut (and end in "..."): a log line is not a
 * place for bulk data, and one write() keeps lines whole between processes.
 */
#define GH_LOG_LINE_MAX 2048

/* Emit one line if level is enabled. comp names the module ("http"). */
void gh_log(enum gh_log_level level, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set / get the most verbose level that is printed (default info). */
void gh_log_set_level(enum gh_log_level level);
enum gh_log_level gh_log_get_level(void);

/* True when a line at level would be printed. */
int gh_log_enabled(enum gh_log_level level);

/* Parse "error".."trace" into *out; 0 or GH_E_INVAL. */
int gh_log_level_parse(const char *s, enum gh_log_level *out);

/* Name of a level ("info"). */
const char *gh_log_level_name(enum gh_log_level level);

/*
 * Quote s for a log value: "..." with \" and \\ escaped, cut at 200 bytes.
 * Returns one of a few per-thread rotating buffers, valid until the 8th
 * next call on the same thread: use it directly in a gh_log() argument.
 */
const char *gh_q(const char *s);

/* Where lines go: fd 2 by default. Tests may point it elsewhere. */
void gh_log_set_fd(int fd);

#define gh_error(comp, ...) gh_log(GH_LOG_ERROR, comp, __VA_ARGS__)
#define gh_warn(comp, ...)  gh_log(GH_LOG_WARN, comp, __VA_ARGS__)
#define gh_info(comp, ...)  gh_log(GH_LOG_INFO, comp, __VA_ARGS__)
#define gh_debug(comp, ...) gh_log(GH_LOG_DEBUG, comp, __VA_ARGS__)

#endif
