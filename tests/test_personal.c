/*
 * test_personal.c — the personalization session end to end on the real ProxylessNAS-w0.3
 * backbone (../shared/models, cut after block 8): reset lays out the region and reports the cache
 * capacity, samples are refused past it with nothing lost, training splits/trains/calibrates,
 * the ratio changes without retraining, the trade-off curve, staged inference, and the error
 * paths (train before samples, infer before training, a label out of range, another model).
 * Inputs: two classes of synthetic images generated here; skipped when the models are absent.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "import/model_import.h"
#include "personal.h"

__attribute__((weak)) uint64_t hal_cycles(void)
{
    return 0;
}

typedef struct {
    model_import_t mi;
    uint8_t *image, *arena;
    engine_t e;
} px_t;

static uint64_t px_region[64 * 1024 / 8];   /* 64 KiB session region, 8-byte aligned */

static void px_input(engine_t *e, uint32_t i)
{
    uint32_t bytes = 0;
    int8_t *in = engine_input(e, &bytes);
    uint32_t side = (uint32_t)e->tensors[e->hdr->input_tensor].shape[1];
    for (uint32_t y = 0; y < side; y++)
        for (uint32_t x = 0; x < side; x++) {
            int v = i % 2u ? ((((x / (4u + i % 5u)) + (y / (4u + i % 3u))) % 2u) ? 100 : -100)
                           : (int)((x * (3u + i) + y * 2u) % 256u) - 128;
            for (uint32_t c = 0; c < 3; c++)
                in[(y * side + x) * 3u + c] = (int8_t)v;
        }
}

static int px_setup(void **state)
{
    const char *shared = getenv("MICROT_SHARED");
    char path[512];
    snprintf(path, sizeof path, "%s/models/proxyless-w0.3_pad.tflite", shared ? shared : "../shared");
    *state = NULL;
    if (access(path, R_OK) != 0) {
        print_message("SKIP: %s absent (set MICROT_SHARED)\n", path);
        return 0;
    }
    static px_t px;
    char err[256];
    model_import_opts_t opts = {.cut = "8", .keep_classifier = false};
    if (model_import_file(path, &opts, &px.mi, err, sizeof err) != 0)
        return -1;
    px.image = aligned_alloc(8, (px.mi.image_bytes + 7u) & ~7u);
    px.arena = aligned_alloc(8, (px.mi.arena_bytes + 7u) & ~7u);
    if (px.image == NULL || px.arena == NULL)
        return -1;
    memcpy(px.image, px.mi.image, px.mi.image_bytes);
    if (engine_open(&px.e, px.image, px.mi.image_bytes, px.arena, px.mi.arena_bytes) != ENGINE_OK)
        return -1;
    *state = &px;
    return 0;
}

static int px_teardown(void **state)
{
    px_t *px = *state;
    if (px != NULL) {
        free(px->image);
        free(px->arena);
        model_import_free(&px->mi);
    }
    return 0;
}

