/* mt_err.c — sentences for the daemon's error codes. */
#include "mt_err.h"

const char *mt_strerror(int err)
{
    switch (err) {
    case MT_OK: return "ok";
    case MT_EINVAL: return "invalid argument";
    case MT_ENOTFOUND: return "not found";
    case MT_EOFFLINE: return "device is offline";
    case MT_ETIMEOUT: return "device did not answer in time";
    case MT_EBUSY: return "device is busy with another job";
    case MT_EIO: return "input/output error";
    case MT_EDEVICE: return "device reported an error";
    case MT_ENOMEM: return "out of memory";
    case MT_ETOOBIG: return "too large";
    case MT_ENOSPACE: return "does not fit the device";
    case MT_ESTATE: return "not valid in the current state";
    case MT_EPROTO: return "protocol error";
    default: return "unknown error";
    }
}
