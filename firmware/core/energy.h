/*
 * energy.h — board power profiles and the per-operation cycle model that turns work into energy.
 *
 * Energy of a piece of work = cycles / clock_hz x supply_V x run_current_A, i.e. the board is
 * assumed to run at its run-mode current for exactly the cycles the work takes (no sleep in
 * between). On a real board the cycles come from DWT->CYCCNT (hal_cycles); on the simulator they
 * come from energy_cost_cycles(): a cost model with one constant per operation kind and CPU,
 * calibrated against published measurements (see energy.c for every constant's source and how far
 * off it may be). Pure arithmetic, no state: safe to call from anywhere in the core.
 */
#ifndef MICROT_ENERGY_H
#define MICROT_ENERGY_H

#include <stdint.h>

/* Board kinds; the values equal proto's microt_BoardKind so the two can be passed through. */
typedef enum {
    ENERGY_BOARD_H7A3ZI = 1,    /* STM32H7A3ZI, Cortex-M7 at 280 MHz */
    ENERGY_BOARD_L4R5ZI = 2,    /* STM32L4R5ZI, Cortex-M4F at 120 MHz */
} energy_board_t;

/* Kinds of work the cost model knows. Counts passed with each kind are MACs for the int8 layer
 * kinds, elements for element-wise ops, floating multiply-adds / exponentials for the heads. */
typedef enum {
    ENERGY_OP_CONV_MAC = 0,     /* int8 k x k convolution (k > 1), e.g. the first 3x3 layer */
    ENERGY_OP_DEPTHWISE_MAC,    /* int8 depthwise convolution */
    ENERGY_OP_POINTWISE_MAC,    /* int8 1x1 convolution and fully connected */
    ENERGY_OP_ELEMENT,          /* int8 element op: residual ADD, MEAN accumulate, PAD, requantize */
    ENERGY_OP_FLOAT_MAC,        /* float32 multiply-add in head training/inference (dot products) */
    ENERGY_OP_FLOAT_EXP,        /* one float32 expf/logf call (softmax, log-sum-exp) */
    ENERGY_OP_COUNT
} energy_op_t;

typedef struct {
    energy_board_t board;
    const char *name;               /* "h7a3zi" / "l4r5zi" */
    const char *cpu;                /* "cortex-m7" / "cortex-m4f" */
    uint32_t cpu_hz;                /* core clock the firmware runs at */
    uint32_t sram_bytes;            /* total SRAM of the part */
    uint32_t flash_bytes;           /* total flash of the part */
    uint32_t supply_mv;             /* VDD the run current is given at */
    uint32_t run_current_ua;        /* run-mode current at cpu_hz, all peripherals off */
    const char *current_source;     /* document + table the current comes from */
    /* Cycles per unit of each op kind, in 1/1000 cycle (milli-cycles), so sub-cycle costs of
     * SIMD kernels stay integers. */
    uint32_t op_millicycles[ENERGY_OP_COUNT];
} energy_profile_t;

/* The profile of a board, or NULL for a board kind without one. The pointer stays valid forever. */
const energy_profile_t *energy_profile(energy_board_t board);

/* Modeled cycles of `count` units of `op` on this board (0 for an unknown op or NULL profile).
 * Rounded up to whole cycles. */
uint64_t energy_cost_cycles(const energy_profile_t *profile, energy_op_t op, uint64_t count);

/* Energy in nanojoules of `cycles` (fractional for expected values) at the profile's clock, voltage and run current:
 * cycles / cpu_hz x V x I. 0 for a NULL profile. */
double energy_nj(const energy_profile_t *profile, double cycles);

/* Time in microseconds of `cycles` at the profile's clock. */
double energy_time_us(const energy_profile_t *profile, uint64_t cycles);

#endif /* MICROT_ENERGY_H */
