/*
 * test_tflite_reader.c — the .tflite reader (daemon/import/tflite_reader.c) against:
 *  - the generated good and corrupt cases of tests/data/gen_bad_tflite.py ($MICROT_BUILD/tests/
 *    data/tflite/manifest.txt, made by `make test`): each must give the expected status and a
 *    message naming the table/tensor/operator at fault;
 *  - the real models in $MICROT_SHARED/models (default ../shared; skipped, saying so, when
 *    absent): op counts, input/output shapes and quantization from models/README.md, and every
 *    layer, block and feature tensor listed in the *.meta.json files;
 *  - truncations and random byte mutations of real and generated models: refused with a message,
 *    or accepted with every promise of tfl_check_model() kept (ASan runs in `make fuzz`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/tflite_reader.h"
#include "fuzz/tflite_check.h"

/* ---- helpers ---- */

static const char *shared_dir(void)
{
    const char *s = getenv("MICROT_SHARED");
    return s != NULL ? s : "../shared";
}

static const char *build_dir(void)
{
    const char *s = getenv("MICROT_BUILD");
    return s != NULL ? s : "build";
}

/* Whole file into a malloc'ed buffer (independent of tfl_read_file, which is tested apart). */
static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, cap);
            assert_non_null(nb);
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static bool have_models(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/models/proxyless-w0.3.tflite", shared_dir());
    if (access(path, R_OK) == 0) return true;
    printf("SKIP: %s/models absent (set MICROT_SHARED); real-model checks not run\n", shared_dir());
    return false;
}

static uint8_t *load_model(const char *file, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/models/%s", shared_dir(), file);
    uint8_t *buf = load(path, len);
    if (buf == NULL) fail_msg("cannot read %s", path);
    return buf;
}

/* Parses and asserts success plus every invariant. */
static void parse_ok(const uint8_t *buf, size_t len, tfl_model_t *m, const char *what)
{
    char err[256], why[160];
    tfl_status_t st = tfl_parse(buf, len, m, err, sizeof(err));
    if (st != TFL_OK) fail_msg("%s: refused (%d): %s", what, st, err);
    if (tfl_check_model(m, buf, len, why, sizeof(why)) != NULL) fail_msg("%s: %s", what, why);
}


static int count_ops(const tfl_model_t *m, int32_t code)
{
    int n = 0;
    for (uint32_t i = 0; i < m->n_ops; i++) n += m->ops[i].builtin_code == code;
    return n;
}

static void assert_shape(const tfl_tensor_t *t, uint32_t rank, const int32_t *dims)
{
    assert_int_equal(t->rank, rank);
    for (uint32_t d = 0; d < rank; d++) assert_int_equal(t->shape[d], dims[d]);
}

/* A parse that must not crash: refused with a message and an empty model, or accepted whole. */
static bool parse_survives(const uint8_t *buf, size_t len, const char *what)
{
    char err[256], why[160];
    tfl_model_t m;
    tfl_status_t st = tfl_parse(buf, len, &m, err, sizeof(err));
    if (st == TFL_OK) {
        if (tfl_check_model(&m, buf, len, why, sizeof(why)) != NULL) fail_msg("%s: %s", what, why);
    } else {
        if (err[0] == 0) fail_msg("%s: refused (%d) without a message", what, st);
        if (m.owned != NULL || m.n_tensors != 0 || m.n_ops != 0 || m.tensors != NULL)
            fail_msg("%s: refused but the model is not empty", what);
        if (st != TFL_EFORMAT && st != TFL_EUNSUPPORTED) fail_msg("%s: status %d", what, st);
    }
    tfl_free(&m);
    return st == TFL_OK;
}

/* xorshift32: a fixed sequence, so a failure reproduces. */
static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* ---- generated cases ---- */

static uint8_t pattern_byte(size_t i, int seed) { return (uint8_t)((i * 7 + (size_t)seed * 13 + 3) & 0xff); }

static int32_t rd_i32(const uint8_t *p) { return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24); }

static void check_tiny_common(const tfl_model_t *m, const uint8_t *buf, size_t len)
{
    static const int32_t in_shape[] = { 1, 8, 8, 3 }, w_shape[] = { 4, 3, 3, 3 };
    assert_int_equal(m->version, 3);
    assert_string_equal(m->description, "gen_bad_tflite tiny model");
    assert_int_equal(m->n_tensors, 13);
    assert_int_equal(m->n_inputs, 1);
    assert_int_equal(m->inputs[0], 0);
    assert_int_equal(m->n_outputs, 1);
    assert_int_equal(m->outputs[0], 12);
    const tfl_tensor_t *in = &m->tensors[0];
    assert_string_equal(in->name, "input");
    assert_int_equal(in->type, TFL_TYPE_INT8);
    assert_shape(in, 4, in_shape);
    assert_null(in->data);
    assert_int_equal(in->quant.count, 1);
    assert_float_equal(in->quant.scale[0], 1.0 / 127.5, 1e-9);
    assert_int_equal(in->quant.zero_point[0], 0);

    const tfl_tensor_t *w = &m->tensors[1];
    assert_string_equal(w->name, "conv.weight");
    assert_shape(w, 4, w_shape);
    assert_int_equal(w->data_bytes, 108);
    assert_non_null(w->data);
    assert_true(w->data >= buf && w->data + w->data_bytes <= buf + len);
    for (size_t i = 0; i < w->data_bytes; i++) assert_int_equal(w->data[i], pattern_byte(i, 1));
    assert_int_equal(w->quant.count, 4);
    assert_int_equal(w->quant.quantized_dimension, 0);
    for (int c = 0; c < 4; c++) assert_float_equal(w->quant.scale[c], 0.01 * (c + 1), 1e-7);

    const tfl_tensor_t *b = &m->tensors[2];
    assert_int_equal(b->type, TFL_TYPE_INT32);
    assert_int_equal(b->data_bytes, 16);
    assert_int_equal(rd_i32(b->data), 100);
    assert_int_equal(rd_i32(b->data + 12), -400);

    const tfl_tensor_t *dw = &m->tensors[4];
    assert_int_equal(dw->quant.count, 4);
    assert_int_equal(dw->quant.quantized_dimension, 3);
    const tfl_tensor_t *out = &m->tensors[12];
    assert_string_equal(out->name, "logits");
    assert_int_equal(out->quant.zero_point[0], 5);
    assert_int_equal(m->tensors[3].quant.zero_point[0], -128);
}

