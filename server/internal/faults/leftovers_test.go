package faults_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"villagesync/server/internal/pglocal"
)

// The folders of a test's own PostgreSQL cluster and tmpfs carry the ID
// of the test process that made them. A test process killed from outside
// (a `go test -timeout` panic, kill -9) cannot clean up after itself; the
// next test to make such a folder stops and removes what a dead process
// left (sweepLeftovers).

// ownedTempDir makes a folder in the temporary directory named prefix,
// this process's ID, and a random part.
func ownedTempDir(prefix string) (string, error) {
	return os.MkdirTemp("", fmt.Sprintf("%s%d-", prefix, os.Getpid()))
}

// leftovers are the folders named by ownedTempDir with prefix whose
// process is gone.
func leftovers(prefix string) []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	var out []string
	for _, d := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), prefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// processAlive reports whether a process with this ID runs: a zombie (a
// killed process its parent has not reaped yet) does not.
func processAlive(pid int) bool {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "pid (comm) state ...": comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// sweepLeftovers stops the clusters and unmounts the disks that dead test
// processes left, and removes their folders: once per test process, by
// the first test that makes such a folder.
func sweepLeftovers(t testing.TB) {
	t.Helper()
	sweepOnce.Do(func() { sweep(t) })
}

var sweepOnce sync.Once

func sweep(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, d := range leftovers(clusterPrefix) {
		if err := (pglocal.Cluster{Dir: filepath.Join(d, "pg")}).Stop(ctx); err != nil {
			t.Logf("stop the cluster a dead test left in %s: %v", d, err)
			continue
		}
		os.RemoveAll(d)
		t.Logf("removed the cluster a dead test left in %s", d)
	}
	for _, d := range leftovers(diskPrefix) {
		if out, err := exec.Command("umount", d).CombinedOutput(); err != nil && !strings.Contains(string(out), "not mounted") {
			t.Logf("unmount the disk a dead test left on %s: %v %s", d, err, out)
			continue
		}
		os.Remove(d)
		t.Logf("removed the disk a dead test left on %s", d)
	}
}

const (
	clusterPrefix = "villagesync-faults-pg-"
	diskPrefix    = "villagesync-fulldisk-"
)

// A folder whose process is gone is a leftover; one of a live process,
// or not named by ownedTempDir, is not.
func TestLeftovers(t *testing.T) {
	t.Parallel()
	prefix := fmt.Sprintf("villagesync-leftover-test-%d-", time.Now().UnixNano())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name string) string {
		d := filepath.Join(os.TempDir(), prefix+name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(d) })
		return d
	}
	// A zombie: exited, not reaped yet, as a test process killed a moment
	// ago can be.
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	for deadline := time.Now().Add(10 * time.Second); processAlive(zombie.Process.Pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the child that exited still counts as running")
		}
	}
	gone := mk(fmt.Sprintf("%d-x1", dead.Process.Pid))
	undead := mk(fmt.Sprintf("%d-x3", zombie.Process.Pid))
	mk(fmt.Sprintf("%d-x2", os.Getpid()))
	mk("unnamed")
	got, want := leftovers(prefix), []string{gone, undead}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("leftovers %v, want %v", got, want)
	}
}
