/*
 * test_sim_bootrom.c — the simulator's ROM bootloader, byte by byte against AN3155: what it
 * answers, what it NACKs, and what the flash looks like afterwards (sim_bootrom.c, sim_line.c).
 * Independent of the daemon's client: these tests speak raw bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "flash_sim_harness.h"
#include "sim_line.h"

#define ACK 0x79
#define NACK 0x1F

/* Sends tx, then reads exactly n bytes (2 s deadline); returns how many came. */
static size_t xfer(simrig_t *r, const uint8_t *tx, size_t ntx, uint8_t *rx, size_t n)
{
    if (ntx > 0)
        assert_int_equal(write(r->host_fd, tx, ntx), (ssize_t)ntx);
    size_t have = 0;
    while (have < n) {
        struct pollfd p = { .fd = r->host_fd, .events = POLLIN };
        if (poll(&p, 1, 2000) <= 0)
            break;
        ssize_t k = read(r->host_fd, rx + have, n - have);
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    return have;
}

/* True when nothing arrives within ms. */
static bool silent_for(simrig_t *r, int ms)
{
    struct pollfd p = { .fd = r->host_fd, .events = POLLIN };
    return poll(&p, 1, ms) == 0;
}

static uint8_t one(simrig_t *r, const uint8_t *tx, size_t ntx)
{
    uint8_t b = 0;
    assert_int_equal(xfer(r, tx, ntx, &b, 1), 1);
    return b;
}

static void sync_board(simrig_t *r)
{
    uint8_t s = 0x7F;
    assert_int_equal(one(r, &s, 1), ACK);
}

static uint8_t send_addr(simrig_t *r, uint32_t a)
{
    uint8_t b[5] = { a >> 24, a >> 16, a >> 8, a, 0 };
    b[4] = b[0] ^ b[1] ^ b[2] ^ b[3];
    return one(r, b, 5);
}

/* Write Memory of len bytes; returns the final answer (or the first NACK). */
static uint8_t wr(simrig_t *r, uint32_t addr, const uint8_t *data, size_t len, bool bad_cs)
{
    uint8_t c[2] = { 0x31, 0xCE };
    uint8_t a = one(r, c, 2);
    if (a != ACK)
        return a;
    if ((a = send_addr(r, addr)) != ACK)
        return a;
    uint8_t f[258];
    f[0] = (uint8_t)(len - 1);
    uint8_t x = f[0];
    for (size_t i = 0; i < len; i++) {
        f[1 + i] = data[i];
        x ^= data[i];
    }
    f[1 + len] = bad_cs ? (uint8_t)~x : x;
    return one(r, f, len + 2);
}

static uint8_t rd(simrig_t *r, uint32_t addr, uint8_t *out, size_t len)
{
    uint8_t c[2] = { 0x11, 0xEE };
    uint8_t a = one(r, c, 2);
    if (a != ACK)
        return a;
    if ((a = send_addr(r, addr)) != ACK)
        return a;
    uint8_t nb[2] = { (uint8_t)(len - 1), (uint8_t)~(len - 1) };
    if ((a = one(r, nb, 2)) != ACK)
        return a;
    assert_int_equal(xfer(r, NULL, 0, out, len), len);
    return ACK;
}

static uint8_t erase_pages(simrig_t *r, const uint16_t *pages, size_t n, bool bad_cs)
{
    uint8_t c[2] = { 0x44, 0xBB };
    uint8_t a = one(r, c, 2);
    if (a != ACK)
        return a;
    uint8_t f[2 + 2 * 16 + 1];
    size_t k = 0;
    f[k++] = (uint8_t)((n - 1) >> 8);
    f[k++] = (uint8_t)(n - 1);
    for (size_t i = 0; i < n; i++) {
        f[k++] = (uint8_t)(pages[i] >> 8);
        f[k++] = (uint8_t)pages[i];
    }
    uint8_t x = 0;
    for (size_t i = 0; i < k; i++)
        x ^= f[i];
    f[k++] = bad_cs ? (uint8_t)(x ^ 1) : x;
    return one(r, f, k);
}

static uint8_t erase_special(simrig_t *r, uint16_t code)
{
    uint8_t c[2] = { 0x44, 0xBB };
    assert_int_equal(one(r, c, 2), ACK);
    uint8_t f[3] = { code >> 8, code & 0xFF, (code >> 8) ^ (code & 0xFF) };
    return one(r, f, 3);
}

static int setup_l4(void **state)
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

static void test_sync_ignores_noise_then_acks(void **state)
{
    simrig_t *r = *state;
    uint8_t noise[3] = { 0x00, 0x55, 0xFF };
    assert_int_equal(write(r->host_fd, noise, 3), 3);
    assert_true(silent_for(r, 100)); /* before autobaud the bootloader says nothing */
    sync_board(r);
}

static void test_get_version_id(void **state)
{
    simrig_t *r = *state;
    sync_board(r);
    uint8_t get[2] = { 0x00, 0xFF }, rx[16];
    assert_int_equal(xfer(r, get, 2, rx, 11), 11);
    const uint8_t want_get[11] = { ACK, 7, 0x31, 0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x44, ACK };
    assert_memory_equal(rx, want_get, 11);
    uint8_t gv[2] = { 0x01, 0xFE };
    assert_int_equal(xfer(r, gv, 2, rx, 5), 5);
    const uint8_t want_gv[5] = { ACK, 0x31, 0x00, 0x00, ACK };
    assert_memory_equal(rx, want_gv, 5);
    uint8_t gid[2] = { 0x02, 0xFD };
    assert_int_equal(xfer(r, gid, 2, rx, 5), 5);
    assert_int_equal(rx[0], ACK);
    assert_int_equal(rx[1], 1);
    assert_int_equal((rx[2] << 8) | rx[3], r->chip->chip_id);
    assert_int_equal(rx[4], ACK);
}

static void test_bad_complement_and_unknown_nacked(void **state)
{
    simrig_t *r = *state;
    sync_board(r);
    uint8_t bad[2] = { 0x11, 0x11 };
    assert_int_equal(one(r, bad, 2), NACK);
    uint8_t wp[2] = { 0x63, 0x9C }; /* Write Protect: not modeled, so not offered */
    assert_int_equal(one(r, wp, 2), NACK);
    uint8_t sync_again = 0x7F, rep = 0x7F; /* 0x7F 0x7F: not a command pair */
    assert_int_equal(write(r->host_fd, &sync_again, 1), 1);
    assert_int_equal(one(r, &rep, 1), NACK);
    uint8_t gv[2] = { 0x01, 0xFE }, rx[5];
    assert_int_equal(xfer(r, gv, 2, rx, 5), 5); /* still in step */
    assert_int_equal(rx[4], ACK);
}

static void test_write_read_roundtrip_and_nacks(void **state)
{
    simrig_t *r = *state;
    sync_board(r);
    uint8_t data[256], back[256];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)(i * 13 + 5);
    assert_int_equal(wr(r, 0x08000100, data, 256, false), ACK);
    assert_int_equal(rd(r, 0x08000100, back, 256), ACK);
    assert_memory_equal(back, data, 256);
    assert_memory_equal(r->flash.base + 0x100, data, 256);

    uint8_t before[16];
    memcpy(before, r->flash.base + 0x400, 16);
    assert_int_equal(wr(r, 0x08000400, data, 16, true), NACK);      /* bad checksum */
    assert_memory_equal(r->flash.base + 0x400, before, 16);
    assert_int_equal(wr(r, 0x08000402, data, 16, false), NACK);     /* unaligned address */
    assert_int_equal(wr(r, 0x08000400, data, 6, false), NACK);      /* not a multiple of 4 */
    assert_int_equal(wr(r, 0x20000000, data, 16, false), NACK);     /* not flash */
    assert_int_equal(wr(r, 0x08000000 + r->chip->flash_bytes - 8, data, 16, false), NACK);
    uint8_t c[2] = { 0x31, 0xCE }, a[5] = { 0x08, 0, 0x04, 0, 0x00 }; /* bad address XOR */
    assert_int_equal(one(r, c, 2), ACK);
    assert_int_equal(one(r, a, 5), NACK);
    assert_memory_equal(r->flash.base + 0x400, before, 16);

    /* Reads: the very end of flash is fine, past it or a bad length complement is not. */
    assert_int_equal(rd(r, 0x08000000 + r->chip->flash_bytes - 256, back, 256), ACK);
    uint8_t rc[2] = { 0x11, 0xEE }, nb[2] = { 0x0F, 0x0F };
    assert_int_equal(one(r, rc, 2), ACK);
    assert_int_equal(send_addr(r, 0x08000000), ACK);
    assert_int_equal(one(r, nb, 2), NACK);
    assert_int_equal(one(r, rc, 2), ACK);
    assert_int_equal(send_addr(r, 0x08000000 + r->chip->flash_bytes - 16), ACK);
    uint8_t nb2[2] = { 0xFF, 0x00 };
    assert_int_equal(one(r, nb2, 2), NACK);
    assert_int_equal(one(r, rc, 2), ACK);
    assert_int_equal(send_addr(r, 0x1FFF0000), NACK); /* system memory is not modeled */
}

