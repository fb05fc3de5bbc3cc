/*
 * ctl_inspect.c — see ctl_inspect.h. The report is written to a memory stream first, so a failed
 * import prints only microtctl's one error line on stderr (not a half report on stdout).
 */
#include "ctl_inspect.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "import/model_inspect.h"
#include "mt_err.h"

/* The reason model_inspect_print gave: {"error": "..."} in JSON mode, "error: ..." in text. */
static void ctl_inspect_reason(const char *text, bool json, char *out, size_t n)
{
    json_t *doc = json ? json_loads(text, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(doc, "error"));
    if (msg == NULL) {
        msg = strncmp(text, "error: ", 7) == 0 ? text + 7 : text;
    }
    snprintf(out, n, "%s", msg);
    out[strcspn(out, "\n")] = '\0';
    json_decref(doc);
}

int ctl_inspect_model(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"cut", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0}};
    const char *cut = NULL;
    char *text = NULL;
    size_t len = 0;
    int c, rc;

    optind = 0; /* GNU getopt: full re-initialisation (ctl_main parsed with "+") */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'c')
            return ctl_usage("model inspect FILE.tflite [--cut NAME] [--json]");
        cut = optarg;
    }
    if (optind != argc - 1)
        return ctl_usage("model inspect FILE.tflite [--cut NAME] [--json]");
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL)
        return ctl_fail("out of memory");
    rc = model_inspect_print(mem, argv[optind], cut, ctl->json);
    if (fclose(mem) != 0 || text == NULL) {
        free(text);
        return ctl_fail("out of memory");
    }
    if (rc < 0) {
        char reason[512];
        ctl_inspect_reason(text, ctl->json, reason, sizeof reason);
        free(text);
        return ctl_fail("%s: %s", argv[optind], reason[0] ? reason : mt_strerror(rc));
    }
    fwrite(text, 1, len, ctl->out);
    free(text);
    return CTL_EXIT_OK;
}
