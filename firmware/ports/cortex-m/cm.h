/*
 * cm.h — the Cortex-M core peripherals every port of this firmware touches (SCB, SysTick, NVIC,
 * FPU access, DWT, M7 caches), as addresses and bit positions written from the ARMv7-M
 * Architecture Reference Manual (ARM DDI 0403E.e, "ARMv7-M ARM" below), plus the small shared
 * services built on them: the millisecond tick, the 64-bit cycle count, the UART receive ring.
 *
 * Ports are in firmware/ports/<board>/; everything here is the same on all four Cortex-M boards.
 */
#ifndef MICROT_CM_H
#define MICROT_CM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_header.h"
#include "microt_core.h"

#define CM_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System control block, ARMv7-M ARM B3.2.2 table B3-4. */
#define CM_SCB_ICSR CM_REG(0xE000ED04u)
#define CM_ICSR_PENDSTSET (1u << 26)            /* B3.2.4: SysTick exception pending */
#define CM_SCB_VTOR CM_REG(0xE000ED08u)         /* B3.2.5 */
#define CM_SCB_AIRCR CM_REG(0xE000ED0Cu)        /* B3.2.6 */
#define CM_AIRCR_VECTKEY (0x05FAu << 16)
#define CM_AIRCR_SYSRESETREQ (1u << 2)
#define CM_SCB_SCR CM_REG(0xE000ED10u)          /* B3.2.7 */
#define CM_SCB_CCR CM_REG(0xE000ED14u)          /* B3.2.8 */
#define CM_CCR_DC (1u << 16)                    /* data cache enable (ARMv7-M with caches) */
#define CM_CCR_IC (1u << 17)                    /* instruction cache enable */
#define CM_SCB_SHCSR CM_REG(0xE000ED24u)        /* B3.2.13 */
#define CM_SHCSR_FAULTS ((1u << 16) | (1u << 17) | (1u << 18)) /* MEM, BUS, USG fault enables */
#define CM_SCB_CFSR CM_REG(0xE000ED28u)         /* B3.2.15 */
#define CM_SCB_HFSR CM_REG(0xE000ED2Cu)         /* B3.2.16 */
#define CM_SCB_CCSIDR CM_REG(0xE000ED80u)       /* B3.2.2: cache size ID (selected by CSSELR) */
#define CM_SCB_CSSELR CM_REG(0xE000ED84u)
#define CM_SCB_CPACR CM_REG(0xE000ED88u)        /* B3.2.20: CP10/CP11 = bits [23:20] */
#define CM_CPACR_FPU_FULL (0xFu << 20)
#define CM_DEMCR CM_REG(0xE000EDFCu)            /* C1.6.5 debug exception and monitor control */
#define CM_DEMCR_TRCENA (1u << 24)

/* Cache maintenance, ARMv7-M ARM B2.2.7 table B2-1 (Cortex-M7 only). */
#define CM_ICIALLU CM_REG(0xE000EF50u)
#define CM_DCIMVAC CM_REG(0xE000EF5Cu)          /* invalidate data cache line by address */
#define CM_DCISW CM_REG(0xE000EF60u)            /* invalidate data cache line by set/way */
#define CM_DCCMVAC CM_REG(0xE000EF68u)          /* clean data cache line by address */
#define CM_DCCIMVAC CM_REG(0xE000EF70u)         /* clean and invalidate by address */
#define CM_CACHE_LINE_BYTES 32u                 /* Cortex-M7 TRM (DDI 0489) 5.1 */

/* SysTick, ARMv7-M ARM B3.3.2 table B3-7. */
#define CM_SYST_CSR CM_REG(0xE000E010u)
#define CM_SYST_CSR_ENABLE (1u << 0)
#define CM_SYST_CSR_TICKINT (1u << 1)
#define CM_SYST_CSR_CLKSOURCE (1u << 2)         /* 1 = processor clock */
#define CM_SYST_RVR CM_REG(0xE000E014u)
#define CM_SYST_CVR CM_REG(0xE000E018u)

/* NVIC, ARMv7-M ARM B3.4.3 table B3-8. */
#define CM_NVIC_ISER(n) CM_REG(0xE000E100u + 4u * (n))
#define CM_NVIC_ICER(n) CM_REG(0xE000E180u + 4u * (n))
#define CM_NVIC_ICPR(n) CM_REG(0xE000E280u + 4u * (n))

/* DWT cycle counter, ARMv7-M ARM C1.8.7 table C1-21; the lock access register is CoreSight
 * (Cortex-M7 TRM 3.3.x: the DWT is locked after reset on some parts). */
#define CM_DWT_CTRL CM_REG(0xE0001000u)
#define CM_DWT_CTRL_CYCCNTENA (1u << 0)
#define CM_DWT_CYCCNT CM_REG(0xE0001004u)
#define CM_DWT_LAR CM_REG(0xE0001FB0u)
#define CM_DWT_LAR_KEY 0xC5ACCE55u

