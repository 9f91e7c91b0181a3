package faults_test

import (
	"context"
	"net"
	"testing"
	"time"

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/pgtest"
)

// kill -9 of the server in the middle of a push flood from 20 tablets,
// then a restart at the same address: the tablets' syncs retry through the
// outage, every record is stored exactly once, nothing acknowledged before
// the kill is lost, and the tablets converge.
func TestServerKilledDuringPushFlood(t *testing.T) {
	t.Parallel()
	sz := size(t)
	env := newServerEnv(t, pgtest.NewURL(t))
	srv := startServer(t, env)
	db := openPool(t, env.dbURL)
	longRosters(t, env.dbURL)
	f := newFleet(t, env, 11, sz.tablets, srv.URL())
	base := count(t, db, `SELECT count(*) FROM mutation`)

	type runOut struct {
		res fleet.Result
		err error
	}
	done := make(chan runOut, 1)
	go func() {
		res, err := f.Run(t.Context(), fleet.Plan{Ops: sz.ops, SyncEvery: 3, VoidRate: 0.05})
		done <- runOut{res, err}
	}()
	// Kill once the flood is on (records coming in, the run not over),
	// restart, and again in the long version.
	var acked map[string]string
	var atKill int
	for k := 1; k <= sz.faults; k++ {
		for count(t, db, `SELECT count(*) FROM mutation`) < base+sz.faultAt(k) {
			select {
			case out := <-done:
				t.Fatalf("the run ended before kill %d: %+v %v", k, out.res, out.err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		if acked == nil {
			acked = ackedRecords(t, f)
		}
		srv.kill()
		atKill = count(t, db, `SELECT count(*) FROM mutation`)
		awaitKnock(t, srv.addr) // a tablet meets the dead server
		srv.start()
	}
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	t.Logf("run: %+v; %d kill(s); %d records acked before the first, %d stored at the last", out.res, sz.faults, len(acked), atKill)
	stats := requireConverged(t, f, db)
	if retries(stats) == 0 {
		t.Error("no sync request was retried: the kill never reached the tablets")
	}
	// Acknowledged before the kill: still there, unchanged.
	for id, hash := range acked {
		var h string
		if err := db.QueryRow(context.Background(), `SELECT hash FROM mutation WHERE id = $1`, id).Scan(&h); err != nil || h != hash {
			t.Errorf("record %s acked before the kill: %v, hash %q", id, err, h)
		}
	}
	if totalRecords(stats) <= atKill-base {
		t.Errorf("no record arrived after the restart (%d in all, %d at the kill)", totalRecords(stats), atKill-base)
	}
}

// ackedRecords maps the ID of every record the fleet's tablets hold as
// acknowledged to its hash.
func ackedRecords(t testing.TB, f *fleet.Fleet) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tb := range f.Tablets {
		// Records reads the tablet's store while its goroutine may be
		// writing: SQLite serialises the two.
		recs, err := tb.Records(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.State == "acked" {
				out[r.ID] = r.Hash
			}
		}
	}
	return out
}

// awaitKnock stands in for a dead server at addr until a tablet tries to
// connect: it accepts one connection and closes it unanswered, so the
// test knows the outage reached the tablets before it ends it.
func awaitKnock(t testing.TB, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the dead server's address: %v", err)
	}
	defer ln.Close()
	if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("no tablet came to the dead server: %v", err)
	}
	c.Close()
}
