/*
 * tflite_reader.h — a safe reader of TensorFlow Lite flatbuffers (.tflite), daemon side.
 *
 * tfl_parse() walks the flatbuffer by hand against ../shared/tflite/schema.fbs: every offset,
 * vtable, vector length and string is bounds-checked against the buffer before it is read, so a
 * truncated or hostile file is refused with one sentence naming the table, tensor or operator at
 * fault, never a crash. It returns subgraph 0 as plain C arrays: tensors (shape, type, constant
 * data pointing into the caller's buffer, quantization), operators (resolved builtin code, tensor
 * indices, the options the MicroT ops use) and the graph's inputs/outputs. It does not judge
 * whether the engine supports an op; the importer that lowers the model does.
 *
 * Multi-byte constant data (tensor data) is left as stored: little-endian, as the schema says,
 * and only as aligned as the caller's buffer (valid files align buffer data to 16 bytes from the
 * file start; a malloc'ed buffer keeps that). Read it with memcpy when unsure.
 */
#ifndef MICROT_TFLITE_READER_H
#define MICROT_TFLITE_READER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TFL_OK = 0,
    TFL_EFORMAT = -1,      /* malformed: bad offsets, truncated, inconsistent sizes or indices */
    TFL_EUNSUPPORTED = -2, /* well formed but uses a feature this reader does not read */
    TFL_ENOMEM = -3,       /* allocation failed */
} tfl_status_t;

/* Largest model tfl_parse() and tfl_read_file() accept; the MicroT models are under 1 MiB. */
#define TFL_MAX_MODEL_BYTES (16u * 1024u * 1024u)
#define TFL_MAX_RANK 6
/* Bounds on the graph size, so a file of shared tables cannot make us allocate without limit. */
#define TFL_MAX_TENSORS 65536u
#define TFL_MAX_OPS 65536u

/* Schema TensorType values the importer cares about (others keep their schema number). */
enum {
    TFL_TYPE_FLOAT32 = 0, TFL_TYPE_FLOAT16 = 1, TFL_TYPE_INT32 = 2, TFL_TYPE_UINT8 = 3,
    TFL_TYPE_INT64 = 4, TFL_TYPE_STRING = 5, TFL_TYPE_BOOL = 6, TFL_TYPE_INT16 = 7,
    TFL_TYPE_INT8 = 9, TFL_TYPE_FLOAT64 = 10,
};

/* Schema BuiltinOperator values of the ops the MicroT backbones use. */
enum {
    TFL_OP_ADD = 0, TFL_OP_AVERAGE_POOL_2D = 1, TFL_OP_CONCATENATION = 2, TFL_OP_CONV_2D = 3,
    TFL_OP_DEPTHWISE_CONV_2D = 4, TFL_OP_DEQUANTIZE = 6, TFL_OP_FULLY_CONNECTED = 9,
    TFL_OP_MAX_POOL_2D = 17, TFL_OP_MUL = 18, TFL_OP_RELU = 19, TFL_OP_RELU6 = 21,
    TFL_OP_RESHAPE = 22, TFL_OP_SOFTMAX = 25, TFL_OP_CUSTOM = 32, TFL_OP_PAD = 34,
    TFL_OP_TRANSPOSE = 39, TFL_OP_MEAN = 40, TFL_OP_SUB = 41, TFL_OP_SQUEEZE = 43,
    TFL_OP_PADV2 = 60, TFL_OP_QUANTIZE = 114,
};

/* Per-tensor (count 1) or per-axis (count = shape[quantized_dimension]) affine quantization:
 * real = scale[i] * (q - zero_point[i]). count 0 = not quantized. Arrays owned by the model.
 * quantized_dimension is 0 when count <= 1 and on rank-1 tensors (old converters store the
 * filter's axis 3 on biases, as in person_detect.tflite); otherwise it is < rank. */
typedef struct {
    const float *scale;
    const int64_t *zero_point;
    uint32_t count;
    int32_t quantized_dimension;
} tfl_quant_t;

