/*
 * bench_main.c — runs the int8 engine on the ARM target under QEMU, for `make bench`
 * (instructions per inference and per MAC under -icount shift=0) and for the on-target
 * bit-exactness test (tests/test_qemu_engine.py). Built as build/firmware/<qemu board>/bench.elf.
 *
 * Everything crosses through semihosting, nothing is compiled in: the command line
 * (-semihosting-config ...,arg=KEY=VALUE) names a device model image (written by
 * build/firmware/bench-prep from a .tflite), an input file and an output prefix:
 *   image=<path>   device model image; written into model slot A through hal_flash_erase/program
 *                  (the same path a model pushed by the daemon takes), then run in place
 *   input=<path>   input tensor: raw int8, or float32 with f32=1 (quantized on the target)
 *   out=<prefix>   writes <prefix>.part.f32, <prefix>.full.f32 (the features the heads get) and
 *                  <prefix>.output.i8 (the model output, when the image keeps the classifier)
 *   runs=<n>       inferences to time (default 1); the figures are from the last one
 *   profile=1      also prints "profile kind=<category> macs=.. cycles=.." lines for the last
 *                  run: conv (k x k), pointwise, depthwise, fc, element (everything else)
 * and prints one line through semihosting:
 *   "bench stage1_macs=.. stage1_cycles=.. stage2_macs=.. stage2_cycles=.. arena=..\n"
 * Under -icount shift=0 a cycle here is one instruction (mps2_hal.c). Exit status 0, or 1 with
 * a sentence on failure.
 */
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "engine.h"
#include "hal.h"
#include "mps2_semihost.h"

#define BENCH_ARENA_BYTES (1536u * 1024u)
#define BENCH_INPUT_BYTES (512u * 1024u)
#define BENCH_FEATURE_MAX 4096u
#define BENCH_CHUNK_BYTES 4096u

__attribute__((section(".microt_arena"), aligned(8))) static uint8_t bench_arena[BENCH_ARENA_BYTES];
static uint8_t bench_input[BENCH_INPUT_BYTES] __attribute__((aligned(8)));
static uint8_t bench_chunk[BENCH_CHUNK_BYTES] __attribute__((aligned(8)));
static float bench_part[BENCH_FEATURE_MAX], bench_full[BENCH_FEATURE_MAX];
static engine_t bench_engine;
static char bench_cmdline[1024];

__attribute__((noreturn)) static void bench_fail(const char *what, const char *detail)
{
    mps2_sh_write0("bench FAIL: ");
    mps2_sh_write0(what);
    if (detail != NULL) {
        mps2_sh_write0(": ");
        mps2_sh_write0(detail);
    }
    mps2_sh_write0("\n");
    mps2_sh_exit(1);
}

/* The value of KEY= in the command line, NUL-terminated in place, or NULL. */
static const char *bench_arg(const char *key)
{
    static char values[8][256];
    static unsigned used;
    size_t klen = strlen(key);
    for (const char *p = bench_cmdline; *p != '\0'; p++) {
        if ((p == bench_cmdline || p[-1] == ' ') && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, " ");
            if (n >= sizeof values[0] || used >= 8u) {
                bench_fail("argument too long", key);
            }
            memcpy(values[used], v, n);
            values[used][n] = '\0';
            return values[used++];
        }
    }
    return NULL;
}

static void bench_put_u64(const char *name, uint64_t v)
{
    char buf[48];
    char digits[24];
    unsigned n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    size_t len = strlen(name);
    memcpy(buf, name, len);
    while (n > 0u) {
        buf[len++] = digits[--n];
    }
    buf[len] = '\0';
    mps2_sh_write0(buf);
}

static uint32_t bench_load_image(const char *path)
{
    int fd = mps2_sh_open(path, false);
    if (fd < 0) {
        bench_fail("cannot open the image", path);
    }
    int32_t len = mps2_sh_flen(fd);
    hal_region_info_t slot = hal_flash_region(HAL_REGION_MODEL_A);
    if (len <= 0 || (uint32_t)len > slot.size_bytes) {
        bench_fail("image empty or larger than model slot A", path);
    }
    uint32_t erase_len = ((uint32_t)len + slot.erase_bytes - 1u) / slot.erase_bytes * slot.erase_bytes;
    if (hal_flash_erase(HAL_REGION_MODEL_A, 0, erase_len) != HAL_OK) {
        bench_fail("erase of slot A failed", NULL);
    }
    for (uint32_t off = 0; off < (uint32_t)len; off += BENCH_CHUNK_BYTES) {
        uint32_t n = (uint32_t)len - off < BENCH_CHUNK_BYTES ? (uint32_t)len - off : BENCH_CHUNK_BYTES;
        if (mps2_sh_read(fd, bench_chunk, n) != n) {
            bench_fail("short read of the image", path);
        }
        if (hal_flash_program(HAL_REGION_MODEL_A, off, bench_chunk, n) != HAL_OK) {
            bench_fail("programming slot A failed", NULL);
        }
    }
    mps2_sh_close(fd);
    return (uint32_t)len;
}

static void bench_write(const char *prefix, const char *suffix, const void *data, uint32_t len)
{
    char path[300];
    size_t pl = strlen(prefix), sl = strlen(suffix);
    if (pl + sl + 1u > sizeof path) {
        bench_fail("output path too long", prefix);
    }
    memcpy(path, prefix, pl);
    memcpy(path + pl, suffix, sl + 1u);
    int fd = mps2_sh_open(path, true);
    if (fd < 0 || mps2_sh_write(fd, data, len) != len) {
        bench_fail("cannot write", path);
    }
    mps2_sh_close(fd);
}

