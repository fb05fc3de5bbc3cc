/*
 * test_personalize.c — personalization on the board (firmware/core/personalize.c, capture.c)
 * through the core's request handlers, on real data: ProxylessNAS-w0.3 from ../shared/models
 * (imported with the cut after block 8) and Fashion-MNIST from Debian's dataset-fashion-mnist,
 * resized to 128x128 and replicated to three channels; skipped, saying so, when either is absent.
 *
 * In-process through core_rpc_dispatch over the host port (flash in memory): samples into the
 * feature cache, training metrics and their costs, determinism, the ratio rule at r = 0 / 0.5 / 1,
 * the trade-off curve and its inverses, staged inference identical to the engine and heads run
 * independently, the feature cache refusing past its capacity, request errors. Over the pty: the
 * simulator's camera (--camera DIR of PGM files written here) streaming Captured frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sys/stat.h>

#include "core_rpc.h"
#include "cost.h"
#include "energy.h"
#include "import/model_import.h"
#include "model_store.h"
#include "personalize.h"
#include "sha256.h"
#include "sim_board_client.h"
#include "sim_port.h"

#define CLASSES 10u
#define TRAIN_PER_CLASS 16u
#define TEST_PER_CLASS 6u
#define SIDE 28u
#define IN_SIDE 128u
#define IN_BYTES (IN_SIDE * IN_SIDE * 3u)

typedef struct {
    uint32_t n;
    uint8_t pixels[CLASSES * TRAIN_PER_CLASS][SIDE * SIDE];
    uint8_t labels[CLASSES * TRAIN_PER_CLASS];
} images_t;

static model_import_t mi;
static uint8_t model_sha[32];
static bool have_data;
static images_t train_set, test_set;
static microt_Message req, rep;
static int8_t input[IN_BYTES];

/* ---- data ---- */

