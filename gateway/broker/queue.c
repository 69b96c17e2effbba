/* queue.c - byte chunks waiting to be written to one side of a session. */
#include "broker-priv.h"

#include "gatehouse/mem.h"

#include <stdlib.h>
#include <string.h>

struct gh_chunk *
gh_queue_push(struct gh_queue *q, size_t pre, const void *a, size_t alen,
              const void *b, size_t blen)
{
    struct gh_chunk *c = gh_alloc(1, sizeof(*c) + pre + alen + blen);

    c->p = c->mem + pre;
    if (alen > 0)
        memcpy(c->p, a, alen);
    if (blen > 0)
        memcpy(c->p + alen, b, blen);
    c->len = alen + blen;
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += c->len;
    return c;
}

static void
gh_chunk_free(struct gh_chunk *c)
{
    if (c->secret)
        gh_wipe(c->p, c->len);
    free(c);
}

void
gh_queue_pop(struct gh_queue *q)
{
    struct gh_chunk *c = q->head;

    if (c == NULL)
        return;
    q->head = c->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->bytes -= c->len - c->off;
    gh_chunk_free(c);
}

void
gh_queue_clear(struct gh_queue *q)
{
    while (q->head != NULL)
        gh_queue_pop(q);
    q->bytes = 0;
}
