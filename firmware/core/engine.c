/*
 * engine.c — runs a device model image (model_format.h): validation once at open, then a plain
 * loop over the op records calling the nn_* kernels on arena offsets.
 *
 * engine_open() checks everything the kernels will trust: the hash, each section inside the
 * image, each tensor and scratch buffer inside the arena the plan asks for, each op's shapes
 * against its kind and its constants inside the data section. After that the run loop does no
 * checks, so a corrupt or hostile image is refused before any kernel touches memory.
 */
#include "engine.h"

#include <stddef.h>
#include <string.h>

#include "hal.h"
#include "nn/nn_add.h"
#include "nn/nn_conv.h"
#include "nn/nn_fc.h"
#include "nn/nn_layout.h"
#include "nn/nn_pool.h"
#include "nn/nn_requant.h"
#include "sha256.h"

const char *engine_strerror(engine_status_t st)
{
    switch (st) {
    case ENGINE_OK: return "ok";
    case ENGINE_EFORMAT: return "not a valid model image";
    case ENGINE_EHASH: return "model image hash mismatch";
    case ENGINE_EARENA: return "arena too small for the model";
    case ENGINE_EALIGN: return "image or arena not 4-byte aligned";
    case ENGINE_ESTATE: return "stage 2 needs a stage 1 on the current input";
    case ENGINE_EARG: return "missing argument";
    }
    return "unknown engine error";
}

static void engine_geom(const mt_op_t *op, const mt_tensor_t *in, const mt_tensor_t *out,
                        nn_conv_geom_t *g);

/* ---- validation ---- */

typedef struct {
    const mt_model_header_t *hdr;
    const mt_tensor_t *tensors;
    const mt_op_t *ops;
    uint32_t image_bytes;
} engine_view_t;

static bool engine_range_ok(uint64_t off, uint64_t len, uint64_t limit)
{
    return off <= limit && len <= limit - off;
}

/* Constant data of len bytes at off: inside the data section and 4-aligned. */
static bool engine_data_ok(const engine_view_t *v, uint32_t off, uint64_t len)
{
    const mt_model_header_t *h = v->hdr;
    return off >= h->data_off && (off & 3u) == 0 &&
           engine_range_ok(off - h->data_off, len, h->data_bytes);
}

static bool engine_shifts_ok(const uint8_t *image, uint32_t off, uint32_t n)
{
    const int32_t *s = (const int32_t *)(const void *)(image + off);
    for (uint32_t i = 0; i < n; i++) {
        if (s[i] < -31 || s[i] > 30) {
            return false;
        }
    }
    return true;
}

static bool engine_shift_ok(int32_t s)
{
    return s >= -31 && s <= 30;
}

static bool engine_tensor_ok(const mt_tensor_t *t, uint32_t arena_bytes)
{
    uint64_t n = 1;
    for (int i = 0; i < 4; i++) {
        if (t->shape[i] < 1 || t->shape[i] > 65535) {
            return false;
        }
        n *= (uint64_t)t->shape[i];
    }
    return t->rank >= 1 && t->rank <= 4 && n == t->bytes &&
           engine_range_ok(t->arena_off, t->bytes, arena_bytes);
}

