/*
 * test_http_api.c — the REST API over real HTTP (libcurl) against a real store file and a real
 * fleet. Every route, with bad ids, bad JSON, missing and wrong tokens, oversize bodies (announced
 * and chunked), wrong methods, unknown routes, the static file server's path safety, and microtctl
 * against it. The last tests add one real microt-sim board to the fleet: a ping that succeeds, and
 * a ping stuck on a frozen board (SIGSTOP) that must not hold up other requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet.h"
#include "harness.h"
#include "http_api.h"
#include "mt_err.h"
#include "store.h"

#define TOKEN "test-token-0123456789abcdef"
#define ID_A "0123456789abcdef01234567"
#define ID_B "fedcba9876543210fedcba98"
#define ID_UNKNOWN "00000000000000000000abcd"
#define ID_SIM "5151515151515151515151ab"

typedef struct {
    char dir[256];
    store_t *store;
    fleet_t *fleet;
    http_api_t *api;
    char base[64];
    pid_t sim_pid;
} fixture_t;

typedef struct {
    long status;
    char *body;
    size_t body_len;
    char allow[128];
    char www_auth[128];
    char content_type[128];
} reply_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    reply_t *r = arg;
    size_t len = size * n;
    char *b = realloc(r->body, r->body_len + len + 1);
    if (b == NULL)
        return 0;
    memcpy(b + r->body_len, p, len);
    r->body = b;
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    while (*v == ' ')
        v++;
    size_t vl = len - (size_t)(v - line);
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    snprintf(out, n, "%.*s", (int)vl, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    reply_t *r = arg;
    header_value(p, size * n, "Allow", r->allow, sizeof r->allow);
    header_value(p, size * n, "WWW-Authenticate", r->www_auth, sizeof r->www_auth);
    header_value(p, size * n, "Content-Type", r->content_type, sizeof r->content_type);
    return size * n;
}

typedef struct {
    size_t left;
} chunk_src_t;

static size_t chunk_read(char *buf, size_t size, size_t n, void *arg)
{
    chunk_src_t *src = arg;
    size_t len = size * n < src->left ? size * n : src->left;
    memset(buf, ' ', len);
    src->left -= len;
    return len;
}

/* One request. body NULL = none; chunked_bytes > 0 sends that many bytes without a length. */
static reply_t request(fixture_t *f, const char *method, const char *path, const char *token,
                       const char *body, size_t chunked_bytes)
{
    reply_t r;
    memset(&r, 0, sizeof r);
    char url[512], auth[256];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hdrs = NULL;
    if (token != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    chunk_src_t src = {chunked_bytes};
    if (chunked_bytes > 0) {
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, chunk_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
    } else if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "/../" as written */
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK)
        print_error("%s %s: %s\n", method, path, curl_easy_strerror(cc));
    assert_int_equal(cc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return r;
}

static json_t *reply_json(const reply_t *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body ? r->body : "", 0, &e);
    if (j == NULL)
        print_error("not JSON: %s\n", r->body ? r->body : "(empty)");
    assert_non_null(j);
    return j;
}

/* Asserts status and, for errors, the JSON error code; frees the reply. */
static void expect_error(reply_t r, long status, const char *code)
{
    if (r.status != status)
        print_error("status %ld, body %s\n", r.status, r.body ? r.body : "");
    assert_int_equal(r.status, status);
    json_t *j = reply_json(&r);
    const char *got = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    assert_non_null(got);
    assert_string_equal(got, code);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
    json_decref(j);
    free(r.body);
}

