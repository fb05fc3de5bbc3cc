/*
 * test_qemu_board.c — the real ARM firmware (build/firmware/qemu-an386|an500/microt.elf: the
 * firmware core on the QEMU Cortex-M4/M7 ports) over a pty, as microtd sees a board: the Hello
 * reply carries the port's identity (board kind, the UID given on QEMU's semihosting command
 * line, clock, memory, version), ping/stats/unknown requests are served, a reboot comes back
 * with a Boot event and the next boot count, and a reboot into the ROM bootloader (none under
 * QEMU) ends QEMU with the port's documented exit code. QEMU is started and stopped by PID.
 * Skips when qemu-system-arm or the images are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "link.h"
#include "microt.pb.h"
#include "pb_decode.h"
#include "pb_encode.h"
#include "transport.h"

#define QEMU_BIN "/usr/bin/qemu-system-arm"
#define QEMU_EXIT_BOOTLOADER 3 /* firmware/ports/mps2/mps2_port.h MPS2_EXIT_BOOTLOADER */

typedef struct {
    char *dir;
    char log[320];
    char pty[64];
    pid_t pid;
    transport_t *tr;
    link_t link;
    microt_Message rx[8];
    unsigned n_rx;
} qboard_t;

static qboard_t qb;

static void on_write(void *ctx, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    assert_int_equal(transport_write(qb.tr, bytes, len, 1000), 0);
}

static void on_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    (void)ctx;
    pb_istream_t is = pb_istream_from_buffer(payload, len);
    if (qb.n_rx < 8 && pb_decode(&is, microt_Message_fields, &qb.rx[qb.n_rx]))
        qb.n_rx++;
}

/* QEMU names its pty on its output: "char device redirected to /dev/pts/N (label serial0)". */
static bool find_pty(void *arg)
{
    (void)arg;
    FILE *f = fopen(qb.log, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "/dev/pts/");
        if (p) {
            size_t n = strcspn(p, " )\n");
            if (n < sizeof(qb.pty)) {
                memcpy(qb.pty, p, n);
                qb.pty[n] = '\0';
                found = true;
            }
        }
    }
    fclose(f);
    return found;
}

static const char *elf_path(const char *board)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/firmware/%s/microt.elf", harness_build_dir(), board);
    return path;
}

static void start_qemu(const char *board, const char *uid_hex)
{
    if (access(QEMU_BIN, X_OK) != 0 || access(elf_path(board), R_OK) != 0) {
        print_message("SKIP: %s or %s missing (make firmware)\n", QEMU_BIN, elf_path(board));
        skip();
    }
    char sh[200];
    snprintf(sh, sizeof(sh), "enable=on,target=native,arg=microt,arg=uid=%s", uid_hex);
    char *argv[] = {QEMU_BIN, "-M", strcmp(board, "qemu-an500") == 0 ? "mps2-an500" : "mps2-an386",
                    "-nographic", "-monitor", "none", "-serial", "pty", "-icount", "shift=0",
                    "-semihosting-config", sh, "-kernel", (char *)elf_path(board), NULL};
    snprintf(qb.log, sizeof(qb.log), "%s/qemu-%s.log", qb.dir, board);
    qb.pty[0] = '\0';
    qb.pid = harness_spawn(argv, qb.log);
    assert_true(qb.pid > 0);
    assert_true(harness_wait(find_pty, NULL, 10000));
    assert_int_equal(transport_open(qb.pty, 115200, &qb.tr), 0);
    link_config_t cfg = {.window = 4, .max_payload = LINK_MAX_PAYLOAD, .rto_ms = 200,
                         .max_retries = 20, .session_id = (uint32_t)harness_now_ms() | 1u};
    assert_int_equal(link_init(&qb.link, &cfg, on_write, on_deliver, NULL), LINK_OK);
    qb.n_rx = 0;
}

static void stop_qemu(void)
{
    if (qb.tr) {
        transport_close(qb.tr);
        qb.tr = NULL;
    }
    if (qb.pid > 0) {
        harness_stop(qb.pid, SIGTERM);
        qb.pid = 0;
    }
}

static bool wait_msg(uint32_t id, pb_size_t tag, microt_Message *out, int timeout_ms)
{
    long long end = harness_now_ms() + timeout_ms;
    while (harness_now_ms() < end) {
        uint8_t buf[512];
        ssize_t n = transport_read(qb.tr, buf, sizeof(buf), 20);
        if (n > 0)
            link_input(&qb.link, buf, (size_t)n, (uint32_t)harness_now_ms());
        link_poll(&qb.link, (uint32_t)harness_now_ms());
        for (unsigned i = 0; i < qb.n_rx; i++) {
            if (qb.rx[i].id == id && (id != 0 || qb.rx[i].which_body == tag)) {
                *out = qb.rx[i];
                memmove(&qb.rx[i], &qb.rx[i + 1], (qb.n_rx - i - 1) * sizeof(qb.rx[0]));
                qb.n_rx--;
                return true;
            }
        }
    }
    return false;
}

static void send_msg(microt_Message *m)
{
    uint8_t buf[LINK_MAX_PAYLOAD];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
    assert_true(pb_encode(&os, microt_Message_fields, m));
    assert_int_equal(link_send(&qb.link, buf, os.bytes_written, (uint32_t)harness_now_ms()), LINK_OK);
}

