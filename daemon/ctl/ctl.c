/*
 * ctl.c — microtctl's option parsing, command table and shared output helpers (see ctl.h).
 *
 * Global options come before the command (getopt stops at the first word), so a command's own
 * options (`--cut NAME` later) never clash with them; `--json` is also accepted anywhere after
 * the command because that is where people type it.
 */
#include "ctl.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_devices.h"
#include "ctl_inspect.h"
#include "ctl_wf.h"
#include "http_token.h"
#include "mt_err.h"

#define CTL_DEFAULT_TIMEOUT_S 30

static const ctl_command_t ctl_commands[] = {
    {{"devices", NULL}, "", "list every device ever seen, with its state", ctl_devices_list},
    {{"device", NULL}, "ID", "show one device and its recent state changes", ctl_devices_show},
    {{"ping", NULL}, "ID", "ping a connected device, print the round trip", ctl_devices_ping},
    {{"model", "push"}, "DEV FILE.tflite [--cut NAME] [--no-wait]",
     "import a model, check it fits, push it (progress bar)", ctl_wf_model_push},
    {{"model", "inspect"}, "FILE.tflite [--cut NAME]",
     "import a model locally and print its stages, ops, arena and weights", ctl_inspect_model},
    {{"model", "import"}, "FILE.tflite [--cut NAME]", "import and store a model without pushing",
     ctl_wf_model_import},
    {{"models", NULL}, "", "list the imported models", ctl_wf_models},
    {{"jobs", NULL}, "[--device DEV]", "list push, training and flash jobs", ctl_wf_jobs},
    {{"job", "rerun"}, "ID [--no-wait]", "run a finished or interrupted job again", ctl_wf_job_rerun},
    {{"job", NULL}, "ID [--wait]", "show a job (follow it with --wait)", ctl_wf_job},
    {{"samples", "add"}, "DEV (--label L FILE... | DIR)", "add labeled images (DIR: a folder per class)",
     ctl_wf_samples_add},
    {{"samples", "idx"}, "DEV IMAGES LABELS [--per-class N] [--names fashion-mnist]",
     "add samples from an IDX pair (Fashion-MNIST)", ctl_wf_samples_idx},
    {{"samples", "list"}, "DEV [--label L]", "list a device's samples", ctl_wf_samples_list},
    {{"samples", "relabel"}, "DEV SAMPLE LABEL", "change a sample's label", ctl_wf_samples_relabel},
    {{"samples", "rm"}, "DEV SAMPLE", "delete a sample", ctl_wf_samples_rm},
    {{"train", NULL}, "DEV [--seed N] [--holdout F] [--no-wait]",
     "train both heads on the device's samples (progress bar)", ctl_wf_train},
    {{"decision", NULL}, "DEV [--ratio R | --energy-budget UJ | --accuracy-floor A]",
     "show or set the stage-decision policy", ctl_wf_decision},
    {{"tradeoff", NULL}, "DEV", "accuracy and energy per ratio, from the board", ctl_wf_tradeoff},
    {{"classify", NULL}, "DEV IMAGE [--expected L]", "classify an image on a device",
     ctl_wf_classify},
    {{"capture", NULL}, "DEV [--label L]", "take a camera frame on the board as a sample",
     ctl_wf_capture},
    {{"inferences", NULL}, "DEV", "recorded classifications with exit rate and accuracy",
     ctl_wf_inferences},
    {{"stats", NULL}, "DEV", "the board's counters over time", ctl_wf_stats},
    {{"flash", NULL}, "DEV FILE [--base ADDR] [--format F] [--entry rpc|dtr-rts:SEQ|bootloader]",
     "update the board's firmware (progress bar)", ctl_wf_flash},
};

int ctl_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("microtctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CTL_EXIT_FAIL;
}

int ctl_usage(const char *words_and_args)
{
    fprintf(stderr, "usage: microtctl %s\n", words_and_args);
    return CTL_EXIT_USAGE;
}

int ctl_print_json(ctl_t *ctl, const json_t *doc)
{
    if (json_dumpf(doc, ctl->out, JSON_INDENT(2)) < 0)
        return ctl_fail("cannot write output");
    fputc('\n', ctl->out);
    return CTL_EXIT_OK;
}

int ctl_request(ctl_t *ctl, const char *method, const char *path, json_t *body, json_t **reply)
{
    char err[768];
    int rc = ctl_http_call(&ctl->http, method, path, body, reply, NULL, err, sizeof err);
    if (rc < 0)
        return ctl_fail("%s", err[0] ? err : mt_strerror(rc));
    return CTL_EXIT_OK;
}

void ctl_format_ago(long long epoch_ms, char *out, size_t out_len)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long s = ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - epoch_ms) / 1000;
    if (s < 2)
        snprintf(out, out_len, "now");
    else if (s < 120)
        snprintf(out, out_len, "%llds ago", s);
    else if (s < 7200)
        snprintf(out, out_len, "%lldm ago", s / 60);
    else if (s < 172800)
        snprintf(out, out_len, "%lldh ago", s / 3600);
    else
        snprintf(out, out_len, "%lldd ago", s / 86400);
}

