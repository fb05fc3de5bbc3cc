/*
 * events.c — the publish/subscribe bus (see events.h).
 *
 * Locks: events_mu guards the subscriber list and the sequence counter; each subscriber's own
 * mutex guards its ring. A publisher takes events_mu, then each subscriber's mutex in turn (always
 * in that order), so publishing is serialized and every subscriber sees events in seq order.
 * A waiter holds only its subscriber's mutex while it sleeps on its condition variable.
 *
 * An event is serialized once into an events_msg_t and shared by a reference count; a subscriber
 * that receives it gets its own copy of the text (one malloc per delivered event, bounded by
 * EVENTS_MAX_JSON_BYTES), so the reader can hold it without any lock.
 */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_err.h"

typedef struct {
    atomic_uint refs;
    uint64_t seq;
    char type[EVENTS_TYPE_CHARS];
    size_t len;
    char json[];             /* NUL-terminated */
} events_msg_t;

struct events_sub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    events_msg_t **ring;     /* queue_len slots */
    size_t cap, head, count; /* oldest at head */
    uint64_t dropped;
    bool closed;
    events_sub_t *next;      /* in events_subs, under events_mu */
};

static pthread_mutex_t events_mu = PTHREAD_MUTEX_INITIALIZER;
static events_sub_t *events_subs;
static unsigned events_n_subs;
static uint64_t events_seq;

