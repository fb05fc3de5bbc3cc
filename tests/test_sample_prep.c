/*
 * test_sample_prep.c — image decode, resize, channel adaptation and input quantization, and IDX
 * reading (raw and gzip), on images and IDX files generated in memory by the test itself
 * (stb_image_write for PNG/JPEG, zlib for gzip), plus Debian's Fashion-MNIST files when present.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <stb/stb_image_write.h>

#include "mt_err.h"
#include "sample_prep.h"

static const prep_input_t rgb128 = {.h = 128, .w = 128, .c = 3, .scale = 1.0f / 127.5f, .zero_point = 0};

/* A PGM (P5) or PPM (P6) of w x h filled by fn. */
static uint8_t *pnm(int color, unsigned w, unsigned h, uint8_t (*fn)(unsigned x, unsigned y, unsigned ch),
                    size_t *len)
{
    char hdr[32];
    unsigned c = color ? 3 : 1;
    int n = snprintf(hdr, sizeof hdr, "P%d\n%u %u\n255\n", color ? 6 : 5, w, h);
    uint8_t *b = malloc((size_t)n + (size_t)w * h * c);
    memcpy(b, hdr, (size_t)n);
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++)
            for (unsigned k = 0; k < c; k++)
                b[n + (y * w + x) * c + k] = fn(x, y, k);
    *len = (size_t)n + (size_t)w * h * c;
    return b;
}

static uint8_t grey200(unsigned x, unsigned y, unsigned ch) { (void)x, (void)y, (void)ch; return 200; }
static uint8_t red(unsigned x, unsigned y, unsigned ch) { (void)x, (void)y; return ch == 0 ? 255 : 0; }
static uint8_t ramp(unsigned x, unsigned y, unsigned ch) { (void)y, (void)ch; return (uint8_t)(x * 16); }

static void test_pgm_quantized(void **state)
{
    (void)state;
    size_t len;
    uint8_t *f = pnm(0, 28, 28, grey200, &len);
    uint8_t *t = malloc(128 * 128 * 3);
    char err[256];
    assert_int_equal(prep_file_tensor(f, len, &rgb128, t, err, sizeof err), 0);
    /* p - 128 for the MicroT input quantization, grey replicated into 3 channels. */
    for (size_t i = 0; i < 128 * 128 * 3; i++)
        assert_int_equal((int8_t)t[i], 72);
    free(f);
    free(t);
}

static void test_rgb_to_grey_and_scale(void **state)
{
    (void)state;
    size_t len;
    uint8_t *f = pnm(1, 8, 8, red, &len);
    prep_input_t grey = {.h = 4, .w = 4, .c = 1, .scale = 2.0f / 127.5f, .zero_point = 10};
    uint8_t t[16];
    char err[256];
    assert_int_equal(prep_file_tensor(f, len, &grey, t, err, sizeof err), 0);
    /* luma of pure red = 0.299 * 255 = 76; (76 - 128) / 2 + 10 = -16 */
    for (int i = 0; i < 16; i++)
        assert_int_equal((int8_t)t[i], -16);
    free(f);
}

static void test_resize_keeps_order(void **state)
{
    (void)state;
    size_t len;
    uint8_t *f = pnm(0, 16, 4, ramp, &len);
    prep_input_t in = {.h = 2, .w = 32, .c = 1, .scale = 1.0f / 127.5f, .zero_point = 0};
    uint8_t t[64];
    char err[256];
    assert_int_equal(prep_file_tensor(f, len, &in, t, err, sizeof err), 0);
    /* An increasing ramp stays non-decreasing along x when enlarged; ends near its ends. */
    for (int x = 1; x < 32; x++)
        assert_true((int8_t)t[x] >= (int8_t)t[x - 1]);
    assert_true((int8_t)t[0] <= -120 && (int8_t)t[31] >= 100);
    free(f);
}

typedef struct {
    uint8_t *buf;
    size_t n, cap;
} membuf_t;

static void write_mem(void *ctx, void *data, int size)
{
    membuf_t *m = ctx;
    assert_true(m->n + (size_t)size <= m->cap);
    memcpy(m->buf + m->n, data, (size_t)size);
    m->n += (size_t)size;
}

static void test_png_and_jpeg(void **state)
{
    (void)state;
    uint8_t px[32 * 32 * 3];
    for (int i = 0; i < 32 * 32; i++)
        px[3 * i] = 200, px[3 * i + 1] = 200, px[3 * i + 2] = 200;
    for (int fmt = 0; fmt < 2; fmt++) {
        membuf_t m = {.buf = malloc(1 << 16), .cap = 1 << 16};
        uint8_t *buf = m.buf;
        if (fmt == 0)
            assert_true(stbi_write_png_to_func(write_mem, &m, 32, 32, 3, px, 32 * 3));
        else
            assert_true(stbi_write_jpg_to_func(write_mem, &m, 32, 32, 3, px, 95));
        size_t n = m.n;
        uint8_t *t = malloc(128 * 128 * 3);
        char err[256];
        assert_int_equal(prep_file_tensor(buf, n, &rgb128, t, err, sizeof err), 0);
        for (size_t i = 0; i < 128 * 128 * 3; i++)
            assert_true((int8_t)t[i] >= 70 && (int8_t)t[i] <= 74); /* JPEG may be 1-2 off */
        free(t);
        free(buf);
    }
}

