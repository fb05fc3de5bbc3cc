/*
 * nn_layout.h — int8 data movement ops: PAD (constant, rank <= 4) and TRANSPOSE (rank <= 4).
 * No arithmetic: the output keeps the input's quantization, PAD fills with the zero point.
 */
#ifndef MICROT_NN_LAYOUT_H
#define MICROT_NN_LAYOUT_H

#include <stdint.h>

/* in_shape rank-4 view; before/after per axis; out shape = in + before + after. */
void nn_pad_s8(const int32_t in_shape[4], const int32_t before[4], const int32_t after[4],
               int8_t value, const int8_t *in, int8_t *out);

/* out axis i = in axis perm[i]. */
void nn_transpose_s8(const int32_t in_shape[4], const int32_t perm[4], const int8_t *in,
                     int8_t *out);

#endif /* MICROT_NN_LAYOUT_H */
