/*
 * test_fw_header.c — the firmware image header (firmware/core/fw_header.c): stamping and
 * parsing, and every kind of damage it must notice (the CRC itself: test_crc32.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fw_header.h"

#define BASE 0x08000000u

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint8_t *make_image(uint32_t len, uint16_t chip)
{
    uint8_t *img = malloc(len);
    for (uint32_t i = 0; i < len; i++)
        img[i] = (uint8_t)(i * 31 + 7);
    put32(img, 0x20020000u);
    put32(img + 4, BASE + 0x801u);
    assert_int_equal(fw_header_stamp(img, len, "2.4.1", chip), FW_HEADER_OK);
    return img;
}

static void test_header_roundtrip_and_damage(void **state)
{
    (void)state;
    uint8_t *img = make_image(8192, 0x470);
    fw_header_t h;
    assert_true(fw_header_parse(img, 8192, &h));
    assert_string_equal(h.version, "2.4.1");
    assert_int_equal(h.image_bytes, 8192);
    assert_int_equal(h.chip_id, 0x470);
    /* Longer buffer (flash after the image) is fine: the image says its own size. */
    uint8_t *big = malloc(16384);
    memset(big, 0xFF, 16384);
    memcpy(big, img, 8192);
    assert_true(fw_header_parse(big, 16384, &h));
    /* A flipped image byte, a flipped header byte, a truncated buffer. */
    img[5000] ^= 1;
    assert_int_equal(fw_header_check(img, 8192, true, NULL), FW_HEADER_EIMAGECRC);
    assert_int_equal(fw_header_check(img, 8192, false, NULL), FW_HEADER_OK);
    img[5000] ^= 1;
    img[FW_HEADER_OFFSET + 25] ^= 1;
    assert_int_equal(fw_header_check(img, 8192, false, NULL), FW_HEADER_EHEADERCRC);
    img[FW_HEADER_OFFSET + 25] ^= 1;
    assert_int_equal(fw_header_check(img, 4096, true, NULL), FW_HEADER_ESIZE);
    assert_int_equal(fw_header_check(img, 0x410, true, NULL), FW_HEADER_ESHORT);
    img[FW_HEADER_OFFSET] = 0;
    assert_int_equal(fw_header_check(img, 8192, true, NULL), FW_HEADER_EMAGIC);
    assert_false(fw_header_parse(img, 8192, &h));
    /* Stamping refuses bad versions. */
    assert_int_equal(fw_header_stamp(img, 8192, "", 0), FW_HEADER_ESTRING);
    assert_int_equal(fw_header_stamp(img, 8192, "0123456789012345678901234567890123", 0),
                     FW_HEADER_ESTRING);
    assert_int_equal(fw_header_stamp(img, 8192, "bad\nversion", 0), FW_HEADER_ESTRING);
    assert_int_equal(fw_header_stamp(img, 100, "1.0", 0), FW_HEADER_ESHORT);
    /* The raw struct a port embeds has the documented layout. */
    fw_header_raw_t raw = FW_HEADER_INIT("9.9", 0x480);
    assert_int_equal(sizeof(raw), FW_HEADER_BYTES);
    assert_int_equal(offsetof(fw_header_raw_t, version), 20);
    assert_int_equal(offsetof(fw_header_raw_t, header_crc32), 60);
    assert_string_equal(fw_header_strerror(FW_HEADER_EIMAGECRC),
                        "image corrupted (image CRC mismatch)");
    free(img);
    free(big);
}

/* The ports' path: FW_HEADER_INIT placeholder linked at 0x400, then scripts/fw_stamp.py. */
static void test_placeholder_stamped_by_script(void **state)
{
    (void)state;
    if (access("scripts/fw_stamp.py", R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)
        skip();
    static const fw_header_raw_t placeholder = FW_HEADER_INIT("4.2.0-port", 0x480);
    uint32_t len = 12288;
    uint8_t *img = malloc(len);
    for (uint32_t i = 0; i < len; i++)
        img[i] = (uint8_t)(i ^ (i >> 7));
    memcpy(img + FW_HEADER_OFFSET, &placeholder, sizeof(placeholder));
    fw_header_t h;
    assert_int_equal(fw_header_check(img, len, false, &h), FW_HEADER_EHEADERCRC); /* unstamped */
    char path[] = "/tmp/fwstampXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 scripts/fw_stamp.py %s >/dev/null", path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(img, 1, len, f), len);
    fclose(f);
    unlink(path);
    assert_true(fw_header_parse(img, len, &h));
    assert_string_equal(h.version, "4.2.0-port");
    assert_int_equal(h.chip_id, 0x480);
    assert_int_equal(h.image_bytes, len);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip_and_damage),
        cmocka_unit_test(test_placeholder_stamped_by_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
