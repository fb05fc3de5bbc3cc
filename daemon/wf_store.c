/*
 * wf_store.c — SQLite behind wf_store.h, on the store's connection (store_db_lock).
 *
 * Every function takes the store's lock for its whole duration, so a multi-statement write (the
 * busy check and insert of a job, a batch of samples) is one transaction no other thread can
 * interleave with. Text columns are copied into the callers' fixed buffers, cut to fit.
 */
#include "wf_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "mt_err.h"

static int wf_map(sqlite3 *db, int rc, const char *what)
{
    int primary = rc & 0xff;
    if (primary == SQLITE_OK || primary == SQLITE_DONE || primary == SQLITE_ROW)
        return 0;
    if (primary == SQLITE_CONSTRAINT) {
        /* A foreign key names a device or model that does not exist. */
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return MT_ENOTFOUND;
        return MT_EINVAL;
    }
    if (primary == SQLITE_NOMEM)
        return MT_ENOMEM;
    fprintf(stderr, "wf_store: %s: %s\n", what, sqlite3_errmsg(db));
    return MT_EIO;
}

static int wf_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    return wf_map(db, sqlite3_prepare_v2(db, sql, -1, st, NULL), sql);
}

static int wf_exec(sqlite3 *db, const char *sql)
{
    return wf_map(db, sqlite3_exec(db, sql, NULL, NULL, NULL), sql);
}

static void wf_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs a statement that returns no row. */
static int wf_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    return rc == SQLITE_DONE ? 0 : wf_map(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, what);
}

static void wf_text(sqlite3_stmt *st, int col, char *dst, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static void wf_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

void wf_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int wf_label_ok(const char *label)
{
    size_t n = label ? strlen(label) : 0;
    if (n == 0 || n > WF_LABEL_MAX_CHARS)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
            return 0;
    return 1;
}

/* ---- models ---- */

#define WF_MODEL_COLS                                                                            \
    "sha256, source_sha256, source_name, cut, image_bytes, arena_bytes, arena_stage1_bytes, "   \
    "weight_bytes, macs_stage1, macs_stage2, input_h, input_w, input_c, input_scale, "          \
    "input_zero_point, part_dim, full_dim, created_ms"

static void wf_read_model(sqlite3_stmt *st, wf_model_t *m)
{
    memset(m, 0, sizeof *m);
    wf_text(st, 0, m->sha256, sizeof m->sha256);
    wf_text(st, 1, m->source_sha256, sizeof m->source_sha256);
    wf_text(st, 2, m->source_name, sizeof m->source_name);
    wf_text(st, 3, m->cut, sizeof m->cut);
    m->image_bytes = (uint32_t)sqlite3_column_int64(st, 4);
    m->arena_bytes = (uint32_t)sqlite3_column_int64(st, 5);
    m->arena_stage1_bytes = (uint32_t)sqlite3_column_int64(st, 6);
    m->weight_bytes = (uint32_t)sqlite3_column_int64(st, 7);
    m->macs_stage1 = (uint64_t)sqlite3_column_int64(st, 8);
    m->macs_stage2 = (uint64_t)sqlite3_column_int64(st, 9);
    m->input_h = (uint32_t)sqlite3_column_int64(st, 10);
    m->input_w = (uint32_t)sqlite3_column_int64(st, 11);
    m->input_c = (uint32_t)sqlite3_column_int64(st, 12);
    m->input_scale = (float)sqlite3_column_double(st, 13);
    m->input_zero_point = (int32_t)sqlite3_column_int64(st, 14);
    m->part_dim = (uint32_t)sqlite3_column_int64(st, 15);
    m->full_dim = (uint32_t)sqlite3_column_int64(st, 16);
    m->created_ms = sqlite3_column_int64(st, 17);
}

int wf_model_put(store_t *s, const wf_model_t *m, const uint8_t *image, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    int rc;
    if (m == NULL || image == NULL || m->image_bytes == 0)
        return MT_EINVAL;
    db = store_db_lock(s);
    rc = wf_prepare(db, "INSERT OR IGNORE INTO models (" WF_MODEL_COLS ", image) VALUES "
                        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &st);
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, m->sha256);
    wf_bind_text(st, 2, m->source_sha256);
    wf_bind_text(st, 3, m->source_name);
    wf_bind_text(st, 4, m->cut);
    sqlite3_bind_int64(st, 5, m->image_bytes);
    sqlite3_bind_int64(st, 6, m->arena_bytes);
    sqlite3_bind_int64(st, 7, m->arena_stage1_bytes);
    sqlite3_bind_int64(st, 8, m->weight_bytes);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)m->macs_stage1);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)m->macs_stage2);
    sqlite3_bind_int64(st, 11, m->input_h);
    sqlite3_bind_int64(st, 12, m->input_w);
    sqlite3_bind_int64(st, 13, m->input_c);
    sqlite3_bind_double(st, 14, m->input_scale);
    sqlite3_bind_int64(st, 15, m->input_zero_point);
    sqlite3_bind_int64(st, 16, m->part_dim);
    sqlite3_bind_int64(st, 17, m->full_dim);
    sqlite3_bind_int64(st, 18, now_ms);
    sqlite3_bind_blob(st, 19, image, (int)m->image_bytes, SQLITE_STATIC);
    rc = wf_step_done(db, st, "insert model");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

