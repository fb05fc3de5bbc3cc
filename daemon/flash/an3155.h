/*
 * an3155.h — client of the STM32 system-memory bootloader's USART protocol (ST AN3155).
 *
 * Works over any open fd (a real UART set to 8E1 by an3155_setup_tty(), a pty, a socket). Every
 * read has a deadline; no call can wait forever. Errors are mt_err_t codes, with a sentence in
 * an3155_t.err saying what happened:
 *   MT_ETIMEOUT  the bootloader did not answer in time
 *   MT_EDEVICE   it answered NACK (bad address, checksum, or a refused write)
 *   MT_EPROTO    it answered something that is not ACK/NACK, or an inconsistent reply
 *   MT_EIO       the fd failed
 *   MT_EINVAL    bad argument (length, alignment)
 * After an error the caller may call an3155_resync() to bring the bootloader back to waiting for
 * a command, whatever state it was left in, then retry.
 */
#ifndef MICROT_AN3155_H
#define MICROT_AN3155_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AN3155_ACK 0x79u
#define AN3155_NACK 0x1Fu
#define AN3155_MAX_BLOCK 256u

typedef enum {
    AN3155_CMD_GET = 0x00,
    AN3155_CMD_GET_VERSION = 0x01,
    AN3155_CMD_GET_ID = 0x02,
    AN3155_CMD_READ = 0x11,
    AN3155_CMD_GO = 0x21,
    AN3155_CMD_WRITE = 0x31,
    AN3155_CMD_ERASE = 0x43,
    AN3155_CMD_EXT_ERASE = 0x44,
    AN3155_CMD_GET_CHECKSUM = 0xA1,
} an3155_cmd_t;

typedef struct {
    uint32_t baud;            /* line speed, used to size reply deadlines (0 = 115200) */
    uint32_t reply_ms;        /* deadline for a reply to start after a request (default 500) */
    uint32_t erase_page_ms;   /* added to the erase deadline per page (default 100) */
    uint32_t mass_erase_ms;   /* deadline of a mass erase (default 40000) */
    uint32_t sync_probe_ms;   /* wait per probe byte while resynchronising (default 50) */
} an3155_timing_t;

typedef struct {
    int fd;
    an3155_timing_t t;
    uint8_t bl_version;       /* from Get */
    uint8_t cmds[32];         /* commands Get listed */
    unsigned n_cmds;
    uint16_t chip_id;         /* from Get ID */
    uint8_t option1, option2; /* from Get Version */
    char err[160];            /* what went wrong, for the caller's message */
} an3155_t;

/* Prepares the client on fd (no I/O). timing NULL = defaults; zero fields take defaults. */
void an3155_init(an3155_t *bl, int fd, const an3155_timing_t *timing);

/* Puts a tty fd in raw mode at baud with 8 data bits, even parity, 1 stop bit. A pseudo-terminal
 * has no parity (Linux drops PARENB); *parity_set tells whether the setting held. Non-tty fds
 * are left alone (returns 0, *parity_set false). */
int an3155_setup_tty(int fd, uint32_t baud, bool *parity_set);

/* Synchronises with the bootloader, from any state (fresh after reset, idle, or half-way through
 * a command someone else left), then runs Get, Get Version and Get ID. */
int an3155_connect(an3155_t *bl);

/* an3155_connect() after a failed exchange: first waits for the line to stay quiet for
 * reply_ms (the bootloader may still be sending what we gave up on). */
int an3155_reconnect(an3155_t *bl);

/* Brings a synchronised bootloader back to waiting for a command (see an3155.c for how). */
int an3155_resync(an3155_t *bl);

/* True when Get listed cmd. */
bool an3155_has_cmd(const an3155_t *bl, uint8_t cmd);

int an3155_get_id(an3155_t *bl, uint16_t *chip_id);

/* Reads len (1..256) bytes at addr. */
int an3155_read(an3155_t *bl, uint32_t addr, uint8_t *buf, size_t len);

/* Writes len (4..256, a multiple of 4) bytes at addr (4-byte aligned). */
int an3155_write(an3155_t *bl, uint32_t addr, const uint8_t *buf, size_t len);

/* Erases the listed pages (1..512 per call) with Extended Erase (or legacy Erase for page
 * numbers below 256 when that is all the bootloader has). */
int an3155_erase_pages(an3155_t *bl, const uint16_t *pages, size_t n);

/* Erases the whole flash. */
int an3155_mass_erase(an3155_t *bl);

/* Jumps to addr; the bootloader is gone after the ACK. */
int an3155_go(an3155_t *bl, uint32_t addr);

#endif /* MICROT_AN3155_H */
