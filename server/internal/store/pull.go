package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ReadSnapshot runs fn in a read-only REPEATABLE READ transaction: every
// query of fn sees one snapshot, so a pull's changes and its checkpoint
// agree. Changes of one stream commit in number order (the stream's row
// lock), so a snapshot always holds a prefix of each stream.
func (db *DB) ReadSnapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return translate(pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn))
}

// Secret returns a named server secret.
func (db *DB) Secret(ctx context.Context, q Querier, name string) ([]byte, error) {
	var v []byte
	err := q.QueryRow(ctx, `SELECT value FROM server_secret WHERE name = $1`, name).Scan(&v)
	return v, translate(err)
}

// DeviceScope is a device's agent, township and villages now.
func (db *DB) DeviceScope(ctx context.Context, q Querier, device string) (agent, township string, villages []string, err error) {
	err = q.QueryRow(ctx, `SELECT d.agent_id, d.township_code,
			coalesce((SELECT array_agg(village_code ORDER BY village_code) FROM agent_village WHERE user_id = d.agent_id), '{}')
		FROM device d WHERE d.id = $1`, device).Scan(&agent, &township, &villages)
	return agent, township, villages, translate(err)
}

// RosterLineRow is a roster line with its change number, for pulls.
type RosterLineRow struct {
	RosterEntry
	ChangeSeq int64
}

// RosterLinesByID reads roster lines.
func (db *DB) RosterLinesByID(ctx context.Context, q Querier, ids []string) (map[string]RosterLineRow, error) {
	return rosterLinesByID(ctx, q, ids, "")
}

// rosterLinesByID reads roster lines by ID; suffix ends the statement
// (ordering and locking).
func rosterLinesByID(ctx context.Context, q Querier, ids []string, suffix string) (map[string]RosterLineRow, error) {
	rows, err := q.Query(ctx, `SELECT id, kind, year, resident_id, name, initials, village_code, township_code,
		category, due_fen, subsidy_fen, fully_subsidised, note, paid, coalesce(review, ''), change_seq
		FROM roster_entry WHERE id = ANY($1)`+suffix, ids)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := make(map[string]RosterLineRow, len(ids))
	for rows.Next() {
		var r RosterLineRow
		e := &r.RosterEntry
		if err := rows.Scan(&e.ID, &e.Kind, &e.Year, &e.ResidentID, &e.Name, &e.Initials, &e.VillageCode, &e.TownshipCode,
			&e.Category, &e.DueFen, &e.SubsidyFen, &e.FullySubsidised, &e.Note, &e.Paid, &e.Review, &r.ChangeSeq); err != nil {
			return nil, translate(err)
		}
		out[e.ID] = r
	}
	return out, translate(rows.Err())
}

// CollectionsByID reads collections.
func (db *DB) CollectionsByID(ctx context.Context, q Querier, ids []string) (map[string]Collection, error) {
	cs, err := scanCollections(q.Query(ctx, `SELECT `+collectionColumns+` FROM collection WHERE id = ANY($1)`, ids))
	if err != nil {
		return nil, err
	}
	out := make(map[string]Collection, len(cs))
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, nil
}

// NoticesByID reads notices.
func (db *DB) NoticesByID(ctx context.Context, q Querier, ids []string) (map[string]NoticeRow, error) {
	rows, err := q.Query(ctx, `SELECT id, device_id, township_code, coalesce(collection_id, ''), code, message, message_zh, at, change_seq
		FROM notice WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, translate(err)
	}
	ns, err := pgx.CollectRows(rows, pgx.RowToStructByPos[NoticeRow])
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]NoticeRow, len(ns))
	for _, n := range ns {
		out[n.ID] = n
	}
	return out, nil
}

// ScopeItem is one live replicated row of a device's scope.
type ScopeItem struct {
	Entity string
	ID     string
	Seq    int64
}

// ScopeItems lists every live row a device replicates, with the change
// number of its current state: the roster lines of its villages and its
// own collections, notices and receipt ranges.
func (db *DB) ScopeItems(ctx context.Context, q Querier, device string, villages []string) ([]ScopeItem, error) {
	rows, err := q.Query(ctx, `
		SELECT 'roster_entry', id, change_seq FROM roster_entry WHERE village_code = ANY($2)
		UNION ALL SELECT 'collection', id, change_seq FROM collection WHERE device_id = $1
		UNION ALL SELECT 'notice', id, change_seq FROM notice WHERE device_id = $1
		UNION ALL SELECT 'receipt_range', id, change_seq FROM receipt_range WHERE device_id = $1`, device, villages)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ScopeItem])
	return out, translate(err)
}
