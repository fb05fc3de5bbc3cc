/*
 * sim_bootrom.h — the simulator's STM32 ROM bootloader (system memory boot mode).
 *
 * Speaks the USART protocol of ST application note AN3155, as the real parts' bootloader v3.1
 * does, over any fd (the simulator's pty, a socketpair in tests), on the simulator's flash
 * (sim_flash.h). Until the host sends the autobaud byte 0x7F it ignores the line; then it answers
 * every command with ACK 0x79 / NACK 0x1F:
 *   Get (0x00), Get Version & read protection (0x01), Get ID (0x02), Read Memory (0x11),
 *   Go (0x21), Write Memory (0x31), Extended Erase (0x44: page/sector list, mass, bank 1, bank 2).
 * Get lists exactly these commands (the write/readout protection commands and Get Checksum are
 * not modeled, so the bootloader does not claim them; v3.1 on these parts has no Get Checksum).
 * Flash behaves like the part's: erase per page (L4R5, 4 KiB, dual-bank numbering 0..511) or
 * sector (H7A3, 8 KiB, 0..255) to 0xFF; programming works per programming granule (8 bytes on
 * L4, 16 on H7A3): a granule that is not erased can not be programmed again (PROGERR on the
 * real part, NACK here; the L4 exception of writing all zeros is kept), and programming ANDs
 * bits into the flash. Bad checksums, complements, addresses, alignments and lengths are NACKed.
 */
#ifndef MICROT_SIM_BOOTROM_H
#define MICROT_SIM_BOOTROM_H

#include <stdint.h>

#include "sim_flash.h"
#include "sim_line.h"

/* The part a simulator models: identity, memories and erase layout, from ST's reference
 * manuals (RM0455 for the H7A3, RM0432 for the L4R5) and AN2606's device table. */
typedef struct {
    const char *name;          /* board name used by --board: "h7a3zi", "l4r5zi" */
    const char *part;          /* "STM32H7A3xx" */
    uint16_t chip_id;          /* Get ID answer (DBGMCU_IDCODE DEV_ID) */
    uint8_t bl_version;        /* USART bootloader protocol version, 0x31 = v3.1 */
    uint32_t flash_base;       /* 0x08000000 */
    uint32_t flash_bytes;
    uint32_t page_bytes;       /* erase unit (page or sector) */
    uint32_t bank_bytes;       /* each of the two banks */
    uint32_t program_bytes;    /* programming granule */
    struct { uint32_t base, bytes; } sram[3]; /* SRAM regions an initial stack may sit in */
} sim_chip_t;

/* The part behind a board name, or NULL. */
const sim_chip_t *sim_chip_by_name(const char *name);

typedef struct {
    sim_line_t *line;          /* wire-time pacing; NULL = unpaced */
    int stop_fd;               /* readable -> return SIM_BOOTROM_STOPPED (a reset); -1 = none */
} sim_bootrom_opts_t;

typedef enum {
    SIM_BOOTROM_GO = 0,        /* Go to a valid flash address was ACKed; *go_addr holds it */
    SIM_BOOTROM_EOF = 1,       /* the line closed */
    SIM_BOOTROM_STOPPED = 2,   /* stop_fd became readable */
    SIM_BOOTROM_ERROR = -1,    /* I/O error on the line (errno set) */
} sim_bootrom_result_t;

/* Runs the bootloader on fd until a Go, EOF, stop or error. Starts unsynchronised, as after a
 * reset. flash is seen at chip->flash_base; it should be chip->flash_bytes long (a shorter flash
 * file models a part whose top is missing: addresses there are NACKed). */
sim_bootrom_result_t sim_bootrom_serve(int fd, sim_flash_t *flash, const sim_chip_t *chip,
                                       const sim_bootrom_opts_t *opts, uint32_t *go_addr);

/* True when the image at flash offset 0 looks bootable to a Cortex-M: initial stack pointer in
 * the chip's SRAM, reset vector in flash with the Thumb bit. The simulator uses it after Go to
 * decide between booting the firmware and falling back to the bootloader (as an empty part does). */
int sim_bootrom_image_bootable(const sim_flash_t *flash, const sim_chip_t *chip, uint32_t addr);

#endif /* MICROT_SIM_BOOTROM_H */
