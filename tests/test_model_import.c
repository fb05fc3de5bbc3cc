/*
 * test_model_import.c — the .tflite importer and the device image it writes.
 *
 * Generated small models (tests/data/gen_import_cases.py) must be accepted or refused with an
 * error naming the op or tensor; the shared backbones must import with every way of naming the
 * cut, give images the engine accepts and refuses once altered (hash, op records, truncation,
 * small arena), and survive truncated input files. Stage 1 + 2 features are checked against a
 * float average of the cut. The inspect report carries the plan's figures.
 */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engine.h"
#include "harness/harness.h"
#include "import/model_import.h"
#include "import/model_inspect.h"
#include "mt_err.h"
#include "sha256.h"

__attribute__((weak)) uint64_t hal_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *build_dir(void)
{
    const char *b = getenv("MICROT_BUILD");
    return b && b[0] ? b : "build";
}

static bool model_path(const char *file, char *path, size_t len)
{
    const char *dir = harness_shared_dir();
    if (dir == NULL) {
        return false;
    }
    snprintf(path, len, "%s/models/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
    }
    return f != NULL;
}

static void test_generated_cases(void **state)
{
    (void)state;
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/tests/data/import/manifest.txt", build_dir());
    FILE *man = fopen(path, "r");
    assert_non_null(man);
    int n = 0, refused = 0;
    while (fgets(line, sizeof line, man)) {
        if (line[0] == '#') {
            continue;
        }
        line[strcspn(line, "\n")] = '\0';
        char file[256], cut[256];
        int status = 0, off = 0;
        assert_int_equal(sscanf(line, "%255s %255s %d %n", file, cut, &status, &off), 3);
        const char *want = line + off;
        snprintf(path, sizeof path, "%s/tests/data/import/%s", build_dir(), file);
        char err[512] = "";
        model_import_t m;
        const model_import_opts_t opts = {.cut = strcmp(cut, "-") ? cut : NULL};
        const int rc = model_import_file(path, &opts, &m, err, sizeof err);
        if (status == 0) {
            if (rc != 0) {
                fail_msg("%s: refused: %s", file, err);
            }
            uint32_t need = 0;
            assert_int_equal(engine_check_image(m.image, m.image_bytes, &need), ENGINE_OK);
            assert_int_equal(need, m.arena_bytes);
            model_import_free(&m);
        } else {
            if (rc == 0) {
                fail_msg("%s: accepted, expected an error containing '%s'", file, want);
            }
            assert_int_equal(rc, MT_EINVAL);
            if (strcmp(want, "-") != 0 && strstr(err, want) == NULL) {
                fail_msg("%s: error '%s' does not contain '%s'", file, err, want);
            }
            assert_null(m.image);
            refused++;
        }
        n++;
    }
    fclose(man);
    assert_true(n >= 10 && refused >= 8);
}

static void test_cut_names(void **state)
{
    (void)state;
    char path[1024], err[512];
    if (!model_path("proxyless-w0.3.tflite", path, sizeof path)) {
        skip();
    }
    const char *names[] = {"blocks.8", "8", "blocks.8.add.out"};
    uint8_t first[32];
    for (int i = 0; i < 3; i++) {
        model_import_t m;
        const model_import_opts_t opts = {.cut = names[i]};
        assert_int_equal(model_import_file(path, &opts, &m, err, sizeof err), 0);
        assert_string_equal(m.tensors[m.cut_tensor].name, "blocks.8.add.out");
        assert_int_equal(m.part_dim, 24);
        assert_int_equal(m.full_dim, 96);
        assert_true(m.stage1_ops > 0 && m.stage1_ops < m.n_ops);
        assert_true(m.arena_stage1_bytes <= m.arena_bytes);
        assert_int_equal(m.output_tensor, MT_MODEL_NONE); /* classifier dropped */
        if (i == 0) {
            memcpy(first, m.sha256, 32);
        } else {
            assert_memory_equal(first, m.sha256, 32); /* same image whatever the naming */
        }
        /* The trailing hash covers every byte before it. */
        uint8_t d[32];
        sha256(m.image, m.image_bytes - 32, d);
        assert_memory_equal(d, m.image + m.image_bytes - 32, 32);
        model_import_free(&m);
    }
    /* Default cut: the last activation before the pooling; stage 2 only pools. */
    model_import_t m;
    const model_import_opts_t def = {.cut = NULL};
    assert_int_equal(model_import_file(path, &def, &m, err, sizeof err), 0);
    assert_string_equal(m.tensors[m.cut_tensor].name, "blocks.19.pointwise2.out");
    model_import_free(&m);
}