static store_device_t make_dev(const char *id, const char *fw, const char *port)
{
    store_device_t d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "%s", id);
    d.board_kind = 2;
    snprintf(d.board_name, sizeof d.board_name, "l4r5zi");
    snprintf(d.firmware_version, sizeof d.firmware_version, "%s", fw);
    d.protocol_version = 1;
    d.sram_bytes = 640 * 1024;
    d.flash_bytes = 2048 * 1024;
    d.max_frame_bytes = 1100;
    d.capabilities = 1 | 2 | 4;
    d.cpu_hz = 120000000;
    snprintf(d.port, sizeof d.port, "%s", port);
    return d;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char path[512], err[256];
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_http_api.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/microt.db", f->dir);
    if (store_open(path, &f->store, err, sizeof err) != 0) {
        print_error("store_open: %s\n", err);
        return -1;
    }
    /* Two devices seen, one since gone offline; firmware of A changed once. */
    store_device_t a = make_dev(ID_A, "fw-1.0", "/dev/pts/4");
    store_device_t b = make_dev(ID_B, "fw-2.0", "/dev/ttyACM1");
    if (store_device_seen(f->store, &a, 1000) || store_device_seen(f->store, &b, 1100) ||
        store_device_set_state(f->store, ID_A, "offline", "no answer", 2000) ||
        store_device_seen(f->store, &(store_device_t){0}, 0) != MT_EINVAL)
        return -1;
    a = make_dev(ID_A, "fw-1.1", "/dev/pts/7");
    if (store_device_seen(f->store, &a, 3000) ||
        store_device_set_state(f->store, ID_A, "offline", "unplugged", 4000))
        return -1;
    if (store_device_set_state(f->store, ID_B, "offline", "unplugged", 4100))
        return -1;

    /* Web root: index, a nested file, and a symlink that points outside. */
    snprintf(path, sizeof path, "%s/web", f->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/web/index.html", f->dir);
    write_text(path, "<!doctype html><title>microt</title>");
    snprintf(path, sizeof path, "%s/web/css", f->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/web/css/site.css", f->dir);
    write_text(path, "body { color: black }");
    snprintf(path, sizeof path, "%s/secret.txt", f->dir);
    write_text(path, "outside the web root");
    char link_path[512];
    snprintf(link_path, sizeof link_path, "%s/web/escape.txt", f->dir);
    if (symlink(path, link_path) != 0)
        return -1;

    fleet_config_t fc;
    memset(&fc, 0, sizeof fc); /* no ports: nothing connected */
    fc.ping_interval_ms = 1000;
    fc.request_timeout_ms = 3000;
    fc.offline_after_ms = 3000;
    if (fleet_start(&f->fleet, f->store, &fc) != 0)
        return -1;
    char web[512];
    snprintf(web, sizeof web, "%s/web", f->dir);
    http_api_config_t cfg = {.bind_addr = "127.0.0.1", .port = 0, .token = TOKEN,
                             .web_root = web, .store = f->store, .fleet = f->fleet,
                             .max_body_bytes = 4096};
    if (http_api_start(&f->api, &cfg) != 0)
        return -1;
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", (unsigned)http_api_port(f->api));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[300];
    http_api_stop(f->api);
    fleet_stop(f->fleet);
    if (f->sim_pid > 0) {
        kill(f->sim_pid, SIGCONT);
        harness_stop(f->sim_pid, SIGTERM);
    }
    store_close(f->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Copies text with every {name} written as {}, so {sha} in the code matches {sha256} in prose. */
static void collapse_params(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = in; *p && k + 3 < n; p++) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (close != NULL) {
                out[k++] = '{';
                out[k++] = '}';
                p = close;
                continue;
            }
        }
        out[k++] = *p;
    }
    out[k] = '\0';
}

/* GET /api lists the routes; each must appear in a "### " heading of docs/api.md as
 * `METHOD PATH followed by a backquote, a query string or a space. */
