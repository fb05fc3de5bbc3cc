/*
 * test_events.c — the publish/subscribe bus and GET /api/events.
 *
 * Bus: order and content of events, drop-oldest with its counter on a full queue, refused
 * input, close waking a waiter, and many publisher threads against a reader (every event seen
 * once, in seq order, none lost while the queue is big enough). HTTP: the real REST API on a
 * free port with a temporary SQLite store, read over a plain socket: the stream greets with
 * "ready", carries a published event as an SSE record, and http_api_stop ends an open stream
 * at once (the client sees the end, the stop does not wait for a heartbeat). The read-only
 * /vendor/ root the dashboard loads Chart.js from (added with the stream): its files are served,
 * nothing outside it is, whether by "..", encoded "..", or a symlink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "http_api.h"
#include "mt_err.h"
#include "store.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_publish_and_receive(void **state)
{
    events_sub_t *sub = NULL;
    events_event_t ev;
    assert_int_equal(events_subscribe(&sub, 8), 0);
    int64_t seq = events_publish("job", "0123456789abcdef01234567",
                                 json_pack("{s:s, s:i}", "phase", "train", "percent", 40));
    assert_true(seq > 0);
    assert_int_equal(events_last_seq(), (uint64_t)seq);
    assert_int_equal(events_next(sub, &ev, 1000), 1);
    assert_int_equal(ev.seq, (uint64_t)seq);
    assert_string_equal(ev.type, "job");
    json_t *doc = json_loads(ev.json, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "device")), "0123456789abcdef01234567");
    assert_string_equal(json_string_value(json_object_get(doc, "phase")), "train");
    assert_int_equal(json_integer_value(json_object_get(doc, "percent")), 40);
    assert_int_equal(json_integer_value(json_object_get(doc, "seq")), seq);
    assert_true(json_integer_value(json_object_get(doc, "at_ms")) > 0);
    assert_null(strchr(ev.json, '\n'));
    json_decref(doc);
    events_event_free(&ev);

    /* Nothing more: a timed wait returns 0 after about its timeout. */
    long long t0 = now_ms();
    assert_int_equal(events_next(sub, &ev, 100), 0);
    assert_true(now_ms() - t0 >= 90);
    events_unsubscribe(sub);
}

static void test_refused_input(void **state)
{
    events_sub_t *sub = NULL;
    assert_int_equal(events_publish("", NULL, NULL), MT_EINVAL);
    assert_int_equal(events_publish("Bad Type", NULL, NULL), MT_EINVAL);
    assert_int_equal(events_publish("waytoolongtypenamewaytoolongtypename", NULL, NULL), MT_EINVAL);
    assert_int_equal(events_publish("x", NULL, json_string("not an object")), MT_EINVAL);
    assert_int_equal(events_publish("x", NULL, json_pack("{s:i}", "seq", 3)), MT_EINVAL);
    char *big = malloc(EVENTS_MAX_JSON_BYTES + 10);
    assert_non_null(big);
    memset(big, 'a', EVENTS_MAX_JSON_BYTES + 9);
    big[EVENTS_MAX_JSON_BYTES + 9] = '\0';
    assert_int_equal(events_publish("x", NULL, json_pack("{s:s}", "blob", big)), MT_ETOOBIG);
    free(big);
    assert_int_equal(events_subscribe(&sub, EVENTS_MAX_QUEUE + 1), MT_EINVAL);
    assert_null(sub);
}

static void test_drop_oldest(void **state)
{
    events_sub_t *sub = NULL;
    events_event_t ev;
    int64_t seqs[10];
    assert_int_equal(events_subscribe(&sub, 4), 0);
    for (int i = 0; i < 10; i++) {
        seqs[i] = events_publish("stats", NULL, json_pack("{s:i}", "i", i));
        assert_true(seqs[i] > 0);
    }
    assert_int_equal(events_dropped(sub), 6);
    /* The newest four remain, oldest first. */
    for (int i = 6; i < 10; i++) {
        assert_int_equal(events_next(sub, &ev, 100), 1);
        assert_int_equal(ev.seq, (uint64_t)seqs[i]);
        events_event_free(&ev);
    }
    assert_int_equal(events_next(sub, &ev, 10), 0);
    events_unsubscribe(sub);
}

static void *closer(void *arg)
{
    usleep(100 * 1000);
    events_close(arg);
    return NULL;
}