static void test_classifier_and_unsupported(void **state)
{
    (void)state;
    char path[1024], err[512];
    if (!model_path("vww-96-int8.tflite", path, sizeof path)) {
        skip();
    }
    /* MobileNetV1 VWW: its SOFTMAX follows the classifier, which MicroT drops. */
    model_import_t m;
    model_import_opts_t opts = {.cut = NULL, .keep_classifier = false};
    assert_int_equal(model_import_file(path, &opts, &m, err, sizeof err), 0);
    assert_int_equal(m.full_dim, 256);
    model_import_free(&m);
    opts.keep_classifier = true;
    assert_int_equal(model_import_file(path, &opts, &m, err, sizeof err), MT_EINVAL);
    assert_non_null(strstr(err, "SOFTMAX"));
    /* person_detect ends in SOFTMAX without a FULLY_CONNECTED: refused, op named. */
    if (model_path("person_detect.tflite", path, sizeof path)) {
        opts.keep_classifier = false;
        assert_int_equal(model_import_file(path, &opts, &m, err, sizeof err), MT_EINVAL);
        assert_non_null(strstr(err, "SOFTMAX"));
    }
}

static void rehash(uint8_t *img, uint32_t len)
{
    sha256(img, len - 32, img + len - 32);
}

static void test_image_checks(void **state)
{
    (void)state;
    char path[1024], err[512];
    if (!model_path("mcunet-5fps.tflite", path, sizeof path)) {
        skip();
    }
    model_import_t m;
    const model_import_opts_t opts = {.cut = "blocks.8"};
    assert_int_equal(model_import_file(path, &opts, &m, err, sizeof err), 0);
    uint8_t *img = malloc(m.image_bytes);
    uint32_t need = 0;
    assert_int_equal(engine_check_image(m.image, m.image_bytes, &need), ENGINE_OK);
    /* One flipped weight byte: the hash catches it. */
    memcpy(img, m.image, m.image_bytes);
    img[m.image_bytes / 2] ^= 0x40;
    assert_int_equal(engine_check_image(img, m.image_bytes, NULL), ENGINE_EHASH);
    /* Truncated image. */
    assert_int_equal(engine_check_image(m.image, m.image_bytes - 1, NULL), ENGINE_EFORMAT);
    assert_int_equal(engine_check_image(m.image, 16, NULL), ENGINE_EFORMAT);
    /* Altered records with a valid hash: the checks on structure catch them. */
    const mt_model_header_t *h = (const mt_model_header_t *)(const void *)m.image;
    const size_t op0 = h->ops_off;
    struct {
        size_t off;
        int32_t value;
    } edits[] = {
        {op0 + offsetof(mt_op_t, p), 99},                            /* kernel 99x99 */
        {op0 + offsetof(mt_op_t, weights_off), (int32_t)m.image_bytes}, /* weights outside */
        {op0 + offsetof(mt_op_t, out), 5000},                         /* tensor index */
        {op0 + offsetof(mt_op_t, kind), 42},                          /* unknown op */
        {h->tensors_off + offsetof(mt_tensor_t, arena_off), 0x7FFFFFF0}, /* outside the arena */
        {offsetof(mt_model_header_t, stage1_ops), 0},
        {offsetof(mt_model_header_t, version), 7},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(img, m.image, m.image_bytes);
        memcpy(img + edits[i].off, &edits[i].value, 4);
        rehash(img, m.image_bytes);
        assert_int_equal(engine_check_image(img, m.image_bytes, NULL), ENGINE_EFORMAT);
    }
    /* Arena smaller than the plan. */
    engine_t *e = calloc(1, sizeof *e);
    uint8_t *arena = aligned_alloc(8, need);
    assert_int_equal(engine_open(e, m.image, m.image_bytes, arena, need - 4), ENGINE_EARENA);
    assert_int_equal(engine_open(e, m.image, m.image_bytes, arena + 1, need - 8), ENGINE_EALIGN);
    assert_int_equal(engine_open(e, m.image, m.image_bytes, arena, need), ENGINE_OK);
    free(arena);
    free(e);
    free(img);
    model_import_free(&m);
}

