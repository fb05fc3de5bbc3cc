/*
 * test_sha256.c — the firmware's SHA-256 against FIPS 180-2's example vectors, streaming in odd
 * chunk sizes, and against the sha256 of the shared model files that their manifest records.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness/harness.h"
#include "sha256.h"

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static void check(const void *data, size_t len, const char *want)
{
    uint8_t d[32];
    char h[65];
    sha256(data, len, d);
    hex(d, h);
    assert_string_equal(h, want);
}

static void test_fips_vectors(void **state)
{
    (void)state;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* One million 'a' in chunks of 997 bytes. */
    static char a[1000];
    memset(a, 'a', sizeof a);
    sha256_ctx_t ctx;
    sha256_init(&ctx);
    size_t left = 1000000;
    while (left > 0) {
        const size_t n = left < 997 ? left : 997;
        sha256_update(&ctx, a, n);
        left -= n;
    }
    uint8_t d[32];
    char h[65];
    sha256_final(&ctx, d);
    hex(d, h);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_streaming_equals_oneshot(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t)(i * 7 + 3);
    }
    /* Every length around the 55/56/64-byte padding boundaries, split at every chunk size. */
    for (size_t len = 0; len <= 200; len++) {
        uint8_t one[32];
        sha256(buf, len, one);
        for (size_t chunk = 1; chunk <= 70; chunk += 23) {
            sha256_ctx_t ctx;
            sha256_init(&ctx);
            for (size_t off = 0; off < len; off += chunk) {
                sha256_update(&ctx, buf + off, off + chunk <= len ? chunk : len - off);
            }
            uint8_t two[32];
            sha256_final(&ctx, two);
            assert_memory_equal(one, two, 32);
        }
    }
}

static void test_shared_models(void **state)
{
    (void)state;
    const char *dir = harness_shared_dir();
    if (dir == NULL) {
        print_message("SKIP: shared models absent\n");
        skip();
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/models/expected/manifest.json", dir);
    json_error_t jerr;
    json_t *man = json_load_file(path, 0, &jerr);
    if (man == NULL) {
        print_message("SKIP: %s absent\n", path);
        skip();
    }
    int checked = 0;
    json_t *entries = json_object_get(man, "entries");
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *models = json_object_get(json_array_get(entries, i), "models");
        for (size_t j = 0; j < json_array_size(models); j++) {
            json_t *m = json_array_get(models, j);
            snprintf(path, sizeof path, "%s/models/%s", dir,
                     json_string_value(json_object_get(m, "file")));
            FILE *f = fopen(path, "rb");
            assert_non_null(f);
            sha256_ctx_t ctx;
            sha256_init(&ctx);
            uint8_t chunk[4096];
            size_t n;
            while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
                sha256_update(&ctx, chunk, n);
            }
            fclose(f);
            uint8_t d[32];
            char h[65];
            sha256_final(&ctx, d);
            hex(d, h);
            assert_string_equal(h, json_string_value(json_object_get(m, "sha256")));
            checked++;
        }
    }
    json_decref(man);
    assert_true(checked > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_streaming_equals_oneshot),
        cmocka_unit_test(test_shared_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
