package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// LockVillageStreams takes the change counters of villages, in code order,
// for the rest of tx: changes to these villages are then numbered in
// commit order.
func (db *DB) LockVillageStreams(ctx context.Context, tx pgx.Tx, villages []string) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM village_sync WHERE village_code = ANY($1) ORDER BY village_code FOR UPDATE`, villages)
	return translate(err)
}

// AppendVillageChange numbers a change in a village's stream (whose
// counter tx must hold, see LockVillageStreams) and logs it.
func (db *DB) AppendVillageChange(ctx context.Context, tx pgx.Tx, village, entity, id, op string, at time.Time) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `WITH n AS (
			UPDATE village_sync SET last_seq = last_seq + 1 WHERE village_code = $1 RETURNING last_seq, township_code)
		INSERT INTO sync_change (village_code, seq, township_code, entity, entity_id, op, at)
		SELECT $1, last_seq, township_code, $2, $3, $4, $5 FROM n RETURNING seq`, village, entity, id, op, at).Scan(&seq)
	return seq, translate(err)
}

// LockDeviceStream takes (creating it if needed) the change counter of a
// device's stream for the rest of tx.
func (db *DB) LockDeviceStream(ctx context.Context, tx pgx.Tx, device string) error {
	_, err := tx.Exec(ctx, `INSERT INTO device_sync (device_id) VALUES ($1) ON CONFLICT DO NOTHING;`, device)
	if err != nil {
		return translate(err)
	}
	_, err = tx.Exec(ctx, `SELECT 1 FROM device_sync WHERE device_id = $1 FOR UPDATE`, device)
	return translate(err)
}

// AppendDeviceChange numbers a change in a device's stream and logs it.
func (db *DB) AppendDeviceChange(ctx context.Context, tx pgx.Tx, device, entity, id, op string, at time.Time) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `WITH n AS (
			UPDATE device_sync SET last_seq = last_seq + 1 WHERE device_id = $1 RETURNING last_seq)
		INSERT INTO device_change (device_id, seq, entity, entity_id, op, at)
		SELECT $1, last_seq, $2, $3, $4, $5 FROM n RETURNING seq`, device, entity, id, op, at).Scan(&seq)
	return seq, translate(err)
}

// ChangeRef is one logged change: which row, and how.
type ChangeRef struct {
	Seq      int64
	Entity   string
	EntityID string
	Op       string
}

// VillageChanges returns the changes of a village after seq, in order.
func (db *DB) VillageChanges(ctx context.Context, q Querier, village string, after int64, limit int) ([]ChangeRef, error) {
	return collectChanges(ctx, q, `SELECT seq, entity, entity_id, op FROM sync_change
		WHERE village_code = $1 AND seq > $2 ORDER BY seq LIMIT $3`, village, after, limit)
}

// DeviceChanges returns the changes of a device's stream after seq.
func (db *DB) DeviceChanges(ctx context.Context, q Querier, device string, after int64, limit int) ([]ChangeRef, error) {
	return collectChanges(ctx, q, `SELECT seq, entity, entity_id, op FROM device_change
		WHERE device_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, device, after, limit)
}

func collectChanges(ctx context.Context, q Querier, sql string, args ...any) ([]ChangeRef, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ChangeRef])
	return out, translate(err)
}
