/*
 * personal.h — the board's personalization session: one call per RPC of the training and
 * inference protocol (proto/microt.proto: ResetSamples, a sample's TransferEnd, TrainHeads,
 * SetRatio, GetTradeoff, an image's TransferEnd -> Inference).
 *
 * It owns, inside one region the port reserves (no heap): both head models, the L-BFGS scratch,
 * the hold-out split lists, one part and one full feature buffer, and the feature cache, which
 * gets every byte left (its capacity is what the gateway is told). The engine, with the model and
 * its arena, belongs to the caller; the input image is written into engine_input() before
 * personal_add_sample() and personal_infer().
 *
 * Flow: personal_reset(classes) -> personal_add_sample() per labeled image (stage 1 + stage 2,
 * features cached; past capacity FEAT_CACHE_ENOSPACE, nothing lost) -> personal_train() (seeded
 * split, both heads, calibration, threshold for the current ratio) -> personal_infer() per image;
 * personal_set_ratio() / personal_tradeoff() at any time after training, without retraining.
 * Cycles are the cost model's (cost.h) for the board profile given at reset. C99, no heap.
 */
#ifndef MICROT_PERSONAL_H
#define MICROT_PERSONAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "energy.h"
#include "engine.h"
#include "feat_cache.h"
#include "head.h"
#include "infer.h"
#include "stage.h"

#define PERSONAL_HISTORY 5u     /* L-BFGS pairs (head.h) */

typedef enum {
    PERSONAL_OK = 0,
    PERSONAL_EINVAL = -1,       /* bad argument: classes, ratio, label, sizes, NULL */
    PERSONAL_ENOSPACE = -2,     /* region too small for the heads, or the cache is full */
    PERSONAL_ESTATE = -3,       /* no reset yet, not trained yet, or the engine's model changed */
    PERSONAL_EENGINE = -4,      /* the engine refused to run */
    PERSONAL_EDATA = -5,        /* too few samples: each split needs at least one per class seen */
} personal_status_t;

typedef struct {
    uint32_t seed;              /* hold-out split */
    float holdout_fraction;     /* (0, 1) */
    float l2;                   /* L2 strength = 1 / C; 0 selects 1 (sklearn's C = 1) */
    uint32_t max_iter;          /* bound on L-BFGS iterations per head; 0 selects head.h's */
} personal_train_cfg_t;

typedef struct {
    float train_accuracy;
    float holdout_accuracy;
    uint32_t iterations;
    float loss;
} personal_head_metrics_t;

typedef struct {
    uint32_t samples;           /* trained on */
    uint32_t holdout;           /* calibration samples */
    personal_head_metrics_t part, full;
    float staged_holdout_accuracy;  /* at the current ratio */
    float threshold;
    uint64_t extract_cycles;    /* every cached sample's stage 1 + stage 2 */
    uint64_t train_cycles;      /* both heads */
    uint64_t calibrate_cycles;  /* both heads on the hold-out */
    double extract_energy_nj, train_energy_nj, calibrate_energy_nj;
    uint32_t peak_ram_bytes;    /* engine arena + this session's region use + stage record */
    head_train_report_t part_report, full_report;   /* the optimiser's own figures */
} personal_train_result_t;

typedef struct {
    /* layout */
    uint8_t *region;
    size_t region_bytes;
    const energy_profile_t *profile;
    const mt_model_header_t *model;     /* the engine's model at reset */
    uint32_t model_macs1, model_macs2;
    uint64_t engine1_cycles, engine2_cycles;    /* modeled cycles of the engine's two stages */
    uint32_t part_dim, full_dim, classes;
    float *part_feature, *full_feature;
    float *scratch;
    size_t scratch_bytes;
    uint16_t *train_index, *hold_index;
    uint32_t train_count, hold_count;
    feat_cache_t cache;
    head_t part_head, full_head;
    stage_t stage;
    float ratio;
    bool ready;                 /* reset done */
    bool trained;
    uint64_t extract_cycles;    /* since reset */
} personal_t;

/* Lays the session out over region (8-byte aligned) for the engine's open model and `classes`
 * (2..HEAD_MAX_CLASSES), forgetting samples and heads. The ratio is kept (0.5 at first). */
personal_status_t personal_reset(personal_t *p, void *region, size_t region_bytes,
                                 const engine_t *e, uint32_t classes,
                                 const energy_profile_t *profile);

/* Samples the cache can hold in this layout. */
uint32_t personal_capacity(const personal_t *p);

/* Runs stage 1 and stage 2 on the engine's current input and caches both features with label.
 * Returns the cache row (>= 0) or a negative personal_status_t; *cycles (if not NULL) gets this
 * sample's modeled cycles. */
int32_t personal_add_sample(personal_t *p, engine_t *e, uint32_t label, uint64_t *cycles);

/* Split, train both heads, calibrate, set the threshold for the current ratio. */
personal_status_t personal_train(personal_t *p, const personal_train_cfg_t *cfg,
                                 personal_train_result_t *out);

/* New ratio -> new threshold from the stored calibration (no retraining). */
personal_status_t personal_set_ratio(personal_t *p, float ratio, float *threshold);

/* The trade-off curve at 21 ratios, energies on the session's board. */
personal_status_t personal_tradeoff(const personal_t *p, stage_point_t curve[STAGE_CURVE_POINTS]);

/* One staged inference on the engine's current input. */
personal_status_t personal_infer(personal_t *p, engine_t *e, infer_result_t *out);

#endif /* MICROT_PERSONAL_H */
