/*
 * mps2_semihost.h — Arm semihosting calls (Arm "Semihosting for AArch32 and AArch64", version
 * 3.0, sections 5.x; on M-profile the trap is BKPT 0xAB). QEMU answers them when started with
 * `-semihosting-config enable=on`; the QEMU ports need it (without a debugger host the BKPT would
 * fault).
 */
#ifndef MICROT_MPS2_SEMIHOST_H
#define MICROT_MPS2_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* SYS_WRITE0 (0x04): writes a NUL-terminated string to the host's stderr/console. */
void mps2_sh_write0(const char *text);

/* SYS_GET_CMDLINE (0x15): copies the command line (QEMU: the -semihosting-config arg= values
 * joined by spaces) into buf, NUL-terminated. Returns its length, or -1. */
int mps2_sh_cmdline(char *buf, size_t cap);

/* SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit: QEMU exits with status code. */
__attribute__((noreturn)) void mps2_sh_exit(uint32_t code);

#endif /* MICROT_MPS2_SEMIHOST_H */
