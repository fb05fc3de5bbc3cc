/*
 * microt_core.c — the board's main loop: bytes from the UART go through the link layer, each
 * delivered payload is one microt.Message request, dispatched by its body to a handler that
 * fills the reply, which goes back with the request's id.
 *
 * Everything is static: one request and one reply message (nanopb structs, no heap), one link.
 * Requests are handled one at a time, in order, inside the link's deliver callback's caller:
 * the callback only copies the payload into a one-slot inbox, so a handler may itself send
 * (e.g. events) without re-entering the link's receive path.
 */
#include "microt_core.h"

#include <string.h>

#include "core_rpc.h"
#include "hal.h"
#include "link.h"
#include "microt.pb.h"
#include "pb_decode.h"
#include "pb_encode.h"

#define CORE_RTO_MS 200u
#define CORE_MAX_RETRIES 10u
#define CORE_WINDOW 4u

typedef struct {
    link_t link;
    uint8_t inbox[LINK_MAX_PAYLOAD];
    uint16_t inbox_len;
    uint8_t inbox_full;
    uint8_t rx[256];          /* bytes read from the UART, fed to the link frame by frame */
    uint16_t rx_len, rx_pos;
    uint8_t tx_buf[LINK_MAX_PAYLOAD];
    microt_Message req;
    microt_Message reply;
    core_counters_t counters;
} core_state_t;

static core_state_t core;

static void core_write(void *ctx, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    hal_uart_write(bytes, len);
}

/* The link delivers in order and acknowledges what it delivers, so a payload dropped here is lost
 * for good: core_pump_rx() feeds the link one frame at a time and stops while the inbox is full. */
static void core_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    (void)ctx;
    if (core.inbox_full || len > sizeof(core.inbox)) {
        core.counters.rx_dropped++;
        return;
    }
    memcpy(core.inbox, payload, len);
    core.inbox_len = (uint16_t)len;
    core.inbox_full = 1;
}

static uint32_t core_session_id(void)
{
    uint8_t uid[HAL_UID_BYTES];
    uint32_t h = 2166136261u; /* FNV-1a over uid, boot count and the cycle counter */
    uint64_t cycles = hal_cycles();
    uint32_t boots = hal_boot_count();
    hal_uid(uid);
    for (unsigned i = 0; i < HAL_UID_BYTES; i++)
        h = (h ^ uid[i]) * 16777619u;
    for (unsigned i = 0; i < 8; i++)
        h = (h ^ (uint8_t)(cycles >> (8 * i))) * 16777619u;
    for (unsigned i = 0; i < 4; i++)
        h = (h ^ (uint8_t)(boots >> (8 * i))) * 16777619u;
    return h ? h : 1u;
}

core_counters_t *core_counters(void)
{
    return &core.counters;
}

const link_stats_t *core_link_stats(void)
{
    return link_stats(&core.link);
}

/* Feeds received bytes to the link up to and including each frame delimiter, and stops while a
 * request waits in the inbox: the rest stays in core.rx for the next call. A burst holding two
 * frames (a chunk's tail and the TransferEnd behind it) would otherwise deliver the second into
 * the full inbox after the link had acknowledged it. With force, bytes are fed even with the inbox
 * full (core_send must see the acks that free its window; a request arriving then is dropped and
 * counted in rx_dropped). Returns the number of bytes read from the UART. */
static size_t core_pump_rx(bool force)
{
    size_t got = 0;
    for (;;) {
        const uint8_t *p, *z;
        size_t left, n;
        if (core.inbox_full && !force)
            return got;
        if (core.rx_pos == core.rx_len) {
            n = hal_uart_read(core.rx, sizeof(core.rx));
            if (n == 0)
                return got;
            got += n;
            core.rx_len = (uint16_t)n;
            core.rx_pos = 0;
        }
        p = core.rx + core.rx_pos;
        left = (size_t)(core.rx_len - core.rx_pos);
        z = memchr(p, 0, left);
        n = z != NULL ? (size_t)(z - p) + 1u : left;
        core.rx_pos = (uint16_t)(core.rx_pos + n);
        link_input(&core.link, p, n, hal_millis());
    }
}

int core_send(const microt_Message *msg)
{
    pb_ostream_t os = pb_ostream_from_buffer(core.tx_buf, sizeof(core.tx_buf));
    link_status_t st;
    if (!pb_encode(&os, microt_Message_fields, msg))
        return -1;
    /* Wait for window room: replies are few, so the wait is short; the link's retransmissions
     * keep running while we wait. A dead peer ends the wait. */
    for (;;) {
        size_t n;
        st = link_send(&core.link, core.tx_buf, os.bytes_written, hal_millis());
        if (st != LINK_EFULL)
            break;
        n = core_pump_rx(true);
        if (link_poll(&core.link, hal_millis()) == LINK_EPEER)
            return -1;
        if (n == 0)
            hal_wait(1);
        hal_watchdog_kick();
    }
    return st == LINK_OK ? 0 : -1;
}

void core_reply_error(microt_Message *reply, microt_ErrorCode code, const char *message)
{
    reply->which_body = microt_Message_error_tag;
    reply->body.error.code = code;
    strncpy(reply->body.error.message, message, sizeof(reply->body.error.message) - 1);
    reply->body.error.message[sizeof(reply->body.error.message) - 1] = '\0';
}