int wf_model_get(store_t *s, const char *sha256, wf_model_t *out, uint8_t **image)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT " WF_MODEL_COLS ", image FROM models WHERE sha256 = ?", &st);
    if (image)
        *image = NULL;
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, sha256);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? MT_ENOTFOUND : wf_map(db, rc, "get model");
        goto out;
    }
    wf_read_model(st, out);
    rc = 0;
    if (image) {
        int n = sqlite3_column_bytes(st, 18);
        *image = malloc(n > 0 ? (size_t)n : 1);
        if (*image == NULL)
            rc = MT_ENOMEM;
        else
            memcpy(*image, sqlite3_column_blob(st, 18), (size_t)n);
    }
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

int wf_model_list(store_t *s, wf_model_t *rows, uint32_t max_rows, uint32_t *n_rows)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT " WF_MODEL_COLS " FROM models ORDER BY created_ms DESC, "
                            "sha256 LIMIT ?", &st);
    *n_rows = 0;
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(st, 1, max_rows > STORE_PAGE_MAX ? STORE_PAGE_MAX : max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        wf_read_model(st, &rows[(*n_rows)++]);
    rc = wf_map(db, rc, "list models");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

/* ---- jobs ---- */

#define WF_JOB_COLS                                                                              \
    "id, kind, device_id, state, params, progress_done, progress_total, phase, result, error, " \
    "rerun_of, created_ms, started_ms, finished_ms"

static void wf_read_job(sqlite3_stmt *st, wf_job_t *j)
{
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    wf_text(st, 1, j->kind, sizeof j->kind);
    wf_text(st, 2, j->device_id, sizeof j->device_id);
    wf_text(st, 3, j->state, sizeof j->state);
    wf_text(st, 4, j->params, sizeof j->params);
    j->progress_done = (uint64_t)sqlite3_column_int64(st, 5);
    j->progress_total = (uint64_t)sqlite3_column_int64(st, 6);
    wf_text(st, 7, j->phase, sizeof j->phase);
    wf_text(st, 8, j->result, sizeof j->result);
    wf_text(st, 9, j->error, sizeof j->error);
    j->rerun_of = sqlite3_column_int64(st, 10);
    j->created_ms = sqlite3_column_int64(st, 11);
    j->started_ms = sqlite3_column_int64(st, 12);
    j->finished_ms = sqlite3_column_int64(st, 13);
}

int wf_job_create(store_t *s, const char *kind, const char *device_id, const char *params_json,
                  int64_t rerun_of, int64_t now_ms, int64_t *id)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    int rc;
    if (params_json == NULL || strlen(params_json) > WF_PARAMS_MAX_CHARS)
        return MT_EINVAL;
    db = store_db_lock(s);
    rc = wf_exec(db, "BEGIN IMMEDIATE");
    if (rc < 0)
        goto out;
    rc = wf_prepare(db, "SELECT count(*) FROM jobs WHERE device_id = ? AND state IN "
                        "('queued', 'running')", &st);
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = wf_map(db, rc, "busy check");
        goto out;
    }
    if (sqlite3_column_int64(st, 0) > 0) {
        rc = MT_EBUSY;
        goto out;
    }
    sqlite3_finalize(st);
    rc = wf_prepare(db, "INSERT INTO jobs (kind, device_id, state, params, rerun_of, created_ms) "
                        "VALUES (?, ?, 'queued', ?, ?, ?)", &st);
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, kind);
    wf_bind_text(st, 2, device_id);
    wf_bind_text(st, 3, params_json);
    if (rerun_of > 0)
        sqlite3_bind_int64(st, 4, rerun_of);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, now_ms);
    rc = wf_step_done(db, st, "insert job");
    if (rc < 0)
        goto out;
    *id = sqlite3_last_insert_rowid(db);
    rc = wf_exec(db, "COMMIT");
