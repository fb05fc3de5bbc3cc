/*
 * port.c — hal.h for the NUCLEO-L4R5ZI (STM32L4R5ZIT6, Cortex-M4F).
 *
 * Sources, cited beside each register: RM0432 rev 9 (STM32L4+ reference manual), DS12023
 * (STM32L4R5xx datasheet), UM2179 (STM32L4+ Nucleo-144 boards, MB1312), AN2606 (system memory
 * boot mode).
 *
 * Clock: HSI16 / M 2 = 8 MHz -> x N 30 = 240 MHz VCO -> / R 2 = 120 MHz SYSCLK = HCLK = PCLK1 =
 * PCLK2, the part's maximum, which needs voltage range 1 in boost mode (RM0432 5.1.8 "Dynamic
 * voltage scaling management") and 5 flash wait states (RM0432 table 12, "Number of wait states
 * according to CPU clock (HCLK) frequency", range 1 boost, up to 120 MHz).
 *
 * Serial: LPUART1 on PG7 (TX) / PG8 (RX), AF8, wired to the ST-LINK V2-1 virtual COM port
 * (UM2179 6.9 "USART communication": "LPUART1 PG7/PG8"); PG[15:2] are powered from VDDIO2, which
 * must be declared valid first (PWR_CR2.IOSV, RM0432 5.1.3 "Independent I/O supply rail").
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

#define L4_SYSCLK_HZ 120000000u

/* RCC, RM0432 6.4 "RCC registers" (base 0x40021000). */
#define RCC_BASE 0x40021000u
#define RCC_CR CM_REG(RCC_BASE + 0x00u)             /* HSION 8, HSIRDY 10, PLLON 24, PLLRDY 25 */
#define RCC_CFGR CM_REG(RCC_BASE + 0x08u)           /* SW [1:0], SWS [3:2], HPRE [7:4] */
#define RCC_PLLCFGR CM_REG(RCC_BASE + 0x0Cu)        /* PLLSRC [1:0], PLLM [7:4], PLLN [14:8], PLLREN 24, PLLR [26:25] */
#define RCC_AHB2ENR CM_REG(RCC_BASE + 0x4Cu)        /* GPIOGEN bit 6 */
#define RCC_APB1ENR1 CM_REG(RCC_BASE + 0x58u)       /* PWREN bit 28 */
#define RCC_APB1ENR2 CM_REG(RCC_BASE + 0x5Cu)       /* LPUART1EN bit 0 */
#define RCC_APB2ENR CM_REG(RCC_BASE + 0x60u)        /* SYSCFGEN bit 0 */
#define RCC_CCIPR CM_REG(RCC_BASE + 0x88u)          /* LPUART1SEL [11:10], 0 = PCLK1 */
#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_HPRE_DIV2 (8u << 4)

/* PWR, RM0432 5.4 "PWR registers" (base 0x40007000). */
#define PWR_BASE 0x40007000u
#define PWR_CR1 CM_REG(PWR_BASE + 0x00u)            /* VOS [10:9]: 01 = range 1 */
#define PWR_CR2 CM_REG(PWR_BASE + 0x04u)            /* IOSV bit 9 */
#define PWR_SR2 CM_REG(PWR_BASE + 0x14u)            /* VOSF bit 10 */
#define PWR_CR5 CM_REG(PWR_BASE + 0x80u)            /* R1MODE bit 8: 0 = range 1 boost */
#define PWR_SR2_VOSF (1u << 10)

