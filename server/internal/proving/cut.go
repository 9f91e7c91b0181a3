package proving

import (
	"context"
	"fmt"
	"time"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/settings"
)

// MeasureCut cuts a day of 100,000 collections in one township through
// the remittance service (the set-up of api's BenchmarkCut100k), against
// the bare write of the same lines: one INSERT … SELECT of the day's
// collections into a copy of batch_line with its indexes. Goal: 2 s.
func MeasureCut(ctx context.Context, env *Env, opt Options) ([]Result, error) {
	n := opt.size(100_000, 5_000)
	db, name, err := env.openDB(ctx, fixedClock())
	if err != nil {
		return nil, err
	}
	defer env.dropDatabase(context.Background(), name)
	defer db.Close()
	d, err := setupDistrict(ctx, db, districtSpec{villages: 1}, fixedClock())
	if err != nil {
		return nil, err
	}
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, name, village_code,
			township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day, status, change_seq)
		SELECT lpad(i::text, 26, '0'), d.id, d.agent_id, i, i, 'x', 0, '居民' || i, $1, $2, 'medical', 2026, 'general', 0, 40000,
			'2026-11-20T02:00:00Z', '2026-11-20T02:00:00Z', '2026-11-20', 'synced', 0
		FROM device d, generate_series(1, $4::int) i WHERE d.id = $3`, d.villages[0].Code, Township, d.tablets[0].deviceID, n); err != nil {
		return nil, err
	}
	// A day's collections arrive over hours, with autovacuum passing
	// over them: vacuumed (hint bits set, nothing left for autovacuum to
	// start during the timed part) and written out before the clock
	// starts, so that neither the baseline nor the cut pays for the
	// setup's bulk insert.
	if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE collection`); err != nil {
		return nil, err
	}
	if _, err := db.Pool.Exec(ctx, `CHECKPOINT`); err != nil {
		return nil, err
	}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE bare_line (LIKE batch_line INCLUDING ALL)`); err != nil {
		return nil, err
	}
	start := time.Now()
	tag, err := db.Pool.Exec(ctx, `
		INSERT INTO bare_line (batch_id, line_no, collection_id, village_code, township_code, agent_id,
			name, resident_id, kind, year, grade_fen, amount_fen, receipt_no, device_time, server_time)
		SELECT 'bare', row_number() OVER (ORDER BY village_code, received_at, id), id, village_code, township_code, agent_id,
			name, resident_id, kind, year, grade_fen, amount_fen, receipt_no, device_time, received_at
		FROM collection WHERE township_code = $1 AND business_day <= $2 AND batch_id IS NULL AND status = 'synced'`, Township, day)
	bare := time.Since(start)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() != int64(n) {
		return nil, fmt.Errorf("bare insert wrote %d lines, want %d", tag.RowsAffected(), n)
	}
	svc := remit.NewService(db, settings.NewService(db), opt.log())
	start = time.Now()
	batch, created, err := svc.Cut(ctx, auth.Principal{Role: auth.RoleAdmin}, Township, day)
	took := time.Since(start)
	if err != nil {
		return nil, err
	}
	if !created || batch.Count != n {
		return nil, fmt.Errorf("cut: created=%v with %d lines, want %d", created, batch.Count, n)
	}
	goal := 2 * time.Second * time.Duration(n) / 100_000
	return []Result{{
		Name:   fmt.Sprintf("cut a day of %s collections (one township)", num(float64(n))),
		Figure: ms(took), Unit: "ms", Baseline: ms(bare),
		BaseWhat: "bare INSERT … SELECT of the same lines into a copy of batch_line",
		Ratio:    took.Seconds() / bare.Seconds(), RatioWhat: "of bare",
		Goal: fmt.Sprintf("≤ %s", goal), Met: took <= goal,
	}}, nil
}
