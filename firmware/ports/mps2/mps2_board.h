/*
 * mps2_board.h — what differs between the two QEMU MPS2 ports (qemu-an386: Cortex-M4,
 * qemu-an500: Cortex-M7): identity and the flash geometry they imitate. Each port folder
 * defines mps2_board; the rest is firmware/ports/mps2/.
 */
#ifndef MICROT_MPS2_BOARD_H
#define MICROT_MPS2_BOARD_H

#include <stdbool.h>
#include <stdint.h>

#include "hal.h"

typedef struct {
    hal_board_t board;
    uint32_t erase_bytes;         /* erase unit imitated (the STM32 part of the same core) */
    uint32_t program_bytes;       /* programming granule imitated */
    uint8_t uid_base[HAL_UID_BYTES]; /* UID when the command line does not give one */
    bool has_caches;              /* Cortex-M7: enable I/D caches as on the H7A3 */
} mps2_board_t;

extern const mps2_board_t mps2_board;

#endif /* MICROT_MPS2_BOARD_H */
