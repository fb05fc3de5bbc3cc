/*
 * test_an3155.c — the daemon's AN3155 client (daemon/flash/an3155.c) against the simulator's
 * bootloader, including a corrupted byte each way, a bootloader left mid-command, and a silent
 * line: each ends in a clear error or a recovered link, never a hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pty.h>

#include <cmocka.h>

#include "flash/an3155.h"
#include "flash_sim_harness.h"
#include "mt_err.h"

static an3155_timing_t fast = { .baud = 115200, .reply_ms = 500, .sync_probe_ms = 50 };

static int setup(void **state)
{
    static simrig_t r;
    if (simrig_start(&r, "l4r5zi") != 0)
        return -1;
    *state = &r;
    return 0;
}
static int teardown(void **state)
{
    simrig_stop(*state);
    return 0;
}

static void test_connect_fresh_and_again(void **state)
{
    simrig_t *r = *state;
    an3155_t bl;
    an3155_init(&bl, r->host_fd, &fast);
    assert_int_equal(an3155_connect(&bl), MT_OK);
    assert_int_equal(bl.chip_id, 0x470);
    assert_int_equal(bl.bl_version, 0x31);
    assert_true(an3155_has_cmd(&bl, AN3155_CMD_EXT_ERASE));
    assert_false(an3155_has_cmd(&bl, AN3155_CMD_GET_CHECKSUM));
    /* A second client finds it synchronised and idle: the 0x7F pair trick resyncs. */
    an3155_t again;
    an3155_init(&again, r->host_fd, &fast);
    assert_int_equal(an3155_connect(&again), MT_OK);
    assert_int_equal(again.chip_id, 0x470);
}

static void test_read_write_erase_go(void **state)
{
    simrig_t *r = *state;
    an3155_t bl;
    an3155_init(&bl, r->host_fd, &fast);
    assert_int_equal(an3155_connect(&bl), MT_OK);
    uint8_t data[256], back[256];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)(255 - i);
    assert_int_equal(an3155_write(&bl, 0x08001000, data, 256), MT_OK);
    assert_int_equal(an3155_read(&bl, 0x08001000, back, 256), MT_OK);
    assert_memory_equal(back, data, 256);
    assert_int_equal(an3155_read(&bl, 0x08001010, back, 1), MT_OK);
    assert_int_equal(back[0], data[16]);
    /* Programming it again is refused by the flash: a NACK, reported as a device error. */
    assert_int_equal(an3155_write(&bl, 0x08001000, data, 256), MT_EDEVICE);
    assert_non_null(strstr(bl.err, "NACK"));
    uint16_t pg = 1;
    assert_int_equal(an3155_erase_pages(&bl, &pg, 1), MT_OK);
    assert_int_equal(an3155_read(&bl, 0x08001000, back, 16), MT_OK);
    for (int i = 0; i < 16; i++)
        assert_int_equal(back[i], 0xFF);
    assert_int_equal(an3155_write(&bl, 0x08001000, data, 256), MT_OK);
    assert_int_equal(an3155_mass_erase(&bl), MT_OK);
    assert_int_equal(r->flash.base[0x1000], 0xFF);
    /* Argument checks never reach the line. */
    uint64_t sent = r->h2d;
    assert_int_equal(an3155_write(&bl, 0x08001002, data, 16), MT_EINVAL);
    assert_int_equal(an3155_write(&bl, 0x08001000, data, 6), MT_EINVAL);
    assert_int_equal(an3155_read(&bl, 0x08001000, back, 0), MT_EINVAL);
    assert_int_equal(an3155_read(&bl, 0x08001000, back, 257), MT_EINVAL);
    assert_int_equal(r->h2d, sent);
    /* Addresses outside flash are NACKed by the bootloader. */
    assert_int_equal(an3155_read(&bl, 0x30000000, back, 4), MT_EDEVICE);
    int go_before = r->n_go;
    assert_int_equal(an3155_go(&bl, 0x08000000), MT_OK);
    for (int i = 0; i < 100 && r->n_go == go_before; i++)
        usleep(10000);
    assert_int_equal(r->n_go, go_before + 1);
}

