/* resolve.c - getaddrinfo() on a few threads (see resolve.h). */
#include "resolve.h"

#include "gatehouse/mem.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gh_resolve_job {
    struct gh_resolve_job *next;
    uint64_t id;
    char name[GH_RESOLVE_NAME_MAX + 1];
    gh_resolve_done_fn fn;
    void *ctx;
    bool cancelled;
    struct gh_resolve_result res;
    char error[GH_RESOLVE_NAME_MAX + 160]; /* the name and why */
};

struct gh_resolver {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gh_resolve_job *todo, *todo_tail; /* queued, oldest first */
    struct gh_resolve_job *busy;             /* being resolved */
    struct gh_resolve_job *done;             /* answered (any order) */
    size_t queued; /* submitted and not yet dispatched */
    uint64_t next_id;
    bool stop;
    unsigned refs; /* the loop's, and one per live thread */
    gh_resolve_wake_fn wake;
    void *wake_ctx;
};

bool
gh_resolve_addr_ok(const struct sockaddr *sa)
{
    const unsigned char *b;
    unsigned char v4[4];

    if (sa->sa_family == AF_INET) {
        memcpy(v4, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
               4);
    } else if (sa->sa_family == AF_INET6) {
        b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
        static const unsigned char zero[15] = {0};

        if (memcmp(b, mapped, 12) == 0)
            memcpy(v4, b + 12, 4);
        else {
            if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
                return false; /* :: and ::1 */
            if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
                return false; /* fe80::/10 link-local */
            if (b[0] == 0xff)
                return false; /* multicast */
            return true;
        }
    } else
        return false;
    if (v4[0] == 0 || v4[0] == 127)
        return false; /* "this network", loopback */
    if (v4[0] == 169 && v4[1] == 254)
        return false; /* link-local, cloud metadata */
    if (v4[0] >= 224)
        return false; /* multicast, reserved, broadcast */
    return true;
}

/* The answer for j->name (thread, no lock held). */
static void
gh_resolve_one(struct gh_resolve_job *j)
{
    struct addrinfo hints, *ai = NULL, *p;
    int rc, refused = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    rc = getaddrinfo(j->name, NULL, &hints, &ai);
    if (rc != 0) {
        snprintf(j->error, sizeof(j->error), "cannot resolve %s: %s", j->name,
                 gai_strerror(rc));
        j->res.error = j->error;
        return;
    }
    for (p = ai; p != NULL; p = p->ai_next) {
        const void *a;

        if (!gh_resolve_addr_ok(p->ai_addr)) {
            refused++;
            continue;
        }
        a = p->ai_family == AF_INET
                ? (const void *)&((struct sockaddr_in *)(void *)p->ai_addr)
                      ->sin_addr
                : (const void *)&((struct sockaddr_in6 *)(void *)p->ai_addr)
                      ->sin6_addr;
        if (inet_ntop(p->ai_family, a, j->res.addr, sizeof(j->res.addr)) !=
            NULL)
            break;
    }
    freeaddrinfo(ai);
    if (p == NULL) {
        snprintf(j->error, sizeof(j->error),
                 refused ? "%s resolves only to loopback, link-local or "
                           "other addresses a name may not reach"
                         : "%s has no usable address",
                 j->name);
        j->res.error = j->error;
    }
}

/* Drop a reference; the last one frees everything. Lock held on entry,
 * released (or destroyed) on return. */
