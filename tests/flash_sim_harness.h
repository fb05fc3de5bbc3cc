/*
 * flash_sim_harness.h — test rig for the flashing suites: the simulator's ROM bootloader
 * (firmware/ports/host/sim_bootrom.c, the real code) served by a thread on one end of a
 * socketpair, and a proxy thread between it and the client that can corrupt a byte, reset the
 * board (restart the bootloader, flash kept) or go silent at a chosen byte of the traffic.
 *
 *   client fd (test) <-> proxy <-> sim fd (bootloader thread)
 *
 * Header-only (static functions) so each suite stays one file; included by test_an3155.c,
 * test_sim_bootrom.c and test_flasher.c.
 */
#ifndef FLASH_SIM_HARNESS_H
#define FLASH_SIM_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim_bootrom.h"
#include "sim_flash.h"

typedef struct {
    /* the board */
    sim_flash_t flash;
    const sim_chip_t *chip;
    int dev_fd;          /* bootloader's end */
    int stop[2];
    pthread_t th;
    bool running;
    volatile int n_go;
    volatile uint32_t go_addr;
    /* the proxy */
    int host_fd;         /* the test's end */
    int px_host, px_dev; /* proxy's ends */
    int px_stop[2];
    pthread_t px_th;
    pthread_mutex_t mu;
    uint64_t h2d, d2h;   /* bytes forwarded each way */
    int64_t corrupt_h2d_at, corrupt_d2h_at, reset_h2d_at, silent_h2d_at;
    bool silent;
    int resets;
} simrig_t;

static inline void *simrig_board(void *arg)
{
    simrig_t *r = arg;
    sim_bootrom_opts_t o = { .line = NULL, .stop_fd = r->stop[0] };
    for (;;) {
        uint32_t go = 0;
        sim_bootrom_result_t res = sim_bootrom_serve(r->dev_fd, &r->flash, r->chip, &o, &go);
        if (res != SIM_BOOTROM_GO)
            break;
        r->go_addr = go;
        r->n_go++; /* the image "boots"; the rig's board then falls back to its bootloader */
    }
    return NULL;
}

static inline void simrig_board_start(simrig_t *r)
{
    if (pipe(r->stop) != 0)
        abort();
    r->running = pthread_create(&r->th, NULL, simrig_board, r) == 0;
}

static inline void simrig_board_stop(simrig_t *r)
{
    if (!r->running)
        return;
    if (write(r->stop[1], "x", 1) != 1)
        abort();
    pthread_join(r->th, NULL);
    close(r->stop[0]);
    close(r->stop[1]);
    r->running = false;
    /* Bytes the old bootloader never read are lost with the reset. */
    uint8_t junk[512];
    while (recv(r->dev_fd, junk, sizeof(junk), MSG_DONTWAIT) > 0) {
    }
}

/* Restarts the bootloader: unsynchronised again, flash kept. */
static inline void simrig_reset(simrig_t *r)
{
    simrig_board_stop(r);
    r->resets++;
    simrig_board_start(r);
}

