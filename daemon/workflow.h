/*
 * workflow.h — the personalization loop on top of the fleet and the store: model import and
 * push, labeled samples, training, the stage-decision policy, classification, captured samples
 * and the collector of the boards' counters.
 *
 * Long work runs as jobs (rows of the jobs table, wf_store.h), one worker thread per running job:
 * one job at a time per board (MT_EBUSY otherwise), any number of boards in parallel. Short
 * board operations (classify, set the decision) also hold the board for their duration, so they
 * never interleave with a job's transfers. At start every job a previous daemon left queued or
 * running is marked interrupted; wf_job_rerun starts a new job with the same parameters, and a
 * push resumes from the offset the board reports (its flash keeps what it received).
 *
 * Every function returns 0 or a negative mt_err_t, with one readable sentence in err.
 */
#ifndef MICROT_WORKFLOW_H
#define MICROT_WORKFLOW_H

#include <stddef.h>
#include <stdint.h>

#include "flash_job.h"
#include "fleet.h"
#include "store.h"
#include "wf_store.h"

typedef struct workflow workflow_t;

typedef struct {
    uint32_t stats_interval_ms;     /* collector period; 0 = 5000 */
    uint32_t push_stall_ms;         /* a push fails after this long without progress; 0 = 60000 */
} workflow_config_t;

typedef struct {
    uint32_t seed;
    float holdout_fraction;         /* 0 = the board's default */
    float l2;                       /* 0 = the board's default */
    uint32_t max_epochs;            /* 0 = the board's default */
} wf_train_params_t;

int workflow_start(workflow_t **out, store_t *store, fleet_t *fleet, const workflow_config_t *cfg);
/* Stops the collector, asks running jobs to stop (they end 'interrupted') and joins them.
 * MT_EBUSY if a job still waits on a board after 5 s: it is recorded as interrupted and wf is
 * left allocated (its thread still uses it and the fleet): the caller must then exit the process
 * without stopping the fleet. */
int workflow_stop(workflow_t *wf);

/* ---- models ---- */
/* Imports a .tflite (cut: tensor or block name, NULL/"" = the importer's default) and stores it.
 * MT_EINVAL for a model the importer refuses (err says why). */
int wf_import(workflow_t *wf, const uint8_t *tflite, size_t len, const char *source_name,
              const char *cut, wf_model_t *out, char *err, size_t err_len);
/* Checks a stored model against an online board's flash slot and arena (MT_ENOSPACE + why). */
int wf_check_fit(workflow_t *wf, const char *device_id, const wf_model_t *m, char *err,
                 size_t err_len);
/* Starts a push job of a stored model to a device (fit checked first). */
int wf_push(workflow_t *wf, const char *device_id, const char *model_sha256, int64_t *job_id,
            char *err, size_t err_len);

/* ---- training ---- */
int wf_train(workflow_t *wf, const char *device_id, const wf_train_params_t *p, int64_t *job_id,
             char *err, size_t err_len);

/* ---- firmware ---- */
/* Checks an uploaded image (flash_job_check: size, format, the device's part, vector table)
 * and starts a flash job (kind "flash") with it; nothing touches the board before the check
 * passed. MT_EBUSY while the device has another job. The image is kept in memory for the job
 * only, so a flash job cannot be re-run (upload again). */
int wf_flash(workflow_t *wf, const char *device_id, const uint8_t *image, size_t len,
             const flash_job_params_t *p, int64_t *job_id, char *err, size_t err_len);

/* A new job with the parameters of job_id (any state but queued/running). */
int wf_job_rerun(workflow_t *wf, int64_t job_id, int64_t *new_id, char *err, size_t err_len);

/* ---- samples ---- */
/* The geometry of samples for a device: its active model's input. MT_ESTATE when no model. */
int wf_device_input(workflow_t *wf, const char *device_id, wf_model_t *model, char *err,
                    size_t err_len);
/* Decodes one image file and stores it as a sample (one transaction). */
int wf_add_image(workflow_t *wf, const char *device_id, const char *label, const char *source,
                 const uint8_t *file, size_t len, wf_sample_t *out, char *err, size_t err_len);
/* An IDX pair in memory: samples start..start+count-1 (count 0 = all), per_class > 0 keeps at
 * most that many of each label; names = "fashion-mnist" names the classes, else "0".."9".
 * Each sample's source is "SOURCE#N", N = index_base + its index in this pair (a client that
 * sends a slice of a bigger file passes the slice's start, so N is the index in that file).
 * All stored in one transaction; *n_added and the id range returned. */
int wf_add_idx(workflow_t *wf, const char *device_id, const uint8_t *images, size_t images_len,
               const uint8_t *labels, size_t labels_len, uint32_t start, uint32_t count,
               uint32_t per_class, const char *names, const char *source, uint32_t index_base,
               uint32_t *n_added,
               int64_t *first_id, int64_t *last_id, char *err, size_t err_len);

/* ---- decision and inference ---- */
/* Sets the policy ("ratio" | "energy_budget" | "accuracy_floor") and its target; applied at once
 * when the board is online and trained (*applied = 1), else at the end of the next training. */
int wf_set_decision(workflow_t *wf, const char *device_id, const char *policy, double target,
                    wf_settings_t *out, int *applied, char *err, size_t err_len);
/* The board's accuracy/energy trade-off over ratios. */
int wf_tradeoff(workflow_t *wf, const char *device_id, microt_Tradeoff *out, char *err,
                size_t err_len);
/* Classifies an image file on a device and records it (expected may be NULL). */
int wf_classify(workflow_t *wf, const char *device_id, const uint8_t *file, size_t len,
                const char *expected, const char *source, wf_inference_t *out, char *err,
                size_t err_len);
/* Classifies a stored input tensor (already prepared for the active model). */
int wf_classify_tensor(workflow_t *wf, const char *device_id, const uint8_t *tensor, size_t len,
                       const char *expected, const char *source, wf_inference_t *out, char *err,
                       size_t err_len);
/* Asks the board to take a camera frame (label: one of the trained classes, or NULL); the frame
 * streams back and is stored as a sample with source "capture" (and label "unlabeled" if none). */
int wf_capture(workflow_t *wf, const char *device_id, const char *label, char *err,
               size_t err_len);

/* The live ModelStatus of a board. */
int wf_model_status(workflow_t *wf, const char *device_id, microt_ModelStatus *out, char *err,
                    size_t err_len);

store_t *wf_store(workflow_t *wf);

#endif /* MICROT_WORKFLOW_H */