static bool engine_conv_like_ok(const engine_view_t *v, const mt_op_t *op, const mt_tensor_t *in,
                                const mt_tensor_t *out, const uint8_t *image)
{
    const int32_t kh = op->p[0], kw = op->p[1], sh = op->p[2], sw = op->p[3];
    const int32_t pt = op->p[4], pl = op->p[5];
    if (in->shape[0] != 1 || out->shape[0] != 1 || kh < 1 || kw < 1 || kh > NN_MAX_KERNEL ||
        kw > NN_MAX_KERNEL || sh < 1 || sw < 1 || sh > NN_MAX_STRIDE || sw > NN_MAX_STRIDE ||
        pt < 0 || pl < 0 || pt >= kh || pl >= kw) {
        return false;
    }
    /* Every window must touch the image (the avg pool divides by the count of inside taps). */
    const int64_t last_y = (int64_t)(out->shape[1] - 1) * sh - pt;
    const int64_t last_x = (int64_t)(out->shape[2] - 1) * sw - pl;
    if (last_y >= in->shape[1] || last_x >= in->shape[2]) {
        return false;
    }
    /* The depthwise plane (rows x cols of one channel) must stay a small scratch buffer. */
    const int64_t plane_h = last_y + pt + kh > pt + in->shape[1] ? last_y + pt + kh
                                                                 : pt + in->shape[1];
    const int64_t plane_w = last_x + pl + kw > pl + in->shape[2] ? last_x + pl + kw
                                                                 : pl + in->shape[2];
    if (plane_h * plane_w > (int64_t)NN_MAX_PLANE_BYTES) {
        return false;
    }
    const uint32_t cout = (uint32_t)out->shape[3];
    const uint32_t cin = (uint32_t)in->shape[3];
    if (op->kind == MT_OP_AVGPOOL) {
        return cin == cout && op->act_min <= op->act_max;
    }
    uint64_t wbytes;
    if (op->kind == MT_OP_DWCONV) {
        if (cin != cout) {
            return false;
        }
        wbytes = (uint64_t)kh * (uint64_t)kw * cout;
    } else {
        wbytes = (uint64_t)cout * (uint64_t)kh * (uint64_t)kw * cin;
    }
    const bool pointwise = op->kind == MT_OP_CONV && kh == 1 && kw == 1 && sh == 1 && sw == 1 &&
                           pt == 0 && pl == 0 && out->shape[1] == in->shape[1] &&
                           out->shape[2] == in->shape[2];
    if (op->kind == MT_OP_DWCONV) {
        nn_conv_geom_t g;
        engine_geom(op, in, out, &g);
        if (op->scratch_bytes < nn_dwconv_scratch_bytes(&g)) {
            return false;
        }
    } else if (!pointwise) {
        nn_conv_geom_t g;
        engine_geom(op, in, out, &g);
        if (op->scratch_bytes < nn_conv_scratch_bytes(&g)) {
            return false;
        }
    }
    return engine_data_ok(v, op->weights_off, wbytes) &&
           engine_data_ok(v, op->bias_off, 4ull * cout) &&
           engine_data_ok(v, op->mult_off, 4ull * cout) &&
           engine_data_ok(v, op->shift_off, 4ull * cout) &&
           engine_shifts_ok(image, op->shift_off, cout) && op->act_min <= op->act_max &&
           op->act_min >= -128 && op->act_max <= 127;
}

