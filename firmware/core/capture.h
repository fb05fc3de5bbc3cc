/*
 * capture.h — a sample taken by the board's own camera (CAP_CAPTURE) and sent up to the gateway.
 *
 * Capture{label, width, height} asks for one frame; the board grabs it through hal_camera_capture()
 * as uint8 RGB at the asked size (0 x 0: the active model's input size) and streams it back as
 * Captured messages carrying the request's id: offsets 0, n, 2n, ... in order, each with the
 * frame's total_bytes, width, height and the label, the last one ending at total_bytes. The link
 * window keeps several in flight. The gateway stores the frame as a sample (with provenance
 * "capture") and may then send it back quantized as TRANSFER_SAMPLE. Frames are raw pixels, not
 * the int8 tensor, so the gateway keeps the image itself, independent of any one model.
 *
 * C99, no heap: one static frame buffer of CAPTURE_MAX_BYTES.
 */
#ifndef MICROT_CAPTURE_H
#define MICROT_CAPTURE_H

#include <stdbool.h>

#include "microt.pb.h"

#ifndef CAPTURE_MAX_BYTES
#define CAPTURE_MAX_BYTES (160u * 160u * 3u)
#endif

/* True when the port has a camera (HAL_FEATURE_CAMERA). */
bool capture_available(void);

/* Handles a Capture request: every Captured message but the last is sent at once (core_send);
 * the last one, or an Error, is left in reply for the main loop to send. */
void capture_handle(const microt_Message *req, microt_Message *reply);

#endif /* MICROT_CAPTURE_H */
