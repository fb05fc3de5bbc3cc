/*
 * microtd_main.c — the gateway daemon: opens the store, starts one session per serial port and
 * the REST API, and runs until SIGINT/SIGTERM.
 *
 *   microtd [--config FILE] [--http ADDR:PORT] [--db FILE] [--state-dir DIR] [--token T]
 *           [--web DIR] [--baud N] [--stats-interval-ms N] --port PATH|GLOB|auto [--port ...]
 *
 * A config file holds the same settings as `name = value` lines (# comments); flags given on
 * the command line win over the file.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"
#include "http_api.h"
#include "http_token.h"
#include "mt_err.h"
#include "store.h"
#include "workflow.h"

typedef struct {
    char http[300];
    char db[PATH_MAX];
    char state_dir[PATH_MAX];
    char token[HTTP_TOKEN_MAX_CHARS + 1];
    char web[PATH_MAX];
    uint32_t baud;
    uint32_t stats_interval_ms;
    char ports[FLEET_MAX_PORTS][256];
    unsigned n_ports;
} microtd_opts_t;

static volatile sig_atomic_t microtd_stop;

static void microtd_on_signal(int sig)
{
    (void)sig;
    microtd_stop = 1;
}

static void microtd_usage(FILE *out)
{
    fprintf(out,
            "usage: microtd [--config FILE] [--http ADDR:PORT] [--db FILE] [--state-dir DIR]\n"
            "               [--token TOKEN] [--web DIR] [--baud N] [--stats-interval-ms N]\n"
            "               --port PATH|GLOB|auto ...\n"
            "  --http ADDR:PORT  REST API and dashboard (default 127.0.0.1:8080; [::1]:8080 for IPv6)\n"
            "  --db FILE         SQLite database (default STATE_DIR/microt.db)\n"
            "  --state-dir DIR   token file and defaults (default $MICROT_STATE_DIR or ~/.local/state/microt)\n"
            "  --token TOKEN     API token (default: generated once into STATE_DIR/token)\n"
            "  --web DIR         dashboard files (default: web)\n"
            "  --baud N          UART speed of real serial ports, and the line rate the link's\n"
            "                    retransmission timeout is sized for (default 115200)\n"
            "  --stats-interval-ms N  how often the boards' counters are read (default 5000)\n"
            "  --port P          a serial port, a glob of ports (rescanned), or auto (USB serial ports)\n");
}

/* One setting by name, from the command line or the config file. */
static int microtd_set(microtd_opts_t *o, const char *name, const char *value)
{
    char *end;
#define MICROTD_COPY(field)                                                                \
    do {                                                                                   \
        if (strlen(value) >= sizeof(o->field))                                             \
            return fprintf(stderr, "microtd: %s is too long\n", name), -1;                 \
        strcpy(o->field, value);                                                           \
    } while (0)
    if (strcmp(name, "http") == 0)
        MICROTD_COPY(http);
    else if (strcmp(name, "db") == 0)
        MICROTD_COPY(db);
    else if (strcmp(name, "state-dir") == 0)
        MICROTD_COPY(state_dir);
    else if (strcmp(name, "token") == 0)
        MICROTD_COPY(token);
    else if (strcmp(name, "web") == 0)
        MICROTD_COPY(web);
    else if (strcmp(name, "baud") == 0) {
        unsigned long v = strtoul(value, &end, 10);
        if (*end != '\0' || v == 0 || v > 12000000)
            return fprintf(stderr, "microtd: bad baud rate '%s'\n", value), -1;
        o->baud = (uint32_t)v;
    } else if (strcmp(name, "stats-interval-ms") == 0) {
        unsigned long v = strtoul(value, &end, 10);
        if (*end != '\0' || v < 100 || v > 3600000)
            return fprintf(stderr, "microtd: stats-interval-ms must be 100..3600000\n"), -1;
        o->stats_interval_ms = (uint32_t)v;
    } else if (strcmp(name, "port") == 0) {
        if (o->n_ports >= FLEET_MAX_PORTS || strlen(value) >= 256)
            return fprintf(stderr, "microtd: too many ports or port path too long\n"), -1;
        strcpy(o->ports[o->n_ports++], value);
    } else {
        return fprintf(stderr, "microtd: unknown setting '%s'\n", name), -1;
    }
#undef MICROTD_COPY
    return 0;
}

