/*
 * feat_cache.h — the board's cache of labeled samples' pooled features, so each sample passes
 * through the frozen backbone once and the two heads train on floats in RAM.
 *
 * The port gives one static region (its size depends on the board: what SRAM is left after the
 * firmware, the engine's activation arena and the heads' training scratch). It is split into
 * three arrays of `capacity` rows: part features [capacity][part_dim] float, full features
 * [capacity][full_dim] float, labels [capacity] uint8. Rows are appended in arrival order.
 *
 * Past capacity the cache refuses (FEAT_CACHE_ENOSPACE) and keeps what it has: a sample is never
 * overwritten silently, so a training run always uses exactly the samples the gateway was told
 * were accepted. The gateway learns the capacity up front (feat_cache_capacity) and can clear and
 * resend a chosen subset.
 *
 * Samples per board (sample = 4 x (part_dim + full_dim) + 1 bytes; cut after block 8), with the
 * cache taking what personal.c's session region leaves after the heads and their scratch:
 *   H7A3ZI, 1144 KiB region (1400 KiB SRAM - 160 KiB arena - 96 KiB firmware):
 *     ProxylessNAS-w0.3 (24 + 96 floats, 481 B) 2297 samples; MCUNet-5fps (48 + 160, 833 B) 1286.
 *   L4R5ZI, 384 KiB region (640 KiB - the same): ProxylessNAS 693 samples; MCUNet 356.
 * docs/results.md ("Feature cache capacity") lists them as measured by `make results`.
 * C99, no heap, no OS calls.
 */
#ifndef MICROT_FEAT_CACHE_H
#define MICROT_FEAT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "head.h"

#define FEAT_CACHE_MAX_ROWS 65535u  /* head_set_t indexes rows with uint16_t */

typedef enum {
    FEAT_CACHE_OK = 0,
    FEAT_CACHE_EINVAL = -1,     /* NULL, misaligned region, dims out of range, label too big */
    FEAT_CACHE_ENOSPACE = -2,   /* cache full: the sample was not stored */
} feat_cache_status_t;

typedef struct {
    uint16_t part_dim;
    uint16_t full_dim;
    uint32_t capacity;          /* rows that fit in the region */
    uint32_t count;             /* rows stored */
    float *part;                /* [capacity][part_dim] */
    float *full;                /* [capacity][full_dim] */
    uint8_t *labels;            /* [capacity] */
} feat_cache_t;

/* Bytes one sample takes (both features and its label). 0 if a dim is 0 or > HEAD_MAX_DIM. */
size_t feat_cache_sample_bytes(uint32_t part_dim, uint32_t full_dim);

/* Rows a region of region_bytes holds for these dims (capped at FEAT_CACHE_MAX_ROWS). */
uint32_t feat_cache_capacity(size_t region_bytes, uint32_t part_dim, uint32_t full_dim);

/* Lays the cache out over region (4-byte aligned) and empties it. */
feat_cache_status_t feat_cache_init(feat_cache_t *cache, void *region, size_t region_bytes,
                                    uint32_t part_dim, uint32_t full_dim);

/* Appends one sample (copies part [part_dim], full [full_dim]). Returns the row index (>= 0), or
 * FEAT_CACHE_ENOSPACE when full (nothing changed), FEAT_CACHE_EINVAL on a NULL feature. */
int32_t feat_cache_add(feat_cache_t *cache, const float *part, const float *full, uint8_t label);

/* Forgets every sample (the region is reused from row 0). */
void feat_cache_clear(feat_cache_t *cache);

/* Head training sets over the cached part or full features, restricted to `index` rows (count
 * of them; index NULL = every row). */
head_set_t feat_cache_part_set(const feat_cache_t *cache, const uint16_t *index, uint32_t count);
head_set_t feat_cache_full_set(const feat_cache_t *cache, const uint16_t *index, uint32_t count);

#endif /* MICROT_FEAT_CACHE_H */
