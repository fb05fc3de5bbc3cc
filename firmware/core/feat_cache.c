/*
 * feat_cache.c — fixed-capacity, append-only feature store over a port-given region (see
 * feat_cache.h for the policy past capacity).
 */
#include "feat_cache.h"

#include <string.h>

size_t feat_cache_sample_bytes(uint32_t part_dim, uint32_t full_dim)
{
    if (part_dim == 0 || full_dim == 0 || part_dim > HEAD_MAX_DIM || full_dim > HEAD_MAX_DIM)
        return 0;
    return (size_t)(part_dim + full_dim) * sizeof(float) + 1u;
}

uint32_t feat_cache_capacity(size_t region_bytes, uint32_t part_dim, uint32_t full_dim)
{
    size_t per = feat_cache_sample_bytes(part_dim, full_dim);
    if (per == 0)
        return 0;
    /* The label array sits last and needs no alignment; the float arrays start aligned. */
    size_t rows = region_bytes / per;
    return rows > FEAT_CACHE_MAX_ROWS ? FEAT_CACHE_MAX_ROWS : (uint32_t)rows;
}

feat_cache_status_t feat_cache_init(feat_cache_t *cache, void *region, size_t region_bytes,
                                    uint32_t part_dim, uint32_t full_dim)
{
    if (cache == NULL || region == NULL || ((uintptr_t)region & 3u) != 0 ||
        feat_cache_sample_bytes(part_dim, full_dim) == 0)
        return FEAT_CACHE_EINVAL;
    uint32_t cap = feat_cache_capacity(region_bytes, part_dim, full_dim);
    cache->part_dim = (uint16_t)part_dim;
    cache->full_dim = (uint16_t)full_dim;
    cache->capacity = cap;
    cache->count = 0;
    cache->part = (float *)region;
    cache->full = cache->part + (size_t)cap * part_dim;
    cache->labels = (uint8_t *)(cache->full + (size_t)cap * full_dim);
    return FEAT_CACHE_OK;
}

int32_t feat_cache_add(feat_cache_t *cache, const float *part, const float *full, uint8_t label)
{
    if (cache == NULL || part == NULL || full == NULL || cache->part == NULL)
        return FEAT_CACHE_EINVAL;
    if (cache->count >= cache->capacity)
        return FEAT_CACHE_ENOSPACE;
    uint32_t row = cache->count;
    memcpy(cache->part + (size_t)row * cache->part_dim, part, cache->part_dim * sizeof(float));
    memcpy(cache->full + (size_t)row * cache->full_dim, full, cache->full_dim * sizeof(float));
    cache->labels[row] = label;
    cache->count = row + 1u;
    return (int32_t)row;
}

void feat_cache_clear(feat_cache_t *cache)
{
    if (cache != NULL)
        cache->count = 0;
}

static head_set_t feat_cache_set(const feat_cache_t *cache, const float *base,
                                 const uint16_t *index, uint32_t count)
{
    head_set_t set = {
        .features = base,
        .labels = cache->labels,
        .index = index,
        .count = index != NULL ? count : cache->count,
    };
    return set;
}

head_set_t feat_cache_part_set(const feat_cache_t *cache, const uint16_t *index, uint32_t count)
{
    return feat_cache_set(cache, cache->part, index, count);
}

head_set_t feat_cache_full_set(const feat_cache_t *cache, const uint16_t *index, uint32_t count)
{
    return feat_cache_set(cache, cache->full, index, count);
}