out:
    if (rc < 0)
        wf_rollback(db);
    sqlite3_finalize(st);
    store_db_unlock(s);
    if (rc == 0) /* live update for the dashboard (events.h) */
        (void)events_publish("job", device_id, json_pack("{s:I, s:s, s:s}", "job", (json_int_t)*id,
                                                         "kind", kind, "state", "queued"));
    return rc;
}

/* One UPDATE of a job row with parameters ?1 = id, ?2..?4 text, ?5..?6 integers (a statement
 * binds the ones it names; binding the others is a harmless SQLITE_RANGE). MT_ENOTFOUND when no
 * row changed. */
static int wf_job_update(store_t *s, const char *sql, int64_t id, const char *t1, const char *t2,
                         const char *t3, int64_t i1, int64_t i2)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, sql, &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    wf_bind_text(st, 2, t1);
    wf_bind_text(st, 3, t2);
    wf_bind_text(st, 4, t3);
    sqlite3_bind_int64(st, 5, i1);
    sqlite3_bind_int64(st, 6, i2);
    rc = wf_step_done(db, st, "update job");
    if (rc == 0 && sqlite3_changes(db) == 0)
        rc = MT_ENOTFOUND;
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

int wf_job_start(store_t *s, int64_t id, int64_t now_ms)
{
    int rc = wf_job_update(s, "UPDATE jobs SET state = 'running', started_ms = ?5 "
                              "WHERE id = ?1 AND state = 'queued'",
                           id, NULL, NULL, NULL, now_ms, 0);
    if (rc == 0)
        (void)events_publish("job", NULL, json_pack("{s:I, s:s}", "job", (json_int_t)id, "state",
                                                    "running"));
    return rc;
}

int wf_job_progress(store_t *s, int64_t id, const char *phase, uint64_t done, uint64_t total)
{
    int rc = wf_job_update(s, "UPDATE jobs SET phase = ?2, progress_done = ?5, progress_total = ?6 "
                              "WHERE id = ?1",
                           id, phase ? phase : "", NULL, NULL, (int64_t)done, (int64_t)total);
    if (rc == 0)
        (void)events_publish("job", NULL, json_pack("{s:I, s:s, s:s, s:I, s:I}", "job",
                                                    (json_int_t)id, "state", "running", "phase",
                                                    phase ? phase : "", "done", (json_int_t)done,
                                                    "total", (json_int_t)total));
    return rc;
}

int wf_job_finish(store_t *s, int64_t id, const char *state, const char *result_json,
                  const char *error, int64_t now_ms)
{
    char err[WF_ERROR_MAX_CHARS + 1];
    if (result_json != NULL && strlen(result_json) > WF_RESULT_MAX_CHARS)
        return MT_ETOOBIG;
    if (error != NULL)
        snprintf(err, sizeof err, "%s", error);
    int rc = wf_job_update(s, "UPDATE jobs SET state = ?2, result = ?3, error = ?4, "
                              "finished_ms = ?5 WHERE id = ?1",
                           id, state, result_json, error ? err : NULL, now_ms, 0);
    if (rc == 0)
        (void)events_publish("job", NULL, json_pack("{s:I, s:s}", "job", (json_int_t)id, "state",
                                                    state));
    return rc;
}

int wf_job_get(store_t *s, int64_t id, wf_job_t *out)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT " WF_JOB_COLS " FROM jobs WHERE id = ?", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        wf_read_job(st, out);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? MT_ENOTFOUND : wf_map(db, rc, "get job");
    }
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

