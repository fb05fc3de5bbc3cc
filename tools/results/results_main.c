/*
 * results_main.c — MicroT personalization on real images, run through the board's own code.
 *
 * For one backbone (.tflite from ../shared/models) and Fashion-MNIST (Debian's
 * dataset-fashion-mnist): imports the model with the part-model cut (daemon/import), runs every
 * labeled sample through stage 1 and the resumed stage 2 of the int8 engine, caches both pooled
 * features in a feature cache sized like the H7A3ZI's free SRAM, splits off a seeded hold-out
 * set, trains the part and full heads (head.c), calibrates the stage decision (stage.c) and
 * evaluates on separate test images: each head, the staged model at every ratio, and a live
 * staged run at r = 0.5 that resumes stage 2 only when the part head is unsure (its MAC counters
 * prove nothing is computed twice). Cycles come from the per-board cost model (cost.c, energy.c).
 *
 * Writes OUT/board.json (every figure) and the features the heads saw (OUT/train_*.f32, test_*.f32,
 * and the label files) so that
 * tools/results/results_report.py can fit sklearn's reference on the very same numbers.
 *
 *   microt-results --model M.tflite --name NAME --cut 8 --train-per-class 100
 *                  --test-per-class 50 --seed 1 --out build/results/NAME
 *
 * Host program (C11, stdio/malloc allowed); the board code it drives is the firmware core.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cost.h"
#include "energy.h"
#include "engine.h"
#include "feat_cache.h"
#include "head.h"
#include "import/model_import.h"
#include "infer.h"
#include "personal.h"
#include "stage.h"

#define R_CLASSES 10u
#define R_SIDE 28u
#define R_MAX_PER_CLASS 1000u
/* The personalization session's region on each board (heads, L-BFGS scratch, split lists,
 * feature cache): SRAM - 160 KiB engine arena (these backbones plan 128-160 KiB) - 96 KiB for
 * the firmware's static data, stacks, link buffers and the stage record. H7A3ZI: 1400 KiB SRAM
 * -> 1144 KiB; L4R5ZI: 640 KiB -> 384 KiB. */
#define R_REGION_BYTES (1144u * 1024u)
#define R_L4_REGION_BYTES (384u * 1024u)

typedef struct {
    uint32_t n;
    uint8_t *pixels;    /* n x 28 x 28 */
    uint8_t *labels;
} r_images_t;

static uint8_t r_region[R_REGION_BYTES] __attribute__((aligned(8)));

/* Engine hook: adds the MACs of each op as it is executed. */
static const engine_t *r_hook_engine;
static void r_count_macs(void *ctx, uint32_t op_index, uint32_t tensor_index, const int8_t *data,
                         uint32_t bytes)
{
    (void)tensor_index;
    (void)data;
    (void)bytes;
    uint64_t *total = ctx;
    if (r_hook_engine != NULL && op_index < r_hook_engine->hdr->n_ops)
        *total += r_hook_engine->ops[op_index].macs;
}

/* The engine times each op with hal_cycles(); the figures here use the cost model (cost.c), not
 * host time, so this program links without a host port and counts 0 when none provides it. */
__attribute__((weak)) uint64_t hal_cycles(void)
{
    return 0;
}

static int r_read_gz(const char *path, uint8_t **data, size_t *len)
{
    int rc = -1;
    size_t cap = 1u << 20, n = 0;
    uint8_t *buf = NULL;
    gzFile f = gzopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "results: cannot open %s: %s\n", path, strerror(errno));
        goto out;
    }
    buf = malloc(cap);
    if (buf == NULL)
        goto out;
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2u);
            if (nb == NULL)
                goto out;
            buf = nb;
            cap *= 2u;
        }
        int got = gzread(f, buf + n, (unsigned)(cap - n));
        if (got < 0)
            goto out;
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *data = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    if (f != NULL)
        gzclose(f);
    return rc;
}

static uint32_t r_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads an IDX image/label file pair and keeps the first per_class images of each class, in
 * file order. */
