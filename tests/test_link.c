/*
 * test_link.c — the link layer, end to end: two link_t connected back to back through an
 * in-memory channel with a simulated millisecond clock. The channel adds latency and injects
 * faults (drop every Nth frame, random loss or bit flips from a fixed seed, garbage); both
 * sides carry a message stream whose content the receiver regenerates and checks, so any loss,
 * reordering, duplicate or corruption of a delivered payload fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cobs.h"
#include "link.h"

/* ---------------------------------------------------------------- the lossy channel ---- */

#define CHAN_CAP 512u

typedef struct {
    uint32_t at_ms;
    uint16_t len;
    uint8_t data[LINK_WIRE_MAX + 1u];
} chan_pkt_t;

typedef struct {
    chan_pkt_t q[CHAN_CAP];
    unsigned head, count;
    uint32_t latency_ms;
    unsigned drop_every;     /* drop every Nth frame written (0: none) */
    unsigned loss_permille;  /* random loss */
    unsigned flip_permille;  /* random single-bit corruption */
    int blackhole;           /* drop everything */
    int capture;             /* keep frames out of the queue, in captured[] */
    uint32_t rng;
    unsigned written, dropped, overflowed;
    chan_pkt_t captured;
    unsigned n_captured;
} chan_t;

static uint32_t sim_now_ms;

