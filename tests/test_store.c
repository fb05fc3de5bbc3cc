/*
 * test_store.c — the SQLite store on real database files in a temporary directory: schema
 * creation, migration from every older version (built from db/migrations on disk, the files the
 * build embeds), refusal of newer/corrupt/foreign files, device life cycle and history, paging,
 * integrity after reopen, and concurrent writers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_err.h"
#include "store.h"

#define ID_A "0123456789abcdef01234567"
#define ID_B "aaaaaaaaaaaaaaaaaaaaaaaa"

static char tmp_dir[256];

static void path_in_tmp(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmp_dir, name);
}

static int setup(void **state)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_store.XXXXXX");
    if (mkdtemp(tmp_dir) == NULL)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static store_device_t make_dev(const char *id, const char *fw, const char *port)
{
    store_device_t d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "%s", id);
    d.board_kind = 1;
    snprintf(d.board_name, sizeof d.board_name, "h7a3zi");
    snprintf(d.firmware_version, sizeof d.firmware_version, "%s", fw);
    d.protocol_version = 1;
    d.sram_bytes = 1400 * 1024;
    d.flash_bytes = 2048 * 1024;
    d.max_frame_bytes = 1100;
    d.capabilities = 7;
    d.cpu_hz = 280000000;
    snprintf(d.port, sizeof d.port, "%s", port);
    return d;
}

static store_t *open_ok(const char *path)
{
    store_t *s = NULL;
    char err[256];
    int rc = store_open(path, &s, err, sizeof err);
    if (rc != 0)
        print_error("store_open(%s): %d %s\n", path, rc, err);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

/* Every row of a query as text, one line per row: a comparable picture of a schema. */
static void query_text(sqlite3 *db, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    size_t used = strlen(out);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const unsigned char *t = sqlite3_column_text(st, c);
            used += (size_t)snprintf(out + used, n - used, "%s|", t ? (const char *)t : "NULL");
            assert_true(used < n);
        }
        used += (size_t)snprintf(out + used, n - used, "\n");
        assert_true(used < n);
    }
    sqlite3_finalize(st);
}

/* Tables (strictness), columns, indexes and foreign keys of a database file. */
static void schema_picture(const char *path, char *out, size_t n)
{
    sqlite3 *db = NULL;
    out[0] = '\0';
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    query_text(db, "SELECT name, type, ncol, strict FROM pragma_table_list "
                   "WHERE schema = 'main' AND name NOT LIKE 'sqlite_%' ORDER BY name", out, n);
    query_text(db, "SELECT m.name, p.cid, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk "
                   "FROM sqlite_schema m JOIN pragma_table_info(m.name) p "
                   "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' "
                   "ORDER BY m.name, p.cid", out, n);
    query_text(db, "SELECT m.name, il.name, il.\"unique\", ii.seqno, ii.name "
                   "FROM sqlite_schema m JOIN pragma_index_list(m.name) il "
                   "JOIN pragma_index_info(il.name) ii WHERE m.type = 'table' "
                   "ORDER BY m.name, il.name, ii.seqno", out, n);
    query_text(db, "SELECT m.name, f.id, f.seq, f.\"table\", f.\"from\", f.\"to\", f.on_delete "
                   "FROM sqlite_schema m JOIN pragma_foreign_key_list(m.name) f "
                   "WHERE m.type = 'table' ORDER BY m.name, f.id, f.seq", out, n);
    sqlite3_close(db);
}

