/*
 * http_api.c — the REST API and static files over libmicrohttpd (see http_api.h, docs/api.md).
 *
 * How a request flows: libmicrohttpd calls http_api_access several times per request. The first
 * call finds the route (404 / 405 here), checks the token when the route changes something (401)
 * and the announced Content-Length (413), each rejection answered at once so an unwanted body is
 * never read. Later calls append the body to a buffer bounded by max_body_bytes (413 at the end
 * if a chunked body overflows it). The last call parses the body as a JSON object (400 if it is
 * not) and runs the route's handler, which returns a JSON document and a status. Every error is
 * {"error":{"code":"...","message":"..."}} with the status http_api_status_of() gives.
 *
 * Threads: MHD_USE_THREAD_PER_CONNECTION, so handlers may block on a board (fleet_ping waits up
 * to the request deadline) while other connections go on. Handlers only touch the store and the
 * fleet, both thread-safe, and the immutable http_api_t.
 */
#include "http_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

#include "events.h"
#include "http_api_int.h"
#include "http_token.h"
#include "http_wf.h"
#include "sample_prep.h"
#include "wf_store.h"
#include "mt_err.h"
#include "workflow.h"

#define HTTP_MAX_PATH_CHARS 512
#define HTTP_MAX_SEGMENTS 16

#define HTTP_CONNECTION_TIMEOUT_S 60 /* an idle client is dropped; a board call is far shorter */
#define HTTP_RECENT_TRANSITIONS 10   /* shown inline in GET /api/devices/{id} */
#define HTTP_SSE_HEARTBEAT_MS 15000  /* a comment line this often keeps proxies and the idle
                                        timeout quiet and finds a vanished client */
#define HTTP_SSE_BLOCK_BYTES 4096    /* libmicrohttpd's buffer for one read of a stream */
#define HTTP_VENDOR_PREFIX "/vendor/"
#define HTTP_VENDOR_DEFAULT_ROOT "/usr/share/javascript" /* Debian's libjs-* packages */

typedef struct http_stream http_stream_t;

struct http_api {
    struct MHD_Daemon *mhd;
    store_t *store;
    fleet_t *fleet;
    workflow_t *workflow;
    char token[HTTP_TOKEN_MAX_CHARS + 1];
    char web_root[PATH_MAX];         /* realpath, "" = no static files */
    char vendor_root[PATH_MAX];      /* realpath of what /vendor/ serves, "" = none */
    pthread_mutex_t streams_mu;      /* guards streams and stopping */
    http_stream_t *streams;          /* open /api/events streams, closed by http_api_stop */
    bool stopping;
    size_t max_body_bytes;
    uint16_t port;
    struct timespec started;
};

/* Per-request state across libmicrohttpd's calls. */
typedef struct {
    bool started;
    bool responded;          /* a response was queued already (early rejection) */
    const http_route_t *route;
    char path[HTTP_MAX_PATH_CHARS];
    const char *params[HTTP_MAX_PARAMS];
    char *body;
    size_t body_len, body_cap;
    bool body_too_big;
} http_ctx_t;

/* ---- errors and responses ---- */

unsigned http_api_status_of(int err, const char **code)
{
    static const struct { int err; unsigned status; const char *code; } map[] = {
        {MT_EINVAL, 400, "invalid_argument"}, {MT_ENOTFOUND, 404, "not_found"},
        {MT_EOFFLINE, 409, "offline"},        {MT_ETIMEOUT, 504, "timeout"},
        {MT_EBUSY, 409, "busy"},              {MT_EIO, 500, "io_error"},
        {MT_EDEVICE, 502, "device_error"},    {MT_ENOMEM, 500, "out_of_memory"},
        {MT_ETOOBIG, 413, "too_big"},         {MT_ENOSPACE, 422, "no_space"},
        {MT_ESTATE, 409, "bad_state"},        {MT_EPROTO, 502, "protocol_error"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (map[i].err == err) {
            if (code)
                *code = map[i].code;
            return map[i].status;
        }
    }
    if (code)
        *code = "internal";
    return 500;
}

static json_t *http_error_doc(const char *code, const char *message)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
}

/* An error document for status/code with a printf-style message. */
json_t *http_fail_status(unsigned *status, unsigned http_status, const char *code,
                                const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *status = http_status;
    return http_error_doc(code, msg);
}

/* An error document for a negative mt_err_t: "<what>: <mt_strerror>". */
json_t *http_fail(unsigned *status, int err, const char *what)
{
    const char *code;
    unsigned st = http_api_status_of(err, &code);
    return http_fail_status(status, st, code, "%s: %s", what, mt_strerror(err));
}

static enum MHD_Result http_send_json(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        status = 500;
        text = strdup("{\"error\":{\"code\":\"out_of_memory\",\"message\":\"cannot build reply\"}}");
        if (text == NULL)
            return MHD_NO;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"microtd\"");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* ---- small helpers for handlers ---- */

static int64_t http_uptime_ms(const http_api_t *api)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - api->started.tv_sec) * 1000 +
           (now.tv_nsec - api->started.tv_nsec) / 1000000;
}