static void events_msg_unref(events_msg_t *m)
{
    if (m != NULL && atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

static bool events_type_ok(const char *type)
{
    size_t n = type ? strlen(type) : 0;
    if (n == 0 || n >= EVENTS_TYPE_CHARS)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static int64_t events_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t events_publish(const char *type, const char *device_id, json_t *data)
{
    json_t *doc = NULL;
    char *text = NULL;
    events_msg_t *m = NULL;
    int64_t rc = MT_EINVAL;

    if (!events_type_ok(type) || (data != NULL && !json_is_object(data)))
        goto out;
    if (data != NULL && (json_object_get(data, "seq") || json_object_get(data, "type") ||
                         json_object_get(data, "at_ms") || json_object_get(data, "device")))
        goto out;
    doc = json_object();
    if (doc == NULL) {
        rc = MT_ENOMEM;
        goto out;
    }

    pthread_mutex_lock(&events_mu);
    /* The seq is taken and the event delivered under one lock, so queues stay in seq order. */
    uint64_t seq = events_seq + 1;
    if (json_object_set_new(doc, "seq", json_integer((json_int_t)seq)) != 0 ||
        json_object_set_new(doc, "type", json_string(type)) != 0 ||
        json_object_set_new(doc, "at_ms", json_integer(events_wall_ms())) != 0 ||
        (device_id != NULL && json_object_set_new(doc, "device", json_string(device_id)) != 0) ||
        (data != NULL && json_object_update(doc, data) != 0)) {
        pthread_mutex_unlock(&events_mu);
        rc = MT_ENOMEM;
        goto out;
    }
    /* JSON_COMPACT never writes a newline (strings escape theirs): one SSE data line. */
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len = text ? strlen(text) : 0;
    if (text == NULL || len > EVENTS_MAX_JSON_BYTES) {
        pthread_mutex_unlock(&events_mu);
        rc = text == NULL ? MT_ENOMEM : MT_ETOOBIG;
        goto out;
    }
    m = malloc(sizeof *m + len + 1);
    if (m == NULL) {
        pthread_mutex_unlock(&events_mu);
        rc = MT_ENOMEM;
        goto out;
    }
    atomic_init(&m->refs, 1); /* the publisher's reference, dropped below */
    m->seq = seq;
    strcpy(m->type, type);
    m->len = len;
    memcpy(m->json, text, len + 1);
    events_seq = seq;
    for (events_sub_t *s = events_subs; s != NULL; s = s->next) {
        pthread_mutex_lock(&s->mu);
        if (!s->closed) {
            if (s->count == s->cap) { /* full: the oldest goes, and is counted */
                events_msg_unref(s->ring[s->head]);
                s->head = (s->head + 1) % s->cap;
                s->count--;
                s->dropped++;
            }
            atomic_fetch_add(&m->refs, 1);
            s->ring[(s->head + s->count) % s->cap] = m;
            s->count++;
            pthread_cond_signal(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&events_mu);
    rc = (int64_t)seq;
out:
    events_msg_unref(m);
    free(text);
    json_decref(doc);
    json_decref(data);
    return rc;
}

uint64_t events_last_seq(void)
{
    pthread_mutex_lock(&events_mu);
    uint64_t s = events_seq;
    pthread_mutex_unlock(&events_mu);
    return s;
}

int events_subscribe(events_sub_t **out, size_t queue_len)
{
    events_sub_t *s = NULL;
    pthread_condattr_t ca;
    int rc = MT_EINVAL;

    if (out == NULL)
        return MT_EINVAL;
    *out = NULL;
    if (queue_len == 0)
        queue_len = EVENTS_DEFAULT_QUEUE;
    if (queue_len > EVENTS_MAX_QUEUE)
        goto out;
    rc = MT_ENOMEM;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        goto out;
    s->ring = calloc(queue_len, sizeof *s->ring);
    if (s->ring == NULL)
        goto out;
    s->cap = queue_len;
    pthread_mutex_init(&s->mu, NULL);
    /* Waits are timed on the monotonic clock so a wall-clock step cannot stretch them. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&events_mu);
    if (events_n_subs >= EVENTS_MAX_SUBSCRIBERS) {
        pthread_mutex_unlock(&events_mu);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        rc = MT_EBUSY;
        goto out;
    }
    s->next = events_subs;
    events_subs = s;
    events_n_subs++;
    pthread_mutex_unlock(&events_mu);
    *out = s;
    s = NULL;
    rc = 0;
out:
    if (s != NULL) {
        free(s->ring);
        free(s);
    }
    return rc;
}

int events_next(events_sub_t *sub, events_event_t *ev, uint32_t timeout_ms)
{
    struct timespec deadline;
    events_msg_t *m = NULL;
    int rc = 0;

    if (sub == NULL || ev == NULL)
        return MT_EINVAL;
    memset(ev, 0, sizeof *ev);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sub->mu);
    while (sub->count == 0 && !sub->closed) {
        if (pthread_cond_timedwait(&sub->cv, &sub->mu, &deadline) == ETIMEDOUT)
            break;
    }
    if (sub->closed) {
        rc = MT_ESTATE;
    } else if (sub->count > 0) {
        m = sub->ring[sub->head];
        sub->ring[sub->head] = NULL;
        sub->head = (sub->head + 1) % sub->cap;
        sub->count--;
    }
    pthread_mutex_unlock(&sub->mu);
    if (m == NULL)
        return rc;
    ev->json = malloc(m->len + 1);
    if (ev->json == NULL) {
        events_msg_unref(m);
        return MT_ENOMEM;
    }
    memcpy(ev->json, m->json, m->len + 1);
    ev->seq = m->seq;
    memcpy(ev->type, m->type, sizeof ev->type);
    events_msg_unref(m);
    return 1;
}

uint64_t events_dropped(events_sub_t *sub)
{
    if (sub == NULL)
        return 0;
    pthread_mutex_lock(&sub->mu);
    uint64_t d = sub->dropped;
    pthread_mutex_unlock(&sub->mu);
    return d;
}

void events_close(events_sub_t *sub)
{
    if (sub == NULL)
        return;
    pthread_mutex_lock(&sub->mu);
    sub->closed = true;
    pthread_cond_broadcast(&sub->cv);
    pthread_mutex_unlock(&sub->mu);
}

void events_unsubscribe(events_sub_t *sub)
{
    if (sub == NULL)
        return;
    pthread_mutex_lock(&events_mu);
    for (events_sub_t **p = &events_subs; *p != NULL; p = &(*p)->next) {
        if (*p == sub) {
            *p = sub->next;
            events_n_subs--;
            break;
        }
    }
    pthread_mutex_unlock(&events_mu);
    /* No publisher can reach it now: the list no longer holds it. */
    for (size_t i = 0; i < sub->count; i++)
        events_msg_unref(sub->ring[(sub->head + i) % sub->cap]);
    pthread_cond_destroy(&sub->cv);
    pthread_mutex_destroy(&sub->mu);
    free(sub->ring);
    free(sub);
}

void events_event_free(events_event_t *ev)
{
    if (ev == NULL)
        return;
    free(ev->json);
    ev->json = NULL;
}