static void test_corrupted_write_byte_is_nacked_and_harmless(void **state)
{
    simrig_t *r = *state;
    an3155_t bl;
    an3155_init(&bl, r->host_fd, &fast);
    assert_int_equal(an3155_connect(&bl), MT_OK);
    uint8_t data[256];
    memset(data, 0x3C, sizeof(data));
    simrig_corrupt_h2d(r, 2 + 5 + 40); /* a data byte of the frame */
    assert_int_equal(an3155_write(&bl, 0x08002000, data, 256), MT_EDEVICE);
    assert_int_equal(r->flash.base[0x2000], 0xFF); /* nothing programmed */
    /* The bootloader went back to waiting for a command: the retry just works. */
    assert_int_equal(an3155_write(&bl, 0x08002000, data, 256), MT_OK);
    assert_memory_equal(r->flash.base + 0x2000, data, 256);
}

static void test_corrupted_reply_then_resync(void **state)
{
    simrig_t *r = *state;
    an3155_t bl;
    an3155_init(&bl, r->host_fd, &fast);
    assert_int_equal(an3155_connect(&bl), MT_OK);
    uint8_t back[64];
    simrig_corrupt_d2h(r, 0); /* the ACK of the next command byte */
    assert_int_equal(an3155_read(&bl, 0x08000000, back, 64), MT_EPROTO);
    assert_non_null(strstr(bl.err, "not ACK/NACK"));
    /* The bootloader now waits for an address; resync feeds 0xFF until it answers. */
    assert_int_equal(an3155_resync(&bl), MT_OK);
    assert_int_equal(an3155_read(&bl, 0x08000000, back, 64), MT_OK);
}

static void test_connect_recovers_bootloader_left_mid_command(void **state)
{
    simrig_t *r = *state;
    an3155_t bl;
    an3155_init(&bl, r->host_fd, &fast);
    assert_int_equal(an3155_connect(&bl), MT_OK);
    uint8_t marker[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    assert_int_equal(an3155_write(&bl, 0x08000000, marker, 8), MT_OK);
    /* Someone started an Extended Erase and sent the first count byte, then died. */
    uint8_t start[3] = { 0x44, 0xBB, 0x00 }, ack;
    assert_int_equal(write(r->host_fd, start, 2), 2);
    assert_int_equal(read(r->host_fd, &ack, 1), 1);
    assert_int_equal(ack, 0x79);
    assert_int_equal(write(r->host_fd, &start[2], 1), 1);
    an3155_t fresh;
    an3155_init(&fresh, r->host_fd, &fast);
    assert_int_equal(an3155_connect(&fresh), MT_OK);
    assert_memory_equal(r->flash.base, marker, 8); /* the stuffing erased nothing */
    /* Someone else died in the middle of a write frame. */
    uint8_t w[2] = { 0x31, 0xCE }, addr[5] = { 0x08, 0x00, 0x10, 0x00, 0x18 };
    assert_int_equal(write(r->host_fd, w, 2), 2);
    assert_int_equal(read(r->host_fd, &ack, 1), 1);
    assert_int_equal(write(r->host_fd, addr, 5), 5);
    assert_int_equal(read(r->host_fd, &ack, 1), 1);
    uint8_t partial[10] = { 0xFF, 0xAA, 0xAA };
    assert_int_equal(write(r->host_fd, partial, 10), 10);
    an3155_init(&fresh, r->host_fd, &fast);
    assert_int_equal(an3155_connect(&fresh), MT_OK);
    assert_int_equal(fresh.chip_id, 0x470);
}

static void test_silent_line_times_out(void **state)
{
    simrig_t *r = *state;
    an3155_t bl;
    an3155_init(&bl, r->host_fd, &fast);
    simrig_silent_h2d(r, 0);
    assert_int_equal(an3155_connect(&bl), MT_ETIMEOUT);
    assert_non_null(strstr(bl.err, "does not answer"));
    simrig_talk(r);
    simrig_reset(r);
    assert_int_equal(an3155_connect(&bl), MT_OK);
}

static void test_setup_tty_parity(void **state)
{
    simrig_t *r = *state;
    bool parity = true;
    /* Not a tty: left alone. */
    assert_int_equal(an3155_setup_tty(r->host_fd, 115200, &parity), MT_OK);
    assert_false(parity);
    int m, s;
    assert_int_equal(openpty(&m, &s, NULL, NULL, NULL), 0);
    /* A pty takes the speed but has no parity: reported, not an error. */
    assert_int_equal(an3155_setup_tty(s, 115200, &parity), MT_OK);
    assert_false(parity);
    assert_int_equal(an3155_setup_tty(s, 12345, &parity), MT_EINVAL);
    close(m);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_fresh_and_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_write_erase_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_write_byte_is_nacked_and_harmless, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_reply_then_resync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_recovers_bootloader_left_mid_command, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_silent_line_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_tty_parity, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
