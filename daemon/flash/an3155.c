/*
 * an3155.c — AN3155 USART bootloader client (see an3155.h).
 *
 * Each exchange is request bytes, then a reply read against an absolute deadline computed from
 * the reply's size at the line's speed plus a fixed allowance; so a lost byte costs one deadline,
 * never a hang. Resynchronisation relies on a property of the protocol worth spelling out: the
 * byte 0xFF is harmless in every state the bootloader can wait in —
 *   command byte:   0xFF 0xFF is not a command/complement pair  -> NACK
 *   address + XOR:  FF FF FF FF with checksum FF is wrong         -> NACK
 *   read length:    0xFF with complement 0xFF is wrong            -> NACK
 *   write data:     N=0xFF, 256 x 0xFF, checksum 0xFF is *valid*  -> programs 0xFF, which changes
 *                   no flash bit (a programmed granule is refused) -> ACK or NACK
 *   erase count:    FF FF with checksum FF (must be 00)           -> NACK, no mass erase
 * so feeding 0xFF until the bootloader answers always ends the pending command without harm.
 */
#include "an3155.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mt_err.h"

#define AN3155_SYNC 0x7Fu
#define AN3155_RESYNC_MAX_BYTES 1040u /* longest pending command: an erase list of 512 pages */
#define AN3155_RESYNC_BATCH 16u

static uint64_t an_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int an_fail(an3155_t *bl, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bl->err, sizeof(bl->err), fmt, ap);
    va_end(ap);
    return err;
}

void an3155_init(an3155_t *bl, int fd, const an3155_timing_t *timing)
{
    memset(bl, 0, sizeof(*bl));
    bl->fd = fd;
    if (timing != NULL)
        bl->t = *timing;
    if (bl->t.baud == 0)
        bl->t.baud = 115200;
    if (bl->t.reply_ms == 0)
        bl->t.reply_ms = 500;
    if (bl->t.erase_page_ms == 0)
        bl->t.erase_page_ms = 100;
    if (bl->t.mass_erase_ms == 0)
        bl->t.mass_erase_ms = 40000;
    if (bl->t.sync_probe_ms == 0)
        bl->t.sync_probe_ms = 50;
}

/* Milliseconds n bytes take on the line at 11 bits per byte, doubled for slack, plus reply_ms. */
static uint64_t an_deadline(const an3155_t *bl, size_t n_bytes, uint32_t extra_ms)
{
    uint64_t wire_ms = (uint64_t)n_bytes * 11u * 1000u * 2u / bl->t.baud;
    return an_now_ms() + bl->t.reply_ms + wire_ms + extra_ms;
}

/* Deadline of a probe while synchronising: wire time plus sync_probe_ms, no reply allowance. */
static uint64_t an_probe_deadline(const an3155_t *bl, size_t n_bytes)
{
    uint64_t wire_ms = (uint64_t)n_bytes * 11u * 1000u * 2u / bl->t.baud;
    return an_now_ms() + wire_ms + bl->t.sync_probe_ms;
}

static int an_write(an3155_t *bl, const uint8_t *buf, size_t len)
{
    uint64_t deadline = an_deadline(bl, len, 0);
    while (len > 0) {
        ssize_t n = write(bl->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            uint64_t now = an_now_ms();
            if (now >= deadline)
                return an_fail(bl, MT_ETIMEOUT, "serial line does not accept output");
            struct pollfd p = { .fd = bl->fd, .events = POLLOUT };
            (void)poll(&p, 1, (int)(deadline - now));
            continue;
        }
        if (n <= 0)
            return an_fail(bl, MT_EIO, "serial write failed: %s", strerror(errno));
        buf += n;
        len -= (size_t)n;
    }
    return MT_OK;
}

