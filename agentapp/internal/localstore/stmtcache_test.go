package localstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStmtCache(t *testing.T) {
	t.Parallel()
	open := func(t *testing.T) *Store {
		st, err := Open(t.Context(), filepath.Join(t.TempDir(), "agent.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	const revoked = `SELECT revoked FROM sync_state WHERE id = 1`
	t.Run("OKFirstRunInTxCachedAfter", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		for i := range 2 {
			err := st.Write(t.Context(), func(ctx context.Context, w *WriteTx) error {
				_, err := w.Revoked(ctx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.stmts.lookup(revoked) == nil {
				t.Fatalf("after write %d the statement is not cached", i+1)
			}
		}
		if err := st.MarkRevoked(t.Context()); err != nil {
			t.Fatal(err)
		}
		// The cached statement reads the current state, not a stale one.
		var got bool
		err := st.Write(t.Context(), func(ctx context.Context, w *WriteTx) (err error) {
			got, err = w.Revoked(ctx)
			return err
		})
		if err != nil || !got {
			t.Fatalf("revoked = %v, %v; want true", got, err)
		}
	})
	t.Run("OKFailedWriteFreesTheConnection", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		boom := errors.New("boom")
		for range 2 {
			err := st.Write(ctx, func(ctx context.Context, w *WriteTx) error {
				if _, err := w.Cash(ctx, "dev"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("write = %v, want boom", err)
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the failed write waited for the connection it held")
		}
		if _, err := st.SyncState(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCheckpoint(t *testing.T) {
	t.Parallel()
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var auto int
	if err := st.DB.QueryRowContext(t.Context(), `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != autoCheckpointPages {
		t.Fatalf("wal_autocheckpoint = %d (%v), want %d", auto, err, autoCheckpointPages)
	}
	var temp int
	if err := st.DB.QueryRowContext(t.Context(), `PRAGMA temp_store`).Scan(&temp); err != nil || temp != 2 {
		t.Fatalf("temp_store = %d (%v), want 2 (MEMORY)", temp, err)
	}
	at := time.UnixMilli(1_700_000_000_000)
	if err := st.RecordSync(t.Context(), at, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The database file alone (copied without its WAL) holds the write.
	raw, err := os.ReadFile(st.Path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+cp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ms int64
	if err := db.QueryRowContext(t.Context(), `SELECT last_sync_ms FROM sync_state WHERE id = 1`).Scan(&ms); err != nil || ms != at.UnixMilli() {
		t.Fatalf("database file without the WAL: last_sync_ms = %d (%v), want %d", ms, err, at.UnixMilli())
	}
}
