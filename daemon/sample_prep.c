/*
 * sample_prep.c — image decode, resize and input quantization; IDX reading (see sample_prep.h).
 *
 * stb_image reports sizes before decoding (stbi_info_from_memory), so a tiny file announcing a
 * gigapixel image is refused before any allocation. gzip detection is by its magic (1f 8b), so
 * the same call takes the .gz files of Debian's dataset package and plain IDX files.
 */
#include "sample_prep.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include "mt_err.h"

static int prep_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Bytes of a binary PGM/PPM (P5/P6) header, or 0 if data is not one (or its header is bad).
 * stb_image's PNM reader does not notice a file cut short (it keeps what it read and leaves the
 * rest undefined), so prep_decode checks the pixel bytes are all there. */
static size_t prep_pnm_header(const uint8_t *data, size_t len, unsigned long v[3])
{
    size_t i = 2;
    if (len < 3 || data[0] != 'P' || (data[1] != '5' && data[1] != '6'))
        return 0;
    for (int k = 0; k < 3; k++) {
        for (;;) { /* whitespace and # comments */
            while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
                i++;
            if (i < len && data[i] == '#') {
                while (i < len && data[i] != '\n')
                    i++;
                continue;
            }
            break;
        }
        if (i >= len || data[i] < '0' || data[i] > '9')
            return 0;
        v[k] = 0;
        while (i < len && data[i] >= '0' && data[i] <= '9' && v[k] < 100000)
            v[k] = v[k] * 10 + (unsigned long)(data[i++] - '0');
    }
    return i < len ? i + 1 : 0; /* one whitespace byte ends the header */
}

int prep_decode(const uint8_t *data, size_t len, prep_image_t *out, char *err, size_t err_len)
{
    int w, h, comp;
    memset(out, 0, sizeof *out);
    if (data == NULL || len == 0)
        return prep_fail(err, err_len, MT_EINVAL, "empty image file");
    if (len > PREP_MAX_FILE_BYTES)
        return prep_fail(err, err_len, MT_ETOOBIG, "image file of %zu bytes is over the %u byte limit",
                         len, PREP_MAX_FILE_BYTES);
    if (!stbi_info_from_memory(data, (int)len, &w, &h, &comp))
        return prep_fail(err, err_len, MT_EINVAL, "cannot decode the image (%s); PNG, JPEG, PGM/PPM "
                         "and BMP are accepted", stbi_failure_reason());
    if (w <= 0 || h <= 0 || (unsigned)w > PREP_MAX_SIDE || (unsigned)h > PREP_MAX_SIDE)
        return prep_fail(err, err_len, MT_ETOOBIG, "image of %dx%d pixels is over %ux%u", w, h,
                         PREP_MAX_SIDE, PREP_MAX_SIDE);
    unsigned long pnm[3];
    size_t hdr = prep_pnm_header(data, len, pnm);
    if (hdr > 0) {
        uint64_t need = (uint64_t)pnm[0] * pnm[1] * (data[1] == '6' ? 3u : 1u) * (pnm[2] > 255 ? 2u : 1u);
        if (len - hdr < need)
            return prep_fail(err, err_len, MT_EINVAL, "truncated %s: %zu of %llu pixel bytes",
                             data[1] == '6' ? "PPM" : "PGM", len - hdr, (unsigned long long)need);
    }
    /* Grey stays grey, everything else becomes RGB (alpha dropped). */
    int want = (comp == 1 || comp == 2) ? 1 : 3;
    uint8_t *px = stbi_load_from_memory(data, (int)len, &w, &h, &comp, want);
    if (px == NULL)
        return prep_fail(err, err_len, MT_EINVAL, "cannot decode the image: %s",
                         stbi_failure_reason());
    out->pixels = px;
    out->w = (uint32_t)w;
    out->h = (uint32_t)h;
    out->c = (uint32_t)want;
    return 0;
}

void prep_image_free(prep_image_t *img)
{
    if (img != NULL && img->pixels != NULL)
        stbi_image_free(img->pixels);
    if (img != NULL)
        img->pixels = NULL;
}