static uint32_t rng_next(uint32_t *s)
{
    /* xorshift32: deterministic for a given seed */
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static void chan_init(chan_t *ch, uint32_t latency_ms, uint32_t seed)
{
    memset(ch, 0, sizeof(*ch));
    ch->latency_ms = latency_ms;
    ch->rng = seed ? seed : 1u;
}

static void chan_write(void *ctx, const uint8_t *bytes, size_t len)
{
    chan_t *ch = ctx;
    chan_pkt_t *p;

    assert_true(len > 0 && len <= LINK_WIRE_MAX + 1u);
    ch->written++;
    if (ch->capture) {
        memcpy(ch->captured.data, bytes, len);
        ch->captured.len = (uint16_t)len;
        ch->n_captured++;
        return;
    }
    if (ch->blackhole || (ch->drop_every && ch->written % ch->drop_every == 0) ||
        (ch->loss_permille && rng_next(&ch->rng) % 1000u < ch->loss_permille)) {
        ch->dropped++;
        return;
    }
    if (ch->count == CHAN_CAP) {
        ch->overflowed++;
        return;
    }
    p = &ch->q[(ch->head + ch->count) % CHAN_CAP];
    memcpy(p->data, bytes, len);
    p->len = (uint16_t)len;
    p->at_ms = sim_now_ms + ch->latency_ms;
    if (ch->flip_permille && rng_next(&ch->rng) % 1000u < ch->flip_permille) {
        uint32_t bit = rng_next(&ch->rng) % (uint32_t)(len * 8u);
        p->data[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
    }
    ch->count++;
}

/* Feeds every packet due by now into `to`, in random pieces (the receiver must not care). */
static void chan_deliver(chan_t *ch, link_t *to)
{
    while (ch->count > 0 && (int32_t)(sim_now_ms - ch->q[ch->head].at_ms) >= 0) {
        chan_pkt_t *p = &ch->q[ch->head];
        size_t off = 0;
        while (off < p->len) {
            size_t piece = 1u + rng_next(&ch->rng) % 300u;
            if (piece > p->len - off)
                piece = p->len - off;
            link_input(to, p->data + off, piece, sim_now_ms);
            off += piece;
        }
        ch->head = (ch->head + 1u) % CHAN_CAP;
        ch->count--;
    }
}

/* ------------------------------------------------------ message streams and endpoints ---- */

/* Message k of a stream: the first 4 bytes are k (so a receiver can find its place after a
 * restart), the rest a pattern of k, the stream and the offset (zeros included, for COBS). */
typedef size_t (*gen_len_fn)(uint32_t k);

static size_t gen_len_std(uint32_t k)
{
    return 4u + (k * 37u) % 200u;
}

static size_t gen_len_sizes(uint32_t k)
{
    return k / 3u; /* every size 0..max, three patterns each */
}

static size_t capture_len; /* payload size of the frames in the capture tests */

static size_t gen_len_capture(uint32_t k)
{
    (void)k;
    return capture_len;
}

static size_t gen_len_small(uint32_t k)
{
    (void)k;
    return 4u;
}

static void gen_msg(uint32_t stream, uint32_t k, size_t len, uint8_t *out)
{
    size_t i;
    unsigned pattern = k % 3u;

    for (i = 0; i < len; i++) {
        if (pattern == 0)
            out[i] = (uint8_t)(k * 31u + i * 7u + stream);
        else if (pattern == 1)
            out[i] = 0;
        else
            out[i] = 0xFF;
    }
    if (len >= 4) {
        out[0] = (uint8_t)k;
        out[1] = (uint8_t)(k >> 8);
        out[2] = (uint8_t)(k >> 16);
        out[3] = (uint8_t)(k >> 24);
    }
}

typedef struct end end_t;
struct end {
    link_t link;
    chan_t *out;
    end_t *peer;
    gen_len_fn gen_len;
    uint32_t tx_stream, rx_stream; /* stream ids: a restarted side starts a new stream */
    uint32_t to_send, sent;        /* messages this side's app wants to send / has queued */
    uint32_t rx_next, rx_count;    /* next expected message; messages delivered */
    int rx_resync;                 /* after a restart: accept a new starting point once */
    uint32_t rx_first_after_resync;
    unsigned rx_errors;
    int echo;                      /* reply to each delivery from inside deliver() */
    int epeer;
    uint32_t epeer_at_ms;
};

static void end_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    end_t *e = ctx;
    uint8_t want[LINK_MAX_PAYLOAD];
    size_t want_len;

    if (e->rx_resync && len >= 4) {
        e->rx_next = (uint32_t)payload[0] | ((uint32_t)payload[1] << 8) |
                     ((uint32_t)payload[2] << 16) | ((uint32_t)payload[3] << 24);
        e->rx_first_after_resync = e->rx_next;
        e->rx_resync = 0;
    }
    want_len = e->peer->gen_len(e->rx_next);
    gen_msg(e->rx_stream, e->rx_next, want_len, want);
    if (len != want_len || (len > 0 && memcmp(payload, want, len) != 0)) {
        e->rx_errors++;
        fprintf(stderr, "delivery mismatch: message %u len %zu (want %zu)\n",
                (unsigned)e->rx_next, len, want_len);
    }
    e->rx_next++;
    e->rx_count++;
    if (e->echo) { /* an RPC reply: message number `sent` of this side's stream */
        uint8_t reply[LINK_MAX_PAYLOAD];
        size_t reply_len = e->gen_len(e->sent);
        gen_msg(e->tx_stream, e->sent, reply_len, reply);
        assert_int_equal(link_send(&e->link, reply, reply_len, sim_now_ms), LINK_OK);
        e->sent++;
        e->to_send++;
    }
}

static uint32_t pair_rto_ms = 50;   /* configuration of the next pair_init */
static uint8_t pair_max_retries = 20;

static link_config_t cfg_std(uint8_t window, uint32_t session)
{
    link_config_t c;
    memset(&c, 0, sizeof(c));
    c.window = window;
    c.max_payload = LINK_MAX_PAYLOAD;
    c.rto_ms = pair_rto_ms;
    c.max_retries = pair_max_retries;
    c.session_id = session;
    return c;
}

static chan_t chan_ab, chan_ba;
static end_t end_a, end_b;

/* link_init takes one ctx for both callbacks: the write callback finds the channel via the end. */
static void end_write(void *ctx, const uint8_t *bytes, size_t len)
{
    end_t *e = ctx;
    chan_write(e->out, bytes, len);
}

static void pair_init(uint8_t window, uint32_t latency_ms, uint32_t seed)
{
    link_config_t ca = cfg_std(window, 0xA0000001u), cb = cfg_std(window, 0xB0000001u);

    sim_now_ms = 1000;
    chan_init(&chan_ab, latency_ms, seed);
    chan_init(&chan_ba, latency_ms, seed * 7u + 3u);
    memset(&end_a, 0, sizeof(end_a));
    memset(&end_b, 0, sizeof(end_b));
    end_a.peer = &end_b;
    end_a.out = &chan_ab;
    end_a.gen_len = gen_len_std;
    end_a.tx_stream = 1;
    end_a.rx_stream = 2;
    end_b.peer = &end_a;
    end_b.out = &chan_ba;
    end_b.gen_len = gen_len_std;
    end_b.tx_stream = 2;
    end_b.rx_stream = 1;
    assert_int_equal(link_init(&end_a.link, &ca, end_write, end_deliver, &end_a), LINK_OK);
    assert_int_equal(link_init(&end_b.link, &cb, end_write, end_deliver, &end_b), LINK_OK);
}

/* The application's side: queue messages while the window allows. */
static void end_pump(end_t *e)
{
    uint8_t buf[LINK_MAX_PAYLOAD];

    while (!e->epeer && e->sent < e->to_send) {
        size_t len = e->gen_len(e->sent);
        link_status_t st;
        unsigned free_before = link_tx_free(&e->link);

        gen_msg(e->tx_stream, e->sent, len, buf);
        st = link_send(&e->link, buf, len, sim_now_ms);
        if (st == LINK_EFULL) {
            assert_int_equal(free_before, 0);
            break;
        }
        assert_int_equal(st, LINK_OK);
        assert_true(free_before >= 1);
        assert_int_equal(link_tx_free(&e->link), free_before - 1u);
        e->sent++;
    }
}

static void end_poll(end_t *e)
{
    link_status_t st = link_poll(&e->link, sim_now_ms);
    if (st == LINK_EPEER && !e->epeer) {
        e->epeer = 1;
        e->epeer_at_ms = sim_now_ms;
    }
}

/* One simulated millisecond for both sides. */
static void sim_step(void)
{
    chan_deliver(&chan_ab, &end_b.link);
    chan_deliver(&chan_ba, &end_a.link);
    end_pump(&end_a);
    end_pump(&end_b);
    end_poll(&end_a);
    end_poll(&end_b);
    assert_int_equal(chan_ab.overflowed + chan_ba.overflowed, 0);
    sim_now_ms++;
}

static int sim_done(void)
{
    return end_a.sent == end_a.to_send && end_b.sent == end_b.to_send &&
           link_tx_free(&end_a.link) == end_a.link.cfg.window &&
           link_tx_free(&end_b.link) == end_b.link.cfg.window && chan_ab.count == 0 &&
           chan_ba.count == 0;
}

/* Runs until both streams are sent and acknowledged; returns the simulated time it took. */
static uint32_t sim_run(uint32_t limit_ms)
{
    uint32_t start = sim_now_ms;
    while (!sim_done()) {
        assert_true(sim_now_ms - start < limit_ms);
        assert_false(end_a.epeer || end_b.epeer);
        sim_step();
    }
    return sim_now_ms - start;
}

static void expect_all_delivered(void)
{
    assert_int_equal(end_a.rx_errors, 0);
    assert_int_equal(end_b.rx_errors, 0);
    assert_int_equal(end_b.rx_next, end_a.to_send);
    assert_int_equal(end_a.rx_next, end_b.to_send);
}

/* ------------------------------------------------------------------------- the tests ---- */

static void test_config_and_args(void **state)
{
    link_t l;
    link_config_t c = cfg_std(4, 1);
    uint8_t big[LINK_MAX_PAYLOAD + 1];

    (void)state;
    memset(big, 1, sizeof(big));
    assert_int_equal(link_init(&l, &c, NULL, end_deliver, NULL), LINK_EINVAL);
    assert_int_equal(link_init(&l, &c, end_write, NULL, NULL), LINK_EINVAL);
    c.window = 0;
    assert_int_equal(link_init(&l, &c, end_write, end_deliver, NULL), LINK_EINVAL);
    c.window = LINK_WINDOW_MAX + 1;
    assert_int_equal(link_init(&l, &c, end_write, end_deliver, NULL), LINK_EINVAL);
    c = cfg_std(4, 1);
    c.max_payload = 0;
    assert_int_equal(link_init(&l, &c, end_write, end_deliver, NULL), LINK_EINVAL);
    c.max_payload = LINK_MAX_PAYLOAD + 1;
    assert_int_equal(link_init(&l, &c, end_write, end_deliver, NULL), LINK_EINVAL);
    c = cfg_std(4, 1);
    c.rto_ms = 0;
    assert_int_equal(link_init(&l, &c, end_write, end_deliver, NULL), LINK_EINVAL);

    pair_init(4, 1, 1);
    c = cfg_std(4, 1);
    c.max_payload = 100;
    assert_int_equal(link_init(&end_a.link, &c, end_write, end_deliver, &end_a), LINK_OK);
    assert_int_equal(link_send(&end_a.link, big, 101, sim_now_ms), LINK_ETOOBIG);
    assert_int_equal(link_send(&end_a.link, NULL, 5, sim_now_ms), LINK_EINVAL);
    assert_int_equal(chan_ab.written, 0); /* nothing went out for refused sends */
    assert_int_equal(link_tx_free(&end_a.link), 4);
    assert_int_equal(link_send(&end_a.link, big, 100, sim_now_ms), LINK_OK);
    assert_int_equal(link_tx_free(&end_a.link), 3);
}

/* Every payload size 0..max_payload, three patterns each (mixed, all 0x00, all 0xFF), both
 * directions at once. */
static void test_round_trip_all_sizes(void **state)
{
    (void)state;
    pair_init(LINK_WINDOW_MAX, 2, 11);
    end_a.gen_len = gen_len_sizes;
    end_b.gen_len = gen_len_sizes;
    end_a.to_send = end_b.to_send = 3u * (LINK_MAX_PAYLOAD + 1u);
    /* Sizes below 4 carry no message number: the receiver relies on order alone, as it should. */
    sim_run(600000);
    expect_all_delivered();
    assert_int_equal(end_a.link.stats.retransmits + end_b.link.stats.retransmits, 0);
    assert_int_equal(end_a.link.stats.crc_errors + end_b.link.stats.crc_errors, 0);
    assert_int_equal(end_b.link.stats.bytes_rx, end_a.link.stats.bytes_tx);
}

/* Establishes a session A<->B and leaves the next frame of A captured, not delivered. */
static void capture_frame_a_to_b(size_t payload_len, chan_pkt_t *frame)
{
    uint8_t buf[LINK_MAX_PAYLOAD];

    pair_init(2, 1, 5);
    capture_len = payload_len;
    end_a.gen_len = gen_len_capture;
    end_a.to_send = 1;
    end_b.to_send = 1;
    sim_run(10000);
    expect_all_delivered();
    chan_ab.capture = 1;
    gen_msg(1, 1, payload_len, buf);
    assert_int_equal(link_send(&end_a.link, buf, payload_len, sim_now_ms), LINK_OK);
    chan_ab.capture = 0;
    assert_int_equal(chan_ab.n_captured, 1);
    *frame = chan_ab.captured;
}

static const size_t flip_sizes[] = {0, 1, 2, 100, 239, 240, 241, 254, 255, 508, LINK_MAX_PAYLOAD};

/* Every single-bit flip of a wire frame (COBS bytes and delimiter) and of the decoded frame is
 * rejected: nothing delivered, an error counted, no acknowledgement sent. */
static void test_crc_rejects_every_bit_flip(void **state)
{
    static link_t snapshot;
    static chan_pkt_t frame;
    static uint8_t raw[LINK_FRAME_MAX], wire[LINK_WIRE_MAX + 2];
    static const uint8_t delim = 0;
    size_t si;

    (void)state;
    for (si = 0; si < sizeof(flip_sizes) / sizeof(flip_sizes[0]); si++) {
        size_t bit, nbits, start;
        long raw_len;

        capture_frame_a_to_b(flip_sizes[si], &frame);
        snapshot = end_b.link;
        /* Flips on the wire. */
        nbits = (size_t)frame.len * 8u;
        for (bit = 0; bit < nbits; bit++) {
            uint32_t errors = snapshot.stats.crc_errors;
            unsigned acks = chan_ba.written, delivered = end_b.rx_count;
            end_b.link = snapshot;
            memcpy(wire, frame.data, frame.len);
            wire[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            link_input(&end_b.link, wire, frame.len, sim_now_ms);
            link_input(&end_b.link, &delim, 1, sim_now_ms); /* in case the delimiter was hit */
            assert_int_equal(end_b.rx_count, delivered);
            assert_true(end_b.link.stats.crc_errors > errors);
            assert_int_equal(chan_ba.written, acks);
        }
        /* Flips of the frame itself, re-encoded (pure CRC coverage). */
        start = frame.data[0] == 0 ? 1u : 0u; /* a leading sync delimiter */
        raw_len = cobs_decode(frame.data + start, frame.len - start - 1u, raw, sizeof(raw));
        assert_int_equal(raw_len, (long)(LINK_HEADER_BYTES + flip_sizes[si] + LINK_CRC_BYTES));
        for (bit = 0; bit < (size_t)raw_len * 8u; bit++) {
            size_t n;
            uint32_t errors = snapshot.stats.crc_errors;
            end_b.link = snapshot;
            raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            n = cobs_encode(raw, (size_t)raw_len, wire, sizeof(wire) - 1u);
            raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_true(n > 0);
            wire[n++] = 0;
            link_input(&end_b.link, wire, n, sim_now_ms);
            assert_int_equal(end_b.rx_count, 1);
            assert_int_equal(end_b.link.stats.crc_errors, errors + 1u);
        }
        /* The untouched frame is accepted. */
        end_b.link = snapshot;
        link_input(&end_b.link, frame.data, frame.len, sim_now_ms);
        assert_int_equal(end_b.rx_count, 2);
        assert_int_equal(end_b.rx_errors, 0);
    }
}

/* Garbage, overlong garbage and truncated frames cost at most the frame they touch: the
 * receiver is in step again at the next delimiter. */
static void test_resync_after_garbage_and_truncation(void **state)
{
    static chan_pkt_t f1, f2;
    static uint8_t junk[3 * LINK_WIRE_MAX];
    static const uint8_t delim = 0;
    link_t saved;
    size_t i, cut;
    uint32_t rng = 99;

    (void)state;
    capture_frame_a_to_b(300, &f1);
    saved = end_b.link;

    /* random garbage with zeros in it, then a valid frame */
    for (i = 0; i < 500; i++)
        junk[i] = (uint8_t)rng_next(&rng);
    link_input(&end_b.link, junk, 500, sim_now_ms);
    link_input(&end_b.link, &delim, 1, sim_now_ms);
    assert_true(end_b.link.stats.crc_errors > saved.stats.crc_errors);
    link_input(&end_b.link, f1.data, f1.len, sim_now_ms);
    assert_int_equal(end_b.rx_count, 2);

    /* garbage longer than any frame, without a zero: one error, then in step again */
    end_b.link = saved;
    end_b.rx_count = 1;
    end_b.rx_next = 1;
    memset(junk, 0xA5, sizeof(junk));
    link_input(&end_b.link, junk, sizeof(junk), sim_now_ms);
    link_input(&end_b.link, &delim, 1, sim_now_ms);
    assert_int_equal(end_b.link.stats.crc_errors, saved.stats.crc_errors + 1u);
    link_input(&end_b.link, f1.data, f1.len, sim_now_ms);
    assert_int_equal(end_b.rx_count, 2);

    /* a frame truncated at every possible point, then the delimiter, then the whole frame */
    for (cut = 1; cut + 1 < f1.len; cut++) {
        end_b.link = saved;
        end_b.rx_count = 1;
        end_b.rx_next = 1;
        link_input(&end_b.link, f1.data, cut, sim_now_ms);
        link_input(&end_b.link, &delim, 1, sim_now_ms);
        link_input(&end_b.link, f1.data, f1.len, sim_now_ms);
        assert_int_equal(end_b.rx_count, 2);
    }

    /* the whole frame fed one byte at a time */
    end_b.link = saved;
    end_b.rx_count = 1;
    end_b.rx_next = 1;
    for (i = 0; i < f1.len; i++)
        link_input(&end_b.link, f1.data + i, 1, sim_now_ms);
    assert_int_equal(end_b.rx_count, 2);
    assert_int_equal(end_b.rx_errors, 0);

    /* A new link sends a 0x00 before its first frame, so garbage already in the receiver (a
     * board's boot noise) does not swallow that frame. */
    capture_frame_a_to_b(10, &f2);
    chan_ab.capture = 1;
    link_reset(&end_a.link, 0xA0000002u);
    end_a.tx_stream = 9;
    end_b.rx_stream = 9;
    end_b.rx_resync = 1;
    end_b.rx_first_after_resync = UINT32_MAX;
    end_a.sent = 0;
    end_a.to_send = 1;
    end_pump(&end_a); /* message 0 of the new session's stream */
    chan_ab.capture = 0;
    assert_int_equal(chan_ab.n_captured, 2);
    f2 = chan_ab.captured;
    assert_int_equal(f2.data[0], 0);
    saved = end_b.link;
    link_input(&end_b.link, junk, 40, sim_now_ms); /* 0xA5 garbage, no delimiter */
    link_input(&end_b.link, f2.data, f2.len, sim_now_ms);
    assert_int_equal(end_b.link.stats.crc_errors, saved.stats.crc_errors + 1u);
    assert_int_equal(end_b.link.stats.frames_rx, saved.stats.frames_rx + 1u);
    assert_int_equal(end_b.link.stats.peer_resets, saved.stats.peer_resets + 1u);
    /* and, being the first frame of A's new session, it is delivered at once */
    assert_int_equal(end_b.rx_count, 2);
    assert_int_equal(end_b.rx_first_after_resync, 0);
    assert_int_equal(end_b.rx_errors, 0);
}

/* A frame received twice is delivered once, counted, and acknowledged again. */
static void test_duplicate_dropped_and_reacked(void **state)
{
    static chan_pkt_t f;
    unsigned acks;

    (void)state;
    capture_frame_a_to_b(20, &f);
    link_input(&end_b.link, f.data, f.len, sim_now_ms);
    assert_int_equal(end_b.rx_count, 2);
    acks = chan_ba.written;
    link_input(&end_b.link, f.data, f.len, sim_now_ms);
    assert_int_equal(end_b.rx_count, 2);
    assert_int_equal(end_b.link.stats.duplicates, 1);
    assert_int_equal(chan_ba.written, acks + 1u);
    assert_int_equal(end_b.rx_errors, 0);
}

typedef struct {
    unsigned drop_ab, drop_ba;        /* every Nth */
    unsigned loss_ab, loss_ba;        /* permille */
    unsigned flip_ab, flip_ba;        /* permille */
    uint32_t seed;
} fault_t;

static void run_faulty(const fault_t *f, uint32_t n_a, uint32_t n_b)
{
    pair_init(LINK_WINDOW_MAX, 3, f->seed);
    chan_ab.drop_every = f->drop_ab;
    chan_ba.drop_every = f->drop_ba;
    chan_ab.loss_permille = f->loss_ab;
    chan_ba.loss_permille = f->loss_ba;
    chan_ab.flip_permille = f->flip_ab;
    chan_ba.flip_permille = f->flip_ba;
    end_a.to_send = n_a;
    end_b.to_send = n_b;
    sim_run(2000000);
    if (getenv("LINK_TEST_VERBOSE"))
        printf("# faults %u/%u drop, %u/%u loss, %u/%u flips: %u ms, A: %u rtx %u dup %u ooo, "
               "B: %u rtx %u dup %u ooo\n", f->drop_ab, f->drop_ba, f->loss_ab, f->loss_ba,
               f->flip_ab, f->flip_ba, (unsigned)(sim_now_ms - 1000),
               (unsigned)end_a.link.stats.retransmits, (unsigned)end_a.link.stats.duplicates,
               (unsigned)end_a.link.stats.out_of_order, (unsigned)end_b.link.stats.retransmits,
               (unsigned)end_b.link.stats.duplicates, (unsigned)end_b.link.stats.out_of_order);
    expect_all_delivered();
}

/* Deterministic loss: every Nth frame dropped, in one direction or both, one-way traffic and
 * two-way traffic. N is prime to the window: a period that divides the window would hit the
 * same frame of every go-back-N round forever. */
static void test_drop_every_nth(void **state)
{
    static const unsigned ns[] = {3, 5, 7};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        fault_t f;

        memset(&f, 0, sizeof(f));
        f.seed = 17;
        f.drop_ab = ns[i]; /* data lost */
        run_faulty(&f, 300, 0);
        assert_true(end_a.link.stats.retransmits > 0);
        assert_true(end_b.link.stats.out_of_order > 0);

        memset(&f, 0, sizeof(f));
        f.seed = 18;
        f.drop_ba = ns[i]; /* acks lost */
        run_faulty(&f, 300, 0);

        memset(&f, 0, sizeof(f));
        f.seed = 19;
        f.drop_ab = ns[i];
        f.drop_ba = ns[i] + 2u;
        run_faulty(&f, 300, 300); /* both directions, acks piggy-backed on data */
        assert_true(end_a.link.stats.retransmits > 0);
        assert_true(end_b.link.stats.retransmits > 0);
    }
}

/* Random loss from fixed seeds, both directions, up to 30 %. */
static void test_random_loss(void **state)
{
    static const unsigned permille[] = {50, 100, 300};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(permille) / sizeof(permille[0]); i++) {
        fault_t f;
        memset(&f, 0, sizeof(f));
        f.seed = 1234u + (uint32_t)i;
        f.loss_ab = f.loss_ba = permille[i];
        run_faulty(&f, 400, 400);
        assert_true(chan_ab.dropped > 0 && chan_ba.dropped > 0);
        assert_true(end_a.link.stats.retransmits > 0 && end_b.link.stats.retransmits > 0);
    }
}

