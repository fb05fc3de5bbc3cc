/*
 * test_energy.c — board profiles and the cycle cost model: datasheet figures in range, the energy
 * formula (cycles / clock x V x I) against a hand computation, rounding and bad input.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "energy.h"

static void test_profiles(void **state)
{
    (void)state;
    const energy_profile_t *h7 = energy_profile(ENERGY_BOARD_H7A3ZI);
    const energy_profile_t *l4 = energy_profile(ENERGY_BOARD_L4R5ZI);
    assert_non_null(h7);
    assert_non_null(l4);
    assert_null(energy_profile((energy_board_t)99));
    assert_int_equal(h7->cpu_hz, 280000000u);
    assert_int_equal(l4->cpu_hz, 120000000u);
    assert_int_equal(l4->sram_bytes, 640u * 1024u);
    assert_true(h7->sram_bytes > 1300u * 1024u);
    assert_non_null(h7->current_source);
    for (int op = 0; op < ENERGY_OP_COUNT; op++) {
        assert_true(h7->op_millicycles[op] > 0);
        /* the M4 never does a kind of work in fewer cycles than the M7 */
        assert_true(l4->op_millicycles[op] >= h7->op_millicycles[op]);
    }
    /* depthwise costs more per MAC than pointwise on both */
    assert_true(h7->op_millicycles[ENERGY_OP_DEPTHWISE_MAC] >
                h7->op_millicycles[ENERGY_OP_POINTWISE_MAC]);
}

static void test_energy_formula(void **state)
{
    (void)state;
    const energy_profile_t *h7 = energy_profile(ENERGY_BOARD_H7A3ZI);
    /* 280e6 cycles = 1 s at 280 MHz: E = V x I x 1 s = 3.3 V x 33.6 mA = 110.88 mJ */
    double nj = energy_nj(h7, 280000000u);
    assert_true(fabs(nj - 3.3 * 0.0336 * 1e9) < 1.0);
    assert_true(fabs(energy_time_us(h7, 280u) - 1.0) < 1e-9);
    assert_true(energy_nj(NULL, 100) == 0.0);
}

static void test_cost_model(void **state)
{
    (void)state;
    const energy_profile_t *h7 = energy_profile(ENERGY_BOARD_H7A3ZI);
    assert_int_equal(energy_cost_cycles(h7, ENERGY_OP_POINTWISE_MAC, 1000), 1720);
    assert_int_equal(energy_cost_cycles(h7, ENERGY_OP_POINTWISE_MAC, 1), 2);  /* rounds up */
    assert_int_equal(energy_cost_cycles(h7, ENERGY_OP_POINTWISE_MAC, 0), 0);
    assert_int_equal(energy_cost_cycles(h7, ENERGY_OP_COUNT, 10), 0);
    assert_int_equal(energy_cost_cycles(NULL, ENERGY_OP_ELEMENT, 10), 0);
    /* The calibration anchor: mcunet-vww1's MAC mix (energy.c) lands on TinyEngine's 51 ms at
     * 480 MHz within 2 %. */
    uint64_t c = energy_cost_cycles(h7, ENERGY_OP_POINTWISE_MAC, 8655104) +
                 energy_cost_cycles(h7, ENERGY_OP_DEPTHWISE_MAC, 2232192) +
                 energy_cost_cycles(h7, ENERGY_OP_CONV_MAC, 691200) +
                 energy_cost_cycles(h7, ENERGY_OP_ELEMENT, 151128);
    double ms = c / 480e3;
    print_message("mcunet-vww1 modeled at 480 MHz: %.1f ms (TinyEngine: 51 ms)\n", ms);
    assert_true(fabs(ms - 51.0) < 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_energy_formula),
        cmocka_unit_test(test_cost_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
