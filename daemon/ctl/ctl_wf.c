/*
 * ctl_wf.c — microtctl's workflow commands (see ctl_wf.h, docs/api.md for the routes).
 *
 * Files are read here and sent as raw bodies; an IDX pair is subset here (start, count, per
 * class) and re-encoded uncompressed, so only the chosen samples cross the socket and the upload
 * stays far below the daemon's bound. A folder of class subfolders is walked here, one image per
 * request, each stored by the daemon in its own transaction.
 */
#include "ctl_wf.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl_table.h"
#include "mt_err.h"
#include "sample_prep.h"

#define CTL_WF_MAX_FILE_BYTES (24u * 1024u * 1024u) /* = the daemon's upload bound */
#define CTL_WF_POLL_MS 250

static const char *ctl_s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static long long ctl_i(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static double ctl_f(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static int ctl_dev_ok(const char *id)
{
    if (id == NULL || id[0] == '\0' || strlen(id) > 64)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return 0;
    return 1;
}

/* Percent-encodes s for a query value. */
static void ctl_qenc(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (; *s && k + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
}

static int ctl_read_file(const char *path, uint8_t **data, size_t *len)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    *data = NULL;
    if (f == NULL)
        return ctl_fail("cannot open %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ctl_fail("%s is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > CTL_WF_MAX_FILE_BYTES) {
        fclose(f);
        return ctl_fail("%s is %lld bytes, over the %u byte upload limit", path,
                        (long long)st.st_size, CTL_WF_MAX_FILE_BYTES);
    }
    *data = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (*data == NULL) {
        fclose(f);
        return ctl_fail("out of memory");
    }
    *len = fread(*data, 1, (size_t)st.st_size, f);
    fclose(f);
    if (*len != (size_t)st.st_size) {
        free(*data);
        *data = NULL;
        return ctl_fail("short read on %s", path);
    }
    return CTL_EXIT_OK;
}

static int ctl_upload(ctl_t *ctl, const char *path, const uint8_t *data, size_t len,
                      const char *content_type, json_t **reply)
{
    char err[768];
    int rc = ctl_http_call_raw(&ctl->http, "POST", path, content_type, data, len, reply, NULL,
                               err, sizeof err);
    if (rc < 0)
        return ctl_fail("%s", err[0] ? err : mt_strerror(rc));
    return CTL_EXIT_OK;
}

/* ---- progress ---- */

static void ctl_bar(const char *what, double fraction, const char *detail)
{
    char bar[31];
    int fill = (int)(fraction * 30.0 + 0.5);
    if (fill < 0)
        fill = 0;
    if (fill > 30)
        fill = 30;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[30] = '\0';
    fprintf(stderr, "\r%-10s [%s] %3.0f%% %-40s", what, bar, fraction * 100.0, detail);
    fflush(stderr);
}

static long long ctl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ctl_print_job(ctl_t *ctl, const json_t *j)
{
    FILE *o = ctl->out;
    fprintf(o, "job %lld  %s on %s: %s\n", ctl_i(j, "id"), ctl_s(j, "kind"), ctl_s(j, "device"),
            ctl_s(j, "state"));
    if (json_is_string(json_object_get(j, "error")))
        fprintf(o, "  error: %s\n", ctl_s(j, "error"));
    json_t *r = json_object_get(j, "result");
    if (!json_is_object(r))
        return;
    if (strcmp(ctl_s(j, "kind"), "push") == 0) {
        char b[32];
        ctl_format_bytes(ctl_i(r, "image_bytes"), b, sizeof b);
        fprintf(o, "  model %s (%s) active in slot %lld\n", ctl_s(r, "model"), b, ctl_i(r, "slot"));
        fprintf(o, "  last transfer %lld B in %.2f s = %.0f B/s payload; %lld attempt(s), %.2f s "
                   "in all\n", ctl_i(r, "last_attempt_bytes"), ctl_f(r, "last_attempt_s"),
                ctl_f(r, "payload_bytes_per_s"), ctl_i(r, "attempts"), ctl_f(r, "total_s"));
    } else if (strcmp(ctl_s(j, "kind"), "flash") == 0) {
        json_t *par = json_object_get(j, "params");
        fprintf(o, "  image %.16s (%lld B) for %s, firmware %s -> %s\n", ctl_s(par, "sha256"),
                ctl_i(par, "file_bytes"), ctl_s(par, "chip"), ctl_s(r, "from_version"),
                ctl_s(r, "to_version"));
        fprintf(o, "  pages: %lld touched, %lld unchanged (skipped), %lld erased, %lld written, "
                   "%lld retried; flash %.2f s, %.2f s in all\n",
                ctl_i(r, "pages_touched"), ctl_i(r, "pages_same"), ctl_i(r, "pages_erased"),
                ctl_i(r, "pages_written"), ctl_i(r, "pages_retried"), ctl_f(r, "flash_s"),
                ctl_f(r, "total_s"));
    } else {
        json_t *part = json_object_get(r, "part"), *full = json_object_get(r, "full");
        fprintf(o, "  %lld samples (%lld held out) in %lld classes\n", ctl_i(r, "samples"),
                ctl_i(r, "holdout"), (long long)json_array_size(json_object_get(r, "classes")));
        fprintf(o, "  part head: train %.1f %%, hold-out %.1f %%\n",
                100 * ctl_f(part, "train_accuracy"), 100 * ctl_f(part, "holdout_accuracy"));
        fprintf(o, "  full head: train %.1f %%, hold-out %.1f %%\n",
                100 * ctl_f(full, "train_accuracy"), 100 * ctl_f(full, "holdout_accuracy"));
        fprintf(o, "  staged hold-out accuracy %.1f %%, threshold %.3f\n",
                100 * ctl_f(r, "staged_holdout_accuracy"), ctl_f(r, "threshold"));
        json_t *e = json_object_get(r, "energy_nj");
        fprintf(o, "  energy: extract %.1f mJ, train %.3f mJ, calibrate %.4f mJ; peak RAM %lld B\n",
                ctl_i(e, "extract") / 1e6, ctl_i(e, "train") / 1e6, ctl_i(e, "calibrate") / 1e6,
                ctl_i(r, "peak_ram_bytes"));
        json_t *d = json_object_get(r, "decision");
        if (json_is_object(d))
            fprintf(o, "  decision: %s %g -> ratio %.2f, threshold %.3f\n", ctl_s(d, "policy"),
                    ctl_f(d, "target"), ctl_f(d, "ratio"), ctl_f(d, "threshold"));
    }
}

/* Polls a job until it ends; a bar on a terminal. Exit status: OK only when done. */
static int ctl_wait_job(ctl_t *ctl, long long id)
{
    char path[64];
    json_t *j = NULL;
    int tty = isatty(2) && !ctl->json, rc;
    long long t0 = ctl_mono_ms();
    snprintf(path, sizeof path, "/api/jobs/%lld", id);
    for (;;) {
        json_decref(j);
        j = NULL;
        rc = ctl_request(ctl, "GET", path, NULL, &j);
        if (rc != CTL_EXIT_OK)
            return rc;
        const char *state = ctl_s(j, "state");
        json_t *p = json_object_get(j, "progress");
        if (tty) {
            char detail[96];
            long long done = ctl_i(p, "done"), total = ctl_i(p, "total");
            double secs = (ctl_mono_ms() - t0) / 1000.0;
            if (strcmp(ctl_s(j, "kind"), "push") == 0)
                snprintf(detail, sizeof detail, "%s %lld/%lld KiB %.0f KiB/s", ctl_s(p, "phase"),
                         done / 1024, total / 1024, secs > 0 ? done / 1024.0 / secs : 0.0);
            else if (strcmp(ctl_s(j, "kind"), "flash") == 0)
                snprintf(detail, sizeof detail, "%-7s %lld/%lld KiB  %.1f s", ctl_s(p, "phase"),
                         done / 1024, total / 1024, secs);
            else
                snprintf(detail, sizeof detail, "%s %lld/%lld  %.1f s", ctl_s(p, "phase"), done,
                         total, secs);
            ctl_bar(ctl_s(j, "kind"), ctl_f(p, "fraction"), detail);
        }
        if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0)
            break;
        usleep(CTL_WF_POLL_MS * 1000);
    }
    if (tty)
        fputc('\n', stderr);
    if (ctl->json)
        ctl_print_json(ctl, j);
    else
        ctl_print_job(ctl, j);
    rc = strcmp(ctl_s(j, "state"), "done") == 0 ? CTL_EXIT_OK
                                                 : ctl_fail("job %lld %s: %s", id, ctl_s(j, "state"),
                                                            ctl_s(j, "error"));
    json_decref(j);
    return rc;
}

/* Either waits for the job in reply (and prints it) or prints the reply. */
static int ctl_started(ctl_t *ctl, json_t *reply, int wait)
{
    long long id = ctl_i(json_object_get(reply, "job"), "id");
    if (wait)
        return ctl_wait_job(ctl, id);
    if (ctl->json)
        return ctl_print_json(ctl, reply);
    fprintf(ctl->out, "job %lld started (microtctl job %lld --wait to follow it)\n", id, id);
    return CTL_EXIT_OK;
}

/* ---- models ---- */

static void ctl_print_model(ctl_t *ctl, const json_t *m)
{
    char a[32], b[32];
    json_t *shape = json_object_get(m, "input_shape");
    ctl_format_bytes(ctl_i(m, "image_bytes"), a, sizeof a);
    ctl_format_bytes(ctl_i(m, "arena_bytes"), b, sizeof b);
    fprintf(ctl->out, "model %s\n  from %s, cut %s\n  image %s, arena %s, input %lldx%lldx%lld, "
                      "features %lld (part) / %lld (full)\n",
            ctl_s(m, "sha256"), ctl_s(m, "source_name"), ctl_s(m, "cut"), a, b,
            (long long)json_integer_value(json_array_get(shape, 0)),
            (long long)json_integer_value(json_array_get(shape, 1)),
            (long long)json_integer_value(json_array_get(shape, 2)), ctl_i(m, "part_dim"),
            ctl_i(m, "full_dim"));
}

/* Parses FILE [--cut NAME] [--name N] [--no-wait]; positional args into pos[]. */
static int ctl_model_args(int argc, char **argv, const char **pos, int n_pos, const char **cut,
                          const char **name, int *wait)
{
    static const struct option opts[] = {{"cut", required_argument, NULL, 'c'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"no-wait", no_argument, NULL, 'W'},
                                         {NULL, 0, NULL, 0}};
    int c, k = 0;
    opterr = 0;
    optind = 0; /* GNU getopt: full re-initialisation (ctl_main parsed with "+") */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c')
            *cut = optarg;
        else if (c == 'n')
            *name = optarg;
        else if (c == 'W')
            *wait = 0;
        else
            return -1;
    }
    for (int i = optind; i < argc; i++) {
        if (k == n_pos)
            return -1;
        pos[k++] = argv[i];
    }
    return k == n_pos ? 0 : -1;
}

