/*
 * bench_gw5.c — the gateway's figures (make bench-gw5):
 *   link.push_efficiency.115200   payload B/s of a model push / (115200 / 10), 16 ms turn latency
 *   link.push_efficiency.921600   the same at 921600 baud, 1 ms turn latency
 *   push.proxyless_part.921600_s  seconds to push the ProxylessNAS part model at 921600 baud
 *   ingest.samples_per_s          Fashion-MNIST samples stored per second (one IDX request of
 *                                 500 images: decode, resize to 128x128x3, quantize, SQLite)
 *   ingest.samples_per_s.single   the same one PGM image per request (HTTP + fsync per sample)
 * Each push runs microtd against one microt-sim whose UART is paced (--baud, --turn-latency-us,
 * 8N1: 10 bits per byte); the payload rate is the push job's last transfer (first chunk to the
 * board's ModelStatus), so the hash check and the activation count against it. Bounded: about
 * 40 s at 115200 baud, 5 s at 921600. Skips (exit 0, saying so) without ../shared or the dataset.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "sample_prep.h"

#define TOKEN "bench-token-0123456789abcdef"
#define UID "cc0000000000000000000001"
#define FMNIST "/usr/share/datasets/fashion-mnist"

static char base[64];

static void record(const char *name, double value, const char *unit)
{
    char cmd[512];
    printf("%-32s %.4f %s\n", name, value, unit);
    snprintf(cmd, sizeof cmd, "%s scripts/bench_json.py %s %.6f '%s'",
             getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3", name, value, unit);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_gw5: cannot record %s\n", name);
}

static json_t *req(const char *method, const char *path, const void *body, size_t len, long *st)
{
    char url[512], *out = NULL;
    snprintf(url, sizeof url, "%s%s", base, path);
    *st = harness_http(method, url, TOKEN, "application/octet-stream", body, len, &out);
    json_t *d = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return d;
}

static bool online(void *arg)
{
    (void)arg;
    long st;
    json_t *d = req("GET", "/api/devices/" UID, NULL, 0, &st);
    bool ok = st == 200 && json_is_object(json_object_get(d, "live"));
    json_decref(d);
    return ok;
}

typedef struct {
    char *dir;
    pid_t sim, daemon;
} rig_t;

/* One paced board (baud 0 = unpaced) and a daemon. */
static int rig_start(rig_t *r, const char *baud, const char *turn_us)
{
    char sim[300], pty[300], flash[300], log[300], daemon[300], http[64], db[300];
    memset(r, 0, sizeof *r);
    r->dir = harness_mkdtemp("bench-gw5");
    if (r->dir == NULL)
        return -1;
    snprintf(sim, sizeof sim, "%s/microt-sim", harness_build_dir());
    snprintf(pty, sizeof pty, "%s/board", r->dir);
    snprintf(flash, sizeof flash, "%s/flash.bin", r->dir);
    snprintf(log, sizeof log, "%s/sim.log", r->dir);
    char *sargv[] = {sim, "--pty", pty, "--uid", UID, "--flash", flash, "--baud", (char *)baud,
                     "--turn-latency-us", (char *)turn_us, NULL};
    if (baud == NULL)
        sargv[7] = NULL;
    r->sim = harness_spawn(sargv, log);
    int port = harness_free_port();
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    snprintf(daemon, sizeof daemon, "%s/microtd", harness_build_dir());
    snprintf(http, sizeof http, "127.0.0.1:%d", port);
    snprintf(db, sizeof db, "%s/microt.db", r->dir);
    snprintf(log, sizeof log, "%s/microtd.log", r->dir);
    usleep(200000);
    /* --baud tells the daemon the line rate (a pty has none of its own): it sizes the link's
     * retransmission timeout from it. */
    char *dargv[] = {daemon, "--http", http, "--db", db, "--state-dir", r->dir, "--token", TOKEN,
                     "--port", pty, "--baud", baud ? (char *)baud : "921600", NULL};
    r->daemon = harness_spawn(dargv, log);
    return harness_wait(online, NULL, 10000) ? 0 : -1;
}

static void rig_stop(rig_t *r)
{
    if (r->daemon > 0)
        harness_stop(r->daemon, SIGTERM);
    if (r->sim > 0)
        harness_stop(r->sim, SIGTERM);
    harness_rmdir(r->dir);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(*len);
    if (d != NULL && fread(d, 1, *len, f) != *len) {
        free(d);
        d = NULL;
    }
    fclose(f);
    return d;
}

/* Pushes the model; fills the payload rate and total seconds of the final transfer. */
static int push(const uint8_t *model, size_t len, double *bytes_per_s, double *secs,
                double *job_s)
{
    long st;
    json_t *r = req("POST", "/api/devices/" UID "/model?name=proxyless-w0.3.tflite&cut=blocks.8",
                    model, len, &st);
    if (st != 202) {
        fprintf(stderr, "bench_gw5: push refused (HTTP %ld)\n", st);
        json_decref(r);
        return -1;
    }
    char path[64];
    snprintf(path, sizeof path, "/api/jobs/%lld",
             (long long)json_integer_value(json_object_get(json_object_get(r, "job"), "id")));
    json_decref(r);
    for (int i = 0; i < 1200; i++) {
        json_t *j = req("GET", path, NULL, 0, &st);
        const char *state = json_string_value(json_object_get(j, "state"));
        if (state && strcmp(state, "done") == 0) {
            json_t *res = json_object_get(j, "result");
            *bytes_per_s = json_number_value(json_object_get(res, "payload_bytes_per_s"));
            *secs = json_number_value(json_object_get(res, "last_attempt_s"));
            *job_s = json_number_value(json_object_get(res, "total_s"));
            json_decref(j);
            return 0;
        }
        if (state && strcmp(state, "running") != 0 && strcmp(state, "queued") != 0) {
            fprintf(stderr, "bench_gw5: push %s: %s\n", state,
                    json_string_value(json_object_get(j, "error")));
            json_decref(j);
            return -1;
        }
        json_decref(j);
        usleep(100000);
    }
    return -1;
}