static void test_close_wakes_waiter(void **state)
{
    events_sub_t *sub = NULL;
    events_event_t ev;
    pthread_t t;
    assert_int_equal(events_subscribe(&sub, 0), 0);
    assert_int_equal(pthread_create(&t, NULL, closer, sub), 0);
    long long t0 = now_ms();
    assert_int_equal(events_next(sub, &ev, 10000), MT_ESTATE);
    assert_true(now_ms() - t0 < 5000);
    pthread_join(t, NULL);
    /* A closed subscriber gets nothing more. */
    assert_true(events_publish("device", NULL, NULL) > 0);
    assert_int_equal(events_next(sub, &ev, 10), MT_ESTATE);
    events_unsubscribe(sub);
}

#define N_PUBLISHERS 4
#define PER_PUBLISHER 500

static void *publisher(void *arg)
{
    intptr_t who = (intptr_t)arg;
    for (int i = 0; i < PER_PUBLISHER; i++)
        if (events_publish("sample", NULL, json_pack("{s:i, s:i}", "who", (int)who, "i", i)) <= 0)
            return (void *)1;
    return NULL;
}

static void test_threads(void **state)
{
    events_sub_t *sub = NULL;
    events_event_t ev;
    pthread_t t[N_PUBLISHERS];
    int next_i[N_PUBLISHERS] = {0};
    uint64_t last_seq = 0;
    assert_int_equal(events_subscribe(&sub, EVENTS_MAX_QUEUE), 0);
    for (intptr_t k = 0; k < N_PUBLISHERS; k++)
        assert_int_equal(pthread_create(&t[k], NULL, publisher, (void *)k), 0);
    for (int n = 0; n < N_PUBLISHERS * PER_PUBLISHER; n++) {
        assert_int_equal(events_next(sub, &ev, 5000), 1);
        assert_true(ev.seq > last_seq); /* seq order */
        last_seq = ev.seq;
        json_t *doc = json_loads(ev.json, 0, NULL);
        int who = (int)json_integer_value(json_object_get(doc, "who"));
        int i = (int)json_integer_value(json_object_get(doc, "i"));
        assert_in_range(who, 0, N_PUBLISHERS - 1);
        assert_int_equal(i, next_i[who]); /* each publisher's events in its own order, none lost */
        next_i[who]++;
        json_decref(doc);
        events_event_free(&ev);
    }
    for (int k = 0; k < N_PUBLISHERS; k++) {
        void *r;
        pthread_join(t[k], &r);
        assert_null(r);
    }
    assert_int_equal(events_dropped(sub), 0);
    events_unsubscribe(sub);
}

/* ---- over HTTP ---- */

typedef struct {
    char dir[64];
    store_t *store;
    http_api_t *api;
    int fd;
    char buf[8192];
    size_t len;
} http_fx_t;

static int http_setup(void **state)
{
    http_fx_t *fx = calloc(1, sizeof *fx);
    char path[128], err[256];
    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_events.XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/microt.db", fx->dir);
    if (store_open(path, &fx->store, err, sizeof err) != 0)
        return -1;
    http_api_config_t cfg = {.token = "test-token-0123456789", .store = fx->store, .vendor_root = ""};
    if (http_api_start(&fx->api, &cfg) != 0)
        return -1;
    fx->fd = -1;
    *state = fx;
    return 0;
}