static void check_ok_tiny(const tfl_model_t *m, const uint8_t *buf, size_t len)
{
    static const int32_t codes[] = { TFL_OP_CONV_2D, TFL_OP_DEPTHWISE_CONV_2D, TFL_OP_ADD, TFL_OP_MEAN,
                                     TFL_OP_FULLY_CONNECTED };
    static const uint32_t versions[] = { 3, 2, 1, 2, 4 };
    check_tiny_common(m, buf, len);
    assert_int_equal(m->n_ops, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(m->ops[i].builtin_code, codes[i]);
        assert_int_equal(m->ops[i].version, versions[i]);
    }
    const tfl_op_t *conv = &m->ops[0];
    assert_int_equal(conv->n_inputs, 3);
    assert_int_equal(conv->inputs[1], 1);
    assert_int_equal(conv->n_outputs, 1);
    assert_int_equal(conv->outputs[0], 3);
    assert_int_equal(conv->opt.padding, 0);
    assert_int_equal(conv->opt.stride_w, 2);
    assert_int_equal(conv->opt.stride_h, 2);
    assert_int_equal(conv->opt.fused_activation, 3);
    assert_int_equal(conv->opt.dilation_w, 1);
    assert_int_equal(conv->opt.dilation_h, 1);
    const tfl_op_t *dw = &m->ops[1];
    assert_int_equal(dw->opt.depth_multiplier, 1);
    assert_int_equal(dw->opt.stride_w, 1);
    assert_int_equal(dw->opt.dilation_h, 1); /* absent in the file: the schema default */
    assert_int_equal(m->ops[3].opt.keep_dims, 0);
    assert_int_equal(m->ops[4].opt.options_type, 8);
    assert_int_equal(m->ops[4].opt.weights_format, 0);
    assert_null(m->ops[4].custom_code);
}

static void check_ok_defaults(const tfl_model_t *m, const uint8_t *buf, size_t len)
{
    check_tiny_common(m, buf, len);
    const tfl_op_t *conv = &m->ops[0];
    assert_int_equal(conv->opt.padding, 1);
    assert_int_equal(conv->opt.stride_w, 1);
    assert_int_equal(conv->opt.fused_activation, 0);
    assert_int_equal(conv->opt.dilation_w, 1);
    assert_int_equal(conv->opt.dilation_h, 1);
    const tfl_op_t *fc = &m->ops[4];
    assert_int_equal(fc->opt.options_type, 0);
    assert_int_equal(fc->opt.fused_activation, 0);
    assert_int_equal(fc->opt.keep_num_dims, 0);
    assert_int_equal(m->ops[2].builtin_code, TFL_OP_ADD);
    assert_int_equal(m->ops[2].version, 1);
}

static void check_ok_buffer_offset(const tfl_model_t *m, const uint8_t *buf, size_t len)
{
    check_tiny_common(m, buf, len);
    /* The weights live after the flatbuffer, at the 16-aligned end of the file. */
    assert_ptr_equal(m->tensors[1].data, buf + len - 108);
}

static void check_ok_rank1_bias(const tfl_model_t *m, const uint8_t *buf, size_t len)
{
    check_tiny_common(m, buf, len);
    assert_int_equal(m->tensors[2].quant.count, 4);
    assert_int_equal(m->tensors[2].quant.quantized_dimension, 0);
}

static void check_ok_extended_opcode(const tfl_model_t *m, const uint8_t *buf, size_t len)
{
    check_tiny_common(m, buf, len);
    assert_int_equal(m->n_ops, 6);
    assert_int_equal(m->ops[5].builtin_code, 150); /* deprecated byte 127 + builtin_code 150 */
    assert_string_equal(tfl_builtin_name(m->ops[5].builtin_code), "GELU");
    assert_int_equal(m->ops[0].builtin_code, TFL_OP_CONV_2D); /* byte field only */
}

static const struct {
    const char *file;
    void (*check)(const tfl_model_t *, const uint8_t *, size_t);
} ok_checks[] = {
    { "ok_tiny.tflite", check_ok_tiny },
    { "ok_defaults.tflite", check_ok_defaults },
    { "ok_buffer_offset.tflite", check_ok_buffer_offset },
    { "ok_rank1_bias_axis3.tflite", check_ok_rank1_bias },
    { "ok_extended_opcode.tflite", check_ok_extended_opcode },
};

