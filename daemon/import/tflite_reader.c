/*
 * tflite_reader.c — hand-written, bounds-checked reader of .tflite flatbuffers (see the header).
 *
 * How a flatbuffer is laid out (all little-endian): the file starts with a uoffset (u32) to the
 * root table, then the 4-byte identifier "TFL3". A table starts with an soffset (i32) that points
 * back (table - soffset) to its vtable: u16 vtable bytes, u16 table inline bytes, then one u16 per
 * field slot giving the field's offset inside the table (0 = absent, use the schema default).
 * Scalars sit inline; tables, vectors and strings are reached through a uoffset stored in the
 * field, relative to the field's own position. A vector is a u32 element count followed by the
 * elements; a string is a byte vector followed by a NUL.
 *
 * Everything below reads through fb_* helpers that check each position against the buffer
 * length with 64-bit arithmetic before touching a byte, and reads bytes (never casts) so neither
 * alignment nor host byte order matter. Because uoffsets are unsigned, every reference points
 * forward and the walk has a fixed depth: no recursion, no cycles. What a hostile file can still
 * do is share one table or vector from many places; the copies we make are charged to a budget
 * proportional to the file size, and tensor/op counts are bounded, so memory stays bounded.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* fileno() */
#endif
#include "import/tflite_reader.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- schema constants (slot = field index in the table, as flatc numbers them) ---- */

enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2, MODEL_DESCRIPTION = 3,
       MODEL_BUFFERS = 4 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum { TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3,
       TENSOR_QUANTIZATION = 4, TENSOR_IS_VARIABLE = 5, TENSOR_SPARSITY = 6,
       TENSOR_EXTERNAL_BUFFER = 10 };
