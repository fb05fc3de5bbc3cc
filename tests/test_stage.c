/*
 * test_stage.c — stage decision: the seeded split, the quantile rule at r = 0 / 0.5 / 1 (and ties),
 * changing the ratio without retraining, the trade-off curve and both inverse queries.
 * Records are built here by hand so every expected figure follows from the definitions in stage.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stage.h"

static stage_t s_stage;

/* 10 held-out records, confidences 0.1..1.0 (given shuffled). The part head is right exactly on
 * the 5 most confident; the full head is right on all but conf 0.1 and 0.9. */
static void s_calibrate(float ratio)
{
    static const float conf[10] = {0.5f, 0.9f, 0.1f, 0.7f, 0.3f, 1.0f, 0.2f, 0.8f, 0.4f, 0.6f};
    stage_record_t r[10];
    for (int i = 0; i < 10; i++) {
        r[i].confidence = conf[i];
        r[i].part_correct = conf[i] > 0.55f;
        r[i].full_correct = !(conf[i] < 0.15f || (conf[i] > 0.85f && conf[i] < 0.95f));
    }
    assert_int_equal(stage_calibrate(&s_stage, r, 10, 1000, 3000, ratio), STAGE_OK);
}

static void test_quantile_rule(void **state)
{
    (void)state;
    s_calibrate(0.5f);
    for (uint32_t i = 1; i < s_stage.count; i++)
        assert_true(s_stage.records[i - 1].confidence <= s_stage.records[i].confidence);
    /* r = 0.5: k = 5, T = 5th largest = 0.6; exactly 5 of 10 exit. */
    assert_float_equal(s_stage.threshold, 0.6f, 0.0f);
    assert_true(stage_exits(&s_stage, 0.6f));
    assert_false(stage_exits(&s_stage, 0.59f));
    /* r = 0: above every confidence, even 1.0: nothing exits. */
    assert_true(isinf(stage_threshold_for(&s_stage, 0.0f)));
    assert_int_equal(stage_set_ratio(&s_stage, 0.0f), STAGE_OK);
    assert_false(stage_exits(&s_stage, 1.0f));
    /* r = 1: every confidence exits, even below the smallest calibration one. */
    assert_int_equal(stage_set_ratio(&s_stage, 1.0f), STAGE_OK);
    assert_true(stage_exits(&s_stage, 0.0f));
    assert_true(stage_exits(&s_stage, 0.05f));
    /* r = 0.25: k = floor(2.5 + 0.5) = 3, T = 0.8 */
    assert_float_equal(stage_threshold_for(&s_stage, 0.25f), 0.8f, 0.0f);
    assert_int_equal(stage_set_ratio(&s_stage, 1.5f), STAGE_EINVAL);
    assert_int_equal(stage_set_ratio(&s_stage, -0.1f), STAGE_EINVAL);
}

static void test_ties_exit_together(void **state)
{
    (void)state;
    stage_record_t r[4] = {{0.9f, 1, 1}, {0.9f, 1, 1}, {0.9f, 0, 1}, {0.2f, 0, 1}};
    assert_int_equal(stage_calibrate(&s_stage, r, 4, 10, 10, 0.25f), STAGE_OK);
    stage_point_t pt;
    assert_int_equal(stage_point(&s_stage, NULL, 0.25f, &pt), STAGE_OK);
    assert_float_equal(pt.threshold, 0.9f, 0.0f);
    assert_float_equal(pt.exit_fraction, 0.75f, 1e-6f);  /* >= k/n = 0.25 */
}

/* Changing r touches only the threshold: the records (the calibration data) are unchanged, and no
 * head is needed (the API takes none). */
static void test_recompute_without_retrain(void **state)
{
    (void)state;
    static stage_record_t before[STAGE_MAX_CALIB];
    s_calibrate(0.5f);
    memcpy(before, s_stage.records, sizeof before);
    float t_half = s_stage.threshold;
    assert_int_equal(stage_set_ratio(&s_stage, 0.2f), STAGE_OK);
    assert_float_equal(s_stage.threshold, 0.9f, 0.0f);
    assert_true(s_stage.threshold != t_half);
    assert_int_equal(stage_set_ratio(&s_stage, 0.5f), STAGE_OK);
    assert_float_equal(s_stage.threshold, t_half, 0.0f);
    assert_memory_equal(before, s_stage.records, sizeof before);
    assert_int_equal(s_stage.stage1_cycles, 1000);
    assert_int_equal(s_stage.stage2_cycles, 3000);
}

