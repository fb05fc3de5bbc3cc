/*
 * link.c — the link layer: COBS frames with a CRC-32, go-back-N sliding window, cumulative acks,
 * retransmission with bounded retries, duplicate suppression and session restarts.
 *
 * How it works (docs/protocol.md has the full rules):
 * - Every frame carries the sender's session id and, once known, the receiver's session id
 *   (dst). Sequence numbers count from 0 at the start of each pairing of two sessions, so they
 *   never cross a restart: a frame addressed to an earlier session of ours is ignored and
 *   answered with an ACK, from which the sender learns who we are now.
 * - A frame with no dst comes from a sender that has heard from none of our sessions: it numbers
 *   from its own start, like our fresh receive state, so it is accepted (the first frame after
 *   a restart is delivered at once).
 * - A side that sees a new peer session expects seq 0 from it; if the peer *changed* (a restart),
 *   what we still have in flight is renumbered from 0 and sent again, addressed to the new
 *   session, which has accepted none of it.
 * - Acks are cumulative (ack = next seq expected). They ride on every frame; a standalone ACK is
 *   sent at the end of link_input when no data frame carried it during the call (so an RPC reply
 *   sent from deliver() piggy-backs it), or by link_poll.
 * C99, no heap, no OS calls: time comes in as now_ms, bytes leave through the write callback.
 */
#include "link.h"

#include <string.h>

#include "cobs.h"
#include "crc32.h"

#define LINK_VERSION 1u
#define LINK_TYPE_DATA 1u
#define LINK_TYPE_ACK 2u
#define LINK_FLAG_DST_KNOWN 0x01u

/* Header byte offsets (little-endian fields). */
#define LINK_OFF_TYPE 0u
#define LINK_OFF_FLAGS 1u
#define LINK_OFF_SRC 2u
#define LINK_OFF_DST 6u
#define LINK_OFF_SEQ 10u
#define LINK_OFF_ACK 12u

/* Go-back-N needs the window well inside half the 16-bit sequence space, and tx_head is 8 bits. */
typedef char link_window_fits[(LINK_WINDOW_MAX >= 1u && LINK_WINDOW_MAX <= 255u) ? 1 : -1];
typedef char link_payload_fits[(LINK_MAX_PAYLOAD <= 65535u - LINK_HEADER_BYTES) ? 1 : -1];

static void link_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void link_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t link_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t link_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Signed distance in time, so the 32-bit millisecond clock may wrap. */
static int32_t link_time_diff(uint32_t a_ms, uint32_t b_ms)
{
    return (int32_t)(a_ms - b_ms);
}

/* Encodes and writes one frame. Every frame carries our session and, once we know the peer,
 * its session and our cumulative ack, so any frame settles an owed acknowledgement. */
static void link_emit(link_t *link, uint8_t type, uint16_t seq, const uint8_t *payload,
                      size_t len)
{
    uint8_t hdr[LINK_HEADER_BYTES];
    uint8_t crc_bytes[LINK_CRC_BYTES];
    cobs_encoder_t enc;
    size_t off = 0, n;
    uint32_t crc;

    hdr[LINK_OFF_TYPE] = (uint8_t)((LINK_VERSION << 4) | type);
    hdr[LINK_OFF_FLAGS] = link->peer_known ? LINK_FLAG_DST_KNOWN : 0u;
    link_put32(hdr + LINK_OFF_SRC, link->cfg.session_id);
    link_put32(hdr + LINK_OFF_DST, link->peer_known ? link->peer_session : 0u);
    link_put16(hdr + LINK_OFF_SEQ, seq);
    link_put16(hdr + LINK_OFF_ACK, link->peer_known ? link->rx_expected : 0u);
    crc = crc32_update(0, hdr, sizeof(hdr));
    crc = crc32_update(crc, payload, len);
    link_put32(crc_bytes, crc);

    if (link->tx_sync) {
        link->tx_wire[off++] = 0; /* ends whatever partial frame the peer may be holding */
        link->tx_sync = 0;
    }
    /* Leave one byte for the delimiter. */
    cobs_enc_begin(&enc, link->tx_wire + off, sizeof(link->tx_wire) - off - 1u);
    cobs_enc_put(&enc, hdr, sizeof(hdr));
    cobs_enc_put(&enc, payload, len);
    cobs_enc_put(&enc, crc_bytes, sizeof(crc_bytes));
    n = cobs_enc_end(&enc);
    if (n == 0)
        return; /* cannot happen: tx_wire is sized for the largest frame (LINK_WIRE_MAX) */
    off += n;
    link->tx_wire[off++] = 0;

    link->write(link->ctx, link->tx_wire, off);
    link->stats.frames_tx++;
    link->stats.bytes_tx += (uint32_t)off;
    link->ack_pending = 0;
}

