package localstore_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"villagesync/agentapp/internal/agenttest"
	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// A collection that finds the storage full fails with the coded disk_full
// error and a Chinese message for the agent (not SQLite's English "database
// or disk is full"), and leaves nothing behind: the chain head and the
// cash held are as before, and the next collection after space returns
// extends the chain. SQLite's max_page_count stands in for the full disk
// here; the fault tests (server/internal/faults) fill a real tmpfs.
func TestWriteDiskFull(t *testing.T) {
	t.Parallel()
	tab := agenttest.NewTablet(t, nil, "")
	var lines []syncproto.RosterLine
	for i := 1; i <= 40; i++ {
		lines = append(lines, agenttest.Line(i, syncproto.KindMedical))
	}
	tab.Seed(t, agenttest.Settings(), 1001, 100, lines...)
	ctx := t.Context()
	svc := collect.New(tab.Store, nil)
	collectLine := func(n int) error {
		_, err := svc.Collect(ctx, tab.Unlocked, collect.Request{RosterLineID: lines[n].ID})
		return err
	}
	if err := collectLine(0); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := tab.Store.DB.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setMax := func(n int) {
		t.Helper()
		if _, err := tab.Store.DB.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.Itoa(n)); err != nil {
			t.Fatal(err)
		}
	}
	setMax(pages)
	var err error
	n := 1
	for ; n < len(lines) && err == nil; n++ { // free pages may hold a few
		err = collectLine(n)
	}
	if syncproto.ErrorCode(err) != localstore.CodeDiskFull {
		t.Fatalf("collect on a full store: %v, want %s", err, localstore.CodeDiskFull)
	}
	var ce *syncproto.Error
	if !errors.As(err, &ce) || !strings.Contains(ce.MessageZH, "存储空间已满") {
		t.Fatalf("message for the agent: %+v", ce)
	}
	chain := tab.Chain(t)
	setMax(1 << 30)
	if err := collectLine(n - 1); err != nil { // the refused one, now
		t.Fatal(err)
	}
	after := tab.Chain(t)
	if len(after) != len(chain)+1 {
		t.Fatalf("chain of %d records, then %d", len(chain), len(after))
	}
	agenttest.RequireChain(t, after, tab.Public)
}

// A pulled page that finds the storage full stops the sync with the coded
// disk_full error and a message that says the sync, not a collection,
// failed; the page is not half applied and the cursor stays where it was,
// so the next sync resumes there.
func TestApplyPageDiskFull(t *testing.T) {
	t.Parallel()
	tab := agenttest.NewTablet(t, nil, "")
	ctx := t.Context()
	before, err := tab.Store.SyncState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := tab.Store.DB.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Store.DB.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	var changes []syncproto.Change
	for i := 1; i <= 2000; i++ {
		l := agenttest.Line(i, syncproto.KindMedical)
		changes = append(changes, agenttest.Change(t, syncproto.EntityRosterEntry, l.ID, "v:"+agenttest.Village, int64(i), l))
	}
	err = tab.Store.ApplyPage(ctx, changes, "cursor-after-the-page")
	var ce *syncproto.Error
	if syncproto.ErrorCode(err) != localstore.CodeDiskFull || !errors.As(err, &ce) || !strings.Contains(ce.MessageZH, "同步未完成") {
		t.Fatalf("a page on a full store: %v", err)
	}
	after, err := tab.Store.SyncState(ctx)
	if err != nil || after.Cursor != before.Cursor {
		t.Fatalf("the cursor moved to %q (was %q): %v", after.Cursor, before.Cursor, err)
	}
	var lines int
	if err := tab.Store.DB.QueryRowContext(ctx, `SELECT count(*) FROM roster_line`).Scan(&lines); err != nil || lines != 0 {
		t.Fatalf("%d roster lines of a refused page stored: %v", lines, err)
	}
}