static void
gh_resolver_unref(struct gh_resolver *r)
{
    struct gh_resolve_job *j;
    bool last = --r->refs == 0;

    pthread_mutex_unlock(&r->mu);
    if (!last)
        return;
    while ((j = r->todo) != NULL) {
        r->todo = j->next;
        free(j);
    }
    while ((j = r->done) != NULL) {
        r->done = j->next;
        free(j);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

static void *
gh_resolve_thread(void *arg)
{
    struct gh_resolver *r = arg;
    struct gh_resolve_job *j, **pp;

    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && r->todo == NULL)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop)
            break;
        j = r->todo;
        r->todo = j->next;
        if (r->todo == NULL)
            r->todo_tail = NULL;
        j->next = r->busy;
        r->busy = j;
        pthread_mutex_unlock(&r->mu);
        gh_resolve_one(j);
        pthread_mutex_lock(&r->mu);
        for (pp = &r->busy; *pp != j; pp = &(*pp)->next)
            ;
        *pp = j->next;
        if (r->stop) {
            free(j);
            break;
        }
        j->next = r->done;
        r->done = j;
        /* Under the lock: gh_resolver_free cannot have returned. */
        r->wake(r->wake_ctx);
    }
    gh_resolver_unref(r);
    return NULL;
}

struct gh_resolver *
gh_resolver_new(gh_resolve_wake_fn wake, void *wake_ctx)
{
    struct gh_resolver *r = gh_alloc(1, sizeof(*r));
    pthread_attr_t at;
    pthread_t th;

    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->wake = wake;
    r->wake_ctx = wake_ctx;
    r->refs = 1;
    pthread_attr_init(&at);
    /* Detached: a thread stuck in getaddrinfo() must not hold up the
     * gateway's shutdown; it frees what it shares when it is done. */
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    /* getaddrinfo() with NSS modules wants more than a tiny stack. */
    pthread_attr_setstacksize(&at, 256 * 1024);
    pthread_mutex_lock(&r->mu);
    for (unsigned i = 0; i < GH_RESOLVE_THREADS; i++) {
        if (pthread_create(&th, &at, gh_resolve_thread, r) != 0)
            break;
        r->refs++;
    }
    pthread_attr_destroy(&at);
    if (r->refs == 1) {
        gh_resolver_unref(r);
        return NULL;
    }
    pthread_mutex_unlock(&r->mu);
    return r;
}

int
gh_resolve_submit(struct gh_resolver *r, const char *name,
                  gh_resolve_done_fn fn, void *ctx, uint64_t *id)
{
    struct gh_resolve_job *j;

    if (strlen(name) > GH_RESOLVE_NAME_MAX)
        return -1;
    pthread_mutex_lock(&r->mu);
    if (r->queued >= GH_RESOLVE_QUEUE_MAX) {
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    j = gh_alloc(1, sizeof(*j));
    j->id = ++r->next_id;
    snprintf(j->name, sizeof(j->name), "%s", name);
    j->fn = fn;
    j->ctx = ctx;
    if (r->todo_tail != NULL)
        r->todo_tail->next = j;
    else
        r->todo = j;
    r->todo_tail = j;
    r->queued++;
    if (id != NULL)
        *id = j->id;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void
gh_resolve_cancel(struct gh_resolver *r, uint64_t id)
{
    struct gh_resolve_job *j;

    if (r == NULL || id == 0)
        return;
    pthread_mutex_lock(&r->mu);
    /* Queued, being resolved or answered: the job is in one of these. */
    for (j = r->todo; j != NULL; j = j->next)
        if (j->id == id)
            j->cancelled = true;
    for (j = r->busy; j != NULL; j = j->next)
        if (j->id == id)
            j->cancelled = true;
    for (j = r->done; j != NULL; j = j->next)
        if (j->id == id)
            j->cancelled = true;
    pthread_mutex_unlock(&r->mu);
}

void
gh_resolve_dispatch(struct gh_resolver *r)
{
    struct gh_resolve_job *list, *j;

    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    list = r->done;
    r->done = NULL;
    pthread_mutex_unlock(&r->mu);
    while ((j = list) != NULL) {
        list = j->next;
        pthread_mutex_lock(&r->mu);
        r->queued--;
        pthread_mutex_unlock(&r->mu);
        if (!j->cancelled)
            j->fn(j->ctx, &j->res);
        free(j);
    }
}

void
gh_resolver_free(struct gh_resolver *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    gh_resolver_unref(r);
}
