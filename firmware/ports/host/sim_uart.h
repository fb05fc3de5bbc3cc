/*
 * sim_uart.h — the simulator's UART to the gateway: a pty, optionally paced like a real
 * full-duplex serial line behind a USB-serial adapter, so link throughput is measurable.
 *
 * Model (microt-sim --baud N --turn-latency-us L):
 *   - each direction is its own wire: a byte takes bits_per_byte / baud seconds (10 bits, 8N1);
 *     bytes queue behind each other, never overlap, and sending never stalls receiving;
 *   - board -> gateway bytes become readable L after they left the wire (the adapter's latency
 *     timer), so a reply reaches the gateway L late;
 *   - gateway -> board bytes that follow a pause (the pty was seen empty: the gateway waited for us,
 *     the traffic turned) arrive L after the pause was last seen; a continuous stream pays
 *     nothing more than its wire time.
 * Hence a stop-and-wait exchange pays 2 L per round trip (one per turn of direction), while a
 * windowed stream whose window covers the round trip runs at the wire rate. sim_line.h's blocking
 * model suits the half-duplex ROM bootloader; the link layer here is full duplex, which that model
 * would make pay a turn at every ack.
 *
 * Nothing blocks: received bytes are held and released as their arrival time passes, sent bytes
 * are queued and written to the pty at their release time; sim_uart_wait() sleeps until the next
 * such event (or a byte from the pty, or the timeout). baud 0: no pacing at all.
 */
#ifndef MICROT_SIM_UART_H
#define MICROT_SIM_UART_H

#include <stddef.h>
#include <stdint.h>

#include "sim_line.h"

/* Sets the pacing (baud 0 = none) for the pty master fd; counters start at 0. */
void sim_uart_init(int fd, uint32_t baud, uint32_t turn_latency_us);

/* hal_uart_write / hal_uart_read / hal_wait of the host port. */
void sim_uart_write(const uint8_t *buf, size_t len);
size_t sim_uart_read(uint8_t *buf, size_t cap);
void sim_uart_wait(uint32_t timeout_ms);

/* The line's parameters and byte counters. */
const sim_line_t *sim_uart_line(void);

#endif /* MICROT_SIM_UART_H */
