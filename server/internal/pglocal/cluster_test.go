package pglocal_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/pglocal"
)

// The development cluster, given a relative folder as `make run` does:
// start, reuse, create a database, stop — and nothing left running.
func TestClusterLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, err := os.MkdirTemp("", "villagesync-cluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, filepath.Join(base, "pg"))
	if err != nil {
		t.Fatal(err)
	}
	c := pglocal.Cluster{Dir: rel}
	started, err := c.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if !started || !c.Running(ctx) {
		t.Fatalf("started=%v running=%v after Start", started, c.Running(ctx))
	}
	again, err := c.Start(ctx)
	if err != nil || again {
		t.Fatalf("second Start: started=%v err=%v, want reuse", again, err)
	}
	url, err := c.EnsureDatabase(ctx, "villagesync")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureDatabase(ctx, "villagesync"); err != nil {
		t.Fatalf("EnsureDatabase twice: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Running(ctx) {
		t.Fatal("still running after Stop")
	}
	if postmasterAlive(filepath.Join(base, "pg", "data")) {
		t.Fatal("a postgres process serves the data dir after Stop")
	}
}
