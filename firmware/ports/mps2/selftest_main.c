/*
 * selftest_main.c — a firmware image that checks the QEMU port itself against hal.h, then serves
 * a tiny line protocol on the UART so tests/test_qemu.py can check the serial path, the reset
 * path and the instruction counter from outside. Built as build/firmware/<qemu board>/selftest.elf.
 *
 * On the UART it first prints
 *   "selftest board=<name> uid=<24 hex> boot=<n> fails=<k>\n"
 * then answers single-byte commands:
 *   'e' <bytes> '\n'  echoes the line back
 *   'c'               runs a loop of exactly 2,000,000 instructions and prints "cycles=<n>\n"
 *   'r'               reboots (the banner comes again with boot + 1)
 *   'b'               reboots into the bootloader (QEMU exits with MPS2_EXIT_BOOTLOADER)
 *   'l'               exercises the boot counter log beyond one sector (wrap-around erase)
 *                     and past a corrupted record; prints "log ok <count>\n" or "log FAIL\n"
 *   'k'               sets a 20 ms watchdog time-out and keeps refreshing it through 100 ms of
 *                     busy work: prints "kick ok\n" (a refresh that did not reach the watchdog
 *                     would reset the part instead), then restores the time-out
 *   'w'               stops refreshing the watchdog (50 ms time-out) and spins: the watchdog
 *                     must reset the part (the banner comes again with boot + 1)
 *   'x'               exits QEMU with the number of failed checks as status
 * Failed checks are printed through semihosting as they happen.
 */
#include <string.h>

#include "cm.h"
#include "cm_flash.h"
#include "hal.h"
#include "mps2_port.h"
#include "mps2_semihost.h"

static uint32_t st_fails;

static void st_check(bool ok, const char *what)
{
    if (!ok) {
        st_fails++;
        mps2_sh_write0("selftest FAIL: ");
        mps2_sh_write0(what);
        mps2_sh_write0("\n");
    }
}

static void st_puts(const char *s) { hal_uart_write((const uint8_t *)s, strlen(s)); }

static void st_putu64(uint64_t v)
{
    char buf[24];
    unsigned n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u && n < sizeof buf);
    while (n > 0u) {
        hal_uart_write((const uint8_t *)&buf[--n], 1);
    }
}

static bool st_all(const uint8_t *p, uint32_t len, uint8_t value)
{
    for (uint32_t i = 0; i < len; i++) {
        if (p[i] != value) {
            return false;
        }
    }
    return true;
}

static void st_flash(void)
{
    hal_region_info_t info = hal_flash_region(HAL_REGION_MODEL_A);
    const uint8_t *slot = hal_flash_map(HAL_REGION_MODEL_A);
    uint32_t unit = info.erase_bytes, gran = info.program_bytes;
    st_check(info.size_bytes >= 4u * unit && unit != 0u && gran != 0u, "region info");
    st_check(hal_flash_map(HAL_REGION_COUNT) == NULL, "map rejects a bad region");

    /* Erase the last two units of slot A, program a pattern, read it back. */
    uint32_t off = info.size_bytes - 2u * unit;
    st_check(hal_flash_erase(HAL_REGION_MODEL_A, off, 2u * unit) == HAL_OK, "erase");
    st_check(st_all(slot + off, 2u * unit, 0xFF), "erased reads 0xFF");
    uint8_t pattern[100];
    for (unsigned i = 0; i < sizeof pattern; i++) {
        pattern[i] = (uint8_t)(i * 7u + 1u);
    }
    st_check(hal_flash_program(HAL_REGION_MODEL_A, off, pattern, sizeof pattern) == HAL_OK,
             "program");
    st_check(memcmp(slot + off, pattern, sizeof pattern) == 0, "program reads back");
    /* The short tail granule is padded with the erased value. */
    uint32_t padded = (sizeof pattern + gran - 1u) / gran * gran;
    st_check(st_all(slot + off + sizeof pattern, padded - sizeof pattern, 0xFF), "tail padding");
    st_check(hal_flash_program(HAL_REGION_MODEL_A, off, pattern, gran) == HAL_EIO,
             "programming a programmed granule fails");
    uint8_t zeros[16] = {0};
    st_check(hal_flash_program(HAL_REGION_MODEL_A, off, zeros, gran) == HAL_OK,
             "all-zero over programmed granule is allowed");
    st_check(st_all(slot + off, gran, 0x00), "zeroed granule reads 0");
    st_check(hal_flash_program(HAL_REGION_MODEL_A, off + 1u, pattern, gran) == HAL_EINVAL,
             "misaligned program");
    st_check(hal_flash_erase(HAL_REGION_MODEL_A, off + 1u, unit) == HAL_EINVAL,
             "misaligned erase");
    st_check(hal_flash_erase(HAL_REGION_MODEL_A, off, 3u * unit) == HAL_EINVAL,
             "erase past the end");
    st_check(hal_flash_program(HAL_REGION_MODEL_B, info.size_bytes, pattern, gran) ==
                 HAL_EINVAL, "program past the end");
    st_check(hal_flash_erase(HAL_REGION_COUNT, 0, unit) == HAL_EINVAL, "bad region");
    st_check(hal_flash_erase(HAL_REGION_MODEL_A, off, 2u * unit) == HAL_OK, "erase again");
    st_check(st_all(slot + off, 2u * unit, 0xFF), "erase restores 0xFF");
}

