-- +goose Up
-- The administrative divisions of one district: townships (镇/街道) and
-- villages (村/社区), keyed by their statistical division codes
-- (9 digits for a township, 12 for a village).
CREATE TABLE township (
    code       text PRIMARY KEY CHECK (code ~ '^[0-9]{9}$'),
    name       text NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE village (
    code          text PRIMARY KEY CHECK (code ~ '^[0-9]{12}$'),
    township_code text NOT NULL REFERENCES township (code),
    name          text NOT NULL CHECK (name <> ''),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (left(code, 9) = township_code)
);
CREATE INDEX village_township_idx ON village (township_code);

-- +goose Down
DROP TABLE village;
DROP TABLE township;
