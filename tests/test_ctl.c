/*
 * test_ctl.c — microtctl's pieces that need no daemon: aligned tables, number and time
 * formatting, the command line's usage errors, the one-line failure when nothing listens, and
 * `model inspect` (the built program on a real model from ../shared/models; skipped when absent).
 * microtctl against a live API is in test_http_api.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/ctl_http.h"
#include "ctl/ctl_table.h"
#include "harness.h"
#include "mt_err.h"

static void test_table_alignment(void **state)
{
    const char *headers[] = {"ID", "STATE", "NOTE"};
    ctl_table_t *t = ctl_table_new(headers, 3);
    assert_non_null(t);
    const char *r1[] = {"a", "online", "first"};
    const char *r2[] = {"longer-id", NULL, "x"};
    assert_int_equal(ctl_table_add(t, r1), 0);
    assert_int_equal(ctl_table_add(t, r2), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    ctl_table_print(t, mem);
    fclose(mem);
    assert_string_equal(text, "ID         STATE   NOTE\n"
                              "a          online  first\n"
                              "longer-id  -       x\n");
    free(text);
    ctl_table_free(t);
    assert_null(ctl_table_new(headers, 0));
    assert_null(ctl_table_new(headers, CTL_TABLE_MAX_COLS + 1));
}

static void test_table_many_rows_and_long_cells(void **state)
{
    const char *headers[] = {"N"};
    ctl_table_t *t = ctl_table_new(headers, 1);
    char cell[200];
    memset(cell, 'x', sizeof cell - 1);
    cell[sizeof cell - 1] = '\0';
    for (int i = 0; i < 1000; i++) {
        const char *row[] = {i == 500 ? cell : "y"};
        assert_int_equal(ctl_table_add(t, row), 0);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    ctl_table_print(t, mem);
    fclose(mem);
    /* header + 1000 rows; the long cell cut at CTL_TABLE_MAX_CELL */
    int lines = 0;
    size_t longest = 0, cur = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            lines++;
            longest = cur > longest ? cur : longest;
            cur = 0;
        } else {
            cur++;
        }
    }
    assert_int_equal(lines, 1001);
    assert_int_equal(longest, CTL_TABLE_MAX_CELL);
    free(text);
    ctl_table_free(t);
}

static void test_formatting(void **state)
{
    char out[64];
    ctl_format_bytes(512, out, sizeof out);
    assert_string_equal(out, "512 B");
    ctl_format_bytes(640 * 1024, out, sizeof out);
    assert_string_equal(out, "640 KiB");
    ctl_format_bytes(1441792, out, sizeof out);
    assert_string_equal(out, "1.4 MiB");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    ctl_format_ago(now_ms, out, sizeof out);
    assert_string_equal(out, "now");
    ctl_format_ago(now_ms - 30 * 1000, out, sizeof out);
    assert_string_equal(out, "30s ago");
    ctl_format_ago(now_ms - 10 * 60 * 1000, out, sizeof out);
    assert_string_equal(out, "10m ago");
    ctl_format_ago(now_ms - 5LL * 3600 * 1000, out, sizeof out);
    assert_string_equal(out, "5h ago");
    ctl_format_ago(now_ms - 3LL * 86400 * 1000, out, sizeof out);
    assert_string_equal(out, "3d ago");
    ctl_format_time(now_ms, out, sizeof out);
    assert_non_null(strstr(out, "(now)"));
}

/* A port with nothing listening: bind one, note it, close it. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_unreachable(void **state)
{
    char url[64], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    ctl_http_t h = {.url = url, .token = NULL, .timeout_ms = 3000};
    json_t *reply = (json_t *)0x1;
    long status = -1;
    int rc = ctl_http_call(&h, "GET", "/api/health", NULL, &reply, &status, err, sizeof err);
    assert_int_equal(rc, MT_EIO);
    assert_null(reply);
    assert_int_equal(status, 0);
    assert_non_null(strstr(err, "cannot reach microtd at "));
    assert_non_null(strstr(err, url));
    assert_null(strchr(err, '\n'));

    /* The whole program: exit 1. */
    char *argv[] = {"microtctl", "--url", url, "devices", NULL};
    assert_int_equal(ctl_main(4, argv), CTL_EXIT_FAIL);
}