static int microtd_read_config(microtd_opts_t *o, const char *path)
{
    char line[1024];
    unsigned lineno = 0;
    int rc = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "microtd: cannot read config %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *eq, *name, *value, *e;
        lineno++;
        line[strcspn(line, "\r\n#")] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            continue;
        eq = strchr(p, '=');
        if (eq == NULL) {
            fprintf(stderr, "microtd: %s:%u: expected 'name = value'\n", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        name = p;
        value = eq + 1;
        for (e = eq - 1; e >= name && (*e == ' ' || *e == '\t'); e--)
            *e = '\0';
        while (*value == ' ' || *value == '\t')
            value++;
        for (e = value + strlen(value) - 1; e >= value && (*e == ' ' || *e == '\t'); e--)
            *e = '\0';
        rc = microtd_set(o, name, value);
        if (rc != 0)
            fprintf(stderr, "microtd: %s:%u: bad setting\n", path, lineno);
    }
    fclose(f);
    return rc;
}

/* "127.0.0.1:8080", "[::1]:8080" or ":8080" -> address and port. */
static int microtd_split_http(const char *http, char *addr, size_t addr_len, uint16_t *port)
{
    const char *colon;
    char *end;
    unsigned long p;
    if (http[0] == '[') {
        const char *close = strchr(http, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - http - 1) >= addr_len)
            return -1;
        memcpy(addr, http + 1, (size_t)(close - http - 1));
        addr[close - http - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(http, ':');
        if (colon == NULL || (size_t)(colon - http) >= addr_len)
            return -1;
        memcpy(addr, http, (size_t)(colon - http));
        addr[colon - http] = '\0';
        if (addr[0] == '\0')
            snprintf(addr, addr_len, "%s", HTTP_API_DEFAULT_BIND);
    }
    p = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"http", required_argument, NULL, 'H'},
        {"db", required_argument, NULL, 'd'},     {"state-dir", required_argument, NULL, 's'},
        {"token", required_argument, NULL, 't'},  {"web", required_argument, NULL, 'w'},
        {"baud", required_argument, NULL, 'b'},   {"port", required_argument, NULL, 'p'},
        {"stats-interval-ms", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    microtd_opts_t o, cli;
    const char *config = NULL;
    store_t *store = NULL;
    fleet_t *fleet = NULL;
    http_api_t *api = NULL;
    workflow_t *wf = NULL;
    fleet_config_t fcfg;
    http_api_config_t acfg;
    char addr[256], err[256];
    uint16_t port;
    struct sigaction sa;
    int c, rc = 1;

    memset(&o, 0, sizeof(o));
    memset(&cli, 0, sizeof(cli));
    /* First pass: only find --config, so the file's values can be overridden by flags. */
    while ((c = getopt_long(argc, argv, "c:H:d:s:t:w:b:p:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'h')
            return microtd_usage(stdout), 0;
        else if (c == '?')
            return microtd_usage(stderr), 2;
    }
    if (config != NULL && microtd_read_config(&o, config) != 0)
        return 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:H:d:s:t:w:b:p:h", opts, NULL)) != -1) {
        const char *name = NULL;
        switch (c) {
        case 'H': name = "http"; break;
        case 'd': name = "db"; break;
        case 's': name = "state-dir"; break;
        case 't': name = "token"; break;
        case 'w': name = "web"; break;
        case 'b': name = "baud"; break;
        case 'S': name = "stats-interval-ms"; break;
        case 'p':
            /* Ports on the command line replace the file's list rather than add to it. */
            if (cli.n_ports == 0)
                o.n_ports = 0;
            cli.n_ports++;
            name = "port";
            break;
        default: break;
        }
        if (name != NULL && microtd_set(&o, name, optarg) != 0)
            return 2;
    }
    if (optind != argc) {
        microtd_usage(stderr);
        return 2;
    }
    if (o.http[0] == '\0')
        snprintf(o.http, sizeof(o.http), "%s:8080", HTTP_API_DEFAULT_BIND);
    if (o.state_dir[0] == '\0' && http_token_state_dir_default(o.state_dir, sizeof(o.state_dir)) != 0) {
        fprintf(stderr, "microtd: cannot choose a state directory; give --state-dir\n");
        return 2;
    }
    if (o.db[0] == '\0' && snprintf(o.db, sizeof(o.db), "%s/microt.db", o.state_dir) >= (int)sizeof(o.db))
        return fprintf(stderr, "microtd: state directory path too long\n"), 2;
    if (o.web[0] == '\0')
        snprintf(o.web, sizeof(o.web), "web");
    if (microtd_split_http(o.http, addr, sizeof(addr), &port) != 0) {
        fprintf(stderr, "microtd: --http wants ADDR:PORT, got '%s'\n", o.http);
        return 2;
    }
    if (o.token[0] != '\0') {
        if (http_token_validate(o.token) != 0) {
            fprintf(stderr, "microtd: the token must be %d..%d printable characters without spaces\n",
                    HTTP_TOKEN_MIN_CHARS, HTTP_TOKEN_MAX_CHARS);
            return 2;
        }
    } else if ((rc = http_token_load_or_create(o.state_dir, o.token, sizeof(o.token))) != 0) {
        fprintf(stderr, "microtd: cannot read or create %s/token: %s\n", o.state_dir, mt_strerror(rc));
        return 1;
    }
    rc = 1;

    if (mkdir(o.state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "microtd: cannot create %s: %s\n", o.state_dir, strerror(errno));
        goto out;
    }
    if (store_open(o.db, &store, err, sizeof(err)) != 0) {
        fprintf(stderr, "microtd: %s\n", err);
        goto out;
    }

    memset(&fcfg, 0, sizeof(fcfg));
    for (unsigned i = 0; i < o.n_ports; i++)
        fcfg.ports[i] = o.ports[i];
    fcfg.n_ports = o.n_ports;
    fcfg.baud = o.baud;
    if (fleet_start(&fleet, store, &fcfg) != 0) {
        fprintf(stderr, "microtd: cannot start the serial sessions\n");
        goto out;
    }

    /* Jobs a killed predecessor left running are marked interrupted here, before any request. */
    workflow_config_t wcfg = {.stats_interval_ms = o.stats_interval_ms};
    if (workflow_start(&wf, store, fleet, &wcfg) != 0) {
        fprintf(stderr, "microtd: cannot start the job runner\n");
        goto out;
    }

    memset(&acfg, 0, sizeof(acfg));
    acfg.bind_addr = addr;
    acfg.port = port;
    acfg.token = o.token;
    {
        struct stat st;
        /* Without the dashboard files the API still serves; say so once. */
        if (stat(o.web, &st) == 0 && S_ISDIR(st.st_mode))
            acfg.web_root = o.web;
        else
            fprintf(stderr, "microtd: no dashboard at '%s' (--web): serving the API only\n", o.web);
    }
    acfg.store = store;
    acfg.fleet = fleet;
    acfg.workflow = wf;
    if (http_api_start(&api, &acfg) != 0)
        goto out; /* http_api_start printed why */

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = microtd_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "microtd: listening on http://%s%s%s:%u/ (db %s, %u port pattern(s))\n",
            strchr(addr, ':') ? "[" : "", addr, strchr(addr, ':') ? "]" : "", http_api_port(api), o.db,
            o.n_ports);
    while (!microtd_stop)
        pause();
    fprintf(stderr, "microtd: stopping\n");
    rc = 0;
out:
    http_api_stop(api);
    if (workflow_stop(wf) != 0)
        _exit(rc); /* a job thread still holds the fleet; the database is consistent (WAL) */
    fleet_stop(fleet);
    store_close(store);
    return rc;
}
