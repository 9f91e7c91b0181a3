package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// The push's set-based SQL: a push reads what it needs in a few
// statements, numbers its changes in Go under the stream locks it holds,
// and writes the rows together (see WritePush).

// PushPlans sets how the rest of tx's queries are planned, for a push's
// reads: index probes for a few hundred keys given as arrays.
//   - No parallel plans: their estimated cost could pass PostgreSQL's
//     threshold for one, and each push then started two worker processes
//     to probe the keys (7 ms of the lookup of the people's collections,
//     against 1 ms without).
//   - Generic plans, made once per connection: with the arrays' real
//     lengths PostgreSQL planned each execution anew and chose bitmap
//     scans and hash joins, which took three times as long as the nested
//     index probes of the generic plan (the two lookups of the people's
//     collections, under make bench: 1.8 s of statement time against
//     0.6 s; PostgreSQL's CPU a record about 12 % lower in all).
//
// A generic plan is cached with the connection's prepared statement and
// made again when an ANALYZE (autovacuum's too) changes its tables'
// statistics: a new district's first pushes plan for empty tables, as
// custom plans did. A statement the push shares with other code (the
// receipt ranges, the audit line) may reuse a plan made outside a push;
// those are single-key lookups, never planned in parallel.
func (db *DB) PushPlans(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT set_config('max_parallel_workers_per_gather', '0', true),
		set_config('plan_cache_mode', 'force_generic_plan', true)`)
	return translate(err)
}

// RosterEntriesOfCollections is the roster line of each of a device's
// collections named (those a push voids).
func (db *DB) RosterEntriesOfCollections(ctx context.Context, tx pgx.Tx, device string, ids []string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT roster_entry_id FROM collection WHERE device_id = $1 AND id = ANY($2)`, device, ids)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err)
}

// VillageCounter is a village stream's counter, read under its lock.
type VillageCounter struct {
	LastSeq      int64
	TownshipCode string
}

// LockVillageCounters takes the change counters of villages, in code
// order, for the rest of tx and returns them: the caller numbers the
// changes and writes the counters back with WritePush.
func (db *DB) LockVillageCounters(ctx context.Context, tx pgx.Tx, villages []string) (map[string]VillageCounter, error) {
	rows, err := tx.Query(ctx, `SELECT village_code, last_seq, township_code FROM village_sync
		WHERE village_code = ANY($1) ORDER BY village_code FOR UPDATE`, villages)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := make(map[string]VillageCounter, len(villages))
	for rows.Next() {
		var v string
		var c VillageCounter
		if err := rows.Scan(&v, &c.LastSeq, &c.TownshipCode); err != nil {
			return nil, translate(err)
		}
		out[v] = c
	}
	return out, translate(rows.Err())
}

// LockDeviceCounters takes the counters of several device streams in ID
// order (creating them as needed) and returns their last numbers.
func (db *DB) LockDeviceCounters(ctx context.Context, tx pgx.Tx, devices []string) (map[string]int64, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO device_sync (device_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, devices); err != nil {
		return nil, translate(err)
	}
	rows, err := tx.Query(ctx, `SELECT device_id, last_seq FROM device_sync WHERE device_id = ANY($1) ORDER BY device_id FOR UPDATE`, devices)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := make(map[string]int64, len(devices))
	for rows.Next() {
		var d string
		var n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, translate(err)
		}
		out[d] = n
	}
	return out, translate(rows.Err())
}

// ActiveCollectionsOfAny lists, locked, the non-voided collections of
// any of these roster lines or people (ID number, kind and year): every
// collection a push may count as a duplicate, flag or unflag, in one
// statement. Collections of the same people in another kind or year are
// neither read nor locked.
func (db *DB) ActiveCollectionsOfAny(ctx context.Context, tx pgx.Tx, entryIDs []string, people []Person) ([]Collection, error) {
	ids, kinds, years := personArrays(people)
	return scanCollections(tx.Query(ctx, `SELECT `+collectionColumns+` FROM collection
		WHERE id = ANY(ARRAY(
			SELECT id FROM collection WHERE roster_entry_id = ANY($1)
			UNION ALL
			SELECT c.id FROM unnest($2::text[], $3::text[], $4::int[]) p(r, k, y)
			JOIN collection c ON c.resident_id = p.r AND c.kind = p.k AND c.year = p.y))
		AND status <> 'voided'
		ORDER BY id FOR UPDATE`, entryIDs, ids, kinds, years))
}

// ChangeRow is one change of a device or village stream, numbered by
// the push that holds the stream's counter.
type ChangeRow struct {
	Stream   string // device ID or village code
	Seq      int64
	Entity   string
	EntityID string
}

// PushWrites is what a push writes at its end (or before it reads rows
// again): everything numbered in Go under the locks the push holds.
type PushWrites struct {
	At             time.Time
	NewCollections []*Collection // inserted, in their final state
	Collections    []*Collection // existing rows whose state changed
	DeviceChanges  []ChangeRow   // all upserts
	VillageChanges []ChangeRow   // all upserts; township from the counter
	Notices        []NoticeRow
	Paid           []RosterPaid // one per line, its final state
	DeviceCounters map[string]int64
	VillageCounter map[string]VillageCounter
}

// RosterPaid is a roster line's paid flag and the change that set it.
type RosterPaid struct {
	ID        string
	Paid      bool
	ChangeSeq int64
}

// Empty reports whether there is nothing to write.
func (w *PushWrites) Empty() bool {
	return len(w.NewCollections) == 0 && len(w.Collections) == 0 && len(w.DeviceChanges) == 0 &&
		len(w.VillageChanges) == 0 && len(w.Notices) == 0 && len(w.Paid) == 0
}

