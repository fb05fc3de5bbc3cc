/*
 * nn_add.c — portable int8 ADD (see nn_add.h).
 */
#include "nn/nn_add.h"

#include "nn/nn_requant.h"
#include "nn/nn_simd.h"

void nn_add_s8(const nn_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out,
               uint32_t n)
{
#if NN_SIMD
    /* Cortex-M path: the parameters in registers (an int8 store may alias *p, so reading them
     * through p reloads them per element) and nn_requant_fast, equal to nn_requant. */
    const int32_t zp1 = p->in1_zp, zp2 = p->in2_zp, zpo = p->out_zp, ls = p->left_shift;
    const int32_t m1 = p->in1_mult, s1 = p->in1_shift, m2 = p->in2_mult, s2 = p->in2_shift;
    const int32_t mo = p->out_mult, so = p->out_shift, lo = p->act_min, hi = p->act_max;
    for (uint32_t i = 0; i < n; i++) {
        const int32_t a = (int32_t)((uint32_t)(in1[i] - zp1) << ls);
        const int32_t b = (int32_t)((uint32_t)(in2[i] - zp2) << ls);
        const int32_t sa = nn_requant_fast(a, m1, s1);
        const int32_t sb = nn_requant_fast(b, m2, s2);
        out[i] = (int8_t)nn_clamp(nn_requant_fast(sa + sb, mo, so) + zpo, lo, hi);
    }
    return;
#endif
    for (uint32_t i = 0; i < n; i++) {
        const int32_t a = (int32_t)((uint32_t)(in1[i] - p->in1_zp) << p->left_shift);
        const int32_t b = (int32_t)((uint32_t)(in2[i] - p->in2_zp) << p->left_shift);
        const int32_t sa = nn_requant(a, p->in1_mult, p->in1_shift);
        const int32_t sb = nn_requant(b, p->in2_mult, p->in2_shift);
        const int32_t v = nn_requant(sa + sb, p->out_mult, p->out_shift) + p->out_zp;
        out[i] = (int8_t)nn_clamp(v, p->act_min, p->act_max);
    }
}
