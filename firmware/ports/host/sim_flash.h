/*
 * sim_flash.h — the simulated part's flash memory: a file mapped into memory, so a restarted
 * simulator keeps what was written. Erased bytes are 0xFF, as on the STM32.
 *
 * Layout (offsets from the flash base, address 0x08000000 on the real parts):
 *   [0, SIM_FW_BYTES)                  firmware image (written by the ROM bootloader)
 *   [SIM_FW_BYTES, + SIM_SLOT_BYTES)   model slot A
 *   [.., + SIM_SLOT_BYTES)             model slot B
 *   last SIM_META_BYTES                simulator bookkeeping (boot counter)
 */
#ifndef MICROT_SIM_FLASH_H
#define MICROT_SIM_FLASH_H

#include <stdint.h>

#define SIM_FLASH_BASE_ADDR 0x08000000u
#define SIM_FW_BYTES (512u * 1024u)
#define SIM_SLOT_BYTES (760u * 1024u)
#define SIM_META_BYTES (8u * 1024u)

typedef struct {
    uint8_t *base;         /* mapped flash, size_bytes long */
    uint32_t size_bytes;
    uint32_t page_bytes;   /* erase unit of the modeled part */
    int fd;
} sim_flash_t;

/* Opens (creating, filled with 0xFF) the flash file and maps it. path NULL = anonymous memory.
 * Returns 0 or -1 with errno set. */
int sim_flash_open(sim_flash_t *flash, const char *path, uint32_t size_bytes, uint32_t page_bytes);

/* Flushes and unmaps. */
void sim_flash_close(sim_flash_t *flash);

/* Makes writes so far durable (msync). */
void sim_flash_sync(sim_flash_t *flash);

#endif /* MICROT_SIM_FLASH_H */
