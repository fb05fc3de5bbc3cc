/*
 * core_rpc.c — routes the requests of the core's areas to their modules. A request this
 * firmware does not know gets ERR_UNKNOWN_REQUEST, so an older board answers a newer gateway
 * with a clear error instead of silence.
 *
 * Transfers: one at a time. TransferBegin names the kind and so the module that owns the
 * following TransferChunk messages (no reply: the link window pipelines them) and TransferEnd.
 * A new TransferBegin of any kind closes the previous transfer; a model push stays resumable in
 * flash (model_store.h), a sample or image in RAM is simply sent again.
 */
#include "core_rpc.h"

#include <string.h>

#include "capture.h"
#include "model_store.h"
#include "personalize.h"

static microt_TransferKind rpc_xfer_kind;

static void rpc_model_status(microt_Message *reply)
{
    microt_ModelStatus *s = &reply->body.model_status;
    uint32_t bytes = 0;
    const uint8_t *sha = model_store_active_sha256();
    reply->which_body = microt_Message_model_status_tag;
    memset(s, 0, sizeof(*s));
    if (model_store_active(&bytes) == NULL || sha == NULL)
        return;
    s->active = true;
    memcpy(s->sha256.bytes, sha, MODEL_STORE_HASH_BYTES);
    s->sha256.size = MODEL_STORE_HASH_BYTES;
    s->size_bytes = bytes;
    s->slot = (uint32_t)model_store_active_slot();
    personalize_fill_model_status(s);
}

static microt_ErrorCode rpc_model_error(model_store_status_t st)
{
    switch (st) {
    case MODEL_STORE_EINVAL: return microt_ErrorCode_ERR_BAD_REQUEST;
    case MODEL_STORE_EFLASH: return microt_ErrorCode_ERR_FLASH;
    case MODEL_STORE_EVERIFY: return microt_ErrorCode_ERR_VERIFY;
    case MODEL_STORE_ENOSPACE: return microt_ErrorCode_ERR_NO_SPACE;
    case MODEL_STORE_ESTATE: return microt_ErrorCode_ERR_STATE;
    case MODEL_STORE_EUNAVAIL: return microt_ErrorCode_ERR_UNKNOWN_REQUEST;
    default: return microt_ErrorCode_ERR_INTERNAL;
    }
}

static void rpc_transfer_begin(const microt_TransferBegin *b, microt_Message *reply)
{
    rpc_xfer_kind = microt_TransferKind_TRANSFER_NONE;
    switch (b->kind) {
    case microt_TransferKind_TRANSFER_MODEL: {
        uint32_t offset = 0;
        model_store_status_t st;
        if (b->sha256.size != MODEL_STORE_HASH_BYTES) {
            core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "a model push needs its sha256");
            return;
        }
        st = model_store_begin(b->total_bytes, b->sha256.bytes, &offset);
        if (st != MODEL_STORE_OK) {
            core_reply_error(reply, rpc_model_error(st), model_store_last_error());
            return;
        }
        rpc_xfer_kind = b->kind;
        reply->which_body = microt_Message_transfer_status_tag;
        reply->body.transfer_status.offset = offset;
        reply->body.transfer_status.total_bytes = b->total_bytes;
        return;
    }
    case microt_TransferKind_TRANSFER_SAMPLE:
    case microt_TransferKind_TRANSFER_IMAGE:
        if (personalize_transfer_begin(b, reply))
            rpc_xfer_kind = b->kind;
        return;
    default:
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "unknown transfer kind");
        return;
    }
}

static void rpc_transfer_end(microt_Message *reply)
{
    microt_TransferKind kind = rpc_xfer_kind;
    rpc_xfer_kind = microt_TransferKind_TRANSFER_NONE;
    if (kind == microt_TransferKind_TRANSFER_MODEL) {
        bool was_active = model_store_active_sha256() != NULL;
        uint8_t before[MODEL_STORE_HASH_BYTES];
        model_store_status_t st;
        if (was_active)
            memcpy(before, model_store_active_sha256(), sizeof(before));
        st = model_store_end(personalize_arena_capacity());
        if (st != MODEL_STORE_OK) {
            core_reply_error(reply, rpc_model_error(st), model_store_last_error());
            return;
        }
        /* A new model invalidates features, heads and calibration. */
        if (!was_active || memcmp(before, model_store_active_sha256(), sizeof(before)) != 0)
            personalize_init();
        rpc_model_status(reply);
        return;
    }
    if (kind == microt_TransferKind_TRANSFER_SAMPLE || kind == microt_TransferKind_TRANSFER_IMAGE) {
        personalize_transfer_end(reply);
        return;
    }
    core_reply_error(reply, microt_ErrorCode_ERR_STATE, "no transfer in progress");
}

void core_rpc_init(void)
{
    rpc_xfer_kind = microt_TransferKind_TRANSFER_NONE;
    model_store_init();
    personalize_init();
}

bool core_rpc_dispatch(const microt_Message *req, microt_Message *reply)
{
    switch (req->which_body) {
    case microt_Message_transfer_begin_tag:
        rpc_transfer_begin(&req->body.transfer_begin, reply);
        return true;
    case microt_Message_transfer_chunk_tag:
        /* No reply: an error surfaces at TransferEnd. */
        if (rpc_xfer_kind == microt_TransferKind_TRANSFER_MODEL)
            (void)model_store_chunk(req->body.transfer_chunk.offset,
                                    req->body.transfer_chunk.data.bytes,
                                    req->body.transfer_chunk.data.size);
        else if (rpc_xfer_kind != microt_TransferKind_TRANSFER_NONE)
            personalize_transfer_chunk(&req->body.transfer_chunk);
        return false;
    case microt_Message_transfer_end_tag:
        rpc_transfer_end(reply);
        return true;
    case microt_Message_get_model_tag:
        rpc_model_status(reply);
        return true;
    case microt_Message_reset_samples_tag:
        personalize_reset_samples(&req->body.reset_samples, reply);
        return true;
    case microt_Message_train_heads_tag:
        personalize_train(&req->body.train_heads, reply);
        return true;
    case microt_Message_set_ratio_tag:
        personalize_set_ratio(&req->body.set_ratio, reply);
        return true;
    case microt_Message_get_tradeoff_tag:
        personalize_get_tradeoff(reply);
        return true;
    case microt_Message_capture_tag:
        capture_handle(req, reply);
        return true;
    default:
        core_reply_error(reply, microt_ErrorCode_ERR_UNKNOWN_REQUEST, "request not supported");
        return true;
    }
}

void core_rpc_fill_device_info(microt_DeviceInfo *info)
{
    const uint8_t *sha = model_store_active_sha256();
    info->capabilities = microt_Capability_CAP_TRAIN | microt_Capability_CAP_INFER;
    if (model_store_available())
        info->capabilities |= microt_Capability_CAP_MODEL;
    if (capture_available())
        info->capabilities |= microt_Capability_CAP_CAPTURE;
    info->arena_bytes = personalize_arena_capacity();
    if (sha != NULL) {
        memcpy(info->active_model_sha256.bytes, sha, MODEL_STORE_HASH_BYTES);
        info->active_model_sha256.size = MODEL_STORE_HASH_BYTES;
    }
    /* Slot size as the store sees it (one erase unit is its trailer). */
    if (model_store_available())
        info->model_slot_bytes = model_store_capacity_bytes();
}

void core_rpc_idle(void)
{
}
