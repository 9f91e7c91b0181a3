-- +goose Up
-- A device's collections by seq. A pull's checkpoint lists every
-- collection of the device, and a push reads the receipt numbers the
-- device used: without this index both scanned the whole collection
-- table, so their time grew with the district's collections (a pull with
-- a million collections of other villages in the table was several times
-- slower than with none). It names neither status nor batch_id, so the
-- cut's and the approval's updates stay HOT.
CREATE INDEX collection_device_idx ON collection (device_id, seq);

-- +goose Down
DROP INDEX collection_device_idx;
