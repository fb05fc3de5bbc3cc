/*
 * personalize.c — samples, head training, stage decision and staged inference on the board (see
 * personalize.h for the request flow, the memory layout and where cycles come from).
 */
#include "personalize.h"

#include <math.h>
#include <string.h>

#include "core_rpc.h"
#include "cost.h"
#include "energy.h"
#include "feat_cache.h"
#include "hal.h"
#include "model_store.h"
#include "sha256.h"

typedef struct {
    bool open;
    uint32_t kind;               /* microt_TransferKind */
    uint32_t total;
    uint32_t received;
    int32_t label;
    bool check_hash;
    uint8_t sha[SHA256_DIGEST_BYTES];
    sha256_ctx_t hash;
    bool failed;
    const char *err;
} pz_transfer_t;

typedef struct {
    bool has_model;
    engine_t engine;
    uint32_t arena_needed;
    uint32_t part_dim, full_dim;

    /* samples (after ResetSamples) */
    bool samples_ready;
    uint32_t classes;
    feat_cache_t cache;
    uint16_t *train_index, *hold_index;
    void *scratch;
    size_t scratch_bytes;
    size_t pool_used_fixed;      /* heads + scratch + lists: the pool before the cache */
    uint64_t extract_cycles;     /* every cached sample's stage 1 + stage 2 */

    /* heads and calibration */
    head_t part_head, full_head;
    bool trained;
    float ratio;
    bool ratio_set;              /* set by SetRatio since boot */

    pz_transfer_t xfer;
} pz_state_t;

static pz_state_t pz;
static uint8_t pz_arena[PERSONALIZE_ARENA_BYTES] __attribute__((aligned(8)));
static uint8_t pz_pool[PERSONALIZE_POOL_BYTES] __attribute__((aligned(8)));
static stage_t pz_stage;
static stage_record_t pz_records[STAGE_MAX_CALIB];
/* One sample's pooled features (static: 16 KiB is too much for a Cortex-M stack). */
static float pz_part_feat[HEAD_MAX_DIM], pz_full_feat[HEAD_MAX_DIM];

static size_t pz_align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

static const energy_profile_t *pz_profile(void)
{
    return energy_profile((energy_board_t)hal_board()->board_kind);
}

static bool pz_modeled(void)
{
    return (hal_board()->features & HAL_FEATURE_MODELED_CYCLES) != 0;
}

static uint64_t pz_energy_nj(uint64_t cycles)
{
    double nj = energy_nj(pz_profile(), (double)cycles);
    return (uint64_t)(nj + 0.5);
}

/* Cycles of one engine stage just run: the cost model on the simulator, DWT on a board. */
static uint64_t pz_stage_cycles(int stage)
{
    uint64_t macs = 0, cycles = 0;
    if (pz_modeled())
        return cost_stage_cycles(&pz.engine, pz_profile(), stage, NULL);
    engine_stage_cost(&pz.engine, stage, &macs, &cycles);
    return cycles;
}

/* Cycles of float head work: modeled from its counts on the simulator, measured on a board. */
static uint64_t pz_float_cycles(uint64_t macs, uint64_t exps, uint64_t measured)
{
    return pz_modeled() ? cost_float_cycles(pz_profile(), macs, exps) : measured;
}

static float pz_wire_threshold(float t)
{
    return isinf(t) || t > PERSONALIZE_THRESHOLD_NEVER ? PERSONALIZE_THRESHOLD_NEVER : t;
}

static void pz_forget_samples(void)
{
    pz.samples_ready = false;
    pz.trained = false;
    pz.classes = 0;
    pz.extract_cycles = 0;
    memset(&pz.cache, 0, sizeof(pz.cache));
    memset(&pz_stage, 0, sizeof(pz_stage));
}

