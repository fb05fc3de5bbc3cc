/*
 * personal.c — the personalization session over one region (see personal.h).
 *
 * Region layout, each part 8-byte aligned: part head model | full head model | L-BFGS scratch
 * (sized for the larger head; the heads train one after the other) | part feature | full feature
 * | train index [cap] | hold index [cap] | feature cache (the rest). cap is solved so the index
 * lists and the cache rows together fill what is left.
 */
#include "personal.h"

#include <string.h>

#include "cost.h"

static size_t personal_align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

uint32_t personal_capacity(const personal_t *p)
{
    return p != NULL && p->ready ? p->cache.capacity : 0;
}

personal_status_t personal_reset(personal_t *p, void *region, size_t region_bytes,
                                 const engine_t *e, uint32_t classes,
                                 const energy_profile_t *profile)
{
    if (p == NULL || region == NULL || ((uintptr_t)region & 7u) != 0 || e == NULL || !e->open ||
        profile == NULL || classes < 2u || classes > HEAD_MAX_CLASSES)
        return PERSONAL_EINVAL;
    const uint32_t pd = engine_part_dim(e), fd = engine_full_dim(e);
    const uint32_t big = pd > fd ? pd : fd;
    size_t pm = head_model_bytes(pd, classes), fm = head_model_bytes(fd, classes);
    size_t sb = head_train_buffer_bytes(big, classes, PERSONAL_HISTORY);
    size_t row = feat_cache_sample_bytes(pd, fd);
    if (pm == 0 || fm == 0 || sb == 0 || row == 0)
        return PERSONAL_EINVAL;
    size_t fixed = personal_align8(pm) + personal_align8(fm) + personal_align8(sb) +
                   personal_align8(pd * sizeof(float)) + personal_align8(fd * sizeof(float));
    /* cache rows + two uint16 index entries per sample, plus alignment slack for three parts */
    if (region_bytes < fixed + 24u + row + 4u)
        return PERSONAL_ENOSPACE;
    size_t cap = (region_bytes - fixed - 24u) / (row + 2u * sizeof(uint16_t));
    if (cap > FEAT_CACHE_MAX_ROWS)
        cap = FEAT_CACHE_MAX_ROWS;
    if (cap > STAGE_MAX_SAMPLES)
        cap = STAGE_MAX_SAMPLES;    /* stage_split's bound */

    float ratio = p->ready ? p->ratio : 0.5f;
    memset(p, 0, sizeof *p);
    p->ratio = ratio;
    uint8_t *at = (uint8_t *)region;
    p->region = at;
    p->region_bytes = region_bytes;
    p->profile = profile;
    p->model = e->hdr;
    p->model_macs1 = e->hdr->macs_stage1;
    p->model_macs2 = e->hdr->macs_stage2;
    p->engine1_cycles = cost_stage_cycles(e, profile, 1, NULL);
    p->engine2_cycles = cost_stage_cycles(e, profile, 2, NULL);
    p->part_dim = pd;
    p->full_dim = fd;
    p->classes = classes;
    if (head_init(&p->part_head, pd, classes, at, pm) != HEAD_OK)
        return PERSONAL_EINVAL;
    at += personal_align8(pm);
    if (head_init(&p->full_head, fd, classes, at, fm) != HEAD_OK)
        return PERSONAL_EINVAL;
    at += personal_align8(fm);
    p->scratch = (float *)at;
    p->scratch_bytes = sb;
    at += personal_align8(sb);
    p->part_feature = (float *)at;
    at += personal_align8(pd * sizeof(float));
    p->full_feature = (float *)at;
    at += personal_align8(fd * sizeof(float));
    p->train_index = (uint16_t *)at;
    at += personal_align8(cap * sizeof(uint16_t));
    p->hold_index = (uint16_t *)at;
    at += personal_align8(cap * sizeof(uint16_t));
    size_t cache_bytes = (size_t)((uint8_t *)region + region_bytes - at);
    if (cache_bytes > cap * row)
        cache_bytes = cap * row;
    if (feat_cache_init(&p->cache, at, cache_bytes, pd, fd) != FEAT_CACHE_OK)
        return PERSONAL_EINVAL;
    p->ready = true;
    return PERSONAL_OK;
}

/* The engine still runs the model the session was laid out for (same image header, dims and
 * MACs); a new model needs a reset, since cached features and heads belong to the old one. */