enum { QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DETAILS_TYPE = 4, QUANT_QDIM = 6 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum { OPCODE_DEPRECATED_BUILTIN = 0, OPCODE_CUSTOM_CODE = 1, OPCODE_VERSION = 2,
       OPCODE_BUILTIN = 3 };
enum { OP_OPCODE_INDEX = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS_TYPE = 3, OP_OPTIONS = 4 };

/* BuiltinOptions union tags of the option tables we read. */
enum { OPT_NONE = 0, OPT_CONV2D = 1, OPT_DEPTHWISE = 2, OPT_POOL2D = 5, OPT_FULLY_CONNECTED = 8,
       OPT_ADD = 11, OPT_REDUCER = 27 };

#define TFL_SCHEMA_VERSION 3u
#define TFL_MAX_BUILTIN 209
#define TFL_MAX_TYPE 22
#define TFL_MAX_OPCODES 65536u
#define TFL_NAME_SHOWN 48 /* chars of a tensor name quoted in an error message */

/* ---- owned memory: a chunked bump arena freed in one go ---- */

typedef struct tfl_chunk {
    struct tfl_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} tfl_chunk_t;

typedef struct {
    tfl_chunk_t *head;
} tfl_owned_t;

#define TFL_CHUNK_BYTES (64u * 1024u)

static void *tfl_arena_alloc(tfl_owned_t *o, size_t bytes)
{
    if (bytes == 0) bytes = 1;
    size_t need = (bytes + 15u) & ~(size_t)15u;
    if (need < bytes) return NULL;
    tfl_chunk_t *c = o->head;
    if (c == NULL || c->size - c->used < need) {
        size_t size = need > TFL_CHUNK_BYTES ? need : TFL_CHUNK_BYTES;
        if (size > SIZE_MAX - sizeof(tfl_chunk_t)) return NULL;
        c = malloc(sizeof(tfl_chunk_t) + size);
        if (c == NULL) return NULL;
        c->next = o->head;
        c->size = size;
        c->used = 0;
        o->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    memset(p, 0, bytes);
    return p;
}

static void tfl_arena_free(tfl_owned_t *o)
{
    if (o == NULL) return;
    tfl_chunk_t *c = o->head;
    while (c != NULL) {
        tfl_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(o);
}

/* ---- reader state and errors ---- */

typedef struct {
    const uint8_t *buf;
    size_t len;
    char *err;
    size_t err_len;
    bool failed;
    uint64_t budget_elems; /* array elements we may still copy (see file header) */
    tfl_owned_t *owned;
} tfl_rd_t;

/* Records the first error only (later ones are consequences) and returns its status. */
static tfl_status_t tfl_fail(tfl_rd_t *rd, tfl_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tfl_status_t tfl_fail(tfl_rd_t *rd, tfl_status_t st, const char *fmt, ...)
{
    if (!rd->failed && rd->err != NULL && rd->err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rd->err, rd->err_len, fmt, ap);
        va_end(ap);
    }
    rd->failed = true;
    return st;
}

static void *tfl_alloc(tfl_rd_t *rd, size_t n, size_t elem)
{
    if (elem != 0 && n > SIZE_MAX / elem) return NULL;
    return tfl_arena_alloc(rd->owned, n * elem);
}

/* Charges n copied elements to the budget; refuses when a file references more than it holds. */
static tfl_status_t tfl_charge(tfl_rd_t *rd, uint64_t n, const char *ctx)
{
    if (n > rd->budget_elems)
        return tfl_fail(rd, TFL_EFORMAT, "%s: the model references more array data than the "
                        "%zu-byte file holds (shared or overlapping tables)", ctx, rd->len);
    rd->budget_elems -= n;
    return TFL_OK;
}

/* ---- bounds-checked little-endian loads ---- */

static bool fb_in(const tfl_rd_t *rd, uint64_t pos, uint64_t bytes)
{
    return pos <= rd->len && bytes <= rd->len - pos;
}

static uint16_t fb_ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t fb_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t fb_ld64(const uint8_t *p) { return fb_ld32(p) | ((uint64_t)fb_ld32(p + 4) << 32); }

typedef struct {
    size_t pos;      /* table start (its soffset) */
    size_t vt;       /* vtable start */
    uint16_t vt_bytes, t_bytes;
} fb_table_t;

typedef struct {
    size_t pos;      /* first element */
    uint32_t n;
    bool present;
} fb_vec_t;

/* Opens the table at pos, checking the table and its vtable lie inside the buffer. */
static tfl_status_t fb_table(tfl_rd_t *rd, uint64_t pos, const char *ctx, fb_table_t *t)
{
    if (!fb_in(rd, pos, 4))
        return tfl_fail(rd, TFL_EFORMAT, "%s: table at offset %llu lies outside the %zu-byte file",
                        ctx, (unsigned long long)pos, rd->len);
    int32_t soff = (int32_t)fb_ld32(rd->buf + pos);
    int64_t vt = (int64_t)pos - (int64_t)soff;
    if (vt < 0 || !fb_in(rd, (uint64_t)vt, 4))
        return tfl_fail(rd, TFL_EFORMAT, "%s: vtable of the table at offset %llu lies outside the file",
                        ctx, (unsigned long long)pos);
    uint16_t vt_bytes = fb_ld16(rd->buf + vt), t_bytes = fb_ld16(rd->buf + vt + 2);
    if (vt_bytes < 4 || (vt_bytes & 1u) || !fb_in(rd, (uint64_t)vt, vt_bytes))
        return tfl_fail(rd, TFL_EFORMAT, "%s: vtable at offset %lld is malformed (%u bytes)", ctx,
                        (long long)vt, vt_bytes);
    if (t_bytes < 4 || !fb_in(rd, pos, t_bytes))
        return tfl_fail(rd, TFL_EFORMAT, "%s: table at offset %llu claims %u bytes past the end of the file",
                        ctx, (unsigned long long)pos, t_bytes);
    t->pos = (size_t)pos;
    t->vt = (size_t)vt;
    t->vt_bytes = vt_bytes;
    t->t_bytes = t_bytes;
    return TFL_OK;
}

/* Finds field `slot` of `bytes` bytes: *fpos = its absolute position, or 0 when absent. */
static tfl_status_t fb_field(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, unsigned bytes,
                             const char *ctx, const char *field, size_t *fpos)
{
    *fpos = 0;
    size_t entry = 4u + 2u * slot;
    if (entry + 2u > t->vt_bytes) return TFL_OK; /* vtable older than the field: absent */
    uint16_t off = fb_ld16(rd->buf + t->vt + entry);
    if (off == 0) return TFL_OK;
    if ((size_t)off + bytes > t->t_bytes)
        return tfl_fail(rd, TFL_EFORMAT, "%s: field '%s' lies outside its table", ctx, field);
    *fpos = t->pos + off; /* inside the table, which fb_table() checked */
    return TFL_OK;
}

static tfl_status_t fb_u8(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, uint8_t def,
                          const char *ctx, const char *field, uint8_t *out)
{
    size_t p;
    tfl_status_t st = fb_field(rd, t, slot, 1, ctx, field, &p);
    if (st != TFL_OK) return st;
    *out = p ? rd->buf[p] : def;
    return TFL_OK;
}

static tfl_status_t fb_u32(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, uint32_t def,
                           const char *ctx, const char *field, uint32_t *out)
{
    size_t p;
    tfl_status_t st = fb_field(rd, t, slot, 4, ctx, field, &p);
    if (st != TFL_OK) return st;
    *out = p ? fb_ld32(rd->buf + p) : def;
    return TFL_OK;
}

static tfl_status_t fb_i32(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, int32_t def,
                           const char *ctx, const char *field, int32_t *out)
{
    uint32_t u;
    tfl_status_t st = fb_u32(rd, t, slot, (uint32_t)def, ctx, field, &u);
    *out = (int32_t)u;
    return st;
}

static tfl_status_t fb_u64(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, uint64_t def,
                           const char *ctx, const char *field, uint64_t *out)
{
    size_t p;
    tfl_status_t st = fb_field(rd, t, slot, 8, ctx, field, &p);
    if (st != TFL_OK) return st;
    *out = p ? fb_ld64(rd->buf + p) : def;
    return TFL_OK;
}

/* Follows the uoffset stored at pos; *target gets the referenced position (>= 4 bytes inside). */
static tfl_status_t fb_deref(tfl_rd_t *rd, size_t pos, const char *ctx, const char *field,
                             size_t *target)
{
    uint32_t u = fb_ld32(rd->buf + pos); /* callers checked pos + 4 <= len */
    uint64_t tgt = (uint64_t)pos + u;
    if (u == 0 || !fb_in(rd, tgt, 4))
        return tfl_fail(rd, TFL_EFORMAT, "%s: '%s' points outside the %zu-byte file (offset %llu)",
                        ctx, field, rd->len, (unsigned long long)tgt);
    *target = (size_t)tgt;
    return TFL_OK;
}

/* Field `slot` as a reference; *target = 0 when absent. */
static tfl_status_t fb_ref(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, const char *ctx,
                           const char *field, size_t *target)
{
    size_t p;
    *target = 0;
    tfl_status_t st = fb_field(rd, t, slot, 4, ctx, field, &p);
    if (st != TFL_OK || p == 0) return st;
    return fb_deref(rd, p, ctx, field, target);
}

/* The vector at position vpos (its length word), elements of elem_bytes each. */
static tfl_status_t fb_vec_at(tfl_rd_t *rd, size_t vpos, unsigned elem_bytes, const char *ctx,
                              const char *field, fb_vec_t *v)
{
    uint32_t n = fb_ld32(rd->buf + vpos);
    if (!fb_in(rd, (uint64_t)vpos + 4u, (uint64_t)n * elem_bytes))
        return tfl_fail(rd, TFL_EFORMAT, "%s: vector '%s' of %u elements runs past the end of the "
                        "%zu-byte file", ctx, field, n, rd->len);
    v->pos = vpos + 4u;
    v->n = n;
    v->present = true;
    return TFL_OK;
}

/* Field `slot` as a vector; an absent field is an empty vector with present = false. */
static tfl_status_t fb_vec(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, unsigned elem_bytes,
                           const char *ctx, const char *field, fb_vec_t *v)
{
    size_t target = 0;
    memset(v, 0, sizeof(*v));
    tfl_status_t st = fb_ref(rd, t, slot, ctx, field, &target);
    if (st != TFL_OK || target == 0) return st;
    return fb_vec_at(rd, target, elem_bytes, ctx, field, v);
}

/* Element i of a vector of tables. */
static tfl_status_t fb_vec_table(tfl_rd_t *rd, const fb_vec_t *v, uint32_t i, const char *ctx,
                                 const char *field, fb_table_t *t)
{
    size_t target = 0;
    tfl_status_t st = fb_deref(rd, v->pos + 4u * (size_t)i, ctx, field, &target);
    if (st != TFL_OK) return st;
    return fb_table(rd, target, ctx, t);
}

/* Field `slot` as a sub-table; *present = false when absent. */
static tfl_status_t fb_subtable(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, const char *ctx,
                                const char *field, fb_table_t *sub, bool *present)
{
    size_t target = 0;
    *present = false;
    tfl_status_t st = fb_ref(rd, t, slot, ctx, field, &target);
    if (st != TFL_OK || target == 0) return st;
    st = fb_table(rd, target, ctx, sub);
    if (st == TFL_OK) *present = true;
    return st;
}

/* Field `slot` as a string: *s points into the buffer after checking its NUL terminator; absent
 * strings give def. */
static tfl_status_t fb_string(tfl_rd_t *rd, const fb_table_t *t, unsigned slot, const char *def,
                              const char *ctx, const char *field, const char **s)
{
    fb_vec_t v;
    *s = def;
    tfl_status_t st = fb_vec(rd, t, slot, 1, ctx, field, &v);
    if (st != TFL_OK || !v.present) return st;
    if (!fb_in(rd, (uint64_t)v.pos + v.n, 1) || rd->buf[v.pos + v.n] != 0)
        return tfl_fail(rd, TFL_EFORMAT, "%s: string '%s' is not NUL-terminated inside the file",
                        ctx, field);
    *s = (const char *)rd->buf + v.pos;
    return TFL_OK;
}

/* Copies a vector of int32 into owned memory, charging the budget. */
static tfl_status_t fb_copy_i32(tfl_rd_t *rd, const fb_vec_t *v, const char *ctx, int32_t **out)
{
    *out = NULL;
    if (v->n == 0) return TFL_OK;
    tfl_status_t st = tfl_charge(rd, v->n, ctx);
    if (st != TFL_OK) return st;
    int32_t *a = tfl_alloc(rd, v->n, sizeof(int32_t));
    if (a == NULL) return tfl_fail(rd, TFL_ENOMEM, "%s: out of memory", ctx);
    for (uint32_t i = 0; i < v->n; i++) a[i] = (int32_t)fb_ld32(rd->buf + v->pos + 4u * (size_t)i);
    *out = a;
    return TFL_OK;
}

/* A tensor name made safe to quote in a message: printable ASCII, at most TFL_NAME_SHOWN chars. */
static void tfl_safe_name(const char *name, char *out, size_t out_len)
{
    size_t j = 0;
    for (size_t i = 0; name != NULL && name[i] != 0 && j + 1 < out_len; i++) {
        if (i == TFL_NAME_SHOWN) {
            for (int k = 0; k < 3 && j + 1 < out_len; k++) out[j++] = '.';
            break;
        }
        unsigned char c = (unsigned char)name[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[j] = 0;
}

/* ---- names ---- */

static const char *const tfl_builtin_names[TFL_MAX_BUILTIN + 1] = {
    [0] = "ADD", [1] = "AVERAGE_POOL_2D", [2] = "CONCATENATION", [3] = "CONV_2D", [4] = "DEPTHWISE_CONV_2D",
    [5] = "DEPTH_TO_SPACE", [6] = "DEQUANTIZE", [7] = "EMBEDDING_LOOKUP", [8] = "FLOOR", [9] = "FULLY_CONNECTED",
    [10] = "HASHTABLE_LOOKUP", [11] = "L2_NORMALIZATION", [12] = "L2_POOL_2D", [13] = "LOCAL_RESPONSE_NORMALIZATION",
    [14] = "LOGISTIC", [15] = "LSH_PROJECTION", [16] = "LSTM", [17] = "MAX_POOL_2D", [18] = "MUL",
    [19] = "RELU", [20] = "RELU_N1_TO_1", [21] = "RELU6", [22] = "RESHAPE", [23] = "RESIZE_BILINEAR",
    [24] = "RNN", [25] = "SOFTMAX", [26] = "SPACE_TO_DEPTH", [27] = "SVDF", [28] = "TANH", [29] = "CONCAT_EMBEDDINGS",
    [30] = "SKIP_GRAM", [31] = "CALL", [32] = "CUSTOM", [33] = "EMBEDDING_LOOKUP_SPARSE", [34] = "PAD",
    [35] = "UNIDIRECTIONAL_SEQUENCE_RNN", [36] = "GATHER", [37] = "BATCH_TO_SPACE_ND", [38] = "SPACE_TO_BATCH_ND",
    [39] = "TRANSPOSE", [40] = "MEAN", [41] = "SUB", [42] = "DIV", [43] = "SQUEEZE", [44] = "UNIDIRECTIONAL_SEQUENCE_LSTM",
    [45] = "STRIDED_SLICE", [46] = "BIDIRECTIONAL_SEQUENCE_RNN", [47] = "EXP", [48] = "TOPK_V2",
    [49] = "SPLIT", [50] = "LOG_SOFTMAX", [51] = "DELEGATE", [52] = "BIDIRECTIONAL_SEQUENCE_LSTM",
    [53] = "CAST", [54] = "PRELU", [55] = "MAXIMUM", [56] = "ARG_MAX", [57] = "MINIMUM", [58] = "LESS",
    [59] = "NEG", [60] = "PADV2", [61] = "GREATER", [62] = "GREATER_EQUAL", [63] = "LESS_EQUAL",
    [64] = "SELECT", [65] = "SLICE", [66] = "SIN", [67] = "TRANSPOSE_CONV", [68] = "SPARSE_TO_DENSE",
    [69] = "TILE", [70] = "EXPAND_DIMS", [71] = "EQUAL", [72] = "NOT_EQUAL", [73] = "LOG", [74] = "SUM",
    [75] = "SQRT", [76] = "RSQRT", [77] = "SHAPE", [78] = "POW", [79] = "ARG_MIN", [80] = "FAKE_QUANT",
    [81] = "REDUCE_PROD", [82] = "REDUCE_MAX", [83] = "PACK", [84] = "LOGICAL_OR", [85] = "ONE_HOT",
    [86] = "LOGICAL_AND", [87] = "LOGICAL_NOT", [88] = "UNPACK", [89] = "REDUCE_MIN", [90] = "FLOOR_DIV",
    [91] = "REDUCE_ANY", [92] = "SQUARE", [93] = "ZEROS_LIKE", [94] = "FILL", [95] = "FLOOR_MOD",
    [96] = "RANGE", [97] = "RESIZE_NEAREST_NEIGHBOR", [98] = "LEAKY_RELU", [99] = "SQUARED_DIFFERENCE",
    [100] = "MIRROR_PAD", [101] = "ABS", [102] = "SPLIT_V", [103] = "UNIQUE", [104] = "CEIL", [105] = "REVERSE_V2",
    [106] = "ADD_N", [107] = "GATHER_ND", [108] = "COS", [109] = "WHERE", [110] = "RANK", [111] = "ELU",
    [112] = "REVERSE_SEQUENCE", [113] = "MATRIX_DIAG", [114] = "QUANTIZE", [115] = "MATRIX_SET_DIAG",
    [116] = "ROUND", [117] = "HARD_SWISH", [118] = "IF", [119] = "WHILE", [120] = "NON_MAX_SUPPRESSION_V4",
    [121] = "NON_MAX_SUPPRESSION_V5", [122] = "SCATTER_ND", [123] = "SELECT_V2", [124] = "DENSIFY",
    [125] = "SEGMENT_SUM", [126] = "BATCH_MATMUL", [127] = "PLACEHOLDER_FOR_GREATER_OP_CODES",
    [128] = "CUMSUM", [129] = "CALL_ONCE", [130] = "BROADCAST_TO", [131] = "RFFT2D", [132] = "CONV_3D",
    [133] = "IMAG", [134] = "REAL", [135] = "COMPLEX_ABS", [136] = "HASHTABLE", [137] = "HASHTABLE_FIND",
    [138] = "HASHTABLE_IMPORT", [139] = "HASHTABLE_SIZE", [140] = "REDUCE_ALL", [141] = "CONV_3D_TRANSPOSE",
    [142] = "VAR_HANDLE", [143] = "READ_VARIABLE", [144] = "ASSIGN_VARIABLE", [145] = "BROADCAST_ARGS",
    [146] = "RANDOM_STANDARD_NORMAL", [147] = "BUCKETIZE", [148] = "RANDOM_UNIFORM", [149] = "MULTINOMIAL",
    [150] = "GELU", [151] = "DYNAMIC_UPDATE_SLICE", [152] = "RELU_0_TO_1", [153] = "UNSORTED_SEGMENT_PROD",
    [154] = "UNSORTED_SEGMENT_MAX", [155] = "UNSORTED_SEGMENT_SUM", [156] = "ATAN2", [157] = "UNSORTED_SEGMENT_MIN",
    [158] = "SIGN", [159] = "BITCAST", [160] = "BITWISE_XOR", [161] = "RIGHT_SHIFT", [162] = "STABLEHLO_LOGISTIC",
    [163] = "STABLEHLO_ADD", [164] = "STABLEHLO_DIVIDE", [165] = "STABLEHLO_MULTIPLY", [166] = "STABLEHLO_MAXIMUM",
    [167] = "STABLEHLO_RESHAPE", [168] = "STABLEHLO_CLAMP", [169] = "STABLEHLO_CONCATENATE", [170] = "STABLEHLO_BROADCAST_IN_DIM",
    [171] = "STABLEHLO_CONVOLUTION", [172] = "STABLEHLO_SLICE", [173] = "STABLEHLO_CUSTOM_CALL",
    [174] = "STABLEHLO_REDUCE", [175] = "STABLEHLO_ABS", [176] = "STABLEHLO_AND", [177] = "STABLEHLO_COSINE",
    [178] = "STABLEHLO_EXPONENTIAL", [179] = "STABLEHLO_FLOOR", [180] = "STABLEHLO_LOG", [181] = "STABLEHLO_MINIMUM",
    [182] = "STABLEHLO_NEGATE", [183] = "STABLEHLO_OR", [184] = "STABLEHLO_POWER", [185] = "STABLEHLO_REMAINDER",
    [186] = "STABLEHLO_RSQRT", [187] = "STABLEHLO_SELECT", [188] = "STABLEHLO_SUBTRACT", [189] = "STABLEHLO_TANH",
    [190] = "STABLEHLO_SCATTER", [191] = "STABLEHLO_COMPARE", [192] = "STABLEHLO_CONVERT", [193] = "STABLEHLO_DYNAMIC_SLICE",
    [194] = "STABLEHLO_DYNAMIC_UPDATE_SLICE", [195] = "STABLEHLO_PAD", [196] = "STABLEHLO_IOTA",
    [197] = "STABLEHLO_DOT_GENERAL", [198] = "STABLEHLO_REDUCE_WINDOW", [199] = "STABLEHLO_SORT",
    [200] = "STABLEHLO_WHILE", [201] = "STABLEHLO_GATHER", [202] = "STABLEHLO_TRANSPOSE", [203] = "DILATE",
    [204] = "STABLEHLO_RNG_BIT_GENERATOR", [205] = "REDUCE_WINDOW", [206] = "STABLEHLO_COMPOSITE",
    [207] = "STABLEHLO_SHIFT_LEFT", [208] = "STABLEHLO_CBRT", [209] = "STABLEHLO_CASE"
};

const char *tfl_builtin_name(int32_t builtin_code)
{
    if (builtin_code < 0 || builtin_code > TFL_MAX_BUILTIN || tfl_builtin_names[builtin_code] == NULL)
        return "UNKNOWN";
    return tfl_builtin_names[builtin_code];
}

static const char *const tfl_type_names[TFL_MAX_TYPE + 1] = {
    "FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16", "COMPLEX64",
    "INT8", "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT", "UINT32", "UINT16", "INT4",
    "BFLOAT16", "INT2", "UINT4", "FLOAT8_E4M3FN", "FLOAT8_E5M2",
};

const char *tfl_type_name(int32_t type)
{
    if (type < 0 || type > TFL_MAX_TYPE) return "UNKNOWN";
    return tfl_type_names[type];
}

size_t tfl_type_bytes(int32_t type)
{
    switch (type) {
    case 0: case 2: case 15: return 4;          /* FLOAT32, INT32, UINT32 */
    case 1: case 7: case 16: case 18: return 2; /* FLOAT16, INT16, UINT16, BFLOAT16 */
    case 3: case 6: case 9: case 21: case 22: return 1; /* UINT8, BOOL, INT8, FLOAT8 */
    case 4: case 8: case 10: case 12: return 8; /* INT64, COMPLEX64, FLOAT64, UINT64 */
    case 11: return 16;                         /* COMPLEX128 */
    default: return 0;                          /* STRING, RESOURCE, VARIANT, packed INT4/2 */
    }
}

/* ---- tensors ---- */

typedef struct {
    fb_vec_t buffers; /* Model.buffers */
} tfl_ctx_t;

/* Locates the constant data of buffer `index` (embedded vector, or offset/size into the file). */
static tfl_status_t tfl_buffer_data(tfl_rd_t *rd, const tfl_ctx_t *mc, uint32_t index,
                                    const char *ctx, const uint8_t **data, size_t *bytes)
{
    char bctx[160];
    fb_table_t bt;
    fb_vec_t dv;
    uint64_t off, size;
    tfl_status_t st;

    *data = NULL;
    *bytes = 0;
    snprintf(bctx, sizeof(bctx), "%s, buffer %u", ctx, index);
    if ((st = fb_vec_table(rd, &mc->buffers, index, bctx, "buffers", &bt)) != TFL_OK) return st;
    if ((st = fb_vec(rd, &bt, BUFFER_DATA, 1, bctx, "data", &dv)) != TFL_OK) return st;
    if ((st = fb_u64(rd, &bt, BUFFER_OFFSET, 0, bctx, "offset", &off)) != TFL_OK) return st;
    if ((st = fb_u64(rd, &bt, BUFFER_SIZE, 0, bctx, "size", &size)) != TFL_OK) return st;
    if (off > 1) { /* large-model extension: data outside the flatbuffer, offset from file start */
        if (dv.n != 0)
            return tfl_fail(rd, TFL_EFORMAT, "%s: has both embedded data and an offset", bctx);
        if (!fb_in(rd, off, size))
            return tfl_fail(rd, TFL_EFORMAT, "%s: offset %llu + size %llu lies outside the %zu-byte file",
                            bctx, (unsigned long long)off, (unsigned long long)size, rd->len);
        *data = size ? rd->buf + off : NULL;
        *bytes = (size_t)size;
        return TFL_OK;
    }
    *data = dv.n ? rd->buf + dv.pos : NULL;
    *bytes = dv.n;
    return TFL_OK;
}

static tfl_status_t tfl_parse_quant(tfl_rd_t *rd, const fb_table_t *qt, tfl_tensor_t *t,
                                    const char *ctx)
{
    fb_vec_t sv, zv;
    uint8_t details;
    int32_t qdim;
    tfl_status_t st;

    if ((st = fb_u8(rd, qt, QUANT_DETAILS_TYPE, 0, ctx, "quantization.details_type", &details)) != TFL_OK) return st;
    if (details != 0)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "%s: uses custom/blockwise quantization details "
                        "(union type %u), only scale/zero_point is read", ctx, details);
    if ((st = fb_vec(rd, qt, QUANT_SCALE, 4, ctx, "quantization.scale", &sv)) != TFL_OK) return st;
    if ((st = fb_vec(rd, qt, QUANT_ZERO_POINT, 8, ctx, "quantization.zero_point", &zv)) != TFL_OK) return st;
    if ((st = fb_i32(rd, qt, QUANT_QDIM, 0, ctx, "quantization.quantized_dimension", &qdim)) != TFL_OK) return st;
    if (sv.n == 0) return TFL_OK; /* min/max only, or empty: not quantized (as TFLite reads it) */
    if (zv.n != sv.n)
        return tfl_fail(rd, TFL_EFORMAT, "%s: quantization has %u scales but %u zero points", ctx,
                        sv.n, zv.n);
    if (sv.n > 1) {
        /* A rank-1 tensor has one axis: old converters wrote the filter's axis (3) on biases. */
        if (t->rank == 1 && (uint32_t)t->shape[0] == sv.n) qdim = 0;
        if (qdim < 0 || (uint32_t)qdim >= t->rank)
            return tfl_fail(rd, TFL_EFORMAT, "%s: quantized_dimension %d is outside rank %u", ctx,
                            qdim, t->rank);
        if ((uint32_t)t->shape[qdim] != sv.n)
            return tfl_fail(rd, TFL_EFORMAT, "%s: %u per-channel scales but dimension %d has size %d",
                            ctx, sv.n, qdim, t->shape[qdim]);
    } else {
        qdim = 0; /* per-tensor: the stored axis is meaningless (old converters write 3) */
    }
    if ((st = tfl_charge(rd, 2ull * sv.n, ctx)) != TFL_OK) return st;
    float *scale = tfl_alloc(rd, sv.n, sizeof(float));
    int64_t *zp = tfl_alloc(rd, sv.n, sizeof(int64_t));
    if (scale == NULL || zp == NULL) return tfl_fail(rd, TFL_ENOMEM, "%s: out of memory", ctx);
    for (uint32_t i = 0; i < sv.n; i++) {
        uint32_t bits = fb_ld32(rd->buf + sv.pos + 4u * (size_t)i);
        memcpy(&scale[i], &bits, sizeof(float));
        if (!isfinite(scale[i]) || scale[i] < 0.0f)
            return tfl_fail(rd, TFL_EFORMAT, "%s: quantization scale %u is %g, not a finite "
                            "non-negative number", ctx, i, (double)scale[i]);
        zp[i] = (int64_t)fb_ld64(rd->buf + zv.pos + 8u * (size_t)i);
    }
    t->quant.scale = scale;
    t->quant.zero_point = zp;
    t->quant.count = sv.n;
    t->quant.quantized_dimension = qdim;
    return TFL_OK;
}

static tfl_status_t tfl_parse_tensor(tfl_rd_t *rd, const tfl_ctx_t *mc, const fb_table_t *tt,
                                     uint32_t index, tfl_tensor_t *t)
{
    char ctx[128], shown[TFL_NAME_SHOWN + 4];
    fb_vec_t shape;
    fb_table_t sub;
    bool present;
    uint8_t type, is_var;
    uint32_t ext;
    tfl_status_t st;

    snprintf(ctx, sizeof(ctx), "tensor %u", index);
    if ((st = fb_string(rd, tt, TENSOR_NAME, "", ctx, "name", &t->name)) != TFL_OK) return st;
    tfl_safe_name(t->name, shown, sizeof(shown));
    snprintf(ctx, sizeof(ctx), "tensor %u '%s'", index, shown);

    if ((st = fb_vec(rd, tt, TENSOR_SHAPE, 4, ctx, "shape", &shape)) != TFL_OK) return st;
    if (shape.n > TFL_MAX_RANK)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "%s: rank %u exceeds the maximum of %d", ctx,
                        shape.n, TFL_MAX_RANK);
    t->rank = shape.n;
    for (uint32_t i = 0; i < shape.n; i++) {
        t->shape[i] = (int32_t)fb_ld32(rd->buf + shape.pos + 4u * (size_t)i);
        if (t->shape[i] < 0)
            return tfl_fail(rd, TFL_EFORMAT, "%s: dimension %u is negative (%d)", ctx, i, t->shape[i]);
    }

    if ((st = fb_u8(rd, tt, TENSOR_TYPE, 0, ctx, "type", &type)) != TFL_OK) return st;
    t->type = (int8_t)type;
    if (t->type < 0 || t->type > TFL_MAX_TYPE)
        return tfl_fail(rd, TFL_EFORMAT, "%s: unknown tensor type %d", ctx, t->type);
    if ((st = fb_u8(rd, tt, TENSOR_IS_VARIABLE, 0, ctx, "is_variable", &is_var)) != TFL_OK) return st;
    t->is_variable = is_var != 0;

    if ((st = fb_subtable(rd, tt, TENSOR_SPARSITY, ctx, "sparsity", &sub, &present)) != TFL_OK) return st;
    if (present)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "%s: is a sparse tensor, only dense tensors are read", ctx);
    if ((st = fb_u32(rd, tt, TENSOR_EXTERNAL_BUFFER, 0, ctx, "external_buffer", &ext)) != TFL_OK) return st;
    if (ext != 0)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "%s: stores its data in external buffer %u (another "
                        "file), which is not read", ctx, ext);

    if ((st = fb_subtable(rd, tt, TENSOR_QUANTIZATION, ctx, "quantization", &sub, &present)) != TFL_OK) return st;
    if (present && (st = tfl_parse_quant(rd, &sub, t, ctx)) != TFL_OK) return st;

    if ((st = fb_u32(rd, tt, TENSOR_BUFFER, 0, ctx, "buffer", &t->buffer_index)) != TFL_OK) return st;
    if (t->buffer_index >= mc->buffers.n && !(t->buffer_index == 0 && mc->buffers.n == 0))
        return tfl_fail(rd, TFL_EFORMAT, "%s: buffer index %u is out of range (the model has %u buffers)",
                        ctx, t->buffer_index, mc->buffers.n);
    if (t->buffer_index == 0) return TFL_OK; /* the empty sentinel: no constant data */

    const uint8_t *data;
    size_t bytes;
    if ((st = tfl_buffer_data(rd, mc, t->buffer_index, ctx, &data, &bytes)) != TFL_OK) return st;
    if (bytes == 0) return TFL_OK;
    size_t elem = tfl_type_bytes(t->type);
    if (elem == 0)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "%s: constant data of type %s is not read", ctx,
                        tfl_type_name(t->type));
    uint64_t need = elem;
    for (uint32_t i = 0; i < t->rank; i++) {
        need *= (uint64_t)t->shape[i];
        if (need > rd->len) break; /* already too large for the file; avoids overflow */
    }
    if (need != bytes)
        return tfl_fail(rd, TFL_EFORMAT, "%s: buffer %u holds %zu bytes but its shape and type %s "
                        "need %llu", ctx, t->buffer_index, bytes, tfl_type_name(t->type),
                        (unsigned long long)need);
    t->data = data;
    t->data_bytes = bytes;
    return TFL_OK;
}

