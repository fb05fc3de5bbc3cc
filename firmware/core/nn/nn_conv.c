/*
 * nn_conv.c — portable int8 CONV_2D and DEPTHWISE_CONV_2D (see nn_conv.h for the semantics).
 *
 * CONV_2D is a matrix product over input columns: a pointwise conv (1x1, stride 1, no padding,
 * most of the MACs of the MobileNetV2-style backbones) reads its columns straight from the input;
 * any other conv first copies each output pixel's window into a column in scratch (im2col, the
 * zero point standing for taps outside the image). Two pixels and two output channels are done
 * per pass, so each load feeds two multiply-accumulates; a SIMD path (SMLAD on Cortex-M4/M7)
 * slots into nn_conv_2px. DEPTHWISE_CONV_2D works one channel at a time through a padded plane.
 */
#include "nn/nn_conv.h"

#include <stdbool.h>
#include <stddef.h>

#include "nn/nn_requant.h"

void nn_fold_bias(const int32_t *bias, const int8_t *w, int32_t n_channels, int32_t n_per_channel,
                  int32_t in_zp, int32_t *bias_folded)
{
    for (int32_t oc = 0; oc < n_channels; oc++) {
        uint32_t sum = 0;
        const int8_t *wp = w + (size_t)oc * (size_t)n_per_channel;
        for (int32_t i = 0; i < n_per_channel; i++) {
            sum += (uint32_t)wp[i];
        }
        /* Unsigned arithmetic: the wrap-around TFLite's int32 accumulator would have. */
        bias_folded[oc] = (int32_t)((uint32_t)(bias ? bias[oc] : 0) - (uint32_t)in_zp * sum);
    }
}

void nn_fold_bias_dw(const int32_t *bias, const int8_t *w, int32_t n_channels, int32_t n_taps,
                     int32_t in_zp, int32_t *bias_folded)
{
    for (int32_t c = 0; c < n_channels; c++) {
        uint32_t sum = 0;
        for (int32_t t = 0; t < n_taps; t++) {
            sum += (uint32_t)w[(size_t)t * (size_t)n_channels + (size_t)c];
        }
        bias_folded[c] = (int32_t)((uint32_t)(bias ? bias[c] : 0) - (uint32_t)in_zp * sum);
    }
}

static inline int8_t nn_conv_out(int32_t acc, const nn_quant_params_t *q, int32_t ch)
{
    const int32_t v = nn_requant(acc, q->mult[ch], q->shift[ch]) + q->out_zp;
    return (int8_t)nn_clamp(v, q->act_min, q->act_max);
}

/* The core of both convolutions: n output channels of two pixels whose input columns (n_k values
 * each, in the weights' order) are x0 and x1. Two pixels times two channels per pass: each input
 * and weight load feeds two MACs. x1 may equal x0 (odd pixel count); o1 is then not written. */
static void nn_conv_2px(const int8_t *x0, const int8_t *x1, int32_t n_k, const int8_t *weights,
                        const int32_t *bias, int32_t cout, const nn_quant_params_t *q, int8_t *o0,
                        int8_t *o1)
{
    int32_t oc = 0;
    for (; oc + 1 < cout; oc += 2) {
        const int8_t *w0 = weights + (size_t)oc * (size_t)n_k;
        const int8_t *w1 = w0 + n_k;
        /* Unsigned sums: the int32 wrap-around TFLite's accumulator has, without undefined
         * behaviour on hostile weights. */
        uint32_t a00 = (uint32_t)bias[oc], a01 = (uint32_t)bias[oc + 1];
        uint32_t a10 = a00, a11 = a01;
#pragma GCC unroll 4
        for (int32_t k = 0; k < n_k; k++) {
            const int32_t xa = x0[k], xb = x1[k];
            const int32_t wa = w0[k], wb = w1[k];
            a00 += (uint32_t)(xa * wa);
            a01 += (uint32_t)(xa * wb);
            a10 += (uint32_t)(xb * wa);
            a11 += (uint32_t)(xb * wb);
        }
        o0[oc] = nn_conv_out((int32_t)a00, q, oc);
        o0[oc + 1] = nn_conv_out((int32_t)a01, q, oc + 1);
        if (o1) {
            o1[oc] = nn_conv_out((int32_t)a10, q, oc);
            o1[oc + 1] = nn_conv_out((int32_t)a11, q, oc + 1);
        }
    }
    if (oc < cout) {
        const int8_t *w0 = weights + (size_t)oc * (size_t)n_k;
        uint32_t a0 = (uint32_t)bias[oc], a1 = (uint32_t)bias[oc];
        for (int32_t k = 0; k < n_k; k++) {
            a0 += (uint32_t)(x0[k] * w0[k]);
            a1 += (uint32_t)(x1[k] * w0[k]);
        }
        o0[oc] = nn_conv_out((int32_t)a0, q, oc);
        if (o1) {
            o1[oc] = nn_conv_out((int32_t)a1, q, oc);
        }
    }
}

