package roster_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// BenchmarkImport250k imports a generated 250,000-row district medical
// roster (7 townships, 217 villages) into an empty roster: parse,
// validate, COPY into staging, set-based diff, change log. The goal is
// under 20 s. The test cluster runs with fsync off; the work is CPU and
// COPY, not commits.
func BenchmarkImport250k(b *testing.B) {
	const rows = 250_000
	var ts []store.Township
	var vs []store.Village
	for t := range 7 {
		tc := fmt.Sprintf("370403%03d", 101+t)
		ts = append(ts, store.Township{Code: tc, Name: fmt.Sprintf("镇%d", t)})
		for v := range 31 {
			vs = append(vs, store.Village{Code: fmt.Sprintf("%s%03d", tc, 201+v), TownshipCode: tc, Name: fmt.Sprintf("村%d-%d", t, v)})
		}
	}
	var sb strings.Builder
	sb.WriteString("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额,备注\n")
	base := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC)
	surnames := []rune("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗")
	for i := range rows {
		birth := base.AddDate(0, 0, i/900)
		first17 := fmt.Sprintf("370403%s%03d", birth.Format("20060102"), i%900)
		c, err := syncproto.CheckDigit(first17)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&sb, "%c%c%c,%s%c,%s,医疗,一般,2026,400.00,0.00,\n", surnames[i%len(surnames)], '一'+rune(i%500), '丁'+rune(i/500%300),
			first17, c, vs[i%len(vs)].Code)
	}
	data := []byte(sb.String())
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		db := pgtest.New(b)
		ctx := b.Context()
		if err := db.UpsertDistrict(ctx, ts, vs); err != nil {
			b.Fatal(err)
		}
		p := auth.Principal{UserID: db.NewID(), Role: auth.RoleMedsec}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO app_user (id, username, role, password_hash, created_at, updated_at)
			VALUES ($1, 'medsec', 'medsec', 'x', now(), now())`, p.UserID); err != nil {
			b.Fatal(err)
		}
		set := settings.NewService(db)
		if err := set.Put(auth.WithPrincipal(ctx, p), settings.Shandong2026Medical("370403")); err != nil {
			b.Fatal(err)
		}
		svc := roster.NewService(db, set, slog.New(slog.DiscardHandler))
		b.StartTimer()
		res, err := svc.Import(ctx, p, "district.csv", data, false)
		if err != nil || res.Added != rows {
			b.Fatalf("import: %v, added %d", err, res.Added)
		}
	}
	b.ReportMetric(float64(rows), "rows/op")
}
