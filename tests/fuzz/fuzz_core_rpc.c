/*
 * fuzz_core_rpc.c — libFuzzer target: the board's request handlers (core_rpc_dispatch: model
 * store, transfers, samples, training, ratio, capture) fed arbitrary message sequences over the
 * host port's flash, after arbitrary bytes were written into the model slots' trailer sectors
 * (what a board finds at boot after a cut write or worn flash). Every input must be answered with
 * a reply or an error: any crash or sanitizer report is a bug.
 *
 * Input: [n_trailer_bytes u8] [that many bytes copied over slot A's trailer, then slot B's], then
 * messages as [len u16 LE] [protobuf microt.Message].
 */
#include <stdint.h>
#include <string.h>

#include "core_rpc.h"
#include "hal.h"
#include "microt.pb.h"
#include "pb_decode.h"
#include "sim_flash.h"
#include "sim_port.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static microt_Message fz_req, fz_rep;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    size_t pos = 0;
    if (!ready) {
        memset(&sim, 0, sizeof(sim));
        sim.board = *sim_board_by_name("l4r5zi");
        if (sim_flash_open(&sim.flash, NULL, sim.board.flash_bytes, 4096u) != 0)
            return 0;
        ready = 1;
    }
    /* Fresh erased slots, then the input's bytes over each trailer sector. */
    for (int r = 0; r < 2; r++) {
        hal_region_info_t info = hal_flash_region((hal_region_t)r);
        uint8_t *slot = (uint8_t *)hal_flash_map((hal_region_t)r);
        memset(slot, 0xFF, info.size_bytes);
        if (size > 0) {
            size_t n = data[0];
            if (n > size - 1)
                n = size - 1;
            memcpy(slot + info.size_bytes - info.erase_bytes + (r ? 64u : 0u), data + 1, n);
        }
    }
    pos = size > 0 ? 1u + (data[0] < size - 1 ? data[0] : size - 1) : 0u;
    core_rpc_init();
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        pb_istream_t is = pb_istream_from_buffer(data + pos, len);
        pos += len;
        memset(&fz_req, 0, sizeof(fz_req));
        memset(&fz_rep, 0, sizeof(fz_rep));
        if (!pb_decode(&is, microt_Message_fields, &fz_req))
            continue;
        if (core_rpc_dispatch(&fz_req, &fz_rep) && fz_rep.which_body == 0)
            __builtin_trap(); /* a reply promised but not filled */
    }
    return 0;
}
