/*
 * flash_job.h — a firmware update of one board run as a daemon job (kind "flash"): the uploaded
 * image checked against the board's part before anything touches the board, then the port taken
 * over from the board's session (fleet_borrow_port), the AN3155 flasher run on it
 * (flash/flasher.h), the port given back, and the board awaited until it says Hello with the
 * version stamped in the image. workflow.c owns the job's life (row, worker thread, one job per
 * board); this module owns what a flash job does.
 *
 * Every function returns 0 or a negative mt_err_t with one readable sentence in err.
 */
#ifndef MICROT_FLASH_JOB_H
#define MICROT_FLASH_JOB_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "flash/fw_image.h"
#include "fleet.h"
#include "store.h"

#define FLASH_JOB_MAX_IMAGE_BYTES (4u << 20) /* an upload: the parts have 2 MiB of flash */
#define FLASH_JOB_ENTRY_CHARS 96
#define FLASH_JOB_HELLO_WAIT_MS 15000u        /* after Go, for the board's Hello */

typedef struct {
    fw_format_t format;                      /* FW_FORMAT_AUTO looks at the content */
    uint32_t base;                           /* address of a raw binary's first byte */
    char entry[FLASH_JOB_ENTRY_CHARS];       /* "rpc" | "bootloader" | "dtr-rts:SEQ" */
} flash_job_params_t;

/* "auto" | "bin" | "hex" | "elf" (NULL = auto); MT_EINVAL otherwise. */
int flash_job_parse_format(const char *name, fw_format_t *out);

/* Checks an upload before a job exists: size bound (MT_ETOOBIG), entry mode, image loads,
 * fits and has a sane vector table for the device's part (MT_EINVAL / MT_ENOSPACE; a wrong
 * chip is MT_EINVAL "wrong chip ..."). *params_out gets the job's parameters (JSON object:
 * sha256, image_bytes, format, base, entry, chip, version). MT_ENOTFOUND for an unknown device. */
int flash_job_check(store_t *store, const char *device_id, const uint8_t *file, size_t len,
                    const flash_job_params_t *p, json_t **params_out, char *err, size_t err_len);

/* Progress sink: phase name ("enter", "connect", "compare", "erase", "write", "go", "boot"),
 * done/total bytes of that phase. */
typedef void (*flash_job_progress_fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);

/* Runs the job on the board: file/len is the upload, params what flash_job_check made.
 * *result (always set when memory allows, also on failure) gets what the flasher did: pages
 * touched / same (skipped) / erased / written / retried, bytes, durations, versions. On a
 * failure after the board entered its bootloader it is left there (store state "bootloader"),
 * and a new job with entry "bootloader" recovers it. stop (may be NULL) ends the wait for the
 * board's Hello early. */
int flash_job_run(store_t *store, fleet_t *fleet, const char *device_id, const uint8_t *file,
                  size_t len, const json_t *params, flash_job_progress_fn progress,
                  void *progress_ctx, const atomic_int *stop, json_t **result, char *err,
                  size_t err_len);

#endif /* MICROT_FLASH_JOB_H */
