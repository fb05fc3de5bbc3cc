/*
 * personalize.c — the request adapter of personalization on the board (see personalize.h for the
 * request flow, the memory layout and where cycles come from): requests are checked and turned
 * into calls of personal.c, which holds all the logic (cache, training, calibration, staged
 * inference); here stay the static arena and pool, the transfers, the wire form of the results
 * and the running counters.
 */
#include "personalize.h"

#include <math.h>
#include <string.h>

#include "core_rpc.h"
#include "energy.h"
#include "hal.h"
#include "model_store.h"
#include "personal.h"
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
    float ratio;                 /* the user's setting, kept across resets and model changes */
    bool ratio_set;              /* set by SetRatio since boot */
    pz_transfer_t xfer;
} pz_state_t;

static pz_state_t pz;
/* The personalization logic and its state (personal.c): laid over pz_pool at ResetSamples. */
static personal_t pz_sess;
static uint8_t pz_arena[PERSONALIZE_ARENA_BYTES] __attribute__((aligned(8)));
static uint8_t pz_pool[PERSONALIZE_POOL_BYTES] __attribute__((aligned(8)));

/* The QEMU machines have no supply current of their own: they stand in for the part with the
 * same core (mps2-an386's Cortex-M4 for the L4R5ZI, mps2-an500's Cortex-M7 for the H7A3ZI). */
static const energy_profile_t *pz_profile(void)
{
    switch (hal_board()->board_kind) {
    case microt_BoardKind_BOARD_QEMU_AN386: return energy_profile(ENERGY_BOARD_L4R5ZI);
    case microt_BoardKind_BOARD_QEMU_AN500: return energy_profile(ENERGY_BOARD_H7A3ZI);
    default: return energy_profile((energy_board_t)hal_board()->board_kind);
    }
}

/* Where cycles come from is the port's to say, per request (a test may switch it). */
static personal_t *pz_session(void)
{
    pz_sess.measured_cycles = (hal_board()->features & HAL_FEATURE_MODELED_CYCLES) == 0;
    return &pz_sess;
}

static uint64_t pz_round_nj(double nj)
{
    return (uint64_t)(nj + 0.5);
}

static float pz_wire_threshold(float t)
{
    return isinf(t) || t > PERSONALIZE_THRESHOLD_NEVER ? PERSONALIZE_THRESHOLD_NEVER : t;
}

/* Samples, heads and calibration belong to the model they were made with. */
static void pz_forget_samples(void)
{
    memset(&pz_sess, 0, sizeof(pz_sess));
}

void personalize_init(void)
{
    const uint8_t *image;
    uint32_t image_bytes = 0;

    /* The ratio is the user's setting: it survives a model change (not a reset: RAM only). */
    float ratio = pz.ratio_set ? pz.ratio : PERSONALIZE_DEFAULT_RATIO;
    bool ratio_set = pz.ratio_set;

    memset(&pz, 0, sizeof(pz));
    pz_forget_samples();
    pz.ratio = ratio;
    pz.ratio_set = ratio_set;
    image = model_store_active(&image_bytes);
    if (image == NULL)
        return;
    if (engine_check_image(image, image_bytes, &pz.arena_needed) != ENGINE_OK ||
        engine_open(&pz.engine, image, image_bytes, pz_arena, sizeof(pz_arena)) != ENGINE_OK)
        return; /* model_store verified it; only a port with a smaller arena gets here */
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
    status->part_dim = engine_part_dim(&pz.engine);
    status->full_dim = engine_full_dim(&pz.engine);
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
    if (!pz_sess.trained)
        return NULL;
    return which == 0 ? &pz_sess.part_head : &pz_sess.full_head;
}

const stage_t *personalize_stage(void)
{
    return pz_sess.trained ? &pz_sess.stage : NULL;
}

uint32_t personalize_pool_budget(uint32_t sram_bytes, uint32_t arena_bytes)
{
    uint64_t taken = (uint64_t)PERSONALIZE_RESERVED_BYTES + arena_bytes;
    if (sram_bytes <= taken)
        return 0;
    return sram_bytes - taken < sizeof(pz_pool) ? (uint32_t)(sram_bytes - taken)
                                                : (uint32_t)sizeof(pz_pool);
}

void personalize_reset_samples(const microt_ResetSamples *req, microt_Message *reply)
{
    uint32_t k = req->num_classes;
    personal_status_t st;

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
    st = personal_reset(pz_session(), pz_pool,
                        personalize_pool_budget(hal_board()->sram_bytes, pz.arena_needed),
                        &pz.engine, k, pz_profile());
    if (st == PERSONAL_ENOSPACE) {
        core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE,
                         "no RAM left for the heads' training and the feature cache");
        return;
    }
    if (st != PERSONAL_OK || personal_set_ratio(pz_session(), pz.ratio, NULL) != PERSONAL_OK) {
        pz_forget_samples();
        core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE, "model features too large for the heads");
        return;
    }
    reply->which_body = microt_Message_sample_result_tag;
    reply->body.sample_result.index = 0;
    reply->body.sample_result.cached = 0;
    reply->body.sample_result.capacity = personal_capacity(&pz_sess);
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
        if (!pz_sess.ready) {
            core_reply_error(reply, microt_ErrorCode_ERR_STATE, "send ResetSamples first");
            return false;
        }
        if (req->label < 0 || (uint32_t)req->label >= pz_sess.classes) {
            core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "sample label outside 0..num_classes-1");
            return false;
        }
        if (pz_sess.cache.count >= pz_sess.cache.capacity) {
            core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE, "feature cache full");
            return false;
        }
    } else if (!pz_sess.trained) {
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
    uint64_t cycles = 0;
    int32_t row = personal_add_sample(pz_session(), &pz.engine, (uint32_t)pz.xfer.label, &cycles);

    if (row == PERSONAL_ENOSPACE) {
        core_reply_error(reply, microt_ErrorCode_ERR_NO_SPACE, "feature cache full");
        return;
    }
    if (row == PERSONAL_EENGINE) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "engine failed on the sample");
        return;
    }
    if (row < 0) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "feature cache refused the sample");
        return;
    }
    reply->which_body = microt_Message_sample_result_tag;
    reply->body.sample_result.index = (uint32_t)row;
    reply->body.sample_result.cached = pz_sess.cache.count;
    reply->body.sample_result.capacity = pz_sess.cache.capacity;
    reply->body.sample_result.cycles = cycles;
}

