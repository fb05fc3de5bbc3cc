/*
 * flasher.h — one firmware flash job on one board, over its serial port, through the STM32 ROM
 * bootloader (an3155.h). The daemon runs it on the board's port in place of the session's link;
 * microt-flash runs it from the command line.
 *
 * A job: (1) enter the bootloader: ask the running firmware by RPC (a callback the daemon's
 * session provides, sending Reboot{BOOTLOADER}), or toggle DTR/RTS wired to BOOT0/NRST, or find
 * the board already there; (2) synchronise, Get ID, and refuse a part that is not the image's;
 * (3) validate the image against the part (fits, vector table); (4) for each page the image
 * touches, read the board's copy until it differs (identical pages are left alone, pages blank
 * in the image only erased); (5) erase what must change; (6) write it in 256-byte blocks, skipping
 * blank blocks, and read each page back to verify, retrying a failed page once (reconnecting if
 * the board reset); (7) Go to the image (or run the exit line sequence). On any failure the job
 * stops with the board in its bootloader and a sentence in err: flashing again recovers it.
 */
#ifndef MICROT_FLASHER_H
#define MICROT_FLASHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "an3155.h"
#include "fw_image.h"

typedef enum {
    FLASHER_ENTRY_NONE = 0,    /* the board is already in its bootloader */
    FLASHER_ENTRY_RPC = 1,     /* enter_rpc() asks the firmware to reboot into the bootloader */
    FLASHER_ENTRY_LINES = 2,   /* lines_entry sequence on DTR/RTS (BOOT0/NRST wiring) */
} flasher_entry_t;

typedef enum {
    FLASHER_PHASE_ENTER = 0,
    FLASHER_PHASE_CONNECT,
    FLASHER_PHASE_COMPARE,
    FLASHER_PHASE_ERASE,
    FLASHER_PHASE_WRITE,       /* write + verify, page by page */
    FLASHER_PHASE_GO,
    FLASHER_PHASE_DONE,
} flasher_phase_t;

/* Progress: done/total bytes of the current phase (image bytes for compare and write, page
 * bytes for erase). Called from the job's thread; must not block for long. */
typedef void (*flasher_progress_cb)(void *ctx, flasher_phase_t phase, uint32_t done_bytes,
                                    uint32_t total_bytes);

/* Asks the running firmware to reboot into its ROM bootloader (Reboot{BOOTLOADER} RPC).
 * Returns 0 or a negative mt_err_t with a sentence in err. */
typedef int (*flasher_enter_rpc_fn)(void *ctx, char *err, size_t err_len);

typedef struct {
    uint16_t chip_id;          /* what answered Get ID */
    uint8_t bl_version;
    bool parity_even;          /* the port held 8E1 (false on ptys, which have no parity) */
    uint32_t pages_touched;    /* pages the image has bytes in */
    uint32_t pages_same;       /* left alone: the board already held these bytes */
    uint32_t pages_erased;
    uint32_t pages_written;
    uint32_t pages_retried;
    uint32_t blocks_written;
    uint32_t blocks_read;
    uint32_t go_addr;          /* where Go sent the board (0 = no Go) */
    double elapsed_s;
} flasher_stats_t;

typedef struct {
    int fd;                        /* open port; the job does not close it, and restores its
                                      termios settings when it is a tty */
    const fw_image_t *image;
    const char *chip;              /* expected part (board name, part or ID); NULL = the image
                                      header's chip, else any supported part */
    uint32_t baud;                 /* real UARTs: set 8E1 at this speed (0 = leave the port as
                                      it is, for ptys and sockets) */
    flasher_entry_t entry;
    flasher_enter_rpc_fn enter_rpc;
    void *enter_ctx;
    const char *lines_entry;       /* stm32flash -i syntax: "[-]dtr|rts|brk" joined by ',' (wait
                                      line_step_ms) or '&' (no wait); '-' = deassert */
    const char *lines_exit;        /* run after a good flash instead of Go (NULL = Go) */
    uint32_t line_step_ms;         /* default 100 */
    uint32_t boot_wait_ms;         /* after entering, before syncing (default 100 / 500 for RPC) */
    bool no_compare;               /* rewrite every touched page without reading it first */
    bool no_go;                    /* stay in the bootloader at the end */
    uint32_t go_addr;              /* 0 = the image base */
    an3155_timing_t timing;        /* zero = defaults */
    flasher_stats_t *stats;        /* optional, filled even on failure */
} flasher_opts_t;

/* Runs one job. Returns 0 or a negative mt_err_t, with a sentence in err on failure. */
int flasher_run(const flasher_opts_t *opts, flasher_progress_cb progress, void *ctx, char *err,
                size_t err_len);

/* A phase's name for logs and the API ("compare", "write", ...). */
const char *flasher_phase_name(flasher_phase_t phase);

/* ---- DTR/RTS sequences (exposed for tests and for microt-flash's --lines-check) ---- */
typedef enum { FLASHER_SIG_DTR = 0, FLASHER_SIG_RTS = 1, FLASHER_SIG_BRK = 2 } flasher_sig_t;
typedef struct {
    flasher_sig_t sig;
    bool assert;               /* true: DTR/RTS asserted (TIOCMBIS) or break on */
    bool wait_after;           /* ',' follows: wait line_step_ms */
} flasher_line_step_t;

#define FLASHER_MAX_LINE_STEPS 16

/* Parses a sequence; returns 0 or MT_EINVAL with a sentence in err. */
int flasher_lines_parse(const char *seq, flasher_line_step_t *steps, size_t cap, size_t *n_steps,
                        char *err, size_t err_len);
/* Drives the modem lines of a tty fd (MT_EIO with a sentence when the fd has no such lines,
 * as a pty). */
int flasher_lines_apply(int fd, const flasher_line_step_t *steps, size_t n_steps,
                        uint32_t step_ms, char *err, size_t err_len);

#endif /* MICROT_FLASHER_H */