static int bench_push(const uint8_t *model, size_t len, const char *baud, const char *turn_us,
                      const char *name, int report_time)
{
    rig_t rig;
    double bps = 0, secs = 0, job_s = 0;
    int rc = rig_start(&rig, baud, turn_us);
    if (rc == 0)
        rc = push(model, len, &bps, &secs, &job_s);
    if (rc == 0) {
        double line = atof(baud) / 10.0;
        printf("# %s baud, %s us turn latency: %.0f B payload in %.3f s = %.0f B/s of %.0f B/s\n",
               baud, turn_us, bps * secs, secs, bps, line);
        record(name, bps / line, "payload B/s / line B/s");
        if (report_time)
            record("push.proxyless_part.921600_s", job_s, "s");
    }
    rig_stop(&rig);
    return rc;
}

static int bench_ingest(void)
{
    rig_t rig;
    prep_idx_t set;
    char err[256], path[256];
    long st;
    int rc = -1;
    const uint32_t n = 500;
    if (prep_idx_open(FMNIST "/train-images-idx3-ubyte.gz", FMNIST "/train-labels-idx1-ubyte.gz",
                      &set, err, sizeof err) < 0) {
        printf("# ingest skipped: %s\n", err);
        return 0;
    }
    if (rig_start(&rig, NULL, NULL) < 0)
        goto out;
    /* A model sets the sample geometry (128x128x3): push it unpaced first. */
    size_t mlen;
    char mpath[512];
    snprintf(mpath, sizeof mpath, "%s/models/proxyless-w0.3.tflite", harness_shared_dir());
    uint8_t *model = read_all(mpath, &mlen);
    double a, b, c;
    if (model == NULL || push(model, mlen, &a, &b, &c) < 0) {
        free(model);
        goto stop;
    }
    free(model);
    /* One IDX request of n images. */
    size_t px = (size_t)set.rows * set.cols, images_bytes = 16 + n * px, len = images_bytes + 8 + n;
    uint8_t *body = malloc(len);
    const uint32_t hdr[6] = {0x803, n, set.rows, set.cols, 0x801, n};
    for (int k = 0; k < 6; k++) {
        uint8_t *p = body + (k < 4 ? (size_t)(4 * k) : images_bytes + (size_t)(4 * (k - 4)));
        p[0] = (uint8_t)(hdr[k] >> 24), p[1] = (uint8_t)(hdr[k] >> 16);
        p[2] = (uint8_t)(hdr[k] >> 8), p[3] = (uint8_t)hdr[k];
    }
    memcpy(body + 16, set.images, n * px);
    memcpy(body + images_bytes + 8, set.labels, n);
    snprintf(path, sizeof path, "/api/devices/" UID "/samples/idx?images_bytes=%zu&names="
             "fashion-mnist", images_bytes);
    long long t0 = harness_now_ms();
    json_t *r = req("POST", path, body, len, &st);
    long long ms = harness_now_ms() - t0;
    free(body);
    if (st != 201 || json_integer_value(json_object_get(r, "added")) != n) {
        fprintf(stderr, "bench_gw5: IDX ingest failed (HTTP %ld)\n", st);
        json_decref(r);
        goto stop;
    }
    json_decref(r);
    printf("# %u samples in one IDX request: %lld ms\n", n, ms);
    record("ingest.samples_per_s", n * 1000.0 / (double)ms, "samples/s");
    /* One image per request. */
    const uint32_t single = 100;
    t0 = harness_now_ms();
    for (uint32_t i = 0; i < single; i++) {
        char pgm[1024];
        int h = snprintf(pgm, sizeof pgm, "P5\n%u %u\n255\n", set.cols, set.rows);
        memcpy(pgm + h, set.images + (n + i) * px, px);
        snprintf(path, sizeof path, "/api/devices/" UID "/samples?label=%s",
                 prep_fashion_mnist_name(set.labels[n + i]));
        r = req("POST", path, pgm, (size_t)h + px, &st);
        json_decref(r);
        if (st != 201)
            goto stop;
    }
    ms = harness_now_ms() - t0;
    printf("# %u samples one PGM per request: %lld ms\n", single, ms);
    record("ingest.samples_per_s.single", single * 1000.0 / (double)ms, "samples/s");
    rc = 0;
stop:
    rig_stop(&rig);
out:
    prep_idx_free(&set);
    return rc;
}

int main(void)
{
    char mpath[512];
    size_t len = 0;
    const char *shared = harness_shared_dir();
    if (shared == NULL) {
        printf("bench_gw5: skipped: ../shared is absent (MICROT_SHARED)\n");
        return 0;
    }
    snprintf(mpath, sizeof mpath, "%s/models/proxyless-w0.3.tflite", shared);
    uint8_t *model = read_all(mpath, &len);
    if (model == NULL) {
        printf("bench_gw5: skipped: %s is absent\n", mpath);
        return 0;
    }
    int rc = 0;
    rc |= bench_push(model, len, "921600", "1000", "link.push_efficiency.921600", 1);
    rc |= bench_push(model, len, "115200", "16000", "link.push_efficiency.115200", 0);
    rc |= bench_ingest();
    free(model);
    return rc ? 1 : 0;
}
