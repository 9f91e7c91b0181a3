package pglocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Cluster is the persistent development cluster that `make run` keeps in
// a project folder (.data/pg). It listens on loopback only.
type Cluster struct {
	Dir string // the folder that holds data/, the log and the port file
}

// dir is the cluster folder as an absolute path: the PostgreSQL programs
// run from "/" and must not resolve it against another working directory.
func (c Cluster) dir() string {
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return c.Dir
	}
	return abs
}

func (c Cluster) data() string     { return filepath.Join(c.dir(), "data") }
func (c Cluster) portFile() string { return filepath.Join(c.dir(), "port") }

// Port is the cluster's TCP port, chosen once when the cluster was made.
func (c Cluster) Port() (int, error) {
	b, err := os.ReadFile(c.portFile())
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// Running reports whether the cluster's server is up.
func (c Cluster) Running(ctx context.Context) bool {
	o, err := serverOwner()
	if err != nil {
		return false
	}
	return o.run(ctx, "pg_ctl", "status", "-D", c.data()) == nil
}

// Start creates the cluster when it does not exist yet and starts it when
// it is not running. It reports whether it started the server, so that the
// caller stops only what it started.
func (c Cluster) Start(ctx context.Context) (started bool, err error) {
	o, err := serverOwner()
	if err != nil {
		return false, err
	}
	c.Dir = c.dir()
	if _, err := os.Stat(filepath.Join(c.data(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := o.mkdirOwned(c.Dir); err != nil {
			return false, err
		}
		if err := o.initdb(ctx, c.data()); err != nil {
			return false, err
		}
		port, err := FreePort()
		if err != nil {
			return false, err
		}
		if err := os.WriteFile(c.portFile(), []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			return false, err
		}
	}
	if c.Running(ctx) {
		return false, nil
	}
	port, err := c.Port()
	if err != nil {
		return false, fmt.Errorf("pglocal: read port of %s: %w", c.Dir, err)
	}
	cmd, err := o.command(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.data(),
		"-l", filepath.Join(c.Dir, "server.log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", port, c.Dir))
	if err != nil {
		return false, err
	}
	cmd.SysProcAttr.Setpgid = true // Ctrl-C on `make run` must not reach postgres directly
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		return false, fmt.Errorf("pglocal: pg_ctl start: %w\n%s\n%s", err, out, tail(log, 2000))
	}
	return true, nil
}

// Stop shuts the cluster down (fast: open sessions are ended).
func (c Cluster) Stop(ctx context.Context) error {
	o, err := serverOwner()
	if err != nil {
		return err
	}
	if !c.Running(ctx) {
		return nil
	}
	cmd, err := o.command(ctx, "pg_ctl", "stop", "-w", "-m", "fast", "-D", c.data())
	if err != nil {
		return err
	}
	cmd.SysProcAttr.Setpgid = true
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pglocal: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// EnsureDatabase creates the database when it does not exist and returns
// its connection string.
func (c Cluster) EnsureDatabase(ctx context.Context, name string) (string, error) {
	port, err := c.Port()
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, URL(port, "postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	return URL(port, name), nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
