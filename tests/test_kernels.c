/*
 * test_kernels.c — each int8 kernel alone against a numpy reference of TFLite's integer kernels.
 *
 * The cases come from tests/data/gen_kernel_cases.py (run by mk/engine.mk into
 * $MICROT_BUILD/tests/data/kernel_cases.bin): random shapes, kernel sizes 1/3/4/5/7, strides 1/2,
 * SAME/VALID, per-channel and per-tensor scales, fused activations, MEAN with TFLite Micro's
 * rounding. For every case the requantization constants the importer would compute from the real
 * scales must equal the reference's, and the kernel output must equal it byte for byte. Small
 * hand-made checks pin the fixed-point primitives on their edge cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "import/model_import.h"
#include "model_format.h"
#include "nn/nn_add.h"
#include "nn/nn_conv.h"
#include "nn/nn_fc.h"
#include "nn/nn_layout.h"
#include "nn/nn_pool.h"
#include "nn/nn_requant.h"

typedef struct {
    uint32_t kind;
    uint32_t n_params;
    const int32_t *params;
    uint32_t n_reals;
    const double *reals;
    uint32_t n_arrays;
    const uint8_t *arr[8];
    uint32_t arr_bytes[8];
} kcase_t;

static uint8_t *g_file;
static size_t g_len;

static int load_cases(void **state)
{
    char path[1024];
    const char *b = getenv("MICROT_BUILD");
    snprintf(path, sizeof path, "%s/tests/data/kernel_cases.bin", b && b[0] ? b : "build");
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_message("cannot open %s (made by tests/data/gen_kernel_cases.py via make test)\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    g_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    g_file = malloc(g_len);
    if (!g_file || fread(g_file, 1, g_len, f) != g_len) {
        fclose(f);
        return -1;
    }
    fclose(f);
    (void)state;
    return 0;
}

static int free_cases(void **state)
{
    (void)state;
    free(g_file);
    return 0;
}

/* Reads case number idx starting at *pos; returns 0 at the end. Arrays stay unaligned in the
 * file: the test copies what it hands to kernels expecting int32. */
static int next_case(size_t *pos, kcase_t *c)
{
#define NEED(n) do { if (*pos + (n) > g_len) return 0; } while (0)
    NEED(8);
    memcpy(&c->kind, g_file + *pos, 4);
    memcpy(&c->n_params, g_file + *pos + 4, 4);
    *pos += 8;
    NEED(4ull * c->n_params);
    c->params = (const int32_t *)(const void *)(g_file + *pos);
    *pos += 4ull * c->n_params;
    NEED(4);
    memcpy(&c->n_reals, g_file + *pos, 4);
    *pos += 4;
    NEED(8ull * c->n_reals);
    c->reals = (const double *)(const void *)(g_file + *pos);
    *pos += 8ull * c->n_reals;
    NEED(4);
    memcpy(&c->n_arrays, g_file + *pos, 4);
    *pos += 4;
    if (c->n_arrays > 8) {
        return 0;
    }
    for (uint32_t i = 0; i < c->n_arrays; i++) {
        NEED(4);
        memcpy(&c->arr_bytes[i], g_file + *pos, 4);
        *pos += 4;
        NEED(c->arr_bytes[i]);
        c->arr[i] = g_file + *pos;
        *pos += c->arr_bytes[i];
    }
    return 1;
#undef NEED
}

static int32_t *dup_i32(const uint8_t *p, uint32_t bytes)
{
    int32_t *d = malloc(bytes ? bytes : 4);
    memcpy(d, p, bytes);
    return d;
}

static int32_t param(const kcase_t *c, uint32_t i)
{
    int32_t v;
    memcpy(&v, &c->params[i], 4);
    return v;
}

static double real(const kcase_t *c, uint32_t i)
{
    double v;
    memcpy(&v, &c->reals[i], 8);
    return v;
}

/* The importer's QuantizeMultiplier must give the reference's constants. */
static void check_mults(const kcase_t *c, const int32_t *mult, const int32_t *shift, uint32_t n)
{
    assert_int_equal(c->n_reals, n);
    for (uint32_t i = 0; i < n; i++) {
        int32_t q, s;
        model_import_quantize_multiplier(real(c, i), &q, &s);
        assert_int_equal(q, mult[i]);
        assert_int_equal(s, shift[i]);
    }
}

