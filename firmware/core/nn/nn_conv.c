/*
 * nn_conv.c — portable int8 CONV_2D and DEPTHWISE_CONV_2D (see nn_conv.h for the semantics).
 *
 * Both kernels walk the output in raster order. For each output pixel they first build a table of
 * k_h * k_w pointers, one per tap: the input pixel's channel row, or the zero-point row when the
 * tap falls outside the image. The channel loops then run without a bounds test. The pointwise
 * case (1x1, stride 1, no padding: most of the MACs of the MobileNetV2-style backbones) is a plain
 * matrix product and gets its own loop computing two output channels per input load.
 */
#include "nn/nn_conv.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "nn/nn_requant.h"
#include "nn/nn_simd.h"

uint32_t nn_conv_scratch_bytes(const nn_conv_geom_t *g)
{
    return ((uint32_t)g->in_c + 3u) & ~3u;
}

void nn_fold_bias(const int32_t *bias, const int8_t *w, int32_t n_channels, int32_t n_per_channel,
                  int32_t in_zp, int32_t *bias_folded)
{
    for (int32_t oc = 0; oc < n_channels; oc++) {
        int32_t sum = 0;
        const int8_t *wp = w + (size_t)oc * (size_t)n_per_channel;
        for (int32_t i = 0; i < n_per_channel; i++) {
            sum += wp[i];
        }
        /* Unsigned arithmetic: the wrap-around TFLite's int32 accumulator would have. */
        bias_folded[oc] = (int32_t)((uint32_t)(bias ? bias[oc] : 0) - (uint32_t)in_zp * (uint32_t)sum);
    }
}

void nn_fold_bias_dw(const int32_t *bias, const int8_t *w, int32_t n_channels, int32_t n_taps,
                     int32_t in_zp, int32_t *bias_folded)
{
    for (int32_t c = 0; c < n_channels; c++) {
        int32_t sum = 0;
        for (int32_t t = 0; t < n_taps; t++) {
            sum += w[(size_t)t * (size_t)n_channels + (size_t)c];
        }
        bias_folded[c] = (int32_t)((uint32_t)(bias ? bias[c] : 0) - (uint32_t)in_zp * (uint32_t)sum);
    }
}

static inline int8_t nn_conv_out(int32_t acc, const nn_quant_params_t *q, int32_t ch)
{
    const int32_t v = nn_requant(acc, q->mult[ch], q->shift[ch]) + q->out_zp;
    return (int8_t)nn_clamp(v, q->act_min, q->act_max);
}

/* Fills taps[] for the output pixel (oy, ox); returns the number of taps. */
static int32_t nn_conv_taps(const nn_conv_geom_t *g, const int8_t *in, const int8_t *zp_row,
                            int32_t oy, int32_t ox, const int8_t **taps)
{
    const int32_t iy0 = oy * g->stride_h - g->pad_top;
    const int32_t ix0 = ox * g->stride_w - g->pad_left;
    int32_t t = 0;
    for (int32_t ky = 0; ky < g->k_h; ky++) {
        const int32_t iy = iy0 + ky;
        const int row_inside = iy >= 0 && iy < g->in_h;
        for (int32_t kx = 0; kx < g->k_w; kx++) {
            const int32_t ix = ix0 + kx;
            taps[t++] = (row_inside && ix >= 0 && ix < g->in_w)
                            ? in + ((size_t)iy * (size_t)g->in_w + (size_t)ix) * (size_t)g->in_c
                            : zp_row;
        }
    }
    return t;
}

static void nn_conv_pointwise(const nn_conv_geom_t *g, const nn_quant_params_t *q,
                              const int8_t *in, const int8_t *weights, const int32_t *bias,
                              int8_t *out)
{
    const int32_t n_px = g->out_h * g->out_w;
    const int32_t cin = g->in_c;
    const int32_t cout = g->out_c;
    for (int32_t p = 0; p < n_px; p++) {
        const int8_t *ip = in + (size_t)p * (size_t)cin;
        const int8_t *wp = weights;
        int32_t oc = 0;
        for (; oc + 1 < cout; oc += 2) {
            int32_t acc0 = bias[oc];
            int32_t acc1 = bias[oc + 1];
            const int8_t *w0 = wp;
            const int8_t *w1 = wp + cin;
            for (int32_t ic = 0; ic < cin; ic++) {
                const int32_t x = ip[ic];
                acc0 += x * w0[ic];
                acc1 += x * w1[ic];
            }
            *out++ = nn_conv_out(acc0, q, oc);
            *out++ = nn_conv_out(acc1, q, oc + 1);
            wp += 2 * (size_t)cin;
        }
        if (oc < cout) {
            int32_t acc = bias[oc];
            for (int32_t ic = 0; ic < cin; ic++) {
                acc += ip[ic] * wp[ic];
            }
            *out++ = nn_conv_out(acc, q, oc);
        }
    }
}

