package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

func TestRosterUploadAndSearch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	file := "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n" +
		"张三,11010519491231002X," + vilA + ",医疗,一般,2026,400.00,0\n" +
		"欧阳娜娜,370403198001010011," + vilA + ",医疗,低保,2026,200.00,200.00\n" +
		"李四,370403198001010038," + vilB + ",医疗,一般,2026,400.00,0\n"
	// Fix the check digits of the two made-up IDs.
	for _, bad := range []string{"370403198001010011", "370403198001010038"} {
		c, _ := syncproto.CheckDigit(bad[:17])
		file = strings.Replace(file, bad, bad[:17]+string(c), 1)
	}
	var dry struct {
		Status string
		Added  int
	}
	f.do(http.MethodPost, "/api/v1/rosters?dry_run=1&filename=r.csv", f.token[auth.RoleMedsec], rawBody{file}, http.StatusOK, &dry)
	if dry.Status != store.ImportDryRun || dry.Added != 3 {
		t.Fatalf("dry run: %+v", dry)
	}
	var none struct{ Entries []map[string]any }
	f.do(http.MethodGet, "/api/v1/rosters/entries?village="+vilA, f.token[auth.RoleMedsec], nil, http.StatusOK, &none)
	if len(none.Entries) != 0 {
		t.Fatal("a dry run stored roster lines")
	}
	f.do(http.MethodPost, "/api/v1/rosters?filename=r.csv", f.token[auth.RoleMedsec], rawBody{file}, http.StatusCreated, nil)

	search := func(role auth.Role, q string) []map[string]any {
		t.Helper()
		var out struct{ Entries []map[string]any }
		f.do(http.MethodGet, "/api/v1/rosters/entries?q="+q, f.token[role], nil, http.StatusOK, &out)
		return out.Entries
	}
	for q, want := range map[string]string{"zs": "张三", "oy": "欧阳娜娜", "002X": "张三", "002x": "张三",
		"11010519491231002X": "张三", "娜娜": "欧阳娜娜"} {
		got := search(auth.RoleAgent, q)
		if len(got) != 1 || got[0]["name"] != want {
			t.Errorf("agent search %q: %v, want %s", q, got, want)
		}
	}
	if got := search(auth.RoleAgent, "ls"); len(got) != 0 {
		t.Errorf("agent of %s finds 李四 of %s: %v", vilA, vilB, got)
	}
	got := search(auth.RoleAgent, "zs")
	if got[0]["resident_id"] != nil || got[0]["resident_id_masked"] != "110105********002X" {
		t.Errorf("agent sees the full ID or no masked one: %v", got[0])
	}
	if got := search(auth.RoleMedsec, "ls"); len(got) != 1 || got[0]["resident_id"] == nil {
		t.Errorf("medsec district search: %v", got)
	}
	var counts struct{ Counts []store.RosterCount }
	f.do(http.MethodGet, "/api/v1/rosters/counts", f.token[auth.RoleTownship], nil, http.StatusOK, &counts)
	n := 0
	for _, c := range counts.Counts {
		if c.VillageCode != vilA && c.VillageCode != vilA2 {
			t.Errorf("township X counts a village of another township: %+v", c)
		}
		n += c.Entries
	}
	if n != 2 {
		t.Errorf("township X counts %d entries, want 2", n)
	}
}

func TestRosterRefusedReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	file := "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n张三,110105194912310021," + vilA + ",医疗,一般,2026,400.00,0\n"
	rec := f.request(http.MethodPost, "/api/v1/rosters?filename=bad.csv", f.token[auth.RoleMedsec], rawBody{file})
	if rec.Code != http.StatusUnprocessableEntity || errCode(t, rec) != "roster_refused" {
		t.Fatalf("bad file: %d %s", rec.Code, rec.Body)
	}
	var body struct {
		Import store.RosterImport
		Report map[string]string
	}
	f.do(http.MethodPost, "/api/v1/rosters?filename=bad.csv", f.token[auth.RoleMedsec], rawBody{file}, http.StatusUnprocessableEntity, &body)
	rep := f.request(http.MethodGet, body.Report["csv"], f.token[auth.RoleMedsec], nil)
	if rep.Code != http.StatusOK || !strings.Contains(rep.Body.String(), "110105194912310021") || !strings.Contains(rep.Body.String(), "行号") {
		t.Fatalf("report: %d %s", rep.Code, rep.Body)
	}
	rep = f.request(http.MethodGet, body.Report["xlsx"], f.token[auth.RoleMedsec], nil)
	if rep.Code != http.StatusOK || !strings.HasPrefix(rep.Body.String(), "PK") {
		t.Fatalf("xlsx report: %d", rep.Code)
	}
	// A medical roster from HRSS (pension) is refused for its kind.
	rec = f.request(http.MethodPost, "/api/v1/rosters?filename=x.csv", f.token[auth.RoleHRSS], rosterFile(auth.RoleMedsec))
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("HRSS uploading a medical roster: %d %s", rec.Code, rec.Body)
	}
}

func TestSettingsChangeAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	y := settings.Shandong2026Medical("370403")
	y.Premium = syncproto.Yuan(420)
	y.Subsidy[syncproto.CategoryTekun] = syncproto.Yuan(420)
	y.Subsidy[syncproto.CategoryPoverty] = syncproto.Yuan(420)
	f.do(http.MethodPut, "/api/v1/settings", f.token[auth.RoleAdmin], y, http.StatusOK, nil)
	var all struct{ Settings []settings.Year }
	f.do(http.MethodGet, "/api/v1/settings?year=2026", f.token[auth.RoleTax], nil, http.StatusOK, &all)
	found := false
	for _, s := range all.Settings {
		found = found || (s.Kind == syncproto.KindMedical && s.Region == "370403" && s.Premium == syncproto.Yuan(420))
	}
	if !found {
		t.Fatalf("changed premium not stored: %+v", all.Settings)
	}
	entries, _ := f.db.AuditLog(t.Context(), store.AuditFilter{Action: "settings_changed", Limit: 10})
	if len(entries) == 0 || entries[0].Before == nil || !strings.Contains(string(entries[0].After.(json.RawMessage)), "42000") {
		t.Fatalf("settings change not audited with before/after: %+v", entries)
	}
	bad := y
	bad.Premium = -1
	if rec := f.request(http.MethodPut, "/api/v1/settings", f.token[auth.RoleAdmin], bad); rec.Code != http.StatusBadRequest {
		t.Fatalf("negative premium accepted: %d %s", rec.Code, rec.Body)
	}
}
