package main

import (
	"bufio"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/chromedp/chromedp"

	"villagesync/server/internal/browsertest"
	"villagesync/syncproto"
)

// serveUI starts `agentapp serve` on a free loopback port for tb's store
// and returns the UI's address; it is stopped when the test ends.
func (tb *tabletCLI) serveUI() string {
	t := tb.e.t
	t.Helper()
	cmd := tb.command("serve", "--addr", "127.0.0.1:0")
	cmd.Env = os.Environ() // no PIN in the environment: the browser types it
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("agentapp serve printed no address: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)
	if m == "" {
		t.Fatalf("agentapp serve: no address in %q", line)
	}
	return m
}

// syncInUI runs the run-th sync of the UI from its sync page and returns
// its final message.
func syncInUI(t *testing.T, ctx context.Context, base string, run int) string {
	t.Helper()
	browsertest.Do(t, ctx, "sync "+strconv.Itoa(run),
		chromedp.Navigate(base+"/sync"),
		chromedp.Click("#start-sync"),
		chromedp.WaitVisible(`#sync[data-run="`+strconv.Itoa(run)+`"][data-state="done"], #sync[data-state="failed"]`),
	)
	state := browsertest.Get(t, ctx, "sync state", chromedp.AttributeValue("#sync", "data-state"))
	msg := browsertest.Get(t, ctx, "sync message", chromedp.Text("#sync-message"))
	if state.Value != "done" {
		t.Fatalf("sync %d in the UI: %s: %s", run, state.Value, msg)
	}
	return msg
}

// The agent's day in the tablet UI, in a real Chromium against the real
// server and the real agentapp binary: unlock, sync, search, collect a
// pension with its grade, see the receipt, collect a medical premium and
// void it, sync; the server then holds one live and one voided collection
// with the amounts shown.
func TestTabletUIEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	tb := e.enroll(e.agent(""))
	base := tb.serveUI()
	ctx := browsertest.New(t)

	browsertest.Do(t, ctx, "open", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#pin"))
	browsertest.Screenshot(t, ctx, "unlock")
	browsertest.Do(t, ctx, "unlock", chromedp.SendKeys("#pin", e2ePIN), chromedp.Click("#unlock"),
		chromedp.WaitVisible("#banner"))
	browsertest.Screenshot(t, ctx, "home")

	msg := syncInUI(t, ctx, base, 1)
	if !strings.Contains(msg, "同步完成") || !strings.Contains(msg, "一致") {
		t.Fatalf("first sync: %s", msg)
	}
	browsertest.Screenshot(t, ctx, "sync")

	// Pick a pension payer and a different medical payer from the roster
	// the sync brought.
	var pension, medical syncproto.RosterLine
	for _, l := range tb.lines() {
		switch {
		case l.FullySubsidised || l.Paid || l.Review != "":
		case l.Kind == syncproto.KindPension && pension.ID == "" && len(l.Grades) > 0:
			pension = l
		case l.Kind == syncproto.KindMedical && medical.ID == "" && l.Due > 0:
			medical = l
		}
	}
	if pension.ID == "" || medical.ID == "" || pension.Name == medical.Name {
		t.Fatalf("demo roster lacks payers: pension %+v medical %+v", pension, medical)
	}
	grade := pension.Grades[0]
	want := grade - pension.Subsidy

	browsertest.Do(t, ctx, "search",
		chromedp.Navigate(base+"/search"),
		chromedp.SendKeys("#q", pension.Name),
		chromedp.Click("#find"),
		chromedp.WaitVisible(`a[href="/collect/`+pension.ID+`"]`))
	browsertest.Screenshot(t, ctx, "search")
	browsertest.Do(t, ctx, "choose person and kind", chromedp.Click(`a[href="/collect/`+pension.ID+`"]`),
		chromedp.WaitVisible("a.grade"))
	browsertest.Screenshot(t, ctx, "grade")
	browsertest.Do(t, ctx, "choose grade", chromedp.Click("a.grade"), chromedp.WaitVisible("#amount"))
	if got := browsertest.Get(t, ctx, "amount", chromedp.Text("#amount")); got != "¥"+want.String() {
		t.Fatalf("confirm shows %q, want ¥%s", got, want)
	}
	if got := browsertest.Get(t, ctx, "capital", chromedp.Text("#capital")); !strings.HasPrefix(got, "人民币") {
		t.Fatalf("confirm shows capital %q", got)
	}
	browsertest.Screenshot(t, ctx, "confirm")
	browsertest.Do(t, ctx, "collect", chromedp.Click("#confirm"), chromedp.WaitVisible("#receipt"))
	rec := browsertest.Get(t, ctx, "receipt", chromedp.Text("#receipt"))
	for _, s := range []string{"城乡居民社会保险费代收收据", pension.Name, pension.Masked, "¥" + want.String()} {
		if !strings.Contains(rec, s) {
			t.Fatalf("receipt lacks %q:\n%s", s, rec)
		}
	}
	browsertest.Screenshot(t, ctx, "receipt")

	// A second collection, voided with a reason: two collections and a
	// void to push.
	browsertest.Do(t, ctx, "collect medical",
		chromedp.Navigate(base+"/collect/"+medical.ID), // a medical line goes straight to confirm
		chromedp.WaitVisible("#confirm"),
		chromedp.Click("#confirm"),
		chromedp.WaitVisible("#void"),
		chromedp.Click("#void"),
		chromedp.WaitVisible("#reason"),
		chromedp.SendKeys("#reason", "收错了人"),
		chromedp.Click("#next"),
		chromedp.WaitVisible("#dovoid"))
	browsertest.Screenshot(t, ctx, "void")
	browsertest.Do(t, ctx, "void", chromedp.Click("#dovoid"), chromedp.WaitVisible("#voided"))

	msg = syncInUI(t, ctx, base, 2)
	if !strings.Contains(msg, "上传 3 条（服务器已确认 3，拒收 0）") {
		t.Fatalf("second sync: %s", msg)
	}
	unsynced := browsertest.Get(t, ctx, "unsynced", chromedp.Text("#unsynced"))
	if unsynced != "0" {
		t.Fatalf("banner shows %s unsynced after the sync", unsynced)
	}

	if n := e.count(`SELECT count(*) FROM collection WHERE voided_at IS NULL AND roster_entry_id = $1 AND amount_fen = $2`,
		pension.ID, int64(want)); n != 1 {
		t.Fatalf("%d live pension collections of %s for %s on the server, want 1", n, pension.ID, want)
	}
	if n := e.count(`SELECT count(*) FROM collection WHERE voided_at IS NOT NULL AND void_reason = '收错了人'
		AND roster_entry_id = $1 AND amount_fen = $2`, medical.ID, int64(medical.Due)); n != 1 {
		t.Fatalf("%d voided medical collections on the server, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM collection`); n != 2 {
		t.Fatalf("%d collections on the server, want 2", n)
	}
}
