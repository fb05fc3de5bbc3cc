/*
 * cost.c — prices a model image's ops with the per-board cost model (see cost.h, energy.c).
 */
#include "cost.h"

#include <stddef.h>

energy_op_t cost_op_kind(const mt_op_t *op)
{
    switch (op->kind) {
    case MT_OP_CONV:
        return op->p[0] * op->p[1] > 1 ? ENERGY_OP_CONV_MAC : ENERGY_OP_POINTWISE_MAC;
    case MT_OP_DWCONV:
        return ENERGY_OP_DEPTHWISE_MAC;
    case MT_OP_FC:
        return ENERGY_OP_POINTWISE_MAC;
    default:
        return ENERGY_OP_ELEMENT;
    }
}

uint64_t cost_stage_cycles(const engine_t *e, const energy_profile_t *profile, int stage,
                           uint64_t *macs)
{
    uint64_t cycles = 0, total_macs = 0;
    if (e == NULL || !e->open || e->hdr == NULL || (stage != 1 && stage != 2))
        goto out;
    uint32_t first = stage == 1 ? 0 : e->hdr->stage1_ops;
    uint32_t end = stage == 1 ? e->hdr->stage1_ops : e->hdr->n_ops;
    for (uint32_t i = first; i < end; i++) {
        const mt_op_t *op = &e->ops[i];
        energy_op_t kind = cost_op_kind(op);
        cycles += energy_cost_cycles(profile, kind, op->macs);
        if (kind != ENERGY_OP_ELEMENT)
            total_macs += op->macs;
    }
out:
    if (macs != NULL)
        *macs = total_macs;
    return cycles;
}

uint64_t cost_float_cycles(const energy_profile_t *profile, uint64_t macs, uint64_t exps)
{
    return energy_cost_cycles(profile, ENERGY_OP_FLOAT_MAC, macs) +
           energy_cost_cycles(profile, ENERGY_OP_FLOAT_EXP, exps);
}
