/*
 * sim_board_client.h — a minimal gateway for tests that drive microt-sim over its pty: start and
 * stop the simulator (by PID), a link on the transport, send a request, wait for its reply, stream
 * chunks through the link window. Header-only (static functions) so each test binary includes
 * its own copy; the state is one static board.
 */
#ifndef MICROT_TEST_SIM_BOARD_CLIENT_H
#define MICROT_TEST_SIM_BOARD_CLIENT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "link.h"
#include "microt.pb.h"
#include "pb_decode.h"
#include "pb_encode.h"
#include "transport.h"

#define SBC_RX_MAX 64

typedef struct {
    char *dir;
    char pty[300];
    char flash[300];
    pid_t pid;
    transport_t *tr;
    link_t link;
    microt_Message rx[SBC_RX_MAX];
    unsigned n_rx;
    uint32_t next_id;
} sbc_board_t;

static sbc_board_t sbc;

static inline void sbc_on_write(void *ctx, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    (void)transport_write(sbc.tr, bytes, len, 2000);
}

static inline void sbc_on_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    (void)ctx;
    pb_istream_t is = pb_istream_from_buffer(payload, len);
    if (sbc.n_rx < SBC_RX_MAX && pb_decode(&is, microt_Message_fields, &sbc.rx[sbc.n_rx]))
        sbc.n_rx++;
}

/* Creates the temporary folder (pty link and flash file live there). */
static inline int sbc_setup(void)
{
    memset(&sbc, 0, sizeof(sbc));
    sbc.dir = harness_mkdtemp("board5");
    if (sbc.dir == NULL)
        return -1;
    snprintf(sbc.pty, sizeof(sbc.pty), "%s/board", sbc.dir);
    snprintf(sbc.flash, sizeof(sbc.flash), "%s/flash.bin", sbc.dir);
    sbc.next_id = 1;
    return 0;
}

static inline void sbc_teardown(void)
{
    harness_rmdir(sbc.dir);
}

/* Starts microt-sim with extra arguments (NULL-terminated list, may be NULL) and opens a link. */
static inline int sbc_start(const char *board_name, char *const *extra)
{
    char sim[300], log[320];
    char *argv[32];
    int argc = 0;
    snprintf(sim, sizeof(sim), "%s/microt-sim", harness_build_dir());
    argv[argc++] = sim;
    argv[argc++] = "--pty";
    argv[argc++] = sbc.pty;
    argv[argc++] = "--board";
    argv[argc++] = (char *)board_name;
    argv[argc++] = "--flash";
    argv[argc++] = sbc.flash;
    for (int i = 0; extra != NULL && extra[i] != NULL && argc < 30; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    snprintf(log, sizeof(log), "%s/sim.log", sbc.dir);
    unlink(sbc.pty);
    sbc.pid = harness_spawn(argv, log);
    if (sbc.pid <= 0)
        return -1;
    for (int i = 0; i < 200 && access(sbc.pty, F_OK) != 0; i++)
        usleep(20000);
    if (transport_open(sbc.pty, 115200, &sbc.tr) != 0)
        return -1;
    link_config_t cfg = {.window = 4, .max_payload = LINK_MAX_PAYLOAD, .rto_ms = 300,
                         .max_retries = 20, .session_id = (uint32_t)harness_now_ms() | 1u};
    sbc.n_rx = 0;
    return link_init(&sbc.link, &cfg, sbc_on_write, sbc_on_deliver, NULL) == LINK_OK ? 0 : -1;
}

/* Stops the simulator with sig (SIGKILL: a board losing power). */
static inline void sbc_stop(int sig)
{
    transport_close(sbc.tr);
    sbc.tr = NULL;
    harness_stop(sbc.pid, sig);
    sbc.pid = 0;
}

static inline void sbc_pump(int timeout_ms)
{
    uint8_t buf[4096];
    ssize_t n = transport_read(sbc.tr, buf, sizeof(buf), timeout_ms);
    if (n > 0)
        link_input(&sbc.link, buf, (size_t)n, (uint32_t)harness_now_ms());
    link_poll(&sbc.link, (uint32_t)harness_now_ms());
}

/* Queues one message on the link, waiting for window room. */
static inline int sbc_send(microt_Message *m)
{
    static uint8_t buf[LINK_MAX_PAYLOAD];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
    long long end = harness_now_ms() + 10000;
    if (!pb_encode(&os, microt_Message_fields, m))
        return -1;
    while (harness_now_ms() < end) {
        link_status_t st = link_send(&sbc.link, buf, os.bytes_written, (uint32_t)harness_now_ms());
        if (st == LINK_OK)
            return 0;
        if (st != LINK_EFULL)
            return -1;
        sbc_pump(5);
    }
    return -1;
}

/* Waits for a message with this id (id 0: the first event with body tag `tag`). */
static inline int sbc_wait(uint32_t id, pb_size_t tag, microt_Message *out, int timeout_ms)
{
    long long end = harness_now_ms() + timeout_ms;
    for (;;) {
        for (unsigned i = 0; i < sbc.n_rx; i++) {
            if (sbc.rx[i].id == id && (id != 0 || sbc.rx[i].which_body == tag)) {
                *out = sbc.rx[i];
                memmove(&sbc.rx[i], &sbc.rx[i + 1], (sbc.n_rx - i - 1) * sizeof(sbc.rx[0]));
                sbc.n_rx--;
                return 0;
            }
        }
        if (harness_now_ms() >= end)
            return -1;
        sbc_pump(10);
    }
}

/* Sends a request (its id is assigned here) and waits for the reply. */
static inline int sbc_call(microt_Message *req, microt_Message *reply, int timeout_ms)
{
    req->id = sbc.next_id++;
    if (sbc_send(req) != 0)
        return -1;
    return sbc_wait(req->id, 0, reply, timeout_ms);
}

/* Streams bytes [from, to) of data as TransferChunks of chunk bytes (no replies). */
static inline int sbc_chunks(const uint8_t *data, uint32_t from, uint32_t to, uint32_t chunk)
{
    static microt_Message m;
    for (uint32_t off = from; off < to; off += chunk) {
        uint32_t n = to - off < chunk ? to - off : chunk;
        memset(&m, 0, sizeof(m));
        m.id = sbc.next_id++;
        m.which_body = microt_Message_transfer_chunk_tag;
        m.body.transfer_chunk.offset = off;
        m.body.transfer_chunk.data.size = (pb_size_t)n;
        memcpy(m.body.transfer_chunk.data.bytes, data + off, n);
        if (sbc_send(&m) != 0)
            return -1;
    }
    return 0;
}

/* Waits until every queued frame has been acknowledged. */
static inline int sbc_drain(int timeout_ms)
{
    long long end = harness_now_ms() + timeout_ms;
    while (link_tx_free(&sbc.link) < sbc.link.cfg.window) {
        if (harness_now_ms() >= end)
            return -1;
        sbc_pump(5);
    }
    return 0;
}

#endif /* MICROT_TEST_SIM_BOARD_CLIENT_H */
