/*
 * sim_main.c — microt-sim: the firmware core running on Linux as a simulated board.
 *
 * It opens a pseudo-terminal, points a symlink at its slave side (--pty PATH) for the gateway to
 * open like any serial port, and runs the same main loop as the real firmware. Its flash is a
 * file (--flash FILE), so a restarted simulator keeps the models it was given.
 *
 *   microt-sim --pty /tmp/board0 --board h7a3zi|l4r5zi [--uid HEX24] [--flash FILE]
 *              [--bootloader] [--baud N] [--turn-latency-us N] [--camera DIR]
 *
 * --baud paces the serial line like a real UART behind a USB adapter whose latency is
 * --turn-latency-us: the application's 8N1 link through sim_uart.h (full duplex), the ROM
 * bootloader's 8E1 traffic through sim_line.h (half duplex, as AN3155 is). --camera gives the
 * board a camera whose frames are the PGM/PPM files of DIR (sim_camera.h).
 * --bootloader starts the part in its ROM bootloader (sim_bootrom.c, AN3155), as BOOT0 high
 * would; Reboot{BOOTLOADER} gets there too. After a Go to a bootable image the firmware starts
 * and reports the version in that image's header; a Go to a blank image stays in the bootloader.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "microt_core.h"
#include "sim_bootrom.h"
#include "sim_camera.h"
#include "sim_line.h"
#include "sim_port.h"
#include "sim_uart.h"

static volatile sig_atomic_t sim_stop;
static char sim_link_path[4096];
static int sim_slave_fd = -1; /* static: survives the reset longjmp */
static int sim_stop_pipe[2] = {-1, -1}; /* wakes the ROM bootloader's blocking wait on a signal */
static int sim_in_bootrom;              /* static: read after the reset longjmp */
static sim_line_t sim_line;

static void sim_on_signal(int sig)
{
    (void)sig;
    sim_stop = 1;
    if (sim_stop_pipe[1] >= 0) {
        ssize_t r = write(sim_stop_pipe[1], "x", 1);
        (void)r;
    }
}

/* The part in its ROM bootloader until a Go to a bootable image (returns 0: start the firmware)
 * or a signal (returns -1). */
static int sim_run_bootrom(void)
{
    const sim_chip_t *chip = sim_chip_by_name(sim.board.name);
    sim_bootrom_opts_t o = {.line = &sim_line, .stop_fd = sim_stop_pipe[0]};
    if (chip == NULL)
        return -1;
    while (!sim_stop) {
        uint32_t go = 0;
        fprintf(stderr, "microt-sim: in the ROM bootloader (%s, ID 0x%03x)\n", chip->part,
                chip->chip_id);
        sim_bootrom_result_t r = sim_bootrom_serve(sim.uart_fd, &sim.flash, chip, &o, &go);
        if (r != SIM_BOOTROM_GO)
            return -1;
        if (sim_bootrom_image_bootable(&sim.flash, chip, go)) {
            fprintf(stderr, "microt-sim: Go 0x%08x: starting the firmware\n", go);
            return 0;
        }
        fprintf(stderr, "microt-sim: Go 0x%08x: no bootable image there, back to the bootloader\n",
                go);
    }
    return -1;
}

static void sim_usage(FILE *out)
{
    fprintf(out,
            "usage: microt-sim --pty PATH [--board h7a3zi|l4r5zi] [--uid HEX24] [--flash FILE]\n"
            "  --pty PATH     symlink to create, pointing at the simulator's serial port\n"
            "  --board NAME   part to model (default h7a3zi)\n"
            "  --uid HEX24    96-bit unique ID as 24 hex digits (default: derived from --pty)\n"
            "  --flash FILE   persistent flash image (default: memory only)\n"
            "  --bootloader   start in the ROM bootloader (AN3155 over the pty)\n"
            "  --baud N       pace the serial line at N baud (default 0: unpaced)\n"
            "  --turn-latency-us N  adapter latency at each turn of direction (default 0)\n"
            "  --camera DIR   camera frames: the .pgm/.ppm files of DIR, in name order\n");
}

static int sim_parse_uid(const char *hex, uint8_t uid[HAL_UID_BYTES])
{
    if (strlen(hex) != 2 * HAL_UID_BYTES)
        return -1;
    for (unsigned i = 0; i < HAL_UID_BYTES; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        uid[i] = (uint8_t)v;
    }
    return 0;
}

/* A stable uid for boards started without one: FNV-1a of the pty path, spread over 12 bytes. */
static void sim_uid_from_name(const char *name, uint8_t uid[HAL_UID_BYTES])
{
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (unsigned i = 0; i < HAL_UID_BYTES; i++) {
        h = (h ^ i) * 16777619u;
        uid[i] = (uint8_t)(h >> 24);
    }
}

/* Opens a pty pair in raw mode. The simulator keeps the slave open too, so the master never sees
 * a hang-up while no gateway is connected (a real UART has no such state either). */
static int sim_open_pty(int *master_out, int *slave_out, char *slave_name, size_t cap)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    int slave = -1;
    struct termios tio;
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
        ptsname_r(master, slave_name, cap) != 0)
        goto fail;
    slave = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0 || tcgetattr(slave, &tio) != 0)
        goto fail;
    cfmakeraw(&tio);
    if (tcsetattr(slave, TCSANOW, &tio) != 0)
        goto fail;
    if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) != 0)
        goto fail;
    *master_out = master;
    *slave_out = slave;
    return 0;