static int ctl_model_upload(ctl_t *ctl, const char *route, const char *file, const char *cut,
                            const char *name, json_t **reply)
{
    char path[1024], qcut[256], qname[512];
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = ctl_read_file(file, &data, &len);
    if (rc != CTL_EXIT_OK)
        return rc;
    const char *base = strrchr(file, '/');
    ctl_qenc(cut ? cut : "", qcut, sizeof qcut);
    ctl_qenc(name ? name : (base ? base + 1 : file), qname, sizeof qname);
    snprintf(path, sizeof path, "%s?name=%s%s%s", route, qname, cut ? "&cut=" : "", cut ? qcut : "");
    rc = ctl_upload(ctl, path, data, len, "application/octet-stream", reply);
    free(data);
    return rc;
}

int ctl_wf_model_push(ctl_t *ctl, int argc, char **argv)
{
    const char *pos[2], *cut = NULL, *name = NULL;
    int wait = 1, rc;
    char route[128];
    json_t *r = NULL;
    if (ctl_model_args(argc, argv, pos, 2, &cut, &name, &wait) < 0 || !ctl_dev_ok(pos[0]))
        return ctl_usage("model push DEV FILE.tflite [--cut NAME] [--name N] [--no-wait]");
    snprintf(route, sizeof route, "/api/devices/%s/model", pos[0]);
    rc = ctl_model_upload(ctl, route, pos[1], cut, name, &r);
    if (rc == CTL_EXIT_OK) {
        if (!ctl->json)
            ctl_print_model(ctl, json_object_get(r, "model"));
        rc = ctl_started(ctl, r, wait);
    }
    json_decref(r);
    return rc;
}

