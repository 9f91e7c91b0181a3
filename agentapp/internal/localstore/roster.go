package localstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"villagesync/syncproto"
)

// RosterLine is a line of the village roster as the tablet holds it, with
// the change number of its current state (the roster version a collection
// is made against).
type RosterLine struct {
	syncproto.RosterLine
	Seq int64 `json:"seq"`
}

const rosterColumns = `id, kind, year, name, initials, masked, id_hash, village_code, category, due, subsidy,
	grades, fully_subsidised, paid, review, seq`

func scanRoster(sc interface{ Scan(...any) error }) (RosterLine, error) {
	var r RosterLine
	var kind, cat, grades string
	var due, subsidy int64
	err := sc.Scan(&r.ID, &kind, &r.Year, &r.Name, &r.Initials, &r.Masked, &r.IDHash, &r.VillageCode, &cat,
		&due, &subsidy, &grades, &r.FullySubsidised, &r.Paid, &r.Review, &r.Seq)
	if err != nil {
		return r, err
	}
	r.Kind, r.Category, r.Due, r.Subsidy = syncproto.Kind(kind), syncproto.Category(cat), syncproto.Money(due), syncproto.Money(subsidy)
	if r.Grades, err = decodeGrades(grades); err != nil {
		return r, fmt.Errorf("grades of %s: %w", r.ID, err)
	}
	return r, nil
}

// RosterLine reads one roster line by its ID; ErrNotFound when the
// replica has none.
func (s *Store) RosterLine(ctx context.Context, id string) (RosterLine, error) {
	r, err := scanRoster(s.q().QueryRowContext(ctx, `SELECT `+rosterColumns+` FROM roster_line WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("localstore: roster line: %w", err)
	}
	return r, nil
}

// RosterQuery selects roster lines. Exactly one of Name, Initials, IDHash
// and Last4 is normally set; Kind narrows any of them.
type RosterQuery struct {
	Name     string         // a part of the name
	Initials string         // a prefix of the pinyin initials (zs finds 张三)
	IDHash   string         // syncproto.IDHash of a full resident ID
	Last4    string         // the last four characters of the ID, as the masked ID shows them
	Kind     syncproto.Kind // "" for both kinds
	Limit    int            // 0 means 50
}

// SearchRoster finds roster lines, ordered by village, name and kind; an
// empty query lists them all (up to Limit).
// Name and Initials together match either (a Latin query may be either).
func (s *Store) SearchRoster(ctx context.Context, q RosterQuery) ([]RosterLine, error) {
	var where []string
	var args []any
	switch {
	case q.Name != "" && q.Initials != "":
		where = append(where, `(instr(name, ?) > 0 OR initials LIKE ? ESCAPE '\')`)
		args = append(args, q.Name, likePrefix(q.Initials))
	case q.Name != "":
		where = append(where, `instr(name, ?) > 0`)
		args = append(args, q.Name)
	case q.Initials != "":
		where = append(where, `initials LIKE ? ESCAPE '\'`)
		args = append(args, likePrefix(q.Initials))
	}
	if q.IDHash != "" {
		where = append(where, `id_hash = ?`)
		args = append(args, q.IDHash)
	}
	if q.Last4 != "" {
		where = append(where, `substr(masked, -4) = ?`)
		args = append(args, strings.ToUpper(q.Last4))
	}
	if q.Kind != "" {
		where = append(where, `kind = ?`)
		args = append(args, string(q.Kind))
	}
	if len(where) == 0 {
		where = append(where, "1 = 1") // no criterion: the whole roster, up to Limit
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT `+rosterColumns+` FROM roster_line WHERE `+strings.Join(where, " AND ")+
		` ORDER BY village_code, name, kind, year DESC, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("localstore: search roster: %w", err)
	}
	defer rows.Close()
	var out []RosterLine
	for rows.Next() {
		r, err := scanRoster(rows)
		if err != nil {
			return nil, fmt.Errorf("localstore: search roster: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// likePrefix escapes s for LIKE and appends the wildcard.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(strings.ToLower(s)) + "%"
}

// RosterCount is the number of roster lines in the replica.
func (s *Store) RosterCount(ctx context.Context) (int, error) {
	var n int
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM roster_line`).Scan(&n); err != nil {
		return 0, fmt.Errorf("localstore: count roster: %w", err)
	}
	return n, nil
}