static int http_teardown(void **state)
{
    http_fx_t *fx = *state;
    char cmd[128];
    if (fx->fd >= 0)
        close(fx->fd);
    http_api_stop(fx->api);
    store_close(fx->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    int rc = system(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

/* Reads from the stream until needle appears (true) or timeout_ms passes / the peer closes. */
static bool read_until(http_fx_t *fx, const char *needle, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    while (strstr(fx->buf, needle) == NULL) {
        long long left = end - now_ms();
        struct pollfd p = {.fd = fx->fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0 || fx->len + 1 >= sizeof fx->buf)
            return false;
        ssize_t n = read(fx->fd, fx->buf + fx->len, sizeof fx->buf - 1 - fx->len);
        if (n <= 0)
            return strstr(fx->buf, needle) != NULL;
        fx->len += (size_t)n;
        fx->buf[fx->len] = '\0';
    }
    return true;
}

static void open_stream(http_fx_t *fx)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(http_api_port(fx->api))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    fx->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fx->fd >= 0);
    assert_int_equal(connect(fx->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char *req = "GET /api/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n";
    assert_int_equal(write(fx->fd, req, strlen(req)), (ssize_t)strlen(req));
    assert_true(read_until(fx, "event: ready", 3000));
    assert_non_null(strstr(fx->buf, "HTTP/1.1 200"));
    assert_non_null(strstr(fx->buf, "Content-Type: text/event-stream"));
}

static void test_sse_stream(void **state)
{
    http_fx_t *fx = *state;
    char want[128];
    open_stream(fx);
    int64_t seq = events_publish("training", "00000000000000000000abcd",
                                 json_pack("{s:s, s:f}", "status", "done", "accuracy", 0.875));
    assert_true(seq > 0);
    snprintf(want, sizeof want, "id: %lld\nevent: training\ndata: {\"seq\":%lld,", (long long)seq,
             (long long)seq);
    assert_true(read_until(fx, want, 3000));
    assert_true(read_until(fx, "\"accuracy\":0.875}\n\n", 3000));
}

static void test_sse_stop_ends_stream(void **state)
{
    http_fx_t *fx = *state;
    open_stream(fx);
    long long t0 = now_ms();
    http_api_stop(fx->api);
    fx->api = NULL;
    /* Well under the 15 s heartbeat: the stream was closed, not waited out. */
    assert_true(now_ms() - t0 < 5000);
    char c;
    struct pollfd p = {.fd = fx->fd, .events = POLLIN};
    assert_true(poll(&p, 1, 3000) == 1);
    while (read(fx->fd, &c, 1) > 0)
        ; /* the end of the chunked body, then EOF */
}

static size_t vendor_body(char *p, size_t size, size_t n, void *arg)
{
    char *out = arg;
    size_t have = strlen(out), add = size * n;
    if (have + add < 256) {
        memcpy(out + have, p, add);
        out[have + add] = '\0';
    }
    return size * n;
}

static long vendor_get(uint16_t port, const char *path, char body[256])
{
    char url[512];
    long status = -1;
    CURL *c = curl_easy_init();
    assert_non_null(c);
    body[0] = '\0';
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send ".." as it is */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, vendor_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void test_vendor_root(void **state)
{
    char dir[64], path[256], target[256], body[256], err[256];
    store_t *store = NULL;
    http_api_t *api = NULL;
    FILE *fp;
    snprintf(dir, sizeof dir, "/tmp/test_events_vendor.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/js", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/js/lib", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/js/lib/lib.min.js", dir);
    assert_non_null(fp = fopen(path, "w"));
    fputs("var lib = 1;", fp);
    fclose(fp);
    snprintf(target, sizeof target, "%s/secret.txt", dir);
    assert_non_null(fp = fopen(target, "w"));
    fputs("outside the vendor root", fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/js/escape.js", dir);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof path, "%s/microt.db", dir);
    assert_int_equal(store_open(path, &store, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/js", dir);
    http_api_config_t cfg = {.token = "test-token-0123456789", .store = store, .vendor_root = path};
    assert_int_equal(http_api_start(&api, &cfg), 0);
    uint16_t port = http_api_port(api);

    assert_int_equal(vendor_get(port, "/vendor/lib/lib.min.js", body), 200);
    assert_string_equal(body, "var lib = 1;");
    const char *bad[] = {"/vendor/../secret.txt", "/vendor/lib/../../secret.txt",
                         "/vendor/%2e%2e/secret.txt", "/vendor/escape.js", "/vendor/lib",
                         "/vendor/lib/", "/vendor/none.js", "/vendor/.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long st = vendor_get(port, bad[i], body);
        if (st != 404)
            print_error("%s -> %ld\n", bad[i], st);
        assert_int_equal(st, 404);
        assert_null(strstr(body, "outside"));
    }
    http_api_stop(api);
    store_close(store);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_and_receive),
        cmocka_unit_test(test_refused_input),
        cmocka_unit_test(test_drop_oldest),
        cmocka_unit_test(test_close_wakes_waiter),
        cmocka_unit_test(test_threads),
        cmocka_unit_test_setup_teardown(test_sse_stream, http_setup, http_teardown),
        cmocka_unit_test_setup_teardown(test_sse_stop_ends_stream, http_setup, http_teardown),
        cmocka_unit_test(test_vendor_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
