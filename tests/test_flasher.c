/*
 * test_flasher.c — whole flash jobs (daemon/flash/flasher.c) against the simulator's bootloader:
 * a fresh part, an identical re-flash, a one-page change, a wrong chip, a corrupted byte each
 * way, a board reset mid-write, a board gone silent mid-write (then recovered by flashing again),
 * images refused before the board is touched, and the bootloader entry paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "flash/flasher.h"
#include "flash_sim_harness.h"
#include "fw_header.h"
#include "mt_err.h"

#define BASE 0x08000000u
#define IMG_BYTES (64u * 1024u)

/* Deadlines as the defaults: generous enough for a loaded 2-core CI machine. */
static const an3155_timing_t fast = { .baud = 115200, .reply_ms = 500, .sync_probe_ms = 50 };

/* A 64 KiB image: vector table, header, pages 3 and 7 blank (L4R5 4 KiB pages), page 5 only
 * half filled (the rest 0xFF, as a section tail). */
static void build_image(uint8_t *raw, uint16_t chip, uint32_t page, uint8_t salt)
{
    for (uint32_t i = 0; i < IMG_BYTES; i++)
        raw[i] = (uint8_t)((i * 167u + salt) ^ (i >> 8));
    memset(raw + 3 * page, 0xFF, page);
    memset(raw + 7 * page, 0xFF, page);
    memset(raw + 5 * page + page / 2, 0xFF, page / 2);
    uint32_t sp = 0x20020000u, reset = BASE + 0x801u;
    memcpy(raw, &sp, 4);
    memcpy(raw + 4, &reset, 4);
    assert_int_equal(fw_header_stamp(raw, IMG_BYTES, "3.0.0", chip), FW_HEADER_OK);
}

static void load(fw_image_t *img, const uint8_t *raw)
{
    char err[200];
    assert_int_equal(fw_image_load_mem(img, raw, IMG_BYTES, FW_FORMAT_BIN, BASE, err, sizeof(err)),
                     MT_OK);
}

typedef struct {
    simrig_t *rig;
    flasher_phase_t last;
    int calls;
    int arm;            /* 1 corrupt h2d, 2 corrupt d2h, 3 reset, 4 silent: armed at erase end */
    bool armed;
    int rpc_calls;
    int rpc_result;
} ctx_t;

static void on_progress(void *p, flasher_phase_t phase, uint32_t done, uint32_t total)
{
    ctx_t *c = p;
    assert_true(done <= total);
    assert_true(phase >= c->last); /* phases only move forward */
    c->last = phase;
    c->calls++;
    if (phase == FLASHER_PHASE_ERASE && done == total && c->arm && !c->armed) {
        c->armed = true;
        switch (c->arm) {
        case 1: simrig_corrupt_h2d(c->rig, 2 + 5 + 100); break;   /* first block's data */
        case 2: simrig_corrupt_d2h(c->rig, 3 * 16 + 3 + 100); break; /* verify read data */
        case 3: simrig_reset_h2d(c->rig, 2 + 5 + 100); break;
        case 4: simrig_silent_h2d(c->rig, 2 + 5 + 100); break;
        }
    }
}

static int rpc_enter(void *p, char *err, size_t err_len)
{
    ctx_t *c = p;
    c->rpc_calls++;
    if (c->rpc_result != 0)
        snprintf(err, err_len, "board did not accept Reboot");
    return c->rpc_result;
}

static flasher_opts_t opts_for(simrig_t *r, const fw_image_t *img, flasher_stats_t *st)
{
    flasher_opts_t o = { .fd = r->host_fd, .image = img, .timing = fast, .stats = st };
    return o;
}

static void assert_flash_holds(simrig_t *r, const fw_image_t *img)
{
    for (uint32_t i = 0; i < img->span_bytes; i++)
        if (fw_image_covers(img, img->base + i) &&
            r->flash.base[img->base - BASE + i] != img->data[i])
            fail_msg("flash differs from the image at 0x%08x", img->base + i);
}

static int setup(void **state)
{
    static simrig_t r;
    if (simrig_start(&r, "l4r5zi") != 0)
        return -1;
    *state = &r;
    return 0;
}
static int setup_h7(void **state)
{
    static simrig_t r;
    if (simrig_start(&r, "h7a3zi") != 0)
        return -1;
    *state = &r;
    return 0;
}
static int teardown(void **state)
{
    simrig_stop(*state);
    return 0;
}

