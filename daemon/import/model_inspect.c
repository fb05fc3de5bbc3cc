/*
 * model_inspect.c — text and JSON reports of an imported model (see model_inspect.h).
 */
#include "import/model_inspect.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "mt_err.h"

static void mi_shape_str(const model_import_tensor_t *t, char *buf, size_t len)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, len - n, "[");
    for (uint32_t i = 4 - t->rank; i < 4 && n < len; i++) {
        n += (size_t)snprintf(buf + n, len - n, "%s%d", i > 4 - t->rank ? "," : "", t->shape[i]);
    }
    if (n < len) {
        snprintf(buf + n, len - n, "]");
    }
}

static json_t *mi_shape_json(const model_import_tensor_t *t)
{
    json_t *a = json_array();
    for (uint32_t i = 4 - t->rank; i < 4; i++) {
        json_array_append_new(a, json_integer(t->shape[i]));
    }
    return a;
}

static int mi_report_json(FILE *out, const model_import_t *m, const char *path)
{
    json_t *root = json_object();
    json_t *ops = json_array();
    int rc = MT_OK;
    char hex[65];
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", m->sha256[i]);
    }
    json_object_set_new(root, "file", json_string(path ? path : ""));
    json_object_set_new(root, "image_bytes", json_integer(m->image_bytes));
    json_object_set_new(root, "image_sha256", json_string(hex));
    json_object_set_new(root, "cut", json_string(m->tensors[m->cut_tensor].name));
    json_object_set_new(root, "part_dim", json_integer(m->part_dim));
    json_object_set_new(root, "full_dim", json_integer(m->full_dim));
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const model_import_op_t *o = &m->ops[i];
        json_t *j = json_object();
        json_object_set_new(j, "index", json_integer(i));
        json_object_set_new(j, "stage", json_integer(o->stage));
        json_object_set_new(j, "kind", json_string(model_import_kind_name(o->kind)));
        json_object_set_new(j, "source_op", json_integer(o->src_op));
        json_object_set_new(j, "source", json_string(o->src_name));
        json_object_set_new(j, "input", json_string(m->tensors[o->in_tensor].name));
        json_object_set_new(j, "input_shape", mi_shape_json(&m->tensors[o->in_tensor]));
        json_object_set_new(j, "output", json_string(m->tensors[o->out_tensor].name));
        json_object_set_new(j, "output_shape", mi_shape_json(&m->tensors[o->out_tensor]));
        json_object_set_new(j, "macs", json_integer((json_int_t)o->macs));
        json_object_set_new(j, "weight_bytes", json_integer(o->weight_bytes));
        json_array_append_new(ops, j);
    }
    json_object_set_new(root, "ops", ops);
    json_t *s1 = json_object(), *s2 = json_object();
    json_object_set_new(s1, "ops", json_integer(m->stage1_ops));
    json_object_set_new(s1, "macs", json_integer((json_int_t)m->macs_stage1));
    json_object_set_new(s1, "weight_bytes", json_integer(m->weight_bytes_stage1));
    json_object_set_new(s1, "arena_peak_bytes", json_integer(m->arena_stage1_bytes));
    json_object_set_new(s2, "ops", json_integer(m->n_ops - m->stage1_ops));
    json_object_set_new(s2, "macs", json_integer((json_int_t)m->macs_stage2));
    json_object_set_new(s2, "weight_bytes", json_integer(m->weight_bytes_stage2));
    json_object_set_new(s2, "arena_peak_bytes_stage1_2", json_integer(m->arena_bytes));
    json_object_set_new(root, "stage1", s1);
    json_object_set_new(root, "stage2", s2);
    char *txt = json_dumps(root, JSON_INDENT(1));
    if (txt == NULL) {
        rc = MT_ENOMEM;
    } else {
        fprintf(out, "%s\n", txt);
        free(txt);
    }
    json_decref(root);
    return rc;
}

int model_inspect_report(FILE *out, const model_import_t *m, const char *path, bool json)
{
    if (json) {
        return mi_report_json(out, m, path);
    }
    fprintf(out, "model %s: device image %" PRIu32 " bytes, sha256 ", path ? path : "-",
            m->image_bytes);
    for (int i = 0; i < 32; i++) {
        fprintf(out, "%02x", m->sha256[i]);
    }
    fprintf(out, "\ncut at '%s': part feature %" PRIu32 "-d, full feature %" PRIu32 "-d ('%s')\n",
            m->tensors[m->cut_tensor].name, m->part_dim, m->full_dim,
            m->tensors[m->full_tensor].name);
    fprintf(out, "%4s %5s %-9s %-22s %-16s %-16s %12s %9s\n", "op", "stage", "kind", "source",
            "input", "output", "MACs", "weights");
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const model_import_op_t *o = &m->ops[i];
        char src[32], sin[32], sout[32];
        if (o->src_op >= 0) {
            snprintf(src, sizeof src, "%d %s", o->src_op, o->src_name);
        } else {
            snprintf(src, sizeof src, "(part pool)");
        }
        mi_shape_str(&m->tensors[o->in_tensor], sin, sizeof sin);
        mi_shape_str(&m->tensors[o->out_tensor], sout, sizeof sout);
        fprintf(out, "%4" PRIu32 " %5d %-9s %-22.22s %-16s %-16s %12" PRIu64 " %9" PRIu32 "\n", i,
                o->stage, model_import_kind_name(o->kind), src, sin, sout, o->macs,
                o->weight_bytes);
    }
    fprintf(out, "stage 1:     %3" PRIu32 " ops, %10" PRIu64 " MACs, weights %8" PRIu32
            " B, peak arena %7" PRIu32 " B\n",
            m->stage1_ops, m->macs_stage1, m->weight_bytes_stage1, m->arena_stage1_bytes);
    fprintf(out, "stage 2:     %3" PRIu32 " ops, %10" PRIu64 " MACs, weights %8" PRIu32 " B\n",
            m->n_ops - m->stage1_ops, m->macs_stage2, m->weight_bytes_stage2);
    fprintf(out, "stage 1 + 2: %3" PRIu32 " ops, %10" PRIu64 " MACs, weights %8" PRIu32
            " B, peak arena %7" PRIu32 " B\n",
            m->n_ops, m->macs_stage1 + m->macs_stage2,
            m->weight_bytes_stage1 + m->weight_bytes_stage2, m->arena_bytes);
    return MT_OK;
}

int model_inspect_print(FILE *out, const char *path, const char *cut, bool json)
{
    char err[512] = "";
    model_import_t m;
    const model_import_opts_t opts = {.cut = cut, .keep_classifier = false};
    int rc = model_import_file(path, &opts, &m, err, sizeof err);
    if (rc != MT_OK) {
        if (json) {
            json_t *e = json_pack("{s:s}", "error", err[0] ? err : mt_strerror(rc));
            char *txt = e ? json_dumps(e, 0) : NULL;
            fprintf(out, "%s\n", txt ? txt : "{\"error\": \"out of memory\"}");
            free(txt);
            json_decref(e);
        } else {
            fprintf(out, "error: %s\n", err[0] ? err : mt_strerror(rc));
        }
        return rc;
    }
    rc = model_inspect_report(out, &m, path, json);
    model_import_free(&m);
    return rc;
}
