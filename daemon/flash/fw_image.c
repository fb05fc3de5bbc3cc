/*
 * fw_image.c — image loaders (raw, Intel HEX, ELF32), the supported-part table, validation.
 *
 * Every loader walks its input twice through one "sink": the first pass only bounds the
 * addresses (so the span is known and checked before any allocation), the second copies bytes
 * and marks them covered. Inputs are untrusted: every length and offset is checked against the
 * file before use, and a record that redefines a byte with another value is an error.
 */
#include "fw_image.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mt_err.h"

static const fw_chip_t fw_chips[] = {
    /* RM0455: 2 MiB in two banks of 128 sectors of 8 KiB; DTCM, AXI SRAM, AHB SRAM. */
    { 0x480, "STM32H7A3xx/B3xx", "h7a3zi", 0x08000000u, 2u << 20, 8u << 10,
      { { 0x20000000u, 128u << 10 }, { 0x24000000u, 1u << 20 }, { 0x30000000u, 128u << 10 } } },
    /* RM0432: 2 MiB dual-bank, 512 pages of 4 KiB; SRAM1-3 contiguous, SRAM2 alias. */
    { 0x470, "STM32L4Rxx/4Sxx", "l4r5zi", 0x08000000u, 2u << 20, 4u << 10,
      { { 0x20000000u, 640u << 10 }, { 0x10000000u, 64u << 10 }, { 0, 0 } } },
};

const fw_chip_t *fw_chip_by_id(uint16_t chip_id)
{
    for (size_t i = 0; i < sizeof(fw_chips) / sizeof(fw_chips[0]); i++)
        if (fw_chips[i].chip_id == chip_id)
            return &fw_chips[i];
    return NULL;
}

const fw_chip_t *fw_chip_lookup(const char *name)
{
    if (name == NULL || *name == '\0')
        return NULL;
    char *end;
    unsigned long id = strtoul(name, &end, 0);
    if (*end == '\0')
        return id <= 0xFFFF ? fw_chip_by_id((uint16_t)id) : NULL;
    for (size_t i = 0; i < sizeof(fw_chips) / sizeof(fw_chips[0]); i++) {
        const fw_chip_t *c = &fw_chips[i];
        if (strcasecmp(name, c->board) == 0)
            return c;
        /* "STM32H7A3" or "h7a3": a prefix of the part name, with or without "STM32". */
        const char *pn = c->name;
        const char *q = strncasecmp(name, "stm32", 5) == 0 ? name : NULL;
        size_t qlen = strlen(name);
        if (q != NULL && qlen >= 8 && strncasecmp(pn, q, qlen < 9 ? qlen : 9) == 0)
            return c;
        if (q == NULL && qlen >= 3 && strncasecmp(pn + 5, name, qlen) == 0)
            return c;
    }
    return NULL;
}

