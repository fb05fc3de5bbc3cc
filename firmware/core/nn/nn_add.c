/*
 * nn_add.c — portable int8 ADD (see nn_add.h).
 */
#include "nn/nn_add.h"

#include "nn/nn_requant.h"

void nn_add_s8(const nn_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out,
               uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const int32_t a = (int32_t)((uint32_t)(in1[i] - p->in1_zp) << p->left_shift);
        const int32_t b = (int32_t)((uint32_t)(in2[i] - p->in2_zp) << p->left_shift);
        const int32_t sa = nn_requant(a, p->in1_mult, p->in1_shift);
        const int32_t sb = nn_requant(b, p->in2_mult, p->in2_shift);
        const int32_t v = nn_requant(sa + sb, p->out_mult, p->out_shift) + p->out_zp;
        out[i] = (int8_t)nn_clamp(v, p->act_min, p->act_max);
    }
}
