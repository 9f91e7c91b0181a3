package localstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jsonfast "github.com/go-json-experiment/json/v1"

	"villagesync/syncproto"
)

// settingsID is the one ID of the settings entity.
const settingsID = "settings"

// ApplyPage applies one pull page and stores its cursor in one
// transaction, so that a crash leaves either the whole page and its cursor
// or neither: the next pull resumes from the last cursor stored. Each
// change is the latest state of its row: an upsert replaces the row, a
// delete removes it. A change older than what the row holds from the same
// stream is skipped, and a delete only removes a row its own stream wrote
// last (see the migration).
func (s *Store) ApplyPage(ctx context.Context, changes []syncproto.Change, cursor string) (err error) {
	defer func() { err = diskFullSync(err) }()
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("localstore: begin: %w", err)
	}
	defer tx.Rollback()
	a, err := newApplier(ctx, tx)
	if err != nil {
		return err
	}
	defer a.close()
	for i := range changes {
		if err := a.apply(ctx, &changes[i]); err != nil {
			return err
		}
	}
	if err := a.flushRoster(ctx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET cursor = ? WHERE id = 1`, cursor); err != nil {
		return fmt.Errorf("localstore: store cursor: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("localstore: commit page: %w", err)
	}
	return nil
}

// replicaTables are the tables of the replica with the entity they hold
// ("" for replica_other, which holds its entity in a column).
var replicaTables = []struct{ table, entity string }{
	{"roster_line", syncproto.EntityRosterEntry},
	{"receipt_range", syncproto.EntityReceiptRange},
	{"collection_status", syncproto.EntityCollection},
	{"notice", syncproto.EntityNotice},
	{"replica_other", ""},
}

// applier holds the prepared statements of a page.
type applier struct {
	tx       *sql.Tx
	roster   *sql.Stmt
	rangeUp  *sql.Stmt
	statusUp *sql.Stmt
	noticeUp *sql.Stmt
	otherUp  *sql.Stmt
	stmts    []*sql.Stmt
	pending  []any // arguments of roster lines not written yet, rosterCols each
}

// rosterChunk is how many roster lines one upsert statement writes: a
// bootstrap's lines go in by the chunk, not one statement each.
const rosterChunk = 50

// rosterCols is the number of columns rosterUpsert sets per row.
const rosterCols = 17

// rosterUpsert is the upsert of n roster lines. Lines of one statement are
// written in order, so a line twice in it ends as the later one (under the
// same stale guard), as with one statement each.
func rosterUpsert(n int) string {
	row := "(" + strings.Repeat("?, ", rosterCols-1) + "?)"
	return `INSERT INTO roster_line (id, kind, year, name, initials, masked, id_hash, village_code, category,
		due, subsidy, grades, fully_subsidised, paid, review, stream, seq) VALUES ` +
		strings.Repeat(row+", ", n-1) + row + `
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, year = excluded.year, name = excluded.name,
		initials = excluded.initials, masked = excluded.masked, id_hash = excluded.id_hash,
		village_code = excluded.village_code, category = excluded.category, due = excluded.due,
		subsidy = excluded.subsidy, grades = excluded.grades, fully_subsidised = excluded.fully_subsidised,
		paid = excluded.paid, review = excluded.review, stream = excluded.stream, seq = excluded.seq` + notStale
}

// notStale is the guard of every upsert: a row is replaced unless it holds
// a newer state from the same stream.
const notStale = ` WHERE NOT (stream = excluded.stream AND seq > excluded.seq)`

func newApplier(ctx context.Context, tx *sql.Tx) (*applier, error) {
	a := &applier{tx: tx}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		if st, err = tx.PrepareContext(ctx, q); err != nil {
			err = fmt.Errorf("localstore: prepare: %w", err)
			return nil
		}
		a.stmts = append(a.stmts, st)
		return st
	}
	a.roster = prep(rosterUpsert(rosterChunk))
	a.rangeUp = prep(`INSERT INTO receipt_range (id, first_no, last_no, stream, seq) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET first_no = excluded.first_no, last_no = excluded.last_no,
		stream = excluded.stream, seq = excluded.seq` + notStale)
	a.statusUp = prep(`INSERT INTO collection_status (id, receipt_no, status, flags, stream, seq) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET receipt_no = excluded.receipt_no, status = excluded.status,
		flags = excluded.flags, stream = excluded.stream, seq = excluded.seq` + notStale)
	a.noticeUp = prep(`INSERT INTO notice (id, collection_id, code, message, message_zh, at_ms, stream, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET collection_id = excluded.collection_id, code = excluded.code,
		message = excluded.message, message_zh = excluded.message_zh, at_ms = excluded.at_ms,
		stream = excluded.stream, seq = excluded.seq` + notStale)
	a.otherUp = prep(`INSERT INTO replica_other (entity, id, data, stream, seq) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (entity, id) DO UPDATE SET data = excluded.data, stream = excluded.stream, seq = excluded.seq` + notStale)
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *applier) close() {
	for _, st := range a.stmts {
		st.Close()
	}
}

// entityTables maps the entities with a table of their own to it; the
// others live in replica_other.
var entityTables = map[string]string{
	syncproto.EntityRosterEntry:  "roster_line",
	syncproto.EntityReceiptRange: "receipt_range",
	syncproto.EntityCollection:   "collection_status",
	syncproto.EntityNotice:       "notice",
}

func (a *applier) apply(ctx context.Context, c *syncproto.Change) error {
	if c.Op != syncproto.OpUpsert || c.Entity != syncproto.EntityRosterEntry {
		// Keep the page's order: the roster lines before this change
		// are written before it.
		if err := a.flushRoster(ctx); err != nil {
			return err
		}
	}
	switch c.Op {
	case syncproto.OpDelete:
		// Only a row this stream wrote last, at this change or before:
		// a row moved to another stream is not ours to delete.
		var err error
		if t, ok := entityTables[c.Entity]; ok {
			_, err = a.tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE id = ? AND stream = ? AND seq <= ?`, c.ID, c.Stream, c.Seq)
		} else {
			_, err = a.tx.ExecContext(ctx, `DELETE FROM replica_other WHERE entity = ? AND id = ? AND stream = ? AND seq <= ?`,
				c.Entity, c.ID, c.Stream, c.Seq)
		}
		if err != nil {
			return fmt.Errorf("localstore: delete %s %s: %w", c.Entity, c.ID, err)
		}
		return nil
	case syncproto.OpUpsert:
		if err := a.upsert(ctx, c); err != nil {
			return fmt.Errorf("localstore: apply %s %s: %w", c.Entity, c.ID, err)
		}
		return nil
	default:
		return fmt.Errorf("localstore: change %s %s has unknown op %q", c.Entity, c.ID, c.Op)
	}
}

