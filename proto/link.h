/*
 * link.h — reliable, ordered delivery of messages over a lossy byte stream (a UART).
 *
 * Shared by microtd and the firmware: C99, no heap, no OS calls; time comes in as now_ms
 * arguments and bytes leave through a write callback, so the same code runs on a Cortex-M
 * main loop and in a daemon thread.
 *
 * On the wire each frame is COBS-encoded and ends with a 0x00 delimiter; inside, a small header
 * (frame type, session id, sequence and acknowledgement numbers), the payload and a CRC-32.
 * A receiver that sees garbage drops bytes up to the next 0x00 and carries on (resync).
 * Data frames are sent in a sliding window of up to `window` unacknowledged frames, retransmitted
 * after rto_ms (go-back-N), at most max_retries times, after which the link reports LINK_EPEER;
 * an ACK that reports a gap triggers one early resend (fast retransmit).
 * Duplicates are recognised by their sequence number and dropped (but acknowledged again).
 * Either side may restart at any time: frames carry the sender's session id, and a side that
 * sees a new peer session resets its receive state (see docs/protocol.md).
 */
#ifndef MICROT_LINK_H
#define MICROT_LINK_H

#include <stddef.h>
#include <stdint.h>

#ifndef LINK_MAX_PAYLOAD
/* >= microt_Message_size (one encoded Message per frame). 2 KiB chunks: with 1 KiB the fixed
 * ~40 bytes of framing per frame capped a push at 96.5 % of the line rate (goal: 97 %). */
#define LINK_MAX_PAYLOAD 2100u
#endif
#ifndef LINK_WINDOW_MAX
#define LINK_WINDOW_MAX 8u       /* frames in flight; the storage below scales with it */
#endif

/* type+version, flags, source session, destination session, seq, ack (docs/protocol.md) */
#define LINK_HEADER_BYTES 14u
#define LINK_CRC_BYTES 4u
#define LINK_FRAME_MAX (LINK_HEADER_BYTES + LINK_MAX_PAYLOAD + LINK_CRC_BYTES)
/* COBS adds one byte per 254 plus one, then the 0x00 delimiter. */
#define LINK_WIRE_MAX (LINK_FRAME_MAX + LINK_FRAME_MAX / 254u + 2u)

typedef enum {
    LINK_OK = 0,
    LINK_EFULL = -1,     /* window full: poll/input until an ack frees a slot, then retry */
    LINK_ETOOBIG = -2,   /* payload larger than max_payload */
    LINK_EPEER = -3,     /* a frame went unacknowledged after max_retries: peer gone */
    LINK_EINVAL = -4,    /* bad argument or configuration */
} link_status_t;

/* Sends raw wire bytes; must accept all len bytes. */
typedef void (*link_write_fn)(void *ctx, const uint8_t *bytes, size_t len);
/* Called once per received payload, in order, without duplicates. The buffer is only valid
 * during the call. */
typedef void (*link_deliver_fn)(void *ctx, const uint8_t *payload, size_t len);

typedef struct {
    uint8_t window;          /* 1..LINK_WINDOW_MAX */
    uint16_t max_payload;    /* 1..LINK_MAX_PAYLOAD */
    uint32_t rto_ms;         /* retransmission timeout */
    uint8_t max_retries;     /* retransmissions of one frame before LINK_EPEER */
    uint32_t session_id;     /* this side's session id: a fresh random one at every start */
} link_config_t;

typedef struct {
    uint32_t frames_tx, frames_rx;
    uint32_t bytes_tx, bytes_rx;     /* wire bytes, delimiters included */
    uint32_t crc_errors;             /* frames dropped for a bad CRC or malformed COBS/header */
    uint32_t retransmits;            /* data frames sent again */
    uint32_t duplicates;             /* data frames received again and dropped */
    uint32_t peer_resets;            /* times the peer's session id changed */
    /* added with the implementation (appended, so the fields above keep their offsets): */
    uint32_t out_of_order;           /* data frames ahead of the expected seq, dropped (go-back-N) */
    uint32_t session_mismatch;       /* frames not addressed to our current session, not used */
} link_stats_t;

