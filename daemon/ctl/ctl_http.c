/* ctl_http.c — libcurl under ctl_http.h: bounded reply buffer, deadline, API errors as a line. */
#include "ctl_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_err.h"

typedef struct {
    char *data;
    size_t len;
    int too_big;
} ctl_buf_t;

static size_t ctl_http_write(char *p, size_t size, size_t n, void *arg)
{
    ctl_buf_t *b = arg;
    size_t len = size * n;
    if (b->len + len > CTL_HTTP_MAX_REPLY_BYTES) {
        b->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    char *d = realloc(b->data, b->len + len + 1);
    if (d == NULL)
        return 0;
    memcpy(d + b->len, p, len);
    b->data = d;
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

/* The API's error code word -> mt_err_t, so callers can tell offline from not found. */
static int ctl_http_err_of(long status, const char *code)
{
    static const struct { const char *code; int err; } map[] = {
        {"invalid_argument", MT_EINVAL}, {"bad_json", MT_EINVAL}, {"not_found", MT_ENOTFOUND},
        {"offline", MT_EOFFLINE}, {"timeout", MT_ETIMEOUT}, {"busy", MT_EBUSY},
        {"device_error", MT_EDEVICE}, {"too_big", MT_ETOOBIG}, {"no_space", MT_ENOSPACE},
        {"bad_state", MT_ESTATE}, {"protocol_error", MT_EPROTO},
    };
    for (size_t i = 0; code && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].err;
    return status == 404 ? MT_ENOTFOUND : (status >= 400 && status < 500 ? MT_EINVAL : MT_EIO);
}

/* One request with an optional body of body_len bytes (content_type names it). */
static int ctl_http_do(const ctl_http_t *h, const char *method, const char *path,
                       const char *content_type, const void *body_bytes, size_t body_len,
                       json_t **reply, long *http_status, char *err, size_t err_len)
{
    char url[2048], auth[300], curl_err[CURL_ERROR_SIZE] = "";
    ctl_buf_t buf = {0};
    struct curl_slist *hdrs = NULL;
    json_t *doc = NULL;
    long status = 0;
    int rc;

    *reply = NULL;
    if (http_status)
        *http_status = 0;
    snprintf(err, err_len, "%s", "");
    size_t base_len = strlen(h->url);
    while (base_len > 0 && h->url[base_len - 1] == '/')
        base_len--;
    if (snprintf(url, sizeof url, "%.*s%s", (int)base_len, h->url, path) >= (int)sizeof url) {
        snprintf(err, err_len, "URL too long");
        return MT_EINVAL;
    }
    CURL *c = curl_easy_init();
    if (c == NULL)
        return MT_ENOMEM;
    if (h->token != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", h->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (body_bytes != NULL) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body_bytes);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ctl_http_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms < 5000 ? h->timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, err_len, "cannot reach microtd at %.*s: %s", (int)base_len, h->url,
                 buf.too_big ? "reply too large" : (curl_err[0] ? curl_err : curl_easy_strerror(cc)));
        rc = cc == CURLE_OPERATION_TIMEDOUT ? MT_ETIMEOUT : MT_EIO;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (http_status)
        *http_status = status;
    json_error_t jerr;
    doc = json_loadb(buf.data ? buf.data : "", buf.len, 0, &jerr);
    if (status >= 200 && status < 300) {
        if (doc == NULL) {
            snprintf(err, err_len, "microtd answered %ld with something that is not JSON", status);
            rc = MT_EPROTO;
            goto out;
        }
        *reply = doc;
        doc = NULL;
        rc = 0;
        goto out;
    }
    json_t *e = json_object_get(doc, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (msg != NULL)
        snprintf(err, err_len, "%s (HTTP %ld %s)", msg, status, code ? code : "");
    else
        snprintf(err, err_len, "microtd answered HTTP %ld", status);
    if (status == 401)
        snprintf(err + strlen(err), err_len - strlen(err),
                 "; give the token with --token or MICROT_TOKEN");
    rc = ctl_http_err_of(status, code);
out:
    json_decref(doc);
    free(buf.data);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

int ctl_http_call(const ctl_http_t *h, const char *method, const char *path, json_t *body,
                  json_t **reply, long *http_status, char *err, size_t err_len)
{
    char *text = NULL;
    int rc;
    if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
        *reply = NULL;
        snprintf(err, err_len, "out of memory");
        return MT_ENOMEM;
    }
    rc = ctl_http_do(h, method, path, "application/json", text, text ? strlen(text) : 0, reply,
                     http_status, err, err_len);
    free(text);
    return rc;
}

int ctl_http_call_raw(const ctl_http_t *h, const char *method, const char *path,
                      const char *content_type, const void *data, size_t len, json_t **reply,
                      long *http_status, char *err, size_t err_len)
{
    return ctl_http_do(h, method, path, content_type, data ? data : "", len, reply, http_status,
                       err, err_len);
}
