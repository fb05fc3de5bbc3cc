/*
 * nn_conv.h — int8 convolutions (CONV_2D and DEPTHWISE_CONV_2D), TFLite integer semantics.
 *
 * Layouts (TFLite's): activations [H, W, C] (batch 1, NHWC), conv weights [C_OUT, KH, KW, C_IN],
 * depthwise weights [KH, KW, C] (depth multiplier 1). Weights are symmetric (zero point 0),
 * quantized per output channel (per-tensor models repeat one multiplier).
 *
 * TFLite computes acc = bias + sum over the taps inside the image of (x - in_zp) * w. The engine
 * gets the same int32 exactly with two rearrangements that take work out of the inner loop:
 *   - the bias is "folded": bias_folded[oc] = bias[oc] - in_zp * sum of all w of channel oc
 *     (nn_fold_bias), so the loop is a plain sum of x * w;
 *   - a tap outside the image reads in_zp (written into the im2col column or the padded plane in
 *     scratch), whose product cancels the folded term: outside taps contribute exactly 0, as in
 *     TFLite.
 * int32 sums wrap modulo 2^32 like TFLite's, so the order of the terms cannot change the result.
 *
 * The portable C path is the reference; a faster path (CMSIS/ACLE SIMD) may sit beside it under
 * #if, tested against it. No division in the loops, no heap: scratch comes from the caller.
 */
#ifndef MICROT_NN_CONV_H
#define MICROT_NN_CONV_H

#include <stdint.h>

#define NN_MAX_KERNEL 11 /* largest kh and kw the kernels accept (the tap table is on the stack) */
#define NN_MAX_STRIDE 64 /* largest stride */
#define NN_MAX_PLANE_BYTES (1u << 24) /* largest padded channel plane of the depthwise kernel */

typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;   /* taps above/left of the image (>= 0); bottom/right follow from out_h/out_w */
} nn_conv_geom_t;

typedef struct {
    int32_t in_zp;               /* input zero point: the value outside the image */
    int32_t out_zp;
    int32_t act_min, act_max;    /* fused activation as an int8 clamp */
    const int32_t *mult;         /* [out_c] Q31 significands */
    const int32_t *shift;        /* [out_c] exponents (> 0 left) */
} nn_quant_params_t;

/* Scratch bytes of nn_conv_s8: two im2col columns (2 * k_h * k_w * in_c), 4-aligned; a
 * pointwise conv (1x1, stride 1, no padding) needs none. */
uint32_t nn_conv_scratch_bytes(const nn_conv_geom_t *g);

/* bias_folded[oc] = bias[oc] - in_zp * sum(w[oc][...]) for weights of n_per_channel int8 each,
 * laid out channel-major (conv, fully connected). bias may be NULL (a zero bias). */
void nn_fold_bias(const int32_t *bias, const int8_t *w, int32_t n_channels, int32_t n_per_channel,
                  int32_t in_zp, int32_t *bias_folded);

/* Same for depthwise weights [taps][C] (channel-minor). */
void nn_fold_bias_dw(const int32_t *bias, const int8_t *w, int32_t n_channels, int32_t n_taps,
                     int32_t in_zp, int32_t *bias_folded);

/* CONV_2D. weights [out_c][k_h][k_w][in_c]; scratch >= nn_conv_scratch_bytes(g). */
void nn_conv_s8(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                const int8_t *weights, const int32_t *bias_folded, int8_t *out, int8_t *scratch);

/* Scratch bytes of the depthwise kernel: one zero-point-padded channel plane, 4-aligned;
 * UINT32_MAX when the plane would exceed NN_MAX_PLANE_BYTES (geometry refused). */
uint32_t nn_dwconv_scratch_bytes(const nn_conv_geom_t *g);

/* DEPTHWISE_CONV_2D with depth multiplier 1 (in_c == out_c). weights [k_h][k_w][c].
 * Works one channel at a time: the channel is copied into a padded plane in scratch, then its
 * outputs are written. Output channel c only overwrites channel-c slots of input pixels below
 * out_h * out_w, which the plane already holds, so `out` may be the same buffer as `in` (in
 * place, as TinyEngine does): the plan then needs no second activation buffer. */
void nn_dwconv_s8(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                  const int8_t *weights, const int32_t *bias_folded, int8_t *out, int8_t *scratch);

#endif /* MICROT_NN_CONV_H */