static void test_curve(void **state)
{
    (void)state;
    s_calibrate(0.5f);
    const energy_profile_t *p = energy_profile(ENERGY_BOARD_H7A3ZI);
    stage_point_t c[STAGE_CURVE_POINTS];
    assert_int_equal(stage_curve(&s_stage, p, c), STAGE_OK);
    /* r = 0: TTL = full head accuracy 8/10, all pay stage 2. */
    assert_float_equal(c[0].accuracy, 0.8f, 1e-6f);
    assert_float_equal(c[0].exit_fraction, 0.0f, 0.0f);
    assert_true(fabs(c[0].cycles - 4000.0) < 1e-9);
    /* r = 1: part head accuracy 5/10, stage 1 only. */
    assert_float_equal(c[20].accuracy, 0.5f, 1e-6f);
    assert_true(fabs(c[20].cycles - 1000.0) < 1e-9);
    /* r = 0.5: the 5 confident exit (all right), the 5 others go to the full head, which is right on
     * 4 of them (misses 0.1): 9/10, better than either head alone. */
    assert_float_equal(c[10].accuracy, 0.9f, 1e-6f);
    assert_true(fabs(c[10].cycles - 2500.0) < 1e-9);
    assert_true(fabs(c[10].energy_nj - energy_nj(p, 2500)) < 1e-6 * c[10].energy_nj);
    for (int i = 1; i < (int)STAGE_CURVE_POINTS; i++)
        assert_true(c[i].energy_nj <= c[i - 1].energy_nj);
}

static void test_inverses(void **state)
{
    (void)state;
    s_calibrate(0.5f);
    const energy_profile_t *p = energy_profile(ENERGY_BOARD_L4R5ZI);
    float r = -1.0f;
    /* Budget for 2500 cycles: needs >= 5 exits -> smallest ratio 0.5. */
    assert_int_equal(stage_ratio_for_energy(&s_stage, p, energy_nj(p, 2500), &r), STAGE_OK);
    assert_float_equal(r, 0.5f, 1e-6f);
    /* A budget above TTL's cost: r = 0. */
    assert_int_equal(stage_ratio_for_energy(&s_stage, p, energy_nj(p, 5000), &r), STAGE_OK);
    assert_float_equal(r, 0.0f, 0.0f);
    /* Below stage 1 alone: unreachable. */
    assert_int_equal(stage_ratio_for_energy(&s_stage, p, energy_nj(p, 999), &r),
                     STAGE_EUNREACHABLE);
    /* Accuracy >= 0.9 is kept up to k = 5 (k = 6 exits a wrong part prediction): cheapest 0.5. */
    assert_int_equal(stage_ratio_for_accuracy(&s_stage, 0.9f, &r), STAGE_OK);
    assert_float_equal(r, 0.5f, 1e-6f);
    /* Accuracy >= 0.5 holds even at r = 1. */
    assert_int_equal(stage_ratio_for_accuracy(&s_stage, 0.5f, &r), STAGE_OK);
    assert_float_equal(r, 1.0f, 0.0f);
    assert_int_equal(stage_ratio_for_accuracy(&s_stage, 0.95f, &r), STAGE_EUNREACHABLE);
}

static void test_split(void **state)
{
    (void)state;
    static uint8_t labels[200];
    static uint16_t tr[200], ho[200], tr2[200], ho2[200];
    uint32_t nt, nh, nt2, nh2;
    for (int i = 0; i < 200; i++)
        labels[i] = (uint8_t)((i * 7) % 5);
    assert_int_equal(stage_split(labels, 200, 5, 0.25f, 42, tr, &nt, ho, &nh), STAGE_OK);
    assert_int_equal(nh, 50);
    assert_int_equal(nt, 150);
    uint32_t per[5] = {0};
    for (uint32_t i = 0; i < nh; i++)
        per[labels[ho[i]]]++;
    for (int c = 0; c < 5; c++)
        assert_int_equal(per[c], 10);   /* stratified: 40 per class, 10 held out each */
    /* every row exactly once, ascending lists */
    static uint8_t seen[200];
    memset(seen, 0, sizeof seen);
    for (uint32_t i = 0; i < nt; i++) { seen[tr[i]]++; if (i) assert_true(tr[i - 1] < tr[i]); }
    for (uint32_t i = 0; i < nh; i++) { seen[ho[i]]++; if (i) assert_true(ho[i - 1] < ho[i]); }
    for (int i = 0; i < 200; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(stage_split(labels, 200, 5, 0.25f, 42, tr2, &nt2, ho2, &nh2), STAGE_OK);
    assert_memory_equal(ho, ho2, nh * sizeof ho[0]);
    assert_int_equal(stage_split(labels, 200, 5, 0.25f, 43, tr2, &nt2, ho2, &nh2), STAGE_OK);
    assert_true(memcmp(ho, ho2, nh * sizeof ho[0]) != 0);
    labels[3] = 9;
    assert_int_equal(stage_split(labels, 200, 5, 0.25f, 42, tr, &nt, ho, &nh), STAGE_EINVAL);
}

static void test_bad_calibration(void **state)
{
    (void)state;
    stage_record_t r[2] = {{0.5f, 1, 1}, {1.5f, 1, 1}};
    assert_int_equal(stage_calibrate(&s_stage, r, 2, 1, 1, 0.5f), STAGE_EINVAL);
    assert_int_equal(stage_calibrate(&s_stage, r, STAGE_MAX_CALIB + 1u, 1, 1, 0.5f),
                     STAGE_ENOSPACE);
    stage_t empty;
    memset(&empty, 0, sizeof empty);
    float ratio;
    assert_int_equal(stage_set_ratio(&empty, 0.5f), STAGE_ESTATE);
    assert_int_equal(stage_ratio_for_accuracy(&empty, 0.5f, &ratio), STAGE_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantile_rule),
        cmocka_unit_test(test_ties_exit_together),
        cmocka_unit_test(test_recompute_without_retrain),
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_inverses),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_bad_calibration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
