/*
 * bench_decide - the decision function against a store holding 100,000
 * grants (10,000 users x 10 targets; a third expired, a tenth revoked),
 * timed over 100,000 decisions for random user/target/port. Prints p50,
 * p99 and max in microseconds; never asserts (goal: p99 <= 50 us).
 *
 *   build/release/tests/bench_decide [DIR]   (DIR: where the DB goes)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/log.h"
#include "gatehouse/policy.h"
#include "gatehouse/store.h"

#define USERS     10000
#define TARGETS   10
#define DECISIONS 100000
#define NOW       1800000000000LL

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int64_t
ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int
main(int argc, char **argv)
{
    char dir[256], db[300], user[32], target[32];
    struct gh_store *st;
    struct gh_grant g;
    struct gh_policy_answer a;
    int64_t *lat, id, t0;
    int i, u, t, allowed = 0;

    snprintf(dir, sizeof(dir), "%s/gh-bench-decide-XXXXXX",
             argc > 1 ? argv[1] : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(db, sizeof(db), "%s/bench.db", dir);
    gh_log_set_level(GH_LOG_WARN);
    if (gh_store_open(db, 5000, &st) != 0)
        return 1;
    srand(42);
    t0 = ns();
    for (u = 0; u < USERS; u++) {
        for (t = 0; t < TARGETS; t++) {
            memset(&g, 0, sizeof(g));
            snprintf(user, sizeof(user), "user%05d@example.test", u);
            snprintf(target, sizeof(target), "target-%02d", t);
            g.user_id = user;
            g.target = target;
            g.ports = t % 2 ? "22,3389" : "22";
            g.starts_ms = NOW - 3600 * 1000;
            g.expires_ms = (u + t) % 3 == 0 ? NOW - 1 : NOW + 3600 * 1000;
            g.how = "direct";
            g.created_by = "bench";
            g.created_ms = g.starts_ms;
            if (gh_store_grant_add(st, &g, &id) != 0)
                return 1;
            if ((u + t) % 10 == 1)
                gh_store_grant_revoke(st, id, "bench", "bench", NOW - 10);
        }
    }
    printf("# %d grants inserted in %.1f s (one transaction each)\n",
           USERS * TARGETS, (double)(ns() - t0) / 1e9);
    lat = calloc(DECISIONS, sizeof(*lat));
    for (i = 0; i < DECISIONS; i++) {
        snprintf(user, sizeof(user), "user%05d@example.test", rand() % USERS);
        snprintf(target, sizeof(target), "target-%02d", rand() % TARGETS);
        t0 = ns();
        gh_policy_decide(st, user, "10.0.0.1", target, rand() % 4 ? 22 : 3389,
                         NOW, &a);
        lat[i] = ns() - t0;
        allowed += a.decision == GH_DECIDE_ALLOW;
    }
    qsort(lat, DECISIONS, sizeof(*lat), cmp64);
    printf("decide-100k-grants  p50=%.1fus  p99=%.1fus  max=%.1fus  "
           "allowed=%d/%d  goal_p99<=50us\n",
           (double)lat[DECISIONS / 2] / 1e3,
           (double)lat[DECISIONS * 99 / 100] / 1e3,
           (double)lat[DECISIONS - 1] / 1e3, allowed, DECISIONS);
    free(lat);
    gh_store_close(st);
    unlink(db);
    snprintf(db, sizeof(db), "%s/bench.db-wal", dir);
    unlink(db);
    snprintf(db, sizeof(db), "%s/bench.db-shm", dir);
    unlink(db);
    rmdir(dir);
    return 0;
}