/* Sends every frame in flight again (go-back-N), oldest first. */
static void link_resend_window(link_t *link)
{
    unsigned k;

    for (k = 0; k < link->tx_count; k++) {
        const link_slot_t *slot = &link->tx[(link->tx_head + k) % link->cfg.window];
        link_emit(link, LINK_TYPE_DATA, (uint16_t)(link->tx_base + k), slot->data, slot->len);
        link->stats.retransmits++;
    }
}

/* A peer session we have not seen: expect its seq 0. If it replaces one we knew (the peer
 * restarted or reset), the new session has accepted nothing addressed to it yet, so what we
 * still have in flight is renumbered from 0 and sent again at once. On first contact no
 * renumbering is needed: our frames so far carried no dst and count from our own start. */
static void link_new_peer(link_t *link, uint32_t session, uint32_t now_ms)
{
    int changed = link->peer_known;

    if (changed) {
        link->peer_prev_session = link->peer_session;
        link->peer_prev_known = 1;
        link->stats.peer_resets++;
    }
    link->peer_session = session;
    link->peer_known = 1;
    link->rx_expected = 0;
    link->ack_pending = 1; /* tell it our session even if we have nothing to send */
    if (changed) {
        link->tx_base = 0;
        link->tx_fast_done = 0;
        if (link->tx_count > 0 && !link->peer_dead) {
            link->tx_retries = 0;
            link_resend_window(link);
            link->tx_deadline_ms = now_ms + link->cfg.rto_ms;
        }
    }
}

/* Cumulative ack: the peer holds everything before `ack`. A standalone ACK that does not move
 * tx_base while frames are in flight means the peer received a later frame but not tx_base
 * (the line is FIFO, so tx_base was lost): go back at once instead of waiting for rto_ms
 * ("fast retransmit", once per tx_base so a burst of such ACKs costs one resend). */
static void link_take_ack(link_t *link, uint16_t ack, int standalone, uint32_t now_ms)
{
    uint16_t acked = (uint16_t)(ack - link->tx_base);

    if (acked == 0) {
        if (standalone && link->tx_count > 0 && !link->tx_fast_done && !link->peer_dead) {
            link->tx_fast_done = 1;
            link_resend_window(link);
            link->tx_deadline_ms = now_ms + link->cfg.rto_ms;
        }
        return;
    }
    if (acked > link->tx_count)
        return; /* an ack for frames never sent: ignore */
    link->tx_head = (uint8_t)((link->tx_head + acked) % link->cfg.window);
    link->tx_count = (uint8_t)(link->tx_count - acked);
    link->tx_base = ack;
    link->tx_retries = 0;
    link->tx_fast_done = 0;
    link->tx_deadline_ms = now_ms + link->cfg.rto_ms; /* restart the timer for the new oldest */
}