static void test_index_matches_docs(void **state)
{
    fixture_t *f = *state;
    reply_t r = request(f, "GET", "/api", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = reply_json(&r);
    json_t *routes = json_object_get(j, "routes");
    assert_true(json_array_size(routes) >= 7);
    FILE *doc = fopen("docs/api.md", "r");
    assert_non_null(doc);
    static char headings[256 * 1024], line[4096], norm[4096];
    size_t used = 0;
    while (fgets(line, sizeof line, doc) != NULL) {
        if (strncmp(line, "### ", 4) != 0)
            continue;
        collapse_params(line, norm, sizeof norm);
        used += (size_t)snprintf(headings + used, sizeof headings - used, "%s", norm);
        assert_true(used < sizeof headings);
    }
    fclose(doc);
    size_t i;
    json_t *route;
    bool saw_ping_with_token = false;
    json_array_foreach(routes, i, route) {
        char want[512], collapsed[512];
        const char *method = json_string_value(json_object_get(route, "method"));
        const char *path = json_string_value(json_object_get(route, "path"));
        snprintf(want, sizeof want, "`%s %s", method, path);
        collapse_params(want, collapsed, sizeof collapsed);
        bool found = false;
        for (const char *p = strstr(headings, collapsed); p && !found;
             p = strstr(p + 1, collapsed)) {
            char next = p[strlen(collapsed)];
            found = next == '`' || next == '?' || next == ' ';
        }
        if (!found)
            print_error("docs/api.md has no heading for %s %s\n", method, path);
        assert_true(found);
        if (strcmp(path, "/api/devices/{id}/ping") == 0)
            saw_ping_with_token = json_is_true(json_object_get(route, "token"));
    }
    assert_true(saw_ping_with_token);
    json_decref(j);
    free(r.body);
}

static void test_health(void **state)
{
    fixture_t *f = *state;
    reply_t r = request(f, "GET", "/api/health", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    json_t *j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(j, "schema_version")),
                     store_schema_version_latest());
    json_t *d = json_object_get(j, "devices");
    assert_int_equal(json_integer_value(json_object_get(d, "known")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "online")), 0);
    assert_true(json_is_integer(json_object_get(j, "uptime_ms")));
    json_decref(j);
    free(r.body);
}

static void test_devices_list_and_paging(void **state)
{
    fixture_t *f = *state;
    reply_t r = request(f, "GET", "/api/devices", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = reply_json(&r);
    json_t *list = json_object_get(j, "devices");
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
    json_t *a = json_array_get(list, 0); /* ordered by id */
    assert_string_equal(json_string_value(json_object_get(a, "id")), ID_A);
    assert_string_equal(json_string_value(json_object_get(a, "board")), "l4r5zi");
    assert_string_equal(json_string_value(json_object_get(a, "firmware_version")), "fw-1.1");
    assert_string_equal(json_string_value(json_object_get(a, "state")), "offline");
    assert_string_equal(json_string_value(json_object_get(a, "port")), "/dev/pts/7");
    assert_int_equal(json_integer_value(json_object_get(a, "sram_bytes")), 640 * 1024);
    assert_int_equal(json_integer_value(json_object_get(a, "first_seen_ms")), 1000);
    assert_int_equal(json_integer_value(json_object_get(a, "last_seen_ms")), 3000);
    assert_int_equal(json_integer_value(json_object_get(a, "state_since_ms")), 4000);
    json_t *caps = json_object_get(a, "capabilities");
    assert_int_equal(json_array_size(caps), 3);
    assert_string_equal(json_string_value(json_array_get(caps, 0)), "model");
    assert_true(json_is_null(json_object_get(a, "live")));
    json_decref(j);
    free(r.body);

    r = request(f, "GET", "/api/devices?offset=1&limit=1", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    j = reply_json(&r);
    list = json_object_get(j, "devices");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), ID_B);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
    json_decref(j);
    free(r.body);

    expect_error(request(f, "GET", "/api/devices?limit=abc", NULL, NULL, 0), 400,
                 "invalid_argument");
    expect_error(request(f, "GET", "/api/devices?limit=501", NULL, NULL, 0), 400,
                 "invalid_argument");
    expect_error(request(f, "GET", "/api/devices?offset=-1", NULL, NULL, 0), 400,
                 "invalid_argument");
}