void ctl_format_time(long long epoch_ms, char *out, size_t out_len)
{
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    char when[32] = "?", ago[32];
    if (localtime_r(&t, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    ctl_format_ago(epoch_ms, ago, sizeof ago);
    snprintf(out, out_len, "%s (%s)", when, ago);
}

void ctl_format_bytes(long long bytes, char *out, size_t out_len)
{
    if (bytes >= 1024 * 1024)
        snprintf(out, out_len, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    else if (bytes >= 1024)
        snprintf(out, out_len, "%.0f KiB", (double)bytes / 1024.0);
    else
        snprintf(out, out_len, "%lld B", bytes);
}

static void ctl_help(FILE *out)
{
    fprintf(out, "usage: microtctl [--url URL] [--token T] [--json] [--timeout S] COMMAND [ARGS]\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++) {
        const ctl_command_t *c = &ctl_commands[i];
        char words[96];
        snprintf(words, sizeof words, "%s%s%s %s", c->words[0], c->words[1] ? " " : "",
                 c->words[1] ? c->words[1] : "", c->usage);
        fprintf(out, "  %-28s %s\n", words, c->summary);
    }
    fprintf(out, "\noptions:\n"
                 "  --url URL      microtd's address (default $MICROT_URL or %s)\n"
                 "  --token T      API token for changing requests (default $MICROT_TOKEN,\n"
                 "                 else the token file in the state directory)\n"
                 "  --json         print the API's JSON instead of tables\n"
                 "  --timeout S    give up on a request after S seconds (default %d)\n",
            CTL_HTTP_DEFAULT_URL, CTL_DEFAULT_TIMEOUT_S);
}

/* Finds the command named by argv[0] (and argv[1]); *n_words gets how many words it used. */
static const ctl_command_t *ctl_find(int argc, char **argv, int *n_words)
{
    for (size_t i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++) {
        const ctl_command_t *c = &ctl_commands[i];
        if (strcmp(argv[0], c->words[0]) != 0)
            continue;
        if (c->words[1] == NULL) {
            *n_words = 1;
            return c;
        }
        if (argc > 1 && strcmp(argv[1], c->words[1]) == 0) {
            *n_words = 2;
            return c;
        }
    }
    return NULL;
}

int ctl_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},   {"token", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    char token_buf[HTTP_TOKEN_MAX_CHARS + 1], state_dir[1024];
    const char *url = getenv("MICROT_URL");
    const char *token = getenv("MICROT_TOKEN");
    long timeout_s = CTL_DEFAULT_TIMEOUT_S;
    ctl_t ctl = {.out = stdout};
    int c, n_words = 0, rc;

    opterr = 0;
    optind = 0; /* GNU getopt: full re-initialisation, so ctl_main can run twice (tests) */
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 't': token = optarg; break;
        case 'j': ctl.json = true; break;
        case 'T': {
            char *end = NULL;
            timeout_s = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || timeout_s < 1 || timeout_s > 3600)
                return ctl_fail("--timeout takes seconds between 1 and 3600, not '%s'", optarg);
            break;
        }
        case 'h': ctl_help(stdout); return CTL_EXIT_OK;
        default:
            ctl_fail("unknown option '%s' (see microtctl --help)", argv[optind - 1]);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        ctl_help(stderr);
        return CTL_EXIT_USAGE;
    }
    const ctl_command_t *cmd = ctl_find(argc - optind, argv + optind, &n_words);
    if (cmd == NULL) {
        ctl_fail("unknown command '%s' (see microtctl --help)", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    /* The command's own arguments, with --json taken out wherever it is. */
    int sub_argc = 0;
    char **sub_argv = calloc((size_t)argc + 1, sizeof *sub_argv);
    if (sub_argv == NULL)
        return ctl_fail("out of memory");
    sub_argv[sub_argc++] = argv[0];
    for (int i = optind + n_words; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            ctl.json = true;
        else
            sub_argv[sub_argc++] = argv[i];
    }
    /* No token given: the daemon's own token file, when this user can read it. */
    if (token == NULL && http_token_state_dir_default(state_dir, sizeof state_dir) == 0 &&
        http_token_read(state_dir, token_buf, sizeof token_buf) == 0)
        token = token_buf;
    ctl.http.url = url ? url : CTL_HTTP_DEFAULT_URL;
    ctl.http.token = token;
    ctl.http.timeout_ms = timeout_s * 1000;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    optind = 1; /* the handler may run getopt on its own arguments */
    rc = cmd->run(&ctl, sub_argc, sub_argv);
    curl_global_cleanup();
    free(sub_argv);
    if (fflush(stdout) != 0 && rc == CTL_EXIT_OK)
        rc = ctl_fail("cannot write output");
    return rc;
}
