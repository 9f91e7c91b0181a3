package progress_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/progress"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	twp1 = "370403001"
	twp2 = "370403002"
	v1a  = "370403001001"
	v1b  = "370403001002"
	v1c  = "370403001003" // no roster at all
	v2a  = "370403002001"
)

// fixture loads a small district whose progress is known:
//
//	370403001 城关街道 (agent ag1)
//	  001 东村 pension A, B, C (fully subsidised), D; medical A, E
//	  002 西村 pension F
//	  003 南村 nothing
//	370403002 河镇 (agent ag2)
//	  001 北村 medical G, H
//
// Collections of 2027 (business day, status):
//
//	A pension 200.00 11-01 synced          A medical 380.00 11-02 approved
//	B pension 300.00 11-02 voided          B pension 300.00 11-04 synced
//	D pension 500.00 11-02 refunded        A pension 200.00 11-04 refund_requested (a duplicate)
//	E medical 380.00 10-20 posted (before every period)
//	G medical 380.00 10-30 posted          H medical 380.00 11-06 posted
//	X medical 380.00 11-05 synced (off the roster: no resident ID)
//	A pension 200.00 of 2026 (another year)
//
// Nothing is paid on 11-03. Periods: pension 11-01..11-05 and medical
// 11-02..11-06 for the district, medical 10-28..11-03 for 河镇.
func fixture(tb testing.TB) *progress.Service {
	tb.Helper()
	db := pgtest.New(tb)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		tb.Helper()
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			tb.Fatalf("%s: %v", sql, err)
		}
	}
	if err := db.UpsertDistrict(ctx,
		[]store.Township{{Code: twp1, Name: "城关街道"}, {Code: twp2, Name: "河镇"}},
		[]store.Village{{Code: v1a, TownshipCode: twp1, Name: "东村"}, {Code: v1b, TownshipCode: twp1, Name: "西村"},
			{Code: v1c, TownshipCode: twp1, Name: "南村"}, {Code: v2a, TownshipCode: twp2, Name: "北村"}}); err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	exec(`INSERT INTO app_user (id, username, role, township_code, password_hash, created_at, updated_at) VALUES
		('U1', 'hrss1', 'hrss', NULL, 'x', $1, $1), ('U2', 'ag1', 'agent', $2, 'x', $1, $1), ('U3', 'ag2', 'agent', $3, 'x', $1, $1)`,
		now, twp1, twp2)
	exec(`INSERT INTO device (id, agent_id, township_code, name, public_key, enrolled_at) VALUES
		('D1', 'U2', $1, 'tab1', decode(repeat('11', 32), 'hex'), $3), ('D2', 'U3', $2, 'tab2', decode(repeat('22', 32), 'hex'), $3)`,
		twp1, twp2, now)
	exec(`INSERT INTO roster_import (id, kind, filename, content_sha256, uploaded_by, uploaded_at, status, rows)
		VALUES ('I1', 'pension', 'r.csv', '\x00', 'U1', $1, 'applied', 0)`, now)

	person := map[string]string{}
	entry := map[string]string{}
	line := 0
	roster := func(kind, name, village string, subsidised bool) {
		line++
		id := fmt.Sprintf("370403199001%02d%04d", line, line)[:18]
		if p, ok := person[name]; ok {
			id = p
		}
		person[name] = id
		entry[kind+name] = fmt.Sprintf("E%03d", line)
		exec(`INSERT INTO roster_entry (id, kind, year, resident_id, name, village_code, township_code, category,
				due_fen, subsidy_fen, fully_subsidised, import_id, change_seq, updated_at)
			VALUES ($1, $2, 2027, $3, $4, $5, left($5, 9), 'ordinary', 0, 0, $6, 'I1', 1, $7)`,
			entry[kind+name], kind, id, name, village, subsidised, now)
	}
	roster("pension", "A", v1a, false)
	roster("pension", "B", v1a, false)
	roster("pension", "C", v1a, true)
	roster("pension", "D", v1a, false)
	roster("medical", "A", v1a, false)
	roster("medical", "E", v1a, false)
	roster("pension", "F", v1b, false)
	roster("medical", "G", v2a, false)
	roster("medical", "H", v2a, false)

	seq := 0
	collect := func(year int, kind, name, village string, fen int64, day, status string) {
		seq++
		resident, entryID := person[name], entry[kind+name]
		if entryID == "" {
			entryID = "OFF-" + name
		}
		device, agent := "D1", "U2"
		if village[:9] == twp2 {
			device, agent = "D2", "U3"
		}
		exec(`INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version,
				resident_id, name, village_code, township_code, kind, year, category, grade_fen, amount_fen,
				device_time, received_at, business_day, status, change_seq)
			VALUES ($1, $2, $3, $4, $4, $5, 1, $6, $7, $8, left($8, 9), $9, $10, 'ordinary', $11, $11, $12, $12, $13, $14, $4)`,
			fmt.Sprintf("C%03d", seq), device, agent, seq, entryID, resident, name, village, kind, year, fen, now, day, status)
	}
	collect(2027, "pension", "A", v1a, 20000, "2026-11-01", "synced")
	collect(2027, "medical", "A", v1a, 38000, "2026-11-02", "approved")
	collect(2027, "pension", "B", v1a, 30000, "2026-11-02", "voided")
	collect(2027, "pension", "B", v1a, 30000, "2026-11-04", "synced")
	collect(2027, "pension", "D", v1a, 50000, "2026-11-02", "refunded")
	collect(2027, "pension", "A", v1a, 20000, "2026-11-04", "refund_requested")
	collect(2027, "medical", "E", v1a, 38000, "2026-10-20", "posted")
	collect(2027, "medical", "G", v2a, 38000, "2026-10-30", "posted")
	collect(2027, "medical", "H", v2a, 38000, "2026-11-06", "posted")
	collect(2027, "medical", "X", v2a, 38000, "2026-11-05", "synced")
	collect(2026, "pension", "A", v1a, 20000, "2026-11-01", "synced")

	set := func(kind syncproto.Kind, region, start, end string) {
		body, err := json.Marshal(settings.Year{Year: 2027, Kind: kind, Region: region, PeriodStart: start, PeriodEnd: end})
		if err != nil {
			tb.Fatal(err)
		}
		exec(`INSERT INTO year_setting (kind, year, region_code, body, updated_at) VALUES ($1, 2027, $2, $3, $4)`,
			kind, region, body, now)
	}
	set(syncproto.KindPension, "370403", "2026-11-01", "2026-11-05")
	set(syncproto.KindMedical, "370403", "2026-11-02", "2026-11-06")
	set(syncproto.KindMedical, twp2, "2026-10-28", "2026-11-03")
	return progress.NewService(db, settings.NewService(db))
}

