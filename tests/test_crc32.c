/*
 * test_crc32.c — CRC-32/IEEE: the standard check value, the nibble table against the bitwise
 * definition, incremental use, and zlib's value for a longer buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crc32.h"

/* The textbook bitwise CRC (reflected 0xEDB88320), the reference for the table version. */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    size_t i;
    int b;

    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(crc32_update(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(crc32_update(0, NULL, 0), 0u);
}

static void test_matches_bitwise(void **state)
{
    uint8_t buf[1200];
    uint32_t x = 12345u;
    size_t n, i;

    (void)state;
    for (i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (n = 0; n <= sizeof(buf); n += (n < 40 ? 1 : 37))
        assert_int_equal(crc32_update(0, buf, n), crc32_bitwise(buf, n));
}

static void test_incremental(void **state)
{
    const uint8_t *s = (const uint8_t *)"The quick brown fox jumps over the lazy dog";
    size_t n = strlen((const char *)s), split;

    (void)state;
    /* zlib.crc32(b"The quick brown fox jumps over the lazy dog") */
    assert_int_equal(crc32_update(0, s, n), 0x414FA339u);
    for (split = 0; split <= n; split++)
        assert_int_equal(crc32_update(crc32_update(0, s, split), s + split, n - split),
                         0x414FA339u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_matches_bitwise),
        cmocka_unit_test(test_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