/* Reads exactly n bytes before deadline_ms (absolute). *got tells how many came. */
static int an_read(an3155_t *bl, uint8_t *buf, size_t n, uint64_t deadline_ms, size_t *got)
{
    size_t have = 0;
    while (have < n) {
        uint64_t now = an_now_ms();
        if (now >= deadline_ms)
            break;
        struct pollfd p = { .fd = bl->fd, .events = POLLIN };
        int r = poll(&p, 1, (int)(deadline_ms - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return an_fail(bl, MT_EIO, "serial poll failed: %s", strerror(errno));
        if (r == 0)
            break;
        ssize_t k = read(bl->fd, buf + have, n - have);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0) {
            if (got != NULL)
                *got = have;
            return an_fail(bl, MT_EIO, "serial line closed or failed: %s",
                           k == 0 ? "end of file" : strerror(errno));
        }
        have += (size_t)k;
    }
    if (got != NULL)
        *got = have;
    return have == n ? MT_OK : MT_ETIMEOUT;
}

/* Discards input until the line has been quiet for quiet_ms (at most max_ms in all). */
static void an_drain(an3155_t *bl, uint32_t quiet_ms, uint32_t max_ms)
{
    uint64_t end = an_now_ms() + max_ms;
    uint8_t junk[256];
    while (an_now_ms() < end) {
        struct pollfd p = { .fd = bl->fd, .events = POLLIN };
        int r = poll(&p, 1, (int)quiet_ms);
        if (r <= 0)
            return;
        ssize_t k = read(bl->fd, junk, sizeof(junk));
        if (k <= 0)
            return;
    }
}

/* Waits for ACK; NACK -> MT_EDEVICE, other byte -> MT_EPROTO, nothing -> MT_ETIMEOUT. */
static int an_ack(an3155_t *bl, uint64_t deadline_ms, const char *what)
{
    uint8_t b;
    int err = an_read(bl, &b, 1, deadline_ms, NULL);
    if (err == MT_ETIMEOUT)
        return an_fail(bl, MT_ETIMEOUT, "no answer from the bootloader to %s", what);
    if (err != MT_OK)
        return err;
    if (b == AN3155_ACK)
        return MT_OK;
    if (b == AN3155_NACK)
        return an_fail(bl, MT_EDEVICE, "bootloader refused %s (NACK)", what);
    return an_fail(bl, MT_EPROTO, "bootloader answered 0x%02x to %s, not ACK/NACK", b, what);
}

static int an_cmd(an3155_t *bl, uint8_t cmd, const char *what)
{
    uint8_t b[2] = { cmd, (uint8_t)(cmd ^ 0xFFu) };
    int err = an_write(bl, b, 2);
    if (err != MT_OK)
        return err;
    return an_ack(bl, an_deadline(bl, 1, 0), what);
}

static int an_send_addr(an3155_t *bl, uint32_t addr, const char *what)
{
    uint8_t b[5] = { (uint8_t)(addr >> 24), (uint8_t)(addr >> 16), (uint8_t)(addr >> 8),
                     (uint8_t)addr, 0 };
    b[4] = (uint8_t)(b[0] ^ b[1] ^ b[2] ^ b[3]);
    int err = an_write(bl, b, 5);
    if (err != MT_OK)
        return err;
    return an_ack(bl, an_deadline(bl, 1, 0), what);
}

int an3155_setup_tty(int fd, uint32_t baud, bool *parity_set)
{
    struct termios t;
    *parity_set = false;
    if (!isatty(fd))
        return MT_OK;
    if (tcgetattr(fd, &t) != 0)
        return MT_EIO;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD | PARENB;
    t.c_cflag &= ~(PARODD | CSTOPB | CRTSCTS);
    t.c_iflag &= ~(INPCK | IXON | IXOFF);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    speed_t sp;
    switch (baud) {
    case 9600: sp = B9600; break;
    case 19200: sp = B19200; break;
    case 38400: sp = B38400; break;
    case 57600: sp = B57600; break;
    case 115200: sp = B115200; break;
    case 230400: sp = B230400; break;
    case 460800: sp = B460800; break;
    case 921600: sp = B921600; break;
    default: return MT_EINVAL;
    }
    cfsetispeed(&t, sp);
    cfsetospeed(&t, sp);
    if (tcsetattr(fd, TCSANOW, &t) != 0)
        return MT_EIO;
    if (tcgetattr(fd, &t) == 0)
        *parity_set = (t.c_cflag & PARENB) != 0;
    return MT_OK;
}

static int an_settle(an3155_t *bl);

int an3155_resync(an3155_t *bl)
{
    static const uint8_t ff[AN3155_RESYNC_BATCH] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    };
    an_drain(bl, 10, 500);
    bool answered = false;
    for (unsigned sent = 0; sent < AN3155_RESYNC_MAX_BYTES && !answered;
         sent += AN3155_RESYNC_BATCH) {
        int err = an_write(bl, ff, AN3155_RESYNC_BATCH);
        if (err != MT_OK)
            return err;
        uint8_t b;
        err = an_read(bl, &b, 1, an_probe_deadline(bl, AN3155_RESYNC_BATCH), NULL);
        if (err == MT_OK)
            answered = true;
        else if (err != MT_ETIMEOUT)
            return err;
    }
    if (!answered)
        return an_fail(bl, MT_ETIMEOUT, "bootloader does not answer (not in bootloader mode?)");
    /* The pending command is over; the NACKs the remaining 0xFF pairs earned are swallowed,
     * and a last 0xFF may wait as half a command: an_settle() sorts that out. */
    return an_settle(bl);
}

