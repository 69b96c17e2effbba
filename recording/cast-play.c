/*
 * cast-play.c - play the output of an asciicast to a terminal with its
 * timing (recording.h), for `gatehousectl recordings play`.
 *
 * The schedule is absolute: each event is due at the sum of the (capped,
 * sped-up) pauses before it, measured from the start on CLOCK_MONOTONIC,
 * so time spent writing to a slow terminal is not added to every pause.
 */
#include "gatehouse/recording.h"

#include "gatehouse/err.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The schedule never runs further than this (seconds from the start):
 * hostile times that jump back and forth could otherwise sum to more
 * than a time_t holds. A century is "forever" to a person watching. */
#define GH_CAST_PLAY_AT_MAX (100.0 * 366 * 86400)

/* Write all of buf to fd; EINTR retries unless asked to stop. */
static int
gh_cast_write_all(int fd, const char *buf, size_t len,
                  const volatile sig_atomic_t *stop)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            if (stop != NULL && *stop)
                return 0;
            continue;
        }
        if (n <= 0)
            return GH_E_IO;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sleep until start + at seconds (CLOCK_MONOTONIC), or until *stop. */
static void
gh_cast_sleep_until(const struct timespec *start, double at,
                    const volatile sig_atomic_t *stop)
{
    struct timespec due = *start;
    double whole = floor(at);

    due.tv_sec += (time_t)whole;
    due.tv_nsec += (long)((at - whole) * 1e9);
    if (due.tv_nsec >= 1000000000L) {
        due.tv_sec++;
        due.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
        if (stop != NULL && *stop)
            return;
}

int
gh_cast_play(struct gh_cast_reader *r, int out_fd, double speed,
             double idle_cap, const volatile sig_atomic_t *stop)
{
    struct gh_cast_header h;
    struct gh_cast_event ev;
    struct timespec start;
    double cap, prev = 0, at = 0;
    int rc;

    if (!isfinite(speed) || speed <= 0 || isnan(idle_cap))
        return GH_E_INVAL;
    if ((rc = gh_cast_reader_header(r, &h)) != 0)
        return rc;
    cap = idle_cap > 0    ? idle_cap
          : idle_cap == 0 ? (h.idle_time_limit > 0 ? h.idle_time_limit : -1)
                          : -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while ((rc = gh_cast_reader_next(r, &ev)) == 1) {
        double pause;

        if (stop != NULL && *stop)
            return 0;
        if (ev.type != GH_CAST_EV_OUTPUT)
            continue;
        /* Pauses are between output events, as asciinema plays them. */
        pause = ev.time - prev;
        prev = ev.time;
        if (pause < 0)
            pause = 0;
        if (cap > 0 && pause > cap)
            pause = cap;
        at += pause / speed;
        if (at > GH_CAST_PLAY_AT_MAX)
            at = GH_CAST_PLAY_AT_MAX;
        gh_cast_sleep_until(&start, at, stop);
        if (stop != NULL && *stop)
            return 0;
        if (gh_cast_write_all(out_fd, ev.data, ev.len, stop) != 0)
            return GH_E_IO;
    }
    return rc < 0 ? rc : 0;
}
