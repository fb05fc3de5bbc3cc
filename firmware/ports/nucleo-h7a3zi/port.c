/*
 * port.c — hal.h for the NUCLEO-H7A3ZI-Q (STM32H7A3ZIT6Q, Cortex-M7).
 *
 * Sources, cited beside each register: RM0455 rev 9 (STM32H7A3/7B3/7B0 reference manual),
 * DS13195 (STM32H7A3xI/G datasheet), UM2408 (STM32H7 Nucleo-144 boards with SMPS, MB1363),
 * AN2606 (system memory boot mode) and ST's knowledge article "How to jump to system bootloader from application
 * code on STM32 microcontrollers" (bootloader entry addresses).
 *
 * Clock: HSI 64 MHz / M 4 = 16 MHz -> x N 35 = 560 MHz VCO -> / P 2 = 280 MHz sys_ck = CPU =
 * AXI/AHB; APB1..4 = 140 MHz (the part's maxima, DS13195 table "General operating conditions";
 * 280 MHz needs VOS0). HSI keeps the port independent of the ST-LINK MCO solder bridges.
 * Supply: the -Q board is wired for direct SMPS (UM2408 table 10, default configuration; ST's
 * article "How to unbrick an STM32H7 after setting the wrong power mode": a mismatch locks the
 * part until it is erased from the ROM bootloader); define PORT_H7_SUPPLY_LDO for a board
 * reworked to the LDO.
 *
 * Serial: USART3 on PD8 (TX) / PD9 (RX), AF7, wired to the ST-LINK V3E virtual COM port
 * (UM2408 "USART communication"; ST's BSP COM1 = USART3 PD8/PD9 AF7), PORT_UART_BAUD 8N1,
 * receive by interrupt (FIFO enabled, RM0455 52.5.x) into a ring.
 */
#include <string.h>

#include "cm.h"
#include "cm_flash.h"
#include "hal.h"
#include "microt.pb.h"
#include "microt_core.h"
#include "stm32_common.h"

#ifndef PORT_UART_BAUD
#define PORT_UART_BAUD 921600u
#endif

#define H7_SYSCLK_HZ 280000000u
#define H7_PCLK1_HZ 140000000u

/* RCC, RM0455 7.7 "RCC registers" (base 0x58024400, 2.3.2). The enable registers sit at 0x134+
 * on this part (RM0455 7.7.x register map), not at the RM0433 (H743) offsets. */
#define RCC_BASE 0x58024400u
#define RCC_CR CM_REG(RCC_BASE + 0x000u)
#define RCC_CR_PLL1ON (1u << 24)
#define RCC_CR_PLL1RDY (1u << 25)
#define RCC_CFGR CM_REG(RCC_BASE + 0x010u)          /* SW [2:0], SWS [5:3]; 3 = PLL1 */
#define RCC_CDCFGR1 CM_REG(RCC_BASE + 0x018u)       /* HPRE [3:0], CDPPRE [6:4], CDCPRE [11:8] */
#define RCC_CDCFGR2 CM_REG(RCC_BASE + 0x01Cu)       /* CDPPRE1 [6:4], CDPPRE2 [10:8] */
#define RCC_SRDCFGR CM_REG(RCC_BASE + 0x020u)       /* SRDPPRE [6:4] */
#define RCC_PLLCKSELR CM_REG(RCC_BASE + 0x028u)     /* PLLSRC [1:0] (0 = HSI), DIVM1 [9:4] */
#define RCC_PLLCFGR CM_REG(RCC_BASE + 0x02Cu)       /* PLL1VCOSEL 1, PLL1RGE [3:2], DIVP1EN 16 */
#define RCC_PLL1DIVR CM_REG(RCC_BASE + 0x030u)      /* N-1 [8:0], P-1 [15:9], Q-1 [22:16], R-1 [30:24] */
#define RCC_AHB4ENR CM_REG(RCC_BASE + 0x140u)       /* GPIODEN bit 3 */
#define RCC_APB1LENR CM_REG(RCC_BASE + 0x148u)      /* USART3EN bit 18 */
#define RCC_APB_DIV2 4u                             /* 0b100 = /2 (RM0455 7.7.x) */

/* PWR, RM0455 6.8 (base 0x58024800). */
#define PWR_BASE 0x58024800u
#define PWR_CSR1 CM_REG(PWR_BASE + 0x004u)          /* ACTVOSRDY bit 13 */
#define PWR_CR3 CM_REG(PWR_BASE + 0x00Cu)           /* BYPASS 0, LDOEN 1, SMPSEN 2, SMPSEXTHP 3, SMPSLEVEL [5:4] */
#define PWR_SRDCR CM_REG(PWR_BASE + 0x018u)         /* VOSRDY 13, VOS [15:14] (3 = VOS0) */
#define PWR_CSR1_ACTVOSRDY (1u << 13)
#define PWR_SRDCR_VOSRDY (1u << 13)

