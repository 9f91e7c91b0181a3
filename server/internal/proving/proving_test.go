package proving_test

import (
	"strings"
	"testing"

	"villagesync/server/internal/proving"
)

// TestQuick runs every measurement at its smoke size against a real
// PostgreSQL, real HTTP, the real server binary and real tablet stores:
// each must complete (the push stores every record once, the cut takes
// every collection, the pull serves the same changes before and after
// the million rows, every tablet syncs) and give a positive figure and
// baseline. No figure is judged: the run is too small to mean anything.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and builds the server")
	}
	env, err := proving.StartEnv(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	results, err := proving.Run(t.Context(), env, proving.Options{Quick: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < len(proving.Measurements()) {
		t.Fatalf("%d results for %d measurements", len(results), len(proving.Measurements()))
	}
	for _, r := range results {
		if !(r.Figure > 0) || !(r.Baseline > 0) || !(r.Ratio > 0) {
			t.Errorf("%s: figure %v, baseline %v, ratio %v", r.Name, r.Figure, r.Baseline, r.Ratio)
		}
	}
	table := proving.FormatTable(results)
	if got := strings.Count(table, "\n"); got != len(results)+2 {
		t.Errorf("table has %d lines for %d results:\n%s", got, len(results), table)
	}
	t.Log("\n" + table)
}
