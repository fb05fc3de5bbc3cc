/*
 * model_import.c — .tflite -> device model image (see model_import.h for the contract).
 *
 * The work goes in passes over one import context:
 *   1. parse (tflite_reader), find the device input (past a float QUANTIZE), the model output
 *      (before a DEQUANTIZE), the full feature (input of the last FULLY_CONNECTED) and the cut;
 *   2. mark the ops each stage needs (stage 1: what the cut depends on; stage 2: the rest of what
 *      the full feature, or the output when the classifier is kept, depends on);
 *   3. lower each op in device order (stage 1, the part pool, stage 2), checking types, shapes and
 *      quantization, and computing its constants exactly as TFLite Micro's Prepare does;
 *   4. plan the arena: a buffer per tensor and per op scratch, lifetimes in device op order;
 *      ADD and RESHAPE write over an input that dies there, a depthwise conv writes from the
 *      start of its dying input, a conv may overlap its dying input at the distance its kernel
 *      allows (model_import_conv_overlap); buffers are placed greedily (TFLite Micro's
 *      GreedyMemoryPlanner idea) under several strategies, the smallest peak kept;
 *   5. serialize with the SHA-256 of the whole.
 * Errors name the .tflite op (index and builtin) and tensor at fault.
 */
#include "import/model_import.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/tflite_reader.h"
#include "mt_err.h"
#include "nn/nn_conv.h"
#include "nn/nn_pool.h"
#include "sha256.h"

#define MI_ARENA_ALIGN 4u

/* Fused activation codes of the schema. */
enum { MI_ACT_NONE = 0, MI_ACT_RELU = 1, MI_ACT_RELU_N1_TO_1 = 2, MI_ACT_RELU6 = 3 };

typedef struct {
    uint8_t *p;
    size_t len, cap;
} mi_buf_t;

typedef struct {
    int32_t src;               /* .tflite tensor, -1 for the part feature */
    int32_t shape[4];
    uint32_t rank, bytes;
    float scale;
    int32_t zp;
    int32_t buffer;            /* planner buffer */
    int32_t def_op, last_op;   /* device op indices; def -1 = written by the caller */
} mi_tensor_t;

typedef struct {
    uint32_t bytes;
    int32_t first, last;       /* device op interval where the buffer is live */
    uint32_t offset;           /* arena offset, once placed */
    int32_t placed;
    /* Pointwise overlap (see mi_plan_once): this buffer may overlap partner[k] in time and space
     * when it sits exactly rel[k] bytes after it. */
    int32_t partner[4];
    int32_t rel[4];
    int32_t n_partners;
} mi_buffer_t;

typedef struct {
    mt_op_t rec;
    model_import_op_t info;
    uint32_t scratch_need;
    int32_t scratch_buffer;
} mi_op_t;

typedef struct {
    const tfl_model_t *m;
    const model_import_opts_t *opts;
    char *err;
    size_t err_len;
    int32_t *producer;         /* [n_tensors] .tflite op writing the tensor, -1 */
    int32_t *n_consumers;      /* [n_tensors] */
    int32_t *dev_of;           /* [n_tensors] device tensor, -1 */
    uint8_t *need;             /* [n_ops] 1 = stage 1, 2 = stage 2, 0 = not needed */
    uint8_t *folded;           /* [n_ops] PAD folded into its consumer, QUANTIZE/DEQUANTIZE at the ends */
    int32_t input_src, output_src, full_src, cut_src;
    uint32_t flags;
    mi_tensor_t *tensors;
    uint32_t n_tensors, cap_tensors;
    mi_op_t *ops;
    uint32_t n_ops, cap_ops, stage1_ops;
    mi_buffer_t *buffers;
    uint32_t n_buffers, cap_buffers;
    mi_buf_t data;             /* constant data section */
} mi_ctx_t;

static int mi_fail(mi_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mi_fail(mi_ctx_t *c, const char *fmt, ...)
{
    if (c->err && c->err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->err_len, fmt, ap);
        va_end(ap);
    }
    return MT_EINVAL;
}

static const char *mi_tname(const mi_ctx_t *c, int32_t t)
{
    return (t >= 0 && (uint32_t)t < c->m->n_tensors) ? c->m->tensors[t].name : "?";
}

const char *model_import_kind_name(uint32_t kind)
{
    switch (kind) {
    case MT_OP_CONV: return "conv";
    case MT_OP_DWCONV: return "dwconv";
    case MT_OP_FC: return "fc";
    case MT_OP_ADD: return "add";
    case MT_OP_AVGPOOL: return "avgpool";
    case MT_OP_MEAN: return "mean";
    case MT_OP_PAD: return "pad";
    case MT_OP_TRANSPOSE: return "transpose";
    case MT_OP_COPY: return "copy";
    }
    return "?";
}

/* ---- TFLite's quantization arithmetic (host side, doubles as in TFLite's Prepare) ---- */

void model_import_quantize_multiplier(double real, int32_t *q, int32_t *shift)
{
    if (real == 0.0) {
        *q = 0;
        *shift = 0;
        return;
    }
    int exp = 0;
    const double frac = frexp(real, &exp);
    int64_t q_fixed = (int64_t)round(frac * (double)(1ll << 31));
    if (q_fixed == (1ll << 31)) {
        q_fixed /= 2;
        exp++;
    }
    if (exp < -31) {
        exp = 0;
        q_fixed = 0;
    }
    *q = (int32_t)q_fixed;
    *shift = exp;
}

void model_import_mean_multiplier(double real, int32_t count, int32_t *q, int32_t *shift)
{
    int32_t mult, sh;
    model_import_quantize_multiplier(real, &mult, &sh);
    if (count < 1) {
        *q = mult;
        *shift = sh;
        return;
    }
    /* TFLite Micro's QuantizedMeanOrSum: shift up by floor(log2(count)) (at most 32, and not
     * below a total shift of -31), then divide the significand by the count. */
    int s = 63 - __builtin_clzll((unsigned long long)count);
    if (s > 32) {
        s = 32;
    }
    if (s > 31 + sh) {
        s = 31 + sh;
    }
    *q = (int32_t)(((int64_t)mult << s) / count);
    *shift = sh - s;
}

/* zp + round(f / scale) as TFLite's activation range computes it (float division, round half
 * away from zero), saturated far outside int8 so that odd scales cannot overflow. */
static int32_t mi_quantize_value(float f, float scale, int32_t zp)
{
    float q = roundf(f / scale);
    if (!(q > -1.0e6f)) {
        q = -1.0e6f;
    } else if (q > 1.0e6f) {
        q = 1.0e6f;
    }
    return zp + (int32_t)q;
}

/* CalculateActivationRangeQuantized for int8 outputs. */
static int mi_act_range(mi_ctx_t *c, int32_t act, float scale, int32_t zp, int32_t *lo,
                        int32_t *hi, int32_t src_op)
{
    *lo = -128;
    *hi = 127;
#define MI_Q(f) mi_quantize_value((f), scale, zp)
    switch (act) {
    case MI_ACT_NONE:
        break;
    case MI_ACT_RELU:
        *lo = MI_Q(0.0f) > -128 ? MI_Q(0.0f) : -128;
        break;
    case MI_ACT_RELU6:
        *lo = MI_Q(0.0f) > -128 ? MI_Q(0.0f) : -128;
        *hi = MI_Q(6.0f) < 127 ? MI_Q(6.0f) : 127;
        break;
    case MI_ACT_RELU_N1_TO_1:
        *lo = MI_Q(-1.0f) > -128 ? MI_Q(-1.0f) : -128;
        *hi = MI_Q(1.0f) < 127 ? MI_Q(1.0f) : 127;
        break;
    default:
        return mi_fail(c, "op %d (%s): fused activation %d is not supported", src_op,
                       tfl_builtin_name(c->m->ops[src_op].builtin_code), act);
    }
#undef MI_Q
    if (*lo > *hi) {
        return mi_fail(c, "op %d: empty activation range", src_op);
    }
    return MT_OK;
}

/* ---- small growable arrays ---- */

static int mi_grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) {
        return MT_OK;
    }
    uint32_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need) {
        ncap *= 2;
    }
    void *np = realloc(*p, (size_t)ncap * elem);
    if (np == NULL) {
        return MT_ENOMEM;
    }
    memset((uint8_t *)np + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *p = np;
    *cap = ncap;
    return MT_OK;
}

/* Appends len bytes (or zeros when src is NULL) to the data section, 8-aligned; returns the
 * offset inside the data section or -1. */
static int64_t mi_data_add(mi_ctx_t *c, const void *src, size_t len)
{
    size_t off = (c->data.len + 7u) & ~(size_t)7u;
    size_t need = off + len;
    if (need > 64u * 1024u * 1024u) {
        return -1;
    }
    if (need > c->data.cap) {
        size_t ncap = c->data.cap ? c->data.cap : 4096;
        while (ncap < need) {
            ncap *= 2;
        }
        uint8_t *np = realloc(c->data.p, ncap);
        if (np == NULL) {
            return -1;
        }
        c->data.p = np;
        c->data.cap = ncap;
    }
    memset(c->data.p + c->data.len, 0, off - c->data.len);
    if (src) {
        memcpy(c->data.p + off, src, len);
    } else {
        memset(c->data.p + off, 0, len);
    }
    c->data.len = need;
    return (int64_t)off;
}

/* ---- tensors ---- */

static bool mi_per_tensor_quant(const tfl_tensor_t *t)
{
    return t->quant.count == 1 && t->quant.scale != NULL && t->quant.zero_point != NULL &&
           t->quant.scale[0] > 0.0f && isfinite(t->quant.scale[0]);
}