int prep_tensor(const prep_image_t *img, const prep_input_t *in, uint8_t *out, char *err,
                size_t err_len)
{
    size_t n_px = (size_t)in->w * in->h;
    uint8_t *resized = NULL;
    int rc = 0;

    if (in->w == 0 || in->h == 0 || (in->c != 1 && in->c != 3) || in->scale <= 0.0f ||
        n_px * in->c > PREP_MAX_TENSOR_BYTES)
        return prep_fail(err, err_len, MT_EINVAL, "the model input %ux%ux%u is not an image input",
                         in->h, in->w, in->c);
    if (img->c != 1 && img->c != 3)
        return prep_fail(err, err_len, MT_EINVAL, "image has %u channels", img->c);
    resized = malloc(n_px * img->c);
    if (resized == NULL)
        return MT_ENOMEM;
    if (!stbir_resize_uint8_generic(img->pixels, (int)img->w, (int)img->h, 0, resized, (int)in->w,
                                    (int)in->h, 0, (int)img->c, STBIR_ALPHA_CHANNEL_NONE, 0,
                                    STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE,
                                    STBIR_COLORSPACE_LINEAR, NULL)) {
        rc = prep_fail(err, err_len, MT_ENOMEM, "cannot resize the image");
        goto out;
    }
    /* With scale 1/127.5 the factor is 1 and q = p - 128 + zero_point exactly. */
    const float k = 1.0f / (127.5f * in->scale);
    const int exact = fabsf(k - 1.0f) < 1e-6f;
    for (size_t i = 0; i < n_px; i++) {
        for (uint32_t ch = 0; ch < in->c; ch++) {
            int p;
            if (img->c == in->c)
                p = resized[i * img->c + ch];
            else if (img->c == 1)
                p = resized[i];                                   /* grey -> RGB */
            else                                                  /* RGB -> grey (BT.601 luma) */
                p = (int)lrintf(0.299f * resized[i * 3] + 0.587f * resized[i * 3 + 1] +
                                0.114f * resized[i * 3 + 2]);
            long q = exact ? (long)(p - 128) + in->zero_point
                           : lrintf((float)(p - 128) * k) + in->zero_point;
            if (q < -128)
                q = -128;
            if (q > 127)
                q = 127;
            out[i * in->c + ch] = (uint8_t)(int8_t)q;
        }
    }
out:
    free(resized);
    return rc;
}

int prep_file_tensor(const uint8_t *data, size_t len, const prep_input_t *in, uint8_t *out,
                     char *err, size_t err_len)
{
    prep_image_t img;
    int rc = prep_decode(data, len, &img, err, err_len);
    if (rc == 0)
        rc = prep_tensor(&img, in, out, err, err_len);
    prep_image_free(&img);
    return rc;
}

/* ---- IDX ---- */

