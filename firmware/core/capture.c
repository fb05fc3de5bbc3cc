/*
 * capture.c — camera frames streamed to the gateway as Captured messages (see capture.h).
 */
#include "capture.h"

#include <string.h>

#include "core_rpc.h"
#include "hal.h"
#include "personalize.h"

static uint8_t capture_frame[CAPTURE_MAX_BYTES];
static microt_Message capture_msg;

bool capture_available(void)
{
    return (hal_board()->features & HAL_FEATURE_CAMERA) != 0;
}

void capture_handle(const microt_Message *req, microt_Message *reply)
{
    const microt_Capture *c = &req->body.capture;
    uint32_t width = c->width, height = c->height, channels = 3, total, off = 0;
    const uint32_t chunk = (uint32_t)sizeof(capture_msg.body.captured.data.bytes);

    if (!capture_available()) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE, "this board has no camera");
        return;
    }
    if (width == 0 && height == 0) {
        if (!personalize_input_shape(&height, &width, &channels)) {
            core_reply_error(reply, microt_ErrorCode_ERR_NO_MODEL,
                             "no model active: give the frame's width and height");
            return;
        }
        channels = 3;
    }
    if (width == 0 || height == 0 || width > 4096u || height > 4096u ||
        width * height * 3u > CAPTURE_MAX_BYTES) {
        core_reply_error(reply, microt_ErrorCode_ERR_BAD_REQUEST, "frame size out of range");
        return;
    }
    total = width * height * 3u;
    if (!hal_camera_capture(capture_frame, width, height)) {
        core_reply_error(reply, microt_ErrorCode_ERR_STATE, "the camera delivered no frame");
        return;
    }
    for (;;) {
        microt_Message *m = &capture_msg;
        uint32_t n = total - off < chunk ? total - off : chunk;
        memset(m, 0, sizeof(*m));
        m->id = req->id;
        m->which_body = microt_Message_captured_tag;
        m->body.captured.total_bytes = total;
        m->body.captured.offset = off;
        m->body.captured.label = c->label;
        m->body.captured.width = width;
        m->body.captured.height = height;
        m->body.captured.data.size = (pb_size_t)n;
        memcpy(m->body.captured.data.bytes, capture_frame + off, n);
        off += n;
        if (off == total) {
            *reply = *m; /* the last piece goes out as the reply */
            return;
        }
        if (core_send(m) != 0) {
            core_reply_error(reply, microt_ErrorCode_ERR_INTERNAL, "link lost while sending the frame");
            return;
        }
    }
}
