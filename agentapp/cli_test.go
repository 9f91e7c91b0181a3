package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"villagesync/agentapp/internal/agenttest"
	"villagesync/agentapp/internal/fakeserver"
	"villagesync/syncproto"
)

// cliEnv is a tablet file the CLI runs on, with a fake server.
type cliEnv struct {
	tab *agenttest.Tablet
	srv *fakeserver.Server
}

func mustCLIEnv(tb testing.TB, lines int) *cliEnv {
	tb.Helper()
	e := &cliEnv{}
	e.tab = agenttest.NewTablet(tb, nil, "")
	e.srv = fakeserver.New(tb, e.tab.DeviceID, e.tab.Public, e.tab.Refresh)
	// Point the enrollment at the fake server.
	en, err := e.tab.Store.Enrollment(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	en.ServerURL = e.srv.URL
	if err := e.tab.Store.SaveEnrollment(tb.Context(), en); err != nil {
		tb.Fatal(err)
	}
	e.srv.Upsert(syncproto.EntitySettings, "settings", "", agenttest.Settings())
	e.srv.Upsert(syncproto.EntityReceiptRange, "RR1", "", syncproto.ReceiptRange{ID: "RR1", First: 7001, Last: 9000})
	for i := 1; i <= lines; i++ {
		for _, k := range syncproto.Kinds() {
			l := agenttest.Line(i, k)
			e.srv.Upsert(syncproto.EntityRosterEntry, l.ID, "v:"+agenttest.Village, l)
		}
	}
	return e
}

// run runs the CLI in-process on the tablet's file with the PIN on stdin.
func (e *cliEnv) run(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	var out, errb bytes.Buffer
	err := run(tb.Context(), append([]string{"--db", e.tab.Path}, args...), strings.NewReader(agenttest.PIN+"\n"), &out, &errb)
	if err != nil {
		printError(&errb, err)
	}
	return out.String() + errb.String(), err
}

func (e *cliEnv) mustRun(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := e.run(tb, args...)
	if err != nil {
		tb.Fatalf("agentapp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func requireContains(tb testing.TB, out string, parts ...string) {
	tb.Helper()
	for _, p := range parts {
		if !strings.Contains(out, p) {
			tb.Fatalf("output lacks %q:\n%s", p, out)
		}
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()
	e := mustCLIEnv(t, 12)
	line := func(n int, k syncproto.Kind) string { return agenttest.Line(n, k).ID }

	out, err := e.run(t, "collect", "--id", line(1, syncproto.KindMedical))
	if syncproto.ErrorCode(err) != "no_settings" {
		t.Fatalf("collect before the first sync: %v\n%s", err, out)
	}
	out = e.mustRun(t, "sync")
	requireContains(t, out, "下载 pulled 26", "校验 checkpoint 一致 ok")

	out = e.mustRun(t, "roster", "search", "zy")
	requireContains(t, out, "张一", "张一一", "医疗保险", "养老保险")
	out = e.mustRun(t, "roster", "search", "张一二", "--kind", "医疗")
	requireContains(t, out, line(12, syncproto.KindMedical))
	last6 := string(agenttest.ResidentID(5))[12:]
	out = e.mustRun(t, "roster", "search", last6)
	requireContains(t, out, "后 4 位", line(5, syncproto.KindPension))
	out = e.mustRun(t, "roster", "search", string(agenttest.ResidentID(7)), "--json")
	var found []struct{ ID string }
	if err := json.Unmarshal([]byte(out), &found); err != nil || len(found) != 2 {
		t.Fatalf("search by full ID: %v\n%s", err, out)
	}

	out = e.mustRun(t, "collect", "--id", line(1, syncproto.KindMedical))
	requireContains(t, out, "城乡居民社会保险费代收收据", "收据号码：000000007001", "人民币肆佰元整", "张代办")
	out = e.mustRun(t, "collect", "--resident-id", string(agenttest.ResidentID(2)), "--kind", "pension", "--grade", "500")
	requireContains(t, out, "收据号码：000000007002", "缴费档次：500.00", "人民币伍佰元整")
	out, err = e.run(t, "collect", "--id", line(3, syncproto.KindPension))
	if syncproto.ErrorCode(err) != "grade_required" || !strings.Contains(out, "错误：") {
		t.Fatalf("pension without grade: %v\n%s", err, out)
	}
	out = e.mustRun(t, "void", "7001", "--reason", "收错了")
	requireContains(t, out, "000000007001 已作废")
	out = e.mustRun(t, "receipts")
	requireContains(t, out, "000000007001", "已作废", "000000007002", "在手", "未同步")
	out = e.mustRun(t, "receipts", "show", "000000007001")
	requireContains(t, out, "【已作废 VOID】", "作废原因：收错了", "补打")
	out = e.mustRun(t, "receipts", "show", "7002", "--html")
	requireContains(t, out, "<!DOCTYPE html>", "<td>人民币伍佰元整</td>")

	out = e.mustRun(t, "status", "--json")
	var st statusView
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err, out)
	}
	if st.Limits == nil || st.Limits.Cash != syncproto.Yuan(500) || st.Outbox.Pending != 3 || st.ReceiptsLeft != 1998 ||
		st.RosterLines != 24 || st.Sync.LastSync.IsZero() {
		t.Fatalf("status = %+v", st)
	}
	out = e.mustRun(t, "status")
	requireContains(t, out, "在手现金 cash     ¥500.00（1 笔", "未同步 unsynced   3", "限额 cash limit   ¥20000.00")

	out = e.mustRun(t, "deposit", "--slip", "6222-01", "--amount", "499", "--time", "2026-10-28 16:30")
	requireContains(t, out, "覆盖 1 笔", "2026-10-28 16:30", "warning: the slip says 499.00")
	out = e.mustRun(t, "status")
	requireContains(t, out, "上次缴存 last deposit ¥499.00，缴款单 slip 6222-01，2026-10-28 16:30", "在手现金 cash     ¥0.00（0 笔")

	// Export before syncing: the three records verify on their own.
	file := filepath.Join(t.TempDir(), "outbox.json")
	out = e.mustRun(t, "outbox", "export", file)
	requireContains(t, out, "4 条未同步记录")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var f syncproto.OutboxFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.DeviceID != e.tab.DeviceID || len(f.Mutations) != 4 || !bytes.Equal(f.PublicKey, e.tab.Public) {
		t.Fatalf("export = %s", b)
	}
	if err := f.Verify(e.tab.Public); err != nil {
		t.Fatal(err)
	}
	agenttest.RequireChain(t, f.Mutations, e.tab.Public)

	e.srv.Reject(func(m syncproto.Mutation) *syncproto.Outcome {
		if m.Kind == syncproto.MutationDeposit {
			return &syncproto.Outcome{Code: "bad_deposit", Reason: "slip unknown", ReasonZH: "缴款单未知"}
		}
		return nil
	})
	out = e.mustRun(t, "sync")
	requireContains(t, out, "上传 pushed 4（已确认 acked 3，被拒 parked 1）", "agentapp outbox")
	out = e.mustRun(t, "outbox")
	requireContains(t, out, "被拒 parked 1", "缴款单未知", "bad_deposit")
	if got := e.srv.Mutations(); len(got) != 4 {
		t.Fatalf("server holds %d", len(got))
	}

	// A replica that lost a row is pulled again, and the agent is told.
	if _, err := e.tab.Store.DB.ExecContext(t.Context(), `DELETE FROM roster_line WHERE id = ?`, line(9, syncproto.KindMedical)); err != nil {
		t.Fatal(err)
	}
	out = e.mustRun(t, "sync")
	requireContains(t, out, "正在重新下载全部数据", "checkpoint mismatch", "已重新下载全部数据")

	out, err = e.run(t, "void", "7001")
	if err == nil || !strings.Contains(out, "作废须填写原因") {
		t.Fatalf("void without a reason: %v\n%s", err, out)
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	t.Run("OKPlainLines", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		p := newProgress(&b, false)
		p.update(5, -1)
		p.update(5, -1)
		p.update(12, 12)
		p.finish()
		if got := b.String(); got != "已处理 done 5 条 records…\n已处理 done 12 / 12 条 records\n" {
			t.Fatalf("lines = %q", got)
		}
	})
	t.Run("OKBarPerSync", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		p := newProgress(&b, true)
		for range 2 {
			p.update(1000, -1)
			p.say("mismatch")
			p.update(3000, 3000)
			p.finish()
		}
		if !strings.Contains(b.String(), "mismatch") || !strings.Contains(b.String(), "同步 syncing") {
			t.Fatalf("bar output = %q", b.String())
		}
	})
}
