/*
 * test_head.c — the on-board logistic-regression head: determinism, convergence to the optimum,
 * invariance to per-feature scale (the on-board standardisation), buffer sizing and bad input.
 * Data: Gaussian blobs drawn here from a fixed-seed generator (no files).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "head.h"

#define T_N 300u
#define T_D 12u
#define T_K 4u

static float t_x[T_N * T_D];
static uint8_t t_y[T_N];
static float t_model[T_K * (T_D + 1u)], t_model2[T_K * (T_D + 1u)];
static float t_scratch[32768];

static uint64_t t_rng = 88172645463325252ull;
static double t_uniform(void)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return ((t_rng >> 11) + 0.5) / 9007199254740992.0;
}
static float t_gauss(void)
{
    return (float)(sqrt(-2.0 * log(t_uniform())) * cos(6.283185307179586 * t_uniform()));
}

/* Overlapping blobs (not separable, so the optimum is finite even without L2). */
static void t_make_data(void)
{
    float centers[T_K][T_D];
    t_rng = 88172645463325252ull;
    for (uint32_t k = 0; k < T_K; k++)
        for (uint32_t j = 0; j < T_D; j++)
            centers[k][j] = 0.6f * t_gauss();
    for (uint32_t i = 0; i < T_N; i++) {
        uint8_t y = (uint8_t)(i % T_K);
        t_y[i] = y;
        for (uint32_t j = 0; j < T_D; j++)
            t_x[i * T_D + j] = centers[y][j] + t_gauss();
    }
}

static float t_accuracy(const head_t *h, const float *x)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < T_N; i++)
        ok += head_predict(h, x + i * T_D, NULL, NULL) == t_y[i];
    return (float)ok / T_N;
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(head_model_bytes(T_D, T_K), T_K * (T_D + 1u) * 4u);
    assert_int_equal(head_model_bytes(0, T_K), 0);
    assert_int_equal(head_model_bytes(T_D, 1), 0);
    size_t p = T_K * (T_D + 1u);
    assert_int_equal(head_train_buffer_bytes(T_D, T_K, 5), (3u * T_D + T_K + 13u * p + 10u) * 4u);
    assert_int_equal(head_train_buffer_bytes(T_D, T_K, 0), 0);
    assert_int_equal(head_train_buffer_bytes(T_D, T_K, HEAD_MAX_HISTORY + 1u), 0);
}

static void test_train_deterministic_and_accurate(void **state)
{
    (void)state;
    t_make_data();
    head_t h1, h2;
    head_train_cfg_t cfg = head_default_cfg();
    head_set_t set = {.features = t_x, .labels = t_y, .index = NULL, .count = T_N};
    head_train_report_t r1, r2;
    assert_int_equal(head_init(&h1, T_D, T_K, t_model, sizeof t_model), HEAD_OK);
    assert_int_equal(head_train(&h1, &set, &cfg, t_scratch, sizeof t_scratch, &r1), HEAD_OK);
    assert_int_equal(head_init(&h2, T_D, T_K, t_model2, sizeof t_model2), HEAD_OK);
    memset(t_scratch, 0xA5, sizeof t_scratch);  /* scratch contents must not matter */
    assert_int_equal(head_train(&h2, &set, &cfg, t_scratch, sizeof t_scratch, &r2), HEAD_OK);
    assert_memory_equal(t_model, t_model2, sizeof t_model);
    assert_int_equal(r1.iterations, r2.iterations);
    assert_true(r1.stop == HEAD_STOP_GRADIENT || r1.stop == HEAD_STOP_LOSS);
    assert_true(r1.iterations < cfg.max_iter);
    assert_true(r1.float_macs > (uint64_t)r1.evaluations * T_N * T_K * T_D);
    float acc = t_accuracy(&h1, t_x);
    print_message("train acc %.3f iters %u evals %u loss %.4f stop %d\n", acc, r1.iterations,
                  r1.evaluations, r1.loss, r1.stop);
    assert_true(acc > 0.75f && acc < 1.0f);
}

/* A tighter stopping rule only refines the same optimum: predictions agree. The default rule
 * must already be close to the optimum (loss within 0.1 %). */
static void test_stopping_rule_reaches_optimum(void **state)
{
    (void)state;
    t_make_data();
    head_t h1, h2;
    head_set_t set = {.features = t_x, .labels = t_y, .index = NULL, .count = T_N};
    head_train_cfg_t cfg = head_default_cfg(), tight = cfg;
    tight.grad_tol = 1e-7f;
    tight.rel_loss_tol = 0.0f;
    tight.max_iter = 1000;
    head_train_report_t r1, r2;
    head_init(&h1, T_D, T_K, t_model, sizeof t_model);
    head_init(&h2, T_D, T_K, t_model2, sizeof t_model2);
    assert_int_equal(head_train(&h1, &set, &cfg, t_scratch, sizeof t_scratch, &r1), HEAD_OK);
    assert_int_equal(head_train(&h2, &set, &tight, t_scratch, sizeof t_scratch, &r2), HEAD_OK);
    print_message("default: %u iters loss %.6f; tight: %u iters loss %.6f stop %d\n",
                  r1.iterations, r1.loss, r2.iterations, r2.loss, r2.stop);
    assert_true(r2.loss <= r1.loss + 1e-3f);
    assert_true(fabsf(r1.loss - r2.loss) <= 1e-3f * r2.loss);
    uint32_t agree = 0;
    for (uint32_t i = 0; i < T_N; i++)
        agree += head_predict(&h1, t_x + i * T_D, NULL, NULL) ==
                 head_predict(&h2, t_x + i * T_D, NULL, NULL);
    assert_true(agree >= T_N - 2u);
}

