/*
 * test_http_token.c — the API token file: created once with mode 0600 and reused, refused when
 * others can read it or its content is not a token, and the state directory's defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_token.h"
#include "mt_err.h"

static char tmp_dir[256];

static int setup(void **state)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_http_token.XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_create_then_reuse(void **state)
{
    char dir[300], path[340], tok1[HTTP_TOKEN_MAX_CHARS + 1], tok2[HTTP_TOKEN_MAX_CHARS + 1];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/a/b/state", tmp_dir); /* missing parents are made */
    assert_int_equal(http_token_read(dir, tok1, sizeof tok1), MT_ENOTFOUND);
    assert_int_equal(http_token_load_or_create(dir, tok1, sizeof tok1), 0);
    assert_int_equal(strlen(tok1), HTTP_TOKEN_GEN_CHARS);
    for (size_t i = 0; i < strlen(tok1); i++)
        assert_non_null(strchr("0123456789abcdef", tok1[i]));
    snprintf(path, sizeof path, "%s/token", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(http_token_load_or_create(dir, tok2, sizeof tok2), 0);
    assert_string_equal(tok1, tok2);
    assert_int_equal(http_token_read(dir, tok2, sizeof tok2), 0);
    assert_string_equal(tok1, tok2);

    /* A second state directory gets a different token (it is random, not derived). */
    snprintf(dir, sizeof dir, "%s/other", tmp_dir);
    assert_int_equal(http_token_load_or_create(dir, tok2, sizeof tok2), 0);
    assert_string_not_equal(tok1, tok2);
}

static void test_refusals(void **state)
{
    char dir[300], path[340], tok[HTTP_TOKEN_MAX_CHARS + 1];
    snprintf(dir, sizeof dir, "%s/bad", tmp_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/token", dir);

    write_file(path, "0123456789abcdef0123456789abcdef\n", 0644);
    assert_int_equal(http_token_read(dir, tok, sizeof tok), MT_ESTATE);
    assert_int_equal(http_token_load_or_create(dir, tok, sizeof tok), MT_ESTATE);

    write_file(path, "short\n", 0600);
    assert_int_equal(http_token_read(dir, tok, sizeof tok), MT_EINVAL);
    write_file(path, "has a space in it somewhere..\n", 0600);
    assert_int_equal(http_token_read(dir, tok, sizeof tok), MT_EINVAL);
    /* A hand-written token with an editor's newline is accepted as is. */
    write_file(path, "my-own-token-of-20-chars\r\n", 0600);
    assert_int_equal(http_token_read(dir, tok, sizeof tok), 0);
    assert_string_equal(tok, "my-own-token-of-20-chars");
    assert_int_equal(http_token_read(dir, tok, 10), MT_EINVAL); /* out too small */
    assert_int_equal(http_token_read("", tok, sizeof tok), MT_EINVAL);
}

static void test_validate(void **state)
{
    assert_int_equal(http_token_validate("0123456789abcdef"), 0);
    assert_int_equal(http_token_validate("0123456789abcde"), MT_EINVAL);
    assert_int_equal(http_token_validate(NULL), MT_EINVAL);
    char long_tok[HTTP_TOKEN_MAX_CHARS + 2];
    memset(long_tok, 'x', sizeof long_tok - 1);
    long_tok[sizeof long_tok - 1] = '\0';
    assert_int_equal(http_token_validate(long_tok), MT_EINVAL);
    long_tok[HTTP_TOKEN_MAX_CHARS] = '\0';
    assert_int_equal(http_token_validate(long_tok), 0);
}

static void test_state_dir_default(void **state)
{
    char out[256];
    setenv("MICROT_STATE_DIR", "/srv/microt", 1);
    assert_int_equal(http_token_state_dir_default(out, sizeof out), 0);
    assert_string_equal(out, "/srv/microt");
    unsetenv("MICROT_STATE_DIR");
    setenv("XDG_STATE_HOME", "/home/u/.state", 1);
    assert_int_equal(http_token_state_dir_default(out, sizeof out), 0);
    assert_string_equal(out, "/home/u/.state/microt");
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(http_token_state_dir_default(out, sizeof out), 0);
    assert_string_equal(out, "/home/u/.local/state/microt");
    assert_int_equal(http_token_state_dir_default(out, 8), MT_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_then_reuse),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_state_dir_default),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
