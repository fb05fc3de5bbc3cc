/*
 * workflow.c — push, samples, training, decision, classification and the counter collector
 * (see workflow.h).
 *
 * Transfers (a model, a sample, an image to classify) share one routine: TransferBegin tells the
 * board the size and hash and gets back the offset it already holds; chunks follow through
 * fleet_send, which returns as soon as the link window has room, so the window stays full and
 * the line never waits for a round trip; TransferEnd returns the kind's result. A push that
 * fails on the way (board gone, reset, link lost) waits for the board and begins again; the
 * board's offset makes it continue where it stopped instead of from zero.
 *
 * Busy registry: a device id is "held" by a job for the job's life and by a short operation for
 * its call; a second holder gets MT_EBUSY. The jobs table enforces the same rule across restarts.
 */
#include "workflow.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flash_job.h"
#include "import/model_import.h"
#include "mt_err.h"
#include "sample_prep.h"
#include "sha256.h"

#define WF_MAX_BUSY 256
#define WF_CHUNK_OVERHEAD 32u          /* Message id, oneof tag, offset, data length: <= 32 B */
#define WF_BEGIN_TIMEOUT_MS 3000u
#define WF_SEND_TIMEOUT_MS 10000u      /* a full window at 115200 baud drains in < 2 s */
#define WF_END_MODEL_TIMEOUT_MS 20000u /* hash check + activation of a slot */
#define WF_END_SAMPLE_TIMEOUT_MS 30000u /* feature extraction: both stages on the board */
#define WF_TRAIN_TIMEOUT_MS 300000u
#define WF_PROGRESS_EVERY_MS 200
#define WF_MAX_CAPTURES 16
#define WF_CAPTURE_MAX_BYTES (640u * 480u * 3u)
#define WF_STOP_WAIT_MS 5000

typedef struct wf_run {
    workflow_t *wf;
    int64_t job_id;
    char device[STORE_ID_CHARS];
    char kind[8];
    char params[WF_PARAMS_MAX_CHARS + 1];
    uint8_t *blob;              /* a flash job's uploaded image (kept in memory only) */
    size_t blob_len;
    pthread_t thread;
    atomic_int finished;
    struct wf_run *next;
} wf_run_t;

typedef struct {
    char device[STORE_ID_CHARS];
    uint8_t *data;
    uint32_t total, have, width, height;
    int32_t label;
} wf_capture_t;

struct workflow {
    store_t *store;
    fleet_t *fleet;
    workflow_config_t cfg;
    pthread_mutex_t mu;
    char busy[WF_MAX_BUSY][STORE_ID_CHARS];
    unsigned n_busy;
    wf_run_t *runs;
    atomic_int stop;
    pthread_t collector;
    int collector_started;
    pthread_mutex_t cap_mu;
    wf_capture_t captures[WF_MAX_CAPTURES];
};

static int64_t wf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wf_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wf_errf(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

store_t *wf_store(workflow_t *wf) { return wf->store; }

/* ---- busy registry ---- */

static int wf_hold(workflow_t *wf, const char *device)
{
    int rc = 0;
    pthread_mutex_lock(&wf->mu);
    for (unsigned i = 0; i < wf->n_busy; i++)
        if (strcmp(wf->busy[i], device) == 0)
            rc = MT_EBUSY;
    if (rc == 0 && wf->n_busy == WF_MAX_BUSY)
        rc = MT_EBUSY;
    if (rc == 0)
        snprintf(wf->busy[wf->n_busy++], STORE_ID_CHARS, "%s", device);
    pthread_mutex_unlock(&wf->mu);
    return rc;
}

static void wf_release(workflow_t *wf, const char *device)
{
    pthread_mutex_lock(&wf->mu);
    for (unsigned i = 0; i < wf->n_busy; i++) {
        if (strcmp(wf->busy[i], device) == 0) {
            memcpy(wf->busy[i], wf->busy[--wf->n_busy], STORE_ID_CHARS);
            break;
        }
    }
    pthread_mutex_unlock(&wf->mu);
}

static int wf_is_busy(workflow_t *wf, const char *device)
{
    int busy = 0;
    pthread_mutex_lock(&wf->mu);
    for (unsigned i = 0; i < wf->n_busy; i++)
        busy |= strcmp(wf->busy[i], device) == 0;
    pthread_mutex_unlock(&wf->mu);
    return busy;
}

static int wf_busy_fail(char *err, size_t err_len, const char *device)
{
    return wf_errf(err, err_len, MT_EBUSY, "device %s is busy with another job or operation",
                   device);
}

/* ---- board calls ---- */

/* A board Error -> mt_err_t, so callers can tell "not now" from "never". */
static int wf_board_error(const microt_Error *e, char *err, size_t err_len)
{
    int rc;
    switch (e->code) {
    case microt_ErrorCode_ERR_BUSY: rc = MT_EBUSY; break;
    case microt_ErrorCode_ERR_NO_MODEL:
    case microt_ErrorCode_ERR_NOT_TRAINED:
    case microt_ErrorCode_ERR_STATE: rc = MT_ESTATE; break;
    case microt_ErrorCode_ERR_NO_SPACE: rc = MT_ENOSPACE; break;
    case microt_ErrorCode_ERR_BAD_REQUEST: rc = MT_EINVAL; break;
    default: rc = MT_EDEVICE; break;
    }
    return wf_errf(err, err_len, rc, "the board answered error %d: %s", (int)e->code,
                   e->message[0] ? e->message : "(no message)");
}

/* One request; the reply must carry want_tag. */
static int wf_rpc(workflow_t *wf, const char *device, const microt_Message *req,
                  pb_size_t want_tag, microt_Message *reply, uint32_t timeout_ms, char *err,
                  size_t err_len)
{
    int rc = fleet_call(wf->fleet, device, req, reply, timeout_ms);
    if (rc == MT_EDEVICE)
        return wf_board_error(&reply->body.error, err, err_len);
    if (rc == MT_EOFFLINE)
        return wf_errf(err, err_len, rc, "device %s is not connected", device);
    if (rc == MT_ETIMEOUT)
        return wf_errf(err, err_len, rc, "device %s did not answer within %u ms", device,
                       timeout_ms);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "talking to device %s: %s", device, mt_strerror(rc));
    if (reply->which_body != want_tag)
        return wf_errf(err, err_len, MT_EPROTO, "device %s answered with message %u, expected %u",
                       device, (unsigned)reply->which_body, (unsigned)want_tag);
    return 0;
}

typedef void (*wf_progress_fn)(void *ctx, uint32_t offset, uint32_t total);

typedef struct {
    uint32_t start_offset;     /* what the board already held */
    uint32_t bytes_sent;       /* payload sent by this attempt */
    int64_t send_ms;           /* from the first chunk to the End reply */
} wf_xfer_stats_t;

