/* fetch.c - a libcurl worker thread with a job queue (see fetch.h). */
#include "gatehouse/fetch.h"

#include "gatehouse/err.h"
#include "gatehouse/log.h"
#include "gatehouse/mem.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct gh_fetch_job {
    struct gh_fetch_job *next;
    uint64_t id;
    char *url, *form, *user, *pass;
    int allow_http;
    gh_fetch_done_fn fn;
    gh_fetch_drop_fn drop;
    void *ctx;
    bool cancelled;
    /* result */
    long status;
    char *body;
    size_t len;
    char error[CURL_ERROR_SIZE + 64];
    bool failed;
};

struct gh_fetch {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gh_fetch_job *todo, *todo_tail; /* queued, oldest first */
    struct gh_fetch_job *done, *done_tail; /* finished, oldest first */
    struct gh_fetch_job *running;
    size_t queued;
    uint64_t next_id;
    atomic_bool stop; /* read by curl's progress callback too */
    gh_fetch_wake_fn wake;
    void *wake_ctx;
};

static void
gh_fetch_job_free(struct gh_fetch_job *j)
{
    if (j == NULL)
        return;
    if (j->drop != NULL)
        j->drop(j->ctx);
    free(j->url);
    if (j->form != NULL)
        gh_freezero(j->form, strlen(j->form)); /* may hold a code */
    free(j->user);
    if (j->pass != NULL)
        gh_freezero(j->pass, strlen(j->pass));
    free(j->body);
    free(j);
}

static size_t
gh_fetch_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct gh_fetch_job *j = userdata;
    size_t n = size * nmemb;

    if (j->len + n > GH_FETCH_BODY_MAX)
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    j->body = gh_realloc(j->body, j->len + n + 1, 1);
    memcpy(j->body + j->len, ptr, n);
    j->len += n;
    j->body[j->len] = '\0';
    return n;
}

/* Lets a stop abort a request in flight instead of waiting its timeout. */
static int
gh_fetch_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                  curl_off_t ultotal, curl_off_t ulnow)
{
    struct gh_fetch *f = clientp;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(&f->stop) ? 1 : 0;
}

static void
gh_fetch_run(struct gh_fetch *f, struct gh_fetch_job *j)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    CURLcode rc;

    if (c == NULL) {
        j->failed = true;
        snprintf(j->error, sizeof(j->error), "cannot create curl handle");
        return;
    }
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
                     j->allow_http ? "https,http" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)GH_FETCH_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)GH_FETCH_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)GH_FETCH_BODY_MAX);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gh_fetch_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "gatehouse");
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, gh_fetch_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (j->form != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->form);
    if (j->user != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, j->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, j->pass ? j->pass : "");
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        j->failed = true;
        snprintf(j->error, sizeof(j->error), "%s",
                 *errbuf ? errbuf : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &j->status);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
}

static void *
gh_fetch_main(void *arg)
{
    struct gh_fetch *f = arg;
    struct gh_fetch_job *j;

    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stop && f->todo == NULL)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->stop)
            break;
        j = f->todo;
        f->todo = j->next;
        if (f->todo == NULL)
            f->todo_tail = NULL;
        j->next = NULL;
        f->running = j;
        pthread_mutex_unlock(&f->mu);

        gh_fetch_run(f, j);

        pthread_mutex_lock(&f->mu);
        f->running = NULL;
        f->queued--;
        if (f->done_tail != NULL)
            f->done_tail->next = j;
        else
            f->done = j;
        f->done_tail = j;
        pthread_mutex_unlock(&f->mu);
        f->wake(f->wake_ctx);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

struct gh_fetch *
gh_fetch_new(gh_fetch_wake_fn wake, void *wake_ctx)
{
    struct gh_fetch *f = gh_alloc(1, sizeof(*f));

    f->wake = wake;
    f->wake_ctx = wake_ctx;
    f->next_id = 1;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->thread, NULL, gh_fetch_main, f) != 0) {
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        free(f);
        return NULL;
    }
    return f;
}

int
gh_fetch_submit(struct gh_fetch *f, const struct gh_fetch_req *req,
                gh_fetch_done_fn fn, gh_fetch_drop_fn drop, void *ctx,
                uint64_t *id)
{
    struct gh_fetch_job *j;

    pthread_mutex_lock(&f->mu);
    if (f->queued >= GH_FETCH_QUEUE_MAX) {
        pthread_mutex_unlock(&f->mu);
        return GH_E_TOOBIG;
    }
    j = gh_alloc(1, sizeof(*j));
    j->id = f->next_id++;
    j->url = gh_strdup(req->url);
    j->form = gh_strdup(req->form);
    j->user = gh_strdup(req->basic_user);
    j->pass = gh_strdup(req->basic_pass);
    j->allow_http = req->allow_http;
    j->fn = fn;
    j->drop = drop;
    j->ctx = ctx;
    if (f->todo_tail != NULL)
        f->todo_tail->next = j;
    else
        f->todo = j;
    f->todo_tail = j;
    f->queued++;
    if (id != NULL)
        *id = j->id;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

void
gh_fetch_cancel(struct gh_fetch *f, uint64_t id)
{
    struct gh_fetch_job *j;

    pthread_mutex_lock(&f->mu);
    for (j = f->todo; j != NULL; j = j->next)
        if (j->id == id)
            j->cancelled = true;
    for (j = f->done; j != NULL; j = j->next)
        if (j->id == id)
            j->cancelled = true;
    if (f->running != NULL && f->running->id == id)
        f->running->cancelled = true;
    pthread_mutex_unlock(&f->mu);
}

void
gh_fetch_dispatch(struct gh_fetch *f)
{
    struct gh_fetch_job *list, *j;
    struct gh_fetch_result r;

    pthread_mutex_lock(&f->mu);
    list = f->done;
    f->done = f->done_tail = NULL;
    pthread_mutex_unlock(&f->mu);
    while ((j = list) != NULL) {
        list = j->next;
        if (!j->cancelled) {
            memset(&r, 0, sizeof(r));
            r.status = j->status;
            r.body = j->body ? j->body : "";
            r.len = j->len;
            r.error = j->failed ? j->error : NULL;
            j->drop = NULL; /* fn owns ctx from here */
            j->fn(j->ctx, &r);
        }
        gh_fetch_job_free(j);
    }
}

static void
gh_fetch_free_list(struct gh_fetch_job *j)
{
    struct gh_fetch_job *n;

    for (; j != NULL; j = n) {
        n = j->next;
        gh_fetch_job_free(j);
    }
}

void
gh_fetch_free(struct gh_fetch *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    atomic_store(&f->stop, true);
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    gh_fetch_free_list(f->todo);
    gh_fetch_free_list(f->done);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
