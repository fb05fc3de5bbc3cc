/*
 * engine_bench_main.c — runs one model through the engine for the benchmarks (mk/engine.mk).
 *
 *   engine_bench MODEL.tflite [--cut NAME] [--whole] [--iters N]
 *
 * Imports the model (--whole keeps the classifier), prints the plan (arena peaks, weights, MACs
 * per stage) as key=value lines, then runs stage 1 and stage 2 N times on a fixed pseudo-random
 * input and prints the host time per stage. Under `valgrind --tool=callgrind
 * --toggle-collect=engine_run_stage1` (or stage2) the instruction counts of each stage come out
 * of callgrind's totals; the script that drives it divides them by the MACs printed here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "import/model_import.h"

__attribute__((weak)) uint64_t hal_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *cut = NULL;
    bool whole = false;
    int iters = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cut") == 0 && i + 1 < argc) {
            cut = argv[++i];
        } else if (strcmp(argv[i], "--whole") == 0) {
            whole = true;
        } else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            iters = atoi(argv[++i]);
        } else if (argv[i][0] != '-' && path == NULL) {
            path = argv[i];
        } else {
            fprintf(stderr, "usage: engine_bench MODEL.tflite [--cut NAME] [--whole] [--iters N]\n");
            return 2;
        }
    }
    if (path == NULL || iters < 1) {
        fprintf(stderr, "usage: engine_bench MODEL.tflite [--cut NAME] [--whole] [--iters N]\n");
        return 2;
    }
    char err[512];
    model_import_t m;
    const model_import_opts_t opts = {.cut = cut, .keep_classifier = whole};
    int rc = model_import_file(path, &opts, &m, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    uint8_t *arena = aligned_alloc(8, (m.arena_bytes + 7u) & ~7u);
    engine_t *e = calloc(1, sizeof *e);
    float *part = calloc(m.part_dim + 1, sizeof(float));
    float *full = calloc(m.full_dim + 1, sizeof(float));
    engine_status_t st = ENGINE_EARG;
    if (arena && e && part && full) {
        st = engine_open(e, m.image, m.image_bytes, arena, m.arena_bytes);
    }
    if (st != ENGINE_OK) {
        fprintf(stderr, "engine_bench: %s\n", engine_strerror(st));
        return 1;
    }
    printf("model=%s\ncut=%s\nclassifier=%d\n", path, m.tensors[m.cut_tensor].name, whole);
    printf("arena_stage1_bytes=%u\narena_bytes=%u\n", m.arena_stage1_bytes, m.arena_bytes);
    printf("weight_bytes_stage1=%u\nweight_bytes_stage2=%u\n", m.weight_bytes_stage1,
           m.weight_bytes_stage2);
    printf("macs_stage1=%llu\nmacs_stage2=%llu\n", (unsigned long long)m.macs_stage1,
           (unsigned long long)m.macs_stage2);
    uint64_t ns1 = 0, ns2 = 0;
    for (int it = 0; it < iters; it++) {
        uint32_t n = 0;
        int8_t *in = engine_input(e, &n);
        uint32_t seed = 2024u + (uint32_t)it;
        for (uint32_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            in[i] = (int8_t)(seed >> 24);
        }
        const uint64_t t0 = hal_cycles();
        engine_run_stage1(e, part);
        const uint64_t t1 = hal_cycles();
        engine_run_stage2(e, full);
        const uint64_t t2 = hal_cycles();
        ns1 += t1 - t0;
        ns2 += t2 - t1;
    }
    printf("host_us_stage1=%.1f\nhost_us_stage2=%.1f\n", ns1 / 1000.0 / iters, ns2 / 1000.0 / iters);
    printf("part0=%g\nfull0=%g\n", part[0], full[0]);
    free(full);
    free(part);
    free(e);
    free(arena);
    model_import_free(&m);
    return 0;
}
