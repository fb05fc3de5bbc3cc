/*
 * mps2_hal.c — hal.h for the Arm MPS2 FPGA images as QEMU 7.2 models them (mps2-an386 with a
 * Cortex-M4, mps2-an500 with a Cortex-M7): the stand-in that lets `make test` run the real ARM
 * firmware.
 *
 *  - Serial: CMSDK APB UART0 at 0x40004000 (Arm DDI 0479C, Cortex-M System Design Kit TRM,
 *    4.3 "APB UART"), which QEMU connects to -serial (a pty in the tests). Receive is interrupt
 *    driven into a ring (QEMU's UART holds one byte and stops reading the pty until it is taken).
 *  - Flash: the 4 MiB ZBT SSRAM1 at 0x00000000 is writable code memory; the slots live there
 *    with flash rules: erase sets 0xFF, a granule is programmed once after its erase (a
 *    non-erased granule takes only all-zero data, as on the STM32L4), see cm_flash.c.
 *  - Time: SysTick from the 25 MHz system clock QEMU models (hw/arm/mps2.c SYSCLK_FRQ). With
 *    `-icount shift=0` QEMU advances virtual time 1 ns per instruction, so one SysTick tick is 40
 *    instructions: hal_cycles() reports instructions (ticks x 40) and cpu_hz is 1e9, consistent
 *    with hal_millis() in virtual time. Without -icount it is virtual nanoseconds.
 *  - UID: `-semihosting-config enable=on,arg=...,arg=uid=<24 hex digits>` gives each instance
 *    its own; otherwise the port's fixed value.
 *  - Watchdog: CMSDK APB watchdog at 0x40008000 (DDI 0479C 4.8), reset on the second time-out.
 *  - Reboot: SYSRESETREQ; QEMU reloads the ELF image and keeps RAM, so the slots and the boot
 *    counter survive. There is no ROM bootloader: a reboot into it ends QEMU with exit code
 *    MPS2_EXIT_BOOTLOADER so a test sees the request.
 */
#include <string.h>

#include "cm.h"
#include "cm_flash.h"
#include "hal.h"
#include "microt_core.h"
#include "mps2_board.h"
#include "mps2_semihost.h"
#include "mps2_port.h"

/* CMSDK APB UART, DDI 0479C table 4-6. */
#define UART0_BASE 0x40004000u
#define UART_DATA CM_REG(UART0_BASE + 0x000u)
#define UART_STATE CM_REG(UART0_BASE + 0x004u)
#define UART_CTRL CM_REG(UART0_BASE + 0x008u)
#define UART_INTSTATUS CM_REG(UART0_BASE + 0x00Cu) /* write 1 to clear */
#define UART_BAUDDIV CM_REG(UART0_BASE + 0x010u)
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_CTRL_TXEN (1u << 0)
#define UART_CTRL_RXEN (1u << 1)
#define UART_CTRL_RXIRQEN (1u << 3)
#define UART_CTRL_RXOVIRQEN (1u << 5)
#define UART_INT_RX (1u << 1)
#define UART_INT_RXOV (1u << 3)
/* MPS2 interrupt map (AN385/AN386/AN500 "Interrupt map"; QEMU hw/arm/mps2.c): UART0 RX = 0,
 * UARTs 0-2 overflow combined = 12. */
#define UART0_RX_IRQ 0u
#define UART_OVF_IRQ 12u

/* CMSDK APB watchdog, DDI 0479C table 4-22. */
#define WDOG_BASE 0x40008000u
#define WDOG_LOAD CM_REG(WDOG_BASE + 0x000u)
#define WDOG_CONTROL CM_REG(WDOG_BASE + 0x008u)
#define WDOG_INTCLR CM_REG(WDOG_BASE + 0x00Cu)
#define WDOG_LOCK CM_REG(WDOG_BASE + 0xC00u)
#define WDOG_UNLOCK_KEY 0x1ACCE551u
#define WDOG_CONTROL_INTEN (1u << 0)
#define WDOG_CONTROL_RESEN (1u << 1)

#define MPS2_SYSCLK_HZ 25000000u
#define MPS2_NS_PER_TICK (1000000000u / MPS2_SYSCLK_HZ)
#define MPS2_WDOG_TIMEOUT_S 10u   /* first time-out; reset after the second */

/* Linker-script symbols (mps2.ld). */
extern uint8_t __slot_a_start[], __slot_a_size[], __slot_b_start[], __slot_b_size[];
extern uint8_t __meta_start[], __meta_size[];

