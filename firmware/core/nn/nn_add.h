/*
 * nn_add.h — int8 ADD of two tensors of the same shape with rescaling, TFLite integer semantics.
 *
 * TFLite brings both inputs to a common scale with 20 bits of headroom (left_shift), scales each
 * by its own multiplier, adds, and scales the sum to the output:
 *   a = requant((x1 - zp1) << 20, m1, s1); b = requant((x2 - zp2) << 20, m2, s2);
 *   y = clamp(requant(a + b, m_out, s_out) + zp_out).
 * The multipliers are computed on the host exactly as TFLite's Prepare does (model_import).
 * Elementwise, so the output may be the same buffer as either input.
 */
#ifndef MICROT_NN_ADD_H
#define MICROT_NN_ADD_H

#include <stdint.h>

typedef struct {
    int32_t in1_zp, in2_zp, out_zp;
    int32_t left_shift;              /* 20 for int8 */
    int32_t in1_mult, in1_shift;
    int32_t in2_mult, in2_shift;
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
} nn_add_params_t;

void nn_add_s8(const nn_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out,
               uint32_t n);

#endif /* MICROT_NN_ADD_H */