func TestVillages(t *testing.T) {
	t.Parallel()
	svc := fixture(t)
	got, err := svc.Villages(t.Context(), 2027, twp1)
	if err != nil {
		t.Fatal(err)
	}
	want := progress.Table{Year: 2027, Township: twp1, Rows: []progress.Row{
		{Code: v1a, Name: "东村",
			Pension: progress.Figures{Roster: 4, Subsidised: 1, Paid: 2, Collected: 70000},
			Medical: progress.Figures{Roster: 2, Paid: 2, Collected: 76000}},
		{Code: v1b, Name: "西村", Pension: progress.Figures{Roster: 1}},
		{Code: v1c, Name: "南村"},
	}, Total: progress.Row{Name: "合计",
		Pension: progress.Figures{Roster: 5, Subsidised: 1, Paid: 2, Collected: 70000},
		Medical: progress.Figures{Roster: 2, Paid: 2, Collected: 76000}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Villages:\n got %+v\nwant %+v", got, want)
	}
	for _, c := range []struct {
		f    progress.Figures
		want string
	}{
		{got.Rows[0].Pension, "66.7%"}, {got.Rows[0].Medical, "100.0%"}, {got.Rows[1].Pension, "0.0%"}, {got.Rows[1].Medical, "—"},
	} {
		if s := c.f.PercentText(); s != c.want {
			t.Errorf("PercentText(%+v) = %q, want %q", c.f, s, c.want)
		}
	}
	if b := got.Rows[0].Both(); b.ToCollect() != 5 || b.Paid != 4 || b.Collected != 146000 {
		t.Errorf("Both = %+v", b)
	}
}

func TestTownships(t *testing.T) {
	t.Parallel()
	svc := fixture(t)
	got, err := svc.Townships(t.Context(), 2027)
	if err != nil {
		t.Fatal(err)
	}
	want := []progress.Row{
		{Code: twp1, Name: "城关街道",
			Pension: progress.Figures{Roster: 5, Subsidised: 1, Paid: 2, Collected: 70000},
			Medical: progress.Figures{Roster: 2, Paid: 2, Collected: 76000}},
		// X paid off the roster: 3 persons paid of 2 on the roster.
		{Code: twp2, Name: "河镇", Medical: progress.Figures{Roster: 2, Paid: 3, Collected: 114000}},
	}
	if !reflect.DeepEqual(got.Rows, want) {
		t.Fatalf("Townships:\n got %+v\nwant %+v", got.Rows, want)
	}
	if got.Total.Medical.Paid != 5 || got.Total.Medical.Collected != 190000 || got.Rows[1].Medical.PercentText() != "150.0%" {
		t.Errorf("total %+v, 河镇 %s", got.Total, got.Rows[1].Medical.PercentText())
	}
	if _, err := svc.Villages(t.Context(), 2027, ""); err == nil {
		t.Error("Villages of no township answered")
	}
	empty, err := svc.Townships(t.Context(), 2030)
	if err != nil || empty.Total.Pension != (progress.Figures{}) || len(empty.Rows) != 2 {
		t.Errorf("a year with nothing: %+v, %v", empty, err)
	}
}

func days(first string, n int) []time.Time {
	d, _ := time.Parse(time.DateOnly, first)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = d.AddDate(0, 0, i)
	}
	return out
}

