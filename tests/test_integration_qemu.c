/*
 * test_integration_qemu.c — microtd with the real ARM firmware: two QEMU boards (mps2-an386,
 * Cortex-M4, and mps2-an500, Cortex-M7, each running build/firmware/<board>/microt.elf) on ptys,
 * and the daemon through its REST API: both come online with the identity the firmware reports
 * (UID from QEMU's command line, board kind, version, clock, memory), a ping round-trips through
 * the daemon to the firmware, and a board whose QEMU is stopped turns offline. QEMU is started and
 * stopped by PID. Skips when qemu-system-arm or the images are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define QEMU_BIN "/usr/bin/qemu-system-arm"
#define N_BOARDS 2

static const char *const boards[N_BOARDS] = {"qemu-an386", "qemu-an500"};
static const char *const machines[N_BOARDS] = {"mps2-an386", "mps2-an500"};
static const char *const uids[N_BOARDS] = {"be0000000000000000000386", "be0000000000000000000500"};
static const int kinds[N_BOARDS] = {3, 4}; /* microt.BoardKind QEMU_AN386, QEMU_AN500 */

typedef struct {
    char *dir;
    pid_t qemu[N_BOARDS];
    char pty[N_BOARDS][64];
    pid_t daemon;
    int port;
    char base[64];
    char token[64];
} fx_t;

static fx_t fx;

static const char *elf_path(int i)
{
    static char path[N_BOARDS][400];
    snprintf(path[i], sizeof(path[i]), "%s/firmware/%s/microt.elf", harness_build_dir(), boards[i]);
    return path[i];
}

/* QEMU prints "char device redirected to /dev/pts/N (label serial0)". */
static bool pty_known(void *arg)
{
    int i = *(int *)arg;
    char log[400], line[512];
    snprintf(log, sizeof(log), "%s/qemu-%d.log", fx.dir, i);
    FILE *f = fopen(log, "r");
    if (!f)
        return false;
    while (fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "/dev/pts/");
        size_t n = p ? strcspn(p, " )\n") : 0;
        if (p && n < sizeof(fx.pty[i])) {
            memcpy(fx.pty[i], p, n);
            fx.pty[i][n] = '\0';
            fclose(f);
            return true;
        }
    }
    fclose(f);
    return false;
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.dir = harness_mkdtemp("qemu-fleet");
    return fx.dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (fx.daemon > 0)
        harness_stop(fx.daemon, SIGTERM);
    for (int i = 0; i < N_BOARDS; i++)
        if (fx.qemu[i] > 0)
            harness_stop(fx.qemu[i], SIGTERM);
    harness_rmdir(fx.dir);
    return 0;
}

static json_t *find_device(json_t *doc, const char *uid)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(doc, "devices"), i, d) {
        const char *id = json_string_value(json_object_get(d, "id"));
        if (id && strcmp(id, uid) == 0)
            return d;
    }
    return NULL;
}

static bool state_is(int i, const char *want)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/api/devices", fx.base);
    json_t *doc = harness_get_json(url, NULL);
    json_t *d = doc ? find_device(doc, uids[i]) : NULL;
    const char *st = d ? json_string_value(json_object_get(d, "state")) : NULL;
    bool ok = st && strcmp(st, want) == 0;
    json_decref(doc);
    return ok;
}

static bool both_online(void *arg)
{
    (void)arg;
    return state_is(0, "online") && state_is(1, "online");
}

static bool first_offline(void *arg)
{
    (void)arg;
    return state_is(0, "offline");
}

static void test_microtd_with_qemu_boards(void **state)
{
    (void)state;
    for (int i = 0; i < N_BOARDS; i++) {
        if (access(QEMU_BIN, X_OK) != 0 || access(elf_path(i), R_OK) != 0) {
            print_message("SKIP: %s or %s missing (make firmware)\n", QEMU_BIN, elf_path(i));
            skip();
        }
    }
    for (int i = 0; i < N_BOARDS; i++) {
        char sh[200], log[400];
        snprintf(sh, sizeof(sh), "enable=on,target=native,arg=microt,arg=uid=%s", uids[i]);
        snprintf(log, sizeof(log), "%s/qemu-%d.log", fx.dir, i);
        char *argv[] = {QEMU_BIN, "-M", (char *)machines[i], "-nographic", "-monitor", "none",
                        "-serial", "pty", "-icount", "shift=0", "-semihosting-config", sh,
                        "-kernel", (char *)elf_path(i), NULL};
        fx.qemu[i] = harness_spawn(argv, log);
        assert_true(fx.qemu[i] > 0);
        assert_true(harness_wait(pty_known, &i, 10000));
    }

    char daemon[300], http[64], db[300], log[300];
    fx.port = harness_free_port();
    snprintf(fx.base, sizeof(fx.base), "http://127.0.0.1:%d", fx.port);
    snprintf(daemon, sizeof(daemon), "%s/microtd", harness_build_dir());
    snprintf(http, sizeof(http), "127.0.0.1:%d", fx.port);
    snprintf(db, sizeof(db), "%s/microt.db", fx.dir);
    snprintf(log, sizeof(log), "%s/microtd.log", fx.dir);
    snprintf(fx.token, sizeof(fx.token), "qemu-integration-token-0123456789");
    char *argv[] = {daemon, "--http", http, "--db", db, "--state-dir", fx.dir, "--token", fx.token,
                    "--port", fx.pty[0], "--port", fx.pty[1], NULL};
    fx.daemon = harness_spawn(argv, log);
    assert_true(fx.daemon > 0);
    assert_true(harness_wait(both_online, NULL, 10000));

    /* The identity is the firmware's: what the QEMU port reports from hal_board()/hal_uid(). */
    char url[200];
    long status;
    snprintf(url, sizeof(url), "%s/api/devices", fx.base);
    json_t *doc = harness_get_json(url, &status);
    assert_int_equal(status, 200);
    for (int i = 0; i < N_BOARDS; i++) {
        json_t *d = find_device(doc, uids[i]);
        assert_non_null(d);
        assert_string_equal(json_string_value(json_object_get(d, "board")), boards[i]);
        assert_int_equal(json_integer_value(json_object_get(d, "board_kind")), kinds[i]);
        assert_int_equal(json_integer_value(json_object_get(d, "cpu_hz")), 1000000000);
        const char *version = json_string_value(json_object_get(d, "firmware_version"));
        assert_non_null(version);
        assert_true(strlen(version) > 0);
        assert_string_equal(json_string_value(json_object_get(d, "port")), fx.pty[i]);
    }
    json_decref(doc);

    /* A request through the daemon reaches the ARM firmware and comes back. */
    for (int i = 0; i < N_BOARDS; i++) {
        snprintf(url, sizeof(url), "%s/api/devices/%s/ping", fx.base, uids[i]);
        assert_int_equal(harness_http("POST", url, fx.token, NULL, NULL, 0, NULL), 200);
    }

    /* QEMU stopped: the board goes offline and a ping says so. */
    harness_stop(fx.qemu[0], SIGTERM);
    fx.qemu[0] = 0;
    assert_true(harness_wait(first_offline, NULL, 8000));
    snprintf(url, sizeof(url), "%s/api/devices/%s/ping", fx.base, uids[0]);
    assert_int_equal(harness_http("POST", url, fx.token, NULL, NULL, 0, NULL), 409);
    assert_true(state_is(1, "online"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_microtd_with_qemu_boards, setup, teardown),
    };
    return cmocka_run_group_tests_name("integration_qemu", tests, NULL, NULL);
}
