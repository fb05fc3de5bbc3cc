/*
 * nn_fc.h — int8 FULLY_CONNECTED, TFLite integer semantics.
 *
 * out[r][o] = clamp(requant(bias[o] + sum_i (x[r][i] - in_zp) * w[o][i]) + out_zp), weights
 * [n_out][n_in] symmetric, per-tensor or per-output-channel multipliers. As in nn_conv.h the bias
 * arrives folded (nn_fold_bias with n_per_channel = n_in), so the loop is sum x * w.
 */
#ifndef MICROT_NN_FC_H
#define MICROT_NN_FC_H

#include <stdint.h>

#include "nn/nn_conv.h"

/* n_rows input rows of n_in values each; q->mult/q->shift have n_out entries. */
void nn_fc_s8(int32_t n_rows, int32_t n_in, int32_t n_out, const nn_quant_params_t *q,
              const int8_t *in, const int8_t *weights, const int32_t *bias_folded, int8_t *out);

#endif /* MICROT_NN_FC_H */