typedef struct {
    const char *name;          /* never NULL ("" when the file has none) */
    int32_t type;              /* schema TensorType: FLOAT32=0, INT32=2, UINT8=3, INT64=4, INT8=9, INT16=7 ... */
    uint32_t rank;             /* 0..TFL_MAX_RANK */
    int32_t shape[TFL_MAX_RANK]; /* every dim >= 0; unused entries 0 */
    uint32_t buffer_index;
    const uint8_t *data;       /* constant data inside the caller's buffer; NULL when none */
    size_t data_bytes;         /* = elements x type size when data != NULL; 0 when none */
    tfl_quant_t quant;
    int32_t is_variable;       /* schema is_variable (state tensors) */
} tfl_tensor_t;

/* Builtin options of the ops the importer lowers; fields an op does not use are 0. Missing
 * options take the schema defaults (dilations 1, strides 0, padding SAME, activation NONE). */
typedef struct {
    int32_t padding;          /* 0 SAME, 1 VALID */
    int32_t stride_w, stride_h, dilation_w, dilation_h;
    int32_t fused_activation; /* 0 NONE, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6, 4 TANH, 5 SIGN_BIT */
    int32_t depth_multiplier; /* DEPTHWISE_CONV_2D */
    int32_t filter_w, filter_h; /* pools */
    int32_t keep_dims;        /* MEAN and the other reducers */
    int32_t weights_format;   /* FULLY_CONNECTED: 0 DEFAULT, 1 SHUFFLED4x16INT8 */
    int32_t keep_num_dims;    /* FULLY_CONNECTED */
    int32_t options_type;     /* schema BuiltinOptions union tag found in the file (0 NONE) */
} tfl_options_t;

typedef struct {
    int32_t builtin_code;     /* schema BuiltinOperator, max(deprecated_builtin_code, builtin_code) as TFLite does */
    uint32_t version;         /* >= 1 */
    const int32_t *inputs;    /* tensor indices, -1 = optional input omitted */
    uint32_t n_inputs;
    const int32_t *outputs;   /* tensor indices, all valid */
    uint32_t n_outputs;
    tfl_options_t opt;
    const char *custom_code;  /* CUSTOM ops: the operator code's name; NULL otherwise */
} tfl_op_t;

typedef struct {
    uint32_t version;         /* schema version (3) */
    const tfl_tensor_t *tensors;
    uint32_t n_tensors;
    const tfl_op_t *ops;      /* execution order */
    uint32_t n_ops;
    const int32_t *inputs;    /* subgraph 0 input tensor indices */
    uint32_t n_inputs;
    const int32_t *outputs;
    uint32_t n_outputs;
    const char *description;  /* never NULL */
    void *owned;              /* internal allocations, released by tfl_free() */
    uint32_t n_subgraphs;     /* how many the file has; only subgraph 0 is read */
} tfl_model_t;

/* Parses buf (which must outlive the model: tensor data and strings point into it). Only
 * subgraph 0. On error *out is left empty (tfl_free() is harmless on it) and err gets one
 * sentence; err may be NULL. */
tfl_status_t tfl_parse(const uint8_t *buf, size_t len, tfl_model_t *out, char *err, size_t err_len);

/* Releases what tfl_parse() allocated and zeroes *m; safe on a zeroed or already freed model. */
void tfl_free(tfl_model_t *m);

/* Index of the first tensor of subgraph 0 named `name`, or -1. */
int32_t tfl_find_tensor(const tfl_model_t *m, const char *name);

/* "CONV_2D", ...; "UNKNOWN" for codes outside the schema. Never NULL. */
const char *tfl_builtin_name(int32_t builtin_code);

/* "INT8", ...; "UNKNOWN" for values outside the schema. Never NULL. */
const char *tfl_type_name(int32_t type);

/* Bytes per element of a TensorType, 0 for types without a fixed size (STRING, INT4, ...). */
size_t tfl_type_bytes(int32_t type);

/* Reads a whole file into a malloc'ed buffer (*buf, *len; free() it). Refuses files larger than
 * TFL_MAX_MODEL_BYTES or empty. Returns TFL_OK, TFL_EFORMAT (I/O error, too large) or
 * TFL_ENOMEM, with one sentence in err naming the path. */
tfl_status_t tfl_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t err_len);

#endif /* MICROT_TFLITE_READER_H */