/* One attempt at a transfer; *end_reply gets TransferEnd's answer (want_tag). */
static int wf_transfer(workflow_t *wf, const char *device, microt_TransferKind kind,
                       const uint8_t *data, uint32_t len, int32_t label, pb_size_t want_tag,
                       uint32_t end_timeout_ms, microt_Message *end_reply, wf_progress_fn progress,
                       void *pctx, wf_xfer_stats_t *stats, char *err, size_t err_len)
{
    microt_Message req, reply;
    fleet_device_t live;
    uint32_t chunk = sizeof req.body.transfer_chunk.data.bytes;
    int rc = fleet_get(wf->fleet, device, &live);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "device %s is not connected", device);
    /* The board's largest frame bounds the chunk too (an older or smaller board). */
    if (live.info.max_frame_bytes > WF_CHUNK_OVERHEAD + 64u &&
        live.info.max_frame_bytes - WF_CHUNK_OVERHEAD < chunk)
        chunk = live.info.max_frame_bytes - WF_CHUNK_OVERHEAD;

    memset(&req, 0, sizeof req);
    req.which_body = microt_Message_transfer_begin_tag;
    req.body.transfer_begin.kind = kind;
    req.body.transfer_begin.total_bytes = len;
    req.body.transfer_begin.sha256.size = SHA256_DIGEST_BYTES;
    sha256(data, len, req.body.transfer_begin.sha256.bytes);
    req.body.transfer_begin.label = label;
    rc = wf_rpc(wf, device, &req, microt_Message_transfer_status_tag, &reply, WF_BEGIN_TIMEOUT_MS,
                err, err_len);
    if (rc < 0)
        return rc;
    uint32_t off = reply.body.transfer_status.offset;
    if (off > len)
        return wf_errf(err, err_len, MT_EPROTO, "the board claims %u of %u bytes", off, len);
    if (stats) {
        stats->start_offset = off;
        stats->bytes_sent = 0;
    }
    int64_t t0 = wf_mono_ms(), last_report = 0;
    while (off < len) {
        uint32_t n = len - off < chunk ? len - off : chunk;
        memset(&req, 0, sizeof req);
        req.which_body = microt_Message_transfer_chunk_tag;
        req.body.transfer_chunk.offset = off;
        req.body.transfer_chunk.data.size = (pb_size_t)n;
        memcpy(req.body.transfer_chunk.data.bytes, data + off, n);
        rc = fleet_send(wf->fleet, device, &req, WF_SEND_TIMEOUT_MS);
        if (rc < 0)
            return wf_errf(err, err_len, rc, "sending bytes %u..%u to device %s: %s", off,
                           off + n, device, mt_strerror(rc));
        off += n;
        if (stats)
            stats->bytes_sent += n;
        if (progress && (wf_mono_ms() - last_report >= WF_PROGRESS_EVERY_MS || off == len)) {
            progress(pctx, off, len);
            last_report = wf_mono_ms();
        }
        if (atomic_load(&wf->stop))
            return wf_errf(err, err_len, MT_ESTATE, "the daemon is stopping");
    }
    memset(&req, 0, sizeof req);
    req.which_body = microt_Message_transfer_end_tag;
    rc = wf_rpc(wf, device, &req, want_tag, end_reply, end_timeout_ms, err, err_len);
    if (stats)
        stats->send_ms = wf_mono_ms() - t0;
    /* A board that lost chunks (reset mid-stream) answers with its status: begin again. */
    if (rc == MT_EPROTO && end_reply->which_body == microt_Message_transfer_status_tag)
        return wf_errf(err, err_len, MT_EIO, "the board holds %u of %u bytes at the end",
                       end_reply->body.transfer_status.offset, len);
    return rc;
}

/* ---- models ---- */

int wf_import(workflow_t *wf, const uint8_t *tflite, size_t len, const char *source_name,
              const char *cut, wf_model_t *out, char *err, size_t err_len)
{
    model_import_t m;
    model_import_opts_t opts = {.cut = cut, .keep_classifier = false};
    uint8_t src_sha[SHA256_DIGEST_BYTES];
    int rc;

    memset(out, 0, sizeof *out);
    if (source_name == NULL || source_name[0] == '\0' || strlen(source_name) > 255)
        return wf_errf(err, err_len, MT_EINVAL, "the model needs a source name of 1..255 characters");
    if (cut != NULL && strlen(cut) >= sizeof out->cut)
        return wf_errf(err, err_len, MT_EINVAL, "cut name too long");
    rc = model_import(tflite, len, &opts, &m, err, err_len);
    if (rc < 0)
        return rc;
    const model_import_tensor_t *in = &m.tensors[m.input_tensor];
    /* The input is an NHWC image: [1, H, W, C] with C = 1 or 3. */
    if (in->rank != 4 || in->shape[0] != 1 || (in->shape[3] != 1 && in->shape[3] != 3) ||
        in->shape[1] <= 0 || in->shape[2] <= 0 || in->scale <= 0.0f) {
        rc = wf_errf(err, err_len, MT_EINVAL, "the model's input is not an image tensor "
                     "[1, H, W, 1 or 3] with a positive scale");
        goto out;
    }
    if ((size_t)in->shape[1] * in->shape[2] * in->shape[3] > PREP_MAX_TENSOR_BYTES) {
        rc = wf_errf(err, err_len, MT_ETOOBIG, "the model's input %dx%dx%d is over %u bytes",
                     in->shape[1], in->shape[2], in->shape[3], PREP_MAX_TENSOR_BYTES);
        goto out;
    }
    /* A model is known by the hash of its whole image: what TransferBegin carries and what the
     * board reports as active (the importer's embedded hash covers all but its own 32 bytes). */
    uint8_t img_sha[SHA256_DIGEST_BYTES];
    sha256(m.image, m.image_bytes, img_sha);
    wf_hex(img_sha, SHA256_DIGEST_BYTES, out->sha256);
    sha256(tflite, len, src_sha);
    wf_hex(src_sha, SHA256_DIGEST_BYTES, out->source_sha256);
    snprintf(out->source_name, sizeof out->source_name, "%s", source_name);
    snprintf(out->cut, sizeof out->cut, "%s", cut ? cut : "");
    out->image_bytes = m.image_bytes;
    out->arena_bytes = m.arena_bytes;
    out->arena_stage1_bytes = m.arena_stage1_bytes;
    out->weight_bytes = m.weight_bytes_stage1 + m.weight_bytes_stage2;
    out->macs_stage1 = m.macs_stage1;
    out->macs_stage2 = m.macs_stage2;
    out->input_h = (uint32_t)in->shape[1];
    out->input_w = (uint32_t)in->shape[2];
    out->input_c = (uint32_t)in->shape[3];
    out->input_scale = in->scale;
    out->input_zero_point = in->zero_point;
    out->part_dim = m.part_dim;
    out->full_dim = m.full_dim;
    out->created_ms = wf_now_ms();
    rc = wf_model_put(wf->store, out, m.image, out->created_ms);
    if (rc < 0)
        wf_errf(err, err_len, rc, "cannot store the model: %s", mt_strerror(rc));
    else
        rc = wf_model_get(wf->store, out->sha256, out, NULL); /* the stored row (first import) */
out:
    model_import_free(&m);
    return rc;
}

int wf_check_fit(workflow_t *wf, const char *device_id, const wf_model_t *m, char *err,
                 size_t err_len)
{
    fleet_device_t live;
    int rc = fleet_get(wf->fleet, device_id, &live);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "device %s is not connected: its flash slot and SRAM "
                       "are known only from its hello", device_id);
    const microt_DeviceInfo *d = &live.info;
    if (!(d->capabilities & microt_Capability_CAP_MODEL))
        return wf_errf(err, err_len, MT_ENOSPACE, "device %s does not take models", device_id);
    if (d->model_slot_bytes > 0 && m->image_bytes > d->model_slot_bytes)
        return wf_errf(err, err_len, MT_ENOSPACE, "the model image is %u bytes; device %s's "
                       "model slot holds %u", m->image_bytes, device_id, d->model_slot_bytes);
    uint32_t arena = d->arena_bytes ? d->arena_bytes : d->sram_bytes;
    if (m->arena_bytes > arena)
        return wf_errf(err, err_len, MT_ENOSPACE, "the model needs a %u byte activation arena; "
                       "device %s has %u bytes%s", m->arena_bytes, device_id, arena,
                       d->arena_bytes ? " of arena" : " of SRAM");
    return 0;
}

/* ---- jobs ---- */

typedef struct {
    workflow_t *wf;
    int64_t job_id;
    const char *phase;
    uint64_t base, total;      /* progress = base + offset of the current transfer */
    int64_t last_offset_ms;    /* monotonic time the offset last grew */
    uint64_t best;
} wf_jobprog_t;

static void wf_job_progress_cb(void *ctx, uint32_t offset, uint32_t total)
{
    wf_jobprog_t *p = ctx;
    uint64_t done = p->base + offset;
    (void)total;
    if (done > p->best) {
        p->best = done;
        p->last_offset_ms = wf_mono_ms();
    }
    (void)wf_job_progress(p->wf->store, p->job_id, p->phase, done, p->total);
}

static void wf_sleep_ms(workflow_t *wf, unsigned ms)
{
    for (unsigned t = 0; t < ms && !atomic_load(&wf->stop); t += 50)
        usleep(50000);
}

