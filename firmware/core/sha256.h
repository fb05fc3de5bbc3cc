/*
 * sha256.h — SHA-256 (FIPS 180-4) for the firmware core and the daemon: the model image carries
 * the hash of its bytes, written by the importer and checked by the board before it runs a model.
 * Streaming API, no heap, no tables beyond the 64 round constants.
 */
#ifndef MICROT_SHA256_H
#define MICROT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32u

typedef struct {
    uint32_t state[8];
    uint64_t total_bytes;
    uint8_t block[64];
    uint32_t block_used;
} sha256_ctx_t;

void sha256_init(sha256_ctx_t *ctx);
void sha256_update(sha256_ctx_t *ctx, const void *data, size_t len);
void sha256_final(sha256_ctx_t *ctx, uint8_t digest[SHA256_DIGEST_BYTES]);

/* One-shot digest of len bytes. */
void sha256(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_BYTES]);

#endif /* MICROT_SHA256_H */