static int run_conv_like(const kcase_t *c)
{
    const nn_conv_geom_t g = {param(c, 0), param(c, 1), param(c, 2), param(c, 3), param(c, 4),
                              param(c, 5), param(c, 6), param(c, 7), param(c, 8), param(c, 9),
                              param(c, 10), param(c, 11)};
    const int32_t in_zp = param(c, 12);
    const uint32_t out_bytes = (uint32_t)(g.out_h * g.out_w * g.out_c);
    int8_t *out = calloc(out_bytes + 1, 1);
    int mism = 0;
    if (c->kind == MT_OP_AVGPOOL) {
        nn_avgpool_s8(&g, param(c, 14), param(c, 15), (const int8_t *)c->arr[0], out);
        assert_int_equal(c->arr_bytes[1], out_bytes);
        mism = memcmp(out, c->arr[1], out_bytes) != 0;
        free(out);
        return mism;
    }
    int32_t *bias = dup_i32(c->arr[2], c->arr_bytes[2]);
    int32_t *mult = dup_i32(c->arr[3], c->arr_bytes[3]);
    int32_t *shift = dup_i32(c->arr[4], c->arr_bytes[4]);
    check_mults(c, mult, shift, (uint32_t)g.out_c);
    int32_t *folded = malloc(sizeof(int32_t) * (size_t)g.out_c);
    const int8_t *w = (const int8_t *)c->arr[1];
    const nn_quant_params_t q = {in_zp, param(c, 13), param(c, 14), param(c, 15), mult, shift};
    const uint32_t scratch_bytes = c->kind == MT_OP_DWCONV ? nn_dwconv_scratch_bytes(&g)
                                                           : nn_conv_scratch_bytes(&g);
    int8_t *scratch = malloc(scratch_bytes + 4);
    if (c->kind == MT_OP_DWCONV) {
        nn_fold_bias_dw(bias, w, g.out_c, g.k_h * g.k_w, in_zp, folded);
        nn_dwconv_s8(&g, &q, (const int8_t *)c->arr[0], w, folded, out, scratch);
        /* In place: the same result written over a copy of the input. */
        const uint32_t in_bytes = c->arr_bytes[0];
        if (out_bytes <= in_bytes) {
            int8_t *buf = malloc(in_bytes);
            memcpy(buf, c->arr[0], in_bytes);
            nn_dwconv_s8(&g, &q, buf, w, folded, buf, scratch);
            mism |= memcmp(buf, c->arr[5], out_bytes) != 0;
            free(buf);
        }
    } else {
        nn_fold_bias(bias, w, g.out_c, g.k_h * g.k_w * g.in_c, in_zp, folded);
        nn_conv_s8(&g, &q, (const int8_t *)c->arr[0], w, folded, out, scratch);
        {
            /* Overlapped as the memory plan lays it out: the output starts D bytes below the
             * input in one buffer (model_import_conv_overlap). */
            const uint32_t d = model_import_conv_overlap(&g);
            const uint32_t in_bytes = c->arr_bytes[0];
            const uint32_t total = d + in_bytes > out_bytes ? d + in_bytes : out_bytes;
            int8_t *buf = malloc(total);
            memset(buf, 0x11, total);
            memcpy(buf + d, c->arr[0], in_bytes);
            nn_conv_s8(&g, &q, buf + d, w, folded, buf, scratch);
            mism |= memcmp(buf, c->arr[5], out_bytes) != 0;
            free(buf);
        }
    }
    assert_int_equal(c->arr_bytes[5], out_bytes);
    mism |= memcmp(out, c->arr[5], out_bytes) != 0;
    free(out);
    free(bias);
    free(mult);
    free(shift);
    free(folded);
    free(scratch);
    return mism;
}