/* ---- operators ---- */

typedef struct {
    int32_t code;
    uint32_t version;
    const char *custom_code;
} tfl_opcode_t;

static tfl_status_t tfl_parse_opcode(tfl_rd_t *rd, const fb_table_t *ot, uint32_t index,
                                     tfl_opcode_t *oc)
{
    char ctx[64];
    uint8_t dep;
    int32_t code, version;
    tfl_status_t st;

    snprintf(ctx, sizeof(ctx), "operator code %u", index);
    if ((st = fb_u8(rd, ot, OPCODE_DEPRECATED_BUILTIN, 0, ctx, "deprecated_builtin_code", &dep)) != TFL_OK) return st;
    if ((st = fb_i32(rd, ot, OPCODE_BUILTIN, 0, ctx, "builtin_code", &code)) != TFL_OK) return st;
    if ((st = fb_i32(rd, ot, OPCODE_VERSION, 1, ctx, "version", &version)) != TFL_OK) return st;
    if ((st = fb_string(rd, ot, OPCODE_CUSTOM_CODE, NULL, ctx, "custom_code", &oc->custom_code)) != TFL_OK) return st;
    /* Old files only set the byte field, new ones both; TFLite takes the larger of the two. */
    if ((int8_t)dep > code) code = (int8_t)dep;
    if (code < 0)
        return tfl_fail(rd, TFL_EFORMAT, "%s: negative builtin code %d", ctx, code);
    if (code > TFL_MAX_BUILTIN)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "%s: builtin code %d is newer than the schema read "
                        "(last %d)", ctx, code, TFL_MAX_BUILTIN);
    if (version < 1)
        return tfl_fail(rd, TFL_EFORMAT, "%s: version %d is below 1", ctx, version);
    oc->code = code;
    oc->version = (uint32_t)version;
    return TFL_OK;
}

