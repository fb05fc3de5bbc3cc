/*
 * mps2_port.h — what the QEMU ports expose beyond hal.h, for their self-test image and docs:
 * the semihosting exit codes the firmware uses.
 */
#ifndef MICROT_MPS2_PORT_H
#define MICROT_MPS2_PORT_H

#include <stdint.h>

#define MPS2_EXIT_BOOTLOADER 3u   /* hal_reboot(HAL_BOOT_BOOTLOADER): no ROM bootloader here */
#define MPS2_EXIT_FAULT 4u        /* a CPU fault (firmware bug) */

/* Sets the watchdog's time-out (the first one raises NMI, the second resets) and restarts it. */
void mps2_watchdog_set_timeout_ms(uint32_t timeout_ms);

/* Bytes lost on receive (UART overrun or ring full) since boot. */
uint32_t mps2_uart_overrun_count(void);

/* Bytes hal_uart_write dropped because the host did not read the pty for 100 ms. */
uint32_t mps2_uart_tx_dropped(void);

#endif /* MICROT_MPS2_PORT_H */
