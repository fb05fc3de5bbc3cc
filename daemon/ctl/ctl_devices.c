/*
 * ctl_devices.c — `devices`, `device ID` and `ping ID` (see ctl_devices.h).
 * They print what GET /api/devices, GET /api/devices/{id} and POST /api/devices/{id}/ping
 * return; docs/api.md describes the fields.
 */
#include "ctl_devices.h"

#include <stdlib.h>
#include <string.h>

#include "ctl_table.h"

#define CTL_DEVICES_PAGE 500 /* the API's largest page */

static const char *ctl_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static long long ctl_int(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* An id as typed: the API checks it; here only what would break the URL is refused. */
static int ctl_device_arg(int argc, char **argv, const char *usage, const char **id)
{
    if (argc != 2 || argv[1][0] == '\0')
        return ctl_usage(usage);
    for (const char *p = argv[1]; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return ctl_fail("'%s' is not a device id (24 hex digits, the MCU unique ID)", argv[1]);
    *id = argv[1];
    return CTL_EXIT_OK;
}

int ctl_devices_list(ctl_t *ctl, int argc, char **argv)
{
    static const char *const headers[] = {"ID", "BOARD", "STATE", "FIRMWARE", "PORT",
                                          "LAST SEEN", "RTT"};
    json_t *all = NULL, *page = NULL;
    ctl_table_t *t = NULL;
    int rc;

    if (argc != 1)
        return ctl_usage("devices");
    /* Every page, merged into the first reply's "devices". */
    for (long long offset = 0;; offset += CTL_DEVICES_PAGE) {
        char path[96];
        snprintf(path, sizeof path, "/api/devices?offset=%lld&limit=%d", offset, CTL_DEVICES_PAGE);
        rc = ctl_request(ctl, "GET", path, NULL, &page);
        if (rc != CTL_EXIT_OK)
            goto out;
        json_t *list = json_object_get(page, "devices");
        size_t n = json_array_size(list);
        if (all == NULL) {
            all = page;
        } else {
            json_array_extend(json_object_get(all, "devices"), list);
            json_decref(page);
        }
        page = NULL;
        if (n < CTL_DEVICES_PAGE)
            break;
    }
    json_object_del(all, "offset");
    json_object_del(all, "limit");
    if (ctl->json) {
        rc = ctl_print_json(ctl, all);
        goto out;
    }
    t = ctl_table_new(headers, sizeof headers / sizeof headers[0]);
    if (t == NULL) {
        rc = ctl_fail("out of memory");
        goto out;
    }
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(all, "devices"), i, d) {
        char seen[32], rtt[32] = "-";
        ctl_format_ago(ctl_int(d, "last_seen_ms"), seen, sizeof seen);
        json_t *live = json_object_get(d, "live");
        if (json_is_object(live))
            snprintf(rtt, sizeof rtt, "%lld us", ctl_int(live, "rtt_us"));
        const char *row[] = {ctl_str(d, "id"), ctl_str(d, "board"), ctl_str(d, "state"),
                             ctl_str(d, "firmware_version"), ctl_str(d, "port"), seen, rtt};
        if (ctl_table_add(t, row) < 0) {
            rc = ctl_fail("out of memory");
            goto out;
        }
    }
    ctl_table_print(t, ctl->out);
    fprintf(ctl->out, "%lld device%s, %lld online\n", ctl_int(all, "total"),
            ctl_int(all, "total") == 1 ? "" : "s", ctl_int(all, "online"));
    rc = CTL_EXIT_OK;
out:
    ctl_table_free(t);
    json_decref(page);
    json_decref(all);
    return rc;
}

int ctl_devices_show(ctl_t *ctl, int argc, char **argv)
{
    static const char *const headers[] = {"AT", "FROM", "TO", "REASON"};
    const char *id = NULL;
    char path[128], a[96], b[96];
    json_t *d = NULL;
    ctl_table_t *t = NULL;
    int rc = ctl_device_arg(argc, argv, "device ID", &id);

    if (rc != CTL_EXIT_OK)
        return rc;
    snprintf(path, sizeof path, "/api/devices/%s", id);
    rc = ctl_request(ctl, "GET", path, NULL, &d);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (ctl->json) {
        rc = ctl_print_json(ctl, d);
        goto out;
    }
    FILE *o = ctl->out;
    fprintf(o, "id            %s\n", ctl_str(d, "id"));
    fprintf(o, "board         %s (kind %lld)\n", ctl_str(d, "board"), ctl_int(d, "board_kind"));
    ctl_format_time(ctl_int(d, "state_since_ms"), a, sizeof a);
    fprintf(o, "state         %s since %s\n", ctl_str(d, "state"), a);
    fprintf(o, "firmware      %s (protocol %lld)\n", ctl_str(d, "firmware_version"),
            ctl_int(d, "protocol_version"));
    fprintf(o, "port          %s\n", ctl_str(d, "port"));
    ctl_format_bytes(ctl_int(d, "sram_bytes"), a, sizeof a);
    ctl_format_bytes(ctl_int(d, "flash_bytes"), b, sizeof b);
    fprintf(o, "memory        %s SRAM, %s flash\n", a, b);
    fprintf(o, "cpu           %.0f MHz\n", (double)ctl_int(d, "cpu_hz") / 1e6);
    fprintf(o, "max frame     %lld B\n", ctl_int(d, "max_frame_bytes"));
    fprintf(o, "capabilities  ");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d, "capabilities"), i, v)
        fprintf(o, "%s%s", i ? ", " : "", json_string_value(v));
    fprintf(o, "%s\n", json_array_size(json_object_get(d, "capabilities")) ? "" : "none");
    ctl_format_time(ctl_int(d, "first_seen_ms"), a, sizeof a);
    fprintf(o, "first seen    %s\n", a);
    ctl_format_time(ctl_int(d, "last_seen_ms"), a, sizeof a);
    fprintf(o, "last seen     %s\n", a);
    json_t *live = json_object_get(d, "live");
    if (json_is_object(live)) {
        const char *sha = json_string_value(json_object_get(live, "active_model_sha256"));
        fprintf(o, "connected     rtt %lld us, boot %lld, model %s\n", ctl_int(live, "rtt_us"),
                ctl_int(live, "boot_count"), sha ? sha : "none");
    } else {
        fprintf(o, "connected     no\n");
    }
    t = ctl_table_new(headers, 4);
    if (t == NULL) {
        rc = ctl_fail("out of memory");
        goto out;
    }
    json_array_foreach(json_object_get(d, "recent_transitions"), i, v) {
        ctl_format_time(ctl_int(v, "at_ms"), a, sizeof a);
        const char *row[] = {a, ctl_str(v, "from"), ctl_str(v, "to"), ctl_str(v, "reason")};
        if (ctl_table_add(t, row) < 0) {
            rc = ctl_fail("out of memory");
            goto out;
        }
    }
    fprintf(o, "\nrecent state changes:\n");
    ctl_table_print(t, o);
    rc = CTL_EXIT_OK;
out:
    ctl_table_free(t);
    json_decref(d);
    return rc;
}

int ctl_devices_ping(ctl_t *ctl, int argc, char **argv)
{
    const char *id = NULL;
    char path[128];
    json_t *r = NULL;
    int rc = ctl_device_arg(argc, argv, "ping ID", &id);

    if (rc != CTL_EXIT_OK)
        return rc;
    snprintf(path, sizeof path, "/api/devices/%s/ping", id);
    rc = ctl_request(ctl, "POST", path, NULL, &r);
    if (rc == CTL_EXIT_OK) {
        if (ctl->json)
            rc = ctl_print_json(ctl, r);
        else
            fprintf(ctl->out, "%s: round trip %lld us\n", ctl_str(r, "id"), ctl_int(r, "rtt_us"));
    }
    json_decref(r);
    return rc;
}
