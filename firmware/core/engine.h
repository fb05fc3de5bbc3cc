/*
 * engine.h — the on-board int8 engine: runs a device model image (model_format.h) in place from
 * flash, with every activation in one caller-provided arena. No heap, no OS.
 *
 * MicroT's two stages:
 *   engine_run_stage1(): input -> ... -> cut tensor -> global average pool = the part feature.
 *   engine_run_stage2(): resumes from the activations stage 1 left in the arena (nothing is
 *                        computed twice) -> full feature (the original classifier's input).
 * Features are handed to the float heads dequantized: scale * (q - zero_point).
 *
 *     static uint8_t arena[140 * 1024];   // >= the image's plan (engine_check_image tells)
 *     static engine_t e;
 *     if (engine_open(&e, image, image_bytes, arena, sizeof arena) != ENGINE_OK) ...;
 *     memcpy(engine_input(&e, &n), pixels_q, n);      // int8, engine_input_quant() tells how
 *     engine_run_stage1(&e, part);                    // float[engine_part_dim(&e)]
 *     if (confidence < threshold) engine_run_stage2(&e, full); // float[engine_full_dim(&e)]
 *
 * Costs: every op's MACs (from the image) and cycles (hal_cycles() around the op) are kept, per
 * op and per stage, until the next run of that stage.
 */
#ifndef MICROT_ENGINE_H
#define MICROT_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "model_format.h"

typedef enum {
    ENGINE_OK = 0,
    ENGINE_EFORMAT = -1,   /* not a model image, wrong version, or inconsistent contents */
    ENGINE_EHASH = -2,     /* the SHA-256 at the end does not match the bytes */
    ENGINE_EARENA = -3,    /* the arena is smaller than the image's plan needs */
    ENGINE_EALIGN = -4,    /* image or arena not 4-byte aligned */
    ENGINE_ESTATE = -5,    /* stage 2 without a stage 1 on the current input, or not open */
    ENGINE_EARG = -6,      /* NULL where a pointer is required */
} engine_status_t;

/* Called after each op when set (tests compare intermediate tensors, profilers time ops). */
typedef void (*engine_op_hook_t)(void *ctx, uint32_t op_index, uint32_t tensor_index,
                                 const int8_t *data, uint32_t bytes);

typedef struct {
    uint32_t kind;         /* mt_op_kind_t */
    uint32_t macs;
    uint64_t cycles;       /* of the op's last run */
} engine_op_cost_t;

typedef struct {
    const uint8_t *image;
    uint32_t image_bytes;
    const mt_model_header_t *hdr;
    const mt_tensor_t *tensors;
    const mt_op_t *ops;
    uint8_t *arena;
    uint32_t arena_bytes;
    bool open;
    bool stage1_done;      /* the arena holds stage 1's activations for the current input */
    uint64_t stage_cycles[2];
    uint64_t op_cycles[MT_MODEL_MAX_OPS];
    engine_op_hook_t hook;
    void *hook_ctx;
} engine_t;

/* Checks the image (magic, version, SHA-256, every offset and shape against its bounds) and binds
 * it to the arena. image and arena must be 4-byte aligned and outlive the engine. */
engine_status_t engine_open(engine_t *e, const uint8_t *image, uint32_t image_bytes, uint8_t *arena,
                            uint32_t arena_bytes);

/* Same checks without binding: how much arena the image needs (0 on a bad image). */
engine_status_t engine_check_image(const uint8_t *image, uint32_t image_bytes,
                                   uint32_t *arena_bytes_needed);

/* The int8 input tensor in the arena ([1, H, W, C] for images); *bytes gets its size. Writing it
 * invalidates the previous stage 1. */
int8_t *engine_input(engine_t *e, uint32_t *bytes);

/* Input quantization: q = round(real / scale) + zero_point, clamped to int8. */
void engine_input_quant(const engine_t *e, float *scale, int32_t *zero_point);

/* Quantizes float input values into the input tensor, rounding half away from zero exactly as
 * TFLite's QUANTIZE does. n must equal the input size. */
engine_status_t engine_set_input_f32(engine_t *e, const float *values, uint32_t n);

/* Stage 1; part_feature (may be NULL) receives engine_part_dim() floats. */
engine_status_t engine_run_stage1(engine_t *e, float *part_feature);

/* Stage 2 after stage 1 on the same input; full_feature (may be NULL) receives engine_full_dim()
 * floats. */
engine_status_t engine_run_stage2(engine_t *e, float *full_feature);

uint32_t engine_part_dim(const engine_t *e);
uint32_t engine_full_dim(const engine_t *e);

/* int8 view of a tensor in the arena (valid while its plan slot is not reused). */
const int8_t *engine_tensor(const engine_t *e, uint32_t tensor_index, uint32_t *bytes);

/* The original model's output after stage 2 (images with MT_MODEL_F_CLASSIFIER), else NULL. */
const int8_t *engine_output(const engine_t *e, uint32_t *bytes, float *scale, int32_t *zero_point);

/* Costs: ops count, one op's cost, a stage's totals (stage 1 or 2). */
uint32_t engine_op_count(const engine_t *e);
engine_status_t engine_op_cost(const engine_t *e, uint32_t op_index, engine_op_cost_t *cost);
void engine_stage_cost(const engine_t *e, int stage, uint64_t *macs, uint64_t *cycles);

void engine_set_hook(engine_t *e, engine_op_hook_t hook, void *ctx);

/* A short constant name for an error. */
const char *engine_strerror(engine_status_t st);

#endif /* MICROT_ENGINE_H */