static void test_usage_errors(void **state)
{
    char *no_cmd[] = {"microtctl", NULL};
    assert_int_equal(ctl_main(1, no_cmd), CTL_EXIT_USAGE);
    char *unknown[] = {"microtctl", "frobnicate", NULL};
    assert_int_equal(ctl_main(2, unknown), CTL_EXIT_USAGE);
    char *bad_opt[] = {"microtctl", "--nope", "devices", NULL};
    assert_int_equal(ctl_main(3, bad_opt), CTL_EXIT_USAGE);
    char *missing_id[] = {"microtctl", "device", NULL};
    assert_int_equal(ctl_main(2, missing_id), CTL_EXIT_USAGE);
    char *extra[] = {"microtctl", "devices", "more", NULL};
    assert_int_equal(ctl_main(3, extra), CTL_EXIT_USAGE);
    char *bad_timeout[] = {"microtctl", "--timeout", "0", "devices", NULL};
    assert_int_equal(ctl_main(4, bad_timeout), CTL_EXIT_FAIL);
    /* An id that would change the URL never leaves the program. */
    char *slash_id[] = {"microtctl", "--url", "http://127.0.0.1:1", "ping", "../health", NULL};
    assert_int_equal(ctl_main(5, slash_id), CTL_EXIT_FAIL);
}

/* Runs build/microtctl with args (stderr into out too); returns its exit status. */
static int run_ctl(const char *args, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/microtctl %s 2>&1", harness_build_dir(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_model_inspect(void **state)
{
    const char *shared = harness_shared_dir();
    char model[1024], args[2048];
    static char out[1 << 20];
    if (shared == NULL) {
        print_message("SKIP: ../shared not found (set MICROT_SHARED)\n");
        skip();
    }
    snprintf(model, sizeof model, "%s/models/proxyless-w0.3.tflite", shared);
    if (access(model, R_OK) != 0) {
        print_message("SKIP: %s absent\n", model);
        skip();
    }
    snprintf(args, sizeof args, "model inspect %s --cut blocks.8", model);
    assert_int_equal(run_ctl(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "cut at 'blocks.8.add.out'"));
    assert_non_null(strstr(out, "part feature 24-d"));

    snprintf(args, sizeof args, "model inspect %s --cut blocks.8 --json", model);
    assert_int_equal(run_ctl(args, out, sizeof out), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "cut")), "blocks.8.add.out");
    assert_int_equal(json_integer_value(json_object_get(j, "part_dim")), 24);
    assert_true(json_array_size(json_object_get(j, "ops")) > 0);
    json_decref(j);

    /* Failures: one line on stderr, exit 1, nothing else. */
    snprintf(args, sizeof args, "model inspect %s --cut no-such-tensor", model);
    assert_int_equal(run_ctl(args, out, sizeof out), 1);
    assert_true(strncmp(out, "microtctl: ", 11) == 0);
    assert_non_null(strstr(out, "no-such-tensor"));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
    char junk[] = "/tmp/test_ctl.junk.XXXXXX";
    int fd = mkstemp(junk);
    assert_true(fd >= 0);
    char bytes[256];
    memset(bytes, 'j', sizeof bytes);
    assert_int_equal(write(fd, bytes, sizeof bytes), (ssize_t)sizeof bytes);
    close(fd);
    snprintf(args, sizeof args, "--json model inspect %s", junk);
    int rc = run_ctl(args, out, sizeof out);
    unlink(junk);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "not a TFLite model"));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
    assert_int_equal(run_ctl("model inspect", out, sizeof out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_alignment),
        cmocka_unit_test(test_table_many_rows_and_long_cells),
        cmocka_unit_test(test_formatting),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_model_inspect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