static void test_fresh_then_same_then_one_page(void **state)
{
    simrig_t *r = *state;
    static uint8_t raw[IMG_BYTES];
    build_image(raw, 0x470, 4096, 1);
    fw_image_t img;
    load(&img, raw);
    flasher_stats_t st;
    flasher_opts_t o = opts_for(r, &img, &st);
    ctx_t c = { .rig = r };
    char err[300];

    assert_int_equal(flasher_run(&o, on_progress, &c, err, sizeof(err)), MT_OK);
    assert_int_equal(c.last, FLASHER_PHASE_DONE);
    assert_flash_holds(r, &img);
    assert_int_equal(st.chip_id, 0x470);
    assert_int_equal(st.pages_touched, 16);
    assert_int_equal(st.pages_same, 0);
    assert_int_equal(st.pages_erased, 16);   /* blank pages are erased, never written */
    assert_int_equal(st.pages_written, 14);
    assert_int_equal(st.blocks_written, 14 * 16 - 8); /* half of page 5 is blank */
    assert_int_equal(st.go_addr, BASE);
    for (int i = 0; i < 100 && r->n_go == 0; i++)
        usleep(10000);
    assert_int_equal(r->n_go, 1);

    /* The same image again: read, compared, nothing written. */
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_OK);
    assert_int_equal(st.pages_same, 14);
    assert_int_equal(st.pages_written, 0);
    assert_int_equal(st.blocks_written, 0);

    /* A build that differs in one page: only that page is erased and written. */
    raw[9 * 4096 + 77] ^= 0xFF;
    assert_int_equal(fw_header_stamp(raw, IMG_BYTES, "3.0.1", 0x470), FW_HEADER_OK);
    fw_image_t img2;
    load(&img2, raw);
    o.image = &img2;
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_OK);
    assert_int_equal(st.pages_written, 2); /* page 9, and page 0 whose header changed */
    assert_int_equal(st.pages_same, 12);
    assert_flash_holds(r, &img2);
    fw_image_free(&img);
    fw_image_free(&img2);
}

static void test_wrong_chip_leaves_board_in_bootloader(void **state)
{
    simrig_t *r = *state; /* an H7A3 */
    static uint8_t raw[IMG_BYTES];
    build_image(raw, 0x470, 4096, 2);
    fw_image_t img;
    load(&img, raw);
    flasher_stats_t st;
    flasher_opts_t o = opts_for(r, &img, &st);
    char err[300];
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_EINVAL);
    assert_non_null(strstr(err, "wrong chip"));
    assert_non_null(strstr(err, "bootloader"));
    assert_int_equal(st.chip_id, 0x480);
    assert_int_equal(st.blocks_written, 0);
    assert_int_equal(r->n_go, 0);
    for (uint32_t i = 0; i < IMG_BYTES; i++)
        assert_int_equal(r->flash.base[i], 0xFF);
    /* An explicit --chip that disagrees with the image is refused before the board is touched. */
    uint64_t sent = r->h2d;
    o.chip = "h7a3zi";
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_EINVAL);
    assert_int_equal(r->h2d, sent);
    /* The board is still in its bootloader: the right image goes in. */
    build_image(raw, 0x480, 8192, 2);
    fw_image_t img7;
    load(&img7, raw);
    o.image = &img7;
    o.chip = NULL;
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_OK);
    assert_int_equal(st.pages_touched, 8);
    assert_flash_holds(r, &img7);
    fw_image_free(&img);
    fw_image_free(&img7);
}

static void run_with_fault(simrig_t *r, int fault)
{
    static uint8_t raw[IMG_BYTES];
    build_image(raw, 0x470, 4096, (uint8_t)(10 + fault));
    fw_image_t img;
    load(&img, raw);
    flasher_stats_t st;
    flasher_opts_t o = opts_for(r, &img, &st);
    ctx_t c = { .rig = r, .arm = fault };
    char err[300];
    int rc = flasher_run(&o, on_progress, &c, err, sizeof(err));
    if (rc != MT_OK)
        fail_msg("fault %d: rc %d: %s", fault, rc, err);
    assert_true(c.armed);
    assert_true(st.pages_retried >= 1); /* the fault cost a page retry, and only that */
    assert_flash_holds(r, &img);
    fw_image_free(&img);
}

static void test_corrupted_byte_to_board_is_retried(void **state)
{
    run_with_fault(*state, 1);
}

static void test_corrupted_byte_from_board_is_retried(void **state)
{
    run_with_fault(*state, 2);
}

static void test_reset_mid_write_recovers(void **state)
{
    simrig_t *r = *state;
    run_with_fault(r, 3);
    assert_int_equal(r->resets, 1);
}

static void test_silent_board_fails_clearly_then_flashes(void **state)
{
    simrig_t *r = *state;
    static uint8_t raw[IMG_BYTES];
    build_image(raw, 0x470, 4096, 40);
    fw_image_t img;
    load(&img, raw);
    flasher_stats_t st;
    flasher_opts_t o = opts_for(r, &img, &st);
    ctx_t c = { .rig = r, .arm = 4 };
    char err[300];
    int rc = flasher_run(&o, on_progress, &c, err, sizeof(err));
    if (rc != MT_ETIMEOUT || strstr(err, "failed twice") == NULL)
        fail_msg("rc %d: %s", rc, err);
    assert_non_null(strstr(err, "flash again"));
    assert_int_equal(r->n_go, 0); /* never sent to a half-written image */
    /* The board comes back (power cycle with BOOT0 held): flashing again recovers it. */
    simrig_talk(r);
    simrig_reset(r);
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_OK);
    assert_flash_holds(r, &img);
    fw_image_free(&img);
}

