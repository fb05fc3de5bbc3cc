/*
 * stage.c — hold-out split, calibration records, threshold from the ratio, trade-off curve and
 * its inverses (definitions in stage.h).
 */
#include "stage.h"

#include <math.h>
#include <string.h>

/* xorshift32 (Marsaglia): tiny, deterministic everywhere, good enough to shuffle a split. */
static uint32_t stage_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

stage_status_t stage_split(const uint8_t *labels, uint32_t n, uint32_t classes,
                           float holdout_fraction, uint32_t seed, uint16_t *train_index,
                           uint32_t *train_count, uint16_t *hold_index, uint32_t *hold_count)
{
    if (labels == NULL || train_index == NULL || hold_index == NULL || train_count == NULL ||
        hold_count == NULL || n == 0 || n > STAGE_MAX_SAMPLES || classes == 0 ||
        classes > STAGE_MAX_CLASSES || !(holdout_fraction >= 0.0f && holdout_fraction <= 1.0f))
        return STAGE_EINVAL;
    uint32_t per_class[STAGE_MAX_CLASSES] = {0}, target[STAGE_MAX_CLASSES];
    uint8_t held[STAGE_MAX_SAMPLES / 8u];
    for (uint32_t i = 0; i < n; i++) {
        if (labels[i] >= classes)
            return STAGE_EINVAL;
        per_class[labels[i]]++;
    }
    for (uint32_t c = 0; c < classes; c++) {
        target[c] = (uint32_t)floorf(holdout_fraction * (float)per_class[c] + 0.5f);
        per_class[c] = 0;   /* reused below as "held so far" */
    }
    /* Fisher-Yates permutation of 0..n-1 in train_index (scratch until the final pass). The seed
     * is mixed (splitmix32 step) so neighbouring seeds give unrelated shuffles; 0 is avoided. */
    uint32_t state = seed * 0x9E3779B9u + 0x7F4A7C15u;
    state ^= state >> 16;
    if (state == 0)
        state = 0x6D2B79F5u;
    for (uint32_t i = 0; i < n; i++)
        train_index[i] = (uint16_t)i;
    for (uint32_t i = n - 1u; i > 0; i--) {
        uint32_t j = stage_rand(&state) % (i + 1u);
        uint16_t t = train_index[i];
        train_index[i] = train_index[j];
        train_index[j] = t;
    }
    memset(held, 0, (n + 7u) / 8u);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t row = train_index[i];
        uint8_t c = labels[row];
        if (per_class[c] < target[c]) {
            per_class[c]++;
            held[row / 8u] |= (uint8_t)(1u << (row % 8u));
        }
    }
    uint32_t nt = 0, nh = 0;
    for (uint32_t row = 0; row < n; row++) {
        if (held[row / 8u] & (1u << (row % 8u)))
            hold_index[nh++] = (uint16_t)row;
        else
            train_index[nt++] = (uint16_t)row;
    }
    *train_count = nt;
    *hold_count = nh;
    return STAGE_OK;
}

/* Heap sort by confidence: O(n log n) with no extra memory and a bounded worst case. */
static void stage_sift(stage_record_t *r, uint32_t root, uint32_t end)
{
    for (;;) {
        uint32_t child = 2u * root + 1u;
        if (child >= end)
            return;
        if (child + 1u < end && r[child + 1u].confidence > r[child].confidence)
            child++;
        if (!(r[child].confidence > r[root].confidence))
            return;
        stage_record_t t = r[root];
        r[root] = r[child];
        r[child] = t;
        root = child;
    }
}

static void stage_sort(stage_record_t *r, uint32_t n)
{
    for (uint32_t i = n / 2u; i-- > 0;)
        stage_sift(r, i, n);
    for (uint32_t end = n; end-- > 1u;) {
        stage_record_t t = r[0];
        r[0] = r[end];
        r[end] = t;
        stage_sift(r, 0, end);
    }
}

static bool stage_ratio_ok(float ratio)
{
    return ratio >= 0.0f && ratio <= 1.0f;
}

stage_status_t stage_calibrate(stage_t *stage, const stage_record_t *records, uint32_t count,
                               uint64_t stage1_cycles, uint64_t stage2_cycles, float ratio)
{
    if (stage == NULL || records == NULL || count == 0 || !stage_ratio_ok(ratio))
        return STAGE_EINVAL;
    if (count > STAGE_MAX_CALIB)
        return STAGE_ENOSPACE;
    for (uint32_t i = 0; i < count; i++)
        if (!(records[i].confidence >= 0.0f && records[i].confidence <= 1.0f))
            return STAGE_EINVAL;
    if (records != stage->records)     /* the caller may have filled the record in place */
        memcpy(stage->records, records, count * sizeof(stage_record_t));
    stage->count = count;
    stage_sort(stage->records, count);
    stage->stage1_cycles = stage1_cycles;
    stage->stage2_cycles = stage2_cycles;
    stage->ratio = ratio;
    stage->threshold = stage_threshold_for(stage, ratio);
    return STAGE_OK;
}

