/*
 * cobs.c — COBS encoder (incremental and one-shot) and strict decoder; see cobs.h.
 */
#include "cobs.h"

void cobs_enc_begin(cobs_encoder_t *enc, uint8_t *out, size_t cap)
{
    enc->out = out;
    enc->cap = cap;
    enc->code_pos = 0;
    enc->code = 1;
    enc->overflow = (uint8_t)(cap < 1u);
    enc->len = 1; /* room for the first code byte */
}

/* Writes the open block's code byte and opens a new block after it. */
static void cobs_close_block(cobs_encoder_t *enc)
{
    if (!enc->overflow)
        enc->out[enc->code_pos] = enc->code;
    enc->code_pos = enc->len;
    enc->code = 1;
    if (enc->len >= enc->cap)
        enc->overflow = 1;
    enc->len++;
}

void cobs_enc_put(cobs_encoder_t *enc, const uint8_t *bytes, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (bytes[i] == 0) {
            cobs_close_block(enc);
            continue;
        }
        if (enc->len >= enc->cap)
            enc->overflow = 1;
        if (!enc->overflow)
            enc->out[enc->len] = bytes[i];
        enc->len++;
        enc->code++;
        if (enc->code == 0xFFu) /* 254 data bytes: a full block has no implied zero */
            cobs_close_block(enc);
    }
}

size_t cobs_enc_end(cobs_encoder_t *enc)
{
    if (enc->overflow || enc->len > enc->cap)
        return 0;
    enc->out[enc->code_pos] = enc->code;
    return enc->len;
}

size_t cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap)
{
    cobs_encoder_t enc;

    cobs_enc_begin(&enc, dst, dst_cap);
    cobs_enc_put(&enc, src, len);
    return cobs_enc_end(&enc);
}

long cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap)
{
    size_t in = 0, out = 0;

    while (in < len) {
        uint8_t code = src[in++];
        size_t n;

        if (code == 0)
            return -1;
        n = (size_t)code - 1u;
        if (n > len - in || out + n > dst_cap)
            return -1;
        /* Copy forward one byte at a time: with dst == src, out < in always holds. */
        while (n--) {
            uint8_t b = src[in++];
            if (b == 0)
                return -1;
            dst[out++] = b;
        }
        if (code != 0xFFu && in < len) {
            if (out >= dst_cap)
                return -1;
            dst[out++] = 0;
        }
    }
    return (long)out;
}
