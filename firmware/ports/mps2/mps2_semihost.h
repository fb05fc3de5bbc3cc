/*
 * mps2_semihost.h — Arm semihosting calls (Arm "Semihosting for AArch32 and AArch64", version
 * 3.0, sections 5.x; on M-profile the trap is BKPT 0xAB). QEMU answers them when started with
 * `-semihosting-config enable=on`; the QEMU ports need it (without a debugger host the BKPT would
 * fault).
 */
#ifndef MICROT_MPS2_SEMIHOST_H
#define MICROT_MPS2_SEMIHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SYS_WRITE0 (0x04): writes a NUL-terminated string to the host's stderr/console. */
void mps2_sh_write0(const char *text);

/* SYS_GET_CMDLINE (0x15): copies the command line (QEMU: the -semihosting-config arg= values
 * joined by spaces) into buf, NUL-terminated. Returns its length, or -1. */
int mps2_sh_cmdline(char *buf, size_t cap);

/* SYS_OPEN (0x01) with mode "rb" (read) or "wb" (write): a host file handle, or -1. */
int mps2_sh_open(const char *path, bool write);

/* SYS_CLOSE (0x02). */
void mps2_sh_close(int handle);

/* SYS_FLEN (0x0C): the file's length in bytes, or -1. */
int32_t mps2_sh_flen(int handle);

/* SYS_READ (0x06) / SYS_WRITE (0x05): bytes transferred (the call reports what was left). */
uint32_t mps2_sh_read(int handle, void *buf, uint32_t len);
uint32_t mps2_sh_write(int handle, const void *buf, uint32_t len);

/* SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit: QEMU exits with status code. */
__attribute__((noreturn)) void mps2_sh_exit(uint32_t code);

#endif /* MICROT_MPS2_SEMIHOST_H */
