/*
 * fuzz_tflite_reader.c — libFuzzer target for the .tflite reader (daemon/import/tflite_reader.c).
 *
 * Every input is parsed; an accepted model must satisfy tfl_check_model() (indices in range, data
 * inside the buffer, quantization consistent), a refused one must come with a message and an empty
 * model. Any crash, ASan/UBSan report or broken promise aborts. Seeds: the real models and the
 * generated cases (tests/fuzz/make_tflite_corpus.sh writes them into tests/fuzz/corpus/, ignored
 * by git).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/tflite_reader.h"
#include "tflite_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* UBSan only prints by default; make undefined behaviour a finding like a crash. */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy of exactly `size` bytes, so ASan flags any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL) return 0;
    memcpy(buf, data, size);

    char err[256], why[160];
    tfl_model_t m;
    tfl_status_t st = tfl_parse(buf, size, &m, err, sizeof(err));
    if (st == TFL_OK) {
        if (tfl_check_model(&m, buf, size, why, sizeof(why)) != NULL) {
            fprintf(stderr, "accepted model breaks an invariant: %s\n", why);
            abort();
        }
    } else {
        if (err[0] == 0 || m.owned != NULL || m.n_tensors != 0 || m.n_ops != 0) {
            fprintf(stderr, "refusal without message or with a non-empty model (status %d)\n", st);
            abort();
        }
    }
    tfl_free(&m);
    tfl_free(&m); /* idempotent */
    free(buf);
    return 0;
}
