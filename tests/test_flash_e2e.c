/*
 * test_flash_e2e.c — the whole firmware update path on a simulated board: microt-sim started in
 * its ROM bootloader (--bootloader) is flashed by the daemon's flasher over the pty, boots the
 * image after Go and says Hello with the version stamped in that image; then the running
 * firmware is asked by RPC (Reboot{BOOTLOADER}) to go back to its bootloader, is flashed with a
 * newer image, and reports that version. Real programs, real pty, real link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flash/flasher.h"
#include "fw_header.h"
#include "harness.h"
#include "link.h"
#include "microt.pb.h"
#include "mt_err.h"
#include "pb_decode.h"
#include "pb_encode.h"
#include "transport.h"

#define IMG_BYTES (48u * 1024u)

static struct {
    char *dir;
    char pty[300], flash[300], log[320];
    pid_t pid;
    transport_t *tr;
    link_t link;
    bool link_up;
    microt_Message rx[8];
    unsigned n_rx;
} b;

static void on_write(void *ctx, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    (void)transport_write(b.tr, bytes, len, 1000);
}

static void on_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    (void)ctx;
    pb_istream_t is = pb_istream_from_buffer(payload, len);
    if (b.n_rx < 8 && pb_decode(&is, microt_Message_fields, &b.rx[b.n_rx]))
        b.n_rx++;
}

static void link_start(void)
{
    link_config_t cfg = {.window = 4, .max_payload = LINK_MAX_PAYLOAD, .rto_ms = 100,
                         .max_retries = 20, .session_id = (uint32_t)harness_now_ms() | 1u};
    assert_int_equal(link_init(&b.link, &cfg, on_write, on_deliver, NULL), LINK_OK);
    b.n_rx = 0;
    b.link_up = true;
}

static bool wait_reply(uint32_t id, microt_Message *out, int timeout_ms)
{
    long long end = harness_now_ms() + timeout_ms;
    while (harness_now_ms() < end) {
        uint8_t buf[512];
        ssize_t n = transport_read(b.tr, buf, sizeof(buf), 20);
        if (n > 0)
            link_input(&b.link, buf, (size_t)n, (uint32_t)harness_now_ms());
        link_poll(&b.link, (uint32_t)harness_now_ms());
        for (unsigned i = 0; i < b.n_rx; i++)
            if (b.rx[i].id == id) {
                *out = b.rx[i];
                memmove(&b.rx[i], &b.rx[i + 1], (b.n_rx - i - 1) * sizeof(b.rx[0]));
                b.n_rx--;
                return true;
            }
    }
    return false;
}

static void send_msg(microt_Message *m)
{
    uint8_t buf[LINK_MAX_PAYLOAD];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
    assert_true(pb_encode(&os, microt_Message_fields, m));
    assert_int_equal(link_send(&b.link, buf, os.bytes_written, (uint32_t)harness_now_ms()), LINK_OK);
}

static const char *hello_version(uint32_t id)
{
    static microt_Message r;
    microt_Message m;
    link_start();
    memset(&m, 0, sizeof(m));
    m.id = id;
    m.which_body = microt_Message_hello_tag;
    m.body.hello.protocol_version = microt_ProtocolVersion_PROTOCOL_VERSION_CURRENT;
    send_msg(&m);
    if (!wait_reply(id, &r, 3000) || r.which_body != microt_Message_device_info_tag)
        return "(no DeviceInfo)";
    return r.body.device_info.firmware_version;
}

/* The daemon's RPC entry: Reboot{BOOTLOADER}, acknowledged by the firmware. */
static int rpc_reboot_to_bootloader(void *ctx, char *err, size_t err_len)
{
    (void)ctx;
    microt_Message m, r;
    memset(&m, 0, sizeof(m));
    m.id = 42;
    m.which_body = microt_Message_reboot_tag;
    m.body.reboot.target = microt_Reboot_Target_BOOTLOADER;
    send_msg(&m);
    if (!wait_reply(42, &r, 3000) || r.which_body != microt_Message_ack_tag) {
        snprintf(err, err_len, "board did not acknowledge Reboot{BOOTLOADER}");
        return MT_ETIMEOUT;
    }
    /* Let the link's last acknowledgements out before the port turns into a bootloader line. */
    for (int i = 0; i < 10; i++) {
        uint8_t buf[256];
        ssize_t n = transport_read(b.tr, buf, sizeof(buf), 20);
        if (n > 0)
            link_input(&b.link, buf, (size_t)n, (uint32_t)harness_now_ms());
        link_poll(&b.link, (uint32_t)harness_now_ms());
    }
    return MT_OK;
}