static bool engine_op_ok(const engine_view_t *v, const mt_op_t *op, const uint8_t *image,
                         uint32_t arena_bytes)
{
    const uint32_t nt = v->hdr->n_tensors;
    if (op->kind < MT_OP_CONV || op->kind > MT_OP_KIND_MAX || op->in0 >= nt || op->out >= nt) {
        return false;
    }
    if (op->scratch_bytes > 0 &&
        (!engine_range_ok(op->scratch_off, op->scratch_bytes, arena_bytes) ||
         (op->scratch_off & 3u) != 0)) {
        return false;
    }
    const mt_tensor_t *in = &v->tensors[op->in0];
    const mt_tensor_t *out = &v->tensors[op->out];
    switch ((mt_op_kind_t)op->kind) {
    case MT_OP_CONV:
    case MT_OP_DWCONV:
    case MT_OP_AVGPOOL:
        return engine_conv_like_ok(v, op, in, out, image);
    case MT_OP_FC: {
        const int32_t n_in = op->p[0], n_out = op->p[1];
        if (n_in < 1 || n_out < 1 || in->bytes % (uint32_t)n_in != 0 ||
            (uint64_t)(in->bytes / (uint32_t)n_in) * (uint32_t)n_out != out->bytes) {
            return false;
        }
        return engine_data_ok(v, op->weights_off, (uint64_t)n_in * (uint64_t)n_out) &&
               engine_data_ok(v, op->bias_off, 4ull * (uint32_t)n_out) &&
               engine_data_ok(v, op->mult_off, 4ull * (uint32_t)n_out) &&
               engine_data_ok(v, op->shift_off, 4ull * (uint32_t)n_out) &&
               engine_shifts_ok(image, op->shift_off, (uint32_t)n_out) &&
               op->act_min <= op->act_max && op->act_min >= -128 && op->act_max <= 127;
    }
    case MT_OP_ADD: {
        if (op->in1 >= nt) {
            return false;
        }
        const mt_tensor_t *in2 = &v->tensors[op->in1];
        return in->bytes == out->bytes && in2->bytes == out->bytes && op->p[0] >= 0 &&
               op->p[0] <= 20 && engine_shift_ok(op->p[2]) && engine_shift_ok(op->p[4]) &&
               engine_shift_ok(op->p[6]) && op->act_min <= op->act_max;
    }
    case MT_OP_MEAN: {
        nn_mean_params_t mp;
        memcpy(mp.in_shape, in->shape, sizeof mp.in_shape);
        for (int i = 0; i < 4; i++) {
            mp.reduce[i] = (uint8_t)((op->p[1] >> i) & 1);
        }
        const uint32_t n_out = nn_mean_out_count(&mp);
        return op->p[0] == 0 && (op->p[1] & ~0xF) == 0 && n_out == out->bytes &&
               op->scratch_bytes >= 4ull * n_out && engine_shift_ok(op->p[3]);
    }
    case MT_OP_PAD:
        for (int i = 0; i < 4; i++) {
            if (op->p[i] < 0 || op->p[4 + i] < 0 ||
                (int64_t)in->shape[i] + op->p[i] + op->p[4 + i] != out->shape[i]) {
                return false;
            }
        }
        return true;
    case MT_OP_TRANSPOSE: {
        uint32_t seen = 0;
        for (int i = 0; i < 4; i++) {
            if (op->p[i] < 0 || op->p[i] > 3 || out->shape[i] != in->shape[op->p[i]]) {
                return false;
            }
            seen |= 1u << op->p[i];
        }
        return seen == 0xFu;
    }
    case MT_OP_COPY:
        return in->bytes == out->bytes;
    }
    return false;
}