/* The boot counter log (cm_flash.c) is one sector of {count, ~count} records: more updates than
 * it has records must wrap (erase, start again) without losing the count, and a record that is
 * not one (a torn write) must restart the log from the last good count. */
static bool st_boot_log(void)
{
    const cm_flash_layout_t *layout = port_flash_layout();
    uint32_t records = layout->meta.size_bytes / layout->program_bytes;
    uint32_t start = hal_boot_count();
    for (uint32_t i = 1; i <= records + 10u; i++) {
        cm_boot_count_update();
        if (hal_boot_count() != start + i) {
            return false;
        }
    }
    /* Corrupt the next free record: its second word is not the complement of the first. */
    uint32_t count = hal_boot_count();
    uint32_t free_index = (count - start) % records; /* records used since the last wrap */
    uint8_t junk[16];
    memset(junk, 0x5A, sizeof junk);
    for (uint32_t i = 0; i < records; i++) {
        const volatile uint32_t *rec =
            (const volatile uint32_t *)(layout->meta.base_addr + i * layout->program_bytes);
        if (rec[0] == 0xFFFFFFFFu && rec[1] == 0xFFFFFFFFu) {
            free_index = i;
            break;
        }
    }
    if (port_flash_program_unit(layout->meta.base_addr + free_index * layout->program_bytes,
                                junk) != HAL_OK) {
        return false;
    }
    cm_boot_count_update();
    if (hal_boot_count() != count + 1u) {
        return false;
    }
    cm_boot_count_update();
    return hal_boot_count() == count + 2u;
}

/* Exactly 2 instructions per iteration plus a fixed few: the counter must see ~2 per turn. */
static uint64_t st_counted_loop(void)
{
    uint64_t t0 = hal_cycles();
    uint32_t n = 1000000u;
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n)::"cc");
    return hal_cycles() - t0;
}

int main(void)
{
    port_init();
    const hal_board_t *board = hal_board();
    st_check(board != NULL && board->name != NULL && board->cpu_hz != 0u, "board");
    uint8_t uid[HAL_UID_BYTES];
    hal_uid(uid);
    st_check(!st_all(uid, sizeof uid, 0x00), "uid not zero");
    st_check(hal_boot_count() >= 1u, "boot count");
    st_check(hal_firmware_version() != NULL && hal_firmware_version()[0] != '\0', "version");
    st_flash();
    uint64_t c0 = hal_cycles();
    uint32_t m0 = hal_millis();
    hal_wait(5);
    st_check(hal_millis() - m0 >= 5u, "hal_wait waits");
    st_check(hal_cycles() > c0, "cycles advance");
    st_check(!hal_camera_capture(uid, 1, 1), "no camera");

    static const char hex[] = "0123456789abcdef";
    st_puts("selftest board=");
    st_puts(board->name);
    st_puts(" uid=");
    for (unsigned i = 0; i < HAL_UID_BYTES; i++) {
        char h[2] = {hex[uid[i] >> 4], hex[uid[i] & 15u]};
        hal_uart_write((const uint8_t *)h, 2);
    }
    st_puts(" boot=");
    st_putu64(hal_boot_count());
    st_puts(" fails=");
    st_putu64(st_fails);
    st_puts("\n");

    bool echoing = false;
    for (;;) {
        hal_watchdog_kick();
        uint8_t buf[64];
        size_t n = hal_uart_read(buf, sizeof buf);
        if (n == 0u) {
            hal_wait(100);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t ch = buf[i];
            if (echoing) {
                hal_uart_write(&ch, 1);
                echoing = ch != '\n';
                continue;
            }
            switch (ch) {
            case 'e': echoing = true; break;
            case 'c':
                st_puts("cycles=");
                st_putu64(st_counted_loop());
                st_puts("\n");
                break;
            case 'r': hal_reboot(HAL_BOOT_APP); break;
            case 'b': hal_reboot(HAL_BOOT_BOOTLOADER); break;
            case 'l':
                if (st_boot_log()) {
                    st_puts("log ok ");
                    st_putu64(hal_boot_count());
                    st_puts("\n");
                } else {
                    st_puts("log FAIL\n");
                }
                break;
            case 'k': {
                mps2_watchdog_set_timeout_ms(20u);
                uint32_t start = hal_millis();
                while (hal_millis() - start < 100u) {
                    hal_watchdog_kick();
                    (void)st_counted_loop(); /* 2 M instructions = 2 ms of virtual time */
                }
                mps2_watchdog_set_timeout_ms(10000u);
                st_puts("kick ok\n");
                break;
            }
            case 'w':
                mps2_watchdog_set_timeout_ms(50u);
                for (;;) {
                }
            case 'x': mps2_sh_exit(st_fails); break;
            default: break;
            }
        }
    }
}