static int fw_fail(char *err, size_t err_len, int code, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- the two-pass sink ---- */
typedef struct {
    int pass;                  /* 1 = bound, 2 = copy */
    uint64_t lo, hi;           /* pass 1: covered address range [lo, hi) */
    bool any;
    fw_image_t *img;
    char *err;
    size_t err_len;
} fw_sink_t;

static int fw_sink_put(fw_sink_t *s, uint64_t addr, const uint8_t *src, uint64_t len)
{
    if (len == 0)
        return MT_OK;
    if (addr + len > 0x100000000ull)
        return fw_fail(s->err, s->err_len, MT_EINVAL, "data at 0x%08llx runs past 4 GiB",
                       (unsigned long long)addr);
    if (s->pass == 1) {
        if (!s->any || addr < s->lo)
            s->lo = addr;
        if (!s->any || addr + len > s->hi)
            s->hi = addr + len;
        s->any = true;
        return MT_OK;
    }
    fw_image_t *img = s->img;
    uint32_t off = (uint32_t)(addr - img->base);
    for (uint64_t i = 0; i < len; i++) {
        uint32_t o = off + (uint32_t)i;
        uint8_t bit = (uint8_t)(1u << (o & 7u));
        if (img->covered[o >> 3] & bit) {
            if (img->data[o] != src[i])
                return fw_fail(s->err, s->err_len, MT_EINVAL,
                               "two records give different bytes for 0x%08x",
                               (unsigned)(img->base + o));
            continue;
        }
        img->covered[o >> 3] |= bit;
        img->data[o] = src[i];
        img->covered_bytes++;
    }
    return MT_OK;
}

/* ---- raw binary ---- */
static int fw_parse_bin(fw_sink_t *s, const uint8_t *f, size_t n, uint32_t base)
{
    return fw_sink_put(s, base, f, n);
}

/* ---- ELF32 little-endian ARM: PT_LOAD segments at their load (physical) address ---- */
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static int fw_parse_elf(fw_sink_t *s, const uint8_t *f, size_t n, uint32_t *entry)
{
    if (n < 52 || memcmp(f, "\x7f" "ELF", 4) != 0)
        return fw_fail(s->err, s->err_len, MT_EINVAL, "not an ELF file");
    if (f[4] != 1 || f[5] != 1)
        return fw_fail(s->err, s->err_len, MT_EINVAL, "ELF is not 32-bit little-endian");
    if (le16(f + 18) != 40)
        return fw_fail(s->err, s->err_len, MT_EINVAL, "ELF machine %u is not ARM", le16(f + 18));
    uint32_t phoff = le32(f + 28);
    uint16_t phentsize = le16(f + 42), phnum = le16(f + 44);
    *entry = le32(f + 24);
    if (phnum == 0)
        return fw_fail(s->err, s->err_len, MT_EINVAL, "ELF has no program headers");
    if (phentsize < 32 || (uint64_t)phoff + (uint64_t)phentsize * phnum > n)
        return fw_fail(s->err, s->err_len, MT_EINVAL, "ELF program headers out of the file");
    unsigned loaded = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = f + phoff + (size_t)i * phentsize;
        uint32_t type = le32(ph), offset = le32(ph + 4), paddr = le32(ph + 12);
        uint32_t filesz = le32(ph + 16);
        if (type != 1 || filesz == 0) /* PT_LOAD with bytes in the file */
            continue;
        if ((uint64_t)offset + filesz > n)
            return fw_fail(s->err, s->err_len, MT_EINVAL, "ELF segment %u runs past the file", i);
        int err = fw_sink_put(s, paddr, f + offset, filesz);
        if (err != MT_OK)
            return err;
        loaded++;
    }
    if (loaded == 0)
        return fw_fail(s->err, s->err_len, MT_EINVAL, "ELF has no loadable bytes");
    return MT_OK;
}

/* ---- Intel HEX ---- */
static int fw_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int fw_parse_hex(fw_sink_t *s, const uint8_t *f, size_t n, uint32_t *entry)
{
    size_t pos = 0;
    unsigned line = 1;
    uint32_t upper = 0; /* extended linear (<<16) or segment (<<4) base */
    bool eof = false;
    while (pos < n && !eof) {
        while (pos < n && (f[pos] == '\r' || f[pos] == '\n' || f[pos] == ' ' || f[pos] == '\t')) {
            if (f[pos] == '\n')
                line++;
            pos++;
        }
        if (pos >= n)
            break;
        if (f[pos] != ':')
            return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u does not start with ':'",
                           line);
        pos++;
        uint8_t rec[5 + 255];
        size_t nbytes = 0;
        while (pos + 1 < n && fw_hexval(f[pos]) >= 0 && fw_hexval(f[pos + 1]) >= 0) {
            if (nbytes == sizeof(rec))
                return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u too long", line);
            rec[nbytes++] = (uint8_t)(fw_hexval(f[pos]) << 4 | fw_hexval(f[pos + 1]));
            pos += 2;
        }
        if (pos < n && f[pos] != '\r' && f[pos] != '\n')
            return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u has a bad character",
                           line);
        if (nbytes < 5 || nbytes != (size_t)rec[0] + 5)
            return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u has a wrong length",
                           line);
        uint8_t sum = 0;
        for (size_t i = 0; i < nbytes; i++)
            sum = (uint8_t)(sum + rec[i]);
        if (sum != 0)
            return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u: checksum mismatch", line);
        uint8_t count = rec[0], type = rec[3];
        uint32_t addr16 = ((uint32_t)rec[1] << 8) | rec[2];
        const uint8_t *d = rec + 4;
        int err;
        switch (type) {
        case 0x00:
            if ((err = fw_sink_put(s, (uint64_t)upper + addr16, d, count)) != MT_OK)
                return err;
            break;
        case 0x01:
            eof = true;
            break;
        case 0x02:
            if (count != 2)
                return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u: bad segment record",
                               line);
            upper = (((uint32_t)d[0] << 8) | d[1]) << 4;
            break;
        case 0x04:
            if (count != 2)
                return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u: bad linear record",
                               line);
            upper = (((uint32_t)d[0] << 8) | d[1]) << 16;
            break;
        case 0x03:
        case 0x05:
            if (count != 4)
                return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u: bad start record",
                               line);
            *entry = type == 0x05 ? ((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
                                     (uint32_t)d[2] << 8 | d[3])
                                  : ((((uint32_t)d[0] << 8) | d[1]) << 4) +
                                        (((uint32_t)d[2] << 8) | d[3]);
            break;
        default:
            return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX line %u: unknown record type %u",
                           line, type);
        }
    }
    if (!eof)
        return fw_fail(s->err, s->err_len, MT_EINVAL, "HEX file truncated (no end-of-file record)");
    return MT_OK;
}

