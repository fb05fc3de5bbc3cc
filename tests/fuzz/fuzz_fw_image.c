/*
 * fuzz_fw_image.c — libFuzzer target for the firmware image loaders (daemon/flash/fw_image.c)
 * and the image header parser (firmware/core/fw_header.c): arbitrary bytes loaded as each format
 * (the first byte picks auto, raw, HEX or ELF), then validated against both supported parts.
 * Whatever loads must describe itself consistently: span within bounds, covered bytes counted
 * right. Built by `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flash/fw_image.h"
#include "fw_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fw_format_t fmt = (fw_format_t)(data[0] % 4u);
    fw_image_t img;
    char err[200];
    fw_header_t h;
    (void)fw_header_check(data + 1, (uint32_t)(size - 1), true, &h);
    if (fw_image_load_mem(&img, data + 1, size - 1, fmt, 0x08000000u, err, sizeof(err)) != 0)
        return 0;
    if (img.span_bytes == 0 || img.span_bytes > FW_IMAGE_MAX_BYTES)
        abort();
    uint32_t covered = 0;
    for (uint32_t i = 0; i < img.span_bytes; i++)
        covered += fw_image_covers(&img, img.base + i);
    if (covered != img.covered_bytes || !fw_image_covers(&img, img.base) ||
        !fw_image_covers(&img, img.base + img.span_bytes - 1))
        abort();
    (void)fw_image_validate(&img, fw_chip_by_id(0x470), err, sizeof(err));
    (void)fw_image_validate(&img, fw_chip_by_id(0x480), err, sizeof(err));
    fw_image_free(&img);
    return 0;
}