static void test_device_get(void **state)
{
    fixture_t *f = *state;
    /* Upper case is the same device. */
    reply_t r = request(f, "GET", "/api/devices/0123456789ABCDEF01234567", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "id")), ID_A);
    json_t *recent = json_object_get(j, "recent_transitions");
    assert_int_equal(json_array_size(recent), 4); /* first seen, offline, online, offline */
    json_t *t0 = json_array_get(recent, 0);
    assert_string_equal(json_string_value(json_object_get(t0, "to")), "offline");
    assert_string_equal(json_string_value(json_object_get(t0, "reason")), "unplugged");
    assert_true(json_is_null(json_object_get(json_array_get(recent, 3), "from")));
    json_decref(j);
    free(r.body);

    expect_error(request(f, "GET", "/api/devices/" ID_UNKNOWN, NULL, NULL, 0), 404, "not_found");
    expect_error(request(f, "GET", "/api/devices/xyz", NULL, NULL, 0), 400, "invalid_argument");
    expect_error(request(f, "GET", "/api/devices/0123456789abcdef012345678", NULL, NULL, 0), 400,
                 "invalid_argument");
    expect_error(request(f, "GET", "/api/devices/0123456789abcdef0123456z", NULL, NULL, 0), 400,
                 "invalid_argument");
}

static void test_transitions_and_firmware(void **state)
{
    fixture_t *f = *state;
    /* Page of 3, then the rest using next_before. */
    reply_t r = request(f, "GET", "/api/devices/" ID_A "/transitions?limit=3", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = reply_json(&r);
    assert_int_equal(json_array_size(json_object_get(j, "transitions")), 3);
    json_int_t next = json_integer_value(json_object_get(j, "next_before"));
    assert_true(next > 0);
    json_decref(j);
    free(r.body);
    char path[256];
    snprintf(path, sizeof path, "/api/devices/%s/transitions?limit=3&before=%lld", ID_A,
             (long long)next);
    r = request(f, "GET", path, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    j = reply_json(&r);
    json_t *list = json_object_get(j, "transitions");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "to")),
                        "online");
    assert_true(json_is_null(json_object_get(j, "next_before")));
    json_decref(j);
    free(r.body);
    expect_error(request(f, "GET", "/api/devices/" ID_A "/transitions?before=x", NULL, NULL, 0),
                 400, "invalid_argument");
    expect_error(request(f, "GET", "/api/devices/" ID_UNKNOWN "/transitions", NULL, NULL, 0), 404,
                 "not_found");

    r = request(f, "GET", "/api/devices/" ID_A "/firmware", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    j = reply_json(&r);
    list = json_object_get(j, "firmware_changes");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "from")),
                        "fw-1.0");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "to")),
                        "fw-1.1");
    json_decref(j);
    free(r.body);
    expect_error(request(f, "GET", "/api/devices/bad/firmware", NULL, NULL, 0), 400,
                 "invalid_argument");
}

static void test_ping_auth_and_errors(void **state)
{
    fixture_t *f = *state;
    reply_t r = request(f, "POST", "/api/devices/" ID_A "/ping", NULL, NULL, 0);
    assert_string_equal(r.www_auth, "Bearer realm=\"microtd\"");
    expect_error(r, 401, "unauthorized");
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", "wrong-token-0123456789abcd",
                         NULL, 0), 401, "unauthorized");
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", TOKEN "x", NULL, 0), 401,
                 "unauthorized");
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", "test-token", NULL, 0), 401,
                 "unauthorized");
    /* The token is checked before anything else about the device. */
    expect_error(request(f, "POST", "/api/devices/" ID_UNKNOWN "/ping", NULL, NULL, 0), 401,
                 "unauthorized");

    /* Known but not connected: 409; unknown: 404; malformed: 400. */
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", TOKEN, NULL, 0), 409,
                 "offline");
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", TOKEN, "{}", 0), 409,
                 "offline");
    expect_error(request(f, "POST", "/api/devices/" ID_UNKNOWN "/ping", TOKEN, NULL, 0), 404,
                 "not_found");
    expect_error(request(f, "POST", "/api/devices/12/ping", TOKEN, NULL, 0), 400,
                 "invalid_argument");

    /* Bodies: not JSON, not an object, duplicate keys, too big (announced and chunked). */
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", TOKEN, "{\"a\":", 0), 400,
                 "bad_json");
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", TOKEN, "[1,2]", 0), 400,
                 "bad_json");
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", TOKEN, "{\"a\":1,\"a\":2}", 0),
                 400, "bad_json");
    char *big = malloc(8192);
    assert_non_null(big);
    memset(big, ' ', 8191);
    big[0] = '{';
    big[8190] = '}';
    big[8191] = '\0';
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", TOKEN, big, 0), 413, "too_big");
    free(big);
    expect_error(request(f, "POST", "/api/devices/" ID_A "/ping", TOKEN, NULL, 6000), 413,
                 "too_big");
    /* The server is still fine after all that. */
    reply_t ok = request(f, "GET", "/api/health", NULL, NULL, 0);
    assert_int_equal(ok.status, 200);
    free(ok.body);
}