/* The push job: until the board has the model active, or no progress for push_stall_ms. */
static int wf_run_push(wf_run_t *r, json_t *params, json_t **result, char *err, size_t err_len)
{
    workflow_t *wf = r->wf;
    const char *sha = json_string_value(json_object_get(params, "model"));
    wf_model_t m;
    uint8_t *image = NULL;
    microt_Message end;
    wf_xfer_stats_t st = {0};
    json_t *attempts = json_array();
    int rc = sha ? wf_model_get(wf->store, sha, &m, &image) : MT_EINVAL;
    if (rc < 0) {
        wf_errf(err, err_len, rc, "model %s is not in the database", sha ? sha : "(none)");
        goto out;
    }
    wf_jobprog_t prog = {.wf = wf, .job_id = r->job_id, .phase = "transfer", .total = m.image_bytes,
                         .last_offset_ms = wf_mono_ms()};
    (void)wf_job_progress(wf->store, r->job_id, "connect", 0, m.image_bytes);
    int64_t t_start = wf_mono_ms();
    unsigned n_attempts = 0;
    for (;;) {
        if (atomic_load(&wf->stop)) {
            rc = wf_errf(err, err_len, MT_ESTATE, "the daemon stopped during the push; re-run it");
            goto out;
        }
        if (wf_mono_ms() - prog.last_offset_ms > (int64_t)wf->cfg.push_stall_ms) {
            rc = wf_errf(err, err_len, MT_ETIMEOUT, "no progress for %u ms (last error: %s)",
                         wf->cfg.push_stall_ms, err[0] ? err : "board not connected");
            goto out;
        }
        fleet_device_t live;
        if (fleet_get(wf->fleet, r->device, &live) < 0) {
            wf_sleep_ms(wf, 200);
            continue;
        }
        n_attempts++;
        memset(&end, 0, sizeof end);
        memset(&st, 0, sizeof st); /* an attempt that fails before Begin resumed nowhere */
        rc = wf_transfer(wf, r->device, microt_TransferKind_TRANSFER_MODEL, image, m.image_bytes,
                         -1, microt_Message_model_status_tag, WF_END_MODEL_TIMEOUT_MS, &end,
                         wf_job_progress_cb, &prog, &st, err, err_len);
        json_array_append_new(attempts, json_pack("{s:I, s:I, s:s}", "resumed_at",
                                                  (json_int_t)st.start_offset, "sent",
                                                  (json_int_t)st.bytes_sent, "result",
                                                  rc == 0 ? "ok" : mt_strerror(rc)));
        if (rc == 0)
            break;
        /* Not now (board gone, reset, busy): wait and continue where it stopped. */
        if (rc == MT_EOFFLINE || rc == MT_ETIMEOUT || rc == MT_EIO || rc == MT_EBUSY ||
            rc == MT_ESTATE || rc == MT_EPROTO) {
            fprintf(stderr, "microtd: push job %lld: %s; resuming\n", (long long)r->job_id, err);
            wf_sleep_ms(wf, 300);
            continue;
        }
        goto out; /* the board refuses the model (no space, verify, flash): final */
    }
    const microt_ModelStatus *ms = &end.body.model_status;
    char got[WF_SHA_CHARS] = "";
    if (ms->sha256.size == SHA256_DIGEST_BYTES)
        wf_hex(ms->sha256.bytes, SHA256_DIGEST_BYTES, got);
    if (!ms->active || strcmp(got, m.sha256) != 0) {
        rc = wf_errf(err, err_len, MT_EDEVICE, "the board did not activate the model (active %d, "
                     "sha256 %s)", ms->active, got[0] ? got : "none");
        goto out;
    }
    wf_settings_t set;
    rc = wf_settings_get(wf->store, r->device, &set);
    if (rc == 0) {
        /* A new model invalidates the heads (features change): the board retrains. */
        snprintf(set.active_model, sizeof set.active_model, "%s", m.sha256);
        set.classes[0] = '\0';
        set.has_ratio = false;
        rc = wf_settings_put(wf->store, &set, wf_now_ms());
    }
    if (rc < 0) {
        wf_errf(err, err_len, rc, "cannot record the active model: %s", mt_strerror(rc));
        goto out;
    }
    double secs = (double)st.send_ms / 1000.0;
    *result = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:I, s:o}", "model", m.sha256,
                        "image_bytes", (json_int_t)m.image_bytes, "slot", (json_int_t)ms->slot,
                        "last_attempt_bytes", (json_int_t)st.bytes_sent,
                        "last_attempt_s", secs,
                        "payload_bytes_per_s", secs > 0 ? (double)st.bytes_sent / secs : 0.0,
                        "total_s", (double)(wf_mono_ms() - t_start) / 1000.0,
                        "attempts", (json_int_t)n_attempts, "transfers", attempts);
    attempts = NULL;
    rc = 0;
out:
    json_decref(attempts);
    free(image);
    return rc;
}

static void wf_flash_progress_cb(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
    wf_run_t *r = ctx;
    (void)wf_job_progress(r->wf->store, r->job_id, phase, done, total);
}

/* The flash job: the port taken from the session, the image written, the board back online. */
static int wf_run_flash(wf_run_t *r, json_t *params, json_t **result, char *err, size_t err_len)
{
    if (r->blob == NULL)
        return wf_errf(err, err_len, MT_ESTATE, "the job has no image");
    return flash_job_run(r->wf->store, r->wf->fleet, r->device, r->blob, r->blob_len, params,
                         wf_flash_progress_cb, r, &r->wf->stop, result, err, err_len);
}

/* Class names sorted (the index sent with each sample) as a JSON array. */
static json_t *wf_classes_json(char labels[][WF_LABEL_MAX_CHARS + 1], uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(labels[i]));
    return a;
}

static int wf_apply_decision(workflow_t *wf, const char *device, wf_settings_t *set,
                             microt_RatioState *state, char *err, size_t err_len);

static json_t *wf_head_json(const microt_HeadMetrics *h)
{
    return json_pack("{s:f, s:f, s:I, s:f}", "train_accuracy", (double)h->train_accuracy,
                     "holdout_accuracy", (double)h->holdout_accuracy, "epochs",
                     (json_int_t)h->epochs, "loss", (double)h->loss);
}

