-- 0001_devices.sql — every board ever seen, and the history of its connection state.
-- A device is its MCU unique ID (24 lowercase hex digits); the port is only where it was last seen.
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
