-- +goose Up
-- People who use the system. role decides what they may do; township_code
-- and the agent_village rows decide where.
CREATE TABLE app_user (
    id            text PRIMARY KEY,                -- ULID
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name  text NOT NULL DEFAULT '',
    role          text NOT NULL CHECK (role IN ('admin', 'township', 'tax', 'hrss', 'medsec', 'agent')),
    township_code text REFERENCES township (code),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CHECK ((role IN ('township', 'agent')) = (township_code IS NOT NULL))
);
CREATE INDEX app_user_township_idx ON app_user (township_code) WHERE township_code IS NOT NULL;

-- The villages an agent serves (one or more, all in the agent's township).
CREATE TABLE agent_village (
    user_id       text NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    village_code  text NOT NULL REFERENCES village (code),
    township_code text NOT NULL REFERENCES township (code),
    PRIMARY KEY (user_id, village_code),
    CHECK (left(village_code, 9) = township_code)
);
CREATE INDEX agent_village_village_idx ON agent_village (village_code);

-- Failed logins per username, whether or not the user exists, so that a
-- lock-out answers the same for both and reveals nothing.
CREATE TABLE login_failure (
    username     text PRIMARY KEY,
    failures     int NOT NULL,
    last_at      timestamptz NOT NULL,
    locked_until timestamptz
);

-- Fixed-window request counters (per IP, per username) kept in the
-- database so that any number of stateless servers share them.
CREATE TABLE rate_limit (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         int NOT NULL
);

-- Tablets. A device acts for one agent in the agent's villages.
CREATE TABLE device (
    id            text PRIMARY KEY,                -- ULID, given at enrollment
    agent_id      text NOT NULL REFERENCES app_user (id),
    township_code text NOT NULL REFERENCES township (code),
    name          text NOT NULL,
    public_key    bytea NOT NULL CHECK (length(public_key) = 32), -- Ed25519
    enrolled_at   timestamptz NOT NULL,
    last_seen_at  timestamptz,
    revoked_at    timestamptz,
    revoked_by    text REFERENCES app_user (id)
);
CREATE INDEX device_township_idx ON device (township_code);
CREATE INDEX device_agent_idx ON device (agent_id);

-- One-time enrollment codes; only their hash is stored.
CREATE TABLE enrollment_code (
    code_hash     bytea PRIMARY KEY,
    agent_id      text NOT NULL REFERENCES app_user (id),
    township_code text NOT NULL REFERENCES township (code),
    created_by    text NOT NULL REFERENCES app_user (id),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    device_id     text REFERENCES device (id)
);

-- Refresh tokens, stored as SHA-256 hashes. Each use issues a successor in
-- the same family; presenting a used token again revokes the family.
CREATE TABLE refresh_token (
    token_hash  bytea PRIMARY KEY,
    family_id   text NOT NULL,
    user_id     text NOT NULL REFERENCES app_user (id),
    device_id   text REFERENCES device (id),
    parent_hash bytea,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_token_family_idx ON refresh_token (family_id);
CREATE INDEX refresh_token_parent_idx ON refresh_token (parent_hash);
CREATE INDEX refresh_token_user_idx ON refresh_token (user_id);
CREATE INDEX refresh_token_device_idx ON refresh_token (device_id) WHERE device_id IS NOT NULL;

-- The audit log: append-only. Every state change is written here in the
-- same transaction as the change, with who, where, when and what.
CREATE TABLE audit_log (
    id            text PRIMARY KEY,               -- ULID: time-ordered
    at            timestamptz NOT NULL,
    actor_id      text,                           -- NULL for anonymous (failed login of an unknown user)
    actor_name    text NOT NULL DEFAULT '',
    actor_role    text NOT NULL DEFAULT '',
    device_id     text,
    action        text NOT NULL,
    target_type   text NOT NULL DEFAULT '',
    target_id     text NOT NULL DEFAULT '',
    township_code text,
    village_code  text,
    before        jsonb,
    after         jsonb,
    ip            text NOT NULL DEFAULT '',
    request_id    text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_township_idx ON audit_log (township_code, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE refresh_token;
DROP TABLE enrollment_code;
DROP TABLE device;
DROP TABLE rate_limit;
DROP TABLE login_failure;
DROP TABLE agent_village;
DROP TABLE app_user;
