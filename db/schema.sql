-- schema.sql — the whole current schema, what db/migrations/*.sql build step by step.
-- A new database is created from this file in one transaction and stamped with the newest
-- migration number (PRAGMA user_version); an older database gets the missing migrations instead.
-- tests/test_store.c checks that both paths give the same tables, columns, indexes and keys, so a
-- change here always comes with a new migration (and the other way round).

-- Every board ever seen. A device is its MCU unique ID (24 lowercase hex digits); the port is
-- only where it was last seen.
CREATE TABLE devices (
    id               TEXT    PRIMARY KEY
                             CHECK (length(id) = 24 AND id NOT GLOB '*[^0-9a-f]*'),
    board_kind       INTEGER NOT NULL CHECK (board_kind >= 0),
    board_name       TEXT    NOT NULL,
    firmware_version TEXT    NOT NULL,
    protocol_version INTEGER NOT NULL CHECK (protocol_version >= 0),
    sram_bytes       INTEGER NOT NULL CHECK (sram_bytes >= 0),
    flash_bytes      INTEGER NOT NULL CHECK (flash_bytes >= 0),
    max_frame_bytes  INTEGER NOT NULL CHECK (max_frame_bytes >= 0),
    capabilities     INTEGER NOT NULL CHECK (capabilities >= 0),
    cpu_hz           INTEGER NOT NULL CHECK (cpu_hz >= 0),
    port             TEXT    NOT NULL,
    state            TEXT    NOT NULL
                             CHECK (state IN ('online', 'offline', 'bootloader', 'busy')),
    state_since_ms   INTEGER NOT NULL,
    first_seen_ms    INTEGER NOT NULL,
    last_seen_ms     INTEGER NOT NULL
) STRICT;

-- One row per change of devices.state; seq orders them (and pages them) across all devices.
CREATE TABLE device_transitions (
    seq        INTEGER PRIMARY KEY,
    device_id  TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    at_ms      INTEGER NOT NULL,
    from_state TEXT,                       -- NULL on the first sighting
    to_state   TEXT    NOT NULL,
    reason     TEXT    NOT NULL CHECK (length(reason) <= 255)
) STRICT;

CREATE INDEX device_transitions_by_device ON device_transitions (device_id, seq);

-- A row each time a board reports a firmware version different from the one on record.
CREATE TABLE firmware_changes (
    seq          INTEGER PRIMARY KEY,
    device_id    TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    at_ms        INTEGER NOT NULL,
    from_version TEXT    NOT NULL,
    to_version   TEXT    NOT NULL
) STRICT;

CREATE INDEX firmware_changes_by_device ON firmware_changes (device_id, seq);

-- A part model as imported for the boards: identified by the SHA-256 of the whole device image (what
-- the board verifies and reports as active), with its source and the sizes the fit check uses.
CREATE TABLE models (
    sha256             TEXT    PRIMARY KEY CHECK (length(sha256) = 64),
    source_sha256      TEXT    NOT NULL CHECK (length(source_sha256) = 64),
    source_name        TEXT    NOT NULL CHECK (length(source_name) BETWEEN 1 AND 255),
    cut                TEXT    NOT NULL,
    image_bytes        INTEGER NOT NULL CHECK (image_bytes > 0),
    arena_bytes        INTEGER NOT NULL CHECK (arena_bytes >= 0),
    arena_stage1_bytes INTEGER NOT NULL CHECK (arena_stage1_bytes >= 0),
    weight_bytes       INTEGER NOT NULL CHECK (weight_bytes >= 0),
    macs_stage1        INTEGER NOT NULL CHECK (macs_stage1 >= 0),
    macs_stage2        INTEGER NOT NULL CHECK (macs_stage2 >= 0),
    input_h            INTEGER NOT NULL CHECK (input_h > 0),
    input_w            INTEGER NOT NULL CHECK (input_w > 0),
    input_c            INTEGER NOT NULL CHECK (input_c IN (1, 3)),
    input_scale        REAL    NOT NULL CHECK (input_scale > 0),
    input_zero_point   INTEGER NOT NULL CHECK (input_zero_point BETWEEN -128 AND 127),
    part_dim           INTEGER NOT NULL CHECK (part_dim >= 0),
    full_dim           INTEGER NOT NULL CHECK (full_dim >= 0),
    image              BLOB    NOT NULL CHECK (length(image) = image_bytes),
    created_ms         INTEGER NOT NULL
) STRICT;

-- Long work on one board. At most one queued/running job per device (the daemon enforces it);
-- a daemon start turns queued/running rows into 'interrupted' (they can be re-run).
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL CHECK (kind IN ('push', 'train', 'flash')),
    device_id      TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    state          TEXT    NOT NULL
                           CHECK (state IN ('queued', 'running', 'done', 'failed', 'interrupted')),
    params         TEXT    NOT NULL,             -- JSON object, what a re-run repeats
    progress_done  INTEGER NOT NULL DEFAULT 0 CHECK (progress_done >= 0),
    progress_total INTEGER NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
    phase          TEXT    NOT NULL DEFAULT '',
    result         TEXT,                         -- JSON object when done
    error          TEXT,
    rerun_of       INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    created_ms     INTEGER NOT NULL,
    started_ms     INTEGER,
    finished_ms    INTEGER
) STRICT;

CREATE INDEX jobs_by_device ON jobs (device_id, id);
CREATE INDEX jobs_by_state ON jobs (state);

-- A labeled sample, already resized and quantized for the input of the model it was made for.
CREATE TABLE samples (
    id            INTEGER PRIMARY KEY,
    device_id     TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    label         TEXT    NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
    source        TEXT    NOT NULL CHECK (length(source) <= 255),
    model_sha256  TEXT    NOT NULL REFERENCES models (sha256),
    input_h       INTEGER NOT NULL CHECK (input_h > 0),
    input_w       INTEGER NOT NULL CHECK (input_w > 0),
    input_c       INTEGER NOT NULL CHECK (input_c IN (1, 3)),
    tensor        BLOB    NOT NULL CHECK (length(tensor) = input_h * input_w * input_c),
    created_ms    INTEGER NOT NULL
) STRICT;

CREATE INDEX samples_by_device ON samples (device_id, model_sha256, id);

-- What the daemon decided for each board: its active model, the decision policy and the ratio and
-- threshold in force, and the class names of the last training (index = class on the board).
CREATE TABLE device_settings (
    device_id     TEXT    PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    active_model  TEXT    REFERENCES models (sha256),
    policy        TEXT    NOT NULL DEFAULT 'ratio'
                          CHECK (policy IN ('ratio', 'energy_budget', 'accuracy_floor')),
    target        REAL    NOT NULL DEFAULT 0.5,  -- ratio, uJ per inference, or accuracy
    ratio         REAL,
    threshold     REAL,
    classes       TEXT,                          -- JSON array of labels
    trained_job   INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    updated_ms    INTEGER NOT NULL
) STRICT;

-- Each classification requested through the daemon and the board's answer.
CREATE TABLE inferences (
    id            INTEGER PRIMARY KEY,
    device_id     TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    at_ms         INTEGER NOT NULL,
    model_sha256  TEXT,
    cls           INTEGER NOT NULL,
    label         TEXT,
    confidence    REAL    NOT NULL,
    stage         INTEGER NOT NULL CHECK (stage IN (1, 2)),
    cycles        INTEGER NOT NULL CHECK (cycles >= 0),
    energy_nj     INTEGER NOT NULL CHECK (energy_nj >= 0),
    expected      TEXT,                          -- the caller's label, when it gave one
    source        TEXT    NOT NULL
) STRICT;

CREATE INDEX inferences_by_device ON inferences (device_id, id);

-- The boards' running counters (GetStats), read periodically by the collector.
CREATE TABLE device_stats (
    seq           INTEGER PRIMARY KEY,
    device_id     TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    at_ms         INTEGER NOT NULL,
    uptime_ms     INTEGER NOT NULL,
    inferences    INTEGER NOT NULL,
    stage1_exits  INTEGER NOT NULL,
    cycles_total  INTEGER NOT NULL,
    energy_nj     INTEGER NOT NULL,
    frames_rx     INTEGER NOT NULL,
    frames_tx     INTEGER NOT NULL,
    crc_errors    INTEGER NOT NULL,
    retransmits   INTEGER NOT NULL
) STRICT;

CREATE INDEX device_stats_by_device ON device_stats (device_id, seq);