static fw_format_t fw_sniff(const uint8_t *f, size_t n)
{
    if (n >= 4 && memcmp(f, "\x7f" "ELF", 4) == 0)
        return FW_FORMAT_ELF;
    size_t i = 0;
    while (i < n && (f[i] == ' ' || f[i] == '\r' || f[i] == '\n' || f[i] == '\t'))
        i++;
    if (i < n && f[i] == ':') {
        /* Text of hex digits, ':' and line ends only. */
        for (size_t k = i; k < n; k++)
            if (!(f[k] == ':' || f[k] == '\r' || f[k] == '\n' || fw_hexval(f[k]) >= 0))
                return FW_FORMAT_BIN;
        return FW_FORMAT_HEX;
    }
    return FW_FORMAT_BIN;
}

static int fw_parse(fw_sink_t *s, fw_format_t fmt, const uint8_t *f, size_t n, uint32_t base,
                    uint32_t *entry)
{
    switch (fmt) {
    case FW_FORMAT_BIN: return fw_parse_bin(s, f, n, base);
    case FW_FORMAT_HEX: return fw_parse_hex(s, f, n, entry);
    case FW_FORMAT_ELF: return fw_parse_elf(s, f, n, entry);
    default: return fw_fail(s->err, s->err_len, MT_EINVAL, "unknown image format");
    }
}

int fw_image_load_mem(fw_image_t *img, const uint8_t *file, size_t file_len, fw_format_t format,
                      uint32_t bin_base, char *err, size_t err_len)
{
    int rc;
    uint32_t entry = 0;
    memset(img, 0, sizeof(*img));
    if (file == NULL || file_len == 0)
        return fw_fail(err, err_len, MT_EINVAL, "empty image file");
    if (file_len > FW_IMAGE_MAX_FILE_BYTES)
        return fw_fail(err, err_len, MT_ETOOBIG, "image file over %u MiB",
                       FW_IMAGE_MAX_FILE_BYTES >> 20);
    if (format == FW_FORMAT_AUTO)
        format = fw_sniff(file, file_len);

    fw_sink_t s = { .pass = 1, .img = img, .err = err, .err_len = err_len };
    if ((rc = fw_parse(&s, format, file, file_len, bin_base, &entry)) != MT_OK)
        goto out;
    if (!s.any) {
        rc = fw_fail(err, err_len, MT_EINVAL, "image defines no bytes");
        goto out;
    }
    if (s.hi - s.lo > FW_IMAGE_MAX_BYTES) {
        rc = fw_fail(err, err_len, MT_ETOOBIG, "image spans 0x%08llx..0x%08llx, over %u MiB",
                     (unsigned long long)s.lo, (unsigned long long)s.hi,
                     FW_IMAGE_MAX_BYTES >> 20);
        goto out;
    }
    img->base = (uint32_t)s.lo;
    img->span_bytes = (uint32_t)(s.hi - s.lo);
    img->data = malloc(img->span_bytes);
    img->covered = calloc((img->span_bytes + 7u) / 8u, 1);
    if (img->data == NULL || img->covered == NULL) {
        rc = fw_fail(err, err_len, MT_ENOMEM, "out of memory for a %u-byte image",
                     img->span_bytes);
        goto out;
    }
    memset(img->data, 0xFF, img->span_bytes);
    s.pass = 2;
    if ((rc = fw_parse(&s, format, file, file_len, bin_base, &entry)) != MT_OK)
        goto out;
    img->entry = entry;
    img->format = format;
    img->has_header = fw_header_check(img->data, img->span_bytes, true, &img->header) ==
                      FW_HEADER_OK;
    rc = MT_OK;
out:
    if (rc != MT_OK)
        fw_image_free(img);
    return rc;
}

