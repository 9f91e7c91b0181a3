package proving

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the tablet's SQLite, for the bare baselines

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/store"
)

// MeasureBootstrap is a tablet's first sync of a village of 5,000
// residents on both rosters (10,000 lines) into an empty store: the real
// agent store and sync client (fleet simulator) against the server over
// HTTP — pull pages, apply, checkpoint verified. The baseline is the bare
// work of moving the same rows: one SELECT of them from PostgreSQL plus
// one bulk INSERT into the same SQLite table (indexes included, one
// transaction, WAL, synchronous=FULL). Goal: at most twice the baseline.
func MeasureBootstrap(ctx context.Context, env *Env, opt Options) ([]Result, error) {
	residents, reps := opt.size(5000, 100), opt.size(5, 1)
	v, err := env.oneVillage(ctx, residents, "vsbench-bootstrap-")
	if err != nil {
		return nil, err
	}
	defer v.close()
	db, d, srv, dir := v.db, v.d, v.srv, v.dir
	var boots, bares []time.Duration
	lines := 2 * residents
	for i := range reps {
		t, err := fleet.OpenTablet(ctx, fleet.TabletConfig{Index: i, Path: filepath.Join(dir, fmt.Sprintf("boot-%d.db", i)),
			ServerURL: srv.URL, Seed: 1})
		if err != nil {
			return nil, err
		}
		code, err := d.codes(0)(ctx, i)
		if err == nil {
			err = t.Enroll(ctx, code)
		}
		if err != nil {
			t.Close()
			return nil, err
		}
		rep, err := t.Sync(ctx)
		took := rep.Took // the sync alone, not the simulator's re-reading of the roster after it
		t.Close()
		if err != nil {
			return nil, err
		}
		if !rep.Checkpoint || t.RosterSize() != lines {
			return nil, fmt.Errorf("bootstrap: checkpoint %v, %d roster lines, want %d", rep.Checkpoint, t.RosterSize(), lines)
		}
		boots = append(boots, took)
		bare, n, err := bareBootstrap(ctx, db.Pool, d.villages[0].Code, filepath.Join(dir, fmt.Sprintf("bare-%d.db", i)))
		if err != nil {
			return nil, err
		}
		if n != lines {
			return nil, fmt.Errorf("bare bootstrap moved %d rows, want %d", n, lines)
		}
		bares = append(bares, bare)
	}
	boot, bare := percentile(boots, 50), percentile(bares, 50)
	return []Result{{
		Name:   fmt.Sprintf("bootstrap of a %s-resident village (%s lines) into an empty tablet store", num(float64(residents)), num(float64(lines))),
		Figure: ms(boot), Unit: "ms", Baseline: ms(bare),
		BaseWhat: "bare SELECT of the same rows + bare SQLite bulk INSERT of them, synchronous=FULL",
		Ratio:    boot.Seconds() / bare.Seconds(), RatioWhat: "of bare", Goal: "≤ 2×", Met: boot <= 2*bare,
		Detail: fmt.Sprintf("median of %d", reps),
	}}, nil
}

// villageSetup is a database with one village of residents on both
// rosters, the API serving it, and a folder for tablet files.
type villageSetup struct {
	db    *store.DB
	d     *district
	srv   *httptest.Server
	dir   string
	close func()
}

// oneVillage sets up a villageSetup; its close undoes all of it.
func (env *Env) oneVillage(ctx context.Context, residents int, dirPrefix string) (*villageSetup, error) {
	clock := fixedClock()
	db, name, err := env.openDB(ctx, clock)
	if err != nil {
		return nil, err
	}
	var undo []func()
	v := &villageSetup{db: db, close: func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}}
	undo = append(undo, func() { env.dropDatabase(context.Background(), name) }, db.Close)
	fail := func(err error) (*villageSetup, error) { v.close(); return nil, err }
	if v.d, err = setupDistrict(ctx, db, districtSpec{villages: 1, perVillage: residents}, clock); err != nil {
		return fail(err)
	}
	if v.srv, _, err = startServer(ctx, v.d); err != nil {
		return fail(err)
	}
	undo = append(undo, v.srv.Close)
	if v.dir, err = os.MkdirTemp("", dirPrefix); err != nil {
		return fail(err)
	}
	undo = append(undo, func() { os.RemoveAll(v.dir) })
	return v, nil
}