/* Reads ?name=N: 0 and *out = def when absent, MT_EINVAL unless a decimal in [0, max]. */
int http_query_u64(http_req_t *rq, const char *name, uint64_t def, uint64_t max,
                          uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
    *out = def;
    if (v == NULL)
        return 0;
    if (v[0] < '0' || v[0] > '9' || strlen(v) > 19)
        return MT_EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || n > max)
        return MT_EINVAL;
    *out = n;
    return 0;
}

static json_t *http_capabilities(uint32_t bits)
{
    static const struct { uint32_t bit; const char *name; } caps[] = {
        {microt_Capability_CAP_MODEL, "model"},     {microt_Capability_CAP_TRAIN, "train"},
        {microt_Capability_CAP_INFER, "infer"},     {microt_Capability_CAP_CAPTURE, "capture"},
        {microt_Capability_CAP_BOOTLOADER, "bootloader"},
    };
    json_t *a = json_array();
    for (size_t i = 0; a && i < sizeof caps / sizeof caps[0]; i++)
        if (bits & caps[i].bit)
            json_array_append_new(a, json_string(caps[i].name));
    return a;
}

json_t *http_hex(const uint8_t *bytes, size_t n)
{
    char hex[2 * 64 + 1];
    if (n == 0 || n > 64)
        return json_null();
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    return json_string(hex);
}

/* A device as the API shows it: the store's record, plus "live" from the fleet when connected. */
static json_t *http_device_json(http_api_t *api, const store_device_row_t *r)
{
    const store_device_t *d = &r->dev;
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:s, s:s, "
                          "s:I, s:I, s:I}",
                          "id", d->id, "board", d->board_name, "board_kind", (json_int_t)d->board_kind,
                          "firmware_version", d->firmware_version,
                          "protocol_version", (json_int_t)d->protocol_version,
                          "sram_bytes", (json_int_t)d->sram_bytes,
                          "flash_bytes", (json_int_t)d->flash_bytes,
                          "max_frame_bytes", (json_int_t)d->max_frame_bytes,
                          "cpu_hz", (json_int_t)d->cpu_hz,
                          "capabilities", http_capabilities(d->capabilities),
                          "capability_bits", (json_int_t)d->capabilities,
                          "port", d->port, "state", r->state,
                          "state_since_ms", (json_int_t)r->state_since_ms,
                          "first_seen_ms", (json_int_t)r->first_seen_ms,
                          "last_seen_ms", (json_int_t)r->last_seen_ms);
    if (o == NULL)
        return NULL;
    fleet_device_t live;
    if (api->fleet != NULL && fleet_get(api->fleet, d->id, &live) == 0 && live.online) {
        json_object_set_new(o, "live", json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}",
            "port", live.port, "rtt_us", (json_int_t)live.rtt_us,
            "boot_count", (json_int_t)live.info.boot_count,
            "model_slot_bytes", (json_int_t)live.info.model_slot_bytes,
            "arena_bytes", (json_int_t)live.info.arena_bytes,
            "active_model_sha256", http_hex(live.info.active_model_sha256.bytes,
                                            live.info.active_model_sha256.size)));
    } else {
        json_object_set_new(o, "live", json_null());
    }
    return o;
}

static json_t *http_transition_json(const store_transition_t *t)
{
    return json_pack("{s:I, s:I, s:o, s:s, s:s}", "seq", (json_int_t)t->seq,
                     "at_ms", (json_int_t)t->at_ms,
                     "from", t->from_state[0] ? json_string(t->from_state) : json_null(),
                     "to", t->to_state, "reason", t->reason);
}

/* The {id} parameter, canonical; NULL with *doc set to a 400 when malformed. */
const char *http_device_id(http_req_t *rq, char id[STORE_ID_CHARS], json_t **doc,
                                  unsigned *status)
{
    if (store_id_normalize(rq->params[0], id) < 0) {
        *doc = http_fail_status(status, 400, "invalid_argument",
                                "device id must be 24 hex digits (the MCU unique ID), not '%.64s'",
                                rq->params[0]);
        return NULL;
    }
    return id;
}

/* ---- handlers ---- */

static json_t *http_h_health(http_req_t *rq, unsigned *status)
{
    uint32_t n = 0, total = 0, online = 0;
    unsigned version = 0;
    int rc = store_device_list(rq->api->store, 0, NULL, 0, &n, &total, &online);
    if (rc == 0)
        rc = store_schema_version(rq->api->store, &version);
    if (rc < 0) {
        *status = 503;
        return json_pack("{s:s, s:I, s:s}", "status", "error",
                         "uptime_ms", (json_int_t)http_uptime_ms(rq->api),
                         "message", "database unavailable");
    }
    *status = 200;
    return json_pack("{s:s, s:I, s:I, s:{s:I, s:I}}", "status", "ok",
                     "uptime_ms", (json_int_t)http_uptime_ms(rq->api),
                     "schema_version", (json_int_t)version,
                     "devices", "known", (json_int_t)total, "online", (json_int_t)online);
}

