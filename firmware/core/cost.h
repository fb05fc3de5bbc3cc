/*
 * cost.h — modeled cycles of the engine's work on a given board: each op of a model image is
 * priced by the cost model in energy.h from its kind, kernel size and MAC count. The simulator
 * reports these cycles (it has no DWT); a real board reports DWT cycles and uses this only to
 * predict. The heads' float work is priced from their own counts (head.h).
 */
#ifndef MICROT_COST_H
#define MICROT_COST_H

#include <stdint.h>

#include "energy.h"
#include "engine.h"

/* The cost-model kind of one device op (model_format.h): k x k CONV -> CONV_MAC, 1 x 1 CONV and
 * FC -> POINTWISE_MAC, DWCONV -> DEPTHWISE_MAC, everything else (ADD, MEAN, PAD, pools, copies)
 * -> ELEMENT with the op's element count. */
energy_op_t cost_op_kind(const mt_op_t *op);

/* Modeled cycles of stage 1 (stage = 1) or the resumed stage 2 (stage = 2) of the open engine's
 * model on this board; MACs of that stage in *macs if not NULL. 0 on a closed engine. */
uint64_t cost_stage_cycles(const engine_t *e, const energy_profile_t *profile, int stage,
                           uint64_t *macs);

/* Modeled cycles of float work: multiply-adds and exp/log calls (head training, head predict). */
uint64_t cost_float_cycles(const energy_profile_t *profile, uint64_t macs, uint64_t exps);

#endif /* MICROT_COST_H */
