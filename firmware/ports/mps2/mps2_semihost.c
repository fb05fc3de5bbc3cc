/*
 * mps2_semihost.c — the three semihosting operations the QEMU ports use (see the header).
 */
#include "mps2_semihost.h"

#include <string.h>

#define SH_SYS_OPEN 0x01u
#define SH_SYS_CLOSE 0x02u
#define SH_SYS_WRITE0 0x04u
#define SH_SYS_WRITE 0x05u
#define SH_SYS_READ 0x06u
#define SH_SYS_FLEN 0x0Cu
#define SH_SYS_GET_CMDLINE 0x15u
#define SH_SYS_EXIT 0x18u
#define SH_SYS_EXIT_EXTENDED 0x20u
#define SH_ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t mps2_sh_call(uint32_t op, uintptr_t arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register uintptr_t r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void mps2_sh_write0(const char *text) { (void)mps2_sh_call(SH_SYS_WRITE0, (uintptr_t)text); }

int mps2_sh_cmdline(char *buf, size_t cap)
{
    if (cap < 2u) {
        return -1;
    }
    volatile uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)(cap - 1u)};
    if (mps2_sh_call(SH_SYS_GET_CMDLINE, (uintptr_t)block) != 0u) {
        return -1;
    }
    uint32_t len = block[1] < cap - 1u ? block[1] : (uint32_t)(cap - 1u);
    buf[len] = '\0';
    return (int)len;
}

void mps2_sh_exit(uint32_t code)
{
    volatile uint32_t block[2] = {SH_ADP_STOPPED_APPLICATION_EXIT, code};
    (void)mps2_sh_call(SH_SYS_EXIT_EXTENDED, (uintptr_t)block);
    /* A host without the extended call: plain SYS_EXIT (status 0 or 1 only). */
    (void)mps2_sh_call(SH_SYS_EXIT, code == 0u ? SH_ADP_STOPPED_APPLICATION_EXIT : 0x20024u);
    for (;;) {
    }
}

int mps2_sh_open(const char *path, bool write)
{
    /* Mode 1 = "rb", 5 = "wb" (semihosting spec, SYS_OPEN table). */
    volatile uint32_t block[3] = {(uint32_t)(uintptr_t)path, write ? 5u : 1u, (uint32_t)strlen(path)};
    return (int)mps2_sh_call(SH_SYS_OPEN, (uintptr_t)block);
}

void mps2_sh_close(int handle)
{
    volatile uint32_t block[1] = {(uint32_t)handle};
    (void)mps2_sh_call(SH_SYS_CLOSE, (uintptr_t)block);
}

int32_t mps2_sh_flen(int handle)
{
    volatile uint32_t block[1] = {(uint32_t)handle};
    return (int32_t)mps2_sh_call(SH_SYS_FLEN, (uintptr_t)block);
}

uint32_t mps2_sh_read(int handle, void *buf, uint32_t len)
{
    volatile uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, len};
    uint32_t left = mps2_sh_call(SH_SYS_READ, (uintptr_t)block);
    return left <= len ? len - left : 0u;
}

uint32_t mps2_sh_write(int handle, const void *buf, uint32_t len)
{
    volatile uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, len};
    uint32_t left = mps2_sh_call(SH_SYS_WRITE, (uintptr_t)block);
    return left <= len ? len - left : 0u;
}
