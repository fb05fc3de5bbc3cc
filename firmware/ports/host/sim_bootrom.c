/*
 * sim_bootrom.c — AN3155 USART bootloader of the simulated STM32 (see sim_bootrom.h).
 *
 * The protocol is strictly host-driven and half-duplex, so the server is a plain blocking state
 * machine: read the bytes a command needs, check them, act, answer. Every received chunk goes
 * through sim_line_rx_bytes() and every answer through sim_line_write(), so the time a client
 * sees is the modeled wire time. Any malformed field ends the command with a NACK and the
 * bootloader waits for the next command, like the ROM code.
 */
#include "sim_bootrom.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define BL_ACK 0x79u
#define BL_NACK 0x1Fu
#define BL_SYNC 0x7Fu

enum {
    BL_CMD_GET = 0x00,
    BL_CMD_GET_VERSION = 0x01,
    BL_CMD_GET_ID = 0x02,
    BL_CMD_READ = 0x11,
    BL_CMD_GO = 0x21,
    BL_CMD_WRITE = 0x31,
    BL_CMD_EXT_ERASE = 0x44,
};

static const uint8_t bl_commands[] = {
    BL_CMD_GET, BL_CMD_GET_VERSION, BL_CMD_GET_ID, BL_CMD_READ, BL_CMD_GO, BL_CMD_WRITE,
    BL_CMD_EXT_ERASE,
};

#define BL_MAX_PAGES 1024u /* more than any modeled part has; bounds the erase list */

static const sim_chip_t sim_chips[] = {
    /* STM32H7A3ZI: DEV_ID 0x480 (RM0455, AN2606), 2 MiB in two 1 MiB banks of 128 x 8 KiB
     * sectors, 128-bit flash word; DTCM 128 KiB, AXI SRAM 1 MiB, AHB SRAM 128 KiB. */
    { "h7a3zi", "STM32H7A3xx", 0x480, 0x31, 0x08000000u, 2u << 20, 8u << 10, 1u << 20, 16u,
      { { 0x20000000u, 128u << 10 }, { 0x24000000u, 1u << 20 }, { 0x30000000u, 128u << 10 } } },
    /* STM32L4R5ZI: DEV_ID 0x470 (RM0432, AN2606), 2 MiB dual-bank (DBANK=1, the default):
     * 2 x 256 pages of 4 KiB, 64-bit double-word programming; SRAM1-3 640 KiB contiguous,
     * SRAM2 aliased at 0x10000000. */
    { "l4r5zi", "STM32L4Rxx/4Sxx", 0x470, 0x31, 0x08000000u, 2u << 20, 4u << 10, 1u << 20, 8u,
      { { 0x20000000u, 640u << 10 }, { 0x10000000u, 64u << 10 }, { 0, 0 } } },
};

const sim_chip_t *sim_chip_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(sim_chips) / sizeof(sim_chips[0]); i++)
        if (strcmp(sim_chips[i].name, name) == 0)
            return &sim_chips[i];
    return NULL;
}

/* One session of the server: the line and a small receive buffer. */
typedef struct {
    int fd;
    sim_flash_t *flash;
    const sim_chip_t *chip;
    sim_line_t *line;
    int stop_fd;
    uint32_t flash_bytes; /* modeled flash present: the chip's, or less if the file is smaller */
    uint8_t rx[512];
    size_t rx_len, rx_pos;
    sim_bootrom_result_t end; /* why the session must end, once rx fails */
} bl_t;

/* Next received byte; false when the session must end (bl->end says why). */
static bool bl_rx(bl_t *bl, uint8_t *out)
{
    while (bl->rx_pos == bl->rx_len) {
        struct pollfd p[2] = { { .fd = bl->fd, .events = POLLIN },
                               { .fd = bl->stop_fd, .events = POLLIN } };
        int np = bl->stop_fd >= 0 ? 2 : 1;
        int r = poll(p, (nfds_t)np, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            bl->end = SIM_BOOTROM_ERROR;
            return false;
        }
        if (np == 2 && (p[1].revents & (POLLIN | POLLHUP))) {
            bl->end = SIM_BOOTROM_STOPPED;
            return false;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(bl->fd, bl->rx, sizeof(bl->rx));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            /* A pty master reads EIO when no slave is open: the host went away. */
            bl->end = (n == 0 || errno == EIO) ? SIM_BOOTROM_EOF : SIM_BOOTROM_ERROR;
            return false;
        }
        bl->rx_len = (size_t)n;
        bl->rx_pos = 0;
        sim_line_rx_bytes(bl->line, (size_t)n);
    }
    *out = bl->rx[bl->rx_pos++];
    return true;
}

