package api_test

import (
	"log/slog"
	"testing"
	"time"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/settings"
)

// BenchmarkCut100k cuts a day of 100,000 collections in one township:
// the batch lines and the collections' status (the cut sends the tablets
// no change). Goal: under 2 s. (The test cluster runs with fsync off.)
func BenchmarkCut100k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		f := newFixture(b)
		if _, err := f.db.Pool.Exec(b.Context(), `
			INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, name, village_code,
				township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day, status, change_seq)
			SELECT lpad(i::text, 26, '0'), d.id, d.agent_id, i, i, 'x', 0, '居民' || i, $1, $2, 'medical', 2026, 'general', 0, 40000,
				'2026-11-20T02:00:00Z', '2026-11-20T02:00:00Z', '2026-11-20', 'synced', 0
			FROM device d, generate_series(1, 100000) i WHERE d.id = $3`, vilA, twpX, f.deviceA); err != nil {
			b.Fatal(err)
		}
		// As MeasureCut (make bench): vacuumed and written out, as a day's
		// collections are once autovacuum has passed over them.
		for _, q := range []string{`VACUUM ANALYZE collection`, `CHECKPOINT`} {
			if _, err := f.db.Pool.Exec(b.Context(), q); err != nil {
				b.Fatal(err)
			}
		}
		svc := remit.NewService(f.db, settings.NewService(f.db), slog.New(slog.DiscardHandler))
		day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		b.StartTimer()
		batch, created, err := svc.Cut(b.Context(), auth.Principal{Role: auth.RoleAdmin}, twpX, day)
		b.StopTimer()
		if err != nil || !created || batch.Count != 100_000 {
			b.Fatalf("cut: %v created=%v count=%d", err, created, batch.Count)
		}
		b.StartTimer()
	}
}