/* Copies the k_h x k_w x in_c window of output pixel (oy, ox) into col (im2col), the zero
 * point standing for taps outside the image. */
static void nn_conv_im2col(const nn_conv_geom_t *g, const int8_t *in, int8_t zp, int32_t oy,
                           int32_t ox, int8_t *col)
{
    const int32_t iy0 = oy * g->stride_h - g->pad_top;
    const int32_t ix0 = ox * g->stride_w - g->pad_left;
    const int32_t cin = g->in_c;
    for (int32_t ky = 0; ky < g->k_h; ky++) {
        const int32_t iy = iy0 + ky;
        for (int32_t kx = 0; kx < g->k_w; kx++) {
            const int32_t ix = ix0 + kx;
            if (iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w) {
                const int8_t *src = in + ((size_t)iy * (size_t)g->in_w + (size_t)ix) * (size_t)cin;
                for (int32_t c = 0; c < cin; c++) {
                    col[c] = src[c];
                }
            } else {
                for (int32_t c = 0; c < cin; c++) {
                    col[c] = zp;
                }
            }
            col += cin;
        }
    }
}

uint32_t nn_conv_scratch_bytes(const nn_conv_geom_t *g)
{
    return (2u * (uint32_t)g->k_h * (uint32_t)g->k_w * (uint32_t)g->in_c + 3u) & ~3u;
}

