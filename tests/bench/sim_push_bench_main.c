/*
 * sim_push_bench_main.c — link throughput of a model push into microt-sim over its paced line
 * (--baud, --turn-latency-us): a gateway made of the link layer alone (no daemon) pushes the
 * ProxylessNAS-w0.3 device image in TransferChunks and times from the first chunk until every
 * chunk is acknowledged. Prints payload bytes per second over the line rate (baud / 10, 8N1).
 * It measures what the board and the line model allow; the daemon's own push figure is
 * link.push_efficiency.* (its bench).
 *
 *   sim-push-bench BAUD TURN_LATENCY_US BYTES CHUNK WINDOW     (BYTES 0: the whole image)
 */
#include <stdio.h>

#include "import/model_import.h"
#include "sha256.h"
#include "sim_board_client.h"

int main(int argc, char **argv)
{
    static microt_Message m, r;
    model_import_t mi;
    model_import_opts_t opts = {.cut = "8", .keep_classifier = false};
    char err[256], path[600];
    uint8_t sha[32];
    int rc = 1;
    if (argc != 6) {
        fprintf(stderr, "usage: %s BAUD TURN_LATENCY_US BYTES CHUNK WINDOW\n", argv[0]);
        return 2;
    }
    uint32_t bytes = (uint32_t)strtoul(argv[3], NULL, 10), chunk = (uint32_t)strtoul(argv[4], NULL, 10);
    unsigned window = (unsigned)strtoul(argv[5], NULL, 10);
    const char *shared = harness_shared_dir();
    if (chunk == 0 || chunk > 2048u || window == 0 || window > 8u) {
        fprintf(stderr, "sim-push-bench: chunk 1..2048, window 1..8\n");
        return 2;
    }
    if (shared == NULL) {
        printf("sim-push-bench: ../shared absent, skipped\n");
        return 0;
    }
    snprintf(path, sizeof(path), "%s/models/proxyless-w0.3.tflite", shared);
    if (model_import_file(path, &opts, &mi, err, sizeof(err)) != 0) {
        fprintf(stderr, "sim-push-bench: %s: %s\n", path, err);
        return 1;
    }
    sha256(mi.image, mi.image_bytes, sha);
    if (bytes == 0 || bytes > mi.image_bytes)
        bytes = mi.image_bytes;
    char *extra[] = {"--baud", argv[1], "--turn-latency-us", argv[2], NULL};
    if (sbc_setup() != 0 || sbc_start("h7a3zi", extra) != 0) {
        fprintf(stderr, "sim-push-bench: cannot start microt-sim\n");
        goto out;
    }
    sbc.link.cfg.window = (uint8_t)window;
    memset(&m, 0, sizeof(m));
    m.which_body = microt_Message_transfer_begin_tag;
    m.body.transfer_begin.kind = microt_TransferKind_TRANSFER_MODEL;
    m.body.transfer_begin.total_bytes = mi.image_bytes;
    memcpy(m.body.transfer_begin.sha256.bytes, sha, 32);
    m.body.transfer_begin.sha256.size = 32;
    if (sbc_call(&m, &r, 10000) != 0 || r.which_body != microt_Message_transfer_status_tag) {
        fprintf(stderr, "sim-push-bench: TransferBegin failed\n");
        goto stop;
    }
    long long t0 = harness_now_ms();
    if (sbc_chunks(mi.image, 0, bytes, chunk) != 0 || sbc_drain(120000) != 0) {
        fprintf(stderr, "sim-push-bench: push failed\n");
        goto stop;
    }
    long long t1 = harness_now_ms();
    double rate = bytes / ((double)(t1 - t0) / 1000.0), line = strtod(argv[1], NULL) / 10.0;
    printf("efficiency=%.4f\nbytes=%u\nms=%lld\nrate_bps=%.0f\nline_bps=%.0f\n", rate / line, bytes,
           t1 - t0, rate, line);
    rc = 0;
stop:
    sbc_stop(SIGTERM);
    sbc_teardown();
out:
    model_import_free(&mi);
    return rc;
}
