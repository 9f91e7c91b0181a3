package faults_test

import (
	"os"
	"testing"
)

// scale is how big a fault test runs: small in the normal test run, big
// under `make soak` (FAULTS_LONG=1, or the soak build tag).
type scale struct {
	tablets int // tablets of the fleet
	ops     int // operations per tablet
	faults  int // kills or restarts during a run
}

// size is the scale of this run.
func size(t testing.TB) scale {
	t.Helper()
	if long() {
		return scale{tablets: 50, ops: 200, faults: 3}
	}
	return scale{tablets: 20, ops: 30, faults: 1}
}

// long reports whether the long versions run.
func long() bool { return soakTag || os.Getenv("FAULTS_LONG") == "1" }
