/*
 * nn_simd.h — the Cortex-M DSP-extension building blocks of the int8 kernels' fast paths
 * (ACLE, arm_acle.h: __sxtb16, __smlad, __smlabb, __smlatt). NN_SIMD is 1 when the target has
 * the DSP extension (Cortex-M4/M7: __ARM_FEATURE_DSP) and the build did not ask for the plain C
 * reference with -DNN_NO_SIMD; the kernels then take the SIMD path, otherwise the reference.
 *
 * Exactness: SMLAD and SMLAxy add 16 x 16-bit products into a 32-bit accumulator modulo 2^32
 * (they only set the sticky Q flag on overflow, ARMv7-M ARM A7.7.126), and int8 values widened by
 * SXTB16 are exact in 16 bits, so a SIMD sum equals the reference's wrapping int32 sum term for
 * term, in any order.
 */
#ifndef MICROT_NN_SIMD_H
#define MICROT_NN_SIMD_H

#include <stdint.h>
#include <string.h>

#include "nn/nn_requant.h"

/* nn_requant() (nn_requant.h, TFLite's MultiplyByQuantizedMultiplier) in fewer operations, for
 * the SIMD paths' per-output step; plain C, so tests/test_nn_simd.c checks it against nn_requant
 * on the host. Equal for every input because, for a multiplier m in (0, 2^31) (TFLite's are in
 * [2^30, 2^31); anything else takes nn_requant itself):
 *   - the high multiply (a * m + 2^30) >> 31 (arithmetic) equals gemmlowp's sign-dependent nudge
 *     followed by a truncating division for every product (the nudge for a negative product,
 *     1 - 2^30, plus the 2^31 - 1 that turns truncation into flooring, is 2^30 again), and it
 *     cannot saturate (that needs m = INT32_MIN); its result h lies in [-(2^31 - 1), 2^31 - 2];
 *   - rounding h / 2^r half away from zero is (((h - (h < 0)) >> (r - 1)) + 1) >> 1 for r >= 1:
 *     floor((floor((h - s) / 2^(r-1)) + 1) / 2) = floor((h - s + 2^(r-1)) / 2^r), s = (h < 0),
 *     and by the range of h neither h - s nor the + 1 can wrap. */
static inline int32_t nn_requant_fast(int32_t x, int32_t multiplier, int32_t shift)
{
    if (multiplier <= 0) {
        return nn_requant(x, multiplier, shift);
    }
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t a = (int32_t)((uint32_t)x << left);
    const int32_t h = (int32_t)(((int64_t)a * (int64_t)multiplier + ((int64_t)1 << 30)) >> 31);
    if (right == 0) {
        return h;
    }
    return (((h - (h < 0)) >> (right - 1)) + 1) >> 1;
}

#if defined(__ARM_FEATURE_DSP) && !defined(NN_NO_SIMD)
#define NN_SIMD 1
#include <arm_acle.h>

/* Four int8 as one word (any alignment: ARMv7-M LDR handles unaligned addresses). */
static inline int32_t nn_rd_s8x4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Bytes 0 and 2 sign-extended to two int16 halves. */
static inline int32_t nn_sxtb16_even(int32_t x) { return __sxtb16(x); }

/* Bytes 1 and 3 sign-extended to two int16 halves: SXTB16 with its rotate (one instruction;
 * ACLE has no rotate operand, and GCC does not fuse a separate rotate into it). */
static inline int32_t nn_sxtb16_odd(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#else
#define NN_SIMD 0
#endif

#endif /* MICROT_NN_SIMD_H */