/* Device tensor for a .tflite activation tensor (created on first use). */
static int mi_dev_tensor(mi_ctx_t *c, int32_t src, int32_t src_op, int32_t *out)
{
    if (src < 0 || (uint32_t)src >= c->m->n_tensors) {
        return mi_fail(c, "op %d: missing tensor", src_op);
    }
    if (c->dev_of[src] >= 0) {
        *out = c->dev_of[src];
        return MT_OK;
    }
    const tfl_tensor_t *t = &c->m->tensors[src];
    if (t->type != TFL_TYPE_INT8) {
        return mi_fail(c, "op %d (%s): tensor '%s' is %s, the engine runs int8 activations", src_op,
                       src_op >= 0 ? tfl_builtin_name(c->m->ops[src_op].builtin_code) : "input",
                       t->name, tfl_type_name(t->type));
    }
    if (t->data != NULL) {
        return mi_fail(c, "op %d: activation '%s' is a constant", src_op, t->name);
    }
    if (!mi_per_tensor_quant(t)) {
        return mi_fail(c, "tensor '%s' needs one scale and zero point", t->name);
    }
    if (t->rank < 1 || t->rank > 4) {
        return mi_fail(c, "tensor '%s' has rank %u (1..4 supported)", t->name, t->rank);
    }
    if (t->quant.zero_point[0] < -128 || t->quant.zero_point[0] > 127) {
        return mi_fail(c, "tensor '%s': zero point out of int8 range", t->name);
    }
    if (c->n_tensors >= MT_MODEL_MAX_TENSORS) {
        return mi_fail(c, "too many tensors");
    }
    int rc = mi_grow((void **)&c->tensors, &c->cap_tensors, c->n_tensors + 1, sizeof(mi_tensor_t));
    if (rc) {
        return rc;
    }
    mi_tensor_t *d = &c->tensors[c->n_tensors];
    memset(d, 0, sizeof *d);
    d->src = src;
    d->rank = t->rank;
    uint64_t n = 1;
    for (int i = 0; i < 4; i++) {
        const int si = (int)i - (4 - (int)t->rank);
        d->shape[i] = si >= 0 ? t->shape[si] : 1;
        if (d->shape[i] < 1 || d->shape[i] > 65535) {
            return mi_fail(c, "tensor '%s' has an empty or oversized dimension", t->name);
        }
        n *= (uint64_t)d->shape[i];
    }
    if (n > 16u * 1024u * 1024u) {
        return mi_fail(c, "tensor '%s' is too large", t->name);
    }
    d->bytes = (uint32_t)n;
    d->scale = t->quant.scale[0];
    d->zp = (int32_t)t->quant.zero_point[0];
    d->buffer = -1;
    d->def_op = -1;
    d->last_op = -1;
    c->dev_of[src] = (int32_t)c->n_tensors;
    *out = (int32_t)c->n_tensors++;
    return MT_OK;
}

/* A constant input of op src_op, of the given type, with data. */
static int mi_const(mi_ctx_t *c, int32_t src_op, uint32_t input, int32_t type, bool optional,
                    const tfl_tensor_t **out)
{
    const tfl_op_t *op = &c->m->ops[src_op];
    *out = NULL;
    if (input >= op->n_inputs || op->inputs[input] < 0) {
        if (optional) {
            return MT_OK;
        }
        return mi_fail(c, "op %d (%s): input %u is missing", src_op,
                       tfl_builtin_name(op->builtin_code), input);
    }
    const tfl_tensor_t *t = &c->m->tensors[op->inputs[input]];
    if (t->type != type) {
        return mi_fail(c, "op %d (%s): tensor '%s' is %s, expected %s", src_op,
                       tfl_builtin_name(op->builtin_code), t->name, tfl_type_name(t->type),
                       tfl_type_name(type));
    }
    size_t n = 1;
    for (uint32_t i = 0; i < t->rank; i++) {
        n *= (size_t)t->shape[i];
    }
    if (t->data == NULL || t->data_bytes != n * tfl_type_bytes(type)) {
        return mi_fail(c, "op %d (%s): tensor '%s' must be a constant of %zu elements", src_op,
                       tfl_builtin_name(op->builtin_code), t->name, n);
    }
    *out = t;
    return MT_OK;
}

/* ---- ops ---- */

static int mi_new_op(mi_ctx_t *c, uint32_t kind, int32_t src_op, int stage, mi_op_t **out)
{
    if (c->n_ops >= MT_MODEL_MAX_OPS) {
        return mi_fail(c, "too many ops");
    }
    int rc = mi_grow((void **)&c->ops, &c->cap_ops, c->n_ops + 1, sizeof(mi_op_t));
    if (rc) {
        return rc;
    }
    mi_op_t *o = &c->ops[c->n_ops++];
    memset(o, 0, sizeof *o);
    o->rec.kind = kind;
    o->rec.in1 = MT_MODEL_NONE;
    o->rec.act_min = -128;
    o->rec.act_max = 127;
    o->rec.src_op = src_op >= 0 ? (uint32_t)src_op : MT_MODEL_NONE;
    o->info.kind = kind;
    o->info.src_op = src_op;
    o->info.src_name = src_op >= 0 ? tfl_builtin_name(c->m->ops[src_op].builtin_code) : "PART_POOL";
    o->info.stage = stage;
    o->scratch_buffer = -1;
    *out = o;
    return MT_OK;
}

static int mi_add_u32s(mi_ctx_t *c, const void *p, size_t n, uint32_t *off)
{
    const int64_t o = mi_data_add(c, p, n * 4u);
    if (o < 0) {
        return MT_ENOMEM;
    }
    *off = (uint32_t)o; /* relative to the data section; rebased at serialization */
    return MT_OK;
}

/* TFLite's output size and leading padding for one spatial dimension. */
static int mi_pad_dim(int32_t padding, int32_t in, int32_t k, int32_t stride, int32_t *out,
                      int32_t *pad_before)
{
    if (stride < 1 || stride > NN_MAX_STRIDE || k < 1) {
        return -1;
    }
    if (padding == 0) { /* SAME */
        *out = (in + stride - 1) / stride;
        int32_t total = (*out - 1) * stride + k - in;
        *pad_before = total > 0 ? total / 2 : 0;
    } else if (padding == 1) { /* VALID */
        if (in < k) {
            return -1;
        }
        *out = (in - k + stride) / stride;
        *pad_before = 0;
    } else {
        return -1;
    }
    return 0;
}

/* Per-channel multipliers for a conv-like op: (double)s_in * (double)s_w[c] / (double)s_out. */
static int mi_conv_mults(mi_ctx_t *c, int32_t src_op, const tfl_tensor_t *w, int32_t qdim,
                         int32_t n_ch, float s_in, float s_out, mi_op_t *o)
{
    if (w->quant.count != 1 && w->quant.count != (uint32_t)n_ch) {
        return mi_fail(c, "op %d: weights '%s' have %u scales for %d channels", src_op, w->name,
                       w->quant.count, n_ch);
    }
    if (w->quant.count > 1 && w->quant.quantized_dimension != qdim) {
        return mi_fail(c, "op %d: weights '%s' are quantized along axis %d, expected %d", src_op,
                       w->name, w->quant.quantized_dimension, qdim);
    }
    int32_t *mult = calloc((size_t)n_ch, sizeof(int32_t));
    int32_t *shift = calloc((size_t)n_ch, sizeof(int32_t));
    int rc = MT_OK;
    if (!mult || !shift) {
        rc = MT_ENOMEM;
        goto out;
    }
    for (int32_t i = 0; i < n_ch; i++) {
        const uint32_t k = w->quant.count > 1 ? (uint32_t)i : 0u;
        const float sw = w->quant.scale[k];
        if (w->quant.zero_point[k] != 0) {
            rc = mi_fail(c, "op %d: weights '%s' are not symmetric (zero point %lld)", src_op,
                         w->name, (long long)w->quant.zero_point[k]);
            goto out;
        }
        if (!(sw > 0.0f) || !isfinite(sw)) {
            rc = mi_fail(c, "op %d: weights '%s' have a bad scale", src_op, w->name);
            goto out;
        }
        model_import_quantize_multiplier((double)s_in * (double)sw / (double)s_out, &mult[i],
                                         &shift[i]);
        if (shift[i] > 30 || shift[i] < -31) {
            rc = mi_fail(c, "op %d: requantization scale out of range", src_op);
            goto out;
        }
    }
    rc = mi_add_u32s(c, mult, (size_t)n_ch, &o->rec.mult_off);
    if (rc == MT_OK) {
        rc = mi_add_u32s(c, shift, (size_t)n_ch, &o->rec.shift_off);
    }
out:
    free(mult);
    free(shift);
    return rc;
}

/* Bias: int32 [n_ch] or absent; quantized scale is not used by the int8 kernels. */
static int mi_bias(mi_ctx_t *c, int32_t src_op, uint32_t input, int32_t n_ch, int32_t **bias)
{
    const tfl_tensor_t *b = NULL;
    *bias = NULL;
    int rc = mi_const(c, src_op, input, TFL_TYPE_INT32, true, &b);
    if (rc) {
        return rc;
    }
    if (b == NULL) {
        return MT_OK;
    }
    if (b->rank != 1 || b->shape[0] != n_ch) {
        return mi_fail(c, "op %d: bias '%s' does not have %d values", src_op, b->name, n_ch);
    }
    *bias = malloc((size_t)n_ch * sizeof(int32_t));
    if (*bias == NULL) {
        return MT_ENOMEM;
    }
    memcpy(*bias, b->data, (size_t)n_ch * sizeof(int32_t));
    return MT_OK;
}

/* PAD op `pad` that feeds a convolution and pads only H and W with the zero point: its
 * paddings (top, bottom, left, right), else false. */
static bool mi_pad_foldable(mi_ctx_t *c, int32_t pad_op, int32_t pads[4])
{
    const tfl_op_t *p = &c->m->ops[pad_op];
    if (p->builtin_code != TFL_OP_PAD || p->n_inputs != 2 || p->n_outputs != 1) {
        return false;
    }
    const int32_t in = p->inputs[0], out = p->outputs[0];
    if (in < 0 || c->n_consumers[out] != 1 || out == c->cut_src || out == c->full_src ||
        out == c->output_src) {
        return false;
    }
    const tfl_tensor_t *ti = &c->m->tensors[in], *to = &c->m->tensors[out];
    if (!mi_per_tensor_quant(ti) || !mi_per_tensor_quant(to) || ti->rank != 4 ||
        ti->quant.scale[0] != to->quant.scale[0] ||
        ti->quant.zero_point[0] != to->quant.zero_point[0]) {
        return false;
    }
    const int32_t pi = p->inputs[1];
    if (pi < 0) {
        return false;
    }
    const tfl_tensor_t *tp = &c->m->tensors[pi];
    if (tp->type != TFL_TYPE_INT32 || tp->rank != 2 || tp->shape[0] != 4 || tp->shape[1] != 2 ||
        tp->data == NULL || tp->data_bytes != 32) {
        return false;
    }
    int32_t v[8];
    memcpy(v, tp->data, sizeof v);
    if (v[0] || v[1] || v[6] || v[7]) {
        return false;
    }
    for (int i = 2; i < 6; i++) {
        if (v[i] < 0 || v[i] > 16) {
            return false;
        }
    }
    pads[0] = v[2];
    pads[1] = v[3];
    pads[2] = v[4];
    pads[3] = v[5];
    return true;
}