static bool personal_model_same(const personal_t *p, const engine_t *e)
{
    return e != NULL && e->open && e->hdr == p->model && engine_part_dim(e) == p->part_dim &&
           engine_full_dim(e) == p->full_dim && e->hdr->macs_stage1 == p->model_macs1 &&
           e->hdr->macs_stage2 == p->model_macs2;
}

int32_t personal_add_sample(personal_t *p, engine_t *e, uint32_t label, uint64_t *cycles)
{
    if (p == NULL || !p->ready)
        return PERSONAL_ESTATE;
    if (label >= p->classes)
        return PERSONAL_EINVAL;
    if (!personal_model_same(p, e))
        return PERSONAL_ESTATE;
    if (p->cache.count >= p->cache.capacity)
        return PERSONAL_ENOSPACE;   /* refuse before spending the extraction */
    if (engine_run_stage1(e, p->part_feature) != ENGINE_OK ||
        engine_run_stage2(e, p->full_feature) != ENGINE_OK)
        return PERSONAL_EENGINE;
    int32_t row = feat_cache_add(&p->cache, p->part_feature, p->full_feature, (uint8_t)label);
    if (row < 0)
        return row == FEAT_CACHE_ENOSPACE ? PERSONAL_ENOSPACE : PERSONAL_EINVAL;
    uint64_t c = p->engine1_cycles + p->engine2_cycles;
    p->extract_cycles += c;
    if (cycles != NULL)
        *cycles = c;
    return row;
}

static float personal_accuracy(const head_t *h, const head_set_t *s)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t row = s->index != NULL ? s->index[i] : i;
        ok += head_predict(h, s->features + (size_t)row * h->dim, NULL, NULL) == s->labels[row];
    }
    return s->count ? (float)ok / (float)s->count : 0.0f;
}

