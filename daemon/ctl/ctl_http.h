/*
 * ctl_http.h — microtctl's HTTP client for microtd's REST API (libcurl).
 *
 * One call = one request with a deadline. The reply is parsed as JSON; an API error
 * ({"error":{"code","message"}}) or an unreachable daemon becomes one readable line in err,
 * which the command prints and turns into a non-zero exit.
 */
#ifndef MICROT_CTL_HTTP_H
#define MICROT_CTL_HTTP_H

#include <jansson.h>
#include <stddef.h>

#define CTL_HTTP_DEFAULT_URL "http://127.0.0.1:8080"
#define CTL_HTTP_MAX_REPLY_BYTES (16 * 1024 * 1024) /* a reply larger than this is refused */

typedef struct {
    const char *url;       /* base, e.g. http://127.0.0.1:8080 (no trailing path) */
    const char *token;     /* bearer token, or NULL */
    long timeout_ms;       /* whole request deadline */
} ctl_http_t;

/* method + path (starting with "/api/"), optional JSON body (not consumed). On 2xx: 0 and
 * *reply (owned by the caller) the parsed document. Otherwise a negative mt_err_t and err holds
 * one line: "cannot reach microtd at URL: ...", or the API's message with its status and code.
 * *http_status (may be NULL) gets the status, 0 when there was no answer. */
int ctl_http_call(const ctl_http_t *h, const char *method, const char *path, json_t *body,
                  json_t **reply, long *http_status, char *err, size_t err_len);

/* The same with a raw body (an upload: a .tflite, an image, an IDX pair) of len bytes. */
int ctl_http_call_raw(const ctl_http_t *h, const char *method, const char *path,
                      const char *content_type, const void *data, size_t len, json_t **reply,
                      long *http_status, char *err, size_t err_len);

#endif /* MICROT_CTL_HTTP_H */
