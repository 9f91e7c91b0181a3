-- +goose Up
-- Push ingest, profiled under `make bench` (auto_explain):
--
-- A push asks for the device's highest used receipt number. With an
-- index on receipt_no alone PostgreSQL walked that index backwards over
-- every other device's numbers. Receipt numbers are only ever looked up
-- within a device, so the index leads with the device.
-- (Built in place: on a district already holding a season's collections
-- it blocks writes to collection while it builds; apply it between
-- seasons or in a quiet hour.)
DROP INDEX collection_receipt_idx;
CREATE INDEX collection_device_receipt_idx ON collection (device_id, receipt_no);

-- Every collection sets its roster line's paid flag and change number.
-- roster_entry_village_idx named change_seq, so each of those updates
-- was a new tuple in all four indexes. Nothing reads roster lines in
-- change_seq order (pulls read the village's change log), and
-- roster_entry_initials_idx already leads with village_code. Without it,
-- and with free room in each page, the paid update is HOT: no index is
-- touched. Half of each page is left free, room for one new version of
-- every line on it, as for collection (at 60 % a quarter of the updates
-- under `make bench` found their page full and were not HOT). The
-- fillfactor applies to pages written from now on (a roster imported
-- before this migration gets it on its next rewrite, e.g. VACUUM FULL
-- roster_entry).
DROP INDEX roster_entry_village_idx;
ALTER TABLE roster_entry SET (fillfactor = 50);

-- Each collection went into two indexes on (device_id, seq): the full
-- one of 008 and a partial one of the undeposited. The deposit's read of
-- a device's undeposited collections uses the full one as well, and
-- without the partial index a deposit's update of deposit_id is HOT.
DROP INDEX collection_undeposited_idx;

-- Nothing looks village changes up by entity: pulls read a village's
-- log by (village_code, seq), its primary key. The index cost every
-- collection (its roster line's paid flag is a village change) and every
-- roster import line an index entry.
DROP INDEX sync_change_entity_idx;

-- +goose Down
CREATE INDEX sync_change_entity_idx ON sync_change (entity, entity_id);
CREATE INDEX collection_undeposited_idx ON collection (device_id, seq) WHERE deposit_id IS NULL;
ALTER TABLE roster_entry RESET (fillfactor);
CREATE INDEX roster_entry_village_idx ON roster_entry (village_code, change_seq);
DROP INDEX collection_device_receipt_idx;
CREATE INDEX collection_receipt_idx ON collection (receipt_no);
