/*
 * test_feat_cache.c — the feature cache: layout and capacity, append, refusal past capacity with
 * nothing overwritten, clear, and head sets over the cached rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feat_cache.h"

#define PD 3u
#define FD 5u

static void test_capacity(void **state)
{
    (void)state;
    assert_int_equal(feat_cache_sample_bytes(PD, FD), (PD + FD) * 4u + 1u);
    assert_int_equal(feat_cache_sample_bytes(0, FD), 0);
    assert_int_equal(feat_cache_capacity(33u * 10u, PD, FD), 10);
    assert_int_equal(feat_cache_capacity(33u * 10u - 1u, PD, FD), 9);
    /* the two boards' budgets for a 48-d part + 160-d full feature (mcunet-5fps cut at block 8) */
    assert_int_equal(feat_cache_capacity(1024u * 1024u, 48, 160), 1024u * 1024u / 833u);
}

static void test_add_until_full(void **state)
{
    (void)state;
    static uint32_t region[(33u * 4u) / 4u + 1u];   /* 4 rows (+3 spare bytes) */
    feat_cache_t c;
    assert_int_equal(feat_cache_init(&c, region, 33u * 4u + 3u, PD, FD), FEAT_CACHE_OK);
    assert_int_equal(c.capacity, 4);
    float part[PD], full[FD];
    for (uint32_t i = 0; i < 4; i++) {
        for (uint32_t j = 0; j < PD; j++) part[j] = (float)(10 * i + j);
        for (uint32_t j = 0; j < FD; j++) full[j] = (float)(100 * i + j);
        assert_int_equal(feat_cache_add(&c, part, full, (uint8_t)i), (int32_t)i);
    }
    part[0] = -1.0f;
    assert_int_equal(feat_cache_add(&c, part, full, 9), FEAT_CACHE_ENOSPACE);
    assert_int_equal(c.count, 4);
    /* nothing overwritten: row 0 still holds its own values */
    assert_true(c.part[0] == 0.0f && c.full[0] == 0.0f && c.labels[0] == 0);
    assert_true(c.part[3 * PD + 2] == 32.0f && c.full[3 * FD + 4] == 304.0f && c.labels[3] == 3);
    head_set_t s = feat_cache_full_set(&c, NULL, 0);
    assert_int_equal(s.count, 4);
    assert_ptr_equal(s.features, c.full);
    static const uint16_t idx[2] = {1, 3};
    s = feat_cache_part_set(&c, idx, 2);
    assert_int_equal(s.count, 2);
    assert_true(s.features[s.index[1] * PD] == 30.0f);
    feat_cache_clear(&c);
    assert_int_equal(c.count, 0);
    assert_int_equal(feat_cache_add(&c, part, full, 1), 0);
}

static void test_bad_input(void **state)
{
    (void)state;
    static uint32_t region[64];
    feat_cache_t c;
    assert_int_equal(feat_cache_init(&c, (uint8_t *)region + 1, 100, PD, FD), FEAT_CACHE_EINVAL);
    assert_int_equal(feat_cache_init(&c, region, sizeof region, 0, FD), FEAT_CACHE_EINVAL);
    assert_int_equal(feat_cache_init(&c, region, sizeof region, PD, FD), FEAT_CACHE_OK);
    float f[FD] = {0};
    assert_int_equal(feat_cache_add(&c, NULL, f, 0), FEAT_CACHE_EINVAL);
    assert_int_equal(c.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_add_until_full),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