/* Flash interface, RM0432 3.7 "FLASH registers" (base 0x40022000). */
#define FLASH_BASE 0x40022000u
#define FLASH_ACR CM_REG(FLASH_BASE + 0x00u)        /* LATENCY [3:0], PRFTEN 8, ICEN 9, DCEN 10, ICRST 11, DCRST 12 */
#define FLASH_KEYR CM_REG(FLASH_BASE + 0x08u)
#define FLASH_SR CM_REG(FLASH_BASE + 0x10u)
#define FLASH_CR CM_REG(FLASH_BASE + 0x14u)
#define FLASH_OPTR CM_REG(FLASH_BASE + 0x20u)       /* DBANK bit 22 */
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_ACR_ICRST (1u << 11)
#define FLASH_ACR_DCRST (1u << 12)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_PER (1u << 1)
#define FLASH_CR_PNB_SHIFT 3u                        /* PNB [10:3] */
#define FLASH_CR_PNB_MASK (0xFFu << 3)
#define FLASH_CR_BKER (1u << 11)
#define FLASH_CR_STRT (1u << 16)
#define FLASH_CR_LOCK (1u << 31)
#define FLASH_SR_EOP (1u << 0)
/* OPERR 1, PROGERR 3, WRPERR 4, PGAERR 5, SIZERR 6, PGSERR 7, MISERR 8, FASTERR 9, RDERR 14 */
#define FLASH_SR_ERRORS ((1u << 1) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | \
                         (1u << 8) | (1u << 9) | (1u << 14))
#define FLASH_SR_BSY (1u << 16)
#define FLASH_OPTR_DBANK (1u << 22)
#define FLASH_BASE_ADDR 0x08000000u
#define FLASH_BANK_BYTES 0x100000u
#define FLASH_PAGE_BYTES 4096u                       /* dual-bank mode, RM0432 3.3.1 */
#define FLASH_DWORD_BYTES 8u                         /* 64-bit double word, RM0432 3.3.7 */
#define FLASH_LATENCY_120MHZ 5u

/* GPIO, RM0432 8.5 (GPIOA 0x48000000, ports 0x400 apart: GPIOG 0x48001800). */
#define GPIOG_BASE 0x48001800u
#define GPIO_MODER(p) CM_REG((p) + 0x00u)
#define GPIO_OSPEEDR(p) CM_REG((p) + 0x08u)
#define GPIO_PUPDR(p) CM_REG((p) + 0x0Cu)
#define GPIO_AFRL(p) CM_REG((p) + 0x20u)
#define GPIO_AFRH(p) CM_REG((p) + 0x24u)

/* LPUART1, RM0432 51.7 "LPUART registers" (base 0x40008000). */
#define LPUART1_BASE 0x40008000u
#define LPUART_CR1 CM_REG(LPUART1_BASE + 0x00u)
#define LPUART_CR3 CM_REG(LPUART1_BASE + 0x08u)
#define LPUART_BRR CM_REG(LPUART1_BASE + 0x0Cu)
#define LPUART_ISR CM_REG(LPUART1_BASE + 0x1Cu)
#define LPUART_ICR CM_REG(LPUART1_BASE + 0x20u)
#define LPUART_RDR CM_REG(LPUART1_BASE + 0x24u)
#define LPUART_TDR CM_REG(LPUART1_BASE + 0x28u)
#define LPUART_CR1_UE (1u << 0)
#define LPUART_CR1_RE (1u << 2)
#define LPUART_CR1_TE (1u << 3)
#define LPUART_CR1_RXNEIE (1u << 5)
#define LPUART_CR3_EIE (1u << 0)
#define LPUART_ISR_ERRORS 0x0Fu                       /* PE, FE, NE, ORE */
#define LPUART_ISR_RXNE (1u << 5)
#define LPUART_ISR_TXE (1u << 7)
#define LPUART1_IRQ 70u                               /* RM0432 table 58 "STM32L4+ vector table" */

/* IWDG, RM0432 37.7 (base 0x40003000): LSI 32 kHz / 256 = 125 Hz. */
#define IWDG_BASE 0x40003000u
#define IWDG_TIMEOUT_TICKS 2500u                      /* 20 s */

/* SYSCFG_MEMRMP, RM0432 9.2.1 (base 0x40010000): MEM_MODE [2:0], 001 = system flash at 0. */
#define SYSCFG_MEMRMP CM_REG(0x40010000u)

