-- +goose Up
-- The sync protocol on the tablet (syncproto v1): the replica of the
-- server's rows in the device's scope, the outbox of the device's signed
-- records (the hash chain) and the local view of its cash.

-- Replica. Every row is the latest state the server sent; stream and seq are
-- the stream ("v:<village>" or "d:<device>") and change number of the change
-- that last wrote it: seq is what the replica checksum covers, and a delete
-- only removes a row last written by its own stream (a roster line moved
-- between two villages of the scope arrives as an upsert in one stream and a
-- delete in the other, in either order).
CREATE TABLE roster_line (
    id               TEXT    PRIMARY KEY,
    kind             TEXT    NOT NULL,
    year             INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    initials         TEXT    NOT NULL DEFAULT '',
    masked           TEXT    NOT NULL,          -- 370403********123X: the last 4 are visible
    id_hash          TEXT    NOT NULL,          -- syncproto.IDHash under the settings' key
    village_code     TEXT    NOT NULL,
    category         TEXT    NOT NULL,
    due              INTEGER NOT NULL,          -- fen
    subsidy          INTEGER NOT NULL,          -- fen
    grades           TEXT    NOT NULL DEFAULT '[]', -- JSON array of fen (pension)
    fully_subsidised INTEGER NOT NULL,
    paid             INTEGER NOT NULL,
    review           TEXT    NOT NULL DEFAULT '',
    stream           TEXT    NOT NULL,
    seq              INTEGER NOT NULL
) STRICT;
CREATE INDEX roster_line_id_hash_idx ON roster_line (id_hash);
CREATE INDEX roster_line_last4_idx ON roster_line (substr(masked, -4));
CREATE INDEX roster_line_name_idx ON roster_line (village_code, name);

-- Receipt numbers the server allocated to this device, first to last
-- inclusive. The next number is worked out from the collections (never from
-- a counter here), so dropping and re-pulling the replica cannot reissue a
-- used number.
CREATE TABLE receipt_range (
    id      TEXT    PRIMARY KEY,
    first_no INTEGER NOT NULL CHECK (first_no >= 1),
    last_no  INTEGER NOT NULL CHECK (last_no >= first_no),
    stream  TEXT    NOT NULL,
    seq     INTEGER NOT NULL
) STRICT;

-- The server's status of this device's collections (syncproto.CollectionStatus).
CREATE TABLE collection_status (
    id         TEXT    PRIMARY KEY,             -- the collection mutation's ID
    receipt_no TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    flags      TEXT    NOT NULL DEFAULT '[]',   -- JSON array
    stream     TEXT    NOT NULL,
    seq        INTEGER NOT NULL
) STRICT;

-- Flags the server raised, for the agent (syncproto.Notice).
CREATE TABLE notice (
    id            TEXT    PRIMARY KEY,
    collection_id TEXT    NOT NULL DEFAULT '',
    code          TEXT    NOT NULL,
    message       TEXT    NOT NULL DEFAULT '',
    message_zh    TEXT    NOT NULL DEFAULT '',
    at_ms         INTEGER NOT NULL DEFAULT 0,
    stream        TEXT    NOT NULL,
    seq           INTEGER NOT NULL
) STRICT;

-- The device settings (entity "settings", id "settings") as the JSON the
-- server sent, and any entity this app does not know yet (kept so that the
-- checksum still matches and a newer app can use it).
CREATE TABLE replica_other (
    entity TEXT    NOT NULL,
    id     TEXT    NOT NULL,
    data   BLOB    NOT NULL,
    stream TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (entity, id)
) STRICT;

-- Where the pull is and how the last sync went: one row.
CREATE TABLE sync_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    cursor          TEXT    NOT NULL DEFAULT '',   -- opaque; '' means bootstrap
    last_sync_ms    INTEGER NOT NULL DEFAULT 0,    -- last complete sync
    last_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error_code TEXT    NOT NULL DEFAULT '',
    last_error      TEXT    NOT NULL DEFAULT '',
    last_error_zh   TEXT    NOT NULL DEFAULT '',
    revoked         INTEGER NOT NULL DEFAULT 0     -- the server answered device_revoked
) STRICT;
INSERT INTO sync_state (id) VALUES (1);

-- The device public keys of the chains in the outbox, kept in clear so an
-- export can be made without the PIN (also after a re-enrollment).
CREATE TABLE device_key (
    device_id  TEXT PRIMARY KEY CHECK (length(device_id) = 26),
    public_key BLOB NOT NULL CHECK (length(public_key) = 32)
) STRICT;