static uint8_t *gunzip(const char *path, size_t *len)
{
    char cmd[700];
    size_t cap = 64u << 20, n = 0, got;
    uint8_t *buf;
    FILE *p;
    snprintf(cmd, sizeof(cmd), "gzip -dc '%s' 2>/dev/null", path);
    p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, p)) > 0)
        n += got;
    if (pclose(p) != 0 || n == 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The first per_class images of each class, in file order. */
static int load_idx(const char *prefix, uint32_t per_class, images_t *out)
{
    char path[300];
    size_t il = 0, ll = 0;
    const char *dir = getenv("FASHION_MNIST_DIR") ? getenv("FASHION_MNIST_DIR")
                                                  : "/usr/share/datasets/fashion-mnist";
    uint8_t *img, *lab;
    uint32_t have[CLASSES] = {0};
    snprintf(path, sizeof(path), "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    img = gunzip(path, &il);
    snprintf(path, sizeof(path), "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    lab = gunzip(path, &ll);
    if (img == NULL || lab == NULL || il < 16 || ll < 8 || be32(img) != 0x803 || be32(lab) != 0x801) {
        free(img);
        free(lab);
        return -1;
    }
    out->n = 0;
    for (uint32_t i = 0; i < be32(img + 4) && i < ll - 8 && out->n < per_class * CLASSES; i++) {
        uint8_t y = lab[8 + i];
        if (y >= CLASSES || have[y] >= per_class)
            continue;
        have[y]++;
        memcpy(out->pixels[out->n], img + 16 + (size_t)i * SIDE * SIDE, SIDE * SIDE);
        out->labels[out->n++] = y;
    }
    free(img);
    free(lab);
    return 0;
}

/* Bilinear 28 -> 128 (half-pixel centres), grey to 3 channels, uint8 p -> int8 p - 128. */
static void make_input(const uint8_t *grey, int8_t *dst)
{
    float scale = (float)SIDE / (float)IN_SIDE;
    for (uint32_t y = 0; y < IN_SIDE; y++) {
        float sy = ((float)y + 0.5f) * scale - 0.5f;
        if (sy < 0.0f)
            sy = 0.0f;
        uint32_t y0 = (uint32_t)sy, y1 = y0 + 1u < SIDE ? y0 + 1u : SIDE - 1u;
        float fy = sy - (float)y0;
        for (uint32_t x = 0; x < IN_SIDE; x++) {
            float sx = ((float)x + 0.5f) * scale - 0.5f;
            if (sx < 0.0f)
                sx = 0.0f;
            uint32_t x0 = (uint32_t)sx, x1 = x0 + 1u < SIDE ? x0 + 1u : SIDE - 1u;
            float fx = sx - (float)x0;
            float top = grey[y0 * SIDE + x0] * (1.0f - fx) + grey[y0 * SIDE + x1] * fx;
            float bot = grey[y1 * SIDE + x0] * (1.0f - fx) + grey[y1 * SIDE + x1] * fx;
            int v = (int)(top * (1.0f - fy) + bot * fy + 0.5f);
            int8_t q = (int8_t)((v > 255 ? 255 : v) - 128);
            int8_t *px = dst + ((size_t)y * IN_SIDE + x) * 3u;
            px[0] = px[1] = px[2] = q;
        }
    }
}

/* ---- the board, in-process ---- */

static void board_reset(const char *name)
{
    if (sim.flash.base != NULL)
        sim_flash_close(&sim.flash);
    memset(&sim, 0, sizeof(sim));
    sim.board = *sim_board_by_name(name);
    assert_int_equal(sim_flash_open(&sim.flash, NULL, sim.board.flash_bytes,
                                    sim.board.board_kind == 1u ? 8192u : 4096u),
                     0);
    core_rpc_init();
}

static bool dispatch(void)
{
    memset(&rep, 0, sizeof(rep));
    req.id = 11;
    return core_rpc_dispatch(&req, &rep);
}

static void transfer(microt_TransferKind kind, const uint8_t *data, uint32_t total, int32_t label,
                     const uint8_t *sha)
{
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_transfer_begin_tag;
    req.body.transfer_begin.kind = kind;
    req.body.transfer_begin.total_bytes = total;
    req.body.transfer_begin.label = label;
    if (sha != NULL) {
        memcpy(req.body.transfer_begin.sha256.bytes, sha, 32);
        req.body.transfer_begin.sha256.size = 32;
    }
    assert_true(dispatch());
    if (rep.which_body != microt_Message_transfer_status_tag)
        return; /* the error is in rep */
    for (uint32_t off = rep.body.transfer_status.offset; off < total; off += 2048u) {
        uint32_t n = total - off < 2048u ? total - off : 2048u;
        memset(&req, 0, sizeof(req));
        req.which_body = microt_Message_transfer_chunk_tag;
        req.body.transfer_chunk.offset = off;
        req.body.transfer_chunk.data.size = (pb_size_t)n;
        memcpy(req.body.transfer_chunk.data.bytes, data + off, n);
        assert_false(dispatch());
    }
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_transfer_end_tag;
    assert_true(dispatch());
}

static void push_model(void)
{
    transfer(microt_TransferKind_TRANSFER_MODEL, mi.image, mi.image_bytes, 0, model_sha);
    assert_int_equal(rep.which_body, microt_Message_model_status_tag);
    assert_true(rep.body.model_status.active);
}

static void reset_samples(uint32_t k)
{
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_reset_samples_tag;
    req.body.reset_samples.num_classes = k;
    assert_true(dispatch());
}

static void add_sample(const uint8_t *grey, int32_t label)
{
    uint8_t sha[32];
    make_input(grey, input);
    sha256(input, IN_BYTES, sha);
    transfer(microt_TransferKind_TRANSFER_SAMPLE, (const uint8_t *)input, IN_BYTES, label, sha);
}

static void classify(const uint8_t *grey)
{
    make_input(grey, input);
    transfer(microt_TransferKind_TRANSFER_IMAGE, (const uint8_t *)input, IN_BYTES, -1, NULL);
}

static void train(uint32_t seed, float holdout)
{
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_train_heads_tag;
    req.body.train_heads.seed = seed;
    req.body.train_heads.holdout_fraction = holdout;
    assert_true(dispatch());
}

static void set_ratio(microt_SetRatio_Target target, float value)
{
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_set_ratio_tag;
    req.body.set_ratio.target = target;
    if (target == microt_SetRatio_Target_RATIO)
        req.body.set_ratio.ratio = value;
    else if (target == microt_SetRatio_Target_ENERGY_BUDGET)
        req.body.set_ratio.energy_budget_uj = value;
    else
        req.body.set_ratio.min_accuracy = value;
    assert_true(dispatch());
}

static int need_data(void)
{
    if (!have_data) {
        print_message("SKIP: ../shared/models/proxyless-w0.3.tflite or Fashion-MNIST absent\n");
        skip();
    }
    return 0;
}

/* ---- an independent run of the same computation: the engine and the heads, called directly ---- */

typedef struct {
    int cls;
    float confidence;
    uint32_t stage;
    uint64_t cycles;
} ref_t;

static uint8_t ref_arena[256 * 1024] __attribute__((aligned(8)));
static engine_t ref_engine;

static void ref_open(void)
{
    uint32_t bytes = 0;
    const uint8_t *image = model_store_active(&bytes);
    assert_non_null(image);
    assert_int_equal(engine_open(&ref_engine, image, bytes, ref_arena, sizeof(ref_arena)), ENGINE_OK);
}

static ref_t ref_staged(const uint8_t *grey)
{
    static float part[HEAD_MAX_DIM], full[HEAD_MAX_DIM];
    const energy_profile_t *prof = energy_profile((energy_board_t)sim.board.board_kind);
    const head_t *hp = personalize_head(0), *hf = personalize_head(1);
    uint32_t n = 0;
    ref_t r = {0};
    make_input(grey, engine_input(&ref_engine, &n));
    assert_int_equal(engine_run_stage1(&ref_engine, part), ENGINE_OK);
    r.cls = head_predict(hp, part, NULL, &r.confidence);
    r.stage = 1;
    r.cycles = cost_stage_cycles(&ref_engine, prof, 1, NULL) +
               cost_float_cycles(prof, head_predict_macs(hp), head_predict_exps(hp));
    if (!stage_exits(personalize_stage(), r.confidence)) {
        assert_int_equal(engine_run_stage2(&ref_engine, full), ENGINE_OK);
        r.cls = head_predict(hf, full, NULL, &r.confidence);
        r.stage = 2;
        r.cycles += cost_stage_cycles(&ref_engine, prof, 2, NULL) +
                    cost_float_cycles(prof, head_predict_macs(hf), head_predict_exps(hf));
    }
    return r;
}

/* Classifies the test images; every result must equal the independent run. Returns exits. */
static uint32_t classify_all_checked(uint32_t *correct)
{
    const energy_profile_t *prof = energy_profile((energy_board_t)sim.board.board_kind);
    uint32_t exits = 0;
    *correct = 0;
    for (uint32_t i = 0; i < test_set.n; i++) {
        ref_t r = ref_staged(test_set.pixels[i]);
        classify(test_set.pixels[i]);
        assert_int_equal(rep.which_body, microt_Message_inference_tag);
        assert_int_equal(rep.body.inference.cls, r.cls);
        assert_true(rep.body.inference.confidence == r.confidence);
        assert_int_equal(rep.body.inference.stage, r.stage);
        assert_int_equal(rep.body.inference.cycles, r.cycles);
        assert_int_equal(rep.body.inference.energy_nj, (uint64_t)(energy_nj(prof, (double)r.cycles) + 0.5));
        exits += r.stage == 1;
        *correct += rep.body.inference.cls == test_set.labels[i];
    }
    return exits;
}

static microt_TrainResult first_result;

static void test_train_ratio_and_staged_inference(void **state)
{
    (void)state;
    need_data();
    board_reset("h7a3zi");
    push_model();
    ref_open();
    const energy_profile_t *prof = energy_profile(ENERGY_BOARD_H7A3ZI);

    reset_samples(CLASSES);
    assert_int_equal(rep.which_body, microt_Message_sample_result_tag);
    uint32_t cap_h7 = rep.body.sample_result.capacity;
    /* 24 + 96 floats + a label per sample: about 2000 fit the H7A3ZI's 1.4 MB. */
    assert_true(cap_h7 >= 1500 && cap_h7 * 481u < 1400u * 1024u);

    uint64_t modeled = cost_stage_cycles(&ref_engine, prof, 1, NULL) +
                       cost_stage_cycles(&ref_engine, prof, 2, NULL);
    uint64_t extract = 0;
    for (uint32_t i = 0; i < train_set.n; i++) {
        add_sample(train_set.pixels[i], train_set.labels[i]);
        assert_int_equal(rep.which_body, microt_Message_sample_result_tag);
        assert_int_equal(rep.body.sample_result.index, i);
        assert_int_equal(rep.body.sample_result.cached, i + 1);
        assert_int_equal(rep.body.sample_result.cycles, modeled);
        extract += rep.body.sample_result.cycles;
    }

    train(1, 0.25f);
    assert_int_equal(rep.which_body, microt_Message_train_result_tag);
    microt_TrainResult *t = &rep.body.train_result;
    assert_int_equal(t->samples, train_set.n);
    assert_int_equal(t->holdout, CLASSES * 4u); /* round(0.25 x 16) per class */
    assert_int_equal(t->num_classes, CLASSES);
    assert_true(t->part.epochs > 0 && t->full.epochs > 0);
    assert_true(t->part.evaluations >= t->part.epochs);
    /* Real features: far above chance (0.1), the full head at least near the part head. */
    assert_true(t->full.train_accuracy > 0.8f);
    assert_true(t->full.holdout_accuracy > 0.45f);
    assert_true(t->part.holdout_accuracy > 0.3f);
    assert_true(t->staged_holdout_accuracy > 0.3f);
    assert_int_equal(t->extract_cycles, extract);
    assert_true(t->train_cycles > 0 && t->calibrate_cycles > 0);
    assert_int_equal(t->extract_energy_nj, (uint64_t)(energy_nj(prof, (double)extract) + 0.5));
    assert_int_equal(t->train_energy_nj, (uint64_t)(energy_nj(prof, (double)t->train_cycles) + 0.5));
    assert_true(t->peak_ram_bytes > mi.arena_bytes + train_set.n * 481u);
    assert_true(t->peak_ram_bytes < 1400u * 1024u);
    assert_true(fabsf(t->ratio - 0.5f) < 1e-6f);
    first_result = *t;
    print_message("train: part %.3f/%.3f full %.3f/%.3f staged %.3f, %u+%u iters, "
                  "extract %.1f mJ train %.3f mJ calib %.4f mJ, peak RAM %u B\n",
                  t->part.train_accuracy, t->part.holdout_accuracy, t->full.train_accuracy,
                  t->full.holdout_accuracy, t->staged_holdout_accuracy, t->part.epochs,
                  t->full.epochs, t->extract_energy_nj / 1e6, t->train_energy_nj / 1e6,
                  t->calibrate_energy_nj / 1e6, t->peak_ram_bytes);

    /* Deterministic: the same seed gives bit-identical results. */
    train(1, 0.25f);
    assert_int_equal(rep.which_body, microt_Message_train_result_tag);
    assert_memory_equal(&rep.body.train_result, &first_result, sizeof(first_result));

    /* r = 0: nothing reaches the threshold, every inference runs stage 2 (plain TTL). */
    core_counters_t before = *core_counters();
    set_ratio(microt_SetRatio_Target_RATIO, 0.0f);
    assert_int_equal(rep.which_body, microt_Message_ratio_state_tag);
    assert_true(rep.body.ratio_state.threshold > 1.0f);
    assert_true(rep.body.ratio_state.exit_fraction == 0.0f);
    assert_true(fabsf(rep.body.ratio_state.expected_accuracy - first_result.full.holdout_accuracy) < 1e-6f);
    uint32_t correct = 0;
    assert_int_equal(classify_all_checked(&correct), 0);

    /* r = 1: everything exits after stage 1. */
    set_ratio(microt_SetRatio_Target_RATIO, 1.0f);
    assert_true(rep.body.ratio_state.threshold == 0.0f);
    assert_true(rep.body.ratio_state.exit_fraction == 1.0f);
    assert_true(fabsf(rep.body.ratio_state.expected_accuracy - first_result.part.holdout_accuracy) < 1e-6f);
    assert_int_equal(classify_all_checked(&correct), test_set.n);

    /* r = 0.5: the threshold is the held-out median rule, some exit, some resume. */
    set_ratio(microt_SetRatio_Target_RATIO, 0.5f);
    float thr = rep.body.ratio_state.threshold;
    assert_true(thr > 0.0f && thr <= 1.0f);
    assert_true(thr == stage_threshold_for(personalize_stage(), 0.5f));
    assert_true(rep.body.ratio_state.exit_fraction >= 0.5f && rep.body.ratio_state.exit_fraction < 0.65f);
    uint32_t exits = classify_all_checked(&correct);
    print_message("r=0.5: %u/%u exit at stage 1, accuracy %.3f on %u test images\n", exits,
                  test_set.n, (double)correct / test_set.n, test_set.n);
    assert_true(exits > 0 && exits < test_set.n);

    core_counters_t *after = core_counters();
    assert_int_equal(after->inferences - before.inferences, 3u * test_set.n);
    assert_int_equal(after->stage1_exits - before.stage1_exits, test_set.n + exits);
    assert_true(after->inference_energy_nj > before.inference_energy_nj);

    /* The trade-off curve: r = 0 is the full head, r = 1 the part head, cheaper as r grows. */
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_get_tradeoff_tag;
    assert_true(dispatch());
    assert_int_equal(rep.which_body, microt_Message_tradeoff_tag);
    microt_Tradeoff tr = rep.body.tradeoff;
    assert_int_equal(tr.points_count, 21);
    assert_true(tr.points[0].ratio == 0.0f && tr.points[20].ratio == 1.0f);
    assert_true(fabsf(tr.points[0].accuracy - first_result.full.holdout_accuracy) < 1e-6f);
    assert_true(fabsf(tr.points[20].accuracy - first_result.part.holdout_accuracy) < 1e-6f);
    for (int i = 1; i < 21; i++) {
        assert_true(tr.points[i].exit_fraction >= tr.points[i - 1].exit_fraction);
        assert_true(tr.points[i].energy_uj <= tr.points[i - 1].energy_uj);
    }
    assert_true(tr.points[20].energy_uj < tr.points[0].energy_uj);

    /* Inverses: an energy budget halfway gets a ratio whose expected energy fits it. */
    float budget = (tr.points[0].energy_uj + tr.points[20].energy_uj) / 2.0f;
    set_ratio(microt_SetRatio_Target_ENERGY_BUDGET, budget);
    assert_int_equal(rep.which_body, microt_Message_ratio_state_tag);
    assert_true(rep.body.ratio_state.ratio > 0.0f && rep.body.ratio_state.ratio < 1.0f);
    assert_true(rep.body.ratio_state.expected_energy_uj <= budget * 1.0001f);
    set_ratio(microt_SetRatio_Target_ACCURACY_FLOOR, tr.points[0].accuracy);
    assert_int_equal(rep.which_body, microt_Message_ratio_state_tag);
    assert_true(rep.body.ratio_state.expected_accuracy >= tr.points[0].accuracy - 1e-6f);
    set_ratio(microt_SetRatio_Target_ENERGY_BUDGET, tr.points[20].energy_uj * 0.5f);
    assert_int_equal(rep.which_body, microt_Message_error_tag);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_BAD_REQUEST);
    set_ratio(microt_SetRatio_Target_RATIO, 1.5f);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_BAD_REQUEST);

    /* A port whose counter is the part's own (a real board: DWT) reports measured cycles; the
     * decision and the class do not depend on where cycles come from. */
    set_ratio(microt_SetRatio_Target_RATIO, 0.5f);
    ref_t ref = ref_staged(test_set.pixels[0]);
    sim.board.features &= ~HAL_FEATURE_MODELED_CYCLES;
    classify(test_set.pixels[0]);
    sim.board.features |= HAL_FEATURE_MODELED_CYCLES;
    assert_int_equal(rep.which_body, microt_Message_inference_tag);
    assert_int_equal(rep.body.inference.cls, ref.cls);
    assert_int_equal(rep.body.inference.stage, ref.stage);
    assert_true(rep.body.inference.cycles > 0);
    assert_int_equal(rep.body.inference.energy_nj,
                     (uint64_t)(energy_nj(prof, (double)rep.body.inference.cycles) + 0.5));

    /* The same board on an L4R5ZI: fewer samples fit, each costs more energy. */
    board_reset("l4r5zi");
    push_model();
    reset_samples(CLASSES);
    print_message("feature cache capacity, ProxylessNAS-w0.3 cut at block 8, 10 classes: "
                  "h7a3zi %u, l4r5zi %u samples\n", cap_h7, rep.body.sample_result.capacity);
    assert_true(rep.body.sample_result.capacity < cap_h7);
    assert_true(rep.body.sample_result.capacity >= 300);
}

static void test_errors_and_cache_capacity(void **state)
{
    (void)state;
    need_data();
    uint8_t sha[32];
    board_reset("h7a3zi");
    reset_samples(CLASSES);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_NO_MODEL);
    make_input(train_set.pixels[0], input);
    transfer(microt_TransferKind_TRANSFER_IMAGE, (const uint8_t *)input, IN_BYTES, -1, NULL);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_NO_MODEL);

    push_model();
    add_sample(train_set.pixels[0], 0);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_STATE); /* no ResetSamples */
    reset_samples(1);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_BAD_REQUEST);
    reset_samples(2);
    assert_int_equal(rep.which_body, microt_Message_sample_result_tag);
    add_sample(train_set.pixels[0], 2);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_BAD_REQUEST); /* label >= K */
    transfer(microt_TransferKind_TRANSFER_SAMPLE, (const uint8_t *)input, IN_BYTES - 1, 0, NULL);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_BAD_REQUEST);
    memset(sha, 0xAB, sizeof(sha));
    transfer(microt_TransferKind_TRANSFER_SAMPLE, (const uint8_t *)input, IN_BYTES, 0, sha);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_VERIFY);
    classify(train_set.pixels[0]);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_NOT_TRAINED);
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_get_tradeoff_tag;
    assert_true(dispatch());
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_NOT_TRAINED);
    train(1, 0.2f);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_STATE); /* nothing cached */

    /* A part with little SRAM: find the size at which the cache holds exactly 3 samples. */
    uint32_t lo = 200u * 1024u, hi = 1400u * 1024u;
    while (lo < hi) {
        sim.board.sram_bytes = (lo + hi) / 2u;
        reset_samples(2);
        if (rep.which_body == microt_Message_sample_result_tag && rep.body.sample_result.capacity >= 3)
            hi = sim.board.sram_bytes;
        else
            lo = sim.board.sram_bytes + 1u;
    }
    sim.board.sram_bytes = lo;
    reset_samples(2);
    assert_int_equal(rep.body.sample_result.capacity, 3);
    for (uint32_t i = 0; i < 3; i++) {
        add_sample(train_set.pixels[i], (int32_t)(i % 2u));
        assert_int_equal(rep.which_body, microt_Message_sample_result_tag);
    }
    add_sample(train_set.pixels[3], 1);
    assert_int_equal(rep.which_body, microt_Message_error_tag);
    assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_NO_SPACE);

    /* A new model forgets the samples (their features belong to the old one). */
    sim.board.sram_bytes = 1400u * 1024u;
    static microt_Message keep;
    model_import_t other;
    char err[256], path[600];
    model_import_opts_t opts = {.cut = "8"};
    snprintf(path, sizeof(path), "%s/models/proxyless-w0.3_pad.tflite", harness_shared_dir());
    if (model_import_file(path, &opts, &other, err, sizeof(err)) == 0) {
        uint8_t osha[32];
        sha256(other.image, other.image_bytes, osha);
        transfer(microt_TransferKind_TRANSFER_MODEL, other.image, other.image_bytes, 0, osha);
        keep = rep;
        assert_int_equal(keep.which_body, microt_Message_model_status_tag);
        add_sample(train_set.pixels[0], 0);
        assert_int_equal(rep.body.error.code, microt_ErrorCode_ERR_STATE);
        model_import_free(&other);
    }
}

