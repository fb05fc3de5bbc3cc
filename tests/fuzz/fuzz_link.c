/*
 * fuzz_link.c — libFuzzer target for the frame decoder and the protobuf decode path.
 *
 * The first input byte picks a mode; the rest is:
 *   0  raw wire bytes fed to link_input (garbage, partial frames, bad COBS),
 *   1  records [len_lo len_hi bytes...]: each becomes a frame body (header + payload) that the
 *      harness closes with a correct CRC-32 and COBS-encodes, so the fuzzer reaches the header
 *      logic (types, flags, sessions, seq/ack arithmetic) and delivery,
 *   2  one payload sent by a real peer link through the whole path.
 * Every delivered payload is decoded as a microt.Message with nanopb (then re-encoded: a message
 * nanopb accepted must encode again within microt_Message_size). Built by `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "cobs.h"
#include "crc32.h"
#include "link.h"
#include "microt.pb.h"

typedef struct {
    uint8_t buf[4 * LINK_WIRE_MAX];
    size_t len;
} fuzz_pipe_t;

static link_t fuzz_a, fuzz_b;
static fuzz_pipe_t fuzz_a_out, fuzz_b_out;

static void fuzz_write(void *ctx, const uint8_t *bytes, size_t len)
{
    fuzz_pipe_t *p = ctx;
    if (len > sizeof(p->buf) - p->len)
        p->len = 0; /* the harness drains often; dropping old bytes is just more loss */
    memcpy(p->buf + p->len, bytes, len);
    p->len += len;
}

static void fuzz_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    microt_Message msg = microt_Message_init_zero;
    pb_istream_t in = pb_istream_from_buffer(payload, len);
    uint8_t again[microt_Message_size];
    pb_ostream_t out = pb_ostream_from_buffer(again, sizeof(again));

    (void)ctx;
    if (len > LINK_MAX_PAYLOAD)
        abort(); /* the link promised to bound payloads */
    if (!pb_decode(&in, microt_Message_fields, &msg))
        return;
    if (!pb_encode(&out, microt_Message_fields, &msg))
        abort();
}

static void fuzz_setup(void)
{
    link_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.window = LINK_WINDOW_MAX;
    cfg.max_payload = LINK_MAX_PAYLOAD;
    cfg.rto_ms = 20;
    cfg.max_retries = 3;
    cfg.session_id = 0x11223344u;
    fuzz_a_out.len = fuzz_b_out.len = 0;
    if (link_init(&fuzz_b, &cfg, fuzz_write, fuzz_deliver, &fuzz_b_out) != LINK_OK)
        abort();
    cfg.session_id = 0x55667788u;
    if (link_init(&fuzz_a, &cfg, fuzz_write, fuzz_deliver, &fuzz_a_out) != LINK_OK)
        abort();
}

static void fuzz_check(const link_t *l)
{
    const link_stats_t *st = link_stats(l);
    if (link_tx_free(l) > l->cfg.window || st->frames_rx > st->bytes_rx)
        abort();
}

/* Closes a frame body with its CRC, encodes it and feeds it to B. */
static void fuzz_feed_body(const uint8_t *body, size_t len, uint32_t now_ms)
{
    static uint8_t frame[LINK_FRAME_MAX + 8], wire[LINK_WIRE_MAX + 16];
    uint32_t crc = crc32_update(0, body, len);
    size_t n;

    memcpy(frame, body, len);
    frame[len] = (uint8_t)crc;
    frame[len + 1] = (uint8_t)(crc >> 8);
    frame[len + 2] = (uint8_t)(crc >> 16);
    frame[len + 3] = (uint8_t)(crc >> 24);
    n = cobs_encode(frame, len + 4, wire, sizeof(wire) - 1);
    if (n == 0)
        abort();
    wire[n++] = 0;
    link_input(&fuzz_b, wire, n, now_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t now_ms = 1000;
    size_t i;

    if (size < 1)
        return 0;
    fuzz_setup();
    switch (data[0] % 3u) {
    case 0: {
        /* raw bytes, in two pieces split where the second byte says */
        size_t split = size > 1 ? 1u + data[1] % (size - 1) : 1u;
        link_input(&fuzz_b, data + 1, split - 1, now_ms);
        link_input(&fuzz_b, data + split, size - split, now_ms + 5);
        break;
    }
    case 1:
        for (i = 1; i + 2 <= size;) {
            size_t len = (size_t)(data[i] | (data[i + 1] << 8)) % (LINK_FRAME_MAX - 3u);
            i += 2;
            if (len > size - i)
                len = size - i;
            fuzz_feed_body(data + i, len, now_ms);
            i += len;
            now_ms += 7;
            if (link_poll(&fuzz_b, now_ms) == LINK_EINVAL)
                abort();
        }
        break;
    default: {
        size_t len = size - 1 > LINK_MAX_PAYLOAD ? LINK_MAX_PAYLOAD : size - 1;
        if (link_send(&fuzz_a, data + 1, len, now_ms) != LINK_OK)
            abort();
        /* shuttle between the two links until quiet */
        for (i = 0; i < 8 && (fuzz_a_out.len || fuzz_b_out.len); i++) {
            static uint8_t tmp[sizeof(fuzz_a_out.buf)];
            size_t n = fuzz_a_out.len;
            memcpy(tmp, fuzz_a_out.buf, n);
            fuzz_a_out.len = 0;
            link_input(&fuzz_b, tmp, n, now_ms);
            n = fuzz_b_out.len;
            memcpy(tmp, fuzz_b_out.buf, n);
            fuzz_b_out.len = 0;
            link_input(&fuzz_a, tmp, n, now_ms);
        }
        if (link_tx_free(&fuzz_a) != LINK_WINDOW_MAX)
            abort(); /* a lossless exchange must have acknowledged the payload */
        break;
    }
    }
    fuzz_check(&fuzz_a);
    fuzz_check(&fuzz_b);
    return 0;
}
