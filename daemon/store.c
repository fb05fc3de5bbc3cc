/*
 * store.c — SQLite behind store.h.
 *
 * One connection guarded by one mutex: the daemon's writes are a few rows each (a hello, a state
 * change), so serialising them costs nothing and keeps SQLite in its simplest threading mode.
 * Schema management: a new file gets the embedded schema.sql in one transaction; an older one
 * gets each missing migration in its own transaction (foreign keys off during it, checked before
 * commit, as SQLite's ALTER TABLE procedure asks), so a crash mid-upgrade leaves the last good
 * version. The version is PRAGMA user_version; the check and the upgrade happen inside the same
 * BEGIN IMMEDIATE so two processes opening one new file cannot both create it.
 */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_sql.h"
#include "mt_err.h"

#define STORE_BUSY_TIMEOUT_MS 5000 /* another process (sqlite3 CLI, backup) holding the lock */

struct store {
    sqlite3 *db;
    pthread_mutex_t lock;
};

static const char *const store_states[] = {"online", "offline", "bootloader", "busy"};

static void store_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* SQLite result -> mt_err_t. A constraint failure means the caller gave data the schema rejects. */
static int store_map(sqlite3 *db, int rc, const char *what)
{
    int primary = rc & 0xff;
    if (primary == SQLITE_OK || primary == SQLITE_DONE || primary == SQLITE_ROW)
        return 0;
    if (primary == SQLITE_CONSTRAINT)
        return MT_EINVAL;
    if (primary == SQLITE_NOMEM)
        return MT_ENOMEM;
    /* Unexpected: the daemon's log is the only place that can say which statement failed. */
    fprintf(stderr, "store: %s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    return MT_EIO;
}

static int store_exec(sqlite3 *db, const char *sql)
{
    return store_map(db, sqlite3_exec(db, sql, NULL, NULL, NULL), sql);
}

static int store_prepare(store_t *s, const char *sql, sqlite3_stmt **st)
{
    return store_map(s->db, sqlite3_prepare_v2(s->db, sql, -1, st, NULL), sql);
}

static int store_begin(store_t *s) { return store_exec(s->db, "BEGIN IMMEDIATE"); }
static int store_commit(store_t *s) { return store_exec(s->db, "COMMIT"); }
static void store_rollback(store_t *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void store_copy_text(sqlite3_stmt *st, int col, char *dst, size_t dst_len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, dst_len, "%s", t ? (const char *)t : "");
}

/* True if s is NUL-terminated within n bytes (fixed arrays filled by callers). */
static bool store_bounded(const char *s, size_t n) { return memchr(s, '\0', n) != NULL; }

static bool store_state_valid(const char *state)
{
    for (size_t i = 0; i < sizeof store_states / sizeof store_states[0]; i++)
        if (state && strcmp(state, store_states[i]) == 0)
            return true;
    return false;
}

int store_id_normalize(const char *in, char out[STORE_ID_CHARS])
{
    if (in == NULL || out == NULL)
        return MT_EINVAL;
    for (size_t i = 0; i < STORE_ID_CHARS - 1; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return MT_EINVAL; /* also catches a string shorter than 24 (its NUL) */
        out[i] = c;
    }
    if (in[STORE_ID_CHARS - 1] != '\0')
        return MT_EINVAL;
    out[STORE_ID_CHARS - 1] = '\0';
    return 0;
}

unsigned store_schema_version_latest(void) { return db_sql_migrations_count; }

static int store_user_version(sqlite3 *db, unsigned *version)
{
    sqlite3_stmt *st = NULL;
    int rc = store_map(db, sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL),
                       "user_version");
    if (rc < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = store_map(db, rc, "user_version");
        rc = rc < 0 ? rc : MT_EIO;
        goto out;
    }
    *version = (unsigned)sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int store_set_user_version(sqlite3 *db, unsigned version)
{
    char sql[48]; /* PRAGMA takes no bound parameters; the value is our own integer */
    snprintf(sql, sizeof sql, "PRAGMA user_version = %u", version);
    return store_exec(db, sql);
}

/* Number of schema objects that are not SQLite's own: 0 means a brand-new file. */
static int store_count_objects(sqlite3 *db, long *n)
{
    sqlite3_stmt *st = NULL;
    int rc = store_map(db, sqlite3_prepare_v2(db,
        "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'", -1, &st, NULL),
        "count objects");
    if (rc < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = store_map(db, rc, "count objects");
        rc = rc < 0 ? rc : MT_EIO;
        goto out;
    }
    *n = (long)sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int store_fk_violations(sqlite3 *db, bool *any)
{
    sqlite3_stmt *st = NULL;
    int rc = store_map(db, sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL),
                       "foreign_key_check");
    if (rc < 0)
        goto out;
    rc = sqlite3_step(st);
    *any = rc == SQLITE_ROW;
    rc = *any ? 0 : store_map(db, rc, "foreign_key_check");
out:
    sqlite3_finalize(st);
    return rc;
}

/* Brings the open database to the newest schema, or says why it cannot. */
static int store_upgrade(sqlite3 *db, char *err, size_t err_len)
{
    unsigned latest = db_sql_migrations_count;
    unsigned version = 0;
    long n_objects = 0;
    bool fk_bad = false;
    int rc;

    /* Foreign keys cannot be switched inside a transaction; off while the schema changes. */
    rc = store_exec(db, "PRAGMA foreign_keys = OFF");
    if (rc < 0)
        goto out;
    rc = store_exec(db, "BEGIN IMMEDIATE");
    if (rc < 0) {
        store_errf(err, err_len, "cannot lock the database: %s", sqlite3_errmsg(db));
        goto out;
    }
    rc = store_user_version(db, &version);
    if (rc == 0)
        rc = store_count_objects(db, &n_objects);
    if (rc < 0) {
        store_errf(err, err_len, "cannot read the database: %s", sqlite3_errmsg(db));
        goto out;
    }
    if (version > latest) {
        store_errf(err, err_len,
                   "database schema version %u is newer than this microtd knows (%u); "
                   "run a newer microtd or another --db", version, latest);
        rc = MT_ESTATE;
        goto out;
    }
    if (version == 0 && n_objects > 0) {
        store_errf(err, err_len, "the file holds tables but no microtd schema version: "
                   "not a microtd database");
        rc = MT_ESTATE;
        goto out;
    }
    if (version == 0) {
        rc = store_exec(db, db_sql_schema);
        if (rc == 0)
            rc = store_set_user_version(db, latest);
        if (rc < 0) {
            store_errf(err, err_len, "creating the schema failed: %s", sqlite3_errmsg(db));
            goto out;
        }
    }
    for (unsigned v = version + 1; version != 0 && v <= latest; v++) {
        const db_sql_migration_t *m = &db_sql_migrations[v - 1];
        unsigned now_version = v - 1;
        if (v > version + 1)
            rc = store_exec(db, "BEGIN IMMEDIATE");
        /* Between our transactions another process may have run this step already. */
        if (rc == 0)
            rc = store_user_version(db, &now_version);
        if (rc == 0 && now_version >= v) {
            rc = v < latest ? store_exec(db, "COMMIT") : 0;
            if (rc < 0)
                goto out;
            continue;
        }
        if (rc == 0)
            rc = store_exec(db, m->sql);
        if (rc == 0)
            rc = store_fk_violations(db, &fk_bad);
        if (rc == 0 && fk_bad)
            rc = MT_EIO;
        if (rc == 0)
            rc = store_set_user_version(db, v);
        if (rc == 0 && v < latest)
            rc = store_exec(db, "COMMIT");
        if (rc < 0) {
            store_errf(err, err_len, "migration %s failed: %s", m->name,
                       fk_bad ? "it breaks a foreign key" : sqlite3_errmsg(db));
            goto out;
        }
    }
    rc = store_exec(db, "COMMIT");
    if (rc < 0)
        store_errf(err, err_len, "commit failed: %s", sqlite3_errmsg(db));
out:
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (store_exec(db, "PRAGMA foreign_keys = ON") < 0 && rc == 0)
        rc = MT_EIO;
    return rc;
}

int store_open(const char *path, store_t **out, char *err, size_t err_len)
{
    store_t *s = NULL;
    sqlite3_stmt *st = NULL;
    int rc;

    store_errf(err, err_len, "%s", "");
    if (out == NULL || path == NULL || path[0] == '\0') {
        store_errf(err, err_len, "no database path given");
        return MT_EINVAL;
    }
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return MT_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);

    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                         SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
    if (rc != SQLITE_OK) {
        store_errf(err, err_len, "cannot open %s: %s", path,
                   s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        rc = MT_EIO;
        goto out;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    /* The first statement that reads the header is where a non-database file shows itself. */
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        store_errf(err, err_len, "%s: %s", path, sqlite3_errmsg(s->db));
        rc = MT_EIO;
        goto out;
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        store_errf(err, err_len, "%s: cannot use write-ahead logging (journal mode %s)", path,
                   (const char *)sqlite3_column_text(st, 0));
        rc = MT_EIO;
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* FULL: a commit the API acknowledged survives a power cut, not only a killed process. */
    rc = store_exec(s->db, "PRAGMA synchronous = FULL");
    if (rc < 0) {
        store_errf(err, err_len, "%s: %s", path, sqlite3_errmsg(s->db));
        goto out;
    }
    rc = store_upgrade(s->db, err, err_len);
    if (rc < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    sqlite3_finalize(st);
    if (s != NULL)
        store_close(s);
    return rc;
}

void store_close(store_t *s)
{
    if (s == NULL)
        return;
    sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int store_schema_version(store_t *s, unsigned *version)
{
    if (s == NULL || version == NULL)
        return MT_EINVAL;
    pthread_mutex_lock(&s->lock);
    int rc = store_user_version(s->db, version);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Reads the state of a device: 0 and state filled, MT_ENOTFOUND, or an error. */
static int store_get_state(store_t *s, const char *id, char state[STORE_STATE_CHARS],
                           char firmware[33])
{
    sqlite3_stmt *st = NULL;
    int rc = store_prepare(s, "SELECT state, firmware_version FROM devices WHERE id = ?1", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = MT_ENOTFOUND;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = store_map(s->db, rc, "get state");
        goto out;
    }
    store_copy_text(st, 0, state, STORE_STATE_CHARS);
    if (firmware != NULL)
        store_copy_text(st, 1, firmware, 33);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int store_step_done(store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    return rc == SQLITE_DONE ? 0 : store_map(s->db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, what);
}

static int store_add_transition(store_t *s, const char *id, int64_t now_ms, const char *from,
                                const char *to, const char *reason)
{
    sqlite3_stmt *st = NULL;
    int rc = store_prepare(s, "INSERT INTO device_transitions "
                              "(device_id, at_ms, from_state, to_state, reason) "
                              "VALUES (?1, ?2, ?3, ?4, ?5)", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    if (from != NULL)
        sqlite3_bind_text(st, 3, from, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, reason ? reason : "", -1, SQLITE_STATIC);
    rc = store_step_done(s, st, "add transition");
out:
    sqlite3_finalize(st);
    return rc;
}

static int store_bind_identity(sqlite3_stmt *st, const store_device_t *d)
{
    sqlite3_bind_int64(st, 2, d->board_kind);
    sqlite3_bind_text(st, 3, d->board_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->firmware_version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, d->protocol_version);
    sqlite3_bind_int64(st, 6, d->sram_bytes);
    sqlite3_bind_int64(st, 7, d->flash_bytes);
    sqlite3_bind_int64(st, 8, d->max_frame_bytes);
    sqlite3_bind_int64(st, 9, d->capabilities);
    sqlite3_bind_int64(st, 10, d->cpu_hz);
    sqlite3_bind_text(st, 11, d->port, -1, SQLITE_STATIC);
    return 0;
}

int store_device_seen(store_t *s, const store_device_t *dev, int64_t now_ms)
{
    char id[STORE_ID_CHARS];
    char state[STORE_STATE_CHARS] = "";
    char firmware[33] = "";
    char reason[STORE_REASON_MAX_CHARS + 1];
    sqlite3_stmt *st = NULL;
    bool known;
    int rc;

    if (s == NULL || dev == NULL || store_id_normalize(dev->id, id) < 0 ||
        !store_bounded(dev->board_name, sizeof dev->board_name) ||
        !store_bounded(dev->firmware_version, sizeof dev->firmware_version) ||
        !store_bounded(dev->port, sizeof dev->port))
        return MT_EINVAL;
    pthread_mutex_lock(&s->lock);
    rc = store_begin(s);
    if (rc < 0)
        goto out;
    rc = store_get_state(s, id, state, firmware);
    if (rc < 0 && rc != MT_ENOTFOUND)
        goto out;
    known = rc == 0;
    if (known)
        rc = store_prepare(s, "UPDATE devices SET board_kind = ?2, board_name = ?3, "
                              "firmware_version = ?4, protocol_version = ?5, sram_bytes = ?6, "
                              "flash_bytes = ?7, max_frame_bytes = ?8, capabilities = ?9, "
                              "cpu_hz = ?10, port = ?11, last_seen_ms = ?12, "
                              "state_since_ms = CASE WHEN state = 'online' THEN state_since_ms "
                              "ELSE ?12 END, state = 'online' WHERE id = ?1", &st);
    else
        rc = store_prepare(s, "INSERT INTO devices (id, board_kind, board_name, "
                              "firmware_version, protocol_version, sram_bytes, flash_bytes, "
                              "max_frame_bytes, capabilities, cpu_hz, port, state, "
                              "state_since_ms, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, "
                              "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'online', ?12, ?12, ?12)", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    store_bind_identity(st, dev);
    sqlite3_bind_int64(st, 12, now_ms);
    rc = store_step_done(s, st, "device seen");
    if (rc < 0)
        goto out;
    if (!known || strcmp(state, "online") != 0) {
        snprintf(reason, sizeof reason, "%s on %.200s", known ? "hello" : "first seen",
                 dev->port[0] ? dev->port : "(unknown port)");
        rc = store_add_transition(s, id, now_ms, known ? state : NULL, "online", reason);
        if (rc < 0)
            goto out;
    }
    if (known && strcmp(firmware, dev->firmware_version) != 0) {
        sqlite3_finalize(st);
        rc = store_prepare(s, "INSERT INTO firmware_changes (device_id, at_ms, from_version, "
                              "to_version) VALUES (?1, ?2, ?3, ?4)", &st);
        if (rc < 0)
            goto out;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_text(st, 3, firmware, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, dev->firmware_version, -1, SQLITE_STATIC);
        rc = store_step_done(s, st, "firmware change");
        if (rc < 0)
            goto out;
    }
    rc = store_commit(s);
out:
    sqlite3_finalize(st);
    if (rc < 0)
        store_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_device_set_state(store_t *s, const char *id_in, const char *state, const char *reason,
                           int64_t now_ms)
{
    char id[STORE_ID_CHARS];
    char old[STORE_STATE_CHARS] = "";
    sqlite3_stmt *st = NULL;
    int rc;

    if (s == NULL || store_id_normalize(id_in, id) < 0 || !store_state_valid(state) ||
        (reason != NULL && strlen(reason) > STORE_REASON_MAX_CHARS))
        return MT_EINVAL;
    pthread_mutex_lock(&s->lock);
    rc = store_begin(s);
    if (rc < 0)
        goto out;
    rc = store_get_state(s, id, old, NULL);
    if (rc < 0 || strcmp(old, state) == 0)
        goto out; /* unknown device, or no change: nothing to write (the rollback ends the txn) */
    rc = store_prepare(s, "UPDATE devices SET state = ?2, state_since_ms = ?3 WHERE id = ?1", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    rc = store_step_done(s, st, "set state");
    if (rc == 0)
        rc = store_add_transition(s, id, now_ms, old, state, reason);
    if (rc == 0)
        rc = store_commit(s);
out:
    sqlite3_finalize(st);
    store_rollback(s); /* no-op after a commit */
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_devices_all_offline(store_t *s, const char *reason, int64_t now_ms, unsigned *n_changed)
{
    sqlite3_stmt *st = NULL;
    int changed = 0;
    int rc;

    if (s == NULL || (reason != NULL && strlen(reason) > STORE_REASON_MAX_CHARS))
        return MT_EINVAL;
    pthread_mutex_lock(&s->lock);
    rc = store_begin(s);
    if (rc < 0)
        goto out;
    rc = store_prepare(s, "INSERT INTO device_transitions "
                          "(device_id, at_ms, from_state, to_state, reason) "
                          "SELECT id, ?1, state, 'offline', ?2 FROM devices "
                          "WHERE state <> 'offline' ORDER BY id", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, reason ? reason : "", -1, SQLITE_STATIC);
    rc = store_step_done(s, st, "all offline transitions");
    if (rc < 0)
        goto out;
    sqlite3_finalize(st);
    rc = store_prepare(s, "UPDATE devices SET state = 'offline', state_since_ms = ?1 "
                          "WHERE state <> 'offline'", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(st, 1, now_ms);
    rc = store_step_done(s, st, "all offline");
    if (rc < 0)
        goto out;
    changed = sqlite3_changes(s->db);
    rc = store_commit(s);
out:
    sqlite3_finalize(st);
    store_rollback(s);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0 && n_changed != NULL)
        *n_changed = (unsigned)changed;
    return rc;
}

int store_device_touch(store_t *s, const char *id_in, int64_t now_ms)
{
    char id[STORE_ID_CHARS];
    sqlite3_stmt *st = NULL;
    int rc;

    if (s == NULL || store_id_normalize(id_in, id) < 0)
        return MT_EINVAL;
    pthread_mutex_lock(&s->lock);
    /* One statement is its own transaction. */
    rc = store_prepare(s, "UPDATE devices SET last_seen_ms = ?2 WHERE id = ?1", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = store_step_done(s, st, "touch");
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = MT_ENOTFOUND;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

#define STORE_DEVICE_COLS "id, board_kind, board_name, firmware_version, protocol_version, " \
    "sram_bytes, flash_bytes, max_frame_bytes, capabilities, cpu_hz, port, state, "          \
    "state_since_ms, first_seen_ms, last_seen_ms"

static void store_read_device(sqlite3_stmt *st, store_device_row_t *r)
{
    memset(r, 0, sizeof *r);
    store_copy_text(st, 0, r->dev.id, sizeof r->dev.id);
    r->dev.board_kind = (uint32_t)sqlite3_column_int64(st, 1);
    store_copy_text(st, 2, r->dev.board_name, sizeof r->dev.board_name);
    store_copy_text(st, 3, r->dev.firmware_version, sizeof r->dev.firmware_version);
    r->dev.protocol_version = (uint32_t)sqlite3_column_int64(st, 4);
    r->dev.sram_bytes = (uint32_t)sqlite3_column_int64(st, 5);
    r->dev.flash_bytes = (uint32_t)sqlite3_column_int64(st, 6);
    r->dev.max_frame_bytes = (uint32_t)sqlite3_column_int64(st, 7);
    r->dev.capabilities = (uint32_t)sqlite3_column_int64(st, 8);
    r->dev.cpu_hz = (uint32_t)sqlite3_column_int64(st, 9);
    store_copy_text(st, 10, r->dev.port, sizeof r->dev.port);
    store_copy_text(st, 11, r->state, sizeof r->state);
    r->state_since_ms = sqlite3_column_int64(st, 12);
    r->first_seen_ms = sqlite3_column_int64(st, 13);
    r->last_seen_ms = sqlite3_column_int64(st, 14);
}

int store_device_get(store_t *s, const char *id_in, store_device_row_t *out)
{
    char id[STORE_ID_CHARS];
    sqlite3_stmt *st = NULL;
    int rc;

    if (s == NULL || out == NULL || store_id_normalize(id_in, id) < 0)
        return MT_EINVAL;
    pthread_mutex_lock(&s->lock);
    rc = store_prepare(s, "SELECT " STORE_DEVICE_COLS " FROM devices WHERE id = ?1", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        store_read_device(st, out);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? MT_ENOTFOUND : store_map(s->db, rc, "get device");
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_device_list(store_t *s, uint32_t offset, store_device_row_t *rows, uint32_t max_rows,
                      uint32_t *n_rows, uint32_t *total, uint32_t *n_online)
{
    sqlite3_stmt *st = NULL;
    uint32_t n = 0;
    int rc;

    if (s == NULL || n_rows == NULL || (rows == NULL && max_rows > 0) ||
        max_rows > STORE_PAGE_MAX)
        return MT_EINVAL;
    *n_rows = 0;
    pthread_mutex_lock(&s->lock);
    /* A read transaction, so the page and the counts describe the same moment. */
    rc = store_exec(s->db, "BEGIN");
    if (rc < 0)
        goto out;
    rc = store_prepare(s, "SELECT count(*), coalesce(sum(state = 'online'), 0) FROM devices", &st);
    if (rc < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = store_map(s->db, rc, "count devices");
        goto out;
    }
    if (total != NULL)
        *total = (uint32_t)sqlite3_column_int64(st, 0);
    if (n_online != NULL)
        *n_online = (uint32_t)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    st = NULL;
    rc = store_prepare(s, "SELECT " STORE_DEVICE_COLS " FROM devices ORDER BY id "
                          "LIMIT ?1 OFFSET ?2", &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(st, 1, max_rows);
    sqlite3_bind_int64(st, 2, offset);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max_rows)
        store_read_device(st, &rows[n++]);
    rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : store_map(s->db, rc, "list devices");
    if (rc == 0)
        *n_rows = n;
out:
    sqlite3_finalize(st);
    store_rollback(s); /* ends the read transaction */
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Shared shape of the per-device history queries: existence check, then a newest-first page. */
static int store_history(store_t *s, const char *id_in, int64_t before_seq, uint32_t max_rows,
                         const char *sql, void (*read_row)(sqlite3_stmt *, void *, uint32_t),
                         void *rows, uint32_t *n_rows)
{
    char id[STORE_ID_CHARS];
    char state[STORE_STATE_CHARS];
    sqlite3_stmt *st = NULL;
    uint32_t n = 0;
    int rc;

    if (s == NULL || n_rows == NULL || rows == NULL || max_rows > STORE_PAGE_MAX ||
        before_seq < 0 || store_id_normalize(id_in, id) < 0)
        return MT_EINVAL;
    *n_rows = 0;
    pthread_mutex_lock(&s->lock);
    rc = store_exec(s->db, "BEGIN");
    if (rc < 0)
        goto out;
    rc = store_get_state(s, id, state, NULL);
    if (rc < 0)
        goto out;
    rc = store_prepare(s, sql, &st);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, before_seq);
    sqlite3_bind_int64(st, 3, max_rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max_rows)
        read_row(st, rows, n++);
    rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : store_map(s->db, rc, "history");
    if (rc == 0)
        *n_rows = n;
out:
    sqlite3_finalize(st);
    store_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void store_read_transition(sqlite3_stmt *st, void *rows, uint32_t i)
{
    store_transition_t *t = &((store_transition_t *)rows)[i];
    memset(t, 0, sizeof *t);
    t->seq = sqlite3_column_int64(st, 0);
    t->at_ms = sqlite3_column_int64(st, 1);
    store_copy_text(st, 2, t->from_state, sizeof t->from_state);
    store_copy_text(st, 3, t->to_state, sizeof t->to_state);
    store_copy_text(st, 4, t->reason, sizeof t->reason);
}

int store_device_transitions(store_t *s, const char *id, int64_t before_seq,
                             store_transition_t *rows, uint32_t max_rows, uint32_t *n_rows)
{
    return store_history(s, id, before_seq, max_rows,
                         "SELECT seq, at_ms, from_state, to_state, reason FROM device_transitions "
                         "WHERE device_id = ?1 AND (?2 = 0 OR seq < ?2) "
                         "ORDER BY seq DESC LIMIT ?3",
                         store_read_transition, rows, n_rows);
}

static void store_read_fw_change(sqlite3_stmt *st, void *rows, uint32_t i)
{
    store_firmware_change_t *c = &((store_firmware_change_t *)rows)[i];
    memset(c, 0, sizeof *c);
    c->seq = sqlite3_column_int64(st, 0);
    c->at_ms = sqlite3_column_int64(st, 1);
    store_copy_text(st, 2, c->from_version, sizeof c->from_version);
    store_copy_text(st, 3, c->to_version, sizeof c->to_version);
}

int store_device_firmware_changes(store_t *s, const char *id, int64_t before_seq,
                                  store_firmware_change_t *rows, uint32_t max_rows,
                                  uint32_t *n_rows)
{
    return store_history(s, id, before_seq, max_rows,
                         "SELECT seq, at_ms, from_version, to_version FROM firmware_changes "
                         "WHERE device_id = ?1 AND (?2 = 0 OR seq < ?2) "
                         "ORDER BY seq DESC LIMIT ?3",
                         store_read_fw_change, rows, n_rows);
}

int store_check(store_t *s, char *err, size_t err_len)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (s == NULL)
        return MT_EINVAL;
    store_errf(err, err_len, "%s", "");
    pthread_mutex_lock(&s->lock);
    rc = store_prepare(s, "PRAGMA integrity_check", &st);
    if (rc < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        store_errf(err, err_len, "integrity check failed: %s", sqlite3_errmsg(s->db));
        rc = MT_EIO;
        goto out;
    }
    const char *first = (const char *)sqlite3_column_text(st, 0);
    if (first == NULL || strcmp(first, "ok") != 0) {
        store_errf(err, err_len, "integrity check: %s", first ? first : "(no answer)");
        rc = MT_EIO;
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    bool fk_bad = false;
    rc = store_fk_violations(s->db, &fk_bad);
    if (rc == 0 && fk_bad) {
        store_errf(err, err_len, "integrity check: a row refers to a missing device");
        rc = MT_EIO;
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

struct sqlite3 *store_db_lock(store_t *s)
{
    pthread_mutex_lock(&s->lock);
    return s->db;
}

void store_db_unlock(store_t *s) { pthread_mutex_unlock(&s->lock); }