static void test_routes_and_methods(void **state)
{
    fixture_t *f = *state;
    reply_t r = request(f, "GET", "/api/devices/" ID_A "/ping", NULL, NULL, 0);
    assert_string_equal(r.allow, "POST");
    expect_error(r, 405, "method_not_allowed");
    r = request(f, "DELETE", "/api/devices", TOKEN, NULL, 0);
    assert_string_equal(r.allow, "GET");
    expect_error(r, 405, "method_not_allowed");
    expect_error(request(f, "GET", "/api/nothing", NULL, NULL, 0), 404, "not_found");
    expect_error(request(f, "GET", "/api/devices/", NULL, NULL, 0), 404, "not_found");
    expect_error(request(f, "GET", "/api//devices", NULL, NULL, 0), 404, "not_found");
    expect_error(request(f, "GET", "/api/devices/" ID_A "/ping/more", NULL, NULL, 0), 404,
                 "not_found");
    /* HEAD is GET without a body. */
    r = request(f, "HEAD", "/api/health", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    free(r.body);
}

static void test_static_files(void **state)
{
    fixture_t *f = *state;
    reply_t r = request(f, "GET", "/", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    assert_string_equal(r.body, "<!doctype html><title>microt</title>");
    free(r.body);
    r = request(f, "GET", "/css/site.css", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/css; charset=utf-8");
    assert_string_equal(r.body, "body { color: black }");
    free(r.body);
    /* Out of the root, by "..", encoded "..", or a symlink: all 404, never the file. */
    const char *bad[] = {"/../secret.txt", "/css/../../secret.txt", "/%2e%2e/secret.txt",
                         "/escape.txt", "/nothing.html", "/css", "/css/", "/.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = request(f, "GET", bad[i], NULL, NULL, 0);
        if (r.status != 404)
            print_error("%s -> %ld\n", bad[i], r.status);
        assert_int_equal(r.status, 404);
        assert_null(strstr(r.body ? r.body : "", "outside"));
        free(r.body);
    }
    expect_error(request(f, "POST", "/index.html", TOKEN, "{}", 0), 405, "method_not_allowed");
}

/* Runs build/microtctl with args against the fixture; returns its exit status, output in out. */
static int run_ctl(fixture_t *f, const char *args, char *out, size_t n)
{
    const char *build = getenv("MICROT_BUILD");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env -u MICROT_TOKEN MICROT_STATE_DIR=%s/state %s/microtctl --url %s %s 2>&1",
             f->dir, build ? build : "build", f->base, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_microtctl(void **state)
{
    fixture_t *f = *state;
    char out[8192];
    assert_int_equal(run_ctl(f, "devices", out, sizeof out), 0);
    assert_non_null(strstr(out, "ID  "));
    assert_non_null(strstr(out, ID_A "  l4r5zi  offline  fw-1.1"));
    assert_non_null(strstr(out, ID_B));
    assert_non_null(strstr(out, "2 devices, 0 online"));

    assert_int_equal(run_ctl(f, "devices --json", out, sizeof out), 0);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "devices")), 2);
    json_decref(j);

    assert_int_equal(run_ctl(f, "device " ID_A, out, sizeof out), 0);
    assert_non_null(strstr(out, "firmware      fw-1.1 (protocol 1)"));
    assert_non_null(strstr(out, "unplugged"));
    assert_int_equal(run_ctl(f, "--json device " ID_B, out, sizeof out), 0);
    j = json_loads(out, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), ID_B);
    json_decref(j);

    /* Errors: one line, exit 1. */
    assert_int_equal(run_ctl(f, "device " ID_UNKNOWN, out, sizeof out), 1);
    assert_non_null(strstr(out, "microtctl: no device " ID_UNKNOWN));
    assert_non_null(strstr(out, "404"));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
    assert_int_equal(run_ctl(f, "ping " ID_A, out, sizeof out), 1);
    assert_non_null(strstr(out, "401"));
    assert_int_equal(run_ctl(f, "--token " TOKEN " ping " ID_A, out, sizeof out), 1);
    assert_non_null(strstr(out, "not connected"));
    assert_non_null(strstr(out, "409 offline"));

    /* The token file in the state directory is used when no token is given. */
    char dir[300], path[340];
    snprintf(dir, sizeof dir, "%s/state", f->dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/token", dir);
    write_text(path, TOKEN "\n");
    chmod(path, 0600);
    assert_int_equal(run_ctl(f, "ping " ID_A, out, sizeof out), 1);
    assert_non_null(strstr(out, "409 offline"));
    unlink(path);
}

static void test_start_refusals(void **state)
{
    fixture_t *f = *state;
    http_api_t *api = NULL;
    http_api_config_t cfg = {.token = TOKEN, .store = f->store, .fleet = f->fleet};
    cfg.bind_addr = "localhost:80";
    assert_int_equal(http_api_start(&api, &cfg), MT_EINVAL);
    cfg.bind_addr = NULL;
    cfg.token = "short";
    assert_int_equal(http_api_start(&api, &cfg), MT_EINVAL);
    cfg.token = TOKEN;
    cfg.web_root = "/nonexistent/web";
    assert_int_equal(http_api_start(&api, &cfg), MT_EINVAL);
    cfg.web_root = NULL;
    cfg.port = http_api_port(f->api); /* taken by the fixture */
    assert_int_equal(http_api_start(&api, &cfg), MT_EIO);
    assert_null(api);
    cfg.store = NULL;
    assert_int_equal(http_api_start(&api, &cfg), MT_EINVAL);
}

static bool sim_live(void *arg)
{
    fixture_t *f = arg;
    reply_t r = request(f, "GET", "/api/devices/" ID_SIM, NULL, NULL, 0);
    bool ok = false;
    if (r.status == 200) {
        json_t *j = reply_json(&r);
        ok = json_is_object(json_object_get(j, "live"));
        json_decref(j);
    }
    free(r.body);
    return ok;
}

static bool file_exists(void *arg) { return access((const char *)arg, F_OK) == 0; }

/* One real simulated board joins the fleet; the API shows it live and pings it. */
static void test_live_board(void **state)
{
    fixture_t *f = *state;
    char sim[512], pty[512], log[512], out[4096];
    snprintf(sim, sizeof sim, "%s/microt-sim", harness_build_dir());
    if (access(sim, X_OK) != 0) {
        print_message("SKIP: %s not built\n", sim);
        skip();
    }
    snprintf(pty, sizeof pty, "%s/board0", f->dir);
    snprintf(log, sizeof log, "%s/sim.log", f->dir);
    char *argv[] = {sim, "--pty", pty, "--board", "l4r5zi", "--uid", ID_SIM, NULL};
    f->sim_pid = harness_spawn(argv, log);
    assert_true(f->sim_pid > 0);
    assert_true(harness_wait(file_exists, pty, 5000));
    assert_int_equal(fleet_add_port(f->fleet, pty), 0);
    assert_true(harness_wait(sim_live, f, 10000));

    reply_t r = request(f, "GET", "/api/devices/" ID_SIM, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "online");
    assert_string_equal(json_string_value(json_object_get(j, "board")), "l4r5zi");
    json_t *live = json_object_get(j, "live");
    assert_string_equal(json_string_value(json_object_get(live, "port")), pty);
    json_decref(j);
    free(r.body);

    r = request(f, "POST", "/api/devices/" ID_SIM "/ping", TOKEN, NULL, 0);
    assert_int_equal(r.status, 200);
    j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "id")), ID_SIM);
    assert_true(json_integer_value(json_object_get(j, "rtt_us")) > 0);
    json_decref(j);
    free(r.body);

    assert_int_equal(run_ctl(f, "--token " TOKEN " ping " ID_SIM, out, sizeof out), 0);
    assert_non_null(strstr(out, ID_SIM ": round trip "));
    assert_int_equal(run_ctl(f, "devices", out, sizeof out), 0);
    assert_non_null(strstr(out, "3 devices, 1 online"));
}

