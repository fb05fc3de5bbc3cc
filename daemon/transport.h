/*
 * transport.h — a byte pipe to one board: a real UART through libserialport, or a pty / tty
 * through plain termios (libserialport 0.1.1 cannot open a pseudo-terminal: it wants sysfs and
 * fails on TIOCMGET). Either way the caller gets a pollable fd and deadlines on every call.
 */
#ifndef MICROT_TRANSPORT_H
#define MICROT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct transport transport_t;

typedef enum {
    TRANSPORT_PARITY_NONE = 0,  /* 8N1: the MicroT link */
    TRANSPORT_PARITY_EVEN = 1,  /* 8E1: the STM32 ROM bootloader */
} transport_parity_t;

/* Opens path at baud, 8N1, raw. Returns 0 or a negative mt_err_t (MT_ENOTFOUND, MT_EIO). */
int transport_open(const char *path, uint32_t baud, transport_t **out);
void transport_close(transport_t *t);

/* The fd to poll for input. */
int transport_fd(const transport_t *t);

/* Reads up to cap bytes, waiting at most timeout_ms for the first. Returns the count, 0 on
 * timeout, or MT_EIO when the port is gone (unplugged, pty closed). */
ssize_t transport_read(transport_t *t, uint8_t *buf, size_t cap, int timeout_ms);

/* Writes all len bytes within timeout_ms; 0, MT_ETIMEOUT or MT_EIO. */
int transport_write(transport_t *t, const uint8_t *buf, size_t len, int timeout_ms);

/* Discards bytes received but not read. */
void transport_flush_input(transport_t *t);

int transport_set_parity(transport_t *t, transport_parity_t parity);

/* Drives the modem lines (1 = asserted, 0 = released, -1 = leave). MT_EINVAL on a pty. */
int transport_set_lines(transport_t *t, int dtr, int rts);

/* True when the transport is a pseudo-terminal (no modem lines, no parity on the wire). */
int transport_is_pty(const transport_t *t);

/* USB serial ports libserialport finds, for `--port auto`: fills up to max paths. */
int transport_list_usb(char (*paths)[256], unsigned max, unsigned *n);

#endif /* MICROT_TRANSPORT_H */