/* The BuiltinOptions tag an op must carry for us to read its options; OPT_NONE = not read. */
static int tfl_expected_options(int32_t code)
{
    switch (code) {
    case TFL_OP_CONV_2D: return OPT_CONV2D;
    case TFL_OP_DEPTHWISE_CONV_2D: return OPT_DEPTHWISE;
    case TFL_OP_AVERAGE_POOL_2D: case TFL_OP_MAX_POOL_2D: case 12 /* L2_POOL_2D */: return OPT_POOL2D;
    case TFL_OP_FULLY_CONNECTED: return OPT_FULLY_CONNECTED;
    case TFL_OP_ADD: return OPT_ADD;
    case TFL_OP_MEAN: case 74 /* SUM */: case 81 /* REDUCE_PROD */: case 82 /* REDUCE_MAX */:
    case 89 /* REDUCE_MIN */: case 91 /* REDUCE_ANY */: case 140 /* REDUCE_ALL */: return OPT_REDUCER;
    default: return OPT_NONE;
    }
}

static const char *tfl_options_name(int tag)
{
    switch (tag) {
    case OPT_CONV2D: return "Conv2DOptions";
    case OPT_DEPTHWISE: return "DepthwiseConv2DOptions";
    case OPT_POOL2D: return "Pool2DOptions";
    case OPT_FULLY_CONNECTED: return "FullyConnectedOptions";
    case OPT_ADD: return "AddOptions";
    case OPT_REDUCER: return "ReducerOptions";
    default: return "none";
    }
}

