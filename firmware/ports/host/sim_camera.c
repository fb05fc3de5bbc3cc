/*
 * sim_camera.c — camera frames from PGM/PPM files (see sim_camera.h).
 */
#include "sim_camera.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_CAMERA_MAX_FILES 4096u
#define SIM_CAMERA_MAX_BYTES (16u * 1024u * 1024u)

static char sim_camera_dir[4096];
static uint32_t sim_camera_index;

int sim_camera_open(const char *dir)
{
    DIR *d;
    sim_camera_dir[0] = '\0';
    sim_camera_index = 0;
    if (dir == NULL)
        return 0;
    d = opendir(dir);
    if (d == NULL)
        return -1;
    closedir(d);
    snprintf(sim_camera_dir, sizeof(sim_camera_dir), "%s", dir);
    return 0;
}

static int sim_camera_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool sim_camera_is_pnm(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && (strcmp(name + n - 4, ".pgm") == 0 || strcmp(name + n - 4, ".ppm") == 0);
}

/* Reads a PNM header token (number) skipping whitespace and comments. */
static int sim_camera_token(const uint8_t *d, size_t len, size_t *pos, uint32_t *val)
{
    uint64_t v = 0;
    size_t digits = 0;
    while (*pos < len) {
        if (d[*pos] == '#') {
            while (*pos < len && d[*pos] != '\n')
                (*pos)++;
        } else if (d[*pos] == ' ' || d[*pos] == '\t' || d[*pos] == '\r' || d[*pos] == '\n') {
            (*pos)++;
        } else {
            break;
        }
    }
    while (*pos < len && d[*pos] >= '0' && d[*pos] <= '9' && digits < 9) {
        v = v * 10u + (uint64_t)(d[*pos] - '0');
        (*pos)++;
        digits++;
    }
    if (digits == 0)
        return -1;
    *val = (uint32_t)v;
    return 0;
}

int sim_camera_parse_pnm(const uint8_t *data, size_t len, uint32_t *w, uint32_t *h,
                         uint32_t *channels, const uint8_t **pixels)
{
    size_t pos = 2;
    uint32_t maxval = 0;
    if (len < 3 || data[0] != 'P' || (data[1] != '5' && data[1] != '6'))
        return -1;
    *channels = data[1] == '5' ? 1u : 3u;
    if (sim_camera_token(data, len, &pos, w) != 0 || sim_camera_token(data, len, &pos, h) != 0 ||
        sim_camera_token(data, len, &pos, &maxval) != 0 || maxval != 255u || *w == 0 || *h == 0 ||
        *w > 8192u || *h > 8192u)
        return -1;
    pos++; /* the single whitespace after maxval */
    if (pos > len || len - pos < (size_t)*w * *h * *channels)
        return -1;
    *pixels = data + pos;
    return 0;
}

/* Bilinear scaling with half-pixel centres, edges clamped; grey becomes RGB. */
static void sim_camera_scale(const uint8_t *src, uint32_t sw, uint32_t sh, uint32_t ch, uint8_t *dst,
                             uint32_t dw, uint32_t dh)
{
    for (uint32_t y = 0; y < dh; y++) {
        float sy = ((float)y + 0.5f) * (float)sh / (float)dh - 0.5f;
        if (sy < 0.0f)
            sy = 0.0f;
        uint32_t y0 = (uint32_t)sy, y1 = y0 + 1u < sh ? y0 + 1u : sh - 1u;
        float fy = sy - (float)y0;
        for (uint32_t x = 0; x < dw; x++) {
            float sx = ((float)x + 0.5f) * (float)sw / (float)dw - 0.5f;
            if (sx < 0.0f)
                sx = 0.0f;
            uint32_t x0 = (uint32_t)sx, x1 = x0 + 1u < sw ? x0 + 1u : sw - 1u;
            float fx = sx - (float)x0;
            for (uint32_t c = 0; c < 3u; c++) {
                uint32_t sc = ch == 1u ? 0u : c;
                float top = src[((size_t)y0 * sw + x0) * ch + sc] * (1.0f - fx) +
                            src[((size_t)y0 * sw + x1) * ch + sc] * fx;
                float bot = src[((size_t)y1 * sw + x0) * ch + sc] * (1.0f - fx) +
                            src[((size_t)y1 * sw + x1) * ch + sc] * fx;
                int v = (int)(top * (1.0f - fy) + bot * fy + 0.5f);
                dst[((size_t)y * dw + x) * 3u + c] = (uint8_t)(v > 255 ? 255 : v);
            }
        }
    }
}

bool sim_camera_next(uint8_t *buf, uint32_t width, uint32_t height)
{
    char *names[SIM_CAMERA_MAX_FILES];
    uint32_t n = 0, w, h, ch;
    bool ok = false;
    DIR *d;
    struct dirent *e;
    FILE *f = NULL;
    uint8_t *data = NULL;
    const uint8_t *pixels;
    size_t len;
    char path[8300];

    if (sim_camera_dir[0] == '\0' || (d = opendir(sim_camera_dir)) == NULL)
        return false;
    while ((e = readdir(d)) != NULL && n < SIM_CAMERA_MAX_FILES)
        if (sim_camera_is_pnm(e->d_name) && (names[n] = strdup(e->d_name)) != NULL)
            n++;
    closedir(d);
    if (n == 0)
        goto out;
    qsort(names, n, sizeof(names[0]), sim_camera_cmp);
    snprintf(path, sizeof(path), "%s/%s", sim_camera_dir, names[sim_camera_index % n]);
    sim_camera_index++;
    f = fopen(path, "rb");
    if (f == NULL)
        goto out;
    data = malloc(SIM_CAMERA_MAX_BYTES);
    if (data == NULL)
        goto out;
    len = fread(data, 1, SIM_CAMERA_MAX_BYTES, f);
    if (sim_camera_parse_pnm(data, len, &w, &h, &ch, &pixels) != 0)
        goto out;
    sim_camera_scale(pixels, w, h, ch, buf, width, height);
    ok = true;
out:
    if (f != NULL)
        fclose(f);
    free(data);
    for (uint32_t i = 0; i < n; i++)
        free(names[i]);
    return ok;
}
