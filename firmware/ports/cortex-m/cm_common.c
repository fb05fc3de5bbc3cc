/*
 * cm_common.c — services every Cortex-M port shares: FPU access, the M7 caches, the SysTick
 * millisecond tick, the DWT cycle counter extended to 64 bits, and the UART receive ring.
 * Register citations are in cm.h (ARMv7-M ARM, DDI 0403E.e).
 */
#include "cm.h"

#include "hal.h"

static volatile uint32_t cm_periods;       /* SysTick periods since cm_systick_start */
static volatile uint32_t cm_millis_now;
static uint32_t cm_reload_ticks;
static uint32_t cm_ms_per_period = 1u;

/* DWT extension: the last 32-bit reading and the high word, updated under masked interrupts. */
static uint32_t cm_dwt_last;
static uint32_t cm_dwt_high;
static bool cm_dwt_on;

void cm_fpu_enable(void)
{
    CM_SCB_CPACR |= CM_CPACR_FPU_FULL;
    cm_dsb();
    cm_isb();
}

void cm_caches_enable(void)
{
    /* I-cache: invalidate all, then enable (ARMv7-M ARM B2.2.7). */
    cm_dsb();
    cm_isb();
    CM_ICIALLU = 0u;
    cm_dsb();
    cm_isb();
    CM_SCB_CCR |= CM_CCR_IC;
    cm_dsb();
    cm_isb();

    /* D-cache: invalidate every set and way of level 1 (CCSIDR read with CSSELR = 0, B4.8.3),
     * then enable. Its contents are undefined after reset. */
    CM_SCB_CSSELR = 0u;
    cm_dsb();
    uint32_t ccsidr = CM_SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    uint32_t line_log2 = (ccsidr & 0x7u) + 4u;
    uint32_t way_shift = (uint32_t)__builtin_clz(ways > 1u ? ways - 1u : 1u);
    for (uint32_t set = 0; set < sets; set++) {
        for (uint32_t way = 0; way < ways; way++) {
            CM_DCISW = (ways > 1u ? (way << way_shift) : 0u) | (set << line_log2);
        }
    }
    cm_dsb();
    CM_SCB_CCR |= CM_CCR_DC;
    cm_dsb();
    cm_isb();
}

void cm_dcache_invalidate(uintptr_t addr, size_t len)
{
    if ((CM_SCB_CCR & CM_CCR_DC) == 0u || len == 0u) {
        return;
    }
    uintptr_t start = addr & ~(uintptr_t)(CM_CACHE_LINE_BYTES - 1u);
    uintptr_t end = addr + len;
    cm_dsb();
    for (uintptr_t line = start; line < end; line += CM_CACHE_LINE_BYTES) {
        CM_DCIMVAC = (uint32_t)line;
    }
    cm_dsb();
    cm_isb();
}

void cm_dcache_clean(uintptr_t addr, size_t len)
{
    if ((CM_SCB_CCR & CM_CCR_DC) == 0u || len == 0u) {
        return;
    }
    uintptr_t start = addr & ~(uintptr_t)(CM_CACHE_LINE_BYTES - 1u);
    cm_dsb();
    for (uintptr_t line = start; line < addr + len; line += CM_CACHE_LINE_BYTES) {
        CM_DCCMVAC = (uint32_t)line;
    }
    cm_dsb();
}

void cm_systick_start(uint32_t reload_ticks, uint32_t ms_per_period)
{
    cm_reload_ticks = reload_ticks;
    cm_ms_per_period = ms_per_period;
    CM_SYST_CSR = 0u;
    CM_SYST_RVR = reload_ticks;
    CM_SYST_CVR = 0u;
    CM_SYST_CSR = CM_SYST_CSR_ENABLE | CM_SYST_CSR_TICKINT | CM_SYST_CSR_CLKSOURCE;
}

uint64_t cm_systick_ticks(void)
{
    uint32_t primask = cm_irq_save();
    uint32_t periods = cm_periods;
    uint32_t val = CM_SYST_CVR;
    /* Wrapped but the handler has not run yet (interrupts are masked here): the value read may
     * be from either side of the wrap, so read it again, now certainly after it. */
    if (CM_SCB_ICSR & CM_ICSR_PENDSTSET) {
        val = CM_SYST_CVR;
        periods++;
    }
    cm_irq_restore(primask);
    return (uint64_t)periods * (cm_reload_ticks + 1u) + (cm_reload_ticks - val);
}

void cm_dwt_start(void)
{
    CM_DEMCR |= CM_DEMCR_TRCENA;
    CM_DWT_LAR = CM_DWT_LAR_KEY;
    CM_DWT_CYCCNT = 0u;
    CM_DWT_CTRL |= CM_DWT_CTRL_CYCCNTENA;
    cm_dwt_last = 0u;
    cm_dwt_high = 0u;
    /* Some cores have no cycle counter (DWT_CTRL.NOCYCCNT, bit 25): then the count never moves. */
    cm_dwt_on = (CM_DWT_CTRL & (1u << 25)) == 0u;
}

bool cm_dwt_running(void) { return cm_dwt_on; }

uint64_t cm_dwt_cycles(void)
{
    uint32_t primask = cm_irq_save();
    uint32_t now = CM_DWT_CYCCNT;
    if (now < cm_dwt_last) {
        cm_dwt_high++;
    }
    cm_dwt_last = now;
    uint64_t cycles = ((uint64_t)cm_dwt_high << 32) | now;
    cm_irq_restore(primask);
    return cycles;
}

__attribute__((weak)) void cm_tick_hook(void) {}

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    cm_periods++;
    cm_millis_now += cm_ms_per_period;
    if (cm_dwt_on) {
        (void)cm_dwt_cycles();
    }
    cm_tick_hook();
}

uint32_t hal_millis(void) { return cm_millis_now; }

extern const uint8_t __fw_start[];

const char *cm_fw_version(void)
{
    /* Through a volatile view of the flash: the compiler must not fold in the link-time
     * placeholder, the stamped bytes are what counts. */
    const volatile fw_header_raw_t *h =
        (const volatile fw_header_raw_t *)(const void *)(__fw_start + FW_HEADER_OFFSET);
    if (h->magic != FW_HEADER_MAGIC || h->version[0] == '\0' ||
        h->version[FW_VERSION_CHARS - 1u] != '\0') {
        return MICROT_FW_VERSION;
    }
    return (const char *)(uintptr_t)h->version;
}

size_t cm_ring_pop(cm_ring_t *ring, uint8_t *out, size_t cap)
{
    size_t n = 0;
    uint32_t tail = ring->tail;
    uint32_t head = ring->head;
    while (n < cap && tail != head) {
        out[n++] = ring->buf[tail % CM_RING_BYTES];
        tail++;
    }
    cm_dsb();
    ring->tail = tail;
    return n;
}

void cm_wait(const cm_ring_t *ring, uint32_t timeout_ms)
{
    uint32_t start = hal_millis();
    for (;;) {
        /* Check and sleep with interrupts masked: an interrupt that arrives in between stays
         * pending and ends the WFI at once (ARMv7-M ARM B1.5.19), so no wake-up is lost. */
        uint32_t primask = cm_irq_save();
        bool idle = cm_ring_empty(ring) && hal_millis() - start < timeout_ms;
        if (idle) {
            cm_wfi();
        }
        cm_irq_restore(primask);
        if (!idle) {
            return;
        }
    }
}
