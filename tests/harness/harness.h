/*
 * harness.h — what the integration tests share: temporary folders, child processes (microtd,
 * microt-sim, qemu) started and stopped by PID, an HTTP client for the daemon's REST API and a
 * way to wait for a condition with a deadline. Real parts only: the tests drive the real
 * programs over real ptys, sockets and files.
 */
#ifndef MICROT_HARNESS_H
#define MICROT_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* Folder of the built programs ($MICROT_BUILD, default "build"). */
const char *harness_build_dir(void);

/* Folder of ../shared (models, seed), or NULL when absent ($MICROT_SHARED or ../shared). */
const char *harness_shared_dir(void);

/* Creates a fresh temporary folder; the path stays valid until harness_rmdir. */
char *harness_mkdtemp(const char *tag);
void harness_rmdir(char *dir);

/* Starts argv[0] (a path) with stdout/stderr appended to log_path; returns the PID or -1. */
pid_t harness_spawn(char *const argv[], const char *log_path);

/* Sends sig and reaps the child (SIGKILL after 3 s if it ignores SIGTERM). */
void harness_stop(pid_t pid, int sig);

/* A free TCP port on 127.0.0.1. */
int harness_free_port(void);

/* HTTP request; returns the status (or -1 when unreachable); *body_out (malloc'ed) gets the
 * response body when non-NULL. token may be NULL, body may be NULL. */
long harness_http(const char *method, const char *url, const char *token, const char *content_type,
                  const void *body, size_t body_len, char **body_out);

/* GET url and parse the JSON body; NULL when unreachable or not JSON. *status_out optional. */
json_t *harness_get_json(const char *url, long *status_out);

/* Calls cond(arg) every 50 ms until it returns true or timeout_ms passes. */
bool harness_wait(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* Milliseconds from a monotonic clock. */
long long harness_now_ms(void);

#endif /* MICROT_HARNESS_H */
