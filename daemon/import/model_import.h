/*
 * model_import.h — lowers an int8 .tflite backbone to the device model format (model_format.h).
 *
 * model_import() reads the flatbuffer (tflite_reader), checks that every op the result needs is
 * one the engine runs with TFLite Micro's exact integer semantics, cuts the graph at the part
 * model's tensor, drops the ImageNet classifier (unless asked to keep it), computes the
 * requantization constants exactly as TFLite's Prepare functions do (QuantizeMultiplier on
 * doubles), plans the activation arena and writes the image with its SHA-256.
 *
 * Supported: CONV_2D, DEPTHWISE_CONV_2D (depth multiplier 1), ADD (same shapes), AVERAGE_POOL_2D,
 * MEAN, FULLY_CONNECTED, PAD (folded into the next convolution when exact), RESHAPE (an alias),
 * TRANSPOSE; QUANTIZE at the input and DEQUANTIZE at the output are folded into the input and
 * output description. Anything else is refused with a sentence naming the op and tensor.
 */
#ifndef MICROT_MODEL_IMPORT_H
#define MICROT_MODEL_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model_format.h"
#include "nn/nn_conv.h"

typedef struct {
    /* Where the part model ends: a tensor name ("blocks.8.add.out"), or "blocks.N" / "N" for the
     * last tensor of block N (the .meta.json naming). NULL or "": the last activation before the
     * final pooling (the whole backbone is stage 1, stage 2 only pools). */
    const char *cut;
    /* Keep the original classifier (and anything after the feature) in stage 2: used to check
     * whole models against TFLite Micro and to measure them. */
    bool keep_classifier;
} model_import_opts_t;

typedef struct {
    uint32_t kind;             /* mt_op_kind_t */
    int32_t src_op;            /* op index in the .tflite (-1: the part pool the importer adds) */
    const char *src_name;      /* builtin name of the .tflite op ("CONV_2D", ...) */
    int stage;                 /* 1 or 2 */
    uint32_t in_tensor, out_tensor;
    uint64_t macs;
    uint32_t weight_bytes;     /* weights + biases + multipliers + shifts */
} model_import_op_t;

typedef struct {
    char *name;                /* the .tflite tensor's name (owned) */
    int32_t src_tensor;        /* index in the .tflite, -1 for the part feature */
    int32_t shape[4];
    uint32_t rank;
    uint32_t arena_off, bytes;
    float scale;
    int32_t zero_point;
} model_import_tensor_t;

typedef struct {
    uint8_t *image;            /* the device image (owned) */
    uint32_t image_bytes;
    uint8_t sha256[32];
    model_import_op_t *ops;
    uint32_t n_ops, stage1_ops;
    model_import_tensor_t *tensors;
    uint32_t n_tensors;
    uint32_t input_tensor, cut_tensor, part_tensor, full_tensor, output_tensor;
    uint32_t arena_stage1_bytes, arena_bytes;
    uint32_t weight_bytes_stage1, weight_bytes_stage2;
    uint64_t macs_stage1, macs_stage2;
    uint32_t part_dim, full_dim;
} model_import_t;

/* Imports a .tflite held in memory. Returns 0 or a negative mt_err_t (MT_EINVAL for a malformed
 * or unsupported model, with one sentence in err). *out is zeroed on failure. */
int model_import(const uint8_t *tflite, size_t len, const model_import_opts_t *opts,
                 model_import_t *out, char *err, size_t err_len);

/* Same from a file (at most TFL_MAX_MODEL_BYTES). */
int model_import_file(const char *path, const model_import_opts_t *opts, model_import_t *out,
                      char *err, size_t err_len);

void model_import_free(model_import_t *m);

/* Device tensor index of the .tflite tensor called name, or -1. */
int model_import_find_tensor(const model_import_t *m, const char *name);

/* TFLite's QuantizeMultiplier: real = q * 2^shift with q a Q31 significand, round half away. */
void model_import_quantize_multiplier(double real, int32_t *q, int32_t *shift);

/* The MEAN multiplier of TFLite Micro: QuantizeMultiplier(real) with 1/count folded into the
 * significand by an integer division (QuantizedMeanOrSum). */
void model_import_mean_multiplier(double real, int32_t count, int32_t *q, int32_t *shift);

/* How many bytes below its input a CONV's output may start in the arena (the two overlapping)
 * when the input dies at that conv: the kernel's writes never reach input it still has to read.
 * Used by the memory plan; tests run the kernel in that layout. */
uint32_t model_import_conv_overlap(const nn_conv_geom_t *g);

/* Name of a device op kind ("conv", "dwconv", ...). */
const char *model_import_kind_name(uint32_t kind);

#endif /* MICROT_MODEL_IMPORT_H */