static json_t *http_h_devices(http_req_t *rq, unsigned *status)
{
    uint64_t offset, limit;
    uint32_t n = 0, total = 0, online = 0;
    store_device_row_t *rows = NULL;
    json_t *doc = NULL, *list = NULL;

    if (http_query_u64(rq, "offset", 0, UINT32_MAX, &offset) < 0 ||
        http_query_u64(rq, "limit", HTTP_API_DEFAULT_PAGE, STORE_PAGE_MAX, &limit) < 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "offset must be >= 0 and limit between 0 and %d", STORE_PAGE_MAX);
    rows = calloc(limit ? limit : 1, sizeof *rows);
    if (rows == NULL)
        return http_fail(status, MT_ENOMEM, "listing devices");
    int rc = store_device_list(rq->api->store, (uint32_t)offset, rows, (uint32_t)limit, &n,
                               &total, &online);
    if (rc < 0) {
        doc = http_fail(status, rc, "listing devices");
        goto out;
    }
    list = json_array();
    for (uint32_t i = 0; list && i < n; i++)
        json_array_append_new(list, http_device_json(rq->api, &rows[i]));
    doc = json_pack("{s:o, s:I, s:I, s:I, s:I}", "devices", list, "total", (json_int_t)total,
                    "online", (json_int_t)online, "offset", (json_int_t)offset,
                    "limit", (json_int_t)limit);
    *status = 200;
out:
    free(rows);
    return doc;
}

static json_t *http_h_device(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    store_device_row_t row;
    store_transition_t recent[HTTP_RECENT_TRANSITIONS];
    uint32_t n = 0;
    json_t *doc = NULL;

    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    int rc = store_device_get(rq->api->store, id, &row);
    if (rc == 0)
        rc = store_device_transitions(rq->api->store, id, 0, recent, HTTP_RECENT_TRANSITIONS, &n);
    if (rc == MT_ENOTFOUND)
        return http_fail_status(status, 404, "not_found", "no device %s has ever been seen", id);
    if (rc < 0)
        return http_fail(status, rc, "reading the device");
    doc = http_device_json(rq->api, &row);
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < n; i++)
        json_array_append_new(list, http_transition_json(&recent[i]));
    json_object_set_new(doc, "recent_transitions", list);
    *status = 200;
    return doc;
}

static json_t *http_h_transitions(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    uint64_t before, limit;
    store_transition_t *rows = NULL;
    uint32_t n = 0;
    json_t *doc = NULL;

    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_query_u64(rq, "before", 0, INT64_MAX, &before) < 0 ||
        http_query_u64(rq, "limit", HTTP_API_DEFAULT_PAGE, STORE_PAGE_MAX, &limit) < 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "before must be a sequence number and limit between 0 and %d",
                                STORE_PAGE_MAX);
    rows = calloc(limit ? limit : 1, sizeof *rows);
    if (rows == NULL)
        return http_fail(status, MT_ENOMEM, "listing transitions");
    int rc = store_device_transitions(rq->api->store, id, (int64_t)before, rows, (uint32_t)limit,
                                      &n);
    if (rc == MT_ENOTFOUND) {
        doc = http_fail_status(status, 404, "not_found", "no device %s has ever been seen", id);
        goto out;
    }
    if (rc < 0) {
        doc = http_fail(status, rc, "listing transitions");
        goto out;
    }
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < n; i++)
        json_array_append_new(list, http_transition_json(&rows[i]));
    /* A full page may have more behind it; a short one is the end. */
    doc = json_pack("{s:s, s:o, s:o}", "id", id, "transitions", list, "next_before",
                    (n == limit && n > 0) ? json_integer(rows[n - 1].seq) : json_null());
    *status = 200;
out:
    free(rows);
    return doc;
}

static json_t *http_h_firmware(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    uint64_t before, limit;
    store_firmware_change_t *rows = NULL;
    uint32_t n = 0;
    json_t *doc = NULL;

    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_query_u64(rq, "before", 0, INT64_MAX, &before) < 0 ||
        http_query_u64(rq, "limit", HTTP_API_DEFAULT_PAGE, STORE_PAGE_MAX, &limit) < 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "before must be a sequence number and limit between 0 and %d",
                                STORE_PAGE_MAX);
    rows = calloc(limit ? limit : 1, sizeof *rows);
    if (rows == NULL)
        return http_fail(status, MT_ENOMEM, "listing firmware changes");
    int rc = store_device_firmware_changes(rq->api->store, id, (int64_t)before, rows,
                                           (uint32_t)limit, &n);
    if (rc == MT_ENOTFOUND) {
        doc = http_fail_status(status, 404, "not_found", "no device %s has ever been seen", id);
        goto out;
    }
    if (rc < 0) {
        doc = http_fail(status, rc, "listing firmware changes");
        goto out;
    }
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < n; i++)
        json_array_append_new(list, json_pack("{s:I, s:I, s:s, s:s}",
                                              "seq", (json_int_t)rows[i].seq,
                                              "at_ms", (json_int_t)rows[i].at_ms,
                                              "from", rows[i].from_version,
                                              "to", rows[i].to_version));
    doc = json_pack("{s:s, s:o, s:o}", "id", id, "firmware_changes", list, "next_before",
                    (n == limit && n > 0) ? json_integer(rows[n - 1].seq) : json_null());
    *status = 200;
out:
    free(rows);
    return doc;
}

