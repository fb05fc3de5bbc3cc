/*
 * stm32_common.h — peripherals the two NUCLEO ports share because ST uses the same IP block on
 * both parts: the independent watchdog (IWDG: KR/PR/RLR/SR at offsets 0/4/8/C, RM0455 §47.7 and
 * RM0432 §37.7) and the 96-bit unique ID (three words; the "device electronic signature" chapter
 * of each reference manual). Each port passes its own addresses.
 */
#ifndef MICROT_STM32_COMMON_H
#define MICROT_STM32_COMMON_H

#include <stdint.h>

#include "hal.h"

/* Starts the IWDG with prescaler code pr (6 = /256) and reload ticks; it cannot be stopped. */
void stm32_iwdg_start(uintptr_t iwdg_base, uint32_t pr, uint32_t reload_ticks);

/* Reloads the IWDG counter. */
void stm32_iwdg_kick(uintptr_t iwdg_base);

/* Copies the unique ID at uid_addr (three 32-bit words, little-endian) into uid. */
void stm32_uid_read(uintptr_t uid_addr, uint8_t uid[HAL_UID_BYTES]);

#endif /* MICROT_STM32_COMMON_H */
