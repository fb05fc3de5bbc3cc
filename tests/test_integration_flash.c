/*
 * test_integration_flash.c — firmware updates through microtd's REST API on two simulated boards
 * (microt-sim h7a3zi and l4r5zi, real ptys, the real daemon):
 *   - an image stamped with a new version is POSTed; the flash job takes the port from the
 *     board's session (Reboot{BOOTLOADER} by RPC), writes and verifies it, the board boots it and
 *     comes back online reporting that version; the store records the firmware change; while it
 *     runs the other board answers pings and a second flash of the same board is refused (409);
 *   - an image for the other chip, and a malformed one, are refused with 4xx before any job;
 *   - a board killed in the middle of a flash: the job fails with a sentence; the board restarted
 *     in its ROM bootloader (its flash holds a partial image) is flashed again (entry
 *     "bootloader") and comes back online with the new version.
 * The images are made here like a port's post-link step does (fw_header_stamp, the C twin of
 * scripts/fw_stamp.py): a vector table for the part, the MicroT header with a version string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fw_header.h"
#include "harness.h"

#define TOKEN "flash-test-token-0123456789abcdef"
#define IMG_BYTES (64u * 1024u)
#define BOARD_H7 0
#define BOARD_L4 1

static const char *const uids[2] = {"fa0000000000000000000001", "fa0000000000000000000002"};
static const char *const boards[2] = {"h7a3zi", "l4r5zi"};

static struct {
    char *dir;
    pid_t sims[2];
    pid_t daemon;
    char base[64];
} fx;

static pid_t start_sim(int i, int bootloader)
{
    char sim[300], pty[300], flash[300], log[300];
    snprintf(sim, sizeof sim, "%s/microt-sim", harness_build_dir());
    snprintf(pty, sizeof pty, "%s/ports/board-%d", fx.dir, i);
    snprintf(flash, sizeof flash, "%s/flash-%d.bin", fx.dir, i);
    snprintf(log, sizeof log, "%s/sim-%d.log", fx.dir, i);
    /* Paced like a fast UART so a flash lasts long enough to be interrupted on purpose. */
    char *argv[] = {sim, "--pty", pty, "--board", (char *)boards[i], "--uid", (char *)uids[i],
                    "--flash", flash, "--baud", "921600", "--turn-latency-us", "200",
                    bootloader ? "--bootloader" : NULL, NULL};
    return harness_spawn(argv, log);
}

static json_t *req(const char *method, const char *path, const char *ctype, const void *body,
                   size_t len, long *status)
{
    char url[1024], *out = NULL;
    snprintf(url, sizeof url, "%s%s", fx.base, path);
    *status = harness_http(method, url, TOKEN, ctype, body, len, &out);
    json_t *doc = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return doc;
}

static json_t *get(const char *path)
{
    long st;
    json_t *d = req("GET", path, NULL, NULL, 0, &st);
    if (st != 200) {
        json_decref(d);
        return NULL;
    }
    return d;
}

static bool daemon_up(void *arg)
{
    (void)arg;
    json_t *d = get("/api/health");
    json_decref(d);
    return d != NULL;
}

/* The device is online and (want != NULL) reports that firmware version. */
typedef struct {
    int board;
    const char *version;
} online_arg_t;

static bool board_online(void *arg)
{
    online_arg_t *a = arg;
    char path[128];
    snprintf(path, sizeof path, "/api/devices/%s", uids[a->board]);
    json_t *d = get(path);
    bool ok = d && json_is_object(json_object_get(d, "live"));
    if (ok && a->version != NULL)
        ok = strcmp(json_string_value(json_object_get(d, "firmware_version")), a->version) == 0;
    json_decref(d);
    return ok;
}

static const char *device_state(int board, char *buf, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "/api/devices/%s", uids[board]);
    json_t *d = get(path);
    snprintf(buf, cap, "%s", d ? json_string_value(json_object_get(d, "state")) : "(none)");
    json_decref(d);
    return buf;
}

static void dump_logs(void)
{
    const char *names[] = {"microtd.log", "sim-0.log", "sim-1.log"};
    for (size_t i = 0; i < 3; i++) {
        char path[400], line[300];
        snprintf(path, sizeof path, "%s/%s", fx.dir, names[i]);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL)
            fprintf(stderr, "%s| %s", names[i], line);
        fclose(f);
    }
}

/* A bootable image for the part: vector table (stack in its SRAM, reset handler in the image,
 * Thumb bit), pseudo-random code bytes, a blank stretch, the stamped header. */
