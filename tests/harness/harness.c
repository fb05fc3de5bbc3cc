/*
 * harness.c — process, file and HTTP helpers for the integration tests (see harness.h).
 */
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *harness_build_dir(void)
{
    const char *b = getenv("MICROT_BUILD");
    return b && *b ? b : "build";
}

const char *harness_shared_dir(void)
{
    static char path[4096];
    struct stat st;
    const char *env = getenv("MICROT_SHARED");
    snprintf(path, sizeof(path), "%s", env && *env ? env : "../shared");
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return path;
}

char *harness_mkdtemp(const char *tag)
{
    char *dir = malloc(256);
    if (dir == NULL)
        return NULL;
    snprintf(dir, 256, "/tmp/microt-%s-XXXXXX", tag);
    if (mkdtemp(dir) == NULL) {
        free(dir);
        return NULL;
    }
    return dir;
}

void harness_rmdir(char *dir)
{
    char cmd[400];
    if (dir == NULL)
        return;
    if (strncmp(dir, "/tmp/microt-", 12) == 0 && getenv("MICROT_KEEP_TMP") == NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "harness: could not remove %s\n", dir);
    }
    free(dir);
}

pid_t harness_spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    setpgid(0, 0);
    execv(argv[0], argv);
    fprintf(stderr, "harness: cannot exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

void harness_stop(pid_t pid, int sig)
{
    int status;
    if (pid <= 0)
        return;
    kill(pid, sig);
    for (int i = 0; i < 60; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

int harness_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int port = -1, fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

typedef struct {
    char *data;
    size_t len;
} harness_buf_t;

static size_t harness_collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    harness_buf_t *b = ud;
    size_t n = size * nmemb;
    char *p = realloc(b->data, b->len + n + 1);
    if (p == NULL)
        return 0;
    b->data = p;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

long harness_http(const char *method, const char *url, const char *token, const char *content_type,
                  const void *body, size_t body_len, char **body_out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    harness_buf_t buf = {NULL, 0};
    long status = -1;
    char line[512];

    if (c == NULL)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    if (token != NULL) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (content_type != NULL) {
        snprintf(line, sizeof(line), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (body_out != NULL)
        *body_out = buf.data;
    else
        free(buf.data);
    return status;
}

json_t *harness_get_json(const char *url, long *status_out)
{
    char *body = NULL;
    json_t *j = NULL;
    long status = harness_http("GET", url, NULL, NULL, NULL, 0, &body);
    if (status_out != NULL)
        *status_out = status;
    if (body != NULL)
        j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

long long harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool harness_wait(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    long long end = harness_now_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (harness_now_ms() >= end)
            return false;
        usleep(50000);
    }
}
