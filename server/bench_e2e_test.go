package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/demo"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// BenchmarkBootstrap5000 is the first sync of a tablet into an empty
// store: a village of 5,000 residents with a pension and a medical roster
// line each (10,000 lines), through the real server and the real agentapp
// binary (process start and PIN unlock included). Goal: under 1 s.
func BenchmarkBootstrap5000(b *testing.B) {
	e := newE2E(b)
	db := openStore(b, e.dbURL)
	ctx := b.Context()
	village := store.Village{Code: "370403001209", TownshipCode: "370403001", Name: "五千人社区"}
	if err := db.UpsertDistrict(ctx, nil, []store.Village{village}); err != nil {
		b.Fatal(err)
	}
	residents := demo.GenerateResidents(demo.Seed, []store.Village{village}, 5000, 2026)
	for i := range residents {
		residents[i].Category, residents[i].Pension, residents[i].Medical = syncproto.CategoryGeneral, true, true
	}
	set := settings.NewService(db)
	svc := roster.NewService(db, set, slog.New(slog.DiscardHandler))
	for _, k := range []struct {
		user string
		role auth.Role
		y    settings.Year
	}{{"hrss", auth.RoleHRSS, settings.Shandong2026Pension(demo.DistrictCode)}, {"medsec", auth.RoleMedsec, settings.Shandong2026Medical(demo.DistrictCode)}} {
		var buf bytes.Buffer
		if err := demo.WriteRosterCSV(&buf, demo.RosterRows(residents, k.y), demo.EncodingUTF8); err != nil {
			b.Fatal(err)
		}
		u, err := db.UserByUsername(ctx, db.Pool, k.user)
		if err != nil {
			b.Fatal(err)
		}
		p := auth.Principal{UserID: u.ID, Role: k.role}
		if _, err := svc.Import(auth.WithPrincipal(ctx, p), p, "big.csv", buf.Bytes(), false); err != nil {
			b.Fatal(err)
		}
	}
	// The agent serves only the big village.
	agent := e.agent("agent.big")
	if _, err := db.Pool.Exec(ctx, `UPDATE agent_village SET village_code = $2 WHERE user_id = $1`, agent, village.Code); err != nil {
		b.Fatal(err)
	}
	tb := e.enroll(agent)
	pristine := filepath.Join(b.TempDir(), "pristine")
	copyStore(b, tb.db, pristine)
	var lines int
	for b.Loop() {
		b.StopTimer()
		fresh := filepath.Join(b.TempDir(), "agent.db")
		copyStore(b, pristine, fresh)
		tb.db = fresh
		b.StartTimer()
		out := tb.run("sync")
		b.StopTimer()
		if !strings.Contains(out, "一致") {
			b.Fatalf("bootstrap did not verify:\n%s", out)
		}
		lines = len(tb.lines())
		b.StartTimer()
	}
	if lines != 10_000 {
		b.Fatalf("tablet holds %d roster lines, want 10,000", lines)
	}
	b.ReportMetric(float64(lines), "lines/op")
}

// copyStore copies a closed SQLite store with its WAL, if any.
func copyStore(tb testing.TB, from, to string) {
	tb.Helper()
	for _, suffix := range []string{"", "-wal"} {
		src, err := os.Open(from + suffix)
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		dst, err := os.Create(to + suffix)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			tb.Fatal(err)
		}
		src.Close()
		dst.Close()
	}
}
