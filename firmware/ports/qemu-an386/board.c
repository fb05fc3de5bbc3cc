/*
 * board.c — qemu-an386: QEMU's mps2-an386 (Arm MPS2 with the AN386 FPGA image, Cortex-M4F),
 * standing in for the NUCLEO-L4R5ZI (also a Cortex-M4F): it imitates the L4R5's flash geometry
 * (4 KiB pages, 64-bit double-word programming; RM0432 3.3.1, 3.3.7). Everything else is in
 * firmware/ports/mps2/.
 */
#include "microt.pb.h"
#include "mps2_board.h"

const mps2_board_t mps2_board = {
    .board = {
        .board_kind = microt_BoardKind_BOARD_QEMU_AN386,
        .name = "qemu-an386",
        .cpu_hz = 1000000000u,        /* instructions per second of virtual time, -icount 0 */
        .sram_bytes = 4u * 1024u * 1024u,  /* ZBT SSRAM2/3 at 0x20000000 */
        .flash_bytes = 4u * 1024u * 1024u, /* ZBT SSRAM1 at 0x00000000, used as flash */
    },
    .erase_bytes = 4096u,
    .program_bytes = 8u,
    .uid_base = {'Q', 'E', 'M', 'U', 'A', 'N', '3', '8', '6', 0x00, 0x00, 0x01},
    .has_caches = false,
};