static engine_status_t engine_validate(const uint8_t *image, uint32_t image_bytes,
                                       engine_view_t *v)
{
    if (image == NULL) {
        return ENGINE_EARG;
    }
    if (((uintptr_t)image & 3u) != 0) {
        return ENGINE_EALIGN;
    }
    if (image_bytes < MT_MODEL_HEADER_BYTES + MT_MODEL_HASH_BYTES) {
        return ENGINE_EFORMAT;
    }
    const mt_model_header_t *h = (const mt_model_header_t *)(const void *)image;
    if (h->magic != MT_MODEL_MAGIC || h->version != MT_MODEL_VERSION ||
        h->header_bytes != MT_MODEL_HEADER_BYTES || h->image_bytes != image_bytes) {
        return ENGINE_EFORMAT;
    }
    uint8_t digest[SHA256_DIGEST_BYTES];
    sha256(image, image_bytes - MT_MODEL_HASH_BYTES, digest);
    if (memcmp(digest, image + image_bytes - MT_MODEL_HASH_BYTES, SHA256_DIGEST_BYTES) != 0) {
        return ENGINE_EHASH;
    }
    const uint32_t body = image_bytes - MT_MODEL_HASH_BYTES;
    if (h->n_tensors == 0 || h->n_tensors > MT_MODEL_MAX_TENSORS || h->n_ops == 0 ||
        h->n_ops > MT_MODEL_MAX_OPS || h->stage1_ops == 0 || h->stage1_ops > h->n_ops ||
        (h->tensors_off & 3u) || (h->ops_off & 3u) || (h->data_off & 3u) ||
        !engine_range_ok(h->tensors_off, (uint64_t)h->n_tensors * sizeof(mt_tensor_t), body) ||
        !engine_range_ok(h->ops_off, (uint64_t)h->n_ops * sizeof(mt_op_t), body) ||
        !engine_range_ok(h->data_off, h->data_bytes, body) ||
        h->arena_stage1_bytes > h->arena_bytes) {
        return ENGINE_EFORMAT;
    }
    v->hdr = h;
    v->tensors = (const mt_tensor_t *)(const void *)(image + h->tensors_off);
    v->ops = (const mt_op_t *)(const void *)(image + h->ops_off);
    v->image_bytes = image_bytes;
    for (uint32_t i = 0; i < h->n_tensors; i++) {
        if (!engine_tensor_ok(&v->tensors[i], h->arena_bytes)) {
            return ENGINE_EFORMAT;
        }
    }
    const uint32_t nt = h->n_tensors;
    if (h->input_tensor >= nt || h->cut_tensor >= nt || h->part_tensor >= nt ||
        h->full_tensor >= nt || (h->output_tensor != MT_MODEL_NONE && h->output_tensor >= nt) ||
        ((h->flags & MT_MODEL_F_CLASSIFIER) != 0) != (h->output_tensor != MT_MODEL_NONE)) {
        return ENGINE_EFORMAT;
    }
    for (uint32_t i = 0; i < h->n_ops; i++) {
        const mt_op_t *op = &v->ops[i];
        /* Stage 1 runs in the first arena_stage1_bytes: its buffers must lie there. */
        const uint32_t limit = i < h->stage1_ops ? h->arena_stage1_bytes : h->arena_bytes;
        if (!engine_op_ok(v, op, image, limit)) {
            return ENGINE_EFORMAT;
        }
        if (i < h->stage1_ops) {
            const mt_tensor_t *a = &v->tensors[op->in0];
            const mt_tensor_t *b = &v->tensors[op->out];
            if (a->arena_off + a->bytes > limit || b->arena_off + b->bytes > limit ||
                (op->in1 != MT_MODEL_NONE && op->in1 < nt &&
                 v->tensors[op->in1].arena_off + v->tensors[op->in1].bytes > limit)) {
                return ENGINE_EFORMAT;
            }
        }
    }
    /* The part pool closes stage 1 and the input is in stage 1's part of the arena. */
    if (v->ops[h->stage1_ops - 1].out != h->part_tensor ||
        v->tensors[h->input_tensor].arena_off + v->tensors[h->input_tensor].bytes >
            h->arena_stage1_bytes) {
        return ENGINE_EFORMAT;
    }
    return ENGINE_OK;
}

engine_status_t engine_check_image(const uint8_t *image, uint32_t image_bytes,
                                   uint32_t *arena_bytes_needed)
{
    engine_view_t v;
    const engine_status_t st = engine_validate(image, image_bytes, &v);
    if (arena_bytes_needed) {
        *arena_bytes_needed = st == ENGINE_OK ? v.hdr->arena_bytes : 0;
    }
    return st;
}

engine_status_t engine_open(engine_t *e, const uint8_t *image, uint32_t image_bytes, uint8_t *arena,
                            uint32_t arena_bytes)
{
    if (e == NULL || arena == NULL) {
        return ENGINE_EARG;
    }
    memset(e, 0, sizeof *e);
    if (((uintptr_t)arena & 3u) != 0) {
        return ENGINE_EALIGN;
    }
    engine_view_t v;
    const engine_status_t st = engine_validate(image, image_bytes, &v);
    if (st != ENGINE_OK) {
        return st;
    }
    if (arena_bytes < v.hdr->arena_bytes) {
        return ENGINE_EARENA;
    }
    e->image = image;
    e->image_bytes = image_bytes;
    e->hdr = v.hdr;
    e->tensors = v.tensors;
    e->ops = v.ops;
    e->arena = arena;
    e->arena_bytes = arena_bytes;
    e->open = true;
    return ENGINE_OK;
}

