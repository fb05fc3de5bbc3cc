/*
 * cm_startup.c — reset and exception entry for every Cortex-M port: the vector table, the reset
 * handler (.data copy, .bss zeroing, FPU on, then main), and fault handlers.
 *
 * Every external interrupt vector points to one dispatcher that reads the active exception number
 * (ICSR.VECTACTIVE, ARMv7-M ARM B3.2.4) and calls the port's port_irq(): each port has one or two
 * interrupts, so a 160-entry table of named handlers per part would be noise. The table is large
 * enough for the STM32H7A3 (RM0455 table "NVIC", 155 positions) and is aligned to 1 KiB, the next
 * power of two above its size, as VTOR requires (B3.2.5).
 *
 * The linker script provides: __stack_top, __data_load, __data_start, __data_end, __bss_start,
 * __bss_end.
 */
#include <stdint.h>

#include "cm.h"

#define CM_IRQ_COUNT 160u

extern uint32_t __stack_top;
extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end;

int main(void);
void Reset_Handler(void);
void cm_fault_handler(void);
void cm_irq_dispatch(void);
void SysTick_Handler(void);
__attribute__((weak)) void NMI_Handler(void);
__attribute__((weak)) void port_irq(uint32_t irq);

typedef void (*cm_vector_t)(void);

#define CM_VEC_16(h) h, h, h, h, h, h, h, h, h, h, h, h, h, h, h, h

__attribute__((section(".isr_vector"), used, aligned(1024)))
const cm_vector_t cm_vectors[16u + CM_IRQ_COUNT] = {
    (cm_vector_t)(uintptr_t)&__stack_top,
    Reset_Handler,
    NMI_Handler,
    cm_fault_handler, /* HardFault */
    cm_fault_handler, /* MemManage */
    cm_fault_handler, /* BusFault */
    cm_fault_handler, /* UsageFault */
    0, 0, 0, 0,
    cm_fault_handler, /* SVCall: never used */
    cm_fault_handler, /* DebugMonitor */
    0,
    cm_fault_handler, /* PendSV: never used */
    SysTick_Handler,
    CM_VEC_16(cm_irq_dispatch), CM_VEC_16(cm_irq_dispatch), CM_VEC_16(cm_irq_dispatch),
    CM_VEC_16(cm_irq_dispatch), CM_VEC_16(cm_irq_dispatch), CM_VEC_16(cm_irq_dispatch),
    CM_VEC_16(cm_irq_dispatch), CM_VEC_16(cm_irq_dispatch), CM_VEC_16(cm_irq_dispatch),
    CM_VEC_16(cm_irq_dispatch),
};

void Reset_Handler(void)
{
    port_early();

    uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start; dst < &__bss_end;) {
        *dst++ = 0u;
    }
    cm_fpu_enable();
    CM_SCB_VTOR = (uint32_t)(uintptr_t)cm_vectors;
    /* Separate Mem/Bus/Usage faults so a fault is not escalated into an opaque HardFault. */
    CM_SCB_SHCSR |= CM_SHCSR_FAULTS;
    cm_dsb();
    cm_isb();
    (void)main();
    for (;;) {
        cm_wfi();
    }
}

void cm_irq_dispatch(void)
{
    uint32_t active = CM_SCB_ICSR & 0x1FFu;
    port_irq(active - 16u);
}

/* An interrupt nobody enabled: mask it so it cannot storm. */
void port_irq(uint32_t irq) { CM_NVIC_ICER(irq / 32u) = 1u << (irq % 32u); }

void NMI_Handler(void)
{
    for (;;) {
    }
}

/* Faults are firmware bugs (input errors are returned, never trapped): stop here so a debugger
 * shows CFSR/HFSR; the watchdog then resets the part. */
volatile uint32_t cm_fault_cfsr, cm_fault_hfsr;
void cm_fault_handler(void)
{
    cm_fault_cfsr = CM_SCB_CFSR;
    cm_fault_hfsr = CM_SCB_HFSR;
    port_fault(cm_fault_cfsr, cm_fault_hfsr);
}

__attribute__((weak)) void port_fault(uint32_t cfsr, uint32_t hfsr)
{
    for (;;) {
    }
}
