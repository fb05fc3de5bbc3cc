/*
 * sim_camera.h — the simulator's camera: frames are image files in a folder (microt-sim --camera
 * DIR), binary PGM (P5, grey) or PPM (P6, RGB) with 8-bit samples, taken in name order and
 * starting over after the last. Each frame is scaled (bilinear, half-pixel centres) to the size the
 * core asks for, grey replicated to RGB. PNM because a script writes it in three lines and the
 * firmware side needs no image library.
 */
#ifndef MICROT_SIM_CAMERA_H
#define MICROT_SIM_CAMERA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Uses frames from dir (NULL: no camera). Returns 0, or -1 when dir cannot be opened. */
int sim_camera_open(const char *dir);

/* Next frame as uint8 RGB width x height x 3 into buf; false without a camera, without frames,
 * or on an unreadable file (the next call tries the next file). */
bool sim_camera_next(uint8_t *buf, uint32_t width, uint32_t height);

/* Decodes a binary PGM/PPM held in memory: *w, *h, *channels (1 or 3) and a pointer to the pixels
 * inside data. Returns 0 or -1 (not P5/P6, maxval other than 255, truncated). */
int sim_camera_parse_pnm(const uint8_t *data, size_t len, uint32_t *w, uint32_t *h,
                         uint32_t *channels, const uint8_t **pixels);

#endif /* MICROT_SIM_CAMERA_H */
