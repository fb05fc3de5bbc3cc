/*
 * test_wf_store.c — the workflow's tables on a real SQLite file in a temporary directory:
 * models, jobs (one active per device, start/progress/finish, interruption at start-up),
 * samples (all-or-nothing batches, unknown device or model, labels, paging, relabel, delete,
 * iteration), settings defaults and updates, inferences and the counter series.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mt_err.h"
#include "store.h"
#include "wf_store.h"

#define DEV "dd0000000000000000000001"
#define DEV2 "dd0000000000000000000002"
#define SHA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

typedef struct {
    char *dir;
    store_t *s;
} fx_t;

static int setup(void **state)
{
    static fx_t fx;
    char path[300], err[256];
    fx.dir = harness_mkdtemp("wfstore");
    snprintf(path, sizeof path, "%s/t.db", fx.dir);
    if (store_open(path, &fx.s, err, sizeof err) != 0)
        return -1;
    store_device_t d = {.board_kind = 1, .board_name = "h7a3zi", .firmware_version = "0.1.0"};
    snprintf(d.id, sizeof d.id, DEV);
    if (store_device_seen(fx.s, &d, 1000) != 0)
        return -1;
    snprintf(d.id, sizeof d.id, DEV2);
    if (store_device_seen(fx.s, &d, 1000) != 0)
        return -1;
    wf_model_t m = {.sha256 = SHA, .source_sha256 = SHA, .source_name = "m.tflite", .cut = "8",
                    .image_bytes = 4, .input_h = 2, .input_w = 2, .input_c = 1,
                    .input_scale = 0.5f};
    const uint8_t image[4] = {1, 2, 3, 4};
    if (wf_model_put(fx.s, &m, image, 2000) != 0)
        return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    store_close(fx->s);
    harness_rmdir(fx->dir);
    return 0;
}

static void test_models(void **state)
{
    fx_t *fx = *state;
    wf_model_t m, rows[4];
    uint8_t *image = NULL;
    uint32_t n;
    assert_int_equal(wf_model_get(fx->s, SHA, &m, &image), 0);
    assert_string_equal(m.source_name, "m.tflite");
    assert_int_equal(m.input_h * m.input_w * m.input_c, 4);
    assert_memory_equal(image, "\x01\x02\x03\x04", 4);
    free(image);
    /* Storing the same model again keeps the first row. */
    wf_model_t again = m;
    snprintf(again.source_name, sizeof again.source_name, "other.tflite");
    assert_int_equal(wf_model_put(fx->s, &again, (const uint8_t *)"\x01\x02\x03\x04", 3000), 0);
    assert_int_equal(wf_model_list(fx->s, rows, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].source_name, "m.tflite");
    assert_int_equal(wf_model_get(fx->s, "bb", &m, NULL), MT_ENOTFOUND);
}

