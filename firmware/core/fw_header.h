/*
 * fw_header.h — the firmware image header: what an image says about itself.
 *
 * Every MicroT firmware image carries, at FW_HEADER_OFFSET bytes from its start (right after the
 * vector table; 0x400 leaves room for the largest STM32 vector table, the H7A3's 0x2B0 bytes),
 * a 64-byte little-endian header:
 *
 *   off size field
 *    0   4   magic           FW_HEADER_MAGIC ("MTFW" in memory)
 *    4   2   header_version  FW_HEADER_VERSION
 *    6   2   header_bytes    64
 *    8   4   image_bytes     length of the whole image from its first byte, header included
 *   12   4   image_crc32     CRC-32 (IEEE 802.3, as zlib; proto/crc32.h) of the image with the 64 header bytes
 *                            left out
 *   16   2   chip_id         the STM32 device ID the image was built for (0x480, 0x470; 0 = any)
 *   18   2   flags           0
 *   20  32   version         NUL-padded version string ("0.3.1"); at most 31 characters
 *   52   8   reserved        0
 *   60   4   header_crc32    CRC-32 of bytes 0..59 of the header
 *
 * A port links FW_HEADER_INIT(...) into a section its linker script places at the offset; a
 * post-link step (scripts/fw_stamp.py, or fw_header_stamp() below) fills image_bytes and the
 * CRCs into the binary. The simulator reads the header of the image the ROM bootloader wrote to
 * report the version it booted; the daemon reads it to know an image's target and version.
 * Portable C99, no heap, no OS calls.
 */
#ifndef MICROT_FW_HEADER_H
#define MICROT_FW_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_HEADER_OFFSET 0x400u
#define FW_HEADER_MAGIC 0x5746544Du /* bytes 'M' 'T' 'F' 'W' */
#define FW_HEADER_VERSION 1u
#define FW_HEADER_BYTES 64u
#define FW_VERSION_CHARS 32u       /* field size, NUL included */

/* The header as it lies in flash (little-endian target; the parser reads bytes, not this). */
typedef struct {
    uint32_t magic;
    uint16_t header_version;
    uint16_t header_bytes;
    uint32_t image_bytes;
    uint32_t image_crc32;
    uint16_t chip_id;
    uint16_t flags;
    char version[FW_VERSION_CHARS];
    uint32_t reserved[2];
    uint32_t header_crc32;
} fw_header_raw_t;

/* What a port places at FW_HEADER_OFFSET before stamping. */
#define FW_HEADER_INIT(version_str, chip) \
    { FW_HEADER_MAGIC, FW_HEADER_VERSION, FW_HEADER_BYTES, 0u, 0u, (chip), 0u, version_str, {0u, 0u}, 0u }

/* The parsed header. */
typedef struct {
    uint16_t header_version;
    uint32_t image_bytes;
    uint32_t image_crc32;
    uint16_t chip_id;
    char version[FW_VERSION_CHARS]; /* NUL-terminated */
} fw_header_t;

typedef enum {
    FW_HEADER_OK = 0,
    FW_HEADER_ESHORT = -1,      /* buffer ends before the header */
    FW_HEADER_EMAGIC = -2,      /* no header here */
    FW_HEADER_EVERSION = -3,    /* header version or size this code does not know */
    FW_HEADER_EHEADERCRC = -4,  /* header bytes corrupted */
    FW_HEADER_ESIZE = -5,       /* image_bytes smaller than the header end or past the buffer */
    FW_HEADER_EIMAGECRC = -6,   /* image bytes do not match their CRC */
    FW_HEADER_ESTRING = -7,     /* version string not terminated or not printable */
    FW_HEADER_EINVAL = -8,      /* bad argument to fw_header_stamp */
} fw_header_status_t;

/* Checks the header of the image at image[0..len) and, with check_image, the image CRC (len
 * must then cover image_bytes). Fills out (may be NULL) when the header itself is sound. */
fw_header_status_t fw_header_check(const uint8_t *image, uint32_t len, bool check_image,
                                   fw_header_t *out);

/* fw_header_check() with the image CRC checked: true when image holds a sound, complete image. */
bool fw_header_parse(const uint8_t *image, uint32_t len, fw_header_t *out);

/* Writes a complete header into image (len bytes, the whole image): image_bytes = len, the CRCs,
 * version (at most FW_VERSION_CHARS - 1 printable characters) and chip_id. */
fw_header_status_t fw_header_stamp(uint8_t *image, uint32_t len, const char *version,
                                   uint16_t chip_id);

/* A constant sentence for a status. */
const char *fw_header_strerror(fw_header_status_t status);

#endif /* MICROT_FW_HEADER_H */