/* Acknowledgements lost for longer than rto_ms: the sender resends frames the receiver already
 * has; they are dropped as duplicates (delivered once) but acknowledged again, which ends it. */
static void test_lost_acks_make_duplicates(void **state)
{
    int i;

    (void)state;
    pair_init(LINK_WINDOW_MAX, 3, 21);
    end_a.to_send = 200;
    end_b.to_send = 100;
    chan_ba.blackhole = 1;
    for (i = 0; i < 120; i++)
        sim_step();
    chan_ba.blackhole = 0;
    sim_run(100000);
    expect_all_delivered();
    assert_true(end_a.link.stats.retransmits >= LINK_WINDOW_MAX);
    assert_true(end_b.link.stats.duplicates >= LINK_WINDOW_MAX);
    assert_int_equal(end_b.rx_count, 200);
}

/* Random bit flips on the wire: the CRC catches them, the receiver resyncs, go-back-N repairs. */
static void test_random_corruption(void **state)
{
    fault_t f;

    (void)state;
    memset(&f, 0, sizeof(f));
    f.seed = 777;
    f.flip_ab = f.flip_ba = 100;
    run_faulty(&f, 400, 400);
    assert_true(end_a.link.stats.crc_errors + end_b.link.stats.crc_errors > 0);
}