static void test_jobs(void **state)
{
    fx_t *fx = *state;
    int64_t a, b, c;
    unsigned n;
    wf_job_t *j = malloc(sizeof *j), *rows = calloc(4, sizeof *rows);
    uint32_t nr;
    assert_int_equal(wf_job_create(fx->s, "push", DEV, "{\"model\":\"x\"}", 0, 10, &a), 0);
    /* One queued/running job per device; other devices are free. */
    assert_int_equal(wf_job_create(fx->s, "train", DEV, "{}", 0, 11, &b), MT_EBUSY);
    assert_int_equal(wf_job_create(fx->s, "train", DEV2, "{}", 0, 12, &b), 0);
    assert_int_equal(wf_job_create(fx->s, "train", "ee0000000000000000000001", "{}", 0, 12, &c),
                     MT_ENOTFOUND);
    assert_int_equal(wf_job_start(fx->s, a, 20), 0);
    assert_int_equal(wf_job_start(fx->s, a, 21), MT_ENOTFOUND); /* only a queued job starts */
    assert_int_equal(wf_job_progress(fx->s, a, "transfer", 50, 200), 0);
    assert_int_equal(wf_job_get(fx->s, a, j), 0);
    assert_string_equal(j->state, "running");
    assert_int_equal(j->progress_done, 50);
    assert_string_equal(j->phase, "transfer");
    assert_int_equal(wf_job_finish(fx->s, a, "done", "{\"ok\":1}", NULL, 30), 0);
    assert_int_equal(wf_job_create(fx->s, "train", DEV, "{}", a, 31, &c), 0);
    assert_int_equal(wf_job_get(fx->s, c, j), 0);
    assert_int_equal(j->rerun_of, a);
    /* A daemon start: queued and running become interrupted, done stays done. */
    assert_int_equal(wf_jobs_interrupt_all(fx->s, 40, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(wf_job_get(fx->s, b, j), 0);
    assert_string_equal(j->state, "interrupted");
    assert_int_equal(wf_job_get(fx->s, a, j), 0);
    assert_string_equal(j->state, "done");
    assert_string_equal(j->result, "{\"ok\":1}");
    assert_int_equal(wf_job_list(fx->s, DEV, 0, rows, 4, &nr), 0);
    assert_int_equal(nr, 2);
    assert_int_equal(rows[0].id, c); /* newest first */
    assert_int_equal(wf_job_list(fx->s, NULL, c, rows, 4, &nr), 0);
    assert_int_equal(nr, 2);
    free(j);
    free(rows);
}

static void fill(wf_sample_t *x, const char *dev, const char *label)
{
    memset(x, 0, sizeof *x);
    snprintf(x->device_id, sizeof x->device_id, "%s", dev);
    snprintf(x->label, sizeof x->label, "%s", label);
    snprintf(x->source, sizeof x->source, "test");
    snprintf(x->model_sha256, sizeof x->model_sha256, SHA);
    x->input_h = 2, x->input_w = 2, x->input_c = 1;
}

static void test_samples(void **state)
{
    fx_t *fx = *state;
    wf_sample_t rows[8], x;
    const uint8_t t0[4] = {1, 1, 1, 1}, t1[4] = {2, 2, 2, 2}, t2[4] = {3, 3, 3, 3};
    const uint8_t *tp[3] = {t0, t1, t2};
    int64_t ids[3];
    uint32_t n, total, counts[8];
    char labels[8][WF_LABEL_MAX_CHARS + 1];
    uint8_t tensor[4];

    /* A batch with one empty label stores nothing. */
    fill(&rows[0], DEV, "coat");
    fill(&rows[1], DEV, "");
    fill(&rows[2], DEV, "bag");
    assert_int_equal(wf_samples_add(fx->s, rows, tp, 3, 100, ids), MT_EINVAL);
    /* One for an unknown model: the foreign key refuses the whole batch. */
    fill(&rows[1], DEV, "coat");
    snprintf(rows[1].model_sha256, sizeof rows[1].model_sha256, "%064d", 0);
    assert_int_equal(wf_samples_add(fx->s, rows, tp, 3, 100, ids), MT_ENOTFOUND);
    assert_int_equal(wf_sample_list(fx->s, DEV, NULL, 0, rows + 3, 4, &n, &total), 0);
    assert_int_equal(total, 0);

    fill(&rows[1], DEV, "coat");
    assert_int_equal(wf_samples_add(fx->s, rows, tp, 3, 100, ids), 0);
    assert_int_equal(wf_sample_list(fx->s, DEV, "coat", 0, rows + 3, 4, &n, &total), 0);
    assert_int_equal(total, 2);
    assert_int_equal(n, 2);
    assert_int_equal(wf_sample_labels(fx->s, DEV, SHA, labels, counts, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(labels[0], "bag");
    assert_int_equal(counts[1], 2);
    /* Iteration in id order with the tensors. */
    assert_int_equal(wf_sample_next(fx->s, DEV, SHA, 0, &x, tensor, sizeof tensor), 0);
    assert_int_equal(x.id, ids[0]);
    assert_int_equal(tensor[0], 1);
    assert_int_equal(wf_sample_next(fx->s, DEV, SHA, ids[1], &x, tensor, sizeof tensor), 0);
    assert_int_equal(tensor[0], 3);
    assert_int_equal(wf_sample_next(fx->s, DEV, SHA, ids[2], &x, tensor, sizeof tensor),
                     MT_ENOTFOUND);
    /* Relabel, delete; another device's sample is not reachable through this one. */
    assert_int_equal(wf_sample_relabel(fx->s, DEV, ids[0], "shirt"), 0);
    assert_int_equal(wf_sample_relabel(fx->s, DEV, ids[0], ""), MT_EINVAL);
    assert_int_equal(wf_sample_relabel(fx->s, DEV2, ids[0], "x"), MT_ENOTFOUND);
    assert_int_equal(wf_sample_get(fx->s, DEV, ids[0], &x, NULL, 0), 0);
    assert_string_equal(x.label, "shirt");
    assert_int_equal(wf_sample_delete(fx->s, DEV, ids[1]), 0);
    assert_int_equal(wf_sample_delete(fx->s, DEV, ids[1]), MT_ENOTFOUND);
    assert_int_equal(wf_sample_list(fx->s, DEV, NULL, 0, rows + 3, 4, &n, &total), 0);
    assert_int_equal(total, 2);
}

static void test_settings_inferences_stats(void **state)
{
    fx_t *fx = *state;
    wf_settings_t s;
    wf_inference_t inf = {.device_id = DEV, .at_ms = 5, .cls = 2, .label = "coat",
                          .confidence = 0.9f, .stage = 1, .cycles = 100, .energy_nj = 200,
                          .source = "t"}, rows[4];
    wf_stats_row_t st = {.inferences = 3, .stage1_exits = 2, .energy_nj = 77}, srows[4];
    int64_t id;
    uint32_t n;

    assert_int_equal(wf_settings_get(fx->s, DEV, &s), 0);
    assert_string_equal(s.policy, "ratio");
    assert_true(s.target == 0.5);
    assert_false(s.has_ratio);
    snprintf(s.active_model, sizeof s.active_model, SHA);
    snprintf(s.policy, sizeof s.policy, "energy_budget");
    s.target = 12000;
    s.has_ratio = true;
    s.ratio = 0.25f;
    s.threshold = 0.8f;
    snprintf(s.classes, sizeof s.classes, "[\"a\",\"b\"]");
    assert_int_equal(wf_settings_put(fx->s, &s, 9), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(wf_settings_get(fx->s, DEV, &s), 0);
    assert_string_equal(s.policy, "energy_budget");
    assert_true(s.has_ratio && s.ratio == 0.25f);
    assert_string_equal(s.classes, "[\"a\",\"b\"]");
    snprintf(s.policy, sizeof s.policy, "whatever");
    assert_int_equal(wf_settings_put(fx->s, &s, 10), MT_EINVAL); /* the CHECK constraint */

    assert_int_equal(wf_inference_add(fx->s, &inf, &id), 0);
    inf.stage = 3;
    assert_int_equal(wf_inference_add(fx->s, &inf, &id), MT_EINVAL);
    assert_int_equal(wf_inference_list(fx->s, DEV, 0, rows, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].label, "coat");
    assert_int_equal(rows[0].energy_nj, 200);

    assert_int_equal(wf_stats_add(fx->s, DEV, 1000, &st), 0);
    st.inferences = 5;
    assert_int_equal(wf_stats_add(fx->s, DEV, 2000, &st), 0);
    assert_int_equal(wf_stats_list(fx->s, DEV, 1500, 0, srows, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(srows[0].inferences, 5);
    assert_int_equal(wf_stats_list(fx->s, DEV, 0, 0, srows, 4, &n), 0);
    assert_int_equal(n, 2);
    char err[128];
    assert_int_equal(store_check(fx->s, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_inferences_stats, setup, teardown),
    };
    return cmocka_run_group_tests_name("wf_store", tests, NULL, NULL);
}
