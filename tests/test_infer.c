/*
 * test_infer.c — staged inference on the real ProxylessNAS-w0.3 backbone (../shared/models, cut
 * after block 8): resume without recompute (an engine hook adds up the MACs of the ops actually
 * executed), r = 0 always resumes, r = 1 never does, the resumed answer equals the full head on a
 * plain stage 1 + stage 2 run, cycles and energy from the cost model, and bad input.
 * Inputs are synthetic images generated here (two classes: smooth ramps vs. checkerboards), so
 * the heads have something learnable; skipped, saying so, when the shared models are absent.
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

#include "cost.h"
#include "energy.h"
#include "engine.h"
#include "head.h"
#include "import/model_import.h"
#include "infer.h"
#include "stage.h"

__attribute__((weak)) uint64_t hal_cycles(void)
{
    return 0;
}

#define N_IMG 24u
#define N_CLS 2u

typedef struct {
    model_import_t mi;
    uint8_t *image, *arena;
    engine_t e;
    uint32_t pd, fd;
    float part[N_IMG][HEAD_MAX_DIM / 8], full[N_IMG][HEAD_MAX_DIM / 8];
    uint8_t labels[N_IMG];
    float hp_buf[N_CLS * (HEAD_MAX_DIM / 8 + 1)], hf_buf[N_CLS * (HEAD_MAX_DIM / 8 + 1)];
    head_t hp, hf;
    stage_t stage;
    uint64_t executed_macs;
} fx_t;

static void fx_hook(void *ctx, uint32_t op_index, uint32_t tensor_index, const int8_t *data,
                    uint32_t bytes)
{
    (void)tensor_index;
    (void)data;
    (void)bytes;
    fx_t *fx = ctx;
    fx->executed_macs += fx->e.ops[op_index].macs;
}

static void fx_input(fx_t *fx, uint32_t i)
{
    uint32_t bytes = 0;
    int8_t *in = engine_input(&fx->e, &bytes);
    uint32_t side = (uint32_t)fx->e.tensors[fx->e.hdr->input_tensor].shape[1];
    for (uint32_t y = 0; y < side; y++)
        for (uint32_t x = 0; x < side; x++) {
            int v;
            if (i % 2u == 0)
                v = (int)((x * (3u + i) + y * 2u) % 256u) - 128;              /* ramps */
            else
                v = (((x / (4u + i % 5u)) + (y / (4u + i % 5u))) % 2u) ? 100 : -100; /* checks */
            for (uint32_t c = 0; c < 3; c++)
                in[(y * side + x) * 3u + c] = (int8_t)v;
        }
}

