/*
 * microt_core.h — what a port's main() calls. The core owns the link to the gateway, answers
 * RPCs and runs the MicroT engine; the port only brings up the clocks and peripherals first.
 *
 *     int main(void) { port_init(); microt_core_init(); for (;;) microt_core_poll(); }
 */
#ifndef MICROT_CORE_H
#define MICROT_CORE_H

#include <stdint.h>

/* Version string reported in DeviceInfo; the build may override it with -DMICROT_FW_VERSION. */
#ifndef MICROT_FW_VERSION
#define MICROT_FW_VERSION "0.1.0"
#endif

/* Initialises the core's state (link, model store, counters). Call once after reset. */
void microt_core_init(void);

/* Processes received bytes, timers and at most one unit of pending work, then returns; sleeps
 * through hal_wait() for at most max_wait_ms when idle. */
void microt_core_poll(uint32_t max_wait_ms);

/* Firmware version reported to the gateway (a port may stamp its own). */
const char *microt_core_version(void);

#endif /* MICROT_CORE_H */
