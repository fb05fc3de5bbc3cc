/*
 * stage.h — MicroT's stage decision: when the part head is confident enough, the inference ends
 * after stage 1 (part model + part head); otherwise it resumes through the rest of the backbone
 * and the full head.
 *
 * Calibration. After training, the part head and the full head predict every held-out sample
 * (a seeded, per-class split of the cached samples, stage_split). The board keeps, per held-out
 * sample, the part head's confidence (max softmax probability) and whether each head was right,
 * sorted by confidence. That is all later decisions need: changing the ratio, the trade-off curve
 * and its inverses are recomputed from these records without retraining or re-running a model.
 *
 * Threshold from the ratio (OUR CHOICE in microt-method.md, made precise here). With n held-out
 * confidences sorted ascending c_(1) <= ... <= c_(n) and ratio r in [0, 1], let
 * k = floor(r n + 1/2) be the number of held-out samples meant to exit at stage 1. Then
 *     T(r) = +infinity   if k = 0      (no confidence reaches it: everything runs stage 2, TTL)
 *     T(r) = 0           if k = n      (every confidence reaches it: everything exits at stage 1)
 *     T(r) = c_(n-k+1)   otherwise     (the k-th largest confidence: the lower (1-r) quantile)
 * and an inference exits at stage 1 iff its confidence >= T(r). Ties at c_(n-k+1) all exit, so the
 * realised held-out exit fraction is >= k/n.
 *
 * Cost. The expected energy per inference at ratio r is E1 + (1 - exit_fraction(r)) x E2, where
 * E1 = cycles of stage 1 (part model + part head) and E2 = cycles of the resumed stage 2 (remaining
 * blocks + full head), both measured (DWT on a board, the cost model on the simulator), and the
 * energy per cycle comes from the board profile (energy.h).
 *
 * C99, no heap, no OS calls: stage_t is a fixed-size record the caller keeps (static).
 */
#ifndef MICROT_STAGE_H
#define MICROT_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "energy.h"

#define STAGE_MAX_CALIB 1024u       /* held-out samples kept for calibration */
#define STAGE_MAX_SAMPLES 8192u     /* samples stage_split can split */
#define STAGE_MAX_CLASSES 64u
#define STAGE_CURVE_POINTS 21u      /* r = 0, 0.05, ..., 1 */

typedef enum {
    STAGE_OK = 0,
    STAGE_EINVAL = -1,          /* bad argument (ratio outside [0,1], NULL, sizes) */
    STAGE_ENOSPACE = -2,        /* more held-out samples than STAGE_MAX_CALIB */
    STAGE_ESTATE = -3,          /* not calibrated yet */
    STAGE_EUNREACHABLE = -4,    /* no ratio meets the asked budget or accuracy */
} stage_status_t;

typedef struct {
    float confidence;           /* part head's max softmax probability */
    uint8_t part_correct;       /* part head's class == label */
    uint8_t full_correct;       /* full head's class == label */
} stage_record_t;

typedef struct {
    uint32_t count;                             /* held-out records */
    stage_record_t records[STAGE_MAX_CALIB];    /* sorted by confidence, ascending */
    float ratio;                                /* current r */
    float threshold;                            /* current T(r) */
    uint64_t stage1_cycles;                     /* part model + part head, per inference */
    uint64_t stage2_cycles;                     /* resumed rest of the model + full head */
} stage_t;

typedef struct {
    float ratio;
    float threshold;
    float exit_fraction;        /* held-out share exiting at stage 1 at this threshold */
    float accuracy;             /* held-out accuracy of the staged model */
    double cycles;              /* expected cycles per inference */
    double energy_nj;           /* expected energy per inference on the profile's board */
} stage_point_t;

/* Seeded per-class hold-out split of n samples with labels [n] (< classes). From each class,
 * floor(holdout_fraction x n_c + 1/2) samples, chosen by a seeded shuffle, go to hold_index;
 * the others to train_index. Both lists ascending. Same seed, same split. */
stage_status_t stage_split(const uint8_t *labels, uint32_t n, uint32_t classes,
                           float holdout_fraction, uint32_t seed, uint16_t *train_index,
                           uint32_t *train_count, uint16_t *hold_index, uint32_t *hold_count);

/* Stores the held-out records (count of them, any order; sorted here), the measured per-stage
 * cycles, and sets the threshold for `ratio`. records may be stage->records itself, filled in
 * place by the caller (no second 8 KB array on the board). */
stage_status_t stage_calibrate(stage_t *stage, const stage_record_t *records, uint32_t count,
                               uint64_t stage1_cycles, uint64_t stage2_cycles, float ratio);

/* Threshold T(r) from the stored records (definition above). */
float stage_threshold_for(const stage_t *stage, float ratio);

/* Changes the ratio: recomputes the threshold from the stored records, nothing else. */
stage_status_t stage_set_ratio(stage_t *stage, float ratio);

/* The decision at inference: true = exit after stage 1. */
bool stage_exits(const stage_t *stage, float part_confidence);

/* Expected figures at ratio r (held-out accuracy, exit share, cycles, energy on profile). */
stage_status_t stage_point(const stage_t *stage, const energy_profile_t *profile, float ratio,
                           stage_point_t *point);

/* The trade-off curve at r = i / (STAGE_CURVE_POINTS - 1), i = 0..20. */
stage_status_t stage_curve(const stage_t *stage, const energy_profile_t *profile,
                           stage_point_t curve[STAGE_CURVE_POINTS]);

/* Inverse 1: the smallest ratio (most accurate side) whose expected energy per inference is
 * <= budget_nj. Searched over every distinct k / n. STAGE_EUNREACHABLE if even r = 1 costs more. */
stage_status_t stage_ratio_for_energy(const stage_t *stage, const energy_profile_t *profile,
                                      double budget_nj, float *ratio);

/* Inverse 2: the cheapest ratio (largest k / n) whose held-out accuracy is >= min_accuracy
 * (accuracy need not be monotone in r, so every k is checked). STAGE_EUNREACHABLE if none. */
stage_status_t stage_ratio_for_accuracy(const stage_t *stage, float min_accuracy, float *ratio);

#endif /* MICROT_STAGE_H */
