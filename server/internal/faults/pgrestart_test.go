package faults_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/pglocal"
)

// PostgreSQL restarted in the middle of syncing: the server process is
// not restarted and recovers by itself (its pool reconnects); the tablets'
// syncs retry through the outage and converge.
func TestPostgresRestartedDuringSync(t *testing.T) {
	t.Parallel()
	sz := size(t)
	cluster := newCluster(t)
	dbURL, err := cluster.EnsureDatabase(t.Context(), "villagesync")
	if err != nil {
		t.Fatal(err)
	}
	env := newServerEnv(t, dbURL)
	srv := startServer(t, env)
	pid := srv.pid()
	db := openPool(t, env.dbURL)
	longRosters(t, env.dbURL)
	f := newFleet(t, env, 31, sz.tablets, srv.URL())

	type runOut struct {
		res fleet.Result
		err error
	}
	done := make(chan runOut, 1)
	go func() {
		res, err := f.Run(t.Context(), fleet.Plan{Ops: sz.ops, SyncEvery: 3, VoidRate: 0.05})
		done <- runOut{res, err}
	}()
	ctx := context.WithoutCancel(t.Context())
	for k := 1; k <= sz.faults; k++ {
		for count(t, db, `SELECT count(*) FROM mutation`) < sz.faultAt(k) {
			select {
			case out := <-done:
				t.Fatalf("the run ended before restart %d: %+v %v", k, out.res, out.err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		seen := logCount(srv, failedSync)
		if err := cluster.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		// While the database is down the server answers, but not ready.
		if res, err := http.Get(srv.URL() + "/readyz"); err != nil {
			t.Fatalf("the server died with its database: %v", err)
		} else if res.Body.Close(); res.StatusCode == http.StatusOK {
			t.Errorf("readyz answered 200 with the database down")
		}
		awaitLog(t, srv, failedSync, seen) // a tablet's sync met the outage
		if _, err := cluster.Start(ctx); err != nil {
			t.Fatal(err)
		}
		db.Reset() // the test's own pool lost its connections too
	}
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	t.Logf("run: %+v", out.res)
	db.Reset() // the test's own pool lost its connections with the restart too
	stats := requireConverged(t, f, db)
	if retries(stats) == 0 {
		t.Error("no sync request was retried: the fault never reached the tablets")
	}
	if srv.pid() != pid {
		t.Fatal("the server process was restarted")
	}
	select {
	case err := <-srv.done:
		t.Fatalf("the server exited: %v\n%s", err, srv.log)
	default:
	}
}

// newCluster starts a PostgreSQL cluster of this test alone, one that can
// be stopped and started again with its data (the shared test cluster
// cannot); it is stopped and removed when the test ends.
func newCluster(t testing.TB) pglocal.Cluster {
	t.Helper()
	sweepLeftovers(t)
	parent := ownedTempDir(t, clusterPrefix)
	// The server may run as the postgres user: it must reach its folder.
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	c := pglocal.Cluster{Dir: filepath.Join(parent, "pg")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Logf("stop cluster: %v", err)
		}
		os.RemoveAll(parent)
	})
	if _, err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

// failedSync matches a server log line of a sync request that failed
// with a 5xx.
var failedSync = regexp.MustCompile(`"route":"/api/v1/(sync/[a-z]+|auth/refresh)","status":5\d\d`)

// logCount counts the server's log lines matching re.
func logCount(s *server, re *regexp.Regexp) int {
	return len(re.FindAllStringIndex(s.log.String(), -1))
}

// awaitLog waits until the server's log has more than seen lines
// matching re.
func awaitLog(t testing.TB, s *server, re *regexp.Regexp, seen int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for logCount(s, re) <= seen {
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %s in a minute:\n%s", re, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
