package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// RosterRow is one clean roster line to store.
type RosterRow struct {
	ID              string // a fresh ULID; kept only when the person is new
	Kind            string
	Year            int
	ResidentID      string
	Name            string
	Initials        string
	VillageCode     string
	TownshipCode    string
	Category        string
	DueFen          int64
	SubsidyFen      int64
	FullySubsidised bool
	Note            string
}

// RosterImport is one uploaded roster file and its outcome.
type RosterImport struct {
	ID            string          `json:"id"`
	Kind          string          `json:"kind"`
	Filename      string          `json:"filename"`
	ContentSHA256 []byte          `json:"content_sha256"`
	UploadedBy    string          `json:"uploaded_by"`
	UploadedAt    time.Time       `json:"uploaded_at"`
	Status        string          `json:"status"`
	Rows          int             `json:"rows"`
	Diff                          // counts of what the import changed
	ErrorCount    int             `json:"error_count"`
	Errors        json.RawMessage `json:"errors,omitempty"`
}

// Diff is what applying a roster changed.
type Diff struct {
	Added   int `json:"added"`
	Updated int `json:"updated"`
	Removed int `json:"removed"`
	Flagged int `json:"flagged"`
}

// Import statuses.
const (
	ImportApplied   = "applied"
	ImportRefused   = "refused"
	ImportUnchanged = "unchanged"
	ImportDryRun    = "dry_run"
)