static int run_fc(const kcase_t *c)
{
    const int32_t rows = param(c, 0), n_in = param(c, 1), n_out = param(c, 2);
    int32_t *bias = dup_i32(c->arr[2], c->arr_bytes[2]);
    int32_t *mult = dup_i32(c->arr[3], c->arr_bytes[3]);
    int32_t *shift = dup_i32(c->arr[4], c->arr_bytes[4]);
    check_mults(c, mult, shift, (uint32_t)n_out);
    int32_t *folded = malloc(sizeof(int32_t) * (size_t)n_out);
    nn_fold_bias(bias, (const int8_t *)c->arr[1], n_out, n_in, param(c, 3), folded);
    const nn_quant_params_t q = {param(c, 3), param(c, 4), param(c, 5), param(c, 6), mult, shift};
    int8_t *out = malloc((size_t)(rows * n_out));
    nn_fc_s8(rows, n_in, n_out, &q, (const int8_t *)c->arr[0], (const int8_t *)c->arr[1], folded,
             out);
    const int mism = memcmp(out, c->arr[5], (size_t)(rows * n_out)) != 0;
    free(out);
    free(bias);
    free(mult);
    free(shift);
    free(folded);
    return mism;
}

static int run_add(const kcase_t *c)
{
    const nn_add_params_t p = {param(c, 1), param(c, 2), param(c, 3), param(c, 4), param(c, 5),
                               param(c, 6), param(c, 7), param(c, 8), param(c, 9), param(c, 10),
                               param(c, 11), param(c, 12)};
    const int32_t mult[3] = {p.in1_mult, p.in2_mult, p.out_mult};
    const int32_t shift[3] = {p.in1_shift, p.in2_shift, p.out_shift};
    check_mults(c, mult, shift, 3);
    const uint32_t n = (uint32_t)param(c, 0);
    int8_t *out = malloc(n);
    nn_add_s8(&p, (const int8_t *)c->arr[0], (const int8_t *)c->arr[1], out, n);
    int mism = memcmp(out, c->arr[2], n) != 0;
    /* In place over the first input. */
    memcpy(out, c->arr[0], n);
    nn_add_s8(&p, out, (const int8_t *)c->arr[1], out, n);
    mism |= memcmp(out, c->arr[2], n) != 0;
    free(out);
    return mism;
}

static int run_mean(const kcase_t *c)
{
    nn_mean_params_t p;
    for (int i = 0; i < 4; i++) {
        p.in_shape[i] = param(c, (uint32_t)i);
        p.reduce[i] = (uint8_t)((param(c, 4) >> i) & 1);
    }
    p.in_zp = param(c, 5);
    p.out_zp = param(c, 6);
    p.mult = param(c, 7);
    p.shift = param(c, 8);
    int32_t q, s;
    model_import_mean_multiplier(real(c, 0), param(c, 9), &q, &s);
    assert_int_equal(q, p.mult);
    assert_int_equal(s, p.shift);
    const uint32_t n_out = nn_mean_out_count(&p);
    assert_int_equal(n_out, c->arr_bytes[1]);
    int8_t *out = malloc(n_out);
    int32_t *scratch = malloc(4u * n_out);
    nn_mean_s8(&p, (const int8_t *)c->arr[0], out, scratch);
    const int mism = memcmp(out, c->arr[1], n_out) != 0;
    free(out);
    free(scratch);
    return mism;
}

static int run_layout(const kcase_t *c)
{
    int32_t shape[4], a[4], b[4];
    for (int i = 0; i < 4; i++) {
        shape[i] = param(c, (uint32_t)i);
        a[i] = param(c, 4u + (uint32_t)i);
        b[i] = c->kind == MT_OP_PAD ? param(c, 8u + (uint32_t)i) : 0;
    }
    const uint32_t n_out = c->arr_bytes[1];
    int8_t *out = malloc(n_out);
    if (c->kind == MT_OP_PAD) {
        nn_pad_s8(shape, a, b, (int8_t)param(c, 12), (const int8_t *)c->arr[0], out);
    } else {
        nn_transpose_s8(shape, a, (const int8_t *)c->arr[0], out);
    }
    const int mism = memcmp(out, c->arr[1], n_out) != 0;
    free(out);
    return mism;
}