/* ---- running ---- */

static inline int8_t *engine_t_data(const engine_t *e, uint32_t t)
{
    return (int8_t *)(e->arena + e->tensors[t].arena_off);
}

static inline const void *engine_const(const engine_t *e, uint32_t off)
{
    return e->image + off;
}

static void engine_geom(const mt_op_t *op, const mt_tensor_t *in, const mt_tensor_t *out,
                        nn_conv_geom_t *g)
{
    g->in_h = in->shape[1];
    g->in_w = in->shape[2];
    g->in_c = in->shape[3];
    g->out_h = out->shape[1];
    g->out_w = out->shape[2];
    g->out_c = out->shape[3];
    g->k_h = op->p[0];
    g->k_w = op->p[1];
    g->stride_h = op->p[2];
    g->stride_w = op->p[3];
    g->pad_top = op->p[4];
    g->pad_left = op->p[5];
}

static void engine_run_op(engine_t *e, const mt_op_t *op)
{
    const mt_tensor_t *tin = &e->tensors[op->in0];
    const mt_tensor_t *tout = &e->tensors[op->out];
    const int8_t *in = engine_t_data(e, op->in0);
    int8_t *out = engine_t_data(e, op->out);
    uint8_t *scratch = e->arena + op->scratch_off;
    switch ((mt_op_kind_t)op->kind) {
    case MT_OP_CONV:
    case MT_OP_DWCONV: {
        nn_conv_geom_t g;
        engine_geom(op, tin, tout, &g);
        const nn_quant_params_t q = {
            .in_zp = tin->zero_point, .out_zp = tout->zero_point,
            .act_min = op->act_min, .act_max = op->act_max,
            .mult = engine_const(e, op->mult_off), .shift = engine_const(e, op->shift_off),
        };
        if (op->kind == MT_OP_CONV) {
            nn_conv_s8(&g, &q, in, engine_const(e, op->weights_off), engine_const(e, op->bias_off),
                       out, (int8_t *)scratch);
        } else {
            nn_dwconv_s8(&g, &q, in, engine_const(e, op->weights_off),
                         engine_const(e, op->bias_off), out, (int8_t *)scratch);
        }
        break;
    }
    case MT_OP_FC: {
        const nn_quant_params_t q = {
            .in_zp = tin->zero_point, .out_zp = tout->zero_point,
            .act_min = op->act_min, .act_max = op->act_max,
            .mult = engine_const(e, op->mult_off), .shift = engine_const(e, op->shift_off),
        };
        const int32_t rows = (int32_t)(tin->bytes / (uint32_t)op->p[0]);
        nn_fc_s8(rows, op->p[0], op->p[1], &q, in, engine_const(e, op->weights_off),
                 engine_const(e, op->bias_off), out);
        break;
    }
    case MT_OP_ADD: {
        const mt_tensor_t *tin2 = &e->tensors[op->in1];
        const nn_add_params_t p = {
            .in1_zp = tin->zero_point, .in2_zp = tin2->zero_point, .out_zp = tout->zero_point,
            .left_shift = op->p[0],
            .in1_mult = op->p[1], .in1_shift = op->p[2],
            .in2_mult = op->p[3], .in2_shift = op->p[4],
            .out_mult = op->p[5], .out_shift = op->p[6],
            .act_min = op->act_min, .act_max = op->act_max,
        };
        nn_add_s8(&p, in, engine_t_data(e, op->in1), out, tout->bytes);
        break;
    }
    case MT_OP_AVGPOOL: {
        nn_conv_geom_t g;
        engine_geom(op, tin, tout, &g);
        nn_avgpool_s8(&g, op->act_min, op->act_max, in, out);
        break;
    }
    case MT_OP_MEAN: {
        nn_mean_params_t p;
        memcpy(p.in_shape, tin->shape, sizeof p.in_shape);
        for (int i = 0; i < 4; i++) {
            p.reduce[i] = (uint8_t)((op->p[1] >> i) & 1);
        }
        p.in_zp = tin->zero_point;
        p.out_zp = tout->zero_point;
        p.mult = op->p[2];
        p.shift = op->p[3];
        nn_mean_s8(&p, in, out, (int32_t *)(void *)scratch);
        break;
    }
    case MT_OP_PAD:
        nn_pad_s8(tin->shape, &op->p[0], &op->p[4], (int8_t)tout->zero_point, in, out);
        break;
    case MT_OP_TRANSPOSE:
        nn_transpose_s8(tin->shape, &op->p[0], in, out);
        break;
    case MT_OP_COPY:
        if (out != in) {
            memmove(out, in, tout->bytes);
        }
        break;
    }
}

