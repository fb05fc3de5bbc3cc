/* stm32_common.c — IWDG and unique ID, shared by the NUCLEO ports (see stm32_common.h). */
#include "stm32_common.h"

#include <string.h>

#include "cm.h"

#define IWDG_KR(base) CM_REG((base) + 0x00u)
#define IWDG_PR(base) CM_REG((base) + 0x04u)
#define IWDG_RLR(base) CM_REG((base) + 0x08u)
#define IWDG_SR(base) CM_REG((base) + 0x0Cu)

void stm32_iwdg_start(uintptr_t iwdg_base, uint32_t pr, uint32_t reload_ticks)
{
    IWDG_KR(iwdg_base) = 0xCCCCu; /* start ("Software watchdog mode") */
    IWDG_KR(iwdg_base) = 0x5555u; /* unlock PR/RLR */
    IWDG_PR(iwdg_base) = pr;
    IWDG_RLR(iwdg_base) = reload_ticks;
    while (IWDG_SR(iwdg_base) != 0u) { /* the new values reach the watchdog's clock domain */
    }
    IWDG_KR(iwdg_base) = 0xAAAAu;
}

void stm32_iwdg_kick(uintptr_t iwdg_base)
{
    IWDG_KR(iwdg_base) = 0xAAAAu;
}

void stm32_uid_read(uintptr_t uid_addr, uint8_t uid[HAL_UID_BYTES])
{
    const volatile uint32_t *words = (const volatile uint32_t *)uid_addr;
    for (unsigned i = 0; i < 3u; i++) {
        uint32_t w = words[i];
        memcpy(uid + 4u * i, &w, 4u);
    }
}
