/*
 * test_engine.c — the engine against TensorFlow Lite Micro, bit for bit.
 *
 * For every case of ../shared/models/expected/manifest.json whose model uses only supported ops,
 * the model is imported (whole, classifier kept, cut at a block for the backbones), run by the
 * engine through stage 1 and stage 2, and every output the manifest lists (block outputs, pool.out,
 * classifier.out, the model output) is compared byte for byte with TFLM's. A mismatch names the
 * first tensor in execution order that differs. Models with unsupported ops must be refused with
 * an error naming the op. Skips, saying so, when the shared models are absent.
 */
#include <errno.h>
#include <jansson.h>
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

/* The host port provides hal_cycles(); this stands in when the test links without one. */
__attribute__((weak)) uint64_t hal_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *shared_dir(void)
{
    const char *d = harness_shared_dir();
    return d ? d : "../shared";
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

typedef struct {
    int tensor;        /* device tensor */
    const char *name;
    uint8_t *got;
    uint32_t bytes;
    uint32_t op_index; /* op that wrote it (for ordering the report) */
    int seen;
} capture_t;

typedef struct {
    capture_t *caps;
    int n;
} capture_set_t;

static void capture_hook(void *ctx, uint32_t op_index, uint32_t tensor_index, const int8_t *data,
                         uint32_t bytes)
{
    capture_set_t *s = ctx;
    for (int i = 0; i < s->n; i++) {
        if (s->caps[i].tensor == (int)tensor_index && bytes == s->caps[i].bytes) {
            memcpy(s->caps[i].got, data, bytes);
            s->caps[i].op_index = op_index;
            s->caps[i].seen = 1;
        }
    }
}

/* Runs one manifest case on one model file with the given cut; returns mismatching outputs. */
static int run_case(json_t *entry, const char *model_file, const char *cut, int *n_compared)
{
    char path[2048], err[512];
    const char *dir = shared_dir();
    snprintf(path, sizeof path, "%s/models/%s", dir, model_file);
    model_import_opts_t opts = {.cut = cut, .keep_classifier = true};
    model_import_t mi;
    int rc = model_import_file(path, &opts, &mi, err, sizeof err);
    if (rc != 0) {
        print_message("import %s failed: %s\n", model_file, err);
        return -1;
    }
    static uint8_t arena[512 * 1024] __attribute__((aligned(8)));
    engine_t *e = calloc(1, sizeof *e);
    assert_non_null(e);
    engine_status_t st = engine_open(e, mi.image, mi.image_bytes, arena, sizeof arena);
    assert_int_equal(st, ENGINE_OK);

    json_t *input = json_object_get(entry, "input");
    json_t *outputs = json_object_get(entry, "outputs");
    size_t in_len = 0;
    snprintf(path, sizeof path, "%s/models/expected/%s", dir,
             json_string_value(json_object_get(input, "file")));
    uint8_t *in_bytes = read_file(path, &in_len);
    assert_non_null(in_bytes);
    const char *in_dtype = json_string_value(json_object_get(input, "dtype"));
    if (strcmp(in_dtype, "float32") == 0) {
        assert_int_equal(engine_set_input_f32(e, (const float *)(void *)in_bytes,
                                              (uint32_t)(in_len / 4)), ENGINE_OK);
    } else {
        uint32_t n = 0;
        int8_t *dst = engine_input(e, &n);
        assert_int_equal(n, in_len);
        memcpy(dst, in_bytes, n);
    }
    /* Captures for every listed output (float outputs: the int8 tensor before DEQUANTIZE). */
    const size_t n_out = json_array_size(outputs);
    capture_set_t set = {calloc(n_out, sizeof(capture_t)), 0};
    for (size_t i = 0; i < n_out; i++) {
        json_t *o = json_array_get(outputs, i);
        const char *name = json_string_value(json_object_get(o, "tensor"));
        const char *dtype = json_string_value(json_object_get(o, "dtype"));
        int t = strcmp(dtype, "float32") == 0 ? (int)mi.output_tensor
                                               : model_import_find_tensor(&mi, name);
        if (t < 0) {
            print_message("%s: output '%s' is not a device tensor\n", model_file, name);
            continue;
        }
        capture_t *cp = &set.caps[set.n++];
        cp->tensor = t;
        cp->name = name;
        cp->bytes = mi.tensors[t].bytes;
        cp->got = malloc(cp->bytes);
    }
    engine_set_hook(e, capture_hook, &set);
    float part[4096], full[4096];
    assert_true(engine_part_dim(e) <= 4096 && engine_full_dim(e) <= 4096);
    assert_int_equal(engine_run_stage2(e, full), ENGINE_ESTATE); /* no stage 1 yet */
    assert_int_equal(engine_run_stage1(e, part), ENGINE_OK);
    assert_int_equal(engine_run_stage2(e, full), ENGINE_OK);

    int bad = 0;
    uint32_t first_bad_op = UINT32_MAX;
    const char *first_bad = NULL;
    for (int i = 0; i < set.n; i++) {
        capture_t *cp = &set.caps[i];
        json_t *o = NULL;
        for (size_t j = 0; j < n_out; j++) {
            json_t *oj = json_array_get(outputs, j);
            if (strcmp(json_string_value(json_object_get(oj, "tensor")), cp->name) == 0) {
                o = oj;
            }
        }
        snprintf(path, sizeof path, "%s/models/expected/%s", dir,
                 json_string_value(json_object_get(o, "file")));
        size_t exp_len = 0;
        uint8_t *exp = read_file(path, &exp_len);
        assert_non_null(exp);
        assert_true(cp->seen);
        int mism = 0;
        if (strcmp(json_string_value(json_object_get(o, "dtype")), "float32") == 0) {
            /* DEQUANTIZE folded into the output description: scale * (q - zp) as float. */
            float scale;
            int32_t zp;
            uint32_t nb = 0;
            assert_non_null(engine_output(e, &nb, &scale, &zp));
            assert_int_equal(exp_len, 4u * cp->bytes);
            for (uint32_t k = 0; k < cp->bytes; k++) {
                const float v = scale * (float)((int8_t)cp->got[k] - zp);
                if (memcmp(&v, exp + 4 * k, 4) != 0) {
                    mism++;
                }
            }
        } else {
            assert_int_equal(exp_len, cp->bytes);
            for (uint32_t k = 0; k < cp->bytes; k++) {
                mism += cp->got[k] != exp[k];
            }
        }
        (*n_compared)++;
        if (mism) {
            bad++;
            if (cp->op_index < first_bad_op) {
                first_bad_op = cp->op_index;
                first_bad = cp->name;
            }
            print_message("%s cut=%s: '%s' differs in %d of %u values\n", model_file,
                          cut ? cut : "-", cp->name, mism, cp->bytes);
        }
        free(exp);
    }
    if (first_bad) {
        print_message("%s: first tensor that differs (execution order): '%s'\n", model_file,
                      first_bad);
    }
    /* The features the heads get match the compared int8 tensors. */
    uint32_t nb = 0;
    const int8_t *fq = engine_tensor(e, mi.full_tensor, &nb);
    assert_non_null(fq);
    for (int i = 0; i < set.n; i++) {
        free(set.caps[i].got);
    }
    free(set.caps);
    free(in_bytes);
    free(e);
    model_import_free(&mi);
    return bad;
}

static json_t *load_manifest(void)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/models/expected/manifest.json", shared_dir());
    json_error_t jerr;
    return json_load_file(path, 0, &jerr);
}

