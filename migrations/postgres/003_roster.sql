-- +goose Up
-- Year settings as data (settings.Year as JSON), per insurance kind,
-- coverage year and region: a district row (6-digit code) and optional
-- township overrides (9-digit code).
CREATE TABLE year_setting (
    kind        text NOT NULL CHECK (kind IN ('pension', 'medical')),
    year        int NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    region_code text NOT NULL CHECK (region_code ~ '^([0-9]{6}|[0-9]{9})$'),
    body        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text REFERENCES app_user (id),
    PRIMARY KEY (kind, year, region_code)
);

-- The sync change log. Changes are numbered per village with no gaps: a
-- writer takes the village's counter row lock (FOR UPDATE, in village-code
-- order) and holds it until commit, so within a village numbering order is
-- commit order and a pull never skips a change that commits late.
CREATE TABLE village_sync (
    village_code  text PRIMARY KEY REFERENCES village (code),
    township_code text NOT NULL,
    last_seq      bigint NOT NULL DEFAULT 0
);
INSERT INTO village_sync (village_code, township_code) SELECT code, township_code FROM village;

-- +goose StatementBegin
CREATE FUNCTION village_sync_init() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO village_sync (village_code, township_code) VALUES (NEW.code, NEW.township_code)
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER village_sync_init AFTER INSERT ON village FOR EACH ROW EXECUTE FUNCTION village_sync_init();

CREATE TABLE sync_change (
    village_code  text NOT NULL,
    seq           bigint NOT NULL,
    township_code text NOT NULL,
    entity        text NOT NULL,          -- 'roster_entry', later collections, notices, ...
    entity_id     text NOT NULL,
    op            text NOT NULL CHECK (op IN ('upsert', 'delete')),
    at            timestamptz NOT NULL,
    PRIMARY KEY (village_code, seq)
);
CREATE INDEX sync_change_entity_idx ON sync_change (entity, entity_id);

-- Roster imports: one row per uploaded file, kept with its outcome and,
-- for a refused file, its row-level error report.
CREATE TABLE roster_import (
    id             text PRIMARY KEY,       -- ULID
    kind           text NOT NULL CHECK (kind IN ('pension', 'medical')),
    filename       text NOT NULL,
    content_sha256 bytea NOT NULL,
    uploaded_by    text NOT NULL REFERENCES app_user (id),
    uploaded_at    timestamptz NOT NULL,
    status         text NOT NULL CHECK (status IN ('applied', 'refused', 'unchanged', 'dry_run')),
    rows           int NOT NULL,
    added          int NOT NULL DEFAULT 0,
    updated        int NOT NULL DEFAULT 0,
    removed        int NOT NULL DEFAULT 0,
    flagged        int NOT NULL DEFAULT 0,
    error_count    int NOT NULL DEFAULT 0,
    errors         jsonb
);
CREATE INDEX roster_import_hash_idx ON roster_import (kind, content_sha256) WHERE status = 'applied';
CREATE INDEX roster_import_time_idx ON roster_import (uploaded_at DESC);

-- The collection roster (征收清册): one line per person, kind and year.
CREATE TABLE roster_entry (
    id               text PRIMARY KEY,     -- ULID
    kind             text NOT NULL CHECK (kind IN ('pension', 'medical')),
    year             int NOT NULL,
    resident_id      text NOT NULL CHECK (length(resident_id) = 18),
    name             text NOT NULL CHECK (name <> ''),
    initials         text NOT NULL DEFAULT '',
    village_code     text NOT NULL REFERENCES village (code),
    township_code    text NOT NULL,
    category         text NOT NULL,
    due_fen          bigint NOT NULL CHECK (due_fen >= 0),
    subsidy_fen      bigint NOT NULL CHECK (subsidy_fen >= 0),
    fully_subsidised boolean NOT NULL,
    note             text NOT NULL DEFAULT '',
    paid             boolean NOT NULL DEFAULT false,  -- set when a collection or another channel pays it
    review           text,                 -- why it needs a look, e.g. 'removed_but_paid'
    import_id        text NOT NULL REFERENCES roster_import (id),
    change_seq       bigint NOT NULL,      -- position of its last change in its village's log
    updated_at       timestamptz NOT NULL,
    UNIQUE (kind, year, resident_id)
);
CREATE INDEX roster_entry_village_idx ON roster_entry (village_code, change_seq);
CREATE INDEX roster_entry_initials_idx ON roster_entry (village_code, initials text_pattern_ops);

-- +goose Down
DROP TABLE roster_entry;
DROP TABLE roster_import;
DROP TABLE sync_change;
DROP TRIGGER village_sync_init ON village;
DROP FUNCTION village_sync_init();
DROP TABLE village_sync;
DROP TABLE year_setting;