// WritePush writes a push's rows: the new collections with one COPY, the
// rest in one pipelined batch (changes, paid flags and counters with one
// statement each over arrays; notices and changed collections, which are
// few, one statement each).
func (db *DB) WritePush(ctx context.Context, tx pgx.Tx, w PushWrites) error {
	if w.Empty() {
		return nil
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	if len(w.NewCollections) > 0 {
		cs := w.NewCollections
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"collection"}, []string{"id", "device_id", "agent_id", "seq",
			"receipt_no", "roster_entry_id", "roster_version", "resident_id", "name", "village_code", "township_code",
			"kind", "year", "category", "grade_fen", "amount_fen", "device_time", "received_at", "business_day",
			"status", "flags", "voided_at", "void_reason", "deposit_id", "change_seq"},
			pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
				c := cs[i]
				flags := c.Flags
				if flags == nil {
					flags = []string{}
				}
				return []any{c.ID, c.DeviceID, c.AgentID, c.Seq, c.ReceiptNo, c.RosterEntryID, c.RosterVersion,
					c.ResidentID, c.Name, c.VillageCode, c.TownshipCode, c.Kind, c.Year, c.Category, c.GradeFen,
					c.AmountFen, c.DeviceTime, c.ReceivedAt, c.BusinessDay, c.Status, flags, c.VoidedAt,
					null(c.VoidReason), null(c.DepositID), c.ChangeSeq}, nil
			}))
		if err != nil {
			return translate(err)
		}
	}
	b := &pgx.Batch{}
	for _, c := range w.Collections {
		flags := c.Flags
		if flags == nil {
			flags = []string{}
		}
		b.Queue(`UPDATE collection SET status = $2, flags = $3, voided_at = $4, void_reason = NULLIF($5, ''),
			deposit_id = NULLIF($6, ''), change_seq = $7 WHERE id = $1`,
			c.ID, c.Status, flags, c.VoidedAt, c.VoidReason, c.DepositID, c.ChangeSeq)
	}
	if n := len(w.DeviceChanges); n > 0 {
		dev, seq, ent, id := make([]string, n), make([]int64, n), make([]string, n), make([]string, n)
		for i, c := range w.DeviceChanges {
			dev[i], seq[i], ent[i], id[i] = c.Stream, c.Seq, c.Entity, c.EntityID
		}
		b.Queue(`INSERT INTO device_change (device_id, seq, entity, entity_id, op, at)
			SELECT d, s, e, i, 'upsert', $5 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) u(d, s, e, i)`,
			dev, seq, ent, id, w.At)
	}
	for _, n := range w.Notices {
		b.Queue(`INSERT INTO notice (id, device_id, township_code, collection_id, code, message, message_zh, at, change_seq)
			VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8, $9)`,
			n.ID, n.DeviceID, n.TownshipCode, n.CollectionID, n.Code, n.Message, n.MessageZH, n.At, n.ChangeSeq)
	}
	if n := len(w.VillageChanges); n > 0 {
		vil, seq, town, ent, id := make([]string, n), make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		for i, c := range w.VillageChanges {
			vil[i], seq[i], town[i], ent[i], id[i] = c.Stream, c.Seq, w.VillageCounter[c.Stream].TownshipCode, c.Entity, c.EntityID
		}
		b.Queue(`INSERT INTO sync_change (village_code, seq, township_code, entity, entity_id, op, at)
			SELECT v, s, t, e, i, 'upsert', $6 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[]) u(v, s, t, e, i)`,
			vil, seq, town, ent, id, w.At)
	}
	if n := len(w.Paid); n > 0 {
		id, paid, seq := make([]string, n), make([]bool, n), make([]int64, n)
		for i, p := range w.Paid {
			id[i], paid[i], seq[i] = p.ID, p.Paid, p.ChangeSeq
		}
		b.Queue(`UPDATE roster_entry r SET paid = u.p, change_seq = u.s, updated_at = $4
			FROM unnest($1::text[], $2::bool[], $3::bigint[]) u(i, p, s) WHERE r.id = u.i`, id, paid, seq, w.At)
	}
	if len(w.DeviceCounters) > 0 {
		var id []string
		var seq []int64
		for d, n := range w.DeviceCounters {
			id, seq = append(id, d), append(seq, n)
		}
		b.Queue(`UPDATE device_sync d SET last_seq = u.s FROM unnest($1::text[], $2::bigint[]) u(i, s)
			WHERE d.device_id = u.i AND d.last_seq <> u.s`, id, seq)
	}
	if len(w.VillageCounter) > 0 {
		var id []string
		var seq []int64
		for v, c := range w.VillageCounter {
			id, seq = append(id, v), append(seq, c.LastSeq)
		}
		b.Queue(`UPDATE village_sync v SET last_seq = u.s FROM unnest($1::text[], $2::bigint[]) u(i, s)
			WHERE v.village_code = u.i AND v.last_seq <> u.s`, id, seq)
	}
	if b.Len() == 0 {
		return nil
	}
	return translate(tx.SendBatch(ctx, b).Close())
}

// UsedReceipts returns which of nums the device has used, and its highest
// used number (a push needs no more: is a number reused, and how many are
// left above the highest).
func (db *DB) UsedReceipts(ctx context.Context, tx pgx.Tx, device string, nums []int64) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT receipt_no FROM collection WHERE device_id = $1 AND receipt_no = ANY($2)
		UNION SELECT max(receipt_no) FROM collection WHERE device_id = $1`, device, nums)
	if err != nil {
		return nil, translate(err)
	}
	ns, err := pgx.CollectRows(rows, pgx.RowTo[*int64])
	if err != nil {
		return nil, translate(err)
	}
	out := make([]int64, 0, len(ns))
	for _, n := range ns {
		if n != nil {
			out = append(out, *n)
		}
	}
	return out, nil
}
