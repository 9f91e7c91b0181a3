package pglocal_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/pglocal"
)

// TestTempGoneAfterPanic runs a child test process that starts a cluster
// and panics; the cluster's server and its folder must both go away.
func TestTempGoneAfterPanic(t *testing.T) {
	t.Parallel()
	if os.Getenv("PGLOCAL_PANIC_CHILD") != "" {
		tmp, err := pglocal.StartTemp(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(context.Background(), tmp.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		var dir string
		if err := conn.QueryRow(context.Background(), "SHOW data_directory").Scan(&dir); err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := conn.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("\nDATADIR=" + dir + "\nPORT=" + strconv.Itoa(tmp.Port) + "\n")
		panic("simulated test panic")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestTempGoneAfterPanic$", "-test.v")
	cmd.Env = append(os.Environ(), "PGLOCAL_PANIC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child did not panic:\n%s", out)
	}
	var dir, port string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "DATADIR="); ok {
			dir = v
		}
		if v, ok := strings.CutPrefix(line, "PORT="); ok {
			port = v
		}
	}
	if dir == "" || port == "" {
		t.Fatalf("child did not start a cluster:\n%s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		running := postmasterAlive(dir)
		if os.IsNotExist(statErr) && !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the child's panic: data dir exists=%v, server running=%v", statErr == nil, running)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// postmasterAlive reports whether a postgres process serves dataDir.
func postmasterAlive(dataDir string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), dataDir) && syscall.Kill(pid, 0) == nil {
			if stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat"); !strings.Contains(string(stat), ") Z ") {
				return true
			}
		}
	}
	return false
}

func TestTempStop(t *testing.T) {
	t.Parallel()
	tmp, err := pglocal.StartTemp(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), tmp.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var dir string
	if err := conn.QueryRow(t.Context(), "SHOW data_directory").Scan(&dir); err != nil {
		t.Fatal(err)
	}
	conn.Close(t.Context())
	if err := tmp.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s still there after Stop", dir)
	}
	if postmasterAlive(dir) {
		t.Fatal("postgres still running after Stop")
	}
}