int ctl_wf_model_import(ctl_t *ctl, int argc, char **argv)
{
    const char *pos[1], *cut = NULL, *name = NULL;
    int wait = 1, rc;
    json_t *r = NULL;
    if (ctl_model_args(argc, argv, pos, 1, &cut, &name, &wait) < 0)
        return ctl_usage("model import FILE.tflite [--cut NAME] [--name N]");
    rc = ctl_model_upload(ctl, "/api/models", pos[0], cut, name, &r);
    if (rc == CTL_EXIT_OK) {
        if (ctl->json)
            rc = ctl_print_json(ctl, r);
        else
            ctl_print_model(ctl, r);
    }
    json_decref(r);
    return rc;
}

int ctl_wf_models(ctl_t *ctl, int argc, char **argv)
{
    static const char *const headers[] = {"SHA256", "SOURCE", "CUT", "IMAGE", "ARENA", "INPUT"};
    json_t *r = NULL, *m;
    size_t i;
    if (argc != 1)
        return ctl_usage("models");
    int rc = ctl_request(ctl, "GET", "/api/models", NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl->json) {
        rc = ctl_print_json(ctl, r);
        json_decref(r);
        return rc;
    }
    ctl_table_t *t = ctl_table_new(headers, 6);
    json_array_foreach(json_object_get(r, "models"), i, m) {
        char a[32], b[32], in[48], sha[20];
        json_t *sh = json_object_get(m, "input_shape");
        ctl_format_bytes(ctl_i(m, "image_bytes"), a, sizeof a);
        ctl_format_bytes(ctl_i(m, "arena_bytes"), b, sizeof b);
        snprintf(in, sizeof in, "%lldx%lldx%lld", (long long)json_integer_value(json_array_get(sh, 0)),
                 (long long)json_integer_value(json_array_get(sh, 1)),
                 (long long)json_integer_value(json_array_get(sh, 2)));
        snprintf(sha, sizeof sha, "%.16s", ctl_s(m, "sha256"));
        const char *row[] = {sha, ctl_s(m, "source_name"), ctl_s(m, "cut"), a, b, in};
        if (t)
            ctl_table_add(t, row);
    }
    if (t)
        ctl_table_print(t, ctl->out);
    ctl_table_free(t);
    json_decref(r);
    return CTL_EXIT_OK;
}

/* ---- jobs ---- */

int ctl_wf_jobs(ctl_t *ctl, int argc, char **argv)
{
    static const char *const headers[] = {"ID", "KIND", "DEVICE", "STATE", "PROGRESS", "CREATED",
                                          "ERROR"};
    char path[128] = "/api/jobs?limit=50";
    json_t *r = NULL, *j;
    size_t i;
    if (argc == 3 && strcmp(argv[1], "--device") == 0 && ctl_dev_ok(argv[2]))
        snprintf(path, sizeof path, "/api/jobs?limit=50&device=%s", argv[2]);
    else if (argc != 1)
        return ctl_usage("jobs [--device DEV]");
    int rc = ctl_request(ctl, "GET", path, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl->json) {
        rc = ctl_print_json(ctl, r);
        json_decref(r);
        return rc;
    }
    ctl_table_t *t = ctl_table_new(headers, 7);
    json_array_foreach(json_object_get(r, "jobs"), i, j) {
        char id[24], prog[48], when[32];
        json_t *p = json_object_get(j, "progress");
        snprintf(id, sizeof id, "%lld", ctl_i(j, "id"));
        snprintf(prog, sizeof prog, "%.0f%% %s", 100 * ctl_f(p, "fraction"), ctl_s(p, "phase"));
        ctl_format_ago(ctl_i(j, "created_ms"), when, sizeof when);
        const char *row[] = {id, ctl_s(j, "kind"), ctl_s(j, "device"), ctl_s(j, "state"), prog,
                             when, json_is_string(json_object_get(j, "error")) ? ctl_s(j, "error")
                                                                                : NULL};
        if (t)
            ctl_table_add(t, row);
    }
    if (t)
        ctl_table_print(t, ctl->out);
    ctl_table_free(t);
    json_decref(r);
    return CTL_EXIT_OK;
}

static int ctl_job_id(const char *s, long long *id)
{
    char *end = NULL;
    *id = strtoll(s, &end, 10);
    return end != s && *end == '\0' && *id > 0 ? 0 : -1;
}

