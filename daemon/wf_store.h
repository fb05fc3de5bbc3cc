/*
 * wf_store.h — the personalization workflow's records in microtd's SQLite database
 * (db/migrations/0003_workflow.sql): imported models, jobs, labeled samples, per-device decision
 * settings, recorded inferences and the boards' counter time series.
 *
 * Same conventions as store.h: 0 or a negative mt_err_t, safe from any thread (the store's one
 * connection and lock), every write one transaction, bound parameters only, times in epoch ms
 * given by the caller. Device ids are canonical (store_id_normalize) before they get here.
 */
#ifndef MICROT_WF_STORE_H
#define MICROT_WF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define WF_SHA_CHARS 65          /* 64 hex digits + NUL */
#define WF_LABEL_MAX_CHARS 64    /* a sample label, without NUL */
#define WF_SOURCE_MAX_CHARS 255
#define WF_PARAMS_MAX_CHARS 1024 /* a job's parameters as JSON */
#define WF_RESULT_MAX_CHARS 8192 /* a job's result as JSON */
#define WF_ERROR_MAX_CHARS 511
#define WF_CLASSES_MAX_CHARS 4096
#define WF_MAX_CLASSES 64        /* distinct labels one device may train on */

typedef struct {
    char sha256[WF_SHA_CHARS];        /* of the device image */
    char source_sha256[WF_SHA_CHARS]; /* of the .tflite */
    char source_name[256];
    char cut[128];
    uint32_t image_bytes, arena_bytes, arena_stage1_bytes, weight_bytes;
    uint64_t macs_stage1, macs_stage2;
    uint32_t input_h, input_w, input_c;
    float input_scale;
    int32_t input_zero_point;
    uint32_t part_dim, full_dim;
    int64_t created_ms;
} wf_model_t;

typedef struct {
    int64_t id;
    char kind[8];                     /* "push" | "train" | "flash" */
    char device_id[STORE_ID_CHARS];
    char state[16];                   /* queued | running | done | failed | interrupted */
    char params[WF_PARAMS_MAX_CHARS + 1];
    uint64_t progress_done, progress_total;
    char phase[32];
    char result[WF_RESULT_MAX_CHARS + 1]; /* "" until done */
    char error[WF_ERROR_MAX_CHARS + 1];
    int64_t rerun_of;                 /* 0 = none */
    int64_t created_ms, started_ms, finished_ms; /* 0 = not yet */
} wf_job_t;

typedef struct {
    int64_t id;
    char device_id[STORE_ID_CHARS];
    char label[WF_LABEL_MAX_CHARS + 1];
    char source[WF_SOURCE_MAX_CHARS + 1];
    char model_sha256[WF_SHA_CHARS];
    uint32_t input_h, input_w, input_c;
    int64_t created_ms;
} wf_sample_t;

typedef struct {
    char device_id[STORE_ID_CHARS];
    char active_model[WF_SHA_CHARS];  /* "" = none pushed through this daemon */
    char policy[16];                  /* ratio | energy_budget | accuracy_floor */
    double target;
    bool has_ratio;                   /* ratio/threshold are set once the board confirmed one */
    float ratio, threshold;
    char classes[WF_CLASSES_MAX_CHARS + 1]; /* JSON array of labels, "" = never trained */
    int64_t trained_job;
    int64_t updated_ms;
} wf_settings_t;

typedef struct {
    int64_t id;
    char device_id[STORE_ID_CHARS];
    int64_t at_ms;
    char model_sha256[WF_SHA_CHARS];
    int32_t cls;
    char label[WF_LABEL_MAX_CHARS + 1];
    float confidence;
    uint32_t stage;
    uint64_t cycles, energy_nj;
    char expected[WF_LABEL_MAX_CHARS + 1]; /* "" = not given */
    char source[WF_SOURCE_MAX_CHARS + 1];
} wf_inference_t;

typedef struct {
    int64_t seq, at_ms;
    uint64_t uptime_ms, inferences, stage1_exits, cycles_total, energy_nj;
    uint64_t frames_rx, frames_tx, crc_errors, retransmits;
} wf_stats_row_t;

/* ---- models ---- */
/* Inserts a model with its image (image_bytes of it); an existing row with the same sha256 is kept
 * as it is (same image, same content). */
