/*
 * test_cobs.c — COBS: the published examples (Cheshire & Baker, and the usual test vectors),
 * round trips of every length around the 254-byte block boundary with and without zeros,
 * in-place decoding, the incremental encoder, and rejection of invalid encodings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cobs.h"

static void check_vector(const uint8_t *raw, size_t raw_len, const uint8_t *enc, size_t enc_len)
{
    uint8_t out[600];
    long dec;

    assert_int_equal(cobs_encode(raw, raw_len, out, sizeof(out)), enc_len);
    assert_memory_equal(out, enc, enc_len);
    dec = cobs_decode(enc, enc_len, out, sizeof(out));
    assert_int_equal(dec, (long)raw_len);
    if (raw_len)
        assert_memory_equal(out, raw, raw_len);
}

static void test_vectors(void **state)
{
    static const uint8_t r1[] = {0x00};
    static const uint8_t e1[] = {0x01, 0x01};
    static const uint8_t r2[] = {0x00, 0x00};
    static const uint8_t e2[] = {0x01, 0x01, 0x01};
    static const uint8_t r3[] = {0x11, 0x22, 0x00, 0x33};
    static const uint8_t e3[] = {0x03, 0x11, 0x22, 0x02, 0x33};
    static const uint8_t r4[] = {0x11, 0x22, 0x33, 0x44};
    static const uint8_t e4[] = {0x05, 0x11, 0x22, 0x33, 0x44};
    static const uint8_t r5[] = {0x11, 0x00, 0x00, 0x00};
    static const uint8_t e5[] = {0x02, 0x11, 0x01, 0x01, 0x01};
    static const uint8_t e0[] = {0x01};
    uint8_t raw[255], enc[260];
    size_t i;

    (void)state;
    check_vector(NULL, 0, e0, sizeof(e0));
    check_vector(r1, sizeof(r1), e1, sizeof(e1));
    check_vector(r2, sizeof(r2), e2, sizeof(e2));
    check_vector(r3, sizeof(r3), e3, sizeof(e3));
    check_vector(r4, sizeof(r4), e4, sizeof(e4));
    check_vector(r5, sizeof(r5), e5, sizeof(e5));
    /* 254 non-zero bytes: one full block (code 0xFF), then the empty final block. */
    for (i = 0; i < 254; i++)
        raw[i] = (uint8_t)(i + 1);
    enc[0] = 0xFF;
    memcpy(enc + 1, raw, 254);
    enc[255] = 0x01;
    check_vector(raw, 254, enc, 256);
    /* 255 non-zero bytes: 0xFF block, then a block of one. */
    raw[254] = 0xFF;
    enc[255] = 0x02;
    enc[256] = 0xFF;
    check_vector(raw, 255, enc, 257);
}

static void test_round_trips(void **state)
{
    static uint8_t raw[1200], enc[COBS_ENCODED_MAX(1200)], dec[1200];
    size_t len, enc_len;
    int pattern;
    long n;

    (void)state;
    for (pattern = 0; pattern < 4; pattern++) {
        for (len = 0; len <= sizeof(raw); len++) {
            size_t i;
            for (i = 0; i < len; i++) {
                switch (pattern) {
                case 0: raw[i] = 0; break;
                case 1: raw[i] = 0xFF; break;
                case 2: raw[i] = (uint8_t)(i * 7 + 3); break; /* a zero every 256 bytes */
                default: raw[i] = (uint8_t)((i % 300) == 299 ? 0 : 1 + i % 255); break;
                }
            }
            enc_len = cobs_encode(raw, len, enc, sizeof(enc));
            assert_true(enc_len >= 1 && enc_len <= COBS_ENCODED_MAX(len));
            assert_null(memchr(enc, 0, enc_len));
            n = cobs_decode(enc, enc_len, dec, sizeof(dec));
            assert_int_equal(n, (long)len);
            assert_memory_equal(dec, raw, len);
            /* In place: decode over the encoded bytes themselves. */
            n = cobs_decode(enc, enc_len, enc, sizeof(enc));
            assert_int_equal(n, (long)len);
            assert_memory_equal(enc, raw, len);
        }
    }
}

static void test_incremental_matches_one_shot(void **state)
{
    uint8_t raw[700], a[800], b[800];
    cobs_encoder_t enc;
    size_t i, cut1, cut2, na, nb;

    (void)state;
    for (i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(i % 97 == 0 ? 0 : i * 13);
    na = cobs_encode(raw, sizeof(raw), a, sizeof(a));
    assert_true(na > 0);
    for (cut1 = 0; cut1 < sizeof(raw); cut1 += 53) {
        for (cut2 = cut1; cut2 <= sizeof(raw); cut2 += 61) {
            cobs_enc_begin(&enc, b, sizeof(b));
            cobs_enc_put(&enc, raw, cut1);
            cobs_enc_put(&enc, raw + cut1, cut2 - cut1);
            cobs_enc_put(&enc, raw + cut2, sizeof(raw) - cut2);
            nb = cobs_enc_end(&enc);
            assert_int_equal(nb, na);
            assert_memory_equal(a, b, na);
        }
    }
}

static void test_too_small_and_invalid(void **state)
{
    uint8_t raw[300], out[400];
    static const uint8_t has_zero[] = {0x03, 0x11, 0x00};
    static const uint8_t overrun[] = {0x05, 0x11, 0x22};
    static const uint8_t zero_code[] = {0x00, 0x11};
    size_t i, need;

    (void)state;
    for (i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(1 + i % 200);
    need = cobs_encode(raw, sizeof(raw), out, sizeof(out));
    assert_true(need > 0);
    for (i = 0; i < need; i++)
        assert_int_equal(cobs_encode(raw, sizeof(raw), out, i), 0);
    assert_int_equal(cobs_decode(has_zero, sizeof(has_zero), out, sizeof(out)), -1);
    assert_int_equal(cobs_decode(overrun, sizeof(overrun), out, sizeof(out)), -1);
    assert_int_equal(cobs_decode(zero_code, sizeof(zero_code), out, sizeof(out)), -1);
    /* dst too small for the decoded frame */
    need = cobs_encode(raw, 100, out, sizeof(out));
    assert_int_equal(cobs_decode(out, need, raw, 99), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_incremental_matches_one_shot),
        cmocka_unit_test(test_too_small_and_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
