package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/auth"
	"villagesync/server/internal/buildonce"
	"villagesync/server/internal/demo"
	"villagesync/server/internal/pglocal"
	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/server/internal/syncbuf"
	"villagesync/syncproto"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	buildonce.Cleanup()
	os.Exit(code)
}

// buildServer builds the real server binary once per test process, or
// takes the one FAULTS_SERVER_BIN names (built before, e.g. from a clean
// checkout).
func buildServer(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("FAULTS_SERVER_BIN"); bin != "" {
		return bin
	}
	bin, err := buildonce.Binary("villagesync/server")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// server is the real server binary as a child process on a fixed port, so
// that it can be killed and started again at the same address.
type server struct {
	t       testing.TB
	addr    string
	env     []string
	dataDir string
	cmd     *exec.Cmd
	done    chan error
	log     *syncbuf.Buffer
}

// serverEnv is the configuration shared by the servers of one database:
// the same data folder (demo users file) and the same token key.
type serverEnv struct {
	dbURL, dataDir, keyFile string
}

func newServerEnv(t testing.TB, dbURL string) serverEnv {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "jwt.pem")
	if _, err := auth.LoadOrCreateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	return serverEnv{dbURL: dbURL, dataDir: dir, keyFile: keyFile}
}

// startServer starts a server process of env on a free port and waits
// until it is ready; it is killed when the test ends.
func startServer(t testing.TB, env serverEnv) *server {
	t.Helper()
	port, err := pglocal.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: "127.0.0.1:" + strconv.Itoa(port), dataDir: env.dataDir, log: &syncbuf.Buffer{}}
	s.env = append(os.Environ(), "ADDR="+s.addr, "DATABASE_URL="+env.dbURL, "DEMO=1", "DATA_DIR="+env.dataDir,
		"JWT_KEY_FILE="+env.keyFile, "CUTOFF=0", "LOG_LEVEL=warn", "SHUTDOWN_TIMEOUT=5s")
	s.start()
	t.Cleanup(func() { s.kill() })
	return s
}

// URL is the server's base URL.
func (s *server) URL() string { return "http://" + s.addr }

// start runs the binary and waits until /readyz answers 200.
func (s *server) start() {
	s.t.Helper()
	cmd := exec.Command(buildServer(s.t), "serve")
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			s.t.Fatalf("server exited during start-up: %v\n%s", err, s.log)
		default:
		}
		if res, err := http.Get(s.URL() + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("server not ready after 90s\n%s", s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL (kill -9) and waits for the process to end.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// pid is the running process's ID.
func (s *server) pid() int { return s.cmd.Process.Pid }

// demoPassword reads a demo user's password from the users file the
// server wrote in its data folder.
func demoPassword(t testing.TB, dataDir, username string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "demo-users.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 4 && f[1] == username {
			return f[2]
		}
	}
	t.Fatalf("%s not in demo-users.txt", username)
	return ""
}