static bool bl_rx_n(bl_t *bl, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!bl_rx(bl, &out[i]))
            return false;
    return true;
}

static bool bl_tx(bl_t *bl, const uint8_t *buf, size_t len)
{
    if (sim_line_write(bl->line, bl->fd, buf, len) != 0) {
        bl->end = errno == EIO ? SIM_BOOTROM_EOF : SIM_BOOTROM_ERROR;
        return false;
    }
    return true;
}

static bool bl_tx1(bl_t *bl, uint8_t b)
{
    return bl_tx(bl, &b, 1);
}

/* Flash offset of [addr, addr+len) when it lies in the part's flash, else -1. */
static int64_t bl_flash_off(const bl_t *bl, uint32_t addr, uint32_t len)
{
    uint64_t a = addr, base = bl->chip->flash_base, size = bl->flash_bytes;
    if (a < base || a + len > base + size || (uint64_t)len > size)
        return -1;
    return (int64_t)(a - base);
}

/* Receives the 4-byte big-endian address + XOR checksum; false on a bad checksum (NACK sent)
 * or when the session ended (check bl->end). */
static bool bl_rx_addr(bl_t *bl, uint32_t *addr, bool *ended)
{
    uint8_t b[5];
    *ended = false;
    if (!bl_rx_n(bl, b, 5)) {
        *ended = true;
        return false;
    }
    if ((uint8_t)(b[0] ^ b[1] ^ b[2] ^ b[3]) != b[4])
        return false;
    *addr = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    return true;
}

/* Programs data at flash offset off like the part's flash controller: the whole write is
 * refused when any granule it touches is not erased (unless the L4 all-zero exception), else the
 * bytes are ANDed in. Bytes of a touched granule outside the write count as 0xFF (padding). */
static bool bl_program(bl_t *bl, uint32_t off, const uint8_t *data, uint32_t len)
{
    uint8_t *flash = bl->flash->base;
    uint32_t g = bl->chip->program_bytes;
    uint32_t first = off / g * g, last = (off + len + g - 1) / g * g;
    for (uint32_t gs = first; gs < last; gs += g) {
        bool erased = true, zeros = true;
        for (uint32_t i = gs; i < gs + g; i++) {
            if (flash[i] != 0xFF)
                erased = false;
            uint8_t v = (i >= off && i < off + len) ? data[i - off] : 0xFF;
            if (v != 0x00)
                zeros = false;
        }
        bool zero_ok = zeros && bl->chip->program_bytes == 8u; /* L4: double word of zeros */
        if (!erased && !zero_ok)
            return false;
    }
    for (uint32_t i = 0; i < len; i++)
        flash[off + i] &= data[i];
    return true;
}

static bool bl_cmd_get(bl_t *bl)
{
    uint8_t out[4 + sizeof(bl_commands)];
    size_t n = 0;
    out[n++] = BL_ACK;
    out[n++] = (uint8_t)sizeof(bl_commands); /* bytes that follow, minus one: version + cmds - 1 */
    out[n++] = bl->chip->bl_version;
    memcpy(&out[n], bl_commands, sizeof(bl_commands));
    n += sizeof(bl_commands);
    out[n++] = BL_ACK;
    return bl_tx(bl, out, n);
}

static bool bl_cmd_read(bl_t *bl)
{
    uint32_t addr;
    bool ended;
    if (!bl_tx1(bl, BL_ACK))
        return false;
    if (!bl_rx_addr(bl, &addr, &ended))
        return ended ? false : bl_tx1(bl, BL_NACK);
    if (bl_flash_off(bl, addr, 1) < 0)
        return bl_tx1(bl, BL_NACK);
    if (!bl_tx1(bl, BL_ACK))
        return false;
    uint8_t nb[2];
    if (!bl_rx_n(bl, nb, 2))
        return false;
    uint32_t len = (uint32_t)nb[0] + 1;
    int64_t off = bl_flash_off(bl, addr, len);
    if ((nb[0] ^ nb[1]) != 0xFF || off < 0)
        return bl_tx1(bl, BL_NACK);
    uint8_t out[1 + 256];
    out[0] = BL_ACK;
    memcpy(&out[1], bl->flash->base + off, len);
    return bl_tx(bl, out, 1 + len);
}

