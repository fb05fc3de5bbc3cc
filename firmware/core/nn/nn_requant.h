/*
 * nn_requant.h — TFLite's integer requantization, bit for bit, for the int8 kernels.
 *
 * TFLite (and TFLite Micro's reference kernels, which the engine must match exactly) scales an
 * int32 accumulator by a real multiplier stored as a Q31 significand and a power-of-two exponent.
 * The default build of TFLite Micro uses gemmlowp's double rounding: a saturating rounding
 * doubling high multiply, then a rounding right shift (round half away from zero in the first
 * step, round half up with a sign correction in the second). Written here from the published
 * definitions of SaturatingRoundingDoublingHighMul, RoundingDivideByPOT and
 * MultiplyByQuantizedMultiplier; every kernel goes through nn_requant() so the rounding lives in
 * one place. The shifts never divide: the "/ 2^31" of the high multiply truncates toward zero,
 * which is done with a bias on negative values.
 */
#ifndef MICROT_NN_REQUANT_H
#define MICROT_NN_REQUANT_H

#include <stdint.h>

/* (a * b * 2) / 2^32 rounded half away from zero; the one overflowing case saturates. */
static inline int32_t nn_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (int64_t)(1 << 30) : (int64_t)(1 - (1 << 30));
    const int64_t t = ab + nudge;
    /* C division by 2^31 truncates toward zero: bias negative values before the shift. */
    const int64_t biased = t >= 0 ? t : t + (((int64_t)1 << 31) - 1);
    return (int32_t)(biased >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero (exponent 0..31). */
static inline int32_t nn_rdbpot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^shift with multiplier a Q31 significand (TFLite's
 * MultiplyByQuantizedMultiplier). shift > 0 shifts left first (wrapping like TFLite's int32
 * multiply), shift <= 0 rounds right after the high multiply. */
static inline int32_t nn_requant(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return nn_rdbpot(nn_srdhm(shifted, multiplier), right);
}

static inline int32_t nn_clamp_i8(int32_t v)
{
    return v < -128 ? -128 : (v > 127 ? 127 : v);
}

static inline int32_t nn_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

#endif /* MICROT_NN_REQUANT_H */
