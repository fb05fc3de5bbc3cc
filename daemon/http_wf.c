/*
 * http_wf.c — REST handlers of the personalization workflow (see http_wf.h, docs/api.md).
 *
 * Each handler checks its inputs (device id, query parameters, body), calls workflow.h or
 * wf_store.h, and turns the result into JSON; a failure becomes the API's error document with
 * the sentence the workflow wrote, so a refused model says why (which bound, which numbers).
 * Uploads (a .tflite, an image, an IDX pair) are raw bodies; their metadata rides in the query.
 */
#include "http_wf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_err.h"
#include "wf_store.h"
#include "workflow.h"

#define HTTP_WF_ERR_CHARS 512

static workflow_t *http_wf(http_req_t *rq) { return http_api_workflow(rq->api); }

static const char *http_wf_query(http_req_t *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* The error document for rc with the workflow's sentence (or mt_strerror). */
static json_t *http_wf_fail(unsigned *status, int rc, const char *err)
{
    const char *code;
    unsigned st = http_api_status_of(rc, &code);
    return http_fail_status(status, st, code, "%s", err && err[0] ? err : mt_strerror(rc));
}

static json_t *http_wf_unavailable(unsigned *status)
{
    return http_fail_status(status, 503, "unavailable", "the workflow is not running");
}

static long long http_wf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int http_wf_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 18)
        return MT_EINVAL;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || v <= 0)
        return MT_EINVAL;
    *out = v;
    return 0;
}

/* ---- JSON of rows ---- */

static json_t *http_wf_model_json(const wf_model_t *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:[I,I,I], s:f, s:I, "
                     "s:I, s:I, s:I}",
                     "sha256", m->sha256, "source_sha256", m->source_sha256, "source_name",
                     m->source_name, "cut", m->cut, "image_bytes", (json_int_t)m->image_bytes,
                     "arena_bytes", (json_int_t)m->arena_bytes, "arena_stage1_bytes",
                     (json_int_t)m->arena_stage1_bytes, "weight_bytes",
                     (json_int_t)m->weight_bytes, "macs_stage1", (json_int_t)m->macs_stage1,
                     "macs_stage2", (json_int_t)m->macs_stage2, "input_shape",
                     (json_int_t)m->input_h, (json_int_t)m->input_w, (json_int_t)m->input_c,
                     "input_scale", (double)m->input_scale, "input_zero_point",
                     (json_int_t)m->input_zero_point, "part_dim", (json_int_t)m->part_dim,
                     "full_dim", (json_int_t)m->full_dim, "created_ms",
                     (json_int_t)m->created_ms);
}

static json_t *http_wf_job_json(const wf_job_t *j)
{
    json_t *result = j->result[0] ? json_loads(j->result, 0, NULL) : NULL;
    json_t *params = json_loads(j->params, 0, NULL);
    double fraction = j->progress_total ? (double)j->progress_done / (double)j->progress_total
                                        : (strcmp(j->state, "done") == 0 ? 1.0 : 0.0);
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:{s:s, s:I, s:I, s:f}, s:o, s:o, s:o, s:I, "
                     "s:o, s:o}",
                     "id", (json_int_t)j->id, "kind", j->kind, "device", j->device_id, "state",
                     j->state, "params", params ? params : json_object(), "progress", "phase",
                     j->phase, "done", (json_int_t)j->progress_done, "total",
                     (json_int_t)j->progress_total, "fraction", fraction, "result",
                     result ? result : json_null(), "error",
                     j->error[0] ? json_string(j->error) : json_null(), "rerun_of",
                     j->rerun_of ? json_integer(j->rerun_of) : json_null(), "created_ms",
                     (json_int_t)j->created_ms, "started_ms",
                     j->started_ms ? json_integer(j->started_ms) : json_null(), "finished_ms",
                     j->finished_ms ? json_integer(j->finished_ms) : json_null());
}

static json_t *http_wf_sample_json(const wf_sample_t *x)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:[I,I,I], s:I}", "id", (json_int_t)x->id,
                     "device", x->device_id, "label", x->label, "source", x->source, "model",
                     x->model_sha256, "shape", (json_int_t)x->input_h, (json_int_t)x->input_w,
                     (json_int_t)x->input_c, "created_ms", (json_int_t)x->created_ms);
}