int ctl_wf_job(ctl_t *ctl, int argc, char **argv)
{
    long long id;
    int wait = argc == 3 && strcmp(argv[2], "--wait") == 0;
    if ((argc != 2 && !wait) || ctl_job_id(argv[1], &id) < 0)
        return ctl_usage("job ID [--wait]");
    if (wait)
        return ctl_wait_job(ctl, id);
    char path[64];
    json_t *j = NULL;
    snprintf(path, sizeof path, "/api/jobs/%lld", id);
    int rc = ctl_request(ctl, "GET", path, NULL, &j);
    if (rc == CTL_EXIT_OK) {
        if (ctl->json)
            rc = ctl_print_json(ctl, j);
        else
            ctl_print_job(ctl, j);
    }
    json_decref(j);
    return rc;
}

int ctl_wf_job_rerun(ctl_t *ctl, int argc, char **argv)
{
    long long id;
    int wait = !(argc == 3 && strcmp(argv[2], "--no-wait") == 0);
    if ((argc != 2 && wait) || ctl_job_id(argv[1], &id) < 0)
        return ctl_usage("job rerun ID [--no-wait]");
    char path[64];
    json_t *r = NULL;
    snprintf(path, sizeof path, "/api/jobs/%lld/rerun", id);
    int rc = ctl_request(ctl, "POST", path, NULL, &r);
    if (rc == CTL_EXIT_OK)
        rc = ctl_started(ctl, r, wait);
    json_decref(r);
    return rc;
}

/* ---- samples ---- */

static int ctl_add_one(ctl_t *ctl, const char *dev, const char *label, const char *file,
                       json_t **reply)
{
    char path[1024], ql[200], qs[400];
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = ctl_read_file(file, &data, &len);
    if (rc != CTL_EXIT_OK)
        return rc;
    const char *base = strrchr(file, '/');
    ctl_qenc(label, ql, sizeof ql);
    ctl_qenc(base ? base + 1 : file, qs, sizeof qs);
    snprintf(path, sizeof path, "/api/devices/%s/samples?label=%s&source=%s", dev, ql, qs);
    rc = ctl_upload(ctl, path, data, len, "application/octet-stream", reply);
    free(data);
    return rc;
}

static int ctl_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* FILES given with --label, or DIR/CLASS/FILE: one request per image. */
int ctl_wf_samples_add(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"label", required_argument, NULL, 'l'},
                                         {NULL, 0, NULL, 0}};
    const char *label = NULL;
    char (*files)[1024] = NULL, (*labels)[128] = NULL;
    size_t n = 0, cap = 0;
    json_t *all = json_array();
    int c, rc = CTL_EXIT_OK;
    opterr = 0;
    optind = 0; /* GNU getopt: full re-initialisation (ctl_main parsed with "+") */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'l')
            return ctl_usage("samples add DEV (--label L FILE... | DIR with one folder per class)");
        label = optarg;
    }
    if (optind + 2 > argc || !ctl_dev_ok(argv[optind]))
        return ctl_usage("samples add DEV (--label L FILE... | DIR with one folder per class)");
    const char *dev = argv[optind];
    /* Gather (file, label) pairs first, so the bar knows the total. */
    for (int a = optind + 1; a < argc; a++) {
        struct dirent **cls = NULL;
        int n_cls = ctl_is_dir(argv[a]) ? scandir(argv[a], &cls, NULL, alphasort) : -1;
        if (!ctl_is_dir(argv[a]) && label == NULL) {
            rc = ctl_fail("%s: give --label for single files (or a folder of class folders)", argv[a]);
            goto out;
        }
        for (int i = -1; i < (n_cls < 0 ? 0 : n_cls); i++) {
            char sub[1024];
            const char *cls_name = label;
            struct dirent **ents = NULL;
            int n_ent;
            if (n_cls < 0) {
                n_ent = 1; /* a single file */
            } else {
                if (i < 0 || cls[i]->d_name[0] == '.')
                    continue;
                snprintf(sub, sizeof sub, "%s/%s", argv[a], cls[i]->d_name);
                if (!ctl_is_dir(sub))
                    continue;
                cls_name = cls[i]->d_name;
                n_ent = scandir(sub, &ents, NULL, alphasort);
            }
            for (int e = 0; e < n_ent; e++) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    files = realloc(files, cap * sizeof *files);
                    labels = realloc(labels, cap * sizeof *labels);
                    if (files == NULL || labels == NULL) {
                        rc = ctl_fail("out of memory");
                        goto out;
                    }
                }
                if (n_cls < 0) {
                    snprintf(files[n], sizeof files[n], "%s", argv[a]);
                } else {
                    if (ents[e]->d_name[0] == '.')
                        continue;
                    if (strlen(sub) + strlen(ents[e]->d_name) + 2 > sizeof files[n])
                        continue; /* a path that long is not ours to guess at */
                    memcpy(files[n], sub, strlen(sub));
                    files[n][strlen(sub)] = '/';
                    strcpy(files[n] + strlen(sub) + 1, ents[e]->d_name);
                }
                if (strlen(cls_name) >= sizeof labels[n]) {
                    rc = ctl_fail("label '%s' is too long", cls_name);
                    goto out;
                }
                strcpy(labels[n], cls_name);
                n++;
            }
            for (int e = 0; n_cls >= 0 && e < n_ent; e++)
                free(ents[e]);
            free(ents);
            if (n_cls < 0)
                break;
        }
        for (int i = 0; i < n_cls; i++)
            free(cls[i]);
        free(cls);
    }
    if (n == 0) {
        rc = ctl_fail("no image files found");
        goto out;
    }
    int tty = isatty(2) && !ctl->json;
    for (size_t i = 0; i < n; i++) {
        json_t *r = NULL;
        rc = ctl_add_one(ctl, dev, labels[i], files[i], &r);
        if (rc != CTL_EXIT_OK) {
            if (tty)
                fputc('\n', stderr);
            fprintf(stderr, "microtctl: stopped at %s; %zu of %zu stored\n", files[i], i, n);
            goto out;
        }
        json_array_append_new(all, r);
        if (tty) {
            char d[64];
            snprintf(d, sizeof d, "%zu/%zu", i + 1, n);
            ctl_bar("samples", (double)(i + 1) / n, d);
        }
    }
    if (tty)
        fputc('\n', stderr);
    if (ctl->json)
        rc = ctl_print_json(ctl, all);
    else
        fprintf(ctl->out, "%zu sample%s added to %s\n", n, n == 1 ? "" : "s", dev);
