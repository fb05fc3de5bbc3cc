/*
 * ctl_inspect.h — `microtctl model inspect FILE.tflite [--cut NAME] [--json]`: imports the model
 * locally, as microtd would before a push, and prints its stages, ops, arena peaks and weights
 * (model_inspect). No daemon involved: it answers "will this fit, and where is the cut?" first.
 */
#ifndef MICROT_CTL_INSPECT_H
#define MICROT_CTL_INSPECT_H

#include "ctl.h"

int ctl_inspect_model(ctl_t *ctl, int argc, char **argv);

#endif /* MICROT_CTL_INSPECT_H */
