/*
 * infer.c — staged inference (see infer.h).
 */
#include "infer.h"

#include <stddef.h>

#include "cost.h"

infer_status_t infer_run(const infer_ctx_t *ctx, infer_result_t *out)
{
    if (ctx == NULL || out == NULL || ctx->engine == NULL || ctx->part_head == NULL ||
        ctx->full_head == NULL || ctx->stage == NULL || ctx->part_feature == NULL ||
        ctx->full_feature == NULL)
        return INFER_EINVAL;
    engine_t *e = ctx->engine;
    if (ctx->part_head->dim != engine_part_dim(e) || ctx->full_head->dim != engine_full_dim(e) ||
        ctx->part_head->classes != ctx->full_head->classes)
        return INFER_EINVAL;
    if (!ctx->part_head->trained || !ctx->full_head->trained)
        return INFER_EHEAD;

    if (engine_run_stage1(e, ctx->part_feature) != ENGINE_OK)
        return INFER_EENGINE;
    uint64_t measured = 0;
    engine_stage_cost(e, 1, NULL, &measured);
    uint64_t cycles = cost_stage_cycles(e, ctx->profile, 1, NULL) +
                      cost_float_cycles(ctx->profile, head_predict_macs(ctx->part_head),
                                        head_predict_exps(ctx->part_head));
    float part_conf = 0.0f;
    int cls = head_predict(ctx->part_head, ctx->part_feature, NULL, &part_conf);
    if (cls < 0)
        return INFER_EHEAD;
    out->part_confidence = part_conf;
    out->confidence = part_conf;
    out->stage = 1;

    if (!stage_exits(ctx->stage, part_conf)) {
        if (engine_run_stage2(e, ctx->full_feature) != ENGINE_OK)
            return INFER_EENGINE;
        uint64_t measured2 = 0;
        engine_stage_cost(e, 2, NULL, &measured2);
        measured += measured2;
        cycles += cost_stage_cycles(e, ctx->profile, 2, NULL) +
                  cost_float_cycles(ctx->profile, head_predict_macs(ctx->full_head),
                                    head_predict_exps(ctx->full_head));
        float full_conf = 0.0f;
        cls = head_predict(ctx->full_head, ctx->full_feature, NULL, &full_conf);
        if (cls < 0)
            return INFER_EHEAD;
        out->confidence = full_conf;
        out->stage = 2;
    }
    out->class_index = cls;
    out->cycles = cycles;
    out->measured_cycles = measured;
    out->energy_nj = energy_nj(ctx->profile, (double)cycles);
    return INFER_OK;
}