typedef struct {
    uint16_t len;
    uint8_t data[LINK_MAX_PAYLOAD];
} link_slot_t;

/* Everything a link needs; the caller owns the storage (static on the board). Treat as opaque:
 * the fields below are the implementation's and may change. About 2*LINK_WIRE_MAX +
 * LINK_WINDOW_MAX*(LINK_MAX_PAYLOAD+2) bytes (about 21 KiB with the defaults). */
typedef struct {
    link_config_t cfg;
    link_write_fn write;
    link_deliver_fn deliver;
    void *ctx;

    /* transmit: tx[(tx_head + k) % window] holds sequence number tx_base + k, k < tx_count */
    link_slot_t tx[LINK_WINDOW_MAX];
    uint16_t tx_base;                /* oldest unacknowledged sequence number */
    uint8_t tx_head;                 /* slot of tx_base */
    uint8_t tx_count;                /* frames in flight (sent, not yet acknowledged) */
    uint32_t tx_deadline_ms;         /* retransmit the window when now passes this */
    uint8_t tx_retries;              /* timeouts of the current oldest frame */
    uint8_t tx_fast_done;            /* already went back once for this tx_base on a gap ACK */
    uint8_t tx_sync;                 /* send a 0x00 before the next frame (flushes peer garbage) */
    uint8_t peer_dead;

    /* receive */
    uint16_t rx_expected;            /* next in-order sequence number from the peer */
    uint32_t peer_session;
    uint32_t peer_prev_session;      /* the peer's previous session: its late frames are ignored */
    uint8_t peer_known;
    uint8_t peer_prev_known;
    uint8_t ack_pending;
    uint8_t rx_overflow;             /* current frame too long: drop to the next delimiter */
    uint16_t rx_len;
    uint8_t rx_buf[LINK_WIRE_MAX];
    uint8_t tx_wire[LINK_WIRE_MAX + 1u]; /* one encoded frame, with a leading 0x00 if tx_sync */

    link_stats_t stats;
} link_t;

/* Prepares a link; returns LINK_EINVAL for a bad configuration. */
link_status_t link_init(link_t *link, const link_config_t *cfg, link_write_fn write,
                        link_deliver_fn deliver, void *ctx);

/* Queues one payload for reliable delivery and sends it at once if the window allows.
 * LINK_EFULL: nothing was queued. LINK_EPEER: the link gave up on the peer (see link_reset). */
link_status_t link_send(link_t *link, const uint8_t *payload, size_t len, uint32_t now_ms);

/* Feeds received wire bytes (any split, any garbage). Delivers payloads and processes acks.
 * deliver() may call link_send (its frame then carries the acknowledgement); it must not call
 * link_input. An acknowledgement still owed at the end of the call is sent before returning. */
void link_input(link_t *link, const uint8_t *bytes, size_t len, uint32_t now_ms);

/* Drives timers: sends pending acks, retransmits after rto_ms. Returns LINK_EPEER once the
 * retries are exhausted (the link then stays in that state until link_reset), else LINK_OK. */
link_status_t link_poll(link_t *link, uint32_t now_ms);

/* Milliseconds until link_poll has timed work to do (UINT32_MAX when none). */
uint32_t link_poll_due_ms(const link_t *link, uint32_t now_ms);

/* Drops everything in flight and starts a new session with new_session_id (which must differ
 * from the current one, or the peer cannot tell the restart). The peer is
 * forgotten (it learns the new session from our next frame and restarts its numbering); the
 * statistics are kept. */
void link_reset(link_t *link, uint32_t new_session_id);

/* Frames that may still be queued before link_send returns LINK_EFULL. */
unsigned link_tx_free(const link_t *link);

const link_stats_t *link_stats(const link_t *link);

#endif /* MICROT_LINK_H */
