package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// paidCollections is the paid collections of a year, of one township or
// of the whole district ($2 = ”): not voided and not refunded, as in
// PaidLines. A person is the resident ID, or the roster line for a payment
// off the roster (no ID).
const paidCollections = `SELECT township_code, village_code, kind, business_day, amount_fen,
		coalesce(nullif(resident_id, ''), roster_entry_id) AS person
	FROM collection
	WHERE year = $1 AND ($2 = '' OR township_code = $2) AND status NOT IN ('voided', 'refunded')`

// ProgressCount is the roster and paid figures of one area (a village, or
// a township when the whole district is counted) and insurance kind.
type ProgressCount struct {
	Code       string // village or township code
	Kind       string
	Roster     int   // roster lines
	Subsidised int   // lines the government pays in full (代缴): collected by nobody
	Paid       int   // distinct persons with a paid collection
	AmountFen  int64 // sum of the paid collections
}

// ProgressRoster counts, per area and kind for a year, the roster lines:
// per village of township, or per township of the district when township
// is "". Paid and AmountFen are zero.
func (db *DB) ProgressRoster(ctx context.Context, year int, township string) ([]ProgressCount, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT CASE WHEN $2 = '' THEN township_code ELSE village_code END, kind,
			count(*)::int, (count(*) FILTER (WHERE fully_subsidised))::int, 0, 0::bigint
		FROM roster_entry WHERE year = $1 AND ($2 = '' OR township_code = $2)
		GROUP BY 1, 2 ORDER BY 1, 2`, year, township)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ProgressCount])
	return out, translate(err)
}

// ProgressPaid counts, per area and kind for a year, the persons paid and
// the money: per village of township, or per township of the district
// when township is "". Roster and Subsidised are zero.
func (db *DB) ProgressPaid(ctx context.Context, year int, township string) ([]ProgressCount, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT CASE WHEN $2 = '' THEN township_code ELSE village_code END, kind, 0, 0,
			count(DISTINCT person)::int, sum(amount_fen)::bigint
		FROM (`+paidCollections+`) c
		GROUP BY 1, 2 ORDER BY 1, 2`, year, township)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ProgressCount])
	return out, translate(err)
}

// ProgressDay is what one business day added to a township's figures of
// one kind: persons who paid for the first time that day, and money.
type ProgressDay struct {
	Township  string
	Kind      string
	Day       time.Time // the business day (Asia/Shanghai civil date) at UTC midnight
	NewPaid   int
	AmountFen int64
}

// ProgressDays lists, per township, kind and business day of a year, the
// persons first paid and the money paid that day, of one township or the
// whole district (""), ordered by township, kind and day. Days on which
// nothing was paid are absent.
func (db *DB) ProgressDays(ctx context.Context, year int, township string) ([]ProgressDay, error) {
	// One sort: a person's first paid collection of a kind is the first
	// of its window.
	rows, err := db.Pool.Query(ctx, `
		SELECT township_code, kind, business_day, (count(*) FILTER (WHERE first))::int, sum(amount_fen)::bigint FROM (
			SELECT township_code, kind, business_day, amount_fen,
				row_number() OVER (PARTITION BY township_code, kind, person ORDER BY business_day) = 1 AS first
			FROM (`+paidCollections+`) c
		) x
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, year, township)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ProgressDay])
	return out, translate(err)
}