void personalize_init(void)
{
    const uint8_t *image;
    uint32_t image_bytes = 0;

    /* The ratio is the user's setting: it survives a model change (not a reset: RAM only). */
    float ratio = pz.ratio_set ? pz.ratio : PERSONALIZE_DEFAULT_RATIO;
    bool ratio_set = pz.ratio_set;

    memset(&pz, 0, sizeof(pz));
    memset(&pz_stage, 0, sizeof(pz_stage));
    pz.ratio = ratio;
    pz.ratio_set = ratio_set;
    image = model_store_active(&image_bytes);
    if (image == NULL)
        return;
    if (engine_check_image(image, image_bytes, &pz.arena_needed) != ENGINE_OK ||
        engine_open(&pz.engine, image, image_bytes, pz_arena, sizeof(pz_arena)) != ENGINE_OK)
        return; /* model_store verified it; only a port with a smaller arena gets here */
    pz.part_dim = engine_part_dim(&pz.engine);
    pz.full_dim = engine_full_dim(&pz.engine);
    pz.has_model = true;
}

uint32_t personalize_arena_capacity(void)
{
    return (uint32_t)sizeof(pz_arena);
}

bool personalize_has_model(void)
{
    return pz.has_model;
}

bool personalize_input_shape(uint32_t *height, uint32_t *width, uint32_t *channels)
{
    const mt_tensor_t *t;
    if (!pz.has_model)
        return false;
    t = &pz.engine.tensors[pz.engine.hdr->input_tensor];
    *height = (uint32_t)t->shape[1];
    *width = (uint32_t)t->shape[2];
    *channels = (uint32_t)t->shape[3];
    return true;
}

void personalize_fill_model_status(microt_ModelStatus *status)
{
    uint32_t input_bytes = 0;
    if (!pz.has_model)
        return;
    status->part_dim = pz.part_dim;
    status->full_dim = pz.full_dim;
    status->arena_bytes = pz.arena_needed;
    (void)engine_input(&pz.engine, &input_bytes);
    status->input_bytes = input_bytes;
}

engine_t *personalize_engine(void)
{
    return pz.has_model ? &pz.engine : NULL;
}

const head_t *personalize_head(int which)
{
    if (!pz.trained)
        return NULL;
    return which == 0 ? &pz.part_head : &pz.full_head;
}

const stage_t *personalize_stage(void)
{
    return pz.trained ? &pz_stage : NULL;
}

/* Bytes of the pool this board may use with the bound model. */
static size_t pz_pool_budget(void)
{
    uint64_t sram = hal_board()->sram_bytes;
    uint64_t taken = (uint64_t)PERSONALIZE_RESERVED_BYTES + pz.arena_needed;
    if (sram <= taken)
        return 0;
    return sram - taken < sizeof(pz_pool) ? (size_t)(sram - taken) : sizeof(pz_pool);
}