static int fx_setup(void **state)
{
    const char *shared = getenv("MICROT_SHARED");
    char path[512];
    snprintf(path, sizeof path, "%s/models/proxyless-w0.3_pad.tflite", shared ? shared : "../shared");
    if (access(path, R_OK) != 0) {
        print_message("SKIP: %s absent (set MICROT_SHARED)\n", path);
        *state = NULL;
        return 0;
    }
    static fx_t fx;
    memset(&fx, 0, sizeof fx);
    char err[256];
    model_import_opts_t opts = {.cut = "8", .keep_classifier = false};
    if (model_import_file(path, &opts, &fx.mi, err, sizeof err) != 0)
        return -1;
    fx.image = aligned_alloc(8, (fx.mi.image_bytes + 7u) & ~7u);
    fx.arena = aligned_alloc(8, (fx.mi.arena_bytes + 7u) & ~7u);
    if (fx.image == NULL || fx.arena == NULL)
        return -1;
    memcpy(fx.image, fx.mi.image, fx.mi.image_bytes);
    if (engine_open(&fx.e, fx.image, fx.mi.image_bytes, fx.arena, fx.mi.arena_bytes) != ENGINE_OK)
        return -1;
    fx.pd = engine_part_dim(&fx.e);
    fx.fd = engine_full_dim(&fx.e);
    if (fx.pd > HEAD_MAX_DIM / 8 || fx.fd > HEAD_MAX_DIM / 8)
        return -1;
    /* Features of every image, then both heads trained on the first 16, calibrated on the rest. */
    static float feat_p[N_IMG * (HEAD_MAX_DIM / 8)], feat_f[N_IMG * (HEAD_MAX_DIM / 8)];
    for (uint32_t i = 0; i < N_IMG; i++) {
        fx_input(&fx, i);
        if (engine_run_stage1(&fx.e, feat_p + i * fx.pd) != ENGINE_OK ||
            engine_run_stage2(&fx.e, feat_f + i * fx.fd) != ENGINE_OK)
            return -1;
        fx.labels[i] = (uint8_t)(i % 2u);
    }
    static float scratch[65536];
    head_train_cfg_t cfg = head_default_cfg();
    head_set_t sp = {.features = feat_p, .labels = fx.labels, .count = 16};
    head_set_t sf = {.features = feat_f, .labels = fx.labels, .count = 16};
    if (head_init(&fx.hp, fx.pd, N_CLS, fx.hp_buf, sizeof fx.hp_buf) != HEAD_OK ||
        head_init(&fx.hf, fx.fd, N_CLS, fx.hf_buf, sizeof fx.hf_buf) != HEAD_OK ||
        head_train(&fx.hp, &sp, &cfg, scratch, sizeof scratch, NULL) != HEAD_OK ||
        head_train(&fx.hf, &sf, &cfg, scratch, sizeof scratch, NULL) != HEAD_OK)
        return -1;
    stage_record_t rec[N_IMG - 16];
    for (uint32_t i = 16; i < N_IMG; i++) {
        float c;
        rec[i - 16].part_correct = head_predict(&fx.hp, feat_p + i * fx.pd, NULL, &c) == fx.labels[i];
        rec[i - 16].full_correct = head_predict(&fx.hf, feat_f + i * fx.fd, NULL, NULL) == fx.labels[i];
        rec[i - 16].confidence = c;
    }
    if (stage_calibrate(&fx.stage, rec, N_IMG - 16, 1, 1, 0.5f) != STAGE_OK)
        return -1;
    engine_set_hook(&fx.e, fx_hook, &fx);
    *state = &fx;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *fx = *state;
    if (fx != NULL) {
        free(fx->image);
        free(fx->arena);
        model_import_free(&fx->mi);
    }
    return 0;
}

static infer_ctx_t fx_ctx(fx_t *fx, const energy_profile_t *p, float *pbuf, float *fbuf)
{
    infer_ctx_t c = {.engine = &fx->e, .part_head = &fx->hp, .full_head = &fx->hf,
                     .stage = &fx->stage, .profile = p, .part_feature = pbuf, .full_feature = fbuf};
    return c;
}

/* r = 0: every inference resumes; the ops executed are stage 1's once and stage 2's once. */
static void test_ratio0_resumes_once(void **state)
{
    fx_t *fx = *state;
    if (fx == NULL)
        skip();
    const energy_profile_t *p = energy_profile(ENERGY_BOARD_H7A3ZI);
    float pb[HEAD_MAX_DIM], fb[HEAD_MAX_DIM];
    infer_ctx_t c = fx_ctx(fx, p, pb, fb);
    assert_int_equal(stage_set_ratio(&fx->stage, 0.0f), STAGE_OK);
    for (uint32_t i = 0; i < 4; i++) {
        infer_result_t r;
        fx_input(fx, i);
        fx->executed_macs = 0;
        assert_int_equal(infer_run(&c, &r), INFER_OK);
        assert_int_equal(r.stage, 2);
        assert_int_equal(fx->executed_macs,
                         (uint64_t)fx->e.hdr->macs_stage1 + fx->e.hdr->macs_stage2);
        uint64_t want = cost_stage_cycles(&fx->e, p, 1, NULL) + cost_stage_cycles(&fx->e, p, 2, NULL) +
                        cost_float_cycles(p, head_predict_macs(&fx->hp), head_predict_exps(&fx->hp)) +
                        cost_float_cycles(p, head_predict_macs(&fx->hf), head_predict_exps(&fx->hf));
        assert_int_equal(r.cycles, want);
        assert_true(fabs(r.energy_nj - energy_nj(p, (double)want)) < 1e-9 * r.energy_nj);
        /* the resumed answer is the full head on a plain stage 1 + stage 2 of the same input */
        float part[HEAD_MAX_DIM], full[HEAD_MAX_DIM], conf;
        fx_input(fx, i);
        assert_int_equal(engine_run_stage1(&fx->e, part), ENGINE_OK);
        assert_int_equal(engine_run_stage2(&fx->e, full), ENGINE_OK);
        assert_int_equal(head_predict(&fx->hf, full, NULL, &conf), r.class_index);
        assert_float_equal(conf, r.confidence, 0.0f);
    }
}