// bareBootstrap selects a village's roster lines from PostgreSQL and
// inserts them in one transaction into a fresh SQLite file with the
// tablet's roster_line table and indexes. It returns the time and the
// number of rows.
func bareBootstrap(ctx context.Context, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, village, path string) (time.Duration, int, error) {
	sq, err := openBareSQLite(ctx, path, `CREATE TABLE roster_line (
		id TEXT PRIMARY KEY, kind TEXT NOT NULL, year INTEGER NOT NULL, name TEXT NOT NULL, initials TEXT NOT NULL DEFAULT '',
		masked TEXT NOT NULL, id_hash TEXT NOT NULL, village_code TEXT NOT NULL, category TEXT NOT NULL, due INTEGER NOT NULL,
		subsidy INTEGER NOT NULL, grades TEXT NOT NULL DEFAULT '[]', fully_subsidised INTEGER NOT NULL, paid INTEGER NOT NULL,
		review TEXT NOT NULL DEFAULT '', stream TEXT NOT NULL, seq INTEGER NOT NULL) STRICT;
		CREATE INDEX roster_line_id_hash_idx ON roster_line (id_hash);
		CREATE INDEX roster_line_last4_idx ON roster_line (substr(masked, -4));
		CREATE INDEX roster_line_name_idx ON roster_line (village_code, name);`)
	if err != nil {
		return 0, 0, err
	}
	defer sq.Close()
	type row struct {
		ID, Kind               string
		Year                   int
		ResidentID, Name, Init string
		Village, Category      string
		Due, Subsidy           int64
		FullySubsidised, Paid  bool
		Review                 string
		Seq                    int64
	}
	start := time.Now()
	rows, err := pool.Query(ctx, `SELECT id, kind, year, resident_id, name, initials, village_code, category, due_fen,
		subsidy_fen, fully_subsidised, paid, coalesce(review, ''), change_seq FROM roster_entry WHERE village_code = $1`, village)
	if err != nil {
		return 0, 0, err
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return 0, 0, err
	}
	tx, err := sq.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO roster_line (id, kind, year, name, initials, masked, id_hash, village_code,
		category, due, subsidy, fully_subsidised, paid, review, stream, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rs {
		if _, err := stmt.ExecContext(ctx, r.ID, r.Kind, r.Year, r.Name, r.Init, r.ResidentID, r.ResidentID, r.Village,
			r.Category, r.Due, r.Subsidy, r.FullySubsidised, r.Paid, r.Review, "v:"+village, r.Seq); err != nil {
			return 0, 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	return time.Since(start), len(rs), nil
}

// openBareSQLite opens a fresh SQLite file with the tablet's durability
// (WAL, synchronous=FULL, one connection) and creates schema.
func openBareSQLite(ctx context.Context, path, schema string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	sq, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	sq.SetMaxOpenConns(1)
	var mode string
	if err := sq.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		sq.Close()
		return nil, fmt.Errorf("bare SQLite: journal_mode %q: %v", mode, err)
	}
	if _, err := sq.ExecContext(ctx, schema); err != nil {
		sq.Close()
		return nil, err
	}
	return sq, nil
}

// MeasureCollect is the latency of the tablet's collect — find the
// roster line, check the rules and the dual limit, sign, and commit the
// record, its receipt number and its chain link in one SQLite
// transaction with synchronous=FULL — on the real agent store (fleet
// simulator, a bootstrapped village), against a bare INSERT of one
// record-sized row per transaction into SQLite with the same durability.
// Goal: p99 at most 10 ms.
func MeasureCollect(ctx context.Context, env *Env, opt Options) ([]Result, error) {
	residents, n := opt.size(1000, 50), opt.size(1000, 40)
	v, err := env.oneVillage(ctx, residents, "vsbench-collect-")
	if err != nil {
		return nil, err
	}
	defer v.close()
	d, srv, dir := v.d, v.srv, v.dir
	t, err := fleet.OpenTablet(ctx, fleet.TabletConfig{Path: filepath.Join(dir, "collect.db"), ServerURL: srv.URL, Seed: 1})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	code, err := d.codes(0)(ctx, 0)
	if err != nil {
		return nil, err
	}
	if err := t.Enroll(ctx, code); err != nil {
		return nil, err
	}
	if _, err := t.Sync(ctx); err != nil {
		return nil, err
	}
	// The agent syncs now and then (every 100 collections here), which
	// also brings new receipt numbers; the sync is not in the latency.
	for i := range n {
		if i > 0 && i%100 == 0 {
			if _, err := t.Sync(ctx); err != nil {
				return nil, err
			}
		}
		if _, err := t.Step(ctx, 0); err != nil {
			return nil, err
		}
	}
	got := t.Latencies().Collect
	if len(got) < n/2 {
		return nil, fmt.Errorf("only %d of %d steps collected", len(got), n)
	}
	bare, err := bareInserts(ctx, filepath.Join(dir, "bare.db"), len(got))
	if err != nil {
		return nil, err
	}
	p50, p99 := got.Percentile(50), got.Percentile(99)
	b99 := percentile(bare, 99)
	return []Result{{
		Name:   fmt.Sprintf("tablet collect latency p99, synchronous=FULL (%d collections)", len(got)),
		Figure: ms(p99), Unit: "ms", Baseline: ms(b99),
		BaseWhat: fmt.Sprintf("p99 of a bare one-row INSERT per transaction, same durability (p50 %.2f ms)", ms(percentile(bare, 50))),
		Ratio:    p99.Seconds() / b99.Seconds(), RatioWhat: "of bare", Goal: "p99 ≤ 10 ms", Met: p99 <= 10*time.Millisecond,
		Detail: fmt.Sprintf("p50 %.2f ms", ms(p50)),
	}}, nil
}

// bareInserts times n single-row transactions into a fresh SQLite file
// with the tablet's durability: a row the size of a tablet's record.
func bareInserts(ctx context.Context, path string, n int) ([]time.Duration, error) {
	sq, err := openBareSQLite(ctx, path, `CREATE TABLE record (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
		payload BLOB NOT NULL, hash TEXT NOT NULL, signature TEXT NOT NULL) STRICT`)
	if err != nil {
		return nil, err
	}
	defer sq.Close()
	payload := make([]byte, 300)
	out := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		if _, err := sq.ExecContext(ctx, `INSERT INTO record (seq, id, payload, hash, signature) VALUES (?, ?, ?, ?, ?)`,
			i+1, fmt.Sprintf("%026d", i), payload, fmt.Sprintf("%064d", i), fmt.Sprintf("%088d", i)); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}
