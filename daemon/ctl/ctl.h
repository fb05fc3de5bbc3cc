/*
 * ctl.h — microtctl: the command line of the MicroT gateway, a client of microtd's REST API.
 *
 *   microtctl [--url URL] [--token T] [--json] [--timeout S] COMMAND [ARGS]
 *
 * Commands are rows of one table in ctl.c (one or two words, a usage string, a handler), so a
 * new area adds `model push`, `samples add`, `train`... as rows and a ctl_<area>.c with the
 * handlers. Every handler prints a readable result (aligned tables) or, with --json, the API's
 * JSON; on failure one line "microtctl: reason" on stderr and a non-zero exit.
 */
#ifndef MICROT_CTL_H
#define MICROT_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "ctl_http.h"

enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,    /* the daemon is unreachable or answered an error */
    CTL_EXIT_USAGE = 2,   /* the command line is wrong */
};

typedef struct {
    ctl_http_t http;
    bool json;            /* print the API's JSON instead of tables */
    FILE *out;
} ctl_t;

typedef struct {
    const char *words[2];     /* "devices" / "model", "inspect"; words[1] NULL for one word */
    const char *usage;        /* the arguments after the words, e.g. "ID" */
    const char *summary;      /* one line for --help */
    /* argv holds the arguments after the command words, with --json already taken out. */
    int (*run)(ctl_t *ctl, int argc, char **argv);
} ctl_command_t;

/* The whole program: parses argv, runs the command, returns the exit status. */
int ctl_main(int argc, char **argv);

/* Prints "microtctl: <message>" on stderr; returns CTL_EXIT_FAIL for `return ctl_fail(...)`. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "usage: microtctl <words> <usage>" on stderr; returns CTL_EXIT_USAGE. */
int ctl_usage(const char *words_and_args);

/* Prints doc as indented JSON on ctl->out. */
int ctl_print_json(ctl_t *ctl, const json_t *doc);

/* A request; on failure prints the reason and returns CTL_EXIT_FAIL, else CTL_EXIT_OK. */
int ctl_request(ctl_t *ctl, const char *method, const char *path, json_t *body, json_t **reply);

/* "2026-11-26 15:38:12 (5m ago)" for an epoch time in ms. */
void ctl_format_time(long long epoch_ms, char *out, size_t out_len);
/* "5m ago", "3h ago", "now" */
void ctl_format_ago(long long epoch_ms, char *out, size_t out_len);
/* "1.4 MiB", "640 KiB", "512 B" */
void ctl_format_bytes(long long bytes, char *out, size_t out_len);

#endif /* MICROT_CTL_H */
