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

void nn_conv_s8(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                const int8_t *weights, const int32_t *bias_folded, int8_t *out, int8_t *scratch)
{
    if (g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
        g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w) {
        nn_conv_pointwise(g, q, in, weights, bias_folded, out);
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

/* Padded plane of the depthwise kernel: every window of every output lies inside it. */
static void nn_dwconv_plane(const nn_conv_geom_t *g, int32_t *ph, int32_t *pw)
{
    const int32_t need_h = (g->out_h - 1) * g->stride_h + g->k_h;
    const int32_t need_w = (g->out_w - 1) * g->stride_w + g->k_w;
    *ph = need_h > g->pad_top + g->in_h ? need_h : g->pad_top + g->in_h;
    *pw = need_w > g->pad_left + g->in_w ? need_w : g->pad_left + g->in_w;
}

uint32_t nn_dwconv_scratch_bytes(const nn_conv_geom_t *g)
{
    int32_t ph, pw;
    nn_dwconv_plane(g, &ph, &pw);
    return ((uint32_t)ph * (uint32_t)pw + 3u) & ~3u;
}

void nn_dwconv_s8(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                  const int8_t *weights, const int32_t *bias_folded, int8_t *out, int8_t *scratch)
{
    const int32_t c_n = g->in_c;
    const int32_t kh = g->k_h, kw = g->k_w;
    const int32_t sh = g->stride_h, sw = g->stride_w;
    int32_t ph, pw;
    nn_dwconv_plane(g, &ph, &pw);
    /* The border stays the zero point for every channel: only the interior is rewritten. */
    for (int32_t i = 0; i < ph * pw; i++) {
        scratch[i] = (int8_t)q->in_zp;
    }
    int8_t wk[NN_MAX_KERNEL * NN_MAX_KERNEL];
    for (int32_t c = 0; c < c_n; c++) {
        for (int32_t y = 0; y < g->in_h; y++) {
            int8_t *row = scratch + (size_t)(y + g->pad_top) * (size_t)pw + (size_t)g->pad_left;
            const int8_t *src = in + (size_t)y * (size_t)g->in_w * (size_t)c_n + (size_t)c;
            for (int32_t x = 0; x < g->in_w; x++) {
                row[x] = src[(size_t)x * (size_t)c_n];
            }
        }
        for (int32_t t = 0; t < kh * kw; t++) {
            wk[t] = weights[(size_t)t * (size_t)c_n + (size_t)c];
        }
        const int32_t bias = bias_folded[c];
        const int32_t mult = q->mult[c], shift = q->shift[c];
        int8_t *op = out + c;
        for (int32_t oy = 0; oy < g->out_h; oy++) {
            const int8_t *base = scratch + (size_t)(oy * sh) * (size_t)pw;
            for (int32_t ox = 0; ox < g->out_w; ox++) {
                const int8_t *win = base + (size_t)(ox * sw);
                int32_t acc = bias;
                const int8_t *wp = wk;
                for (int32_t ky = 0; ky < kh; ky++) {
                    const int8_t *row = win + (size_t)ky * (size_t)pw;
                    for (int32_t kx = 0; kx < kw; kx++) {
                        acc += row[kx] * wp[kx];
                    }
                    wp += kw;
                }
                const int32_t v = nn_requant(acc, mult, shift) + q->out_zp;
                *op = (int8_t)nn_clamp(v, q->act_min, q->act_max);
                op += c_n;
            }
        }
    }
}
