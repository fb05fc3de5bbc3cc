/*
 * test_fw_image.c — firmware images (daemon/flash/fw_image.c): the loaders for raw, Intel HEX
 * and ELF32 on well-formed and broken inputs, the part table, and validation. HEX and ELF inputs are written by small independent writers in this file; the
 * Python generator (scripts/gen_flash_image.py, zlib's CRC) cross-checks the header format.
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

#include "flash/fw_image.h"
#include "fw_header.h"
#include "mt_err.h"

#define BASE 0x08000000u

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* A small valid L4R5 image: vector table, code bytes, header stamped. */
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

static void test_python_generator_agrees(void **state)
{
    (void)state;
    if (access("scripts/gen_flash_image.py", R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0) {
        skip(); /* run from the repository root with Python present */
    }
    char dir[] = "/tmp/fwimgXXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], bin[64], hex[64];
    snprintf(bin, sizeof(bin), "%s/g.bin", dir);
    snprintf(hex, sizeof(hex), "%s/g.hex", dir);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 scripts/gen_flash_image.py --chip h7a3zi "
             "--size-kib 64 --version 7.1.2-rc1 --out %s --hex %s >/dev/null", bin, hex);
    assert_int_equal(system(cmd), 0);
    fw_image_t a, b;
    char err[200];
    assert_int_equal(fw_image_load_file(&a, bin, FW_FORMAT_AUTO, BASE, err, sizeof(err)), MT_OK);
    assert_true(a.has_header);
    assert_string_equal(a.header.version, "7.1.2-rc1");
    assert_int_equal(a.header.chip_id, 0x480);
    assert_int_equal(fw_image_validate(&a, fw_chip_by_id(0x480), err, sizeof(err)), MT_OK);
    /* The HEX of the same image: blank 16-byte runs are gaps, everything else identical. */
    assert_int_equal(fw_image_load_file(&b, hex, FW_FORMAT_AUTO, 0, err, sizeof(err)), MT_OK);
    assert_int_equal(b.format, FW_FORMAT_HEX);
    assert_int_equal(b.base, BASE);
    assert_true(b.covered_bytes < a.covered_bytes);
    for (uint32_t i = 0; i < b.span_bytes; i++)
        assert_int_equal(b.data[i], a.data[i]);
    fw_image_free(&a);
    fw_image_free(&b);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- an independent Intel HEX writer ---- */
static size_t hex_rec(char *out, uint8_t type, uint16_t addr, const uint8_t *d, uint8_t n)
{
    uint8_t sum = (uint8_t)(n + (addr >> 8) + (addr & 0xFF) + type);
    size_t k = (size_t)sprintf(out, ":%02X%04X%02X", n, addr, type);
    for (uint8_t i = 0; i < n; i++) {
        k += (size_t)sprintf(out + k, "%02X", d[i]);
        sum = (uint8_t)(sum + d[i]);
    }
    k += (size_t)sprintf(out + k, "%02X\r\n", (uint8_t)(0x100 - sum));
    return k;
}

static void test_hex_loads_with_gaps_and_entry(void **state)
{
    (void)state;
    char *txt = malloc(1 << 16);
    size_t k = 0;
    uint8_t ela[2] = { 0x08, 0x00 }, d[16];
    k += hex_rec(txt + k, 4, 0, ela, 2);
    for (int i = 0; i < 16; i++)
        d[i] = (uint8_t)(0xA0 + i);
    k += hex_rec(txt + k, 0, 0x0000, d, 16);
    k += hex_rec(txt + k, 0, 0x0010, d, 8);
    k += hex_rec(txt + k, 0, 0x1000, d, 4); /* a gap of 0xFE8 bytes */
    uint8_t start[4] = { 0x08, 0x00, 0x01, 0x01 };
    k += hex_rec(txt + k, 5, 0, start, 4);
    k += hex_rec(txt + k, 1, 0, NULL, 0);
    fw_image_t img;
    char err[200];
    assert_int_equal(fw_image_load_mem(&img, (uint8_t *)txt, k, FW_FORMAT_AUTO, 0, err,
                                       sizeof(err)), MT_OK);
    assert_int_equal(img.format, FW_FORMAT_HEX);
    assert_int_equal(img.base, BASE);
    assert_int_equal(img.span_bytes, 0x1004);
    assert_int_equal(img.covered_bytes, 28);
    assert_int_equal(img.entry, 0x08000101);
    assert_true(fw_image_covers(&img, BASE + 0x17));
    assert_false(fw_image_covers(&img, BASE + 0x18));
    assert_false(fw_image_covers(&img, BASE + 0xFFF));
    assert_true(fw_image_covers(&img, BASE + 0x1003));
    assert_int_equal(img.data[0x1002], 0xA2);
    assert_int_equal(img.data[0x500], 0xFF);
    fw_image_free(&img);

    /* Segment addressing (type 02). */
    k = 0;
    uint8_t seg[2] = { 0x10, 0x00 }; /* 0x1000 << 4 = 0x10000 */
    k += hex_rec(txt + k, 2, 0, seg, 2);
    k += hex_rec(txt + k, 0, 0x0004, d, 4);
    k += hex_rec(txt + k, 1, 0, NULL, 0);
    assert_int_equal(fw_image_load_mem(&img, (uint8_t *)txt, k, FW_FORMAT_HEX, 0, err,
                                       sizeof(err)), MT_OK);
    assert_int_equal(img.base, 0x10004);
    fw_image_free(&img);
    free(txt);
}

static void expect_hex_error(const char *txt, const char *needle)
{
    fw_image_t img;
    char err[200] = "";
    assert_int_equal(fw_image_load_mem(&img, (const uint8_t *)txt, strlen(txt), FW_FORMAT_HEX, 0,
                                       err, sizeof(err)), MT_EINVAL);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' lacks '%s'", err, needle);
    assert_null(img.data);
}

static void test_hex_rejects_broken_files(void **state)
{
    (void)state;
    expect_hex_error(":0400000001020304F2\n", "end-of-file");                 /* no EOF record */
    expect_hex_error(":0400000001020304F1\n:00000001FF\n", "checksum");       /* bad checksum */
    expect_hex_error(":0400000001020304\n:00000001FF\n", "length");           /* cut line */
    expect_hex_error("0400000001020304F2\n:00000001FF\n", "start with ':'");
    expect_hex_error(":04000000010203G4F2\n:00000001FF\n", "bad character");
    expect_hex_error(":00000009F7\n:00000001FF\n", "unknown record type");
    expect_hex_error(":0100000001FE\n:0100000002FD\n:00000001FF\n", "different bytes");
    expect_hex_error(":020000040800F2\n:0100000001FE\n:0100000001FE\n", "end-of-file");
}

/* ---- an independent ELF32 writer: header, program headers, segment bytes ---- */
static size_t make_elf(uint8_t *f, uint16_t machine, bool past_end)
{
    memset(f, 0, 4096);
    memcpy(f, "\x7f" "ELF", 4);
    f[4] = 1, f[5] = 1, f[6] = 1;
    f[16] = 2;                     /* ET_EXEC */
    f[18] = (uint8_t)machine, f[19] = (uint8_t)(machine >> 8);
    f[20] = 1;
    put32(f + 24, BASE + 0x101);   /* e_entry */
    put32(f + 28, 52);             /* e_phoff */
    f[40] = 52;                    /* e_ehsize */
    f[42] = 32;                    /* e_phentsize */
    f[44] = 3;                     /* e_phnum */
    uint8_t *ph = f + 52;
    /* .text: 512 bytes at 0x08000000 from file offset 0x200 */
    put32(ph + 0, 1), put32(ph + 4, 0x200), put32(ph + 8, BASE), put32(ph + 12, BASE);
    put32(ph + 16, past_end ? 0x4000 : 512), put32(ph + 20, 512);
    /* .data: runs in RAM at 0x20000000, loaded from flash at 0x08000400 */
    ph += 32;
    put32(ph + 0, 1), put32(ph + 4, 0x400), put32(ph + 8, 0x20000000u), put32(ph + 12, BASE + 0x400);
    put32(ph + 16, 64), put32(ph + 20, 64);
    /* .bss: nothing in the file */
    ph += 32;
    put32(ph + 0, 1), put32(ph + 4, 0x440), put32(ph + 8, 0x20000040u), put32(ph + 12, 0x20000040u);
    put32(ph + 16, 0), put32(ph + 20, 1024);
    for (int i = 0; i < 512; i++)
        f[0x200 + i] = (uint8_t)(i ^ 0x5A);
    put32(f + 0x200, 0x20010000u);
    put32(f + 0x204, BASE + 0x101);
    for (int i = 0; i < 64; i++)
        f[0x400 + i] = (uint8_t)(0xD0 + (i & 7));
    return 0x440;
}

static void test_elf_loads_segments_at_load_address(void **state)
{
    (void)state;
    uint8_t f[4096];
    size_t n = make_elf(f, 40, false);
    fw_image_t img;
    char err[200];
    assert_int_equal(fw_image_load_mem(&img, f, n, FW_FORMAT_AUTO, 0, err, sizeof(err)), MT_OK);
    assert_int_equal(img.format, FW_FORMAT_ELF);
    assert_int_equal(img.base, BASE);
    assert_int_equal(img.span_bytes, 0x440);
    assert_int_equal(img.covered_bytes, 512 + 64);
    assert_int_equal(img.entry, BASE + 0x101);
    assert_int_equal(img.data[0x400], 0xD0);          /* .data initialisers at their LMA */
    assert_false(fw_image_covers(&img, BASE + 0x300)); /* between the segments */
    assert_false(img.has_header);
    assert_int_equal(fw_image_validate(&img, fw_chip_by_id(0x470), err, sizeof(err)), MT_OK);
    fw_image_free(&img);

    n = make_elf(f, 62, false); /* x86-64 */
    assert_int_equal(fw_image_load_mem(&img, f, n, FW_FORMAT_ELF, 0, err, sizeof(err)), MT_EINVAL);
    assert_non_null(strstr(err, "not ARM"));
    n = make_elf(f, 40, true);
    assert_int_equal(fw_image_load_mem(&img, f, n, FW_FORMAT_ELF, 0, err, sizeof(err)), MT_EINVAL);
    assert_non_null(strstr(err, "past the file"));
    n = make_elf(f, 40, false);
    f[4] = 2; /* ELFCLASS64 */
    assert_int_equal(fw_image_load_mem(&img, f, n, FW_FORMAT_ELF, 0, err, sizeof(err)), MT_EINVAL);
    assert_int_equal(fw_image_load_mem(&img, f, 30, FW_FORMAT_ELF, 0, err, sizeof(err)), MT_EINVAL);
}

static void test_validate_against_parts(void **state)
{
    (void)state;
    const fw_chip_t *l4 = fw_chip_lookup("l4r5zi"), *h7 = fw_chip_lookup("0x480");
    assert_non_null(l4);
    assert_non_null(h7);
    assert_int_equal(l4->chip_id, 0x470);
    assert_ptr_equal(fw_chip_lookup("STM32H7A3"), h7);
    assert_ptr_equal(fw_chip_lookup("l4r"), l4);
    assert_null(fw_chip_lookup("0x999"));
    assert_null(fw_chip_lookup("f103"));
    assert_int_equal(l4->page_bytes, 4096);
    assert_int_equal(h7->page_bytes, 8192);

    uint8_t *raw = make_image(16384, 0x470);
    fw_image_t img;
    char err[200];
    assert_int_equal(fw_image_load_mem(&img, raw, 16384, FW_FORMAT_BIN, BASE, err, sizeof(err)),
                     MT_OK);
    assert_true(img.has_header);
    assert_int_equal(fw_image_validate(&img, l4, err, sizeof(err)), MT_OK);
    assert_int_equal(fw_image_validate(&img, h7, err, sizeof(err)), MT_EINVAL); /* header chip */
    assert_non_null(strstr(err, "built for chip 0x470"));
    fw_image_free(&img);

    /* Doesn't fit: a 16 KiB image 8 KiB below the end of flash. */
    assert_int_equal(fw_image_load_mem(&img, raw, 16384, FW_FORMAT_BIN, BASE + (2u << 20) - 8192,
                                       err, sizeof(err)), MT_OK);
    assert_int_equal(fw_image_validate(&img, l4, err, sizeof(err)), MT_ENOSPACE);
    fw_image_free(&img);
    /* Not in flash at all. */
    assert_int_equal(fw_image_load_mem(&img, raw, 16384, FW_FORMAT_BIN, 0x20000000u, err,
                                       sizeof(err)), MT_OK);
    assert_int_equal(fw_image_validate(&img, l4, err, sizeof(err)), MT_ENOSPACE);
    fw_image_free(&img);

    /* Vector table faults (no header so the checks below are the ones that speak). */
    put32(raw + FW_HEADER_OFFSET, 0);
    put32(raw, 0x30020000u); /* SP outside L4 SRAM: the top of the H7's AHB SRAM */
    assert_int_equal(fw_image_load_mem(&img, raw, 16384, FW_FORMAT_BIN, BASE, err, sizeof(err)),
                     MT_OK);
    assert_int_equal(fw_image_validate(&img, l4, err, sizeof(err)), MT_EINVAL);
    assert_non_null(strstr(err, "stack pointer"));
    assert_int_equal(fw_image_validate(&img, h7, err, sizeof(err)), MT_OK); /* H7 AHB SRAM end */
    fw_image_free(&img);
    put32(raw, 0x20020000u);
    put32(raw + 4, BASE + 0x800); /* no Thumb bit */
    assert_int_equal(fw_image_load_mem(&img, raw, 16384, FW_FORMAT_BIN, BASE, err, sizeof(err)),
                     MT_OK);
    assert_int_equal(fw_image_validate(&img, l4, err, sizeof(err)), MT_EINVAL);
    assert_non_null(strstr(err, "Thumb"));
    fw_image_free(&img);
    put32(raw + 4, BASE + 0x100001); /* outside the image */
    assert_int_equal(fw_image_load_mem(&img, raw, 16384, FW_FORMAT_BIN, BASE, err, sizeof(err)),
                     MT_OK);
    assert_int_equal(fw_image_validate(&img, l4, err, sizeof(err)), MT_EINVAL);
    assert_non_null(strstr(err, "outside the image"));
    fw_image_free(&img);
    assert_int_equal(fw_image_load_mem(&img, raw, 16384, FW_FORMAT_BIN, BASE + 0x100, err,
                                       sizeof(err)), MT_OK);
    assert_int_equal(fw_image_validate(&img, l4, err, sizeof(err)), MT_EINVAL); /* misaligned */
    fw_image_free(&img);
    assert_int_equal(fw_image_load_mem(&img, raw, 0, FW_FORMAT_BIN, BASE, err, sizeof(err)),
                     MT_EINVAL);
    free(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_generator_agrees),
        cmocka_unit_test(test_hex_loads_with_gaps_and_entry),
        cmocka_unit_test(test_hex_rejects_broken_files),
        cmocka_unit_test(test_elf_loads_segments_at_load_address),
        cmocka_unit_test(test_validate_against_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
