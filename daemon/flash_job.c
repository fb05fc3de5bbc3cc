/*
 * flash_job.c — what a "flash" job does (see flash_job.h): check the upload against the board's
 * part, take the port from the session, run the flasher, give the port back, wait for Hello.
 */
#include "flash_job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flash/flasher.h"
#include "mt_err.h"
#include "sha256.h"
#include "transport.h"

#define FLASH_JOB_BORROW_MS 5000u     /* a session may be inside a 1.5 s Hello to a bootloader */
#define FLASH_JOB_RPC_BOOT_MS 500u    /* from the Reboot's Ack to a bootloader that answers */
#define FLASH_JOB_PROGRESS_MS 200

static int flash_job_errf(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int64_t flash_job_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int flash_job_parse_format(const char *name, fw_format_t *out)
{
    static const struct { const char *name; fw_format_t f; } map[] = {
        {"auto", FW_FORMAT_AUTO}, {"bin", FW_FORMAT_BIN}, {"hex", FW_FORMAT_HEX},
        {"elf", FW_FORMAT_ELF},
    };
    if (name == NULL || name[0] == '\0') {
        *out = FW_FORMAT_AUTO;
        return 0;
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0) {
            *out = map[i].f;
            return 0;
        }
    return MT_EINVAL;
}

static const char *flash_job_format_name(fw_format_t f)
{
    switch (f) {
    case FW_FORMAT_BIN: return "bin";
    case FW_FORMAT_HEX: return "hex";
    case FW_FORMAT_ELF: return "elf";
    default: return "auto";
    }
}

/* "rpc", "bootloader" or "dtr-rts:SEQ" with a sequence the flasher can drive. */
static int flash_job_check_entry(const char *entry, char *err, size_t err_len)
{
    flasher_line_step_t steps[FLASHER_MAX_LINE_STEPS];
    size_t n;
    char why[160];
    if (strcmp(entry, "rpc") == 0 || strcmp(entry, "bootloader") == 0)
        return 0;
    if (strncmp(entry, "dtr-rts:", 8) != 0)
        return flash_job_errf(err, err_len, MT_EINVAL, "entry must be rpc, bootloader or "
                              "dtr-rts:SEQ (e.g. dtr-rts:rts&-dtr,-rts), not '%s'", entry);
    if (flasher_lines_parse(entry + 8, steps, FLASHER_MAX_LINE_STEPS, &n, why, sizeof why) != 0)
        return flash_job_errf(err, err_len, MT_EINVAL, "entry %s: %s", entry, why);
    return 0;
}

static int flash_job_load(const uint8_t *file, size_t len, fw_format_t format, uint32_t base,
                          fw_image_t *img, char *err, size_t err_len)
{
    char why[256];
    int rc = fw_image_load_mem(img, file, len, format, base, why, sizeof why);
    if (rc != 0)
        return flash_job_errf(err, err_len, rc, "image refused: %s", why);
    return 0;
}

/* The part of a device from its board name as the store recorded it. */
static int flash_job_chip(store_t *store, const char *device_id, const fw_chip_t **chip,
                          store_device_row_t *row, char *err, size_t err_len)
{
    int rc = store_device_get(store, device_id, row);
    if (rc != 0)
        return flash_job_errf(err, err_len, rc, "no device %s has ever been seen", device_id);
    *chip = fw_chip_lookup(row->dev.board_name);
    if (*chip == NULL)
        return flash_job_errf(err, err_len, MT_EINVAL, "board %s (%s) is not a part the "
                              "flasher supports", device_id, row->dev.board_name);
    return 0;
}

int flash_job_check(store_t *store, const char *device_id, const uint8_t *file, size_t len,
                    const flash_job_params_t *p, json_t **params_out, char *err, size_t err_len)
{
    const fw_chip_t *chip;
    store_device_row_t row;
    fw_image_t img;
    uint8_t digest[SHA256_DIGEST_BYTES];
    char hex[2 * SHA256_DIGEST_BYTES + 1], why[256];
    int rc, loaded = 0;

    *params_out = NULL;
    memset(&img, 0, sizeof img);
    if (len == 0)
        return flash_job_errf(err, err_len, MT_EINVAL, "the request body must be the image");
    if (len > FLASH_JOB_MAX_IMAGE_BYTES)
        return flash_job_errf(err, err_len, MT_ETOOBIG, "image of %zu bytes is over the %u-byte "
                              "bound", len, FLASH_JOB_MAX_IMAGE_BYTES);
    if ((rc = flash_job_check_entry(p->entry, err, err_len)) != 0)
        return rc;
    if ((rc = flash_job_chip(store, device_id, &chip, &row, err, err_len)) != 0)
        return rc;
    if ((rc = flash_job_load(file, len, p->format, p->base, &img, err, err_len)) != 0)
        goto out;
    loaded = 1;
    if ((rc = fw_image_validate(&img, chip, why, sizeof why)) != 0) {
        flash_job_errf(err, err_len, rc, "image refused for board %s: %s", device_id, why);
        goto out;
    }
    sha256(file, len, digest);
    for (size_t i = 0; i < SHA256_DIGEST_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    *params_out = json_pack("{s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:I, s:o}", "sha256", hex,
                            "file_bytes", (json_int_t)len, "image_bytes",
                            (json_int_t)img.covered_bytes, "format",
                            flash_job_format_name(p->format), "base", (json_int_t)p->base,
                            "entry", p->entry, "chip", chip->name, "chip_id",
                            (json_int_t)chip->chip_id, "version",
                            img.has_header ? json_string(img.header.version) : json_null());
    rc = *params_out ? 0 : MT_ENOMEM;
out:
    if (loaded)
        fw_image_free(&img);
    return rc;
}

typedef struct {
    flash_job_progress_fn fn;
    void *ctx;
    flasher_phase_t last_phase;
    int64_t last_ms;
} flash_job_prog_t;

/* Phase changes always reach the job row; within a phase at most every FLASH_JOB_PROGRESS_MS. */
static void flash_job_on_progress(void *ctx, flasher_phase_t phase, uint32_t done, uint32_t total)
{
    flash_job_prog_t *p = ctx;
    int64_t now = flash_job_mono_ms();
    if (p->fn == NULL)
        return;
    if (phase == p->last_phase && done != total && now - p->last_ms < FLASH_JOB_PROGRESS_MS)
        return;
    p->last_phase = phase;
    p->last_ms = now;
    p->fn(p->ctx, flasher_phase_name(phase), done, total);
}

/* After Go: the session says Hello again; the board must report the image's version. */
static int flash_job_await_hello(fleet_t *fleet, const char *device_id, const char *want_version,
                                 const atomic_int *stop, char *got, size_t got_len, char *err,
                                 size_t err_len)
{
    int64_t end = flash_job_mono_ms() + FLASH_JOB_HELLO_WAIT_MS;
    fleet_device_t live;
    while (flash_job_mono_ms() < end && !(stop != NULL && atomic_load(stop))) {
        if (fleet_get(fleet, device_id, &live) == 0) {
            snprintf(got, got_len, "%s", live.info.firmware_version);
            if (want_version != NULL && strcmp(live.info.firmware_version, want_version) != 0)
                return flash_job_errf(err, err_len, MT_EDEVICE, "the board was flashed and "
                                      "verified but reports firmware %s, not the image's %s",
                                      live.info.firmware_version, want_version);
            return 0;
        }
        usleep(50000);
    }
    return flash_job_errf(err, err_len, MT_ETIMEOUT, "the image was written and verified, but the "
                          "board did not say Hello within %u ms after Go",
                          FLASH_JOB_HELLO_WAIT_MS);
}

int flash_job_run(store_t *store, fleet_t *fleet, const char *device_id, const uint8_t *file,
                  size_t len, const json_t *params, flash_job_progress_fn progress,
                  void *progress_ctx, const atomic_int *stop, json_t **result, char *err,
                  size_t err_len)
{
    const char *entry = json_string_value(json_object_get(params, "entry"));
    const char *fmt = json_string_value(json_object_get(params, "format"));
    json_int_t base = json_integer_value(json_object_get(params, "base"));
    const fw_chip_t *chip;
    store_device_row_t row;
    fw_image_t img;
    fw_format_t format;
    flasher_stats_t st;
    transport_t *tr = NULL;
    flash_job_prog_t prog = {.fn = progress, .ctx = progress_ctx, .last_phase = FLASHER_PHASE_DONE};
    char why[256], from_version[33] = "", to_version[33] = "";
    int64_t t0 = flash_job_mono_ms(), t_flash = 0;
    int rc, loaded = 0, flashed = 0;

    *result = NULL;
    memset(&st, 0, sizeof st);
    memset(&img, 0, sizeof img);
    if (entry == NULL || flash_job_parse_format(fmt, &format) != 0 || base < 0 ||
        base > (json_int_t)UINT32_MAX) {
        rc = flash_job_errf(err, err_len, MT_EINVAL, "the job's parameters are incomplete");
        goto out;
    }
    if ((rc = flash_job_check_entry(entry, err, err_len)) != 0)
        goto out;
    if ((rc = flash_job_chip(store, device_id, &chip, &row, err, err_len)) != 0)
        goto out;
    snprintf(from_version, sizeof from_version, "%s", row.dev.firmware_version);
    if ((rc = flash_job_load(file, len, format, (uint32_t)base, &img, err, err_len)) != 0)
        goto out;
    loaded = 1;

    if (progress)
        progress(progress_ctx, "enter", 0, img.covered_bytes);
    rc = fleet_borrow_port(fleet, device_id, strcmp(entry, "rpc") == 0, FLASH_JOB_BORROW_MS, &tr,
                           why, sizeof why);
    if (rc != 0) {
        flash_job_errf(err, err_len, rc, "%s", why);
        goto out;
    }
    flasher_opts_t o = {
        .fd = transport_fd(tr),
        .image = &img,
        .chip = chip->board,
        .baud = transport_is_pty(tr) ? 0 : fleet_baud(fleet),
        .entry = strncmp(entry, "dtr-rts:", 8) == 0 ? FLASHER_ENTRY_LINES : FLASHER_ENTRY_NONE,
        .lines_entry = strncmp(entry, "dtr-rts:", 8) == 0 ? entry + 8 : NULL,
        .boot_wait_ms = strcmp(entry, "rpc") == 0 ? FLASH_JOB_RPC_BOOT_MS : 0,
        .stats = &st,
    };
    t_flash = flash_job_mono_ms();
    rc = flasher_run(&o, flash_job_on_progress, &prog, why, sizeof why);
    t_flash = flash_job_mono_ms() - t_flash;
    fleet_return_port(fleet, device_id, tr);
    if (rc != 0) {
        flash_job_errf(err, err_len, rc, "%s", why);
        goto out;
    }
    flashed = 1;
    if (progress)
        progress(progress_ctx, "boot", 0, 1);
    rc = flash_job_await_hello(fleet, device_id, img.has_header ? img.header.version : NULL, stop,
                               to_version, sizeof to_version, err, err_len);
    if (rc == 0 && progress)
        progress(progress_ctx, "boot", 1, 1);
out:
    *result = json_pack("{s:b, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}",
                        "flashed", flashed, "from_version", from_version, "to_version",
                        to_version[0] ? json_string(to_version) : json_null(), "chip_id",
                        (json_int_t)st.chip_id, "bl_version", (json_int_t)st.bl_version,
                        "pages_touched", (json_int_t)st.pages_touched, "pages_same",
                        (json_int_t)st.pages_same, "pages_erased", (json_int_t)st.pages_erased,
                        "pages_written", (json_int_t)st.pages_written, "pages_retried",
                        (json_int_t)st.pages_retried, "blocks_written",
                        (json_int_t)st.blocks_written, "blocks_read", (json_int_t)st.blocks_read,
                        "flash_s", (double)t_flash / 1000.0, "total_s",
                        (double)(flash_job_mono_ms() - t0) / 1000.0);
    if (loaded)
        fw_image_free(&img);
    return rc;
}
