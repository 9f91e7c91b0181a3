package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"villagesync/server/internal/browsertest"
	"villagesync/syncproto"
)

// signIn signs a demo user in through the login form.
func signIn(t *testing.T, ctx context.Context, e *e2e, user string) {
	t.Helper()
	browsertest.Do(t, ctx, "login "+user,
		chromedp.Navigate(e.base+"/login"),
		chromedp.WaitVisible("#username"),
		chromedp.SendKeys("#username", user),
		chromedp.SendKeys("#password", demoPassword(t, e.dataDir, user)),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#who"),
	)
}

// pageText reads the visible text of the first element matching sel.
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(browsertest.Get(t, ctx, "text of "+sel, chromedp.Text(sel)))
}

// waitFile waits for a finished download and returns its content.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && json.Valid(b) {
			return b
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	t.Fatalf("download %s did not arrive; the folder has %v", path, entries)
	return nil
}

// A day at the township and the tax office, in a real browser against the
// real server: a tablet (the real agentapp) collects three payments and
// deposits the cash of two; the township user cuts today's batch, sees
// the deposits short by one payment, approves it with a reason; the tax
// user finds it approved, downloads it (the file's totals are the
// batch's), uploads a posting file with an error (the row-level report is
// shown and nothing is applied), then a good one (posted).
func TestConsoleEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	tb := e.enroll(e.agent(""))
	tb.run("sync")
	var payable []syncproto.RosterLine
	for _, l := range tb.lines() {
		if l.Kind == syncproto.KindMedical && !l.FullySubsidised && !l.Paid && l.Due > 0 {
			payable = append(payable, l)
		}
	}
	if len(payable) < 3 {
		t.Fatalf("demo village has %d payable medical lines", len(payable))
	}
	tb.run("collect", "--id", payable[0].ID)
	tb.run("collect", "--id", payable[1].ID)
	deposited := payable[0].Due + payable[1].Due
	tb.run("deposit", "--slip", "6222-0001", "--amount", deposited.String())
	tb.run("collect", "--id", payable[2].ID) // not deposited yet
	tb.run("sync")
	total := deposited + payable[2].Due

	ctx := browsertest.New(t)

	// The township: today's status, then today's batch.
	signIn(t, ctx, e, "township.lincheng")
	if loc := browsertest.Get(t, ctx, "landing", chromedp.Location()); loc != e.base+"/township" {
		t.Fatalf("township user landed on %s", loc)
	}
	if got := pageText(t, ctx, "#today-stats"); !strings.Contains(got, "3 笔") || !strings.Contains(got, total.String()) {
		t.Errorf("today's status shows %q, want 3 collections of %s", got, total)
	}
	if got := pageText(t, ctx, "#village-progress tbody tr:first-child"); !strings.Contains(got, "北临城社区") || !strings.Contains(got, total.String()) {
		t.Errorf("village progress shows %q, want the demo village with %s collected", got, total)
	}
	browsertest.Screenshot(t, ctx, "township-home")
	for _, p := range []struct{ path, name, want string }{
		{"/township/agents", "township-agents", "代办员"},
		{"/township/devices", "township-devices", "测试平板"},
		{"/township/flags", "township-flags", "同步告警"},
	} {
		browsertest.Do(t, ctx, p.name, chromedp.Navigate(e.base+p.path), chromedp.WaitVisible("main table"))
		if got := pageText(t, ctx, "main"); !strings.Contains(got, p.want) {
			t.Errorf("%s does not show %q: %.300s", p.path, p.want, got)
		}
		browsertest.Screenshot(t, ctx, p.name)
	}
	browsertest.Do(t, ctx, "make an enrollment code",
		chromedp.Navigate(e.base+"/township/devices"), chromedp.Click("#make-code"), chromedp.WaitVisible("#enrollment-code img.qr"))
	browsertest.Screenshot(t, ctx, "township-enrollment-code")

	browsertest.Do(t, ctx, "cut today's batch",
		chromedp.Navigate(e.base+"/township/batches"), chromedp.Click("#cut"), chromedp.WaitVisible("#approve-form"))
	loc := browsertest.Get(t, ctx, "batch page", chromedp.Location())
	batchID := loc[strings.LastIndex(loc, "/")+1:]
	if got := pageText(t, ctx, "#batch-total"); got != total.String()+" 元" {
		t.Errorf("batch total %q, want %s 元", got, total)
	}
	if got := pageText(t, ctx, "#batch-deposited"); got != deposited.String()+" 元" {
		t.Errorf("deposited %q, want %s 元", got, deposited)
	}
	if got := pageText(t, ctx, "#batch-short"); got != "缺 "+payable[2].Due.String()+" 元" {
		t.Errorf("short %q, want 缺 %s 元", got, payable[2].Due)
	}
	if n := len(browsertest.Get(t, ctx, "lines", chromedp.Nodes("#lines tbody tr"))); n != 3 {
		t.Errorf("%d lines shown, want 3", n)
	}
	browsertest.Screenshot(t, ctx, "township-batch-review")
	browsertest.Do(t, ctx, "approve with a reason",
		chromedp.SendKeys("#override-reason", "第三笔现金次日缴存"),
		chromedp.Click("#approve"),
		chromedp.WaitVisible("#flash"))
	if got := pageText(t, ctx, "#batch-state"); got != "已审核" {
		t.Fatalf("after approving the batch is %q", got)
	}
	if got := pageText(t, ctx, "#flash"); !strings.Contains(got, "审核通过") {
		t.Errorf("flash %q", got)
	}
	browsertest.Screenshot(t, ctx, "township-batch-approved")
	// The same page on a tablet held upright: the layout reflows, nothing
	// is wider than the screen but the line table, which scrolls.
	browsertest.Do(t, ctx, "tablet viewport", chromedp.EmulateViewport(800, 1280))
	if w := browsertest.Get(t, ctx, "page width", chromedp.Evaluate[int]("document.documentElement.scrollWidth")); w > 800 {
		t.Errorf("on a tablet the page is %d px wide, wider than the 800 px screen", w)
	}
	browsertest.Screenshot(t, ctx, "township-batch-tablet")
	browsertest.Do(t, ctx, "laptop viewport", chromedp.EmulateReset())
	browsertest.Do(t, ctx, "logout", chromedp.Click("#logout"), chromedp.WaitVisible("#bye"))

	// The tax office: the approved batch, its download, the posting.
	signIn(t, ctx, e, "tax")
	browsertest.Do(t, ctx, "approved batches",
		chromedp.Navigate(e.base+"/tax/batches?state=approved"), chromedp.WaitVisible("#batches"))
	if got := pageText(t, ctx, "#batches tbody"); !strings.Contains(got, "已审核") || !strings.Contains(got, total.String()) {
		t.Errorf("tax batch list: %q", got)
	}
	browsertest.Screenshot(t, ctx, "tax-batches")

	dir := t.TempDir()
	browsertest.Do(t, ctx, "download the batch",
		chromedp.Navigate(e.base+"/tax/batches/"+batchID), chromedp.WaitVisible("#downloads"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
			return err
		}),
		chromedp.Click("#dl-json"))
	var file struct {
		Batch  struct{ ID, State string }
		Lines  []struct{ Amount syncproto.Money }
		Totals struct {
			Count int
			Total syncproto.Money
		}
	}
	if err := json.Unmarshal(waitFile(t, filepath.Join(dir, "batch-"+batchID+".json")), &file); err != nil {
		t.Fatal(err)
	}
	var sum syncproto.Money
	for _, l := range file.Lines {
		sum += l.Amount
	}
	if file.Batch.ID != batchID || file.Totals.Count != 3 || file.Totals.Total != total || sum != total || len(file.Lines) != 3 {
		t.Errorf("downloaded batch %s: %d lines summing to %s, totals %d / %s; want 3 lines of %s",
			file.Batch.ID, len(file.Lines), sum, file.Totals.Count, file.Totals.Total, total)
	}

	// A posting file naming a line the batch does not have: refused,
	// with its report; then the right one.
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	bad := filepath.Join(t.TempDir(), "posting-bad.csv")
	good := filepath.Join(t.TempDir(), "posting.csv")
	if err := writeFile(bad, "序号,完税凭证号,入库日期,错误信息\n1,V-0001,"+today+",\n9,V-0009,"+today+",\n"); err != nil {
		t.Fatal(err)
	}
	var rows strings.Builder
	rows.WriteString("序号,完税凭证号,入库日期,错误信息\n")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&rows, "%d,V-%04d,%s,\n", i, i, today)
	}
	if err := writeFile(good, rows.String()); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, "upload a bad posting file",
		chromedp.Navigate(e.base+"/tax/batches/"+batchID), chromedp.WaitVisible("#posting-form"),
		chromedp.SetUploadFiles("#posting-file", []string{bad}), chromedp.Click("#posting-upload"),
		chromedp.WaitVisible("#posting-refused"))
	if got := pageText(t, ctx, "#posting-errors tbody"); !strings.Contains(got, "9") {
		t.Errorf("the error report does not name row 9's line: %q", got)
	}
	if got := pageText(t, ctx, "#batch-state"); got != "已下载" {
		t.Errorf("after a refused posting the batch is %q, want 已下载", got)
	}
	browsertest.Screenshot(t, ctx, "tax-posting-refused")
	browsertest.Do(t, ctx, "upload the posting file",
		chromedp.SetUploadFiles("#posting-file", []string{good}), chromedp.Click("#posting-upload"),
		chromedp.WaitVisible("#posting-ok"))
	if got := pageText(t, ctx, "#posting-ok"); !strings.Contains(got, "3 笔已入库") {
		t.Errorf("posting result %q", got)
	}
	if got := pageText(t, ctx, "#batch-state"); got != "已入库" {
		t.Errorf("after posting the batch is %q, want 已入库", got)
	}
	browsertest.Screenshot(t, ctx, "tax-posted")
	browsertest.Do(t, ctx, "reconciliation",
		chromedp.Navigate(e.base+"/tax/reconciliation"), chromedp.WaitVisible("#figures"))
	if got := pageText(t, ctx, "#balance"); !strings.Contains(got, "账实相符") {
		t.Errorf("reconciliation: %q", got)
	}
	browsertest.Screenshot(t, ctx, "tax-reconciliation")
	if n := e.count(`SELECT count(*) FROM collection WHERE status = 'posted'`); n != 3 {
		t.Errorf("%d collections posted in the database, want 3", n)
	}
}
