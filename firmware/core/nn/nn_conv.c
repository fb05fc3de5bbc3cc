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

#include <stddef.h>

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
/* Pointwise on the DSP extension: two pixels x two output channels per pass, four input
 * channels per step (8 SMLAD for 16 MACs, the operands widened in registers by SXTB16). The
 * last odd pixel, odd channel and input-channel tail take the reference arithmetic. */
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
        const int8_t *ip1 = ip0 + cin;
        int8_t *out0 = out + (size_t)p * (size_t)cout;
        int8_t *out1 = out0 + cout;
        const int8_t *wp = weights;
        int32_t oc = 0;
        for (; oc + 1 < cout; oc += 2) {
            const int8_t *w0 = wp;
            const int8_t *w1 = wp + cin;
            int32_t a00 = bias[oc], a01 = bias[oc + 1];
            int32_t a10 = a00, a11 = a01;
            int32_t ic = 0;
            for (; ic + 3 < cin; ic += 4) {
                const int32_t x0 = nn_rd_s8x4(ip0 + ic), x1 = nn_rd_s8x4(ip1 + ic);
                const int32_t x0e = nn_sxtb16_even(x0), x0o = nn_sxtb16_odd(x0);
                const int32_t x1e = nn_sxtb16_even(x1), x1o = nn_sxtb16_odd(x1);
                int32_t w = nn_rd_s8x4(w0 + ic);
                int32_t we = nn_sxtb16_even(w), wo = nn_sxtb16_odd(w);
                a00 = __smlad(x0e, we, a00);
                a00 = __smlad(x0o, wo, a00);
                a10 = __smlad(x1e, we, a10);
                a10 = __smlad(x1o, wo, a10);
                w = nn_rd_s8x4(w1 + ic);
                we = nn_sxtb16_even(w);
                wo = nn_sxtb16_odd(w);
                a01 = __smlad(x0e, we, a01);
                a01 = __smlad(x0o, wo, a01);
                a11 = __smlad(x1e, we, a11);
                a11 = __smlad(x1o, wo, a11);
            }
            for (; ic < cin; ic++) {
                const int32_t x0 = ip0[ic], x1 = ip1[ic];
                a00 += x0 * w0[ic];
                a10 += x1 * w0[ic];
                a01 += x0 * w1[ic];
                a11 += x1 * w1[ic];
            }
            out0[oc] = nn_conv_out(a00, q, oc);
            out0[oc + 1] = nn_conv_out(a01, q, oc + 1);
            out1[oc] = nn_conv_out(a10, q, oc);
            out1[oc + 1] = nn_conv_out(a11, q, oc + 1);
            wp += 2 * (size_t)cin;
        }
        if (oc < cout) {
            int32_t a0 = bias[oc], a1 = bias[oc];
            for (int32_t ic = 0; ic < cin; ic++) {
                a0 += ip0[ic] * wp[ic];
                a1 += ip1[ic] * wp[ic];
            }
            out0[oc] = nn_conv_out(a0, q, oc);
            out1[oc] = nn_conv_out(a1, q, oc);
        }
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
                out[0] = nn_conv_out(a0, q, c);
                out[1] = nn_conv_out(a1, q, c + 1);
                out[2] = nn_conv_out(a2, q, c + 2);
                out[3] = nn_conv_out(a3, q, c + 3);
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