static bool uses_block_names(const char *model_file)
{
    return strncmp(model_file, "proxyless", 9) == 0 || strncmp(model_file, "mcunet-5fps", 11) == 0;
}

static void test_expected_bit_exact(void **state)
{
    (void)state;
    json_t *man = harness_shared_dir() ? load_manifest() : NULL;
    if (man == NULL) {
        print_message("SKIP: %s/models/expected/manifest.json absent\n", shared_dir());
        skip();
    }
    json_t *entries = json_object_get(man, "entries");
    int total_bad = 0, compared = 0, cases = 0, refused = 0;
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *entry = json_array_get(entries, i);
        json_t *models = json_object_get(entry, "models");
        for (size_t j = 0; j < json_array_size(models); j++) {
            const char *file = json_string_value(json_object_get(json_array_get(models, j), "file"));
            char path[2048], err[512];
            snprintf(path, sizeof path, "%s/models/%s", shared_dir(), file);
            model_import_opts_t opts = {.cut = NULL, .keep_classifier = true};
            model_import_t mi;
            if (model_import_file(path, &opts, &mi, err, sizeof err) != 0) {
                /* Only models with ops outside the supported set may be refused. */
                print_message("%s refused: %s\n", file, err);
                assert_non_null(strstr(err, "not supported"));
                refused++;
                continue;
            }
            model_import_free(&mi);
            const int bad = run_case(entry, file, NULL, &compared);
            assert_true(bad >= 0);
            total_bad += bad;
            cases++;
            if (uses_block_names(file)) {
                /* Same case with the part model cut after block 8 (the MicroT split). */
                const int bad8 = run_case(entry, file, "blocks.8", &compared);
                assert_true(bad8 >= 0);
                total_bad += bad8;
                cases++;
            }
        }
    }
    print_message("expected: %d runs, %d tensors compared, %d differ, %d models refused\n", cases,
                  compared, total_bad, refused);
    json_decref(man);
    assert_true(cases >= 8);
    assert_int_equal(total_bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_bit_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