static void test_programming_needs_erased_granules(void **state)
{
    simrig_t *r = *state;
    sync_board(r);
    uint8_t pat[16], zeros[16] = { 0 }, ones_off[16];
    memset(pat, 0xF0, sizeof(pat));
    memset(ones_off, 0x0F, sizeof(ones_off));
    uint32_t a = 0x08010000;
    assert_int_equal(wr(r, a, pat, 16, false), ACK);
    /* Programming a granule again is refused (PROGERR), even to clear more bits... */
    assert_int_equal(wr(r, a, ones_off, 16, false), NACK);
    assert_memory_equal(r->flash.base + 0x10000, pat, 16);
    /* ...except all zeros on the L4 (a double word of zeros may always be written). */
    uint8_t z = wr(r, a, zeros, 16, false);
    if (r->chip->program_bytes == 8) {
        assert_int_equal(z, ACK);
        assert_memory_equal(r->flash.base + 0x10000, zeros, 16);
    } else {
        assert_int_equal(z, NACK);
        assert_memory_equal(r->flash.base + 0x10000, pat, 16);
    }
    /* Writing 0xFF over erased flash changes nothing and leaves it programmable. */
    uint8_t ff[16];
    memset(ff, 0xFF, sizeof(ff));
    assert_int_equal(wr(r, a + 0x100, ff, 16, false), ACK);
    assert_int_equal(wr(r, a + 0x100, pat, 16, false), ACK);
    assert_memory_equal(r->flash.base + 0x10100, pat, 16);
}