void personalize_reset_samples(const microt_ResetSamples *req, microt_Message *reply)
{
    uint32_t k = req->num_classes;
    size_t budget, used, per_sample, head_p, head_f, rest, lists;
    uint32_t cap;
    head_train_cfg_t cfg = head_default_cfg();

    pz_forget_samples();
    pz.xfer.open = false;
    if (!pz.has_model) {
        core_reply_error(reply, microt_ErrorCode_ERR_NO_MODEL, "no model is active");
        return;
    }
    if (k < 2 || k > HEAD_MAX_CLASSES || k > STAGE_MAX_CLASSES) {
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "num_classes must be 2..64");
        return;
    }
    head_p = head_model_bytes(pz.part_dim, k);
    head_f = head_model_bytes(pz.full_dim, k);
    pz.scratch_bytes = head_train_buffer_bytes(pz.part_dim > pz.full_dim ? pz.part_dim : pz.full_dim,
                                               k, cfg.history);
    per_sample = feat_cache_sample_bytes(pz.part_dim, pz.full_dim);
    if (head_p == 0 || head_f == 0 || pz.scratch_bytes == 0 || per_sample == 0) {
        core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE, "model features too large for the heads");
        return;
    }
    budget = pz_pool_budget();
    used = pz_align8(head_p) + pz_align8(head_f) + pz_align8(pz.scratch_bytes);
    if (used + 64u > budget) {
        core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE, "no RAM left for the heads' training");
        return;
    }
    /* The rest holds the cache and, per cached row, two uint16 split indexes. */
    rest = budget - used;
    cap = (uint32_t)(rest / (per_sample + 2u * sizeof(uint16_t)));
    if (cap > FEAT_CACHE_MAX_ROWS)
        cap = FEAT_CACHE_MAX_ROWS;
    if (cap > STAGE_MAX_SAMPLES)
        cap = STAGE_MAX_SAMPLES;
    lists = pz_align8((size_t)cap * sizeof(uint16_t));
    if (head_init(&pz.part_head, pz.part_dim, k, pz_pool, head_p) != HEAD_OK ||
        head_init(&pz.full_head, pz.full_dim, k, pz_pool + pz_align8(head_p), head_f) != HEAD_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "head layout failed");
        return;
    }
    pz.scratch = pz_pool + pz_align8(head_p) + pz_align8(head_f);
    pz.train_index = (uint16_t *)(pz_pool + used);
    pz.hold_index = (uint16_t *)(pz_pool + used + lists);
    pz.pool_used_fixed = used + 2u * lists;
    if (cap == 0 || pz.pool_used_fixed >= budget ||
        feat_cache_init(&pz.cache, pz_pool + pz.pool_used_fixed, (size_t)cap * per_sample,
                        pz.part_dim, pz.full_dim) != FEAT_CACHE_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE, "no RAM left for the feature cache");
        return;
    }
    pz.classes = k;
    pz.samples_ready = true;
    reply->which_body = microt_Message_sample_result_tag;
    reply->body.sample_result.index = 0;
    reply->body.sample_result.cached = 0;
    reply->body.sample_result.capacity = pz.cache.capacity;
}

bool personalize_transfer_begin(const microt_TransferBegin *req, microt_Message *reply)
{
    uint32_t input_bytes = 0;
    int8_t *input;

    pz.xfer.open = false;
    if (!pz.has_model) {
        core_reply_error(reply, microt_ErrorCode_ERR_NO_MODEL, "no model is active");
        return false;
    }
    if (req->kind == microt_TransferKind_TRANSFER_SAMPLE) {
        if (!pz.samples_ready) {
            core_reply_error(reply, microt_ErrorCode_ERR_STATE, "send ResetSamples first");
            return false;
        }
        if (req->label < 0 || (uint32_t)req->label >= pz.classes) {
            core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "sample label outside 0..num_classes-1");
            return false;
        }
        if (pz.cache.count >= pz.cache.capacity) {
            core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE, "feature cache full");
            return false;
        }
    } else if (!pz.trained) {
        core_reply_error(reply, microt_ErrorCode_ERR_NOT_TRAINED, "heads not trained yet");
        return false;
    }
    input = engine_input(&pz.engine, &input_bytes);
    if (input == NULL || req->total_bytes != input_bytes) {
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST,
                         "total_bytes must equal the model's int8 input tensor size");
        return false;
    }
    if (req->sha256.size != 0 && req->sha256.size != SHA256_DIGEST_BYTES) {
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "sha256 must be 32 bytes or empty");
        return false;
    }
    memset(&pz.xfer, 0, sizeof(pz.xfer));
    pz.xfer.kind = req->kind;
    pz.xfer.total = req->total_bytes;
    pz.xfer.label = req->label;
    pz.xfer.check_hash = req->sha256.size == SHA256_DIGEST_BYTES;
    memcpy(pz.xfer.sha, req->sha256.bytes, req->sha256.size);
    sha256_init(&pz.xfer.hash);
    pz.xfer.open = true;
    reply->which_body = microt_Message_transfer_status_tag;
    reply->body.transfer_status.offset = 0; /* RAM only: a cut sample restarts from 0 */
    reply->body.transfer_status.total_bytes = req->total_bytes;
    return true;
}

