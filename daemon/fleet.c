/*
 * fleet.c — one session thread per serial port, and the table of boards online now.
 *
 * A session owns its port, its link (proto/link.h) and everything that touches them: only the
 * session thread reads, writes or polls. Other threads (HTTP handlers, jobs) hand it one call at
 * a time through a mailbox guarded by the session mutex and wake it through an eventfd; the
 * thread sends the request, matches the reply by its id and signals the caller, who has a
 * deadline of its own. A session's life:
 *
 *   open port -> Hello (DeviceInfo) -> online: serve calls, ping when idle -> lost -> reopen
 *
 * The port scanner expands each configured port pattern (a path, a glob, or "auto" for USB
 * serial ports) every second and starts a session for each new path, so a board restarted on
 * another pty path is found again and, by its unique ID, recognised as the same device.
 */
#include "fleet.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "link.h"
#include "mt_err.h"
#include "pb_decode.h"
#include "pb_encode.h"
#include "transport.h"

#define FLEET_WINDOW 8u
#define FLEET_RTO_MS 150u
#define FLEET_MAX_RETRIES 12u
#define FLEET_HELLO_TIMEOUT_MS 1500u
#define FLEET_REOPEN_MS 300u
#define FLEET_SCAN_MS 500u
#define FLEET_LEND_QUIET_MS 150u     /* a bootloader answers a stray byte within a few ms */
#define FLEET_LEND_DRAIN_MAX_MS 2000u

typedef enum { CALL_IDLE, CALL_QUEUED, CALL_SENT, CALL_DONE } call_state_t;

/* Lending the port to a flash job: NONE -> REQUESTED (borrower) -> BUSY (session took it up:
 * reboot RPC) -> LENT or FAILED -> RETURNED (borrower) -> NONE (session). */
typedef enum { LEND_NONE, LEND_REQUESTED, LEND_BUSY, LEND_LENT, LEND_FAILED, LEND_RETURNED } lend_state_t;

typedef struct session {
    fleet_t *fleet;
    char path[256];
    char claimed[4096];         /* resolved device path while open (guarded by fleet mu) */
    atomic_int yield_req;       /* a newer path names the same device: let it have the line */
    int from_pattern;           /* found by a glob/auto scan: ends when its path disappears */
    pthread_t thread;
    int wake_fd;
    atomic_int stop;

    /* Guarded by mu: the device snapshot and the caller mailbox. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int online;
    uint64_t online_since_ns;
    char id[FLEET_ID_CHARS];
    microt_DeviceInfo info;
    uint32_t rtt_us;
    call_state_t call_state;
    int call_want_reply;
    int call_result;
    uint32_t call_id;
    const microt_Message *call_req;
    microt_Message *call_reply;

    pthread_mutex_t call_mu;    /* one caller at a time per device */

    /* Guarded by mu: the port lent to a flash job (fleet_borrow_port). lend_req mirrors
     * "REQUESTED" so the session's loops can notice it without the lock. */
    atomic_int lend_req;
    atomic_int exited;          /* session_main returned: the scanner may free it */
    lend_state_t lend_state;
    int lend_reboot;
    int lend_result;
    char lend_err[192];
    char lend_id[FLEET_ID_CHARS]; /* the device the borrower named (the session may not know it
                                     yet: a daemon started while the board sat in its bootloader) */
    transport_t *lend_tr;

    /* Session thread only. */
    transport_t *tr;
    link_t link;
    uint32_t next_id;
    uint32_t sync_id;           /* id of the session's own request (Hello, Ping) */
    int sync_done;
    microt_Message sync_reply;
    microt_Message rx_msg;
    int rehello;                /* the board announced a reboot */
    int lost;                   /* link gave up or the port failed */
    uint64_t last_rx_ns;
    uint8_t tx_buf[LINK_MAX_PAYLOAD];
} session_t;

struct fleet {
    store_t *store;
    fleet_config_t cfg;
    pthread_mutex_t mu;
    session_t *sessions[FLEET_MAX_PORTS];
    unsigned n_sessions;
    char patterns[FLEET_MAX_PORTS][256];
    unsigned n_patterns;
    pthread_t scanner;
    atomic_int stop;
    fleet_event_fn event_fn;    /* set before sessions deliver events (fleet_set_event_handler) */
    void *event_ctx;
};

static uint64_t fleet_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t fleet_now_ms(void)
{
    return (uint32_t)(fleet_now_ns() / 1000000ull);
}

static int64_t fleet_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fleet_uid_hex(const microt_DeviceInfo *info, char out[FLEET_ID_CHARS])
{
    static const char hex[] = "0123456789abcdef";
    unsigned n = info->uid.size < 12 ? info->uid.size : 12;
    memset(out, 0, FLEET_ID_CHARS);
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[info->uid.bytes[i] >> 4];
        out[2 * i + 1] = hex[info->uid.bytes[i] & 15];
    }
}

