/*
 * ctl_devices.h — microtctl's device commands: `devices`, `device ID`, `ping ID`.
 */
#ifndef MICROT_CTL_DEVICES_H
#define MICROT_CTL_DEVICES_H

#include "ctl.h"

int ctl_devices_list(ctl_t *ctl, int argc, char **argv);
int ctl_devices_show(ctl_t *ctl, int argc, char **argv);
int ctl_devices_ping(ctl_t *ctl, int argc, char **argv);

#endif /* MICROT_CTL_DEVICES_H */
