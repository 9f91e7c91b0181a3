package faults_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"villagesync/server/internal/pglocal"
)

// A test's own PostgreSQL cluster and tmpfs live in folders whose owner
// holds a lock on a file beside each (folder + ".owner") for as long as
// it runs. A test process killed from outside (a `go test -timeout`
// panic, kill -9) cannot clean up after itself, but the kernel drops its
// locks; the next test to make such a folder stops, unmounts and removes
// what a dead process left (sweepLeftovers). A lock tells a live owner
// in any PID namespace sharing the folder, which a process ID would not.

const (
	clusterPrefix = "villagesync-faults-pg-"
	diskPrefix    = "villagesync-fulldisk-"
	ownerSuffix   = ".owner"
)

// ownedTempDir makes a folder named prefix and a random part in the
// temporary directory, and holds its owner lock until the test ends
// (register the folder's own cleanup after this call: it runs first).
func ownedTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	// Locked under another name, then renamed: a sweeper never sees the
	// owner file unlocked.
	tmp, err := os.CreateTemp(filepath.Dir(dir), ".lock-")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(tmp.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), dir+ownerSuffix); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A folder its test could not remove (a busy mount, a cluster
		// that would not stop) keeps its owner file, unlocked: the next
		// sweep takes it.
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			os.Remove(dir + ownerSuffix)
		}
		tmp.Close()
	})
	return dir
}

// leftover is a folder whose owner is gone, with its owner file, locked
// by this process until done.
type leftover struct {
	dir   string
	owner *os.File
}

func (l leftover) done() {
	os.Remove(l.owner.Name())
	l.owner.Close()
}

// leftovers are the folders named prefix… whose owner lock nobody holds.
// A folder without an owner file is not touched.
func leftovers(prefix string) []leftover {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	var out []leftover
	for _, d := range dirs {
		if strings.HasSuffix(d, ownerSuffix) {
			continue
		}
		f, err := os.OpenFile(d+ownerSuffix, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close() // held: its owner runs
			continue
		}
		// Locked, but perhaps a file its owner or another sweeper removed
		// since we opened it: only the file still at the path counts.
		if opened, err := f.Stat(); err != nil || !stillAt(opened, d+ownerSuffix) {
			f.Close()
			continue
		}
		out = append(out, leftover{dir: d, owner: f})
	}
	return out
}

// stillAt reports whether the file at path is the one described by fi.
func stillAt(fi os.FileInfo, path string) bool {
	now, err := os.Stat(path)
	return err == nil && os.SameFile(fi, now)
}

// sweepLeftovers stops the clusters and unmounts the disks that dead test
// processes left, and removes their folders: once per test process, by
// the first test that makes such a folder.
func sweepLeftovers(t testing.TB) {
	t.Helper()
	sweepOnce.Do(func() { sweep(t, clusterPrefix, diskPrefix) })
}

var sweepOnce sync.Once

func sweep(t testing.TB, clusters, disks string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, l := range leftovers(clusters) {
		if err := (pglocal.Cluster{Dir: filepath.Join(l.dir, "pg")}).Stop(ctx); err != nil {
			t.Logf("stop the cluster a dead test left in %s: %v", l.dir, err)
			l.owner.Close()
			continue
		}
		os.RemoveAll(l.dir)
		l.done()
		t.Logf("removed the cluster a dead test left in %s", l.dir)
	}
	for _, l := range leftovers(disks) {
		if out, err := exec.Command("umount", l.dir).CombinedOutput(); err != nil && !strings.Contains(string(out), "not mounted") {
			t.Logf("unmount the disk a dead test left on %s: %v %s", l.dir, err, out)
			l.owner.Close()
			continue
		}
		os.Remove(l.dir)
		l.done()
		t.Logf("removed the disk a dead test left on %s", l.dir)
	}
}

// A folder whose owner lock is free is a leftover, and the sweep removes
// it with its owner file; a folder of a live owner (this process) and a
// folder without an owner file stay.
func TestLeftovers(t *testing.T) {
	t.Parallel()
	// A prefix of this run alone: another test process sharing the
	// folder, or one killed mid-test, does not meet it.
	prefix := fmt.Sprintf("villagesync-leftover-test-%d-%d-", os.Getpid(), time.Now().UnixNano())
	live := ownedTempDir(t, prefix+"c-")
	t.Cleanup(func() { os.Remove(live) })
	mk := func(name string, owner bool) string {
		d := filepath.Join(os.TempDir(), prefix+name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d); os.Remove(d + ownerSuffix) })
		if owner {
			if err := os.WriteFile(d+ownerSuffix, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	deadCluster := mk("c-dead", true)
	if err := os.WriteFile(filepath.Join(deadCluster, "something"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadDisk := mk("d-dead", true)
	unowned := mk("c-unowned", false)

	var got []string
	for _, l := range leftovers(prefix) {
		got = append(got, l.dir)
		l.owner.Close()
	}
	want := []string{deadCluster, deadDisk}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("leftovers %v, want %v", got, want)
	}

	// A folder whose test could not remove it keeps its owner file,
	// unlocked once the test is over.
	kept := ""
	t.Run("KeepsWhatItCouldNotRemove", func(t *testing.T) {
		kept = ownedTempDir(t, prefix+"d-")
	})
	if _, err := os.Stat(kept + ownerSuffix); err != nil {
		t.Fatalf("the owner file of a folder left in place is gone: %v", err)
	}

	sweep(t, prefix+"c-", prefix+"d-")
	for _, d := range []string{deadCluster, deadCluster + ownerSuffix, deadDisk, deadDisk + ownerSuffix, kept, kept + ownerSuffix} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after the sweep (%v)", d, err)
		}
	}
	for _, d := range []string{live, live + ownerSuffix, unowned} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("the sweep took %s: %v", d, err)
		}
	}
}
