/*
 * sample_prep.h — turns user images into the int8 input tensor of a device's model.
 *
 * Decoding is Debian's stb_image (PNG, JPEG, PGM/PPM, BMP...), resizing stb_image_resize with a
 * triangle filter (bilinear with half-pixel centres when enlarging, edges clamped: what the
 * board-side results used for Fashion-MNIST), channels adapted (grey replicated to RGB, RGB to
 * luma for grey models), then the models' input normalisation: a uint8 pixel p stands for the
 * real value (p - 128) / 127.5, quantized with the input tensor's scale and zero point (with the
 * MicroT backbones' scale 1/127.5 and zero point 0 this is exactly p - 128).
 *
 * IDX files (the Fashion-MNIST format, optionally gzip-compressed: zlib) are read by
 * prep_idx_open: an images file (magic 0x803, N x rows x cols uint8) and its labels file (0x801).
 * Every size is bounded; bad input returns MT_EINVAL (or MT_ETOOBIG) with one sentence in err.
 */
#ifndef MICROT_SAMPLE_PREP_H
#define MICROT_SAMPLE_PREP_H

#include <stddef.h>
#include <stdint.h>

#define PREP_MAX_FILE_BYTES (8u * 1024u * 1024u)   /* one uploaded image file */
#define PREP_MAX_SIDE 4096u                        /* pixels per side of a decoded image */
#define PREP_MAX_IDX_BYTES (64u * 1024u * 1024u)   /* one IDX file, decompressed */
#define PREP_MAX_TENSOR_BYTES (512u * 512u * 3u)   /* one model input */

typedef struct {
    uint32_t h, w, c;          /* c = 1 or 3 */
    float scale;
    int32_t zero_point;
} prep_input_t;

typedef struct {
    uint8_t *pixels;           /* h * w * c, row-major, interleaved */
    uint32_t w, h, c;
} prep_image_t;

/* Decodes an image file held in memory. */
int prep_decode(const uint8_t *data, size_t len, prep_image_t *out, char *err, size_t err_len);
void prep_image_free(prep_image_t *img);

/* Resizes and quantizes img for in; out gets in->h * in->w * in->c bytes (int8 as uint8). */
int prep_tensor(const prep_image_t *img, const prep_input_t *in, uint8_t *out, char *err,
                size_t err_len);

/* Both in one call: file bytes -> tensor. */
int prep_file_tensor(const uint8_t *data, size_t len, const prep_input_t *in, uint8_t *out,
                     char *err, size_t err_len);

typedef struct {
    uint8_t *images;           /* n * rows * cols */
    uint8_t *labels;           /* n */
    uint32_t n, rows, cols;
} prep_idx_t;

/* Reads an IDX image file and its label file (raw or gzip) from memory. */
int prep_idx_parse(const uint8_t *images, size_t images_len, const uint8_t *labels,
                   size_t labels_len, prep_idx_t *out, char *err, size_t err_len);
/* The same from two files. */
int prep_idx_open(const char *images_path, const char *labels_path, prep_idx_t *out, char *err,
                  size_t err_len);
void prep_idx_free(prep_idx_t *idx);

/* Image i of an IDX set as a grey prep_image_t that borrows the set's memory (do not free). */
prep_image_t prep_idx_image(const prep_idx_t *idx, uint32_t i);

/* The Fashion-MNIST class names, index = label byte (NULL past 9). */
const char *prep_fashion_mnist_name(unsigned label);

#endif /* MICROT_SAMPLE_PREP_H */
