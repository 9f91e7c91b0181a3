package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"villagesync/server/internal/browsertest"
	"villagesync/server/internal/demo"
	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/settings"
)

// consoleLogin signs user in to the console in the browser.
func consoleLogin(t *testing.T, ctx context.Context, base, dataDir, user string) {
	t.Helper()
	browsertest.Do(t, ctx, "login "+user,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible("#username"),
		chromedp.SendKeys("#username", user),
		chromedp.SendKeys("#password", demoPassword(t, dataDir, user)),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#logout"),
	)
}

// The district's pages in a real Chromium against the real server and
// PostgreSQL (the demo district, with payments of some roster lines over
// the period): the dashboard's figures and charts, the township view,
// settings, users and townships as admin; then a roster dry run, its
// apply and a refused file as medical security. Each page is saved as a
// screenshot.
func TestConsoleDistrictPagesEndToEnd(t *testing.T) {
	t.Parallel()
	dataDir, dbURL := t.TempDir(), pgtest.NewURL(t)
	base, _ := startServer(t, dbURL, func(c *Config) { c.DataDir = dataDir })
	db := openStore(t, dbURL)
	// Payments of part of each township's roster lines, spread over the
	// days since the period began; a few voided.
	_, err := db.Pool.Exec(t.Context(), `
		INSERT INTO device (id, agent_id, township_code, name, public_key, enrolled_at)
		SELECT 'E2EDEVICE', id, township_code, 'e2e', decode(repeat('ab', 32), 'hex'), now()
		FROM app_user WHERE username = 'agent.beilincheng';
		INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, resident_id, name,
			village_code, township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day,
			status, change_seq)
		SELECT 'E2E' || n, d.id, d.agent_id, n, n, r.id, 1, r.resident_id, r.name, r.village_code, r.township_code, r.kind,
			r.year, r.category, r.due_fen, r.due_fen, now(), now(), date '2026-09-01' + (abs(hashtext(r.id)) % 80),
			CASE WHEN n % 29 = 0 THEN 'voided' ELSE 'posted' END, 0
		FROM (SELECT *, row_number() OVER (ORDER BY id) AS n FROM roster_entry
			WHERE NOT fully_subsidised AND abs(hashtext(id || 'p')) % 100 < 25 + (right(township_code, 1)::int * 9) % 60) r,
			device d WHERE d.id = 'E2EDEVICE'`)
	if err != nil {
		t.Fatal(err)
	}
	var paid int
	if err := db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM collection WHERE status = 'posted'`).Scan(&paid); err != nil || paid == 0 {
		t.Fatalf("no payments loaded: %d, %v", paid, err)
	}

	ctx := browsertest.New(t)
	consoleLogin(t, ctx, base, dataDir, "admin")
	browsertest.Do(t, ctx, "dashboard", chromedp.Navigate(base+"/dashboard?year=2026"), chromedp.WaitVisible("#chart-township svg"))
	table := browsertest.Get(t, ctx, "progress table", chromedp.Text("#progress tfoot"))
	if !strings.Contains(table, "%") || strings.Contains(table, "—") {
		t.Errorf("dashboard totals %q", table)
	}
	legend := browsertest.Get(t, ctx, "legend", chromedp.TextContent("#chart-kind svg"))
	if !strings.Contains(legend, "养老保险") || !strings.Contains(legend, "医疗保险") {
		t.Errorf("kind chart legend %q", legend)
	}
	browsertest.Screenshot(t, ctx, "dashboard")
	browsertest.Do(t, ctx, "township dashboard", chromedp.Click("#progress tbody tr:first-child a"), chromedp.WaitVisible("#chart-kind svg"))
	if h := browsertest.Get(t, ctx, "title", chromedp.Text("main h1")); !strings.HasSuffix(h, "征收进度") || h == "全区征收进度" {
		t.Errorf("township dashboard title %q", h)
	}
	browsertest.Screenshot(t, ctx, "dashboard-township")
	browsertest.Do(t, ctx, "settings", chromedp.Navigate(base+"/admin/settings?year=2026"), chromedp.WaitVisible("#settings-medical-"+demo.DistrictCode))
	browsertest.Screenshot(t, ctx, "settings")
	browsertest.Do(t, ctx, "users", chromedp.Navigate(base+"/users"), chromedp.WaitVisible("#users"))
	browsertest.Screenshot(t, ctx, "users")
	browsertest.Do(t, ctx, "townships", chromedp.Navigate(base+"/admin/townships"), chromedp.WaitVisible("#townships"))
	browsertest.Screenshot(t, ctx, "townships")

	// Medical security: a roster with more residents, dry run then apply.
	browsertest.Do(t, ctx, "logout", chromedp.Click("#logout"), chromedp.WaitVisible("#username"))
	consoleLogin(t, ctx, base, dataDir, "medsec")
	var buf bytes.Buffer
	rows := demo.RosterRows(demo.GenerateResidents(demo.Seed, demo.Villages(), 52, 2026), settings.Shandong2026Medical(demo.DistrictCode))
	if err := demo.WriteRosterCSV(&buf, rows, demo.EncodingUTF8); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "medical-2026.csv"), filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(good, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n张三,110105194912310021,370403001201,医疗,一般,2026,400.00,0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, "roster page", chromedp.Navigate(base+"/hrss/rosters"), chromedp.WaitVisible("#roster-upload"))
	browsertest.Screenshot(t, ctx, "rosters")
	browsertest.Do(t, ctx, "dry run",
		chromedp.SetUploadFiles(`#roster-upload input[name="file"]`, []string{good}),
		chromedp.Click(`#roster-upload button`),
		chromedp.WaitVisible("#diff"))
	if added := browsertest.Get(t, ctx, "added", chromedp.Text("#diff-added")); added == "0" || added == "" {
		t.Errorf("dry run added %q", added)
	}
	browsertest.Screenshot(t, ctx, "roster-dryrun")
	// The apply form asks for confirmation (console.js): answer yes.
	browsertest.Get(t, ctx, "accept confirm", chromedp.Evaluate[bool]("window.confirm = function () { return true; }; true"))
	browsertest.Do(t, ctx, "apply", chromedp.Click(`#roster-apply button`), chromedp.WaitVisible("#import-status"))
	if st := browsertest.Get(t, ctx, "status", chromedp.Text("#import-status")); st != "已导入" {
		t.Errorf("after apply: %q", st)
	}
	browsertest.Screenshot(t, ctx, "roster-applied")
	browsertest.Do(t, ctx, "refused",
		chromedp.Navigate(base+"/hrss/rosters"), chromedp.WaitVisible("#roster-upload"),
		chromedp.SetUploadFiles(`#roster-upload input[name="file"]`, []string{bad}),
		chromedp.Click(`#roster-upload button`),
		chromedp.WaitVisible("#row-errors"))
	if errs := browsertest.Get(t, ctx, "errors", chromedp.Text("#row-errors")); !strings.Contains(errs, "110105194912310021") {
		t.Errorf("row errors %q", errs)
	}
	browsertest.Screenshot(t, ctx, "roster-refused")
	browsertest.Do(t, ctx, "paid", chromedp.Navigate(base+"/hrss/paid"), chromedp.WaitVisible("#paid-export"))
	browsertest.Screenshot(t, ctx, "paid")
}