static void test_erase_pages_and_special(void **state)
{
    simrig_t *r = *state;
    sync_board(r);
    uint32_t pg = r->chip->page_bytes;
    uint8_t data[256];
    memset(data, 0x12, sizeof(data));
    for (uint32_t p = 0; p < 4; p++)
        assert_int_equal(wr(r, 0x08000000 + p * pg, data, 256, false), ACK);
    assert_int_equal(wr(r, 0x08000000 + r->chip->bank_bytes, data, 256, false), ACK);
    uint16_t two[2] = { 1, 3 };
    assert_int_equal(erase_pages(r, two, 2, false), ACK);
    assert_int_equal(r->flash.base[0], 0x12);
    assert_int_equal(r->flash.base[pg], 0xFF);
    assert_int_equal(r->flash.base[pg + pg - 1], 0xFF);
    assert_int_equal(r->flash.base[2 * pg], 0x12);
    assert_int_equal(r->flash.base[3 * pg], 0xFF);
    uint16_t bad_page[1] = { (uint16_t)(r->chip->flash_bytes / pg) }; /* one past the last */
    assert_int_equal(erase_pages(r, bad_page, 1, false), NACK);
    uint16_t p0[1] = { 0 };
    assert_int_equal(erase_pages(r, p0, 1, true), NACK); /* bad checksum: nothing erased */
    assert_int_equal(r->flash.base[0], 0x12);
    assert_int_equal(erase_special(r, 0xFFFD), ACK);     /* bank 2 only */
    assert_int_equal(r->flash.base[r->chip->bank_bytes], 0xFF);
    assert_int_equal(r->flash.base[0], 0x12);
    uint8_t c[2] = { 0x44, 0xBB }, bad_mass[3] = { 0xFF, 0xFF, 0xFF };
    assert_int_equal(one(r, c, 2), ACK);
    assert_int_equal(one(r, bad_mass, 3), NACK);         /* the 0xFF resync pattern is harmless */
    assert_int_equal(r->flash.base[0], 0x12);
    assert_int_equal(erase_special(r, 0xFFFF), ACK);     /* mass erase */
    for (uint32_t i = 0; i < r->chip->flash_bytes; i += 4096)
        assert_int_equal(r->flash.base[i], 0xFF);
}