static void test_truncated_models(void **state)
{
    (void)state;
    char path[1024], err[512];
    if (!model_path("proxyless-w0.3.tflite", path, sizeof path)) {
        skip();
    }
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    const size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len);
    assert_int_equal(fread(buf, 1, len, f), len);
    fclose(f);
    int refused = 0;
    for (size_t cut_len = 0; cut_len < len; cut_len += len / 37 + 1) {
        model_import_t m;
        const model_import_opts_t opts = {.cut = "blocks.4"};
        const int rc = model_import(buf, cut_len, &opts, &m, err, sizeof err);
        if (rc != 0) {
            assert_true(strlen(err) > 0);
            refused++;
        } else {
            model_import_free(&m);
        }
    }
    assert_true(refused >= 30);
    free(buf);
}

/* Stage 1's part feature is the pooled cut: close to the float mean of the dequantized cut (the
 * int8 mean rounds once, so within one quantization step), and stage 2 recomputes nothing. */
static void test_features(void **state)
{
    (void)state;
    char path[1024], err[512];
    if (!model_path("mcunet-5fps.tflite", path, sizeof path)) {
        skip();
    }
    model_import_t m;
    const model_import_opts_t opts = {.cut = "blocks.8"};
    assert_int_equal(model_import_file(path, &opts, &m, err, sizeof err), 0);
    engine_t *e = calloc(1, sizeof *e);
    uint8_t *arena = aligned_alloc(8, (m.arena_bytes + 7u) & ~7u);
    assert_int_equal(engine_open(e, m.image, m.image_bytes, arena, m.arena_bytes), ENGINE_OK);
    assert_int_equal(engine_part_dim(e), 48);
    assert_int_equal(engine_full_dim(e), 160);
    uint32_t n = 0;
    int8_t *in = engine_input(e, &n);
    assert_int_equal(n, 128 * 128 * 3);
    uint32_t seed = 12345;
    for (uint32_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        in[i] = (int8_t)(seed >> 24);
    }
    float part[48], full[160], part2[48], full2[160];
    assert_int_equal(engine_run_stage1(e, part), ENGINE_OK);
    /* Float mean of the cut, while it is still in the arena. */
    const model_import_tensor_t *ct = &m.tensors[m.cut_tensor];
    const int8_t *cut = engine_tensor(e, m.cut_tensor, NULL);
    const uint32_t px = (uint32_t)(ct->shape[1] * ct->shape[2]), c_n = (uint32_t)ct->shape[3];
    for (uint32_t c = 0; c < c_n; c++) {
        double s = 0;
        for (uint32_t p = 0; p < px; p++) {
            s += ct->scale * (cut[p * c_n + c] - ct->zero_point);
        }
        assert_true(fabs(s / px - part[c]) <= ct->scale * 1.001);
    }
    uint64_t macs1, macs2, cyc;
    engine_stage_cost(e, 1, &macs1, &cyc);
    assert_int_equal(macs1, m.macs_stage1);
    assert_int_equal(engine_run_stage2(e, full), ENGINE_OK);
    engine_stage_cost(e, 2, &macs2, &cyc);
    assert_int_equal(macs2, m.macs_stage2);
    assert_int_equal(engine_run_stage2(e, full2), ENGINE_ESTATE); /* stage 1 was consumed */
    /* Same input again (the arena was reused by stage 2): same features. */
    in = engine_input(e, &n);
    seed = 12345;
    for (uint32_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        in[i] = (int8_t)(seed >> 24);
    }
    assert_int_equal(engine_run_stage1(e, part2), ENGINE_OK);
    assert_int_equal(engine_run_stage2(e, full2), ENGINE_OK);
    assert_memory_equal(part, part2, sizeof part);
    assert_memory_equal(full, full2, sizeof full);
    engine_op_cost_t oc;
    assert_int_equal(engine_op_cost(e, 0, &oc), ENGINE_OK);
    assert_int_equal(oc.kind, MT_OP_CONV);
    assert_int_equal(oc.macs, m.ops[0].macs);
    free(arena);
    free(e);
    model_import_free(&m);
}

