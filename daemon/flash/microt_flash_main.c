/*
 * microt_flash_main.c — `microt-flash`: the daemon's flasher from the command line, for a board
 * on a local port (the daemon runs the same job through its REST API and microtctl).
 *
 *   microt-flash [options] PORT IMAGE
 *     --base ADDR        address of a raw .bin's first byte (default 0x08000000)
 *     --format F         auto (default), bin, hex, elf
 *     --chip NAME        expected part: h7a3zi, l4r5zi, 0x480, ... (default: the image header's)
 *     --baud N           a real UART: 8E1 at N baud (default 0: leave the line speed as it is)
 *     --lines-entry SEQ  enter the bootloader with DTR/RTS, stm32flash -i syntax ("rts&-dtr,-rts")
 *     --lines-exit SEQ   leave by a line sequence instead of Go
 *     --line-step-ms N   the ',' delay (default 100)
 *     --boot-wait-ms N   wait after entering (default 100)
 *     --no-compare       rewrite every touched page without reading it first
 *     --no-go            stay in the bootloader
 *     --reply-ms N       reply deadline (default 500); --probe-ms N resync probe wait (50)
 *     -q                 no progress bar
 * Prints a progress bar on stderr and, at the end, one line on stdout:
 *   flash ok chip=0x470 pages=64 same=0 erased=64 written=50 retried=0 blocks_w=800 blocks_r=850
 *   elapsed_s=12.345
 * Exit status 0 on success, 1 on a failed job (the sentence on stderr), 2 on bad usage.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "flash/flasher.h"
#include "flash/fw_image.h"
#include "mt_err.h"

static int usage(void)
{
    fprintf(stderr, "usage: microt-flash [--base ADDR] [--format auto|bin|hex|elf] [--chip NAME] "
                    "[--baud N] [--lines-entry SEQ] [--lines-exit SEQ] [--line-step-ms N] "
                    "[--boot-wait-ms N] [--no-compare] [--no-go] [--reply-ms N] [--probe-ms N] "
                    "[-q] PORT IMAGE\n");
    return 2;
}

static void progress_bar(void *ctx, flasher_phase_t phase, uint32_t done, uint32_t total)
{
    (void)ctx;
    unsigned pct = total ? (unsigned)((uint64_t)done * 100u / total) : 100u;
    char bar[31];
    unsigned fill = pct * 30u / 100u;
    for (unsigned i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%-8s [%s] %3u%%", flasher_phase_name(phase), bar, pct);
    if (phase == FLASHER_PHASE_DONE)
        fputc('\n', stderr);
    fflush(stderr);
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 0);
    if (*s == '\0' || *end != '\0' || v > 0xFFFFFFFFul)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    flasher_opts_t o = { .fd = -1 };
    flasher_stats_t st;
    fw_image_t img = { 0 };
    fw_format_t fmt = FW_FORMAT_AUTO;
    uint32_t base = 0x08000000u;
    const char *port = NULL, *path = NULL;
    int quiet = 0, rc = 2, fd = -1;
    char err[320];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-compare") == 0) { o.no_compare = true; continue; }
        if (strcmp(a, "--no-go") == 0) { o.no_go = true; continue; }
        if (strcmp(a, "-q") == 0) { quiet = 1; continue; }
        if (a[0] != '-') {
            if (port == NULL) port = a;
            else if (path == NULL) path = a;
            else return usage();
            continue;
        }
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--base") == 0) { if (parse_u32(v, &base)) return usage(); }
        else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "auto") == 0) fmt = FW_FORMAT_AUTO;
            else if (strcmp(v, "bin") == 0) fmt = FW_FORMAT_BIN;
            else if (strcmp(v, "hex") == 0) fmt = FW_FORMAT_HEX;
            else if (strcmp(v, "elf") == 0) fmt = FW_FORMAT_ELF;
            else return usage();
        }
        else if (strcmp(a, "--chip") == 0) o.chip = v;
        else if (strcmp(a, "--baud") == 0) { if (parse_u32(v, &o.baud)) return usage(); }
        else if (strcmp(a, "--lines-entry") == 0) { o.entry = FLASHER_ENTRY_LINES; o.lines_entry = v; }
        else if (strcmp(a, "--lines-exit") == 0) o.lines_exit = v;
        else if (strcmp(a, "--line-step-ms") == 0) { if (parse_u32(v, &o.line_step_ms)) return usage(); }
        else if (strcmp(a, "--boot-wait-ms") == 0) { if (parse_u32(v, &o.boot_wait_ms)) return usage(); }
        else if (strcmp(a, "--reply-ms") == 0) { if (parse_u32(v, &o.timing.reply_ms)) return usage(); }
        else if (strcmp(a, "--probe-ms") == 0) { if (parse_u32(v, &o.timing.sync_probe_ms)) return usage(); }
        else return usage();
    }
    if (port == NULL || path == NULL)
        return usage();

    if (fw_image_load_file(&img, path, fmt, base, err, sizeof(err)) != MT_OK) {
        fprintf(stderr, "microt-flash: %s\n", err);
        rc = 1;
        goto out;
    }
    fd = open(port, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        perror(port);
        rc = 1;
        goto out;
    }
    /* A tty (real or pseudo) must be raw whatever its previous user left: no echo, no CR/LF
     * translation, no line buffering. The flasher sets speed and parity when --baud is given. */
    struct termios t;
    if (isatty(fd) && tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        t.c_cflag |= CLOCAL | CREAD;
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 0;
        tcsetattr(fd, TCSANOW, &t);
    }
    o.fd = fd;
    o.image = &img;
    o.stats = &st;
    int r = flasher_run(&o, quiet ? NULL : progress_bar, NULL, err, sizeof(err));
    if (r != MT_OK) {
        if (!quiet)
            fputc('\n', stderr);
        fprintf(stderr, "microt-flash: %s (%s)\n", err, mt_strerror(r));
        rc = 1;
        goto out;
    }
    printf("flash ok chip=0x%03x pages=%u same=%u erased=%u written=%u retried=%u blocks_w=%u "
           "blocks_r=%u version=%s elapsed_s=%.3f\n", st.chip_id, st.pages_touched, st.pages_same,
           st.pages_erased, st.pages_written, st.pages_retried, st.blocks_written, st.blocks_read,
           img.has_header ? img.header.version : "-", st.elapsed_s);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    fw_image_free(&img);
    return rc;
}