static json_t *http_wf_inference_json(const wf_inference_t *r)
{
    json_t *o = json_pack("{s:I, s:s, s:I, s:I, s:o, s:f, s:I, s:I, s:I, s:o, s:o, s:s}",
                          "id", (json_int_t)r->id, "device", r->device_id, "at_ms",
                          (json_int_t)r->at_ms, "class", (json_int_t)r->cls, "label",
                          r->label[0] ? json_string(r->label) : json_null(), "confidence",
                          (double)r->confidence, "stage", (json_int_t)r->stage, "cycles",
                          (json_int_t)r->cycles, "energy_nj", (json_int_t)r->energy_nj,
                          "expected", r->expected[0] ? json_string(r->expected) : json_null(),
                          "correct", r->expected[0] ? json_boolean(strcmp(r->expected, r->label) == 0)
                                                    : json_null(),
                          "source", r->source);
    return o;
}

static json_t *http_wf_settings_json(const wf_settings_t *s)
{
    json_t *classes = s->classes[0] ? json_loads(s->classes, 0, NULL) : NULL;
    return json_pack("{s:s, s:o, s:s, s:f, s:o, s:o, s:o, s:o}", "device", s->device_id,
                     "active_model", s->active_model[0] ? json_string(s->active_model) : json_null(),
                     "policy", s->policy, "target", s->target, "ratio",
                     s->has_ratio ? json_real(s->ratio) : json_null(), "threshold",
                     s->has_ratio ? json_real(s->threshold) : json_null(), "classes",
                     classes ? classes : json_null(), "trained_job",
                     s->trained_job ? json_integer(s->trained_job) : json_null());
}

/* ---- models and push ---- */

static int http_wf_import_upload(http_req_t *rq, wf_model_t *m, char *err, size_t err_len)
{
    const char *name = http_wf_query(rq, "name");
    const char *cut = http_wf_query(rq, "cut");
    if (rq->raw_len == 0) {
        snprintf(err, err_len, "send the .tflite file as the request body");
        return MT_EINVAL;
    }
    return wf_import(http_wf(rq), rq->raw, rq->raw_len, name ? name : "upload.tflite", cut, m, err,
                     err_len);
}

