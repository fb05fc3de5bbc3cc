/*
 * http_wf.h — the REST routes of the personalization workflow (models, push, jobs, samples,
 * training, decision, classification, counters); handlers in http_wf.c, rows spliced into
 * http_api.c's route table by HTTP_WF_ROUTES. docs/api.md describes each.
 */
#ifndef MICROT_HTTP_WF_H
#define MICROT_HTTP_WF_H

#include "http_api_int.h"

json_t *http_wf_model_import(http_req_t *rq, unsigned *status);
json_t *http_wf_models(http_req_t *rq, unsigned *status);
json_t *http_wf_model(http_req_t *rq, unsigned *status);
json_t *http_wf_device_model_upload(http_req_t *rq, unsigned *status);
json_t *http_wf_device_model_push(http_req_t *rq, unsigned *status);
json_t *http_wf_device_model_get(http_req_t *rq, unsigned *status);
json_t *http_wf_device_flash(http_req_t *rq, unsigned *status);
json_t *http_wf_jobs(http_req_t *rq, unsigned *status);
json_t *http_wf_job(http_req_t *rq, unsigned *status);
json_t *http_wf_job_rerun(http_req_t *rq, unsigned *status);
json_t *http_wf_sample_add(http_req_t *rq, unsigned *status);
json_t *http_wf_sample_idx(http_req_t *rq, unsigned *status);
json_t *http_wf_samples(http_req_t *rq, unsigned *status);
json_t *http_wf_sample_relabel(http_req_t *rq, unsigned *status);
json_t *http_wf_sample_delete(http_req_t *rq, unsigned *status);
json_t *http_wf_train(http_req_t *rq, unsigned *status);
json_t *http_wf_decision_get(http_req_t *rq, unsigned *status);
json_t *http_wf_decision_put(http_req_t *rq, unsigned *status);
json_t *http_wf_tradeoff(http_req_t *rq, unsigned *status);
json_t *http_wf_classify(http_req_t *rq, unsigned *status);
json_t *http_wf_capture(http_req_t *rq, unsigned *status);
json_t *http_wf_inferences(http_req_t *rq, unsigned *status);
json_t *http_wf_stats(http_req_t *rq, unsigned *status);

/* method, pattern, handler, needs the token, raw body */
#define HTTP_WF_ROUTES                                                                       \
    {"POST", "/api/models", http_wf_model_import, true, true},                              \
    {"GET", "/api/models", http_wf_models, false, false},                                   \
    {"GET", "/api/models/{sha}", http_wf_model, false, false},                              \
    {"POST", "/api/devices/{id}/model", http_wf_device_model_upload, true, true},           \
    {"GET", "/api/devices/{id}/model", http_wf_device_model_get, false, false},             \
    {"POST", "/api/devices/{id}/model/push", http_wf_device_model_push, true, false},       \
    {"POST", "/api/devices/{id}/flash", http_wf_device_flash, true, true},                  \
    {"GET", "/api/jobs", http_wf_jobs, false, false},                                       \
    {"GET", "/api/jobs/{job}", http_wf_job, false, false},                                  \
    {"POST", "/api/jobs/{job}/rerun", http_wf_job_rerun, true, false},                      \
    {"POST", "/api/devices/{id}/samples", http_wf_sample_add, true, true},                  \
    {"GET", "/api/devices/{id}/samples", http_wf_samples, false, false},                    \
    {"POST", "/api/devices/{id}/samples/idx", http_wf_sample_idx, true, true},              \
    {"PATCH", "/api/devices/{id}/samples/{sample}", http_wf_sample_relabel, true, false},   \
    {"DELETE", "/api/devices/{id}/samples/{sample}", http_wf_sample_delete, true, false},   \
    {"POST", "/api/devices/{id}/train", http_wf_train, true, false},                        \
    {"GET", "/api/devices/{id}/decision", http_wf_decision_get, false, false},              \
    {"PUT", "/api/devices/{id}/decision", http_wf_decision_put, true, false},               \
    {"GET", "/api/devices/{id}/tradeoff", http_wf_tradeoff, false, false},                  \
    {"POST", "/api/devices/{id}/classify", http_wf_classify, true, true},                   \
    {"POST", "/api/devices/{id}/capture", http_wf_capture, true, false},                    \
    {"GET", "/api/devices/{id}/inferences", http_wf_inferences, false, false},              \
    {"GET", "/api/devices/{id}/stats", http_wf_stats, false, false},

#endif /* MICROT_HTTP_WF_H */