/* At most `window` frames in flight: link_send refuses the next one with LINK_EFULL and queues
 * nothing; one acknowledgement frees exactly the slots it covers. */
static void test_window_limit(void **state)
{
    uint8_t w;
    uint8_t msg[8] = {0};

    (void)state;
    for (w = 1; w <= LINK_WINDOW_MAX; w++) {
        unsigned k;
        pair_init(w, 1, 3);
        chan_ab.blackhole = 1;
        for (k = 0; k < w; k++) {
            assert_int_equal(link_tx_free(&end_a.link), w - k);
            assert_int_equal(link_send(&end_a.link, msg, sizeof(msg), sim_now_ms), LINK_OK);
        }
        assert_int_equal(link_tx_free(&end_a.link), 0);
        assert_int_equal(link_send(&end_a.link, msg, sizeof(msg), sim_now_ms), LINK_EFULL);
        assert_int_equal(link_send(&end_a.link, msg, 0, sim_now_ms), LINK_EFULL);
        assert_int_equal(chan_ab.written, w);
    }
}

/* A window is not stop-and-wait: with a 20 ms one-way delay, window 8 moves the same stream
 * several times faster than window 1 (simulated time; nothing here depends on the host). */
static void test_window_throughput(void **state)
{
    uint32_t t1, t8;

    (void)state;
    pair_rto_ms = 200;
    pair_init(1, 20, 5);
    end_a.to_send = 200;
    t1 = sim_run(1000000);
    expect_all_delivered();

    pair_init(8, 20, 5);
    end_a.to_send = 200;
    t8 = sim_run(1000000);
    expect_all_delivered();
    pair_rto_ms = 50;

    printf("# 200 messages, 20 ms one way: window 1 %u ms, window 8 %u ms\n", (unsigned)t1,
           (unsigned)t8);
    assert_true(t1 >= 200u * 40u); /* stop-and-wait pays a round trip per message */
    assert_true(t8 * 6u <= t1);
    assert_int_equal(end_a.link.stats.retransmits, 0);
}