out:
    json_decref(all);
    free(files);
    free(labels);
    return rc;
}

static void ctl_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int ctl_wf_samples_idx(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"start", required_argument, NULL, 's'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"per-class", required_argument, NULL, 'p'},
                                         {"names", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *usage = "samples idx DEV IMAGES.idx[.gz] LABELS.idx[.gz] [--start K] [--count N] "
                        "[--per-class N] [--names fashion-mnist]";
    unsigned long start = 0, count = 0, per_class = 0;
    const char *names = NULL;
    char err[256], path[512], qs[300];
    prep_idx_t idx;
    uint8_t *body = NULL;
    json_t *r = NULL;
    int c, rc;
    opterr = 0;
    optind = 0; /* GNU getopt: full re-initialisation (ctl_main parsed with "+") */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        unsigned long v = 0;
        if (c != 'n') {
            v = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0')
                return ctl_usage(usage);
        }
        switch (c) {
        case 's': start = v; break;
        case 'c': count = v; break;
        case 'p': per_class = v; break;
        case 'n': names = optarg; break;
        default: return ctl_usage(usage);
        }
    }
    if (optind + 3 != argc || !ctl_dev_ok(argv[optind]))
        return ctl_usage(usage);
    const char *dev = argv[optind];
    if (prep_idx_open(argv[optind + 1], argv[optind + 2], &idx, err, sizeof err) < 0)
        return ctl_fail("%s", err);
    if (start >= idx.n) {
        prep_idx_free(&idx);
        return ctl_fail("--start %lu is past the %u samples", start, idx.n);
    }
    /* A contiguous slice [start, stop) as an uncompressed IDX pair (images then labels), so the
     * daemon names each sample by its index in the file; with --per-class the slice ends where
     * every label that occurs has its count, and the daemon keeps per_class of each. */
    size_t px = (size_t)idx.rows * idx.cols;
    uint32_t stop = count == 0 || count > idx.n - start ? idx.n : (uint32_t)(start + count);
    if (per_class) {
        uint32_t taken[256] = {0}, seen[256] = {0}, full = 0, kinds = 0;
        uint8_t done[256] = {0};
        for (uint32_t i = (uint32_t)start; i < stop; i++)
            if (!seen[idx.labels[i]]++)
                kinds++;
        for (uint32_t i = (uint32_t)start; i < stop; i++) {
            uint8_t lb = idx.labels[i];
            taken[lb]++;
            /* this label has its count, or all it will ever get in the range */
            if (!done[lb] && (taken[lb] == per_class || taken[lb] == seen[lb])) {
                done[lb] = 1;
                full++;
            }
            if (full == kinds) {
                stop = i + 1;
                break;
            }
        }
    }
    uint32_t n = stop - (uint32_t)start;
    if (16 + (size_t)n * px + 8 + n > CTL_WF_MAX_FILE_BYTES) {
        rc = ctl_fail("%u images are over the %u byte upload limit: use --count or --per-class",
                      n, CTL_WF_MAX_FILE_BYTES);
        goto out;
    }
    size_t images_bytes = 16 + (size_t)n * px;
    body = malloc(images_bytes + 8 + n);
    if (body == NULL) {
        rc = ctl_fail("out of memory");
        goto out;
    }
    ctl_be32(body, 0x803);
    ctl_be32(body + 4, n);
    ctl_be32(body + 8, idx.rows);
    ctl_be32(body + 12, idx.cols);
    memcpy(body + 16, idx.images + start * px, (size_t)n * px);
    ctl_be32(body + images_bytes, 0x801);
    ctl_be32(body + images_bytes + 4, n);
    memcpy(body + images_bytes + 8, idx.labels + start, n);
    const char *base = strrchr(argv[optind + 1], '/');
    ctl_qenc(base ? base + 1 : argv[optind + 1], qs, sizeof qs);
    snprintf(path, sizeof path, "/api/devices/%s/samples/idx?images_bytes=%zu&source=%s"
             "&index_base=%lu&per_class=%lu%s%s", dev, images_bytes, qs, start, per_class,
             names ? "&names=" : "", names ? names : "");
    long long t0 = ctl_mono_ms();
    rc = ctl_upload(ctl, path, body, images_bytes + 8 + n, "application/octet-stream", &r);
    if (rc == CTL_EXIT_OK) {
        if (ctl->json)
            rc = ctl_print_json(ctl, r);
        else
            fprintf(ctl->out, "%lld samples added to %s (ids %lld..%lld) in %.2f s\n",
                    ctl_i(r, "added"), dev, ctl_i(r, "first_id"), ctl_i(r, "last_id"),
                    (ctl_mono_ms() - t0) / 1000.0);
    }
out:
    json_decref(r);
    free(body);
    prep_idx_free(&idx);
    return rc;
}