void personalize_transfer_chunk(const microt_TransferChunk *req)
{
    uint32_t input_bytes = 0;
    int8_t *input;
    if (!pz.xfer.open || pz.xfer.failed)
        return;
    if (req->offset != pz.xfer.received) {
        if (req->offset + req->data.size <= pz.xfer.received)
            return; /* a duplicate */
        pz.xfer.failed = true;
        pz.xfer.err = "chunk out of order";
        return;
    }
    if (req->data.size > pz.xfer.total - pz.xfer.received) {
        pz.xfer.failed = true;
        pz.xfer.err = "chunk past the announced size";
        return;
    }
    /* engine_input() marks stage 1 stale, which is what writing the input means. */
    input = engine_input(&pz.engine, &input_bytes);
    memcpy((uint8_t *)input + req->offset, req->data.bytes, req->data.size);
    sha256_update(&pz.xfer.hash, req->data.bytes, req->data.size);
    pz.xfer.received += req->data.size;
}

/* Stage 1 and stage 2 of a sample into the cache. */
static void pz_end_sample(microt_Message *reply)
{
    float *part = pz_part_feat, *full = pz_full_feat;
    uint64_t t0 = hal_cycles(), cycles;
    engine_status_t est;
    int32_t row;

    /* Long steps kick the watchdog between them (a stage is tens of ms on the boards). */
    hal_watchdog_kick();
    est = engine_run_stage1(&pz.engine, part);
    hal_watchdog_kick();
    if (est == ENGINE_OK)
        est = engine_run_stage2(&pz.engine, full);
    if (est != ENGINE_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "engine failed on the sample");
        return;
    }
    cycles = pz_modeled() ? pz_stage_cycles(1) + pz_stage_cycles(2) : hal_cycles() - t0;
    row = feat_cache_add(&pz.cache, part, full, (uint8_t)pz.xfer.label);
    if (row == FEAT_CACHE_ENOSPACE) {
        core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE, "feature cache full");
        return;
    }
    if (row < 0) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "feature cache refused the sample");
        return;
    }
    pz.extract_cycles += cycles;
    pz.trained = false; /* new data: the heads no longer describe the cache */
    reply->which_body = microt_Message_sample_result_tag;
    reply->body.sample_result.index = (uint32_t)row;
    reply->body.sample_result.cached = pz.cache.count;
    reply->body.sample_result.capacity = pz.cache.capacity;
    reply->body.sample_result.cycles = cycles;
}

/* MicroT's staged inference: stage 1 + part head, exit when confident, else resume stage 2. */
static void pz_end_image(microt_Message *reply)
{
    float *part = pz_part_feat, *full = pz_full_feat;
    float conf = 0.0f;
    uint64_t t0 = hal_cycles(), cycles;
    uint32_t stage = 1;
    int cls;
    core_counters_t *ctr = core_counters();

    if (engine_run_stage1(&pz.engine, part) != ENGINE_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "engine failed in stage 1");
        return;
    }
    cls = head_predict(&pz.part_head, part, NULL, &conf);
    cycles = pz_modeled() ? pz_stage_cycles(1) + cost_float_cycles(pz_profile(),
                                                                   head_predict_macs(&pz.part_head),
                                                                   head_predict_exps(&pz.part_head))
                          : 0u;
    if (cls >= 0 && !stage_exits(&pz_stage, conf)) {
        stage = 2;
        if (engine_run_stage2(&pz.engine, full) != ENGINE_OK) {
            core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "engine failed in stage 2");
            return;
        }
        cls = head_predict(&pz.full_head, full, NULL, &conf);
        if (pz_modeled())
            cycles += pz_stage_cycles(2) + cost_float_cycles(pz_profile(),
                                                             head_predict_macs(&pz.full_head),
                                                             head_predict_exps(&pz.full_head));
    }
    if (cls < 0) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "head prediction failed");
        return;
    }
    if (!pz_modeled())
        cycles = hal_cycles() - t0;
    reply->which_body = microt_Message_inference_tag;
    reply->body.inference.cls = cls;
    reply->body.inference.confidence = conf;
    reply->body.inference.stage = stage;
    reply->body.inference.cycles = cycles;
    reply->body.inference.energy_nj = pz_energy_nj(cycles);
    ctr->inferences++;
    if (stage == 1)
        ctr->stage1_exits++;
    ctr->inference_cycles += cycles;
    ctr->inference_energy_nj += reply->body.inference.energy_nj;
}