static bool bl_cmd_write(bl_t *bl)
{
    uint32_t addr;
    bool ended;
    if (!bl_tx1(bl, BL_ACK))
        return false;
    if (!bl_rx_addr(bl, &addr, &ended))
        return ended ? false : bl_tx1(bl, BL_NACK);
    if ((addr & 3u) != 0 || bl_flash_off(bl, addr, 4) < 0)
        return bl_tx1(bl, BL_NACK);
    if (!bl_tx1(bl, BL_ACK))
        return false;
    uint8_t n, data[256], cs;
    if (!bl_rx(bl, &n))
        return false;
    uint32_t len = (uint32_t)n + 1;
    if (!bl_rx_n(bl, data, len) || !bl_rx(bl, &cs))
        return false;
    uint8_t x = n;
    for (uint32_t i = 0; i < len; i++)
        x ^= data[i];
    int64_t off = bl_flash_off(bl, addr, len);
    if (x != cs || (len & 3u) != 0 || off < 0)
        return bl_tx1(bl, BL_NACK);
    if (!bl_program(bl, (uint32_t)off, data, len))
        return bl_tx1(bl, BL_NACK);
    return bl_tx1(bl, BL_ACK);
}

static void bl_erase_range(bl_t *bl, uint32_t off, uint32_t len)
{
    memset(bl->flash->base + off, 0xFF, len);
}

static bool bl_cmd_ext_erase(bl_t *bl)
{
    if (!bl_tx1(bl, BL_ACK))
        return false;
    uint8_t nb[2];
    if (!bl_rx_n(bl, nb, 2))
        return false;
    uint32_t n = ((uint32_t)nb[0] << 8) | nb[1];
    const sim_chip_t *c = bl->chip;
    if (n >= 0xFFF0u) {
        /* Special erase: FFFF mass, FFFE bank 1, FFFD bank 2; checksum = XOR of the two bytes. */
        uint8_t cs;
        if (!bl_rx(bl, &cs))
            return false;
        if ((uint8_t)(nb[0] ^ nb[1]) != cs)
            return bl_tx1(bl, BL_NACK);
        uint32_t bank = c->bank_bytes < bl->flash_bytes ? c->bank_bytes : bl->flash_bytes;
        if (n == 0xFFFFu)
            bl_erase_range(bl, 0, bl->flash_bytes);
        else if (n == 0xFFFEu)
            bl_erase_range(bl, 0, bank);
        else if (n == 0xFFFDu && bl->flash_bytes > c->bank_bytes)
            bl_erase_range(bl, c->bank_bytes, bl->flash_bytes - c->bank_bytes);
        else
            return bl_tx1(bl, BL_NACK);
        return bl_tx1(bl, BL_ACK);
    }
    /* A list of n+1 page numbers, two bytes each, then the XOR of every byte after the command. */
    uint32_t count = n + 1, pages_total = bl->flash_bytes / c->page_bytes;
    uint16_t pages[BL_MAX_PAGES];
    uint8_t x = (uint8_t)(nb[0] ^ nb[1]);
    bool ok = count <= BL_MAX_PAGES;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t pb[2];
        if (!bl_rx_n(bl, pb, 2))
            return false;
        x ^= (uint8_t)(pb[0] ^ pb[1]);
        uint32_t page = ((uint32_t)pb[0] << 8) | pb[1];
        if (page >= pages_total)
            ok = false;
        if (i < BL_MAX_PAGES)
            pages[i] = (uint16_t)page;
    }
    uint8_t cs;
    if (!bl_rx(bl, &cs))
        return false;
    if (x != cs || !ok)
        return bl_tx1(bl, BL_NACK);
    for (uint32_t i = 0; i < count; i++)
        bl_erase_range(bl, (uint32_t)pages[i] * c->page_bytes, c->page_bytes);
    return bl_tx1(bl, BL_ACK);
}

