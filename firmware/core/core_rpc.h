/*
 * core_rpc.h — what the core's areas (model store, training, inference) share with the main
 * loop in microt_core.c: the counters, a way to send, and the dispatch of every request that is
 * not a system request. Each area adds its cases to core_rpc_dispatch in core_rpc.c.
 */
#ifndef MICROT_CORE_RPC_H
#define MICROT_CORE_RPC_H

#include <stdbool.h>
#include <stdint.h>

#include "link.h"
#include "microt.pb.h"

typedef struct {
    uint32_t rx_dropped;        /* payloads dropped because a request was still being handled */
    uint32_t decode_errors;     /* payloads that were not a valid microt.Message */
    uint32_t inferences;
    uint32_t stage1_exits;
    uint64_t inference_cycles;
    uint64_t inference_energy_nj;
} core_counters_t;

core_counters_t *core_counters(void);
const link_stats_t *core_link_stats(void);

/* Encodes and sends one message (a reply or an event); 0 or -1 when the gateway is gone. */
int core_send(const microt_Message *msg);

/* Turns reply into an Error with a code and a constant message. */
void core_reply_error(microt_Message *reply, microt_ErrorCode code, const char *message);

/* Called once from microt_core_init. */
void core_rpc_init(void);

/* Handles a non-system request; returns true when reply holds an answer to send. */
bool core_rpc_dispatch(const microt_Message *req, microt_Message *reply);

/* Adds the areas' facts (capabilities, active model, arena) to the Hello reply. */
void core_rpc_fill_device_info(microt_DeviceInfo *info);

/* Called when the loop is idle (background work such as a pending camera capture). */
void core_rpc_idle(void);

#endif /* MICROT_CORE_RPC_H */
