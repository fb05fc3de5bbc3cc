/*
 * sim_uart.c — full-duplex paced UART over the simulator's pty (see sim_uart.h for the model).
 * Times are absolute CLOCK_MONOTONIC nanoseconds, so late wake-ups never accumulate drift.
 */
#include "sim_uart.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIM_UART_RX_BYTES 4096u
#define SIM_UART_TX_BYTES 65536u  /* bytes on the wire or in the adapter at once */

typedef struct {
    int fd;
    sim_line_t line;
    uint64_t byte_ns;
    uint64_t latency_ns;
    /* rx: one batch read from the pty, byte i arriving at rx_start_ns + (i + 1) x byte_ns */
    uint8_t rx[SIM_UART_RX_BYTES];
    size_t rx_len, rx_pos;
    uint64_t rx_start_ns;
    uint64_t rx_done_ns;         /* the receive wire is busy until then */
    uint64_t rx_empty_ns;        /* last time the pty was seen empty */
    bool rx_paused;              /* the pty was seen empty since the last batch: a turn */
    /* tx: a ring of bytes, each written to the pty at its release time */
    uint8_t tx[SIM_UART_TX_BYTES];
    uint64_t tx_release_ns[SIM_UART_TX_BYTES];
    size_t tx_head, tx_count;
    uint64_t tx_done_ns;         /* the transmit wire is busy until then */
} sim_uart_t;

static sim_uart_t su;

static uint64_t su_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sim_uart_init(int fd, uint32_t baud, uint32_t turn_latency_us)
{
    memset(&su, 0, sizeof(su));
    su.fd = fd;
    sim_line_init(&su.line, baud, turn_latency_us);
    su.line.bits_per_byte = SIM_LINE_BITS_8N1;
    su.byte_ns = sim_line_byte_ns(&su.line);
    su.latency_ns = (uint64_t)turn_latency_us * 1000ull;
    su.rx_paused = true;
}

const sim_line_t *sim_uart_line(void)
{
    return &su.line;
}

/* Unpaced write (baud 0): like a UART with nobody listening, bytes the pty cannot take within
 * 100 ms are lost; the link layer retransmits what mattered. */
static void su_write_now(const uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(su.fd, buf + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = su.fd, .events = POLLOUT};
            if (poll(&pfd, 1, 100) > 0)
                continue;
        }
        return;
    }
}

/* Writes every queued byte whose release time has passed (as far as the pty takes them). */
static void su_flush(uint64_t now)
{
    while (su.tx_count > 0 && su.tx_release_ns[su.tx_head] <= now) {
        size_t run = 0;
        ssize_t n;
        while (run < su.tx_count && su.tx_head + run < SIM_UART_TX_BYTES &&
               su.tx_release_ns[su.tx_head + run] <= now)
            run++;
        n = write(su.fd, su.tx + su.tx_head, run);
        if (n <= 0)
            return; /* the gateway is not reading: keep them until it does */
        su.tx_head = (su.tx_head + (size_t)n) % SIM_UART_TX_BYTES;
        su.tx_count -= (size_t)n;
    }
}

void sim_uart_write(const uint8_t *buf, size_t len)
{
    uint64_t now = su_now_ns(), start;
    su.line.tx_bytes += len;
    if (su.line.baud == 0) {
        su_write_now(buf, len);
        return;
    }
    start = su.tx_done_ns > now ? su.tx_done_ns : now;
    for (size_t i = 0; i < len; i++) {
        size_t slot;
        while (su.tx_count == SIM_UART_TX_BYTES) {
            /* The adapter's buffer is full: wait like a UART whose FIFO is full. If the gateway
             * is not reading at all, drop the oldest byte rather than hang. */
            uint64_t due = su.tx_release_ns[su.tx_head];
            struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull),
                                  .tv_nsec = (long)(due % 1000000000ull)};
            size_t before = su.tx_count;
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            su_flush(su_now_ns());
            if (su.tx_count == before && su_now_ns() > due + 100000000ull) {
                su.tx_head = (su.tx_head + 1u) % SIM_UART_TX_BYTES;
                su.tx_count--;
            }
        }
        slot = (su.tx_head + su.tx_count) % SIM_UART_TX_BYTES;
        su.tx[slot] = buf[i];
        su.tx_release_ns[slot] = start + (uint64_t)(i + 1u) * su.byte_ns + su.latency_ns;
        su.tx_count++;
    }
    su.tx_done_ns = start + (uint64_t)len * su.byte_ns;
    su_flush(su_now_ns());
}