static void test_bad_images(void **state)
{
    (void)state;
    uint8_t t[128 * 128 * 3];
    char err[256] = "";
    assert_int_equal(prep_file_tensor((const uint8_t *)"hello, not an image", 19, &rgb128, t, err,
                                      sizeof err), MT_EINVAL);
    assert_true(strstr(err, "cannot decode") != NULL);
    assert_int_equal(prep_file_tensor(NULL, 0, &rgb128, t, err, sizeof err), MT_EINVAL);
    /* A header announcing 5000 x 5000 is refused before decoding. */
    const char *huge = "P5\n5000 5000\n255\n";
    uint8_t *f = calloc(1, 64);
    memcpy(f, huge, strlen(huge));
    assert_int_equal(prep_file_tensor(f, 64, &rgb128, t, err, sizeof err), MT_ETOOBIG);
    free(f);
    /* A truncated PGM. */
    size_t len;
    f = pnm(0, 28, 28, grey200, &len);
    assert_int_equal(prep_file_tensor(f, len / 2, &rgb128, t, err, sizeof err), MT_EINVAL);
    free(f);
}

/* An IDX pair of n images (i-th image filled with i, label i % 10). */
static void idx_pair(uint32_t n, uint8_t **im, size_t *im_len, uint8_t **lb, size_t *lb_len)
{
    *im_len = 16 + (size_t)n * 4 * 4;
    *lb_len = 8 + n;
    *im = calloc(1, *im_len);
    *lb = calloc(1, *lb_len);
    (*im)[2] = 8, (*im)[3] = 3, (*im)[7] = (uint8_t)n, (*im)[11] = 4, (*im)[15] = 4;
    (*lb)[2] = 8, (*lb)[3] = 1, (*lb)[7] = (uint8_t)n;
    for (uint32_t i = 0; i < n; i++) {
        memset(*im + 16 + i * 16, (int)i, 16);
        (*lb)[8 + i] = (uint8_t)(i % 10);
    }
}

static uint8_t *gzip_of(const uint8_t *in, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uint8_t *out = malloc(len + 256);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)(len + 256);
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static void test_idx_raw_and_gzip(void **state)
{
    (void)state;
    uint8_t *im, *lb;
    size_t im_len, lb_len, gz_len;
    prep_idx_t idx;
    char err[256];
    idx_pair(12, &im, &im_len, &lb, &lb_len);
    assert_int_equal(prep_idx_parse(im, im_len, lb, lb_len, &idx, err, sizeof err), 0);
    assert_int_equal(idx.n, 12);
    assert_int_equal(idx.rows, 4);
    assert_int_equal(idx.labels[11], 1);
    assert_int_equal(prep_idx_image(&idx, 7).pixels[5], 7);
    prep_idx_free(&idx);

    uint8_t *gz = gzip_of(im, im_len, &gz_len);
    assert_int_equal(prep_idx_parse(gz, gz_len, lb, lb_len, &idx, err, sizeof err), 0);
    assert_int_equal(idx.n, 12);
    assert_int_equal(prep_idx_image(&idx, 3).pixels[0], 3);
    prep_idx_free(&idx);
    /* Truncated gzip, wrong magic, counts that disagree. */
    assert_int_equal(prep_idx_parse(gz, gz_len / 2, lb, lb_len, &idx, err, sizeof err), MT_EINVAL);
    im[3] = 1;
    assert_int_equal(prep_idx_parse(im, im_len, lb, lb_len, &idx, err, sizeof err), MT_EINVAL);
    im[3] = 3;
    lb[7] = 11;
    assert_int_equal(prep_idx_parse(im, im_len, lb, lb_len, &idx, err, sizeof err), MT_EINVAL);
    assert_true(strstr(err, "labels") != NULL);
    free(gz);
    free(im);
    free(lb);
}

static void test_fashion_mnist_files(void **state)
{
    (void)state;
    prep_idx_t idx;
    char err[256];
    if (prep_idx_open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
                      "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", &idx, err,
                      sizeof err) < 0) {
        printf("# skipped: %s (Debian package dataset-fashion-mnist)\n", err);
        skip();
    }
    assert_int_equal(idx.n, 10000);
    assert_int_equal(idx.rows, 28);
    assert_int_equal(idx.cols, 28);
    assert_string_equal(prep_fashion_mnist_name(idx.labels[0]), "boot"); /* t10k's first image */
    prep_idx_free(&idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgm_quantized),      cmocka_unit_test(test_rgb_to_grey_and_scale),
        cmocka_unit_test(test_resize_keeps_order), cmocka_unit_test(test_png_and_jpeg),
        cmocka_unit_test(test_bad_images),         cmocka_unit_test(test_idx_raw_and_gzip),
        cmocka_unit_test(test_fashion_mnist_files),
    };
    return cmocka_run_group_tests_name("sample_prep", tests, NULL, NULL);
}