static inline void cm_dsb(void) { __asm__ volatile("dsb 0xF" ::: "memory"); }
static inline void cm_isb(void) { __asm__ volatile("isb 0xF" ::: "memory"); }
static inline void cm_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void cm_irq_enable(void) { __asm__ volatile("cpsie i" ::: "memory"); }
static inline uint32_t cm_irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}
static inline void cm_irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

static inline void cm_nvic_enable(uint32_t irq)
{
    CM_NVIC_ICPR(irq / 32u) = 1u << (irq % 32u);
    CM_NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

/* ---- shared services (cm_common.c) ---- */

/* Grants the FPU (CP10/CP11) full access; called from the reset handler before any float code. */
void cm_fpu_enable(void);

/* Enables the Cortex-M7 instruction and data caches (invalidating them first). */
void cm_caches_enable(void);

/* Invalidates the data cache over [addr, addr + len) after flash contents changed under it
 * (no-op on cores without a data cache: CCR.DC reads 0). */
void cm_dcache_invalidate(uintptr_t addr, size_t len);

/* Writes back dirty data cache lines over [addr, addr + len) to memory, e.g. a word that must
 * survive a reset (no-op without a data cache). */
void cm_dcache_clean(uintptr_t addr, size_t len);

/* Starts SysTick from the processor clock with a period of reload_ticks + 1 (<= 2^24); its
 * interrupt drives hal_millis() (ms_per_period milliseconds per period) and keeps the 64-bit
 * cycle counter extended. */
void cm_systick_start(uint32_t reload_ticks, uint32_t ms_per_period);

/* SysTick periods elapsed and the position in the current one, read consistently. */
uint64_t cm_systick_ticks(void);

/* Enables DWT->CYCCNT; cm_dwt_cycles() extends it to 64 bits (SysTick samples it every
 * period, so the 32-bit counter cannot wrap twice unseen). */
void cm_dwt_start(void);
uint64_t cm_dwt_cycles(void);
bool cm_dwt_running(void);

/* Hook a port may define to run at every SysTick (weak, default none). */
void cm_tick_hook(void);

/* Receive ring for the serial line: the UART interrupt pushes, the main loop pops. Single
 * producer, single consumer; a byte that finds the ring full is counted and dropped. */
#ifndef CM_RING_BYTES
#define CM_RING_BYTES 4096u /* a power of two; a port may size it with -DCM_RING_BYTES */
#endif
typedef struct {
    volatile uint32_t head; /* written by the ISR */
    volatile uint32_t tail; /* written by the main loop */
    volatile uint32_t dropped;
    uint8_t buf[CM_RING_BYTES];
} cm_ring_t;

static inline void cm_ring_push(cm_ring_t *ring, uint8_t byte)
{
    uint32_t head = ring->head;
    if (head - ring->tail >= CM_RING_BYTES) {
        ring->dropped++;
        return;
    }
    ring->buf[head % CM_RING_BYTES] = byte;
    cm_dsb();
    ring->head = head + 1u;
}
size_t cm_ring_pop(cm_ring_t *ring, uint8_t *out, size_t cap);

/* hal_wait for a port whose received bytes land in ring: sleeps (WFI) until a byte is waiting or
 * timeout_ms passed; any interrupt (the 1 ms tick included) wakes it to re-check. */
void cm_wait(const cm_ring_t *ring, uint32_t timeout_ms);
static inline bool cm_ring_empty(const cm_ring_t *ring) { return ring->head == ring->tail; }

/* The version string of the running image, read from its header in flash (FW_HEADER_OFFSET
 * from the image start, firmware/core/fw_header.h) so a version stamped after the link
 * (scripts/fw_stamp.py) is what the board reports; MICROT_FW_VERSION when the header is absent or
 * its string is not terminated. */
const char *cm_fw_version(void);

/* Each port places its image header with CM_FW_HEADER(chip_id): the STM32 device ID the image is
 * for (DBGMCU_IDCODE.DEV_ID; 0 = any). */
#define CM_FW_HEADER(chip_id)                                                                 \
    __attribute__((section(".fw_header"), used)) const fw_header_raw_t cm_fw_header =       \
        FW_HEADER_INIT(MICROT_FW_VERSION, (chip_id))

/* ---- the port's half of startup (cm_startup.c calls these) ---- */

/* Runs first after reset, before .data/.bss exist: a port checks its bootloader request here. */
void port_early(void);
/* Brings up clocks and peripherals; main() calls it. */
void port_init(void);
/* Called on a fault with the fault status registers; the default spins until the watchdog
 * resets the part, the QEMU ports report and exit. */
void port_fault(uint32_t cfsr, uint32_t hfsr);
/* External interrupt number irq (0-based) fired. */
void port_irq(uint32_t irq);

#endif /* MICROT_CM_H */