/* A peer that never answers: max_retries retransmissions rto_ms apart, then LINK_EPEER, which
 * sticks until link_reset. */
static void test_epeer_after_max_retries(void **state)
{
    uint8_t msg[16] = {1, 2, 3};
    uint32_t t0;
    int k;

    (void)state;
    pair_max_retries = 3;
    pair_init(4, 1, 3);
    pair_max_retries = 20;
    chan_ab.blackhole = 1;
    t0 = sim_now_ms;
    for (k = 0; k < 3; k++)
        assert_int_equal(link_send(&end_a.link, msg, sizeof(msg), sim_now_ms), LINK_OK);
    assert_int_equal(link_poll_due_ms(&end_a.link, sim_now_ms), 50);
    while (!end_a.epeer) {
        assert_true(sim_now_ms - t0 <= 1000);
        sim_step();
    }
    assert_int_equal(end_a.epeer_at_ms - t0, 4u * 50u); /* 3 retries, then the 4th timeout */
    assert_int_equal(end_a.link.stats.retransmits, 3u * 3u);
    assert_int_equal(chan_ab.written, 3u + 9u);
    assert_int_equal(link_send(&end_a.link, msg, sizeof(msg), sim_now_ms), LINK_EPEER);
    assert_int_equal(link_poll(&end_a.link, sim_now_ms + 10000), LINK_EPEER);
    assert_int_equal(link_poll_due_ms(&end_a.link, sim_now_ms), UINT32_MAX);
    assert_int_equal(link_tx_free(&end_a.link), 0);
    assert_int_equal(chan_ab.written, 12u); /* nothing more after giving up */

    /* link_reset: a new session that works once the peer answers again */
    link_reset(&end_a.link, 0xA0000002u);
    end_a.epeer = 0;
    chan_ab.blackhole = 0;
    assert_int_equal(link_tx_free(&end_a.link), 4);
    end_a.sent = 0;
    end_a.to_send = 50;
    sim_run(100000);
    assert_int_equal(end_b.rx_errors, 0);
    assert_int_equal(end_b.rx_count, 50);
}

