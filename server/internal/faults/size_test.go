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

// longRosters gives the long versions 300 residents a village on both
// rosters (6,300 a roster) instead of the demo's 50: with 50 tablets
// doing 200 operations each, the demo's people would all have paid early
// and the run would be mostly refusals. Call it before the fleet
// bootstraps.
func longRosters(t testing.TB, dbURL string) {
	t.Helper()
	if long() {
		loadRosters(t, dbURL, 300)
	}
}

// faultAt is how many records must be stored before fault k (1-based) of
// a run is injected: spread over the first half of a run, allowing for a
// quarter of the operations being refusals or voids.
func (s scale) faultAt(k int) int { return k * s.tablets * s.ops / (4 * (s.faults + 1)) }