/* With standardisation on the board, rescaling and shifting a feature changes nothing. */
static void test_standardization_invariance(void **state)
{
    (void)state;
    static float scaled[T_N * T_D];
    t_make_data();
    for (uint32_t i = 0; i < T_N; i++)
        for (uint32_t j = 0; j < T_D; j++)
            scaled[i * T_D + j] = t_x[i * T_D + j] * (j % 2 ? 250.0f : 0.01f) + (float)j;
    head_t h1, h2;
    head_train_cfg_t cfg = head_default_cfg();
    head_set_t a = {.features = t_x, .labels = t_y, .count = T_N};
    head_set_t b = {.features = scaled, .labels = t_y, .count = T_N};
    head_init(&h1, T_D, T_K, t_model, sizeof t_model);
    head_init(&h2, T_D, T_K, t_model2, sizeof t_model2);
    assert_int_equal(head_train(&h1, &a, &cfg, t_scratch, sizeof t_scratch, NULL), HEAD_OK);
    assert_int_equal(head_train(&h2, &b, &cfg, t_scratch, sizeof t_scratch, NULL), HEAD_OK);
    uint32_t agree = 0;
    for (uint32_t i = 0; i < T_N; i++) {
        float c1, c2;
        int p1 = head_predict(&h1, t_x + i * T_D, NULL, &c1);
        int p2 = head_predict(&h2, scaled + i * T_D, NULL, &c2);
        agree += p1 == p2 && fabsf(c1 - c2) < 0.02f;
    }
    assert_true(agree >= T_N - 3u);
}

/* The index list selects rows: training on the even rows via index equals training on a
 * compacted copy of them. */
static void test_index_subset(void **state)
{
    (void)state;
    static float compact[T_N / 2u * T_D];
    static uint8_t compact_y[T_N / 2u];
    static uint16_t idx[T_N / 2u];
    t_make_data();
    for (uint32_t i = 0; i < T_N / 2u; i++) {
        idx[i] = (uint16_t)(2u * i);
        memcpy(compact + i * T_D, t_x + 2u * i * T_D, T_D * sizeof(float));
        compact_y[i] = t_y[2u * i];
    }
    head_t h1, h2;
    head_train_cfg_t cfg = head_default_cfg();
    head_set_t a = {.features = t_x, .labels = t_y, .index = idx, .count = T_N / 2u};
    head_set_t b = {.features = compact, .labels = compact_y, .count = T_N / 2u};
    head_init(&h1, T_D, T_K, t_model, sizeof t_model);
    head_init(&h2, T_D, T_K, t_model2, sizeof t_model2);
    assert_int_equal(head_train(&h1, &a, &cfg, t_scratch, sizeof t_scratch, NULL), HEAD_OK);
    assert_int_equal(head_train(&h2, &b, &cfg, t_scratch, sizeof t_scratch, NULL), HEAD_OK);
    assert_memory_equal(t_model, t_model2, sizeof t_model);
}

static void test_bad_input(void **state)
{
    (void)state;
    t_make_data();
    head_t h;
    head_train_cfg_t cfg = head_default_cfg();
    head_set_t set = {.features = t_x, .labels = t_y, .count = T_N};
    assert_int_equal(head_init(&h, T_D, T_K, t_model, 8), HEAD_ENOSPACE);
    assert_int_equal(head_init(&h, T_D, 1, t_model, sizeof t_model), HEAD_EINVAL);
    assert_int_equal(head_init(&h, T_D, T_K, t_model, sizeof t_model), HEAD_OK);
    float x[T_D] = {0};
    assert_int_equal(head_predict(&h, x, NULL, NULL), HEAD_ESTATE);
    assert_int_equal(head_train(&h, &set, &cfg, t_scratch, 64, NULL), HEAD_ENOSPACE);
    set.count = 0;
    assert_int_equal(head_train(&h, &set, &cfg, t_scratch, sizeof t_scratch, NULL), HEAD_EINVAL);
    set.count = T_N;
    t_y[7] = T_K;   /* label out of range */
    assert_int_equal(head_train(&h, &set, &cfg, t_scratch, sizeof t_scratch, NULL), HEAD_EINVAL);
    t_y[7] = 0;
    cfg.c = 0.0f;
    assert_int_equal(head_train(&h, &set, &cfg, t_scratch, sizeof t_scratch, NULL), HEAD_EINVAL);
    assert_false(h.trained);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_train_deterministic_and_accurate),
        cmocka_unit_test(test_stopping_rule_reaches_optimum),
        cmocka_unit_test(test_standardization_invariance),
        cmocka_unit_test(test_index_subset),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