// upsert writes one changed row. Its data is decoded with encoding/json's
// behaviour: a roster line by syncproto.UnmarshalRosterLine (a bootstrap
// decodes 10,000 of them), the rest by go-json-experiment/json/v1, the
// same behaviour on the v2 engine in about half the time.
func (a *applier) upsert(ctx context.Context, c *syncproto.Change) error {
	switch c.Entity {
	case syncproto.EntityRosterEntry:
		var r syncproto.RosterLine
		if err := syncproto.UnmarshalRosterLine(c.Data, &r); err != nil {
			return err
		}
		a.pending = append(a.pending, c.ID, string(r.Kind), r.Year, r.Name, r.Initials, r.Masked, r.IDHash,
			r.VillageCode, string(r.Category), int64(r.Due), int64(r.Subsidy), encodeGrades(r.Grades),
			r.FullySubsidised, r.Paid, r.Review, c.Stream, c.Seq)
		if len(a.pending) == rosterChunk*rosterCols {
			return a.flushRoster(ctx)
		}
		return nil
	case syncproto.EntityReceiptRange:
		var r syncproto.ReceiptRange
		if err := jsonfast.Unmarshal(c.Data, &r); err != nil {
			return err
		}
		if r.First < 1 || r.Last < r.First {
			return fmt.Errorf("receipt range %d-%d is empty or negative", r.First, r.Last)
		}
		_, err := a.rangeUp.ExecContext(ctx, c.ID, r.First, r.Last, c.Stream, c.Seq)
		return err
	case syncproto.EntityCollection:
		var r syncproto.CollectionStatus
		if err := jsonfast.Unmarshal(c.Data, &r); err != nil {
			return err
		}
		flags, err := json.Marshal(nonNil(r.Flags))
		if err != nil {
			return err
		}
		_, err = a.statusUp.ExecContext(ctx, c.ID, r.ReceiptNo, r.Status, string(flags), c.Stream, c.Seq)
		return err
	case syncproto.EntityNotice:
		var r syncproto.Notice
		if err := jsonfast.Unmarshal(c.Data, &r); err != nil {
			return err
		}
		_, err := a.noticeUp.ExecContext(ctx, c.ID, r.CollectionID, r.Code, r.Message, r.MessageZH, toMS(r.At), c.Stream, c.Seq)
		return err
	case syncproto.EntitySettings:
		var r syncproto.DeviceSettings
		if err := jsonfast.Unmarshal(c.Data, &r); err != nil {
			return err
		}
	}
	if !json.Valid(c.Data) {
		return errors.New("data is not JSON")
	}
	_, err := a.otherUp.ExecContext(ctx, c.Entity, c.ID, []byte(c.Data), c.Stream, c.Seq)
	return err
}