static int user_version_of(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("exec: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The migration files (db/migrations/NNNN_name.sql) in order; the test runs from the repository root (scripts/run-tests.sh). */
static int list_migrations(char names[][256], int max)
{
    struct dirent **ents = NULL;
    int n = scandir("db/migrations", &ents, NULL, alphasort);
    int k = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(ents[i]->d_name);
        if (len > 4 && strcmp(ents[i]->d_name + len - 4, ".sql") == 0 && k < max)
            snprintf(names[k++], 256, "db/migrations/%s", ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    return k;
}

static void test_create_fresh(void **state)
{
    char path[300], pic[16384];
    path_in_tmp(path, sizeof path, "fresh.db");
    store_t *s = open_ok(path);
    unsigned v = 0;
    assert_int_equal(store_schema_version(s, &v), 0);
    assert_int_equal(v, store_schema_version_latest());
    assert_true(v >= 1);
    store_close(s);
    assert_int_equal(user_version_of(path), (int)v);
    schema_picture(path, pic, sizeof pic);
    assert_non_null(strstr(pic, "devices|table|15|1|"));
    assert_non_null(strstr(pic, "device_transitions|"));
    /* WAL is a property of the file: a fresh connection sees it. */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* Reopening an up-to-date file changes nothing. */
    s = open_ok(path);
    store_close(s);
    assert_int_equal(user_version_of(path), (int)v);
}

/* A database at each older version, built from the migration files, with a device in it,
 * upgrades to the same schema a fresh database gets, and keeps its rows. */
static void test_migrate_from_each_older_version(void **state)
{
    char names[64][256];
    int n = list_migrations(names, 64);
    assert_int_equal(n, (int)store_schema_version_latest());
    char fresh[300], fresh_pic[16384], old_pic[16384];
    path_in_tmp(fresh, sizeof fresh, "ref.db");
    store_close(open_ok(fresh));
    schema_picture(fresh, fresh_pic, sizeof fresh_pic);

    for (int k = 1; k < n; k++) {
        char path[300];
        snprintf(path, sizeof path, "%s/v%d.db", tmp_dir, k);
        for (int i = 0; i < k; i++) {
            char *sql = read_file(names[i]);
            exec_sql(path, sql);
            free(sql);
        }
        char stamp[64];
        snprintf(stamp, sizeof stamp, "PRAGMA user_version = %d", k);
        exec_sql(path, stamp);
        /* Version 1 already has devices and transitions; a row there must survive. */
        exec_sql(path, "INSERT INTO devices VALUES ('" ID_A "', 2, 'l4r5zi', 'fw-1', 1, 655360, "
                       "2097152, 1100, 3, 120000000, '/dev/ttyACM0', 'offline', 5, 1, 5);"
                       "INSERT INTO device_transitions (device_id, at_ms, from_state, to_state, "
                       "reason) VALUES ('" ID_A "', 1, NULL, 'online', 'first seen');");
        store_t *s = open_ok(path);
        unsigned v = 0;
        assert_int_equal(store_schema_version(s, &v), 0);
        assert_int_equal(v, (unsigned)n);
        store_device_row_t row;
        assert_int_equal(store_device_get(s, ID_A, &row), 0);
        assert_string_equal(row.dev.board_name, "l4r5zi");
        assert_string_equal(row.state, "offline");
        assert_int_equal(row.first_seen_ms, 1);
        store_transition_t tr[4];
        uint32_t nt = 0;
        assert_int_equal(store_device_transitions(s, ID_A, 0, tr, 4, &nt), 0);
        assert_int_equal(nt, 1);
        char err[256];
        assert_int_equal(store_check(s, err, sizeof err), 0);
        store_close(s);
        schema_picture(path, old_pic, sizeof old_pic);
        assert_string_equal(old_pic, fresh_pic);
    }
}

static void test_refuses_newer_database(void **state)
{
    char path[300], sql[64], err[256];
    path_in_tmp(path, sizeof path, "newer.db");
    store_close(open_ok(path));
    snprintf(sql, sizeof sql, "PRAGMA user_version = %u", store_schema_version_latest() + 1);
    exec_sql(path, sql);
    store_t *s = (store_t *)0x1;
    assert_int_equal(store_open(path, &s, err, sizeof err), MT_ESTATE);
    assert_null(s);
    assert_non_null(strstr(err, "newer"));
    /* Nothing was changed by the refusal. */
    assert_int_equal(user_version_of(path), (int)store_schema_version_latest() + 1);
}

static void test_refuses_garbage_file(void **state)
{
    char path[300], err[256];
    path_in_tmp(path, sizeof path, "garbage.db");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 8192; i++)
        fputc((i * 37 + 11) & 0xff, f);
    fclose(f);
    store_t *s = NULL;
    assert_int_equal(store_open(path, &s, err, sizeof err), MT_EIO);
    assert_null(s);
    assert_non_null(strstr(err, "not a database"));
}

static void test_refuses_foreign_database(void **state)
{
    char path[300], err[256];
    path_in_tmp(path, sizeof path, "foreign.db");
    exec_sql(path, "CREATE TABLE recipes (name TEXT)");
    store_t *s = NULL;
    assert_int_equal(store_open(path, &s, err, sizeof err), MT_ESTATE);
    assert_non_null(strstr(err, "not a microtd database"));
}

static void test_truncated_file_detected(void **state)
{
    char path[300], err[256];
    path_in_tmp(path, sizeof path, "trunc.db");
    store_t *s = open_ok(path);
    store_close(s);
    /* Enough rows to span many pages, in one transaction (a commit per row is slow to fsync). */
    exec_sql(path, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
                   "INSERT INTO devices SELECT printf('%024x', i), 1, 'h7a3zi', 'fw-1', 1, 1, 1, "
                   "1, 1, 1, '/dev/ttyACM0', 'offline', i, i, i FROM n;"
                   "INSERT INTO device_transitions (device_id, at_ms, from_state, to_state, reason) "
                   "SELECT id, 1, NULL, 'online', 'first seen' FROM devices;");
    s = open_ok(path);
    store_close(s); /* checkpoints the WAL into the main file */
    struct stat stt;
    assert_int_equal(stat(path, &stt), 0);
    assert_true(stt.st_size > 8 * 4096);
    assert_int_equal(truncate(path, 3 * 4096), 0);
    s = NULL;
    int rc = store_open(path, &s, err, sizeof err);
    if (rc == 0) {
        /* SQLite trusts the header at open; the check must find the missing pages. */
        assert_int_equal(store_check(s, err, sizeof err), MT_EIO);
        assert_true(strlen(err) > 0);
        store_close(s);
    } else {
        assert_int_equal(rc, MT_EIO);
        assert_true(strlen(err) > 0);
    }
}

static void test_bad_arguments(void **state)
{
    char err[256];
    store_t *s = NULL;
    assert_int_equal(store_open("", &s, err, sizeof err), MT_EINVAL);
    assert_int_equal(store_open("/nonexistent-dir/x/y.db", &s, err, sizeof err), MT_EIO);
    assert_non_null(strstr(err, "cannot open"));
}

static void test_id_normalize(void **state)
{
    char out[STORE_ID_CHARS];
    assert_int_equal(store_id_normalize("0123456789ABCDEF01234567", out), 0);
    assert_string_equal(out, ID_A);
    assert_int_equal(store_id_normalize("0123456789abcdef0123456", out), MT_EINVAL);   /* 23 */
    assert_int_equal(store_id_normalize("0123456789abcdef012345678", out), MT_EINVAL); /* 25 */
    assert_int_equal(store_id_normalize("0123456789abcdef0123456g", out), MT_EINVAL);
    assert_int_equal(store_id_normalize("", out), MT_EINVAL);
    assert_int_equal(store_id_normalize(NULL, out), MT_EINVAL);
}

static void test_device_life_cycle(void **state)
{
    char path[300];
    path_in_tmp(path, sizeof path, "life.db");
    store_t *s = open_ok(path);
    store_device_row_t row;
    store_transition_t tr[8];
    store_firmware_change_t fw[4];
    uint32_t n = 0;

    assert_int_equal(store_device_get(s, ID_A, &row), MT_ENOTFOUND);
    store_device_t d = make_dev("0123456789ABCDEF01234567", "fw-1.0", "/dev/pts/3");
    assert_int_equal(store_device_seen(s, &d, 1000), 0);
    assert_int_equal(store_device_get(s, ID_A, &row), 0);
    assert_string_equal(row.dev.id, ID_A);
    assert_string_equal(row.state, "online");
    assert_int_equal(row.first_seen_ms, 1000);
    assert_int_equal(row.last_seen_ms, 1000);
    assert_int_equal(row.state_since_ms, 1000);
    assert_int_equal(row.dev.sram_bytes, 1400 * 1024);
    assert_int_equal(row.dev.cpu_hz, 280000000);
    assert_string_equal(row.dev.port, "/dev/pts/3");

    /* Seen again while online: identity refreshed, no new transition. */
    assert_int_equal(store_device_seen(s, &d, 1500), 0);
    assert_int_equal(store_device_touch(s, ID_A, 1700), 0);
    assert_int_equal(store_device_transitions(s, ID_A, 0, tr, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(tr[0].from_state, "");
    assert_string_equal(tr[0].to_state, "online");
    assert_non_null(strstr(tr[0].reason, "/dev/pts/3"));

    /* Offline, then unchanged offline (no row), then back on another port with new firmware. */
    assert_int_equal(store_device_set_state(s, ID_A, "offline", "no answer to 3 pings", 2000), 0);
    assert_int_equal(store_device_set_state(s, ID_A, "offline", "again", 2100), 0);
    store_device_t d2 = make_dev(ID_A, "fw-1.1", "/dev/pts/9");
    assert_int_equal(store_device_seen(s, &d2, 3000), 0);
    assert_int_equal(store_device_get(s, ID_A, &row), 0);
    assert_string_equal(row.state, "online");
    assert_int_equal(row.first_seen_ms, 1000);
    assert_int_equal(row.last_seen_ms, 3000);
    assert_int_equal(row.state_since_ms, 3000);
    assert_string_equal(row.dev.port, "/dev/pts/9");
    assert_string_equal(row.dev.firmware_version, "fw-1.1");
    assert_int_equal(store_device_transitions(s, ID_A, 0, tr, 8, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(tr[0].from_state, "offline");
    assert_string_equal(tr[0].to_state, "online");
    assert_non_null(strstr(tr[0].reason, "/dev/pts/9"));
    assert_string_equal(tr[1].reason, "no answer to 3 pings");
    assert_int_equal(tr[1].at_ms, 2000);
    assert_true(tr[0].seq > tr[1].seq && tr[1].seq > tr[2].seq);
    assert_int_equal(store_device_firmware_changes(s, ID_A, 0, fw, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(fw[0].from_version, "fw-1.0");
    assert_string_equal(fw[0].to_version, "fw-1.1");

    /* Errors lose nothing and change nothing. */
    assert_int_equal(store_device_set_state(s, ID_A, "sleeping", NULL, 4000), MT_EINVAL);
    assert_int_equal(store_device_set_state(s, ID_B, "offline", NULL, 4000), MT_ENOTFOUND);
    assert_int_equal(store_device_set_state(s, "xyz", "offline", NULL, 4000), MT_EINVAL);
    char long_reason[STORE_REASON_MAX_CHARS + 2];
    memset(long_reason, 'r', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = '\0';
    assert_int_equal(store_device_set_state(s, ID_A, "busy", long_reason, 4000), MT_EINVAL);
    assert_int_equal(store_device_touch(s, ID_B, 4000), MT_ENOTFOUND);
    store_device_t bad = make_dev("not-an-id", "fw", "p");
    assert_int_equal(store_device_seen(s, &bad, 4000), MT_EINVAL);
    store_device_t unterminated = make_dev(ID_B, "fw", "p");
    memset(unterminated.firmware_version, 'x', sizeof unterminated.firmware_version);
    assert_int_equal(store_device_seen(s, &unterminated, 4000), MT_EINVAL);
    assert_int_equal(store_device_get(s, ID_B, &row), MT_ENOTFOUND);
    assert_int_equal(store_device_transitions(s, ID_B, 0, tr, 8, &n), MT_ENOTFOUND);
    assert_int_equal(store_device_transitions(s, ID_A, 0, tr, STORE_PAGE_MAX + 1, &n), MT_EINVAL);
    assert_int_equal(store_device_transitions(s, ID_A, 0, tr, 8, &n), 0);
    assert_int_equal(n, 3);
    store_close(s);
}

static void test_list_paging_and_all_offline(void **state)
{
    char path[300];
    path_in_tmp(path, sizeof path, "list.db");
    store_t *s = open_ok(path);
    const int n_dev = 7;
    for (int i = n_dev; i >= 1; i--) { /* inserted out of order: the list is by id */
        char id[32];
        snprintf(id, sizeof id, "%024x", i * 17);
        store_device_t d = make_dev(id, "fw", "/dev/null");
        assert_int_equal(store_device_seen(s, &d, 100 * i), 0);
    }
    char id3[32];
    snprintf(id3, sizeof id3, "%024x", 3 * 17);
    assert_int_equal(store_device_set_state(s, id3, "bootloader", "flashing", 5000), 0);

    store_device_row_t rows[3];
    uint32_t n = 0, total = 0, online = 0;
    char seen[8][32];
    int k = 0;
    for (uint32_t off = 0;; off += 3) {
        assert_int_equal(store_device_list(s, off, rows, 3, &n, &total, &online), 0);
        assert_int_equal(total, n_dev);
        assert_int_equal(online, n_dev - 1);
        for (uint32_t i = 0; i < n; i++)
            snprintf(seen[k++], 32, "%.24s", rows[i].dev.id);
        if (n < 3)
            break;
    }
    assert_int_equal(k, n_dev);
    for (int i = 1; i < k; i++)
        assert_true(strcmp(seen[i - 1], seen[i]) < 0);
    assert_int_equal(store_device_list(s, 100, rows, 3, &n, NULL, NULL), 0);
    assert_int_equal(n, 0);

    unsigned changed = 0;
    assert_int_equal(store_devices_all_offline(s, "microtd started", 9000, &changed), 0);
    assert_int_equal(changed, n_dev);
    assert_int_equal(store_devices_all_offline(s, "microtd started", 9100, &changed), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(store_device_list(s, 0, rows, 3, &n, &total, &online), 0);
    assert_int_equal(online, 0);
    store_transition_t tr[4];
    assert_int_equal(store_device_transitions(s, id3, 0, tr, 4, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(tr[0].from_state, "bootloader");
    assert_string_equal(tr[0].to_state, "offline");
    assert_string_equal(tr[0].reason, "microtd started");
    store_close(s);
}

static void test_transition_paging(void **state)
{
    char path[300];
    path_in_tmp(path, sizeof path, "paging.db");
    store_t *s = open_ok(path);
    store_device_t d = make_dev(ID_A, "fw", "/dev/pts/1");
    assert_int_equal(store_device_seen(s, &d, 0), 0);
    const char *cycle[] = {"busy", "online", "offline", "online"};
    for (int i = 0; i < 40; i++)
        assert_int_equal(store_device_set_state(s, ID_A, cycle[i % 4], NULL, 10 + i), 0);
    /* 41 rows; pages of 6 from newest to oldest, no gaps, no repeats. */
    store_transition_t page[6];
    uint32_t n = 0, total = 0;
    int64_t before = 0, last_at = 1 << 30;
    do {
        assert_int_equal(store_device_transitions(s, ID_A, before, page, 6, &n), 0);
        for (uint32_t i = 0; i < n; i++) {
            assert_true(page[i].at_ms < last_at);
            last_at = page[i].at_ms;
        }
        total += n;
        if (n > 0)
            before = page[n - 1].seq;
    } while (n == 6);
    assert_int_equal(total, 41);
    assert_int_equal(last_at, 0);
    assert_int_equal(store_device_transitions(s, ID_A, -1, page, 6, &n), MT_EINVAL);
    store_close(s);
}

static void test_integrity_after_reopen(void **state)
{
    char path[300], err[256];
    path_in_tmp(path, sizeof path, "reopen.db");
    store_t *s = open_ok(path);
    store_device_t a = make_dev(ID_A, "fw-a", "/dev/ttyACM0");
    store_device_t b = make_dev(ID_B, "fw-b", "/dev/ttyACM1");
    assert_int_equal(store_device_seen(s, &a, 10), 0);
    assert_int_equal(store_device_seen(s, &b, 20), 0);
    assert_int_equal(store_device_set_state(s, ID_B, "offline", "unplugged", 30), 0);
    store_close(s);

    s = open_ok(path);
    assert_int_equal(store_check(s, err, sizeof err), 0);
    store_device_row_t row;
    assert_int_equal(store_device_get(s, ID_B, &row), 0);
    assert_string_equal(row.state, "offline");
    assert_string_equal(row.dev.firmware_version, "fw-b");
    assert_int_equal(row.state_since_ms, 30);
    assert_int_equal(store_device_get(s, ID_A, &row), 0);
    assert_string_equal(row.dev.port, "/dev/ttyACM0");
    store_close(s);
}

typedef struct {
    store_t *s;
    int index;
    int failures;
} worker_t;

#define WORKER_ROUNDS 40

static void *worker(void *arg)
{
    worker_t *w = arg;
    char id[32];
    snprintf(id, sizeof id, "%024x", 0xabc000 + w->index);
    store_device_t d = make_dev(id, "fw", "/dev/pts/0");
    for (int i = 0; i < WORKER_ROUNDS; i++) {
        int64_t t = (int64_t)i * 10;
        if (store_device_seen(w->s, &d, t) != 0 ||
            store_device_touch(w->s, id, t + 1) != 0 ||
            store_device_set_state(w->s, id, "offline", "lost", t + 2) != 0)
            w->failures++;
        store_device_row_t rows[8];
        uint32_t n;
        if (store_device_list(w->s, 0, rows, 8, &n, NULL, NULL) != 0)
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    char path[300];
    path_in_tmp(path, sizeof path, "threads.db");
    store_t *s = open_ok(path);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.s = s, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    /* Each round is one online and one offline transition per device. */
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof id, "%024x", 0xabc000 + i);
        store_transition_t page[STORE_PAGE_MAX];
        uint32_t n = 0;
        assert_int_equal(store_device_transitions(s, id, 0, page, STORE_PAGE_MAX, &n), 0);
        assert_int_equal(n, 2 * WORKER_ROUNDS);
    }
    char err[256];
    assert_int_equal(store_check(s, err, sizeof err), 0);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_fresh),
        cmocka_unit_test(test_migrate_from_each_older_version),
        cmocka_unit_test(test_refuses_newer_database),
        cmocka_unit_test(test_refuses_garbage_file),
        cmocka_unit_test(test_refuses_foreign_database),
        cmocka_unit_test(test_truncated_file_detected),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_id_normalize),
        cmocka_unit_test(test_device_life_cycle),
        cmocka_unit_test(test_list_paging_and_all_offline),
        cmocka_unit_test(test_transition_paging),
        cmocka_unit_test(test_integrity_after_reopen),
        cmocka_unit_test(test_concurrent_writers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
