/*
 * test_integration_fleet.c — microtd with three microt-sim boards over ptys, through its REST
 * API: all three online within 2 s; a board killed turns offline; the same board restarted on
 * another pty path is the same device (by its unique ID) and online again; ping needs the token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define N_BOARDS 3

static const char *const uids[N_BOARDS] = {"aa0000000000000000000001", "aa0000000000000000000002",
                                           "aa0000000000000000000003"};
static const char *const kinds[N_BOARDS] = {"h7a3zi", "l4r5zi", "h7a3zi"};

typedef struct {
    char *dir;
    pid_t sims[N_BOARDS];
    pid_t daemon;
    int port;
    char base[64];
    char token[128];
} fx_t;

static fx_t fx;

static pid_t start_sim(int i, const char *pty_name)
{
    char sim[300], pty[300], flash[300], log[300];
    snprintf(sim, sizeof(sim), "%s/microt-sim", harness_build_dir());
    snprintf(pty, sizeof(pty), "%s/ports/%s", fx.dir, pty_name);
    snprintf(flash, sizeof(flash), "%s/flash-%d.bin", fx.dir, i);
    snprintf(log, sizeof(log), "%s/sim-%d.log", fx.dir, i);
    char *argv[] = {sim, "--pty", pty, "--board", (char *)kinds[i], "--uid", (char *)uids[i],
                    "--flash", flash, NULL};
    return harness_spawn(argv, log);
}

static int setup(void **state)
{
    (void)state;
    char daemon[300], http[64], db[300], pattern[300], log[300], cmd[400];
    memset(&fx, 0, sizeof(fx));
    fx.dir = harness_mkdtemp("fleet");
    snprintf(cmd, sizeof(cmd), "%s/ports", fx.dir);
    if (fx.dir == NULL || mkdir(cmd, 0700) != 0)
        return -1;
    for (int i = 0; i < N_BOARDS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "board-%d", i);
        fx.sims[i] = start_sim(i, name);
    }
    fx.port = harness_free_port();
    snprintf(fx.base, sizeof(fx.base), "http://127.0.0.1:%d", fx.port);
    snprintf(daemon, sizeof(daemon), "%s/microtd", harness_build_dir());
    snprintf(http, sizeof(http), "127.0.0.1:%d", fx.port);
    snprintf(db, sizeof(db), "%s/microt.db", fx.dir);
    snprintf(pattern, sizeof(pattern), "%s/ports/board-*", fx.dir);
    snprintf(log, sizeof(log), "%s/microtd.log", fx.dir);
    snprintf(fx.token, sizeof(fx.token), "integration-test-token-0123456789");
    char *argv[] = {daemon, "--http", http, "--db", db, "--state-dir", fx.dir, "--token", fx.token,
                    "--port", pattern, NULL};
    fx.daemon = harness_spawn(argv, log);
    return fx.daemon > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(fx.daemon, SIGTERM);
    for (int i = 0; i < N_BOARDS; i++)
        harness_stop(fx.sims[i], SIGTERM);
    harness_rmdir(fx.dir);
    return 0;
}

/* The state of device uid in GET /api/devices, or "" when absent; port_out optional. */
static void device_state(const char *uid, char *state, size_t len, char *port_out, size_t port_len)
{
    char url[128];
    json_t *doc, *devs, *d;
    size_t i;
    snprintf(url, sizeof(url), "%s/api/devices", fx.base);
    state[0] = '\0';
    doc = harness_get_json(url, NULL);
    devs = json_object_get(doc, "devices");
    json_array_foreach(devs, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "id")) ?: "", uid) == 0) {
            snprintf(state, len, "%s", json_string_value(json_object_get(d, "state")) ?: "");
            if (port_out)
                snprintf(port_out, port_len, "%s", json_string_value(json_object_get(d, "port")) ?: "");
        }
    }
    json_decref(doc);
}

static bool all_online(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_BOARDS; i++) {
        char st[32];
        device_state(uids[i], st, sizeof(st), NULL, 0);
        if (strcmp(st, "online") != 0)
            return false;
    }
    return true;
}

static bool board0_offline(void *arg)
{
    char st[32];
    (void)arg;
    device_state(uids[0], st, sizeof(st), NULL, 0);
    return strcmp(st, "offline") == 0;
}

static bool board0_online_on_new_port(void *arg)
{
    char st[32], port[300];
    device_state(uids[0], st, sizeof(st), port, sizeof(port));
    return strcmp(st, "online") == 0 && strstr(port, (const char *)arg) != NULL;
}

static void test_fleet_lifecycle(void **state)
{
    (void)state;
    char url[200];
    long status;
    long long t0 = harness_now_ms();

    /* The daemon and boards start together; all three must be listed online within 2 s. */
    assert_true(harness_wait(all_online, NULL, 2000));
    printf("# all three boards online after %lld ms\n", harness_now_ms() - t0);

    /* Changing requests need the token. */
    snprintf(url, sizeof(url), "%s/api/devices/%s/ping", fx.base, uids[1]);
    assert_int_equal(harness_http("POST", url, NULL, NULL, NULL, 0, NULL), 401);
    assert_int_equal(harness_http("POST", url, "wrong-token-wrong-token", NULL, NULL, 0, NULL), 401);
    status = harness_http("POST", url, fx.token, NULL, NULL, 0, NULL);
    assert_int_equal(status, 200);
    snprintf(url, sizeof(url), "%s/api/devices/%s/ping", fx.base, "ffffffffffffffffffffffff");
    assert_int_equal(harness_http("POST", url, fx.token, NULL, NULL, 0, NULL), 404);

    /* Unplug board 0: it turns offline and its ping answers 409. */
    harness_stop(fx.sims[0], SIGKILL);
    fx.sims[0] = 0;
    assert_true(harness_wait(board0_offline, NULL, 5000));
    snprintf(url, sizeof(url), "%s/api/devices/%s/ping", fx.base, uids[0]);
    assert_int_equal(harness_http("POST", url, fx.token, NULL, NULL, 0, NULL), 409);

    /* Plug it back on another port: the same device, online, with the new port. */
    fx.sims[0] = start_sim(0, "board-0-moved");
    assert_true(harness_wait(board0_online_on_new_port, "board-0-moved", 5000));
    assert_int_equal(harness_http("POST", url, fx.token, NULL, NULL, 0, NULL), 200);

    /* Still three devices, not four. */
    snprintf(url, sizeof(url), "%s/api/devices", fx.base);
    json_t *doc = harness_get_json(url, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_array_size(json_object_get(doc, "devices")), N_BOARDS);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fleet_lifecycle, setup, teardown),
    };
    return cmocka_run_group_tests_name("integration_fleet", tests, NULL, NULL);
}