/* MicroT's staged inference (personal_infer -> infer.c), recorded in the running counters. */
static void pz_end_image(microt_Message *reply)
{
    infer_result_t res;
    personal_status_t st = personal_infer(pz_session(), &pz.engine, &res);
    core_counters_t *ctr = core_counters();

    if (st == PERSONAL_EENGINE) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "engine failed on the image");
        return;
    }
    if (st != PERSONAL_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "staged inference failed");
        return;
    }
    reply->which_body = microt_Message_inference_tag;
    reply->body.inference.cls = res.class_index;
    reply->body.inference.confidence = res.confidence;
    reply->body.inference.stage = res.stage;
    reply->body.inference.cycles = res.cycles;
    reply->body.inference.energy_nj = pz_round_nj(res.energy_nj);
    ctr->inferences++;
    if (res.stage == 1)
        ctr->stage1_exits++;
    ctr->inference_cycles += res.cycles;
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

static void pz_fill_metrics(microt_HeadMetrics *m, const personal_head_metrics_t *h,
                            const head_train_report_t *r)
{
    m->train_accuracy = h->train_accuracy;
    m->holdout_accuracy = h->holdout_accuracy;
    m->epochs = h->iterations;
    m->evaluations = r->evaluations;
    m->loss = h->loss;
}

void personalize_train(const microt_TrainHeads *req, microt_Message *reply)
{
    personal_train_result_t out;
    personal_status_t st;
    float holdout = req->holdout_fraction > 0.0f ? req->holdout_fraction : PERSONALIZE_DEFAULT_HOLDOUT;
    microt_TrainResult *res = &reply->body.train_result;

    if (!pz_sess.ready) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE, "send ResetSamples and samples first");
        return;
    }
    if (!(holdout < 0.9f) || req->l2 < 0.0f || !isfinite(req->l2)) {
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "holdout_fraction must be < 0.9, l2 >= 0");
        return;
    }
    personal_train_cfg_t cfg = {.seed = req->seed, .holdout_fraction = holdout, .l2 = req->l2,
                                .max_iter = req->max_epochs};
    st = personal_train(pz_session(), &cfg, &out);
    if (st == PERSONAL_EDATA) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE,
                         "too few samples: need training and held-out samples");
        return;
    }
    if (st != PERSONAL_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "head training failed");
        return;
    }
    reply->which_body = microt_Message_train_result_tag;
    res->samples = pz_sess.cache.count;
    res->holdout = out.holdout;
    res->has_part = true;
    res->has_full = true;
    pz_fill_metrics(&res->part, &out.part, &out.part_report);
    pz_fill_metrics(&res->full, &out.full, &out.full_report);
    res->staged_holdout_accuracy = out.staged_holdout_accuracy;
    res->extract_cycles = out.extract_cycles;
    res->train_cycles = out.train_cycles;
    res->calibrate_cycles = out.calibrate_cycles;
    res->extract_energy_nj = pz_round_nj(out.extract_energy_nj);
    res->train_energy_nj = pz_round_nj(out.train_energy_nj);
    res->calibrate_energy_nj = pz_round_nj(out.calibrate_energy_nj);
    res->peak_ram_bytes = out.peak_ram_bytes;
    res->threshold = pz_wire_threshold(out.threshold);
    res->ratio = pz.ratio;
    res->num_classes = pz_sess.classes;
}

static void pz_fill_ratio_state(microt_Message *reply)
{
    stage_point_t point;
    microt_RatioState *rs = &reply->body.ratio_state;
    reply->which_body = microt_Message_ratio_state_tag;
    rs->ratio = pz.ratio;
    rs->threshold = pz_sess.trained ? pz_wire_threshold(pz_sess.stage.threshold) : 0.0f;
    if (pz_sess.trained && stage_point(&pz_sess.stage, pz_profile(), pz.ratio, &point) == STAGE_OK) {
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
        if (!pz_sess.trained) {
            core_reply_error(reply, microt_ErrorCode_ERR_NOT_TRAINED, "heads not trained yet");
            return;
        }
        if (req->target == microt_SetRatio_Target_ENERGY_BUDGET)
            st = stage_ratio_for_energy(&pz_sess.stage, pz_profile(), (double)req->energy_budget_uj * 1e3,
                                        &ratio);
        else
            st = stage_ratio_for_accuracy(&pz_sess.stage, req->min_accuracy, &ratio);
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
    if (personal_set_ratio(pz_session(), ratio, NULL) != PERSONAL_OK) {
        core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "threshold update failed");
        return;
    }
    pz_fill_ratio_state(reply);
}

void personalize_get_tradeoff(microt_Message *reply)
{
    stage_point_t curve[STAGE_CURVE_POINTS];
    microt_Tradeoff *t = &reply->body.tradeoff;
    personal_status_t st = personal_tradeoff(pz_session(), curve);
    if (st == PERSONAL_ESTATE) {
        core_reply_error(reply, microt_ErrorCode_ERR_NOT_TRAINED, "heads not trained yet");
        return;
    }
    if (st != PERSONAL_OK) {
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
