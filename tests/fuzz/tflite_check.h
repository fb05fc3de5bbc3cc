/*
 * tflite_check.h — the promises tfl_parse() makes about a model it accepted, checked by reading
 * every array and string it returned (so ASan sees any pointer that escapes the buffer). Shared by
 * tests/test_tflite_reader.c and tests/fuzz/fuzz_tflite_reader.c; header-only because the fuzz
 * build compiles each target as one file.
 */
#ifndef MICROT_TFLITE_CHECK_H
#define MICROT_TFLITE_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "import/tflite_reader.h"

/* Returns NULL when every invariant holds, else a description (in why) of the first broken one. */
static const char *tfl_check_model(const tfl_model_t *m, const uint8_t *buf, size_t len, char *why,
                                   size_t why_len)
{
    volatile size_t sink = 0; /* keeps the reads below from being optimised away */
#define TFL_CHECK(cond, ...) do { if (!(cond)) { snprintf(why, why_len, __VA_ARGS__); return why; } } while (0)
    TFL_CHECK(m->description != NULL, "description is NULL");
    sink += strlen(m->description);
    TFL_CHECK(m->n_tensors <= TFL_MAX_TENSORS && m->n_ops <= TFL_MAX_OPS, "counts over bounds");
    TFL_CHECK(m->n_tensors == 0 || m->tensors != NULL, "tensors NULL");
    TFL_CHECK(m->n_ops == 0 || m->ops != NULL, "ops NULL");
    TFL_CHECK(m->owned != NULL, "owned NULL on success");
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const tfl_tensor_t *t = &m->tensors[i];
        TFL_CHECK(t->name != NULL, "tensor %u name NULL", i);
        sink += strlen(t->name);
        TFL_CHECK(t->rank <= TFL_MAX_RANK, "tensor %u rank %u", i, t->rank);
        TFL_CHECK(t->type >= 0 && t->type <= 22, "tensor %u type %d", i, t->type);
        uint64_t elems = 1;
        for (uint32_t d = 0; d < TFL_MAX_RANK; d++) {
            if (d < t->rank) {
                TFL_CHECK(t->shape[d] >= 0, "tensor %u dim %u negative", i, d);
                elems *= (uint64_t)t->shape[d];
                if (elems > len) elems = len + 1; /* saturate: only equality with data matters */
            } else {
                TFL_CHECK(t->shape[d] == 0, "tensor %u unused dim %u not 0", i, d);
            }
        }
        if (t->data != NULL) {
            TFL_CHECK(t->data >= buf && t->data_bytes <= len && (size_t)(t->data - buf) <= len - t->data_bytes,
                      "tensor %u data outside the buffer", i);
            TFL_CHECK(tfl_type_bytes(t->type) != 0 && elems * tfl_type_bytes(t->type) == t->data_bytes,
                      "tensor %u data size %zu does not match its shape", i, t->data_bytes);
            TFL_CHECK(t->buffer_index != 0, "tensor %u has data from buffer 0", i);
            sink += t->data[0] + t->data[t->data_bytes - 1];
        } else {
            TFL_CHECK(t->data_bytes == 0, "tensor %u has bytes but no data", i);
        }
        if (t->quant.count > 0) {
            TFL_CHECK(t->quant.scale != NULL && t->quant.zero_point != NULL, "tensor %u quant NULL", i);
            for (uint32_t k = 0; k < t->quant.count; k++) {
                TFL_CHECK(isfinite(t->quant.scale[k]) && t->quant.scale[k] >= 0.0f,
                          "tensor %u scale %u bad", i, k);
                sink += (size_t)t->quant.zero_point[k];
            }
            if (t->quant.count == 1) {
                TFL_CHECK(t->quant.quantized_dimension == 0, "tensor %u per-tensor axis not 0", i);
            } else {
                int32_t qd = t->quant.quantized_dimension;
                TFL_CHECK(qd >= 0 && (uint32_t)qd < t->rank && (uint32_t)t->shape[qd] == t->quant.count,
                          "tensor %u per-channel count %u does not match axis %d", i, t->quant.count, qd);
            }
        }
    }
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const tfl_op_t *op = &m->ops[i];
        TFL_CHECK(op->builtin_code >= 0 && op->builtin_code <= 209, "op %u code %d", i, op->builtin_code);
        TFL_CHECK(strcmp(tfl_builtin_name(op->builtin_code), "UNKNOWN") != 0, "op %u unnamed", i);
        TFL_CHECK(op->version >= 1, "op %u version 0", i);
        TFL_CHECK(op->n_inputs == 0 || op->inputs != NULL, "op %u inputs NULL", i);
        TFL_CHECK(op->n_outputs == 0 || op->outputs != NULL, "op %u outputs NULL", i);
        for (uint32_t k = 0; k < op->n_inputs; k++)
            TFL_CHECK(op->inputs[k] >= -1 && op->inputs[k] < (int64_t)m->n_tensors, "op %u input %u", i, k);
        for (uint32_t k = 0; k < op->n_outputs; k++)
            TFL_CHECK(op->outputs[k] >= 0 && op->outputs[k] < (int64_t)m->n_tensors, "op %u output %u", i, k);
        if (op->custom_code != NULL) sink += strlen(op->custom_code);
        const tfl_options_t *o = &op->opt;
        if (op->builtin_code == TFL_OP_CONV_2D || op->builtin_code == TFL_OP_DEPTHWISE_CONV_2D) {
            TFL_CHECK(o->padding == 0 || o->padding == 1, "op %u padding", i);
            TFL_CHECK(o->stride_w >= 1 && o->stride_h >= 1, "op %u stride", i);
            TFL_CHECK(o->dilation_w >= 1 && o->dilation_h >= 1, "op %u dilation", i);
        }
        TFL_CHECK(o->fused_activation >= 0 && o->fused_activation <= 5, "op %u activation", i);
    }
    TFL_CHECK(m->n_inputs == 0 || m->inputs != NULL, "graph inputs NULL");
    TFL_CHECK(m->n_outputs == 0 || m->outputs != NULL, "graph outputs NULL");
    for (uint32_t k = 0; k < m->n_inputs; k++)
        TFL_CHECK(m->inputs[k] >= 0 && (uint32_t)m->inputs[k] < m->n_tensors, "graph input %u", k);
    for (uint32_t k = 0; k < m->n_outputs; k++)
        TFL_CHECK(m->outputs[k] >= 0 && (uint32_t)m->outputs[k] < m->n_tensors, "graph output %u", k);
#undef TFL_CHECK
    (void)sink;
    return NULL;
}

#endif /* MICROT_TFLITE_CHECK_H */
