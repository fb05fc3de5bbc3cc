/*
 * store.h — microtd's record of the fleet in SQLite: every device ever seen, its identity, its
 * connection state and the history of both.
 *
 * One database file, opened once per process. store_open creates it from the embedded
 * db/schema.sql or brings an older file up to date with the embedded db/migrations (one
 * transaction per migration, PRAGMA user_version = the number of the last one applied); it
 * refuses a database written by a newer microtd and a file that is not an SQLite database.
 * WAL journal, foreign keys on, a busy timeout so a second reader (sqlite3 CLI) does not fail us.
 *
 * Every function returns 0 or a negative mt_err_t and is safe from any thread (one connection
 * behind a mutex: writes are short, and SQLite serialises writers anyway). Every write is one
 * transaction; every statement is prepared with bound parameters. Times are Unix epoch in ms,
 * given by the caller so tests control the clock.
 */
#ifndef MICROT_STORE_H
#define MICROT_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_ID_CHARS 25          /* 24 lowercase hex digits + NUL */
#define STORE_STATE_CHARS 16       /* longest state name + NUL */
#define STORE_REASON_MAX_CHARS 255 /* longest transition reason, without NUL */
#define STORE_PAGE_MAX 500         /* largest page any list function returns */

typedef struct store store_t;

/* A board's identity as its hello reports it, plus where it was seen. */
typedef struct {
    char id[STORE_ID_CHARS];
    uint32_t board_kind;           /* microt_BoardKind */
    char board_name[16];           /* e.g. "h7a3zi" */
    char firmware_version[33];
    uint32_t protocol_version;
    uint32_t sram_bytes, flash_bytes, max_frame_bytes, capabilities, cpu_hz;
    char port[256];
} store_device_t;

/* A device row: identity plus what the store knows of its life. */
typedef struct {
    store_device_t dev;
    char state[STORE_STATE_CHARS]; /* "online" | "offline" | "bootloader" | "busy" */
    int64_t state_since_ms;
    int64_t first_seen_ms;
    int64_t last_seen_ms;
} store_device_row_t;

typedef struct {
    int64_t seq;                   /* increasing across all devices; the paging cursor */
    int64_t at_ms;
    char from_state[STORE_STATE_CHARS]; /* "" on the first sighting */
    char to_state[STORE_STATE_CHARS];
    char reason[STORE_REASON_MAX_CHARS + 1];
} store_transition_t;

typedef struct {
    int64_t seq;
    int64_t at_ms;
    char from_version[33];
    char to_version[33];
} store_firmware_change_t;

/* Opens or creates the database at path (parent directory must exist). On failure *out is NULL
 * and err holds one readable sentence: MT_EIO for a file SQLite cannot open or that is not a
 * database, MT_ESTATE for a database newer than this code, MT_EINVAL for bad arguments. */
int store_open(const char *path, store_t **out, char *err, size_t err_len);
void store_close(store_t *s);

/* The schema version of the open database (= the newest migration this build knows). */
int store_schema_version(store_t *s, unsigned *version);
/* The newest schema version this build knows. */
unsigned store_schema_version_latest(void);

/* A board said hello: inserts it, or updates its identity and port keeping first_seen;
 * last_seen = now; state becomes "online" with a transition row if it was something else
 * (reason names the port); a firmware version different from the one on record adds a
 * firmware_changes row. MT_EINVAL for an id that is not 24 hex digits (upper case is folded). */
int store_device_seen(store_t *s, const store_device_t *dev, int64_t now_ms);

/* Sets the state ("online" | "offline" | "bootloader" | "busy"); a transition row (reason may be
 * NULL, at most STORE_REASON_MAX_CHARS) only when it changes. MT_ENOTFOUND for an unknown id. */
int store_device_set_state(store_t *s, const char *id, const char *state, const char *reason,
                           int64_t now_ms);

/* Every device not "offline" becomes "offline" (with a transition row): microtd calls it at
 * start-up, since whatever was online when it last stopped is not connected to it now.
 * *n_changed (may be NULL) gets how many changed. */
int store_devices_all_offline(store_t *s, const char *reason, int64_t now_ms, unsigned *n_changed);

/* last_seen = now. MT_ENOTFOUND for an unknown id. */
int store_device_touch(store_t *s, const char *id, int64_t now_ms);

/* One device. MT_ENOTFOUND if never seen, MT_EINVAL for a malformed id. */
int store_device_get(store_t *s, const char *id, store_device_row_t *out);

/* Devices ordered by id: rows[0..*n_rows) from offset on, at most max_rows (<= STORE_PAGE_MAX);
 * *total (may be NULL) gets the number of devices, *n_online (may be NULL) those online. */
int store_device_list(store_t *s, uint32_t offset, store_device_row_t *rows, uint32_t max_rows,
                      uint32_t *n_rows, uint32_t *total, uint32_t *n_online);

/* A device's state transitions, newest first, those with seq < before_seq (0 = from the newest),
 * at most max_rows (<= STORE_PAGE_MAX). The next page starts before rows[*n_rows - 1].seq.
 * MT_ENOTFOUND for an unknown device. */
int store_device_transitions(store_t *s, const char *id, int64_t before_seq,
                             store_transition_t *rows, uint32_t max_rows, uint32_t *n_rows);

/* A device's firmware changes, newest first, paged like store_device_transitions. */
int store_device_firmware_changes(store_t *s, const char *id, int64_t before_seq,
                                  store_firmware_change_t *rows, uint32_t max_rows,
                                  uint32_t *n_rows);

/* PRAGMA integrity_check: 0 when the file is sound, MT_EIO (with the first problem in err)
 * otherwise. Reads the whole file: for tests and maintenance, not for every request. */
int store_check(store_t *s, char *err, size_t err_len);

/* Copies a canonical device id (24 hex digits, folded to lower case) into out[STORE_ID_CHARS];
 * MT_EINVAL if in is anything else. */
int store_id_normalize(const char *in, char out[STORE_ID_CHARS]);

/* For modules that keep their own tables in this database (wf_store.c): takes the store's lock
 * and returns the connection; every store_db_lock is followed by one store_db_unlock. The caller
 * keeps the conventions above (bound parameters, one transaction per write). */
struct sqlite3 *store_db_lock(store_t *s);
void store_db_unlock(store_t *s);

#endif /* MICROT_STORE_H */