static void test_go_returns_and_restarts_unsynced(void **state)
{
    simrig_t *r = *state;
    sync_board(r);
    uint8_t go[2] = { 0x21, 0xDE };
    assert_int_equal(one(r, go, 2), ACK);
    assert_int_equal(send_addr(r, 0x20000000), NACK); /* the simulator runs flash only */
    int before = r->n_go;
    assert_int_equal(one(r, go, 2), ACK);
    assert_int_equal(send_addr(r, 0x08000000), ACK);
    for (int i = 0; i < 100 && r->n_go == before; i++)
        usleep(10000);
    assert_int_equal(r->n_go, before + 1);
    assert_int_equal(r->go_addr, 0x08000000);
    /* The rig falls back into a fresh bootloader, which wants the autobaud byte again. */
    uint8_t gv[2] = { 0x01, 0xFE };
    assert_int_equal(write(r->host_fd, gv, 2), 2);
    assert_true(silent_for(r, 100));
    sync_board(r);
}

static void test_image_bootable(void **state)
{
    simrig_t *r = *state;
    sync_board(r);
    assert_int_equal(erase_special(r, 0xFFFF), ACK);
    assert_false(sim_bootrom_image_bootable(&r->flash, r->chip, 0x08000000)); /* blank part */
    uint32_t sp = r->chip->sram[0].base + r->chip->sram[0].bytes;
    uint8_t vt[8] = { sp, sp >> 8, sp >> 16, sp >> 24, 0x01, 0x02, 0x00, 0x08 };
    assert_int_equal(wr(r, 0x08000000, vt, 8, false), ACK);
    assert_true(sim_bootrom_image_bootable(&r->flash, r->chip, 0x08000000));
    assert_int_equal(erase_special(r, 0xFFFF), ACK);
    vt[4] = 0x00; /* reset vector without the Thumb bit */
    assert_int_equal(wr(r, 0x08000000, vt, 8, false), ACK);
    assert_false(sim_bootrom_image_bootable(&r->flash, r->chip, 0x08000000));
}

/* The line model: a paced write takes at least the wire time of its bytes plus one turn. */
static void test_line_pacing_lower_bound(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sim_line_t line;
    sim_line_init(&line, 9600, 2000);
    assert_int_equal(sim_line_byte_ns(&line), 11u * 1000000000ull / 9600u);
    uint8_t buf[100];
    memset(buf, 0x55, sizeof(buf));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sim_line_write(&line, sv[0], buf, sizeof(buf)), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(dt >= 100 * 11.0 / 9600.0 + 0.002 - 1e-4);
    assert_int_equal(line.turns, 1);
    sim_line_note_rx(&line);
    sim_line_rx_bytes(&line, 3);
    assert_int_equal(line.turns, 2);
    assert_int_equal(line.tx_bytes, 100);
    assert_int_equal(line.rx_bytes, 3);
    uint8_t got[100];
    assert_int_equal(read(sv[1], got, sizeof(got)), 100);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_ignores_noise_then_acks, setup_l4, teardown),
        cmocka_unit_test_setup_teardown(test_get_version_id, setup_l4, teardown),
        cmocka_unit_test_setup_teardown(test_get_version_id, setup_h7, teardown),
        cmocka_unit_test_setup_teardown(test_bad_complement_and_unknown_nacked, setup_l4, teardown),
        cmocka_unit_test_setup_teardown(test_write_read_roundtrip_and_nacks, setup_l4, teardown),
        cmocka_unit_test_setup_teardown(test_write_read_roundtrip_and_nacks, setup_h7, teardown),
        cmocka_unit_test_setup_teardown(test_programming_needs_erased_granules, setup_l4, teardown),
        cmocka_unit_test_setup_teardown(test_programming_needs_erased_granules, setup_h7, teardown),
        cmocka_unit_test_setup_teardown(test_erase_pages_and_special, setup_l4, teardown),
        cmocka_unit_test_setup_teardown(test_erase_pages_and_special, setup_h7, teardown),
        cmocka_unit_test_setup_teardown(test_go_returns_and_restarts_unsynced, setup_l4, teardown),
        cmocka_unit_test_setup_teardown(test_image_bootable, setup_h7, teardown),
        cmocka_unit_test(test_line_pacing_lower_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
