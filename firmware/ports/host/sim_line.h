/*
 * sim_line.h — the simulator's model of a serial line: what a byte costs on the wire.
 *
 * A pty delivers bytes at memory speed; a real UART at 115200 baud 8E1 moves one byte per 11 bit
 * times (start + 8 data + parity + stop), and a USB-serial bridge adds latency each time the
 * traffic changes direction. The simulator runs its real protocol code over a pty and calls these
 * functions so that the time a client sees is the time the real line would take:
 *   - sim_line_write() sends bytes no faster than the wire would, in small chunks, each chunk
 *     released when its last byte would have left the UART;
 *   - sim_line_rx_bytes() holds the simulator until bytes it has just read would have arrived;
 *   - each turn of direction (rx -> tx or tx -> rx) costs turn_latency_us once.
 * baud 0 turns pacing off (tests that only check behaviour). Not thread-safe: one line, one user.
 */
#ifndef MICROT_SIM_LINE_H
#define MICROT_SIM_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_LINE_BITS_8E1 11u /* start + 8 data + even parity + stop */
#define SIM_LINE_BITS_8N1 10u

typedef struct {
    uint32_t baud;            /* 0 = no pacing */
    uint32_t bits_per_byte;   /* SIM_LINE_BITS_8E1 unless told otherwise */
    uint32_t turn_latency_us; /* cost of each change of direction */
    uint64_t tx_done_ns;      /* CLOCK_MONOTONIC time our last sent byte leaves the wire */
    uint64_t rx_done_ns;      /* time the last received byte has fully arrived */
    int last_dir;             /* 0 none yet, 1 rx, 2 tx */
    uint64_t tx_bytes;        /* counters, for logs and tests */
    uint64_t rx_bytes;
    uint64_t turns;
} sim_line_t;

/* Sets up a line at baud (0 = unpaced), 8E1, with turn_latency_us at each turn. */
void sim_line_init(sim_line_t *line, uint32_t baud, uint32_t turn_latency_us);

/* Nanoseconds one byte takes on this line (0 when unpaced). */
uint64_t sim_line_byte_ns(const sim_line_t *line);

/* Writes all len bytes to fd, paced like the wire. line may be NULL (plain write).
 * Returns 0, or -1 with errno set (EAGAIN is retried internally). */
int sim_line_write(sim_line_t *line, int fd, const uint8_t *buf, size_t len);

/* Notes that traffic now flows towards us (the simulator is receiving): the next write pays a
 * turn. Cheap; call it whenever bytes were read. */
void sim_line_note_rx(sim_line_t *line);

/* Called after reading n bytes: notes rx and sleeps until those bytes would have arrived on the
 * wire (they cannot arrive faster than the baud rate, nor before the line turned around). */
void sim_line_rx_bytes(sim_line_t *line, size_t n);

#endif /* MICROT_SIM_LINE_H */