/* Sends the autobaud byte: a fresh bootloader ACKs it; an idle synchronised one takes it as a
 * command byte and NACKs the second. */
static int an_sync(an3155_t *bl, uint32_t quiet_ms)
{
    uint8_t sync = AN3155_SYNC, b;
    an_drain(bl, quiet_ms, 4 * quiet_ms + 1000);
    for (int i = 0; i < 2; i++) {
        int err = an_write(bl, &sync, 1);
        if (err != MT_OK)
            return err;
        err = an_read(bl, &b, 1, an_probe_deadline(bl, 1), NULL);
        if (err == MT_OK && (b == AN3155_ACK || b == AN3155_NACK))
            return an_settle(bl);
        if (err == MT_OK)
            break; /* noise, or a running application: fall back to the full resync */
        if (err != MT_ETIMEOUT)
            return err;
    }
    return an3155_resync(bl);
}

static int an_get(an3155_t *bl)
{
    int err = an_cmd(bl, AN3155_CMD_GET, "Get");
    if (err != MT_OK)
        return err;
    uint8_t n, buf[256];
    err = an_read(bl, &n, 1, an_deadline(bl, 1, 0), NULL);
    if (err != MT_OK)
        return an_fail(bl, err, "Get: no length byte");
    if (n < 3 || n > 31)
        return an_fail(bl, MT_EPROTO, "Get: implausible length %u", n);
    err = an_read(bl, buf, (size_t)n + 1, an_deadline(bl, (size_t)n + 1, 0), NULL);
    if (err != MT_OK)
        return an_fail(bl, err, "Get: reply cut short");
    bl->bl_version = buf[0];
    bl->n_cmds = 0;
    for (unsigned i = 1; i <= n && bl->n_cmds < sizeof(bl->cmds); i++)
        bl->cmds[bl->n_cmds++] = buf[i];
    return an_ack(bl, an_deadline(bl, 1, 0), "Get (end)");
}

static int an_get_version(an3155_t *bl)
{
    int err = an_cmd(bl, AN3155_CMD_GET_VERSION, "Get Version");
    if (err != MT_OK)
        return err;
    uint8_t b[3];
    err = an_read(bl, b, 3, an_deadline(bl, 3, 0), NULL);
    if (err != MT_OK)
        return an_fail(bl, err, "Get Version: reply cut short");
    /* Protocol versions are 1.0..4.x; once Get told us ours, it must not change. A reply that
     * is not this is stale bytes, not the bootloader speaking. */
    if (b[0] < 0x10 || b[0] > 0x4F || (bl->bl_version != 0 && b[0] != bl->bl_version))
        return an_fail(bl, MT_EPROTO, "Get Version: implausible version 0x%02x", b[0]);
    bl->option1 = b[1];
    bl->option2 = b[2];
    return an_ack(bl, an_deadline(bl, 1, 0), "Get Version (end)");
}

/* Proves the bootloader is in step and waiting for a command, whatever stale answers or half
 * commands earlier probes left (a late answer makes us send one probe too many; a 0xFF of the
 * stuffing may be pending). It does not rely on timing: Get Version answers ACK..ACK when the
 * bootloader was clean; NACK when one of our bytes was pending (then the 0xFE of our command is
 * pending, and one 0xFF completes it with a NACK that is sure to come). Stale bytes in flight
 * only cost another round, after a longer quiet wait. */
