/*
 * sim_port.h — the host port's state, shared by the simulator's main (sim_main.c) and its HAL
 * (hal_host.c). Only the host port includes this; the core sees hal.h alone.
 */
#ifndef MICROT_SIM_PORT_H
#define MICROT_SIM_PORT_H

#include <setjmp.h>
#include <stdint.h>

#include "hal.h"
#include "sim_flash.h"

typedef struct {
    int uart_fd;                      /* pty master */
    sim_flash_t flash;
    hal_board_t board;
    uint8_t uid[HAL_UID_BYTES];
    uint32_t boot_count;
    uint64_t boot_time_ns;            /* CLOCK_MONOTONIC at the last reset */
    jmp_buf reset_jmp;                /* hal_reboot jumps back to sim_main's reset loop */
    hal_boot_target_t reboot_target;
    const char *camera_dir;           /* frames for hal_camera_capture, or NULL */
} sim_port_t;

extern sim_port_t sim;

/* Board profiles the simulator can pretend to be; NULL for an unknown name. */
const hal_board_t *sim_board_by_name(const char *name);

/* Called at each simulated reset: bumps the persistent boot counter, restarts the clock. */
void sim_port_reset(void);

#endif /* MICROT_SIM_PORT_H */