/* Timers: due time after a send, shrinking with time, none once acknowledged. */
static void test_poll_due(void **state)
{
    uint8_t msg[4] = {0};

    (void)state;
    pair_init(4, 5, 3);
    assert_int_equal(link_poll_due_ms(&end_a.link, sim_now_ms), UINT32_MAX);
    end_a.to_send = 1;
    gen_msg(1, 0, 4, msg);
    assert_int_equal(link_send(&end_a.link, msg, 4, sim_now_ms), LINK_OK);
    end_a.sent = 1;
    assert_int_equal(link_poll_due_ms(&end_a.link, sim_now_ms), 50);
    assert_int_equal(link_poll_due_ms(&end_a.link, sim_now_ms + 20), 30);
    assert_int_equal(link_poll_due_ms(&end_a.link, sim_now_ms + 80), 0);
    sim_run(10000);
    assert_int_equal(link_poll_due_ms(&end_a.link, sim_now_ms), UINT32_MAX);
    assert_int_equal(link_poll_due_ms(&end_b.link, sim_now_ms), UINT32_MAX);
}

/* A reply sent from inside deliver() carries the acknowledgement: the echoing side sends no
 * ACK frames of its own, the other side one per reply. */
static void test_piggy_backed_acks(void **state)
{
    uint8_t msg[4];
    uint32_t k;

    (void)state;
    pair_init(4, 2, 3);
    end_b.echo = 1;
    end_a.gen_len = gen_len_small;
    end_b.gen_len = gen_len_small;
    for (k = 0; k < 100; k++) {
        uint32_t until = sim_now_ms + 20;
        gen_msg(1, k, 4, msg);
        assert_int_equal(link_send(&end_a.link, msg, 4, sim_now_ms), LINK_OK);
        end_a.sent++;
        end_a.to_send++;
        while (sim_now_ms < until)
            sim_step();
        assert_int_equal(end_b.rx_count, k + 1u);
    }
    /* Every frame of B is a reply; A acknowledges each reply with an ACK of its own. */
    assert_int_equal(end_b.link.stats.frames_tx, 100u);
    assert_int_equal(end_a.link.stats.frames_tx, 100u + 100u);
    assert_int_equal(end_a.rx_count, 100u);
    assert_int_equal(end_a.rx_errors + end_b.rx_errors, 0);
    assert_int_equal(end_a.link.stats.retransmits + end_b.link.stats.retransmits, 0);
}