fail:
    if (slave >= 0)
        close(slave);
    if (master >= 0)
        close(master);
    return -1;
}

/* Points `link` at target atomically (a new symlink renamed over the old one). */
static int sim_make_link(const char *target, const char *link)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", link, (int)getpid());
    unlink(tmp);
    if (symlink(target, tmp) != 0)
        return -1;
    if (rename(tmp, link) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pty", required_argument, NULL, 'p'},   {"board", required_argument, NULL, 'b'},
        {"uid", required_argument, NULL, 'u'},   {"flash", required_argument, NULL, 'f'},
        {"baud", required_argument, NULL, 'B'},  {"turn-latency-us", required_argument, NULL, 'L'},
        {"camera", required_argument, NULL, 'c'}, {"bootloader", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *pty_link = NULL, *board_name = "h7a3zi", *uid_hex = NULL, *flash_path = NULL;
    const char *camera_dir = NULL;
    unsigned long baud = 0, turn_latency_us = 0;
    char *end;
    const hal_board_t *board;
    char slave_name[128];
    int c, rc = 1;
    struct sigaction sa;

    while ((c = getopt_long(argc, argv, "p:b:u:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pty_link = optarg; break;
        case 'b': board_name = optarg; break;
        case 'u': uid_hex = optarg; break;
        case 'f': flash_path = optarg; break;
        case 'c': camera_dir = optarg; break;
        case 'B':
        case 'L':
            errno = 0;
            if (c == 'B')
                baud = strtoul(optarg, &end, 10);
            else
                turn_latency_us = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || (c == 'B' && baud > 20000000ul) ||
                (c == 'L' && turn_latency_us > 1000000ul)) {
                fprintf(stderr, "microt-sim: bad --%s '%s'\n", c == 'B' ? "baud" : "turn-latency-us",
                        optarg);
                return 2;
            }
            break;
        case 'h': sim_usage(stdout); return 0;
        case 'R': sim_in_bootrom = 1; break;
        default: sim_usage(stderr); return 2;
        }
    }
    if (pty_link == NULL) {
        sim_usage(stderr);
        return 2;
    }
    sim_line_init(&sim_line, (uint32_t)baud, (uint32_t)turn_latency_us);
    board = sim_board_by_name(board_name);
    if (board == NULL) {
        fprintf(stderr, "microt-sim: unknown board '%s' (h7a3zi or l4r5zi)\n", board_name);
        return 2;
    }
    memset(&sim, 0, sizeof(sim));
    sim.board = *board;
    if (uid_hex != NULL) {
        if (sim_parse_uid(uid_hex, sim.uid) != 0) {
            fprintf(stderr, "microt-sim: --uid wants 24 hex digits, got '%s'\n", uid_hex);
            return 2;
        }
    } else {
        sim_uid_from_name(pty_link, sim.uid);
    }
    /* H7A3 erases 8 KB sectors, L4R5 4 KB pages. */
    if (sim_flash_open(&sim.flash, flash_path, board->flash_bytes,
                       board->board_kind == 1u ? 8192u : 4096u) != 0) {
        fprintf(stderr, "microt-sim: cannot open flash '%s': %s\n", flash_path, strerror(errno));
        return 1;
    }
    if (sim_open_pty(&sim.uart_fd, &sim_slave_fd, slave_name, sizeof(slave_name)) != 0) {
        fprintf(stderr, "microt-sim: cannot open a pseudo-terminal: %s\n", strerror(errno));
        goto out;
    }
    sim_uart_init(sim.uart_fd, (uint32_t)baud, (uint32_t)turn_latency_us);
    if (sim_camera_open(camera_dir) != 0) {
        fprintf(stderr, "microt-sim: cannot open camera folder '%s': %s\n", camera_dir, strerror(errno));
        goto out;
    }
    if (camera_dir != NULL) {
        sim.camera_dir = camera_dir;
        sim.board.features |= HAL_FEATURE_CAMERA;
    }
    if (sim_make_link(slave_name, pty_link) != 0) {
        fprintf(stderr, "microt-sim: cannot create %s: %s\n", pty_link, strerror(errno));
        goto out;
    }
    snprintf(sim_link_path, sizeof(sim_link_path), "%s", pty_link);

    if (pipe2(sim_stop_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "microt-sim: pipe: %s\n", strerror(errno));
        goto out;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sim_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    fprintf(stderr, "microt-sim: %s board on %s -> %s\n", board->name, pty_link, slave_name);
    /* Each pass of this loop is one reset of the simulated part. */
    if (setjmp(sim.reset_jmp) != 0 && sim.reboot_target == HAL_BOOT_BOOTLOADER)
        sim_in_bootrom = 1;
    if (sim_in_bootrom) {
        sim_in_bootrom = 0;
        if (sim_run_bootrom() != 0) {
            rc = 0;
            goto out;
        }
    }
    sim_port_reset();
    microt_core_init();
    while (!sim_stop)
        microt_core_poll(50);
    rc = 0;
out:
    if (sim_link_path[0] != '\0')
        unlink(sim_link_path);
    if (sim_slave_fd >= 0)
        close(sim_slave_fd);
    if (sim.uart_fd > 0)
        close(sim.uart_fd);
    if (sim_stop_pipe[0] >= 0) {
        close(sim_stop_pipe[0]);
        close(sim_stop_pipe[1]);
    }
    sim_flash_close(&sim.flash);
    return rc;
}