static void test_generated_cases(void **state)
{
    (void)state;
    char dir[512], path[1024], line[512];
    snprintf(dir, sizeof(dir), "%s/tests/data/tflite", build_dir());
    snprintf(path, sizeof(path), "%s/manifest.txt", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) fail_msg("%s missing: run `make test` (it runs tests/data/gen_bad_tflite.py)", path);
    int n_cases = 0, n_ok = 0, n_checked = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        char file[256];
        int want, used = 0;
        assert_int_equal(sscanf(line, "%255s %d %n", file, &want, &used), 2);
        const char *sub = line + used;
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        size_t len;
        uint8_t *buf = load(path, &len);
        if (buf == NULL) fail_msg("cannot read %s", path);
        char err[256];
        tfl_model_t m;
        tfl_status_t st = tfl_parse(buf, len, &m, err, sizeof(err));
        if ((int)st != want) fail_msg("%s: status %d, expected %d (%s)", file, st, want, err);
        if (want != 0) {
            if (strcmp(sub, "-") != 0 && strstr(err, sub) == NULL)
                fail_msg("%s: message \"%s\" lacks \"%s\"", file, err, sub);
            assert_null(m.owned);
            assert_int_equal(m.n_tensors, 0);
        } else {
            char why[160];
            if (tfl_check_model(&m, buf, len, why, sizeof(why)) != NULL) fail_msg("%s: %s", file, why);
            n_ok++;
            for (size_t k = 0; k < sizeof(ok_checks) / sizeof(ok_checks[0]); k++)
                if (strcmp(ok_checks[k].file, file) == 0) {
                    ok_checks[k].check(&m, buf, len);
                    n_checked++;
                }
        }
        tfl_free(&m);
        free(buf);
        n_cases++;
    }
    fclose(f);
    printf("generated cases: %d (%d valid, %d checked in detail)\n", n_cases, n_ok, n_checked);
    assert_true(n_cases >= 50);
    assert_int_equal(n_checked, (int)(sizeof(ok_checks) / sizeof(ok_checks[0])));
}

/* ---- real models: README.md table ---- */

typedef struct {
    const char *file;
    int32_t in_type, out_type;
    uint32_t in_rank;
    int32_t in_shape[4];
    int32_t out_shape[2];
    float in_scale;    /* 0 = float input, no quantization */
    int64_t in_zp;
    int n_codes;
    int32_t op_code[8];
    int op_count[8]; /* -1: present, count not given */
} model_expect_t;

/* From ../shared/models/README.md (op counts, input/output shapes and input normalisation). */
static const model_expect_t expect[] = {
    { "proxyless-w0.3.tflite", TFL_TYPE_INT8, TFL_TYPE_INT8, 4, { 1, 128, 128, 3 }, { 1, 1000 }, 1 / 127.5f, 0, 6,
      { TFL_OP_CONV_2D, TFL_OP_DEPTHWISE_CONV_2D, TFL_OP_ADD, TFL_OP_MEAN, TFL_OP_FULLY_CONNECTED, TFL_OP_PAD },
      { 40, 20, 13, 1, 1, 0 } },
    { "proxyless-w0.3_pad.tflite", TFL_TYPE_INT8, TFL_TYPE_INT8, 4, { 1, 128, 128, 3 }, { 1, 1000 }, 1 / 127.5f, 0, 6,
      { TFL_OP_CONV_2D, TFL_OP_DEPTHWISE_CONV_2D, TFL_OP_ADD, TFL_OP_MEAN, TFL_OP_FULLY_CONNECTED, TFL_OP_PAD },
      { 40, 20, 13, 1, 1, 5 } },
    { "mcunet-5fps.tflite", TFL_TYPE_INT8, TFL_TYPE_INT8, 4, { 1, 128, 128, 3 }, { 1, 1000 }, 1 / 127.5f, 0, 6,
      { TFL_OP_CONV_2D, TFL_OP_DEPTHWISE_CONV_2D, TFL_OP_ADD, TFL_OP_MEAN, TFL_OP_FULLY_CONNECTED, TFL_OP_PAD },
      { 28, 14, 7, 1, 1, 0 } },
    { "mcunet-5fps_pad.tflite", TFL_TYPE_INT8, TFL_TYPE_INT8, 4, { 1, 128, 128, 3 }, { 1, 1000 }, 1 / 127.5f, 0, 6,
      { TFL_OP_CONV_2D, TFL_OP_DEPTHWISE_CONV_2D, TFL_OP_ADD, TFL_OP_MEAN, TFL_OP_FULLY_CONNECTED, TFL_OP_PAD },
      { 28, 14, 7, 1, 1, 5 } },
    { "mcunet-vww1-80.tflite", TFL_TYPE_FLOAT32, TFL_TYPE_FLOAT32, 4, { 1, 80, 80, 3 }, { 1, 2 }, 0, 0, 5,
      { TFL_OP_QUANTIZE, TFL_OP_DEQUANTIZE, TFL_OP_PAD, TFL_OP_TRANSPOSE, TFL_OP_MEAN },
      { 1, 1, -1, -1, -1 } },
    { "vww-96-int8.tflite", TFL_TYPE_INT8, TFL_TYPE_INT8, 4, { 1, 96, 96, 3 }, { 1, 2 }, -1, 0, 0, { 0 }, { 0 } },
    { "person_detect.tflite", TFL_TYPE_INT8, TFL_TYPE_INT8, 4, { 1, 96, 96, 1 }, { 1, 2 }, -1, 0, 0, { 0 }, { 0 } },
    { "hello_world_int8.tflite", TFL_TYPE_INT8, TFL_TYPE_INT8, 2, { 1, 1 }, { 1, 1 }, -1, 0, 1,
      { TFL_OP_FULLY_CONNECTED }, { 3 } },
};