/* 16-bit sequence numbers wrap: 70000 messages under loss still arrive in order, once. */
static void test_sequence_wraparound(void **state)
{
    (void)state;
    pair_init(LINK_WINDOW_MAX, 1, 4242);
    end_a.gen_len = gen_len_small;
    end_b.gen_len = gen_len_small;
    chan_ab.loss_permille = 20;
    chan_ba.loss_permille = 20;
    end_a.to_send = 70000;
    end_b.to_send = 70000;
    sim_run(5000000);
    expect_all_delivered();
}

/* Restart one side (a fresh link_t with a new session, a new message stream, its app state
 * lost) in the middle of two-way traffic. The other side keeps its sequence state. */
static void restart_end(end_t *e, uint32_t new_session, uint32_t new_stream)
{
    link_config_t c = e->link.cfg;

    c.session_id = new_session;
    assert_int_equal(link_init(&e->link, &c, end_write, end_deliver, e), LINK_OK);
    e->tx_stream = new_stream;
    e->peer->rx_stream = new_stream;
    e->peer->rx_resync = 1;  /* the survivor sees a new stream from k = 0 */
    e->rx_resync = 1;        /* the restarted side picks up wherever the survivor resends from */
    e->rx_first_after_resync = UINT32_MAX;
    e->peer->rx_first_after_resync = UINT32_MAX;
    e->sent = 0;
}

static void check_restart(end_t *restarted, end_t *survivor, uint32_t survivor_sent_before,
                          uint32_t restarted_rx_before)
{
    /* The restarted side's first message (k = 0) reached the survivor: not taken for a duplicate
     * of the old session's seq 0. */
    assert_int_equal(survivor->rx_first_after_resync, 0);
    assert_int_equal(survivor->rx_next, restarted->to_send);
    assert_int_equal(survivor->link.stats.peer_resets, 1);
    /* The survivor's stream reached the restarted side without gaps: it resumed at a message
     * the old incarnation may have had (its ack lost) but never beyond one it had not. */
    assert_true(restarted->rx_first_after_resync <= restarted_rx_before);
    assert_true(restarted->rx_first_after_resync + LINK_WINDOW_MAX >= restarted_rx_before);
    assert_int_equal(restarted->rx_next, survivor->to_send);
    assert_true(survivor->sent >= survivor_sent_before);
    assert_int_equal(restarted->rx_errors + survivor->rx_errors, 0);
}

static void run_restart(int board_restarts, unsigned loss_permille, int restarted_sends)
{
    end_t *restarted = board_restarts ? &end_b : &end_a;
    end_t *survivor = board_restarts ? &end_a : &end_b;
    uint32_t survivor_sent, rx_before;
    int i;

    pair_init(LINK_WINDOW_MAX, 3, 31 + loss_permille);
    chan_ab.loss_permille = chan_ba.loss_permille = loss_permille;
    end_a.to_send = 3000;
    end_b.to_send = 3000;
    for (i = 0; i < 700; i++)
        sim_step();
    assert_true(end_a.rx_count > 100 && end_b.rx_count > 100);
    assert_true(link_tx_free(&survivor->link) < LINK_WINDOW_MAX); /* frames in flight */
    survivor_sent = survivor->sent;
    rx_before = restarted->rx_next;
    restart_end(restarted, board_restarts ? 0xB0000002u : 0xA0000002u, 77);
    restarted->to_send = restarted_sends ? 200 : 0;
    sim_run(2000000);
    check_restart(restarted, survivor, survivor_sent, rx_before);
    if (!restarted_sends)
        assert_int_equal(survivor->link.stats.peer_resets, 1);
}

static void test_board_restarts(void **state)
{
    (void)state;
    run_restart(1, 0, 1);
    run_restart(1, 100, 1);
}

static void test_daemon_restarts(void **state)
{
    (void)state;
    run_restart(0, 0, 1);
    run_restart(0, 100, 1);
}

/* The restarted side stays silent: the survivor's next frame, numbered for the old session,
 * is not accepted, but answered; the survivor then renumbers and its stream goes on. */
