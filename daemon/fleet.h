/*
 * fleet.h — the boards microtd is connected to, one session per serial port.
 *
 * Each port gets a session thread that opens the port (a real UART through libserialport, or a
 * pty/fd path), says Hello, keeps the board alive with pings, and reconnects when the port comes
 * back. A board is known by its MCU unique ID (24 hex digits, the device id everywhere in the
 * API), never by its port path: the same board on another port is the same device.
 * The store (SQLite) is the record of every device ever seen; the fleet knows which are online now.
 */
#ifndef MICROT_FLEET_H
#define MICROT_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "microt.pb.h"
#include "store.h"

#define FLEET_MAX_PORTS 64
#define FLEET_ID_CHARS 25 /* 24 hex digits + NUL */

typedef struct fleet fleet_t;
struct transport;

typedef struct {
    const char *ports[FLEET_MAX_PORTS]; /* paths; "auto" = every USB serial port libserialport finds */
    unsigned n_ports;
    uint32_t baud;                      /* real UARTs only */
    uint32_t ping_interval_ms;          /* liveness ping period */
    uint32_t request_timeout_ms;        /* default deadline of one RPC */
    uint32_t offline_after_ms;          /* silence after which a board is declared offline */
} fleet_config_t;

/* What the fleet knows of a connected board right now. */
typedef struct {
    char id[FLEET_ID_CHARS];
    char port[256];
    bool online;
    uint32_t rtt_us;                    /* last ping round trip */
    microt_DeviceInfo info;
} fleet_device_t;

/* Starts one session thread per configured port. store must outlive the fleet. */
int fleet_start(fleet_t **out, store_t *store, const fleet_config_t *cfg);
void fleet_stop(fleet_t *fleet);

/* Adds a port at run time (e.g. a test's new pty). */
int fleet_add_port(fleet_t *fleet, const char *path);

/* Snapshot of one online device; MT_EOFFLINE if known only to the store or not at all. */
int fleet_get(fleet_t *fleet, const char *id, fleet_device_t *out);

/* One RPC to an online device: sends req (its id is assigned here) and waits for the reply with
 * the same id until timeout_ms (0 = the configured default). A board Error reply is returned as
 * MT_EDEVICE with the reply filled in. Safe from any thread; calls to one device are serialised. */
int fleet_call(fleet_t *fleet, const char *id, const microt_Message *req, microt_Message *reply,
               uint32_t timeout_ms);

/* Queues one message that expects no reply (e.g. a TransferChunk): returns once the link has
 * taken it into its window, so a caller sending many keeps the window full. */
int fleet_send(fleet_t *fleet, const char *id, const microt_Message *msg, uint32_t timeout_ms);

/* Board-initiated messages (id 0: Boot...) and every Captured frame (a capture streams them
 * under its request's id) of every session go to fn, called in the
 * session's thread: it must return quickly and must not call fleet_call/fleet_send. One handler
 * per fleet; set it before boards can send (NULL removes it). */
typedef void (*fleet_event_fn)(void *ctx, const char *device_id, const microt_Message *msg);
void fleet_set_event_handler(fleet_t *fleet, fleet_event_fn fn, void *ctx);

/* Pings an online device; fills the round trip in microseconds. */
int fleet_ping(fleet_t *fleet, const char *id, uint32_t *rtt_us);

/* ---- handing a port to a flash job ----
 * The session of the device (online, or last seen under that id on its port, e.g. a board
 * sitting in its ROM bootloader) stops reading its port and lends the open transport to the
 * caller. With reboot_to_bootloader it first asks the running firmware for Reboot{BOOTLOADER}
 * and waits for the acknowledgement (the board is then on its way into system memory). The
 * device's state in the store becomes "bootloader"; calls to it fail with MT_EOFFLINE while the
 * port is lent. MT_ENOTFOUND when no session ever knew the device, MT_EBUSY when its port is
 * already lent, MT_ETIMEOUT when the session could not open the port within timeout_ms, and the
 * RPC's error when the firmware refused the reboot (then nothing was lent). err gets a sentence. */
int fleet_borrow_port(fleet_t *fleet, const char *id, int reboot_to_bootloader,
                      uint32_t timeout_ms, struct transport **tr, char *err, size_t err_len);
/* The line rate of real UARTs (fleet_config_t.baud, default 115200). */
uint32_t fleet_baud(const fleet_t *fleet);
/* Gives the port back: the session starts a fresh link and says Hello (a board that booted a
 * new image reports its new firmware version; one still in its bootloader stays "bootloader"). */
void fleet_return_port(fleet_t *fleet, const char *id, struct transport *tr);

#endif /* MICROT_FLEET_H */
