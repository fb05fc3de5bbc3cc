/*
 * cm_flash.h — the flash half every Cortex-M port shares: hal_flash_* (bounds, alignment,
 * erase-before-program discipline) and the persistent boot counter, on top of two primitives
 * each port implements for its flash controller (or, under QEMU, for RAM standing in for flash).
 *
 * The layout comes from the port's linker script (one source of truth): firmware, model slot A,
 * model slot B, and a small metadata area whose erase unit holds the boot counter log.
 */
#ifndef MICROT_CM_FLASH_H
#define MICROT_CM_FLASH_H

#include <stdint.h>

#include "hal.h"

typedef struct {
    uintptr_t base_addr;   /* memory-mapped address */
    uint32_t size_bytes;
} cm_flash_area_t;

typedef struct {
    cm_flash_area_t slot[HAL_REGION_COUNT];
    cm_flash_area_t meta;      /* boot counter log: whole erase units */
    uint32_t erase_bytes;      /* sector/page size */
    uint32_t program_bytes;    /* programming granule */
} cm_flash_layout_t;

/* Provided by the port. */
const cm_flash_layout_t *port_flash_layout(void);
/* Erases the erase unit that starts at addr (aligned). */
hal_status_t port_flash_erase_unit(uintptr_t addr);
/* Programs one granule of program_bytes at addr (aligned) from unit (any alignment). */
hal_status_t port_flash_program_unit(uintptr_t addr, const uint8_t *unit);

/* Reads the boot counter log, adds this boot and records it; call once from port_init. */
void cm_boot_count_update(void);

#endif /* MICROT_CM_FLASH_H */
