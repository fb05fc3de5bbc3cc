/*
 * bench_prep_main.c — host half of the QEMU engine bench and of the on-target bit-exactness
 * test: turns a .tflite into the device model image the ARM firmware runs
 * (firmware/ports/mps2/bench_main.c), and runs the same image on the same input with the engine
 * compiled for the host, so the ARM results can be compared with the host's byte for byte.
 *
 *   bench-prep <model.tflite> <cut|-> <input file> <f32: 0|1> <out dir>
 *
 * Writes <out dir>/image.bin and the host results host.part.f32, host.full.f32, host.output.i8
 * (the same files bench.elf writes), and prints one JSON object on stdout: image bytes, MACs per
 * stage, feature sizes, arena bytes, the output's quantization. Exit 0, or 1 with a sentence on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "hal.h"
#include "import/model_import.h"

/* The engine times each op with hal_cycles(); the host has no cycle counter that means anything
 * for the boards, so a monotonic nanosecond clock stands in (only the outputs are used here).
 * Weak: a host port that provides hal_cycles() takes precedence. */
__attribute__((weak)) uint64_t hal_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "bench-prep: cannot write %s: %s\n", path, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && n < (64L << 20) && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)n);
            if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            }
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench-prep <model.tflite> <cut|-> <input> <f32 0|1> <out dir>\n");
        return 1;
    }
    const char *model = argv[1], *cut = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
    const char *input = argv[3], *dir = argv[5];
    int f32 = strcmp(argv[4], "1") == 0;
    int rc = 1;
    char err[512];
    model_import_opts_t opts = {.cut = cut, .keep_classifier = true};
    model_import_t mi;
    size_t in_len = 0;
    uint8_t *in = NULL, *arena = NULL;
    engine_t *e = NULL;
    float *part = NULL, *full = NULL;

    if (model_import_file(model, &opts, &mi, err, sizeof err) != 0) {
        fprintf(stderr, "bench-prep: %s: %s\n", model, err);
        return 1;
    }
    if (write_file(dir, "image.bin", mi.image, mi.image_bytes) != 0) {
        goto out;
    }
    in = read_file(input, &in_len);
    arena = aligned_alloc(8, (mi.arena_bytes + 7u) & ~7u);
    e = calloc(1, sizeof *e);
    part = calloc(mi.part_dim + 1u, sizeof *part);
    full = calloc(mi.full_dim + 1u, sizeof *full);
    if (in == NULL || arena == NULL || e == NULL || part == NULL || full == NULL) {
        fprintf(stderr, "bench-prep: cannot read %s or out of memory\n", input);
        goto out;
    }
    engine_status_t st = engine_open(e, mi.image, mi.image_bytes, arena, (mi.arena_bytes + 7u) & ~7u);
    if (st == ENGINE_OK) {
        if (f32) {
            st = engine_set_input_f32(e, (const float *)(const void *)in, (uint32_t)(in_len / 4u));
        } else {
            uint32_t n = 0;
            int8_t *dst = engine_input(e, &n);
            st = n == in_len ? ENGINE_OK : ENGINE_EARG;
            if (st == ENGINE_OK) {
                memcpy(dst, in, n);
            }
        }
    }
    if (st == ENGINE_OK) {
        st = engine_run_stage1(e, part);
    }
    if (st == ENGINE_OK) {
        st = engine_run_stage2(e, full);
    }
    if (st != ENGINE_OK) {
        fprintf(stderr, "bench-prep: host engine: %s\n", engine_strerror(st));
        goto out;
    }
    uint32_t out_bytes = 0;
    float scale = 0.0f;
    int32_t zp = 0;
    const int8_t *output = engine_output(e, &out_bytes, &scale, &zp);
    if (write_file(dir, "host.part.f32", part, 4u * mi.part_dim) != 0 ||
        write_file(dir, "host.full.f32", full, 4u * mi.full_dim) != 0 ||
        (output != NULL && write_file(dir, "host.output.i8", output, out_bytes) != 0)) {
        goto out;
    }
    printf("{\"image_bytes\": %u, \"macs_stage1\": %llu, \"macs_stage2\": %llu, "
           "\"part_dim\": %u, \"full_dim\": %u, \"arena_bytes\": %u, \"n_ops\": %u, "
           "\"stage1_ops\": %u, \"output_bytes\": %u, \"output_scale\": %.9g, "
           "\"output_zero_point\": %d}\n",
           mi.image_bytes, (unsigned long long)mi.macs_stage1, (unsigned long long)mi.macs_stage2,
           mi.part_dim, mi.full_dim, mi.arena_bytes, mi.n_ops, mi.stage1_ops, out_bytes,
           output != NULL ? (double)scale : 0.0, output != NULL ? (int)zp : 0);
    rc = 0;
out:
    free(full);
    free(part);
    free(e);
    free(arena);
    free(in);
    model_import_free(&mi);
    return rc;
}
