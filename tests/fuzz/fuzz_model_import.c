/*
 * fuzz_model_import.c — libFuzzer target: arbitrary bytes as a .tflite go through the importer
 * (with the default cut and with a block cut); whatever it accepts must give an image the engine
 * accepts, and the engine then runs both stages on it within the arena the plan asked for. Any
 * crash, sanitizer report or accepted-but-invalid image is a bug.
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
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *cuts[] = {NULL, "blocks.1", "conv.out"};
    for (int i = 0; i < 3; i++) {
        char err[256];
        model_import_t m;
        const model_import_opts_t opts = {.cut = cuts[i], .keep_classifier = i == 0};
        if (model_import(data, size, &opts, &m, err, sizeof err) != 0) {
            continue;
        }
        uint32_t need = 0;
        if (engine_check_image(m.image, m.image_bytes, &need) != ENGINE_OK) {
            abort(); /* the importer wrote an image the engine refuses */
        }
        if (need <= (8u << 20) && m.macs_stage1 + m.macs_stage2 <= 50000000u) {
            uint8_t *arena = aligned_alloc(8, (need + 8u) & ~7u);
            engine_t *e = calloc(1, sizeof *e);
            if (arena && e && engine_open(e, m.image, m.image_bytes, arena, need) == ENGINE_OK) {
                uint32_t n = 0;
                int8_t *in = engine_input(e, &n);
                memset(in, 0x5a, n);
                engine_run_stage1(e, NULL);
                engine_run_stage2(e, NULL);
            }
            free(e);
            free(arena);
        }
        model_import_free(&m);
    }
    return 0;
}
