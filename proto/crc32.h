/*
 * crc32.h — CRC-32 (IEEE 802.3, the zlib/Ethernet CRC) for the link layer.
 *
 * Reflected polynomial 0xEDB88320, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF;
 * crc32_update(0, "123456789", 9) == 0xCBF43926. Portable C99, no heap.
 * Computed with a 16-entry nibble table (64 bytes of const data, two lookups per byte): a middle
 * ground between the bitwise loop (no table, 8 shifts per byte) and the 1 KiB byte table.
 */
#ifndef MICROT_CRC32_H
#define MICROT_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: pass 0 to start, then the previous result to extend it over more bytes. */
uint32_t crc32_update(uint32_t crc, const uint8_t *bytes, size_t len);

#endif /* MICROT_CRC32_H */