static json_t *http_h_ping(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    store_device_row_t row;
    uint32_t rtt_us = 0;
    json_t *doc = NULL;

    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    int rc = store_device_get(rq->api->store, id, &row);
    if (rc == MT_ENOTFOUND)
        return http_fail_status(status, 404, "not_found", "no device %s has ever been seen", id);
    if (rc < 0)
        return http_fail(status, rc, "reading the device");
    rc = rq->api->fleet ? fleet_ping(rq->api->fleet, id, &rtt_us) : MT_EOFFLINE;
    if (rc == MT_EOFFLINE)
        return http_fail_status(status, 409, "offline",
                                "device %s is not connected (last known state: %s)", id,
                                row.state);
    if (rc < 0)
        return http_fail(status, rc, "ping");
    *status = 200;
    return json_pack("{s:s, s:I}", "id", id, "rtt_us", (json_int_t)rtt_us);
}

/* GET /api/events: the answer is the Server-Sent Events stream (http_sse_start), opened by
 * http_api_access once this handler has accepted the request. */
static json_t *http_h_events(http_req_t *rq, unsigned *status)
{
    rq->stream = true;
    *status = 200;
    return NULL;
}

/* POST /api/auth: answers 200 only with the right token (the route needs it), so a client such as
 * the dashboard can check a token before it offers changes. */
static json_t *http_h_auth(http_req_t *rq, unsigned *status)
{
    *status = 200;
    return json_pack("{s:b}", "authorized", 1);
}

/* ---- a sample as a picture (the dashboard's gallery) ---- */

typedef struct {
    uint8_t *bytes;
    size_t len, cap;
    bool failed;
} http_png_buf_t;

static void http_png_write(void *ctx, void *data, int size)
{
    http_png_buf_t *b = ctx;
    if (b->failed || size <= 0)
        return;
    if (b->len + (size_t)size > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)size)
            cap *= 2;
        uint8_t *n = realloc(b->bytes, cap);
        if (n == NULL) {
            b->failed = true;
            return;
        }
        b->bytes = n;
        b->cap = cap;
    }
    memcpy(b->bytes + b->len, data, (size_t)size);
    b->len += (size_t)size;
}

/* GET /api/devices/{id}/samples/{sample}/image: the stored input tensor as a PNG, i.e. the
 * picture exactly as the board receives it (resized, quantized). The inverse of the gateway's
 * input normalisation (sample_prep.h): real = (q - zero_point) * scale, pixel = real * 127.5 + 128. */
static json_t *http_h_sample_image(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    int64_t sid = 0;
    wf_sample_t x;
    wf_model_t m;
    uint8_t *tensor = NULL, *pixels = NULL;
    http_png_buf_t png = {0};
    json_t *doc = NULL;
    char *end = NULL;

    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    sid = strtoll(rq->params[1], &end, 10);
    if (end == rq->params[1] || *end != '\0' || sid <= 0)
        return http_fail_status(status, 400, "invalid_argument", "a sample id is a positive integer");
    tensor = malloc(PREP_MAX_TENSOR_BYTES);
    if (tensor == NULL)
        return http_fail(status, MT_ENOMEM, "reading the sample");
    int rc = wf_sample_get(rq->api->store, id, sid, &x, tensor, PREP_MAX_TENSOR_BYTES);
    if (rc == MT_ENOTFOUND) {
        doc = http_fail_status(status, 404, "not_found", "device %s has no sample %lld", id,
                               (long long)sid);
        goto out;
    }
    if (rc == 0)
        rc = wf_model_get(rq->api->store, x.model_sha256, &m, NULL);
    if (rc < 0) {
        doc = http_fail(status, rc, "reading the sample");
        goto out;
    }
    size_t n = (size_t)x.input_h * x.input_w * x.input_c;
    pixels = malloc(n ? n : 1);
    if (pixels == NULL) {
        doc = http_fail(status, MT_ENOMEM, "drawing the sample");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        double real = ((double)(int8_t)tensor[i] - m.input_zero_point) * m.input_scale;
        double p = real * 127.5 + 128.0;
        pixels[i] = (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : p + 0.5);
    }
    if (!stbi_write_png_to_func(http_png_write, &png, (int)x.input_w, (int)x.input_h,
                                (int)x.input_c, pixels, (int)(x.input_w * x.input_c)) ||
        png.failed) {
        doc = http_fail(status, MT_ENOMEM, "encoding the picture");
        goto out;
    }
    rq->reply_bytes = png.bytes;
    rq->reply_len = png.len;
    rq->reply_type = "image/png";
    png.bytes = NULL;
    *status = 200;
out:
    free(png.bytes);
    free(pixels);
    free(tensor);
    return doc;
}

static json_t *http_h_index(http_req_t *rq, unsigned *status);

