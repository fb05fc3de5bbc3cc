/*
 * fuzz_proto.c — libFuzzer target for the protobuf decode path alone: arbitrary bytes decoded
 * as a microt.Message with the nanopb bounds of microt.options; whatever decodes must encode
 * again. Built by `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "microt.pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    microt_Message msg = microt_Message_init_zero;
    pb_istream_t in = pb_istream_from_buffer(data, size);
    uint8_t again[microt_Message_size];
    pb_ostream_t out = pb_ostream_from_buffer(again, sizeof(again));

    if (!pb_decode(&in, microt_Message_fields, &msg))
        return 0;
    if (!pb_encode(&out, microt_Message_fields, &msg))
        abort();
    return 0;
}
