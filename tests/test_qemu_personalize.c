/*
 * test_qemu_personalize.c — the whole MicroT loop on the real ARM firmware: the firmware core on
 * the QEMU Cortex-M4 port (build/firmware/qemu-an386/microt.elf, kernels with the SMLAD paths)
 * and the same core on the host (microt-sim, the plain C kernels) get the same requests over
 * their ptys — push ProxylessNAS-w0.3 cut after block 8, ResetSamples, labelled Fashion-MNIST
 * samples, TrainHeads, then staged inference — and must agree: the same model status, the same
 * samples cached, the trained heads' metrics within float rounding (the Cortex-M4 fuses
 * multiply-adds and has newlib's expf, the host has neither), and for every test image the same
 * class and stage with the confidence within float rounding. The int8 features behind them are
 * bit-identical (tests/test_qemu_engine.py). Skips when QEMU, the image, the model or
 * Fashion-MNIST is absent. QEMU and the simulator are started and stopped by PID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "import/model_import.h"
#include "sha256.h"
#include "sim_board_client.h"

#define QEMU_BIN "/usr/bin/qemu-system-arm"
#define SIDE 28u
#define IN_SIDE 128u
#define IN_BYTES (IN_SIDE * IN_SIDE * 3u)
#define N_TRAIN 8u /* four per class, classes 0 (T-shirt) and 1 (trouser) */
#define N_TEST 6u

typedef struct {
    microt_ModelStatus model;
    uint32_t cached[N_TRAIN];
    microt_TrainResult train;
    microt_Inference inf[N_TEST];
} run_t;

static model_import_t mi;
static bool have_data;
static uint8_t train_px[N_TRAIN][SIDE * SIDE], test_px[N_TEST][SIDE * SIDE];
static int32_t train_lbl[N_TRAIN], test_lbl[N_TEST];
static int8_t input[IN_BYTES];
static run_t runs[2];

