/*
 * bench_link.c — `make bench-link`: the link layer's frame overhead and CRC cost.
 *
 * Overhead: two links back to back (lossless, in memory), session established, then 2000
 * payloads of random bytes (fixed seed) of 64 B and of 1 KiB. Reports wire bytes of the data
 * frames per payload byte (header, CRC, COBS, delimiter) and the same with the peer's ACK frames
 * counted too (one ACK per data frame: each frame is read on its own, the worst case); also the worst case for COBS (payload without zeros). Writes link.overhead.64
 * and link.overhead.1024 (and the rest) to build/bench.json through scripts/bench_json.py.
 * CRC: host throughput of crc32_update (nibble table) over 64 MiB, beside the bitwise loop and
 * the 1 KiB byte table it was chosen against (see docs/protocol.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32.h"
#include "link.h"

typedef struct {
    uint8_t buf[16 * LINK_WIRE_MAX];
    size_t len;
    uint64_t wire_bytes;
} bench_pipe_t;

static link_t bench_a, bench_b;
static bench_pipe_t bench_ab, bench_ba;
static uint64_t bench_delivered_bytes;

static void bench_write(void *ctx, const uint8_t *bytes, size_t len)
{
    bench_pipe_t *p = ctx;
    if (len > sizeof(p->buf) - p->len) {
        fprintf(stderr, "bench_link: pipe overflow\n");
        exit(1);
    }
    memcpy(p->buf + p->len, bytes, len);
    p->len += len;
    p->wire_bytes += len;
}

static void bench_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    bench_delivered_bytes += len;
}

static void bench_shuttle(uint32_t now_ms)
{
    static uint8_t tmp[sizeof(bench_ab.buf)];
    while (bench_ab.len || bench_ba.len) {
        size_t n = bench_ab.len;
        memcpy(tmp, bench_ab.buf, n);
        bench_ab.len = 0;
        link_input(&bench_b, tmp, n, now_ms);
        n = bench_ba.len;
        memcpy(tmp, bench_ba.buf, n);
        bench_ba.len = 0;
        link_input(&bench_a, tmp, n, now_ms);
    }
}

static int bench_pair(void)
{
    link_config_t cfg;
    static const uint8_t hello[4] = {1, 2, 3, 4};

    memset(&cfg, 0, sizeof(cfg));
    cfg.window = LINK_WINDOW_MAX;
    cfg.max_payload = LINK_MAX_PAYLOAD;
    cfg.rto_ms = 100;
    cfg.max_retries = 5;
    cfg.session_id = 0xA1u;
    memset(&bench_ab, 0, sizeof(bench_ab));
    memset(&bench_ba, 0, sizeof(bench_ba));
    if (link_init(&bench_a, &cfg, bench_write, bench_deliver, &bench_ab) != LINK_OK)
        return -1;
    cfg.session_id = 0xB2u;
    if (link_init(&bench_b, &cfg, bench_write, bench_deliver, &bench_ba) != LINK_OK)
        return -1;
    /* one exchange each way, so both know the other's session (steady state) */
    if (link_send(&bench_a, hello, sizeof(hello), 0) != LINK_OK ||
        link_send(&bench_b, hello, sizeof(hello), 0) != LINK_OK)
        return -1;
    bench_shuttle(0);
    bench_ab.wire_bytes = bench_ba.wire_bytes = 0;
    bench_delivered_bytes = 0;
    return 0;
}

/* Sends `count` payloads of `len` bytes A->B; returns data and ack wire bytes. */
static int bench_overhead(size_t len, int no_zeros, double *data_ratio, double *total_ratio)
{
    enum { COUNT = 2000 };
    static uint8_t payload[LINK_MAX_PAYLOAD];
    uint32_t rng = 2463534242u;
    int k;
    size_t i;

    if (bench_pair() != 0)
        return -1;
    for (k = 0; k < COUNT; k++) {
        for (i = 0; i < len; i++) {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            payload[i] = (uint8_t)rng;
            if (no_zeros && payload[i] == 0)
                payload[i] = 1;
        }
        if (link_send(&bench_a, payload, len, (uint32_t)k) != LINK_OK)
            return -1;
        bench_shuttle((uint32_t)k); /* frame by frame: one ACK per data frame, the worst case */
    }
    bench_shuttle(COUNT);
    if (bench_delivered_bytes != (uint64_t)COUNT * len || link_stats(&bench_a)->retransmits)
        return -1;
    *data_ratio = (double)bench_ab.wire_bytes / (double)bench_delivered_bytes;
    *total_ratio = (double)(bench_ab.wire_bytes + bench_ba.wire_bytes) / (double)bench_delivered_bytes;
    return 0;
}