size_t sim_uart_read(uint8_t *buf, size_t cap)
{
    uint64_t now = su_now_ns();
    size_t avail;
    if (su.line.baud == 0) {
        ssize_t n = read(su.fd, buf, cap);
        if (n > 0)
            su.line.rx_bytes += (uint64_t)n;
        return n > 0 ? (size_t)n : 0u;
    }
    su_flush(now);
    if (su.rx_pos == su.rx_len) {
        ssize_t n = read(su.fd, su.rx, sizeof(su.rx));
        if (n <= 0) {
            su.rx_empty_ns = now;
            su.rx_paused = true;
            return 0;
        }
        /* The batch starts when the wire is free; after a pause, not before the gateway could
         * have sent it (it was not there when last looked at) plus the turn latency. */
        su.rx_len = (size_t)n;
        su.rx_pos = 0;
        su.rx_start_ns = su.rx_done_ns;
        if (su.rx_paused) {
            uint64_t turned = su.rx_empty_ns + su.latency_ns;
            if (turned > su.rx_start_ns)
                su.rx_start_ns = turned;
            su.line.turns++;
            su.rx_paused = false;
        }
        su.rx_done_ns = su.rx_start_ns + (uint64_t)su.rx_len * su.byte_ns;
    }
    avail = now < su.rx_start_ns ? 0u : (size_t)((now - su.rx_start_ns) / su.byte_ns);
    if (avail > su.rx_len)
        avail = su.rx_len;
    if (avail <= su.rx_pos)
        return 0;
    avail -= su.rx_pos;
    if (avail > cap)
        avail = cap;
    memcpy(buf, su.rx + su.rx_pos, avail);
    su.rx_pos += avail;
    su.line.rx_bytes += avail;
    return avail;
}

void sim_uart_wait(uint32_t timeout_ms)
{
    uint64_t now = su_now_ns();
    uint64_t deadline = now + (uint64_t)(timeout_ms > 1000u ? 1000u : timeout_ms) * 1000000ull;
    struct pollfd pfd = {.fd = su.fd, .events = POLLIN};
    nfds_t nfds = 1;
    struct timespec ts;
    int rc;

    if (su.line.baud != 0) {
        su_flush(now);
        if (su.tx_count > 0 && su.tx_release_ns[su.tx_head] < deadline)
            deadline = su.tx_release_ns[su.tx_head];
        if (su.rx_pos < su.rx_len) {
            /* Held bytes: wake when the next one has arrived; the pty is not read meanwhile. */
            uint64_t next = su.rx_start_ns + (uint64_t)(su.rx_pos + 1u) * su.byte_ns;
            if (next < deadline)
                deadline = next;
            nfds = 0;
        }
    }
    if (deadline < now)
        deadline = now;
    ts.tv_sec = (time_t)((deadline - now) / 1000000000ull);
    ts.tv_nsec = (long)((deadline - now) % 1000000000ull);
    rc = ppoll(nfds ? &pfd : NULL, nfds, &ts, NULL);
    if (su.line.baud != 0 && nfds == 1 && su.rx_pos == su.rx_len) {
        /* Blocked on an empty pty until now: what wakes us was sent just now. */
        su.rx_empty_ns = su_now_ns();
        su.rx_paused = true;
    }
    (void)rc;
    if (su.line.baud != 0)
        su_flush(su_now_ns());
}
