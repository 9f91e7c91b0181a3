package faults_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode"

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/pgtest"
	"villagesync/syncproto"
)

// The tablet's disk fills up: collect fails cleanly, with a coded error
// whose Chinese message tells the agent the record was not saved; nothing
// stored before is damaged (the file passes SQLite's integrity check, the
// records are unchanged) and, once space is back, the chain goes on and
// the server accepts it.
//
// The disk is a real one: a 4 MiB tmpfs mounted for the test, filled up
// with a file, so SQLite meets a real ENOSPC. That needs root (or
// CAP_SYS_ADMIN); without it the test is skipped, saying so.
func TestTabletDiskFull(t *testing.T) {
	t.Parallel()
	dir := mountSmallDisk(t, "4m")
	env := newServerEnv(t, pgtest.NewURL(t))
	srv := startServer(t, env)
	db := openPool(t, env.dbURL)
	codes := agents(t, srv.URL(), env.dataDir, 1)
	ctx := t.Context()
	cfg := fleet.TabletConfig{Index: 0, Path: filepath.Join(dir, "agent.db"), ServerURL: srv.URL(), Seed: 41}
	tab, err := fleet.OpenTablet(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close() }) // before the unmount
	code, err := codes(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Enroll(ctx, code); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	step := func() (fleet.Op, error) { return tab.Step(ctx, 0.1) }
	for range 10 {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tab.Sync(ctx); err != nil { // some records acked, …
		t.Fatal(err)
	}
	for range 5 { // … some pending
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}

	filler := fillDisk(t, dir)
	// The WAL may still have room from earlier writes: collect until the
	// disk refuses. Each collection that succeeds is kept.
	var full error
	for i := 0; i < 2000 && full == nil; i++ {
		_, full = tab.Step(ctx, 0) // a collection
	}
	if full == nil {
		t.Fatal("2000 collections fitted on a full disk")
	}
	var ce *syncproto.Error
	if !errors.As(full, &ce) || ce.Code != "disk_full" {
		t.Fatalf("collect on a full disk: %v (want code disk_full)", full)
	}
	if !strings.ContainsFunc(ce.MessageZH, func(r rune) bool { return unicode.Is(unicode.Han, r) }) ||
		!strings.Contains(ce.MessageZH, "存储空间已满") {
		t.Errorf("the agent's message is %q", ce.MessageZH)
	}
	t.Logf("collect on a full disk: %s / %s", ce.MessageZH, ce.Message)
	before, err := tab.Records(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Space comes back; the tablet app starts again on its file.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	tab, err = fleet.OpenTablet(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tab.CheckIntegrity(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := tab.Records(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatalf("the records changed across the full disk and the restart:\n%+v\n%+v", before, after)
	}
	for range 5 {
		if _, err := step(); err != nil {
			t.Fatalf("collect once space is back: %v", err)
		}
	}
	// The chain goes on from where it was: the server checks every link.
	requireConverged(t, &fleet.Fleet{Tablets: []*fleet.Tablet{tab}}, db)
	recs, _ := tab.Records(ctx)
	if len(recs) <= len(before) {
		t.Fatalf("no record after the full disk: %d then %d", len(before), len(recs))
	}
}

// mountSmallDisk mounts a tmpfs of the given size on a new folder for this
// test, unmounted when the test ends; it skips the test when mounting is
// not allowed here.
func mountSmallDisk(t testing.TB, size string) string {
	t.Helper()
	sweepLeftovers(t)
	dir := ownedTempDir(t, diskPrefix)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		t.Skipf("cannot mount a small tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s", dir, err, out)
			return
		}
		os.Remove(dir)
	})
	return dir
}

// fillDisk writes a file in dir until the disk is full and returns its
// path.
func fillDisk(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}
