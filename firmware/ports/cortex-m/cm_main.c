/*
 * cm_main.c — the firmware's main() on every Cortex-M board: bring the port up, start the core,
 * and serve forever. The watchdog is refreshed once per poll; a poll does at most one unit of
 * work, so a hung core stops the refresh and the watchdog resets the part.
 */
#include "cm.h"
#include "hal.h"
#include "microt_core.h"

#define CM_POLL_WAIT_MS 10u

int main(void)
{
    port_init();
    microt_core_init();
    for (;;) {
        hal_watchdog_kick();
        microt_core_poll(CM_POLL_WAIT_MS);
    }
}