void personalize_transfer_end(microt_Message *reply)
{
    uint8_t digest[SHA256_DIGEST_BYTES];
    if (!pz.xfer.open) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE, "no transfer in progress");
        return;
    }
    pz.xfer.open = false;
    if (pz.xfer.failed) {
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, pz.xfer.err);
        return;
    }
    if (pz.xfer.received != pz.xfer.total) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE, "transfer incomplete: send it again");
        return;
    }
    sha256_final(&pz.xfer.hash, digest);
    if (pz.xfer.check_hash && memcmp(digest, pz.xfer.sha, sizeof(digest)) != 0) {
        core_reply_error(reply, microt_ErrorCode_ERR_VERIFY, "input hash mismatch");
        return;
    }
    if (pz.xfer.kind == microt_TransferKind_TRANSFER_SAMPLE)
        pz_end_sample(reply);
    else
        pz_end_image(reply);
}

/* Accuracy of a head on a set of cached rows (features of the head's kind). */
static float pz_accuracy(const head_t *h, const head_set_t *set)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < set->count; i++) {
        uint32_t row = set->index != NULL ? set->index[i] : i;
        ok += head_predict(h, set->features + (size_t)row * h->dim, NULL, NULL) == set->labels[row];
    }
    return set->count ? (float)ok / (float)set->count : 0.0f;
}

static void pz_fill_metrics(microt_HeadMetrics *m, const head_train_report_t *r, float train_acc,
                            float hold_acc)
{
    m->train_accuracy = train_acc;
    m->holdout_accuracy = hold_acc;
    m->epochs = r->iterations;
    m->evaluations = r->evaluations;
    m->loss = r->loss;
}

