/*
 * nn_pool.h — int8 AVERAGE_POOL_2D and MEAN, TFLite Micro integer semantics.
 *
 * AVERAGE_POOL_2D (same quantization in and out): the mean of the window's taps inside the image,
 * rounded half away from zero by an integer division per output, then clamped.
 *
 * MEAN over any set of axes of a rank <= 4 tensor, as TensorFlow Lite Micro @90b983c2 computes
 * int8 means (QuantizedMeanOrSum), whatever the quantizations: the raw values are summed, then
 * (sum - count * in_zp) is scaled by a multiplier that already includes 1/count (TFLite Micro folds
 * it in with an integer division of the significand, see model_import), offset and clamped. A
 * mean rounded any other way is 1 LSB off in pool.out.
 * One division per output element, none per input element.
 */
#ifndef MICROT_NN_POOL_H
#define MICROT_NN_POOL_H

#include <stdint.h>

#include "nn/nn_conv.h"

/* geometry as for a depthwise conv with k_h x k_w window (in_c == out_c). */
void nn_avgpool_s8(const nn_conv_geom_t *g, int32_t act_min, int32_t act_max, const int8_t *in,
                   int8_t *out);

typedef struct {
    int32_t in_shape[4];      /* rank-4 view of the input (leading 1s for lower ranks) */
    uint8_t reduce[4];        /* 1 = this axis is averaged away */
    int32_t in_zp, out_zp;
    int32_t mult, shift;      /* includes the 1/count factor */
} nn_mean_params_t;

/* Output elements: product of the kept axes. */
uint32_t nn_mean_out_count(const nn_mean_params_t *p);

/* scratch: nn_mean_out_count() int32 sums. */
void nn_mean_s8(const nn_mean_params_t *p, const int8_t *in, int8_t *out, int32_t *scratch);

#endif /* MICROT_NN_POOL_H */