typedef struct {
    fixture_t *f;
    long status;
    volatile int done;
} stuck_ping_t;

static void *stuck_ping(void *arg)
{
    stuck_ping_t *p = arg;
    reply_t r = request(p->f, "POST", "/api/devices/" ID_SIM "/ping", TOKEN, NULL, 0);
    p->status = r.status;
    free(r.body);
    __atomic_store_n(&p->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* A frozen board holds its ping until the deadline (3 s here); meanwhile other requests, even
 * for the same device, are answered: each connection has its own thread. */
static void test_stuck_board_does_not_block(void **state)
{
    fixture_t *f = *state;
    if (f->sim_pid <= 0) {
        print_message("SKIP: no simulated board\n");
        skip();
    }
    assert_int_equal(kill(f->sim_pid, SIGSTOP), 0);
    stuck_ping_t p = {.f = f};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stuck_ping, &p), 0);
    usleep(200 * 1000); /* let the ping reach the board's session */
    reply_t r = request(f, "GET", "/api/health", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    free(r.body);
    r = request(f, "GET", "/api/devices/" ID_SIM, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    free(r.body);
    int done_meanwhile = __atomic_load_n(&p.done, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    kill(f->sim_pid, SIGCONT);
    assert_int_equal(done_meanwhile, 0);
    /* The stuck ping ends with the deadline (504) or the session giving up on the board (409). */
    assert_true(p.status == 504 || p.status == 409);
}

static void test_status_map(void **state)
{
    const char *code;
    assert_int_equal(http_api_status_of(MT_EINVAL, &code), 400);
    assert_int_equal(http_api_status_of(MT_ENOTFOUND, &code), 404);
    assert_string_equal(code, "not_found");
    assert_int_equal(http_api_status_of(MT_EOFFLINE, &code), 409);
    assert_int_equal(http_api_status_of(MT_ETIMEOUT, &code), 504);
    assert_int_equal(http_api_status_of(MT_EBUSY, &code), 409);
    assert_int_equal(http_api_status_of(MT_EDEVICE, &code), 502);
    assert_int_equal(http_api_status_of(MT_ETOOBIG, &code), 413);
    assert_int_equal(http_api_status_of(MT_ENOSPACE, &code), 422);
    assert_int_equal(http_api_status_of(MT_EIO, &code), 500);
    assert_int_equal(http_api_status_of(-999, &code), 500);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_matches_docs),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_devices_list_and_paging),
        cmocka_unit_test(test_device_get),
        cmocka_unit_test(test_transitions_and_firmware),
        cmocka_unit_test(test_ping_auth_and_errors),
        cmocka_unit_test(test_routes_and_methods),
        cmocka_unit_test(test_static_files),
        cmocka_unit_test(test_microtctl),
        cmocka_unit_test(test_start_refusals),
        cmocka_unit_test(test_status_map),
        cmocka_unit_test(test_live_board),
        cmocka_unit_test(test_stuck_board_does_not_block),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