static int mi_lower_conv(mi_ctx_t *c, int32_t k, int stage, bool depthwise)
{
    const tfl_op_t *op = &c->m->ops[k];
    const char *bname = tfl_builtin_name(op->builtin_code);
    if (op->n_inputs < 2 || op->n_outputs != 1) {
        return mi_fail(c, "op %d (%s): wrong number of inputs/outputs", k, bname);
    }
    if (op->opt.dilation_h != 1 || op->opt.dilation_w != 1) {
        return mi_fail(c, "op %d (%s): dilation is not supported", k, bname);
    }
    /* A PAD in front that only pads H, W with the zero point becomes this op's padding. */
    int32_t src_in = op->inputs[0];
    int32_t fold[4] = {0, 0, 0, 0};
    if (src_in >= 0 && c->producer[src_in] >= 0 && c->folded[c->producer[src_in]]) {
        const int32_t pad_op = c->producer[src_in];
        (void)mi_pad_foldable(c, pad_op, fold);
        src_in = c->m->ops[pad_op].inputs[0];
    }
    const tfl_tensor_t *w = NULL;
    int rc = mi_const(c, k, 1, TFL_TYPE_INT8, false, &w);
    if (rc) {
        return rc;
    }
    int32_t ti, to;
    if ((rc = mi_dev_tensor(c, src_in, k, &ti)) || (rc = mi_dev_tensor(c, op->outputs[0], k, &to))) {
        return rc;
    }
    const mi_tensor_t *in = &c->tensors[ti];
    const mi_tensor_t *out = &c->tensors[to];
    if (in->rank != 4 || out->rank != 4 || in->shape[0] != 1 || out->shape[0] != 1 || w->rank != 4) {
        return mi_fail(c, "op %d (%s): expects [1,H,W,C] tensors and 4-d weights ('%s')", k, bname,
                       w->name);
    }
    const int32_t kh = w->shape[1], kw = w->shape[2];
    const int32_t cin = in->shape[3], cout = out->shape[3];
    if (kh > NN_MAX_KERNEL || kw > NN_MAX_KERNEL) {
        return mi_fail(c, "op %d (%s): kernel %dx%d is larger than %d", k, bname, kh, kw,
                       NN_MAX_KERNEL);
    }
    if (depthwise) {
        if (w->shape[0] != 1 || w->shape[3] != cout || cout != cin) {
            return mi_fail(c, "op %d (%s): only depth multiplier 1 is supported ('%s')", k, bname,
                           w->name);
        }
    } else if (w->shape[0] != cout || w->shape[3] != cin) {
        return mi_fail(c, "op %d (%s): weights '%s' do not match the tensors' channels", k, bname,
                       w->name);
    }
    int32_t oh, ow, pt, pl;
    if (mi_pad_dim(op->opt.padding, in->shape[1] + fold[0] + fold[1], kh, op->opt.stride_h, &oh,
                   &pt) ||
        mi_pad_dim(op->opt.padding, in->shape[2] + fold[2] + fold[3], kw, op->opt.stride_w, &ow,
                   &pl) ||
        oh != out->shape[1] || ow != out->shape[2]) {
        return mi_fail(c, "op %d (%s): output '%s' shape does not follow from input, kernel and "
                       "stride", k, bname, mi_tname(c, op->outputs[0]));
    }
    pt += fold[0];
    pl += fold[2];
    if (pt >= kh || pl >= kw) {
        return mi_fail(c, "op %d (%s): padding larger than the kernel", k, bname);
    }
    mi_op_t *o;
    if ((rc = mi_new_op(c, depthwise ? MT_OP_DWCONV : MT_OP_CONV, k, stage, &o))) {
        return rc;
    }
    o->rec.in0 = (uint32_t)ti;
    o->rec.out = (uint32_t)to;
    o->rec.p[0] = kh;
    o->rec.p[1] = kw;
    o->rec.p[2] = op->opt.stride_h;
    o->rec.p[3] = op->opt.stride_w;
    o->rec.p[4] = pt;
    o->rec.p[5] = pl;
    if ((rc = mi_act_range(c, op->opt.fused_activation, out->scale, out->zp, &o->rec.act_min,
                           &o->rec.act_max, k))) {
        return rc;
    }
    if ((rc = mi_conv_mults(c, k, w, depthwise ? 3 : 0, cout, in->scale, out->scale, o))) {
        return rc;
    }
    int32_t *bias = NULL;
    int32_t *folded = malloc((size_t)cout * sizeof(int32_t));
    if (folded == NULL) {
        return MT_ENOMEM;
    }
    if ((rc = mi_bias(c, k, 2, cout, &bias)) == MT_OK) {
        if (depthwise) {
            nn_fold_bias_dw(bias, (const int8_t *)w->data, cout, kh * kw, in->zp, folded);
        } else {
            nn_fold_bias(bias, (const int8_t *)w->data, cout, kh * kw * cin, in->zp, folded);
        }
        rc = mi_add_u32s(c, folded, (size_t)cout, &o->rec.bias_off);
    }
    free(bias);
    free(folded);
    if (rc) {
        return rc;
    }
    const int64_t woff = mi_data_add(c, w->data, w->data_bytes);
    if (woff < 0) {
        return MT_ENOMEM;
    }
    o->rec.weights_off = (uint32_t)woff;
    const bool pointwise = !depthwise && kh == 1 && kw == 1 && o->rec.p[2] == 1 &&
                           o->rec.p[3] == 1 && pt == 0 && pl == 0 && oh == in->shape[1] &&
                           ow == in->shape[2];
    const nn_conv_geom_t g = {in->shape[1], in->shape[2], cin, oh, ow, cout, kh, kw,
                              o->rec.p[2], o->rec.p[3], pt, pl};
    if (depthwise) {
        o->scratch_need = nn_dwconv_scratch_bytes(&g);
        if (o->scratch_need > NN_MAX_PLANE_BYTES) {
            return mi_fail(c, "op %d (%s): channel plane too large", k, bname);
        }
    } else {
        o->scratch_need = pointwise ? 0 : nn_conv_scratch_bytes(&g);
    }
    o->info.macs = depthwise ? (uint64_t)oh * ow * cout * kh * kw
                             : (uint64_t)oh * ow * cout * kh * kw * cin;
    o->info.weight_bytes = (uint32_t)w->data_bytes + 12u * (uint32_t)cout;
    return MT_OK;
}

static int mi_lower_fc(mi_ctx_t *c, int32_t k, int stage)
{
    const tfl_op_t *op = &c->m->ops[k];
    if (op->n_inputs < 2 || op->n_outputs != 1) {
        return mi_fail(c, "op %d (FULLY_CONNECTED): wrong number of inputs/outputs", k);
    }
    if (op->opt.weights_format != 0) {
        return mi_fail(c, "op %d (FULLY_CONNECTED): shuffled weights are not supported", k);
    }
    const tfl_tensor_t *w = NULL;
    int rc = mi_const(c, k, 1, TFL_TYPE_INT8, false, &w);
    if (rc) {
        return rc;
    }
    int32_t ti, to;
    if ((rc = mi_dev_tensor(c, op->inputs[0], k, &ti)) ||
        (rc = mi_dev_tensor(c, op->outputs[0], k, &to))) {
        return rc;
    }
    const mi_tensor_t *in = &c->tensors[ti], *out = &c->tensors[to];
    if (w->rank != 2) {
        return mi_fail(c, "op %d (FULLY_CONNECTED): weights '%s' must be 2-d", k, w->name);
    }
    const int32_t n_out = w->shape[0], n_in = w->shape[1];
    if (n_in < 1 || n_out < 1 || in->bytes % (uint32_t)n_in != 0 ||
        (in->bytes / (uint32_t)n_in) * (uint32_t)n_out != out->bytes) {
        return mi_fail(c, "op %d (FULLY_CONNECTED): shapes of '%s', '%s' and '%s' do not match", k,
                       mi_tname(c, op->inputs[0]), w->name, mi_tname(c, op->outputs[0]));
    }
    mi_op_t *o;
    if ((rc = mi_new_op(c, MT_OP_FC, k, stage, &o))) {
        return rc;
    }
    o->rec.in0 = (uint32_t)ti;
    o->rec.out = (uint32_t)to;
    o->rec.p[0] = n_in;
    o->rec.p[1] = n_out;
    if ((rc = mi_act_range(c, op->opt.fused_activation, out->scale, out->zp, &o->rec.act_min,
                           &o->rec.act_max, k)) ||
        (rc = mi_conv_mults(c, k, w, 0, n_out, in->scale, out->scale, o))) {
        return rc;
    }
    int32_t *bias = NULL;
    int32_t *folded = malloc((size_t)n_out * sizeof(int32_t));
    if (folded == NULL) {
        return MT_ENOMEM;
    }
    if ((rc = mi_bias(c, k, 2, n_out, &bias)) == MT_OK) {
        nn_fold_bias(bias, (const int8_t *)w->data, n_out, n_in, in->zp, folded);
        rc = mi_add_u32s(c, folded, (size_t)n_out, &o->rec.bias_off);
    }
    free(bias);
    free(folded);
    if (rc) {
        return rc;
    }
    const int64_t woff = mi_data_add(c, w->data, w->data_bytes);
    if (woff < 0) {
        return MT_ENOMEM;
    }
    o->rec.weights_off = (uint32_t)woff;
    o->info.macs = (uint64_t)(in->bytes / (uint32_t)n_in) * (uint64_t)n_out * (uint64_t)n_in;
    o->info.weight_bytes = (uint32_t)w->data_bytes + 12u * (uint32_t)n_out;
    return MT_OK;
}

static int mi_smaller_than_one(mi_ctx_t *c, int32_t k, double real, int32_t *q, int32_t *s)
{
    if (!(real > 0.0) || !(real < 1.0)) {
        return mi_fail(c, "op %d (ADD): rescaling factor %g outside (0, 1)", k, real);
    }
    model_import_quantize_multiplier(real, q, s);
    if (*s > 0 || *s < -31) {
        return mi_fail(c, "op %d (ADD): rescaling factor out of range", k);
    }
    return MT_OK;
}