/* Reads the option table `ot` (may be NULL: all schema defaults) of tag `tag` into *o. */
static tfl_status_t tfl_parse_options(tfl_rd_t *rd, const fb_table_t *ot, int tag, const char *ctx,
                                      tfl_options_t *o)
{
    /* With no table every field reads its default: a view whose vtable has no slots, so the
     * fb_* helpers never touch the buffer for it. */
    const fb_table_t none = { .pos = 0, .vt = 0, .vt_bytes = 4, .t_bytes = 4 };
    uint8_t pad = 0, act = 0, b = 0;
    tfl_status_t st = TFL_OK;

    if (ot == NULL) ot = &none;
    switch (tag) {
    case OPT_CONV2D:
        if ((st = fb_u8(rd, ot, 0, 0, ctx, "padding", &pad)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 1, 0, ctx, "stride_w", &o->stride_w)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 2, 0, ctx, "stride_h", &o->stride_h)) != TFL_OK) break;
        if ((st = fb_u8(rd, ot, 3, 0, ctx, "fused_activation_function", &act)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 4, 1, ctx, "dilation_w_factor", &o->dilation_w)) != TFL_OK) break;
        st = fb_i32(rd, ot, 5, 1, ctx, "dilation_h_factor", &o->dilation_h);
        break;
    case OPT_DEPTHWISE:
        if ((st = fb_u8(rd, ot, 0, 0, ctx, "padding", &pad)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 1, 0, ctx, "stride_w", &o->stride_w)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 2, 0, ctx, "stride_h", &o->stride_h)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 3, 0, ctx, "depth_multiplier", &o->depth_multiplier)) != TFL_OK) break;
        if ((st = fb_u8(rd, ot, 4, 0, ctx, "fused_activation_function", &act)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 5, 1, ctx, "dilation_w_factor", &o->dilation_w)) != TFL_OK) break;
        st = fb_i32(rd, ot, 6, 1, ctx, "dilation_h_factor", &o->dilation_h);
        break;
    case OPT_POOL2D:
        if ((st = fb_u8(rd, ot, 0, 0, ctx, "padding", &pad)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 1, 0, ctx, "stride_w", &o->stride_w)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 2, 0, ctx, "stride_h", &o->stride_h)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 3, 0, ctx, "filter_width", &o->filter_w)) != TFL_OK) break;
        if ((st = fb_i32(rd, ot, 4, 0, ctx, "filter_height", &o->filter_h)) != TFL_OK) break;
        st = fb_u8(rd, ot, 5, 0, ctx, "fused_activation_function", &act);
        break;
    case OPT_FULLY_CONNECTED:
        if ((st = fb_u8(rd, ot, 0, 0, ctx, "fused_activation_function", &act)) != TFL_OK) break;
        if ((st = fb_u8(rd, ot, 1, 0, ctx, "weights_format", &b)) != TFL_OK) break;
        o->weights_format = (int8_t)b;
        if ((st = fb_u8(rd, ot, 2, 0, ctx, "keep_num_dims", &b)) != TFL_OK) break;
        o->keep_num_dims = b != 0;
        break;
    case OPT_ADD:
        st = fb_u8(rd, ot, 0, 0, ctx, "fused_activation_function", &act);
        break;
    case OPT_REDUCER:
        if ((st = fb_u8(rd, ot, 0, 0, ctx, "keep_dims", &b)) != TFL_OK) break;
        o->keep_dims = b != 0;
        break;
    default:
        break;
    }
    if (st != TFL_OK) return st;
    o->padding = (int8_t)pad;
    o->fused_activation = (int8_t)act;

    /* Values the lowering would divide or loop by: refuse nonsense here, naming the op. */
    if (tag == OPT_CONV2D || tag == OPT_DEPTHWISE || tag == OPT_POOL2D) {
        if (o->padding != 0 && o->padding != 1)
            return tfl_fail(rd, TFL_EFORMAT, "%s: padding %d is neither SAME nor VALID", ctx, o->padding);
        if (o->stride_w < 1 || o->stride_h < 1)
            return tfl_fail(rd, TFL_EFORMAT, "%s: strides %d x %d must be at least 1", ctx,
                            o->stride_w, o->stride_h);
    }
    if ((tag == OPT_CONV2D || tag == OPT_DEPTHWISE) && (o->dilation_w < 1 || o->dilation_h < 1))
        return tfl_fail(rd, TFL_EFORMAT, "%s: dilations %d x %d must be at least 1", ctx,
                        o->dilation_w, o->dilation_h);
    if (tag == OPT_DEPTHWISE && o->depth_multiplier < 0)
        return tfl_fail(rd, TFL_EFORMAT, "%s: depth_multiplier %d is negative", ctx, o->depth_multiplier);
    if (tag == OPT_POOL2D && (o->filter_w < 1 || o->filter_h < 1))
        return tfl_fail(rd, TFL_EFORMAT, "%s: pool filter %d x %d must be at least 1 x 1", ctx,
                        o->filter_w, o->filter_h);
    if (o->fused_activation < 0 || o->fused_activation > 5)
        return tfl_fail(rd, TFL_EFORMAT, "%s: unknown fused activation %d", ctx, o->fused_activation);
    if (o->weights_format < 0 || o->weights_format > 1)
        return tfl_fail(rd, TFL_EFORMAT, "%s: unknown weights_format %d", ctx, o->weights_format);
    return TFL_OK;
}

