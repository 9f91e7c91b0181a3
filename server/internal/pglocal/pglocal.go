// Package pglocal runs a PostgreSQL server owned by this project: the
// persistent development cluster of `make run` (under .data/) and the
// throwaway clusters of the test harness. PostgreSQL refuses to run as root,
// so when this process is root the server runs as the `postgres` user.
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SuperUser is the database role initdb creates and the clusters trust on
// loopback.
const SuperUser = "postgres"

// Bin finds a PostgreSQL program: on PATH first, then in Debian's versioned
// folders (/usr/lib/postgresql/NN/bin), newest first.
func Bin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		p := filepath.Join(dirs[i], name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("pglocal: %s not found on PATH or in /usr/lib/postgresql/*/bin: install PostgreSQL (apt-get install -y postgresql)", name)
}

// owner is the OS account the server runs as: the postgres user when we
// are root, else ourselves (nil credential).
type owner struct {
	cred     *syscall.Credential
	uid, gid int
	home     string
}

func serverOwner() (owner, error) {
	if os.Geteuid() != 0 {
		return owner{uid: os.Getuid(), gid: os.Getgid(), home: os.Getenv("HOME")}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return owner{}, fmt.Errorf("pglocal: running as root needs a `postgres` OS user (PostgreSQL refuses root): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return owner{
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		uid:  uid, gid: gid, home: u.HomeDir,
	}, nil
}

// command prepares a program to run as the server's owner.
func (o owner) command(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	path, err := Bin(name)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	cmd.Env = append(os.Environ(), "HOME="+o.home, "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	cmd.Dir = "/"
	return cmd, nil
}

// run runs a program as the owner and includes its output in any error.
func (o owner) run(ctx context.Context, name string, args ...string) error {
	cmd, err := o.command(ctx, name, args...)
	if err != nil {
		return err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pglocal: %s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// mkdirOwned creates dir (and parents) and gives dir to the owner. Parents
// must be traversable by the owner, so they are opened for search.
func (o owner) mkdirOwned(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if o.cred == nil {
		return nil
	}
	for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("pglocal: let postgres reach %s: %w", p, err)
			}
		}
	}
	return os.Chown(dir, o.uid, o.gid)
}

// initdb creates a cluster in dataDir with trust authentication for local
// and loopback connections (the cluster listens on loopback only).
func (o owner) initdb(ctx context.Context, dataDir string) error {
	return o.run(ctx, "initdb", "-D", dataDir, "-U", SuperUser, "--auth=trust",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions")
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the connection string of a database on a local cluster.
func URL(port int, database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", SuperUser, port, database)
}

var errNotRunning = errors.New("pglocal: cluster not running")