// flushRoster writes the roster lines gathered so far.
func (a *applier) flushRoster(ctx context.Context) error {
	if len(a.pending) == 0 {
		return nil
	}
	var err error
	if n := len(a.pending) / rosterCols; n == rosterChunk {
		_, err = a.roster.ExecContext(ctx, a.pending...)
	} else {
		_, err = a.tx.ExecContext(ctx, rosterUpsert(n), a.pending...)
	}
	if err != nil {
		return fmt.Errorf("localstore: apply %d roster lines from %v: %w", len(a.pending)/rosterCols, a.pending[0], err)
	}
	a.pending = a.pending[:0]
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ReplicaItems lists every live replicated row with the change number that
// last wrote it, for syncproto.ReplicaChecksum. The settings are not among
// them: the server sends them whole, unnumbered (stream "s", seq 0),
// whenever they change, and its checkpoint leaves them out.
func (s *Store) ReplicaItems(ctx context.Context) ([]syncproto.ReplicaItem, error) {
	var items []syncproto.ReplicaItem
	for _, t := range replicaTables {
		// A table of one entity names it here, not in every row: a
		// bootstrap lists 10,000 roster lines.
		q := `SELECT id, seq FROM ` + t.table
		if t.entity == "" {
			q = `SELECT id, seq, entity FROM replica_other WHERE entity <> '` + syncproto.EntitySettings + `'`
		}
		rows, err := s.DB.QueryContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("localstore: replica items: %w", err)
		}
		for rows.Next() {
			it := syncproto.ReplicaItem{Entity: t.entity}
			dest := []any{&it.ID, &it.Seq, &it.Entity}
			if t.entity != "" {
				dest = dest[:2]
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("localstore: replica items: %w", err)
			}
			items = append(items, it)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("localstore: replica items: %w", err)
		}
	}
	return items, nil
}

