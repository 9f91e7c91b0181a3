// Package buildonce builds the project's own binaries (the server, the
// tablet app) for the end-to-end tests and benchmarks that run them as
// processes: each package once per process, into one folder that Cleanup
// removes.
package buildonce

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
)

var (
	mu    sync.Mutex
	dir   string
	built = map[string]result{}
)

type result struct {
	bin string
	err error
}

// Binary builds the main package pkg (e.g. "villagesync/server") the first
// time it is asked for, and returns the binary's path.
func Binary(pkg string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if r, ok := built[pkg]; ok {
		return r.bin, r.err
	}
	var r result
	if dir == "" {
		dir, r.err = os.MkdirTemp("", "villagesync-bin-")
	}
	if r.err == nil {
		r.bin = filepath.Join(dir, path.Base(pkg))
		if out, err := exec.Command("go", "build", "-o", r.bin, pkg).CombinedOutput(); err != nil {
			r.err = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	built[pkg] = r
	return r.bin, r.err
}

// Cleanup removes the binaries built; call it when the process is done
// with them (at the end of TestMain).
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
	dir, built = "", map[string]result{}
}