static int an_settle(an3155_t *bl)
{
    int err = MT_EPROTO;
    for (int round = 0; round < 4; round++) {
        an_drain(bl, 20u * (uint32_t)(round + 1), 1000);
        err = an_get_version(bl);
        if (err == MT_OK || err == MT_EIO)
            return err;
        if (err == MT_EDEVICE) {
            uint8_t ff = 0xFF, b;
            if ((err = an_write(bl, &ff, 1)) != MT_OK)
                return err;
            (void)an_read(bl, &b, 1, an_deadline(bl, 1, 0), NULL);
        }
    }
    return an_fail(bl, err == MT_ETIMEOUT ? MT_ETIMEOUT : MT_EPROTO,
                   "cannot get in step with the bootloader (%s)", bl->err);
}

int an3155_get_id(an3155_t *bl, uint16_t *chip_id)
{
    int err = an_cmd(bl, AN3155_CMD_GET_ID, "Get ID");
    if (err != MT_OK)
        return err;
    uint8_t n, b[8];
    err = an_read(bl, &n, 1, an_deadline(bl, 1, 0), NULL);
    if (err != MT_OK)
        return an_fail(bl, err, "Get ID: no length byte");
    if (n < 1 || n > 6)
        return an_fail(bl, MT_EPROTO, "Get ID: implausible length %u", n);
    err = an_read(bl, b, (size_t)n + 1, an_deadline(bl, (size_t)n + 1, 0), NULL);
    if (err != MT_OK)
        return an_fail(bl, err, "Get ID: reply cut short");
    bl->chip_id = (uint16_t)((b[0] << 8) | b[1]);
    if (chip_id != NULL)
        *chip_id = bl->chip_id;
    return an_ack(bl, an_deadline(bl, 1, 0), "Get ID (end)");
}

static int an_connect(an3155_t *bl, uint32_t quiet_ms)
{
    /* an_sync() ends with an_settle(), which already ran Get Version. */
    int err = an_sync(bl, quiet_ms);
    if (err != MT_OK)
        return err;
    if ((err = an_get(bl)) != MT_OK || (err = an3155_get_id(bl, NULL)) != MT_OK)
        return err;
    if (!an3155_has_cmd(bl, AN3155_CMD_READ) || !an3155_has_cmd(bl, AN3155_CMD_WRITE) ||
        (!an3155_has_cmd(bl, AN3155_CMD_EXT_ERASE) && !an3155_has_cmd(bl, AN3155_CMD_ERASE)))
        return an_fail(bl, MT_EPROTO, "bootloader v%u.%u lacks read/write/erase commands",
                       bl->bl_version >> 4, bl->bl_version & 15u);
    return MT_OK;
}

int an3155_connect(an3155_t *bl)
{
    return an_connect(bl, 10);
}

int an3155_reconnect(an3155_t *bl)
{
    /* After a failed exchange the bootloader may still be sending (a read reply we gave up
     * on): wait for a quiet line as long as a reply may take before probing it. */
    return an_connect(bl, bl->t.reply_ms);
}

bool an3155_has_cmd(const an3155_t *bl, uint8_t cmd)
{
    for (unsigned i = 0; i < bl->n_cmds; i++)
        if (bl->cmds[i] == cmd)
            return true;
    return false;
}

int an3155_read(an3155_t *bl, uint32_t addr, uint8_t *buf, size_t len)
{
    if (len == 0 || len > AN3155_MAX_BLOCK)
        return an_fail(bl, MT_EINVAL, "read of %zu bytes (1..256)", len);
    int err = an_cmd(bl, AN3155_CMD_READ, "Read Memory");
    if (err != MT_OK)
        return err;
    if ((err = an_send_addr(bl, addr, "the read address")) != MT_OK)
        return err;
    uint8_t nb[2] = { (uint8_t)(len - 1), (uint8_t)((len - 1) ^ 0xFFu) };
    if ((err = an_write(bl, nb, 2)) != MT_OK)
        return err;
    if ((err = an_ack(bl, an_deadline(bl, 1, 0), "the read length")) != MT_OK)
        return err;
    size_t got = 0;
    err = an_read(bl, buf, len, an_deadline(bl, len, 0), &got);
    if (err == MT_ETIMEOUT)
        return an_fail(bl, err, "read at 0x%08x: %zu of %zu bytes came", addr, got, len);
    return err;
}