static void test_real_models(void **state)
{
    (void)state;
    if (!have_models()) { skip(); return; }
    for (size_t k = 0; k < sizeof(expect) / sizeof(expect[0]); k++) {
        const model_expect_t *e = &expect[k];
        size_t len;
        uint8_t *buf = load_model(e->file, &len);
        tfl_model_t m;
        parse_ok(buf, len, &m, e->file);
        assert_int_equal(m.n_inputs, 1);
        assert_int_equal(m.n_outputs, 1);
        const tfl_tensor_t *in = &m.tensors[m.inputs[0]], *out = &m.tensors[m.outputs[0]];
        assert_int_equal(in->type, e->in_type);
        assert_int_equal(out->type, e->out_type);
        assert_shape(in, e->in_rank, e->in_shape);
        assert_shape(out, 2, e->out_shape);
        assert_null(in->data);
        if (e->in_scale > 0) {
            assert_int_equal(in->quant.count, 1);
            assert_float_equal(in->quant.scale[0], e->in_scale, 1e-7);
            assert_int_equal(in->quant.zero_point[0], e->in_zp);
        } else if (e->in_scale == 0) {
            assert_int_equal(in->quant.count, 0);
        }
        int listed = 0;
        for (int i = 0; i < e->n_codes; i++) {
            int n = count_ops(&m, e->op_code[i]);
            if (e->op_count[i] < 0) assert_true(n > 0);
            else if (n != e->op_count[i])
                fail_msg("%s: %d %s, README says %d", e->file, n, tfl_builtin_name(e->op_code[i]), e->op_count[i]);
            listed += e->op_count[i] > 0 ? e->op_count[i] : 0;
        }
        /* For the backbones the README table lists every op. */
        if (e->in_scale > 0) assert_int_equal(m.n_ops, listed);
        printf("%-26s %3u ops %4u tensors, input %s [%d,%d,%d,%d]\n", e->file, m.n_ops, m.n_tensors,
               tfl_type_name(in->type), in->shape[0], in->shape[1], in->shape[2], in->shape[3]);
        tfl_free(&m);
        free(buf);
    }
}

/* The FC weights of person_detect-style models and the backbones are all int8 with per-channel
 * or per-tensor quantization; biases int32 sized to the output channels. */
static void test_real_model_weights(void **state)
{
    (void)state;
    if (!have_models()) { skip(); return; }
    static const char *files[] = { "proxyless-w0.3.tflite", "mcunet-5fps_pad.tflite", "person_detect.tflite",
                                   "vww-96-int8.tflite", "mcunet-vww1-80.tflite" };
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
        size_t len;
        uint8_t *buf = load_model(files[k], &len);
        tfl_model_t m;
        parse_ok(buf, len, &m, files[k]);
        int convs = 0;
        for (uint32_t i = 0; i < m.n_ops; i++) {
            const tfl_op_t *op = &m.ops[i];
            if (op->builtin_code != TFL_OP_CONV_2D && op->builtin_code != TFL_OP_DEPTHWISE_CONV_2D &&
                op->builtin_code != TFL_OP_FULLY_CONNECTED)
                continue;
            assert_true(op->n_inputs >= 2 && op->n_outputs == 1);
            const tfl_tensor_t *w = &m.tensors[op->inputs[1]], *o = &m.tensors[op->outputs[0]];
            assert_int_equal(w->type, TFL_TYPE_INT8);
            assert_non_null(w->data);
            int32_t oc = o->shape[o->rank - 1];
            int32_t axis = op->builtin_code == TFL_OP_DEPTHWISE_CONV_2D ? 3 : 0;
            if (w->quant.count > 1) {
                assert_int_equal(w->quant.count, oc);
                assert_int_equal(w->quant.quantized_dimension, axis);
            } else {
                assert_int_equal(w->quant.count, 1);
            }
            if (op->n_inputs >= 3 && op->inputs[2] >= 0) {
                const tfl_tensor_t *b = &m.tensors[op->inputs[2]];
                assert_int_equal(b->type, TFL_TYPE_INT32);
                assert_int_equal(b->data_bytes, (size_t)oc * 4);
                assert_true(b->quant.count == 1 || b->quant.count == (uint32_t)oc);
            }
            convs++;
        }
        assert_true(convs > 0);
        tfl_free(&m);
        free(buf);
    }
}

/* ---- real models: *.meta.json ---- */