static tfl_status_t tfl_parse_op(tfl_rd_t *rd, const fb_table_t *ot, uint32_t index,
                                 const tfl_opcode_t *codes, uint32_t n_codes, uint32_t n_tensors,
                                 tfl_op_t *op)
{
    char ctx[96];
    uint32_t ci;
    uint8_t tag;
    fb_vec_t in, out;
    fb_table_t opt_t;
    bool present;
    int32_t *a;
    tfl_status_t st;

    snprintf(ctx, sizeof(ctx), "operator %u", index);
    if ((st = fb_u32(rd, ot, OP_OPCODE_INDEX, 0, ctx, "opcode_index", &ci)) != TFL_OK) return st;
    if (ci >= n_codes)
        return tfl_fail(rd, TFL_EFORMAT, "%s: opcode index %u is out of range (the model has %u "
                        "operator codes)", ctx, ci, n_codes);
    op->builtin_code = codes[ci].code;
    op->version = codes[ci].version;
    op->custom_code = op->builtin_code == TFL_OP_CUSTOM ? codes[ci].custom_code : NULL;
    snprintf(ctx, sizeof(ctx), "operator %u (%s)", index, tfl_builtin_name(op->builtin_code));

    if ((st = fb_vec(rd, ot, OP_INPUTS, 4, ctx, "inputs", &in)) != TFL_OK) return st;
    if ((st = fb_vec(rd, ot, OP_OUTPUTS, 4, ctx, "outputs", &out)) != TFL_OK) return st;
    if ((st = fb_copy_i32(rd, &in, ctx, &a)) != TFL_OK) return st;
    op->inputs = a;
    op->n_inputs = in.n;
    for (uint32_t i = 0; i < in.n; i++)
        if (a[i] < -1 || a[i] >= (int64_t)n_tensors)
            return tfl_fail(rd, TFL_EFORMAT, "%s: input %u refers to tensor %d, out of range (the "
                            "subgraph has %u tensors)", ctx, i, a[i], n_tensors);
    if ((st = fb_copy_i32(rd, &out, ctx, &a)) != TFL_OK) return st;
    op->outputs = a;
    op->n_outputs = out.n;
    for (uint32_t i = 0; i < out.n; i++)
        if (a[i] < 0 || a[i] >= (int64_t)n_tensors)
            return tfl_fail(rd, TFL_EFORMAT, "%s: output %u refers to tensor %d, out of range (the "
                            "subgraph has %u tensors)", ctx, i, a[i], n_tensors);

    if ((st = fb_u8(rd, ot, OP_OPTIONS_TYPE, 0, ctx, "builtin_options_type", &tag)) != TFL_OK) return st;
    op->opt.options_type = tag;
    int want = tfl_expected_options(op->builtin_code);
    if (want == OPT_NONE) return TFL_OK; /* options of other ops are not read */
    if (tag != OPT_NONE && tag != want)
        return tfl_fail(rd, TFL_EFORMAT, "%s: carries builtin options of union type %u, expected %s",
                        ctx, tag, tfl_options_name(want));
    present = false;
    if (tag == want &&
        (st = fb_subtable(rd, ot, OP_OPTIONS, ctx, "builtin_options", &opt_t, &present)) != TFL_OK)
        return st;
    return tfl_parse_options(rd, present ? &opt_t : NULL, want, ctx, &op->opt);
}