int wf_job_list(store_t *s, const char *device_id, int64_t before_id, wf_job_t *rows,
                uint32_t max_rows, uint32_t *n_rows)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT " WF_JOB_COLS " FROM jobs WHERE (?1 IS NULL OR device_id = ?1) "
                            "AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3", &st);
    *n_rows = 0;
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    sqlite3_bind_int64(st, 2, before_id);
    sqlite3_bind_int64(st, 3, max_rows > STORE_PAGE_MAX ? STORE_PAGE_MAX : max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        wf_read_job(st, &rows[(*n_rows)++]);
    rc = wf_map(db, rc, "list jobs");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

int wf_jobs_interrupt_all(store_t *s, int64_t now_ms, unsigned *n_changed)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "UPDATE jobs SET state = 'interrupted', finished_ms = ?, error = "
                            "'the daemon stopped while the job ran; re-run it' "
                            "WHERE state IN ('queued', 'running')", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(st, 1, now_ms);
    rc = wf_step_done(db, st, "interrupt jobs");
    if (rc == 0 && n_changed)
        *n_changed = (unsigned)sqlite3_changes(db);
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

/* ---- samples ---- */

#define WF_SAMPLE_COLS \
    "id, device_id, label, source, model_sha256, input_h, input_w, input_c, created_ms"

static void wf_read_sample(sqlite3_stmt *st, wf_sample_t *x)
{
    memset(x, 0, sizeof *x);
    x->id = sqlite3_column_int64(st, 0);
    wf_text(st, 1, x->device_id, sizeof x->device_id);
    wf_text(st, 2, x->label, sizeof x->label);
    wf_text(st, 3, x->source, sizeof x->source);
    wf_text(st, 4, x->model_sha256, sizeof x->model_sha256);
    x->input_h = (uint32_t)sqlite3_column_int64(st, 5);
    x->input_w = (uint32_t)sqlite3_column_int64(st, 6);
    x->input_c = (uint32_t)sqlite3_column_int64(st, 7);
    x->created_ms = sqlite3_column_int64(st, 8);
}

int wf_samples_add(store_t *s, const wf_sample_t *rows, const uint8_t *const *tensors, size_t n,
                   int64_t now_ms, int64_t *ids)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    int rc;
    for (size_t i = 0; i < n; i++)
        if (!wf_label_ok(rows[i].label) || strlen(rows[i].source) > WF_SOURCE_MAX_CHARS)
            return MT_EINVAL;
    db = store_db_lock(s);
    rc = wf_exec(db, "BEGIN IMMEDIATE");
    if (rc < 0)
        goto out;
    rc = wf_prepare(db, "INSERT INTO samples (device_id, label, source, model_sha256, input_h, "
                        "input_w, input_c, tensor, created_ms) VALUES (?,?,?,?,?,?,?,?,?)", &st);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const wf_sample_t *x = &rows[i];
        size_t bytes = (size_t)x->input_h * x->input_w * x->input_c;
        sqlite3_reset(st);
        wf_bind_text(st, 1, x->device_id);
        wf_bind_text(st, 2, x->label);
        wf_bind_text(st, 3, x->source);
        wf_bind_text(st, 4, x->model_sha256);
        sqlite3_bind_int64(st, 5, x->input_h);
        sqlite3_bind_int64(st, 6, x->input_w);
        sqlite3_bind_int64(st, 7, x->input_c);
        sqlite3_bind_blob(st, 8, tensors[i], (int)bytes, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, now_ms);
        rc = wf_step_done(db, st, "insert sample");
        if (rc == 0 && ids)
            ids[i] = sqlite3_last_insert_rowid(db);
    }
    if (rc == 0)
        rc = wf_exec(db, "COMMIT");
out:
    if (rc < 0)
        wf_rollback(db);
    sqlite3_finalize(st);
    store_db_unlock(s);
    if (rc == 0 && n > 0)
        (void)events_publish("sample", rows[0].device_id, json_pack("{s:s, s:I}", "action", "added",
                                                                    "count", (json_int_t)n));
    return rc;
}

