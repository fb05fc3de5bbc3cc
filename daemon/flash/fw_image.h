/*
 * fw_image.h — firmware images for the flasher: loading (raw .bin at a base address, Intel HEX,
 * ELF32 load segments), the table of supported STM32 parts, and validation before anything
 * touches a board.
 *
 * An image is kept as the span [base, base + span_bytes) of flash addresses with a coverage
 * bitmap: bytes the file defines are "covered"; gaps between segments are not, so the flasher
 * never erases a page the image does not touch (a model slot behind the firmware stays intact).
 */
#ifndef MICROT_FW_IMAGE_H
#define MICROT_FW_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_header.h"

#define FW_IMAGE_MAX_BYTES (16u << 20) /* span bound while loading, before the chip check */
#define FW_IMAGE_MAX_FILE_BYTES (64u << 20)

/* A supported STM32 part, from its reference manual and AN2606. */
typedef struct {
    uint16_t chip_id;          /* Get ID answer */
    const char *name;          /* "STM32H7A3xx/B3xx" */
    const char *board;         /* MicroT board name: "h7a3zi" */
    uint32_t flash_base;
    uint32_t flash_bytes;
    uint32_t page_bytes;       /* erase unit (Extended Erase page/sector numbers count these) */
    struct { uint32_t base, bytes; } sram[3];
} fw_chip_t;

/* The part with this ID, or NULL. */
const fw_chip_t *fw_chip_by_id(uint16_t chip_id);
/* The part by board name ("h7a3zi"), part name prefix ("STM32L4R5") or ID ("0x470"), or NULL. */
const fw_chip_t *fw_chip_lookup(const char *name);

typedef enum { FW_FORMAT_AUTO = 0, FW_FORMAT_BIN, FW_FORMAT_HEX, FW_FORMAT_ELF } fw_format_t;

typedef struct {
    uint32_t base;             /* lowest covered address */
    uint32_t span_bytes;       /* highest covered address + 1 - base */
    uint8_t *data;             /* span_bytes, 0xFF where not covered */
    uint8_t *covered;          /* bitmap, one bit per byte of the span */
    uint32_t covered_bytes;
    uint32_t entry;            /* ELF e_entry / HEX start address, 0 if none */
    fw_format_t format;
    bool has_header;           /* a sound MicroT header at base + FW_HEADER_OFFSET */
    fw_header_t header;
} fw_image_t;

/* Loads an image from memory. bin_base is the address of a raw binary's first byte (ignored
 * for HEX and ELF). FW_FORMAT_AUTO looks at the content: ELF magic, then ':' lines, else raw.
 * Returns 0 or MT_EINVAL / MT_ETOOBIG / MT_ENOMEM with a sentence in err. */
int fw_image_load_mem(fw_image_t *img, const uint8_t *file, size_t file_len, fw_format_t format,
                      uint32_t bin_base, char *err, size_t err_len);
/* Same, from a file path (".hex"/".ihex" and ".elf" choose the format under AUTO too). */
int fw_image_load_file(fw_image_t *img, const char *path, fw_format_t format, uint32_t bin_base,
                       char *err, size_t err_len);
void fw_image_free(fw_image_t *img);

/* True when the byte at addr is defined by the image. */
bool fw_image_covers(const fw_image_t *img, uint32_t addr);

/* Checks the image against a part: inside its flash, and a sane vector table at the image base
 * (initial stack pointer inside SRAM, reset handler inside the image with the Thumb bit set);
 * when the image has a MicroT header, its chip_id (if non-zero) must be this part's. */
int fw_image_validate(const fw_image_t *img, const fw_chip_t *chip, char *err, size_t err_len);

#endif /* MICROT_FW_IMAGE_H */