static int mi_lower_add(mi_ctx_t *c, int32_t k, int stage)
{
    const tfl_op_t *op = &c->m->ops[k];
    if (op->n_inputs != 2 || op->n_outputs != 1) {
        return mi_fail(c, "op %d (ADD): wrong number of inputs/outputs", k);
    }
    int32_t t1, t2, to;
    int rc;
    if ((rc = mi_dev_tensor(c, op->inputs[0], k, &t1)) ||
        (rc = mi_dev_tensor(c, op->inputs[1], k, &t2)) ||
        (rc = mi_dev_tensor(c, op->outputs[0], k, &to))) {
        return rc;
    }
    const mi_tensor_t *a = &c->tensors[t1], *b = &c->tensors[t2], *out = &c->tensors[to];
    if (memcmp(a->shape, b->shape, sizeof a->shape) || memcmp(a->shape, out->shape, sizeof a->shape)) {
        return mi_fail(c, "op %d (ADD): broadcasting '%s' + '%s' is not supported", k,
                       mi_tname(c, op->inputs[0]), mi_tname(c, op->inputs[1]));
    }
    mi_op_t *o;
    if ((rc = mi_new_op(c, MT_OP_ADD, k, stage, &o))) {
        return rc;
    }
    o->rec.in0 = (uint32_t)t1;
    o->rec.in1 = (uint32_t)t2;
    o->rec.out = (uint32_t)to;
    const int32_t left_shift = 20;
    const double twice_max = 2.0 * (double)(a->scale > b->scale ? a->scale : b->scale);
    o->rec.p[0] = left_shift;
    if ((rc = mi_smaller_than_one(c, k, (double)a->scale / twice_max, &o->rec.p[1], &o->rec.p[2])) ||
        (rc = mi_smaller_than_one(c, k, (double)b->scale / twice_max, &o->rec.p[3], &o->rec.p[4])) ||
        (rc = mi_smaller_than_one(c, k, twice_max / ((double)(1 << left_shift) * (double)out->scale),
                                  &o->rec.p[5], &o->rec.p[6])) ||
        (rc = mi_act_range(c, op->opt.fused_activation, out->scale, out->zp, &o->rec.act_min,
                           &o->rec.act_max, k))) {
        return rc;
    }
    o->info.macs = out->bytes;
    return MT_OK;
}

static int mi_lower_avgpool(mi_ctx_t *c, int32_t k, int stage)
{
    const tfl_op_t *op = &c->m->ops[k];
    int32_t ti, to;
    int rc;
    if (op->n_inputs != 1 || op->n_outputs != 1) {
        return mi_fail(c, "op %d (AVERAGE_POOL_2D): wrong number of inputs/outputs", k);
    }
    if ((rc = mi_dev_tensor(c, op->inputs[0], k, &ti)) ||
        (rc = mi_dev_tensor(c, op->outputs[0], k, &to))) {
        return rc;
    }
    const mi_tensor_t *in = &c->tensors[ti], *out = &c->tensors[to];
    if (in->rank != 4 || out->rank != 4 || in->shape[3] != out->shape[3] || in->scale != out->scale ||
        in->zp != out->zp) {
        return mi_fail(c, "op %d (AVERAGE_POOL_2D): input and output must be [1,H,W,C] with the "
                       "same channels and quantization", k);
    }
    int32_t oh, ow, pt, pl;
    const int32_t kh = op->opt.filter_h, kw = op->opt.filter_w;
    if (kh < 1 || kw < 1 || kh > NN_MAX_KERNEL * 4 || kw > NN_MAX_KERNEL * 4 ||
        mi_pad_dim(op->opt.padding, in->shape[1], kh, op->opt.stride_h, &oh, &pt) ||
        mi_pad_dim(op->opt.padding, in->shape[2], kw, op->opt.stride_w, &ow, &pl) ||
        oh != out->shape[1] || ow != out->shape[2]) {
        return mi_fail(c, "op %d (AVERAGE_POOL_2D): output shape does not follow from the window", k);
    }
    if (kh > NN_MAX_KERNEL || kw > NN_MAX_KERNEL) {
        return mi_fail(c, "op %d (AVERAGE_POOL_2D): window larger than %d", k, NN_MAX_KERNEL);
    }
    mi_op_t *o;
    if ((rc = mi_new_op(c, MT_OP_AVGPOOL, k, stage, &o))) {
        return rc;
    }
    o->rec.in0 = (uint32_t)ti;
    o->rec.out = (uint32_t)to;
    o->rec.p[0] = kh;
    o->rec.p[1] = kw;
    o->rec.p[2] = op->opt.stride_h;
    o->rec.p[3] = op->opt.stride_w;
    o->rec.p[4] = pt;
    o->rec.p[5] = pl;
    o->info.macs = (uint64_t)out->bytes * (uint64_t)kh * (uint64_t)kw;
    return mi_act_range(c, op->opt.fused_activation, out->scale, out->zp, &o->rec.act_min,
                        &o->rec.act_max, k);
}

/* MEAN (or the part pool when k < 0) of device tensor ti over `mask` into device tensor to. */
static int mi_emit_mean(mi_ctx_t *c, int32_t k, int stage, int32_t ti, int32_t to, uint32_t mask)
{
    const mi_tensor_t *in = &c->tensors[ti], *out = &c->tensors[to];
    nn_mean_params_t mp;
    memset(&mp, 0, sizeof mp);
    memcpy(mp.in_shape, in->shape, sizeof mp.in_shape);
    int32_t count = 1;
    for (int i = 0; i < 4; i++) {
        mp.reduce[i] = (uint8_t)((mask >> i) & 1u);
        if (mp.reduce[i]) {
            count *= in->shape[i];
        }
    }
    if (nn_mean_out_count(&mp) != out->bytes) {
        return mi_fail(c, "op %d (MEAN): output '%s' has the wrong size", k, mi_tname(c, out->src));
    }
    mi_op_t *o;
    int rc = mi_new_op(c, MT_OP_MEAN, k, stage, &o);
    if (rc) {
        return rc;
    }
    o->rec.in0 = (uint32_t)ti;
    o->rec.out = (uint32_t)to;
    o->rec.p[1] = (int32_t)mask;
    /* TFLite Micro (@90b983c2, the reference the engine matches) requantizes every int8 MEAN
     * with the 1/count factor folded into the multiplier by an integer division, even when input
     * and output share their quantization. */
    int32_t mult, shift;
    model_import_mean_multiplier((double)in->scale / (double)out->scale, count, &mult, &shift);
    if (shift < -31 || shift > 30) {
        return mi_fail(c, "op %d (MEAN): rescaling out of range", k);
    }
    o->rec.p[2] = mult;
    o->rec.p[3] = shift;
    o->scratch_need = 4u * out->bytes;
    o->info.macs = in->bytes;
    return MT_OK;
}

static int mi_lower_mean(mi_ctx_t *c, int32_t k, int stage)
{
    const tfl_op_t *op = &c->m->ops[k];
    if (op->n_inputs != 2 || op->n_outputs != 1) {
        return mi_fail(c, "op %d (MEAN): wrong number of inputs/outputs", k);
    }
    const tfl_tensor_t *axes = NULL;
    int32_t ti, to;
    int rc;
    if ((rc = mi_const(c, k, 1, TFL_TYPE_INT32, false, &axes)) ||
        (rc = mi_dev_tensor(c, op->inputs[0], k, &ti)) ||
        (rc = mi_dev_tensor(c, op->outputs[0], k, &to))) {
        return rc;
    }
    const int32_t rank = (int32_t)c->tensors[ti].rank;
    const size_t n_axes = axes->data_bytes / 4u;
    uint32_t mask = 0;
    for (size_t i = 0; i < n_axes; i++) {
        int32_t a;
        memcpy(&a, axes->data + 4 * i, 4);
        if (a < 0) {
            a += rank;
        }
        if (a < 0 || a >= rank) {
            return mi_fail(c, "op %d (MEAN): axis out of range in '%s'", k, axes->name);
        }
        mask |= 1u << (a + (4 - rank));
    }
    return mi_emit_mean(c, k, stage, ti, to, mask);
}

static int mi_lower_pad(mi_ctx_t *c, int32_t k, int stage)
{
    const tfl_op_t *op = &c->m->ops[k];
    const tfl_tensor_t *pads = NULL;
    int32_t ti, to;
    int rc;
    if (op->n_inputs != 2 || op->n_outputs != 1) {
        return mi_fail(c, "op %d (PAD): wrong number of inputs/outputs", k);
    }
    if ((rc = mi_const(c, k, 1, TFL_TYPE_INT32, false, &pads)) ||
        (rc = mi_dev_tensor(c, op->inputs[0], k, &ti)) ||
        (rc = mi_dev_tensor(c, op->outputs[0], k, &to))) {
        return rc;
    }
    const mi_tensor_t *in = &c->tensors[ti], *out = &c->tensors[to];
    const int32_t rank = (int32_t)in->rank;
    if (pads->rank != 2 || pads->shape[0] != rank || pads->shape[1] != 2 || in->scale != out->scale ||
        in->zp != out->zp) {
        return mi_fail(c, "op %d (PAD): paddings '%s' or quantization do not match", k, pads->name);
    }
    mi_op_t *o;
    if ((rc = mi_new_op(c, MT_OP_PAD, k, stage, &o))) {
        return rc;
    }
    o->rec.in0 = (uint32_t)ti;
    o->rec.out = (uint32_t)to;
    for (int32_t i = 0; i < rank; i++) {
        int32_t v[2];
        memcpy(v, pads->data + 8 * i, 8);
        if (v[0] < 0 || v[1] < 0 || v[0] > 65535 || v[1] > 65535) {
            return mi_fail(c, "op %d (PAD): negative or huge padding", k);
        }
        o->rec.p[i + (4 - rank)] = v[0];
        o->rec.p[4 + i + (4 - rank)] = v[1];
    }
    for (int i = 0; i < 4; i++) {
        if (in->shape[i] + o->rec.p[i] + o->rec.p[4 + i] != out->shape[i]) {
            return mi_fail(c, "op %d (PAD): output '%s' shape does not match", k,
                           mi_tname(c, op->outputs[0]));
        }
    }
    o->info.macs = out->bytes;
    return MT_OK;
}