static void test_inspect(void **state)
{
    (void)state;
    char path[1024];
    if (!model_path("proxyless-w0.3.tflite", path, sizeof path)) {
        skip();
    }
    char *txt = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&txt, &len);
    assert_int_equal(model_inspect_print(out, path, "blocks.8", false), 0);
    fclose(out);
    model_import_t m;
    char err[256];
    const model_import_opts_t opts = {.cut = "blocks.8"};
    assert_int_equal(model_import_file(path, &opts, &m, err, sizeof err), 0);
    char want[128];
    snprintf(want, sizeof want, "peak arena %7u B", m.arena_stage1_bytes);
    assert_non_null(strstr(txt, want));
    assert_non_null(strstr(txt, "DEPTHWISE_CONV_2D"));
    assert_non_null(strstr(txt, "(part pool)"));
    assert_non_null(strstr(txt, "stage 1 + 2"));
    free(txt);
    txt = NULL;
    out = open_memstream(&txt, &len);
    assert_int_equal(model_inspect_print(out, path, "blocks.8", true), 0);
    fclose(out);
    json_error_t jerr;
    json_t *j = json_loads(txt, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "ops")), m.n_ops);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "stage1"),
                                                        "arena_peak_bytes")), m.arena_stage1_bytes);
    assert_int_equal(json_integer_value(json_object_get(j, "part_dim")), 24);
    json_decref(j);
    free(txt);
    txt = NULL;
    out = open_memstream(&txt, &len);
    assert_int_not_equal(model_inspect_print(out, path, "blocks.77", false), 0);
    fclose(out);
    assert_non_null(strstr(txt, "error: cut 'blocks.77'"));
    free(txt);
    model_import_free(&m);
}

/* The engine's API refuses misuse with its error codes instead of running. */
static void test_engine_api_errors(void **state)
{
    (void)state;
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/tests/data/import/ok_tiny.tflite", build_dir());
    model_import_t m;
    const model_import_opts_t opts = {.cut = "conv.out", .keep_classifier = true};
    assert_int_equal(model_import_file(path, &opts, &m, err, sizeof err), 0);
    engine_t *e = calloc(1, sizeof *e);
    static uint8_t arena[64 * 1024] __attribute__((aligned(8)));
    assert_int_equal(engine_open(NULL, m.image, m.image_bytes, arena, sizeof arena), ENGINE_EARG);
    assert_int_equal(engine_open(e, NULL, m.image_bytes, arena, sizeof arena), ENGINE_EARG);
    assert_int_equal(engine_open(e, m.image, m.image_bytes, NULL, sizeof arena), ENGINE_EARG);
    /* Not open: nothing runs. */
    uint32_t n = 1;
    assert_null(engine_input(e, &n));
    assert_int_equal(n, 0);
    assert_int_equal(engine_run_stage1(e, NULL), ENGINE_ESTATE);
    assert_int_equal(engine_part_dim(e), 0);
    assert_int_equal(engine_open(e, m.image, m.image_bytes, arena, sizeof arena), ENGINE_OK);
    assert_int_equal(engine_part_dim(e), 4);  /* conv.out has 4 channels */
    assert_int_equal(engine_full_dim(e), 4);  /* pool.out feeds the classifier */
    float vals[8 * 8 * 3];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        vals[i] = (float)i / 100.0f - 0.9f;
    }
    assert_int_equal(engine_set_input_f32(e, vals, 5), ENGINE_EARG);
    assert_int_equal(engine_set_input_f32(e, vals, 8 * 8 * 3), ENGINE_OK);
    /* q = round(v / scale) + zp, scale 1/127.5, zp 0: v = -0.9 -> -114.75 -> -115. */
    const int8_t *q = engine_tensor(e, m.input_tensor, &n);
    assert_int_equal(n, 8 * 8 * 3);
    assert_int_equal(q[0], -115);
    assert_int_equal(engine_run_stage2(e, NULL), ENGINE_ESTATE);
    float part[4], full[4];
    assert_int_equal(engine_run_stage1(e, part), ENGINE_OK);
    assert_int_equal(engine_run_stage2(e, full), ENGINE_OK);
    float scale;
    int32_t zp;
    const int8_t *logits = engine_output(e, &n, &scale, &zp);
    assert_non_null(logits);
    assert_int_equal(n, 2);
    assert_int_equal(zp, 5);
    engine_op_cost_t cost;
    assert_int_equal(engine_op_cost(e, engine_op_count(e), &cost), ENGINE_EARG);
    assert_int_equal(engine_op_cost(e, 0, NULL), ENGINE_EARG);
    assert_null(engine_tensor(e, 100000, &n));
    free(e);
    model_import_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_cases),
        cmocka_unit_test(test_cut_names),
        cmocka_unit_test(test_classifier_and_unsupported),
        cmocka_unit_test(test_image_checks),
        cmocka_unit_test(test_truncated_models),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_engine_api_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