/* 96-bit unique ID: RM0432 59.1 "Unique device ID register (96 bits)", base 0x1FFF7590. */
#define L4_UID_ADDR 0x1FFF7590u
/* System memory (ROM bootloader), AN2606 "STM32L4Rxxx/4Sxxx devices bootloader": 0x1FFF0000. */
#define L4_SYSMEM_ADDR 0x1FFF0000u

#define L4_BOOT_MAGIC 0xB0071045u

typedef struct {
    uint32_t boot_request;
} l4_noinit_t;
__attribute__((section(".noinit"))) static volatile l4_noinit_t l4_noinit;

extern uint8_t __slot_a_start[], __slot_a_size[], __slot_b_start[], __slot_b_size[];
extern uint8_t __meta_start[], __meta_size[];

static cm_ring_t l4_rx;
static cm_flash_layout_t l4_layout;
static bool l4_dual_bank;

static const hal_board_t l4_board = {
    .board_kind = microt_BoardKind_BOARD_L4R5ZI,
    .name = "l4r5zi",
    .cpu_hz = L4_SYSCLK_HZ,
    .sram_bytes = 640u * 1024u, /* DS12023 3.5 "Embedded SRAM" */
    .flash_bytes = 2u * 1024u * 1024u,
};

const hal_board_t *hal_board(void) { return &l4_board; }
const cm_flash_layout_t *port_flash_layout(void) { return &l4_layout; }

/* Before .data/.bss and the clocks: the ROM bootloader expects a part fresh out of reset. */
void port_early(void)
{
    if (l4_noinit.boot_request != L4_BOOT_MAGIC) {
        return;
    }
    l4_noinit.boot_request = 0u;
    RCC_APB2ENR |= 1u; /* SYSCFG clock */
    (void)RCC_APB2ENR;
    SYSCFG_MEMRMP = (SYSCFG_MEMRMP & ~7u) | 1u;
    cm_dsb();
    cm_isb();
    const volatile uint32_t *table = (const volatile uint32_t *)L4_SYSMEM_ADDR;
    CM_SCB_VTOR = L4_SYSMEM_ADDR;
    __asm__ volatile("msr msp, %0\n bx %1" ::"r"(table[0]), "r"(table[1]) : "memory");
}

static void l4_clock_init(void)
{
    RCC_APB1ENR1 |= 1u << 28; /* PWR */
    (void)RCC_APB1ENR1;
    /* Range 1 (the reset value, set again in case a bootloader left range 2), then boost. */
    PWR_CR1 = (PWR_CR1 & ~(3u << 9)) | (1u << 9);
    while (PWR_SR2 & PWR_SR2_VOSF) {
    }
    /* RM0432 5.1.8: entering boost above 80 MHz, run HCLK / 2 during the switch, then / 1 after
     * 1 us. */
    RCC_CFGR = (RCC_CFGR & ~(0xFu << 4)) | RCC_CFGR_HPRE_DIV2;
    PWR_CR5 &= ~(1u << 8);

    FLASH_ACR = FLASH_LATENCY_120MHZ | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    while ((FLASH_ACR & 0xFu) != FLASH_LATENCY_120MHZ) {
    }

    RCC_CR |= RCC_CR_HSION;
    while ((RCC_CR & RCC_CR_HSIRDY) == 0u) {
    }
    /* PLLSRC = HSI16 (2), M = 2 (field 1), N = 30, R = 2 (field 0), R output on. */
    RCC_PLLCFGR = 2u | (1u << 4) | (30u << 8) | (1u << 24);
    RCC_CR |= RCC_CR_PLLON;
    while ((RCC_CR & RCC_CR_PLLRDY) == 0u) {
    }
    RCC_CFGR = (RCC_CFGR & ~3u) | 3u;
    while (((RCC_CFGR >> 2) & 3u) != 3u) {
    }
    /* >= 1 us at 60 MHz HCLK before HCLK / 1. */
    for (volatile uint32_t i = 0; i < 100u; i++) {
    }
    RCC_CFGR &= ~(0xFu << 4);
}