static int mi_lower_transpose(mi_ctx_t *c, int32_t k, int stage)
{
    const tfl_op_t *op = &c->m->ops[k];
    const tfl_tensor_t *perm = NULL;
    int32_t ti, to;
    int rc;
    if (op->n_inputs != 2 || op->n_outputs != 1) {
        return mi_fail(c, "op %d (TRANSPOSE): wrong number of inputs/outputs", k);
    }
    if ((rc = mi_const(c, k, 1, TFL_TYPE_INT32, false, &perm)) ||
        (rc = mi_dev_tensor(c, op->inputs[0], k, &ti)) ||
        (rc = mi_dev_tensor(c, op->outputs[0], k, &to))) {
        return rc;
    }
    const mi_tensor_t *in = &c->tensors[ti], *out = &c->tensors[to];
    const int32_t rank = (int32_t)in->rank;
    if (perm->rank != 1 || perm->shape[0] != rank || in->scale != out->scale || in->zp != out->zp) {
        return mi_fail(c, "op %d (TRANSPOSE): permutation '%s' or quantization do not match", k,
                       perm->name);
    }
    mi_op_t *o;
    if ((rc = mi_new_op(c, MT_OP_TRANSPOSE, k, stage, &o))) {
        return rc;
    }
    o->rec.in0 = (uint32_t)ti;
    o->rec.out = (uint32_t)to;
    const int32_t lead = 4 - rank;
    for (int32_t i = 0; i < lead; i++) {
        o->rec.p[i] = i;
    }
    uint32_t seen = 0;
    for (int32_t i = 0; i < rank; i++) {
        int32_t v;
        memcpy(&v, perm->data + 4 * i, 4);
        if (v < 0 || v >= rank || (seen & (1u << v))) {
            return mi_fail(c, "op %d (TRANSPOSE): '%s' is not a permutation", k, perm->name);
        }
        seen |= 1u << v;
        o->rec.p[lead + i] = v + lead;
    }
    for (int i = 0; i < 4; i++) {
        if (out->shape[i] != in->shape[o->rec.p[i]]) {
            return mi_fail(c, "op %d (TRANSPOSE): output '%s' shape does not match", k,
                           mi_tname(c, op->outputs[0]));
        }
    }
    o->info.macs = out->bytes;
    return MT_OK;
}

/* RESHAPE: the output is a view of the input's buffer (same bytes, same quantization). */
static int mi_lower_reshape(mi_ctx_t *c, int32_t k, int stage)
{
    const tfl_op_t *op = &c->m->ops[k];
    int32_t ti, to;
    int rc;
    if (op->n_inputs < 1 || op->n_outputs != 1) {
        return mi_fail(c, "op %d (RESHAPE): wrong number of inputs/outputs", k);
    }
    if ((rc = mi_dev_tensor(c, op->inputs[0], k, &ti)) ||
        (rc = mi_dev_tensor(c, op->outputs[0], k, &to))) {
        return rc;
    }
    const mi_tensor_t *in = &c->tensors[ti], *out = &c->tensors[to];
    if (in->bytes != out->bytes || in->scale != out->scale || in->zp != out->zp) {
        return mi_fail(c, "op %d (RESHAPE): '%s' and '%s' differ in size or quantization", k,
                       mi_tname(c, op->inputs[0]), mi_tname(c, op->outputs[0]));
    }
    /* A copy op keeps the plan simple and exact; the planner then lets the output take the
     * input's place (the copy is a no-op when the addresses coincide). */
    mi_op_t *o;
    if ((rc = mi_new_op(c, MT_OP_COPY, k, stage, &o))) {
        return rc;
    }
    o->rec.in0 = (uint32_t)ti;
    o->rec.out = (uint32_t)to;
    return MT_OK;
}

static int mi_lower_op(mi_ctx_t *c, int32_t k, int stage)
{
    const tfl_op_t *op = &c->m->ops[k];
    if (c->folded[k]) {
        return MT_OK;
    }
    switch (op->builtin_code) {
    case TFL_OP_CONV_2D: return mi_lower_conv(c, k, stage, false);
    case TFL_OP_DEPTHWISE_CONV_2D: return mi_lower_conv(c, k, stage, true);
    case TFL_OP_FULLY_CONNECTED: return mi_lower_fc(c, k, stage);
    case TFL_OP_ADD: return mi_lower_add(c, k, stage);
    case TFL_OP_AVERAGE_POOL_2D: return mi_lower_avgpool(c, k, stage);
    case TFL_OP_MEAN: return mi_lower_mean(c, k, stage);
    case TFL_OP_PAD: return mi_lower_pad(c, k, stage);
    case TFL_OP_TRANSPOSE: return mi_lower_transpose(c, k, stage);
    case TFL_OP_RESHAPE: return mi_lower_reshape(c, k, stage);
    case TFL_OP_QUANTIZE:
    case TFL_OP_DEQUANTIZE:
        return mi_fail(c, "op %d (%s) on '%s' is inside the graph: only a float QUANTIZE at the "
                       "input and a DEQUANTIZE at the output are supported", k,
                       tfl_builtin_name(op->builtin_code),
                       op->n_inputs ? mi_tname(c, op->inputs[0]) : "?");
    default:
        return mi_fail(c, "op %d (%s) producing '%s' is not supported by the engine", k,
                       tfl_builtin_name(op->builtin_code),
                       op->n_outputs ? mi_tname(c, op->outputs[0]) : "?");
    }
}

/* ---- graph analysis ---- */

/* Marks (with `mark`) every unmarked op the tensor t depends on, stopping at the device input. */
static int mi_mark_closure(mi_ctx_t *c, int32_t t, uint8_t mark)
{
    const uint32_t n_ops = c->m->n_ops;
    int32_t *stack = malloc(sizeof(int32_t) * ((size_t)c->m->n_tensors + 1));
    if (stack == NULL) {
        return MT_ENOMEM;
    }
    uint32_t sp = 0;
    stack[sp++] = t;
    uint8_t *seen = calloc(c->m->n_tensors, 1);
    if (seen == NULL) {
        free(stack);
        return MT_ENOMEM;
    }
    while (sp > 0) {
        const int32_t x = stack[--sp];
        if (x < 0 || seen[x] || x == c->input_src) {
            continue;
        }
        seen[x] = 1;
        const int32_t p = c->producer[x];
        if (p < 0 || (uint32_t)p >= n_ops || c->need[p]) {
            continue;
        }
        c->need[p] = mark;
        const tfl_op_t *op = &c->m->ops[p];
        for (uint32_t i = 0; i < op->n_inputs; i++) {
            const int32_t y = op->inputs[i];
            if (y >= 0 && c->m->tensors[y].data == NULL && !seen[y] && sp < c->m->n_tensors) {
                stack[sp++] = y;
            }
        }
    }
    free(seen);
    free(stack);
    return MT_OK;
}

static bool mi_is_block_ref(const char *s, long *block)
{
    const char *p = s;
    if (strncmp(p, "blocks.", 7) == 0) {
        p += 7;
    }
    if (*p < '0' || *p > '9') {
        return false;
    }
    char *end = NULL;
    const long v = strtol(p, &end, 10);
    if (*end != '\0' || v < 0 || v > 100000) {
        return false;
    }
    *block = v;
    return true;
}

/* Resolves the cut option to a .tflite tensor. */
static int mi_find_cut(mi_ctx_t *c)
{
    const char *cut = c->opts ? c->opts->cut : NULL;
    const tfl_model_t *m = c->m;
    if (cut == NULL || cut[0] == '\0') {
        /* Walk back from the full feature through pooling and layout ops. */
        int32_t t = c->full_src;
        for (int guard = 0; guard < 16 && t >= 0; guard++) {
            const int32_t p = c->producer[t];
            if (p < 0) {
                break;
            }
            const int32_t b = m->ops[p].builtin_code;
            if ((b != TFL_OP_MEAN && b != TFL_OP_AVERAGE_POOL_2D && b != TFL_OP_RESHAPE &&
                 b != TFL_OP_TRANSPOSE) || m->ops[p].n_inputs < 1) {
                break;
            }
            t = m->ops[p].inputs[0];
        }
        c->cut_src = t;
    } else {
        long block;
        int32_t found = -1;
        for (uint32_t i = 0; i < m->n_tensors && found < 0; i++) {
            if (strcmp(m->tensors[i].name, cut) == 0) {
                found = (int32_t)i;
            }
        }
        if (found < 0 && mi_is_block_ref(cut, &block)) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "blocks.%ld.", block);
            /* The block's output is the last tensor with its prefix that an op writes. */
            for (uint32_t k = 0; k < m->n_ops; k++) {
                for (uint32_t j = 0; j < m->ops[k].n_outputs; j++) {
                    const int32_t t = m->ops[k].outputs[j];
                    if (strncmp(m->tensors[t].name, prefix, strlen(prefix)) == 0) {
                        found = t;
                    }
                }
            }
        }
        if (found < 0) {
            return mi_fail(c, "cut '%s': no such tensor or block in the model", cut);
        }
        c->cut_src = found;
    }
    if (c->cut_src < 0 || c->cut_src == c->input_src || c->producer[c->cut_src] < 0) {
        return mi_fail(c, "cut '%s' is not an activation computed by the model",
                       cut ? cut : "(default)");
    }
    const tfl_tensor_t *t = &m->tensors[c->cut_src];
    /* The part pool averages over H, W of [1,H,W,C] (lower ranks: over nothing, [1,C] stays). */
    if (t->rank < 1 || t->rank > 4 || (t->rank == 4 && t->shape[0] != 1) ||
        (t->rank < 4 && t->rank > 1 && t->shape[0] != 1)) {
        return mi_fail(c, "cut tensor '%s' is not a batch-1 activation", t->name);
    }
    return MT_OK;
}

