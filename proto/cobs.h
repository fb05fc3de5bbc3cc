/*
 * cobs.h — Consistent Overhead Byte Stuffing, the framing of the link layer.
 *
 * COBS rewrites a frame so that it contains no 0x00 byte; the link then ends every frame with a
 * single 0x00 delimiter, so a receiver can always resynchronise at the next 0x00. Each block of
 * up to 254 non-zero bytes is preceded by a code byte (block length + 1); a code below 0xFF
 * stands for "block, then a zero" (the zero at the very end is implied, not sent). Overhead:
 * at most 1 byte per 254 bytes plus 1 (COBS_ENCODED_MAX). Portable C99, no heap.
 */
#ifndef MICROT_COBS_H
#define MICROT_COBS_H

#include <stddef.h>
#include <stdint.h>

/* Largest encoding of len bytes (without the delimiter), as this encoder produces it. */
#define COBS_ENCODED_MAX(len) ((len) + (len) / 254u + 1u)

/* Incremental encoder: feeds a frame in pieces (header, payload, CRC) into one output buffer. */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t len;        /* bytes written to out so far, the pending code byte included */
    size_t code_pos;   /* where the code byte of the open block goes */
    uint8_t code;      /* 1 + bytes in the open block */
    uint8_t overflow;  /* out was too small: the result is invalid */
} cobs_encoder_t;

/* Starts an encoding into out[0..cap). */
void cobs_enc_begin(cobs_encoder_t *enc, uint8_t *out, size_t cap);
/* Appends len source bytes (any values). */
void cobs_enc_put(cobs_encoder_t *enc, const uint8_t *bytes, size_t len);
/* Closes the last block; returns the encoded length, or 0 if out was too small. */
size_t cobs_enc_end(cobs_encoder_t *enc);

/* One-shot encoding: returns the encoded length (>= 1), or 0 if dst_cap is too small. */
size_t cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap);

/* Decodes one encoded frame (no delimiter). dst may equal src (in-place decoding).
 * Returns the decoded length, or -1 if src is not a valid encoding (contains 0x00, a block
 * runs past the end) or dst_cap is too small. */
long cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap);

#endif /* MICROT_COBS_H */