func TestOverTimeDistrict(t *testing.T) {
	t.Parallel()
	svc := fixture(t)
	// Noon of 11-05 in Shanghai; the union of the periods is 10-28..11-06.
	through := time.Date(2026, 11, 5, 4, 0, 0, 0, time.UTC)
	got, err := svc.OverTime(t.Context(), 2027, "", through)
	if err != nil {
		t.Fatal(err)
	}
	want := progress.Series{Year: 2027, Days: days("2026-10-28", 9), Lines: []progress.Line{
		{Township: twp1, Kind: syncproto.KindPension, Label: "城关街道", ToCollect: 4,
			Paid:      []int{0, 0, 0, 0, 1, 1, 1, 2, 2},
			Collected: []syncproto.Money{0, 0, 0, 0, 20000, 20000, 20000, 70000, 70000}},
		{Township: twp1, Kind: syncproto.KindMedical, Label: "城关街道", ToCollect: 2,
			Paid:      []int{1, 1, 1, 1, 1, 2, 2, 2, 2},
			Collected: []syncproto.Money{38000, 38000, 38000, 38000, 38000, 76000, 76000, 76000, 76000}},
		{Township: twp2, Kind: syncproto.KindPension, Label: "河镇",
			Paid: make([]int, 9), Collected: make([]syncproto.Money, 9)},
		// H paid on 11-06, after the last day shown: it counts on the last.
		{Township: twp2, Kind: syncproto.KindMedical, Label: "河镇", ToCollect: 2,
			Paid:      []int{0, 0, 1, 1, 1, 1, 1, 1, 3},
			Collected: []syncproto.Money{0, 0, 38000, 38000, 38000, 38000, 38000, 38000, 114000}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("OverTime:\n got %+v\nwant %+v", got, want)
	}

	byKind := got.ByKind()
	if len(byKind.Lines) != 2 || byKind.Lines[0].Label != "养老保险" || byKind.Lines[1].Label != "医疗保险" ||
		byKind.Lines[1].ToCollect != 4 || !reflect.DeepEqual(byKind.Lines[1].Paid, []int{1, 1, 2, 2, 2, 3, 3, 3, 5}) ||
		byKind.Lines[0].Collected[8] != 70000 {
		t.Errorf("ByKind = %+v", byKind.Lines)
	}
	byTwp := got.ByTownship()
	if len(byTwp.Lines) != 2 || byTwp.Lines[0].Label != "城关街道" || byTwp.Lines[0].ToCollect != 6 ||
		!reflect.DeepEqual(byTwp.Lines[0].Paid, []int{1, 1, 1, 1, 2, 3, 3, 4, 4}) || byTwp.Lines[1].Percent(8) != 150 {
		t.Errorf("ByTownship = %+v", byTwp.Lines)
	}
}

func TestOverTimeTownship(t *testing.T) {
	t.Parallel()
	svc := fixture(t)
	far := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	// 城关街道: the district's periods, 11-01..11-06; E paid before it
	// counts on the first day.
	got, err := svc.OverTime(t.Context(), 2027, twp1, far)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Days, days("2026-11-01", 6)) || len(got.Lines) != 2 ||
		!reflect.DeepEqual(got.Lines[0].Paid, []int{1, 1, 1, 2, 2, 2}) ||
		!reflect.DeepEqual(got.Lines[1].Paid, []int{1, 2, 2, 2, 2, 2}) {
		t.Errorf("城关街道: %+v", got)
	}
	// 河镇: pension 11-01..11-05 with its own medical 10-28..11-03.
	got, err = svc.OverTime(t.Context(), 2027, twp2, far)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Days, days("2026-10-28", 9)) || len(got.Lines) != 2 || got.Lines[1].Township != twp2 ||
		!reflect.DeepEqual(got.Lines[1].Paid, []int{0, 0, 1, 1, 1, 1, 1, 1, 3}) {
		t.Errorf("河镇: %+v", got)
	}
	// Before the period: one day, the first.
	got, err = svc.OverTime(t.Context(), 2027, twp1, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || !reflect.DeepEqual(got.Days, days("2026-11-01", 1)) || got.Lines[0].Paid[0] != 2 {
		t.Errorf("before the period: %+v, %v", got, err)
	}
	if _, err := svc.OverTime(t.Context(), 2031, "", far); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
		t.Errorf("a year with no settings: %v", err)
	}
}