static void engine_run_range(engine_t *e, uint32_t first, uint32_t end, int stage)
{
    uint64_t total = 0;
    for (uint32_t i = first; i < end; i++) {
        const mt_op_t *op = &e->ops[i];
        const uint64_t t0 = hal_cycles();
        engine_run_op(e, op);
        const uint64_t dt = hal_cycles() - t0;
        e->op_cycles[i] = dt;
        total += dt;
        if (e->hook) {
            e->hook(e->hook_ctx, i, op->out, engine_t_data(e, op->out), e->tensors[op->out].bytes);
        }
    }
    e->stage_cycles[stage] = total;
}

static void engine_dequant(const engine_t *e, uint32_t t, float *dst)
{
    const mt_tensor_t *tt = &e->tensors[t];
    const int8_t *q = engine_t_data(e, t);
    for (uint32_t i = 0; i < tt->bytes; i++) {
        /* Exact product rounded once: matches TFLite's DEQUANTIZE. */
        dst[i] = tt->scale * (float)(q[i] - tt->zero_point);
    }
}

int8_t *engine_input(engine_t *e, uint32_t *bytes)
{
    if (e == NULL || !e->open) {
        if (bytes) {
            *bytes = 0;
        }
        return NULL;
    }
    e->stage1_done = false;
    if (bytes) {
        *bytes = e->tensors[e->hdr->input_tensor].bytes;
    }
    return engine_t_data(e, e->hdr->input_tensor);
}

void engine_input_quant(const engine_t *e, float *scale, int32_t *zero_point)
{
    const mt_tensor_t *t = &e->tensors[e->hdr->input_tensor];
    if (scale) {
        *scale = t->scale;
    }
    if (zero_point) {
        *zero_point = t->zero_point;
    }
}

engine_status_t engine_set_input_f32(engine_t *e, const float *values, uint32_t n)
{
    if (e == NULL || values == NULL) {
        return ENGINE_EARG;
    }
    uint32_t bytes = 0;
    int8_t *dst = engine_input(e, &bytes);
    if (dst == NULL) {
        return ENGINE_ESTATE;
    }
    if (n != bytes) {
        return ENGINE_EARG;
    }
    const mt_tensor_t *t = &e->tensors[e->hdr->input_tensor];
    for (uint32_t i = 0; i < n; i++) {
        float r = values[i] / t->scale;
        /* Round half away from zero without libm; far values saturate anyway. */
        if (r > 1.0e6f) {
            r = 1.0e6f;
        } else if (r < -1.0e6f) {
            r = -1.0e6f;
        }
        int32_t q = (int32_t)r;            /* truncates toward zero */
        const float frac = r - (float)q;   /* exact for |r| < 2^24 */
        if (frac >= 0.5f) {
            q += 1;
        } else if (frac <= -0.5f) {
            q -= 1;
        }
        dst[i] = (int8_t)nn_clamp_i8(q + t->zero_point);
    }
    return ENGINE_OK;
}