static int mi_analyse(mi_ctx_t *c)
{
    const tfl_model_t *m = c->m;
    if (m->n_inputs != 1 || m->n_outputs < 1) {
        return mi_fail(c, "the model must have one input and at least one output (has %u, %u)",
                       m->n_inputs, m->n_outputs);
    }
    for (uint32_t k = 0; k < m->n_ops; k++) {
        const tfl_op_t *op = &m->ops[k];
        for (uint32_t j = 0; j < op->n_outputs; j++) {
            const int32_t t = op->outputs[j];
            if (c->producer[t] >= 0) {
                return mi_fail(c, "tensor '%s' is written by two ops", m->tensors[t].name);
            }
            c->producer[t] = (int32_t)k;
        }
        for (uint32_t j = 0; j < op->n_inputs; j++) {
            if (op->inputs[j] >= 0) {
                c->n_consumers[op->inputs[j]]++;
            }
        }
    }
    /* Input: int8, or float followed by a QUANTIZE that the caller's quantization replaces. */
    c->input_src = m->inputs[0];
    const tfl_tensor_t *ti = &m->tensors[c->input_src];
    if (ti->type == TFL_TYPE_FLOAT32) {
        int32_t q = -1;
        for (uint32_t k = 0; k < m->n_ops; k++) {
            const tfl_op_t *op = &m->ops[k];
            if (op->builtin_code == TFL_OP_QUANTIZE && op->n_inputs == 1 &&
                op->inputs[0] == c->input_src && op->n_outputs == 1) {
                q = (int32_t)k;
            }
        }
        if (q < 0 || c->n_consumers[c->input_src] != 1) {
            return mi_fail(c, "float input '%s' is not followed by a single QUANTIZE", ti->name);
        }
        c->folded[q] = 1;
        c->input_src = m->ops[q].outputs[0];
        c->flags |= MT_MODEL_F_INPUT_FLOAT;
    }
    c->output_src = m->outputs[0];
    const int32_t po = c->producer[c->output_src];
    if (po >= 0 && m->ops[po].builtin_code == TFL_OP_DEQUANTIZE && m->ops[po].n_inputs == 1) {
        c->folded[po] = 1;
        c->output_src = m->ops[po].inputs[0];
        c->flags |= MT_MODEL_F_OUTPUT_FLOAT;
    }
    /* Full feature: the input of the last FULLY_CONNECTED the output depends on. */
    c->full_src = -1;
    for (uint32_t k = 0; k < m->n_ops; k++) {
        if (m->ops[k].builtin_code == TFL_OP_FULLY_CONNECTED && m->ops[k].n_inputs >= 1) {
            c->full_src = m->ops[k].inputs[0];
        }
    }
    if (c->full_src < 0) {
        c->full_src = c->output_src;
    }
    /* Every op the result needs must be one the engine runs: say which one is not, first. */
    const int32_t target = (c->opts && c->opts->keep_classifier) ? c->output_src : c->full_src;
    int rc = mi_mark_closure(c, target, 3);
    if (rc) {
        return rc;
    }
    for (uint32_t k = 0; k < m->n_ops; k++) {
        const int32_t b = m->ops[k].builtin_code;
        const bool ok = b == TFL_OP_CONV_2D || b == TFL_OP_DEPTHWISE_CONV_2D ||
                        b == TFL_OP_FULLY_CONNECTED || b == TFL_OP_ADD ||
                        b == TFL_OP_AVERAGE_POOL_2D || b == TFL_OP_MEAN || b == TFL_OP_PAD ||
                        b == TFL_OP_TRANSPOSE || b == TFL_OP_RESHAPE || c->folded[k];
        if (c->need[k] && !ok) {
            return mi_fail(c, "op %u (%s) producing '%s' is not supported by the engine", k,
                           tfl_builtin_name(b),
                           m->ops[k].n_outputs ? mi_tname(c, m->ops[k].outputs[0]) : "?");
        }
    }
    memset(c->need, 0, m->n_ops);
    if ((rc = mi_find_cut(c))) {
        return rc;
    }
    /* PADs that only feed a convolution are folded into it. */
    for (uint32_t k = 0; k < m->n_ops; k++) {
        int32_t pads[4];
        if (m->ops[k].builtin_code != TFL_OP_PAD || !mi_pad_foldable(c, (int32_t)k, pads)) {
            continue;
        }
        bool conv_next = false;
        const int32_t t = m->ops[k].outputs[0];
        for (uint32_t j = 0; j < m->n_ops; j++) {
            const int32_t b = m->ops[j].builtin_code;
            if ((b == TFL_OP_CONV_2D || b == TFL_OP_DEPTHWISE_CONV_2D) && m->ops[j].n_inputs > 0 &&
                m->ops[j].inputs[0] == t) {
                conv_next = true;
            }
        }
        if (conv_next) {
            c->folded[k] = 1;
        }
    }
    if ((rc = mi_mark_closure(c, c->cut_src, 1))) {
        return rc;
    }
    if ((rc = mi_mark_closure(c, target, 2))) {
        return rc;
    }
    /* The full feature must depend on the cut (else stage 2 would not resume from stage 1). */
    if (c->need[c->producer[c->cut_src]] != 1) {
        return mi_fail(c, "cut '%s' is not on the path to the feature",
                       m->tensors[c->cut_src].name);
    }
    if (c->opts && c->opts->keep_classifier) {
        /* the classifier output must come after the feature */
        if (c->producer[c->output_src] < 0) {
            return mi_fail(c, "the model output is not computed by an op");
        }
    }
    return MT_OK;
}

/* ---- memory plan ---- */

uint32_t model_import_conv_overlap(const nn_conv_geom_t *g)
{
    const int64_t cout = g->out_c, cin = g->in_c;
    const int64_t n_px = (int64_t)g->out_h * g->out_w;
    int64_t d = 0;
    if (g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
        g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w) {
        /* Pointwise (nn_conv_2px on pixel pairs straight from the input): the pair at p writes
         * up to (p + 2) * C_out while pixels from p on are still to be read at p * C_in. */
        d = 2 * cout + n_px * (cout > cin ? cout - cin : 0);
    } else {
        /* im2col path: a pixel pair's windows are copied before its outputs are written, and
         * every later pixel reads input rows from oy * stride_h - pad_top on. */
        const int64_t row_bytes = (int64_t)g->in_w * cin;
        int32_t oy = 0, ox = 0;
        for (int64_t p = 0; p < n_px; p += 2) {
            const int64_t end = (p + 2 < n_px ? p + 2 : n_px) * cout;
            const int64_t first_row = (int64_t)oy * g->stride_h - g->pad_top;
            const int64_t need = end - (first_row > 0 ? first_row * row_bytes : 0);
            d = need > d ? need : d;
            ox += 2;
            while (ox >= g->out_w) {
                ox -= g->out_w;
                oy++;
            }
        }
    }
    return (uint32_t)((d + MI_ARENA_ALIGN - 1) & ~(int64_t)(MI_ARENA_ALIGN - 1));
}

/* Planner strategies tried in turn; the smallest peak wins (ties: smallest stage-1 peak). */
typedef struct {
    int overlap;               /* pointwise output over its dying input: 0 never, 1 when it
                                * expands the channels, 2 when it does not, 3 always */
    int order;                 /* 0: by size, 1: by lifetime length, then size */
} mi_plan_cfg_t;

static int mi_new_buffer(mi_ctx_t *c, uint32_t bytes, int32_t first, int32_t last, int32_t *id)
{
    int rc = mi_grow((void **)&c->buffers, &c->cap_buffers, c->n_buffers + 1, sizeof(mi_buffer_t));
    if (rc) {
        return rc;
    }
    mi_buffer_t *b = &c->buffers[c->n_buffers];
    memset(b, 0, sizeof *b);
    b->bytes = (bytes + MI_ARENA_ALIGN - 1) & ~(MI_ARENA_ALIGN - 1);
    b->first = first;
    b->last = last;
    *id = (int32_t)c->n_buffers++;
    return MT_OK;
}

/* May buffers x and y (live at the same time) share bytes when x sits at x_off, y at y_off? */
static bool mi_overlap_allowed(const mi_ctx_t *c, int32_t x, uint32_t x_off, int32_t y,
                               uint32_t y_off)
{
    const mi_buffer_t *b = &c->buffers[x];
    for (int k = 0; k < b->n_partners; k++) {
        if (b->partner[k] == y && (int64_t)x_off - (int64_t)y_off == b->rel[k]) {
            return true;
        }
    }
    return false;
}

static int mi_cmp_order(const void *a, const void *b, void *arg)
{
    const mi_ctx_t *c = arg;
    const mi_buffer_t *x = &c->buffers[*(const int32_t *)a], *y = &c->buffers[*(const int32_t *)b];
    if (x->bytes != y->bytes) {
        return x->bytes > y->bytes ? -1 : 1;
    }
    return x->first - y->first;
}

static int mi_cmp_life(const void *a, const void *b, void *arg)
{
    const mi_ctx_t *c = arg;
    const mi_buffer_t *x = &c->buffers[*(const int32_t *)a], *y = &c->buffers[*(const int32_t *)b];
    const int32_t lx = x->last - x->first, ly = y->last - y->first;
    if (lx != ly) {
        return lx > ly ? -1 : 1;
    }
    if (x->bytes != y->bytes) {
        return x->bytes > y->bytes ? -1 : 1;
    }
    return x->first - y->first;
}

/* Gives every tensor and scratch a buffer for one strategy and places the roots; fills the
 * peaks. Can be called again (it starts from scratch). */