// InsertRosterImport records an import that changes no roster line
// (refused, unchanged or dry run).
func (db *DB) InsertRosterImport(ctx context.Context, q Querier, imp RosterImport) error {
	_, err := q.Exec(ctx, `INSERT INTO roster_import (id, kind, filename, content_sha256, uploaded_by, uploaded_at,
		status, rows, added, updated, removed, flagged, error_count, errors)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		imp.ID, imp.Kind, imp.Filename, imp.ContentSHA256, imp.UploadedBy, imp.UploadedAt, imp.Status, imp.Rows,
		imp.Added, imp.Updated, imp.Removed, imp.Flagged, imp.ErrorCount, nullJSON(imp.Errors))
	return translate(err)
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

// AppliedImportWithHash finds an applied import of the same kind and file
// content, which makes a re-upload a no-op.
func (db *DB) AppliedImportWithHash(ctx context.Context, q Querier, kind string, hash []byte) (string, error) {
	var id string
	err := q.QueryRow(ctx, `SELECT id FROM roster_import WHERE kind = $1 AND content_sha256 = $2 AND status = 'applied'
		ORDER BY uploaded_at DESC LIMIT 1`, kind, hash).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, translate(err)
}

// RosterImports lists imports, newest first.
func (db *DB) RosterImports(ctx context.Context, kind string, limit int) ([]RosterImport, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, kind, filename, content_sha256, uploaded_by, uploaded_at, status, rows,
		added, updated, removed, flagged, error_count FROM roster_import
		WHERE $1 = '' OR kind = $1 ORDER BY uploaded_at DESC, id DESC LIMIT $2`, kind, limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []RosterImport
	for rows.Next() {
		var i RosterImport
		if err := rows.Scan(&i.ID, &i.Kind, &i.Filename, &i.ContentSHA256, &i.UploadedBy, &i.UploadedAt, &i.Status,
			&i.Rows, &i.Added, &i.Updated, &i.Removed, &i.Flagged, &i.ErrorCount); err != nil {
			return nil, translate(err)
		}
		out = append(out, i)
	}
	return out, translate(rows.Err())
}

// RosterImportByID reads one import with its error report.
func (db *DB) RosterImportByID(ctx context.Context, id string) (RosterImport, error) {
	var i RosterImport
	var errs []byte
	err := db.Pool.QueryRow(ctx, `SELECT id, kind, filename, content_sha256, uploaded_by, uploaded_at, status, rows,
		added, updated, removed, flagged, error_count, errors FROM roster_import WHERE id = $1`, id).
		Scan(&i.ID, &i.Kind, &i.Filename, &i.ContentSHA256, &i.UploadedBy, &i.UploadedAt, &i.Status,
			&i.Rows, &i.Added, &i.Updated, &i.Removed, &i.Flagged, &i.ErrorCount, &errs)
	i.Errors = errs
	return i, translate(err)
}

// ApplyRoster applies a validated roster file as a diff against the stored
// roster of the same kind, years and villages, in one transaction:
// new persons are added, changed lines updated (a person whose village
// changed moves, and both villages get the change), and persons left out
// are removed — unless already paid, in which case they stay, flagged for
// review. Every change is numbered in its village's sync change log in the
// same transaction, as are the import row (with the counts) and audit.
// With dryRun the same work is done and rolled back: the diff is exact.
func (db *DB) ApplyRoster(ctx context.Context, imp RosterImport, rows []RosterRow, audit AuditEntry, dryRun bool) (Diff, error) {
	var d Diff
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		now := imp.UploadedAt
		// One import of a kind at a time: its lock set is worked out from
		// the stored roster, which another import could change under it.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('roster_import:' || $1))`, imp.Kind); err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE roster_stage (
				id text, kind text, year int, resident_id text, name text, initials text, village_code text,
				township_code text, category text, due_fen bigint, subsidy_fen bigint, fully_subsidised boolean, note text
			) ON COMMIT DROP;
			CREATE TEMP TABLE roster_diff (
				entry_id text, op text, old_village text, new_village text, old_township text, new_township text
			) ON COMMIT DROP`); err != nil {
			return translate(err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"roster_stage"},
			[]string{"id", "kind", "year", "resident_id", "name", "initials", "village_code", "township_code",
				"category", "due_fen", "subsidy_fen", "fully_subsidised", "note"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				r := rows[i]
				return []any{r.ID, r.Kind, r.Year, r.ResidentID, r.Name, r.Initials, r.VillageCode, r.TownshipCode,
					r.Category, r.DueFen, r.SubsidyFen, r.FullySubsidised, r.Note}, nil
			}))
		if err != nil {
			return translate(err)
		}
		if err := db.InsertRosterImport(ctx, tx, imp); err != nil {
			return err
		}
		// Lock the change counters of every village touched, in code order
		// so that concurrent imports cannot deadlock.
		_, err = tx.Exec(ctx, `ANALYZE roster_stage;
			SELECT 1 FROM village_sync WHERE village_code IN (
				SELECT village_code FROM roster_stage
				UNION SELECT e.village_code FROM roster_entry e
				  JOIN (SELECT DISTINCT kind, year FROM roster_stage) k USING (kind, year)
				  WHERE e.village_code IN (SELECT village_code FROM roster_stage)
				     OR e.resident_id IN (SELECT resident_id FROM roster_stage)
			) ORDER BY village_code FOR UPDATE`)
		if err != nil {
			return translate(err)
		}
		// The diff: added, updated (or moved), removed, flagged.
		_, err = tx.Exec(ctx, `
			INSERT INTO roster_diff
			SELECT s.id, 'add', NULL, s.village_code, NULL, s.township_code FROM roster_stage s
			WHERE NOT EXISTS (SELECT 1 FROM roster_entry e WHERE (e.kind, e.year, e.resident_id) = (s.kind, s.year, s.resident_id));

			INSERT INTO roster_diff
			SELECT e.id, 'update', e.village_code, s.village_code, e.township_code, s.township_code
			FROM roster_entry e JOIN roster_stage s USING (kind, year, resident_id)
			WHERE (e.name, e.initials, e.village_code, e.category, e.due_fen, e.subsidy_fen, e.fully_subsidised, e.note)
			      IS DISTINCT FROM
			      (s.name, s.initials, s.village_code, s.category, s.due_fen, s.subsidy_fen, s.fully_subsidised, s.note)
			   OR e.review = 'removed_but_paid';

			INSERT INTO roster_diff
			SELECT e.id, CASE WHEN e.paid THEN 'flag' ELSE 'remove' END, e.village_code, e.village_code, e.township_code, e.township_code
			FROM roster_entry e
			JOIN (SELECT DISTINCT kind, year FROM roster_stage) k USING (kind, year)
			WHERE e.village_code IN (SELECT DISTINCT village_code FROM roster_stage)
			  AND NOT EXISTS (SELECT 1 FROM roster_stage s WHERE (s.kind, s.year, s.resident_id) = (e.kind, e.year, e.resident_id))
			  AND (NOT e.paid OR e.review IS DISTINCT FROM 'removed_but_paid')`)
		if err != nil {
			return translate(err)
		}
		// The change log: an upsert in the new village for adds, updates
		// and flags; a delete in the old village for removals and moves.
		_, err = tx.Exec(ctx, `
			CREATE TEMP TABLE roster_changes ON COMMIT DROP AS
			SELECT new_village AS village_code, new_township AS township_code, entry_id, 'upsert' AS op
			  FROM roster_diff WHERE op IN ('add', 'update', 'flag')
			UNION ALL
			SELECT old_village, old_township, entry_id, 'delete'
			  FROM roster_diff WHERE op = 'remove' OR (op = 'update' AND old_village <> new_village);

			CREATE TEMP TABLE roster_numbered ON COMMIT DROP AS
			SELECT c.*, v.last_seq + row_number() OVER (PARTITION BY c.village_code ORDER BY c.entry_id, c.op) AS seq
			FROM roster_changes c JOIN village_sync v USING (village_code);

			UPDATE village_sync v SET last_seq = n.max_seq
			FROM (SELECT village_code, max(seq) AS max_seq FROM roster_numbered GROUP BY village_code) n
			WHERE v.village_code = n.village_code`)
		if err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sync_change (village_code, seq, township_code, entity, entity_id, op, at)
			SELECT village_code, seq, township_code, 'roster_entry', entry_id, op, $1 FROM roster_numbered`, now); err != nil {
			return translate(err)
		}
		// Apply to roster_entry.
		_, err = tx.Exec(ctx, `
			INSERT INTO roster_entry (id, kind, year, resident_id, name, initials, village_code, township_code, category,
				due_fen, subsidy_fen, fully_subsidised, note, import_id, change_seq, updated_at)
			SELECT s.id, s.kind, s.year, s.resident_id, s.name, s.initials, s.village_code, s.township_code, s.category,
				s.due_fen, s.subsidy_fen, s.fully_subsidised, s.note, $1, n.seq, $2
			FROM roster_stage s
			JOIN roster_diff d ON d.entry_id = s.id AND d.op = 'add'
			JOIN roster_numbered n ON n.entry_id = s.id AND n.op = 'upsert'`, imp.ID, now)
		if err != nil {
			return translate(err)
		}
		_, err = tx.Exec(ctx, `
			UPDATE roster_entry e SET name = s.name, initials = s.initials, village_code = s.village_code,
				township_code = s.township_code, category = s.category, due_fen = s.due_fen, subsidy_fen = s.subsidy_fen,
				fully_subsidised = s.fully_subsidised, note = s.note, review = NULL, import_id = $1, change_seq = n.seq, updated_at = $2
			FROM roster_diff d, roster_stage s, roster_numbered n
			WHERE d.op = 'update' AND e.id = d.entry_id
			  AND (s.kind, s.year, s.resident_id) = (e.kind, e.year, e.resident_id)
			  AND n.entry_id = e.id AND n.op = 'upsert'`, imp.ID, now)
		if err != nil {
			return translate(err)
		}
		_, err = tx.Exec(ctx, `
			UPDATE roster_entry e SET review = 'removed_but_paid', import_id = $1, change_seq = n.seq, updated_at = $2
			FROM roster_diff d, roster_numbered n
			WHERE d.op = 'flag' AND e.id = d.entry_id AND n.entry_id = e.id AND n.op = 'upsert'`, imp.ID, now)
		if err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO roster_removed (id, kind, year, resident_id, name, village_code, category, removed_at)
			SELECT e.id, e.kind, e.year, e.resident_id, e.name, e.village_code, e.category, $1
			FROM roster_entry e JOIN roster_diff d ON d.op = 'remove' AND e.id = d.entry_id
			ON CONFLICT (id) DO NOTHING`, now); err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM roster_entry e USING roster_diff d WHERE d.op = 'remove' AND e.id = d.entry_id`); err != nil {
			return translate(err)
		}
		err = tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE op = 'add'), count(*) FILTER (WHERE op = 'update'),
			count(*) FILTER (WHERE op = 'remove'), count(*) FILTER (WHERE op = 'flag') FROM roster_diff`).
			Scan(&d.Added, &d.Updated, &d.Removed, &d.Flagged)
		if err != nil {
			return translate(err)
		}
		if dryRun {
			return errDryRun
		}
		_, err = tx.Exec(ctx, `UPDATE roster_import SET added = $2, updated = $3, removed = $4, flagged = $5 WHERE id = $1`,
			imp.ID, d.Added, d.Updated, d.Removed, d.Flagged)
		if err != nil {
			return translate(err)
		}
		audit.After = map[string]any{"import": audit.After, "diff": d}
		return db.Audit(ctx, tx, audit)
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return d, err
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run: roll back")

// RosterEntry is a stored roster line as the API shows it.
type RosterEntry struct {
	ID              string `json:"id"`
	Kind            string `json:"kind"`
	Year            int    `json:"year"`
	ResidentID      string `json:"resident_id,omitempty"`
	Name            string `json:"name"`
	Initials        string `json:"initials"`
	VillageCode     string `json:"village_code"`
	TownshipCode    string `json:"township_code"`
	Category        string `json:"category"`
	DueFen          int64  `json:"due_fen"`
	SubsidyFen      int64  `json:"subsidy_fen"`
	FullySubsidised bool   `json:"fully_subsidised"`
	Note            string `json:"note,omitempty"`
	Paid            bool   `json:"paid"`
	Review          string `json:"review,omitempty"`
}

// RosterQuery selects roster lines. Villages limits the search to those
// villages (an agent's); Township to one township; both empty: district.
// Exactly one of the search fields is normally set: Name (a part of the
// name), Initials (a prefix of the pinyin initials), ResidentID (the full
// number) or IDSuffix (its last 4 to 6 characters).
type RosterQuery struct {
	Villages   []string
	Township   string
	Kind       string
	Year       int
	Name       string
	Initials   string
	ResidentID string
	IDSuffix   string
	Limit      int
}

// SearchRoster finds roster lines.
func (db *DB) SearchRoster(ctx context.Context, q RosterQuery) ([]RosterEntry, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, kind, year, resident_id, name, initials, village_code, township_code,
		category, due_fen, subsidy_fen, fully_subsidised, note, paid, coalesce(review, '')
		FROM roster_entry
		WHERE (coalesce(cardinality($1::text[]), 0) = 0 OR village_code = ANY($1))
		  AND ($2 = '' OR township_code = $2)
		  AND ($3 = '' OR kind = $3)
		  AND ($4 = 0 OR year = $4)
		  AND ($5 = '' OR name LIKE '%' || $5 || '%')
		  AND ($6 = '' OR initials LIKE $6 || '%')
		  AND ($7 = '' OR resident_id = $7)
		  AND ($8 = '' OR right(resident_id, length($8)) = $8)
		ORDER BY village_code, name, resident_id LIMIT $9`,
		q.Villages, q.Township, q.Kind, q.Year, q.Name, q.Initials, q.ResidentID, q.IDSuffix, q.Limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []RosterEntry
	for rows.Next() {
		var e RosterEntry
		if err := rows.Scan(&e.ID, &e.Kind, &e.Year, &e.ResidentID, &e.Name, &e.Initials, &e.VillageCode, &e.TownshipCode,
			&e.Category, &e.DueFen, &e.SubsidyFen, &e.FullySubsidised, &e.Note, &e.Paid, &e.Review); err != nil {
			return nil, translate(err)
		}
		out = append(out, e)
	}
	return out, translate(rows.Err())
}