int fw_image_load_file(fw_image_t *img, const char *path, fw_format_t format, uint32_t bin_base,
                       char *err, size_t err_len)
{
    int rc;
    FILE *fp = NULL;
    uint8_t *buf = NULL;
    struct stat st;
    memset(img, 0, sizeof(*img));
    fp = fopen(path, "rb");
    if (fp == NULL) {
        rc = fw_fail(err, err_len, MT_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fw_fail(err, err_len, MT_EINVAL, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > FW_IMAGE_MAX_FILE_BYTES) {
        rc = fw_fail(err, err_len, MT_ETOOBIG, "%s: over %u MiB", path,
                     FW_IMAGE_MAX_FILE_BYTES >> 20);
        goto out;
    }
    buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL) {
        rc = fw_fail(err, err_len, MT_ENOMEM, "out of memory");
        goto out;
    }
    if (st.st_size > 0 && fread(buf, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
        rc = fw_fail(err, err_len, MT_EIO, "%s: short read", path);
        goto out;
    }
    if (format == FW_FORMAT_AUTO) {
        const char *dot = strrchr(path, '.');
        if (dot != NULL && (strcasecmp(dot, ".hex") == 0 || strcasecmp(dot, ".ihex") == 0))
            format = FW_FORMAT_HEX;
        else if (dot != NULL && strcasecmp(dot, ".elf") == 0)
            format = FW_FORMAT_ELF;
    }
    rc = fw_image_load_mem(img, buf, (size_t)st.st_size, format, bin_base, err, err_len);
out:
    free(buf);
    if (fp != NULL)
        fclose(fp);
    return rc;
}

void fw_image_free(fw_image_t *img)
{
    free(img->data);
    free(img->covered);
    memset(img, 0, sizeof(*img));
}

bool fw_image_covers(const fw_image_t *img, uint32_t addr)
{
    if (addr < img->base || addr - img->base >= img->span_bytes)
        return false;
    uint32_t o = addr - img->base;
    return (img->covered[o >> 3] >> (o & 7u)) & 1u;
}

int fw_image_validate(const fw_image_t *img, const fw_chip_t *chip, char *err, size_t err_len)
{
    uint64_t end = (uint64_t)img->base + img->span_bytes;
    uint64_t flash_end = (uint64_t)chip->flash_base + chip->flash_bytes;
    if (img->base < chip->flash_base || end > flash_end)
        return fw_fail(err, err_len, MT_ENOSPACE,
                       "image 0x%08x..0x%08llx does not fit the %s flash 0x%08x..0x%08llx",
                       img->base, (unsigned long long)end, chip->name, chip->flash_base,
                       (unsigned long long)flash_end);
    if (img->has_header && img->header.chip_id != 0 && img->header.chip_id != chip->chip_id)
        return fw_fail(err, err_len, MT_EINVAL, "image was built for chip 0x%03x, not %s (0x%03x)",
                       img->header.chip_id, chip->name, chip->chip_id);
    /* The vector table sits at the image base: word 0 initial SP, word 1 reset handler. */
    if ((img->base & 0x1FFu) != 0)
        return fw_fail(err, err_len, MT_EINVAL, "image base 0x%08x is not a vector table address "
                       "(512-byte aligned)", img->base);
    for (uint32_t i = 0; i < 8; i++)
        if (!fw_image_covers(img, img->base + i))
            return fw_fail(err, err_len, MT_EINVAL, "image has no vector table at 0x%08x",
                           img->base);
    uint32_t sp = le32(img->data), reset = le32(img->data + 4);
    bool sp_ok = false;
    for (int i = 0; i < 3; i++) {
        uint64_t lo = chip->sram[i].base, hi = lo + chip->sram[i].bytes;
        if (chip->sram[i].bytes != 0 && sp > lo && sp <= hi)
            sp_ok = true;
    }
    if (!sp_ok || (sp & 3u) != 0)
        return fw_fail(err, err_len, MT_EINVAL, "initial stack pointer 0x%08x is not in %s SRAM",
                       sp, chip->name);
    if ((reset & 1u) == 0)
        return fw_fail(err, err_len, MT_EINVAL, "reset vector 0x%08x lacks the Thumb bit", reset);
    if (!fw_image_covers(img, reset & ~1u))
        return fw_fail(err, err_len, MT_EINVAL, "reset vector 0x%08x points outside the image",
                       reset);
    return MT_OK;
}