static void core_fill_device_info(microt_DeviceInfo *info)
{
    const hal_board_t *board = hal_board();
    const char *version = hal_firmware_version();

    memset(info, 0, sizeof(*info));
    hal_uid(info->uid.bytes);
    info->uid.size = HAL_UID_BYTES;
    info->board = (microt_BoardKind)board->board_kind;
    strncpy(info->firmware_version, version, sizeof(info->firmware_version) - 1);
    info->protocol_version = microt_ProtocolVersion_PROTOCOL_VERSION_CURRENT;
    info->sram_bytes = board->sram_bytes;
    info->flash_bytes = board->flash_bytes;
    info->max_frame_bytes = LINK_MAX_PAYLOAD;
    info->cpu_hz = board->cpu_hz;
    info->boot_count = hal_boot_count();
    info->model_slot_bytes = hal_flash_region(HAL_REGION_MODEL_A).size_bytes;
    core_rpc_fill_device_info(info);
}

static void core_fill_stats(microt_Stats *stats)
{
    const link_stats_t *ls = link_stats(&core.link);
    memset(stats, 0, sizeof(*stats));
    stats->uptime_ms = hal_millis();
    stats->frames_rx = ls->frames_rx;
    stats->frames_tx = ls->frames_tx;
    stats->crc_errors = ls->crc_errors;
    stats->retransmits = ls->retransmits;
    stats->rx_dropped = core.counters.rx_dropped + ls->duplicates;
    stats->inferences = core.counters.inferences;
    stats->stage1_exits = core.counters.stage1_exits;
    stats->cycles_total = core.counters.inference_cycles;
    stats->energy_nj = core.counters.inference_energy_nj;
}

/* Handles one request; returns true when a reply is to be sent. */
static bool core_dispatch(const microt_Message *req, microt_Message *reply)
{
    reply->id = req->id;
    switch (req->which_body) {
    case microt_Message_hello_tag:
        reply->which_body = microt_Message_device_info_tag;
        core_fill_device_info(&reply->body.device_info);
        return true;
    case microt_Message_ping_tag:
        reply->which_body = microt_Message_pong_tag;
        reply->body.pong.nonce = req->body.ping.nonce;
        reply->body.pong.uptime_ms = hal_millis();
        return true;
    case microt_Message_get_stats_tag:
        reply->which_body = microt_Message_stats_tag;
        core_fill_stats(&reply->body.stats);
        return true;
    case microt_Message_reboot_tag:
        reply->which_body = microt_Message_ack_tag;
        return true; /* the reboot itself happens after the ack has left (see core_after_reply) */
    default:
        return core_rpc_dispatch(req, reply);
    }
}

/* Work that must wait until the reply has been acknowledged by the gateway. */
static void core_after_reply(const microt_Message *req)
{
    if (req->which_body != microt_Message_reboot_tag)
        return;
    /* Give the link up to a second to get the ack through, then reset. */
    uint32_t start = hal_millis();
    while (link_tx_free(&core.link) < CORE_WINDOW && hal_millis() - start < 1000u) {
        (void)core_pump_rx(true);
        if (link_poll(&core.link, hal_millis()) == LINK_EPEER)
            break;
        hal_wait(1);
    }
    hal_reboot(req->body.reboot.target == microt_Reboot_Target_BOOTLOADER ? HAL_BOOT_BOOTLOADER
                                                                          : HAL_BOOT_APP);
}

void microt_core_init(void)
{
    link_config_t cfg = {
        .window = CORE_WINDOW,
        .max_payload = LINK_MAX_PAYLOAD,
        .rto_ms = CORE_RTO_MS,
        .max_retries = CORE_MAX_RETRIES,
        .session_id = 0,
    };
    memset(&core, 0, sizeof(core));
    cfg.session_id = core_session_id();
    (void)link_init(&core.link, &cfg, core_write, core_deliver, NULL);
    core_rpc_init();

    /* Tell a listening gateway we (re)started, so it re-reads our identity at once. */
    memset(&core.reply, 0, sizeof(core.reply));
    core.reply.which_body = microt_Message_boot_tag;
    core.reply.body.boot.boot_count = hal_boot_count();
    strncpy(core.reply.body.boot.firmware_version, hal_firmware_version(),
            sizeof(core.reply.body.boot.firmware_version) - 1);
    (void)core_send(&core.reply);
}

void microt_core_poll(uint32_t max_wait_ms)
{
    uint32_t due;

    hal_watchdog_kick();
    (void)core_pump_rx(false);
    if (link_poll(&core.link, hal_millis()) == LINK_EPEER) {
        /* The gateway went away with frames unacknowledged: start afresh so the next gateway
         * session is not blocked by our stale window. */
        link_reset(&core.link, core_session_id());
    }

    if (core.inbox_full) {
        pb_istream_t is = pb_istream_from_buffer(core.inbox, core.inbox_len);
        bool have_reply;
        memset(&core.req, 0, sizeof(core.req));
        memset(&core.reply, 0, sizeof(core.reply));
        core.inbox_full = 0;
        if (!pb_decode(&is, microt_Message_fields, &core.req)) {
            core.counters.decode_errors++;
            core_reply_error(&core.reply, microt_ErrorCode_ERR_BAD_REQUEST, "undecodable message");
            have_reply = true;
        } else {
            have_reply = core_dispatch(&core.req, &core.reply);
        }
        if (have_reply && core.req.id != 0) {
            (void)core_send(&core.reply);
            core_after_reply(&core.req);
        }
        return; /* more may be waiting: do not sleep */
    }

    due = link_poll_due_ms(&core.link, hal_millis());
    hal_wait(due < max_wait_ms ? due : max_wait_ms);
    core_rpc_idle();
}

const char *microt_core_version(void)
{
    return hal_firmware_version();
}