/* Embedded flash, RM0455 4.9 "FLASH registers" (base 0x52002000); bank 2 registers at +0x100. */
#define FLASH_BASE 0x52002000u
#define FLASH_ACR CM_REG(FLASH_BASE + 0x000u)       /* LATENCY [3:0], WRHIGHFREQ [5:4] */
#define FLASH_KEYR(b) CM_REG(FLASH_BASE + 0x004u + 0x100u * (b))
#define FLASH_CR(b) CM_REG(FLASH_BASE + 0x00Cu + 0x100u * (b))
#define FLASH_SR(b) CM_REG(FLASH_BASE + 0x010u + 0x100u * (b))
#define FLASH_CCR(b) CM_REG(FLASH_BASE + 0x014u + 0x100u * (b))
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_CR_LOCK (1u << 0)
#define FLASH_CR_PG (1u << 1)
#define FLASH_CR_SER (1u << 2)
#define FLASH_CR_START (1u << 5)
#define FLASH_CR_SSN_SHIFT 6u                        /* SSN [12:6] */
#define FLASH_CR_SSN_MASK (0x7Fu << 6)
#define FLASH_SR_BSY (1u << 0)
#define FLASH_SR_WBNE (1u << 1)
#define FLASH_SR_QW (1u << 2)
/* WRPERR 17, PGSERR 18, STRBERR 19, INCERR 21, RDPERR 23, RDSERR 24, SNECCERR 25, DBECCERR 26 */
#define FLASH_SR_ERRORS ((1u << 17) | (1u << 18) | (1u << 19) | (1u << 21) | (1u << 23) | \
                         (1u << 24) | (1u << 25) | (1u << 26))
#define FLASH_SR_EOP (1u << 16)
#define FLASH_BANK2_ADDR 0x08100000u
#define FLASH_BASE_ADDR 0x08000000u
#define FLASH_SECTOR_BYTES 8192u                     /* RM0455 4.3.4 */
#define FLASH_WORD_BYTES 16u                         /* 128-bit flash word, RM0455 4.3.9 */
/* RM0455 table 16 "FLASH recommended number of wait states and programming delay": VOS0,
 * 252 < rcc_aclk <= 280 MHz: 6 wait states, WRHIGHFREQ 3. */
#define FLASH_LATENCY_280MHZ 6u
#define FLASH_WRHIGHFREQ_280MHZ 3u

/* GPIO, RM0455 11.4 (GPIOA 0x58020000, ports 0x400 apart: GPIOD 0x58020C00). */
#define GPIOD_BASE 0x58020C00u
#define GPIO_MODER(p) CM_REG((p) + 0x00u)
#define GPIO_OSPEEDR(p) CM_REG((p) + 0x08u)
#define GPIO_PUPDR(p) CM_REG((p) + 0x0Cu)
#define GPIO_AFRH(p) CM_REG((p) + 0x24u)

/* USART3, RM0455 52.7 "USART registers" (base 0x40004800). */
#define USART3_BASE 0x40004800u
#define USART_CR1 CM_REG(USART3_BASE + 0x00u)
#define USART_CR3 CM_REG(USART3_BASE + 0x08u)
#define USART_BRR CM_REG(USART3_BASE + 0x0Cu)
#define USART_ISR CM_REG(USART3_BASE + 0x1Cu)
#define USART_ICR CM_REG(USART3_BASE + 0x20u)
#define USART_RDR CM_REG(USART3_BASE + 0x24u)
#define USART_TDR CM_REG(USART3_BASE + 0x28u)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXFNEIE (1u << 5)
#define USART_CR1_FIFOEN (1u << 29)
#define USART_CR3_EIE (1u << 0)
#define USART_ISR_ERRORS 0x0Fu                       /* PE, FE, NE, ORE: cleared through ICR */
#define USART_ISR_RXFNE (1u << 5)
#define USART_ISR_TXFNF (1u << 7)
#define USART3_IRQ 39u                               /* RM0455 table 137 "NVIC" position 39 */

/* IWDG1, RM0455 47.7 (base 0x58004800): LSI 32 kHz / 256 = 125 Hz. */
#define IWDG_BASE 0x58004800u
#define IWDG_TIMEOUT_TICKS 2500u                     /* 20 s at 125 Hz */

