package pgtest_test

import (
	"testing"

	"villagesync/server/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Each test's database is its own: a row written in one is absent from
// another, and both start at the migrated schema.
func TestIsolated(t *testing.T) {
	t.Parallel()
	a, b := pgtest.New(t), pgtest.New(t)
	ctx := t.Context()
	if _, err := a.Pool.Exec(ctx, `INSERT INTO township (code, name) VALUES ('370403001', '临城街道')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.Pool.QueryRow(ctx, `SELECT count(*) FROM township`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database b sees %d townships written to a", n)
	}
	st, err := b.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Ready() {
		t.Fatalf("clone not at head: %+v", st)
	}
}