sim_bootrom_result_t sim_bootrom_serve(int fd, sim_flash_t *flash, const sim_chip_t *chip,
                                       const sim_bootrom_opts_t *opts, uint32_t *go_addr)
{
    bl_t bl;
    bl_t *b = &bl;
    memset(b, 0, sizeof(*b));
    b->fd = fd;
    b->flash = flash;
    b->chip = chip;
    b->line = opts != NULL ? opts->line : NULL;
    b->stop_fd = opts != NULL ? opts->stop_fd : -1;
    b->end = SIM_BOOTROM_ERROR;
    if (flash == NULL || flash->base == NULL || chip == NULL ||
        flash->size_bytes < chip->page_bytes) {
        errno = EINVAL;
        return SIM_BOOTROM_ERROR;
    }
    /* A flash file shorter than the part: the missing top reads as absent (NACKed). */
    b->flash_bytes = flash->size_bytes < chip->flash_bytes ? flash->size_bytes : chip->flash_bytes;

    /* After reset the bootloader waits for 0x7F to measure the baud rate; anything else is
     * noise on the line and ignored. */
    for (;;) {
        uint8_t c;
        if (!bl_rx(b, &c))
            return b->end;
        if (c == BL_SYNC)
            break;
    }
    if (!bl_tx1(b, BL_ACK))
        return b->end;

    for (;;) {
        uint8_t cmd[2];
        if (!bl_rx_n(b, cmd, 2))
            return b->end;
        bool alive;
        if ((cmd[0] ^ cmd[1]) != 0xFF) {
            alive = bl_tx1(b, BL_NACK);
        } else {
            switch (cmd[0]) {
            case BL_CMD_GET:
                alive = bl_cmd_get(b);
                break;
            case BL_CMD_GET_VERSION: {
                /* Version, then the two option bytes (0 = no read protection), as on UART. */
                uint8_t out[5] = { BL_ACK, chip->bl_version, 0x00, 0x00, BL_ACK };
                alive = bl_tx(b, out, sizeof(out));
                break;
            }
            case BL_CMD_GET_ID: {
                uint8_t out[5] = { BL_ACK, 0x01, (uint8_t)(chip->chip_id >> 8),
                                   (uint8_t)chip->chip_id, BL_ACK };
                alive = bl_tx(b, out, sizeof(out));
                break;
            }
            case BL_CMD_READ:
                alive = bl_cmd_read(b);
                break;
            case BL_CMD_WRITE:
                alive = bl_cmd_write(b);
                break;
            case BL_CMD_EXT_ERASE:
                alive = bl_cmd_ext_erase(b);
                break;
            case BL_CMD_GO: {
                uint32_t addr;
                bool ended;
                if (!bl_tx1(b, BL_ACK))
                    return b->end;
                if (!bl_rx_addr(b, &addr, &ended)) {
                    if (ended)
                        return b->end;
                    alive = bl_tx1(b, BL_NACK);
                    break;
                }
                /* The simulator can only run what is in flash: other targets are refused. */
                if (bl_flash_off(b, addr, 4) < 0) {
                    alive = bl_tx1(b, BL_NACK);
                    break;
                }
                if (!bl_tx1(b, BL_ACK))
                    return b->end;
                sim_flash_sync(flash);
                if (go_addr != NULL)
                    *go_addr = addr;
                return SIM_BOOTROM_GO;
            }
            default:
                alive = bl_tx1(b, BL_NACK);
                break;
            }
        }
        if (!alive)
            return b->end;
    }
}

static uint32_t bl_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int sim_bootrom_image_bootable(const sim_flash_t *flash, const sim_chip_t *chip, uint32_t addr)
{
    if (addr < chip->flash_base || addr + 8u > chip->flash_base + chip->flash_bytes)
        return 0;
    const uint8_t *v = flash->base + (addr - chip->flash_base);
    uint32_t sp = bl_rd32(v), reset = bl_rd32(v + 4);
    bool sp_ok = false;
    for (int i = 0; i < 3; i++) {
        uint64_t base = chip->sram[i].base, end = base + chip->sram[i].bytes;
        if (chip->sram[i].bytes != 0 && sp > base && sp <= end && (sp & 3u) == 0)
            sp_ok = true;
    }
    uint32_t pc = reset & ~1u;
    bool pc_ok = (reset & 1u) && pc >= chip->flash_base && pc < chip->flash_base + chip->flash_bytes;
    return sp_ok && pc_ok;
}
