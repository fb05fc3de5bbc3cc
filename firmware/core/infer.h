/*
 * infer.h — one MicroT inference with the stage decision: part model, part head, and only when
 * the part head's confidence is below the threshold, the resumed stage 2 and the full head.
 *
 * The caller writes the input into engine_input() first. Stage 2 resumes from the activations
 * stage 1 left in the arena (engine.h), so no block runs twice; an early exit skips stage 2
 * entirely. The result carries what the gateway records per inference: class, confidence, the
 * stage it ended at, cycles and energy. C99, no heap, no OS calls.
 */
#ifndef MICROT_INFER_H
#define MICROT_INFER_H

#include <stdint.h>

#include "energy.h"
#include "engine.h"
#include "head.h"
#include "stage.h"

typedef enum {
    INFER_OK = 0,
    INFER_EINVAL = -1,      /* NULL, or heads whose dims do not match the engine's model */
    INFER_EENGINE = -2,     /* the engine refused a stage (not open, no input) */
    INFER_EHEAD = -3,       /* a head is not trained */
} infer_status_t;

typedef struct {
    engine_t *engine;
    const head_t *part_head;
    const head_t *full_head;
    const stage_t *stage;               /* its threshold decides */
    const energy_profile_t *profile;    /* board the cycles and energy are for */
    float *part_feature;                /* caller buffer [engine_part_dim] */
    float *full_feature;                /* caller buffer [engine_full_dim] */
} infer_ctx_t;

typedef struct {
    int32_t class_index;
    float confidence;           /* max softmax probability of the head that decided */
    float part_confidence;      /* the part head's, the one compared with the threshold */
    uint8_t stage;              /* 1: exited after the part model; 2: resumed through stage 2 */
    uint64_t cycles;            /* modeled cycles of the work done (cost model, cost.h) */
    uint64_t measured_cycles;   /* hal_cycles() around the engine's ops (DWT on a board) */
    double energy_nj;           /* `cycles` on the profile's board */
} infer_result_t;

infer_status_t infer_run(const infer_ctx_t *ctx, infer_result_t *out);

#endif /* MICROT_INFER_H */
