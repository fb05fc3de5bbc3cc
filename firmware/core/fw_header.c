/*
 * fw_header.c — parse, check and stamp the firmware image header (layout in fw_header.h).
 * Reads fields byte by byte in little-endian order, so it is correct on any host and never does
 * an unaligned access on the target.
 */
#include "fw_header.h"

#include "crc32.h" /* the link layer's CRC-32/IEEE, shared */

static uint32_t fw_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint16_t fw_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void fw_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void fw_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* CRC of the image with the header bytes left out. */
static uint32_t fw_image_crc(const uint8_t *image, uint32_t image_bytes)
{
    uint32_t crc = crc32_update(0, image, FW_HEADER_OFFSET);
    uint32_t tail = FW_HEADER_OFFSET + FW_HEADER_BYTES;
    return crc32_update(crc, image + tail, image_bytes - tail);
}

fw_header_status_t fw_header_check(const uint8_t *image, uint32_t len, bool check_image,
                                   fw_header_t *out)
{
    const uint32_t end = FW_HEADER_OFFSET + FW_HEADER_BYTES;
    if (image == NULL || len < end)
        return FW_HEADER_ESHORT;
    const uint8_t *h = image + FW_HEADER_OFFSET;
    if (fw_rd32(h) != FW_HEADER_MAGIC)
        return FW_HEADER_EMAGIC;
    if (fw_rd16(h + 4) != FW_HEADER_VERSION || fw_rd16(h + 6) != FW_HEADER_BYTES)
        return FW_HEADER_EVERSION;
    if (crc32_update(0, h, 60) != fw_rd32(h + 60))
        return FW_HEADER_EHEADERCRC;
    uint32_t image_bytes = fw_rd32(h + 8);
    if (image_bytes < end)
        return FW_HEADER_ESIZE;
    /* The version must be NUL-terminated inside its field and printable ASCII. */
    const char *v = (const char *)(h + 20);
    uint32_t vlen = 0;
    while (vlen < FW_VERSION_CHARS && v[vlen] != '\0') {
        if (v[vlen] < 0x20 || v[vlen] > 0x7E)
            return FW_HEADER_ESTRING;
        vlen++;
    }
    if (vlen == FW_VERSION_CHARS || vlen == 0)
        return FW_HEADER_ESTRING;
    if (check_image) {
        if (image_bytes > len)
            return FW_HEADER_ESIZE;
        if (fw_image_crc(image, image_bytes) != fw_rd32(h + 12))
            return FW_HEADER_EIMAGECRC;
    }
    if (out != NULL) {
        out->header_version = fw_rd16(h + 4);
        out->image_bytes = image_bytes;
        out->image_crc32 = fw_rd32(h + 12);
        out->chip_id = fw_rd16(h + 16);
        for (uint32_t i = 0; i < FW_VERSION_CHARS; i++)
            out->version[i] = i < vlen ? v[i] : '\0';
    }
    return FW_HEADER_OK;
}

bool fw_header_parse(const uint8_t *image, uint32_t len, fw_header_t *out)
{
    return fw_header_check(image, len, true, out) == FW_HEADER_OK;
}

fw_header_status_t fw_header_stamp(uint8_t *image, uint32_t len, const char *version,
                                   uint16_t chip_id)
{
    const uint32_t end = FW_HEADER_OFFSET + FW_HEADER_BYTES;
    if (image == NULL || version == NULL)
        return FW_HEADER_EINVAL;
    if (len < end)
        return FW_HEADER_ESHORT;
    uint32_t vlen = 0;
    while (version[vlen] != '\0') {
        if (vlen + 1 >= FW_VERSION_CHARS || version[vlen] < 0x20 || version[vlen] > 0x7E)
            return FW_HEADER_ESTRING;
        vlen++;
    }
    if (vlen == 0)
        return FW_HEADER_ESTRING;
    uint8_t *h = image + FW_HEADER_OFFSET;
    for (uint32_t i = 0; i < FW_HEADER_BYTES; i++)
        h[i] = 0;
    fw_wr32(h, FW_HEADER_MAGIC);
    fw_wr16(h + 4, FW_HEADER_VERSION);
    fw_wr16(h + 6, FW_HEADER_BYTES);
    fw_wr32(h + 8, len);
    fw_wr16(h + 16, chip_id);
    for (uint32_t i = 0; i < vlen; i++)
        h[20 + i] = (uint8_t)version[i];
    fw_wr32(h + 12, fw_image_crc(image, len));
    fw_wr32(h + 60, crc32_update(0, h, 60));
    return FW_HEADER_OK;
}

const char *fw_header_strerror(fw_header_status_t status)
{
    switch (status) {
    case FW_HEADER_OK: return "image header is sound";
    case FW_HEADER_ESHORT: return "image too short to hold a header";
    case FW_HEADER_EMAGIC: return "no MicroT image header at offset 0x400";
    case FW_HEADER_EVERSION: return "image header version not supported";
    case FW_HEADER_EHEADERCRC: return "image header corrupted (header CRC mismatch)";
    case FW_HEADER_ESIZE: return "image size in header does not fit";
    case FW_HEADER_EIMAGECRC: return "image corrupted (image CRC mismatch)";
    case FW_HEADER_ESTRING: return "image version string malformed";
    case FW_HEADER_EINVAL: return "bad argument";
    }
    return "unknown image header status";
}

/* The raw struct must match the documented 64-byte layout (no padding). */
typedef char fw_header_raw_size_check[(sizeof(fw_header_raw_t) == FW_HEADER_BYTES) ? 1 : -1];
