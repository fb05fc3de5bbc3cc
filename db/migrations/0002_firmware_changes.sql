-- 0002_firmware_changes.sql — a row each time a board reports a firmware version different from
-- the one on record, so a flash (or a board swapped onto another image) leaves a trace.
CREATE TABLE firmware_changes (
    seq          INTEGER PRIMARY KEY,
    device_id    TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    at_ms        INTEGER NOT NULL,
    from_version TEXT    NOT NULL,
    to_version   TEXT    NOT NULL
) STRICT;

CREATE INDEX firmware_changes_by_device ON firmware_changes (device_id, seq);