int an3155_write(an3155_t *bl, uint32_t addr, const uint8_t *buf, size_t len)
{
    if (len == 0 || len > AN3155_MAX_BLOCK || (len & 3u) != 0 || (addr & 3u) != 0)
        return an_fail(bl, MT_EINVAL, "write of %zu bytes at 0x%08x (4..256, 4-aligned)", len,
                       addr);
    int err = an_cmd(bl, AN3155_CMD_WRITE, "Write Memory");
    if (err != MT_OK)
        return err;
    if ((err = an_send_addr(bl, addr, "the write address")) != MT_OK)
        return err;
    uint8_t frame[AN3155_MAX_BLOCK + 2];
    frame[0] = (uint8_t)(len - 1);
    uint8_t x = frame[0];
    for (size_t i = 0; i < len; i++) {
        frame[1 + i] = buf[i];
        x ^= buf[i];
    }
    frame[1 + len] = x;
    if ((err = an_write(bl, frame, len + 2)) != MT_OK)
        return err;
    /* The ACK comes after the bytes have crossed the line and the flash is programmed. */
    return an_ack(bl, an_deadline(bl, len + 3, 0), "the written block");
}

int an3155_erase_pages(an3155_t *bl, const uint16_t *pages, size_t n)
{
    if (n == 0 || n > 512)
        return an_fail(bl, MT_EINVAL, "erase of %zu pages (1..512 per command)", n);
    uint8_t frame[2 + 2 * 512 + 1];
    size_t len = 0;
    int err;
    if (an3155_has_cmd(bl, AN3155_CMD_EXT_ERASE)) {
        if ((err = an_cmd(bl, AN3155_CMD_EXT_ERASE, "Extended Erase")) != MT_OK)
            return err;
        frame[len++] = (uint8_t)((n - 1) >> 8);
        frame[len++] = (uint8_t)(n - 1);
        for (size_t i = 0; i < n; i++) {
            frame[len++] = (uint8_t)(pages[i] >> 8);
            frame[len++] = (uint8_t)pages[i];
        }
    } else {
        for (size_t i = 0; i < n; i++)
            if (pages[i] > 255)
                return an_fail(bl, MT_EINVAL, "legacy Erase cannot name page %u", pages[i]);
        if ((err = an_cmd(bl, AN3155_CMD_ERASE, "Erase")) != MT_OK)
            return err;
        frame[len++] = (uint8_t)(n - 1);
        for (size_t i = 0; i < n; i++)
            frame[len++] = (uint8_t)pages[i];
    }
    uint8_t x = 0;
    for (size_t i = 0; i < len; i++)
        x ^= frame[i];
    frame[len++] = x;
    if ((err = an_write(bl, frame, len)) != MT_OK)
        return err;
    return an_ack(bl, an_deadline(bl, len, (uint32_t)(bl->t.erase_page_ms * n)), "the page erase");
}

int an3155_mass_erase(an3155_t *bl)
{
    int err;
    uint8_t frame[3];
    size_t len;
    if (an3155_has_cmd(bl, AN3155_CMD_EXT_ERASE)) {
        if ((err = an_cmd(bl, AN3155_CMD_EXT_ERASE, "Extended Erase")) != MT_OK)
            return err;
        frame[0] = 0xFF, frame[1] = 0xFF, frame[2] = 0x00;
        len = 3;
    } else {
        if ((err = an_cmd(bl, AN3155_CMD_ERASE, "Erase")) != MT_OK)
            return err;
        frame[0] = 0xFF, frame[1] = 0x00;
        len = 2;
    }
    if ((err = an_write(bl, frame, len)) != MT_OK)
        return err;
    return an_ack(bl, an_deadline(bl, len, bl->t.mass_erase_ms), "the mass erase");
}

int an3155_go(an3155_t *bl, uint32_t addr)
{
    int err = an_cmd(bl, AN3155_CMD_GO, "Go");
    if (err != MT_OK)
        return err;
    return an_send_addr(bl, addr, "the Go address");
}
