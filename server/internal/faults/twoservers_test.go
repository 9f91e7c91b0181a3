package faults_test

import (
	"fmt"
	"slices"
	"testing"

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/demo"
	"villagesync/server/internal/faults"
	"villagesync/server/internal/pgtest"
)

// Two server processes on one database, each tablet sending its requests
// to them in turn (a token refreshed on one is used on the other, a pull
// cursor made by one is continued on the other): the fleet converges, and
// the server's final state is the same as a single server's after the
// same seeded run on a database of its own.
func TestTwoServersOneDatabase(t *testing.T) {
	t.Parallel()
	sz := size(t)
	// One tablet a village: a collection marks its roster line paid and
	// other tablets of the village would see that sooner or later as the
	// syncs interleave. Alone in its village, a tablet's choices depend on
	// the seed only.
	sz.tablets = min(sz.tablets, len(demo.Villages()))
	plan := fleet.Plan{Ops: sz.ops, SyncEvery: 3, VoidRate: 0.05, OfflineRate: 0.1}
	const seed = 51
	var one, two []string
	t.Run("Runs", func(t *testing.T) { // the two runs side by side
		t.Run("OneServer", func(t *testing.T) {
			t.Parallel()
			env := newServerEnv(t, pgtest.NewURL(t))
			a := startServer(t, env)
			one = runAndSummarise(t, env, seed, sz.tablets, plan, a.URL())
		})
		t.Run("TwoServers", func(t *testing.T) {
			t.Parallel()
			env := newServerEnv(t, pgtest.NewURL(t))
			a := startServer(t, env)
			b := startServer(t, env)
			// Each behind a fault-free proxy, to count what each served.
			pa, pb := passThrough(t, a), passThrough(t, b)
			two = runAndSummarise(t, env, seed, sz.tablets, plan, pa.URL(), pb.URL())
			if sa, sb := pa.Stats(), pb.Stats(); sa.Conns == 0 || sb.Conns == 0 {
				t.Fatalf("one server served nothing: %d and %d connections", sa.Conns, sb.Conns)
			}
		})
	})
	if len(one) == 0 || len(two) == 0 {
		t.Fatal("a run failed")
	}
	if !slices.Equal(one, two) {
		for i := range max(len(one), len(two)) {
			var x, y string
			if i < len(one) {
				x = one[i]
			}
			if i < len(two) {
				y = two[i]
			}
			if x != y {
				t.Fatalf("the states differ first at line %d of %d/%d:\none server:  %s\ntwo servers: %s", i, len(one), len(two), x, y)
			}
		}
	}
	t.Logf("%d records, the same on one and on two servers", len(one))
}

// runAndSummarise runs a seeded fleet against the servers at urls, checks
// it converged, and returns the server's state of the fleet's records in
// a form that does not depend on IDs, times or receipt numbers: one line
// per record, by tablet and seq.
func runAndSummarise(t *testing.T, env serverEnv, seed int64, n int, plan fleet.Plan, urls ...string) []string {
	t.Helper()
	db := openPool(t, env.dbURL)
	longRosters(t, env.dbURL)
	f := newFleet(t, env, seed, n, urls...)
	res, err := f.Run(t.Context(), plan)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run on %d server(s): %+v", len(urls), res)
	requireConverged(t, f, db)
	rows, err := db.Query(t.Context(), `
		SELECT d.name, m.seq, m.kind, m.status,
			coalesce(c.village_code || ' ' || c.kind || ' ' || c.name || ' ' || c.grade_fen || ' ' || c.amount_fen
				|| ' voided=' || (c.voided_at IS NOT NULL) || ' deposited=' || (c.deposit_id IS NOT NULL), ''),
			coalesce(p.amount_fen || ' ' || p.count || ' ' || p.sum_fen || ' server=' || p.server_count || ' ' || p.server_sum_fen, '')
		FROM mutation m JOIN device d ON d.id = m.device_id
		LEFT JOIN collection c ON c.id = m.id
		LEFT JOIN deposit p ON p.id = m.id
		WHERE d.name LIKE 'fleet-%'
		ORDER BY d.name, m.seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, kind, status, col, dep string
		var seq int64
		if err := rows.Scan(&name, &seq, &kind, &status, &col, &dep); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s #%d %s %s %s%s", name, seq, kind, status, col, dep))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// passThrough is a proxy that injects no fault in front of s.
func passThrough(t testing.TB, s *server) *faults.Proxy {
	t.Helper()
	p, err := faults.NewProxy(s.addr, faults.Faults{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