/* Survives SYSRESETREQ (RAM is kept, the ELF reload does not cover .noinit). */
typedef struct {
    uint32_t formatted_magic;     /* flash stand-in already set to erased after QEMU started */
} mps2_noinit_t;
#define MPS2_FORMATTED_MAGIC 0x464D5432u
__attribute__((section(".noinit"))) static mps2_noinit_t mps2_noinit;

static cm_ring_t mps2_rx;
static uint32_t mps2_uart_overruns;
static uint8_t mps2_uid_bytes[HAL_UID_BYTES];
static cm_flash_layout_t mps2_layout;

void port_early(void) {}

const hal_board_t *hal_board(void) { return &mps2_board.board; }

const cm_flash_layout_t *port_flash_layout(void) { return &mps2_layout; }

static int mps2_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Looks for "uid=" followed by 24 hex digits in the semihosting command line. */
static void mps2_uid_init(void)
{
    char cmdline[256];
    memcpy(mps2_uid_bytes, mps2_board.uid_base, HAL_UID_BYTES);
    if (mps2_sh_cmdline(cmdline, sizeof cmdline) < 0) {
        return;
    }
    for (const char *p = cmdline; *p != '\0'; p++) {
        if ((p == cmdline || p[-1] == ' ') && strncmp(p, "uid=", 4) == 0) {
            uint8_t uid[HAL_UID_BYTES];
            const char *hex = p + 4;
            for (unsigned i = 0; i < HAL_UID_BYTES; i++) {
                int hi = mps2_hexval(hex[2 * i]);
                int lo = hi < 0 ? -1 : mps2_hexval(hex[2 * i + 1]);
                if (lo < 0) {
                    return;
                }
                uid[i] = (uint8_t)(hi << 4 | lo);
            }
            memcpy(mps2_uid_bytes, uid, HAL_UID_BYTES);
            return;
        }
    }
}

void hal_uid(uint8_t uid[HAL_UID_BYTES]) { memcpy(uid, mps2_uid_bytes, HAL_UID_BYTES); }

uint64_t hal_cycles(void) { return cm_systick_ticks() * MPS2_NS_PER_TICK; }

void port_irq(uint32_t irq)
{
    if (irq == UART0_RX_IRQ || irq == UART_OVF_IRQ) {
        uint32_t status = UART_INTSTATUS;
        if (status & UART_INT_RXOV) {
            mps2_uart_overruns++;
        }
        UART_INTSTATUS = status & (UART_INT_RX | UART_INT_RXOV);
        while (UART_STATE & UART_STATE_RXFULL) {
            cm_ring_push(&mps2_rx, (uint8_t)UART_DATA);
        }
        return;
    }
    CM_NVIC_ICER(irq / 32u) = 1u << (irq % 32u);
}

/* A real UART's wire always takes the next byte; a pty does not when the host stops reading it,
 * and a firmware spinning on TXFULL then stops taking received bytes too: with a host blocked
 * writing to it, both sides wait for each other. Like the simulator's port, bytes the line cannot
 * take within MPS2_TX_STALL_MS are dropped (counted); the link layer retransmits what mattered. */
#define MPS2_TX_STALL_MS 100u
static uint32_t mps2_tx_dropped;

void hal_uart_write(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (UART_STATE & UART_STATE_TXFULL) {
            uint32_t start = hal_millis();
            while ((UART_STATE & UART_STATE_TXFULL) && hal_millis() - start < MPS2_TX_STALL_MS) {
            }
            if (UART_STATE & UART_STATE_TXFULL) {
                mps2_tx_dropped += (uint32_t)(len - i);
                return;
            }
        }
        UART_DATA = buf[i];
    }
}

size_t hal_uart_read(uint8_t *buf, size_t cap) { return cm_ring_pop(&mps2_rx, buf, cap); }

void hal_wait(uint32_t timeout_ms) { cm_wait(&mps2_rx, timeout_ms); }

hal_status_t port_flash_erase_unit(uintptr_t addr)
{
    memset((void *)addr, 0xFF, mps2_layout.erase_bytes);
    return HAL_OK;
}

hal_status_t port_flash_program_unit(uintptr_t addr, const uint8_t *unit)
{
    volatile uint8_t *dst = (volatile uint8_t *)addr;
    bool erased = true, zeros = true;
    for (uint32_t i = 0; i < mps2_layout.program_bytes; i++) {
        erased = erased && dst[i] == 0xFFu;
        zeros = zeros && unit[i] == 0u;
    }
    if (!erased && !zeros) {
        return HAL_EIO; /* the STM32L4 reports PROGERR here (RM0432 3.3.7) */
    }
    for (uint32_t i = 0; i < mps2_layout.program_bytes; i++) {
        dst[i] = (uint8_t)(dst[i] & unit[i]); /* flash programming only clears bits */
    }
    return HAL_OK;
}