-- The outbox: every record the device made, append-only, never deleted. The
-- hashed fields are stored exactly as hashed (payload byte for byte). state:
-- pending (not yet acknowledged), acked (the server holds it), parked (the
-- server keeps it but refused it for good: code and reason shown to the
-- agent).
CREATE TABLE mutation (
    device_id      TEXT    NOT NULL CHECK (length(device_id) = 26),
    seq            INTEGER NOT NULL CHECK (seq >= 1),
    id             TEXT    NOT NULL UNIQUE CHECK (length(id) = 26),
    kind           TEXT    NOT NULL CHECK (kind IN ('collection', 'void', 'deposit')),
    device_time    TEXT    NOT NULL,                 -- RFC 3339 UTC, as hashed
    prev_hash      TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    payload        BLOB    NOT NULL,
    hash           TEXT    NOT NULL UNIQUE CHECK (length(hash) = 64),
    signature      TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked', 'parked')),
    flags          TEXT    NOT NULL DEFAULT '[]',    -- JSON array from the push outcome
    park_code      TEXT    NOT NULL DEFAULT '',
    park_reason    TEXT    NOT NULL DEFAULT '',
    park_reason_zh TEXT    NOT NULL DEFAULT '',
    synced_ms      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, seq),
    FOREIGN KEY (device_id) REFERENCES device_key (device_id)
) STRICT;
CREATE INDEX mutation_state_idx ON mutation (device_id, state, seq);

-- The chain is enforced by the database too: seq 1, 2, 3… without gaps per
-- device, each prev_hash the hash of the record before (zeros for the
-- first); the hashed columns never change; nothing is deleted.
-- +goose StatementBegin
CREATE TRIGGER mutation_chain BEFORE INSERT ON mutation
WHEN NEW.seq <> coalesce((SELECT max(seq) FROM mutation WHERE device_id = NEW.device_id), 0) + 1
  OR NEW.prev_hash <> coalesce((SELECT hash FROM mutation WHERE device_id = NEW.device_id AND seq = NEW.seq - 1),
                               '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'mutation breaks the hash chain');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER mutation_append_only BEFORE UPDATE OF device_id, seq, id, kind, device_time, prev_hash, payload, hash, signature ON mutation
BEGIN
    SELECT RAISE(ABORT, 'mutations are append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER mutation_no_delete BEFORE DELETE ON mutation
BEGIN
    SELECT RAISE(ABORT, 'mutations are never deleted');
END;
-- +goose StatementEnd

-- Bank deposits of the cash held (the agent's settlement).
CREATE TABLE deposit (
    id           TEXT    PRIMARY KEY REFERENCES mutation (id),
    device_id    TEXT    NOT NULL,
    slip_no      TEXT    NOT NULL,
    amount       INTEGER NOT NULL,   -- fen, as on the slip
    deposited_ms INTEGER NOT NULL,
    count        INTEGER NOT NULL,   -- collections covered, voided ones excluded
    sum          INTEGER NOT NULL,   -- their total, fen
    chain_head   TEXT    NOT NULL
) STRICT;

-- The local view of the cash: one row per collection this tablet made,
-- written in the same transaction as its mutation. A voided collection
-- keeps its receipt number. village_code and township_code travel with
-- every collection (partitioning).
CREATE TABLE collection (
    id              TEXT    PRIMARY KEY REFERENCES mutation (id),
    device_id       TEXT    NOT NULL,
    receipt_num     INTEGER NOT NULL UNIQUE,
    receipt_no      TEXT    NOT NULL UNIQUE,
    roster_entry_id TEXT    NOT NULL,
    roster_version  INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    masked          TEXT    NOT NULL,
    village_code    TEXT    NOT NULL,
    township_code   TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    year            INTEGER NOT NULL,
    category        TEXT    NOT NULL,
    grade           INTEGER NOT NULL,  -- fen; 0 for medical
    amount          INTEGER NOT NULL CHECK (amount > 0),
    collected_ms    INTEGER NOT NULL,  -- the tablet's clock
    void_id         TEXT    REFERENCES mutation (id),
    void_reason     TEXT    NOT NULL DEFAULT '',
    voided_ms       INTEGER NOT NULL DEFAULT 0,
    deposit_id      TEXT    REFERENCES deposit (id)
) STRICT;
CREATE INDEX collection_undeposited_idx ON collection (device_id, collected_ms) WHERE deposit_id IS NULL;
CREATE INDEX collection_roster_idx ON collection (roster_entry_id);

-- +goose Down
DROP TABLE collection;
DROP TABLE deposit;
DROP TRIGGER mutation_no_delete;
DROP TRIGGER mutation_append_only;
DROP TRIGGER mutation_chain;
DROP TABLE mutation;
DROP TABLE device_key;
DROP TABLE sync_state;
DROP TABLE replica_other;
DROP TABLE notice;
DROP TABLE collection_status;
DROP TABLE receipt_range;
DROP TABLE roster_line;
