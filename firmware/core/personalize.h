/*
 * personalize.h — MicroT on the board, as the gateway drives it: labeled samples through the
 * frozen backbone into the feature cache, both heads trained on the cached features, the stage
 * decision calibrated on a held-out share, and staged inference with its cost.
 *
 * Request flow (each request's handler fills the reply message; core_rpc.c routes to them):
 *   ResetSamples{K}        -> lays the RAM pool out for K classes and the active model's feature
 *                             sizes; SampleResult{capacity}
 *   TRANSFER_SAMPLE(label) -> chunks land straight in the engine's int8 input tensor; at
 *                             TransferEnd stage 1 + stage 2 run once and both pooled features are
 *                             cached; SampleResult{index, cached, capacity, cycles}
 *   TrainHeads             -> seeded per-class hold-out split, both heads trained (L-BFGS, head.h),
 *                             calibration records (stage.h); TrainResult
 *   SetRatio / GetTradeoff -> threshold from the stored calibration, the trade-off curve
 *   TRANSFER_IMAGE         -> at TransferEnd: stage 1, part head, exit if confident, else resume
 *                             stage 2 + full head; Inference{cls, confidence, stage, cycles, energy}
 *
 * Memory (no heap): the engine arena (PERSONALIZE_ARENA_BYTES) and one pool
 * (PERSONALIZE_POOL_BYTES) are static. At ResetSamples the pool is laid out as: both head models,
 * one L-BFGS scratch (the heads train one after the other), the split index lists, and the feature
 * cache taking the rest. How much of the pool may be used is the board's SRAM minus
 * PERSONALIZE_RESERVED_BYTES (firmware data, stacks, link buffers) minus the model's arena, so one
 * simulator binary reports an H7A3ZI's or an L4R5ZI's capacity. A port for a smaller part lowers the
 * two static sizes at build time.
 *
 * Costs: on a real board cycles are hal_cycles() (DWT) differences around the work; where the port
 * says its cycle counter is not the part's (HAL_FEATURE_MODELED_CYCLES, the simulator) they come
 * from the per-board cost model (cost.h). Energy = cycles through the board's energy profile
 * (energy.h).
 *
 * C99, no heap, no OS calls.
 */
#ifndef MICROT_PERSONALIZE_H
#define MICROT_PERSONALIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "head.h"
#include "microt.pb.h"
#include "stage.h"

#ifndef PERSONALIZE_ARENA_BYTES
#define PERSONALIZE_ARENA_BYTES (192u * 1024u) /* mcunet-5fps cut at block 8 plans 160 KiB */
#endif
#ifndef PERSONALIZE_POOL_BYTES
#define PERSONALIZE_POOL_BYTES (1152u * 1024u)
#endif
/* SRAM the rest of the firmware keeps: code data, stacks, the link (~21 KiB), the request and reply
 * messages, the stage record (~8 KiB), the capture frame. */
#define PERSONALIZE_RESERVED_BYTES (160u * 1024u)
#define PERSONALIZE_DEFAULT_RATIO 0.5f
#define PERSONALIZE_DEFAULT_HOLDOUT 0.2f
/* Reported instead of +infinity for a threshold nothing reaches (r = 0): any value > 1 says it. */
#define PERSONALIZE_THRESHOLD_NEVER 2.0f

/* Binds the active model (model_store) if there is one; forgets samples, heads and calibration.
 * Called at boot and after a new model is activated. */
void personalize_init(void);

/* Static arena size a model may need (model_store_end checks against it). */
uint32_t personalize_arena_capacity(void);

/* True when a model is bound (engine open). */
bool personalize_has_model(void);

/* The bound model's input geometry (H, W, C); false without a model. */
bool personalize_input_shape(uint32_t *height, uint32_t *width, uint32_t *channels);

/* Adds the model's facts to ModelStatus (dims, arena, input bytes). */
void personalize_fill_model_status(microt_ModelStatus *status);

/* Request handlers: each fills reply (a result or an Error). */
void personalize_reset_samples(const microt_ResetSamples *req, microt_Message *reply);
void personalize_train(const microt_TrainHeads *req, microt_Message *reply);
void personalize_set_ratio(const microt_SetRatio *req, microt_Message *reply);
void personalize_get_tradeoff(microt_Message *reply);

/* Transfers of kind TRANSFER_SAMPLE and TRANSFER_IMAGE. begin replies TransferStatus or an Error
 * and returns true when the transfer is open; chunk has no reply; end replies SampleResult or
 * Inference (or an Error). */
bool personalize_transfer_begin(const microt_TransferBegin *req, microt_Message *reply);
void personalize_transfer_chunk(const microt_TransferChunk *req);
void personalize_transfer_end(microt_Message *reply);

/* For tests and the capture path: the engine, the heads (0 = part, 1 = full) and the stage
 * record, or NULL when absent/untrained. */
engine_t *personalize_engine(void);
const head_t *personalize_head(int which);
const stage_t *personalize_stage(void);

#endif /* MICROT_PERSONALIZE_H */
