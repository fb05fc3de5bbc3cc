/*
 * ctl_wf.h — microtctl's workflow commands: models and push, jobs, samples, training, the
 * decision policy, classification and the counters. Each is a client of the REST routes in
 * daemon/http_wf.c; long work (push, training) shows a progress bar on a terminal while it polls
 * its job, and every command prints the API's JSON with --json.
 */
#ifndef MICROT_CTL_WF_H
#define MICROT_CTL_WF_H

#include "ctl.h"

int ctl_wf_model_push(ctl_t *ctl, int argc, char **argv);
int ctl_wf_model_import(ctl_t *ctl, int argc, char **argv);
int ctl_wf_models(ctl_t *ctl, int argc, char **argv);
int ctl_wf_jobs(ctl_t *ctl, int argc, char **argv);
int ctl_wf_job(ctl_t *ctl, int argc, char **argv);
int ctl_wf_job_rerun(ctl_t *ctl, int argc, char **argv);
int ctl_wf_samples_add(ctl_t *ctl, int argc, char **argv);
int ctl_wf_samples_idx(ctl_t *ctl, int argc, char **argv);
int ctl_wf_samples_list(ctl_t *ctl, int argc, char **argv);
int ctl_wf_samples_relabel(ctl_t *ctl, int argc, char **argv);
int ctl_wf_samples_rm(ctl_t *ctl, int argc, char **argv);
int ctl_wf_train(ctl_t *ctl, int argc, char **argv);
int ctl_wf_decision(ctl_t *ctl, int argc, char **argv);
int ctl_wf_tradeoff(ctl_t *ctl, int argc, char **argv);
int ctl_wf_classify(ctl_t *ctl, int argc, char **argv);
int ctl_wf_capture(ctl_t *ctl, int argc, char **argv);
int ctl_wf_inferences(ctl_t *ctl, int argc, char **argv);
int ctl_wf_stats(ctl_t *ctl, int argc, char **argv);
int ctl_wf_flash(ctl_t *ctl, int argc, char **argv);

#endif /* MICROT_CTL_WF_H */
