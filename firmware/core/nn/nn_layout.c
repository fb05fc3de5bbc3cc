/*
 * nn_layout.c — portable PAD and TRANSPOSE (see nn_layout.h).
 */
#include "nn/nn_layout.h"

#include <stddef.h>

void nn_pad_s8(const int32_t in_shape[4], const int32_t before[4], const int32_t after[4],
               int8_t value, const int8_t *in, int8_t *out)
{
    int32_t od[4];
    for (int i = 0; i < 4; i++) {
        od[i] = in_shape[i] + before[i] + after[i];
    }
    const int8_t *ip = in;
    for (int32_t o0 = 0; o0 < od[0]; o0++) {
        const int in0 = o0 >= before[0] && o0 < before[0] + in_shape[0];
        for (int32_t o1 = 0; o1 < od[1]; o1++) {
            const int in1 = in0 && o1 >= before[1] && o1 < before[1] + in_shape[1];
            for (int32_t o2 = 0; o2 < od[2]; o2++) {
                const int in2 = in1 && o2 >= before[2] && o2 < before[2] + in_shape[2];
                for (int32_t o3 = 0; o3 < od[3]; o3++) {
                    const int inside = in2 && o3 >= before[3] && o3 < before[3] + in_shape[3];
                    *out++ = inside ? *ip++ : value;
                }
            }
        }
    }
}

void nn_transpose_s8(const int32_t in_shape[4], const int32_t perm[4], const int8_t *in,
                     int8_t *out)
{
    int32_t istride[4];
    int32_t s = 1;
    for (int i = 3; i >= 0; i--) {
        istride[i] = s;
        s *= in_shape[i];
    }
    int32_t od[4], os[4];
    for (int i = 0; i < 4; i++) {
        od[i] = in_shape[perm[i]];
        os[i] = istride[perm[i]];
    }
    for (int32_t o0 = 0; o0 < od[0]; o0++) {
        for (int32_t o1 = 0; o1 < od[1]; o1++) {
            for (int32_t o2 = 0; o2 < od[2]; o2++) {
                const int8_t *base = in + (size_t)o0 * (size_t)os[0] + (size_t)o1 * (size_t)os[1] +
                                     (size_t)o2 * (size_t)os[2];
                for (int32_t o3 = 0; o3 < od[3]; o3++) {
                    *out++ = base[(size_t)o3 * (size_t)os[3]];
                }
            }
        }
    }
}