/* The simulator's camera over the pty: frames from PGM files, scaled, streamed as Captured. */
static void write_pgm(const char *path, uint32_t w, uint32_t h, uint8_t seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fprintf(f, "P5\n# written by test_personalize\n%u %u\n255\n", w, h);
    for (uint32_t i = 0; i < w * h; i++)
        fputc((int)((i * 7u + seed) & 0xFFu), f);
    fclose(f);
}

static int capture(int32_t label, uint32_t w, uint32_t h, uint8_t *frame, uint32_t cap,
                   microt_Message *last)
{
    static microt_Message m, r;
    uint32_t got = 0, id;
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_capture_tag;
    m.body.capture.label = label;
    m.body.capture.width = w;
    m.body.capture.height = h;
    m.id = id = sbc.next_id++;
    if (sbc_send(&m) != 0)
        return -1;
    for (;;) {
        if (sbc_wait(id, 0, &r, 5000) != 0)
            return -1;
        *last = r;
        if (r.which_body != microt_Message_captured_tag)
            return 0;
        assert_int_equal(r.body.captured.offset, got);
        assert_int_equal(r.body.captured.label, label);
        assert_true(got + r.body.captured.data.size <= cap);
        memcpy(frame + got, r.body.captured.data.bytes, r.body.captured.data.size);
        got += r.body.captured.data.size;
        if (got == r.body.captured.total_bytes)
            return (int)got;
    }
}

