/*
 * model_inspect.h — what `microtctl model inspect FILE.tflite --cut NAME` prints: the device ops
 * of stage 1 and stage 2 (kind, source op, shapes, MACs, weight bytes), the peak arena of stage 1
 * and of stage 1 + 2, and the weights, from a real import (model_import) of the file.
 */
#ifndef MICROT_MODEL_INSPECT_H
#define MICROT_MODEL_INSPECT_H

#include <stdbool.h>
#include <stdio.h>

#include "import/model_import.h"

/* Imports path with the given cut (NULL: default) and prints the report to out, as text or as
 * one JSON object. Returns 0 or a negative mt_err_t; on error prints one line "error: ..." (text)
 * or {"error": "..."} (json). */
int model_inspect_print(FILE *out, const char *path, const char *cut, bool json);

/* Prints the report of an import already done. */
int model_inspect_report(FILE *out, const model_import_t *m, const char *path, bool json);

#endif /* MICROT_MODEL_INSPECT_H */