/* The training job: reset, stream every sample of the active model, train, apply the policy. */
static int wf_run_train(wf_run_t *r, json_t *params, json_t **result, char *err, size_t err_len)
{
    workflow_t *wf = r->wf;
    char (*lab)[WF_LABEL_MAX_CHARS + 1] = NULL;
    uint32_t counts[WF_MAX_CLASSES], n_classes = 0, total = 0;
    wf_settings_t set;
    wf_model_t model;
    uint8_t *tensor = NULL;
    microt_Message req, reply;
    uint64_t extract_cycles_sum = 0;
    int rc;

    lab = calloc(WF_MAX_CLASSES, sizeof *lab);
    tensor = malloc(PREP_MAX_TENSOR_BYTES);
    if (lab == NULL || tensor == NULL) {
        rc = MT_ENOMEM;
        goto out;
    }
    rc = wf_settings_get(wf->store, r->device, &set);
    if (rc == 0 && set.active_model[0] == '\0')
        rc = wf_errf(err, err_len, MT_ESTATE, "device %s has no model pushed by this daemon",
                     r->device);
    if (rc == 0)
        rc = wf_model_get(wf->store, set.active_model, &model, NULL);
    if (rc == 0)
        rc = wf_sample_labels(wf->store, r->device, set.active_model, lab, counts, WF_MAX_CLASSES,
                              &n_classes);
    if (rc == MT_ETOOBIG)
        wf_errf(err, err_len, rc, "more than %d distinct labels", WF_MAX_CLASSES);
    if (rc < 0)
        goto out;
    for (uint32_t i = 0; i < n_classes; i++)
        total += counts[i];
    if (n_classes < 2) {
        rc = wf_errf(err, err_len, MT_ESTATE, "training needs samples of at least 2 labels for "
                     "the active model; device %s has %u", r->device, n_classes);
        goto out;
    }
    memset(&req, 0, sizeof req);
    req.which_body = microt_Message_reset_samples_tag;
    req.body.reset_samples.num_classes = n_classes;
    (void)wf_job_progress(wf->store, r->job_id, "reset", 0, total);
    /* Any reply but an Error is fine: the board acknowledges the reset. */
    rc = fleet_call(wf->fleet, r->device, &req, &reply, 0);
    if (rc == MT_EDEVICE)
        rc = wf_board_error(&reply.body.error, err, err_len);
    else if (rc < 0)
        wf_errf(err, err_len, rc, "reset of the feature cache: %s", mt_strerror(rc));
    if (rc < 0)
        goto out;

    int64_t after = 0, t0 = wf_mono_ms();
    uint32_t sent = 0, capacity = 0, cached = 0;
    wf_sample_t x;
    while ((rc = wf_sample_next(wf->store, r->device, set.active_model, after, &x, tensor,
                                PREP_MAX_TENSOR_BYTES)) == 0) {
        after = x.id;
        int32_t cls = -1;
        for (uint32_t i = 0; i < n_classes; i++)
            if (strcmp(lab[i], x.label) == 0)
                cls = (int32_t)i;
        if (cls < 0)
            continue; /* relabeled after the label list was read: next training takes it */
        microt_Message end;
        rc = wf_transfer(wf, r->device, microt_TransferKind_TRANSFER_SAMPLE, tensor,
                         x.input_h * x.input_w * x.input_c, cls, microt_Message_sample_result_tag,
                         WF_END_SAMPLE_TIMEOUT_MS, &end, NULL, NULL, NULL, err, err_len);
        if (rc < 0)
            goto out;
        sent++;
        cached = end.body.sample_result.cached;
        capacity = end.body.sample_result.capacity;
        extract_cycles_sum += end.body.sample_result.cycles;
        (void)wf_job_progress(wf->store, r->job_id, "samples", sent, total);
        if (capacity > 0 && cached >= capacity)
            break; /* the board's feature cache is full: train on what it holds */
        if (atomic_load(&wf->stop)) {
            rc = wf_errf(err, err_len, MT_ESTATE, "the daemon stopped during training");
            goto out;
        }
    }
    if (rc < 0 && rc != MT_ENOTFOUND)
        goto out;
    int64_t stream_ms = wf_mono_ms() - t0;

    json_t *p_seed = json_object_get(params, "seed");
    memset(&req, 0, sizeof req);
    req.which_body = microt_Message_train_heads_tag;
    req.body.train_heads.seed = p_seed ? (uint32_t)json_integer_value(p_seed) : 1u;
    req.body.train_heads.holdout_fraction =
        (float)json_real_value(json_object_get(params, "holdout_fraction"));
    req.body.train_heads.l2 = (float)json_real_value(json_object_get(params, "l2"));
    req.body.train_heads.max_epochs = (uint32_t)json_integer_value(json_object_get(params, "max_epochs"));
    (void)wf_job_progress(wf->store, r->job_id, "train", sent, total);
    rc = wf_rpc(wf, r->device, &req, microt_Message_train_result_tag, &reply, WF_TRAIN_TIMEOUT_MS,
                err, err_len);
    if (rc < 0)
        goto out;
    const microt_TrainResult tr = reply.body.train_result;

    /* The heads are new: record the class names, then put the policy in force. */
    json_t *classes = wf_classes_json(lab, n_classes);
    char *classes_text = json_dumps(classes, JSON_COMPACT);
    json_decref(classes);
    if (classes_text == NULL || strlen(classes_text) > WF_CLASSES_MAX_CHARS) {
        free(classes_text);
        rc = wf_errf(err, err_len, MT_ETOOBIG, "class names too long");
        goto out;
    }
    snprintf(set.classes, sizeof set.classes, "%s", classes_text);
    free(classes_text);
    set.trained_job = r->job_id;
    set.has_ratio = true;
    set.threshold = tr.threshold;
    rc = wf_settings_put(wf->store, &set, wf_now_ms());
    if (rc < 0)
        goto out;
    microt_RatioState rs;
    char derr[256] = "";
    int drc = wf_apply_decision(wf, r->device, &set, &rs, derr, sizeof derr);

    *result = json_pack(
        "{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:f, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:I, "
        "s:f, s:I, s:I}",
        "samples_sent", (json_int_t)sent, "samples", (json_int_t)tr.samples, "holdout",
        (json_int_t)tr.holdout, "cache_capacity", (json_int_t)capacity, "classes",
        wf_classes_json(lab, n_classes), "part", wf_head_json(&tr.part), "full",
        wf_head_json(&tr.full), "staged_holdout_accuracy", (double)tr.staged_holdout_accuracy,
        "cycles", "extract", (json_int_t)tr.extract_cycles, "train", (json_int_t)tr.train_cycles,
        "calibrate", (json_int_t)tr.calibrate_cycles, "energy_nj", "extract",
        (json_int_t)tr.extract_energy_nj, "train", (json_int_t)tr.train_energy_nj, "calibrate",
        (json_int_t)tr.calibrate_energy_nj, "peak_ram_bytes", (json_int_t)tr.peak_ram_bytes,
        "threshold", (double)tr.threshold, "stream_ms", (json_int_t)stream_ms,
        "sample_extract_cycles", (json_int_t)extract_cycles_sum);
    if (*result == NULL) {
        rc = MT_ENOMEM;
        goto out;
    }
    if (drc == 0)
        json_object_set_new(*result, "decision", json_pack("{s:s, s:f, s:f, s:f}", "policy",
                            set.policy, "target", set.target, "ratio", (double)rs.ratio,
                            "threshold", (double)rs.threshold));
    else
        json_object_set_new(*result, "decision_error", json_string(derr));
    rc = 0;
out:
    free(lab);
    free(tensor);
    return rc;
}

static void wf_run_finish(wf_run_t *r, int rc, json_t *result, const char *err)
{
    workflow_t *wf = r->wf;
    char *text = result ? json_dumps(result, JSON_COMPACT) : NULL;
    const char *state = rc == 0 ? "done" : (atomic_load(&wf->stop) ? "interrupted" : "failed");
    if (wf_job_finish(wf->store, r->job_id, state, text, rc == 0 ? NULL : err, wf_now_ms()) < 0)
        fprintf(stderr, "microtd: job %lld: cannot record its end\n", (long long)r->job_id);
    fprintf(stderr, "microtd: %s job %lld on %s %s%s%s\n", r->kind, (long long)r->job_id,
            r->device, state, rc ? ": " : "", rc ? err : "");
    free(text);
}

static void *wf_run_main(void *arg)
{
    wf_run_t *r = arg;
    workflow_t *wf = r->wf;
    char err[WF_ERROR_MAX_CHARS + 1] = "";
    json_t *result = NULL, *params = json_loads(r->params, 0, NULL);
    int rc = wf_job_start(wf->store, r->job_id, wf_now_ms());
    if (rc == 0 && params == NULL)
        rc = wf_errf(err, sizeof err, MT_EINVAL, "the job's parameters are not JSON");
    if (rc == 0) {
        if (strcmp(r->kind, "push") == 0)
            rc = wf_run_push(r, params, &result, err, sizeof err);
        else if (strcmp(r->kind, "flash") == 0)
            rc = wf_run_flash(r, params, &result, err, sizeof err);
        else
            rc = wf_run_train(r, params, &result, err, sizeof err);
    }
    if (rc < 0 && err[0] == '\0')
        snprintf(err, sizeof err, "%s", mt_strerror(rc));
    wf_run_finish(r, rc, result, err);
    json_decref(result);
    json_decref(params);
    wf_release(wf, r->device);
    atomic_store(&r->finished, 1);
    return NULL;
}

/* Joins finished workers (caller holds wf->mu). */
static void wf_reap_locked(workflow_t *wf)
{
    wf_run_t **pp = &wf->runs;
    while (*pp) {
        wf_run_t *r = *pp;
        if (atomic_load(&r->finished)) {
            pthread_join(r->thread, NULL);
            *pp = r->next;
            free(r->blob);
            free(r);
        } else {
            pp = &r->next;
        }
    }
}