/* ---- the model ---- */

static tfl_status_t tfl_copy_graph_io(tfl_rd_t *rd, const fb_table_t *sg, unsigned slot,
                                      const char *what, uint32_t n_tensors, const int32_t **out,
                                      uint32_t *n_out)
{
    char ctx[48];
    fb_vec_t v;
    int32_t *a;
    tfl_status_t st;

    snprintf(ctx, sizeof(ctx), "subgraph 0 %s", what);
    if ((st = fb_vec(rd, sg, slot, 4, ctx, what, &v)) != TFL_OK) return st;
    if ((st = fb_copy_i32(rd, &v, ctx, &a)) != TFL_OK) return st;
    for (uint32_t i = 0; i < v.n; i++)
        if (a[i] < 0 || (uint32_t)a[i] >= n_tensors)
            return tfl_fail(rd, TFL_EFORMAT, "%s: entry %u refers to tensor %d, out of range (the "
                            "subgraph has %u tensors)", ctx, i, a[i], n_tensors);
    *out = a;
    *n_out = v.n;
    return TFL_OK;
}

static tfl_status_t tfl_parse_model(tfl_rd_t *rd, tfl_model_t *m)
{
    fb_table_t root, sg, t;
    fb_vec_t codes_v, subgraphs_v, tensors_v, ops_v;
    tfl_ctx_t mc;
    tfl_status_t st;

    if (rd->len < 8)
        return tfl_fail(rd, TFL_EFORMAT, "file of %zu bytes is too short to be a TFLite model", rd->len);
    if (memcmp(rd->buf + 4, "TFL3", 4) != 0) {
        char id[20];
        size_t j = 0;
        for (int i = 4; i < 8; i++) {
            unsigned char c = rd->buf[i];
            if (c >= 0x20 && c < 0x7f && c != '\\') id[j++] = (char)c;
            else j += (size_t)snprintf(id + j, sizeof(id) - j, "\\x%02x", c);
        }
        id[j] = 0;
        return tfl_fail(rd, TFL_EFORMAT, "not a TFLite model: file identifier is '%s', expected 'TFL3'", id);
    }
    if ((st = fb_deref(rd, 0, "Model", "root", &root.pos)) != TFL_OK) return st;
    if ((st = fb_table(rd, root.pos, "Model", &root)) != TFL_OK) return st;
    if ((st = fb_u32(rd, &root, MODEL_VERSION, 0, "Model", "version", &m->version)) != TFL_OK) return st;
    if (m->version != TFL_SCHEMA_VERSION)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "Model: schema version %u, only version %u is read",
                        m->version, TFL_SCHEMA_VERSION);
    if ((st = fb_string(rd, &root, MODEL_DESCRIPTION, "", "Model", "description", &m->description)) != TFL_OK) return st;

    /* operator codes */
    if ((st = fb_vec(rd, &root, MODEL_OPERATOR_CODES, 4, "Model", "operator_codes", &codes_v)) != TFL_OK) return st;
    if (codes_v.n > TFL_MAX_OPCODES)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "Model: %u operator codes exceed the bound of %u",
                        codes_v.n, TFL_MAX_OPCODES);
    tfl_opcode_t *codes = tfl_alloc(rd, codes_v.n, sizeof(*codes));
    if (codes == NULL) return tfl_fail(rd, TFL_ENOMEM, "Model: out of memory for operator codes");
    for (uint32_t i = 0; i < codes_v.n; i++) {
        char ctx[48];
        snprintf(ctx, sizeof(ctx), "operator code %u", i);
        if ((st = fb_vec_table(rd, &codes_v, i, ctx, "operator_codes", &t)) != TFL_OK) return st;
        if ((st = tfl_parse_opcode(rd, &t, i, &codes[i])) != TFL_OK) return st;
    }

    /* buffers: read lazily per tensor, but the sentinel must be empty */
    if ((st = fb_vec(rd, &root, MODEL_BUFFERS, 4, "Model", "buffers", &mc.buffers)) != TFL_OK) return st;
    if (mc.buffers.n > 0) {
        const uint8_t *d;
        size_t b;
        if ((st = tfl_buffer_data(rd, &mc, 0, "Model", &d, &b)) != TFL_OK) return st;
        if (b != 0)
            return tfl_fail(rd, TFL_EFORMAT, "Model: buffer 0 must be the empty sentinel but holds %zu bytes", b);
    }

    /* subgraph 0 */
    if ((st = fb_vec(rd, &root, MODEL_SUBGRAPHS, 4, "Model", "subgraphs", &subgraphs_v)) != TFL_OK) return st;
    if (subgraphs_v.n == 0) return tfl_fail(rd, TFL_EFORMAT, "Model: has no subgraph");
    m->n_subgraphs = subgraphs_v.n;
    if ((st = fb_vec_table(rd, &subgraphs_v, 0, "subgraph 0", "subgraphs", &sg)) != TFL_OK) return st;

    if ((st = fb_vec(rd, &sg, SG_TENSORS, 4, "subgraph 0", "tensors", &tensors_v)) != TFL_OK) return st;
    if (tensors_v.n > TFL_MAX_TENSORS)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "subgraph 0: %u tensors exceed the bound of %u",
                        tensors_v.n, TFL_MAX_TENSORS);
    tfl_tensor_t *tensors = tfl_alloc(rd, tensors_v.n, sizeof(*tensors));
    if (tensors == NULL) return tfl_fail(rd, TFL_ENOMEM, "subgraph 0: out of memory for tensors");
    m->tensors = tensors;
    for (uint32_t i = 0; i < tensors_v.n; i++) {
        char ctx[32];
        snprintf(ctx, sizeof(ctx), "tensor %u", i);
        if ((st = fb_vec_table(rd, &tensors_v, i, ctx, "tensors", &t)) != TFL_OK) return st;
        if ((st = tfl_parse_tensor(rd, &mc, &t, i, &tensors[i])) != TFL_OK) return st;
    }
    m->n_tensors = tensors_v.n;

    if ((st = tfl_copy_graph_io(rd, &sg, SG_INPUTS, "inputs", m->n_tensors, &m->inputs, &m->n_inputs)) != TFL_OK) return st;
    if ((st = tfl_copy_graph_io(rd, &sg, SG_OUTPUTS, "outputs", m->n_tensors, &m->outputs, &m->n_outputs)) != TFL_OK) return st;

    if ((st = fb_vec(rd, &sg, SG_OPERATORS, 4, "subgraph 0", "operators", &ops_v)) != TFL_OK) return st;
    if (ops_v.n > TFL_MAX_OPS)
        return tfl_fail(rd, TFL_EUNSUPPORTED, "subgraph 0: %u operators exceed the bound of %u",
                        ops_v.n, TFL_MAX_OPS);
    tfl_op_t *ops = tfl_alloc(rd, ops_v.n, sizeof(*ops));
    if (ops == NULL) return tfl_fail(rd, TFL_ENOMEM, "subgraph 0: out of memory for operators");
    m->ops = ops;
    for (uint32_t i = 0; i < ops_v.n; i++) {
        char ctx[32];
        snprintf(ctx, sizeof(ctx), "operator %u", i);
        if ((st = fb_vec_table(rd, &ops_v, i, ctx, "operators", &t)) != TFL_OK) return st;
        if ((st = tfl_parse_op(rd, &t, i, codes, codes_v.n, m->n_tensors, &ops[i])) != TFL_OK) return st;
    }
    m->n_ops = ops_v.n;
    return TFL_OK;
}

