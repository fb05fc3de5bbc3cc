/*
 * http_api_int.h — what http_api.c shares with the files that hold more of its handlers
 * (http_wf.c): the request, the route row and the response helpers. Not a public API: only
 * daemon/http_*.c include it.
 */
#ifndef MICROT_HTTP_API_INT_H
#define MICROT_HTTP_API_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_api.h"

#define HTTP_MAX_PARAMS 4

typedef struct {
    http_api_t *api;
    struct MHD_Connection *conn;
    const char *params[HTTP_MAX_PARAMS]; /* the {…} segments of the path, in order */
    json_t *body;                        /* the parsed request body: an object, or NULL */
    const uint8_t *raw;                  /* raw routes: the body bytes as sent */
    size_t raw_len;
    bool stream;                         /* set by a handler: answer with the event stream */
    uint8_t *reply_bytes;                /* set by a handler: a non-JSON answer (malloc'ed, the
                                            API frees it) of type reply_type, status *status */
    size_t reply_len;
    const char *reply_type;
} http_req_t;

/* A handler returns the response document (owned by the caller) and sets *status. */
typedef json_t *(*http_handler_fn)(http_req_t *rq, unsigned *status);

typedef struct {
    const char *method;
    const char *pattern;     /* literal segments and {name} captures */
    http_handler_fn handler;
    bool changes;            /* needs the bearer token */
    bool raw;                /* the body is bytes (an upload), bounded by HTTP_API_MAX_UPLOAD_BYTES */
} http_route_t;

/* An error document for status/code with a printf-style message. */
json_t *http_fail_status(unsigned *status, unsigned http_status, const char *code,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An error document for a negative mt_err_t: "<what>: <mt_strerror>". */
json_t *http_fail(unsigned *status, int err, const char *what);
/* Reads ?name=N: 0 and *out = def when absent, MT_EINVAL unless a decimal in [0, max]. */
int http_query_u64(http_req_t *rq, const char *name, uint64_t def, uint64_t max, uint64_t *out);
/* Lower-case hex of bytes as a JSON string (null when n == 0). */
json_t *http_hex(const uint8_t *bytes, size_t n);
/* The {id} parameter, canonical; NULL with *doc set to a 400 when malformed. */
const char *http_device_id(http_req_t *rq, char id[STORE_ID_CHARS], json_t **doc,
                           unsigned *status);

store_t *http_api_store(const http_api_t *api);
fleet_t *http_api_fleet(const http_api_t *api);
workflow_t *http_api_workflow(const http_api_t *api);

#endif /* MICROT_HTTP_API_INT_H */