/* Holds the device, inserts the job row and starts its worker. */
static int wf_submit(workflow_t *wf, const char *kind, const char *device, json_t *params,
                     const uint8_t *blob, size_t blob_len, int64_t rerun_of, int64_t *job_id,
                     char *err, size_t err_len)
{
    store_device_row_t row;
    char *text = NULL;
    wf_run_t *r = NULL;
    int rc = store_device_get(wf->store, device, &row);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "no device %s has ever been seen", device);
    if (wf_hold(wf, device) < 0)
        return wf_busy_fail(err, err_len, device);
    text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    r = calloc(1, sizeof *r);
    if (text == NULL || r == NULL) {
        rc = MT_ENOMEM;
        goto out;
    }
    if (blob != NULL) {
        r->blob = malloc(blob_len ? blob_len : 1);
        if (r->blob == NULL) {
            rc = MT_ENOMEM;
            goto out;
        }
        memcpy(r->blob, blob, blob_len);
        r->blob_len = blob_len;
    }
    if (strlen(text) > WF_PARAMS_MAX_CHARS) {
        rc = wf_errf(err, err_len, MT_ETOOBIG, "job parameters too long");
        goto out;
    }
    rc = wf_job_create(wf->store, kind, device, text, rerun_of, wf_now_ms(), job_id);
    if (rc == MT_EBUSY) {
        rc = wf_busy_fail(err, err_len, device);
        goto out;
    }
    if (rc < 0) {
        wf_errf(err, err_len, rc, "cannot record the job: %s", mt_strerror(rc));
        goto out;
    }
    r->wf = wf;
    r->job_id = *job_id;
    snprintf(r->device, sizeof r->device, "%s", device);
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->params, sizeof r->params, "%s", text);
    pthread_mutex_lock(&wf->mu);
    wf_reap_locked(wf);
    if (pthread_create(&r->thread, NULL, wf_run_main, r) != 0) {
        pthread_mutex_unlock(&wf->mu);
        (void)wf_job_finish(wf->store, *job_id, "failed", NULL, "cannot start a worker thread",
                            wf_now_ms());
        rc = wf_errf(err, err_len, MT_ENOMEM, "cannot start a worker thread");
        goto out;
    }
    r->next = wf->runs;
    wf->runs = r;
    pthread_mutex_unlock(&wf->mu);
    r = NULL;
    free(text);
    return 0;
out:
    if (r != NULL)
        free(r->blob);
    free(r);
    free(text);
    wf_release(wf, device);
    return rc;
}

int wf_push(workflow_t *wf, const char *device_id, const char *model_sha256, int64_t *job_id,
            char *err, size_t err_len)
{
    wf_model_t m;
    int rc = wf_model_get(wf->store, model_sha256, &m, NULL);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "model %s is not in the database", model_sha256);
    rc = wf_check_fit(wf, device_id, &m, err, err_len);
    if (rc < 0)
        return rc;
    json_t *params = json_pack("{s:s}", "model", m.sha256);
    rc = wf_submit(wf, "push", device_id, params, NULL, 0, 0, job_id, err, err_len);
    json_decref(params);
    return rc;
}

int wf_train(workflow_t *wf, const char *device_id, const wf_train_params_t *p, int64_t *job_id,
             char *err, size_t err_len)
{
    if (p->holdout_fraction < 0.0f || p->holdout_fraction >= 1.0f || p->l2 < 0.0f ||
        p->max_epochs > 100000)
        return wf_errf(err, err_len, MT_EINVAL, "holdout_fraction must be in [0, 1), l2 >= 0, "
                       "max_epochs <= 100000");
    json_t *params = json_pack("{s:I, s:f, s:f, s:I}", "seed", (json_int_t)p->seed,
                               "holdout_fraction", (double)p->holdout_fraction, "l2",
                               (double)p->l2, "max_epochs", (json_int_t)p->max_epochs);
    int rc = wf_submit(wf, "train", device_id, params, NULL, 0, 0, job_id, err, err_len);
    json_decref(params);
    return rc;
}

int wf_flash(workflow_t *wf, const char *device_id, const uint8_t *image, size_t len,
             const flash_job_params_t *p, int64_t *job_id, char *err, size_t err_len)
{
    json_t *params = NULL;
    int rc = flash_job_check(wf->store, device_id, image, len, p, &params, err, err_len);
    if (rc < 0)
        return rc;
    rc = wf_submit(wf, "flash", device_id, params, image, len, 0, job_id, err, err_len);
    json_decref(params);
    return rc;
}

int wf_job_rerun(workflow_t *wf, int64_t job_id, int64_t *new_id, char *err, size_t err_len)
{
    wf_job_t *j = malloc(sizeof *j);
    int rc;
    if (j == NULL)
        return MT_ENOMEM;
    rc = wf_job_get(wf->store, job_id, j);
    if (rc < 0) {
        wf_errf(err, err_len, rc, "no job %lld", (long long)job_id);
        goto out;
    }
    if (strcmp(j->state, "queued") == 0 || strcmp(j->state, "running") == 0) {
        rc = wf_errf(err, err_len, MT_ESTATE, "job %lld is still %s", (long long)job_id, j->state);
        goto out;
    }
    if (strcmp(j->kind, "flash") == 0) {
        /* The daemon keeps no copy of uploaded firmware: a re-run would have nothing to write. */
        rc = wf_errf(err, err_len, MT_ESTATE, "job %lld is a flash job, whose image is not kept: "
                     "upload the image again", (long long)job_id);
        goto out;
    }
    json_t *params = json_loads(j->params, 0, NULL);
    if (params == NULL) {
        rc = wf_errf(err, err_len, MT_EIO, "job %lld's parameters are not JSON", (long long)job_id);
        goto out;
    }
    rc = wf_submit(wf, j->kind, j->device_id, params, NULL, 0, job_id, new_id, err, err_len);
    json_decref(params);
out:
    free(j);
    return rc;
}

/* ---- samples ---- */

int wf_device_input(workflow_t *wf, const char *device_id, wf_model_t *model, char *err,
                    size_t err_len)
{
    wf_settings_t set;
    store_device_row_t row;
    int rc = store_device_get(wf->store, device_id, &row);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "no device %s has ever been seen", device_id);
    rc = wf_settings_get(wf->store, device_id, &set);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "reading device settings: %s", mt_strerror(rc));
    if (set.active_model[0] == '\0')
        return wf_errf(err, err_len, MT_ESTATE, "device %s has no model yet: push one first "
                       "(samples are prepared for its input)", device_id);
    rc = wf_model_get(wf->store, set.active_model, model, NULL);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "the active model %s is not in the database",
                       set.active_model);
    return 0;
}

static prep_input_t wf_prep_input(const wf_model_t *m)
{
    prep_input_t in = {.h = m->input_h, .w = m->input_w, .c = m->input_c,
                       .scale = m->input_scale, .zero_point = m->input_zero_point};
    return in;
}

static void wf_fill_sample(wf_sample_t *x, const char *device, const char *label,
                           const char *source, const wf_model_t *m)
{
    memset(x, 0, sizeof *x);
    snprintf(x->device_id, sizeof x->device_id, "%s", device);
    snprintf(x->label, sizeof x->label, "%s", label);
    snprintf(x->source, sizeof x->source, "%s", source ? source : "upload");
    snprintf(x->model_sha256, sizeof x->model_sha256, "%s", m->sha256);
    x->input_h = m->input_h;
    x->input_w = m->input_w;
    x->input_c = m->input_c;
}

