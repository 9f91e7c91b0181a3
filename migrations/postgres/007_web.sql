-- +goose Up
-- Sessions of the web console: a random token in an HttpOnly cookie,
-- stored here only as its SHA-256, so that any server process sharing the
-- database can check it and a leaked table gives no usable cookie. A
-- session ends at its absolute expiry, after an idle period, on logout, or
-- when its user is disabled (checked on every request).
CREATE TABLE web_session (
    token_hash   bytea PRIMARY KEY,
    user_id      text NOT NULL REFERENCES app_user (id),
    csrf_token   text NOT NULL,           -- echoed in every form of the session
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,    -- absolute expiry
    revoked_at   timestamptz
);
CREATE INDEX web_session_user_idx ON web_session (user_id);
CREATE INDEX web_session_expires_idx ON web_session (expires_at);

-- The township's list of flagged records.
CREATE INDEX collection_flagged_idx ON collection (township_code, business_day) WHERE cardinality(flags) > 0;

-- +goose Down
DROP INDEX collection_flagged_idx;
DROP TABLE web_session;
