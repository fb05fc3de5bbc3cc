/*
 * events.h — microtd's in-process publish/subscribe bus for live updates.
 *
 * Anything in the daemon that changes something a person watches (a board going online or
 * offline, a job's progress, a finished training, a new sample, a stats sample) publishes one
 * event; GET /api/events streams them to browsers as Server-Sent Events (http_api.c), so the
 * dashboard never polls.
 *
 * The bus is one process-wide object (publishers call events_publish() without a handle, so a
 * module adds one line and no plumbing). Each event is serialized to JSON once and shared by
 * reference between subscribers. Every subscriber has its own bounded queue: a slow reader never
 * blocks a publisher or other readers; when its queue is full the oldest event is dropped and
 * counted, and the reader learns how many it missed (the dashboard then reloads its view).
 * Thread-safe: publish, subscribe, wait and close from any thread.
 */
#ifndef MICROT_EVENTS_H
#define MICROT_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_TYPE_CHARS 32          /* longest event type name + NUL */
#define EVENTS_DEFAULT_QUEUE 256      /* events a subscriber may fall behind before drops */
#define EVENTS_MAX_QUEUE 4096
#define EVENTS_MAX_JSON_BYTES 16384   /* one event's serialized size; bigger events are refused */
#define EVENTS_MAX_SUBSCRIBERS 256

typedef struct events_sub events_sub_t;

/* One event as a subscriber receives it. json is the whole event as one line of compact JSON:
 * {"seq":N,"type":"...","at_ms":T,"device":"ID" (when given), ...data's fields}. */
typedef struct {
    uint64_t seq;                     /* 1, 2, ... process-wide, in publish order */
    char type[EVENTS_TYPE_CHARS];
    char *json;                       /* malloc'ed; events_event_free() */
} events_event_t;

/* Publishes an event to every current subscriber. type: [a-z0-9_.]+, shorter than
 * EVENTS_TYPE_CHARS ("device", "job", "training", "sample", "stats", ...). device_id may be NULL.
 * data is a JSON object whose reference is stolen (NULL = no extra fields); its keys must not be
 * seq/type/at_ms/device. Never blocks on a subscriber. Returns the event's seq (> 0), or
 * MT_EINVAL (bad type or data), MT_ETOOBIG (serialized over EVENTS_MAX_JSON_BYTES), MT_ENOMEM. */
int64_t events_publish(const char *type, const char *device_id, json_t *data);

/* The seq of the last event published (0 before any). */
uint64_t events_last_seq(void);

/* Registers a subscriber that receives the events published from now on. queue_len 0 means
 * EVENTS_DEFAULT_QUEUE; more than EVENTS_MAX_QUEUE is MT_EINVAL; MT_EBUSY past
 * EVENTS_MAX_SUBSCRIBERS. */
int events_subscribe(events_sub_t **out, size_t queue_len);

/* Waits up to timeout_ms for the subscriber's next event: 1 and *ev filled (free it with
 * events_event_free), 0 when the time passed, MT_ESTATE once the subscriber is closed. */
int events_next(events_sub_t *sub, events_event_t *ev, uint32_t timeout_ms);

/* Events dropped so far because this subscriber's queue was full. */
uint64_t events_dropped(events_sub_t *sub);

/* Marks the subscriber closed and wakes its waiter (events_next returns MT_ESTATE); it gets no
 * more events. Used to end streams when the API stops. Safe to call more than once. */
void events_close(events_sub_t *sub);

/* Removes and frees the subscriber, with its queued events. NULL is fine. Must not race with an
 * events_next on the same subscriber (the stream that owns it calls both). */
void events_unsubscribe(events_sub_t *sub);

void events_event_free(events_event_t *ev);

#endif /* MICROT_EVENTS_H */
