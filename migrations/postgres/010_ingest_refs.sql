-- +goose Up
-- The references of the two tables every push writes to, checked once
-- per statement instead of once per row.
--
-- mutation.device_id, collection.device_id and collection.agent_id were
-- foreign keys. PostgreSQL checks a foreign key with a row trigger: a
-- lookup of the referenced row, run through SPI, for every row written.
-- Under `make bench` (pg_stat_statements, one tablet, pushes of 200)
-- that was a fifth of PostgreSQL's time in a push: a collection's COPY
-- cost 38 µs a row with its two keys and 23 without, a mutation's 18 and
-- 11. A push's rows all name the one device whose row it holds locked,
-- so the same lookup ran 600 times per push to the same answer.
--
-- The guarantee stays, in three parts:
--  * after each INSERT statement into mutation or collection, one query
--    over the statement's new rows (a transition table) looks for a
--    device or agent that does not exist, and refuses the whole statement
--    with foreign_key_violation (23503), the error the keys raised;
--  * no UPDATE statement may name a mutation's or collection's device or
--    agent: a record belongs for good to the tablet and agent that made
--    it (the server never changes them);
--  * devices and users are never deleted, nor their IDs changed (a tablet
--    is revoked, a user disabled; the audit log and the cash name them).
--    A foreign key also guards the referenced side; with no delete there
--    is nothing to guard, and no race between a delete and an insert
--    that a per-statement check, taking no row locks, would lose.
-- All these triggers are statement triggers: an UPDATE that names none
-- of the columns (the cut's, an approval's) never runs them.
ALTER TABLE mutation DROP CONSTRAINT mutation_device_id_fkey;
ALTER TABLE collection DROP CONSTRAINT collection_device_id_fkey, DROP CONSTRAINT collection_agent_id_fkey;

-- +goose StatementBegin
-- ref_exists(column, table): every value of the statement's new rows in
-- column is the id of a row of table.
CREATE FUNCTION ref_exists() RETURNS trigger LANGUAGE plpgsql
-- The table is named by the argument: resolve it in the schema the
-- migration ran in, whatever the caller's search_path.
SET search_path FROM CURRENT AS $$
DECLARE
    missing text;
BEGIN
    EXECUTE format('SELECT n.v FROM (SELECT DISTINCT %1$I AS v FROM new_rows) n
        WHERE NOT EXISTS (SELECT FROM %2$I r WHERE r.id = n.v) LIMIT 1', TG_ARGV[0], TG_ARGV[1])
        INTO missing;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert into % refused: % "%" does not exist in %', TG_TABLE_NAME, TG_ARGV[0], missing, TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = TG_ARGV[0];
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION refuse_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'integrity_constraint_violation', TABLE = TG_TABLE_NAME;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER mutation_device_exists AFTER INSERT ON mutation
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ref_exists('device_id', 'device');
CREATE TRIGGER collection_device_exists AFTER INSERT ON collection
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ref_exists('device_id', 'device');
CREATE TRIGGER collection_agent_exists AFTER INSERT ON collection
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ref_exists('agent_id', 'app_user');

CREATE TRIGGER mutation_owner_fixed BEFORE UPDATE OF device_id ON mutation
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_statement('a record''s device never changes');
CREATE TRIGGER collection_owner_fixed BEFORE UPDATE OF device_id, agent_id ON collection
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_statement('a collection''s device and agent never change');

CREATE TRIGGER device_kept BEFORE DELETE OR UPDATE OF id ON device
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_statement('devices are revoked, never deleted or renumbered');
CREATE TRIGGER device_kept_truncate BEFORE TRUNCATE ON device
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_statement('devices are revoked, never deleted or renumbered');
CREATE TRIGGER app_user_kept BEFORE DELETE OR UPDATE OF id ON app_user
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_statement('users are disabled, never deleted or renumbered');
CREATE TRIGGER app_user_kept_truncate BEFORE TRUNCATE ON app_user
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_statement('users are disabled, never deleted or renumbered');

-- +goose Down
DROP TRIGGER app_user_kept_truncate ON app_user;
DROP TRIGGER app_user_kept ON app_user;
DROP TRIGGER device_kept_truncate ON device;
DROP TRIGGER device_kept ON device;
DROP TRIGGER collection_owner_fixed ON collection;
DROP TRIGGER mutation_owner_fixed ON mutation;
DROP TRIGGER collection_agent_exists ON collection;
DROP TRIGGER collection_device_exists ON collection;
DROP TRIGGER mutation_device_exists ON mutation;
DROP FUNCTION refuse_statement();
DROP FUNCTION ref_exists();
ALTER TABLE collection ADD CONSTRAINT collection_device_id_fkey FOREIGN KEY (device_id) REFERENCES device (id),
    ADD CONSTRAINT collection_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES app_user (id);
ALTER TABLE mutation ADD CONSTRAINT mutation_device_id_fkey FOREIGN KEY (device_id) REFERENCES device (id);
