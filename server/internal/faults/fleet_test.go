package faults_test

import (
	"testing"

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/pgtest"
)

// The fleet itself against a healthy server: tablets enroll, bootstrap,
// collect, void, deposit, go offline and back, and converge; the server
// holds each record once.
func TestFleetConverges(t *testing.T) {
	t.Parallel()
	env := newServerEnv(t, pgtest.NewURL(t))
	srv := startServer(t, env)
	f := newFleet(t, env, 1, 4, srv.URL())
	res, err := f.Run(t.Context(), fleet.Plan{Ops: 40, SyncEvery: 8, VoidRate: 0.1, OfflineRate: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run: %+v", res)
	stats := requireConverged(t, f, openPool(t, env.dbURL))
	var voids, deposits int
	for _, s := range stats {
		voids += s.Voids
		deposits += s.Deposits
		if s.RosterLines == 0 {
			t.Errorf("%s has no roster", s.Name)
		}
	}
	if res.Collected == 0 || voids == 0 {
		t.Fatalf("the run collected %d and voided %d: the plan did not exercise the tablet", res.Collected, voids)
	}
	t.Logf("records %d, deposits %d", totalRecords(stats), deposits)
}