// agents signs in as the demo admin and creates n agents, agent i of
// demo village i (mod the villages), and returns the admin's code source
// for them: tablet i enrolls as agent i mod n.
func agents(t testing.TB, base, dataDir string, n int) fleet.CodeSource {
	t.Helper()
	ctx := t.Context()
	staff, err := fleet.Login(ctx, base, "admin", demoPassword(t, dataDir, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	villages := demo.Villages()
	ids := make([]string, n)
	for i := range n {
		v := villages[i%len(villages)]
		if ids[i], err = staff.CreateAgent(ctx, fmt.Sprintf("fleet.a%03d", i), v.TownshipCode, []string{v.Code}); err != nil {
			t.Fatal(err)
		}
	}
	return staff.Codes(ids)
}

// newFleet makes n enrolled, bootstrapped tablets against urls (one
// agent per demo village, at most), tablet files in a temporary folder.
func newFleet(t testing.TB, env serverEnv, seed int64, n int, urls ...string) *fleet.Fleet {
	t.Helper()
	codes := agents(t, urls[0], env.dataDir, min(n, len(demo.Villages())))
	f, err := fleet.New(t.Context(), fleet.Config{N: n, Dir: t.TempDir(), Seed: seed, ServerURLs: urls, Codes: codes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.SyncAll(t.Context()); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return f
}

func openPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// serverRecord is a mutation as the server stores it.
type serverRecord struct {
	device string
	seq    int64
	id     string
	hash   string
	status string
}

// requireConverged checks the end state of a fleet against the server's
// database after a final sync: every tablet's outbox is empty and its
// replica matches the server's checkpoint; every record of every tablet is
// stored on the server exactly once (same device, seq, ID and hash), and
// the server holds nothing the tablets did not make. It returns the
// tablets' stats.
func requireConverged(t testing.TB, f *fleet.Fleet, db *pgxpool.Pool) []fleet.Stats {
	t.Helper()
	ctx := t.Context()
	reps, err := f.SyncAll(ctx)
	if err != nil {
		t.Fatalf("final sync: %v", err)
	}
	stats, err := f.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	devices := make([]string, 0, len(f.Tablets))
	for i, s := range stats {
		if s.Pending != 0 || s.Parked != 0 {
			t.Errorf("%s: outbox pending %d, parked %d after the final sync", s.Name, s.Pending, s.Parked)
		}
		if !reps[i].Checkpoint || !s.Checkpoint {
			t.Errorf("%s: replica (%d rows, %s) not verified against the server's checkpoint", s.Name, s.ReplicaCount, s.ReplicaChecksum)
		}
		devices = append(devices, s.DeviceID)
	}
	rows, err := db.Query(ctx, `SELECT device_id, seq, id, hash, status FROM mutation WHERE device_id = ANY($1)`, devices)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]serverRecord{}
	n := 0
	for rows.Next() {
		var r serverRecord
		if err := rows.Scan(&r.device, &r.seq, &r.id, &r.hash, &r.status); err != nil {
			t.Fatal(err)
		}
		if _, dup := held[r.id]; dup {
			t.Errorf("mutation %s stored twice", r.id)
		}
		held[r.id] = r
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, tb := range f.Tablets {
		recs, err := tb.Records(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total += len(recs)
		for _, r := range recs {
			s, ok := held[r.ID]
			switch {
			case !ok:
				t.Errorf("%s: record %d (%s, %s) is %s on the tablet but not on the server", tb.Name, r.Seq, r.Kind, r.ID, r.State)
			case s.device != tb.DeviceID() || s.seq != r.Seq || s.hash != r.Hash || s.status != "stored":
				t.Errorf("%s: record %d stored as %+v, tablet has %+v", tb.Name, r.Seq, s, r)
			}
		}
	}
	if n != total {
		t.Errorf("the server holds %d records of the fleet, the tablets made %d", n, total)
	}
	// The business rows: one per record, none twice.
	var cols, deps, voided int
	err = db.QueryRow(ctx, `SELECT (SELECT count(*) FROM collection WHERE device_id = ANY($1)),
		(SELECT count(*) FROM deposit WHERE device_id = ANY($1)),
		(SELECT count(*) FROM collection WHERE device_id = ANY($1) AND voided_at IS NOT NULL)`, devices).Scan(&cols, &deps, &voided)
	if err != nil {
		t.Fatal(err)
	}
	var wantCols, wantDeps, wantVoids int
	for _, s := range stats {
		wantCols += s.Collections
		wantDeps += s.Deposits
		wantVoids += s.Voids
	}
	if cols != wantCols || deps != wantDeps || voided != wantVoids {
		t.Errorf("server: %d collections, %d deposits, %d voided; tablets: %d, %d, %d", cols, deps, voided, wantCols, wantDeps, wantVoids)
	}
	if t.Failed() {
		t.FailNow()
	}
	return stats
}

// retries sums the requests the fleet's syncs retried.
func retries(stats []fleet.Stats) int {
	n := 0
	for _, s := range stats {
		n += s.Ops.Retries
	}
	return n
}

// totalRecords sums the records the fleet made.
func totalRecords(stats []fleet.Stats) int {
	n := 0
	for _, s := range stats {
		n += s.Collections + s.Voids + s.Deposits
	}
	return n
}

// count runs a counting query.
func count(t testing.TB, db *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// loadRosters imports generated 2026 pension and medical rosters of
// perVillage residents in each demo village through the real import, as
// the demo HRSS and medical security users: more people to collect from
// than the demo's 50 a village. Call it before the fleet bootstraps.
func loadRosters(t testing.TB, dbURL string, perVillage int) {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, dbURL, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := roster.NewService(db, settings.NewService(db), log)
	residents := demo.GenerateResidents(demo.Seed, demo.Villages(), perVillage, 2026)
	for _, k := range []struct {
		user string
		role auth.Role
		kind syncproto.Kind
	}{{"hrss", auth.RoleHRSS, syncproto.KindPension}, {"medsec", auth.RoleMedsec, syncproto.KindMedical}} {
		u, err := db.UserByUsername(ctx, db.Pool, k.user)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := demo.WriteRosterCSV(&buf, demo.RosterRows(residents, demo.KindSettings(k.kind)), demo.EncodingUTF8); err != nil {
			t.Fatal(err)
		}
		p := auth.Principal{UserID: u.ID, Username: u.Username, Role: k.role}
		if _, err := svc.Import(auth.WithPrincipal(ctx, p), p, "fleet-"+string(k.kind)+".csv", buf.Bytes(), false); err != nil {
			t.Fatalf("import %s roster: %v", k.kind, err)
		}
	}
}