static inline void *simrig_proxy(void *arg)
{
    simrig_t *r = arg;
    uint8_t buf[1024];
    for (;;) {
        struct pollfd p[3] = { { .fd = r->px_host, .events = POLLIN },
                               { .fd = r->px_dev, .events = POLLIN },
                               { .fd = r->px_stop[0], .events = POLLIN } };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (p[2].revents)
            return NULL;
        if (p[0].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(r->px_host, buf, sizeof(buf));
            if (n <= 0)
                return NULL;
            pthread_mutex_lock(&r->mu);
            int64_t lo = (int64_t)r->h2d, hi = lo + n;
            r->h2d += (uint64_t)n;
            if (r->corrupt_h2d_at >= lo && r->corrupt_h2d_at < hi) {
                buf[r->corrupt_h2d_at - lo] ^= 0x10;
                r->corrupt_h2d_at = -1;
            }
            bool reset = r->reset_h2d_at >= lo && r->reset_h2d_at < hi;
            if (r->silent_h2d_at >= lo && r->silent_h2d_at < hi) {
                r->silent = true;
                r->silent_h2d_at = -1;
            }
            bool drop = r->silent;
            pthread_mutex_unlock(&r->mu);
            if (reset) {
                /* Bytes before the reset point reach the old bootloader; the rest are lost. */
                size_t before = (size_t)(r->reset_h2d_at - lo);
                if (before > 0 && write(r->px_dev, buf, before) != (ssize_t)before)
                    return NULL;
                usleep(20000);
                pthread_mutex_lock(&r->mu);
                r->reset_h2d_at = -1;
                pthread_mutex_unlock(&r->mu);
                simrig_reset(r);
                continue;
            }
            if (!drop && write(r->px_dev, buf, (size_t)n) != n)
                return NULL;
        }
        if (p[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(r->px_dev, buf, sizeof(buf));
            if (n <= 0)
                return NULL;
            pthread_mutex_lock(&r->mu);
            int64_t lo = (int64_t)r->d2h, hi = lo + n;
            r->d2h += (uint64_t)n;
            if (r->corrupt_d2h_at >= lo && r->corrupt_d2h_at < hi) {
                buf[r->corrupt_d2h_at - lo] ^= 0x10;
                r->corrupt_d2h_at = -1;
            }
            bool drop = r->silent;
            pthread_mutex_unlock(&r->mu);
            if (!drop && write(r->px_host, buf, (size_t)n) != n)
                return NULL;
        }
    }
}

/* Starts a board of the given kind ("h7a3zi", "l4r5zi") with erased flash, and the proxy. */
static inline int simrig_start(simrig_t *r, const char *board)
{
    int a[2], b[2];
    memset(r, 0, sizeof(*r));
    r->corrupt_h2d_at = r->corrupt_d2h_at = r->reset_h2d_at = r->silent_h2d_at = -1;
    r->chip = sim_chip_by_name(board);
    if (r->chip == NULL)
        return -1;
    if (sim_flash_open(&r->flash, NULL, r->chip->flash_bytes, r->chip->page_bytes) != 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, b) != 0)
        return -1;
    r->host_fd = a[0];
    r->px_host = a[1];
    r->px_dev = b[0];
    r->dev_fd = b[1];
    pthread_mutex_init(&r->mu, NULL);
    if (pipe(r->px_stop) != 0)
        return -1;
    simrig_board_start(r);
    if (pthread_create(&r->px_th, NULL, simrig_proxy, r) != 0)
        return -1;
    return 0;
}

static inline void simrig_stop(simrig_t *r)
{
    if (write(r->px_stop[1], "x", 1) != 1)
        abort();
    pthread_join(r->px_th, NULL);
    simrig_board_stop(r);
    close(r->px_stop[0]);
    close(r->px_stop[1]);
    close(r->host_fd);
    close(r->px_host);
    close(r->px_dev);
    close(r->dev_fd);
    sim_flash_close(&r->flash);
    pthread_mutex_destroy(&r->mu);
}

/* Arms a fault at a byte offset from now in the host->device stream (or device->host). */
static inline void simrig_corrupt_h2d(simrig_t *r, uint64_t after)
{
    pthread_mutex_lock(&r->mu);
    r->corrupt_h2d_at = (int64_t)(r->h2d + after);
    pthread_mutex_unlock(&r->mu);
}
static inline void simrig_corrupt_d2h(simrig_t *r, uint64_t after)
{
    pthread_mutex_lock(&r->mu);
    r->corrupt_d2h_at = (int64_t)(r->d2h + after);
    pthread_mutex_unlock(&r->mu);
}
static inline void simrig_reset_h2d(simrig_t *r, uint64_t after)
{
    pthread_mutex_lock(&r->mu);
    r->reset_h2d_at = (int64_t)(r->h2d + after);
    pthread_mutex_unlock(&r->mu);
}
static inline void simrig_silent_h2d(simrig_t *r, uint64_t after)
{
    pthread_mutex_lock(&r->mu);
    r->silent_h2d_at = (int64_t)(r->h2d + after);
    pthread_mutex_unlock(&r->mu);
}
static inline void simrig_talk(simrig_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->silent = false;
    pthread_mutex_unlock(&r->mu);
}

#endif /* FLASH_SIM_HARNESS_H */
