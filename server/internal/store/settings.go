package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// YearSetting is one stored settings row: the JSON of settings.Year.
type YearSetting struct {
	Kind       string          `json:"kind"`
	Year       int             `json:"year"`
	RegionCode string          `json:"region"`
	Body       json.RawMessage `json:"settings"`
	UpdatedAt  time.Time       `json:"updated_at"`
	UpdatedBy  string          `json:"updated_by,omitempty"`
}

// YearSettings lists the settings rows of a year (all kinds and regions);
// year 0 lists every year.
func (db *DB) YearSettings(ctx context.Context, q Querier, year int) ([]YearSetting, error) {
	rows, err := q.Query(ctx, `SELECT kind, year, region_code, body, updated_at, coalesce(updated_by, '')
		FROM year_setting WHERE $1 = 0 OR year = $1 ORDER BY year, kind, region_code`, year)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []YearSetting
	for rows.Next() {
		var s YearSetting
		var body []byte
		if err := rows.Scan(&s.Kind, &s.Year, &s.RegionCode, &body, &s.UpdatedAt, &s.UpdatedBy); err != nil {
			return nil, translate(err)
		}
		s.Body = body
		out = append(out, s)
	}
	return out, translate(rows.Err())
}

// PutYearSetting writes a settings row and returns the one it replaced
// (Body nil when there was none).
func (db *DB) PutYearSetting(ctx context.Context, tx pgx.Tx, s YearSetting) (YearSetting, error) {
	var before YearSetting
	var body []byte
	err := tx.QueryRow(ctx, `SELECT kind, year, region_code, body, updated_at, coalesce(updated_by, '')
		FROM year_setting WHERE (kind, year, region_code) = ($1, $2, $3) FOR UPDATE`, s.Kind, s.Year, s.RegionCode).
		Scan(&before.Kind, &before.Year, &before.RegionCode, &body, &before.UpdatedAt, &before.UpdatedBy)
	if err != nil && err != pgx.ErrNoRows {
		return before, translate(err)
	}
	before.Body = body
	_, err = tx.Exec(ctx, `INSERT INTO year_setting (kind, year, region_code, body, updated_at, updated_by)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''))
		ON CONFLICT (kind, year, region_code) DO UPDATE SET body = excluded.body,
			updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		s.Kind, s.Year, s.RegionCode, []byte(s.Body), s.UpdatedAt, s.UpdatedBy)
	return before, translate(err)
}
