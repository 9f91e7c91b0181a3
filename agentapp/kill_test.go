package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"villagesync/agentapp/internal/agenttest"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// binDir holds the binary built for the tests; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary builds the real agentapp once per test process.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "agentapp-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "agentapp")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func mustBinary(tb testing.TB) string {
	tb.Helper()
	if runtime.GOOS == "windows" {
		tb.Skip("SIGKILL semantics are Unix's")
	}
	bin, err := buildBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// receiptLine is how a printed receipt shows its number.
var receiptLine = regexp.MustCompile(`收据号码：(\d{12})`)

// runKilled runs the binary and kills it with SIGKILL after delay (or
// lets it finish when delay is negative); it returns what it printed.
func runKilled(tb testing.TB, bin, db string, delay time.Duration, args ...string) (out string, finished bool) {
	tb.Helper()
	cmd := exec.Command(bin, append([]string{"--db", db}, args...)...)
	cmd.Env = append(os.Environ(), "AGENTAPP_PIN="+agenttest.PIN)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if delay < 0 {
		<-done
		return stdout.String(), true
	}
	select {
	case <-done:
		return stdout.String(), true
	case <-time.After(delay):
		cmd.Process.Kill() // SIGKILL: no deferred code, no flush
		<-done
		return stdout.String(), false
	}
}

// requireConsistent checks a store after crashes: SQLite's integrity
// check, foreign keys, an intact chain, one mutation per collection view
// row, and every printed receipt stored exactly once.
func requireConsistent(tb testing.TB, db string, tab *agenttest.Tablet, printed map[string]bool) {
	tb.Helper()
	st, err := localstore.Open(tb.Context(), db)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	ctx := tb.Context()
	var check string
	if err := st.DB.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		tb.Fatalf("integrity_check = %q %v", check, err)
	}
	rows, err := st.DB.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		tb.Fatal(err)
	}
	if rows.Next() {
		tb.Fatal("foreign_key_check found orphans")
	}
	rows.Close()
	chain, err := st.Chain(ctx, tab.DeviceID, 1, 1<<30)
	if err != nil {
		tb.Fatal(err)
	}
	agenttest.RequireChain(tb, chain, tab.Public)
	var views, colls int
	st.DB.QueryRowContext(ctx, `SELECT count(*) FROM collection`).Scan(&views)
	st.DB.QueryRowContext(ctx, `SELECT count(*) FROM mutation WHERE kind = 'collection'`).Scan(&colls)
	if views != colls {
		tb.Fatalf("%d collection rows for %d collection records", views, colls)
	}
	for no := range printed {
		var n int
		if err := st.DB.QueryRowContext(ctx, `SELECT count(*) FROM collection c JOIN mutation m ON m.id = c.id
			WHERE c.receipt_no = ?`, no).Scan(&n); err != nil || n != 1 {
			tb.Fatalf("printed receipt %s is stored %d times (%v)", no, n, err)
		}
	}
}

// TestKill9Collect runs the real binary collecting in a loop and kills
// it with SIGKILL at random points: the store stays consistent and every
// receipt the process printed is stored exactly once (a receipt is printed
// only after its transaction committed).
func TestKill9Collect(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary many times")
	}
	bin := mustBinary(t)
	const runs = 60
	tab := agenttest.NewTablet(t, nil, "")
	var lines []syncproto.RosterLine
	for i := 1; i <= runs; i++ {
		lines = append(lines, agenttest.Line(i, syncproto.KindMedical))
	}
	tab.Seed(t, agenttest.Settings(), 1, 10_000, lines...)
	tab.Store.Close() // the processes own the file now
	db := tab.Path

	// How long a whole collect takes here, to aim the kills inside it.
	start := time.Now()
	out, _ := runKilled(t, bin, db, -1, "collect", "--id", lines[0].ID)
	whole := time.Since(start)
	printed := map[string]bool{}
	for _, m := range receiptLine.FindAllStringSubmatch(out, -1) {
		printed[m[1]] = true
	}
	if len(printed) != 1 {
		t.Fatalf("the first collect printed no receipt:\n%s", out)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	killed := 0
	for i := 1; i < runs; i++ {
		delay := time.Duration(rng.Int64N(int64(whole) * 5 / 4))
		out, finished := runKilled(t, bin, db, delay, "collect", "--id", lines[i].ID)
		if !finished {
			killed++
		}
		for _, m := range receiptLine.FindAllStringSubmatch(out, -1) {
			if printed[m[1]] {
				t.Fatalf("receipt %s printed twice", m[1])
			}
			printed[m[1]] = true
		}
	}
	t.Logf("%d runs, %d killed, %d receipts printed (a whole collect takes %s)", runs, killed, len(printed), whole)
	requireConsistent(t, db, tab, printed)
}

// TestKill9Sync kills the real binary at random points of collect and of
// sync (against a fake server); after a final sync the server holds every
// record exactly once, the chain is intact and the replica matches.
func TestKill9Sync(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary many times")
	}
	bin := mustBinary(t)
	e := mustCLIEnv(t, 1500) // 3,000 roster rows: a few pull pages
	e.tab.Store.Close()
	db := e.tab.Path
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))

	start := time.Now()
	runKilled(t, bin, db, -1, "sync")
	whole := time.Since(start)
	printed := map[string]bool{}
	next := 1
	for round := 0; round < 25; round++ {
		for k := 0; k < 2; k++ {
			out, _ := runKilled(t, bin, db, time.Duration(rng.Int64N(int64(80*time.Millisecond))),
				"collect", "--id", agenttest.Line(next, syncproto.KindMedical).ID)
			next++
			for _, m := range receiptLine.FindAllStringSubmatch(out, -1) {
				printed[m[1]] = true
			}
		}
		if round%5 == 0 {
			runKilled(t, bin, db, time.Duration(rng.Int64N(int64(whole))), "sync", "--watch", "--interval", "1ms")
		} else {
			runKilled(t, bin, db, time.Duration(rng.Int64N(int64(whole)*5/4)), "sync")
		}
	}
	if out, _ := runKilled(t, bin, db, -1, "sync"); !bytes.Contains([]byte(out), []byte("校验 checkpoint 一致")) {
		t.Fatalf("the final sync did not finish:\n%s", out)
	}
	requireConsistent(t, db, e.tab, printed)

	st, err := localstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	local, err := st.Chain(t.Context(), e.tab.DeviceID, 1, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	server := e.srv.Mutations()
	if len(server) != len(local) {
		t.Fatalf("server holds %d records, the tablet made %d", len(server), len(local))
	}
	for i := range local {
		if server[i].Hash != local[i].Hash {
			t.Fatalf("record %d differs between tablet and server", i+1)
		}
	}
	counts, _ := st.OutboxCounts(t.Context(), e.tab.DeviceID)
	if counts.Pending != 0 {
		t.Fatalf("outbox after the final sync = %+v", counts)
	}
	items, _ := st.ReplicaItems(t.Context())
	if got := (syncproto.Checkpoint{Count: len(items), Checksum: syncproto.ReplicaChecksum(items)}); got != e.srv.Checkpoint() {
		t.Fatalf("replica %+v, server %+v", got, e.srv.Checkpoint())
	}
	t.Logf("%d receipts printed, %d records on the server (a whole first sync takes %s)", len(printed), len(server), whole)
}