int main(void)
{
    port_init();
    if (mps2_sh_cmdline(bench_cmdline, sizeof bench_cmdline) < 0) {
        bench_fail("no semihosting command line", NULL);
    }
    const char *image_path = bench_arg("image");
    const char *input_path = bench_arg("input");
    const char *out = bench_arg("out");
    const char *f32 = bench_arg("f32");
    const char *runs_arg = bench_arg("runs");
    if (image_path == NULL || input_path == NULL || out == NULL) {
        bench_fail("usage", "image=<path> input=<path> out=<prefix> [f32=1] [runs=n]");
    }
    uint32_t runs = runs_arg != NULL ? (uint32_t)strtoul(runs_arg, NULL, 10) : 1u;
    if (runs == 0u || runs > 100u) {
        bench_fail("runs must be 1..100", runs_arg);
    }

    uint32_t image_bytes = bench_load_image(image_path);
    engine_status_t st = engine_open(&bench_engine, hal_flash_map(HAL_REGION_MODEL_A), image_bytes,
                                     bench_arena, sizeof bench_arena);
    if (st != ENGINE_OK) {
        bench_fail("engine_open", engine_strerror(st));
    }
    if (engine_part_dim(&bench_engine) > BENCH_FEATURE_MAX ||
        engine_full_dim(&bench_engine) > BENCH_FEATURE_MAX) {
        bench_fail("feature larger than the bench buffers", NULL);
    }

    int fd = mps2_sh_open(input_path, false);
    int32_t in_len = fd < 0 ? -1 : mps2_sh_flen(fd);
    if (in_len <= 0 || (uint32_t)in_len > sizeof bench_input ||
        mps2_sh_read(fd, bench_input, (uint32_t)in_len) != (uint32_t)in_len) {
        bench_fail("cannot read the input", input_path);
    }
    mps2_sh_close(fd);

    uint64_t macs[2] = {0, 0}, cycles[2] = {0, 0};
    for (uint32_t r = 0; r < runs; r++) {
        hal_watchdog_kick();
        if (f32 != NULL && f32[0] == '1') {
            st = engine_set_input_f32(&bench_engine, (const float *)(const void *)bench_input,
                                      (uint32_t)in_len / 4u);
        } else {
            uint32_t n = 0;
            int8_t *dst = engine_input(&bench_engine, &n);
            st = n == (uint32_t)in_len ? ENGINE_OK : ENGINE_EARG;
            if (st == ENGINE_OK) {
                memcpy(dst, bench_input, n);
            }
        }
        if (st != ENGINE_OK) {
            bench_fail("input does not match the model", engine_strerror(st));
        }
        st = engine_run_stage1(&bench_engine, bench_part);
        if (st == ENGINE_OK) {
            hal_watchdog_kick();
            st = engine_run_stage2(&bench_engine, bench_full);
        }
        if (st != ENGINE_OK) {
            bench_fail("inference", engine_strerror(st));
        }
        engine_stage_cost(&bench_engine, 1, &macs[0], &cycles[0]);
        engine_stage_cost(&bench_engine, 2, &macs[1], &cycles[1]);
    }

    bench_write(out, ".part.f32", bench_part, 4u * engine_part_dim(&bench_engine));
    bench_write(out, ".full.f32", bench_full, 4u * engine_full_dim(&bench_engine));
    uint32_t out_bytes = 0;
    float scale;
    int32_t zp;
    const int8_t *output = engine_output(&bench_engine, &out_bytes, &scale, &zp);
    if (output != NULL) {
        bench_write(out, ".output.i8", output, out_bytes);
    }

    const char *profile = bench_arg("profile");
    if (profile != NULL && profile[0] == '1') {
        /* Op categories of the simulator's cost model (firmware/core/energy.h): k x k
         * convolution, pointwise (1x1) convolution, depthwise, fully connected, element ops. */
        static const char *const names[] = {"conv", "pointwise", "depthwise", "fc", "element"};
        uint64_t cat_macs[5] = {0}, cat_cycles[5] = {0};
        for (uint32_t i = 0; i < engine_op_count(&bench_engine); i++) {
            engine_op_cost_t cost;
            if (engine_op_cost(&bench_engine, i, &cost) != ENGINE_OK) {
                continue;
            }
            const mt_op_t *op = &bench_engine.ops[i];
            unsigned cat = 4u;
            if (cost.kind == MT_OP_CONV) {
                cat = (op->p[0] == 1 && op->p[1] == 1) ? 1u : 0u;
            } else if (cost.kind == MT_OP_DWCONV) {
                cat = 2u;
            } else if (cost.kind == MT_OP_FC) {
                cat = 3u;
            }
            cat_macs[cat] += cost.macs;
            cat_cycles[cat] += cost.cycles;
        }
        for (unsigned k = 0; k < 5u; k++) {
            mps2_sh_write0("profile kind=");
            mps2_sh_write0(names[k]);
            bench_put_u64(" macs=", cat_macs[k]);
            bench_put_u64(" cycles=", cat_cycles[k]);
            mps2_sh_write0("\n");
        }
    }
    bench_put_u64("bench stage1_macs=", macs[0]);
    bench_put_u64(" stage1_cycles=", cycles[0]);
    bench_put_u64(" stage2_macs=", macs[1]);
    bench_put_u64(" stage2_cycles=", cycles[1]);
    bench_put_u64(" image_bytes=", image_bytes);
    mps2_sh_write0("\n");
    mps2_sh_exit(0);
}