void personalize_train(const microt_TrainHeads *req, microt_Message *reply)
{
    head_train_cfg_t cfg = head_default_cfg();
    head_train_report_t rp, rf;
    head_status_t hst;
    uint32_t n_train = 0, n_hold = 0, n_calib;
    float holdout = req->holdout_fraction > 0.0f ? req->holdout_fraction : PERSONALIZE_DEFAULT_HOLDOUT;
    uint64_t t0, train_cycles, calib_cycles, s1, s2;
    uint64_t calib_macs, calib_exps;
    head_set_t sp, sf, hp, hf;
    float tr_p, tr_f, ho_p, ho_f;
    stage_point_t point;
    microt_TrainResult *res = &reply->body.train_result;
    const energy_profile_t *prof = pz_profile();

    if (!pz.samples_ready) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE, "send ResetSamples and samples first");
        return;
    }
    if (!(holdout < 0.9f) || req->l2 < 0.0f || !isfinite(req->l2)) {
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "holdout_fraction must be < 0.9, l2 >= 0");
        return;
    }
    if (stage_split(pz.cache.labels, pz.cache.count, pz.classes, holdout, req->seed, pz.train_index,
                    &n_train, pz.hold_index, &n_hold) != STAGE_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE, "cannot split the cached samples");
        return;
    }
    if (n_train == 0 || n_hold == 0) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE,
                         "too few samples: need training and held-out samples");
        return;
    }
    if (req->l2 > 0.0f)
        cfg.c = 1.0f / req->l2;
    if (req->max_epochs > 0)
        cfg.max_iter = (uint16_t)(req->max_epochs > 65535u ? 65535u : req->max_epochs);

    sp = feat_cache_part_set(&pz.cache, pz.train_index, n_train);
    sf = feat_cache_full_set(&pz.cache, pz.train_index, n_train);
    pz.trained = false;
    t0 = hal_cycles();
    hal_watchdog_kick();
    hst = head_train(&pz.part_head, &sp, &cfg, pz.scratch, pz.scratch_bytes, &rp);
    hal_watchdog_kick();
    if (hst == HEAD_OK)
        hst = head_train(&pz.full_head, &sf, &cfg, pz.scratch, pz.scratch_bytes, &rf);
    if (hst != HEAD_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "head training failed");
        return;
    }
    train_cycles = pz_float_cycles(rp.float_macs + rf.float_macs, rp.float_exps + rf.float_exps,
                                   hal_cycles() - t0);

    /* Calibration: both heads on the held-out rows; the records are all later decisions need. */
    t0 = hal_cycles();
    n_calib = n_hold < STAGE_MAX_CALIB ? n_hold : STAGE_MAX_CALIB;
    for (uint32_t i = 0; i < n_calib; i++) {
        uint32_t row = pz.hold_index[i];
        float c = 0.0f;
        int p = head_predict(&pz.part_head, pz.cache.part + (size_t)row * pz.part_dim, NULL, &c);
        int q = head_predict(&pz.full_head, pz.cache.full + (size_t)row * pz.full_dim, NULL, NULL);
        pz_records[i].confidence = c;
        pz_records[i].part_correct = p == pz.cache.labels[row];
        pz_records[i].full_correct = q == pz.cache.labels[row];
    }
    /* Per-inference stage costs for the curve: the engine stages as the cost model (or the last
     * measured run) prices them, plus each head's prediction. */
    s1 = pz_stage_cycles(1) + cost_float_cycles(prof, head_predict_macs(&pz.part_head),
                                                head_predict_exps(&pz.part_head));
    s2 = pz_stage_cycles(2) + cost_float_cycles(prof, head_predict_macs(&pz.full_head),
                                                head_predict_exps(&pz.full_head));
    if (stage_calibrate(&pz_stage, pz_records, n_calib, s1, s2, pz.ratio) != STAGE_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "calibration failed");
        return;
    }
    calib_macs = (uint64_t)n_calib * (head_predict_macs(&pz.part_head) + head_predict_macs(&pz.full_head));
    calib_exps = (uint64_t)n_calib * (head_predict_exps(&pz.part_head) + head_predict_exps(&pz.full_head));
    calib_cycles = pz_float_cycles(calib_macs, calib_exps, hal_cycles() - t0);
    pz.trained = true;

    /* Reported accuracies (evaluation for the report, not part of the board's work above). */
    hp = feat_cache_part_set(&pz.cache, pz.hold_index, n_hold);
    hf = feat_cache_full_set(&pz.cache, pz.hold_index, n_hold);
    tr_p = pz_accuracy(&pz.part_head, &sp);
    tr_f = pz_accuracy(&pz.full_head, &sf);
    ho_p = pz_accuracy(&pz.part_head, &hp);
    ho_f = pz_accuracy(&pz.full_head, &hf);
    (void)stage_point(&pz_stage, prof, pz.ratio, &point);

    reply->which_body = microt_Message_train_result_tag;
    res->samples = pz.cache.count;
    res->holdout = n_hold;
    res->has_part = true;
    res->has_full = true;
    pz_fill_metrics(&res->part, &rp, tr_p, ho_p);
    pz_fill_metrics(&res->full, &rf, tr_f, ho_f);
    res->staged_holdout_accuracy = point.accuracy;
    res->extract_cycles = pz.extract_cycles;
    res->train_cycles = train_cycles;
    res->calibrate_cycles = calib_cycles;
    res->extract_energy_nj = pz_energy_nj(pz.extract_cycles);
    res->train_energy_nj = pz_energy_nj(train_cycles);
    res->calibrate_energy_nj = pz_energy_nj(calib_cycles);
    /* Peak: arena + the pool's fixed part (heads, scratch, lists) + cached rows + stage record. */
    res->peak_ram_bytes = (uint32_t)(pz.arena_needed + pz.pool_used_fixed +
                                     (size_t)pz.cache.count *
                                         feat_cache_sample_bytes(pz.part_dim, pz.full_dim) +
                                     sizeof(pz_stage) + sizeof(pz_records));
    res->threshold = pz_wire_threshold(pz_stage.threshold);
    res->ratio = pz.ratio;
    res->num_classes = pz.classes;
}