static int r_load(const char *dir, const char *prefix, uint32_t per_class, r_images_t *out)
{
    int rc = -1;
    char path[512];
    uint8_t *img = NULL, *lab = NULL;
    size_t img_len = 0, lab_len = 0;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    if (r_read_gz(path, &img, &img_len) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    if (r_read_gz(path, &lab, &lab_len) != 0)
        goto out;
    if (img_len < 16 || lab_len < 8 || r_be32(img) != 0x803 || r_be32(lab) != 0x801 ||
        r_be32(img + 8) != R_SIDE || r_be32(img + 12) != R_SIDE) {
        fprintf(stderr, "results: %s is not an IDX image/label pair\n", prefix);
        goto out;
    }
    uint32_t count = r_be32(img + 4);
    if (r_be32(lab + 4) != count || img_len < 16u + (size_t)count * R_SIDE * R_SIDE ||
        lab_len < 8u + count)
        goto out;
    out->pixels = malloc((size_t)per_class * R_CLASSES * R_SIDE * R_SIDE);
    out->labels = malloc((size_t)per_class * R_CLASSES);
    if (out->pixels == NULL || out->labels == NULL)
        goto out;
    uint32_t have[R_CLASSES] = {0};
    out->n = 0;
    for (uint32_t i = 0; i < count && out->n < per_class * R_CLASSES; i++) {
        uint8_t y = lab[8 + i];
        if (y >= R_CLASSES || have[y] >= per_class)
            continue;
        have[y]++;
        memcpy(out->pixels + (size_t)out->n * R_SIDE * R_SIDE, img + 16 + (size_t)i * R_SIDE * R_SIDE,
               R_SIDE * R_SIDE);
        out->labels[out->n++] = y;
    }
    rc = 0;
out:
    free(img);
    free(lab);
    return rc;
}

/* Bilinear resize 28x28 -> side x side (half-pixel centres, edge clamped, as TF's
 * resize_bilinear with half_pixel_centers and PIL), grey replicated to 3 channels, and the
 * models' input quantisation: uint8 p -> int8 p - 128 (../shared/models/README.md). */
static void r_make_input(const uint8_t *grey, int8_t *dst, uint32_t side)
{
    float scale = (float)R_SIDE / (float)side;
    for (uint32_t y = 0; y < side; y++) {
        float sy = ((float)y + 0.5f) * scale - 0.5f;
        if (sy < 0.0f)
            sy = 0.0f;
        uint32_t y0 = (uint32_t)sy, y1 = y0 + 1u < R_SIDE ? y0 + 1u : R_SIDE - 1u;
        float fy = sy - (float)y0;
        for (uint32_t x = 0; x < side; x++) {
            float sx = ((float)x + 0.5f) * scale - 0.5f;
            if (sx < 0.0f)
                sx = 0.0f;
            uint32_t x0 = (uint32_t)sx, x1 = x0 + 1u < R_SIDE ? x0 + 1u : R_SIDE - 1u;
            float fx = sx - (float)x0;
            float top = grey[y0 * R_SIDE + x0] * (1.0f - fx) + grey[y0 * R_SIDE + x1] * fx;
            float bot = grey[y1 * R_SIDE + x0] * (1.0f - fx) + grey[y1 * R_SIDE + x1] * fx;
            int v = (int)(top * (1.0f - fy) + bot * fy + 0.5f);
            int8_t q = (int8_t)((v > 255 ? 255 : v) - 128);
            int8_t *px = dst + ((size_t)y * side + x) * 3u;
            px[0] = px[1] = px[2] = q;
        }
    }
}

static int r_set_input(engine_t *e, const uint8_t *grey)
{
    uint32_t bytes = 0;
    int8_t *in = engine_input(e, &bytes);
    const mt_tensor_t *t = &e->tensors[e->hdr->input_tensor];
    uint32_t side = (uint32_t)t->shape[1];
    if (in == NULL || t->shape[2] != (int32_t)side || t->shape[3] != 3 || bytes != side * side * 3u)
        return -1;
    r_make_input(grey, in, side);
    return 0;
}

/* mkdir -p: the output directory and its missing parents. */
static int r_mkdirs(const char *dir)
{
    char path[512];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return -1;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char c = path[i];
            path[i] = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                return -1;
            path[i] = c;
        }
    }
    return 0;
}