static void test_sim_camera_capture(void **state)
{
    (void)state;
    static uint8_t frame[128 * 128 * 3];
    static microt_Message m, r;
    char cam[400], f1[450], f2[450];
    assert_int_equal(sbc_setup(), 0);
    snprintf(cam, sizeof(cam), "%s/camera", sbc.dir);
    assert_int_equal(mkdir(cam, 0755), 0);
    snprintf(f1, sizeof(f1), "%s/a.pgm", cam);
    snprintf(f2, sizeof(f2), "%s/b.pgm", cam);
    write_pgm(f1, 128, 128, 1);
    write_pgm(f2, 128, 128, 2);
    char *extra[] = {"--camera", cam, NULL};
    assert_int_equal(sbc_start("h7a3zi", extra), 0);

    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_hello_tag;
    assert_int_equal(sbc_call(&m, &r, 5000), 0);
    assert_true(r.body.device_info.capabilities & microt_Capability_CAP_CAPTURE);

    /* Frame 1 at its own size: the grey pixels, replicated to RGB. */
    assert_int_equal(capture(3, 128, 128, frame, sizeof(frame), &r), 128 * 128 * 3);
    assert_int_equal(r.body.captured.width, 128);
    assert_int_equal(r.body.captured.height, 128);
    for (uint32_t i = 0; i < 128u * 128u; i++) {
        uint8_t v = (uint8_t)((i * 7u + 1u) & 0xFFu);
        if (frame[3 * i] != v || frame[3 * i + 1] != v || frame[3 * i + 2] != v)
            fail_msg("pixel %u: %u %u %u, want %u", i, frame[3 * i], frame[3 * i + 1], frame[3 * i + 2], v);
    }
    /* Frame 2 scaled to 64 x 32; then the folder starts over. */
    assert_int_equal(capture(-1, 64, 32, frame, sizeof(frame), &r), 64 * 32 * 3);
    assert_int_equal(r.body.captured.width, 64);
    assert_int_equal(capture(0, 128, 128, frame, sizeof(frame), &r), 128 * 128 * 3);
    assert_int_equal(frame[0], 1);
    assert_int_equal(frame[3 * 5], (uint8_t)(5 * 7 + 1));

    /* No model: the frame size must be given. Too large: refused. */
    assert_int_equal(capture(0, 0, 0, frame, sizeof(frame), &r), 0);
    assert_int_equal(r.which_body, microt_Message_error_tag);
    assert_int_equal(r.body.error.code, microt_ErrorCode_ERR_NO_MODEL);
    assert_int_equal(capture(0, 4000, 4000, frame, sizeof(frame), &r), 0);
    assert_int_equal(r.body.error.code, microt_ErrorCode_ERR_BAD_REQUEST);
    sbc_stop(SIGTERM);

    /* Without --camera: no capability, a clear error. */
    assert_int_equal(sbc_start("h7a3zi", NULL), 0);
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_hello_tag;
    assert_int_equal(sbc_call(&m, &r, 5000), 0);
    assert_false(r.body.device_info.capabilities & microt_Capability_CAP_CAPTURE);
    assert_int_equal(capture(0, 32, 32, frame, sizeof(frame), &r), 0);
    assert_int_equal(r.body.error.code, microt_ErrorCode_ERR_STATE);
    sbc_stop(SIGTERM);
    sbc_teardown();
}