/* 96-bit unique ID: RM0455 61.1 "Unique device ID register (96 bits)", base 0x08FFF800 on this
 * part (not 0x1FF1E800 as on the H743). */
#define H7_UID_ADDR 0x08FFF800u

/* System-memory bootloader entry: the knowledge article above lists 0x1FF0A800 for STM32H7A3
 * and 0x1FF0A000 for STM32H7B3; the port accepts the first whose vector table looks valid
 * (initial SP in RAM, reset vector inside system memory 0x1FF00000-0x1FF1FFFF, AN2606 "STM32H7A3
 * devices bootloader"). */
static const uint32_t h7_bootloader_tables[] = {0x1FF0A800u, 0x1FF0A000u};

#define H7_BOOT_MAGIC 0xB007104Du

typedef struct {
    uint32_t boot_request;
} h7_noinit_t;
__attribute__((section(".noinit"))) static volatile h7_noinit_t h7_noinit;

extern uint8_t __slot_a_start[], __slot_a_size[], __slot_b_start[], __slot_b_size[];
extern uint8_t __meta_start[], __meta_size[];

static cm_ring_t h7_rx;
static cm_flash_layout_t h7_layout;

static const hal_board_t h7_board = {
    .board_kind = microt_BoardKind_BOARD_H7A3ZI,
    .name = "h7a3zi",
    .cpu_hz = H7_SYSCLK_HZ,
    /* DS13195 3.3.2 "Embedded SRAM": AXI SRAM 1 MiB, AHB SRAM1+2 128 KiB, SRD SRAM 32 KiB, DTCM
     * 128 KiB, ITCM 64 KiB, backup SRAM 4 KiB (the datasheet's "1.4 Mbytes"). */
    .sram_bytes = (1024u + 128u + 32u + 128u + 64u + 4u) * 1024u,
    .flash_bytes = 2u * 1024u * 1024u,
};

const hal_board_t *hal_board(void) { return &h7_board; }
const cm_flash_layout_t *port_flash_layout(void) { return &h7_layout; }

static bool h7_vector_table_ok(const volatile uint32_t *table)
{
    uint32_t sp = table[0], pc = table[1];
    bool sp_in_ram = (sp >= 0x20000000u && sp <= 0x20020000u) ||
                     (sp >= 0x24000000u && sp <= 0x24100000u);
    bool pc_in_rom = (pc & 1u) && pc >= 0x1FF00000u && pc < 0x1FF20000u;
    return sp_in_ram && pc_in_rom;
}

/* Runs before .data/.bss exist and with the reset clocks: the ROM bootloader expects a part as
 * it comes out of reset, which is why the request travels through a reset (hal_reboot). */
void port_early(void)
{
    if (h7_noinit.boot_request != H7_BOOT_MAGIC) {
        return;
    }
    h7_noinit.boot_request = 0u;
    for (unsigned i = 0; i < sizeof h7_bootloader_tables / sizeof h7_bootloader_tables[0]; i++) {
        const volatile uint32_t *table = (const volatile uint32_t *)h7_bootloader_tables[i];
        if (h7_vector_table_ok(table)) {
            CM_SCB_VTOR = h7_bootloader_tables[i];
            __asm__ volatile("msr msp, %0\n bx %1" ::"r"(table[0]), "r"(table[1]) : "memory");
        }
    }
}

static void h7_clock_init(void)
{
    /* Supply, then VOS0 (RM0455 6.6.2 "Voltage scaling": raise the voltage before the clock). */
#ifdef PORT_H7_SUPPLY_LDO
    PWR_CR3 = (PWR_CR3 & ~0x3Fu) | (1u << 1);
#else
    PWR_CR3 = (PWR_CR3 & ~0x3Fu) | (1u << 2);
#endif
    while ((PWR_CSR1 & PWR_CSR1_ACTVOSRDY) == 0u) {
    }
    PWR_SRDCR = (PWR_SRDCR & ~(3u << 14)) | (3u << 14);
    while ((PWR_SRDCR & PWR_SRDCR_VOSRDY) == 0u) {
    }

    /* Wait states before the frequency rises (RM0455 4.3.8). */
    uint32_t acr = FLASH_LATENCY_280MHZ | (FLASH_WRHIGHFREQ_280MHZ << 4);
    FLASH_ACR = acr;
    while ((FLASH_ACR & 0x3Fu) != acr) {
    }

    /* PLL1 from HSI (RM0455 7.5.5 "PLL description"). */
    RCC_PLLCKSELR = (RCC_PLLCKSELR & ~(0x3Fu << 4 | 3u)) | (4u << 4); /* HSI, M = 4 */
    RCC_PLLCFGR = (RCC_PLLCFGR & ~(0xFu | (1u << 16))) | (3u << 2) | (1u << 16); /* 8-16 MHz, wide VCO, P on */
    RCC_PLL1DIVR = (35u - 1u) | ((2u - 1u) << 9) | ((2u - 1u) << 16) | ((2u - 1u) << 24);
    RCC_CR |= RCC_CR_PLL1ON;
    while ((RCC_CR & RCC_CR_PLL1RDY) == 0u) {
    }

    /* Bus prescalers before the switch: CPU /1, AHB /1, APB1-4 /2 (140 MHz max). */
    RCC_CDCFGR1 = RCC_APB_DIV2 << 4;
    RCC_CDCFGR2 = (RCC_APB_DIV2 << 4) | (RCC_APB_DIV2 << 8);
    RCC_SRDCFGR = RCC_APB_DIV2 << 4;
    RCC_CFGR = (RCC_CFGR & ~7u) | 3u;
    while (((RCC_CFGR >> 3) & 7u) != 3u) {
    }
}

