/*
 * energy.c — the two board profiles and the cycle cost model (see energy.h).
 *
 * Run-mode current (the one figure that scales every energy linearly)
 * -------------------------------------------------------------------
 * The tables to use are ST's "supply current characteristics" of each datasheet:
 *   - STM32H7A3ZI: DS13195 (STM32H7A3xI/G), section 6.3.6 "Supply current characteristics",
 *     table "Typical and maximum current consumption in Run mode, code with data processing running
 *     from flash memory, cache ON" at VOS0, f_rcc_c_ck = 280 MHz.
 *   - STM32L4R5ZI: the STM32L4R5xx/L4R7xx/L4R9xx datasheet (our brief calls it DS12902; SEGGER's
 *     emFile STM32L4R9 driver cites it as DS12023), section 6.3.5, table "Current consumption in
 *     Run mode, code with data processing running from Flash, ART enable (Cache ON Prefetch
 *     OFF)", Range 1 boost mode, f_HCLK = 120 MHz.
 * The PDFs could not be read from this machine (no network; the search index holds other parts'
 * datasheets only), so the figures below are the datasheets' headline run-mode efficiencies times
 * the clock: 120 uA/MHz for the H7A3 (DS13195 front page, SMPS supply as on the NUCLEO-H7A3ZI-Q)
 * and 110 uA/MHz for the L4R5 (DS12902 front page, LDO mode). Headline figures are quoted at the
 * most favourable point of the table; at the full clock the table values are typically 10-40 %
 * higher (ST's STM32L4 power training gives 100 uA/MHz at 26 MHz but 120 uA/MHz at 80 MHz for the
 * L47x: +20 %; the L4R5 in Range 1 boost is likely similar), and on the H7A3 with the LDO instead
 * of the SMPS up to ~2x higher. Treat both energies as lower bounds within -10/+40 % (L4R5) and
 * -10/+100 % (H7A3).
 * Every energy below scales linearly with this one number, so ratios (savings in %, TTL vs staged)
 * do not depend on it.
 *
 * Cycles per operation (the simulator's stand-in for DWT->CYCCNT)
 * ---------------------------------------------------------------
 * Anchor (Cortex-M7): TinyEngine's published latency of mcunet-vww1 on an STM32H743 at 480 MHz is
 * 51 ms (mit-han-lab/tinyengine README, "Measured Results", TinyEngine @0363956) = 24.48 M cycles.
 * The same model (../shared/models/mcunet-vww1-80.tflite; tests/test_energy.c imports it and
 * counts its ops) has 11.58 M MACs: 8.66 M pointwise, 2.23 M depthwise, 0.69 M k x k conv, and
 * 0.15 M element ops (PAD, ADD). With relative costs pointwise 1 : k x k conv 1.2 (im2col copy) : depthwise 2.0 (no
 * channel reuse, CMSIS-NN/TinyEngine depthwise kernels reach about half the pointwise MAC rate)
 * and 3 cycles per element op, solving 24.48 M = b x (8.66 + 1.2 x 0.69 + 2.0 x 2.23) M + 0.45 M
 * gives b = 1.72 cycles per pointwise MAC; hence 1.72 / 2.07 / 3.45 cycles per MAC on the M7.
 * The H7A3 is the same Cortex-M7 core at a lower clock; flash wait states are hidden by the L1
 * caches for these loops, so the per-cycle costs are taken as equal. Uncertainty: the split
 * between kinds is our assumption (the total for a MobileNet-like mix is anchored, a single
 * kind may be off by 30-50 %), and our own engine is a plain-C reference, slower than TinyEngine
 * on a real board: these are the cycles a TinyEngine-class kernel library would take.
 * Cortex-M4F: no published TinyEngine figure for the L4R5; the M4 issues one instruction per
 * cycle where the M7 dual-issues loads with SMLAD, and CMSIS-NN int8 kernels run ~1.6-1.9x more
 * cycles on the M4 than on the M7 (CoreMark/MHz alone gives 5.0 / 3.4 = 1.5x). We use 1.7x the
 * M7 figures, +-40 %.
 * Float heads: a float32 dot product compiled at -O2 costs about 1.5 cycles per multiply-add on
 * the M7 (VFMA pipelined, dual-issued loads) and 3 on the M4 (two 1-cycle VLDRs + VFMA, no dual
 * issue); newlib's expf/logf take 60 (M7) to 100 (M4) cycles. +-50 %; head training is a small
 * share of every total reported.
 */