static uint32_t prep_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Inflates gzip data (or copies raw data) into a malloc'ed buffer of at most max bytes. */
static int prep_gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, size_t max,
                       char *err, size_t err_len)
{
    *out = NULL;
    *out_len = 0;
    if (len < 2 || in[0] != 0x1f || in[1] != 0x8b) {
        if (len > max)
            return prep_fail(err, err_len, MT_ETOOBIG, "IDX file over %zu bytes", max);
        *out = malloc(len ? len : 1);
        if (*out == NULL)
            return MT_ENOMEM;
        memcpy(*out, in, len);
        *out_len = len;
        return 0;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return MT_ENOMEM;
    size_t cap = len * 4 < max ? len * 4 : max;
    uint8_t *buf = malloc(cap ? cap : 1);
    int rc = 0, zr;
    if (buf == NULL) {
        rc = MT_ENOMEM;
        goto out;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    for (;;) {
        if (z.total_out == cap) {
            if (cap >= max) {
                rc = prep_fail(err, err_len, MT_ETOOBIG, "IDX file inflates to over %zu bytes", max);
                goto out;
            }
            size_t ncap = cap * 2 < max ? cap * 2 : max;
            uint8_t *nb = realloc(buf, ncap);
            if (nb == NULL) {
                rc = MT_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        z.next_out = buf + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0)) {
            rc = prep_fail(err, err_len, MT_EINVAL, "corrupt gzip data: %s",
                           z.msg ? z.msg : "truncated");
            goto out;
        }
    }
    *out = buf;
    *out_len = z.total_out;
    buf = NULL;
out:
    inflateEnd(&z);
    free(buf);
    return rc;
}

int prep_idx_parse(const uint8_t *images, size_t images_len, const uint8_t *labels,
                   size_t labels_len, prep_idx_t *out, char *err, size_t err_len)
{
    uint8_t *im = NULL, *lb = NULL;
    size_t im_len, lb_len;
    int rc;

    memset(out, 0, sizeof *out);
    rc = prep_gunzip(images, images_len, &im, &im_len, PREP_MAX_IDX_BYTES, err, err_len);
    if (rc == 0)
        rc = prep_gunzip(labels, labels_len, &lb, &lb_len, PREP_MAX_IDX_BYTES, err, err_len);
    if (rc < 0)
        goto out;
    if (im_len < 16 || prep_be32(im) != 0x00000803u) {
        rc = prep_fail(err, err_len, MT_EINVAL, "not an IDX image file (magic 0x00000803)");
        goto out;
    }
    if (lb_len < 8 || prep_be32(lb) != 0x00000801u) {
        rc = prep_fail(err, err_len, MT_EINVAL, "not an IDX label file (magic 0x00000801)");
        goto out;
    }
    uint32_t n = prep_be32(im + 4), rows = prep_be32(im + 8), cols = prep_be32(im + 12);
    if (rows == 0 || cols == 0 || rows > PREP_MAX_SIDE || cols > PREP_MAX_SIDE ||
        (uint64_t)n * rows * cols != im_len - 16) {
        rc = prep_fail(err, err_len, MT_EINVAL, "IDX image file: %u images of %ux%u do not match "
                       "its %zu data bytes", n, rows, cols, im_len - 16);
        goto out;
    }
    if (prep_be32(lb + 4) != n || lb_len - 8 != n) {
        rc = prep_fail(err, err_len, MT_EINVAL, "IDX label file holds %u labels for %u images",
                       prep_be32(lb + 4), n);
        goto out;
    }
    /* Keep the decompressed buffers, pointing past their headers. */
    out->images = im;
    out->labels = lb;
    out->n = n;
    out->rows = rows;
    out->cols = cols;
    memmove(im, im + 16, im_len - 16);
    memmove(lb, lb + 8, lb_len - 8);
    im = lb = NULL;
out:
    free(im);
    free(lb);
    return rc;
}

static int prep_read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    long size;
    *data = NULL;
    if (f == NULL)
        return prep_fail(err, err_len, MT_ENOTFOUND, "cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return prep_fail(err, err_len, MT_EIO, "cannot read %s", path);
    }
    if ((unsigned long)size > PREP_MAX_IDX_BYTES) {
        fclose(f);
        return prep_fail(err, err_len, MT_ETOOBIG, "%s is over %u bytes", path, PREP_MAX_IDX_BYTES);
    }
    *data = malloc(size ? (size_t)size : 1);
    if (*data == NULL) {
        fclose(f);
        return MT_ENOMEM;
    }
    *len = fread(*data, 1, (size_t)size, f);
    fclose(f);
    if (*len != (size_t)size) {
        free(*data);
        *data = NULL;
        return prep_fail(err, err_len, MT_EIO, "short read on %s", path);
    }
    return 0;
}

int prep_idx_open(const char *images_path, const char *labels_path, prep_idx_t *out, char *err,
                  size_t err_len)
{
    uint8_t *im = NULL, *lb = NULL;
    size_t im_len = 0, lb_len = 0;
    int rc = prep_read_file(images_path, &im, &im_len, err, err_len);
    memset(out, 0, sizeof *out);
    if (rc == 0)
        rc = prep_read_file(labels_path, &lb, &lb_len, err, err_len);
    if (rc == 0)
        rc = prep_idx_parse(im, im_len, lb, lb_len, out, err, err_len);
    free(im);
    free(lb);
    return rc;
}

void prep_idx_free(prep_idx_t *idx)
{
    if (idx == NULL)
        return;
    free(idx->images);
    free(idx->labels);
    memset(idx, 0, sizeof *idx);
}

prep_image_t prep_idx_image(const prep_idx_t *idx, uint32_t i)
{
    prep_image_t img = {
        .pixels = idx->images + (size_t)i * idx->rows * idx->cols,
        .w = idx->cols,
        .h = idx->rows,
        .c = 1,
    };
    return img;
}

const char *prep_fashion_mnist_name(unsigned label)
{
    static const char *const names[] = {"tshirt", "trouser", "pullover", "dress", "coat",
                                        "sandal", "shirt",   "sneaker",  "bag",   "boot"};
    return label < 10 ? names[label] : NULL;
}
