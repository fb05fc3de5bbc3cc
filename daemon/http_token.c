/*
 * http_token.c — reading and creating the API token file (see http_token.h).
 * A new token is written to a private temporary file and hard-linked into place, so a reader
 * never sees a half-written token and a concurrent creator loses the race cleanly.
 */
#include "http_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_err.h"

int http_token_state_dir_default(char *out, size_t out_len)
{
    const char *env = getenv("MICROT_STATE_DIR");
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;

    if (out == NULL || out_len == 0)
        return MT_EINVAL;
    if (env != NULL && env[0] != '\0')
        n = snprintf(out, out_len, "%s", env);
    else if (xdg != NULL && xdg[0] == '/')
        n = snprintf(out, out_len, "%s/microt", xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(out, out_len, "%s/.local/state/microt", home);
    else
        n = snprintf(out, out_len, "/var/lib/microt");
    return (n < 0 || (size_t)n >= out_len) ? MT_ETOOBIG : 0;
}

int http_token_validate(const char *token)
{
    if (token == NULL)
        return MT_EINVAL;
    size_t n = strnlen(token, HTTP_TOKEN_MAX_CHARS + 1);
    if (n < HTTP_TOKEN_MIN_CHARS || n > HTTP_TOKEN_MAX_CHARS)
        return MT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (token[i] <= ' ' || token[i] > '~')
            return MT_EINVAL;
    return 0;
}

static int http_token_path(const char *state_dir, const char *name, char *out, size_t out_len)
{
    if (state_dir == NULL || state_dir[0] == '\0')
        return MT_EINVAL;
    int n = snprintf(out, out_len, "%s/%s", state_dir, name);
    return (n < 0 || (size_t)n >= out_len) ? MT_ETOOBIG : 0;
}

int http_token_read(const char *state_dir, char *out, size_t out_len)
{
    char path[4096];
    char buf[HTTP_TOKEN_MAX_CHARS + 4];
    struct stat st;
    ssize_t got;
    int fd = -1;
    int rc;

    if (out == NULL || out_len < HTTP_TOKEN_MAX_CHARS + 1)
        return MT_EINVAL;
    rc = http_token_path(state_dir, "token", path, sizeof path);
    if (rc < 0)
        goto out;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? MT_ENOTFOUND : (errno == ELOOP ? MT_ESTATE : MT_EIO);
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        rc = MT_EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        fprintf(stderr, "microt: %s must be a regular file readable only by its owner "
                "(chmod 600 %s)\n", path, path);
        rc = MT_ESTATE;
        goto out;
    }
    got = read(fd, buf, sizeof buf - 1);
    if (got < 0) {
        rc = MT_EIO;
        goto out;
    }
    buf[got] = '\0';
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
        buf[--got] = '\0'; /* an editor's final newline is not part of the token */
    rc = http_token_validate(buf);
    if (rc < 0)
        goto out;
    snprintf(out, out_len, "%s", buf);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int http_token_mkdirs(const char *dir)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return MT_ETOOBIG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return MT_EIO;
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return MT_EIO;
    return 0;
}

static int http_token_generate(char out[HTTP_TOKEN_GEN_CHARS + 1])
{
    unsigned char raw[HTTP_TOKEN_GEN_CHARS / 2];
    size_t have = 0;
    while (have < sizeof raw) {
        ssize_t n = getrandom(raw + have, sizeof raw - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return MT_EIO;
        have += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

int http_token_load_or_create(const char *state_dir, char *out, size_t out_len)
{
    char path[4096], tmp[4096], suffix[64];
    char token[HTTP_TOKEN_GEN_CHARS + 2];
    int fd = -1;
    int rc;

    rc = http_token_read(state_dir, out, out_len);
    if (rc != MT_ENOTFOUND)
        return rc;
    rc = http_token_mkdirs(state_dir);
    if (rc < 0)
        goto out;
    snprintf(suffix, sizeof suffix, "token.tmp.%ld", (long)getpid());
    rc = http_token_path(state_dir, "token", path, sizeof path);
    if (rc == 0)
        rc = http_token_path(state_dir, suffix, tmp, sizeof tmp);
    if (rc == 0)
        rc = http_token_generate(token);
    if (rc < 0)
        goto out;
    unlink(tmp); /* a leftover of a crashed start of this same pid number */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = MT_EIO;
        goto out;
    }
    strcat(token, "\n");
    if (write(fd, token, strlen(token)) != (ssize_t)strlen(token) || fsync(fd) < 0) {
        rc = MT_EIO;
        goto out;
    }
    /* link() fails with EEXIST if another process got there first: use its token then. */
    if (link(tmp, path) < 0 && errno != EEXIST) {
        rc = MT_EIO;
        goto out;
    }
    rc = http_token_read(state_dir, out, out_len);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return rc;
}