#include "energy.h"

#include <stddef.h>

static const energy_profile_t energy_profiles[] = {
    {
        .board = ENERGY_BOARD_H7A3ZI,
        .name = "h7a3zi",
        .cpu = "cortex-m7",
        .cpu_hz = 280000000u,
        .sram_bytes = 1400u * 1024u,    /* DS13195 Table 1: 1.4 Mbytes (incl. 4 KB backup SRAM) */
        .flash_bytes = 2u * 1024u * 1024u,
        .supply_mv = 3300u,
        .run_current_ua = 33600u,       /* 120 uA/MHz x 280 MHz; see the header comment */
        .current_source = "DS13195 (STM32H7A3xI/G) Run-mode supply current table, VOS0 280 MHz, "
                          "cache ON; headline 120 uA/MHz used (table not readable here)",
        .op_millicycles = {
            [ENERGY_OP_CONV_MAC] = 2070u,
            [ENERGY_OP_DEPTHWISE_MAC] = 3450u,
            [ENERGY_OP_POINTWISE_MAC] = 1720u,
            [ENERGY_OP_ELEMENT] = 3000u,
            [ENERGY_OP_FLOAT_MAC] = 1500u,
            [ENERGY_OP_FLOAT_EXP] = 60000u,
        },
    },
    {
        .board = ENERGY_BOARD_L4R5ZI,
        .name = "l4r5zi",
        .cpu = "cortex-m4f",
        .cpu_hz = 120000000u,
        .sram_bytes = 640u * 1024u,     /* DS12902 Table 2: 640 Kbytes SRAM */
        .flash_bytes = 2u * 1024u * 1024u,
        .supply_mv = 3300u,
        .run_current_ua = 13200u,       /* 110 uA/MHz x 120 MHz; see the header comment */
        .current_source = "STM32L4R5xx datasheet (DS12902 per our brief, DS12023 per SEGGER) "
                          "Run-mode supply current table, Range 1 boost 120 MHz, ART on; headline "
                          "110 uA/MHz used (table not readable here)",
        .op_millicycles = {
            [ENERGY_OP_CONV_MAC] = 3520u,       /* 1.7 x M7 */
            [ENERGY_OP_DEPTHWISE_MAC] = 5870u,
            [ENERGY_OP_POINTWISE_MAC] = 2920u,
            [ENERGY_OP_ELEMENT] = 5000u,
            [ENERGY_OP_FLOAT_MAC] = 3000u,
            [ENERGY_OP_FLOAT_EXP] = 100000u,
        },
    },
};

const energy_profile_t *energy_profile(energy_board_t board)
{
    for (size_t i = 0; i < sizeof energy_profiles / sizeof energy_profiles[0]; i++)
        if (energy_profiles[i].board == board)
            return &energy_profiles[i];
    return NULL;
}

uint64_t energy_cost_cycles(const energy_profile_t *profile, energy_op_t op, uint64_t count)
{
    if (profile == NULL || (unsigned)op >= ENERGY_OP_COUNT)
        return 0;
    uint64_t milli = profile->op_millicycles[op];
    /* count x milli overflows only past 2^64 / 1e5 ~ 1.8e14 units: far beyond any model. */
    return (count * milli + 999u) / 1000u;
}

double energy_nj(const energy_profile_t *profile, double cycles)
{
    if (profile == NULL || profile->cpu_hz == 0)
        return 0.0;
    /* s x V x A = J; x 1e9 nJ. (cycles / hz) x (mV / 1e3) x (uA / 1e6) x 1e9 */
    return cycles / (double)profile->cpu_hz * (double)profile->supply_mv *
           (double)profile->run_current_ua;
}

double energy_time_us(const energy_profile_t *profile, uint64_t cycles)
{
    if (profile == NULL || profile->cpu_hz == 0)
        return 0.0;
    return (double)cycles * 1e6 / (double)profile->cpu_hz;
}
