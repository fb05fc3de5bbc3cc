/*
 * test_nn_simd.c — the arithmetic the Cortex-M SIMD kernel paths use instead of the reference's
 * (firmware/core/nn/nn_simd.h), checked on the host against the reference (nn_requant.h):
 * nn_requant_fast() must equal nn_requant() for every input. Exhaustive over the edge values
 * and 4 million random cases across every shift; the kernels themselves are checked bit-exact on
 * the ARM targets by tests/test_qemu_engine.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>

#include "nn/nn_requant.h"
#include "nn/nn_simd.h"

/* xorshift64*: deterministic, no libc rand state. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng32(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static void check_one(int32_t x, int32_t m, int32_t shift)
{
    const int32_t want = nn_requant(x, m, shift);
    const int32_t got = nn_requant_fast(x, m, shift);
    if (want != got) {
        fail_msg("nn_requant_fast(%d, %d, %d) = %d, nn_requant = %d", x, m, shift, got, want);
    }
}

static void test_edges(void **state)
{
    (void)state;
    static const int32_t xs[] = {0, 1, -1, 2, -2, 3, -3, 127, -128, 1 << 15, -(1 << 15),
                                 (1 << 30) - 1, 1 << 30, -(1 << 30), INT32_MAX, INT32_MIN,
                                 INT32_MIN + 1, INT32_MAX - 1, 0x40000001, -0x40000001};
    static const int32_t ms[] = {0, 1, -1, 1 << 30, (1 << 30) + 1, INT32_MAX, INT32_MIN,
                                 INT32_MIN + 1, 0x5A827999, 0x7FFF0000, 0x40000000, -0x40000000};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        for (size_t j = 0; j < sizeof ms / sizeof ms[0]; j++)
            for (int32_t shift = -31; shift <= 0; shift++)
                check_one(xs[i], ms[j], shift);
    /* Left shifts (multipliers above 1) on values that do not overflow in TFLite either. */
    for (int32_t shift = 1; shift <= 8; shift++)
        for (size_t j = 0; j < sizeof ms / sizeof ms[0]; j++)
            for (int32_t x = -300; x <= 300; x++)
                check_one(x, ms[j], shift);
}

static void test_ties(void **state)
{
    (void)state;
    /* Products landing exactly on the rounding boundaries of both steps. */
    for (int32_t shift = -20; shift <= 0; shift++)
        for (int32_t k = -4096; k <= 4096; k++) {
            check_one(k, 1 << 30, shift);          /* x * 0.5 */
            check_one(k * 3, 0x55555555, shift);   /* ~x */
            check_one(k << 10, 0x60000000, shift); /* x * 0.75 */
        }
}

static void test_random(void **state)
{
    (void)state;
    for (int i = 0; i < 4000000; i++) {
        const int32_t x = (int32_t)rng32() >> (rng32() % 24u);          /* every magnitude */
        const int32_t m = (int32_t)(0x40000000u | (rng32() & 0x3FFFFFFFu)); /* Q31 in [0.5, 1) */
        const int32_t shift = -(int32_t)(rng32() % 32u);
        check_one(x, (rng32() & 15u) == 0 ? -m : m, shift);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests_name("nn_simd", tests, NULL, NULL);
}