tfl_status_t tfl_parse(const uint8_t *buf, size_t len, tfl_model_t *out, char *err, size_t err_len)
{
    tfl_rd_t rd = { .buf = buf, .len = len, .err = err, .err_len = err_len };
    tfl_status_t st;

    if (err != NULL && err_len > 0) err[0] = 0;
    if (out == NULL) return TFL_EFORMAT;
    memset(out, 0, sizeof(*out));
    if (buf == NULL && len != 0) return tfl_fail(&rd, TFL_EFORMAT, "no buffer given");
    if (len > TFL_MAX_MODEL_BYTES)
        return tfl_fail(&rd, TFL_EUNSUPPORTED, "model of %zu bytes exceeds the %u-byte bound", len,
                        TFL_MAX_MODEL_BYTES);
    /* Each copied element occupies at least 4 bytes of an honest file; the slack covers tiny files. */
    rd.budget_elems = len / 4u + 256u;
    rd.owned = calloc(1, sizeof(tfl_owned_t));
    if (rd.owned == NULL) return tfl_fail(&rd, TFL_ENOMEM, "out of memory");

    st = tfl_parse_model(&rd, out);
    if (st != TFL_OK) goto out;
    out->owned = rd.owned;
    return TFL_OK;
out:
    tfl_arena_free(rd.owned);
    memset(out, 0, sizeof(*out));
    return st;
}

int32_t tfl_find_tensor(const tfl_model_t *m, const char *name)
{
    if (m == NULL || name == NULL) return -1;
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return (int32_t)i;
    return -1;
}

void tfl_free(tfl_model_t *m)
{
    if (m == NULL) return;
    tfl_arena_free(m->owned);
    memset(m, 0, sizeof(*m));
}

tfl_status_t tfl_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t err_len)
{
    tfl_rd_t rd = { .err = err, .err_len = err_len };
    tfl_status_t st = TFL_OK;
    uint8_t *data = NULL;
    size_t got = 0;
    struct stat sb;
    FILE *f = NULL;

    if (err != NULL && err_len > 0) err[0] = 0;
    if (buf == NULL || len == NULL || path == NULL) return TFL_EFORMAT;
    *buf = NULL;
    *len = 0;
    f = fopen(path, "rb");
    if (f == NULL) {
        st = tfl_fail(&rd, TFL_EFORMAT, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = tfl_fail(&rd, TFL_EFORMAT, "%s is not a regular file", path);
        goto out;
    }
    if (sb.st_size <= 0 || (uint64_t)sb.st_size > TFL_MAX_MODEL_BYTES) {
        st = tfl_fail(&rd, TFL_EFORMAT, "%s is %lld bytes; a model must be 1 to %u bytes", path,
                      (long long)sb.st_size, TFL_MAX_MODEL_BYTES);
        goto out;
    }
    /* One byte more than stat said, to notice a file that grew under us. */
    data = malloc((size_t)sb.st_size + 1u);
    if (data == NULL) {
        st = tfl_fail(&rd, TFL_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    got = fread(data, 1, (size_t)sb.st_size + 1u, f);
    if (ferror(f) || got != (size_t)sb.st_size) {
        st = tfl_fail(&rd, TFL_EFORMAT, "reading %s gave %zu bytes, expected %lld", path, got,
                      (long long)sb.st_size);
        goto out;
    }
    *buf = data;
    *len = got;
    data = NULL;
out:
    free(data);
    if (f != NULL) fclose(f);
    return st;
}
