package progress_test

import (
	"context"
	"testing"
	"time"

	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/progress"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
)

// benchDistrict loads 7 townships of 20 villages, 150,000 persons on both
// kinds' rosters (300,000 lines) and 200,000 collections of 2027 spread
// over 80 days, one in 40 voided.
func benchDistrict(b *testing.B) *store.DB {
	b.Helper()
	db := pgtest.New(b)
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO township (code, name) SELECT '37040300' || t, '镇' || t FROM generate_series(1, 7) t`,
		`INSERT INTO village (code, township_code, name) SELECT '37040300' || t || lpad(v::text, 3, '0'), '37040300' || t, '村' || v
			FROM generate_series(1, 7) t, generate_series(1, 20) v`,
		`INSERT INTO app_user (id, username, role, township_code, password_hash, created_at, updated_at)
			VALUES ('U1', 'hrss1', 'hrss', NULL, 'x', now(), now()), ('U2', 'ag1', 'agent', '370403001', 'x', now(), now())`,
		`INSERT INTO device (id, agent_id, township_code, name, public_key, enrolled_at)
			VALUES ('D1', 'U2', '370403001', 't', decode(repeat('11', 32), 'hex'), now())`,
		`INSERT INTO roster_import (id, kind, filename, content_sha256, uploaded_by, uploaded_at, status, rows)
			VALUES ('I1', 'pension', 'r.csv', '\x00', 'U1', now(), 'applied', 0)`,
		`INSERT INTO roster_entry (id, kind, year, resident_id, name, village_code, township_code, category,
				due_fen, subsidy_fen, fully_subsidised, import_id, change_seq, updated_at)
			SELECT k || p, k, 2027, lpad(p::text, 18, '0'), 'n', v, left(v, 9), 'general', 38000, 0, p % 50 = 0, 'I1', 1, now()
			FROM generate_series(1, 150000) p, unnest(ARRAY['pension', 'medical']) k,
				LATERAL (SELECT '37040300' || (p % 7 + 1) || lpad((p % 20 + 1)::text, 3, '0') AS v) vv`,
		`INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, resident_id, name,
				village_code, township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day,
				status, change_seq)
			SELECT 'C' || n, 'D1', 'U2', n, n, r.id, 1, r.resident_id, 'n', r.village_code, r.township_code, r.kind, 2027,
				'general', 38000, 38000, now(), now(), date '2026-09-01' + (n % 80)::int, CASE WHEN n % 40 = 0 THEN 'voided' ELSE 'posted' END, 0
			FROM (SELECT *, row_number() OVER () AS n FROM roster_entry LIMIT 200000) r`,
		`ANALYZE`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	body := `{"year":2027,"kind":"pension","region":"370403","period_start":"2026-09-01","period_end":"2026-12-31","cash_limit":0,"time_limit_hours":24,"cutoff":"17:00"}`
	if _, err := db.Pool.Exec(ctx, `INSERT INTO year_setting (kind, year, region_code, body, updated_at) VALUES ('pension', 2027, '370403', $1, now())`, body); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkDashboard measures what the district dashboard computes — the
// table per township and the series over the period — against a baseline
// of one plain scan of the year's collections, in the same run.
func BenchmarkDashboard(b *testing.B) {
	db := benchDistrict(b)
	svc := progress.NewService(db, settings.NewService(db))
	ctx := context.Background()
	through := time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)
	b.Run("baseline_scan", func(b *testing.B) {
		for b.Loop() {
			var n int
			if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM collection WHERE year = 2027 AND status NOT IN ('voided', 'refunded')`).Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("townships", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Townships(ctx, 2027); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("villages_of_one_township", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Villages(ctx, 2027, "370403001"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("over_time_district", func(b *testing.B) {
		for b.Loop() {
			s, err := svc.OverTime(ctx, 2027, "", through)
			if err != nil {
				b.Fatal(err)
			}
			_ = progress.Chart(s.ByTownship(), "t")
		}
	})
}