static int r_write(const char *dir, const char *name, const void *data, size_t bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, bytes, f);
    return fclose(f) == 0 && w == bytes ? 0 : -1;
}

typedef struct {
    const energy_profile_t *prof;
    uint64_t stage1_cycles, stage2_cycles;      /* engine + head, per inference */
    uint64_t engine1_cycles, engine2_cycles;    /* engine only */
} r_board_t;

static const char *r_stop_name(head_stop_t s)
{
    switch (s) {
    case HEAD_STOP_GRADIENT: return "gradient";
    case HEAD_STOP_LOSS: return "loss";
    case HEAD_STOP_MAX_ITER: return "max_iter";
    default: return "line_search";
    }
}

static void r_json_report(FILE *f, const char *key, const head_train_report_t *r, float train_acc,
                          float hold_acc, float test_acc, r_board_t *boards)
{
    fprintf(f, "  \"%s\": {\"samples\": %u, \"iterations\": %u, \"evaluations\": %u, "
               "\"loss\": %.6f, \"grad_max\": %.3g, \"stop\": \"%s\", \"float_macs\": %llu, "
               "\"float_exps\": %llu, \"scratch_bytes\": %u, \"train_acc\": %.4f, "
               "\"holdout_acc\": %.4f, \"test_acc\": %.4f, \"train_energy_uj\": {",
            key, r->samples, r->iterations, r->evaluations, r->loss, r->grad_max,
            r_stop_name(r->stop), (unsigned long long)r->float_macs,
            (unsigned long long)r->float_exps, r->scratch_bytes, train_acc, hold_acc, test_acc);
    for (int b = 0; b < 2; b++)
        fprintf(f, "%s\"%s\": %.3f", b ? ", " : "", boards[b].prof->name,
                energy_nj(boards[b].prof,
                          (double)cost_float_cycles(boards[b].prof, r->float_macs, r->float_exps)) /
                    1e3);
    fprintf(f, "}},\n");
}

static float r_set_accuracy(const head_t *h, const head_set_t *s)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t row = s->index ? s->index[i] : i;
        ok += head_predict(h, s->features + (size_t)row * h->dim, NULL, NULL) == s->labels[row];
    }
    return s->count ? (float)ok / (float)s->count : 0.0f;
}

