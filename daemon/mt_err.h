/*
 * mt_err.h — the daemon's one error convention: functions return 0 or a negative mt_err_t.
 * HTTP handlers map them to status codes (http_api.c), microtctl prints mt_strerror().
 */
#ifndef MICROT_MT_ERR_H
#define MICROT_MT_ERR_H

typedef enum {
    MT_OK = 0,
    MT_EINVAL = -1,     /* bad argument or malformed input (HTTP 400) */
    MT_ENOTFOUND = -2,  /* unknown device, model, sample, job (404) */
    MT_EOFFLINE = -3,   /* device known but not connected (409) */
    MT_ETIMEOUT = -4,   /* the board did not answer before the deadline (504) */
    MT_EBUSY = -5,      /* a job already holds the device (409) */
    MT_EIO = -6,        /* serial, file or database I/O failed (500) */
    MT_EDEVICE = -7,    /* the board answered with an Error (502) */
    MT_ENOMEM = -8,     /* allocation failed (500) */
    MT_ETOOBIG = -9,    /* over a size bound (413) */
    MT_ENOSPACE = -10,  /* does not fit the board (422) */
    MT_ESTATE = -11,    /* not valid in the current state (409) */
    MT_EPROTO = -12,    /* the board broke the protocol (502) */
} mt_err_t;

/* A constant, human-readable sentence for an error code. */
const char *mt_strerror(int err);

#endif /* MICROT_MT_ERR_H */