int wf_sample_list(store_t *s, const char *device_id, const char *label, int64_t after_id,
                   wf_sample_t *rows, uint32_t max_rows, uint32_t *n_rows, uint32_t *total)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT count(*) FROM samples WHERE device_id = ?1 AND "
                            "(?2 IS NULL OR label = ?2)", &st);
    *n_rows = 0;
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    wf_bind_text(st, 2, label);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = wf_map(db, rc, "count samples");
        goto out;
    }
    if (total)
        *total = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    rc = wf_prepare(db, "SELECT " WF_SAMPLE_COLS " FROM samples WHERE device_id = ?1 AND "
                        "(?2 IS NULL OR label = ?2) AND id > ?3 ORDER BY id LIMIT ?4", &st);
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    wf_bind_text(st, 2, label);
    sqlite3_bind_int64(st, 3, after_id);
    sqlite3_bind_int64(st, 4, max_rows > STORE_PAGE_MAX ? STORE_PAGE_MAX : max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        wf_read_sample(st, &rows[(*n_rows)++]);
    rc = wf_map(db, rc, "list samples");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

/* Reads the row st stepped onto and copies its tensor (column 9) into tensor[cap]. */
static int wf_sample_row(sqlite3 *db, sqlite3_stmt *st, int rc, wf_sample_t *out, uint8_t *tensor,
                         size_t cap)
{
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? MT_ENOTFOUND : wf_map(db, rc, "get sample");
    wf_read_sample(st, out);
    if (tensor != NULL) {
        size_t n = (size_t)sqlite3_column_bytes(st, 9);
        if (n > cap)
            return MT_ETOOBIG;
        memcpy(tensor, sqlite3_column_blob(st, 9), n);
    }
    return 0;
}

int wf_sample_get(store_t *s, const char *device_id, int64_t id, wf_sample_t *out,
                  uint8_t *tensor, size_t cap)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT " WF_SAMPLE_COLS ", tensor FROM samples WHERE device_id = ? "
                            "AND id = ?", &st);
    if (rc == 0) {
        wf_bind_text(st, 1, device_id);
        sqlite3_bind_int64(st, 2, id);
        rc = wf_sample_row(db, st, sqlite3_step(st), out, tensor, cap);
    }
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

int wf_sample_next(store_t *s, const char *device_id, const char *model_sha256, int64_t after_id,
                   wf_sample_t *out, uint8_t *tensor, size_t cap)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT " WF_SAMPLE_COLS ", tensor FROM samples WHERE device_id = ? "
                            "AND model_sha256 = ? AND id > ? ORDER BY id LIMIT 1", &st);
    if (rc == 0) {
        wf_bind_text(st, 1, device_id);
        wf_bind_text(st, 2, model_sha256);
        sqlite3_bind_int64(st, 3, after_id);
        rc = wf_sample_row(db, st, sqlite3_step(st), out, tensor, cap);
    }
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

static int wf_sample_change(store_t *s, const char *sql, const char *device_id, int64_t id,
                            const char *label)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, sql, &st);
    if (rc == 0) {
        wf_bind_text(st, 1, device_id);
        sqlite3_bind_int64(st, 2, id);
        if (label)
            wf_bind_text(st, 3, label);
        rc = wf_step_done(db, st, "change sample");
        if (rc == 0 && sqlite3_changes(db) == 0)
            rc = MT_ENOTFOUND;
    }
    sqlite3_finalize(st);
    store_db_unlock(s);
    if (rc == 0)
        (void)events_publish("sample", device_id, json_pack("{s:s, s:I}", "action",
                                                            label ? "relabeled" : "deleted", "id",
                                                            (json_int_t)id));
    return rc;
}

int wf_sample_relabel(store_t *s, const char *device_id, int64_t id, const char *label)
{
    if (!wf_label_ok(label))
        return MT_EINVAL;
    return wf_sample_change(s, "UPDATE samples SET label = ?3 WHERE device_id = ?1 AND id = ?2",
                            device_id, id, label);
}

int wf_sample_delete(store_t *s, const char *device_id, int64_t id)
{
    return wf_sample_change(s, "DELETE FROM samples WHERE device_id = ?1 AND id = ?2", device_id,
                            id, NULL);
}

int wf_sample_labels(store_t *s, const char *device_id, const char *model_sha256,
                     char labels[][WF_LABEL_MAX_CHARS + 1], uint32_t *counts, uint32_t max,
                     uint32_t *n)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT label, count(*) FROM samples WHERE device_id = ? AND "
                            "model_sha256 = ? GROUP BY label ORDER BY label", &st);
    *n = 0;
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    wf_bind_text(st, 2, model_sha256);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == max) {
            rc = MT_ETOOBIG;
            goto out;
        }
        wf_text(st, 0, labels[*n], WF_LABEL_MAX_CHARS + 1);
        counts[*n] = (uint32_t)sqlite3_column_int64(st, 1);
        (*n)++;
    }
    rc = wf_map(db, rc, "sample labels");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

/* ---- settings ---- */