static void test_bad_images_refused_before_touching_board(void **state)
{
    simrig_t *r = *state;
    static uint8_t raw[IMG_BYTES];
    build_image(raw, 0x470, 4096, 50);
    uint32_t bad_sp = 0x40000000u;
    memcpy(raw, &bad_sp, 4);
    assert_int_equal(fw_header_stamp(raw, IMG_BYTES, "3.0.0", 0x470), FW_HEADER_OK);
    fw_image_t img;
    load(&img, raw);
    flasher_stats_t st;
    flasher_opts_t o = opts_for(r, &img, &st);
    char err[300];
    uint64_t sent = r->h2d;
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_EINVAL);
    assert_non_null(strstr(err, "stack pointer"));
    o.chip = "stm32f103"; /* a part the flasher does not know */
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_EINVAL);
    assert_non_null(strstr(err, "unknown chip"));
    o.chip = NULL;
    o.entry = FLASHER_ENTRY_LINES;
    o.lines_entry = "rts,,dtr";
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_EINVAL);
    o.entry = FLASHER_ENTRY_RPC; /* no callback */
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_EINVAL);
    assert_int_equal(r->h2d, sent);
    fw_image_free(&img);
}

static void test_entry_paths(void **state)
{
    simrig_t *r = *state;
    static uint8_t raw[IMG_BYTES];
    build_image(raw, 0x470, 4096, 60);
    fw_image_t img;
    load(&img, raw);
    flasher_stats_t st;
    flasher_opts_t o = opts_for(r, &img, &st);
    ctx_t c = { .rig = r, .rpc_result = MT_ETIMEOUT };
    char err[300];
    o.entry = FLASHER_ENTRY_RPC;
    o.enter_rpc = rpc_enter;
    o.enter_ctx = &c;
    o.boot_wait_ms = 1;
    uint64_t sent = r->h2d;
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_ETIMEOUT);
    assert_string_equal(err, "board did not accept Reboot");
    assert_int_equal(r->h2d, sent);
    c.rpc_result = 0;
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_OK);
    assert_int_equal(c.rpc_calls, 2);
    assert_flash_holds(r, &img);
    /* DTR/RTS on a socket: a clear error naming the line. */
    o.entry = FLASHER_ENTRY_LINES;
    o.lines_entry = "-rts&dtr,rts";
    assert_int_equal(flasher_run(&o, NULL, NULL, err, sizeof(err)), MT_EIO);
    assert_non_null(strstr(err, "RTS"));
    fw_image_free(&img);
}

static void test_line_sequence_parser(void **state)
{
    (void)state;
    flasher_line_step_t s[FLASHER_MAX_LINE_STEPS];
    size_t n;
    char err[200];
    assert_int_equal(flasher_lines_parse("-rts&dtr,rts,-dtr", s, 16, &n, err, sizeof(err)), MT_OK);
    assert_int_equal(n, 4);
    assert_int_equal(s[0].sig, FLASHER_SIG_RTS);
    assert_false(s[0].assert);
    assert_false(s[0].wait_after);
    assert_int_equal(s[1].sig, FLASHER_SIG_DTR);
    assert_true(s[1].assert);
    assert_true(s[1].wait_after);
    assert_int_equal(s[3].sig, FLASHER_SIG_DTR);
    assert_false(s[3].assert);
    assert_int_equal(flasher_lines_parse("BRK,-brk", s, 16, &n, err, sizeof(err)), MT_OK);
    assert_int_equal(s[0].sig, FLASHER_SIG_BRK);
    assert_int_equal(flasher_lines_parse("rts,", s, 16, &n, err, sizeof(err)), MT_EINVAL);
    assert_int_equal(flasher_lines_parse("cts", s, 16, &n, err, sizeof(err)), MT_EINVAL);
    assert_int_equal(flasher_lines_parse("rtsdtr", s, 16, &n, err, sizeof(err)), MT_EINVAL);
    assert_int_equal(flasher_lines_parse("", s, 16, &n, err, sizeof(err)), MT_EINVAL);
    assert_int_equal(flasher_lines_parse("rts,rts,rts", s, 2, &n, err, sizeof(err)), MT_EINVAL);
    assert_string_equal(flasher_phase_name(FLASHER_PHASE_COMPARE), "compare");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_then_same_then_one_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_chip_leaves_board_in_bootloader, setup_h7,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_byte_to_board_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_byte_from_board_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_mid_write_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_board_fails_clearly_then_flashes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_images_refused_before_touching_board, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_entry_paths, setup, teardown),
        cmocka_unit_test(test_line_sequence_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