int ctl_wf_samples_list(ctl_t *ctl, int argc, char **argv)
{
    static const char *const headers[] = {"ID", "LABEL", "SOURCE", "SHAPE", "ADDED"};
    char path[512], ql[200];
    json_t *r = NULL, *x;
    size_t i;
    if (argc == 4 && strcmp(argv[2], "--label") == 0) {
        ctl_qenc(argv[3], ql, sizeof ql);
    } else if (argc != 2) {
        return ctl_usage("samples list DEV [--label L]");
    }
    if (!ctl_dev_ok(argv[1]))
        return ctl_usage("samples list DEV [--label L]");
    snprintf(path, sizeof path, "/api/devices/%s/samples?limit=500%s%s", argv[1],
             argc == 4 ? "&label=" : "", argc == 4 ? ql : "");
    int rc = ctl_request(ctl, "GET", path, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl->json) {
        rc = ctl_print_json(ctl, r);
        json_decref(r);
        return rc;
    }
    ctl_table_t *t = ctl_table_new(headers, 5);
    json_array_foreach(json_object_get(r, "samples"), i, x) {
        char id[24], shape[48], when[32];
        json_t *sh = json_object_get(x, "shape");
        snprintf(id, sizeof id, "%lld", ctl_i(x, "id"));
        snprintf(shape, sizeof shape, "%lldx%lldx%lld",
                 (long long)json_integer_value(json_array_get(sh, 0)),
                 (long long)json_integer_value(json_array_get(sh, 1)),
                 (long long)json_integer_value(json_array_get(sh, 2)));
        ctl_format_ago(ctl_i(x, "created_ms"), when, sizeof when);
        const char *row[] = {id, ctl_s(x, "label"), ctl_s(x, "source"), shape, when};
        if (t)
            ctl_table_add(t, row);
    }
    if (t)
        ctl_table_print(t, ctl->out);
    fprintf(ctl->out, "%lld sample(s)%s\n", ctl_i(r, "total"),
            json_is_integer(json_object_get(r, "next_after")) ? ", first 500 shown" : "");
    ctl_table_free(t);
    json_decref(r);
    return CTL_EXIT_OK;
}

int ctl_wf_samples_relabel(ctl_t *ctl, int argc, char **argv)
{
    long long sid;
    if (argc != 4 || !ctl_dev_ok(argv[1]) || ctl_job_id(argv[2], &sid) < 0)
        return ctl_usage("samples relabel DEV SAMPLE LABEL");
    char path[128];
    json_t *body = json_pack("{s:s}", "label", argv[3]), *r = NULL;
    snprintf(path, sizeof path, "/api/devices/%s/samples/%lld", argv[1], sid);
    int rc = ctl_request(ctl, "PATCH", path, body, &r);
    json_decref(body);
    if (rc == CTL_EXIT_OK) {
        if (ctl->json)
            rc = ctl_print_json(ctl, r);
        else
            fprintf(ctl->out, "sample %lld is now '%s'\n", sid, ctl_s(r, "label"));
    }
    json_decref(r);
    return rc;
}

int ctl_wf_samples_rm(ctl_t *ctl, int argc, char **argv)
{
    long long sid;
    if (argc != 3 || !ctl_dev_ok(argv[1]) || ctl_job_id(argv[2], &sid) < 0)
        return ctl_usage("samples rm DEV SAMPLE");
    char path[128];
    json_t *r = NULL;
    snprintf(path, sizeof path, "/api/devices/%s/samples/%lld", argv[1], sid);
    int rc = ctl_request(ctl, "DELETE", path, NULL, &r);
    if (rc == CTL_EXIT_OK) {
        if (ctl->json)
            rc = ctl_print_json(ctl, r);
        else
            fprintf(ctl->out, "sample %lld deleted\n", sid);
    }
    json_decref(r);
    return rc;
}

/* ---- training, decision, inference ---- */

int ctl_wf_train(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"seed", required_argument, NULL, 's'},
                                         {"holdout", required_argument, NULL, 'h'},
                                         {"l2", required_argument, NULL, 'l'},
                                         {"epochs", required_argument, NULL, 'e'},
                                         {"no-wait", no_argument, NULL, 'W'},
                                         {NULL, 0, NULL, 0}};
    const char *usage = "train DEV [--seed N] [--holdout F] [--l2 F] [--epochs N] [--no-wait]";
    json_t *body = json_object(), *r = NULL;
    int c, wait = 1, rc;
    opterr = 0;
    optind = 0; /* GNU getopt: full re-initialisation (ctl_main parsed with "+") */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        double v = c == 'W' ? 0 : strtod(optarg, &end);
        if (c != 'W' && (end == optarg || *end != '\0')) {
            json_decref(body);
            return ctl_usage(usage);
        }
        switch (c) {
        case 's': json_object_set_new(body, "seed", json_integer((json_int_t)v)); break;
        case 'h': json_object_set_new(body, "holdout_fraction", json_real(v)); break;
        case 'l': json_object_set_new(body, "l2", json_real(v)); break;
        case 'e': json_object_set_new(body, "max_epochs", json_integer((json_int_t)v)); break;
        case 'W': wait = 0; break;
        default: json_decref(body); return ctl_usage(usage);
        }
    }
    if (optind + 1 != argc || !ctl_dev_ok(argv[optind])) {
        json_decref(body);
        return ctl_usage(usage);
    }
    char path[128];
    snprintf(path, sizeof path, "/api/devices/%s/train", argv[optind]);
    rc = ctl_request(ctl, "POST", path, body, &r);
    json_decref(body);
    if (rc == CTL_EXIT_OK)
        rc = ctl_started(ctl, r, wait);
    json_decref(r);
    return rc;
}