static void h7_uart_init(void)
{
    RCC_AHB4ENR |= 1u << 3;   /* GPIOD */
    RCC_APB1LENR |= 1u << 18; /* USART3 */
    (void)RCC_APB1LENR;       /* read back: the clock is on before the first access */
    /* PD8, PD9: alternate function 7, very high speed, pull-up on RX (idle high). */
    GPIO_MODER(GPIOD_BASE) = (GPIO_MODER(GPIOD_BASE) & ~(0xFu << 16)) | (0xAu << 16);
    GPIO_OSPEEDR(GPIOD_BASE) |= 0xFu << 16;
    GPIO_PUPDR(GPIOD_BASE) = (GPIO_PUPDR(GPIOD_BASE) & ~(0xFu << 16)) | (0x4u << 16);
    GPIO_AFRH(GPIOD_BASE) = (GPIO_AFRH(GPIOD_BASE) & ~0xFFu) | 0x77u;

    USART_CR1 = 0u;
    /* Oversampling by 16: BRR = kernel clock / baud (RM0455 52.5.7). Kernel clock = pclk1
     * (RCC_CDCCIP2R.USART234578SEL reset value). */
    USART_BRR = (H7_PCLK1_HZ + PORT_UART_BAUD / 2u) / PORT_UART_BAUD;
    USART_CR3 = USART_CR3_EIE;
    /* FIFOEN may only change while UE = 0 (RM0455 52.7.1): configure, then enable. */
    USART_CR1 = USART_CR1_FIFOEN | USART_CR1_RXFNEIE | USART_CR1_TE | USART_CR1_RE;
    USART_CR1 |= USART_CR1_UE;
    cm_nvic_enable(USART3_IRQ);
}

void port_irq(uint32_t irq)
{
    if (irq != USART3_IRQ) {
        CM_NVIC_ICER(irq / 32u) = 1u << (irq % 32u);
        return;
    }
    uint32_t isr = USART_ISR;
    if (isr & USART_ISR_ERRORS) {
        USART_ICR = isr & USART_ISR_ERRORS;
        h7_rx.dropped++;
    }
    while (USART_ISR & USART_ISR_RXFNE) {
        cm_ring_push(&h7_rx, (uint8_t)USART_RDR);
    }
}

void hal_uart_write(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while ((USART_ISR & USART_ISR_TXFNF) == 0u) {
        }
        USART_TDR = buf[i];
    }
}

size_t hal_uart_read(uint8_t *buf, size_t cap) { return cm_ring_pop(&h7_rx, buf, cap); }
void hal_wait(uint32_t timeout_ms) { cm_wait(&h7_rx, timeout_ms); }

void hal_uid(uint8_t uid[HAL_UID_BYTES]) { stm32_uid_read(H7_UID_ADDR, uid); }

uint64_t hal_cycles(void) { return cm_dwt_cycles(); }

static uint32_t h7_bank(uintptr_t addr) { return addr >= FLASH_BANK2_ADDR ? 1u : 0u; }

static hal_status_t h7_flash_finish(uint32_t bank)
{
    while (FLASH_SR(bank) & (FLASH_SR_QW | FLASH_SR_BSY | FLASH_SR_WBNE)) {
    }
    uint32_t sr = FLASH_SR(bank);
    FLASH_CCR(bank) = FLASH_SR_ERRORS | FLASH_SR_EOP;
    return (sr & FLASH_SR_ERRORS) ? HAL_EIO : HAL_OK;
}

