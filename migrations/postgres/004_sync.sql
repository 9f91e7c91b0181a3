-- +goose Up
-- A secret for the keyed hash under which tablets find a person by full ID
-- number without storing it (syncproto.IDHash).
CREATE TABLE server_secret (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
INSERT INTO server_secret (name, value) VALUES ('id_hash_key',
    decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex'));

-- The device stream: changes meant for one tablet (the status of its
-- collections, notices, receipt ranges), numbered gaplessly per device
-- under the device_sync row lock like the village streams.
CREATE TABLE device_sync (
    device_id text PRIMARY KEY REFERENCES device (id),
    last_seq  bigint NOT NULL DEFAULT 0
);
CREATE TABLE device_change (
    device_id text NOT NULL,
    seq       bigint NOT NULL,
    entity    text NOT NULL,
    entity_id text NOT NULL,
    op        text NOT NULL CHECK (op IN ('upsert', 'delete')),
    at        timestamptz NOT NULL,
    PRIMARY KEY (device_id, seq)
);

-- Every mutation a tablet pushed, in its chain: stored exactly once per
-- (device, seq). A mutation that is authentic and well chained but
-- unusable (malformed payload) is kept as 'rejected' so the chain goes on.
CREATE TABLE mutation (
    device_id     text NOT NULL REFERENCES device (id),
    seq           bigint NOT NULL CHECK (seq >= 1),
    id            text NOT NULL UNIQUE,
    kind          text NOT NULL,
    device_time   timestamptz NOT NULL,
    device_time_text text NOT NULL,        -- exactly as hashed (timestamptz keeps microseconds only)
    prev_hash     text NOT NULL,
    payload       bytea NOT NULL,          -- exactly the bytes hashed and signed
    hash          text NOT NULL,
    signature     text NOT NULL,
    received_at   timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('stored', 'rejected')),
    reject_code   text,
    reject_reason text,
    township_code text NOT NULL,
    PRIMARY KEY (device_id, seq)
);

-- Receipt numbers: blocks handed to devices, never overlapping.
CREATE SEQUENCE receipt_block_seq;
CREATE TABLE receipt_range (
    id           text PRIMARY KEY,
    device_id    text NOT NULL REFERENCES device (id),
    first_no     bigint NOT NULL,
    last_no      bigint NOT NULL CHECK (last_no >= first_no),
    allocated_at timestamptz NOT NULL,
    change_seq   bigint NOT NULL
);
CREATE INDEX receipt_range_device_idx ON receipt_range (device_id, last_no);

-- Cash collected. The business day is the server's Asia/Shanghai date of
-- arrival; the tablet's clock time is kept beside it.
CREATE TABLE collection (
    id              text PRIMARY KEY,       -- the mutation's ULID
    device_id       text NOT NULL REFERENCES device (id),
    agent_id        text NOT NULL REFERENCES app_user (id),
    seq             bigint NOT NULL,
    receipt_no      bigint NOT NULL,
    roster_entry_id text NOT NULL,
    roster_version  bigint NOT NULL,
    resident_id     text NOT NULL DEFAULT '', -- from the roster line; '' when not on the roster
    name            text NOT NULL,
    village_code    text NOT NULL,
    township_code   text NOT NULL,
    kind            text NOT NULL,
    year            int NOT NULL,
    category        text NOT NULL,
    grade_fen       bigint NOT NULL,
    amount_fen      bigint NOT NULL CHECK (amount_fen >= 0),
    device_time     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    business_day    date NOT NULL,
    status          text NOT NULL DEFAULT 'synced',
    flags           text[] NOT NULL DEFAULT '{}',
    voided_at       timestamptz,
    void_reason     text,
    deposit_id      text,
    change_seq      bigint NOT NULL         -- in the device stream
) WITH (fillfactor = 50);  -- room for one HOT update of each row (status and batch: no index names them)
-- Not unique: a number issued twice is cash all the same; it is flagged.
CREATE INDEX collection_receipt_idx ON collection (receipt_no);
-- No index names status or batch_id: the daily cut and each approval
-- update them for every collection of a batch, and such updates stay HOT.
CREATE INDEX collection_person_idx ON collection (resident_id, kind, year);
CREATE INDEX collection_entry_idx ON collection (roster_entry_id);
CREATE INDEX collection_township_day_idx ON collection (township_code, business_day);
CREATE INDEX collection_undeposited_idx ON collection (device_id, seq) WHERE deposit_id IS NULL;

CREATE TABLE deposit (
    id             text PRIMARY KEY,        -- the mutation's ULID
    device_id      text NOT NULL REFERENCES device (id),
    agent_id       text NOT NULL REFERENCES app_user (id),
    township_code  text NOT NULL,
    seq            bigint NOT NULL,
    slip_no        text NOT NULL,
    amount_fen     bigint NOT NULL,
    deposited_at   timestamptz NOT NULL,
    count          int NOT NULL,
    sum_fen        bigint NOT NULL,
    chain_head     text NOT NULL,
    server_count   int NOT NULL,
    server_sum_fen bigint NOT NULL,
    flags          text[] NOT NULL DEFAULT '{}',
    received_at    timestamptz NOT NULL
);
CREATE INDEX deposit_township_idx ON deposit (township_code, received_at);

-- Notices to an agent: a flag raised on a collection or a deposit.
CREATE TABLE notice (
    id            text PRIMARY KEY,
    device_id     text NOT NULL REFERENCES device (id),
    township_code text NOT NULL,
    collection_id text,
    code          text NOT NULL,
    message       text NOT NULL,
    message_zh    text NOT NULL,
    at            timestamptz NOT NULL,
    change_seq    bigint NOT NULL
);
CREATE INDEX notice_device_idx ON notice (device_id);

-- Roster lines removed by an import, kept so that a collection made
-- offline against a removed line still knows whose cash it is (and a later
-- payment by the same person is caught as a duplicate).
CREATE TABLE roster_removed (
    id           text PRIMARY KEY,
    kind         text NOT NULL,
    year         int NOT NULL,
    resident_id  text NOT NULL,
    name         text NOT NULL,
    village_code text NOT NULL,
    category     text NOT NULL,
    removed_at   timestamptz NOT NULL
);

-- Tamper and chain alerts for the township.
CREATE TABLE sync_alert (
    id            text PRIMARY KEY,
    device_id     text NOT NULL,
    township_code text NOT NULL,
    code          text NOT NULL,
    seq           bigint,
    detail        text NOT NULL,
    at            timestamptz NOT NULL
);
CREATE INDEX sync_alert_township_idx ON sync_alert (township_code, at);

-- +goose Down
DROP TABLE sync_alert;
DROP TABLE roster_removed;
DROP TABLE notice;
DROP TABLE deposit;
DROP TABLE collection;
DROP TABLE receipt_range;
DROP SEQUENCE receipt_block_seq;
DROP TABLE mutation;
DROP TABLE device_change;
DROP TABLE device_sync;
DROP TABLE server_secret;