static void test_generated_cases(void **state)
{
    (void)state;
    assert_non_null(g_file);
    assert_true(g_len > 16 && memcmp(g_file, "KCAS", 4) == 0);
    uint32_t version, n_cases, note_len;
    memcpy(&version, g_file + 4, 4);
    memcpy(&n_cases, g_file + 8, 4);
    memcpy(&note_len, g_file + 12, 4);
    assert_int_equal(version, 2);
    assert_true(16u + note_len <= g_len);
    print_message("%.*s\n", (int)note_len, (const char *)g_file + 16);
    size_t pos = 16u + note_len;
    uint32_t per_kind[MT_OP_KIND_MAX + 1] = {0}, bad_kind[MT_OP_KIND_MAX + 1] = {0};
    kcase_t c;
    uint32_t read = 0;
    while (read < n_cases && next_case(&pos, &c)) {
        int bad = 0;
        switch (c.kind) {
        case MT_OP_CONV:
        case MT_OP_DWCONV:
        case MT_OP_AVGPOOL: bad = run_conv_like(&c); break;
        case MT_OP_FC: bad = run_fc(&c); break;
        case MT_OP_ADD: bad = run_add(&c); break;
        case MT_OP_MEAN: bad = run_mean(&c); break;
        case MT_OP_PAD:
        case MT_OP_TRANSPOSE: bad = run_layout(&c); break;
        default: fail_msg("unknown case kind %u", c.kind);
        }
        if (bad) {
            print_message("case %u (%s) differs from the reference\n", read,
                          model_import_kind_name(c.kind));
        }
        per_kind[c.kind]++;
        bad_kind[c.kind] += (uint32_t)bad;
        read++;
    }
    assert_int_equal(read, n_cases);
    uint32_t total_bad = 0;
    for (uint32_t k = 1; k <= MT_OP_KIND_MAX; k++) {
        if (per_kind[k]) {
            print_message("%-10s %3u cases, %u differ\n", model_import_kind_name(k), per_kind[k],
                          bad_kind[k]);
        }
        total_bad += bad_kind[k];
    }
    assert_true(per_kind[MT_OP_CONV] > 0 && per_kind[MT_OP_DWCONV] > 0 && per_kind[MT_OP_MEAN] > 0);
    assert_int_equal(total_bad, 0);
}

/* Edge cases of the fixed-point primitives, values worked out from their definitions. */
static void test_requant_primitives(void **state)
{
    (void)state;
    /* Saturating case of the doubling high multiply. */
    assert_int_equal(nn_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
    /* 0.5 in Q31 times 2: exactly 1 after doubling-high. */
    assert_int_equal(nn_srdhm(2, 1 << 30), 1);
    /* Rounding halves away from zero in rdbpot: 5/2 = 2.5 -> 3, -5/2 = -2.5 -> -3. */
    assert_int_equal(nn_rdbpot(5, 1), 3);
    assert_int_equal(nn_rdbpot(-5, 1), -3);
    assert_int_equal(nn_rdbpot(-6, 2), -2); /* -1.5 -> -2 */
    assert_int_equal(nn_rdbpot(6, 2), 2);   /* 1.5 -> 2 */
    /* QuantizeMultiplier: 0.5 = 0.5 * 2^0 -> (2^30, 0); 1.0 -> (2^30, 1); 0 -> (0, 0). */
    int32_t q, s;
    model_import_quantize_multiplier(0.5, &q, &s);
    assert_int_equal(q, 1 << 30);
    assert_int_equal(s, 0);
    model_import_quantize_multiplier(1.0, &q, &s);
    assert_int_equal(q, 1 << 30);
    assert_int_equal(s, 1);
    model_import_quantize_multiplier(0.0, &q, &s);
    assert_int_equal(q, 0);
    assert_int_equal(s, 0);
    /* A significand that rounds up to 2^31 moves to the next exponent. */
    model_import_quantize_multiplier(0.99999999999, &q, &s);
    assert_int_equal(q, 1 << 30);
    assert_int_equal(s, 1);
    /* Tiny multipliers flush to zero below 2^-31. */
    model_import_quantize_multiplier(1e-12, &q, &s);
    assert_int_equal(q, 0);
    assert_int_equal(s, 0);
    /* x * 0.5 with a left shift of 1: 100 * (2^30 / 2^31) * 2 = 100. */
    assert_int_equal(nn_requant(100, 1 << 30, 1), 100);
    assert_int_equal(nn_requant(-7, 1 << 30, -1), -2); /* -1.75 -> -2 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requant_primitives),
        cmocka_unit_test_setup_teardown(test_generated_cases, load_cases, free_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
