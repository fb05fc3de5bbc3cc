/*
 * board.c — qemu-an500: QEMU's mps2-an500 (Arm MPS2 with the AN500 FPGA image, Cortex-M7),
 * standing in for the NUCLEO-H7A3ZI-Q (also a Cortex-M7): it imitates the H7A3's flash geometry
 * (8 KiB sectors, 128-bit flash-word programming; RM0455 4.3.9, 4.3.10) and enables the caches
 * as that port does. Everything else is in firmware/ports/mps2/.
 */
#include "microt.pb.h"
#include "mps2_board.h"

const mps2_board_t mps2_board = {
    .board = {
        .board_kind = microt_BoardKind_BOARD_QEMU_AN500,
        .name = "qemu-an500",
        .cpu_hz = 1000000000u,        /* instructions per second of virtual time, -icount 0 */
        .sram_bytes = 4u * 1024u * 1024u,  /* ZBT SSRAM2/3 at 0x20000000 */
        .flash_bytes = 4u * 1024u * 1024u, /* ZBT SSRAM1 at 0x00000000, used as flash */
    },
    .erase_bytes = 8192u,
    .program_bytes = 16u,
    .uid_base = {'Q', 'E', 'M', 'U', 'A', 'N', '5', '0', '0', 0x00, 0x00, 0x01},
    .has_caches = true,
};