static void check_tensor_json(const tfl_model_t *m, json_t *j, const char *model)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    assert_non_null(name);
    int ti = tfl_find_tensor(m, name);
    if (ti < 0) fail_msg("%s: tensor %s of meta.json not in the model", model, name);
    const tfl_tensor_t *t = &m->tensors[ti];
    json_t *shape = json_object_get(j, "shape");
    assert_int_equal(t->rank, json_array_size(shape));
    for (uint32_t d = 0; d < t->rank; d++)
        assert_int_equal(t->shape[d], json_integer_value(json_array_get(shape, d)));
    json_t *scale = json_object_get(j, "scale");
    if (scale != NULL) {
        assert_int_equal(t->quant.count, 1);
        assert_float_equal(t->quant.scale[0], json_real_value(scale), 1e-6 * json_real_value(scale));
        assert_int_equal(t->quant.zero_point[0], json_integer_value(json_object_get(j, "zero_point")));
    }
}

static const char *act_name(int32_t a)
{
    switch (a) {
    case 0: return "NONE";
    case 1: return "RELU";
    case 3: return "RELU6";
    default: return "OTHER";
    }
}

static void test_meta_json(void **state)
{
    (void)state;
    if (!have_models()) { skip(); return; }
    static const char *names[] = { "proxyless-w0.3", "proxyless-w0.3_pad", "mcunet-5fps", "mcunet-5fps_pad" };
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        char path[512], file[128];
        json_error_t jerr;
        snprintf(path, sizeof(path), "%s/models/%s.meta.json", shared_dir(), names[k]);
        json_t *meta = json_load_file(path, 0, &jerr);
        if (meta == NULL) fail_msg("%s: %s", path, jerr.text);
        snprintf(file, sizeof(file), "%s.tflite", names[k]);
        size_t len;
        uint8_t *buf = load_model(file, &len);
        tfl_model_t m;
        parse_ok(buf, len, &m, file);

        /* op counts */
        const char *op;
        json_t *cnt;
        json_object_foreach(json_object_get(meta, "ops"), op, cnt) {
            int n = 0;
            for (uint32_t i = 0; i < m.n_ops; i++) n += strcmp(tfl_builtin_name(m.ops[i].builtin_code), op) == 0;
            if (n != json_integer_value(cnt))
                fail_msg("%s: %d %s, meta.json says %lld", file, n, op, (long long)json_integer_value(cnt));
        }
        /* named tensors: input, blocks, pooled feature, classifier output */
        check_tensor_json(&m, json_object_get(meta, "input"), file);
        assert_string_equal(m.tensors[m.inputs[0]].name, json_string_value(json_object_get(json_object_get(meta, "input"), "name")));
        check_tensor_json(&m, json_object_get(meta, "feature"), file);
        check_tensor_json(&m, json_object_get(meta, "output"), file);
        assert_string_equal(m.tensors[m.outputs[0]].name, json_string_value(json_object_get(json_object_get(meta, "output"), "name")));
        size_t bi;
        json_t *blk;
        json_array_foreach(json_object_get(meta, "blocks"), bi, blk) check_tensor_json(&m, blk, file);

        /* every conv layer: op, stride, padding, activation, output shape, kernel size */
        size_t li;
        json_t *layer;
        json_array_foreach(json_object_get(meta, "layers"), li, layer) {
            char oname[160], wname[160];
            const char *lname = json_string_value(json_object_get(layer, "name"));
            snprintf(oname, sizeof(oname), "%s.out", lname);
            snprintf(wname, sizeof(wname), "%s.weight", lname);
            const tfl_op_t *o = NULL;
            for (uint32_t i = 0; i < m.n_ops; i++)
                if (m.ops[i].n_outputs == 1 && strcmp(m.tensors[m.ops[i].outputs[0]].name, oname) == 0) o = &m.ops[i];
            if (o == NULL) fail_msg("%s: no op writes %s", file, oname);
            assert_string_equal(tfl_builtin_name(o->builtin_code), json_string_value(json_object_get(layer, "op")));
            assert_int_equal(o->opt.stride_w, json_integer_value(json_object_get(layer, "stride")));
            assert_int_equal(o->opt.stride_h, json_integer_value(json_object_get(layer, "stride")));
            assert_string_equal(o->opt.padding == 0 ? "SAME" : "VALID", json_string_value(json_object_get(layer, "padding")));
            assert_string_equal(act_name(o->opt.fused_activation), json_string_value(json_object_get(layer, "fused_activation")));
            assert_int_equal(o->opt.dilation_w, 1);
            json_t *os = json_object_get(layer, "out_shape");
            const tfl_tensor_t *ot = &m.tensors[o->outputs[0]];
            for (size_t d = 0; d < json_array_size(os); d++)
                assert_int_equal(ot->shape[d], json_integer_value(json_array_get(os, d)));
            const tfl_tensor_t *w = &m.tensors[o->inputs[1]];
            assert_string_equal(w->name, wname);
            assert_int_equal(w->shape[1], json_integer_value(json_object_get(layer, "kernel")));
            assert_int_equal(w->shape[2], json_integer_value(json_object_get(layer, "kernel")));
        }
        printf("%s: %zu layers, %zu blocks match meta.json\n", file, li, bi);
        tfl_free(&m);
        free(buf);
        json_decref(meta);
    }
}

/* ---- cross-check against flatc-generated Python (tests/data/tflite_dump.py) ---- */

static json_t *python_dump(const char *gen_dir, const char *model_path)
{
    char cmd[1536];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 tests/data/tflite_dump.py '%s' '%s'", gen_dir, model_path);
    FILE *p = popen(cmd, "r");
    if (p == NULL) return NULL;
    json_error_t jerr;
    json_t *j = json_loadf(p, 0, &jerr);
    int rc = pclose(p);
    if (rc != 0 || j == NULL) {
        json_decref(j);
        fail_msg("%s failed (exit %d): %s", cmd, rc, jerr.text);
    }
    return j;
}