/* r = 1: every inference exits after stage 1; stage 2's ops never run. */
static void test_ratio1_exits(void **state)
{
    fx_t *fx = *state;
    if (fx == NULL)
        skip();
    const energy_profile_t *p = energy_profile(ENERGY_BOARD_L4R5ZI);
    float pb[HEAD_MAX_DIM], fb[HEAD_MAX_DIM];
    infer_ctx_t c = fx_ctx(fx, p, pb, fb);
    assert_int_equal(stage_set_ratio(&fx->stage, 1.0f), STAGE_OK);
    for (uint32_t i = 0; i < 4; i++) {
        infer_result_t r;
        fx_input(fx, i);
        fx->executed_macs = 0;
        assert_int_equal(infer_run(&c, &r), INFER_OK);
        assert_int_equal(r.stage, 1);
        assert_int_equal(fx->executed_macs, fx->e.hdr->macs_stage1);
        assert_float_equal(r.confidence, r.part_confidence, 0.0f);
        assert_true(r.cycles < cost_stage_cycles(&fx->e, p, 1, NULL) +
                                   cost_stage_cycles(&fx->e, p, 2, NULL));
    }
    /* stage 2 never ran: the arena still holds stage 1's activations, ready to resume */
    assert_true(fx->e.stage1_done);
}

/* r = 0.5 on a mix: each inference executes stage 1 once, plus stage 2 once iff it resumed. */
static void test_mixed_ratio(void **state)
{
    fx_t *fx = *state;
    if (fx == NULL)
        skip();
    const energy_profile_t *p = energy_profile(ENERGY_BOARD_H7A3ZI);
    float pb[HEAD_MAX_DIM], fb[HEAD_MAX_DIM];
    infer_ctx_t c = fx_ctx(fx, p, pb, fb);
    assert_int_equal(stage_set_ratio(&fx->stage, 0.5f), STAGE_OK);
    uint64_t resumed = 0;
    fx->executed_macs = 0;
    for (uint32_t i = 0; i < N_IMG; i++) {
        infer_result_t r;
        fx_input(fx, i);
        assert_int_equal(infer_run(&c, &r), INFER_OK);
        assert_int_equal(r.stage == 1, r.part_confidence >= fx->stage.threshold);
        resumed += r.stage == 2;
    }
    print_message("r = 0.5: %llu of %u resumed (threshold %.4f)\n", (unsigned long long)resumed,
                  N_IMG, fx->stage.threshold);
    assert_true(resumed > 0 && resumed < N_IMG);
    assert_int_equal(fx->executed_macs,
                     N_IMG * (uint64_t)fx->e.hdr->macs_stage1 + resumed * fx->e.hdr->macs_stage2);
}

static void test_bad_input(void **state)
{
    fx_t *fx = *state;
    if (fx == NULL)
        skip();
    float pb[HEAD_MAX_DIM], fb[HEAD_MAX_DIM];
    infer_ctx_t c = fx_ctx(fx, energy_profile(ENERGY_BOARD_H7A3ZI), pb, fb);
    infer_result_t r;
    assert_int_equal(infer_run(NULL, &r), INFER_EINVAL);
    c.part_head = &fx->hf;      /* full-dim head where the part head belongs */
    assert_int_equal(infer_run(&c, &r), INFER_EINVAL);
    c.part_head = &fx->hp;
    head_t untrained = fx->hp;
    untrained.trained = false;
    c.part_head = &untrained;
    assert_int_equal(infer_run(&c, &r), INFER_EHEAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratio0_resumes_once),
        cmocka_unit_test(test_ratio1_exits),
        cmocka_unit_test(test_mixed_ratio),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