static void test_restart_silent_side(void **state)
{
    end_t *restarted = &end_b;
    int i;

    (void)state;
    pair_init(LINK_WINDOW_MAX, 3, 8);
    end_a.to_send = 3000;
    for (i = 0; i < 300; i++)
        sim_step();
    restart_end(restarted, 0xB0000003u, 78);
    restarted->to_send = 0;
    sim_run(2000000);
    assert_int_equal(end_b.rx_next, 3000);
    assert_int_equal(end_b.rx_errors, 0);
    assert_int_equal(end_a.link.stats.peer_resets, 1);
    assert_true(end_b.link.stats.session_mismatch > 0);
}

/* A frame numbered for the board's previous session reaches the restarted board while the
 * board's first frame is lost. Its ack field (in the old numbering, here 1) must not count as
 * an acknowledgement of the new session's seq 0, or the board's Boot message would be lost. */
static void test_old_session_ack_ignored(void **state)
{
    int i;

    (void)state;
    pair_init(LINK_WINDOW_MAX, 3, 12);
    end_a.to_send = 1;
    end_b.to_send = 1;
    sim_run(10000);
    expect_all_delivered();

    restart_end(&end_b, 0xB0000007u, 79);
    assert_int_equal(end_a.rx_count, 1);
    end_b.to_send = 1;
    chan_ba.blackhole = 1;
    end_pump(&end_b); /* the new session's message 0: lost */
    chan_ba.blackhole = 0;
    end_a.to_send = 2;
    end_pump(&end_a); /* seq 1 of the old numbering, ack 1, addressed to the old session */
    for (i = 0; i < 5; i++)
        sim_step();
    assert_int_equal(end_b.link.stats.session_mismatch, 1);
    sim_run(10000);
    assert_int_equal(end_a.rx_count, 2); /* the new session's message 0 arrived after all */
    assert_int_equal(end_a.rx_first_after_resync, 0);
    assert_int_equal(end_a.rx_next, 1);
    assert_int_equal(end_b.rx_first_after_resync, 1);
    assert_int_equal(end_b.rx_next, 2);
    assert_int_equal(end_a.rx_errors + end_b.rx_errors, 0);
}

/* Both restart at once, both with traffic queued. */
static void test_both_restart(void **state)
{
    int i;

    (void)state;
    pair_init(LINK_WINDOW_MAX, 3, 9);
    end_a.to_send = 1000;
    end_b.to_send = 1000;
    for (i = 0; i < 200; i++)
        sim_step();
    restart_end(&end_a, 0xA0000009u, 91);
    restart_end(&end_b, 0xB0000009u, 92);
    end_a.rx_resync = end_b.rx_resync = 1;
    sim_run(2000000);
    assert_int_equal(end_a.rx_first_after_resync, 0);
    assert_int_equal(end_b.rx_first_after_resync, 0);
    expect_all_delivered();
}

/* link_reset on one side (what the daemon does after LINK_EPEER): what was in flight is gone,
 * what is sent next arrives; the peer counts one reset. A late frame of the old session that
 * turns up afterwards is ignored and does not flip the peer back. */
static void test_link_reset_and_late_frames(void **state)
{
    static chan_pkt_t old_frame;
    uint32_t resets;
    int i;

    (void)state;
    pair_init(LINK_WINDOW_MAX, 3, 10);
    end_a.to_send = 100;
    sim_run(100000);
    /* an old-session frame of A, held back */
    chan_ab.capture = 1;
    end_a.to_send = 101;
    end_pump(&end_a);
    chan_ab.capture = 0;
    old_frame = chan_ab.captured;
    assert_int_equal(chan_ab.n_captured, 1);

    link_reset(&end_a.link, 0xA0000005u);
    end_a.tx_stream = 55;
    end_b.rx_stream = 55;
    end_b.rx_resync = 1;
    end_b.rx_first_after_resync = UINT32_MAX;
    end_a.sent = 0;
    end_a.to_send = 100;
    sim_run(100000);
    assert_int_equal(end_b.rx_first_after_resync, 0);
    assert_int_equal(end_b.rx_next, 100);
    assert_int_equal(end_b.link.stats.peer_resets, 1);
    resets = end_b.link.stats.peer_resets;

    link_input(&end_b.link, old_frame.data, old_frame.len, sim_now_ms);
    assert_int_equal(end_b.link.stats.peer_resets, resets);
    end_a.to_send = 150;
    for (i = 0; i < 5; i++)
        sim_step();
    sim_run(100000);
    assert_int_equal(end_b.rx_next, 150);
    assert_int_equal(end_b.rx_errors, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_args),
        cmocka_unit_test(test_round_trip_all_sizes),
        cmocka_unit_test(test_crc_rejects_every_bit_flip),
        cmocka_unit_test(test_resync_after_garbage_and_truncation),
        cmocka_unit_test(test_duplicate_dropped_and_reacked),
        cmocka_unit_test(test_drop_every_nth),
        cmocka_unit_test(test_random_loss),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_lost_acks_make_duplicates),
        cmocka_unit_test(test_window_limit),
        cmocka_unit_test(test_window_throughput),
        cmocka_unit_test(test_epeer_after_max_retries),
        cmocka_unit_test(test_poll_due),
        cmocka_unit_test(test_piggy_backed_acks),
        cmocka_unit_test(test_sequence_wraparound),
        cmocka_unit_test(test_board_restarts),
        cmocka_unit_test(test_daemon_restarts),
        cmocka_unit_test(test_restart_silent_side),
        cmocka_unit_test(test_old_session_ack_ignored),
        cmocka_unit_test(test_both_restart),
        cmocka_unit_test(test_link_reset_and_late_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