#if NN_SIMD
/* The 2 x 2 block every SIMD convolution reduces to: two input vectors (two pixels' patches)
 * times two weight rows (two output channels), n int8 each; acc[] = {x0.w0, x0.w1, x1.w0,
 * x1.w1} added to what it holds. Four input channels per step: 8 SMLAD for 16 MACs. */
static inline void nn_dot_2x2(const int8_t *x0, const int8_t *x1, const int8_t *w0,
                              const int8_t *w1, int32_t n, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t i = 0;
    for (; i + 3 < n; i += 4) {
        const int32_t xa = nn_rd_s8x4(x0 + i), xb = nn_rd_s8x4(x1 + i);
        const int32_t xae = nn_sxtb16_even(xa), xao = nn_sxtb16_odd(xa);
        const int32_t xbe = nn_sxtb16_even(xb), xbo = nn_sxtb16_odd(xb);
        int32_t w = nn_rd_s8x4(w0 + i);
        int32_t we = nn_sxtb16_even(w), wo = nn_sxtb16_odd(w);
        a00 = __smlad(xae, we, a00);
        a00 = __smlad(xao, wo, a00);
        a10 = __smlad(xbe, we, a10);
        a10 = __smlad(xbo, wo, a10);
        w = nn_rd_s8x4(w1 + i);
        we = nn_sxtb16_even(w);
        wo = nn_sxtb16_odd(w);
        a01 = __smlad(xae, we, a01);
        a01 = __smlad(xao, wo, a01);
        a11 = __smlad(xbe, we, a11);
        a11 = __smlad(xbo, wo, a11);
    }
    for (; i < n; i++) {
        const int32_t xa = x0[i], xb = x1[i];
        a00 += xa * w0[i];
        a01 += xa * w1[i];
        a10 += xb * w0[i];
        a11 += xb * w1[i];
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Largest k_h x k_w x in_c patch the k x k SIMD path copies to the stack (two of them); larger
 * convolutions take the reference path. */
#define NN_SIMD_PATCH_MAX 1152

/* Requantized int8 output with the layer's constants passed in registers: the int8 stores of
 * the callers may alias anything, so reading them through q after a store would reload them. */
static inline int32_t nn_out_r(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo,
                               int32_t hi)
{
    return nn_clamp(nn_requant_fast(acc, mult, shift) + zp, lo, hi);
}

/* One output pixel pair of the 2 x 2 scheme: out0/out1 get every output channel of the two
 * pixels whose input vectors are x0/x1 (n bytes each). */
static inline void nn_conv_pixel_pair(const nn_quant_params_t *q, const int8_t *x0,
                                      const int8_t *x1, int32_t n, const int8_t *weights,
                                      const int32_t *bias, int32_t cout, int8_t *out0,
                                      int8_t *out1)
{
    const int32_t zp = q->out_zp, lo = q->act_min, hi = q->act_max;
    const int32_t *mult = q->mult, *shift = q->shift;
    const int8_t *wp = weights;
    int32_t oc = 0;
    for (; oc + 1 < cout; oc += 2) {
        int32_t acc[4] = {bias[oc], bias[oc + 1], bias[oc], bias[oc + 1]};
        nn_dot_2x2(x0, x1, wp, wp + n, n, acc);
        const int32_t m0 = mult[oc], s0 = shift[oc], m1 = mult[oc + 1], s1 = shift[oc + 1];
        const int32_t r00 = nn_out_r(acc[0], m0, s0, zp, lo, hi);
        const int32_t r01 = nn_out_r(acc[1], m1, s1, zp, lo, hi);
        const int32_t r10 = nn_out_r(acc[2], m0, s0, zp, lo, hi);
        const int32_t r11 = nn_out_r(acc[3], m1, s1, zp, lo, hi);
        out0[oc] = (int8_t)r00;
        out0[oc + 1] = (int8_t)r01;
        out1[oc] = (int8_t)r10;
        out1[oc + 1] = (int8_t)r11;
        wp += 2 * (size_t)n;
    }
    if (oc < cout) {
        int32_t a0 = bias[oc], a1 = bias[oc];
        for (int32_t i = 0; i < n; i++) {
            a0 += x0[i] * wp[i];
            a1 += x1[i] * wp[i];
        }
        out0[oc] = nn_conv_out(a0, q, oc);
        out1[oc] = nn_conv_out(a1, q, oc);
    }
}

/* k x k convolution on the DSP extension: each output pixel's taps are gathered into a
 * contiguous patch (im2col, ordered [k_h][k_w][in_c] like a weight row), and pixel pairs go
 * through the 2 x 2 block. Returns false (nothing written) when the patch does not fit. */
static bool nn_conv_simd(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                         const int8_t *weights, const int32_t *bias, int8_t *out,
                         const int8_t *zp_row)
{
    const int32_t cin = g->in_c;
    const int32_t n = g->k_h * g->k_w * cin;
    if (n > NN_SIMD_PATCH_MAX) {
        return false;
    }
    int8_t patch[2][NN_SIMD_PATCH_MAX];
    const int8_t *taps[NN_MAX_KERNEL * NN_MAX_KERNEL];
    const int32_t n_px = g->out_h * g->out_w;
    for (int32_t p = 0; p < n_px; p += 2) {
        const int32_t pair = p + 1 < n_px ? 2 : 1;
        for (int32_t j = 0; j < pair; j++) {
            const int32_t oy = (p + j) / g->out_w, ox = (p + j) % g->out_w;
            const int32_t n_taps = nn_conv_taps(g, in, zp_row, oy, ox, taps);
            for (int32_t t = 0; t < n_taps; t++) {
                memcpy(&patch[j][(size_t)t * (size_t)cin], taps[t], (size_t)cin);
            }
        }
        int8_t *out0 = out + (size_t)p * (size_t)g->out_c;
        if (pair == 2) {
            nn_conv_pixel_pair(q, patch[0], patch[1], n, weights, bias, g->out_c, out0,
                               out0 + g->out_c);
        } else {
            /* The odd last pixel: plain dot products over its patch. */
            const int8_t *wp = weights;
            for (int32_t oc = 0; oc < g->out_c; oc++, wp += n) {
                int32_t acc = bias[oc];
                for (int32_t i = 0; i < n; i++) {
                    acc += patch[0][i] * wp[i];
                }
                out0[oc] = nn_conv_out(acc, q, oc);
            }
        }
    }
    return true;
}

/* Pointwise on the DSP extension: a pixel's input channels are already a contiguous vector, so
 * pixel pairs go straight through the 2 x 2 block. */
static void nn_conv_pointwise_simd(const nn_conv_geom_t *g, const nn_quant_params_t *q,
                                   const int8_t *in, const int8_t *weights, const int32_t *bias,
                                   int8_t *out)
{
    const int32_t n_px = g->out_h * g->out_w;
    const int32_t cin = g->in_c;
    const int32_t cout = g->out_c;
    int32_t p = 0;
    for (; p + 1 < n_px; p += 2) {
        const int8_t *ip0 = in + (size_t)p * (size_t)cin;
        int8_t *out0 = out + (size_t)p * (size_t)cout;
        nn_conv_pixel_pair(q, ip0, ip0 + cin, cin, weights, bias, cout, out0, out0 + cout);
    }
    if (p < n_px) {
        /* The odd last pixel: the reference loop on a one-pixel geometry. */
        nn_conv_geom_t one = *g;
        one.in_h = one.out_h = 1;
        one.in_w = one.out_w = 1;
        nn_conv_pointwise(&one, q, in + (size_t)p * (size_t)cin, weights, bias,
                          out + (size_t)p * (size_t)cout);
    }
}

/* Depthwise on the DSP extension: four channels per pass, one word of input and one of weights
 * per tap, each widened by SXTB16 and multiplied lane by lane with SMLABB/SMLATT (no pairwise
 * sum: every channel keeps its own accumulator). */
static void nn_dwconv_simd(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                           const int8_t *weights, const int32_t *bias_folded, int8_t *out,
                           const int8_t *zp_row)
{
    const int32_t c_n = g->in_c;
    const int32_t zp = q->out_zp, lo = q->act_min, hi = q->act_max;
    const int32_t *mult = q->mult, *shift = q->shift;
    const int8_t *taps[NN_MAX_KERNEL * NN_MAX_KERNEL];
    for (int32_t oy = 0; oy < g->out_h; oy++) {
        for (int32_t ox = 0; ox < g->out_w; ox++) {
            const int32_t n_taps = nn_conv_taps(g, in, zp_row, oy, ox, taps);
            int32_t c = 0;
            for (; c + 3 < c_n; c += 4) {
                int32_t a0 = bias_folded[c], a1 = bias_folded[c + 1];
                int32_t a2 = bias_folded[c + 2], a3 = bias_folded[c + 3];
                const int8_t *wc = weights + c;
                for (int32_t t = 0; t < n_taps; t++) {
                    const int32_t x = nn_rd_s8x4(taps[t] + c);
                    const int32_t w = nn_rd_s8x4(wc);
                    wc += c_n;
                    const int32_t xe = nn_sxtb16_even(x), xo = nn_sxtb16_odd(x);
                    const int32_t we = nn_sxtb16_even(w), wo = nn_sxtb16_odd(w);
                    a0 = __smlabb(xe, we, a0);
                    a2 = __smlatt(xe, we, a2);
                    a1 = __smlabb(xo, wo, a1);
                    a3 = __smlatt(xo, wo, a3);
                }
                const int32_t r0 = nn_out_r(a0, mult[c], shift[c], zp, lo, hi);
                const int32_t r1 = nn_out_r(a1, mult[c + 1], shift[c + 1], zp, lo, hi);
                const int32_t r2 = nn_out_r(a2, mult[c + 2], shift[c + 2], zp, lo, hi);
                const int32_t r3 = nn_out_r(a3, mult[c + 3], shift[c + 3], zp, lo, hi);
                out[0] = (int8_t)r0;
                out[1] = (int8_t)r1;
                out[2] = (int8_t)r2;
                out[3] = (int8_t)r3;
                out += 4;
            }
            for (; c < c_n; c++) {
                int32_t acc = bias_folded[c];
                const int8_t *wc = weights + c;
                for (int32_t t = 0; t < n_taps; t++) {
                    acc += taps[t][c] * wc[(size_t)t * (size_t)c_n];
                }
                *out++ = nn_conv_out(acc, q, c);
            }
        }
    }
}
#endif

void nn_conv_s8(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                const int8_t *weights, const int32_t *bias_folded, int8_t *out, int8_t *scratch)
{
    if (g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
        g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w) {
#if NN_SIMD
        nn_conv_pointwise_simd(g, q, in, weights, bias_folded, out);
#else
        nn_conv_pointwise(g, q, in, weights, bias_folded, out);
#endif
        return;
    }
    const int32_t cin = g->in_c;
    for (int32_t i = 0; i < cin; i++) {
        scratch[i] = (int8_t)q->in_zp;
    }
#if NN_SIMD
    if (nn_conv_simd(g, q, in, weights, bias_folded, out, scratch)) {
        return;
    }
#endif
    const int8_t *taps[NN_MAX_KERNEL * NN_MAX_KERNEL];
    for (int32_t oy = 0; oy < g->out_h; oy++) {
        for (int32_t ox = 0; ox < g->out_w; ox++) {
            const int32_t n_taps = nn_conv_taps(g, in, scratch, oy, ox, taps);
            const int8_t *wp = weights;
            for (int32_t oc = 0; oc < g->out_c; oc++) {
                int32_t acc = bias_folded[oc];
                for (int32_t t = 0; t < n_taps; t++) {
                    const int8_t *ip = taps[t];
                    for (int32_t ic = 0; ic < cin; ic++) {
                        acc += ip[ic] * wp[ic];
                    }
                    wp += cin;
                }
                *out++ = nn_conv_out(acc, q, oc);
            }
        }
    }
}

void nn_dwconv_s8(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                  const int8_t *weights, const int32_t *bias_folded, int8_t *out, int8_t *scratch)
{
    const int32_t c_n = g->in_c;
    for (int32_t i = 0; i < c_n; i++) {
        scratch[i] = (int8_t)q->in_zp;
    }
#if NN_SIMD
    nn_dwconv_simd(g, q, in, weights, bias_folded, out, scratch);
    return;
#endif
    const int8_t *taps[NN_MAX_KERNEL * NN_MAX_KERNEL];
    for (int32_t oy = 0; oy < g->out_h; oy++) {
        for (int32_t ox = 0; ox < g->out_w; ox++) {
            const int32_t n_taps = nn_conv_taps(g, in, scratch, oy, ox, taps);
            for (int32_t c = 0; c < c_n; c++) {
                int32_t acc = bias_folded[c];
                const int8_t *wc = weights + c;
                for (int32_t t = 0; t < n_taps; t++) {
                    acc += taps[t][c] * wc[(size_t)t * (size_t)c_n];
                }
                *out++ = nn_conv_out(acc, q, c);
            }
        }
    }
}