int wf_model_put(store_t *s, const wf_model_t *m, const uint8_t *image, int64_t now_ms);
/* One model; *image (may be NULL) gets a malloc'ed copy of the device image. MT_ENOTFOUND. */
int wf_model_get(store_t *s, const char *sha256, wf_model_t *out, uint8_t **image);
/* Models, newest first, at most max_rows (<= STORE_PAGE_MAX). */
int wf_model_list(store_t *s, wf_model_t *rows, uint32_t max_rows, uint32_t *n_rows);

/* ---- jobs ---- */
/* A new queued job; MT_EBUSY if the device already has a queued or running one (checked in the
 * same transaction), MT_ENOTFOUND for a device never seen. */
int wf_job_create(store_t *s, const char *kind, const char *device_id, const char *params_json,
                  int64_t rerun_of, int64_t now_ms, int64_t *id);
int wf_job_start(store_t *s, int64_t id, int64_t now_ms);
int wf_job_progress(store_t *s, int64_t id, const char *phase, uint64_t done, uint64_t total);
/* Ends a job: state done/failed/interrupted, result JSON (may be NULL), error (may be NULL). */
int wf_job_finish(store_t *s, int64_t id, const char *state, const char *result_json,
                  const char *error, int64_t now_ms);
int wf_job_get(store_t *s, int64_t id, wf_job_t *out);
/* Jobs newest first with id < before_id (0 = from the newest), of one device (NULL = all). */
int wf_job_list(store_t *s, const char *device_id, int64_t before_id, wf_job_t *rows,
                uint32_t max_rows, uint32_t *n_rows);
/* Every queued or running job becomes interrupted (daemon start-up). */
int wf_jobs_interrupt_all(store_t *s, int64_t now_ms, unsigned *n_changed);

/* ---- samples ---- */
/* Stores n samples in one transaction (all or nothing): rows[i] with tensors[i] of
 * input_h*input_w*input_c bytes. ids[i] (may be NULL) gets each new id. MT_EINVAL for an empty or
 * overlong label, MT_ENOTFOUND for an unknown device or model. */
int wf_samples_add(store_t *s, const wf_sample_t *rows, const uint8_t *const *tensors, size_t n,
                   int64_t now_ms, int64_t *ids);
/* A device's samples with id > after_id in id order; label (may be NULL) filters; *total gets the
 * count matching (device, label). */
int wf_sample_list(store_t *s, const char *device_id, const char *label, int64_t after_id,
                   wf_sample_t *rows, uint32_t max_rows, uint32_t *n_rows, uint32_t *total);
/* One sample and (tensor != NULL, cap bytes) its tensor. */
int wf_sample_get(store_t *s, const char *device_id, int64_t id, wf_sample_t *out,
                  uint8_t *tensor, size_t cap);
int wf_sample_relabel(store_t *s, const char *device_id, int64_t id, const char *label);
int wf_sample_delete(store_t *s, const char *device_id, int64_t id);
/* The next sample of (device, model) after after_id with its tensor; MT_ENOTFOUND at the end. */
int wf_sample_next(store_t *s, const char *device_id, const char *model_sha256, int64_t after_id,
                   wf_sample_t *out, uint8_t *tensor, size_t cap);
/* Distinct labels of (device, model) in sorted order with their counts. */
int wf_sample_labels(store_t *s, const char *device_id, const char *model_sha256,
                     char labels[][WF_LABEL_MAX_CHARS + 1], uint32_t *counts, uint32_t max,
                     uint32_t *n);

/* ---- settings ---- */
/* The device's settings; defaults (policy ratio, target 0.5, nothing active) when never set. */
int wf_settings_get(store_t *s, const char *device_id, wf_settings_t *out);
int wf_settings_put(store_t *s, const wf_settings_t *in, int64_t now_ms);

/* ---- inferences and counters ---- */
int wf_inference_add(store_t *s, const wf_inference_t *in, int64_t *id);
/* Newest first, id < before_id (0 = newest). */
int wf_inference_list(store_t *s, const char *device_id, int64_t before_id, wf_inference_t *rows,
                      uint32_t max_rows, uint32_t *n_rows);
int wf_stats_add(store_t *s, const char *device_id, int64_t at_ms, const wf_stats_row_t *row);
/* Oldest first, at_ms >= since_ms and seq > after_seq. */
int wf_stats_list(store_t *s, const char *device_id, int64_t since_ms, int64_t after_seq,
                  wf_stats_row_t *rows, uint32_t max_rows, uint32_t *n_rows);

/* Lower-case hex of n bytes into out (2n+1 chars). */
void wf_hex(const uint8_t *bytes, size_t n, char *out);

#endif /* MICROT_WF_STORE_H */