// RosterCount is one line of the per-village counts.
type RosterCount struct {
	VillageCode string `json:"village_code"`
	Kind        string `json:"kind"`
	Category    string `json:"category"`
	Paid        bool   `json:"paid"`
	Entries     int    `json:"entries"`
	DueFen      int64  `json:"due_fen"`
}

// RosterCounts counts roster lines per village, kind, category and payment
// status, for the villages given (all when empty) or a township.
func (db *DB) RosterCounts(ctx context.Context, villages []string, township string, year int) ([]RosterCount, error) {
	rows, err := db.Pool.Query(ctx, `SELECT village_code, kind, category, paid, count(*), sum(due_fen)
		FROM roster_entry
		WHERE (coalesce(cardinality($1::text[]), 0) = 0 OR village_code = ANY($1)) AND ($2 = '' OR township_code = $2)
		  AND ($3 = 0 OR year = $3)
		GROUP BY village_code, kind, category, paid ORDER BY village_code, kind, category, paid`, villages, township, year)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []RosterCount
	for rows.Next() {
		var c RosterCount
		if err := rows.Scan(&c.VillageCode, &c.Kind, &c.Category, &c.Paid, &c.Entries, &c.DueFen); err != nil {
			return nil, translate(err)
		}
		out = append(out, c)
	}
	return out, translate(rows.Err())
}