static int wf_label_check(const char *label, char *err, size_t err_len)
{
    if (label == NULL || label[0] == '\0')
        return wf_errf(err, err_len, MT_EINVAL, "a sample needs a non-empty label");
    if (strlen(label) > WF_LABEL_MAX_CHARS)
        return wf_errf(err, err_len, MT_EINVAL, "label longer than %d characters",
                       WF_LABEL_MAX_CHARS);
    for (const char *p = label; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return wf_errf(err, err_len, MT_EINVAL, "label contains control characters");
    return 0;
}

int wf_add_image(workflow_t *wf, const char *device_id, const char *label, const char *source,
                 const uint8_t *file, size_t len, wf_sample_t *out, char *err, size_t err_len)
{
    wf_model_t m;
    uint8_t *tensor = NULL;
    int rc = wf_label_check(label, err, err_len);
    if (rc == 0 && source != NULL && strlen(source) > WF_SOURCE_MAX_CHARS)
        rc = wf_errf(err, err_len, MT_EINVAL, "source name too long");
    if (rc == 0)
        rc = wf_device_input(wf, device_id, &m, err, err_len);
    if (rc < 0)
        return rc;
    prep_input_t in = wf_prep_input(&m);
    tensor = malloc((size_t)in.h * in.w * in.c);
    if (tensor == NULL)
        return MT_ENOMEM;
    rc = prep_file_tensor(file, len, &in, tensor, err, err_len);
    if (rc < 0)
        goto out;
    wf_fill_sample(out, device_id, label, source, &m);
    const uint8_t *tp = tensor;
    rc = wf_samples_add(wf->store, out, &tp, 1, wf_now_ms(), &out->id);
    if (rc < 0)
        wf_errf(err, err_len, rc, "cannot store the sample: %s", mt_strerror(rc));
out:
    free(tensor);
    return rc;
}

int wf_add_idx(workflow_t *wf, const char *device_id, const uint8_t *images, size_t images_len,
               const uint8_t *labels, size_t labels_len, uint32_t start, uint32_t count,
               uint32_t per_class, const char *names, const char *source, uint32_t index_base,
               uint32_t *n_added,
               int64_t *first_id, int64_t *last_id, char *err, size_t err_len)
{
    prep_idx_t idx;
    wf_model_t m;
    wf_sample_t *rows = NULL;
    uint8_t *tensors = NULL;
    const uint8_t **tp = NULL;
    int64_t *ids = NULL;
    uint32_t taken[256] = {0}, n = 0;
    int fashion = names != NULL && strcmp(names, "fashion-mnist") == 0;
    int rc = wf_device_input(wf, device_id, &m, err, err_len);

    *n_added = 0;
    if (rc < 0)
        return rc;
    if (names != NULL && names[0] != '\0' && !fashion)
        return wf_errf(err, err_len, MT_EINVAL, "names must be fashion-mnist or absent, not '%s'",
                       names);
    rc = prep_idx_parse(images, images_len, labels, labels_len, &idx, err, err_len);
    if (rc < 0)
        return rc;
    if (start >= idx.n) {
        rc = wf_errf(err, err_len, MT_EINVAL, "start %u is past the %u samples of the file", start,
                     idx.n);
        goto out;
    }
    uint32_t end = count == 0 || count > idx.n - start ? idx.n : start + count;
    prep_input_t in = wf_prep_input(&m);
    size_t tbytes = (size_t)in.h * in.w * in.c;
    rows = calloc(end - start, sizeof *rows);
    tp = calloc(end - start, sizeof *tp);
    ids = calloc(end - start, sizeof *ids);
    tensors = malloc((end - start) * tbytes);
    if (rows == NULL || tp == NULL || ids == NULL || tensors == NULL) {
        rc = wf_errf(err, err_len, MT_ENOMEM, "not enough memory for %u samples", end - start);
        goto out;
    }
    for (uint32_t i = start; i < end; i++) {
        uint8_t lb = idx.labels[i];
        if (per_class > 0 && taken[lb] >= per_class)
            continue;
        char label[16];
        if (fashion && prep_fashion_mnist_name(lb) != NULL)
            snprintf(label, sizeof label, "%s", prep_fashion_mnist_name(lb));
        else
            snprintf(label, sizeof label, "%u", (unsigned)lb);
        prep_image_t img = prep_idx_image(&idx, i);
        rc = prep_tensor(&img, &in, tensors + n * tbytes, err, err_len);
        if (rc < 0)
            goto out;
        char src[WF_SOURCE_MAX_CHARS + 1];
        snprintf(src, sizeof src, "%.200s#%u", source ? source : "idx", index_base + i);
        wf_fill_sample(&rows[n], device_id, label, src, &m);
        tp[n] = tensors + n * tbytes;
        taken[lb]++;
        n++;
    }
    if (n == 0) {
        rc = wf_errf(err, err_len, MT_EINVAL, "no sample selected");
        goto out;
    }
    rc = wf_samples_add(wf->store, rows, tp, n, wf_now_ms(), ids);
    if (rc < 0) {
        wf_errf(err, err_len, rc, "cannot store the samples: %s", mt_strerror(rc));
        goto out;
    }
    *n_added = n;
    *first_id = ids[0];
    *last_id = ids[n - 1];
out:
    prep_idx_free(&idx);
    free(rows);
    free(tp);
    free(ids);
    free(tensors);
    return rc;
}

/* ---- decision ---- */

/* The ratio the policy asks for: the target itself, or chosen from the board's trade-off. */
static int wf_pick_ratio(workflow_t *wf, const char *device, const wf_settings_t *set,
                         float *ratio, char *err, size_t err_len)
{
    if (strcmp(set->policy, "ratio") == 0) {
        *ratio = (float)set->target;
        return 0;
    }
    microt_Tradeoff t;
    int rc = wf_tradeoff(wf, device, &t, err, err_len);
    if (rc < 0)
        return rc;
    int best = -1;
    for (pb_size_t i = 0; i < t.points_count; i++) {
        const microt_TradeoffPoint *p = &t.points[i];
        if (strcmp(set->policy, "energy_budget") == 0) {
            /* The most accurate ratio within the budget (ties: the cheaper one). */
            if (p->energy_uj <= set->target &&
                (best < 0 || p->accuracy > t.points[best].accuracy ||
                 (p->accuracy == t.points[best].accuracy && p->energy_uj < t.points[best].energy_uj)))
                best = (int)i;
        } else {
            /* The cheapest ratio keeping the accuracy floor. */
            if (p->accuracy >= set->target &&
                (best < 0 || p->energy_uj < t.points[best].energy_uj))
                best = (int)i;
        }
    }
    if (best < 0)
        return wf_errf(err, err_len, MT_ENOSPACE, "no ratio of the board's trade-off meets %s %g",
                       set->policy, set->target);
    *ratio = t.points[best].ratio;
    return 0;
}

static int wf_apply_decision(workflow_t *wf, const char *device, wf_settings_t *set,
                             microt_RatioState *state, char *err, size_t err_len)
{
    microt_Message req, reply;
    float ratio = 0.0f;
    int rc = wf_pick_ratio(wf, device, set, &ratio, err, err_len);
    if (rc < 0)
        return rc;
    memset(&req, 0, sizeof req);
    req.which_body = microt_Message_set_ratio_tag;
    req.body.set_ratio.ratio = ratio;
    rc = wf_rpc(wf, device, &req, microt_Message_ratio_state_tag, &reply, 0, err, err_len);
    if (rc < 0)
        return rc;
    *state = reply.body.ratio_state;
    set->has_ratio = true;
    set->ratio = state->ratio;
    set->threshold = state->threshold;
    return wf_settings_put(wf->store, set, wf_now_ms());
}

int wf_set_decision(workflow_t *wf, const char *device_id, const char *policy, double target,
                    wf_settings_t *out, int *applied, char *err, size_t err_len)
{
    store_device_row_t row;
    microt_RatioState rs;
    int rc;
    *applied = 0;
    if (policy == NULL || (strcmp(policy, "ratio") != 0 && strcmp(policy, "energy_budget") != 0 &&
                           strcmp(policy, "accuracy_floor") != 0))
        return wf_errf(err, err_len, MT_EINVAL, "policy must be ratio, energy_budget or "
                       "accuracy_floor");
    if ((strcmp(policy, "ratio") == 0 && !(target >= 0.0 && target <= 1.0)) ||
        (strcmp(policy, "accuracy_floor") == 0 && !(target > 0.0 && target <= 1.0)) ||
        (strcmp(policy, "energy_budget") == 0 && !(target > 0.0 && target < 1e12)))
        return wf_errf(err, err_len, MT_EINVAL, "target out of range: a ratio in [0, 1], an "
                       "accuracy in (0, 1], an energy budget in uJ > 0");
    rc = store_device_get(wf->store, device_id, &row);
    if (rc < 0)
        return wf_errf(err, err_len, rc, "no device %s has ever been seen", device_id);
    rc = wf_settings_get(wf->store, device_id, out);
    if (rc < 0)
        return rc;
    snprintf(out->policy, sizeof out->policy, "%s", policy);
    out->target = target;
    fleet_device_t live;
    if (out->classes[0] != '\0' && fleet_get(wf->fleet, device_id, &live) == 0) {
        if (wf_hold(wf, device_id) < 0)
            return wf_busy_fail(err, err_len, device_id);
        rc = wf_apply_decision(wf, device_id, out, &rs, err, err_len);
        wf_release(wf, device_id);
        if (rc < 0)
            return rc;
        *applied = 1;
        return 0;
    }
    return wf_settings_put(wf->store, out, wf_now_ms());
}

int wf_tradeoff(workflow_t *wf, const char *device_id, microt_Tradeoff *out, char *err,
                size_t err_len)
{
    microt_Message req, reply;
    memset(&req, 0, sizeof req);
    req.which_body = microt_Message_get_tradeoff_tag;
    int rc = wf_rpc(wf, device_id, &req, microt_Message_tradeoff_tag, &reply, 0, err, err_len);
    if (rc == 0)
        *out = reply.body.tradeoff;
    return rc;
}

int wf_model_status(workflow_t *wf, const char *device_id, microt_ModelStatus *out, char *err,
                    size_t err_len)
{
    microt_Message req, reply;
    memset(&req, 0, sizeof req);
    req.which_body = microt_Message_get_model_tag;
    int rc = wf_rpc(wf, device_id, &req, microt_Message_model_status_tag, &reply, 0, err, err_len);
    if (rc == 0)
        *out = reply.body.model_status;
    return rc;
}

/* ---- classification ---- */

int wf_classify_tensor(workflow_t *wf, const char *device_id, const uint8_t *tensor, size_t len,
                       const char *expected, const char *source, wf_inference_t *out, char *err,
                       size_t err_len)
{
    wf_settings_t set;
    microt_Message end;
    int rc;
    if (expected != NULL && expected[0] != '\0' && (rc = wf_label_check(expected, err, err_len)) < 0)
        return rc;
    rc = wf_settings_get(wf->store, device_id, &set);
    if (rc < 0)
        return rc;
    if (wf_hold(wf, device_id) < 0)
        return wf_busy_fail(err, err_len, device_id);
    rc = wf_transfer(wf, device_id, microt_TransferKind_TRANSFER_IMAGE, tensor, (uint32_t)len, -1,
                     microt_Message_inference_tag, WF_END_SAMPLE_TIMEOUT_MS, &end, NULL, NULL,
                     NULL, err, err_len);
    wf_release(wf, device_id);
    if (rc < 0)
        return rc;
    const microt_Inference *inf = &end.body.inference;
    memset(out, 0, sizeof *out);
    snprintf(out->device_id, sizeof out->device_id, "%s", device_id);
    out->at_ms = wf_now_ms();
    snprintf(out->model_sha256, sizeof out->model_sha256, "%s", set.active_model);
    out->cls = inf->cls;
    out->confidence = inf->confidence;
    out->stage = inf->stage == 1 ? 1 : 2;
    out->cycles = inf->cycles;
    out->energy_nj = inf->energy_nj;
    snprintf(out->expected, sizeof out->expected, "%s", expected ? expected : "");
    snprintf(out->source, sizeof out->source, "%s", source ? source : "upload");
    json_t *classes = json_loads(set.classes, 0, NULL);
    const char *name = json_string_value(json_array_get(classes, (size_t)(inf->cls < 0 ? 0 : inf->cls)));
    if (name != NULL && inf->cls >= 0)
        snprintf(out->label, sizeof out->label, "%s", name);
    json_decref(classes);
    rc = wf_inference_add(wf->store, out, &out->id);
    if (rc < 0)
        wf_errf(err, err_len, rc, "cannot record the inference: %s", mt_strerror(rc));
    return rc;
}

int wf_classify(workflow_t *wf, const char *device_id, const uint8_t *file, size_t len,
                const char *expected, const char *source, wf_inference_t *out, char *err,
                size_t err_len)
{
    wf_model_t m;
    int rc = wf_device_input(wf, device_id, &m, err, err_len);
    if (rc < 0)
        return rc;
    prep_input_t in = wf_prep_input(&m);
    size_t n = (size_t)in.h * in.w * in.c;
    uint8_t *tensor = malloc(n);
    if (tensor == NULL)
        return MT_ENOMEM;
    rc = prep_file_tensor(file, len, &in, tensor, err, err_len);
    if (rc == 0)
        rc = wf_classify_tensor(wf, device_id, tensor, n, expected, source, out, err, err_len);
    free(tensor);
    return rc;
}

/* ---- captured frames (board events) ---- */

/* Stores a completed capture as a sample: a raw uint8 RGB frame of width x height, prepared
 * for the active model like an uploaded image. */
static void wf_capture_store(workflow_t *wf, wf_capture_t *c)
{
    char err[256] = "";
    wf_model_t m;
    wf_settings_t set;
    wf_sample_t x;
    uint8_t *tensor = NULL;
    int rc = wf_device_input(wf, c->device, &m, err, sizeof err);
    if (rc == 0 && (c->width == 0 || c->height == 0 ||
                    (uint64_t)c->width * c->height * 3u != c->total))
        rc = wf_errf(err, sizeof err, MT_EPROTO, "frame of %u bytes is not %ux%u RGB", c->total,
                     c->width, c->height);
    if (rc == 0)
        rc = wf_settings_get(wf->store, c->device, &set);
    if (rc < 0)
        goto out;
    char label[WF_LABEL_MAX_CHARS + 1] = "unlabeled";
    json_t *classes = json_loads(set.classes, 0, NULL);
    const char *name = c->label >= 0 ? json_string_value(json_array_get(classes, (size_t)c->label)) : NULL;
    if (name != NULL)
        snprintf(label, sizeof label, "%s", name);
    else if (c->label >= 0)
        snprintf(label, sizeof label, "class-%d", (int)c->label);
    json_decref(classes);
    prep_input_t in = wf_prep_input(&m);
    prep_image_t img = {.pixels = c->data, .w = c->width, .h = c->height, .c = 3};
    tensor = malloc((size_t)in.h * in.w * in.c);
    if (tensor == NULL) {
        rc = MT_ENOMEM;
        goto out;
    }
    rc = prep_tensor(&img, &in, tensor, err, sizeof err);
    if (rc < 0)
        goto out;
    wf_fill_sample(&x, c->device, label, "capture", &m);
    const uint8_t *tp = tensor;
    rc = wf_samples_add(wf->store, &x, &tp, 1, wf_now_ms(), &x.id);
    if (rc == 0)
        fprintf(stderr, "microtd: device %s captured sample %lld (%s)\n", c->device,
                (long long)x.id, label);
out:
    if (rc < 0)
        fprintf(stderr, "microtd: device %s: capture dropped: %s\n", c->device,
                err[0] ? err : mt_strerror(rc));
    free(tensor);
}

static void wf_on_event(void *ctx, const char *device_id, const microt_Message *msg)
{
    workflow_t *wf = ctx;
    if (msg->which_body != microt_Message_captured_tag)
        return;
    const microt_Captured *cap = &msg->body.captured;
    pthread_mutex_lock(&wf->cap_mu);
    wf_capture_t *c = NULL, *free_slot = NULL;
    for (unsigned i = 0; i < WF_MAX_CAPTURES; i++) {
        if (wf->captures[i].device[0] && strcmp(wf->captures[i].device, device_id) == 0)
            c = &wf->captures[i];
        else if (!wf->captures[i].device[0] && free_slot == NULL)
            free_slot = &wf->captures[i];
    }
    if (cap->offset == 0) {
        /* A new frame starts (a half-received earlier one is dropped). */
        if (c == NULL)
            c = free_slot;
        if (c == NULL || cap->total_bytes == 0 || cap->total_bytes > WF_CAPTURE_MAX_BYTES)
            goto out;
        free(c->data);
        memset(c, 0, sizeof *c);
        c->data = malloc(cap->total_bytes);
        if (c->data == NULL)
            goto out;
        snprintf(c->device, sizeof c->device, "%s", device_id);
        c->total = cap->total_bytes;
        c->label = cap->label;
        c->width = cap->width;
        c->height = cap->height;
    }
    if (c == NULL || c->data == NULL)
        goto out;
    if (cap->offset != c->have || cap->total_bytes != c->total ||
        cap->data.size > c->total - c->have) {
        free(c->data);
        memset(c, 0, sizeof *c); /* out of order: the link delivers in order, so this is a reset */
        goto out;
    }
    memcpy(c->data + c->have, cap->data.bytes, cap->data.size);
    c->have += cap->data.size;
    if (c->have == c->total) {
        wf_capture_store(wf, c);
        free(c->data);
        memset(c, 0, sizeof *c);
    }
out:
    pthread_mutex_unlock(&wf->cap_mu);
}

int wf_capture(workflow_t *wf, const char *device_id, const char *label, char *err,
               size_t err_len)
{
    wf_settings_t set;
    microt_Message req, reply;
    int32_t cls = -1;
    int rc = wf_settings_get(wf->store, device_id, &set);
    if (rc < 0)
        return rc;
    if (label != NULL && label[0] != '\0') {
        /* The board carries a class index: the label must be one of the trained classes. */
        json_t *classes = json_loads(set.classes, 0, NULL);
        size_t i;
        json_t *v;
        json_array_foreach(classes, i, v)
            if (strcmp(json_string_value(v), label) == 0)
                cls = (int32_t)i;
        json_decref(classes);
        if (cls < 0)
            return wf_errf(err, err_len, MT_EINVAL, "label '%s' is not one of the device's "
                           "trained classes; capture unlabeled and relabel the sample", label);
    }
    memset(&req, 0, sizeof req);
    req.which_body = microt_Message_capture_tag;
    req.body.capture.label = cls;
    if (wf_hold(wf, device_id) < 0)
        return wf_busy_fail(err, err_len, device_id);
    /* The reply is the first frame of the stream; the event handler assembles all of them. */
    rc = wf_rpc(wf, device_id, &req, microt_Message_captured_tag, &reply, 10000, err, err_len);
    wf_release(wf, device_id);
    return rc;
}

/* ---- the counter collector ---- */

static void wf_collect_once(workflow_t *wf)
{
    store_device_row_t *rows = calloc(STORE_PAGE_MAX, sizeof *rows);
    uint32_t n = 0;
    if (rows == NULL)
        return;
    if (store_device_list(wf->store, 0, rows, STORE_PAGE_MAX, &n, NULL, NULL) < 0)
        n = 0;
    for (uint32_t i = 0; i < n && !atomic_load(&wf->stop); i++) {
        const char *id = rows[i].dev.id;
        fleet_device_t live;
        microt_Message req, reply;
        /* A busy board is left alone: a request between a job's chunks would stall its window. */
        if (fleet_get(wf->fleet, id, &live) < 0 || wf_is_busy(wf, id))
            continue;
        memset(&req, 0, sizeof req);
        req.which_body = microt_Message_get_stats_tag;
        if (fleet_call(wf->fleet, id, &req, &reply, 2000) < 0 ||
            reply.which_body != microt_Message_stats_tag)
            continue;
        const microt_Stats *s = &reply.body.stats;
        wf_stats_row_t r = {
            .uptime_ms = s->uptime_ms, .inferences = s->inferences,
            .stage1_exits = s->stage1_exits, .cycles_total = s->cycles_total,
            .energy_nj = s->energy_nj, .frames_rx = s->frames_rx, .frames_tx = s->frames_tx,
            .crc_errors = s->crc_errors, .retransmits = s->retransmits,
        };
        (void)wf_stats_add(wf->store, id, wf_now_ms(), &r);
    }
    free(rows);
}

static void *wf_collector_main(void *arg)
{
    workflow_t *wf = arg;
    while (!atomic_load(&wf->stop)) {
        wf_sleep_ms(wf, wf->cfg.stats_interval_ms);
        if (!atomic_load(&wf->stop))
            wf_collect_once(wf);
    }
    return NULL;
}

/* ---- life ---- */

int workflow_start(workflow_t **out, store_t *store, fleet_t *fleet, const workflow_config_t *cfg)
{
    workflow_t *wf = calloc(1, sizeof *wf);
    unsigned n = 0;
    int rc;
    *out = NULL;
    if (wf == NULL)
        return MT_ENOMEM;
    wf->store = store;
    wf->fleet = fleet;
    if (cfg)
        wf->cfg = *cfg;
    if (wf->cfg.stats_interval_ms == 0)
        wf->cfg.stats_interval_ms = 5000;
    if (wf->cfg.push_stall_ms == 0)
        wf->cfg.push_stall_ms = 60000;
    pthread_mutex_init(&wf->mu, NULL);
    pthread_mutex_init(&wf->cap_mu, NULL);
    rc = wf_jobs_interrupt_all(store, wf_now_ms(), &n);
    if (rc < 0)
        goto fail;
    if (n > 0)
        fprintf(stderr, "microtd: %u job(s) of the previous run marked interrupted\n", n);
    if (fleet != NULL) {
        fleet_set_event_handler(fleet, wf_on_event, wf);
        if (pthread_create(&wf->collector, NULL, wf_collector_main, wf) != 0) {
            fleet_set_event_handler(fleet, NULL, NULL);
            rc = MT_ENOMEM;
            goto fail;
        }
        wf->collector_started = 1;
    }
    *out = wf;
    return 0;
fail:
    pthread_mutex_destroy(&wf->mu);
    pthread_mutex_destroy(&wf->cap_mu);
    free(wf);
    return rc;
}

int workflow_stop(workflow_t *wf)
{
    if (wf == NULL)
        return 0;
    atomic_store(&wf->stop, 1);
    if (wf->collector_started)
        pthread_join(wf->collector, NULL);
    if (wf->fleet != NULL)
        fleet_set_event_handler(wf->fleet, NULL, NULL);
    /* Jobs see the stop flag between chunks and samples; one waiting on a board's answer (a
     * training runs for minutes on a real board) is given WF_STOP_WAIT_MS, then recorded as
     * interrupted and left to the process exit. */
    int64_t deadline = wf_mono_ms() + WF_STOP_WAIT_MS;
    int stuck = 0;
    pthread_mutex_lock(&wf->mu);
    for (wf_run_t *r = wf->runs; r != NULL; r = r->next) {
        while (!atomic_load(&r->finished) && wf_mono_ms() < deadline) {
            pthread_mutex_unlock(&wf->mu);
            usleep(20000);
            pthread_mutex_lock(&wf->mu);
        }
        if (!atomic_load(&r->finished)) {
            stuck++;
            (void)wf_job_finish(wf->store, r->job_id, "interrupted", NULL,
                                "the daemon stopped while the board was working; re-run it",
                                wf_now_ms());
        }
    }
    if (stuck > 0) {
        pthread_mutex_unlock(&wf->mu);
        fprintf(stderr, "microtd: %d job(s) still waiting on a board, recorded as interrupted\n",
                stuck);
        return MT_EBUSY;
    }
    wf_reap_locked(wf);
    pthread_mutex_unlock(&wf->mu);
    for (unsigned i = 0; i < WF_MAX_CAPTURES; i++)
        free(wf->captures[i].data);
    pthread_mutex_destroy(&wf->mu);
    pthread_mutex_destroy(&wf->cap_mu);
    free(wf);
    return 0;
}