static void l4_uart_init(void)
{
    PWR_CR2 |= 1u << 9;       /* VDDIO2 valid: PG2..PG15 usable */
    RCC_AHB2ENR |= 1u << 6;   /* GPIOG */
    RCC_APB1ENR2 |= 1u << 0;  /* LPUART1 */
    RCC_CCIPR &= ~(3u << 10); /* LPUART1 kernel clock = PCLK1 */
    (void)RCC_APB1ENR2;
    /* PG7 TX, PG8 RX: alternate function 8, very high speed, pull-up on RX. */
    GPIO_MODER(GPIOG_BASE) = (GPIO_MODER(GPIOG_BASE) & ~(0xFu << 14)) | (0xAu << 14);
    GPIO_OSPEEDR(GPIOG_BASE) |= 0xFu << 14;
    GPIO_PUPDR(GPIOG_BASE) = (GPIO_PUPDR(GPIOG_BASE) & ~(3u << 16)) | (1u << 16);
    GPIO_AFRL(GPIOG_BASE) = (GPIO_AFRL(GPIOG_BASE) & ~(0xFu << 28)) | (8u << 28);
    GPIO_AFRH(GPIOG_BASE) = (GPIO_AFRH(GPIOG_BASE) & ~0xFu) | 8u;

    LPUART_CR1 = 0u;
    /* LPUART: BRR = 256 x fck / baud, 0x300 <= BRR < 2^20 (RM0432 51.4.x "LPUART baud rate
     * generation"). */
    LPUART_BRR = (uint32_t)(((uint64_t)L4_SYSCLK_HZ * 256u + PORT_UART_BAUD / 2u) / PORT_UART_BAUD);
    LPUART_CR3 = LPUART_CR3_EIE;
    LPUART_CR1 = LPUART_CR1_RXNEIE | LPUART_CR1_TE | LPUART_CR1_RE | LPUART_CR1_UE;
    cm_nvic_enable(LPUART1_IRQ);
}

void port_irq(uint32_t irq)
{
    if (irq != LPUART1_IRQ) {
        CM_NVIC_ICER(irq / 32u) = 1u << (irq % 32u);
        return;
    }
    uint32_t isr = LPUART_ISR;
    if (isr & LPUART_ISR_ERRORS) {
        LPUART_ICR = isr & LPUART_ISR_ERRORS;
        l4_rx.dropped++;
    }
    if (isr & LPUART_ISR_RXNE) {
        cm_ring_push(&l4_rx, (uint8_t)LPUART_RDR);
    }
}

void hal_uart_write(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while ((LPUART_ISR & LPUART_ISR_TXE) == 0u) {
        }
        LPUART_TDR = buf[i];
    }
}

size_t hal_uart_read(uint8_t *buf, size_t cap) { return cm_ring_pop(&l4_rx, buf, cap); }
void hal_wait(uint32_t timeout_ms) { cm_wait(&l4_rx, timeout_ms); }

void hal_uid(uint8_t uid[HAL_UID_BYTES]) { stm32_uid_read(L4_UID_ADDR, uid); }

uint64_t hal_cycles(void) { return cm_dwt_cycles(); }

