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

// ProgressCounts counts, per area and kind for a year, the roster lines
// and the paid collections: per village of township, or per township of
// the district when township is "".
func (db *DB) ProgressCounts(ctx context.Context, year int, township string) ([]ProgressCount, error) {
	rows, err := db.Pool.Query(ctx, `
		WITH r AS (
			SELECT CASE WHEN $2 = '' THEN township_code ELSE village_code END AS code, kind,
				count(*) AS roster, count(*) FILTER (WHERE fully_subsidised) AS subsidised
			FROM roster_entry WHERE year = $1 AND ($2 = '' OR township_code = $2)
			GROUP BY 1, 2
		), p AS (
			SELECT CASE WHEN $2 = '' THEN township_code ELSE village_code END AS code, kind,
				count(DISTINCT person) AS paid, sum(amount_fen) AS amount
			FROM (`+paidCollections+`) c
			GROUP BY 1, 2
		)
		SELECT coalesce(r.code, p.code), coalesce(r.kind, p.kind), coalesce(r.roster, 0)::int,
			coalesce(r.subsidised, 0)::int, coalesce(p.paid, 0)::int, coalesce(p.amount, 0)::bigint
		FROM r FULL JOIN p ON p.code = r.code AND p.kind = r.kind
		ORDER BY 1, 2`, year, township)
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
	rows, err := db.Pool.Query(ctx, `
		WITH c AS (`+paidCollections+`),
		firsts AS (
			SELECT township_code, kind, min(business_day) AS day FROM c GROUP BY township_code, kind, person
		)
		SELECT township_code, kind, day, sum(n)::int, sum(amount)::bigint FROM (
			SELECT township_code, kind, day, count(*) AS n, 0::bigint AS amount FROM firsts GROUP BY 1, 2, 3
			UNION ALL
			SELECT township_code, kind, business_day, 0, sum(amount_fen) FROM c GROUP BY 1, 2, 3
		) x
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, year, township)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ProgressDay])
	return out, translate(err)
}