int main(int argc, char **argv)
{
    int rc = 1;
    const char *model_path = NULL, *name = NULL, *cut = "8", *out_dir = NULL;
    const char *data_dir = getenv("FASHION_MNIST_DIR");
    uint32_t per_train = 100, per_test = 50, seed = 1;
    float holdout = 0.2f;
    if (data_dir == NULL)
        data_dir = "/usr/share/datasets/fashion-mnist";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model_path = argv[i + 1];
        else if (!strcmp(argv[i], "--name")) name = argv[i + 1];
        else if (!strcmp(argv[i], "--cut")) cut = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out_dir = argv[i + 1];
        else if (!strcmp(argv[i], "--train-per-class")) per_train = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--test-per-class")) per_test = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--holdout")) holdout = (float)atof(argv[i + 1]);
        else {
            fprintf(stderr, "results: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (model_path == NULL || name == NULL || out_dir == NULL || per_train == 0 ||
        per_train > R_MAX_PER_CLASS || per_test == 0 || per_test > R_MAX_PER_CLASS) {
        fprintf(stderr, "usage: %s --model M.tflite --name NAME --out DIR [--cut N] "
                        "[--train-per-class N] [--test-per-class N] [--seed S] [--holdout F]\n",
                argv[0]);
        return 2;
    }

    r_images_t train = {0}, test = {0};
    model_import_t mi;
    memset(&mi, 0, sizeof mi);
    uint8_t *arena = NULL, *image = NULL;
    float *test_part = NULL, *test_full = NULL, *dump = NULL;
    int16_t *pred_part = NULL, *pred_full = NULL;
    float *conf_part = NULL;
    char err[256] = "";
    engine_t e;
    FILE *jf = NULL;

    if (r_mkdirs(out_dir) != 0) {
        fprintf(stderr, "results: cannot create %s: %s\n", out_dir, strerror(errno));
        goto out;
    }
    if (r_load(data_dir, "train", per_train, &train) != 0 ||
        r_load(data_dir, "t10k", per_test, &test) != 0)
        goto out;
    model_import_opts_t opts = {.cut = cut, .keep_classifier = false};
    if (model_import_file(model_path, &opts, &mi, err, sizeof err) != 0) {
        fprintf(stderr, "results: import %s: %s\n", model_path, err);
        goto out;
    }
    /* The engine wants 4-byte aligned image and arena: copy the image into aligned memory as
     * flash would hold it. */
    image = aligned_alloc(8, (mi.image_bytes + 7u) & ~7u);
    arena = aligned_alloc(8, (mi.arena_bytes + 7u) & ~7u);
    if (image == NULL || arena == NULL)
        goto out;
    memcpy(image, mi.image, mi.image_bytes);
    engine_status_t est = engine_open(&e, image, mi.image_bytes, arena, mi.arena_bytes);
    if (est != ENGINE_OK) {
        fprintf(stderr, "results: engine_open: %s\n", engine_strerror(est));
        goto out;
    }
    const uint32_t PD = engine_part_dim(&e), FD = engine_full_dim(&e);
    r_board_t boards[2] = {{.prof = energy_profile(ENERGY_BOARD_H7A3ZI)},
                           {.prof = energy_profile(ENERGY_BOARD_L4R5ZI)}};
    uint64_t macs1 = 0, macs2 = 0;
    for (int b = 0; b < 2; b++) {
        boards[b].engine1_cycles = cost_stage_cycles(&e, boards[b].prof, 1, &macs1);
        boards[b].engine2_cycles = cost_stage_cycles(&e, boards[b].prof, 2, &macs2);
    }
    /* The board's personalization session (personal.c), laid out over each board's budget: the
     * L4R5ZI's only to report its capacity, the H7A3ZI's for the run. */
    static personal_t sess;
    if (personal_reset(&sess, r_region, R_L4_REGION_BYTES, &e, R_CLASSES, boards[1].prof) !=
        PERSONAL_OK)
        goto out;
    uint32_t capacity_l4 = personal_capacity(&sess);
    if (personal_reset(&sess, r_region, sizeof r_region, &e, R_CLASSES, boards[0].prof) !=
        PERSONAL_OK)
        goto out;

    /* 1. Feature extraction of the labeled samples into the cache (the board's path). */
    uint32_t refused = 0;
    for (uint32_t i = 0; i < train.n; i++) {
        if (r_set_input(&e, train.pixels + (size_t)i * R_SIDE * R_SIDE) != 0)
            goto out;
        int32_t row = personal_add_sample(&sess, &e, train.labels[i], NULL);
        if (row == PERSONAL_ENOSPACE) {
            refused++;
        } else if (row < 0) {
            fprintf(stderr, "results: sample %u refused (%d)\n", i, (int)row);
            goto out;
        }
    }
    /* Test images: both features kept on the host to evaluate every ratio offline. */
    test_part = malloc((size_t)test.n * PD * sizeof(float));
    test_full = malloc((size_t)test.n * FD * sizeof(float));
    if (test_part == NULL || test_full == NULL)
        goto out;
    for (uint32_t i = 0; i < test.n; i++) {
        if (r_set_input(&e, test.pixels + (size_t)i * R_SIDE * R_SIDE) != 0 ||
            engine_run_stage1(&e, test_part + (size_t)i * PD) != ENGINE_OK ||
            engine_run_stage2(&e, test_full + (size_t)i * FD) != ENGINE_OK)
            goto out;
    }

    /* 2-4. Seeded hold-out split, both heads, calibration: one personal_train() as on the board
     * (ratio 0.5 set first, so the threshold is ready for the live run). */
    personal_train_cfg_t tcfg = {.seed = seed, .holdout_fraction = holdout, .l2 = 0.0f,
                                 .max_iter = 0};
    personal_train_result_t tres;
    personal_set_ratio(&sess, 0.5f, NULL);
    personal_status_t pst = personal_train(&sess, &tcfg, &tres);
    if (pst != PERSONAL_OK) {
        fprintf(stderr, "results: training failed (%d)\n", (int)pst);
        goto out;
    }
    const head_train_report_t rp = tres.part_report, rf = tres.full_report;
    const uint16_t *train_idx = sess.train_index, *hold_idx = sess.hold_index;
    const uint32_t n_train = sess.train_count, n_hold = sess.hold_count;
    head_train_cfg_t cfg = head_default_cfg();
    cfg.history = PERSONAL_HISTORY;
    size_t scratch_bytes = sess.scratch_bytes;
    head_set_t sp = feat_cache_part_set(&sess.cache, train_idx, n_train);
    head_set_t sf = feat_cache_full_set(&sess.cache, train_idx, n_train);
    for (int b = 0; b < 2; b++) {
        boards[b].stage1_cycles = boards[b].engine1_cycles +
            cost_float_cycles(boards[b].prof, head_predict_macs(&sess.part_head), head_predict_exps(&sess.part_head));
        boards[b].stage2_cycles = boards[b].engine2_cycles +
            cost_float_cycles(boards[b].prof, head_predict_macs(&sess.full_head), head_predict_exps(&sess.full_head));
    }
    uint64_t calib_macs = (uint64_t)n_hold * (head_predict_macs(&sess.part_head) + head_predict_macs(&sess.full_head));
    uint64_t calib_exps = (uint64_t)n_hold * (head_predict_exps(&sess.part_head) + head_predict_exps(&sess.full_head));

    /* 5. Test set: each head, then the staged model at every ratio with the calibrated threshold. */
    pred_part = malloc(test.n * sizeof(int16_t));
    pred_full = malloc(test.n * sizeof(int16_t));
    conf_part = malloc(test.n * sizeof(float));
    if (pred_part == NULL || pred_full == NULL || conf_part == NULL)
        goto out;
    uint32_t ok_part = 0, ok_full = 0;
    for (uint32_t i = 0; i < test.n; i++) {
        pred_part[i] = (int16_t)head_predict(&sess.part_head, test_part + (size_t)i * PD, NULL, &conf_part[i]);
        pred_full[i] = (int16_t)head_predict(&sess.full_head, test_full + (size_t)i * FD, NULL, NULL);
        ok_part += pred_part[i] == test.labels[i];
        ok_full += pred_full[i] == test.labels[i];
    }

    /* 6. Live staged inference at r = 0.5 on the test images through the board's own path
     * (infer.c): stage 2 resumes only when the part head is unsure. An engine hook adds up the
     * MACs of every op actually executed, to show stage 1 runs once per image and stage 2 at most
     * once, never re-running stage 1's blocks. */
    uint64_t live_macs = 0, live_resumed = 0, live_ok = 0;
    double live_energy_nj = 0.0;
    r_hook_engine = &e;
    engine_set_hook(&e, r_count_macs, &live_macs);
    for (uint32_t i = 0; i < test.n; i++) {
        infer_result_t res;
        if (r_set_input(&e, test.pixels + (size_t)i * R_SIDE * R_SIDE) != 0 ||
            personal_infer(&sess, &e, &res) != PERSONAL_OK)
            goto out;
        live_resumed += res.stage == 2;
        live_ok += res.class_index == test.labels[i];
        live_energy_nj += res.energy_nj;
    }
    engine_set_hook(&e, NULL, NULL);

    /* 6b. The same heads trained without the on-board standardisation (sklearn's objective on
     * raw features), only to compare with sklearn on that objective too; the board uses the
     * standardised heads above. The session's scratch is free again after training. */
    head_train_cfg_t raw_cfg = cfg;
    raw_cfg.standardize = false;
    head_t hp_raw, hf_raw;
    head_train_report_t rp_raw, rf_raw;
    float *raw_models = malloc(head_model_bytes(PD, R_CLASSES) + head_model_bytes(FD, R_CLASSES));
    if (raw_models == NULL)
        goto out;
    uint32_t ok_part_raw = 0, ok_full_raw = 0;
    if (head_init(&hp_raw, PD, R_CLASSES, raw_models, head_model_bytes(PD, R_CLASSES)) != HEAD_OK ||
        head_init(&hf_raw, FD, R_CLASSES, raw_models + (size_t)R_CLASSES * (PD + 1u),
                  head_model_bytes(FD, R_CLASSES)) != HEAD_OK ||
        head_train(&hp_raw, &sp, &raw_cfg, sess.scratch, scratch_bytes, &rp_raw) != HEAD_OK ||
        head_train(&hf_raw, &sf, &raw_cfg, sess.scratch, scratch_bytes, &rf_raw) != HEAD_OK) {
        free(raw_models);
        goto out;
    }
    for (uint32_t i = 0; i < test.n; i++) {
        ok_part_raw += head_predict(&hp_raw, test_part + (size_t)i * PD, NULL, NULL) == test.labels[i];
        ok_full_raw += head_predict(&hf_raw, test_full + (size_t)i * FD, NULL, NULL) == test.labels[i];
    }
    free(raw_models);

    /* 7. Dumps for the sklearn reference: the heads' training rows and the test rows. */
    dump = malloc((size_t)(n_train > test.n ? n_train : test.n) * (PD > FD ? PD : FD) *
                  sizeof(float));
    uint8_t *dump_lab = malloc(n_train > test.n ? n_train : test.n);
    if (dump == NULL || dump_lab == NULL) {
        free(dump_lab);
        goto out;
    }
    for (uint32_t i = 0; i < n_train; i++) {
        memcpy(dump + (size_t)i * PD, sess.cache.part + (size_t)train_idx[i] * PD, PD * sizeof(float));
        dump_lab[i] = sess.cache.labels[train_idx[i]];
    }
    int werr = r_write(out_dir, "train_part.f32", dump, (size_t)n_train * PD * sizeof(float));
    for (uint32_t i = 0; i < n_train; i++)
        memcpy(dump + (size_t)i * FD, sess.cache.full + (size_t)train_idx[i] * FD, FD * sizeof(float));
    werr |= r_write(out_dir, "train_full.f32", dump, (size_t)n_train * FD * sizeof(float));
    werr |= r_write(out_dir, "train_labels.u8", dump_lab, n_train);
    werr |= r_write(out_dir, "test_part.f32", test_part, (size_t)test.n * PD * sizeof(float));
    werr |= r_write(out_dir, "test_full.f32", test_full, (size_t)test.n * FD * sizeof(float));
    werr |= r_write(out_dir, "test_labels.u8", test.labels, test.n);
    free(dump_lab);
    if (werr != 0) {
        fprintf(stderr, "results: cannot write dumps in %s\n", out_dir);
        goto out;
    }

    /* 8. board.json */
    char path[512];
    snprintf(path, sizeof path, "%s/board.json", out_dir);
    jf = fopen(path, "w");
    if (jf == NULL)
        goto out;
    fprintf(jf, "{\n  \"model\": \"%s\", \"file\": \"%s\", \"cut\": \"%s\", \"seed\": %u, "
                "\"holdout_fraction\": %.3f,\n",
            name, model_path, cut, seed, holdout);
    fprintf(jf, "  \"part_dim\": %u, \"full_dim\": %u, \"classes\": %u,\n", PD, FD, R_CLASSES);
    fprintf(jf, "  \"macs_stage1\": %llu, \"macs_stage2\": %llu, \"arena_bytes\": %u, "
                "\"arena_stage1_bytes\": %u, \"image_bytes\": %u,\n",
            (unsigned long long)macs1, (unsigned long long)macs2, mi.arena_bytes,
            mi.arena_stage1_bytes, mi.image_bytes);
    fprintf(jf, "  \"samples\": {\"offered\": %u, \"cached\": %u, \"refused\": %u, \"train\": %u, "
                "\"holdout\": %u, \"test\": %u, \"cache_capacity_h7a3zi\": %u, "
                "\"cache_capacity_l4r5zi\": %u, \"sample_bytes\": %zu},\n",
            train.n, sess.cache.count, refused, n_train, n_hold, test.n, sess.cache.capacity,
            capacity_l4, feat_cache_sample_bytes(PD, FD));
    float tr_p = r_set_accuracy(&sess.part_head, &sp), tr_f = r_set_accuracy(&sess.full_head, &sf);
    head_set_t hsp = feat_cache_part_set(&sess.cache, hold_idx, n_hold);
    head_set_t hsf = feat_cache_full_set(&sess.cache, hold_idx, n_hold);
    r_json_report(jf, "part_head", &rp, tr_p, r_set_accuracy(&sess.part_head, &hsp),
                  (float)ok_part / test.n, boards);
    r_json_report(jf, "full_head", &rf, tr_f, r_set_accuracy(&sess.full_head, &hsf),
                  (float)ok_full / test.n, boards);

    /* Per-board stage costs and the phases of one training run. */
    fprintf(jf, "  \"boards\": {\n");
    for (int b = 0; b < 2; b++) {
        const energy_profile_t *p = boards[b].prof;
        uint64_t extract = (uint64_t)sess.cache.count * (boards[b].engine1_cycles + boards[b].engine2_cycles);
        uint64_t trainc = cost_float_cycles(p, rp.float_macs, rp.float_exps) +
                          cost_float_cycles(p, rf.float_macs, rf.float_exps);
        uint64_t train_ttl = cost_float_cycles(p, rf.float_macs, rf.float_exps);
        uint64_t calib = cost_float_cycles(p, calib_macs, calib_exps);
        fprintf(jf, "    \"%s\": {\"cpu_hz\": %u, \"supply_mv\": %u, \"run_current_ua\": %u, "
                    "\"current_source\": \"%s\",\n",
                p->name, p->cpu_hz, p->supply_mv, p->run_current_ua, p->current_source);
        fprintf(jf, "      \"stage1_cycles\": %llu, \"stage2_cycles\": %llu, "
                    "\"stage1_uj\": %.3f, \"stage2_uj\": %.3f, \"stage1_ms\": %.2f, "
                    "\"stage2_ms\": %.2f,\n",
                (unsigned long long)boards[b].stage1_cycles,
                (unsigned long long)boards[b].stage2_cycles,
                energy_nj(p, (double)boards[b].stage1_cycles) / 1e3,
                energy_nj(p, (double)boards[b].stage2_cycles) / 1e3,
                energy_time_us(p, boards[b].stage1_cycles) / 1e3,
                energy_time_us(p, boards[b].stage2_cycles) / 1e3);
        fprintf(jf, "      \"phases_uj\": {\"feature_extraction\": %.1f, \"head_training\": %.3f, "
                    "\"head_training_ttl_only\": %.3f, \"calibration\": %.3f},\n",
                energy_nj(p, (double)extract) / 1e3, energy_nj(p, (double)trainc) / 1e3,
                energy_nj(p, (double)train_ttl) / 1e3, energy_nj(p, (double)calib) / 1e3);
        fprintf(jf, "      \"phases_cycles\": {\"feature_extraction\": %llu, \"head_training\": "
                    "%llu, \"calibration\": %llu}},\n",
                (unsigned long long)extract, (unsigned long long)trainc,
                (unsigned long long)calib);
    }
    fprintf(jf, "    \"_\": null},\n");

    /* Peak RAM of the training run on the board, as personal_train() reports it: engine arena +
     * the session region's used part (heads, scratch, split lists, cached rows) + stage record. */
    size_t ram = tres.peak_ram_bytes;
    fprintf(jf, "  \"raw_objective\": {\"part_test_acc\": %.4f, \"full_test_acc\": %.4f, "
                "\"part_iterations\": %u, \"full_iterations\": %u, \"part_stop\": \"%s\", "
                "\"full_stop\": \"%s\"},\n",
            (double)ok_part_raw / test.n, (double)ok_full_raw / test.n, rp_raw.iterations,
            rf_raw.iterations, r_stop_name(rp_raw.stop), r_stop_name(rf_raw.stop));
    fprintf(jf, "  \"peak_ram_bytes\": %zu, \"stage_record_bytes\": %zu,\n", ram, sizeof(stage_t));

    /* The test-set figures at every ratio, with the threshold calibrated on the hold-out. */
    fprintf(jf, "  \"ratios\": [\n");
    for (uint32_t k = 0; k < STAGE_CURVE_POINTS; k++) {
        float r = (float)k / (STAGE_CURVE_POINTS - 1u);
        float thr = stage_threshold_for(&sess.stage, r);
        uint32_t exits = 0, ok = 0;
        for (uint32_t i = 0; i < test.n; i++) {
            bool ex = conf_part[i] >= thr;
            exits += ex;
            ok += (ex ? pred_part[i] : pred_full[i]) == test.labels[i];
        }
        stage_point_t cal;
        stage_point(&sess.stage, boards[0].prof, r, &cal);
        double ef = (double)exits / test.n;
        fprintf(jf, "    {\"ratio\": %.2f, \"threshold\": %.6f, \"test_exit_fraction\": %.4f, "
                    "\"test_acc\": %.4f, \"holdout_exit_fraction\": %.4f, \"holdout_acc\": %.4f",
                r, isinf(thr) ? -1.0 : thr, ef, (double)ok / test.n, cal.exit_fraction,
                cal.accuracy);
        for (int b = 0; b < 2; b++) {
            double cyc = (double)boards[b].stage1_cycles + (1.0 - ef) * boards[b].stage2_cycles;
            fprintf(jf, ", \"energy_uj_%s\": %.3f", boards[b].prof->name,
                    energy_nj(boards[b].prof, cyc) / 1e3);
        }
        fprintf(jf, "}%s\n", k + 1 < STAGE_CURVE_POINTS ? "," : "");
    }
    fprintf(jf, "  ],\n");

    /* Inverse queries on the calibration data (H7A3ZI energies). */
    stage_point_t p0, p1;
    stage_point(&sess.stage, boards[0].prof, 0.0f, &p0);
    stage_point(&sess.stage, boards[0].prof, 1.0f, &p1);
    double budget = (p0.energy_nj + p1.energy_nj) / 2.0;
    float r_budget = -1.0f, r_floor = -1.0f;
    float floor_acc = p0.accuracy - 0.01f;
    stage_status_t s1 = stage_ratio_for_energy(&sess.stage, boards[0].prof, budget, &r_budget);
    stage_status_t s2 = stage_ratio_for_accuracy(&sess.stage, floor_acc, &r_floor);
    fprintf(jf, "  \"inverse\": {\"energy_budget_uj\": %.3f, \"ratio_for_budget\": %.4f, "
                "\"budget_status\": %d, \"accuracy_floor\": %.4f, \"ratio_for_floor\": %.4f, "
                "\"floor_status\": %d},\n",
            budget / 1e3, r_budget, s1, floor_acc, r_floor, s2);
    /* The engine counts every op (element ops too): compare with its image header totals. */
    uint64_t expect_live = (uint64_t)test.n * e.hdr->macs_stage1 + live_resumed * e.hdr->macs_stage2;
    fprintf(jf, "  \"live_r0.5\": {\"images\": %u, \"resumed\": %llu, \"acc\": %.4f, "
                "\"engine_macs\": %llu, \"expected_macs\": %llu, \"energy_uj_h7a3zi\": %.3f}\n}\n",
            test.n, (unsigned long long)live_resumed, (double)live_ok / test.n,
            (unsigned long long)live_macs, (unsigned long long)expect_live,
            live_energy_nj / test.n / 1e3);
    if (fclose(jf) != 0) {
        jf = NULL;
        goto out;
    }
    jf = NULL;
    printf("results: %s: part %.3f full %.3f (test, %u images), %u cached (%u refused), "
           "part head %u iters, full head %u iters; live r=0.5 acc %.3f, %llu resumed\n",
           name, (double)ok_part / test.n, (double)ok_full / test.n, test.n, sess.cache.count, refused,
           rp.iterations, rf.iterations, (double)live_ok / test.n,
           (unsigned long long)live_resumed);
    rc = 0;
out:
    if (jf != NULL)
        fclose(jf);
    model_import_free(&mi);
    free(train.pixels);
    free(train.labels);
    free(test.pixels);
    free(test.labels);
    free(arena);
    free(image);
    free(test_part);
    free(test_full);
    free(pred_part);
    free(pred_full);
    free(conf_part);
    free(dump);
    return rc;
}
