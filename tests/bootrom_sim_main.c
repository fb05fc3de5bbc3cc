/*
 * bootrom_sim_main.c — `bootrom-sim`: the simulator's ROM bootloader alone on a pty, for the
 * flashing tests and benchmark (stm32flash and microt-flash talk to it like to a board held in
 * its bootloader). Same flags as microt-sim where they overlap:
 *
 *   bootrom-sim --pty PATH --flash FILE [--board h7a3zi|l4r5zi] [--baud N] [--turn-latency-us N]
 *               [--once]
 *
 * Creates a pty, symlinks its slave at PATH, and serves the bootloader on it. After a Go it
 * prints "go 0x........ bootable=0|1 version=V" on stdout and, like a reset into the bootloader,
 * serves again (unless --once). SIGTERM/SIGINT end it cleanly (flash synced). A client closing
 * the pty is not an end: the next client finds the bootloader where it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "fw_header.h"
#include "sim_bootrom.h"
#include "sim_flash.h"
#include "sim_line.h"

static int stop_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
    (void)sig;
    ssize_t r = write(stop_pipe[1], "x", 1);
    (void)r;
}

static int usage(void)
{
    fprintf(stderr, "usage: bootrom-sim --pty PATH --flash FILE [--board h7a3zi|l4r5zi] "
                    "[--baud N] [--turn-latency-us N] [--once]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *pty_path = NULL, *flash_path = NULL, *board = "l4r5zi";
    unsigned long baud = 0, turn_us = 0;
    int once = 0, rc = 1, master = -1, slave = -1;
    sim_flash_t flash = { .fd = -1 };
    char slave_name[128];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--once") == 0) {
            once = 1;
            continue;
        }
        if (v == NULL)
            return usage();
        if (strcmp(a, "--pty") == 0)
            pty_path = v;
        else if (strcmp(a, "--flash") == 0)
            flash_path = v;
        else if (strcmp(a, "--board") == 0)
            board = v;
        else if (strcmp(a, "--baud") == 0)
            baud = strtoul(v, NULL, 0);
        else if (strcmp(a, "--turn-latency-us") == 0)
            turn_us = strtoul(v, NULL, 0);
        else
            return usage();
        i++;
    }
    const sim_chip_t *chip = sim_chip_by_name(board);
    if (pty_path == NULL || flash_path == NULL || chip == NULL || baud > 10000000ul ||
        turn_us > 1000000ul)
        return usage();

    if (pipe2(stop_pipe, O_CLOEXEC) != 0) {
        perror("bootrom-sim: pipe");
        goto out;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    if (sim_flash_open(&flash, flash_path, chip->flash_bytes, chip->page_bytes) != 0) {
        fprintf(stderr, "bootrom-sim: %s: %s\n", flash_path, strerror(errno));
        goto out;
    }
    if (openpty(&master, &slave, slave_name, NULL, NULL) != 0) {
        perror("bootrom-sim: openpty");
        goto out;
    }
    /* Raw slave, so nothing a client writes before it sets its own mode gets mangled; we keep
     * the slave open so the master never sees a hang-up between clients. */
    struct termios t;
    if (tcgetattr(slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(slave, TCSANOW, &t);
    }
    unlink(pty_path);
    if (symlink(slave_name, pty_path) != 0) {
        fprintf(stderr, "bootrom-sim: symlink %s: %s\n", pty_path, strerror(errno));
        goto out;
    }
    printf("ready %s %s chip 0x%03x\n", pty_path, slave_name, chip->chip_id);
    fflush(stdout);

    sim_line_t line;
    sim_line_init(&line, (uint32_t)baud, (uint32_t)turn_us);
    sim_bootrom_opts_t opts = { .line = &line, .stop_fd = stop_pipe[0] };
    for (;;) {
        uint32_t go = 0;
        sim_bootrom_result_t r = sim_bootrom_serve(master, &flash, chip, &opts, &go);
        if (r == SIM_BOOTROM_GO) {
            fw_header_t h;
            uint32_t off = go - chip->flash_base;
            int ok = fw_header_parse(flash.base + off, flash.size_bytes - off, &h);
            printf("go 0x%08x bootable=%d version=%s\n", go,
                   sim_bootrom_image_bootable(&flash, chip, go), ok ? h.version : "-");
            fflush(stdout);
            if (once) {
                rc = 0;
                goto out;
            }
            continue;
        }
        if (r == SIM_BOOTROM_STOPPED) {
            rc = 0;
            goto out;
        }
        if (r == SIM_BOOTROM_EOF) {
            /* Cannot happen while we hold the slave; treat as the end. */
            rc = 0;
            goto out;
        }
        fprintf(stderr, "bootrom-sim: line error: %s\n", strerror(errno));
        goto out;
    }
out:
    if (pty_path != NULL)
        unlink(pty_path);
    if (master >= 0)
        close(master);
    if (slave >= 0)
        close(slave);
    sim_flash_close(&flash);
    return rc;
}