void nn_conv_s8(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                const int8_t *weights, const int32_t *bias_folded, int8_t *out, int8_t *scratch)
{
    const int32_t n_px = g->out_h * g->out_w;
    const int32_t cout = g->out_c;
    const bool pointwise = g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
                           g->pad_top == 0 && g->pad_left == 0 && g->out_h == g->in_h &&
                           g->out_w == g->in_w;
    if (pointwise) {
        /* A matrix product: the input pixels are the columns already. */
        const int32_t cin = g->in_c;
        int32_t p = 0;
        for (; p + 1 < n_px; p += 2) {
            const int8_t *x0 = in + (size_t)p * (size_t)cin;
            nn_conv_2px(x0, x0 + cin, cin, weights, bias_folded, cout, q,
                        out + (size_t)p * (size_t)cout, out + (size_t)(p + 1) * (size_t)cout);
        }
        if (p < n_px) {
            const int8_t *x0 = in + (size_t)p * (size_t)cin;
            nn_conv_2px(x0, x0, cin, weights, bias_folded, cout, q,
                        out + (size_t)p * (size_t)cout, NULL);
        }
        return;
    }
    const int32_t n_k = g->k_h * g->k_w * g->in_c;
    int8_t *col0 = scratch;
    int8_t *col1 = scratch + n_k;
    int32_t oy = 0, ox = 0; /* raster position of pixel p, advanced without division */
    for (int32_t p = 0; p < n_px; p += 2) {
        const bool pair = p + 1 < n_px;
        nn_conv_im2col(g, in, (int8_t)q->in_zp, oy, ox, col0);
        if (++ox == g->out_w) {
            ox = 0;
            oy++;
        }
        if (pair) {
            nn_conv_im2col(g, in, (int8_t)q->in_zp, oy, ox, col1);
            if (++ox == g->out_w) {
                ox = 0;
                oy++;
            }
        }
        nn_conv_2px(col0, pair ? col1 : col0, n_k, weights, bias_folded, cout, q,
                    out + (size_t)p * (size_t)cout,
                    pair ? out + (size_t)(p + 1) * (size_t)cout : NULL);
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
    const uint64_t n = (uint64_t)(uint32_t)ph * (uint64_t)(uint32_t)pw;
    return n > NN_MAX_PLANE_BYTES ? UINT32_MAX : (((uint32_t)n + 3u) & ~3u);
}

#if defined(__GNUC__)
#define NN_INLINE static inline __attribute__((always_inline))
#else
#define NN_INLINE static inline
#endif

/* One channel's outputs from its padded plane. Inlined with constant kh, kw and horizontal
 * stride for the common cases, so the compiler unrolls the window, and two neighbouring outputs
 * are computed together: each weight is loaded once for both and, at stride 1, the columns they
 * share are loaded once. */
NN_INLINE void nn_dw_channel(const nn_conv_geom_t *g, const nn_quant_params_t *q,
                             const int8_t *plane, int32_t pw, const int8_t *wk, int32_t bias,
                             int32_t c, int8_t *out, const int32_t kh, const int32_t kw,
                             const int32_t sw)
{
    const int32_t sh = g->stride_h, c_n = g->out_c;
    const int32_t mult = q->mult[c], shift = q->shift[c];
    int8_t *op = out + c;
    for (int32_t oy = 0; oy < g->out_h; oy++) {
        const int8_t *base = plane + (size_t)(oy * sh) * (size_t)pw;
        int32_t ox = 0;
        for (; ox + 1 < g->out_w; ox += 2) {
            const int8_t *win = base + (size_t)(ox * sw);
            uint32_t acc0 = (uint32_t)bias, acc1 = (uint32_t)bias;
#pragma GCC unroll 8
            for (int32_t ky = 0; ky < kh; ky++) {
                const int8_t *row = win + (size_t)ky * (size_t)pw;
                const int8_t *wr = wk + ky * kw;
#pragma GCC unroll 8
                for (int32_t kx = 0; kx < kw; kx++) {
                    const int32_t w = wr[kx];
                    acc0 += (uint32_t)(row[kx] * w);
                    acc1 += (uint32_t)(row[kx + sw] * w);
                }
            }
            const int32_t v0 = nn_requant((int32_t)acc0, mult, shift) + q->out_zp;
            const int32_t v1 = nn_requant((int32_t)acc1, mult, shift) + q->out_zp;
            op[0] = (int8_t)nn_clamp(v0, q->act_min, q->act_max);
            op[c_n] = (int8_t)nn_clamp(v1, q->act_min, q->act_max);
            op += 2 * c_n;
        }
        if (ox < g->out_w) {
            const int8_t *win = base + (size_t)(ox * sw);
            uint32_t acc = (uint32_t)bias;
#pragma GCC unroll 8
            for (int32_t ky = 0; ky < kh; ky++) {
                const int8_t *row = win + (size_t)ky * (size_t)pw;
                const int8_t *wr = wk + ky * kw;
#pragma GCC unroll 8
                for (int32_t kx = 0; kx < kw; kx++) {
                    acc += (uint32_t)(row[kx] * wr[kx]);
                }
            }
            const int32_t v = nn_requant((int32_t)acc, mult, shift) + q->out_zp;
            *op = (int8_t)nn_clamp(v, q->act_min, q->act_max);
            op += c_n;
        }
    }
}

void nn_dwconv_s8(const nn_conv_geom_t *g, const nn_quant_params_t *q, const int8_t *in,
                  const int8_t *weights, const int32_t *bias_folded, int8_t *out, int8_t *scratch)
{
    const int32_t c_n = g->in_c;
    const int32_t kh = g->k_h, kw = g->k_w;
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
        const int32_t b = bias_folded[c];
        const int32_t k = kh == kw ? kh : 0;
        const int32_t sw = g->stride_w;
#define NN_DW_CASE(K, S)                                                                           \
    if (k == (K) && sw == (S)) {                                                                   \
        nn_dw_channel(g, q, scratch, pw, wk, b, c, out, (K), (K), (S));                            \
        continue;                                                                                  \
    }
        NN_DW_CASE(3, 1)
        NN_DW_CASE(3, 2)
        NN_DW_CASE(4, 2)
        NN_DW_CASE(5, 1)
        NN_DW_CASE(5, 2)
        NN_DW_CASE(6, 2)
        NN_DW_CASE(7, 1)
        NN_DW_CASE(7, 2)
        NN_DW_CASE(8, 2)
#undef NN_DW_CASE
        nn_dw_channel(g, q, scratch, pw, wk, b, c, out, kh, kw, sw);
    }
}