static void pz_fill_ratio_state(microt_Message *reply)
{
    stage_point_t point;
    microt_RatioState *rs = &reply->body.ratio_state;
    reply->which_body = microt_Message_ratio_state_tag;
    rs->ratio = pz.ratio;
    rs->threshold = pz.trained ? pz_wire_threshold(pz_stage.threshold) : 0.0f;
    if (pz.trained && stage_point(&pz_stage, pz_profile(), pz.ratio, &point) == STAGE_OK) {
        rs->expected_accuracy = point.accuracy;
        rs->expected_energy_uj = (float)(point.energy_nj / 1e3);
        rs->exit_fraction = point.exit_fraction;
    }
}

void personalize_set_ratio(const microt_SetRatio *req, microt_Message *reply)
{
    float ratio = req->ratio;
    stage_status_t st = STAGE_OK;

    switch (req->target) {
    case microt_SetRatio_Target_RATIO:
        if (!(ratio >= 0.0f && ratio <= 1.0f)) {
            core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "ratio must be in [0, 1]");
            return;
        }
        break;
    case microt_SetRatio_Target_ENERGY_BUDGET:
    case microt_SetRatio_Target_ACCURACY_FLOOR:
        if (!pz.trained) {
            core_reply_error(reply, microt_ErrorCode_ERR_NOT_TRAINED, "heads not trained yet");
            return;
        }
        if (req->target == microt_SetRatio_Target_ENERGY_BUDGET)
            st = stage_ratio_for_energy(&pz_stage, pz_profile(), (double)req->energy_budget_uj * 1e3,
                                        &ratio);
        else
            st = stage_ratio_for_accuracy(&pz_stage, req->min_accuracy, &ratio);
        if (st == STAGE_EUNREACHABLE) {
            core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "no ratio meets that target");
            return;
        }
        if (st != STAGE_OK) {
            core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "bad target value");
            return;
        }
        break;
    default:
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "unknown SetRatio target");
        return;
    }
    /* The ratio holds for the next training too; with heads trained the threshold moves now,
     * from the stored calibration, without retraining. */
    pz.ratio = ratio;
    pz.ratio_set = true;
    if (pz.trained && stage_set_ratio(&pz_stage, ratio) != STAGE_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "threshold update failed");
        return;
    }
    pz_fill_ratio_state(reply);
}

void personalize_get_tradeoff(microt_Message *reply)
{
    stage_point_t curve[STAGE_CURVE_POINTS];
    microt_Tradeoff *t = &reply->body.tradeoff;
    if (!pz.trained) {
        core_reply_error(reply, microt_ErrorCode_ERR_NOT_TRAINED, "heads not trained yet");
        return;
    }
    if (stage_curve(&pz_stage, pz_profile(), curve) != STAGE_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "trade-off curve failed");
        return;
    }
    reply->which_body = microt_Message_tradeoff_tag;
    t->points_count = STAGE_CURVE_POINTS;
    for (uint32_t i = 0; i < STAGE_CURVE_POINTS; i++) {
        t->points[i].ratio = curve[i].ratio;
        t->points[i].accuracy = curve[i].accuracy;
        t->points[i].energy_uj = (float)(curve[i].energy_nj / 1e3);
        t->points[i].exit_fraction = curve[i].exit_fraction;
    }
    t->ratio = pz.ratio;
}
