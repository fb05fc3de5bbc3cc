/*
 * sim_line.c — wire-time pacing of the simulator's serial traffic (see sim_line.h).
 * Time is kept as absolute CLOCK_MONOTONIC deadlines so sleeping late never accumulates drift.
 */
#include "sim_line.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define SIM_LINE_CHUNK_BYTES 16u /* bytes released at once: keeps a slow reader's bytes flowing */

static uint64_t sim_line_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sim_line_sleep_until(uint64_t t_ns)
{
    struct timespec ts = { .tv_sec = (time_t)(t_ns / 1000000000ull),
                           .tv_nsec = (long)(t_ns % 1000000000ull) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

void sim_line_init(sim_line_t *line, uint32_t baud, uint32_t turn_latency_us)
{
    line->baud = baud;
    line->bits_per_byte = SIM_LINE_BITS_8E1;
    line->turn_latency_us = turn_latency_us;
    line->tx_done_ns = 0;
    line->rx_done_ns = 0;
    line->last_dir = 0;
    line->tx_bytes = line->rx_bytes = line->turns = 0;
}

uint64_t sim_line_byte_ns(const sim_line_t *line)
{
    if (line == NULL || line->baud == 0)
        return 0;
    return (uint64_t)line->bits_per_byte * 1000000000ull / line->baud;
}

static int sim_line_write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                (void)poll(&p, 1, 100);
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int sim_line_write(sim_line_t *line, int fd, const uint8_t *buf, size_t len)
{
    if (line == NULL || line->baud == 0) {
        if (line != NULL) {
            line->tx_bytes += len;
            line->last_dir = 2;
        }
        return sim_line_write_all(fd, buf, len);
    }
    uint64_t byte_ns = sim_line_byte_ns(line);
    uint64_t now = sim_line_now_ns();
    /* The first byte can leave once the line is free, we have heard the end of what came in,
     * and (when the direction turns) the turn latency has passed. */
    uint64_t start = now;
    if (line->rx_done_ns > start)
        start = line->rx_done_ns;
    if (line->last_dir != 2) {
        start += (uint64_t)line->turn_latency_us * 1000ull;
        line->turns++;
    } else if (line->tx_done_ns > start) {
        start = line->tx_done_ns;
    }
    line->last_dir = 2;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < SIM_LINE_CHUNK_BYTES ? len - off : SIM_LINE_CHUNK_BYTES;
        uint64_t chunk_done = start + (uint64_t)(off + n) * byte_ns;
        /* Release the chunk when its last byte would have left the UART. */
        sim_line_sleep_until(chunk_done);
        if (sim_line_write_all(fd, buf + off, n) != 0)
            return -1;
        off += n;
    }
    line->tx_done_ns = start + (uint64_t)len * byte_ns;
    line->tx_bytes += len;
    return 0;
}

void sim_line_note_rx(sim_line_t *line)
{
    if (line == NULL)
        return;
    if (line->last_dir == 2)
        line->turns++;
    line->last_dir = 1;
}

void sim_line_rx_bytes(sim_line_t *line, size_t n)
{
    if (line == NULL)
        return;
    line->rx_bytes += n;
    if (line->baud == 0) {
        line->last_dir = 1;
        return;
    }
    uint64_t now = sim_line_now_ns();
    uint64_t start = now;
    if (line->rx_done_ns > start)
        start = line->rx_done_ns;
    if (line->last_dir == 2) {
        /* The host could not start sending before our reply reached it and it turned around. */
        uint64_t turned = line->tx_done_ns + (uint64_t)line->turn_latency_us * 1000ull;
        if (turned > start)
            start = turned;
        line->turns++;
    }
    line->last_dir = 1;
    line->rx_done_ns = start + (uint64_t)n * sim_line_byte_ns(line);
    sim_line_sleep_until(line->rx_done_ns);
}