static void test_session(void **state)
{
    px_t *px = *state;
    if (px == NULL)
        skip();
    static personal_t p;
    const energy_profile_t *prof = energy_profile(ENERGY_BOARD_H7A3ZI);
    assert_int_equal(personal_reset(&p, px_region, sizeof px_region, &px->e, 2, prof), PERSONAL_OK);
    uint32_t cap = personal_capacity(&p);
    print_message("64 KiB region: %u samples of %u + %u floats\n", cap, p.part_dim, p.full_dim);
    assert_true(cap > 40 && cap < 64u * 1024u / (4u * (p.part_dim + p.full_dim)));

    personal_train_cfg_t cfg = {.seed = 7, .holdout_fraction = 0.25f, .l2 = 0.0f, .max_iter = 0};
    personal_train_result_t tr;
    assert_int_equal(personal_train(&p, &cfg, &tr), PERSONAL_EDATA);   /* no samples yet */
    infer_result_t ir;
    assert_int_equal(personal_infer(&p, &px->e, &ir), PERSONAL_ESTATE); /* not trained */
    px_input(&px->e, 0);
    assert_int_equal(personal_add_sample(&p, &px->e, 2, NULL), PERSONAL_EINVAL);  /* label >= 2 */

    for (uint32_t i = 0; i < 40; i++) {
        uint64_t c = 0;
        px_input(&px->e, i);
        assert_int_equal(personal_add_sample(&p, &px->e, i % 2u, &c), (int32_t)i);
        assert_int_equal(c, p.engine1_cycles + p.engine2_cycles);
    }
    assert_int_equal(personal_train(&p, &cfg, &tr), PERSONAL_OK);
    assert_int_equal(tr.samples + tr.holdout, 40);
    assert_int_equal(tr.holdout, 10);
    assert_true(tr.full.train_accuracy > 0.9f);
    assert_true(tr.extract_cycles == 40u * (p.engine1_cycles + p.engine2_cycles));
    assert_true(tr.train_cycles > 0 && tr.calibrate_cycles > 0);
    assert_true(fabs(tr.train_energy_nj - energy_nj(prof, (double)tr.train_cycles)) <
                1e-9 * tr.train_energy_nj);
    assert_true(tr.peak_ram_bytes > px->mi.arena_bytes);
    print_message("trained: part %.2f/%.2f full %.2f/%.2f (train/hold-out), staged %.2f, "
                  "threshold %.4f, %u+%u iterations\n",
                  tr.part.train_accuracy, tr.part.holdout_accuracy, tr.full.train_accuracy,
                  tr.full.holdout_accuracy, tr.staged_holdout_accuracy, tr.threshold,
                  tr.part.iterations, tr.full.iterations);

    /* The ratio moves the threshold only: the heads' weights stay bit for bit. */
    static float wp[HEAD_MAX_CLASSES * 64];
    size_t wbytes = head_model_bytes(p.part_dim, 2);
    memcpy(wp, p.part_head.weights, wbytes);
    float t0, t1;
    assert_int_equal(personal_set_ratio(&p, 0.0f, &t0), PERSONAL_OK);
    assert_true(isinf(t0));
    assert_int_equal(personal_set_ratio(&p, 1.0f, &t1), PERSONAL_OK);
    assert_float_equal(t1, 0.0f, 0.0f);
    assert_memory_equal(wp, p.part_head.weights, wbytes);
    assert_int_equal(personal_set_ratio(&p, 1.5f, NULL), PERSONAL_EINVAL);

    stage_point_t curve[STAGE_CURVE_POINTS];
    assert_int_equal(personal_tradeoff(&p, curve), PERSONAL_OK);
    assert_true(curve[0].energy_nj > curve[STAGE_CURVE_POINTS - 1].energy_nj);

    /* r = 1: stage 1 only; r = 0: always resumed. */
    px_input(&px->e, 5);
    assert_int_equal(personal_infer(&p, &px->e, &ir), PERSONAL_OK);
    assert_int_equal(ir.stage, 1);
    assert_int_equal(personal_set_ratio(&p, 0.0f, NULL), PERSONAL_OK);
    px_input(&px->e, 5);
    assert_int_equal(personal_infer(&p, &px->e, &ir), PERSONAL_OK);
    assert_int_equal(ir.stage, 2);
    assert_int_equal(ir.class_index, 1);

    /* Same seed, same samples: the same heads. */
    static float w1[HEAD_MAX_CLASSES * 128];
    size_t fbytes = head_model_bytes(p.full_dim, 2);
    memcpy(w1, p.full_head.weights, fbytes);
    assert_int_equal(personal_train(&p, &cfg, &tr), PERSONAL_OK);
    assert_memory_equal(w1, p.full_head.weights, fbytes);
}

static void test_capacity_refusal(void **state)
{
    px_t *px = *state;
    if (px == NULL)
        skip();
    static personal_t p;
    const energy_profile_t *prof = energy_profile(ENERGY_BOARD_L4R5ZI);
    /* a region just big enough for the heads and a handful of rows */
    static uint64_t small[2048];
    assert_int_equal(personal_reset(&p, small, 64, &px->e, 2, prof), PERSONAL_ENOSPACE);
    assert_int_equal(personal_reset(&p, small, sizeof small, &px->e, 2, prof), PERSONAL_OK);
    uint32_t cap = personal_capacity(&p);
    assert_true(cap >= 2 && cap < 40);
    for (uint32_t i = 0; i < cap; i++) {
        px_input(&px->e, i);
        assert_int_equal(personal_add_sample(&p, &px->e, i % 2u, NULL), (int32_t)i);
    }
    float first = p.cache.full[0];
    px_input(&px->e, 99);
    assert_int_equal(personal_add_sample(&p, &px->e, 1, NULL), PERSONAL_ENOSPACE);
    assert_int_equal(p.cache.count, cap);
    assert_float_equal(p.cache.full[0], first, 0.0f);
    /* a different engine (not the model the session was laid out for) is refused */
    engine_t other = px->e;
    other.hdr = NULL;
    other.open = false;
    assert_int_equal(personal_add_sample(&p, &other, 0, NULL), PERSONAL_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_capacity_refusal),
    };
    return cmocka_run_group_tests(tests, px_setup, px_teardown);
}