static void h7_flash_unlock(uint32_t bank)
{
    if (FLASH_CR(bank) & FLASH_CR_LOCK) {
        FLASH_KEYR(bank) = FLASH_KEY1;
        FLASH_KEYR(bank) = FLASH_KEY2;
    }
    FLASH_CCR(bank) = FLASH_SR_ERRORS | FLASH_SR_EOP;
}

/* Sector erase, RM0455 4.3.11 "FLASH erase operations". */
hal_status_t port_flash_erase_unit(uintptr_t addr)
{
    uint32_t bank = h7_bank(addr);
    uint32_t sector = (uint32_t)(addr - (bank ? FLASH_BANK2_ADDR : FLASH_BASE_ADDR)) /
                      FLASH_SECTOR_BYTES;
    h7_flash_unlock(bank);
    FLASH_CR(bank) = (FLASH_CR(bank) & ~(FLASH_CR_SSN_MASK | FLASH_CR_PG)) | FLASH_CR_SER |
                     (sector << FLASH_CR_SSN_SHIFT);
    FLASH_CR(bank) |= FLASH_CR_START;
    hal_status_t st = h7_flash_finish(bank);
    FLASH_CR(bank) &= ~(FLASH_CR_SER | FLASH_CR_SSN_MASK);
    FLASH_CR(bank) |= FLASH_CR_LOCK;
    return st;
}

/* One 128-bit flash word, RM0455 4.3.9 "FLASH program operations": with PG set, four 32-bit
 * writes fill the write buffer and start the programming. */
hal_status_t port_flash_program_unit(uintptr_t addr, const uint8_t *unit)
{
    uint32_t bank = h7_bank(addr);
    uint32_t words[FLASH_WORD_BYTES / 4u];
    memcpy(words, unit, sizeof words);
    h7_flash_unlock(bank);
    FLASH_CR(bank) |= FLASH_CR_PG;
    cm_dsb();
    volatile uint32_t *dst = (volatile uint32_t *)addr;
    for (unsigned i = 0; i < FLASH_WORD_BYTES / 4u; i++) {
        dst[i] = words[i];
    }
    cm_dsb();
    hal_status_t st = h7_flash_finish(bank);
    FLASH_CR(bank) &= ~FLASH_CR_PG;
    FLASH_CR(bank) |= FLASH_CR_LOCK;
    return st;
}

/* The image header (STM32H7A3/B3 device ID, RM0455 "DBGMCU_IDCODE" DEV_ID). */
CM_FW_HEADER(0x480u);

const char *hal_firmware_version(void) { return cm_fw_version(); }

void hal_reboot(hal_boot_target_t target)
{
    h7_noinit.boot_request = target == HAL_BOOT_BOOTLOADER ? H7_BOOT_MAGIC : 0u;
    /* The AXI SRAM is write-back cacheable: the request must reach RAM before the reset. */
    cm_dcache_clean((uintptr_t)&h7_noinit, sizeof h7_noinit);
    CM_SCB_AIRCR = CM_AIRCR_VECTKEY | CM_AIRCR_SYSRESETREQ;
    cm_dsb();
    for (;;) {
    }
}

void hal_watchdog_kick(void) { stm32_iwdg_kick(IWDG_BASE); }

bool hal_camera_capture(uint8_t *buf, uint32_t width, uint32_t height) { return false; }

void port_init(void)
{
    h7_layout.slot[HAL_REGION_MODEL_A].base_addr = (uintptr_t)__slot_a_start;
    h7_layout.slot[HAL_REGION_MODEL_A].size_bytes = (uint32_t)(uintptr_t)__slot_a_size;
    h7_layout.slot[HAL_REGION_MODEL_B].base_addr = (uintptr_t)__slot_b_start;
    h7_layout.slot[HAL_REGION_MODEL_B].size_bytes = (uint32_t)(uintptr_t)__slot_b_size;
    h7_layout.meta.base_addr = (uintptr_t)__meta_start;
    h7_layout.meta.size_bytes = (uint32_t)(uintptr_t)__meta_size;
    h7_layout.erase_bytes = FLASH_SECTOR_BYTES;
    h7_layout.program_bytes = FLASH_WORD_BYTES;

    stm32_iwdg_start(IWDG_BASE, 6u /* /256 */, IWDG_TIMEOUT_TICKS);
    h7_clock_init();
    cm_caches_enable();
    cm_dwt_start();
    cm_systick_start(H7_SYSCLK_HZ / 1000u - 1u, 1u);
    h7_uart_init();
    cm_boot_count_update();
    cm_irq_enable();
}
