package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Township is a township or street (镇/街道) of the district.
type Township struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Village is a village or community (村/社区) of a township.
type Village struct {
	Code         string `json:"code"`
	TownshipCode string `json:"township_code"`
	Name         string `json:"name"`
}

// UpsertDistrict writes townships and villages in one transaction,
// updating the names of those that exist. Loading the same data twice
// changes nothing.
func (db *DB) UpsertDistrict(ctx context.Context, townships []Township, villages []Village) error {
	return translate(db.InTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, t := range townships {
			b.Queue(`INSERT INTO township (code, name) VALUES ($1, $2)
				ON CONFLICT (code) DO UPDATE SET name = excluded.name`, t.Code, t.Name)
		}
		for _, v := range villages {
			b.Queue(`INSERT INTO village (code, township_code, name) VALUES ($1, $2, $3)
				ON CONFLICT (code) DO UPDATE SET name = excluded.name, township_code = excluded.township_code`,
				v.Code, v.TownshipCode, v.Name)
		}
		return tx.SendBatch(ctx, b).Close()
	}))
}

// Townships lists the district's townships by code.
func (db *DB) Townships(ctx context.Context) ([]Township, error) {
	rows, _ := db.Pool.Query(ctx, `SELECT code, name FROM township ORDER BY code`)
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Township])
	return ts, translate(err)
}

// Villages lists the villages of a township, or of the district when
// townshipCode is empty, by code.
func (db *DB) Villages(ctx context.Context, townshipCode string) ([]Village, error) {
	rows, _ := db.Pool.Query(ctx, `SELECT code, township_code, name FROM village
		WHERE $1 = '' OR township_code = $1 ORDER BY code`, townshipCode)
	vs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Village])
	return vs, translate(err)
}

// VillageByCode finds a village.
func (db *DB) VillageByCode(ctx context.Context, code string) (Village, error) {
	var v Village
	err := db.Pool.QueryRow(ctx, `SELECT code, township_code, name FROM village WHERE code = $1`, code).
		Scan(&v.Code, &v.TownshipCode, &v.Name)
	return v, translate(err)
}

// InsertTownship adds a township; an existing code is a conflict.
func (db *DB) InsertTownship(ctx context.Context, tx pgx.Tx, t Township) error {
	_, err := tx.Exec(ctx, `INSERT INTO township (code, name) VALUES ($1, $2)`, t.Code, t.Name)
	return translate(err)
}

// InsertVillage adds a village; an existing code is a conflict.
func (db *DB) InsertVillage(ctx context.Context, tx pgx.Tx, v Village) error {
	_, err := tx.Exec(ctx, `INSERT INTO village (code, township_code, name) VALUES ($1, $2, $3)`,
		v.Code, v.TownshipCode, v.Name)
	return translate(err)
}

// Township finds a township.
func (db *DB) Township(ctx context.Context, code string) (Township, error) {
	var t Township
	err := db.Pool.QueryRow(ctx, `SELECT code, name FROM township WHERE code = $1`, code).Scan(&t.Code, &t.Name)
	return t, translate(err)
}