int wf_settings_get(store_t *s, const char *device_id, wf_settings_t *out)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT active_model, policy, target, ratio, threshold, classes, "
                            "trained_job, updated_ms FROM device_settings WHERE device_id = ?", &st);
    memset(out, 0, sizeof *out);
    snprintf(out->device_id, sizeof out->device_id, "%s", device_id);
    snprintf(out->policy, sizeof out->policy, "ratio");
    out->target = 0.5;
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        wf_text(st, 0, out->active_model, sizeof out->active_model);
        wf_text(st, 1, out->policy, sizeof out->policy);
        out->target = sqlite3_column_double(st, 2);
        out->has_ratio = sqlite3_column_type(st, 3) != SQLITE_NULL;
        out->ratio = (float)sqlite3_column_double(st, 3);
        out->threshold = (float)sqlite3_column_double(st, 4);
        wf_text(st, 5, out->classes, sizeof out->classes);
        out->trained_job = sqlite3_column_int64(st, 6);
        out->updated_ms = sqlite3_column_int64(st, 7);
        rc = 0;
    } else {
        rc = wf_map(db, rc, "get settings");
    }
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

int wf_settings_put(store_t *s, const wf_settings_t *in, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "INSERT INTO device_settings (device_id, active_model, policy, target, "
                            "ratio, threshold, classes, trained_job, updated_ms) VALUES "
                            "(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT (device_id) DO UPDATE SET "
                            "active_model = ?2, policy = ?3, target = ?4, ratio = ?5, "
                            "threshold = ?6, classes = ?7, trained_job = ?8, updated_ms = ?9", &st);
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, in->device_id);
    wf_bind_text(st, 2, in->active_model[0] ? in->active_model : NULL);
    wf_bind_text(st, 3, in->policy);
    sqlite3_bind_double(st, 4, in->target);
    if (in->has_ratio) {
        sqlite3_bind_double(st, 5, in->ratio);
        sqlite3_bind_double(st, 6, in->threshold);
    } else {
        sqlite3_bind_null(st, 5);
        sqlite3_bind_null(st, 6);
    }
    wf_bind_text(st, 7, in->classes[0] ? in->classes : NULL);
    if (in->trained_job > 0)
        sqlite3_bind_int64(st, 8, in->trained_job);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_int64(st, 9, now_ms);
    rc = wf_step_done(db, st, "put settings");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    if (rc == 0)
        (void)events_publish("settings", in->device_id, NULL);
    return rc;
}

/* ---- inferences and counters ---- */

int wf_inference_add(store_t *s, const wf_inference_t *in, int64_t *id)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "INSERT INTO inferences (device_id, at_ms, model_sha256, cls, label, "
                            "confidence, stage, cycles, energy_nj, expected, source) VALUES "
                            "(?,?,?,?,?,?,?,?,?,?,?)", &st);
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, in->device_id);
    sqlite3_bind_int64(st, 2, in->at_ms);
    wf_bind_text(st, 3, in->model_sha256[0] ? in->model_sha256 : NULL);
    sqlite3_bind_int64(st, 4, in->cls);
    wf_bind_text(st, 5, in->label[0] ? in->label : NULL);
    sqlite3_bind_double(st, 6, in->confidence);
    sqlite3_bind_int64(st, 7, in->stage);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)in->cycles);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)in->energy_nj);
    wf_bind_text(st, 10, in->expected[0] ? in->expected : NULL);
    wf_bind_text(st, 11, in->source);
    rc = wf_step_done(db, st, "insert inference");
    int64_t new_id = rc == 0 ? sqlite3_last_insert_rowid(db) : 0;
    if (rc == 0 && id)
        *id = new_id;
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    if (rc == 0)
        (void)events_publish("inference", in->device_id, json_pack("{s:I, s:I, s:f, s:I}", "id",
                             (json_int_t)new_id, "stage", (json_int_t)in->stage, "confidence",
                             (double)in->confidence, "energy_nj", (json_int_t)in->energy_nj));
    return rc;
}

