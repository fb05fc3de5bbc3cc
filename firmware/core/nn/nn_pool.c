/*
 * nn_pool.c — portable int8 AVERAGE_POOL_2D and MEAN (see nn_pool.h).
 */
#include "nn/nn_pool.h"

#include <stddef.h>

#include "nn/nn_requant.h"

void nn_avgpool_s8(const nn_conv_geom_t *g, int32_t act_min, int32_t act_max, const int8_t *in,
                   int8_t *out)
{
    const int32_t c_n = g->in_c;
    for (int32_t oy = 0; oy < g->out_h; oy++) {
        const int32_t iy0 = oy * g->stride_h - g->pad_top;
        const int32_t ky0 = iy0 < 0 ? -iy0 : 0;
        const int32_t ky1 = g->in_h - iy0 < g->k_h ? g->in_h - iy0 : g->k_h;
        for (int32_t ox = 0; ox < g->out_w; ox++) {
            const int32_t ix0 = ox * g->stride_w - g->pad_left;
            const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
            const int32_t kx1 = g->in_w - ix0 < g->k_w ? g->in_w - ix0 : g->k_w;
            const int32_t count = (ky1 - ky0) * (kx1 - kx0);
            for (int32_t c = 0; c < c_n; c++) {
                int32_t acc = 0;
                for (int32_t ky = ky0; ky < ky1; ky++) {
                    const int8_t *row = in + ((size_t)(iy0 + ky) * (size_t)g->in_w) * (size_t)c_n;
                    for (int32_t kx = kx0; kx < kx1; kx++) {
                        acc += row[(size_t)(ix0 + kx) * (size_t)c_n + (size_t)c];
                    }
                }
                /* count >= 1: the importer refuses windows that can miss the image. */
                acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                *out++ = (int8_t)nn_clamp(acc, act_min, act_max);
            }
        }
    }
}

uint32_t nn_mean_out_count(const nn_mean_params_t *p)
{
    uint32_t n = 1;
    for (int i = 0; i < 4; i++) {
        if (!p->reduce[i]) {
            n *= (uint32_t)p->in_shape[i];
        }
    }
    return n;
}

void nn_mean_s8(const nn_mean_params_t *p, const int8_t *in, int8_t *out, int32_t *scratch)
{
    const int32_t *d = p->in_shape;
    /* Output strides of the kept axes (row-major over kept axes), 0 for reduced ones. */
    int32_t ostride[4];
    int32_t s = 1;
    int32_t count = 1;
    for (int i = 3; i >= 0; i--) {
        if (p->reduce[i]) {
            ostride[i] = 0;
            count *= d[i];
        } else {
            ostride[i] = s;
            s *= d[i];
        }
    }
    const uint32_t n_out = nn_mean_out_count(p);
    for (uint32_t i = 0; i < n_out; i++) {
        scratch[i] = 0;
    }
    /* Global average pooling over H, W of [1, H, W, C] is the common case: one contiguous
     * channel row per pixel. */
    if (p->reduce[1] && p->reduce[2] && !p->reduce[3] && (p->reduce[0] || d[0] == 1)) {
        const int32_t n_px = d[0] * d[1] * d[2];
        const int32_t c_n = d[3];
        for (int32_t px = 0; px < n_px; px++) {
            const int8_t *row = in + (size_t)px * (size_t)c_n;
            for (int32_t c = 0; c < c_n; c++) {
                scratch[c] = (int32_t)((uint32_t)scratch[c] + (uint32_t)row[c]);
            }
        }
    } else {
        const int8_t *ip = in;
        for (int32_t i0 = 0; i0 < d[0]; i0++) {
            for (int32_t i1 = 0; i1 < d[1]; i1++) {
                for (int32_t i2 = 0; i2 < d[2]; i2++) {
                    int32_t *acc = scratch + i0 * ostride[0] + i1 * ostride[1] + i2 * ostride[2];
                    for (int32_t i3 = 0; i3 < d[3]; i3++) {
                        int32_t *a = &acc[i3 * ostride[3]];
                        *a = (int32_t)((uint32_t)*a + (uint32_t)*ip++);
                    }
                }
            }
        }
    }
    if (count <= 0) {
        return;
    }
    for (uint32_t i = 0; i < n_out; i++) {
        const int32_t shifted = (int32_t)((int64_t)scratch[i] - (int64_t)p->in_zp * count);
        const int32_t v = nn_clamp_i8(nn_requant(shifted, p->mult, p->shift) + p->out_zp);
        out[i] = (int8_t)v;
    }
}