// ResetReplica drops the whole replica and the cursor in one transaction,
// so the next pull is a bootstrap. The tablet's own records (outbox,
// collections, deposits) are not part of the replica and stay.
func (s *Store) ResetReplica(ctx context.Context) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("localstore: begin: %w", err)
	}
	defer tx.Rollback()
	if err := resetReplica(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func resetReplica(ctx context.Context, tx *sql.Tx) error {
	for _, t := range replicaTables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t.table); err != nil {
			return fmt.Errorf("localstore: reset %s: %w", t.table, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET cursor = '' WHERE id = 1`); err != nil {
		return fmt.Errorf("localstore: reset cursor: %w", err)
	}
	return nil
}

// Settings returns the device settings pulled from the server; ErrNotFound
// before the first pull brought them.
func (s *Store) Settings(ctx context.Context) (syncproto.DeviceSettings, error) {
	var data []byte
	var out syncproto.DeviceSettings
	err := s.q().QueryRowContext(ctx, `SELECT data FROM replica_other WHERE entity = ? AND id = ?`,
		syncproto.EntitySettings, settingsID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return out, ErrNotFound
	}
	if err != nil {
		return out, fmt.Errorf("localstore: read settings: %w", err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, fmt.Errorf("localstore: decode settings: %w", err)
	}
	return out, nil
}

// ReceiptRange is a block of receipt numbers with how much of it is used.
type ReceiptRange struct {
	ID    string `json:"id"`
	First int64  `json:"first"`
	Last  int64  `json:"last"`
	Next  int64  `json:"next"` // the next number to issue; Last+1 when used up
}

// Left is how many numbers remain in the range.
func (r ReceiptRange) Left() int64 { return max(0, r.Last-r.Next+1) }

// ReceiptRanges lists the ranges the device holds, in number order.
func (s *Store) ReceiptRanges(ctx context.Context) ([]ReceiptRange, error) {
	return receiptRanges(ctx, s.DB)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func receiptRanges(ctx context.Context, q queryer) ([]ReceiptRange, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.id, r.first_no, r.last_no,
		coalesce((SELECT max(c.receipt_num) FROM collection c WHERE c.receipt_num BETWEEN r.first_no AND r.last_no), r.first_no - 1) + 1
		FROM receipt_range r ORDER BY r.first_no`)
	if err != nil {
		return nil, fmt.Errorf("localstore: receipt ranges: %w", err)
	}
	defer rows.Close()
	var out []ReceiptRange
	for rows.Next() {
		var r ReceiptRange
		if err := rows.Scan(&r.ID, &r.First, &r.Last, &r.Next); err != nil {
			return nil, fmt.Errorf("localstore: receipt ranges: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Notice is a flag the server raised, as the tablet holds it.
type Notice struct {
	syncproto.Notice
	ReceiptNo string `json:"receipt_no,omitempty"` // of the collection it is about, when known here
}

// Notices lists the open notices (the server deletes a notice once dealt
// with), newest first.
func (s *Store) Notices(ctx context.Context) ([]Notice, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT n.id, n.collection_id, n.code, n.message, n.message_zh, n.at_ms,
		coalesce(c.receipt_no, '')
		FROM notice n LEFT JOIN collection c ON c.id = n.collection_id
		ORDER BY n.at_ms DESC, n.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("localstore: notices: %w", err)
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		var at int64
		if err := rows.Scan(&n.ID, &n.CollectionID, &n.Code, &n.Message, &n.MessageZH, &at, &n.ReceiptNo); err != nil {
			return nil, fmt.Errorf("localstore: notices: %w", err)
		}
		n.At = fromMS(at)
		out = append(out, n)
	}
	return out, rows.Err()
}

// SyncState is how the tablet's syncing stands.
type SyncState struct {
	Cursor      string    `json:"-"`
	LastSync    time.Time `json:"last_sync,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	ErrorCode   string    `json:"last_error_code,omitempty"`
	Error       string    `json:"last_error,omitempty"`
	ErrorZH     string    `json:"last_error_zh,omitempty"`
	Revoked     bool      `json:"revoked"`
}

// SyncState reads the sync state.
func (s *Store) SyncState(ctx context.Context) (SyncState, error) {
	var st SyncState
	var last, attempt int64
	err := s.q().QueryRowContext(ctx, `SELECT cursor, last_sync_ms, last_attempt_ms, last_error_code, last_error,
		last_error_zh, revoked FROM sync_state WHERE id = 1`).Scan(&st.Cursor, &last, &attempt,
		&st.ErrorCode, &st.Error, &st.ErrorZH, &st.Revoked)
	if err != nil {
		return st, fmt.Errorf("localstore: sync state: %w", err)
	}
	st.LastSync, st.LastAttempt = fromMS(last), fromMS(attempt)
	return st, nil
}

// RecordSync notes the end of a sync attempt at at: a nil err is a
// complete sync and clears the last error; otherwise err's code and
// messages are kept for the status screen.
func (s *Store) RecordSync(ctx context.Context, at time.Time, err error) error {
	var q string
	var args []any
	if err == nil {
		q = `UPDATE sync_state SET last_sync_ms = ?, last_attempt_ms = ?, last_error_code = '', last_error = '',
			last_error_zh = '' WHERE id = 1`
		args = []any{toMS(at), toMS(at)}
	} else {
		code, msg, zh := string(syncproto.ErrorCode(err)), err.Error(), ""
		var ce *syncproto.Error
		if errors.As(err, &ce) {
			msg, zh = ce.Message, ce.MessageZH
		}
		q = `UPDATE sync_state SET last_attempt_ms = ?, last_error_code = ?, last_error = ?, last_error_zh = ? WHERE id = 1`
		args = []any{toMS(at), code, msg, zh}
	}
	if _, err := s.DB.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("localstore: record sync: %w", err)
	}
	return nil
}

// MarkRevoked records that the server revoked this device: syncing stops
// for good until the tablet is enrolled again.
func (s *Store) MarkRevoked(ctx context.Context) error {
	if _, err := s.DB.ExecContext(ctx, `UPDATE sync_state SET revoked = 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("localstore: mark revoked: %w", err)
	}
	return nil
}