int wf_inference_list(store_t *s, const char *device_id, int64_t before_id, wf_inference_t *rows,
                      uint32_t max_rows, uint32_t *n_rows)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT id, device_id, at_ms, model_sha256, cls, label, confidence, "
                            "stage, cycles, energy_nj, expected, source FROM inferences WHERE "
                            "device_id = ?1 AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3", &st);
    *n_rows = 0;
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    sqlite3_bind_int64(st, 2, before_id);
    sqlite3_bind_int64(st, 3, max_rows > STORE_PAGE_MAX ? STORE_PAGE_MAX : max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        wf_inference_t *r = &rows[(*n_rows)++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(st, 0);
        wf_text(st, 1, r->device_id, sizeof r->device_id);
        r->at_ms = sqlite3_column_int64(st, 2);
        wf_text(st, 3, r->model_sha256, sizeof r->model_sha256);
        r->cls = (int32_t)sqlite3_column_int64(st, 4);
        wf_text(st, 5, r->label, sizeof r->label);
        r->confidence = (float)sqlite3_column_double(st, 6);
        r->stage = (uint32_t)sqlite3_column_int64(st, 7);
        r->cycles = (uint64_t)sqlite3_column_int64(st, 8);
        r->energy_nj = (uint64_t)sqlite3_column_int64(st, 9);
        wf_text(st, 10, r->expected, sizeof r->expected);
        wf_text(st, 11, r->source, sizeof r->source);
    }
    rc = wf_map(db, rc, "list inferences");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}

int wf_stats_add(store_t *s, const char *device_id, int64_t at_ms, const wf_stats_row_t *r)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "INSERT INTO device_stats (device_id, at_ms, uptime_ms, inferences, "
                            "stage1_exits, cycles_total, energy_nj, frames_rx, frames_tx, "
                            "crc_errors, retransmits) VALUES (?,?,?,?,?,?,?,?,?,?,?)", &st);
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    sqlite3_bind_int64(st, 2, at_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)r->uptime_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)r->inferences);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)r->stage1_exits);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)r->cycles_total);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)r->energy_nj);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->frames_rx);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)r->frames_tx);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)r->crc_errors);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)r->retransmits);
    rc = wf_step_done(db, st, "insert stats");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    if (rc == 0)
        (void)events_publish("stats", device_id, json_pack("{s:I, s:I, s:I, s:I}", /* at_ms: the event's */
                             "uptime_ms", (json_int_t)r->uptime_ms,
                             "inferences", (json_int_t)r->inferences, "stage1_exits",
                             (json_int_t)r->stage1_exits, "energy_nj", (json_int_t)r->energy_nj));
    return rc;
}

int wf_stats_list(store_t *s, const char *device_id, int64_t since_ms, int64_t after_seq,
                  wf_stats_row_t *rows, uint32_t max_rows, uint32_t *n_rows)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = store_db_lock(s);
    int rc = wf_prepare(db, "SELECT seq, at_ms, uptime_ms, inferences, stage1_exits, cycles_total, "
                            "energy_nj, frames_rx, frames_tx, crc_errors, retransmits FROM "
                            "device_stats WHERE device_id = ? AND at_ms >= ? AND seq > ? "
                            "ORDER BY seq LIMIT ?", &st);
    *n_rows = 0;
    if (rc < 0)
        goto out;
    wf_bind_text(st, 1, device_id);
    sqlite3_bind_int64(st, 2, since_ms);
    sqlite3_bind_int64(st, 3, after_seq);
    sqlite3_bind_int64(st, 4, max_rows > STORE_PAGE_MAX ? STORE_PAGE_MAX : max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        wf_stats_row_t *r = &rows[(*n_rows)++];
        r->seq = sqlite3_column_int64(st, 0);
        r->at_ms = sqlite3_column_int64(st, 1);
        r->uptime_ms = (uint64_t)sqlite3_column_int64(st, 2);
        r->inferences = (uint64_t)sqlite3_column_int64(st, 3);
        r->stage1_exits = (uint64_t)sqlite3_column_int64(st, 4);
        r->cycles_total = (uint64_t)sqlite3_column_int64(st, 5);
        r->energy_nj = (uint64_t)sqlite3_column_int64(st, 6);
        r->frames_rx = (uint64_t)sqlite3_column_int64(st, 7);
        r->frames_tx = (uint64_t)sqlite3_column_int64(st, 8);
        r->crc_errors = (uint64_t)sqlite3_column_int64(st, 9);
        r->retransmits = (uint64_t)sqlite3_column_int64(st, 10);
    }
    rc = wf_map(db, rc, "list stats");
out:
    sqlite3_finalize(st);
    store_db_unlock(s);
    return rc;
}