json_t *http_wf_model_import(http_req_t *rq, unsigned *status)
{
    char err[HTTP_WF_ERR_CHARS] = "";
    wf_model_t m;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    int rc = http_wf_import_upload(rq, &m, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    *status = 201;
    return http_wf_model_json(&m);
}

json_t *http_wf_models(http_req_t *rq, unsigned *status)
{
    wf_model_t *rows = calloc(STORE_PAGE_MAX, sizeof *rows);
    uint32_t n = 0;
    json_t *list = json_array();
    if (rows == NULL)
        return http_fail(status, MT_ENOMEM, "listing models");
    int rc = wf_model_list(http_api_store(rq->api), rows, STORE_PAGE_MAX, &n);
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        json_array_append_new(list, http_wf_model_json(&rows[i]));
    free(rows);
    if (rc < 0) {
        json_decref(list);
        return http_fail(status, rc, "listing models");
    }
    *status = 200;
    return json_pack("{s:o}", "models", list);
}

json_t *http_wf_model(http_req_t *rq, unsigned *status)
{
    wf_model_t m;
    int rc = wf_model_get(http_api_store(rq->api), rq->params[0], &m, NULL);
    if (rc == MT_ENOTFOUND)
        return http_fail_status(status, 404, "not_found", "no model %.64s", rq->params[0]);
    if (rc < 0)
        return http_fail(status, rc, "reading the model");
    *status = 200;
    return http_wf_model_json(&m);
}

static json_t *http_wf_started(unsigned *status, workflow_t *wf, int64_t job_id, json_t *extra)
{
    wf_job_t *j = malloc(sizeof *j);
    json_t *doc;
    if (j == NULL || wf_job_get(wf_store(wf), job_id, j) < 0) {
        free(j);
        json_decref(extra);
        return http_fail(status, MT_EIO, "reading the new job");
    }
    doc = json_pack("{s:o}", "job", http_wf_job_json(j));
    if (extra != NULL)
        json_object_update(doc, extra);
    json_decref(extra);
    free(j);
    *status = 202;
    return doc;
}

json_t *http_wf_device_model_upload(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    wf_model_t m;
    int64_t job = 0;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    int rc = http_wf_import_upload(rq, &m, err, sizeof err);
    if (rc == 0)
        rc = wf_push(http_wf(rq), id, m.sha256, &job, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    return http_wf_started(status, http_wf(rq), job, json_pack("{s:o}", "model",
                                                                http_wf_model_json(&m)));
}

json_t *http_wf_device_model_push(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    int64_t job = 0;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    const char *sha = json_string_value(json_object_get(rq->body, "model"));
    if (sha == NULL)
        return http_fail_status(status, 400, "invalid_argument",
                                "body must be {\"model\": SHA256} naming a stored model");
    int rc = wf_push(http_wf(rq), id, sha, &job, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    return http_wf_started(status, http_wf(rq), job, NULL);
}

/* POST /api/devices/{id}/flash?format=auto|bin|hex|elf&base=ADDR&entry=rpc|bootloader|dtr-rts:SEQ
 * with the image as the raw body: checked against the board's part, then a flash job. */
json_t *http_wf_device_flash(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    flash_job_params_t p;
    int64_t job = 0;
    json_t *doc = NULL;
    const char *base = http_wf_query(rq, "base"), *entry = http_wf_query(rq, "entry");
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    memset(&p, 0, sizeof p);
    if (flash_job_parse_format(http_wf_query(rq, "format"), &p.format) != 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "format must be auto, bin, hex or elf");
    p.base = 0x08000000u;
    if (base != NULL) {
        char *end = NULL;
        unsigned long long v = strtoull(base, &end, 0);
        if (base[0] < '0' || base[0] > '9' || *end != '\0' || v > 0xFFFFFFFFull)
            return http_fail_status(status, 400, "invalid_argument",
                                    "base must be an address such as 0x08000000");
        p.base = (uint32_t)v;
    }
    if (entry != NULL && strlen(entry) >= sizeof p.entry)
        return http_fail_status(status, 400, "invalid_argument", "entry is too long");
    snprintf(p.entry, sizeof p.entry, "%s", entry ? entry : "rpc");
    int rc = wf_flash(http_wf(rq), id, rq->raw, rq->raw_len, &p, &job, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    return http_wf_started(status, http_wf(rq), job, NULL);
}

json_t *http_wf_device_model_get(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    wf_settings_t set;
    wf_model_t m;
    microt_ModelStatus ms;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    int rc = wf_settings_get(http_api_store(rq->api), id, &set);
    if (rc < 0)
        return http_fail(status, rc, "reading the device settings");
    doc = json_pack("{s:s, s:o, s:o}", "device", id, "model",
                    set.active_model[0] && wf_model_get(http_api_store(rq->api), set.active_model,
                                                        &m, NULL) == 0
                        ? http_wf_model_json(&m)
                        : json_null(),
                    "live", json_null());
    if (wf_model_status(http_wf(rq), id, &ms, err, sizeof err) == 0)
        json_object_set_new(doc, "live", json_pack("{s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I}",
            "active", ms.active, "sha256", http_hex(ms.sha256.bytes, ms.sha256.size),
            "size_bytes", (json_int_t)ms.size_bytes, "slot", (json_int_t)ms.slot,
            "part_dim", (json_int_t)ms.part_dim, "full_dim", (json_int_t)ms.full_dim,
            "arena_bytes", (json_int_t)ms.arena_bytes, "input_bytes", (json_int_t)ms.input_bytes));
    *status = 200;
    return doc;
}

/* ---- jobs ---- */

json_t *http_wf_jobs(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    const char *dev = http_wf_query(rq, "device");
    uint64_t before, limit;
    uint32_t n = 0;
    if (dev != NULL && store_id_normalize(dev, id) < 0)
        return http_fail_status(status, 400, "invalid_argument", "device must be 24 hex digits");
    if (http_query_u64(rq, "before", 0, INT64_MAX, &before) < 0 ||
        http_query_u64(rq, "limit", HTTP_API_DEFAULT_PAGE, STORE_PAGE_MAX, &limit) < 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "before must be a job id and limit between 0 and %d",
                                STORE_PAGE_MAX);
    wf_job_t *rows = calloc(limit ? limit : 1, sizeof *rows);
    if (rows == NULL)
        return http_fail(status, MT_ENOMEM, "listing jobs");
    int rc = wf_job_list(http_api_store(rq->api), dev ? id : NULL, (int64_t)before, rows,
                         (uint32_t)limit, &n);
    json_t *list = json_array();
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        json_array_append_new(list, http_wf_job_json(&rows[i]));
    json_t *next = (n == limit && n > 0) ? json_integer(rows[n - 1].id) : json_null();
    free(rows);
    if (rc < 0) {
        json_decref(list);
        json_decref(next);
        return http_fail(status, rc, "listing jobs");
    }
    *status = 200;
    return json_pack("{s:o, s:o}", "jobs", list, "next_before", next);
}

json_t *http_wf_job(http_req_t *rq, unsigned *status)
{
    int64_t id;
    if (http_wf_i64(rq->params[0], &id) < 0)
        return http_fail_status(status, 400, "invalid_argument", "a job id is a positive integer");
    wf_job_t *j = malloc(sizeof *j);
    if (j == NULL)
        return http_fail(status, MT_ENOMEM, "reading the job");
    int rc = wf_job_get(http_api_store(rq->api), id, j);
    json_t *doc;
    if (rc == MT_ENOTFOUND)
        doc = http_fail_status(status, 404, "not_found", "no job %lld", (long long)id);
    else if (rc < 0)
        doc = http_fail(status, rc, "reading the job");
    else {
        doc = http_wf_job_json(j);
        *status = 200;
    }
    free(j);
    return doc;
}

json_t *http_wf_job_rerun(http_req_t *rq, unsigned *status)
{
    char err[HTTP_WF_ERR_CHARS] = "";
    int64_t id, new_id = 0;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_wf_i64(rq->params[0], &id) < 0)
        return http_fail_status(status, 400, "invalid_argument", "a job id is a positive integer");
    int rc = wf_job_rerun(http_wf(rq), id, &new_id, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    return http_wf_started(status, http_wf(rq), new_id, NULL);
}

/* ---- samples ---- */

json_t *http_wf_sample_add(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    wf_sample_t x;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    const char *label = http_wf_query(rq, "label");
    const char *source = http_wf_query(rq, "source");
    int rc = wf_add_image(http_wf(rq), id, label, source ? source : "upload", rq->raw,
                          rq->raw_len, &x, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    *status = 201;
    return http_wf_sample_json(&x);
}

json_t *http_wf_sample_idx(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    uint64_t images_bytes, start, count, per_class, index_base;
    uint32_t added = 0;
    int64_t first = 0, last = 0;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_query_u64(rq, "images_bytes", 0, rq->raw_len, &images_bytes) < 0 ||
        images_bytes == 0 || http_query_u64(rq, "start", 0, UINT32_MAX, &start) < 0 ||
        http_query_u64(rq, "count", 0, UINT32_MAX, &count) < 0 ||
        http_query_u64(rq, "per_class", 0, UINT32_MAX, &per_class) < 0 ||
        http_query_u64(rq, "index_base", 0, UINT32_MAX / 2, &index_base) < 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "the body is the IDX images file followed by the IDX labels file; "
                                "images_bytes (required) says where the first ends; start, count "
                                "per_class and index_base are optional non-negative integers");
    long long t0 = http_wf_now_ms();
    int rc = wf_add_idx(http_wf(rq), id, rq->raw, (size_t)images_bytes, rq->raw + images_bytes,
                        rq->raw_len - (size_t)images_bytes, (uint32_t)start, (uint32_t)count,
                        (uint32_t)per_class, http_wf_query(rq, "names"),
                        http_wf_query(rq, "source"), (uint32_t)index_base, &added, &first, &last,
                        err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    *status = 201;
    return json_pack("{s:I, s:I, s:I, s:I}", "added", (json_int_t)added, "first_id",
                     (json_int_t)first, "last_id", (json_int_t)last, "ms",
                     (json_int_t)(http_wf_now_ms() - t0));
}

json_t *http_wf_samples(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    uint64_t after, limit;
    uint32_t n = 0, total = 0;
    json_t *doc = NULL;
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_query_u64(rq, "after", 0, INT64_MAX, &after) < 0 ||
        http_query_u64(rq, "limit", HTTP_API_DEFAULT_PAGE, STORE_PAGE_MAX, &limit) < 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "after must be a sample id and limit between 0 and %d",
                                STORE_PAGE_MAX);
    store_device_row_t row;
    int rc = store_device_get(http_api_store(rq->api), id, &row);
    if (rc == MT_ENOTFOUND)
        return http_fail_status(status, 404, "not_found", "no device %s has ever been seen", id);
    wf_sample_t *rows = calloc(limit ? limit : 1, sizeof *rows);
    if (rows == NULL)
        return http_fail(status, MT_ENOMEM, "listing samples");
    rc = wf_sample_list(http_api_store(rq->api), id, http_wf_query(rq, "label"), (int64_t)after,
                        rows, (uint32_t)limit, &n, &total);
    json_t *list = json_array();
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        json_array_append_new(list, http_wf_sample_json(&rows[i]));
    json_t *next = (n == limit && n > 0) ? json_integer(rows[n - 1].id) : json_null();
    free(rows);
    if (rc < 0) {
        json_decref(list);
        json_decref(next);
        return http_fail(status, rc, "listing samples");
    }
    *status = 200;
    return json_pack("{s:s, s:o, s:I, s:o}", "device", id, "samples", list, "total",
                     (json_int_t)total, "next_after", next);
}

json_t *http_wf_sample_relabel(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    int64_t sid;
    json_t *doc = NULL;
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_wf_i64(rq->params[1], &sid) < 0)
        return http_fail_status(status, 400, "invalid_argument", "a sample id is a positive integer");
    const char *label = json_string_value(json_object_get(rq->body, "label"));
    if (label == NULL || label[0] == '\0' || strlen(label) > WF_LABEL_MAX_CHARS)
        return http_fail_status(status, 400, "invalid_argument",
                                "body must be {\"label\": \"...\"} with 1..%d characters",
                                WF_LABEL_MAX_CHARS);
    int rc = wf_sample_relabel(http_api_store(rq->api), id, sid, label);
    if (rc == MT_ENOTFOUND)
        return http_fail_status(status, 404, "not_found", "device %s has no sample %lld", id,
                                (long long)sid);
    if (rc < 0)
        return http_fail(status, rc, "relabeling");
    wf_sample_t x;
    rc = wf_sample_get(http_api_store(rq->api), id, sid, &x, NULL, 0);
    if (rc < 0)
        return http_fail(status, rc, "reading the sample");
    *status = 200;
    return http_wf_sample_json(&x);
}

json_t *http_wf_sample_delete(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    int64_t sid;
    json_t *doc = NULL;
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_wf_i64(rq->params[1], &sid) < 0)
        return http_fail_status(status, 400, "invalid_argument", "a sample id is a positive integer");
    int rc = wf_sample_delete(http_api_store(rq->api), id, sid);
    if (rc == MT_ENOTFOUND)
        return http_fail_status(status, 404, "not_found", "device %s has no sample %lld", id,
                                (long long)sid);
    if (rc < 0)
        return http_fail(status, rc, "deleting");
    *status = 200;
    return json_pack("{s:I, s:b}", "id", (json_int_t)sid, "deleted", 1);
}

/* ---- training, decision, inference ---- */

/* A number from the body, or def when absent; MT_EINVAL when present and not a number. */
static int http_wf_num(json_t *body, const char *key, double def, double *out)
{
    json_t *v = json_object_get(body, key);
    *out = def;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return MT_EINVAL;
    *out = json_number_value(v);
    return 0;
}

json_t *http_wf_train(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    double seed, holdout, l2, epochs;
    int64_t job = 0;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_wf_num(rq->body, "seed", 1, &seed) < 0 ||
        http_wf_num(rq->body, "holdout_fraction", 0, &holdout) < 0 ||
        http_wf_num(rq->body, "l2", 0, &l2) < 0 ||
        http_wf_num(rq->body, "max_epochs", 0, &epochs) < 0 || seed < 0 || seed > UINT32_MAX ||
        epochs < 0 || epochs > 100000)
        return http_fail_status(status, 400, "invalid_argument",
                                "seed, holdout_fraction, l2 and max_epochs are numbers");
    wf_train_params_t p = {.seed = (uint32_t)seed, .holdout_fraction = (float)holdout,
                           .l2 = (float)l2, .max_epochs = (uint32_t)epochs};
    int rc = wf_train(http_wf(rq), id, &p, &job, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    return http_wf_started(status, http_wf(rq), job, NULL);
}

json_t *http_wf_decision_get(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    wf_settings_t set;
    store_device_row_t row;
    json_t *doc = NULL;
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    int rc = store_device_get(http_api_store(rq->api), id, &row);
    if (rc == 0)
        rc = wf_settings_get(http_api_store(rq->api), id, &set);
    if (rc == MT_ENOTFOUND)
        return http_fail_status(status, 404, "not_found", "no device %s has ever been seen", id);
    if (rc < 0)
        return http_fail(status, rc, "reading the decision");
    *status = 200;
    return http_wf_settings_json(&set);
}

json_t *http_wf_decision_put(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    wf_settings_t set;
    int applied = 0;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    const char *policy = json_string_value(json_object_get(rq->body, "policy"));
    json_t *target = json_object_get(rq->body, "target");
    if (policy == NULL)
        policy = "ratio";
    if (!json_is_number(target))
        return http_fail_status(status, 400, "invalid_argument",
                                "body must be {\"policy\": \"ratio\"|\"energy_budget\"|"
                                "\"accuracy_floor\", \"target\": number}");
    int rc = wf_set_decision(http_wf(rq), id, policy, json_number_value(target), &set, &applied,
                             err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    doc = http_wf_settings_json(&set);
    json_object_set_new(doc, "applied", json_boolean(applied));
    *status = 200;
    return doc;
}

json_t *http_wf_tradeoff(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    microt_Tradeoff t;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    int rc = wf_tradeoff(http_wf(rq), id, &t, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    json_t *list = json_array();
    for (pb_size_t i = 0; i < t.points_count; i++)
        json_array_append_new(list, json_pack("{s:f, s:f, s:f, s:f}", "ratio",
                                              (double)t.points[i].ratio, "accuracy",
                                              (double)t.points[i].accuracy, "energy_uj",
                                              (double)t.points[i].energy_uj, "exit_fraction",
                                              (double)t.points[i].exit_fraction));
    *status = 200;
    return json_pack("{s:s, s:o}", "device", id, "points", list);
}

json_t *http_wf_classify(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    wf_inference_t r;
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    const char *source = http_wf_query(rq, "source");
    int rc = wf_classify(http_wf(rq), id, rq->raw, rq->raw_len, http_wf_query(rq, "expected"),
                         source ? source : "upload", &r, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    *status = 200;
    return http_wf_inference_json(&r);
}

json_t *http_wf_capture(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS], err[HTTP_WF_ERR_CHARS] = "";
    json_t *doc = NULL;
    if (http_wf(rq) == NULL)
        return http_wf_unavailable(status);
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    const char *label = json_string_value(json_object_get(rq->body, "label"));
    int rc = wf_capture(http_wf(rq), id, label, err, sizeof err);
    if (rc < 0)
        return http_wf_fail(status, rc, err);
    /* The frame is still streaming in; it appears in the samples as source "capture". */
    *status = 202;
    return json_pack("{s:s, s:b, s:o}", "device", id, "requested", 1, "label",
                     label ? json_string(label) : json_null());
}

json_t *http_wf_inferences(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    uint64_t before, limit;
    uint32_t n = 0, stage1 = 0, labeled = 0, correct = 0;
    uint64_t energy = 0;
    json_t *doc = NULL;
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_query_u64(rq, "before", 0, INT64_MAX, &before) < 0 ||
        http_query_u64(rq, "limit", HTTP_API_DEFAULT_PAGE, STORE_PAGE_MAX, &limit) < 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "before must be an inference id and limit between 0 and %d",
                                STORE_PAGE_MAX);
    wf_inference_t *rows = calloc(limit ? limit : 1, sizeof *rows);
    if (rows == NULL)
        return http_fail(status, MT_ENOMEM, "listing inferences");
    int rc = wf_inference_list(http_api_store(rq->api), id, (int64_t)before, rows,
                               (uint32_t)limit, &n);
    json_t *list = json_array();
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        json_array_append_new(list, http_wf_inference_json(&rows[i]));
        stage1 += rows[i].stage == 1;
        energy += rows[i].energy_nj;
        if (rows[i].expected[0]) {
            labeled++;
            correct += strcmp(rows[i].expected, rows[i].label) == 0;
        }
    }
    json_t *next = (n == limit && n > 0) ? json_integer(rows[n - 1].id) : json_null();
    free(rows);
    if (rc < 0) {
        json_decref(list);
        json_decref(next);
        return http_fail(status, rc, "listing inferences");
    }
    *status = 200;
    /* The summary covers this page: exits at stage 1, accuracy where a label was given. */
    return json_pack("{s:s, s:o, s:{s:I, s:I, s:o, s:I, s:I, s:o, s:f}, s:o}", "device", id,
                     "inferences", list, "summary", "count", (json_int_t)n, "stage1_exits",
                     (json_int_t)stage1, "exit_rate", n ? json_real((double)stage1 / n) : json_null(),
                     "labeled", (json_int_t)labeled, "correct", (json_int_t)correct, "accuracy",
                     labeled ? json_real((double)correct / labeled) : json_null(),
                     "mean_energy_uj", n ? (double)energy / n / 1000.0 : 0.0, "next_before", next);
}

json_t *http_wf_stats(http_req_t *rq, unsigned *status)
{
    char id[STORE_ID_CHARS];
    uint64_t since, after, limit;
    uint32_t n = 0;
    json_t *doc = NULL;
    if (http_device_id(rq, id, &doc, status) == NULL)
        return doc;
    if (http_query_u64(rq, "since_ms", 0, INT64_MAX, &since) < 0 ||
        http_query_u64(rq, "after", 0, INT64_MAX, &after) < 0 ||
        http_query_u64(rq, "limit", HTTP_API_DEFAULT_PAGE, STORE_PAGE_MAX, &limit) < 0)
        return http_fail_status(status, 400, "invalid_argument",
                                "since_ms and after are non-negative, limit between 0 and %d",
                                STORE_PAGE_MAX);
    wf_stats_row_t *rows = calloc(limit ? limit : 1, sizeof *rows);
    if (rows == NULL)
        return http_fail(status, MT_ENOMEM, "listing counters");
    int rc = wf_stats_list(http_api_store(rq->api), id, (int64_t)since, (int64_t)after, rows,
                           (uint32_t)limit, &n);
    json_t *list = json_array();
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const wf_stats_row_t *r = &rows[i];
        json_array_append_new(list, json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "seq", (json_int_t)r->seq,
            "at_ms", (json_int_t)r->at_ms, "uptime_ms", (json_int_t)r->uptime_ms, "inferences",
            (json_int_t)r->inferences, "stage1_exits", (json_int_t)r->stage1_exits,
            "cycles_total", (json_int_t)r->cycles_total, "energy_nj", (json_int_t)r->energy_nj,
            "frames_rx", (json_int_t)r->frames_rx, "frames_tx", (json_int_t)r->frames_tx,
            "crc_errors", (json_int_t)r->crc_errors, "retransmits", (json_int_t)r->retransmits));
    }
    json_t *next = (n == limit && n > 0) ? json_integer(rows[n - 1].seq) : json_null();
    free(rows);
    if (rc < 0) {
        json_decref(list);
        json_decref(next);
        return http_fail(status, rc, "listing counters");
    }
    *status = 200;
    return json_pack("{s:s, s:o, s:o}", "device", id, "series", list, "next_after", next);
}