/* The image header (QEMU: no STM32 device ID, any). */
CM_FW_HEADER(0u);

const char *hal_firmware_version(void) { return cm_fw_version(); }

uint32_t mps2_uart_overrun_count(void) { return mps2_uart_overruns + mps2_rx.dropped; }

uint32_t mps2_uart_tx_dropped(void) { return mps2_tx_dropped; }

void hal_reboot(hal_boot_target_t target)
{
    if (target == HAL_BOOT_BOOTLOADER) {
        mps2_sh_write0("microt: reboot into the ROM bootloader requested (none under QEMU)\n");
        mps2_sh_exit(MPS2_EXIT_BOOTLOADER);
    }
    cm_dsb();
    CM_SCB_AIRCR = CM_AIRCR_VECTKEY | CM_AIRCR_SYSRESETREQ;
    cm_dsb();
    for (;;) {
    }
}

/* WDOGLOCK guards every other register, the reload (INTCLR) included (DDI 0479C 4.8.2): a kick
 * unlocks, reloads and locks again, so a stray write cannot stop the watchdog. */
void hal_watchdog_kick(void)
{
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_INTCLR = 1u;
    WDOG_LOCK = 0u;
}

void mps2_watchdog_set_timeout_ms(uint32_t timeout_ms)
{
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_LOAD = (MPS2_SYSCLK_HZ / 1000u) * timeout_ms;
    WDOG_INTCLR = 1u; /* reload with the new value */
    WDOG_LOCK = 0u;
}

bool hal_camera_capture(uint8_t *buf, uint32_t width, uint32_t height) { return false; }

void port_fault(uint32_t cfsr, uint32_t hfsr)
{
    static const char hex[] = "0123456789abcdef";
    char msg[] = "microt: fault cfsr=00000000 hfsr=00000000\n";
    for (unsigned i = 0; i < 8u; i++) {
        msg[19 + i] = hex[(cfsr >> (28u - 4u * i)) & 0xFu];
        msg[33 + i] = hex[(hfsr >> (28u - 4u * i)) & 0xFu];
    }
    mps2_sh_write0(msg);
    mps2_sh_exit(MPS2_EXIT_FAULT);
}

void port_init(void)
{
    mps2_layout.slot[HAL_REGION_MODEL_A].base_addr = (uintptr_t)__slot_a_start;
    mps2_layout.slot[HAL_REGION_MODEL_A].size_bytes = (uint32_t)(uintptr_t)__slot_a_size;
    mps2_layout.slot[HAL_REGION_MODEL_B].base_addr = (uintptr_t)__slot_b_start;
    mps2_layout.slot[HAL_REGION_MODEL_B].size_bytes = (uint32_t)(uintptr_t)__slot_b_size;
    mps2_layout.meta.base_addr = (uintptr_t)__meta_start;
    mps2_layout.meta.size_bytes = (uint32_t)(uintptr_t)__meta_size;
    mps2_layout.erase_bytes = mps2_board.erase_bytes;
    mps2_layout.program_bytes = mps2_board.program_bytes;

    /* QEMU starts with RAM full of zeros; a new chip's flash is erased. Do that once per QEMU
     * run, not at every reset (RAM, and this marker, survive SYSRESETREQ). */
    if (mps2_noinit.formatted_magic != MPS2_FORMATTED_MAGIC) {
        memset(__slot_a_start, 0xFF, (size_t)(uintptr_t)__slot_a_size);
        memset(__slot_b_start, 0xFF, (size_t)(uintptr_t)__slot_b_size);
        memset(__meta_start, 0xFF, (size_t)(uintptr_t)__meta_size);
        mps2_noinit.formatted_magic = MPS2_FORMATTED_MAGIC;
    }

    if (mps2_board.has_caches) {
        cm_caches_enable();
    }

    /* 1 ms SysTick from the 25 MHz clock. */
    cm_systick_start(MPS2_SYSCLK_HZ / 1000u - 1u, 1u);

    UART_BAUDDIV = 16u; /* the minimum the CMSDK UART accepts; QEMU ignores the rate */
    UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXIRQEN | UART_CTRL_RXOVIRQEN;
    cm_nvic_enable(UART0_RX_IRQ);
    cm_nvic_enable(UART_OVF_IRQ);

    mps2_watchdog_set_timeout_ms(MPS2_WDOG_TIMEOUT_S * 1000u);
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_CONTROL = WDOG_CONTROL_INTEN | WDOG_CONTROL_RESEN;
    WDOG_LOCK = 0u;

    mps2_uid_init();
    cm_boot_count_update();
    cm_irq_enable();
}
