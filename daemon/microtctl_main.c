/* microtctl_main.c — the microtctl program; everything is in daemon/ctl/ (ctl.h). */
#include "ctl/ctl.h"

int main(int argc, char **argv) { return ctl_main(argc, argv); }
