/*
 * flasher.c — a firmware flash job (see flasher.h for the steps and the guarantees).
 *
 * Why this order: on a UART at 115200 baud the wire, not the flash, is the cost (a 256-byte
 * block takes ~25 ms each way; an Extended Erase naming 64 pages takes ~12 ms). So the job spends
 * line time only where it changes the outcome: a page already holding the image is found by
 * reading it (stopping at the first differing block, so a changed page costs one block read),
 * pages blank in the image are only erased (the erase list is nearly free on the wire), blank
 * blocks are never written, and every written page is read back once. The board is never left
 * running a half-written image: Go happens only after every page verified.
 */
#include "flasher.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mt_err.h"

#define FLASHER_ERASE_BATCH 64u /* pages per Extended Erase: bounds one command's deadline */

typedef enum { PAGE_SAME = 0, PAGE_BLANK, PAGE_WRITE } page_plan_t;

typedef struct {
    const flasher_opts_t *o;
    const fw_image_t *img;
    const fw_chip_t *chip;
    an3155_t bl;
    flasher_progress_cb progress;
    void *ctx;
    flasher_stats_t st;
    char *err;
    size_t err_len;
} fl_t;

static int fl_fail(fl_t *f, int code, const char *fmt, ...)
{
    if (f->err != NULL && f->err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->err, f->err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void fl_progress(fl_t *f, flasher_phase_t ph, uint32_t done, uint32_t total)
{
    if (f->progress != NULL)
        f->progress(f->ctx, ph, done, total);
}

static double fl_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fl_sleep_ms(uint32_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

const char *flasher_phase_name(flasher_phase_t phase)
{
    static const char *names[] = { "enter", "connect", "compare", "erase", "write", "go", "done" };
    return (unsigned)phase < sizeof(names) / sizeof(names[0]) ? names[phase] : "?";
}

/* ---- DTR/RTS sequences ---- */
int flasher_lines_parse(const char *seq, flasher_line_step_t *steps, size_t cap, size_t *n_steps,
                        char *err, size_t err_len)
{
    size_t n = 0;
    const char *p = seq;
    *n_steps = 0;
    if (seq == NULL || *seq == '\0') {
        snprintf(err, err_len, "empty line sequence");
        return MT_EINVAL;
    }
    while (*p != '\0') {
        flasher_line_step_t s = { .assert = true };
        if (*p == '-') {
            s.assert = false;
            p++;
        }
        if (strncasecmp(p, "dtr", 3) == 0)
            s.sig = FLASHER_SIG_DTR;
        else if (strncasecmp(p, "rts", 3) == 0)
            s.sig = FLASHER_SIG_RTS;
        else if (strncasecmp(p, "brk", 3) == 0)
            s.sig = FLASHER_SIG_BRK;
        else {
            snprintf(err, err_len, "line sequence '%s': expected dtr, rts or brk at '%s'", seq, p);
            return MT_EINVAL;
        }
        p += 3;
        if (*p == ',') {
            s.wait_after = true;
            p++;
        } else if (*p == '&') {
            p++;
        } else if (*p != '\0') {
            snprintf(err, err_len, "line sequence '%s': expected ',' or '&' at '%s'", seq, p);
            return MT_EINVAL;
        }
        if ((*p == '\0') && (p[-1] == ',' || p[-1] == '&')) {
            snprintf(err, err_len, "line sequence '%s' ends with a separator", seq);
            return MT_EINVAL;
        }
        if (n == cap) {
            snprintf(err, err_len, "line sequence '%s' has more than %zu steps", seq, cap);
            return MT_EINVAL;
        }
        steps[n++] = s;
    }
    *n_steps = n;
    return MT_OK;
}

int flasher_lines_apply(int fd, const flasher_line_step_t *steps, size_t n_steps,
                        uint32_t step_ms, char *err, size_t err_len)
{
    static const char *names[] = { "DTR", "RTS", "break" };
    for (size_t i = 0; i < n_steps; i++) {
        const flasher_line_step_t *s = &steps[i];
        int r;
        if (s->sig == FLASHER_SIG_BRK) {
            r = ioctl(fd, s->assert ? TIOCSBRK : TIOCCBRK);
        } else {
            int bits = s->sig == FLASHER_SIG_DTR ? TIOCM_DTR : TIOCM_RTS;
            r = ioctl(fd, s->assert ? TIOCMBIS : TIOCMBIC, &bits);
        }
        if (r != 0) {
            snprintf(err, err_len, "cannot %s %s on this port: %s (a pty or socket has no modem "
                     "lines)", s->assert ? "assert" : "clear", names[s->sig], strerror(errno));
            return MT_EIO;
        }
        if (s->wait_after)
            fl_sleep_ms(step_ms);
    }
    return MT_OK;
}

static int fl_run_lines(fl_t *f, const char *seq)
{
    flasher_line_step_t steps[FLASHER_MAX_LINE_STEPS];
    size_t n;
    int rc = flasher_lines_parse(seq, steps, FLASHER_MAX_LINE_STEPS, &n, f->err, f->err_len);
    if (rc != MT_OK)
        return rc;
    return flasher_lines_apply(f->o->fd, steps, n, f->o->line_step_ms ? f->o->line_step_ms : 100,
                               f->err, f->err_len);
}

/* ---- pages ---- */

/* Block [addr, addr+256) as it must end up on the board: image bytes, 0xFF elsewhere.
 * Returns whether the image covers any byte of it; *blank whether all are 0xFF. */
static bool fl_block(const fl_t *f, uint32_t addr, uint8_t *out, bool *blank, uint8_t *mask)
{
    bool any = false;
    *blank = true;
    for (uint32_t i = 0; i < AN3155_MAX_BLOCK; i++) {
        bool c = fw_image_covers(f->img, addr + i);
        out[i] = c ? f->img->data[addr + i - f->img->base] : 0xFF;
        if (mask != NULL)
            mask[i] = c;
        any |= c;
        if (out[i] != 0xFF)
            *blank = false;
    }
    return any;
}

static uint32_t fl_page_addr(const fl_t *f, uint32_t page)
{
    return f->chip->flash_base + page * f->chip->page_bytes;
}

/* Covered bytes of a page, and whether all of them are 0xFF. */
static uint32_t fl_page_cover(const fl_t *f, uint32_t page, bool *blank)
{
    uint32_t a = fl_page_addr(f, page), n = 0;
    *blank = true;
    for (uint32_t i = 0; i < f->chip->page_bytes; i++)
        if (fw_image_covers(f->img, a + i)) {
            n++;
            if (f->img->data[a + i - f->img->base] != 0xFF)
                *blank = false;
        }
    return n;
}

/* Reads the page block by block until a covered byte differs from the image. */
static int fl_page_same(fl_t *f, uint32_t page, bool *same)
{
    uint8_t want[AN3155_MAX_BLOCK], mask[AN3155_MAX_BLOCK], got[AN3155_MAX_BLOCK];
    uint32_t a0 = fl_page_addr(f, page);
    *same = true;
    for (uint32_t a = a0; a < a0 + f->chip->page_bytes; a += AN3155_MAX_BLOCK) {
        bool blank;
        if (!fl_block(f, a, want, &blank, mask))
            continue;
        int rc = an3155_read(&f->bl, a, got, AN3155_MAX_BLOCK);
        f->st.blocks_read++;
        if (rc != MT_OK)
            return rc;
        for (uint32_t i = 0; i < AN3155_MAX_BLOCK; i++)
            if (mask[i] && got[i] != want[i]) {
                *same = false;
                return MT_OK;
            }
    }
    return MT_OK;
}

/* Writes the page's non-blank blocks, then reads them back. *where tells the failing address. */
static int fl_page_write_verify(fl_t *f, uint32_t page, uint32_t *where)
{
    uint8_t want[AN3155_MAX_BLOCK], got[AN3155_MAX_BLOCK];
    uint32_t a0 = fl_page_addr(f, page), end = a0 + f->chip->page_bytes;
    for (uint32_t a = a0; a < end; a += AN3155_MAX_BLOCK) {
        bool blank;
        if (!fl_block(f, a, want, &blank, NULL) || blank)
            continue;
        *where = a;
        int rc = an3155_write(&f->bl, a, want, AN3155_MAX_BLOCK);
        if (rc != MT_OK)
            return rc;
        f->st.blocks_written++;
    }
    for (uint32_t a = a0; a < end; a += AN3155_MAX_BLOCK) {
        bool blank;
        if (!fl_block(f, a, want, &blank, NULL) || blank)
            continue;
        *where = a;
        int rc = an3155_read(&f->bl, a, got, AN3155_MAX_BLOCK);
        f->st.blocks_read++;
        if (rc != MT_OK)
            return rc;
        if (memcmp(got, want, AN3155_MAX_BLOCK) != 0) {
            snprintf(f->bl.err, sizeof(f->bl.err), "read-back differs at 0x%08x", a);
            return MT_EDEVICE;
        }
    }
    return MT_OK;
}

/* After a failed exchange: bring the bootloader back (it may have reset: connect re-syncs from
 * any state, 0x7F for a fresh one, 0xFF stuffing for one stuck mid-command). */
static int fl_recover(fl_t *f)
{
    int rc = an3155_reconnect(&f->bl);
    if (rc != MT_OK)
        return rc;
    if (f->bl.chip_id != f->chip->chip_id)
        return fl_fail(f, MT_EPROTO, "after reconnecting, the board answers as chip 0x%03x",
                       f->bl.chip_id);
    return MT_OK;
}

static int fl_erase(fl_t *f, const uint16_t *pages, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < FLASHER_ERASE_BATCH ? n - done : FLASHER_ERASE_BATCH;
        int rc = an3155_erase_pages(&f->bl, pages + done, k);
        if (rc != MT_OK) {
            /* One retry after recovering the line. */
            if (fl_recover(f) != MT_OK || (rc = an3155_erase_pages(&f->bl, pages + done, k)) != MT_OK)
                return fl_fail(f, rc, "erase of pages %u..%u failed: %s", pages[done],
                               pages[done + k - 1], f->bl.err);
        }
        done += k;
        f->st.pages_erased += (uint32_t)k;
        fl_progress(f, FLASHER_PHASE_ERASE, (uint32_t)done * f->chip->page_bytes,
                    (uint32_t)n * f->chip->page_bytes);
    }
    return MT_OK;
}

static const fw_chip_t *fl_expected_chip(fl_t *f, int *rc)
{
    *rc = MT_OK;
    if (f->o->chip != NULL) {
        const fw_chip_t *c = fw_chip_lookup(f->o->chip);
        if (c == NULL)
            *rc = fl_fail(f, MT_EINVAL, "unknown chip '%s' (supported: h7a3zi 0x480, l4r5zi "
                          "0x470)", f->o->chip);
        return c;
    }
    if (f->img->has_header && f->img->header.chip_id != 0) {
        const fw_chip_t *c = fw_chip_by_id(f->img->header.chip_id);
        if (c == NULL)
            *rc = fl_fail(f, MT_EINVAL, "image is built for chip 0x%03x, which the flasher does "
                          "not support", f->img->header.chip_id);
        return c;
    }
    return NULL;
}

int flasher_run(const flasher_opts_t *opts, flasher_progress_cb progress, void *ctx, char *err,
                size_t err_len)
{
    fl_t fl;
    fl_t *f = &fl;
    int rc;
    bool have_tio = false;
    struct termios saved_tio;
    uint16_t *pages = NULL;
    uint8_t *plan = NULL;
    double t0 = fl_now_s();

    memset(f, 0, sizeof(*f));
    f->o = opts;
    f->progress = progress;
    f->ctx = ctx;
    f->err = err;
    f->err_len = err_len;
    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (opts == NULL || opts->fd < 0 || opts->image == NULL || opts->image->span_bytes == 0) {
        rc = fl_fail(f, MT_EINVAL, "flash job needs an open port and a loaded image");
        goto out;
    }
    f->img = opts->image;

    /* Everything that can be checked without the board is checked first. */
    const fw_chip_t *want = fl_expected_chip(f, &rc);
    if (rc != MT_OK)
        goto out;
    if (want != NULL && (rc = fw_image_validate(f->img, want, err, err_len)) != MT_OK)
        goto out;
    if (opts->entry == FLASHER_ENTRY_LINES) {
        flasher_line_step_t steps[FLASHER_MAX_LINE_STEPS];
        size_t n;
        if (opts->lines_entry == NULL) {
            rc = fl_fail(f, MT_EINVAL, "line entry chosen but no DTR/RTS sequence given");
            goto out;
        }
        if ((rc = flasher_lines_parse(opts->lines_entry, steps, FLASHER_MAX_LINE_STEPS, &n, err,
                                      err_len)) != MT_OK)
            goto out;
    }
    if (opts->lines_exit != NULL) {
        flasher_line_step_t steps[FLASHER_MAX_LINE_STEPS];
        size_t n;
        if ((rc = flasher_lines_parse(opts->lines_exit, steps, FLASHER_MAX_LINE_STEPS, &n, err,
                                      err_len)) != MT_OK)
            goto out;
    }
    if (opts->entry == FLASHER_ENTRY_RPC && opts->enter_rpc == NULL) {
        rc = fl_fail(f, MT_EINVAL, "RPC entry chosen but no RPC callback given");
        goto out;
    }

    /* 1. Enter the bootloader. */
    fl_progress(f, FLASHER_PHASE_ENTER, 0, 1);
    if (opts->entry == FLASHER_ENTRY_RPC) {
        if ((rc = opts->enter_rpc(opts->enter_ctx, err, err_len)) != MT_OK)
            goto out;
        fl_sleep_ms(opts->boot_wait_ms ? opts->boot_wait_ms : 500);
    } else if (opts->entry == FLASHER_ENTRY_LINES) {
        if ((rc = fl_run_lines(f, opts->lines_entry)) != MT_OK)
            goto out;
        fl_sleep_ms(opts->boot_wait_ms ? opts->boot_wait_ms : 100);
    }

    /* 2. The line: 8E1 on a real UART (the bootloader's framing), restored afterwards. */
    if (opts->baud != 0 && isatty(opts->fd)) {
        if (tcgetattr(opts->fd, &saved_tio) == 0)
            have_tio = true;
        if ((rc = an3155_setup_tty(opts->fd, opts->baud, &f->st.parity_even)) != MT_OK) {
            fl_fail(f, rc, "cannot set the port to %u baud 8E1", opts->baud);
            goto out;
        }
    }
    an3155_timing_t timing = opts->timing;
    if (timing.baud == 0)
        timing.baud = opts->baud;
    an3155_init(&f->bl, opts->fd, &timing);
    fl_progress(f, FLASHER_PHASE_CONNECT, 0, 1);
    if ((rc = an3155_connect(&f->bl)) != MT_OK) {
        fl_fail(f, rc, "no bootloader on the port: %s", f->bl.err);
        goto out;
    }
    f->st.chip_id = f->bl.chip_id;
    f->st.bl_version = f->bl.bl_version;
    f->chip = fw_chip_by_id(f->bl.chip_id);
    if (f->chip == NULL) {
        rc = fl_fail(f, MT_EINVAL, "board answers chip ID 0x%03x, not a supported part; left in "
                     "its bootloader", f->bl.chip_id);
        goto out;
    }
    if (want != NULL && want != f->chip) {
        rc = fl_fail(f, MT_EINVAL, "wrong chip: the board is %s (0x%03x) but the image is for %s "
                     "(0x%03x); nothing written, board left in its bootloader", f->chip->name,
                     f->chip->chip_id, want->name, want->chip_id);
        goto out;
    }
    if ((rc = fw_image_validate(f->img, f->chip, err, err_len)) != MT_OK)
        goto out;
    fl_progress(f, FLASHER_PHASE_CONNECT, 1, 1);

    /* 3. Plan: which pages the image touches, and what each needs. */
    uint32_t first = (f->img->base - f->chip->flash_base) / f->chip->page_bytes;
    uint32_t last = (f->img->base + f->img->span_bytes - 1 - f->chip->flash_base) /
                    f->chip->page_bytes;
    uint32_t n_pages = last - first + 1;
    pages = calloc(n_pages, sizeof(*pages));
    plan = calloc(n_pages, 1);
    if (pages == NULL || plan == NULL) {
        rc = fl_fail(f, MT_ENOMEM, "out of memory");
        goto out;
    }
    uint32_t total = f->img->covered_bytes, done = 0;
    for (uint32_t i = 0; i < n_pages; i++) {
        bool blank;
        uint32_t cov = fl_page_cover(f, first + i, &blank);
        if (cov == 0) {
            plan[i] = PAGE_SAME; /* a gap: not the image's, not touched */
            continue;
        }
        f->st.pages_touched++;
        plan[i] = blank ? PAGE_BLANK : PAGE_WRITE;
        if (!blank && !opts->no_compare) {
            bool same;
            rc = fl_page_same(f, first + i, &same);
            if (rc != MT_OK && (fl_recover(f) != MT_OK ||
                                (rc = fl_page_same(f, first + i, &same)) != MT_OK)) {
                fl_fail(f, rc, "reading page %u back failed: %s", first + i, f->bl.err);
                goto out;
            }
            if (same) {
                plan[i] = PAGE_SAME;
                f->st.pages_same++;
            }
        }
        done += cov;
        fl_progress(f, FLASHER_PHASE_COMPARE, done, total);
    }

    /* 4. Erase what changes (blank image pages included: they must end up blank). */
    size_t n_erase = 0;
    for (uint32_t i = 0; i < n_pages; i++)
        if (plan[i] == PAGE_BLANK || plan[i] == PAGE_WRITE)
            pages[n_erase++] = (uint16_t)(first + i);
    if (n_erase > 0 && (rc = fl_erase(f, pages, n_erase)) != MT_OK)
        goto out;

    /* 5. Write and verify page by page; one retry per page, erasing it again. */
    done = 0;
    for (uint32_t i = 0; i < n_pages; i++) {
        bool blank;
        uint32_t cov = fl_page_cover(f, first + i, &blank);
        if (plan[i] == PAGE_WRITE) {
            uint32_t where = fl_page_addr(f, first + i);
            rc = fl_page_write_verify(f, first + i, &where);
            if (rc != MT_OK) {
                f->st.pages_retried++;
                uint16_t pg = (uint16_t)(first + i);
                char first_err[sizeof(f->bl.err)];
                memcpy(first_err, f->bl.err, sizeof(first_err));
                if ((rc = fl_recover(f)) != MT_OK ||
                    (rc = an3155_erase_pages(&f->bl, &pg, 1)) != MT_OK ||
                    (rc = fl_page_write_verify(f, first + i, &where)) != MT_OK) {
                    fl_fail(f, rc, "page %u (0x%08x) failed twice (%s; then %s); board left in "
                            "its bootloader, flash again to recover", first + i, where, first_err,
                            f->bl.err);
                    goto out;
                }
            }
            f->st.pages_written++;
        }
        done += cov;
        fl_progress(f, FLASHER_PHASE_WRITE, done, total);
    }

    /* 6. Leave: Go to the image, or reset it through the lines. */
    if (opts->lines_exit != NULL) {
        if ((rc = fl_run_lines(f, opts->lines_exit)) != MT_OK)
            goto out;
    } else if (!opts->no_go) {
        uint32_t go = opts->go_addr ? opts->go_addr : f->img->base;
        fl_progress(f, FLASHER_PHASE_GO, 0, 1);
        if ((rc = an3155_go(&f->bl, go)) != MT_OK) {
            fl_fail(f, rc, "Go 0x%08x failed: %s (image is written and verified)", go, f->bl.err);
            goto out;
        }
        f->st.go_addr = go;
    }
    fl_progress(f, FLASHER_PHASE_DONE, 1, 1);
    rc = MT_OK;
out:
    if (have_tio)
        tcsetattr(opts->fd, TCSADRAIN, &saved_tio);
    free(pages);
    free(plan);
    f->st.elapsed_s = fl_now_s() - t0;
    if (opts != NULL && opts->stats != NULL)
        *opts->stats = f->st;
    return rc;
}