int ctl_wf_decision(ctl_t *ctl, int argc, char **argv)
{
    const char *usage = "decision DEV [--ratio R | --energy-budget UJ | --accuracy-floor A]";
    char path[128];
    json_t *r = NULL;
    int rc;
    if ((argc != 2 && argc != 4) || !ctl_dev_ok(argv[1]))
        return ctl_usage(usage);
    snprintf(path, sizeof path, "/api/devices/%s/decision", argv[1]);
    if (argc == 4) {
        const char *policy = strcmp(argv[2], "--ratio") == 0            ? "ratio"
                             : strcmp(argv[2], "--energy-budget") == 0  ? "energy_budget"
                             : strcmp(argv[2], "--accuracy-floor") == 0 ? "accuracy_floor"
                                                                        : NULL;
        char *end = NULL;
        double v = strtod(argv[3], &end);
        if (policy == NULL || end == argv[3] || *end != '\0')
            return ctl_usage(usage);
        json_t *body = json_pack("{s:s, s:f}", "policy", policy, "target", v);
        rc = ctl_request(ctl, "PUT", path, body, &r);
        json_decref(body);
    } else {
        rc = ctl_request(ctl, "GET", path, NULL, &r);
    }
    if (rc == CTL_EXIT_OK) {
        if (ctl->json) {
            rc = ctl_print_json(ctl, r);
        } else {
            fprintf(ctl->out, "policy %s, target %g", ctl_s(r, "policy"), ctl_f(r, "target"));
            if (json_is_number(json_object_get(r, "ratio")))
                fprintf(ctl->out, "; ratio %.3f, threshold %.4f", ctl_f(r, "ratio"),
                        ctl_f(r, "threshold"));
            json_t *ap = json_object_get(r, "applied");
            if (ap != NULL)
                fprintf(ctl->out, "%s", json_is_true(ap) ? " (in force on the board)"
                                                         : " (applied after the next training)");
            fputc('\n', ctl->out);
        }
    }
    json_decref(r);
    return rc;
}

int ctl_wf_tradeoff(ctl_t *ctl, int argc, char **argv)
{
    static const char *const headers[] = {"RATIO", "ACCURACY", "ENERGY (uJ)", "EXITS"};
    char path[128];
    json_t *r = NULL, *p;
    size_t i;
    if (argc != 2 || !ctl_dev_ok(argv[1]))
        return ctl_usage("tradeoff DEV");
    snprintf(path, sizeof path, "/api/devices/%s/tradeoff", argv[1]);
    int rc = ctl_request(ctl, "GET", path, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl->json) {
        rc = ctl_print_json(ctl, r);
        json_decref(r);
        return rc;
    }
    ctl_table_t *t = ctl_table_new(headers, 4);
    json_array_foreach(json_object_get(r, "points"), i, p) {
        char a[24], b[24], c[24], d[24];
        snprintf(a, sizeof a, "%.2f", ctl_f(p, "ratio"));
        snprintf(b, sizeof b, "%.1f %%", 100 * ctl_f(p, "accuracy"));
        snprintf(c, sizeof c, "%.0f", ctl_f(p, "energy_uj"));
        snprintf(d, sizeof d, "%.1f %%", 100 * ctl_f(p, "exit_fraction"));
        const char *row[] = {a, b, c, d};
        if (t)
            ctl_table_add(t, row);
    }
    if (t)
        ctl_table_print(t, ctl->out);
    ctl_table_free(t);
    json_decref(r);
    return CTL_EXIT_OK;
}

int ctl_wf_classify(ctl_t *ctl, int argc, char **argv)
{
    const char *expected = NULL;
    char path[512], qe[200];
    uint8_t *data = NULL;
    size_t len = 0;
    json_t *r = NULL;
    if (argc == 5 && strcmp(argv[3], "--expected") == 0)
        expected = argv[4];
    else if (argc != 3)
        return ctl_usage("classify DEV IMAGE [--expected LABEL]");
    if (!ctl_dev_ok(argv[1]))
        return ctl_usage("classify DEV IMAGE [--expected LABEL]");
    int rc = ctl_read_file(argv[2], &data, &len);
    if (rc != CTL_EXIT_OK)
        return rc;
    ctl_qenc(expected ? expected : "", qe, sizeof qe);
    snprintf(path, sizeof path, "/api/devices/%s/classify%s%s", argv[1],
             expected ? "?expected=" : "", expected ? qe : "");
    rc = ctl_upload(ctl, path, data, len, "application/octet-stream", &r);
    free(data);
    if (rc == CTL_EXIT_OK) {
        if (ctl->json)
            rc = ctl_print_json(ctl, r);
        else
            fprintf(ctl->out, "%s (class %lld), confidence %.3f, stage %lld, %.1f uJ, %lld cycles%s\n",
                    ctl_s(r, "label"), ctl_i(r, "class"), ctl_f(r, "confidence"), ctl_i(r, "stage"),
                    ctl_i(r, "energy_nj") / 1000.0, ctl_i(r, "cycles"),
                    json_is_true(json_object_get(r, "correct"))    ? " — correct"
                    : json_is_false(json_object_get(r, "correct")) ? " — wrong"
                                                                    : "");
    }
    json_decref(r);
    return rc;
}

int ctl_wf_inferences(ctl_t *ctl, int argc, char **argv)
{
    static const char *const headers[] = {"ID", "LABEL", "CONF", "STAGE", "uJ", "EXPECTED", "WHEN"};
    char path[128];
    json_t *r = NULL, *x;
    size_t i;
    if (argc != 2 || !ctl_dev_ok(argv[1]))
        return ctl_usage("inferences DEV");
    snprintf(path, sizeof path, "/api/devices/%s/inferences?limit=500", argv[1]);
    int rc = ctl_request(ctl, "GET", path, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl->json) {
        rc = ctl_print_json(ctl, r);
        json_decref(r);
        return rc;
    }
    ctl_table_t *t = ctl_table_new(headers, 7);
    json_array_foreach(json_object_get(r, "inferences"), i, x) {
        char id[24], conf[16], st[8], uj[24], when[32];
        snprintf(id, sizeof id, "%lld", ctl_i(x, "id"));
        snprintf(conf, sizeof conf, "%.3f", ctl_f(x, "confidence"));
        snprintf(st, sizeof st, "%lld", ctl_i(x, "stage"));
        snprintf(uj, sizeof uj, "%.0f", ctl_i(x, "energy_nj") / 1000.0);
        ctl_format_ago(ctl_i(x, "at_ms"), when, sizeof when);
        const char *row[] = {id, ctl_s(x, "label"), conf, st, uj, ctl_s(x, "expected"), when};
        if (t)
            ctl_table_add(t, row);
    }
    if (t)
        ctl_table_print(t, ctl->out);
    json_t *s = json_object_get(r, "summary");
    fprintf(ctl->out, "%lld inference(s), %lld exited at stage 1", ctl_i(s, "count"),
            ctl_i(s, "stage1_exits"));
    if (ctl_i(s, "labeled") > 0)
        fprintf(ctl->out, "; accuracy %.1f %% on %lld labeled", 100 * ctl_f(s, "accuracy"),
                ctl_i(s, "labeled"));
    fputc('\n', ctl->out);
    ctl_table_free(t);
    json_decref(r);
    return CTL_EXIT_OK;
}