personal_status_t personal_train(personal_t *p, const personal_train_cfg_t *cfg,
                                 personal_train_result_t *out)
{
    if (p == NULL || cfg == NULL || out == NULL)
        return PERSONAL_EINVAL;
    if (!p->ready)
        return PERSONAL_ESTATE;
    if (!(cfg->holdout_fraction > 0.0f && cfg->holdout_fraction < 1.0f) || !(cfg->l2 >= 0.0f))
        return PERSONAL_EINVAL;
    if (stage_split(p->cache.labels, p->cache.count, p->classes, cfg->holdout_fraction, cfg->seed,
                    p->train_index, &p->train_count, p->hold_index, &p->hold_count) != STAGE_OK ||
        p->train_count == 0 || p->hold_count == 0)
        return PERSONAL_EDATA;
    if (p->hold_count > STAGE_MAX_CALIB)
        p->hold_count = STAGE_MAX_CALIB;    /* the rest of the hold-out is simply not used */

    head_train_cfg_t hc = head_default_cfg();
    hc.history = PERSONAL_HISTORY;
    if (cfg->l2 > 0.0f)
        hc.c = 1.0f / cfg->l2;
    if (cfg->max_iter > 0)
        hc.max_iter = (uint16_t)(cfg->max_iter > 65535u ? 65535u : cfg->max_iter);
    head_set_t tp = feat_cache_part_set(&p->cache, p->train_index, p->train_count);
    head_set_t tf = feat_cache_full_set(&p->cache, p->train_index, p->train_count);
    head_set_t hp = feat_cache_part_set(&p->cache, p->hold_index, p->hold_count);
    head_set_t hf = feat_cache_full_set(&p->cache, p->hold_index, p->hold_count);
    head_train_report_t rp, rf;
    p->trained = false;
    if (head_train(&p->part_head, &tp, &hc, p->scratch, p->scratch_bytes, &rp) != HEAD_OK ||
        head_train(&p->full_head, &tf, &hc, p->scratch, p->scratch_bytes, &rf) != HEAD_OK)
        return PERSONAL_EINVAL;

    /* Calibration records, written straight into the stage record (sorted there in place). */
    stage_record_t *records = p->stage.records;
    for (uint32_t i = 0; i < p->hold_count; i++) {
        uint32_t row = p->hold_index[i];
        float conf = 0.0f;
        int a = head_predict(&p->part_head, p->cache.part + (size_t)row * p->part_dim, NULL, &conf);
        int b = head_predict(&p->full_head, p->cache.full + (size_t)row * p->full_dim, NULL, NULL);
        records[i].confidence = conf;
        records[i].part_correct = a == p->cache.labels[row];
        records[i].full_correct = b == p->cache.labels[row];
    }
    /* Per-inference stage costs: the engine's stages (priced at reset) + each head. */
    uint64_t head1 = cost_float_cycles(p->profile, head_predict_macs(&p->part_head),
                                       head_predict_exps(&p->part_head));
    uint64_t head2 = cost_float_cycles(p->profile, head_predict_macs(&p->full_head),
                                       head_predict_exps(&p->full_head));
    uint64_t s1 = p->engine1_cycles + head1, s2 = p->engine2_cycles + head2;
    if (stage_calibrate(&p->stage, records, p->hold_count, s1, s2, p->ratio) != STAGE_OK)
        return PERSONAL_EINVAL;
    p->trained = true;

    stage_point_t pt;
    stage_point(&p->stage, p->profile, p->ratio, &pt);
    uint64_t calib = (uint64_t)p->hold_count * (head1 + head2);
    uint64_t train = cost_float_cycles(p->profile, rp.float_macs, rp.float_exps) +
                     cost_float_cycles(p->profile, rf.float_macs, rf.float_exps);
    out->samples = p->train_count;
    out->holdout = p->hold_count;
    out->part.train_accuracy = personal_accuracy(&p->part_head, &tp);
    out->part.holdout_accuracy = personal_accuracy(&p->part_head, &hp);
    out->part.iterations = rp.iterations;
    out->part.loss = rp.loss;
    out->full.train_accuracy = personal_accuracy(&p->full_head, &tf);
    out->full.holdout_accuracy = personal_accuracy(&p->full_head, &hf);
    out->full.iterations = rf.iterations;
    out->full.loss = rf.loss;
    out->staged_holdout_accuracy = pt.accuracy;
    out->threshold = p->stage.threshold;
    out->extract_cycles = p->extract_cycles;
    out->train_cycles = train;
    out->calibrate_cycles = calib;
    out->extract_energy_nj = energy_nj(p->profile, (double)p->extract_cycles);
    out->train_energy_nj = energy_nj(p->profile, (double)train);
    out->calibrate_energy_nj = energy_nj(p->profile, (double)calib);
    size_t used = (size_t)((const uint8_t *)p->cache.part - p->region) +
                  (size_t)p->cache.count * feat_cache_sample_bytes(p->part_dim, p->full_dim);
    out->peak_ram_bytes = (uint32_t)(p->model->arena_bytes + used + sizeof(stage_t));
    out->part_report = rp;
    out->full_report = rf;
    return PERSONAL_OK;
}

personal_status_t personal_set_ratio(personal_t *p, float ratio, float *threshold)
{
    if (p == NULL || !(ratio >= 0.0f && ratio <= 1.0f))
        return PERSONAL_EINVAL;
    p->ratio = ratio;
    if (p->trained && stage_set_ratio(&p->stage, ratio) != STAGE_OK)
        return PERSONAL_EINVAL;
    if (threshold != NULL)
        *threshold = p->trained ? p->stage.threshold : stage_threshold_for(NULL, ratio);
    return PERSONAL_OK;
}

personal_status_t personal_tradeoff(const personal_t *p, stage_point_t curve[STAGE_CURVE_POINTS])
{
    if (p == NULL || curve == NULL)
        return PERSONAL_EINVAL;
    if (!p->trained)
        return PERSONAL_ESTATE;
    return stage_curve(&p->stage, p->profile, curve) == STAGE_OK ? PERSONAL_OK : PERSONAL_EINVAL;
}

personal_status_t personal_infer(personal_t *p, engine_t *e, infer_result_t *out)
{
    if (p == NULL || out == NULL)
        return PERSONAL_EINVAL;
    if (!p->trained || !personal_model_same(p, e))
        return PERSONAL_ESTATE;
    infer_ctx_t ctx = {
        .engine = e, .part_head = &p->part_head, .full_head = &p->full_head, .stage = &p->stage,
        .profile = p->profile, .part_feature = p->part_feature, .full_feature = p->full_feature,
    };
    infer_status_t st = infer_run(&ctx, out);
    return st == INFER_OK ? PERSONAL_OK : st == INFER_EENGINE ? PERSONAL_EENGINE : PERSONAL_EINVAL;
}