static void make_image(uint8_t *raw, const char *version, uint8_t salt)
{
    for (uint32_t i = 0; i < IMG_BYTES; i++)
        raw[i] = (uint8_t)(i * 29u + salt);
    memset(raw + 20 * 1024, 0xFF, 8 * 1024); /* two blank pages */
    uint32_t sp = 0x200A0000u, reset = 0x08000801u;
    memcpy(raw, &sp, 4);
    memcpy(raw + 4, &reset, 4);
    assert_int_equal(fw_header_stamp(raw, IMG_BYTES, version, 0x470), FW_HEADER_OK);
}

/* On a failure, what the simulator said helps more than our side alone. */
static void dump_sim_log(void)
{
    FILE *f = fopen(b.log, "r");
    char line[256];
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL)
        fprintf(stderr, "sim| %s", line);
    fclose(f);
}

static int flash(const uint8_t *raw, flasher_entry_t entry, flasher_stats_t *st, char *err,
                 size_t err_len)
{
    fw_image_t img;
    assert_int_equal(fw_image_load_mem(&img, raw, IMG_BYTES, FW_FORMAT_BIN, 0x08000000u, err,
                                       err_len), MT_OK);
    flasher_opts_t o = {.fd = transport_fd(b.tr), .image = &img, .entry = entry,
                        .enter_rpc = rpc_reboot_to_bootloader, .boot_wait_ms = 100,
                        .timing = {.reply_ms = 500, .sync_probe_ms = 50}, .stats = st};
    int rc = flasher_run(&o, NULL, NULL, err, err_len);
    fw_image_free(&img);
    return rc;
}

static void test_flash_boot_and_update_by_rpc(void **state)
{
    (void)state;
    char sim[300];
    snprintf(sim, sizeof(sim), "%s/microt-sim", harness_build_dir());
    char *argv[] = {sim, "--pty", b.pty, "--board", "l4r5zi", "--flash", b.flash, "--bootloader",
                    NULL};
    b.pid = harness_spawn(argv, b.log);
    assert_true(b.pid > 0);
    for (int i = 0; i < 100 && access(b.pty, F_OK) != 0; i++)
        usleep(20000);
    assert_int_equal(transport_open(b.pty, 115200, &b.tr), 0);

    static uint8_t raw[IMG_BYTES];
    flasher_stats_t st;
    char err[300];
    make_image(raw, "5.0.1", 1);
    int rc = flash(raw, FLASHER_ENTRY_NONE, &st, err, sizeof(err));
    if (rc != MT_OK) {
        dump_sim_log();
        fail_msg("first flash: %s", err);
    }
    assert_int_equal(st.chip_id, 0x470);
    assert_int_equal(st.go_addr, 0x08000000u);
    assert_string_equal(hello_version(1), "5.0.1");

    make_image(raw, "5.0.2", 2);
    rc = flash(raw, FLASHER_ENTRY_RPC, &st, err, sizeof(err));
    if (rc != MT_OK) {
        dump_sim_log();
        fail_msg("update by RPC: %s", err);
    }
    assert_int_equal(st.pages_written, 10);
    assert_string_equal(hello_version(2), "5.0.2");

    transport_close(b.tr);
    harness_stop(b.pid, SIGTERM);
}

static int setup(void **state)
{
    (void)state;
    memset(&b, 0, sizeof(b));
    b.dir = harness_mkdtemp("flash-e2e");
    snprintf(b.pty, sizeof(b.pty), "%s/board", b.dir);
    snprintf(b.flash, sizeof(b.flash), "%s/flash.bin", b.dir);
    snprintf(b.log, sizeof(b.log), "%s/sim.log", b.dir);
    return b.dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_rmdir(b.dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flash_boot_and_update_by_rpc, setup, teardown),
    };
    return cmocka_run_group_tests_name("flash_e2e", tests, NULL, NULL);
}