engine_status_t engine_run_stage1(engine_t *e, float *part_feature)
{
    if (e == NULL || !e->open) {
        return e == NULL ? ENGINE_EARG : ENGINE_ESTATE;
    }
    engine_run_range(e, 0, e->hdr->stage1_ops, 0);
    e->stage1_done = true;
    if (part_feature) {
        engine_dequant(e, e->hdr->part_tensor, part_feature);
    }
    return ENGINE_OK;
}

engine_status_t engine_run_stage2(engine_t *e, float *full_feature)
{
    if (e == NULL || !e->open) {
        return e == NULL ? ENGINE_EARG : ENGINE_ESTATE;
    }
    if (!e->stage1_done) {
        return ENGINE_ESTATE;
    }
    engine_run_range(e, e->hdr->stage1_ops, e->hdr->n_ops, 1);
    /* Stage 2 overwrote stage 1's activations: a second stage 2 needs a new stage 1. */
    e->stage1_done = false;
    if (full_feature) {
        engine_dequant(e, e->hdr->full_tensor, full_feature);
    }
    return ENGINE_OK;
}

uint32_t engine_part_dim(const engine_t *e)
{
    return e && e->open ? e->tensors[e->hdr->part_tensor].bytes : 0;
}

uint32_t engine_full_dim(const engine_t *e)
{
    return e && e->open ? e->tensors[e->hdr->full_tensor].bytes : 0;
}

const int8_t *engine_tensor(const engine_t *e, uint32_t tensor_index, uint32_t *bytes)
{
    if (e == NULL || !e->open || tensor_index >= e->hdr->n_tensors) {
        return NULL;
    }
    if (bytes) {
        *bytes = e->tensors[tensor_index].bytes;
    }
    return engine_t_data(e, tensor_index);
}

const int8_t *engine_output(const engine_t *e, uint32_t *bytes, float *scale, int32_t *zero_point)
{
    if (e == NULL || !e->open || e->hdr->output_tensor == MT_MODEL_NONE) {
        return NULL;
    }
    const mt_tensor_t *t = &e->tensors[e->hdr->output_tensor];
    if (scale) {
        *scale = t->scale;
    }
    if (zero_point) {
        *zero_point = t->zero_point;
    }
    return engine_tensor(e, e->hdr->output_tensor, bytes);
}

uint32_t engine_op_count(const engine_t *e)
{
    return e && e->open ? e->hdr->n_ops : 0;
}

engine_status_t engine_op_cost(const engine_t *e, uint32_t op_index, engine_op_cost_t *cost)
{
    if (e == NULL || cost == NULL || !e->open || op_index >= e->hdr->n_ops) {
        return ENGINE_EARG;
    }
    cost->kind = e->ops[op_index].kind;
    cost->macs = e->ops[op_index].macs;
    cost->cycles = e->op_cycles[op_index];
    return ENGINE_OK;
}

void engine_stage_cost(const engine_t *e, int stage, uint64_t *macs, uint64_t *cycles)
{
    uint64_t m = 0, c = 0;
    if (e && e->open && (stage == 1 || stage == 2)) {
        const uint32_t first = stage == 1 ? 0 : e->hdr->stage1_ops;
        const uint32_t end = stage == 1 ? e->hdr->stage1_ops : e->hdr->n_ops;
        for (uint32_t i = first; i < end; i++) {
            m += e->ops[i].macs;
        }
        c = e->stage_cycles[stage - 1];
    }
    if (macs) {
        *macs = m;
    }
    if (cycles) {
        *cycles = c;
    }
}

void engine_set_hook(engine_t *e, engine_op_hook_t hook, void *ctx)
{
    if (e) {
        e->hook = hook;
        e->hook_ctx = ctx;
    }
}
