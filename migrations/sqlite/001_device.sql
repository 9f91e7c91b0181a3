-- +goose Up
-- Facts about this tablet and its enrollment, one row per key.
CREATE TABLE device_setting (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE device_setting;