static void bench_record(const char *name, double value, const char *unit)
{
    char cmd[256];
    printf("%-32s %10.4f %s\n", name, value, unit);
    snprintf(cmd, sizeof(cmd), "%s scripts/bench_json.py %s %.6f %s",
             getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3", name, value, unit);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_link: could not record %s\n", name);
        exit(1);
    }
}

/* The two textbook alternatives to the nibble table, only to put its cost in context. */
static uint32_t bench_crc_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    size_t i;
    int b;
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t bench_table[256];

static uint32_t bench_crc_bytetable(uint32_t crc, const uint8_t *p, size_t n)
{
    size_t i;
    crc = ~crc;
    for (i = 0; i < n; i++)
        crc = (crc >> 8) ^ bench_table[(crc ^ p[i]) & 0xFFu];
    return ~crc;
}

typedef uint32_t (*bench_crc_fn)(uint32_t, const uint8_t *, size_t);

static double bench_now_s(void);

/* MiB/s of fn over 64 MiB; checks it agrees with crc32_update. */
static double bench_crc_speed(bench_crc_fn fn, const uint8_t *buf, size_t len)
{
    double t0, secs;
    uint32_t crc = 0;
    int rep;

    if (fn(0, buf, 4096) != crc32_update(0, buf, 4096)) {
        fprintf(stderr, "bench_link: CRC variants disagree\n");
        exit(1);
    }
    t0 = bench_now_s();
    for (rep = 0; rep < 64; rep++)
        crc = fn(crc, buf, len);
    secs = bench_now_s() - t0;
    if (crc == 0x12345678u)
        printf("(unlikely crc)\n"); /* keeps the loop from being optimised away */
    return 64.0 * ((double)len / (1u << 20)) / secs;
}

static double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
    static const size_t sizes[] = {64, 1024};
    static uint8_t buf[1u << 20];
    double data_ratio, total_ratio;
    size_t i;

    printf("link frame: %u B header + %u B CRC-32, COBS (+1 B per 254, +1), 0x00 delimiter\n",
           LINK_HEADER_BYTES, LINK_CRC_BYTES);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char name[64];
        if (bench_overhead(sizes[i], 0, &data_ratio, &total_ratio) != 0) {
            fprintf(stderr, "bench_link: transfer of %zu B payloads failed\n", sizes[i]);
            return 1;
        }
        snprintf(name, sizeof(name), "link.overhead.%zu", sizes[i]);
        bench_record(name, data_ratio, "wire_bytes_per_payload_byte");
        snprintf(name, sizeof(name), "link.overhead_with_acks.%zu", sizes[i]);
        bench_record(name, total_ratio, "wire_bytes_per_payload_byte");
        if (bench_overhead(sizes[i], 1, &data_ratio, &total_ratio) != 0)
            return 1;
        snprintf(name, sizeof(name), "link.overhead_no_zeros.%zu", sizes[i]);
        bench_record(name, data_ratio, "wire_bytes_per_payload_byte");
    }

    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    for (i = 0; i < 256; i++) {
        uint32_t c = (uint32_t)i;
        int b;
        for (b = 0; b < 8; b++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        bench_table[i] = c;
    }
    bench_record("link.crc32_host_throughput", bench_crc_speed(crc32_update, buf, sizeof(buf)),
                 "MiB_per_s");
    bench_record("link.crc32_bitwise_host_throughput",
                 bench_crc_speed(bench_crc_bitwise, buf, sizeof(buf)), "MiB_per_s");
    bench_record("link.crc32_bytetable_host_throughput",
                 bench_crc_speed(bench_crc_bytetable, buf, sizeof(buf)), "MiB_per_s");
    return 0;
}