static uint8_t *make_image(int board, const char *version, uint8_t salt, uint16_t chip_id)
{
    uint8_t *raw = malloc(IMG_BYTES);
    assert_non_null(raw);
    for (uint32_t i = 0; i < IMG_BYTES; i++)
        raw[i] = (uint8_t)(i * 31u + salt + (i >> 9));
    memset(raw + 24 * 1024, 0xFF, 8 * 1024);
    uint32_t sp = board == BOARD_H7 ? 0x24010000u : 0x20010000u, reset = 0x08000801u;
    memcpy(raw, &sp, 4);
    memcpy(raw + 4, &reset, 4);
    assert_int_equal(fw_header_stamp(raw, IMG_BYTES, version, chip_id), FW_HEADER_OK);
    return raw;
}

static uint16_t chip_of(int board) { return board == BOARD_H7 ? 0x480 : 0x470; }

/* POSTs an image; returns the HTTP status, *job_id the job's id on 202. */
static long post_flash(int board, const uint8_t *img, size_t len, const char *query,
                       long long *job_id, json_t **doc_out)
{
    char path[256];
    long st;
    snprintf(path, sizeof path, "/api/devices/%s/flash%s", uids[board], query ? query : "");
    json_t *doc = req("POST", path, "application/octet-stream", img, len, &st);
    *job_id = (long long)json_integer_value(json_object_get(json_object_get(doc, "job"), "id"));
    if (doc_out != NULL)
        *doc_out = doc;
    else
        json_decref(doc);
    return st;
}

static json_t *get_job(long long id)
{
    char path[64];
    snprintf(path, sizeof path, "/api/jobs/%lld", id);
    return get(path);
}

static const char *job_state(json_t *j) { return json_string_value(json_object_get(j, "state")); }

static json_t *wait_job(long long id, int timeout_ms)
{
    long long end = harness_now_ms() + timeout_ms;
    for (;;) {
        json_t *j = get_job(id);
        const char *st = j ? job_state(j) : NULL;
        if ((st && strcmp(st, "queued") != 0 && strcmp(st, "running") != 0) ||
            harness_now_ms() > end)
            return j;
        json_decref(j);
        usleep(50000);
    }
}

static int ping(int board)
{
    char path[128];
    long st;
    snprintf(path, sizeof path, "/api/devices/%s/ping", uids[board]);
    json_decref(req("POST", path, NULL, NULL, 0, &st));
    return (int)st;
}

static int setup(void **state)
{
    (void)state;
    char ports[300], daemon[300], http[64], db[300], pattern[300], log[300];
    fx.dir = harness_mkdtemp("flashjob");
    if (fx.dir == NULL)
        return -1;
    snprintf(ports, sizeof ports, "%s/ports", fx.dir);
    if (mkdir(ports, 0700) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        fx.sims[i] = start_sim(i, 0);
    int port = harness_free_port();
    snprintf(fx.base, sizeof fx.base, "http://127.0.0.1:%d", port);
    snprintf(daemon, sizeof daemon, "%s/microtd", harness_build_dir());
    snprintf(http, sizeof http, "127.0.0.1:%d", port);
    snprintf(db, sizeof db, "%s/microt.db", fx.dir);
    snprintf(pattern, sizeof pattern, "%s/ports/board-*", fx.dir);
    snprintf(log, sizeof log, "%s/microtd.log", fx.dir);
    char *argv[] = {daemon, "--http", http, "--db", db, "--state-dir", fx.dir, "--token", TOKEN,
                    "--port", pattern, "--baud", "921600", NULL};
    fx.daemon = harness_spawn(argv, log);
    online_arg_t a0 = {BOARD_H7, NULL}, a1 = {BOARD_L4, NULL};
    return harness_wait(daemon_up, NULL, 5000) && harness_wait(board_online, &a0, 8000) &&
                   harness_wait(board_online, &a1, 8000)
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (fx.daemon > 0)
        harness_stop(fx.daemon, SIGTERM);
    for (int i = 0; i < 2; i++)
        if (fx.sims[i] > 0)
            harness_stop(fx.sims[i], SIGTERM);
    harness_rmdir(fx.dir);
    memset(&fx, 0, sizeof fx);
    return 0;
}

/* Refusals happen before anything touches the board: no job, the board stays online. */
static void test_refused_images(void **state)
{
    (void)state;
    long long job = 0;
    json_t *doc = NULL;
    uint8_t *img = make_image(BOARD_L4, "9.9.9", 5, chip_of(BOARD_L4)); /* for the L4R5 */
    long st = post_flash(BOARD_H7, img, IMG_BYTES, NULL, &job, &doc);
    assert_int_equal(st, 400);
    assert_int_equal(job, 0);
    const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "chip"));
    json_decref(doc);

    /* A reset vector without the Thumb bit: not a Cortex-M image. */
    img[4] &= 0xFE;
    assert_int_equal(post_flash(BOARD_L4, img, IMG_BYTES, NULL, &job, NULL), 400);
    free(img);
    assert_int_equal(post_flash(BOARD_L4, (const uint8_t *)":00000001FF\n", 12, "?format=elf",
                                &job, NULL), 400);
    assert_int_equal(post_flash(BOARD_L4, (const uint8_t *)"x", 1, "?format=exe", &job, NULL), 400);
    assert_int_equal(post_flash(BOARD_L4, (const uint8_t *)"x", 1, "?entry=jumper", &job, NULL),
                     400);

    json_t *jobs = get("/api/jobs");
    assert_non_null(jobs);
    json_t *list = json_object_get(jobs, "jobs");
    for (size_t i = 0; i < json_array_size(list); i++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(list, i), "kind")),
                                "flash");
    json_decref(jobs);
    assert_int_equal(ping(BOARD_H7), 200);
    assert_int_equal(ping(BOARD_L4), 200);
}

