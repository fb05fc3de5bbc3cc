-- 0004_flash_jobs.sql — firmware updates run as jobs of kind 'flash' (the image's hash, size and
-- what the flasher did are in the job's params and result). SQLite cannot change a CHECK
-- constraint in place, so the jobs table is rebuilt with the same columns and rows (the
-- documented 12-step procedure: foreign keys are off during a migration, see store.c).

CREATE TABLE jobs_new (
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

INSERT INTO jobs_new (id, kind, device_id, state, params, progress_done, progress_total, phase,
                      result, error, rerun_of, created_ms, started_ms, finished_ms)
SELECT id, kind, device_id, state, params, progress_done, progress_total, phase,
       result, error, rerun_of, created_ms, started_ms, finished_ms FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE INDEX jobs_by_device ON jobs (device_id, id);
CREATE INDEX jobs_by_state ON jobs (state);
