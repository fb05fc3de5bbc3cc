/*
 * core_rpc.c — routes the requests of the core's areas to their modules. A request this
 * firmware does not know gets ERR_UNKNOWN_REQUEST, so an older board answers a newer gateway
 * with a clear error instead of silence.
 */
#include "core_rpc.h"

void core_rpc_init(void)
{
}

bool core_rpc_dispatch(const microt_Message *req, microt_Message *reply)
{
    switch (req->which_body) {
    default:
        core_reply_error(reply, microt_ErrorCode_ERR_UNKNOWN_REQUEST, "request not supported");
        return true;
    }
}

void core_rpc_fill_device_info(microt_DeviceInfo *info)
{
    (void)info;
}

void core_rpc_idle(void)
{
}