static uint8_t *gunzip(const char *path, size_t *len)
{
    char cmd[700];
    size_t cap = 64u << 20, n = 0, got;
    snprintf(cmd, sizeof(cmd), "gzip -dc '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    uint8_t *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, p)) > 0)
        n += got;
    if (pclose(p) != 0 || n < 16) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The first `want` images of classes 0 and 1, alternating classes. */
static int load(const char *prefix, uint32_t want, uint8_t px[][SIDE * SIDE], int32_t *lbl)
{
    char path[300];
    size_t il = 0, ll = 0;
    const char *dir = getenv("FASHION_MNIST_DIR") ? getenv("FASHION_MNIST_DIR")
                                                  : "/usr/share/datasets/fashion-mnist";
    snprintf(path, sizeof(path), "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    uint8_t *img = gunzip(path, &il);
    snprintf(path, sizeof(path), "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    uint8_t *lab = gunzip(path, &ll);
    uint32_t n = 0, have[2] = {0, 0};
    for (size_t i = 0; img && lab && 16 + (i + 1) * SIDE * SIDE <= il && 8 + i < ll && n < want; i++) {
        uint8_t y = lab[8 + i];
        if (y > 1 || have[y] >= want / 2)
            continue;
        have[y]++;
        memcpy(px[n], img + 16 + i * SIDE * SIDE, SIDE * SIDE);
        lbl[n++] = y;
    }
    free(img);
    free(lab);
    return n == want ? 0 : -1;
}

/* Bilinear 28 -> 128, grey to 3 channels, q = p - 128 (the models' input quantization). */
static void make_input(const uint8_t *grey)
{
    float scale = (float)SIDE / (float)IN_SIDE;
    for (uint32_t y = 0; y < IN_SIDE; y++) {
        float sy = fmaxf(((float)y + 0.5f) * scale - 0.5f, 0.0f);
        uint32_t y0 = (uint32_t)sy, y1 = y0 + 1u < SIDE ? y0 + 1u : SIDE - 1u;
        float fy = sy - (float)y0;
        for (uint32_t x = 0; x < IN_SIDE; x++) {
            float sx = fmaxf(((float)x + 0.5f) * scale - 0.5f, 0.0f);
            uint32_t x0 = (uint32_t)sx, x1 = x0 + 1u < SIDE ? x0 + 1u : SIDE - 1u;
            float fx = sx - (float)x0;
            float top = grey[y0 * SIDE + x0] * (1.0f - fx) + grey[y0 * SIDE + x1] * fx;
            float bot = grey[y1 * SIDE + x0] * (1.0f - fx) + grey[y1 * SIDE + x1] * fx;
            int v = (int)(top * (1.0f - fy) + bot * fy + 0.5f);
            int8_t q = (int8_t)((v > 255 ? 255 : v) - 128);
            int8_t *px = input + ((size_t)y * IN_SIDE + x) * 3u;
            px[0] = px[1] = px[2] = q;
        }
    }
}

/* QEMU names its pty on its output: "char device redirected to /dev/pts/N (label serial0)". */
static bool qemu_pty(void *arg)
{
    const char *log = arg;
    char line[512];
    FILE *f = fopen(log, "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "/dev/pts/");
        size_t n = p ? strcspn(p, " )\n") : 0;
        if (p && n < sizeof(sbc.pty)) {
            memcpy(sbc.pty, p, n);
            sbc.pty[n] = '\0';
            found = true;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* sbc_start's counterpart for the ARM firmware under QEMU. */
static int start_qemu(void)
{
    char elf[400], log[400];
    snprintf(elf, sizeof(elf), "%s/firmware/qemu-an386/microt.elf", harness_build_dir());
    snprintf(log, sizeof(log), "%s/qemu.log", sbc.dir);
    char *argv[] = {QEMU_BIN, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "pty",
                    "-icount", "shift=0", "-semihosting-config",
                    "enable=on,target=native,arg=microt,arg=uid=5155454d55000000000000aa",
                    "-kernel", elf, NULL};
    sbc.pty[0] = '\0';
    sbc.pid = harness_spawn(argv, log);
    if (sbc.pid <= 0 || !harness_wait(qemu_pty, log, 10000))
        return -1;
    if (transport_open(sbc.pty, 115200, &sbc.tr) != 0)
        return -1;
    link_config_t cfg = {.window = 4, .max_payload = LINK_MAX_PAYLOAD, .rto_ms = 500,
                         .max_retries = 20, .session_id = (uint32_t)harness_now_ms() | 1u};
    sbc.n_rx = 0;
    return link_init(&sbc.link, &cfg, sbc_on_write, sbc_on_deliver, NULL) == LINK_OK ? 0 : -1;
}

/* After a failure: a fresh link session asks the board for its counters (what it lost). */
static void board_stats(void)
{
    static microt_Message m, r;
    link_config_t cfg = {.window = 4, .max_payload = LINK_MAX_PAYLOAD, .rto_ms = 500,
                         .max_retries = 20, .session_id = (uint32_t)harness_now_ms() | 3u};
    sbc.n_rx = 0;
    if (link_init(&sbc.link, &cfg, sbc_on_write, sbc_on_deliver, NULL) != LINK_OK)
        return;
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_get_stats_tag;
    if (sbc_call(&m, &r, 5000) == 0 && r.which_body == microt_Message_stats_tag)
        print_message("# board: frames rx %u tx %u, crc errors %u, retransmits %u, dropped %u\n",
                      r.body.stats.frames_rx, r.body.stats.frames_tx, r.body.stats.crc_errors,
                      r.body.stats.retransmits, r.body.stats.rx_dropped);
    else
        print_message("# board: no answer to GetStats on a fresh session\n");
}

static int transfer(microt_TransferKind kind, const uint8_t *data, uint32_t total, int32_t label,
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
    if (sbc_call(&m, r, 10000) != 0 || r->which_body != microt_Message_transfer_status_tag) {
        print_message("# TransferBegin (kind %d, %u bytes): no status (reply tag %u)\n", (int)kind,
                      total, (unsigned)r->which_body);
        return -1;
    }
    if (sbc_chunks(data, r->body.transfer_status.offset, total, 1024u) != 0) {
        const link_stats_t *ls = link_stats(&sbc.link);
        print_message("# chunks of kind %d: the link did not take them (tx %u rx %u retransmits %u "
                      "crc errors %u duplicates %u resets %u)\n", (int)kind, ls->frames_tx,
                      ls->frames_rx, ls->retransmits, ls->crc_errors, ls->duplicates,
                      ls->peer_resets);
        board_stats();
        return -1;
    }
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_transfer_end_tag;
    if (sbc_call(&m, r, 60000) != 0) {
        print_message("# TransferEnd (kind %d): no reply\n", (int)kind);
        return -1;
    }
    return 0;
}

/* The loop, identical for both boards; results into *out. */
static void run_loop(run_t *out)
{
    static microt_Message m, r;
    assert_int_equal(transfer(microt_TransferKind_TRANSFER_MODEL, mi.image, mi.image_bytes, 0, &r), 0);
    assert_int_equal(r.which_body, microt_Message_model_status_tag);
    out->model = r.body.model_status;
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_reset_samples_tag;
    m.body.reset_samples.num_classes = 2;
    assert_int_equal(sbc_call(&m, &r, 10000), 0);
    if (r.which_body == microt_Message_error_tag)
        print_message("# ResetSamples: error %d: %s\n", (int)r.body.error.code, r.body.error.message);
    assert_int_equal(r.which_body, microt_Message_sample_result_tag);
    for (uint32_t i = 0; i < N_TRAIN; i++) {
        make_input(train_px[i]);
        assert_int_equal(transfer(microt_TransferKind_TRANSFER_SAMPLE, (const uint8_t *)input,
                                  IN_BYTES, train_lbl[i], &r), 0);
        assert_int_equal(r.which_body, microt_Message_sample_result_tag);
        out->cached[i] = r.body.sample_result.cached;
    }
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_train_heads_tag;
    m.body.train_heads.seed = 7;
    m.body.train_heads.holdout_fraction = 0.25f;
    assert_int_equal(sbc_call(&m, &r, 60000), 0);
    assert_int_equal(r.which_body, microt_Message_train_result_tag);
    out->train = r.body.train_result;
    for (uint32_t i = 0; i < N_TEST; i++) {
        make_input(test_px[i]);
        assert_int_equal(transfer(microt_TransferKind_TRANSFER_IMAGE, (const uint8_t *)input,
                                  IN_BYTES, -1, &r), 0);
        assert_int_equal(r.which_body, microt_Message_inference_tag);
        out->inf[i] = r.body.inference;
    }
}

static bool close_to(float a, float b)
{
    return fabsf(a - b) <= 1e-4f + 1e-4f * fabsf(b);
}

static void test_arm_firmware_agrees_with_simulator(void **state)
{
    (void)state;
    char elf[400];
    snprintf(elf, sizeof(elf), "%s/firmware/qemu-an386/microt.elf", harness_build_dir());
    if (!have_data || access(QEMU_BIN, X_OK) != 0 || access(elf, R_OK) != 0) {
        print_message("SKIP: needs %s, %s, proxyless-w0.3 and Fashion-MNIST\n", QEMU_BIN, elf);
        skip();
    }
    long long t0 = harness_now_ms();
    print_message("# simulator run\n");
    assert_int_equal(sbc_setup(), 0);
    assert_int_equal(sbc_start("l4r5zi", NULL), 0);
    run_loop(&runs[0]);
    sbc_stop(SIGTERM);
    sbc_teardown();
    long long t1 = harness_now_ms();

    print_message("# QEMU run\n");
    assert_int_equal(sbc_setup(), 0);
    assert_int_equal(start_qemu(), 0);
    run_loop(&runs[1]);
    sbc_stop(SIGTERM);
    sbc_teardown();
    print_message("# simulator %lld ms, QEMU Cortex-M4 %lld ms\n", t1 - t0, harness_now_ms() - t1);

    const run_t *s = &runs[0], *a = &runs[1];
    assert_memory_equal(s->model.sha256.bytes, a->model.sha256.bytes, 32);
    assert_int_equal(s->model.part_dim, a->model.part_dim);
    assert_int_equal(s->model.full_dim, a->model.full_dim);
    assert_int_equal(s->model.arena_bytes, a->model.arena_bytes);
    for (uint32_t i = 0; i < N_TRAIN; i++)
        assert_int_equal(s->cached[i], a->cached[i]);
    assert_int_equal(s->train.samples, a->train.samples);
    assert_int_equal(s->train.holdout, a->train.holdout);
    print_message("# loss part %.9g / %.9g, full %.9g / %.9g; threshold %.9g / %.9g\n",
                  s->train.part.loss, a->train.part.loss, s->train.full.loss, a->train.full.loss,
                  s->train.threshold, a->train.threshold);
    assert_true(close_to(s->train.part.loss, a->train.part.loss));
    assert_true(close_to(s->train.full.loss, a->train.full.loss));
    assert_true(close_to(s->train.part.train_accuracy, a->train.part.train_accuracy));
    assert_true(close_to(s->train.full.train_accuracy, a->train.full.train_accuracy));
    assert_true(close_to(s->train.part.holdout_accuracy, a->train.part.holdout_accuracy));
    assert_true(close_to(s->train.full.holdout_accuracy, a->train.full.holdout_accuracy));
    assert_true(close_to(s->train.threshold, a->train.threshold));
    for (uint32_t i = 0; i < N_TEST; i++) {
        print_message("# image %u: class %d / %d, stage %u / %u, confidence %.9g / %.9g\n", i,
                      s->inf[i].cls, a->inf[i].cls, s->inf[i].stage, a->inf[i].stage,
                      s->inf[i].confidence, a->inf[i].confidence);
        assert_int_equal(s->inf[i].cls, a->inf[i].cls);
        assert_int_equal(s->inf[i].stage, a->inf[i].stage);
        assert_true(close_to(s->inf[i].confidence, a->inf[i].confidence));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arm_firmware_agrees_with_simulator),
    };
    char path[600], err[256];
    model_import_opts_t opts = {.cut = "8", .keep_classifier = false};
    const char *shared = harness_shared_dir();
    if (shared != NULL) {
        snprintf(path, sizeof(path), "%s/models/proxyless-w0.3.tflite", shared);
        have_data = access(path, R_OK) == 0 &&
                    model_import_file(path, &opts, &mi, err, sizeof(err)) == 0 &&
                    load("train", N_TRAIN, train_px, train_lbl) == 0 &&
                    load("t10k", N_TEST, test_px, test_lbl) == 0;
    }
    int rc = cmocka_run_group_tests_name("qemu_personalize", tests, NULL, NULL);
    model_import_free(&mi);
    return rc;
}