static void hello(uint32_t id, microt_Message *reply)
{
    microt_Message m;
    memset(&m, 0, sizeof(m));
    m.id = id;
    m.which_body = microt_Message_hello_tag;
    m.body.hello.protocol_version = microt_ProtocolVersion_PROTOCOL_VERSION_CURRENT;
    send_msg(&m);
    assert_true(wait_msg(id, 0, reply, 5000));
    assert_int_equal(reply->which_body, microt_Message_device_info_tag);
}

static int setup(void **state)
{
    (void)state;
    memset(&qb, 0, sizeof(qb));
    qb.dir = harness_mkdtemp("qemu");
    return qb.dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    stop_qemu();
    harness_rmdir(qb.dir);
    return 0;
}

static void check_identity(const char *board, uint32_t kind)
{
    static const uint8_t uid[12] = {0x4d, 0x54, 0x51, 0x45, 0x4d, 0x55, 0x00, 0x01,
                                    0x02, 0x03, 0x04, 0x05};
    microt_Message r;
    start_qemu(board, "4d5451454d55000102030405");
    hello(7, &r);
    assert_int_equal(r.body.device_info.uid.size, 12);
    assert_memory_equal(r.body.device_info.uid.bytes, uid, 12);
    assert_int_equal(r.body.device_info.board, kind);
    assert_int_equal(r.body.device_info.cpu_hz, 1000000000u);
    assert_int_equal(r.body.device_info.sram_bytes, 4u * 1024u * 1024u);
    assert_int_equal(r.body.device_info.protocol_version,
                     microt_ProtocolVersion_PROTOCOL_VERSION_CURRENT);
    assert_true(strlen(r.body.device_info.firmware_version) > 0);
    assert_true(r.body.device_info.boot_count >= 1);
    stop_qemu();
}

static void test_an386_identity(void **state)
{
    (void)state;
    check_identity("qemu-an386", microt_BoardKind_BOARD_QEMU_AN386);
}

static void test_an500_identity(void **state)
{
    (void)state;
    check_identity("qemu-an500", microt_BoardKind_BOARD_QEMU_AN500);
}

static void test_ping_stats_unknown(void **state)
{
    (void)state;
    microt_Message m, r;
    start_qemu("qemu-an386", "0a0b0c0d0e0f101112131415");
    /* Garbage first: the firmware resynchronises at the next frame delimiter. */
    assert_int_equal(transport_write(qb.tr, (const uint8_t *)"\x13\x37garbage\x01", 10, 1000), 0);
    memset(&m, 0, sizeof(m));
    m.id = 1;
    m.which_body = microt_Message_ping_tag;
    m.body.ping.nonce = 0xC0FFEE;
    send_msg(&m);
    assert_true(wait_msg(1, 0, &r, 5000));
    assert_int_equal(r.which_body, microt_Message_pong_tag);
    assert_int_equal(r.body.pong.nonce, 0xC0FFEE);

    memset(&m, 0, sizeof(m));
    m.id = 2;
    m.which_body = microt_Message_get_stats_tag;
    send_msg(&m);
    assert_true(wait_msg(2, 0, &r, 5000));
    assert_int_equal(r.which_body, microt_Message_stats_tag);
    assert_true(r.body.stats.frames_rx >= 2);

    memset(&m, 0, sizeof(m));
    m.id = 3;
    m.which_body = microt_Message_tradeoff_tag;
    send_msg(&m);
    assert_true(wait_msg(3, 0, &r, 5000));
    assert_int_equal(r.which_body, microt_Message_error_tag);
    assert_int_equal(r.body.error.code, microt_ErrorCode_ERR_UNKNOWN_REQUEST);
    stop_qemu();
}

static void test_reboot_app_then_bootloader(void **state)
{
    (void)state;
    microt_Message m, r, boot;
    start_qemu("qemu-an500", "00112233445566778899aabb");
    hello(1, &r);
    uint32_t first = r.body.device_info.boot_count;
    qb.n_rx = 0;

    memset(&m, 0, sizeof(m));
    m.id = 2;
    m.which_body = microt_Message_reboot_tag;
    m.body.reboot.target = microt_Reboot_Target_APP;
    send_msg(&m);
    assert_true(wait_msg(2, 0, &r, 5000));
    assert_int_equal(r.which_body, microt_Message_ack_tag);
    assert_true(wait_msg(0, microt_Message_boot_tag, &boot, 5000));
    assert_int_equal(boot.body.boot.boot_count, first + 1);

    memset(&m, 0, sizeof(m));
    m.id = 3;
    m.which_body = microt_Message_reboot_tag;
    m.body.reboot.target = microt_Reboot_Target_BOOTLOADER;
    send_msg(&m);
    assert_true(wait_msg(3, 0, &r, 5000));
    assert_int_equal(r.which_body, microt_Message_ack_tag);
    /* No ROM bootloader under QEMU: the port ends QEMU with its documented status. */
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 100 && done == 0; i++) {
        done = waitpid(qb.pid, &status, WNOHANG);
        if (done == 0)
            usleep(50000);
    }
    assert_int_equal(done, qb.pid);
    qb.pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), QEMU_EXIT_BOOTLOADER);
    stop_qemu();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an386_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an500_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_stats_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reboot_app_then_bootloader, setup, teardown),
    };
    return cmocka_run_group_tests_name("qemu_board", tests, NULL, NULL);
}