/* k = floor(r n + 1/2), the number of held-out samples meant to exit. */
static uint32_t stage_exits_for(uint32_t n, float ratio)
{
    double k = floor((double)ratio * n + 0.5);
    return k <= 0.0 ? 0u : k >= n ? n : (uint32_t)k;
}

static float stage_threshold_k(const stage_t *stage, uint32_t k)
{
    if (k == 0)
        return INFINITY;
    if (k >= stage->count)
        return 0.0f;
    return stage->records[stage->count - k].confidence;
}

float stage_threshold_for(const stage_t *stage, float ratio)
{
    if (stage == NULL || stage->count == 0)
        return INFINITY;
    return stage_threshold_k(stage, stage_exits_for(stage->count, ratio));
}

stage_status_t stage_set_ratio(stage_t *stage, float ratio)
{
    if (stage == NULL || !stage_ratio_ok(ratio))
        return STAGE_EINVAL;
    if (stage->count == 0)
        return STAGE_ESTATE;
    stage->ratio = ratio;
    stage->threshold = stage_threshold_for(stage, ratio);
    return STAGE_OK;
}

bool stage_exits(const stage_t *stage, float part_confidence)
{
    return stage != NULL && part_confidence >= stage->threshold;
}

/* Held-out figures at a given threshold. */
static void stage_eval_threshold(const stage_t *stage, const energy_profile_t *profile,
                                 float threshold, stage_point_t *pt)
{
    uint32_t exits = 0, correct = 0;
    for (uint32_t i = 0; i < stage->count; i++) {
        const stage_record_t *r = &stage->records[i];
        if (r->confidence >= threshold) {
            exits++;
            correct += r->part_correct ? 1u : 0u;
        } else {
            correct += r->full_correct ? 1u : 0u;
        }
    }
    pt->threshold = threshold;
    pt->exit_fraction = (float)exits / (float)stage->count;
    pt->accuracy = (float)correct / (float)stage->count;
    pt->cycles = (double)stage->stage1_cycles +
                 (1.0 - (double)exits / stage->count) * (double)stage->stage2_cycles;
    pt->energy_nj = profile != NULL ? energy_nj(profile, pt->cycles) : 0.0;
}

stage_status_t stage_point(const stage_t *stage, const energy_profile_t *profile, float ratio,
                           stage_point_t *point)
{
    if (stage == NULL || point == NULL || !stage_ratio_ok(ratio))
        return STAGE_EINVAL;
    if (stage->count == 0)
        return STAGE_ESTATE;
    stage_eval_threshold(stage, profile, stage_threshold_for(stage, ratio), point);
    point->ratio = ratio;
    return STAGE_OK;
}

stage_status_t stage_curve(const stage_t *stage, const energy_profile_t *profile,
                           stage_point_t curve[STAGE_CURVE_POINTS])
{
    if (curve == NULL)
        return STAGE_EINVAL;
    for (uint32_t i = 0; i < STAGE_CURVE_POINTS; i++) {
        stage_status_t st = stage_point(stage, profile, (float)i / (STAGE_CURVE_POINTS - 1u),
                                        &curve[i]);
        if (st != STAGE_OK)
            return st;
    }
    return STAGE_OK;
}

stage_status_t stage_ratio_for_energy(const stage_t *stage, const energy_profile_t *profile,
                                      double budget_nj, float *ratio)
{
    if (stage == NULL || profile == NULL || ratio == NULL)
        return STAGE_EINVAL;
    if (stage->count == 0)
        return STAGE_ESTATE;
    for (uint32_t k = 0; k <= stage->count; k++) {
        stage_point_t pt;
        stage_eval_threshold(stage, profile, stage_threshold_k(stage, k), &pt);
        if (pt.energy_nj <= budget_nj) {
            *ratio = (float)k / (float)stage->count;
            return STAGE_OK;
        }
    }
    return STAGE_EUNREACHABLE;
}

stage_status_t stage_ratio_for_accuracy(const stage_t *stage, float min_accuracy, float *ratio)
{
    if (stage == NULL || ratio == NULL)
        return STAGE_EINVAL;
    if (stage->count == 0)
        return STAGE_ESTATE;
    for (uint32_t k = stage->count + 1u; k-- > 0;) {
        stage_point_t pt;
        stage_eval_threshold(stage, NULL, stage_threshold_k(stage, k), &pt);
        if (pt.accuracy >= min_accuracy) {
            *ratio = (float)k / (float)stage->count;
            return STAGE_OK;
        }
    }
    return STAGE_EUNREACHABLE;
}