static void assert_int_array(json_t *arr, const int32_t *v, uint32_t n, const char *what)
{
    if (json_array_size(arr) != n) fail_msg("%s: %zu entries in Python, %u in C", what, json_array_size(arr), n);
    for (uint32_t i = 0; i < n; i++)
        if (json_integer_value(json_array_get(arr, i)) != v[i]) fail_msg("%s[%u] differs", what, i);
}

static void crosscheck_model(const char *gen_dir, const char *file)
{
    char path[512], what[256];
    snprintf(path, sizeof(path), "%s/models/%s", shared_dir(), file);
    json_t *j = python_dump(gen_dir, path);
    size_t len;
    uint8_t *buf = load(path, &len);
    tfl_model_t m;
    parse_ok(buf, len, &m, file);

    assert_int_equal(m.version, json_integer_value(json_object_get(j, "version")));
    assert_string_equal(m.description, json_string_value(json_object_get(j, "description")));
    assert_int_equal(m.n_subgraphs, json_integer_value(json_object_get(j, "n_subgraphs")));
    assert_int_array(json_object_get(j, "inputs"), m.inputs, m.n_inputs, "graph inputs");
    assert_int_array(json_object_get(j, "outputs"), m.outputs, m.n_outputs, "graph outputs");

    json_t *tensors = json_object_get(j, "tensors");
    assert_int_equal(json_array_size(tensors), m.n_tensors);
    for (uint32_t i = 0; i < m.n_tensors; i++) {
        json_t *jt = json_array_get(tensors, i);
        const tfl_tensor_t *t = &m.tensors[i];
        snprintf(what, sizeof(what), "%s tensor %u %s", file, i, t->name);
        assert_string_equal(t->name, json_string_value(json_object_get(jt, "name")));
        assert_int_equal(t->type, json_integer_value(json_object_get(jt, "type")));
        assert_int_array(json_object_get(jt, "shape"), t->shape, t->rank, what);
        assert_int_equal(t->buffer_index, json_integer_value(json_object_get(jt, "buffer")));
        assert_int_equal(t->data_bytes, json_integer_value(json_object_get(jt, "data_len")));
        json_t *sc = json_object_get(jt, "scale"), *zp = json_object_get(jt, "zero_point");
        assert_int_equal(t->quant.count, json_array_size(sc));
        for (uint32_t k = 0; k < t->quant.count; k++) {
            /* Python holds the float32 exactly as a double: equality, not tolerance. */
            if (t->quant.scale[k] != (float)json_real_value(json_array_get(sc, k)))
                fail_msg("%s: scale %u %.9g vs %.9g", what, k, (double)t->quant.scale[k],
                         json_real_value(json_array_get(sc, k)));
            assert_int_equal(t->quant.zero_point[k], json_integer_value(json_array_get(zp, k)));
        }
        if (t->quant.count > 1 && t->rank > 1)
            assert_int_equal(t->quant.quantized_dimension, json_integer_value(json_object_get(jt, "qdim")));
    }

    json_t *ops = json_object_get(j, "ops");
    assert_int_equal(json_array_size(ops), m.n_ops);
    for (uint32_t i = 0; i < m.n_ops; i++) {
        json_t *jo = json_array_get(ops, i);
        const tfl_op_t *op = &m.ops[i];
        snprintf(what, sizeof(what), "%s operator %u %s", file, i, tfl_builtin_name(op->builtin_code));
        assert_int_equal(op->builtin_code, json_integer_value(json_object_get(jo, "code")));
        assert_int_equal(op->version, json_integer_value(json_object_get(jo, "version")));
        assert_int_array(json_object_get(jo, "inputs"), op->inputs, op->n_inputs, what);
        assert_int_array(json_object_get(jo, "outputs"), op->outputs, op->n_outputs, what);
        assert_int_equal(op->opt.options_type, json_integer_value(json_object_get(jo, "options_type")));
        const struct { const char *key; int32_t v; } fields[] = {
            { "padding", op->opt.padding }, { "stride_w", op->opt.stride_w }, { "stride_h", op->opt.stride_h },
            { "fused_activation", op->opt.fused_activation }, { "dilation_w", op->opt.dilation_w },
            { "dilation_h", op->opt.dilation_h }, { "depth_multiplier", op->opt.depth_multiplier },
            { "filter_w", op->opt.filter_w }, { "filter_h", op->opt.filter_h }, { "keep_dims", op->opt.keep_dims },
            { "weights_format", op->opt.weights_format }, { "keep_num_dims", op->opt.keep_num_dims },
        };
        json_t *jopt = json_object_get(jo, "options");
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            json_t *v = json_object_get(jopt, fields[f].key);
            if (v != NULL && json_integer_value(v) != fields[f].v)
                fail_msg("%s: option %s is %d in C, %lld in Python", what, fields[f].key, fields[f].v,
                         (long long)json_integer_value(v));
        }
    }
    printf("%s: %u tensors, %u operators agree with the flatc-generated reader\n", file, m.n_tensors, m.n_ops);
    tfl_free(&m);
    free(buf);
    json_decref(j);
}