/* Every API route. A route that changes anything sets changes = true (bearer token). */
static const http_route_t http_routes[] = {
    {"GET", "/api", http_h_index, false, false},
    {"GET", "/api/health", http_h_health, false, false},
    {"GET", "/api/devices", http_h_devices, false, false},
    {"GET", "/api/devices/{id}", http_h_device, false, false},
    {"GET", "/api/devices/{id}/transitions", http_h_transitions, false, false},
    {"GET", "/api/devices/{id}/firmware", http_h_firmware, false, false},
    {"POST", "/api/devices/{id}/ping", http_h_ping, true, false},
    {"GET", "/api/events", http_h_events, false, false},
    {"POST", "/api/auth", http_h_auth, true, false},
    {"GET", "/api/devices/{id}/samples/{sample}/image", http_h_sample_image, false, false},
    HTTP_WF_ROUTES
};

/* The route table itself, so clients (and the docs test) can see what exists. */
static json_t *http_h_index(http_req_t *rq, unsigned *status)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < sizeof http_routes / sizeof http_routes[0]; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "method", http_routes[i].method,
                                              "path", http_routes[i].pattern,
                                              "token", http_routes[i].changes));
    *status = 200;
    return json_pack("{s:o}", "routes", list);
}

/* ---- routing ---- */

/* Splits path (modified in place) at '/'; MT_EINVAL on an empty segment or too many. */
static int http_split(char *path, char *seg[HTTP_MAX_SEGMENTS], unsigned *n)
{
    *n = 0;
    if (path[0] != '/')
        return MT_EINVAL;
    char *p = path + 1;
    while (*p) {
        if (*n == HTTP_MAX_SEGMENTS)
            return MT_EINVAL;
        seg[(*n)++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash + 1;
        if (*p == '\0')
            return MT_EINVAL; /* trailing slash */
    }
    for (unsigned i = 0; i < *n; i++)
        if (seg[i][0] == '\0')
            return MT_EINVAL;
    return 0;
}

/* True if the pattern matches the segments; params filled with the {…} segments. */
static bool http_match(const char *pattern, char *seg[], unsigned n_seg,
                       const char *params[HTTP_MAX_PARAMS])
{
    unsigned i = 0, k = 0;
    const char *p = pattern + 1;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i >= n_seg)
            return false;
        if (p[0] == '{') {
            if (k < HTTP_MAX_PARAMS)
                params[k++] = seg[i];
        } else if (strlen(seg[i]) != len || strncmp(seg[i], p, len) != 0) {
            return false;
        }
        i++;
        p += len + (end ? 1 : 0);
    }
    return i == n_seg;
}

/* Finds the route for method + path: 0, or 404 / 405 (allow lists the methods that exist). */
static unsigned http_route(http_ctx_t *ctx, const char *method, const char *url, char *allow,
                           size_t allow_len)
{
    char *seg[HTTP_MAX_SEGMENTS];
    unsigned n_seg;
    bool path_known = false;

    allow[0] = '\0';
    if (strlen(url) >= sizeof ctx->path)
        return 404;
    snprintf(ctx->path, sizeof ctx->path, "%s", url);
    if (http_split(ctx->path, seg, &n_seg) < 0)
        return 404;
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (size_t r = 0; r < sizeof http_routes / sizeof http_routes[0]; r++) {
        const char *params[HTTP_MAX_PARAMS] = {0};
        if (!http_match(http_routes[r].pattern, seg, n_seg, params))
            continue;
        path_known = true;
        size_t used = strlen(allow);
        snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", http_routes[r].method);
        if (strcmp(http_routes[r].method, method) == 0) {
            ctx->route = &http_routes[r];
            memcpy(ctx->params, params, sizeof params);
            return 0;
        }
    }
    return path_known ? 405 : 404;
}

/* Constant-time in the token's content: the time taken does not say how much of it matched. */
static bool http_token_ok(const http_api_t *api, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *given = h + 7;
    while (*given == ' ')
        given++;
    size_t given_len = strnlen(given, HTTP_TOKEN_MAX_CHARS + 1);
    size_t want_len = strlen(api->token);
    unsigned char diff = given_len != want_len;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)((i < given_len ? given[i] : 0) ^ api->token[i]);
    return diff == 0;
}

/* ---- static files ---- */

