/*
 * model_format.h — the device model image: what microtd's importer writes and the engine runs
 * in place from flash. docs/model-format.md describes it in prose; this header is the contract.
 *
 * One little-endian image, every section 8-byte aligned, every offset relative to the image start:
 *
 *   mt_model_header_t                       (fixed, MT_MODEL_HEADER_BYTES)
 *   mt_tensor_t[n_tensors]                  activation tensors: shape, quantization, arena offset
 *   mt_op_t[n_ops]                          ops in execution order: stage 1, the part pool, stage 2
 *   constant data                           weights (int8), folded biases, multipliers, shifts (int32)
 *   SHA-256 of every byte before it         (32 bytes, the last of the image)
 *
 * Ops [0, stage1_ops) compute the cut tensor and end with the part pool (a MEAN over H, W of the
 * cut tensor giving the part feature). Ops [stage1_ops, n_ops) are stage 2: they resume from the
 * activations stage 1 left in the arena (the plan keeps them alive) and compute the full feature
 * (the tensor that fed the original classifier) and, in images imported with the classifier kept,
 * the model's output. Every activation lives in the caller's arena at a planned offset; the
 * image itself is never written.
 *
 * Records are plain structs of 32-bit fields so the engine reads them in place (the image must be
 * 4-byte aligned; flash and the host are little-endian).
 */
#ifndef MICROT_MODEL_FORMAT_H
#define MICROT_MODEL_FORMAT_H

#include <stdint.h>

#define MT_MODEL_MAGIC 0x4D444F4Du   /* "MODM" read as a little-endian u32 */
#define MT_MODEL_VERSION 1u
#define MT_MODEL_HEADER_BYTES 128u
#define MT_MODEL_ALIGN 8u
#define MT_MODEL_HASH_BYTES 32u
#define MT_MODEL_MAX_TENSORS 1024u
#define MT_MODEL_MAX_OPS 512u
#define MT_MODEL_NONE 0xFFFFFFFFu     /* "no tensor" in tensor index fields */

/* Header flags. */
#define MT_MODEL_F_INPUT_FLOAT 1u     /* the .tflite took float input through QUANTIZE (folded) */
#define MT_MODEL_F_OUTPUT_FLOAT 2u    /* the .tflite gave float output through DEQUANTIZE (folded) */
#define MT_MODEL_F_CLASSIFIER 4u      /* stage 2 goes on to the original classifier output */

typedef struct {
    uint32_t magic;              /* MT_MODEL_MAGIC */
    uint32_t version;            /* MT_MODEL_VERSION */
    uint32_t header_bytes;       /* MT_MODEL_HEADER_BYTES */
    uint32_t image_bytes;        /* whole image including the trailing hash */
    uint32_t flags;              /* MT_MODEL_F_* */
    uint32_t n_tensors;
    uint32_t n_ops;
    uint32_t stage1_ops;         /* ops [0, stage1_ops) are stage 1, the last being the part pool */
    uint32_t tensors_off;        /* offset of mt_tensor_t[n_tensors] */
    uint32_t ops_off;            /* offset of mt_op_t[n_ops] */
    uint32_t data_off;           /* offset of the constant data */
    uint32_t data_bytes;
    uint32_t input_tensor;       /* int8 input the caller fills (engine_input) */
    uint32_t cut_tensor;         /* where the part model ends */
    uint32_t part_tensor;        /* part feature, int8 [1, C_cut] */
    uint32_t full_tensor;        /* full feature, int8, the classifier's input */
    uint32_t output_tensor;      /* model output (MT_MODEL_F_CLASSIFIER) or MT_MODEL_NONE */
    uint32_t arena_stage1_bytes; /* arena needed to run stage 1 alone */
    uint32_t arena_bytes;        /* arena needed for stage 1 + stage 2 */
    uint32_t weight_bytes;       /* constant data of stage 1 + stage 2 */
    uint32_t macs_stage1;
    uint32_t macs_stage2;
    uint32_t reserved[10];
} mt_model_header_t;

typedef struct {
    int32_t shape[4];            /* rank-4 view, leading 1s (NHWC for images) */
    uint32_t rank;               /* rank in the .tflite (1..4) */
    uint32_t arena_off;          /* byte offset in the arena */
    uint32_t bytes;              /* int8 elements */
    float scale;                 /* real = scale * (q - zero_point) */
    int32_t zero_point;
    uint32_t reserved;
} mt_tensor_t;

typedef enum {
    MT_OP_CONV = 1,              /* CONV_2D (PAD folded in when exact) */
    MT_OP_DWCONV = 2,            /* DEPTHWISE_CONV_2D, depth multiplier 1 */
    MT_OP_FC = 3,                /* FULLY_CONNECTED */
    MT_OP_ADD = 4,
    MT_OP_AVGPOOL = 5,           /* AVERAGE_POOL_2D */
    MT_OP_MEAN = 6,              /* MEAN (also the part pool) */
    MT_OP_PAD = 7,               /* PAD that could not be folded */
    MT_OP_TRANSPOSE = 8,
    MT_OP_COPY = 9,              /* RESHAPE whose output could not alias its input */
    MT_OP_KIND_MAX = 9,
} mt_op_kind_t;

/* Per-kind meaning of p[]:
 *   CONV, DWCONV, AVGPOOL: p[0..5] = k_h, k_w, stride_h, stride_w, pad_top, pad_left;
 *                          CONV/DWCONV weights_off, bias_off, mult_off, shift_off (int32 per out ch)
 *   FC:      mult_off/shift_off have n_out entries (per-tensor models repeat one)
 *   ADD:     p[0..7] = left_shift, in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift
 *   MEAN:    p[0] = 0, p[1] = reduce mask (bit i = axis i of the rank-4 view), p[2] = mult,
 *            p[3] = shift (the multiplier includes 1/count)
 *   PAD:     p[0..3] = before per axis, p[4..7] = after per axis; value = output zero point
 *   TRANSPOSE: p[0..3] = perm
 */
typedef struct {
    uint32_t kind;               /* mt_op_kind_t */
    uint32_t in0, in1, out;      /* tensor indices (in1 = MT_MODEL_NONE when unused) */
    int32_t act_min, act_max;    /* fused activation clamp */
    int32_t p[8];
    uint32_t weights_off, bias_off, mult_off, shift_off; /* image offsets, 0 = none */
    uint32_t scratch_off;        /* arena offset of the op's scratch */
    uint32_t scratch_bytes;
    uint32_t macs;               /* multiply-accumulates (or element operations) of the op */
    uint32_t src_op;             /* index of the op in the .tflite (for reports) */
} mt_op_t;

#endif /* MICROT_MODEL_FORMAT_H */
