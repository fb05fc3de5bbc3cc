/*
 * hal_host.c — hal.h for Linux: the simulator's UART is a pty master, its flash a mapped file
 * (sim_flash.c), its clock CLOCK_MONOTONIC scaled to the modeled part's core clock. The UART is
 * paced like a real line when asked (sim_uart.c); the camera reads image files (sim_camera.c).
 * hal_cycles() here is wall time, not the part's cycles: the board profiles say so
 * (HAL_FEATURE_MODELED_CYCLES) and the core prices its work with the cost model instead.
 *
 * Board facts: STM32H7A3ZI-Q — 280 MHz Cortex-M7, 2 MB flash in 8 KB sectors, 1.4 MB SRAM
 * (DS13195 §3 "Features"); STM32L4R5ZI — 120 MHz Cortex-M4F, 2 MB flash in 4 KB pages (dual
 * bank), 640 KB SRAM (DS12902 §3). Flash programming granules: 128 bits on H7A3 (RM0455 §4),
 * 64 bits on L4R5 (RM0432 §3).
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fw_header.h"
#include "hal.h"
#include "microt.pb.h"
#include "microt_core.h"
#include "sim_camera.h"
#include "sim_port.h"
#include "sim_uart.h"

sim_port_t sim;

static const hal_board_t sim_boards[] = {
    {microt_BoardKind_BOARD_H7A3ZI, "h7a3zi", 280000000u, 1400u * 1024u, 2048u * 1024u,
     HAL_FEATURE_MODELED_CYCLES},
    {microt_BoardKind_BOARD_L4R5ZI, "l4r5zi", 120000000u, 640u * 1024u, 2048u * 1024u,
     HAL_FEATURE_MODELED_CYCLES},
};

#define SIM_META_MAGIC 0x4D54424Fu /* "MTBO": boot counter record */

const hal_board_t *sim_board_by_name(const char *name)
{
    for (unsigned i = 0; i < sizeof(sim_boards) / sizeof(sim_boards[0]); i++)
        if (strcmp(sim_boards[i].name, name) == 0)
            return &sim_boards[i];
    return NULL;
}

static uint64_t sim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sim_port_reset(void)
{
    /* The boot counter lives in the last bytes of flash, like a real board's EEPROM emulation. */
    uint8_t *meta = sim.flash.base + sim.flash.size_bytes - SIM_META_BYTES;
    uint32_t rec[2];
    memcpy(rec, meta, sizeof(rec));
    sim.boot_count = rec[0] == SIM_META_MAGIC ? rec[1] + 1u : 1u;
    rec[0] = SIM_META_MAGIC;
    rec[1] = sim.boot_count;
    memcpy(meta, rec, sizeof(rec));
    sim_flash_sync(&sim.flash);
    sim.boot_time_ns = sim_now_ns();
}

const hal_board_t *hal_board(void)
{
    return &sim.board;
}

void hal_uid(uint8_t uid[HAL_UID_BYTES])
{
    memcpy(uid, sim.uid, HAL_UID_BYTES);
}

uint32_t hal_millis(void)
{
    return (uint32_t)((sim_now_ns() - sim.boot_time_ns) / 1000000ull);
}

uint64_t hal_cycles(void)
{
    uint64_t ns = sim_now_ns() - sim.boot_time_ns;
    return ns / 1000u * (sim.board.cpu_hz / 1000000u) + (ns % 1000u) * (sim.board.cpu_hz / 1000000u) / 1000u;
}

void hal_uart_write(const uint8_t *buf, size_t len)
{
    sim_uart_write(buf, len);
}

size_t hal_uart_read(uint8_t *buf, size_t cap)
{
    return sim_uart_read(buf, cap);
}

void hal_wait(uint32_t timeout_ms)
{
    sim_uart_wait(timeout_ms);
}

static uint32_t sim_region_offset(hal_region_t region)
{
    return SIM_FW_BYTES + (uint32_t)region * SIM_SLOT_BYTES;
}

hal_region_info_t hal_flash_region(hal_region_t region)
{
    hal_region_info_t info = {0, 0, 0};
    if ((unsigned)region >= HAL_REGION_COUNT)
        return info;
    info.size_bytes = SIM_SLOT_BYTES;
    info.erase_bytes = sim.flash.page_bytes;
    info.program_bytes = sim.board.board_kind == microt_BoardKind_BOARD_H7A3ZI ? 16u : 8u;
    return info;
}

const uint8_t *hal_flash_map(hal_region_t region)
{
    if ((unsigned)region >= HAL_REGION_COUNT)
        return NULL;
    return sim.flash.base + sim_region_offset(region);
}

hal_status_t hal_flash_erase(hal_region_t region, uint32_t offset, uint32_t len)
{
    hal_region_info_t info = hal_flash_region(region);
    if (info.size_bytes == 0 || offset % info.erase_bytes != 0 || len % info.erase_bytes != 0 ||
        offset > info.size_bytes || len > info.size_bytes - offset)
        return HAL_EINVAL;
    memset(sim.flash.base + sim_region_offset(region) + offset, 0xFF, len);
    return HAL_OK;
}

hal_status_t hal_flash_program(hal_region_t region, uint32_t offset, const uint8_t *data, uint32_t len)
{
    hal_region_info_t info = hal_flash_region(region);
    uint8_t *dst;
    if (info.size_bytes == 0 || offset % info.program_bytes != 0 || len % info.program_bytes != 0 ||
        offset > info.size_bytes || len > info.size_bytes - offset)
        return HAL_EINVAL;
    /* Programming only clears bits, as on the real part: writing over unerased flash shows up as
     * a verification failure instead of silently succeeding. */
    dst = sim.flash.base + sim_region_offset(region) + offset;
    for (uint32_t i = 0; i < len; i++)
        dst[i] &= data[i];
    return HAL_OK;
}

/* The version stamped in the header of the image at the flash base (what the ROM bootloader
 * wrote there), read once per boot; the build's own version when there is no sound image. */
const char *hal_firmware_version(void)
{
    static fw_header_t hdr;
    static uint32_t parsed_at_boot;
    static bool have;
    if (parsed_at_boot != sim.boot_count || parsed_at_boot == 0) {
        uint32_t len = sim.flash.size_bytes < SIM_FW_BYTES ? sim.flash.size_bytes : SIM_FW_BYTES;
        have = sim.flash.base != NULL && fw_header_parse(sim.flash.base, len, &hdr);
        parsed_at_boot = sim.boot_count;
    }
    return have ? hdr.version : MICROT_FW_VERSION;
}

uint32_t hal_boot_count(void)
{
    return sim.boot_count;
}

void hal_reboot(hal_boot_target_t target)
{
    sim_flash_sync(&sim.flash);
    sim.reboot_target = target;
    longjmp(sim.reset_jmp, 1);
}

void hal_watchdog_kick(void)
{
}

bool hal_camera_capture(uint8_t *buf, uint32_t width, uint32_t height)
{
    return sim_camera_next(buf, width, height);
}