/* The whole loop through the simulator's main loop and link: push, samples, train, classify. */
static int sim_transfer(microt_TransferKind kind, const uint8_t *data, uint32_t total, int32_t label,
                        microt_Message *r)
{
    static microt_Message m;
    uint8_t sha[32];
    sha256(data, total, sha);
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_transfer_begin_tag;
    m.body.transfer_begin.kind = kind;
    m.body.transfer_begin.total_bytes = total;
    m.body.transfer_begin.label = label;
    memcpy(m.body.transfer_begin.sha256.bytes, sha, 32);
    m.body.transfer_begin.sha256.size = 32;
    if (sbc_call(&m, r, 5000) != 0 || r->which_body != microt_Message_transfer_status_tag)
        return -1;
    if (sbc_chunks(data, r->body.transfer_status.offset, total, 2048u) != 0)
        return -1;
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_transfer_end_tag;
    return sbc_call(&m, r, 20000);
}

static void test_sim_end_to_end(void **state)
{
    (void)state;
    static microt_Message m, r;
    need_data();
    assert_int_equal(sbc_setup(), 0);
    assert_int_equal(sbc_start("l4r5zi", NULL), 0);
    assert_int_equal(sim_transfer(microt_TransferKind_TRANSFER_MODEL, mi.image, mi.image_bytes, 0, &r), 0);
    assert_int_equal(r.which_body, microt_Message_model_status_tag);

    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_reset_samples_tag;
    m.body.reset_samples.num_classes = 2;
    assert_int_equal(sbc_call(&m, &r, 5000), 0);
    assert_int_equal(r.which_body, microt_Message_sample_result_tag);
    /* Classes 0 (T-shirt) and 1 (trouser): 6 samples each. */
    uint32_t sent = 0;
    for (uint32_t i = 0; i < train_set.n && sent < 12; i++) {
        if (train_set.labels[i] > 1)
            continue;
        make_input(train_set.pixels[i], input);
        assert_int_equal(sim_transfer(microt_TransferKind_TRANSFER_SAMPLE, (const uint8_t *)input,
                                      IN_BYTES, train_set.labels[i], &r), 0);
        assert_int_equal(r.which_body, microt_Message_sample_result_tag);
        assert_int_equal(r.body.sample_result.cached, ++sent);
    }
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_train_heads_tag;
    m.body.train_heads.seed = 7;
    m.body.train_heads.holdout_fraction = 0.34f;
    assert_int_equal(sbc_call(&m, &r, 20000), 0);
    assert_int_equal(r.which_body, microt_Message_train_result_tag);
    assert_int_equal(r.body.train_result.samples, 12);
    assert_int_equal(r.body.train_result.holdout, 4);
    assert_true(r.body.train_result.train_energy_nj > 0);

    uint32_t ok = 0, n = 0;
    for (uint32_t i = 0; i < test_set.n; i++) {
        if (test_set.labels[i] > 1)
            continue;
        make_input(test_set.pixels[i], input);
        assert_int_equal(sim_transfer(microt_TransferKind_TRANSFER_IMAGE, (const uint8_t *)input,
                                      IN_BYTES, -1, &r), 0);
        assert_int_equal(r.which_body, microt_Message_inference_tag);
        assert_true(r.body.inference.stage == 1 || r.body.inference.stage == 2);
        assert_true(r.body.inference.energy_nj > 0);
        ok += r.body.inference.cls == (int32_t)test_set.labels[i];
        n++;
    }
    /* T-shirts and trousers are easy: most of them right. */
    assert_true(ok * 4u >= n * 3u);
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_get_stats_tag;
    assert_int_equal(sbc_call(&m, &r, 5000), 0);
    assert_int_equal(r.body.stats.inferences, n);
    assert_true(r.body.stats.energy_nj > 0);
    sbc_stop(SIGTERM);
    sbc_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_ratio_and_staged_inference),
        cmocka_unit_test(test_errors_and_cache_capacity),
        cmocka_unit_test(test_sim_camera_capture),
        cmocka_unit_test(test_sim_end_to_end),
    };
    char path[600], err[256];
    model_import_opts_t opts = {.cut = "8", .keep_classifier = false};
    const char *shared = harness_shared_dir();
    if (shared != NULL) {
        snprintf(path, sizeof(path), "%s/models/proxyless-w0.3.tflite", shared);
        if (access(path, R_OK) == 0 && model_import_file(path, &opts, &mi, err, sizeof(err)) == 0 &&
            load_idx("train", TRAIN_PER_CLASS, &train_set) == 0 &&
            load_idx("t10k", TEST_PER_CLASS, &test_set) == 0) {
            sha256(mi.image, mi.image_bytes, model_sha);
            have_data = true;
        }
    }
    if (!have_data)
        printf("SKIP: ../shared/models/proxyless-w0.3.tflite or Fashion-MNIST absent\n");
    int rc = cmocka_run_group_tests_name("personalize", tests, NULL, NULL);
    model_import_free(&mi);
    return rc;
}