static const char *fleet_board_name(uint32_t kind)
{
    switch (kind) {
    case microt_BoardKind_BOARD_H7A3ZI: return "h7a3zi";
    case microt_BoardKind_BOARD_L4R5ZI: return "l4r5zi";
    case microt_BoardKind_BOARD_QEMU_AN386: return "qemu-an386";
    case microt_BoardKind_BOARD_QEMU_AN500: return "qemu-an500";
    default: return "unknown";
    }
}

/* ---- link plumbing (session thread) ---- */

static void session_write(void *ctx, const uint8_t *bytes, size_t len)
{
    session_t *s = ctx;
    if (s->tr == NULL || s->lost)
        return;
    if (transport_write(s->tr, bytes, len, 1000) != 0)
        s->lost = 1;
}

static void session_deliver(void *ctx, const uint8_t *payload, size_t len)
{
    session_t *s = ctx;
    pb_istream_t is = pb_istream_from_buffer(payload, len);
    memset(&s->rx_msg, 0, sizeof(s->rx_msg));
    if (!pb_decode(&is, microt_Message_fields, &s->rx_msg))
        return; /* not a message: the link already proved the bytes intact, so the peer is confused */
    s->last_rx_ns = fleet_now_ns();
    /* Events: id 0, and a capture's stream of frames (they carry the Capture request's id, so
     * only the first could answer the call; the handler gets every one). */
    if ((s->rx_msg.id == 0 || s->rx_msg.which_body == microt_Message_captured_tag) &&
        s->fleet->event_fn != NULL && s->id[0] != '\0')
        s->fleet->event_fn(s->fleet->event_ctx, s->id, &s->rx_msg);
    if (s->rx_msg.id == 0) {
        /* A Boot we have not seen (its count differs from the hello's) means the board reset;
         * before the first hello has answered, that answer is news enough. */
        if (s->rx_msg.which_body == microt_Message_boot_tag && s->online &&
            s->rx_msg.body.boot.boot_count != s->info.boot_count)
            s->rehello = 1;
        return;
    }
    if (s->rx_msg.id == s->sync_id) {
        s->sync_reply = s->rx_msg;
        s->sync_done = 1;
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->call_state == CALL_SENT && s->call_want_reply && s->rx_msg.id == s->call_id) {
        *s->call_reply = s->rx_msg;
        s->call_result = s->rx_msg.which_body == microt_Message_error_tag ? MT_EDEVICE : 0;
        s->call_state = CALL_DONE;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Waits up to timeout_ms for input or a wake-up, feeds the link, runs its timers. */
static void session_pump(session_t *s, int timeout_ms)
{
    struct pollfd pfd[2] = {
        {.fd = transport_fd(s->tr), .events = POLLIN},
        {.fd = s->wake_fd, .events = POLLIN},
    };
    uint8_t buf[4096];
    uint32_t due = link_poll_due_ms(&s->link, fleet_now_ms());
    if ((uint32_t)timeout_ms > due)
        timeout_ms = (int)due;
    if (poll(pfd, 2, timeout_ms) < 0 && errno != EINTR) {
        s->lost = 1;
        return;
    }
    if (pfd[1].revents & POLLIN) {
        uint64_t v;
        (void)!read(s->wake_fd, &v, sizeof(v));
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = transport_read(s->tr, buf, sizeof(buf), 0);
        if (n < 0)
            s->lost = 1;
        else if (n > 0) {
            /* Any bytes (acks of a long transfer included) prove the board alive: without this a
             * push that gets only acks back would be interrupted by liveness pings every second,
             * and a ping queued behind a full window of chunks lets the window drain. */
            s->last_rx_ns = fleet_now_ns();
            link_input(&s->link, buf, (size_t)n, fleet_now_ms());
        }
    }
    if (link_poll(&s->link, fleet_now_ms()) == LINK_EPEER)
        s->lost = 1;
}

/* Encodes and queues msg; waits (pumping) while the window is full. */
static int session_send(session_t *s, const microt_Message *msg, uint32_t timeout_ms)
{
    pb_ostream_t os = pb_ostream_from_buffer(s->tx_buf, sizeof(s->tx_buf));
    uint32_t start = fleet_now_ms();
    if (!pb_encode(&os, microt_Message_fields, msg))
        return MT_EINVAL;
    while (!s->lost) {
        link_status_t st = link_send(&s->link, s->tx_buf, os.bytes_written, fleet_now_ms());
        if (st == LINK_OK)
            return 0;
        if (st != LINK_EFULL)
            return st == LINK_ETOOBIG ? MT_ETOOBIG : MT_EIO;
        if (fleet_now_ms() - start > timeout_ms)
            return MT_ETIMEOUT;
        session_pump(s, 10);
    }
    return MT_EIO;
}

/* The session's own request/reply (Hello, Ping), run inside the session thread. */
static int session_rpc(session_t *s, microt_Message *req, uint32_t timeout_ms)
{
    uint32_t start = fleet_now_ms();
    int rc;
    req->id = s->sync_id = ++s->next_id;
    s->sync_done = 0;
    rc = session_send(s, req, timeout_ms);
    if (rc != 0)
        return rc;
    while (!s->sync_done && !s->lost && !atomic_load(&s->stop)) {
        uint32_t spent = fleet_now_ms() - start;
        if (atomic_load(&s->lend_req))
            return MT_EBUSY; /* a flash job wants the line: a Hello to a bootloader is pointless */
        if (spent >= timeout_ms)
            return MT_ETIMEOUT;
        session_pump(s, (int)(timeout_ms - spent));
    }
    s->sync_id = 0;
    if (!s->sync_done)
        return s->lost ? MT_EIO : MT_ETIMEOUT;
    return s->sync_reply.which_body == microt_Message_error_tag ? MT_EDEVICE : 0;
}

static int session_hello(session_t *s)
{
    microt_Message req;
    store_device_t dev;
    int rc;

    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_hello_tag;
    req.body.hello.protocol_version = microt_ProtocolVersion_PROTOCOL_VERSION_CURRENT;
    rc = session_rpc(s, &req, FLEET_HELLO_TIMEOUT_MS);
    if (rc != 0)
        return rc;
    if (s->sync_reply.which_body != microt_Message_device_info_tag || s->sync_reply.body.device_info.uid.size == 0)
        return MT_EPROTO;

    pthread_mutex_lock(&s->mu);
    s->info = s->sync_reply.body.device_info;
    fleet_uid_hex(&s->info, s->id);
    s->online = 1;
    s->online_since_ns = fleet_now_ns();
    pthread_mutex_unlock(&s->mu);

    memset(&dev, 0, sizeof(dev));
    memcpy(dev.id, s->id, sizeof(dev.id));
    dev.board_kind = s->info.board;
    snprintf(dev.board_name, sizeof(dev.board_name), "%s", fleet_board_name(s->info.board));
    snprintf(dev.firmware_version, sizeof(dev.firmware_version), "%s", s->info.firmware_version);
    dev.protocol_version = s->info.protocol_version;
    dev.sram_bytes = s->info.sram_bytes;
    dev.flash_bytes = s->info.flash_bytes;
    dev.max_frame_bytes = s->info.max_frame_bytes;
    dev.capabilities = s->info.capabilities;
    dev.cpu_hz = s->info.cpu_hz;
    snprintf(dev.port, sizeof(dev.port), "%s", s->path);
    rc = store_device_seen(s->fleet->store, &dev, fleet_wall_ms());
    if (rc != 0)
        fprintf(stderr, "microtd: %s: cannot record device %s: %s\n", s->path, s->id, mt_strerror(rc));
    (void)events_publish("device", s->id, json_pack("{s:s}", "state", "online"));
    fprintf(stderr, "microtd: %s: board %s (%s, firmware %s) online\n", s->path, s->id,
            fleet_board_name(s->info.board), s->info.firmware_version);
    return 0;
}

static void session_ping(session_t *s)
{
    microt_Message req;
    uint64_t t0 = fleet_now_ns();
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_ping_tag;
    req.body.ping.nonce = (uint32_t)t0;
    if (session_rpc(s, &req, s->fleet->cfg.request_timeout_ms) == 0 &&
        s->sync_reply.which_body == microt_Message_pong_tag) {
        pthread_mutex_lock(&s->mu);
        s->rtt_us = (uint32_t)((fleet_now_ns() - t0) / 1000u);
        pthread_mutex_unlock(&s->mu);
    }
}

/* Sends a caller's queued message (if any) and finishes calls that want no reply. */
static void session_serve_mailbox(session_t *s)
{
    microt_Message msg;
    int want_reply, rc;

    pthread_mutex_lock(&s->mu);
    if (s->call_state != CALL_QUEUED) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    msg = *s->call_req;
    want_reply = s->call_want_reply;
    msg.id = want_reply ? ++s->next_id : 0;
    s->call_id = msg.id;
    s->call_state = CALL_SENT;
    pthread_mutex_unlock(&s->mu);

    rc = session_send(s, &msg, s->fleet->cfg.request_timeout_ms);

    pthread_mutex_lock(&s->mu);
    if (s->call_state == CALL_SENT && (rc != 0 || !want_reply)) {
        s->call_result = rc;
        s->call_state = CALL_DONE;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

static void session_go_offline(session_t *s, const char *reason)
{
    char id[FLEET_ID_CHARS];
    int was_online;
    pthread_mutex_lock(&s->mu);
    was_online = s->online;
    s->online = 0;
    memcpy(id, s->id, sizeof(id));
    if (s->call_state == CALL_QUEUED || s->call_state == CALL_SENT) {
        s->call_result = MT_EOFFLINE;
        s->call_state = CALL_DONE;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (was_online) {
        fprintf(stderr, "microtd: %s: board %s offline (%s)\n", s->path, id, reason);
        (void)store_device_set_state(s->fleet->store, id, "offline", reason, fleet_wall_ms());
        (void)events_publish("device", id, json_pack("{s:s, s:s}", "state", "offline", "reason", reason));
    }
}

static uint32_t session_new_link_id(void)
{
    uint32_t v = 0;
    while (v == 0)
        if (getrandom(&v, sizeof(v), 0) != sizeof(v))
            v = (uint32_t)fleet_now_ns();
    return v;
}

/* Serves one opened port until it is lost or the fleet stops. */
static void session_serve(session_t *s)
{
    const fleet_config_t *cfg = &s->fleet->cfg;
    /* Go-back-N restarts its timer at each ack, so the timeout must outlast one full frame on
     * the wire plus the adapter's turn-around: at 115200 baud a 2 KiB chunk alone takes ~185 ms,
     * and a fixed 150 ms resent the whole window before its first frame had even arrived. */
    uint32_t frame_ms = (uint32_t)((uint64_t)LINK_WIRE_MAX * 10u * 1000u / cfg->baud);
    link_config_t lc = {
        .window = FLEET_WINDOW,
        .max_payload = LINK_MAX_PAYLOAD,
        .rto_ms = FLEET_RTO_MS > 100u + 3u * frame_ms ? FLEET_RTO_MS : 100u + 3u * frame_ms,
        .max_retries = FLEET_MAX_RETRIES,
        .session_id = session_new_link_id(),
    };
    uint64_t last_store_touch = 0;
    if (link_init(&s->link, &lc, session_write, session_deliver, s) != LINK_OK)
        return;
    s->lost = 0;
    s->rehello = 0;
    if (session_hello(s) != 0)
        return;
    s->last_rx_ns = fleet_now_ns();
    while (!atomic_load(&s->stop) && !s->lost && !atomic_load(&s->yield_req) &&
           !atomic_load(&s->lend_req)) {
        uint64_t idle_ms = (fleet_now_ns() - s->last_rx_ns) / 1000000ull;
        if (s->rehello) {
            s->rehello = 0;
            if (session_hello(s) != 0)
                break;
            continue;
        }
        session_serve_mailbox(s);
        if (idle_ms >= cfg->offline_after_ms)
            break;
        if (idle_ms >= cfg->ping_interval_ms) {
            session_ping(s);
            continue;
        }
        if ((fleet_now_ns() - last_store_touch) / 1000000ull >= 5000u) {
            (void)store_device_touch(s->fleet->store, s->id, fleet_wall_ms());
            last_store_touch = fleet_now_ns();
        }
        session_pump(s, 50);
    }
}

/* Claims the device a path resolves to. Two paths can name one device: a stale symlink left by a
 * killed simulator may point at a pty number the kernel has since given to a new board. Only one
 * session may talk to a device, or both would read half of its bytes. */
static int64_t session_path_mtime_ns(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static int session_claim(session_t *s)
{
    fleet_t *f = s->fleet;
    char real[sizeof(s->claimed)];
    int rc = 0;
    if (realpath(s->path, real) == NULL)
        return errno == ENOENT ? MT_ENOTFOUND : MT_EIO;
    pthread_mutex_lock(&f->mu);
    for (unsigned i = 0; i < f->n_sessions; i++) {
        session_t *h = f->sessions[i];
        if (h == s || strcmp(h->claimed, real) != 0)
            continue;
        rc = MT_EBUSY;
        /* The path made last is the live one (a board re-plugged on a new path); the other is
         * a leftover, and its session steps aside. */
        if (session_path_mtime_ns(s->path) > session_path_mtime_ns(h->path))
            atomic_store(&h->yield_req, 1);
    }
    if (rc == 0) {
        memcpy(s->claimed, real, sizeof(real));
        atomic_store(&s->yield_req, 0);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void session_unclaim(session_t *s)
{
    pthread_mutex_lock(&s->fleet->mu);
    s->claimed[0] = '\0';
    pthread_mutex_unlock(&s->fleet->mu);
}

/* Discards input until none came for quiet_ms (at most max_ms in all), after our own output
 * has left (tcdrain; harmless on a pty). The link is not run meanwhile: nothing is resent. */
static void session_drain(session_t *s, uint32_t quiet_ms, uint32_t max_ms)
{
    uint32_t start = fleet_now_ms();
    uint8_t buf[256];
    (void)tcdrain(transport_fd(s->tr));
    while (fleet_now_ms() - start < max_ms) {
        struct pollfd p = {.fd = transport_fd(s->tr), .events = POLLIN};
        int r = poll(&p, 1, (int)quiet_ms);
        if (r == 0)
            return;
        if (r < 0 && errno != EINTR)
            return;
        if (r > 0 && transport_read(s->tr, buf, sizeof(buf), 0) < 0)
            return; /* port gone: the job will find out */
    }
}

/* Lends the open port to the flash job that asked (fleet_borrow_port) and waits until it is
 * returned. With a reboot wanted, the firmware is first asked for Reboot{BOOTLOADER}; its
 * acknowledgement is the last link traffic, so the job then has a line that only the ROM
 * bootloader speaks on. */
static void session_lend(session_t *s)
{
    char err[sizeof(s->lend_err)] = "";
    char id[FLEET_ID_CHARS];
    int reboot, online, rc = 0;

    pthread_mutex_lock(&s->mu);
    atomic_store(&s->lend_req, 0);
    if (s->lend_state != LEND_REQUESTED) { /* the borrower gave up meanwhile */
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->lend_state = LEND_BUSY;
    reboot = s->lend_reboot;
    online = s->online;
    memcpy(id, s->id[0] != '\0' ? s->id : s->lend_id, sizeof(id));
    pthread_mutex_unlock(&s->mu);

    if (reboot) {
        microt_Message req;
        memset(&req, 0, sizeof(req));
        req.which_body = microt_Message_reboot_tag;
        req.body.reboot.target = microt_Reboot_Target_BOOTLOADER;
        if (!online) {
            rc = MT_EOFFLINE;
            snprintf(err, sizeof(err), "board %s is not running its firmware (no Hello), so it "
                     "cannot be asked to reboot; flash it with entry 'bootloader' or 'dtr-rts'", id);
        } else if ((rc = session_rpc(s, &req, s->fleet->cfg.request_timeout_ms)) != 0) {
            snprintf(err, sizeof(err), "board %s did not accept Reboot{BOOTLOADER}: %s", id,
                     rc == MT_EDEVICE ? s->sync_reply.body.error.message : mt_strerror(rc));
        } else if (s->sync_reply.which_body != microt_Message_ack_tag) {
            rc = MT_EPROTO;
            snprintf(err, sizeof(err), "board %s answered Reboot{BOOTLOADER} with message %u, "
                     "not an Ack", id, (unsigned)s->sync_reply.which_body);
        } else {
            /* Let the link's last acknowledgements out before the line changes protocol. */
            for (int i = 0; i < 5; i++)
                session_pump(s, 20);
        }
    }
    if (rc == 0) {
        /* The line must be quiet when the job starts: Hellos sent to a board that sits in its
         * bootloader are still being answered (NACKs), and a late answer would be taken for
         * the reply to the job's first command. */
        session_drain(s, FLEET_LEND_QUIET_MS, FLEET_LEND_DRAIN_MAX_MS);
        pthread_mutex_lock(&s->mu);
        s->online = 0;
        if (s->call_state == CALL_QUEUED || s->call_state == CALL_SENT) {
            s->call_result = MT_EOFFLINE;
            s->call_state = CALL_DONE;
            pthread_cond_broadcast(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
        if (id[0] != '\0') {
            (void)store_device_set_state(s->fleet->store, id, "bootloader",
                                         "port lent to a flash job", fleet_wall_ms());
            (void)events_publish("device", id, json_pack("{s:s}", "state", "bootloader"));
        }
        fprintf(stderr, "microtd: %s: board %s: port lent to a flash job\n", s->path, id);
    }

    pthread_mutex_lock(&s->mu);
    if (rc != 0) {
        s->lend_state = LEND_FAILED;
        s->lend_result = rc;
        memcpy(s->lend_err, err, sizeof(err));
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->lend_tr = s->tr;
    s->lend_state = LEND_LENT;
    pthread_cond_broadcast(&s->cv);
    /* The job owns the line until it returns it, even through a fleet stop: closing the port
     * under a running flash would leave the board half written. */
    while (s->lend_state != LEND_RETURNED)
        pthread_cond_wait(&s->cv, &s->mu);
    s->lend_state = LEND_NONE;
    s->lend_tr = NULL;
    pthread_mutex_unlock(&s->mu);
    transport_flush_input(s->tr); /* the bootloader's last bytes are not link frames */
    fprintf(stderr, "microtd: %s: port returned by the flash job\n", s->path);
}

static void *session_main(void *arg)
{
    session_t *s = arg;
    while (!atomic_load(&s->stop)) {
        int rc = session_claim(s);
        if (rc == 0) {
            rc = transport_open(s->path, s->fleet->cfg.baud, &s->tr);
            if (rc != 0)
                session_unclaim(s);
        }
        if (rc == 0) {
            /* Serve; a lend request interrupts serving, and after the port comes back the
             * session starts over with a fresh link and Hello on the same open port. */
            for (;;) {
                if (atomic_load(&s->lend_req)) {
                    session_lend(s);
                    if (atomic_load(&s->stop))
                        break;
                    s->lost = 0;
                }
                session_serve(s);
                if (!atomic_load(&s->lend_req) || s->lost || atomic_load(&s->stop))
                    break;
            }
            session_go_offline(s, atomic_load(&s->yield_req) ? "seen on another port"
                                  : s->lost                    ? "link lost"
                                                               : "no answer");
            transport_close(s->tr);
            s->tr = NULL;
            session_unclaim(s);
        } else if (rc == MT_ENOTFOUND && s->from_pattern) {
            break; /* the scanner found it once; it is gone, and a new path gets a new session */
        }
        for (unsigned i = 0;
             i < FLEET_REOPEN_MS / 50 && !atomic_load(&s->stop) && !atomic_load(&s->lend_req); i++)
            usleep(50000);
    }
    atomic_store(&s->exited, 1);
    return NULL;
}

/* ---- the fleet ---- */

static int fleet_start_session(fleet_t *f, const char *path, int from_pattern)
{
    session_t *s;
    if (f->n_sessions >= FLEET_MAX_PORTS)
        return MT_ETOOBIG;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return MT_ENOMEM;
    s->fleet = f;
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->from_pattern = from_pattern;
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->call_mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (s->wake_fd < 0 || pthread_create(&s->thread, NULL, session_main, s) != 0) {
        if (s->wake_fd >= 0)
            close(s->wake_fd);
        free(s);
        return MT_EIO;
    }
    f->sessions[f->n_sessions++] = s;
    return 0;
}

static void fleet_free_session(session_t *s)
{
    atomic_store(&s->stop, 1);
    uint64_t v = 1;
    (void)!write(s->wake_fd, &v, sizeof(v));
    pthread_join(s->thread, NULL);
    close(s->wake_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->call_mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static int fleet_has_path(fleet_t *f, const char *path)
{
    for (unsigned i = 0; i < f->n_sessions; i++)
        if (strcmp(f->sessions[i]->path, path) == 0)
            return 1;
    return 0;
}

/* Ends sessions whose thread has finished (their path vanished), starts new ones. */
static void fleet_scan(fleet_t *f)
{
    pthread_mutex_lock(&f->mu);
    for (unsigned i = 0; i < f->n_sessions;) {
        session_t *s = f->sessions[i];
        int lent;
        pthread_mutex_lock(&s->mu);
        lent = s->lend_state != LEND_NONE; /* a borrower still holds a pointer to it */
        pthread_mutex_unlock(&s->mu);
        if (s->from_pattern && !lent && pthread_tryjoin_np(s->thread, NULL) == 0) {
            close(s->wake_fd);
            free(s);
            f->sessions[i] = f->sessions[--f->n_sessions];
            continue;
        }
        i++;
    }
    for (unsigned p = 0; p < f->n_patterns; p++) {
        const char *pat = f->patterns[p];
        if (strcmp(pat, "auto") == 0) {
            char paths[16][256];
            unsigned n = 0;
            if (transport_list_usb(paths, 16, &n) == 0)
                for (unsigned i = 0; i < n; i++)
                    if (!fleet_has_path(f, paths[i]))
                        (void)fleet_start_session(f, paths[i], 1);
        } else if (strpbrk(pat, "*?[") != NULL) {
            glob_t g;
            if (glob(pat, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc; i++)
                    if (!fleet_has_path(f, g.gl_pathv[i]))
                        (void)fleet_start_session(f, g.gl_pathv[i], 1);
            }
            globfree(&g);
        }
    }
    pthread_mutex_unlock(&f->mu);
}

static void *fleet_scanner_main(void *arg)
{
    fleet_t *f = arg;
    while (!atomic_load(&f->stop)) {
        fleet_scan(f);
        for (unsigned i = 0; i < FLEET_SCAN_MS / 50 && !atomic_load(&f->stop); i++)
            usleep(50000);
    }
    return NULL;
}

int fleet_start(fleet_t **out, store_t *store, const fleet_config_t *cfg)
{
    fleet_t *f = calloc(1, sizeof(*f));
    *out = NULL;
    if (f == NULL)
        return MT_ENOMEM;
    f->store = store;
    f->cfg = *cfg;
    if (f->cfg.baud == 0)
        f->cfg.baud = 115200;
    if (f->cfg.ping_interval_ms == 0)
        f->cfg.ping_interval_ms = 1000;
    if (f->cfg.request_timeout_ms == 0)
        f->cfg.request_timeout_ms = 3000;
    if (f->cfg.offline_after_ms == 0)
        f->cfg.offline_after_ms = 4000;
    pthread_mutex_init(&f->mu, NULL);
    for (unsigned i = 0; i < cfg->n_ports; i++) {
        if (fleet_add_port(f, cfg->ports[i]) != 0) {
            fleet_stop(f);
            return MT_EINVAL;
        }
    }
    if (pthread_create(&f->scanner, NULL, fleet_scanner_main, f) != 0) {
        f->scanner = 0;
        fleet_stop(f);
        return MT_EIO;
    }
    *out = f;
    return 0;
}

int fleet_add_port(fleet_t *f, const char *path)
{
    int rc = 0;
    if (path == NULL || path[0] == '\0' || strlen(path) >= 256)
        return MT_EINVAL;
    pthread_mutex_lock(&f->mu);
    if (strcmp(path, "auto") == 0 || strpbrk(path, "*?[") != NULL) {
        if (f->n_patterns >= FLEET_MAX_PORTS)
            rc = MT_ETOOBIG;
        else
            snprintf(f->patterns[f->n_patterns++], 256, "%s", path);
    } else if (!fleet_has_path(f, path)) {
        rc = fleet_start_session(f, path, 0);
    }
    pthread_mutex_unlock(&f->mu);
    if (rc == 0 && f->scanner == 0)
        return 0;
    return rc;
}

void fleet_stop(fleet_t *f)
{
    if (f == NULL)
        return;
    atomic_store(&f->stop, 1);
    if (f->scanner != 0)
        pthread_join(f->scanner, NULL);
    for (unsigned i = 0; i < f->n_sessions; i++)
        fleet_free_session(f->sessions[i]);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* The online session of a device (the newest, if it shows up on two ports), or NULL. */
static session_t *fleet_find(fleet_t *f, const char *id)
{
    session_t *best = NULL;
    pthread_mutex_lock(&f->mu);
    for (unsigned i = 0; i < f->n_sessions; i++) {
        session_t *s = f->sessions[i];
        pthread_mutex_lock(&s->mu);
        if (s->online && strcmp(s->id, id) == 0 &&
            (best == NULL || s->online_since_ns > best->online_since_ns))
            best = s;
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return best;
}

int fleet_get(fleet_t *f, const char *id, fleet_device_t *out)
{
    session_t *s = fleet_find(f, id);
    if (s == NULL)
        return MT_EOFFLINE;
    pthread_mutex_lock(&s->mu);
    memset(out, 0, sizeof(*out));
    memcpy(out->id, s->id, sizeof(out->id));
    snprintf(out->port, sizeof(out->port), "%s", s->path);
    out->online = s->online;
    out->rtt_us = s->rtt_us;
    out->info = s->info;
    pthread_mutex_unlock(&s->mu);
    return out->online ? 0 : MT_EOFFLINE;
}

static int fleet_mail(fleet_t *f, const char *id, const microt_Message *req, microt_Message *reply,
                      uint32_t timeout_ms)
{
    session_t *s = fleet_find(f, id);
    struct timespec deadline;
    uint64_t v = 1;
    int rc;

    if (s == NULL)
        return MT_EOFFLINE;
    if (timeout_ms == 0)
        timeout_ms = f->cfg.request_timeout_ms;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000u;
    deadline.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    /* Callers of one device queue here; the wait counts against their deadline. */
    if (pthread_mutex_timedlock(&s->call_mu, &deadline) != 0)
        return MT_ETIMEOUT;
    pthread_mutex_lock(&s->mu);
    s->call_req = req;
    s->call_reply = reply;
    s->call_want_reply = reply != NULL;
    s->call_state = CALL_QUEUED;
    s->call_result = MT_ETIMEOUT;
    (void)!write(s->wake_fd, &v, sizeof(v));
    while (s->call_state != CALL_DONE) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT)
            break;
    }
    rc = s->call_state == CALL_DONE ? s->call_result : MT_ETIMEOUT;
    /* A reply arriving after the deadline finds no call and is dropped. */
    s->call_state = CALL_IDLE;
    s->call_req = NULL;
    s->call_reply = NULL;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->call_mu);
    return rc;
}

int fleet_call(fleet_t *f, const char *id, const microt_Message *req, microt_Message *reply,
               uint32_t timeout_ms)
{
    if (reply == NULL)
        return MT_EINVAL;
    return fleet_mail(f, id, req, reply, timeout_ms);
}

int fleet_send(fleet_t *f, const char *id, const microt_Message *msg, uint32_t timeout_ms)
{
    return fleet_mail(f, id, msg, NULL, timeout_ms);
}

void fleet_set_event_handler(fleet_t *f, fleet_event_fn fn, void *ctx)
{
    pthread_mutex_lock(&f->mu);
    f->event_ctx = ctx;
    f->event_fn = fn;
    pthread_mutex_unlock(&f->mu);
}

int fleet_ping(fleet_t *f, const char *id, uint32_t *rtt_us)
{
    microt_Message req, reply;
    uint64_t t0 = fleet_now_ns();
    int rc;
    memset(&req, 0, sizeof(req));
    req.which_body = microt_Message_ping_tag;
    req.body.ping.nonce = (uint32_t)t0;
    rc = fleet_call(f, id, &req, &reply, 0);
    if (rc != 0)
        return rc;
    if (reply.which_body != microt_Message_pong_tag || reply.body.pong.nonce != req.body.ping.nonce)
        return MT_EPROTO;
    *rtt_us = (uint32_t)((fleet_now_ns() - t0) / 1000u);
    return 0;
}

/* ---- lending a port to a flash job ---- */

/* The session that talks, or last talked, to the device: online first; else one that said
 * Hello under this id before (a board now in its bootloader); else the one on the port the
 * store last saw it on (a daemon started while the board sat in its bootloader). Sessions whose
 * thread ended (their path vanished) are skipped. Caller holds f->mu, so the scanner cannot
 * free the session before the caller marks it. */
static session_t *fleet_find_any_locked(fleet_t *f, const char *id)
{
    session_t *online = NULL, *known = NULL;
    store_device_row_t row;
    for (unsigned i = 0; i < f->n_sessions; i++) {
        session_t *s = f->sessions[i];
        if (atomic_load(&s->exited))
            continue;
        pthread_mutex_lock(&s->mu);
        if (strcmp(s->id, id) == 0) {
            if (s->online && (online == NULL || s->online_since_ns > online->online_since_ns))
                online = s;
            else if (known == NULL)
                known = s;
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (online != NULL)
        return online;
    if (known != NULL || store_device_get(f->store, id, &row) != 0)
        return known;
    for (unsigned i = 0; i < f->n_sessions; i++)
        if (!atomic_load(&f->sessions[i]->exited) && strcmp(f->sessions[i]->path, row.dev.port) == 0)
            return f->sessions[i];
    return NULL;
}

int fleet_borrow_port(fleet_t *f, const char *id, int reboot_to_bootloader, uint32_t timeout_ms,
                      transport_t **tr, char *err, size_t err_len)
{
    session_t *s;
    struct timespec deadline;
    uint64_t v = 1;
    int rc;

    *tr = NULL;
    pthread_mutex_lock(&f->mu);
    s = fleet_find_any_locked(f, id);
    if (s == NULL) {
        pthread_mutex_unlock(&f->mu);
        snprintf(err, err_len, "no port of this daemon has seen board %s", id);
        return MT_ENOTFOUND;
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000u;
    deadline.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    pthread_mutex_unlock(&f->mu); /* marked below before anyone can reap it */
    if (s->lend_state != LEND_NONE) {
        pthread_mutex_unlock(&s->mu);
        snprintf(err, err_len, "the port of board %s is already lent to a flash job", id);
        return MT_EBUSY;
    }
    s->lend_state = LEND_REQUESTED;
    s->lend_reboot = reboot_to_bootloader;
    snprintf(s->lend_id, sizeof(s->lend_id), "%s", id);
    s->lend_err[0] = '\0';
    atomic_store(&s->lend_req, 1);
    (void)!write(s->wake_fd, &v, sizeof(v));
    for (;;) {
        if (s->lend_state == LEND_LENT) {
            *tr = s->lend_tr;
            rc = 0;
            break;
        }
        if (s->lend_state == LEND_FAILED) {
            rc = s->lend_result;
            snprintf(err, err_len, "%s", s->lend_err);
            s->lend_state = LEND_NONE;
            break;
        }
        /* Once the session took the request up it answers within its RPC deadline; before
         * that the request can be withdrawn (port not openable, e.g. the board unplugged). */
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT &&
            s->lend_state == LEND_REQUESTED) {
            s->lend_state = LEND_NONE;
            atomic_store(&s->lend_req, 0);
            snprintf(err, err_len, "the port %s of board %s could not be taken over within %u ms",
                     s->path, id, timeout_ms);
            rc = MT_ETIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void fleet_return_port(fleet_t *f, const char *id, transport_t *tr)
{
    uint64_t v = 1;
    (void)id;
    pthread_mutex_lock(&f->mu);
    for (unsigned i = 0; i < f->n_sessions; i++) {
        session_t *s = f->sessions[i];
        pthread_mutex_lock(&s->mu);
        if (s->lend_state == LEND_LENT && s->lend_tr == tr) {
            s->lend_state = LEND_RETURNED;
            pthread_cond_broadcast(&s->cv);
            (void)!write(s->wake_fd, &v, sizeof(v));
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&f->mu);
}

uint32_t fleet_baud(const fleet_t *f)
{
    return f->cfg.baud;
}
