package roster_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	svcV1 = "370403001201"
	svcV2 = "370403001202"
	svcV3 = "370403101201"
)

// newService is a roster service on a fresh database holding three
// villages, the 2026 medical settings and a medsec user.
func newService(t *testing.T) (*roster.Service, *store.DB, auth.Principal) {
	t.Helper()
	db := pgtest.New(t)
	ctx := t.Context()
	err := db.UpsertDistrict(ctx,
		[]store.Township{{Code: "370403001", Name: "临城街道"}, {Code: "370403101", Name: "沙沟镇"}},
		[]store.Village{{Code: svcV1, TownshipCode: "370403001", Name: "北临城社区"},
			{Code: svcV2, TownshipCode: "370403001", Name: "南临城社区"}, {Code: svcV3, TownshipCode: "370403101", Name: "沙沟村"}})
	if err != nil {
		t.Fatal(err)
	}
	p := auth.Principal{UserID: db.NewID(), Username: "medsec", Role: auth.RoleMedsec}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO app_user (id, username, role, password_hash, created_at, updated_at)
		VALUES ($1, 'medsec', 'medsec', 'x', now(), now())`, p.UserID); err != nil {
		t.Fatal(err)
	}
	set := settings.NewService(db)
	if err := set.Put(auth.WithPrincipal(ctx, p), settings.Shandong2026Medical("370403")); err != nil {
		t.Fatal(err)
	}
	return roster.NewService(db, set, slog.New(slog.DiscardHandler)), db, p
}

// person is one roster line of a test file.
type person struct {
	seq      int
	name     string
	village  string
	category string // Chinese label
	due      string
	subsidy  string
}

func medicalCSV(t *testing.T, people []person) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额,备注\n")
	for _, p := range people {
		fmt.Fprintf(&sb, "%s,%s,%s,医疗,%s,2026,%s,%s,\n", p.name, mustID(t, p.seq), p.village, p.category, p.due, p.subsidy)
	}
	return sb.String()
}

// rosterState is the stored roster in a comparable form.
func rosterState(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.Pool.Query(t.Context(), `SELECT concat_ws('|', kind, year, resident_id, name, initials, village_code,
		township_code, category, due_fen, subsidy_fen, fully_subsidised, note, paid, coalesce(review, ''))
		FROM roster_entry ORDER BY resident_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

func count(t *testing.T, db *store.DB, sql string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(t.Context(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var basePeople = []person{
	{1, "张三", svcV1, "一般", "400.00", "0.00"},
	{2, "欧阳娜娜", svcV1, "低保", "200.00", "200.00"},
	{3, "𠀾家宝", svcV1, "特困", "0.00", "400.00"},
	{4, "李四", svcV2, "一般", "400.00", "0.00"},
	{5, "王五", svcV2, "重度残疾", "200.00", "200.00"},
	{6, "赵六", svcV3, "一般", "400.00", "0.00"},
}

// The same roster as UTF-8 CSV, UTF-8 CSV with BOM, GBK CSV and XLSX gives
// identical stored rosters.
func TestImportEncodingsIdentical(t *testing.T) {
	t.Parallel()
	text := medicalCSV(t, basePeople[:2]) // GBK lacks 𠀾 (GB18030 has it): keep to GBK's repertoire here
	text += medicalCSV(t, []person{basePeople[3], basePeople[5]})[len("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额,备注\n"):]
	files := map[string][]byte{
		"utf8.csv":    []byte(text),
		"utf8bom.csv": append([]byte("\ufeff"), text...),
		"gbk.csv":     mustEncode(t, simplifiedchinese.GBK, text),
		"roster.xlsx": mustXLSX(t, text, true),
	}
	var want []string
	for _, name := range []string{"utf8.csv", "utf8bom.csv", "gbk.csv", "roster.xlsx"} {
		svc, db, p := newService(t)
		res, err := svc.Import(t.Context(), p, name, files[name], false)
		if err != nil {
			t.Fatalf("%s: %v %+v", name, err, res.RowErrors)
		}
		got := rosterState(t, db)
		if len(got) != 4 || res.Added != 4 {
			t.Fatalf("%s: stored %d lines, added %d", name, len(got), res.Added)
		}
		if want == nil {
			want = got
			if !strings.Contains(strings.Join(got, "\n"), "欧阳娜娜|oynn") {
				t.Fatalf("names or initials not kept: %v", got)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s stored a different roster:\n%v\nwant\n%v", name, got, want)
		}
	}
}

// One bad ID among 10,000 good rows: the file is refused whole, the report
// names that row, and the database is unchanged.
func TestImportOneBadRowRefusesAll(t *testing.T) {
	t.Parallel()
	svc, db, p := newService(t)
	var sb strings.Builder
	sb.WriteString("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额,备注\n")
	const bad = 7345
	for i := 1; i <= 10_000; i++ {
		id := mustID10k(t, i)
		if i == bad {
			id = id[:17] + map[bool]string{true: "1", false: "2"}[id[17] != '1'] // wrong check digit
		}
		fmt.Fprintf(&sb, "居民%d,%s,%s,医疗,一般,2026,400.00,0.00,\n", i, id, svcV1)
	}
	before := count(t, db, `SELECT count(*) FROM sync_change`)
	res, err := svc.Import(t.Context(), p, "big.csv", []byte(sb.String()), false)
	if syncproto.ErrorCode(err) != "roster_refused" {
		t.Fatalf("a file with a bad ID was not refused: %v", err)
	}
	if len(res.RowErrors) != 1 || res.RowErrors[0].Row != bad+1 || res.RowErrors[0].Code != syncproto.CodeInvalidID {
		t.Fatalf("report: %+v, want one invalid ID on file row %d", res.RowErrors, bad+1)
	}
	if n := count(t, db, `SELECT count(*) FROM roster_entry`); n != 0 {
		t.Fatalf("%d roster lines stored from a refused file", n)
	}
	if after := count(t, db, `SELECT count(*) FROM sync_change`); after != before {
		t.Fatal("a refused file changed the sync change log")
	}
	imp, errs, err := svc.ImportErrors(t.Context(), p, res.ID)
	if err != nil || imp.Status != store.ImportRefused || len(errs) != 1 {
		t.Fatalf("refused import not kept with its report: %+v %v %v", imp, errs, err)
	}
	// The pension bureau does not read the medical bureau's report (names
	// and ID numbers of its insured); the admin does.
	if _, _, err := svc.ImportErrors(t.Context(), auth.Principal{Role: auth.RoleHRSS}, res.ID); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("HRSS read a medical import's report: %v", err)
	}
	if _, _, err := svc.ImportErrors(t.Context(), auth.Principal{Role: auth.RoleAdmin}, res.ID); err != nil {
		t.Fatalf("admin could not read the report: %v", err)
	}
}

// mustID10k makes distinct valid IDs for up to 99,999 people.
func mustID10k(t *testing.T, seq int) string {
	t.Helper()
	first17 := fmt.Sprintf("370403%04d0101%03d", 1950+seq/1000, seq%1000)
	c, err := syncproto.CheckDigit(first17)
	if err != nil {
		t.Fatal(err)
	}
	return first17 + string(c)
}

type change struct {
	village, op, resident string
	seq                   int
}

func changes(t *testing.T, db *store.DB, afterSeq map[string]int) []change {
	t.Helper()
	rows, err := db.Pool.Query(t.Context(), `SELECT c.village_code, c.seq, c.op, coalesce(e.resident_id, c.entity_id)
		FROM sync_change c LEFT JOIN roster_entry e ON e.id = c.entity_id ORDER BY c.village_code, c.seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var c change
		rows.Scan(&c.village, &c.seq, &c.op, &c.resident)
		if c.seq > afterSeq[c.village] {
			out = append(out, c)
		}
	}
	return out
}

// A corrected re-import is applied as a diff: exactly the expected adds,
// updates (one moved village), removals and flags, and the change log
// holds exactly those changes, numbered without gaps per village.
func TestImportCorrectedDiff(t *testing.T) {
	t.Parallel()
	svc, db, p := newService(t)
	ctx := t.Context()
	first := medicalCSV(t, basePeople)
	if _, err := svc.Import(ctx, p, "v1.csv", []byte(first), false); err != nil {
		t.Fatal(err)
	}
	// Re-uploading the same file is a no-op.
	res, err := svc.Import(ctx, p, "v1-again.csv", []byte(first), false)
	if err != nil || res.Status != store.ImportUnchanged {
		t.Fatalf("same file again: %+v %v", res.RosterImport, err)
	}
	// 王五 (seq 5) has paid already.
	if _, err := db.Pool.Exec(ctx, `UPDATE roster_entry SET paid = true WHERE resident_id = $1`, mustID(t, 5)); err != nil {
		t.Fatal(err)
	}
	mark := map[string]int{}
	for _, c := range changes(t, db, nil) {
		mark[c.village] = max(mark[c.village], c.seq)
	}
	corrected := medicalCSV(t, []person{
		basePeople[0], // 张三 unchanged
		{2, "欧阳娜娜", svcV1, "一般", "400.00", "0.00"}, // category and amounts changed
		{3, "𠀾家宝", svcV2, "特困", "0.00", "400.00"},  // moved from V1 to V2
		{7, "孙七", svcV2, "一般", "400.00", "0.00"},   // new
		basePeople[5], // 赵六 unchanged (V3)
		// 李四 (4, V2, unpaid) left out: removed; 王五 (5, V2, paid) left out: kept and flagged
	})
	dry, err := svc.Import(ctx, p, "v2.csv", []byte(corrected), true)
	if err != nil {
		t.Fatal(err)
	}
	wantDiff := store.Diff{Added: 1, Updated: 2, Removed: 1, Flagged: 1}
	if dry.Diff != wantDiff || dry.Status != store.ImportDryRun {
		t.Fatalf("dry run diff %+v, want %+v", dry.Diff, wantDiff)
	}
	if got := changes(t, db, mark); len(got) != 0 {
		t.Fatalf("a dry run wrote changes: %+v", got)
	}
	res, err = svc.Import(ctx, p, "v2.csv", []byte(corrected), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Diff != wantDiff {
		t.Fatalf("diff %+v, want %+v", res.Diff, wantDiff)
	}
	got := changes(t, db, mark)
	want := []change{
		{svcV1, "delete", "", mark[svcV1] + 1},           // 𠀾家宝 moved away (entity id, not joinable by village)
		{svcV1, "upsert", mustID(t, 2), mark[svcV1] + 2}, // 欧阳娜娜 changed
		{svcV2, "upsert", mustID(t, 3), mark[svcV2] + 1}, // 𠀾家宝 arrives
		{svcV2, "delete", "", mark[svcV2] + 2},           // 李四 removed
		{svcV2, "upsert", mustID(t, 5), mark[svcV2] + 3}, // 王五 flagged
		{svcV2, "upsert", mustID(t, 7), mark[svcV2] + 4}, // 孙七 added
	}
	norm := func(cs []change) []string {
		var out []string
		for _, c := range cs {
			r := c.resident
			if c.op == "delete" {
				r = "" // a deleted or moved entry is identified by entity ID only
			}
			out = append(out, fmt.Sprintf("%s %s %s", c.village, c.op, r))
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(norm(got), norm(want)) {
		t.Fatalf("change log:\n%v\nwant\n%v", norm(got), norm(want))
	}
	for v, last := range mark {
		var seqs []int
		for _, c := range got {
			if c.village == v {
				seqs = append(seqs, c.seq)
			}
		}
		for i, s := range seqs {
			if s != last+1+i {
				t.Fatalf("village %s: change numbers %v after %d have a gap", v, seqs, last)
			}
		}
	}
	var review string
	db.Pool.QueryRow(ctx, `SELECT coalesce(review, '') FROM roster_entry WHERE resident_id = $1`, mustID(t, 5)).Scan(&review)
	if review != "removed_but_paid" {
		t.Fatalf("paid person left out: review %q", review)
	}
	if n := count(t, db, `SELECT count(*) FROM roster_entry WHERE resident_id = '`+mustID(t, 4)+`'`); n != 0 {
		t.Fatal("unpaid person left out was not removed")
	}
	var village string
	db.Pool.QueryRow(ctx, `SELECT village_code FROM roster_entry WHERE resident_id = $1`, mustID(t, 3)).Scan(&village)
	if village != svcV2 {
		t.Fatalf("moved person is in %s", village)
	}
}
