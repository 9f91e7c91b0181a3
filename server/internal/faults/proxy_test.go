package faults_test

import (
	"testing"
	"time"

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/faults"
	"villagesync/server/internal/pgtest"
)

// A flaky network between 20 tablets and the server — connections
// dropped, delayed, answers cut in half, keep-alive connections ended in
// the middle of an answer: the tablets converge with no record lost and
// none stored twice.
func TestFlakyNetwork(t *testing.T) {
	t.Parallel()
	sz := size(t)
	env := newServerEnv(t, pgtest.NewURL(t))
	srv := startServer(t, env)
	db := openPool(t, env.dbURL)
	flaky := faults.Faults{Drop: 0.1, Cut: 0.15, Delay: 0.3, MaxDelay: 50 * time.Millisecond, MaxChunks: 4}
	p, err := faults.NewProxy(srv.addr, faults.Faults{}, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	longRosters(t, env.dbURL)
	start := time.Now()
	f := newFleet(t, env, 21, sz.tablets, p.URL())
	t.Logf("fleet ready in %s", time.Since(start))
	p.SetFaults(flaky)
	res, err := f.Run(t.Context(), fleet.Plan{Ops: sz.ops, SyncEvery: 3, VoidRate: 0.05, OfflineRate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	t.Logf("run: %+v; proxy: %+v", res, st)
	if st.Dropped == 0 || st.Cut == 0 || st.Delayed == 0 || st.Ended == 0 {
		t.Fatalf("the proxy did not inject every fault: %+v", st)
	}
	// Converge through the same flaky proxy: the retries carry it.
	start = time.Now()
	stats := requireConverged(t, f, db)
	if retries(stats) == 0 {
		t.Error("no sync request was retried: the fault never reached the tablets")
	}
	t.Logf("converged in %s; proxy: %+v", time.Since(start), p.Stats())
}
