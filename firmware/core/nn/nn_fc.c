/*
 * nn_fc.c — portable int8 FULLY_CONNECTED (see nn_fc.h).
 */
#include "nn/nn_fc.h"

#include <stddef.h>

#include "nn/nn_requant.h"

void nn_fc_s8(int32_t n_rows, int32_t n_in, int32_t n_out, const nn_quant_params_t *q,
              const int8_t *in, const int8_t *weights, const int32_t *bias_folded, int8_t *out)
{
    for (int32_t r = 0; r < n_rows; r++) {
        const int8_t *ip = in + (size_t)r * (size_t)n_in;
        for (int32_t o = 0; o < n_out; o++) {
            const int8_t *wp = weights + (size_t)o * (size_t)n_in;
            uint32_t acc = (uint32_t)bias_folded[o]; /* wraps like TFLite's int32 */
            for (int32_t i = 0; i < n_in; i++) {
                acc += (uint32_t)(ip[i] * wp[i]);
            }
            const int32_t v = nn_requant((int32_t)acc, q->mult[o], q->shift[o]) + q->out_zp;
            *out++ = (int8_t)nn_clamp(v, q->act_min, q->act_max);
        }
    }
}