static int mi_plan_once(mi_ctx_t *c, const mi_plan_cfg_t *cfg, uint32_t *peak1_out,
                        uint32_t *peak_out)
{
    const int32_t n_ops = (int32_t)c->n_ops;
    const int32_t s1 = (int32_t)c->stage1_ops;
    int rc;
    c->n_buffers = 0;
    for (uint32_t i = 0; i < c->n_tensors; i++) {
        c->tensors[i].buffer = -1;
    }
    for (int32_t i = 0; i < n_ops; i++) {
        c->ops[i].scratch_buffer = -1;
    }
    const int32_t in_t = c->dev_of[c->input_src];
    if ((rc = mi_new_buffer(c, c->tensors[in_t].bytes, 0, c->tensors[in_t].last_op,
                            &c->tensors[in_t].buffer))) {
        return rc;
    }
    for (int32_t i = 0; i < n_ops; i++) {
        mi_op_t *o = &c->ops[i];
        mi_tensor_t *t = &c->tensors[o->rec.out];
        if (t->buffer >= 0) {
            continue;
        }
        /* The depthwise kernel works in place (nn_conv.h): its output may start where an input
         * that dies here starts. A buffer of its own size (not the input's) at that same offset,
         * so the rest of a larger input is free again after this op. */
        if (o->rec.kind == MT_OP_DWCONV) {
            const int32_t bin = c->tensors[o->rec.in0].buffer;
            if (c->buffers[bin].last == i && c->buffers[bin].n_partners < 4 &&
                t->bytes <= c->tensors[o->rec.in0].bytes) {
                int32_t bout;
                if ((rc = mi_new_buffer(c, t->bytes, t->def_op, t->last_op, &bout))) {
                    return rc;
                }
                mi_buffer_t *bi = &c->buffers[bin], *bo = &c->buffers[bout];
                bi->partner[bi->n_partners] = bout;
                bi->rel[bi->n_partners++] = 0;
                bo->partner[bo->n_partners] = bin;
                bo->rel[bo->n_partners++] = 0;
                t->buffer = bout;
                continue;
            }
        }
        /* ADD and COPY are elementwise: the output may take over an input's buffer when that
         * input dies here. */
        int32_t reuse = -1;
        if (o->rec.kind == MT_OP_ADD || o->rec.kind == MT_OP_COPY) {
            const uint32_t ins[2] = {o->rec.in0, o->rec.in1};
            for (int j = 0; j < 2 && reuse < 0; j++) {
                if (ins[j] == MT_MODEL_NONE) {
                    continue;
                }
                const mi_tensor_t *a = &c->tensors[ins[j]];
                const mi_buffer_t *b = &c->buffers[a->buffer];
                if (b->last == i && t->bytes == a->bytes) {
                    reuse = a->buffer;
                }
            }
        }
        if (reuse >= 0) {
            t->buffer = reuse;
            if (c->buffers[reuse].last < t->last_op) {
                c->buffers[reuse].last = t->last_op;
            }
            continue;
        }
        /* Conv whose input dies here: the output may start D bytes below the input, sharing
         * bytes with it (model_import_conv_overlap says how far the kernel's writes stay
         * behind its reads). */
        const mt_op_t *r = &o->rec;
        if (r->kind == MT_OP_CONV) {
            const mi_tensor_t *a = &c->tensors[r->in0];
            const int32_t bin = a->buffer;
            const bool expands = t->bytes > a->bytes;
            const bool want = (cfg->overlap & (expands ? 1 : 2)) != 0;
            if (want && c->buffers[bin].last == i && c->buffers[bin].n_partners < 4) {
                const nn_conv_geom_t g = {a->shape[1], a->shape[2], a->shape[3], t->shape[1],
                                          t->shape[2], t->shape[3], r->p[0], r->p[1], r->p[2],
                                          r->p[3], r->p[4], r->p[5]};
                const uint32_t d = model_import_conv_overlap(&g);
                int32_t bout;
                if ((rc = mi_new_buffer(c, t->bytes, t->def_op, t->last_op, &bout))) {
                    return rc;
                }
                mi_buffer_t *bi = &c->buffers[bin], *bo = &c->buffers[bout];
                bi->partner[bi->n_partners] = bout;
                bi->rel[bi->n_partners++] = (int32_t)d;
                bo->partner[bo->n_partners] = bin;
                bo->rel[bo->n_partners++] = -(int32_t)d;
                t->buffer = bout;
                continue;
            }
        }
        if ((rc = mi_new_buffer(c, t->bytes, t->def_op, t->last_op, &t->buffer))) {
            return rc;
        }
    }
    for (int32_t i = 0; i < n_ops; i++) {
        if (c->ops[i].scratch_need > 0 &&
            (rc = mi_new_buffer(c, c->ops[i].scratch_need, i, i, &c->ops[i].scratch_buffer))) {
            return rc;
        }
    }
    /* Greedy placement (TFLite Micro's GreedyMemoryPlanner idea): in the chosen order, the lowest
     * offset that overlaps no placed buffer live at the same time, except a pointwise partner
     * at exactly its planned distance, which is tried first. */
    int32_t *order = malloc(sizeof(int32_t) * c->n_buffers);
    uint32_t *cand = malloc(sizeof(uint32_t) * (c->n_buffers + 3));
    if (!order || !cand) {
        free(order);
        free(cand);
        return MT_ENOMEM;
    }
    const uint32_t n_roots = c->n_buffers;
    for (uint32_t i = 0; i < c->n_buffers; i++) {
        order[i] = (int32_t)i;
    }
    qsort_r(order, n_roots, sizeof(int32_t), cfg->order == 0 ? mi_cmp_order : mi_cmp_life, c);
    for (uint32_t oi = 0; oi < n_roots; oi++) {
        const int32_t bid = order[oi];
        mi_buffer_t *b = &c->buffers[bid];
        uint32_t nc = 0;
        for (int k = 0; k < b->n_partners; k++) {
            const mi_buffer_t *p = &c->buffers[b->partner[k]];
            if (p->placed && (int64_t)p->offset + b->rel[k] >= 0) {
                cand[nc++] = (uint32_t)((int64_t)p->offset + b->rel[k]);
            }
        }
        const uint32_t n_forced = nc;
        cand[nc++] = 0;
        for (uint32_t k = 0; k < oi; k++) {
            const mi_buffer_t *p = &c->buffers[order[k]];
            if (p->first <= b->last && b->first <= p->last) {
                cand[nc++] = p->offset + p->bytes;
            }
        }
        uint32_t best = UINT32_MAX;
        for (uint32_t ci = 0; ci < nc; ci++) {
            const uint32_t off = cand[ci];
            if (off >= best && ci >= n_forced) {
                continue;
            }
            bool ok = true;
            for (uint32_t k = 0; k < oi && ok; k++) {
                const mi_buffer_t *p = &c->buffers[order[k]];
                if (p->first <= b->last && b->first <= p->last && off < p->offset + p->bytes &&
                    p->offset < off + b->bytes &&
                    !mi_overlap_allowed(c, bid, off, order[k], p->offset)) {
                    ok = false;
                }
            }
            if (ok && (ci < n_forced || off < best)) {
                best = off;
                if (ci < n_forced) {
                    break; /* the planned overlap wins */
                }
            }
        }
        b->offset = best;
        b->placed = 1;
    }
    /* Peaks: stage 1 = roots live during stage 1; stage 1 + 2 = all roots. */
    uint32_t peak1 = 0, peak = 0;
    for (uint32_t k = 0; k < n_roots; k++) {
        const mi_buffer_t *b = &c->buffers[order[k]];
        const uint32_t end = b->offset + b->bytes;
        if (b->first < s1 && end > peak1) {
            peak1 = end;
        }
        if (end > peak) {
            peak = end;
        }
    }
    free(order);
    free(cand);
    *peak1_out = peak1;
    *peak_out = peak;
    return MT_OK;
}

static int mi_plan(mi_ctx_t *c, model_import_t *out)
{
    const int32_t n_ops = (int32_t)c->n_ops;
    /* Tensor lifetimes in device op order. */
    for (uint32_t i = 0; i < c->n_tensors; i++) {
        c->tensors[i].def_op = INT32_MAX;
        c->tensors[i].last_op = -1;
    }
    const int32_t in_t = c->dev_of[c->input_src];
    c->tensors[in_t].def_op = 0;
    for (int32_t i = 0; i < n_ops; i++) {
        const mt_op_t *r = &c->ops[i].rec;
        mi_tensor_t *o = &c->tensors[r->out];
        if (o->def_op > i) {
            o->def_op = i;
        }
        if (o->last_op < i) {
            o->last_op = i;
        }
        const uint32_t ins[2] = {r->in0, r->in1};
        for (int j = 0; j < 2; j++) {
            if (ins[j] == MT_MODEL_NONE) {
                continue;
            }
            mi_tensor_t *t = &c->tensors[ins[j]];
            if (t->last_op < i) {
                t->last_op = i;
            }
        }
    }
    /* Features are read after their stage; the full feature and the output after stage 2. */
    c->tensors[c->dev_of[c->full_src]].last_op = n_ops - 1;
    if (c->opts && c->opts->keep_classifier) {
        c->tensors[c->dev_of[c->output_src]].last_op = n_ops - 1;
    }
    c->tensors[in_t].def_op = -1; /* written by the caller before stage 1 */
    for (uint32_t i = 0; i < c->n_tensors; i++) {
        if (c->tensors[i].def_op == INT32_MAX || c->tensors[i].last_op < 0) {
            return mi_fail(c, "tensor '%s' is read but no op writes it",
                           mi_tname(c, c->tensors[i].src));
        }
    }
    /* Every op reads tensors written before it (a graph out of order or with a cycle is not). */
    for (int32_t i = 0; i < n_ops; i++) {
        const mt_op_t *r = &c->ops[i].rec;
        const uint32_t ins[2] = {r->in0, r->in1};
        for (int j = 0; j < 2; j++) {
            if (ins[j] != MT_MODEL_NONE && c->tensors[ins[j]].def_op >= i) {
                return mi_fail(c, "op %d reads '%s' before it is written",
                               (int)c->ops[i].rec.src_op, mi_tname(c, c->tensors[ins[j]].src));
            }
        }
    }
    static const mi_plan_cfg_t cfgs[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1},
                                         {2, 0}, {2, 1}, {3, 0}, {3, 1}};
    int best = -1;
    uint32_t best1 = 0, best_all = 0;
    for (int k = 0; k < (int)(sizeof cfgs / sizeof cfgs[0]); k++) {
        uint32_t p1, pa;
        int rc = mi_plan_once(c, &cfgs[k], &p1, &pa);
        if (rc) {
            return rc;
        }
        if (best < 0 || pa < best_all || (pa == best_all && p1 < best1)) {
            best = k;
            best1 = p1;
            best_all = pa;
        }
    }
    int rc = mi_plan_once(c, &cfgs[best], &best1, &best_all);
    if (rc) {
        return rc;
    }
    out->arena_stage1_bytes = best1;
    out->arena_bytes = best_all;
    return MT_OK;
}

/* ---- driver ---- */