static const char *http_mime(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".json", "application/json"},
        {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
        {".woff2", "font/woff2"}, {".mjs", "text/javascript; charset=utf-8"},
        {".jpg", "image/jpeg"}, {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* Serves url from root (a realpath): no "..", no escape through symlinks (the resolved path
 * must stay under the resolved root), regular files only; "/" and "dir/" mean index.html.
 * cache_s > 0 lets the browser keep the file that long (vendored libraries never change while
 * the daemon runs; the dashboard's own files may, so they are revalidated). */
static enum MHD_Result http_static(const char *root, struct MHD_Connection *conn, const char *url,
                                   unsigned cache_s)
{
    char rel[HTTP_MAX_PATH_CHARS + 16], full[PATH_MAX * 2], real[PATH_MAX];
    struct stat st;
    unsigned status = 404;
    int fd = -1;

    if (root[0] == '\0' || url[0] != '/' || strlen(url) > HTTP_MAX_PATH_CHARS ||
        strstr(url, "/../") != NULL || strstr(url, "\\") != NULL ||
        (strlen(url) >= 3 && strcmp(url + strlen(url) - 3, "/..") == 0))
        goto fail;
    snprintf(rel, sizeof rel, "%s%s", url, url[strlen(url) - 1] == '/' ? "index.html" : "");
    snprintf(full, sizeof full, "%s%s", root, rel);
    if (realpath(full, real) == NULL)
        goto fail;
    size_t root_len = strlen(root);
    if (strncmp(real, root, root_len) != 0 || real[root_len] != '/')
        goto fail;
    fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        goto fail;
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (resp == NULL)
        goto fail;
    fd = -1; /* the response owns it now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, http_mime(real));
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    char cache[64];
    if (cache_s > 0)
        snprintf(cache, sizeof cache, "public, max-age=%u", cache_s);
    else
        snprintf(cache, sizeof cache, "no-cache");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    enum MHD_Result r = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return r;
fail:
    if (fd >= 0)
        close(fd);
    return http_send_json(conn, status, http_error_doc("not_found", "no such file"));
}

/* ---- live events: GET /api/events as Server-Sent Events ---- */

/* One open stream. libmicrohttpd calls http_sse_read from the connection's own thread (thread
 * per connection), so the reader may block in events_next; http_sse_free runs when the client
 * goes away or the daemon stops, and unsubscribes. */
struct http_stream {
    http_api_t *api;
    events_sub_t *sub;
    char *out;                       /* formatted text not yet handed to libmicrohttpd */
    size_t out_len, out_off;
    uint64_t dropped_told;           /* drops already reported to the client */
    uint64_t start_seq;              /* the last seq published when the stream subscribed */
    bool greeted;
    http_stream_t *next;             /* in api->streams */
};

/* Replaces the pending text with a printf result. */
static int http_sse_set(http_stream_t *st, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MT_ENOMEM;
    free(st->out);
    st->out = text;
    st->out_len = (size_t)n;
    st->out_off = 0;
    return 0;
}

static ssize_t http_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    http_stream_t *st = cls;
    events_event_t ev;

    while (st->out_off == st->out_len) {
        int rc;
        if (!st->greeted) {
            /* "ready" tells the client the subscription is live and which seq it starts after;
             * retry: how long a browser waits before it reconnects on its own. */
            st->greeted = true;
            rc = http_sse_set(st, "retry: 2000\nevent: ready\ndata: {\"seq\":%llu}\n\n",
                              (unsigned long long)st->start_seq);
        } else if (events_dropped(st->sub) != st->dropped_told) {
            uint64_t d = events_dropped(st->sub);
            rc = http_sse_set(st, "event: dropped\ndata: {\"dropped\":%llu}\n\n",
                              (unsigned long long)(d - st->dropped_told));
            st->dropped_told = d;
        } else {
            rc = events_next(st->sub, &ev, HTTP_SSE_HEARTBEAT_MS);
            if (rc == 1) {
                rc = http_sse_set(st, "id: %llu\nevent: %s\ndata: %s\n\n",
                                  (unsigned long long)ev.seq, ev.type, ev.json);
                events_event_free(&ev);
            } else if (rc == 0) {
                rc = http_sse_set(st, ": keep-alive\n\n");
            } else {
                return MHD_CONTENT_READER_END_OF_STREAM; /* closed: the daemon is stopping */
            }
        }
        if (rc < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->out_len - st->out_off;
    if (n > max)
        n = max;
    memcpy(buf, st->out + st->out_off, n);
    st->out_off += n;
    return (ssize_t)n;
}

static void http_sse_free(void *cls)
{
    http_stream_t *st = cls;
    pthread_mutex_lock(&st->api->streams_mu);
    for (http_stream_t **p = &st->api->streams; *p != NULL; p = &(*p)->next) {
        if (*p == st) {
            *p = st->next;
            break;
        }
    }
    pthread_mutex_unlock(&st->api->streams_mu);
    events_unsubscribe(st->sub);
    free(st->out);
    free(st);
}

static enum MHD_Result http_sse_start(http_api_t *api, struct MHD_Connection *conn)
{
    http_stream_t *st = calloc(1, sizeof *st);
    struct MHD_Response *resp = NULL;
    unsigned status;
    int rc;

    if (st == NULL)
        return http_send_json(conn, 500, http_fail(&status, MT_ENOMEM, "opening the event stream"));
    st->api = api;
    rc = events_subscribe(&st->sub, 0);
    st->start_seq = events_last_seq();
    if (rc < 0) {
        free(st);
        if (rc == MT_EBUSY)
            return http_send_json(conn, 503, http_error_doc("busy",
                                  "too many event streams are open; close a dashboard tab"));
        return http_send_json(conn, 500, http_fail(&status, rc, "opening the event stream"));
    }
    pthread_mutex_lock(&api->streams_mu);
    if (api->stopping) {
        pthread_mutex_unlock(&api->streams_mu);
        events_unsubscribe(st->sub);
        free(st);
        return MHD_NO;
    }
    st->next = api->streams;
    api->streams = st;
    pthread_mutex_unlock(&api->streams_mu);

    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_SSE_BLOCK_BYTES,
                                             http_sse_read, st, http_sse_free);
    if (resp == NULL) {
        http_sse_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    enum MHD_Result r = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp); /* the connection holds its own reference; it frees st later */
    return r;
}

/* ---- libmicrohttpd glue ---- */

/* Uploads (raw routes: a .tflite, an image, an IDX pair) have their own, larger bound. */
static size_t http_body_limit(const http_api_t *api, const http_ctx_t *ctx)
{
    return ctx->route != NULL && ctx->route->raw ? HTTP_API_MAX_UPLOAD_BYTES : api->max_body_bytes;
}

static enum MHD_Result http_first_call(http_api_t *api, struct MHD_Connection *conn,
                                       http_ctx_t *ctx, const char *url, const char *method)
{
    char allow[64];
    unsigned st = http_route(ctx, method, url, allow, sizeof allow);
    json_t *doc = NULL;

    if (st == 405) {
        doc = http_error_doc("method_not_allowed", "this path does not take that method");
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (text == NULL)
            return MHD_NO;
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL) {
            free(text);
            return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        enum MHD_Result r = MHD_queue_response(conn, 405, resp);
        MHD_destroy_response(resp);
        ctx->responded = true;
        return r;
    }
    if (st == 404) {
        ctx->responded = true;
        return http_send_json(conn, 404, http_error_doc("not_found", "no such API route"));
    }
    if (ctx->route->changes && !http_token_ok(api, conn)) {
        ctx->responded = true;
        return http_send_json(conn, 401, http_error_doc("unauthorized",
            "this request changes something: send Authorization: Bearer TOKEN"));
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    size_t limit = http_body_limit(api, ctx);
    if (cl != NULL && strtoull(cl, NULL, 10) > limit) {
        ctx->responded = true;
        unsigned s413;
        return http_send_json(conn, 413, http_fail_status(&s413, 413, "too_big",
            "request body over %zu bytes", limit));
    }
    return MHD_YES;
}

static int http_append_body(http_api_t *api, http_ctx_t *ctx, const char *data, size_t n)
{
    if (ctx->body_too_big || ctx->body_len + n > http_body_limit(api, ctx)) {
        ctx->body_too_big = true; /* keep reading and dropping; answer 413 at the end */
        return 0;
    }
    if (ctx->body_len + n + 1 > ctx->body_cap) {
        size_t cap = ctx->body_cap ? ctx->body_cap : 1024;
        while (cap < ctx->body_len + n + 1)
            cap *= 2;
        char *b = realloc(ctx->body, cap);
        if (b == NULL)
            return MT_ENOMEM;
        ctx->body = b;
        ctx->body_cap = cap;
    }
    memcpy(ctx->body + ctx->body_len, data, n);
    ctx->body_len += n;
    ctx->body[ctx->body_len] = '\0';
    return 0;
}

static enum MHD_Result http_api_access(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    http_api_t *api = cls;
    http_ctx_t *ctx = *con_cls;
    bool is_api = strcmp(url, "/api") == 0 || strncmp(url, "/api/", 5) == 0;

    if (ctx == NULL) {
        ctx = calloc(1, sizeof *ctx);
        if (ctx == NULL)
            return MHD_NO;
        *con_cls = ctx;
        if (!is_api) {
            ctx->responded = true;
            if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return http_send_json(conn, 405, http_error_doc("method_not_allowed",
                                                                "static files are GET only"));
            /* /vendor/X is Debian's /usr/share/javascript/X (e.g. libjs-chart.js), read-only. */
            if (strncmp(url, HTTP_VENDOR_PREFIX, strlen(HTTP_VENDOR_PREFIX)) == 0)
                return http_static(api->vendor_root, conn, url + strlen(HTTP_VENDOR_PREFIX) - 1,
                                   3600);
            return http_static(api->web_root, conn, url, 0);
        }
        return http_first_call(api, conn, ctx, url, method);
    }
    if (ctx->responded) {
        *upload_data_size = 0; /* a rejected request's body is dropped */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        int rc = http_append_body(api, ctx, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return rc == 0 ? MHD_YES : MHD_NO;
    }

    /* The whole request is in: answer it. */
    ctx->responded = true;
    unsigned status = 500;
    json_t *doc = NULL;
    if (ctx->body_too_big)
        return http_send_json(conn, 413, http_fail_status(&status, 413, "too_big",
                              "request body over %zu bytes", http_body_limit(api, ctx)));
    http_req_t rq = {.api = api, .conn = conn};
    memcpy(rq.params, ctx->params, sizeof rq.params);
    if (ctx->route->raw) {
        rq.raw = (const uint8_t *)ctx->body;
        rq.raw_len = ctx->body_len;
    } else if (ctx->body_len > 0) {
        json_error_t jerr;
        rq.body = json_loadb(ctx->body, ctx->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (rq.body == NULL)
            return http_send_json(conn, 400, http_fail_status(&status, 400, "bad_json",
                                  "body is not valid JSON: line %d column %d: %s", jerr.line,
                                  jerr.column, jerr.text));
        if (!json_is_object(rq.body)) {
            json_decref(rq.body);
            return http_send_json(conn, 400, http_error_doc("bad_json",
                                                            "body must be a JSON object"));
        }
    }
    doc = ctx->route->handler(&rq, &status);
    json_decref(rq.body);
    if (rq.stream) {
        json_decref(doc);
        return http_sse_start(api, conn);
    }
    if (rq.reply_bytes != NULL) {
        json_decref(doc);
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            rq.reply_len, rq.reply_bytes, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL) {
            free(rq.reply_bytes);
            return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rq.reply_type);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        /* A deleted sample's id can be given to the next one: never reuse a cached picture. */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        enum MHD_Result r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
    }
    return http_send_json(conn, status, doc);
}

static void http_api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    http_ctx_t *ctx = *con_cls;
    if (ctx == NULL)
        return;
    free(ctx->body);
    free(ctx);
    *con_cls = NULL;
}

int http_api_start(http_api_t **out, const http_api_config_t *cfg)
{
    http_api_t *api = NULL;
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG;
    const char *bind_addr;
    int rc = MT_EINVAL;

    if (out == NULL || cfg == NULL || cfg->store == NULL) {
        fprintf(stderr, "http_api: no store given\n");
        return MT_EINVAL;
    }
    *out = NULL;
    if (http_token_validate(cfg->token) < 0) {
        fprintf(stderr, "http_api: the API token must be %d..%d printable characters\n",
                HTTP_TOKEN_MIN_CHARS, HTTP_TOKEN_MAX_CHARS);
        return MT_EINVAL;
    }
    api = calloc(1, sizeof *api);
    if (api == NULL)
        return MT_ENOMEM;
    api->store = cfg->store;
    api->fleet = cfg->fleet;
    api->workflow = cfg->workflow;
    api->max_body_bytes = cfg->max_body_bytes ? cfg->max_body_bytes
                                              : HTTP_API_DEFAULT_MAX_BODY_BYTES;
    snprintf(api->token, sizeof api->token, "%s", cfg->token);
    clock_gettime(CLOCK_MONOTONIC, &api->started);
    pthread_mutex_init(&api->streams_mu, NULL);
    {
        /* A missing vendor folder only means no charts: the API and the pages still work. */
        const char *vendor = cfg->vendor_root ? cfg->vendor_root : HTTP_VENDOR_DEFAULT_ROOT;
        struct stat st;
        if (vendor[0] != '\0' && (realpath(vendor, api->vendor_root) == NULL ||
                                  stat(api->vendor_root, &st) < 0 || !S_ISDIR(st.st_mode))) {
            fprintf(stderr, "http_api: %s is not a directory: /vendor/ serves nothing "
                    "(install libjs-chart.js for the dashboard's charts)\n", vendor);
            api->vendor_root[0] = '\0';
        }
    }
    if (cfg->web_root != NULL && cfg->web_root[0] != '\0') {
        struct stat st;
        if (realpath(cfg->web_root, api->web_root) == NULL || stat(api->web_root, &st) < 0 ||
            !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "http_api: web root %s is not a directory\n", cfg->web_root);
            goto out;
        }
    }

    bind_addr = cfg->bind_addr ? cfg->bind_addr : HTTP_API_DEFAULT_BIND;
    memset(&sa4, 0, sizeof sa4);
    memset(&sa6, 0, sizeof sa6);
    if (inet_pton(AF_INET, bind_addr, &sa4.sin_addr) == 1) {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons(cfg->port);
        sa = (struct sockaddr *)&sa4;
    } else if (inet_pton(AF_INET6, bind_addr, &sa6.sin6_addr) == 1) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons(cfg->port);
        sa = (struct sockaddr *)&sa6;
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "http_api: bind address '%s' is not an IPv4 or IPv6 address\n", bind_addr);
        goto out;
    }
    api->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, http_api_access, api,
                                MHD_OPTION_SOCK_ADDR, sa,
                                MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned)(cfg->max_connections ? cfg->max_connections
                                                                : HTTP_API_DEFAULT_MAX_CONNECTIONS),
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
                                MHD_OPTION_NOTIFY_COMPLETED, http_api_completed, NULL,
                                MHD_OPTION_END);
    if (api->mhd == NULL) {
        fprintf(stderr, "http_api: cannot listen on %s port %u: %s\n", bind_addr,
                (unsigned)cfg->port, strerror(errno));
        rc = MT_EIO;
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);
    api->port = info ? info->port : cfg->port;
    *out = api;
    api = NULL;
    rc = 0;
out:
    if (api != NULL)
        http_api_stop(api);
    return rc;
}

uint16_t http_api_port(const http_api_t *api) { return api ? api->port : 0; }

store_t *http_api_store(const http_api_t *api) { return api->store; }
fleet_t *http_api_fleet(const http_api_t *api) { return api->fleet; }
workflow_t *http_api_workflow(const http_api_t *api) { return api->workflow; }

void http_api_stop(http_api_t *api)
{
    if (api == NULL)
        return;
    /* Event streams block in their reader until an event or a heartbeat: close them first so
     * MHD_stop_daemon does not wait for a heartbeat per stream. */
    pthread_mutex_lock(&api->streams_mu);
    api->stopping = true;
    for (http_stream_t *st = api->streams; st != NULL; st = st->next)
        events_close(st->sub);
    pthread_mutex_unlock(&api->streams_mu);
    if (api->mhd != NULL)
        MHD_stop_daemon(api->mhd);
    pthread_mutex_destroy(&api->streams_mu);
    free(api);
}