/* Flashes one board over RPC entry; the other keeps answering; the update is recorded. */
static void flash_ok(int board, int other, const char *version, uint8_t salt)
{
    long long job = 0, job2 = 0;
    uint8_t *img = make_image(board, version, salt, chip_of(board));
    long st = post_flash(board, img, IMG_BYTES, "?format=bin&base=0x08000000&entry=rpc", &job,
                         NULL);
    assert_int_equal(st, 202);
    assert_true(job > 0);
    /* One job per board. */
    assert_int_equal(post_flash(board, img, IMG_BYTES, NULL, &job2, NULL), 409);
    int pings_ok = 0, pings = 0, saw_write = 0;
    json_t *j = NULL;
    for (long long end = harness_now_ms() + 20000; harness_now_ms() < end;) {
        json_decref(j);
        j = get_job(job);
        assert_non_null(j);
        const char *phase = json_string_value(json_object_get(json_object_get(j, "progress"),
                                                              "phase"));
        if (phase && (strcmp(phase, "write") == 0 || strcmp(phase, "erase") == 0 ||
                      strcmp(phase, "compare") == 0)) {
            saw_write = 1;
            pings++;
            pings_ok += ping(other) == 200;
        }
        if (strcmp(job_state(j), "running") != 0 && strcmp(job_state(j), "queued") != 0)
            break;
        usleep(30000);
    }
    if (strcmp(job_state(j), "done") != 0) {
        dump_logs();
        fail_msg("flash job ended %s: %s", job_state(j),
                 json_string_value(json_object_get(j, "error")));
    }
    assert_true(saw_write);
    assert_true(pings > 0);
    assert_int_equal(pings_ok, pings);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "to_version")), version);
    assert_int_equal(json_integer_value(json_object_get(res, "chip_id")), chip_of(board));
    assert_true(json_integer_value(json_object_get(res, "pages_written")) > 0);
    json_t *params = json_object_get(j, "params");
    assert_int_equal(json_integer_value(json_object_get(params, "file_bytes")), IMG_BYTES);
    assert_int_equal(strlen(json_string_value(json_object_get(params, "sha256"))), 64);
    json_decref(j);
    free(img);

    online_arg_t a = {board, version};
    assert_true(harness_wait(board_online, &a, 5000));
    char path[128];
    snprintf(path, sizeof path, "/api/devices/%s/firmware", uids[board]);
    json_t *fw = get(path);
    assert_non_null(fw);
    json_t *first = json_array_get(json_object_get(fw, "firmware_changes"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "to")), version);
    json_decref(fw);
}

static void test_flash_by_rpc_while_other_works(void **state)
{
    (void)state;
    flash_ok(BOARD_L4, BOARD_H7, "2.1.0-flashjob", 1);
    flash_ok(BOARD_H7, BOARD_L4, "3.0.7-h7", 2);
}

