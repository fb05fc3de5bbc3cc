/*
 * http_token.h — the API's bearer token and the state directory it lives in.
 *
 * microtd takes its token from its configuration or, when none is given, generates one once
 * (32 random bytes from getrandom, as 64 hex digits) into STATE_DIR/token, mode 0600, and reuses
 * it on every later start. microtctl reads the same file when neither --token nor MICROT_TOKEN
 * is given, so a local user who can read the file can drive the daemon and nobody else can.
 */
#ifndef MICROT_HTTP_TOKEN_H
#define MICROT_HTTP_TOKEN_H

#include <stddef.h>

#define HTTP_TOKEN_MIN_CHARS 16
#define HTTP_TOKEN_MAX_CHARS 128
#define HTTP_TOKEN_GEN_CHARS 64   /* a generated token: 32 bytes as hex */

/* The state directory: $MICROT_STATE_DIR, else $XDG_STATE_HOME/microt, else
 * $HOME/.local/state/microt, else /var/lib/microt. MT_ETOOBIG if it does not fit out. */
int http_token_state_dir_default(char *out, size_t out_len);

/* Reads STATE_DIR/token into out (out_len >= HTTP_TOKEN_MAX_CHARS + 1). MT_ENOTFOUND when the
 * file does not exist; MT_ESTATE when it is readable by group or others (it would be leaked:
 * chmod 600 it) or is not a regular file; MT_EINVAL when its content is not a token
 * (HTTP_TOKEN_MIN_CHARS..HTTP_TOKEN_MAX_CHARS printable characters without spaces). */
int http_token_read(const char *state_dir, char *out, size_t out_len);

/* Like http_token_read, but creates the directory (0700) and a new token when there is none.
 * Two processes racing here end up with the same token (the file is linked into place). */
int http_token_load_or_create(const char *state_dir, char *out, size_t out_len);

/* Checks a token given on a command line or in a config file (same rules as the file). */
int http_token_validate(const char *token);

#endif /* MICROT_HTTP_TOKEN_H */