static void test_python_crosscheck(void **state)
{
    (void)state;
    if (!have_models()) { skip(); return; }
    char gen_dir[512], probe[600];
    snprintf(gen_dir, sizeof(gen_dir), "%s/gen/tflite_py", build_dir());
    snprintf(probe, sizeof(probe), "%s/tflite/Model.py", gen_dir);
    if (access(probe, R_OK) != 0) {
        printf("SKIP: %s absent (make test generates it from the shared schema with flatc)\n", probe);
        skip();
        return;
    }
    static const char *files[] = { "proxyless-w0.3.tflite", "proxyless-w0.3_pad.tflite", "mcunet-5fps.tflite",
                                   "mcunet-5fps_pad.tflite", "mcunet-vww1-80.tflite", "vww-96-int8.tflite",
                                   "person_detect.tflite", "hello_world_int8.tflite" };
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) crosscheck_model(gen_dir, files[k]);
}

/* ---- damage: truncations and mutations ---- */

static void test_truncations(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf;
    char path[512];
    snprintf(path, sizeof(path), "%s/models/proxyless-w0.3.tflite", shared_dir());
    bool real = access(path, R_OK) == 0;
    if (real) {
        buf = load(path, &len);
    } else {
        printf("SKIP (part): %s absent, truncating the generated tiny model only\n", path);
        snprintf(path, sizeof(path), "%s/tests/data/tflite/ok_tiny.tflite", build_dir());
        buf = load(path, &len);
    }
    assert_non_null(buf);
    /* Every prefix up to 4 KiB (where the tables are), then a sampled stride through the rest,
     * then the last 64 bytes; each prefix in its own exact-size allocation. */
    int tried = 0, accepted = 0;
    size_t shortest_ok = len;
    for (size_t n = 0; n < len; n += (n < 4096 || n + 64 >= len) ? 1 : 257) {
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, buf, n);
        if (parse_survives(p, n, "truncation")) {
            accepted++;
            if (n < shortest_ok) shortest_ok = n;
        }
        free(p);
        tried++;
    }
    printf("truncations of %s: %d tried, %d accepted (shortest %zu of %zu bytes)\n", path, tried,
           accepted, shortest_ok, len);
    /* Tables point forward to what they use, so a prefix can only be complete when all it lost
     * is the builder's trailing alignment padding (< 16 bytes). */
    assert_true(shortest_ok + 16 > len);
    free(buf);
}

static void mutate_and_parse(const uint8_t *orig, size_t len, int rounds, uint32_t seed, const char *what,
                             const uint8_t *lo, const uint8_t *hi)
{
    uint8_t *p = malloc(len);
    assert_non_null(p);
    uint32_t s = seed;
    int accepted = 0;
    static const uint32_t special[] = { 0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000u, 0xffffffffu };
    size_t lo_off = (size_t)(lo - orig), span = (size_t)(hi - lo);
    for (int r = 0; r < rounds; r++) {
        memcpy(p, orig, len);
        int edits = 1 + (int)(rng_next(&s) % 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = lo_off + rng_next(&s) % span;
            switch (rng_next(&s) % 4) {
            case 0: p[pos] ^= (uint8_t)(1u << (rng_next(&s) % 8)); break;
            case 1: p[pos] = (uint8_t)rng_next(&s); break;
            default: /* a 32-bit word set to a boundary value or to the length */
                if (pos + 4 <= len) {
                    uint32_t v = (rng_next(&s) % 5 == 0) ? (uint32_t)len : special[rng_next(&s) % 9];
                    memcpy(p + pos, &v, 4);
                }
                break;
            }
        }
        accepted += parse_survives(p, len, what);
    }
    printf("%s: %d mutants, %d still parse\n", what, rounds, accepted);
    free(p);
}

static void test_mutations(void **state)
{
    (void)state;
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/tests/data/tflite/ok_tiny.tflite", build_dir());
    uint8_t *buf = load(path, &len);
    if (buf == NULL) fail_msg("%s missing: run `make test`", path);
    mutate_and_parse(buf, len, 20000, 0x1234567u, "tiny model", buf, buf + len);
    free(buf);

    if (!have_models()) return;
    static const char *files[] = { "hello_world_int8.tflite", "person_detect.tflite", "mcunet-vww1-80.tflite" };
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
        buf = load_model(files[k], &len);
        /* Mutate where the tables are, not inside the weights: the region before the first and
         * after the last constant tensor data (the converter writes weights in one block). */
        tfl_model_t m;
        parse_ok(buf, len, &m, files[k]);
        const uint8_t *first = buf + len, *last = buf;
        for (uint32_t i = 0; i < m.n_tensors; i++) {
            const tfl_tensor_t *t = &m.tensors[i];
            if (t->data == NULL) continue;
            if (t->data < first) first = t->data;
            if (t->data + t->data_bytes > last) last = t->data + t->data_bytes;
        }
        tfl_free(&m);
        mutate_and_parse(buf, len, 1500, 0xC0FFEEu + (uint32_t)k, files[k], buf, buf + len);
        if (first > buf + 64) mutate_and_parse(buf, len, 1500, 0xBEEFu + (uint32_t)k, files[k], buf, first);
        if (last < buf + len - 64) mutate_and_parse(buf, len, 1500, 0xFACEu + (uint32_t)k, files[k], last, buf + len);
        free(buf);
    }
}

/* ---- the API around the parser ---- */