/* One complete wire frame sits in rx_buf[0..rx_len): check it and act on it. */
static void link_frame(link_t *link, uint32_t now_ms)
{
    long decoded = cobs_decode(link->rx_buf, link->rx_len, link->rx_buf, sizeof(link->rx_buf));
    const uint8_t *f = link->rx_buf;
    size_t frame_len, payload_len;
    uint8_t type, flags;
    uint32_t src, dst;
    uint16_t seq;

    if (decoded < (long)(LINK_HEADER_BYTES + LINK_CRC_BYTES))
        goto malformed; /* bad COBS, or shorter than header + CRC (a truncated frame) */
    frame_len = (size_t)decoded;
    payload_len = frame_len - LINK_HEADER_BYTES - LINK_CRC_BYTES;
    if (crc32_update(0, f, frame_len - LINK_CRC_BYTES) != link_get32(f + frame_len - LINK_CRC_BYTES))
        goto malformed;
    type = (uint8_t)(f[LINK_OFF_TYPE] & 0x0Fu);
    flags = f[LINK_OFF_FLAGS];
    if ((f[LINK_OFF_TYPE] >> 4) != LINK_VERSION || (flags & (uint8_t)~LINK_FLAG_DST_KNOWN) != 0)
        goto malformed;
    if (type == LINK_TYPE_ACK ? payload_len != 0
                              : (type != LINK_TYPE_DATA || payload_len > link->cfg.max_payload))
        goto malformed;

    link->stats.frames_rx++;
    src = link_get32(f + LINK_OFF_SRC);
    dst = link_get32(f + LINK_OFF_DST);
    seq = link_get16(f + LINK_OFF_SEQ);

    if (!(link->peer_known && src == link->peer_session)) {
        if (link->peer_prev_known && src == link->peer_prev_session) {
            link->stats.session_mismatch++; /* late frame of the peer's previous life */
            return;
        }
        link_new_peer(link, src, now_ms);
    }
    if (flags & LINK_FLAG_DST_KNOWN) {
        if (dst != link->cfg.session_id) {
            /* Numbered for an earlier session of ours: neither its seq nor its ack means
             * anything here. Answer, so that the sender learns our session and renumbers. */
            link->stats.session_mismatch++;
            if (type == LINK_TYPE_DATA)
                link->ack_pending = 1;
            return;
        }
        link_take_ack(link, link_get16(f + LINK_OFF_ACK), type == LINK_TYPE_ACK, now_ms);
    } /* else: the sender knows no session of ours, so its ack field is empty */
    if (type != LINK_TYPE_DATA)
        return;

    link->ack_pending = 1; /* in order, duplicate or gap: the peer hears where we are */
    if (seq == link->rx_expected) {
        link->rx_expected++; /* before deliver(), so a reply sent from it carries this ack */
        link->deliver(link->ctx, f + LINK_HEADER_BYTES, payload_len);
    } else if ((uint16_t)(seq - link->rx_expected) & 0x8000u) {
        link->stats.duplicates++; /* already delivered: the peer missed our ack */
    } else {
        link->stats.out_of_order++; /* a frame before it was lost: wait for go-back-N */
    }
    return;

malformed:
    link->stats.crc_errors++;
}

link_status_t link_init(link_t *link, const link_config_t *cfg, link_write_fn write,
                        link_deliver_fn deliver, void *ctx)
{
    if (link == NULL || cfg == NULL || write == NULL || deliver == NULL)
        return LINK_EINVAL;
    if (cfg->window < 1u || cfg->window > LINK_WINDOW_MAX || cfg->max_payload < 1u ||
        cfg->max_payload > LINK_MAX_PAYLOAD || cfg->rto_ms < 1u || cfg->rto_ms > 0x7FFFFFFFu)
        return LINK_EINVAL;
    memset(link, 0, sizeof(*link));
    link->cfg = *cfg;
    link->write = write;
    link->deliver = deliver;
    link->ctx = ctx;
    link->tx_sync = 1;
    return LINK_OK;
}