static int mi_build(mi_ctx_t *c, model_import_t *out)
{
    const tfl_model_t *m = c->m;
    int rc = mi_analyse(c);
    if (rc) {
        return rc;
    }
    int32_t in_t;
    if ((rc = mi_dev_tensor(c, c->input_src, -1, &in_t))) {
        return rc;
    }
    for (uint32_t k = 0; k < m->n_ops; k++) {
        if (c->need[k] == 1 && (rc = mi_lower_op(c, (int32_t)k, 1))) {
            return rc;
        }
    }
    /* The part pool: global average of the cut over H, W, kept in the cut's quantization. */
    int32_t cut_t = c->dev_of[c->cut_src];
    if (cut_t < 0) {
        return mi_fail(c, "cut '%s' was folded away; cut at another tensor",
                       m->tensors[c->cut_src].name);
    }
    if ((rc = mi_grow((void **)&c->tensors, &c->cap_tensors, c->n_tensors + 1, sizeof(mi_tensor_t)))) {
        return rc;
    }
    mi_tensor_t *pt = &c->tensors[c->n_tensors];
    const mi_tensor_t *ct = &c->tensors[cut_t];
    memset(pt, 0, sizeof *pt);
    pt->src = -1;
    pt->rank = 2;
    pt->shape[0] = pt->shape[1] = pt->shape[2] = 1;
    pt->shape[3] = ct->shape[3];
    pt->bytes = (uint32_t)ct->shape[3];
    pt->scale = ct->scale;
    pt->zp = ct->zp;
    pt->buffer = -1;
    const int32_t part_t = (int32_t)c->n_tensors++;
    if ((rc = mi_emit_mean(c, -1, 1, cut_t, part_t, 0x6u))) {
        return rc;
    }
    c->stage1_ops = c->n_ops;
    for (uint32_t k = 0; k < m->n_ops; k++) {
        if (c->need[k] == 2 && (rc = mi_lower_op(c, (int32_t)k, 2))) {
            return rc;
        }
    }
    if (c->dev_of[c->full_src] < 0) {
        return mi_fail(c, "the feature '%s' is not computed", mi_tname(c, c->full_src));
    }
    if (c->opts && c->opts->keep_classifier) {
        if (c->dev_of[c->output_src] < 0) {
            return mi_fail(c, "the output '%s' is not computed", mi_tname(c, c->output_src));
        }
        c->flags |= MT_MODEL_F_CLASSIFIER;
    }
    if ((rc = mi_plan(c, out))) {
        return rc;
    }
    /* Serialize. */
    const uint32_t tensors_off = MT_MODEL_HEADER_BYTES;
    const uint32_t ops_off = tensors_off + c->n_tensors * (uint32_t)sizeof(mt_tensor_t);
    const uint32_t data_off = (ops_off + c->n_ops * (uint32_t)sizeof(mt_op_t) + 7u) & ~7u;
    const uint64_t body = (uint64_t)data_off + ((c->data.len + 7u) & ~(size_t)7u);
    if (body + MT_MODEL_HASH_BYTES > 0x7FFFFFFFu) {
        return mi_fail(c, "model image too large");
    }
    const uint32_t image_bytes = (uint32_t)body + MT_MODEL_HASH_BYTES;
    uint8_t *img = calloc(1, image_bytes);
    if (img == NULL) {
        return MT_ENOMEM;
    }
    mt_model_header_t h;
    memset(&h, 0, sizeof h);
    h.magic = MT_MODEL_MAGIC;
    h.version = MT_MODEL_VERSION;
    h.header_bytes = MT_MODEL_HEADER_BYTES;
    h.image_bytes = image_bytes;
    h.flags = c->flags;
    h.n_tensors = c->n_tensors;
    h.n_ops = c->n_ops;
    h.stage1_ops = c->stage1_ops;
    h.tensors_off = tensors_off;
    h.ops_off = ops_off;
    h.data_off = data_off;
    h.data_bytes = (uint32_t)(body - data_off);
    h.input_tensor = (uint32_t)in_t;
    h.cut_tensor = (uint32_t)cut_t;
    h.part_tensor = (uint32_t)part_t;
    h.full_tensor = (uint32_t)c->dev_of[c->full_src];
    h.output_tensor = (c->flags & MT_MODEL_F_CLASSIFIER) ? (uint32_t)c->dev_of[c->output_src]
                                                         : MT_MODEL_NONE;
    h.arena_stage1_bytes = out->arena_stage1_bytes;
    h.arena_bytes = out->arena_bytes;
    out->tensors = calloc(c->n_tensors, sizeof(model_import_tensor_t));
    out->ops = calloc(c->n_ops, sizeof(model_import_op_t));
    if (!out->tensors || !out->ops) {
        free(img);
        return MT_ENOMEM;
    }
    out->n_tensors = c->n_tensors;
    for (uint32_t i = 0; i < c->n_tensors; i++) {
        const mi_tensor_t *t = &c->tensors[i];
        mt_tensor_t r;
        memset(&r, 0, sizeof r);
        memcpy(r.shape, t->shape, sizeof r.shape);
        r.rank = t->rank;
        r.arena_off = c->buffers[t->buffer].offset;
        r.bytes = t->bytes;
        r.scale = t->scale;
        r.zero_point = t->zp;
        memcpy(img + tensors_off + i * sizeof(mt_tensor_t), &r, sizeof r);
        model_import_tensor_t *d = &out->tensors[i];
        d->name = strdup(t->src >= 0 ? m->tensors[t->src].name : "part_pool.out");
        if (d->name == NULL) {
            free(img);
            return MT_ENOMEM;
        }
        d->src_tensor = t->src;
        memcpy(d->shape, t->shape, sizeof d->shape);
        d->rank = t->rank;
        d->arena_off = r.arena_off;
        d->bytes = t->bytes;
        d->scale = t->scale;
        d->zero_point = t->zp;
    }
    out->n_ops = c->n_ops;
    out->stage1_ops = c->stage1_ops;
    for (uint32_t i = 0; i < c->n_ops; i++) {
        mi_op_t *o = &c->ops[i];
        mt_op_t r = o->rec;
        /* Data offsets become image offsets; 0 stays "none". */
        if (o->rec.kind == MT_OP_CONV || o->rec.kind == MT_OP_DWCONV || o->rec.kind == MT_OP_FC) {
            r.weights_off += data_off;
            r.bias_off += data_off;
            r.mult_off += data_off;
            r.shift_off += data_off;
        }
        if (o->scratch_buffer >= 0) {
            r.scratch_off = c->buffers[o->scratch_buffer].offset;
            r.scratch_bytes = c->buffers[o->scratch_buffer].bytes;
        }
        r.macs = o->info.macs > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)o->info.macs;
        memcpy(img + ops_off + i * sizeof(mt_op_t), &r, sizeof r);
        o->info.in_tensor = r.in0;
        o->info.out_tensor = r.out;
        out->ops[i] = o->info;
        if (o->info.stage == 1) {
            out->macs_stage1 += o->info.macs;
            out->weight_bytes_stage1 += o->info.weight_bytes;
        } else {
            out->macs_stage2 += o->info.macs;
            out->weight_bytes_stage2 += o->info.weight_bytes;
        }
    }
    h.weight_bytes = out->weight_bytes_stage1 + out->weight_bytes_stage2;
    h.macs_stage1 = out->macs_stage1 > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)out->macs_stage1;
    h.macs_stage2 = out->macs_stage2 > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)out->macs_stage2;
    memcpy(img, &h, sizeof h);
    if (c->data.len > 0) {
        memcpy(img + data_off, c->data.p, c->data.len);
    }
    sha256(img, body, img + body);
    memcpy(out->sha256, img + body, 32);
    out->image = img;
    out->image_bytes = image_bytes;
    out->input_tensor = h.input_tensor;
    out->cut_tensor = h.cut_tensor;
    out->part_tensor = h.part_tensor;
    out->full_tensor = h.full_tensor;
    out->output_tensor = h.output_tensor;
    out->part_dim = c->tensors[part_t].bytes;
    out->full_dim = c->tensors[h.full_tensor].bytes;
    return MT_OK;
}

int model_import(const uint8_t *tflite, size_t len, const model_import_opts_t *opts,
                 model_import_t *out, char *err, size_t err_len)
{
    tfl_model_t m;
    mi_ctx_t c;
    int rc;
    memset(&m, 0, sizeof m);
    memset(&c, 0, sizeof c);
    if (out == NULL || tflite == NULL) {
        return MT_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (err && err_len) {
        err[0] = '\0';
    }
    c.err = err;
    c.err_len = err_len;
    c.opts = opts;
    const tfl_status_t ts = tfl_parse(tflite, len, &m, err, err_len);
    if (ts != TFL_OK) {
        rc = ts == TFL_ENOMEM ? MT_ENOMEM : MT_EINVAL;
        goto out;
    }
    c.m = &m;
    c.producer = malloc(sizeof(int32_t) * (m.n_tensors + 1u));
    c.n_consumers = calloc(m.n_tensors + 1u, sizeof(int32_t));
    c.dev_of = malloc(sizeof(int32_t) * (m.n_tensors + 1u));
    c.need = calloc(m.n_ops + 1u, 1);
    c.folded = calloc(m.n_ops + 1u, 1);
    if (!c.producer || !c.n_consumers || !c.dev_of || !c.need || !c.folded) {
        rc = MT_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < m.n_tensors; i++) {
        c.producer[i] = -1;
        c.dev_of[i] = -1;
    }
    rc = mi_build(&c, out);
out:
    if (rc != MT_OK) {
        model_import_free(out);
        if (rc == MT_ENOMEM && err && err_len) {
            snprintf(err, err_len, "out of memory importing the model");
        }
    }
    free(c.producer);
    free(c.n_consumers);
    free(c.dev_of);
    free(c.need);
    free(c.folded);
    free(c.tensors);
    free(c.ops);
    free(c.buffers);
    free(c.data.p);
    tfl_free(&m);
    return rc;
}

int model_import_file(const char *path, const model_import_opts_t *opts, model_import_t *out,
                      char *err, size_t err_len)
{
    uint8_t *buf = NULL;
    long size = 0;
    int rc = MT_OK;
    FILE *f = fopen(path, "rb");
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (f == NULL) {
        snprintf(err, err_len, "cannot open '%s'", path);
        return MT_EIO;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 || size > (long)TFL_MAX_MODEL_BYTES ||
        fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, err_len, "'%s' is empty, unreadable or larger than %u bytes", path,
                 TFL_MAX_MODEL_BYTES);
        rc = size > (long)TFL_MAX_MODEL_BYTES ? MT_ETOOBIG : MT_EIO;
        goto out;
    }
    buf = malloc((size_t)size);
    if (buf == NULL) {
        rc = MT_ENOMEM;
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, err_len, "cannot read '%s'", path);
        rc = MT_EIO;
        goto out;
    }
    rc = model_import(buf, (size_t)size, opts, out, err, err_len);
out:
    free(buf);
    fclose(f);
    return rc;
}

void model_import_free(model_import_t *m)
{
    if (m == NULL) {
        return;
    }
    free(m->image);
    if (m->tensors) {
        for (uint32_t i = 0; i < m->n_tensors; i++) {
            free(m->tensors[i].name);
        }
    }
    free(m->tensors);
    free(m->ops);
    memset(m, 0, sizeof *m);
}

int model_import_find_tensor(const model_import_t *m, const char *name)
{
    for (uint32_t i = 0; m && name && i < m->n_tensors; i++) {
        if (strcmp(m->tensors[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}