static void test_read_file(void **state)
{
    (void)state;
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 7;
    char err[256];
    assert_int_equal(tfl_read_file("/nonexistent/model.tflite", &buf, &len, err, sizeof(err)), TFL_EFORMAT);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err, "/nonexistent/model.tflite"));
    assert_int_equal(tfl_read_file("/tmp", &buf, &len, err, sizeof(err)), TFL_EFORMAT);
    assert_non_null(strstr(err, "not a regular file"));

    char tmpl[] = "/tmp/test_tflite_XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(tfl_read_file(tmpl, &buf, &len, err, sizeof(err)), TFL_EFORMAT); /* empty */
    assert_non_null(strstr(err, "0 bytes"));
    assert_int_equal(ftruncate(fd, (off_t)TFL_MAX_MODEL_BYTES + 1), 0); /* sparse, no disk used */
    assert_int_equal(tfl_read_file(tmpl, &buf, &len, err, sizeof(err)), TFL_EFORMAT);
    assert_non_null(strstr(err, "16777217 bytes"));
    assert_int_equal(ftruncate(fd, 100), 0);
    assert_int_equal(tfl_read_file(tmpl, &buf, &len, err, sizeof(err)), TFL_OK);
    assert_int_equal(len, 100);
    tfl_model_t m;
    assert_int_equal(tfl_parse(buf, len, &m, err, sizeof(err)), TFL_EFORMAT); /* zeros: not TFL3 */
    assert_non_null(strstr(err, "identifier"));
    free(buf);
    close(fd);
    unlink(tmpl);

    if (!have_models()) return;
    char path[512];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/models/mcunet-5fps.tflite", shared_dir());
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(tfl_read_file(path, &buf, &len, err, sizeof(err)), TFL_OK);
    assert_int_equal(len, (size_t)sb.st_size);
    parse_ok(buf, len, &m, path);
    tfl_free(&m);
    free(buf);
}

static void test_api_misc(void **state)
{
    (void)state;
    assert_string_equal(tfl_builtin_name(3), "CONV_2D");
    assert_string_equal(tfl_builtin_name(4), "DEPTHWISE_CONV_2D");
    assert_string_equal(tfl_builtin_name(40), "MEAN");
    assert_string_equal(tfl_builtin_name(114), "QUANTIZE");
    assert_string_equal(tfl_builtin_name(209), "STABLEHLO_CASE");
    assert_string_equal(tfl_builtin_name(-1), "UNKNOWN");
    assert_string_equal(tfl_builtin_name(210), "UNKNOWN");
    for (int32_t c = 0; c <= 209; c++) assert_string_not_equal(tfl_builtin_name(c), "UNKNOWN");
    assert_string_equal(tfl_type_name(TFL_TYPE_INT8), "INT8");
    assert_string_equal(tfl_type_name(23), "UNKNOWN");
    assert_int_equal(tfl_type_bytes(TFL_TYPE_INT8), 1);
    assert_int_equal(tfl_type_bytes(TFL_TYPE_INT32), 4);
    assert_int_equal(tfl_type_bytes(TFL_TYPE_INT64), 8);
    assert_int_equal(tfl_type_bytes(TFL_TYPE_STRING), 0);

    tfl_model_t m;
    memset(&m, 0, sizeof(m));
    tfl_free(&m);
    tfl_free(NULL);

    /* err may be NULL or tiny; the model stays empty on refusal */
    static const uint8_t junk[16] = { 8, 0, 0, 0, 'T', 'F', 'L', '3' };
    assert_int_equal(tfl_parse(junk, sizeof(junk), &m, NULL, 0), TFL_EFORMAT);
    char tiny[8];
    assert_int_equal(tfl_parse(junk, sizeof(junk), &m, tiny, sizeof(tiny)), TFL_EFORMAT);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_null(m.owned);
    assert_int_equal(tfl_parse(NULL, 0, &m, tiny, sizeof(tiny)), TFL_EFORMAT);

    /* over the size bound: refused before reading anything */
    char err[256];
    size_t big = (size_t)TFL_MAX_MODEL_BYTES + 1;
    uint8_t *b = calloc(1, big);
    assert_non_null(b);
    assert_int_equal(tfl_parse(b, big, &m, err, sizeof(err)), TFL_EUNSUPPORTED);
    assert_non_null(strstr(err, "exceeds"));
    free(b);

    /* a real parse can be freed twice */
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/tests/data/tflite/ok_tiny.tflite", build_dir());
    uint8_t *buf = load(path, &len);
    if (buf == NULL) fail_msg("%s missing: run `make test`", path);
    parse_ok(buf, len, &m, path);
    assert_int_equal(tfl_find_tensor(&m, "conv.weight"), 1);
    assert_int_equal(tfl_find_tensor(&m, "logits"), 12);
    assert_int_equal(tfl_find_tensor(&m, "conv.weigh"), -1);
    assert_int_equal(tfl_find_tensor(&m, ""), -1);
    tfl_free(&m);
    assert_int_equal(tfl_find_tensor(&m, "logits"), -1);
    assert_null(m.owned);
    assert_int_equal(m.n_tensors, 0);
    tfl_free(&m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_misc),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_generated_cases),
        cmocka_unit_test(test_real_models),
        cmocka_unit_test(test_real_model_weights),
        cmocka_unit_test(test_meta_json),
        cmocka_unit_test(test_python_crosscheck),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests_name("tflite_reader", tests, NULL, NULL);
}