int ctl_wf_stats(ctl_t *ctl, int argc, char **argv)
{
    static const char *const headers[] = {"WHEN", "INFERENCES", "STAGE-1 EXITS", "ENERGY (mJ)",
                                          "FRAMES RX/TX", "CRC ERR"};
    char path[128];
    json_t *r = NULL, *x;
    size_t i;
    if (argc != 2 || !ctl_dev_ok(argv[1]))
        return ctl_usage("stats DEV");
    snprintf(path, sizeof path, "/api/devices/%s/stats?limit=500", argv[1]);
    int rc = ctl_request(ctl, "GET", path, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl->json) {
        rc = ctl_print_json(ctl, r);
        json_decref(r);
        return rc;
    }
    ctl_table_t *t = ctl_table_new(headers, 6);
    json_array_foreach(json_object_get(r, "series"), i, x) {
        char when[48], a[24], b[24], c[24], d[48], e[24];
        ctl_format_time(ctl_i(x, "at_ms"), when, sizeof when);
        snprintf(a, sizeof a, "%lld", ctl_i(x, "inferences"));
        snprintf(b, sizeof b, "%lld", ctl_i(x, "stage1_exits"));
        snprintf(c, sizeof c, "%.2f", ctl_i(x, "energy_nj") / 1e6);
        snprintf(d, sizeof d, "%lld/%lld", ctl_i(x, "frames_rx"), ctl_i(x, "frames_tx"));
        snprintf(e, sizeof e, "%lld", ctl_i(x, "crc_errors"));
        const char *row[] = {when, a, b, c, d, e};
        if (t)
            ctl_table_add(t, row);
    }
    if (t)
        ctl_table_print(t, ctl->out);
    ctl_table_free(t);
    json_decref(r);
    return CTL_EXIT_OK;
}

int ctl_wf_capture(ctl_t *ctl, int argc, char **argv)
{
    char path[128];
    json_t *body = NULL, *r = NULL;
    if (!((argc == 2) || (argc == 4 && strcmp(argv[2], "--label") == 0)) || !ctl_dev_ok(argv[1]))
        return ctl_usage("capture DEV [--label L]");
    if (argc == 4)
        body = json_pack("{s:s}", "label", argv[3]);
    snprintf(path, sizeof path, "/api/devices/%s/capture", argv[1]);
    int rc = ctl_request(ctl, "POST", path, body, &r);
    json_decref(body);
    if (rc == CTL_EXIT_OK) {
        if (ctl->json)
            rc = ctl_print_json(ctl, r);
        else
            fprintf(ctl->out, "capture requested; the frame is stored as a sample with source "
                              "'capture' (microtctl samples list %s)\n", argv[1]);
    }
    json_decref(r);
    return rc;
}

/* ---- firmware ---- */

int ctl_wf_flash(ctl_t *ctl, int argc, char **argv)
{
    static const char *const use =
        "flash DEV FILE [--base ADDR] [--format auto|bin|hex|elf] "
        "[--entry rpc|dtr-rts:SEQ|bootloader] [--no-wait]";
    static const struct option opts[] = {{"base", required_argument, NULL, 'b'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"entry", required_argument, NULL, 'e'},
                                         {"no-wait", no_argument, NULL, 'W'},
                                         {NULL, 0, NULL, 0}};
    const char *base = "0x08000000", *format = "auto", *entry = "rpc", *pos[2] = {NULL, NULL};
    char path[512], qbase[64], qformat[32], qentry[256];
    uint8_t *data = NULL;
    size_t len = 0;
    json_t *r = NULL;
    int c, k = 0, wait = 1, rc;

    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b')
            base = optarg;
        else if (c == 'f')
            format = optarg;
        else if (c == 'e')
            entry = optarg;
        else if (c == 'W')
            wait = 0;
        else
            return ctl_usage(use);
    }
    for (int i = optind; i < argc; i++) {
        if (k == 2)
            return ctl_usage(use);
        pos[k++] = argv[i];
    }
    if (k != 2 || !ctl_dev_ok(pos[0]))
        return ctl_usage(use);
    rc = ctl_read_file(pos[1], &data, &len);
    if (rc != CTL_EXIT_OK)
        return rc;
    /* The daemon checks everything (format, address, entry, the image against the part) before
     * the board is touched, and says why it refuses. */
    ctl_qenc(base, qbase, sizeof qbase);
    ctl_qenc(format, qformat, sizeof qformat);
    ctl_qenc(entry, qentry, sizeof qentry);
    snprintf(path, sizeof path, "/api/devices/%s/flash?format=%s&base=%s&entry=%s", pos[0],
             qformat, qbase, qentry);
    rc = ctl_upload(ctl, path, data, len, "application/octet-stream", &r);
    free(data);
    if (rc == CTL_EXIT_OK)
        rc = ctl_started(ctl, r, wait);
    json_decref(r);
    return rc;
}