link_status_t link_send(link_t *link, const uint8_t *payload, size_t len, uint32_t now_ms)
{
    link_slot_t *slot;
    uint16_t seq;

    if (link == NULL || (payload == NULL && len > 0))
        return LINK_EINVAL;
    if (len > link->cfg.max_payload)
        return LINK_ETOOBIG;
    if (link->peer_dead)
        return LINK_EPEER;
    if (link->tx_count >= link->cfg.window)
        return LINK_EFULL;

    slot = &link->tx[(link->tx_head + link->tx_count) % link->cfg.window];
    if (len > 0)
        memcpy(slot->data, payload, len);
    slot->len = (uint16_t)len;
    seq = (uint16_t)(link->tx_base + link->tx_count);
    link->tx_count++;
    if (link->tx_count == 1) {
        link->tx_retries = 0;
        link->tx_fast_done = 0;
        link->tx_deadline_ms = now_ms + link->cfg.rto_ms;
    }
    link_emit(link, LINK_TYPE_DATA, seq, slot->data, slot->len);
    return LINK_OK;
}

void link_input(link_t *link, const uint8_t *bytes, size_t len, uint32_t now_ms)
{
    size_t i;

    if (link == NULL || (bytes == NULL && len > 0))
        return;
    link->stats.bytes_rx += (uint32_t)len;
    for (i = 0; i < len; i++) {
        uint8_t b = bytes[i];

        if (b == 0) {
            if (link->rx_overflow)
                link->rx_overflow = 0; /* the delimiter we were waiting for: in sync again */
            else if (link->rx_len > 0)
                link_frame(link, now_ms);
            link->rx_len = 0; /* empty frames (0x00 0x00) are padding, not errors */
            continue;
        }
        if (link->rx_overflow)
            continue;
        if (link->rx_len >= sizeof(link->rx_buf)) {
            link->rx_overflow = 1; /* longer than any frame: garbage up to the next 0x00 */
            link->rx_len = 0;
            link->stats.crc_errors++;
            continue;
        }
        link->rx_buf[link->rx_len++] = b;
    }
    /* Acks owed by this batch that no data frame carried: one ACK covers the whole batch. */
    if (link->ack_pending)
        link_emit(link, LINK_TYPE_ACK, 0, NULL, 0);
}

link_status_t link_poll(link_t *link, uint32_t now_ms)
{
    if (link == NULL)
        return LINK_EINVAL;
    if (link->ack_pending)
        link_emit(link, LINK_TYPE_ACK, 0, NULL, 0);
    if (link->peer_dead)
        return LINK_EPEER;
    if (link->tx_count > 0 && link_time_diff(now_ms, link->tx_deadline_ms) >= 0) {
        if (link->tx_retries >= link->cfg.max_retries) {
            link->peer_dead = 1;
            return LINK_EPEER;
        }
        link->tx_retries++;
        link->tx_sync = 1; /* the loss may have left a partial frame at the peer */
        link_resend_window(link);
        link->tx_deadline_ms = now_ms + link->cfg.rto_ms;
    }
    return LINK_OK;
}

uint32_t link_poll_due_ms(const link_t *link, uint32_t now_ms)
{
    int32_t left_ms;

    if (link == NULL)
        return UINT32_MAX;
    if (link->ack_pending)
        return 0;
    if (link->tx_count == 0 || link->peer_dead)
        return UINT32_MAX;
    left_ms = link_time_diff(link->tx_deadline_ms, now_ms);
    return left_ms <= 0 ? 0u : (uint32_t)left_ms;
}

void link_reset(link_t *link, uint32_t new_session_id)
{
    if (link == NULL)
        return;
    /* The receive buffer is stream state, not session state: a frame being received stays. */
    link->cfg.session_id = new_session_id;
    link->tx_base = 0;
    link->tx_head = 0;
    link->tx_count = 0;
    link->tx_retries = 0;
    link->tx_fast_done = 0;
    link->tx_sync = 1;
    link->peer_dead = 0;
    link->rx_expected = 0;
    link->peer_known = 0;
    link->ack_pending = 0;
}

unsigned link_tx_free(const link_t *link)
{
    if (link == NULL || link->peer_dead)
        return 0;
    return (unsigned)(link->cfg.window - link->tx_count);
}

const link_stats_t *link_stats(const link_t *link)
{
    return link == NULL ? NULL : &link->stats;
}
