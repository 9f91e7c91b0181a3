package pglocal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// supervisor runs postgres and removes the cluster's folder once postgres
// has exited. It is started with a parent-death signal, so the cluster and
// its files go away even when the test process that owns it panics or is
// killed: no server and no data dir outlives a `go test` run.
const supervisor = `set -u
dir=$1; shift
"$@" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null' TERM INT HUP
# A signal interrupts wait: wait again until postgres is really gone (it
# writes its statistics files while it shuts down), then remove its files.
wait "$pid"
while kill -0 "$pid" 2>/dev/null; do wait "$pid" 2>/dev/null; done
rm -rf "$dir"
`

// Temp is a throwaway PostgreSQL cluster for tests: fsync off, loopback
// only, trust authentication, removed when stopped.
type Temp struct {
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// StartTemp creates and starts a throwaway cluster and waits until it
// accepts connections.
func StartTemp(ctx context.Context) (*Temp, error) {
	o, err := serverOwner()
	if err != nil {
		return nil, err
	}
	postgres, err := Bin("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "villagesync-pg-")
	if err != nil {
		return nil, err
	}
	if err := o.mkdirOwned(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := o.initdb(ctx, data); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	t := &Temp{Port: port, dir: dir, done: make(chan error, 1)}
	args := []string{"-c", supervisor, "supervisor", dir, postgres,
		"-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=400", "-c", "shared_buffers=128MB",
		"-c", "log_min_messages=warning",
	}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal is tied to the OS thread that started
		// the child: keep this goroutine on its thread until the child ends.
		runtime.LockOSThread()
		cmd, err := o.command(context.Background(), "sh", args...)
		if err != nil {
			started <- err
			return
		}
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
		cmd.SysProcAttr.Setpgid = true // Ctrl-C in a terminal goes to us, not to it
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		t.cmd = cmd
		started <- nil
		t.done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pglocal: start postgres: %w", err)
	}
	if err := t.waitReady(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		t.Stop()
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return t, nil
}

func (t *Temp) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-t.done:
			t.done <- err
			return fmt.Errorf("pglocal: postgres exited during start-up: %v", err)
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, t.URL("postgres"))
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pglocal: postgres not ready after 60s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the connection string of a database on this cluster.
func (t *Temp) URL(database string) string { return URL(t.Port, database) }

// Stop shuts the cluster down (fast shutdown) and waits until its folder
// is gone.
func (t *Temp) Stop() error {
	if t.cmd == nil || t.cmd.Process == nil {
		return errNotRunning
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.done
	}
	return os.RemoveAll(t.dir) // normally already gone
}
