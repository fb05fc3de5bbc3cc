/*
 * model_store.h — the board's two model slots (A/B) in flash: a pushed model is written into the
 * inactive slot while the active one keeps serving, verified (SHA-256 of the payload, then the
 * engine's own image checks and the arena it needs), and only then made active. A push that is
 * cut (link lost, board reset) resumes where flash says it stopped.
 *
 * Slot layout (each slot is one hal_flash region of size S, erase unit E, program granule G):
 *   [0, S - E)     the model image, programmed in order, granule by granule
 *   [S - E, S)     the slot's trailer sector, written record by record, never rewritten in place:
 *     +0           BEGIN record: the payload's size and SHA-256 (written when a push starts)
 *     +64 + k*G    ERASED mark of image sector k (one granule, programmed after the erase)
 *     +E - 64      ACTIVE record: sequence number, size and SHA-256 (written after verification)
 * Each record carries a CRC-32, so a record cut by a reset reads as absent.
 *
 * Resume: the resume point is recomputed by scanning flash rather than kept in a progress record.
 * Sectors are erased lazily, in order, just before the first write into them, and each erase is
 * marked; within the erased prefix the image ends at the last granule that is not all 0xFF.
 * Granules of 0xFF data are never programmed (they already read as written), so the scan never
 * overshoots: it may undershoot over trailing 0xFF data, which the sender then resends and the
 * board skips again. A progress counter in flash would cost one extra program per chunk and
 * could itself be cut mid-write; the scan costs nothing while writing, reads at most one sector
 * at resume, and is exactly "bytes durably written". Lazy erase spreads the erase time (about
 * 20 ms per 4 KiB page on the L4R5) over the push instead of stalling the link at its start.
 *
 * Activation: the ACTIVE record with the highest sequence number whose image still verifies wins
 * at boot; writing it is the single step that switches models, so a reset at any point leaves
 * either the old or the new model active, never a half-written one.
 *
 * C99, no heap, no OS calls: state is static, flash goes through hal.h.
 */
#ifndef MICROT_MODEL_STORE_H
#define MICROT_MODEL_STORE_H

#include <stdbool.h>
#include <stdint.h>

#define MODEL_STORE_HASH_BYTES 32u

typedef enum {
    MODEL_STORE_OK = 0,
    MODEL_STORE_EINVAL = -1,    /* bad request: size 0 or above the slot, chunk out of order */
    MODEL_STORE_EFLASH = -2,    /* the flash controller refused an erase or program */
    MODEL_STORE_EVERIFY = -3,   /* hash mismatch or not a valid model image */
    MODEL_STORE_ENOSPACE = -4,  /* the model needs more arena than the board has */
    MODEL_STORE_ESTATE = -5,    /* no transfer in progress, or incomplete at its end */
    MODEL_STORE_EUNAVAIL = -6,  /* the port's flash layout cannot hold two slots */
} model_store_status_t;

/* Reads both slots and selects the active model (verifying its image). Call once at boot; calling
 * it again is what a reset does (tests use that). */
void model_store_init(void);

/* False when the port's flash regions cannot hold a slot with its trailer. */
bool model_store_available(void);

/* The active, verified model image (4-byte aligned, in flash), or NULL when none. */
const uint8_t *model_store_active(uint32_t *image_bytes);

/* SHA-256 of the active model's payload (NULL when none); the slot index (0 = A, 1 = B) or -1. */
const uint8_t *model_store_active_sha256(void);
int model_store_active_slot(void);

/* Largest image a slot takes. */
uint32_t model_store_capacity_bytes(void);

/* Starts or resumes a push of total_bytes with the given payload hash. *offset receives the bytes
 * already durably written (0 for a new push; total_bytes when that model is already active). */
model_store_status_t model_store_begin(uint32_t total_bytes, const uint8_t sha256[MODEL_STORE_HASH_BYTES],
                                       uint32_t *offset);

/* Writes one chunk. Chunks come in order; a chunk wholly before the write position is a
 * duplicate and ignored, a chunk beyond it (a gap) fails the transfer. */
model_store_status_t model_store_chunk(uint32_t offset, const uint8_t *data, uint32_t len);

/* Ends the push: flushes, verifies the hash, the image (engine_check_image) and that its arena
 * fits arena_capacity_bytes, then activates it. A failure leaves the old model active and
 * forgets the push (the next begin starts from 0). */
model_store_status_t model_store_end(uint32_t arena_capacity_bytes);

/* True while a push is open (between begin and end). */
bool model_store_transfer_open(void);

/* A short constant sentence for the last failure (for Error.message). */
const char *model_store_last_error(void);

#endif /* MICROT_MODEL_STORE_H */