static hal_status_t l4_flash_begin(void)
{
    if (!l4_dual_bank) {
        return HAL_EIO; /* single-bank mode (DBANK = 0) has 8 KiB pages: not this layout */
    }
    while (FLASH_SR & FLASH_SR_BSY) {
    }
    if (FLASH_CR & FLASH_CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP; /* write 1 to clear */
    return HAL_OK;
}

static hal_status_t l4_flash_end(uint32_t cr_bits)
{
    while (FLASH_SR & FLASH_SR_BSY) {
    }
    uint32_t sr = FLASH_SR;
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP;
    FLASH_CR &= ~cr_bits;
    FLASH_CR |= FLASH_CR_LOCK;
    /* The flash data cache may hold the old contents (RM0432 3.3.x "Data management"): reset it. */
    FLASH_ACR &= ~FLASH_ACR_DCEN;
    FLASH_ACR |= FLASH_ACR_DCRST;
    FLASH_ACR &= ~FLASH_ACR_DCRST;
    FLASH_ACR |= FLASH_ACR_DCEN;
    return (sr & FLASH_SR_ERRORS) ? HAL_EIO : HAL_OK;
}

/* Page erase, RM0432 3.3.6 "Flash main memory erase sequences". */
hal_status_t port_flash_erase_unit(uintptr_t addr)
{
    hal_status_t st = l4_flash_begin();
    if (st != HAL_OK) {
        return st;
    }
    uint32_t offset = (uint32_t)(addr - FLASH_BASE_ADDR);
    uint32_t bank = offset / FLASH_BANK_BYTES;
    uint32_t page = (offset % FLASH_BANK_BYTES) / FLASH_PAGE_BYTES;
    FLASH_CR = (FLASH_CR & ~(FLASH_CR_PNB_MASK | FLASH_CR_BKER | FLASH_CR_PG)) | FLASH_CR_PER |
               (page << FLASH_CR_PNB_SHIFT) | (bank ? FLASH_CR_BKER : 0u);
    FLASH_CR |= FLASH_CR_STRT;
    return l4_flash_end(FLASH_CR_PER | FLASH_CR_PNB_MASK | FLASH_CR_BKER);
}

/* One double word, RM0432 3.3.7 "Flash main memory programming sequences": with PG set, two
 * 32-bit writes, the first at the aligned address. */
hal_status_t port_flash_program_unit(uintptr_t addr, const uint8_t *unit)
{
    hal_status_t st = l4_flash_begin();
    if (st != HAL_OK) {
        return st;
    }
    uint32_t words[2];
    memcpy(words, unit, sizeof words);
    FLASH_CR |= FLASH_CR_PG;
    volatile uint32_t *dst = (volatile uint32_t *)addr;
    dst[0] = words[0];
    cm_dsb();
    dst[1] = words[1];
    cm_dsb();
    return l4_flash_end(FLASH_CR_PG);
}

/* The image header (STM32L4R5/S5 device ID, RM0432 "DBGMCU_IDCODE" DEV_ID). */
CM_FW_HEADER(0x470u);

const char *hal_firmware_version(void) { return cm_fw_version(); }

void hal_reboot(hal_boot_target_t target)
{
    l4_noinit.boot_request = target == HAL_BOOT_BOOTLOADER ? L4_BOOT_MAGIC : 0u;
    cm_dsb();
    CM_SCB_AIRCR = CM_AIRCR_VECTKEY | CM_AIRCR_SYSRESETREQ;
    cm_dsb();
    for (;;) {
    }
}

void hal_watchdog_kick(void) { stm32_iwdg_kick(IWDG_BASE); }

bool hal_camera_capture(uint8_t *buf, uint32_t width, uint32_t height) { return false; }

void port_init(void)
{
    l4_layout.slot[HAL_REGION_MODEL_A].base_addr = (uintptr_t)__slot_a_start;
    l4_layout.slot[HAL_REGION_MODEL_A].size_bytes = (uint32_t)(uintptr_t)__slot_a_size;
    l4_layout.slot[HAL_REGION_MODEL_B].base_addr = (uintptr_t)__slot_b_start;
    l4_layout.slot[HAL_REGION_MODEL_B].size_bytes = (uint32_t)(uintptr_t)__slot_b_size;
    l4_layout.meta.base_addr = (uintptr_t)__meta_start;
    l4_layout.meta.size_bytes = (uint32_t)(uintptr_t)__meta_size;
    l4_layout.erase_bytes = FLASH_PAGE_BYTES;
    l4_layout.program_bytes = FLASH_DWORD_BYTES;
    l4_dual_bank = (FLASH_OPTR & FLASH_OPTR_DBANK) != 0u;

    stm32_iwdg_start(IWDG_BASE, 6u /* /256 */, IWDG_TIMEOUT_TICKS);
    l4_clock_init();
    cm_dwt_start();
    cm_systick_start(L4_SYSCLK_HZ / 1000u - 1u, 1u);
    l4_uart_init();
    cm_boot_count_update();
    cm_irq_enable();
}