// TouchRosterLines gives every roster line of a kind and year in a region
// (a district or township code prefix) a new change in its village's
// stream, in one set-based statement, so that tablets pull them again:
// what the tablet holds of a line is worked out partly from the year
// settings (the grades open to the person).
func (db *DB) TouchRosterLines(ctx context.Context, tx pgx.Tx, kind string, year int, region string, at time.Time) (int, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM village_sync WHERE village_code IN (
			SELECT DISTINCT village_code FROM roster_entry WHERE kind = $1 AND year = $2 AND village_code LIKE $3 || '%')
		ORDER BY village_code FOR UPDATE`, kind, year, region); err != nil {
		return 0, translate(err)
	}
	tag, err := tx.Exec(ctx, `
		WITH lines AS (
			SELECT e.id, e.village_code, e.township_code,
				v.last_seq + row_number() OVER (PARTITION BY e.village_code ORDER BY e.id) AS seq
			FROM roster_entry e JOIN village_sync v USING (village_code)
			WHERE e.kind = $1 AND e.year = $2 AND e.village_code LIKE $3 || '%'
		), bumped AS (
			UPDATE village_sync v SET last_seq = m.max_seq
			FROM (SELECT village_code, max(seq) AS max_seq FROM lines GROUP BY village_code) m
			WHERE v.village_code = m.village_code
		), logged AS (
			INSERT INTO sync_change (village_code, seq, township_code, entity, entity_id, op, at)
			SELECT village_code, seq, township_code, 'roster_entry', id, 'upsert', $4 FROM lines
		)
		UPDATE roster_entry e SET change_seq = l.seq FROM lines l WHERE e.id = l.id`, kind, year, region, at)
	return int(tag.RowsAffected()), translate(err)
}
