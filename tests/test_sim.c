/*
 * test_sim.c — the simulated board (firmware core + host port) over a real pty: identity in the
 * Hello reply, ping, stats, an unknown request answered with an error, reboot with a Boot event,
 * and a boot counter that survives a restart because the flash is a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "link.h"
#include "microt.pb.h"
#include "mt_err.h"
#include "pb_decode.h"
#include "pb_encode.h"
#include "transport.h"

typedef struct {
    char *dir;
    char pty[300];
    char flash[300];
    pid_t pid;
    transport_t *tr;
    link_t link;
    microt_Message rx[8];
    unsigned n_rx;
} board_t;

static board_t board;

static void on_write(void *ctx, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    assert_int_equal(transport_write(board.tr, bytes, len, 1000), 0);
}

static void on_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    (void)ctx;
    pb_istream_t is = pb_istream_from_buffer(payload, len);
    if (board.n_rx < 8 && pb_decode(&is, microt_Message_fields, &board.rx[board.n_rx]))
        board.n_rx++;
}

static long long now_ms(void)
{
    return harness_now_ms();
}

static void start_sim(const char *board_name)
{
    char sim[300];
    snprintf(sim, sizeof(sim), "%s/microt-sim", harness_build_dir());
    char *argv[] = {sim, "--pty", board.pty, "--board", (char *)board_name, "--uid",
                    "0102030405060708090a0b0c", "--flash", board.flash, NULL};
    char log[320];
    snprintf(log, sizeof(log), "%s/sim.log", board.dir);
    board.pid = harness_spawn(argv, log);
    assert_true(board.pid > 0);
    for (int i = 0; i < 100 && access(board.pty, F_OK) != 0; i++)
        usleep(20000);
    assert_int_equal(transport_open(board.pty, 115200, &board.tr), 0);
    link_config_t cfg = {.window = 4, .max_payload = LINK_MAX_PAYLOAD, .rto_ms = 100,
                         .max_retries = 20, .session_id = (uint32_t)now_ms() | 1u};
    assert_int_equal(link_init(&board.link, &cfg, on_write, on_deliver, NULL), LINK_OK);
    board.n_rx = 0;
}

static void stop_sim(void)
{
    transport_close(board.tr);
    board.tr = NULL;
    harness_stop(board.pid, SIGTERM);
}

/* Pumps the link until a message with `id` (or, for id 0, the given body tag) arrives. */
static bool wait_msg(uint32_t id, pb_size_t tag, microt_Message *out, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    while (now_ms() < end) {
        uint8_t buf[512];
        ssize_t n = transport_read(board.tr, buf, sizeof(buf), 20);
        if (n > 0)
            link_input(&board.link, buf, (size_t)n, (uint32_t)now_ms());
        link_poll(&board.link, (uint32_t)now_ms());
        for (unsigned i = 0; i < board.n_rx; i++) {
            if (board.rx[i].id == id && (id != 0 || board.rx[i].which_body == tag)) {
                *out = board.rx[i];
                memmove(&board.rx[i], &board.rx[i + 1], (board.n_rx - i - 1) * sizeof(board.rx[0]));
                board.n_rx--;
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
    assert_int_equal(link_send(&board.link, buf, os.bytes_written, (uint32_t)now_ms()), LINK_OK);
}

static int setup(void **state)
{
    (void)state;
    memset(&board, 0, sizeof(board));
    board.dir = harness_mkdtemp("sim");
    snprintf(board.pty, sizeof(board.pty), "%s/board", board.dir);
    snprintf(board.flash, sizeof(board.flash), "%s/flash.bin", board.dir);
    return board.dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_rmdir(board.dir);
    return 0;
}

static void test_hello_reports_identity(void **state)
{
    (void)state;
    microt_Message m, r;
    start_sim("l4r5zi");
    memset(&m, 0, sizeof(m));
    m.id = 7;
    m.which_body = microt_Message_hello_tag;
    m.body.hello.protocol_version = microt_ProtocolVersion_PROTOCOL_VERSION_CURRENT;
    send_msg(&m);
    assert_true(wait_msg(7, 0, &r, 3000));
    assert_int_equal(r.which_body, microt_Message_device_info_tag);
    assert_int_equal(r.body.device_info.uid.size, 12);
    assert_memory_equal(r.body.device_info.uid.bytes, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12);
    assert_int_equal(r.body.device_info.board, microt_BoardKind_BOARD_L4R5ZI);
    assert_int_equal(r.body.device_info.cpu_hz, 120000000);
    assert_int_equal(r.body.device_info.sram_bytes, 640 * 1024);
    assert_int_equal(r.body.device_info.protocol_version, microt_ProtocolVersion_PROTOCOL_VERSION_CURRENT);
    assert_true(r.body.device_info.max_frame_bytes >= microt_Message_size);
    assert_true(strlen(r.body.device_info.firmware_version) > 0);
    stop_sim();
}

static void test_ping_stats_and_unknown_request(void **state)
{
    (void)state;
    microt_Message m, r;
    start_sim("h7a3zi");
    /* Garbage before the first frame: the board must resynchronise at the next delimiter. */
    assert_int_equal(transport_write(board.tr, (const uint8_t *)"\x13\x37garbage\x01", 10, 1000), 0);
    memset(&m, 0, sizeof(m));
    m.id = 1;
    m.which_body = microt_Message_ping_tag;
    m.body.ping.nonce = 0xBEEF;
    send_msg(&m);
    assert_true(wait_msg(1, 0, &r, 3000));
    assert_int_equal(r.which_body, microt_Message_pong_tag);
    assert_int_equal(r.body.pong.nonce, 0xBEEF);

    memset(&m, 0, sizeof(m));
    m.id = 2;
    m.which_body = microt_Message_get_stats_tag;
    send_msg(&m);
    assert_true(wait_msg(2, 0, &r, 3000));
    assert_int_equal(r.which_body, microt_Message_stats_tag);
    assert_true(r.body.stats.frames_rx >= 2);

    /* A reply-type message sent as a request is not something a board serves. */
    memset(&m, 0, sizeof(m));
    m.id = 3;
    m.which_body = microt_Message_tradeoff_tag;
    send_msg(&m);
    assert_true(wait_msg(3, 0, &r, 3000));
    assert_int_equal(r.which_body, microt_Message_error_tag);
    assert_int_equal(r.body.error.code, microt_ErrorCode_ERR_UNKNOWN_REQUEST);
    stop_sim();
}

static void test_reboot_and_persistent_boot_count(void **state)
{
    (void)state;
    microt_Message m, r, boot;
    uint32_t first;
    start_sim("h7a3zi");
    memset(&m, 0, sizeof(m));
    m.id = 1;
    m.which_body = microt_Message_hello_tag;
    send_msg(&m);
    assert_true(wait_msg(1, 0, &r, 3000));
    first = r.body.device_info.boot_count;
    assert_true(first >= 1);
    board.n_rx = 0; /* forget the Boot event of the start itself */

    memset(&m, 0, sizeof(m));
    m.id = 2;
    m.which_body = microt_Message_reboot_tag;
    m.body.reboot.target = microt_Reboot_Target_APP;
    send_msg(&m);
    assert_true(wait_msg(2, 0, &r, 3000));
    assert_int_equal(r.which_body, microt_Message_ack_tag);
    assert_true(wait_msg(0, microt_Message_boot_tag, &boot, 3000));
    assert_int_equal(boot.body.boot.boot_count, first + 1);
    stop_sim();

    /* A new process with the same flash file continues the count. */
    start_sim("h7a3zi");
    memset(&m, 0, sizeof(m));
    m.id = 5;
    m.which_body = microt_Message_hello_tag;
    send_msg(&m);
    assert_true(wait_msg(5, 0, &r, 3000));
    assert_int_equal(r.body.device_info.boot_count, first + 2);
    stop_sim();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello_reports_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_stats_and_unknown_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reboot_and_persistent_boot_count, setup, teardown),
    };
    return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