/* Waits for the job to be writing, then kills the board. */
static void test_killed_mid_flash_then_recovered(void **state)
{
    (void)state;
    long long job = 0;
    char buf[32];
    uint8_t *img = make_image(BOARD_L4, "4.0.0-partial", 7, chip_of(BOARD_L4));
    assert_int_equal(post_flash(BOARD_L4, img, IMG_BYTES, NULL, &job, NULL), 202);
    int killed = 0;
    for (long long end = harness_now_ms() + 15000; harness_now_ms() < end && !killed;) {
        json_t *j = get_job(job);
        const char *phase = json_string_value(json_object_get(json_object_get(j, "progress"),
                                                              "phase"));
        json_int_t done = json_integer_value(json_object_get(json_object_get(j, "progress"),
                                                             "done"));
        if (phase && strcmp(phase, "write") == 0 && done > 0) {
            harness_stop(fx.sims[BOARD_L4], SIGKILL);
            fx.sims[BOARD_L4] = 0;
            killed = 1;
        }
        json_decref(j);
        usleep(5000);
    }
    assert_true(killed);
    json_t *j = wait_job(job, 20000);
    assert_non_null(j);
    assert_string_equal(job_state(j), "failed");
    const char *err = json_string_value(json_object_get(j, "error"));
    assert_non_null(err);
    assert_true(strlen(err) > 10);
    assert_false(json_is_true(json_object_get(json_object_get(j, "result"), "flashed")));
    json_decref(j);
    assert_string_equal(device_state(BOARD_L4, buf, sizeof buf), "bootloader");
    /* The other board never noticed. */
    assert_int_equal(ping(BOARD_H7), 200);

    /* Restarted, the part holds a partial image: it stays in its ROM bootloader. */
    fx.sims[BOARD_L4] = start_sim(BOARD_L4, 1);
    assert_true(fx.sims[BOARD_L4] > 0);
    /* A flash asking the firmware to reboot cannot work: nothing runs to answer. */
    long long job2 = 0;
    usleep(500000);
    assert_int_equal(post_flash(BOARD_L4, img, IMG_BYTES, "?entry=rpc", &job2, NULL), 202);
    j = wait_job(job2, 20000);
    assert_string_equal(job_state(j), "failed");
    json_decref(j);

    assert_int_equal(post_flash(BOARD_L4, img, IMG_BYTES, "?entry=bootloader", &job2, NULL), 202);
    j = wait_job(job2, 30000);
    assert_non_null(j);
    if (strcmp(job_state(j), "done") != 0) {
        dump_logs();
        fail_msg("recovery flash ended %s: %s", job_state(j),
                 json_string_value(json_object_get(j, "error")));
    }
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "result"),
                                                          "to_version")), "4.0.0-partial");
    json_decref(j);
    free(img);
    online_arg_t a = {BOARD_L4, "4.0.0-partial"};
    assert_true(harness_wait(board_online, &a, 5000));
    assert_string_equal(device_state(BOARD_L4, buf, sizeof buf), "online");
    assert_int_equal(ping(BOARD_L4), 200);
}

/* Runs microtctl with args; returns its exit status, output (stdout + stderr) in *out. */
static int run_ctl(char *const args[], char **out)
{
    char ctl[300], log[400], url[80];
    char *argv[16];
    int n = 0, status = -1;
    snprintf(ctl, sizeof ctl, "%s/microtctl", harness_build_dir());
    snprintf(log, sizeof log, "%s/ctl.log", fx.dir);
    snprintf(url, sizeof url, "%s", fx.base);
    unlink(log);
    argv[n++] = ctl;
    argv[n++] = "--url";
    argv[n++] = url;
    argv[n++] = "--token";
    argv[n++] = TOKEN;
    for (int i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = harness_spawn(argv, log);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *f = fopen(log, "r");
    *out = calloc(1, 65536);
    assert_non_null(*out);
    if (f != NULL) {
        size_t got = fread(*out, 1, 65535, f);
        (*out)[got] = '\0';
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* `microtctl flash`: a wrong chip refused with the reason; a good image flashed, --json job. */
static void test_microtctl_flash(void **state)
{
    (void)state;
    char file[400], *out = NULL;
    uint8_t *img = make_image(BOARD_H7, "3.1.0-ctl", 9, chip_of(BOARD_L4));
    snprintf(file, sizeof file, "%s/fw.bin", fx.dir);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, IMG_BYTES, f), IMG_BYTES);
    fclose(f);
    char *bad[] = {"flash", (char *)uids[BOARD_H7], file, NULL};
    assert_int_equal(run_ctl(bad, &out), 1);
    assert_non_null(strstr(out, "built for chip 0x470"));
    free(out);

    free(img);
    img = make_image(BOARD_H7, "3.1.0-ctl", 9, chip_of(BOARD_H7));
    f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, IMG_BYTES, f), IMG_BYTES);
    fclose(f);
    free(img);
    char *good[] = {"--json", "flash", (char *)uids[BOARD_H7], file, "--base", "0x08000000",
                    "--entry", "rpc", NULL};
    int rc = run_ctl(good, &out);
    if (rc != 0)
        fail_msg("microtctl flash exited %d: %s", rc, out);
    json_t *job = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(job);
    assert_string_equal(job_state(job), "done");
    assert_string_equal(json_string_value(json_object_get(job, "kind")), "flash");
    assert_string_equal(json_string_value(json_object_get(json_object_get(job, "result"),
                                                          "to_version")), "3.1.0-ctl");
    json_decref(job);
    free(out);
    online_arg_t a = {BOARD_H7, "3.1.0-ctl"};
    assert_true(harness_wait(board_online, &a, 5000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_images),
        cmocka_unit_test(test_flash_by_rpc_while_other_works),
        cmocka_unit_test(test_killed_mid_flash_then_recovered),
        cmocka_unit_test(test_microtctl_flash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
