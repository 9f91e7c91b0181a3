package localstore_test

import (
	"path/filepath"
	"strings"
	"testing"

	"villagesync/agentapp/internal/localstore"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	t.Run("OKDurableSettings", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "sub", "agent.db")
		st, err := localstore.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		in, err := st.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if in.JournalMode != "wal" || in.SchemaVersion < 1 {
			t.Fatalf("info = %+v", in)
		}
		var sync int
		if err := st.DB.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
			t.Fatalf("synchronous = %d (%v), want 2 (FULL)", sync, err)
		}
	})
	t.Run("OKReopenKeepsData", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "agent.db")
		st, err := localstore.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB.ExecContext(t.Context(), `INSERT INTO device_setting (key, value) VALUES ('k', '张𠀾')`); err != nil {
			t.Fatal(err)
		}
		st.Close()
		st, err = localstore.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var v string
		if err := st.DB.QueryRowContext(t.Context(), `SELECT value FROM device_setting WHERE key = 'k'`).Scan(&v); err != nil || v != "张𠀾" {
			t.Fatalf("after reopen: %q %v", v, err)
		}
	})
	t.Run("ErrNewerSchema", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "agent.db")
		st, err := localstore.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB.ExecContext(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)`); err != nil {
			t.Fatal(err)
		}
		st.Close()
		_, err = localstore.Open(t.Context(), path)
		if err == nil || !strings.Contains(err.Error(), "newer agentapp") {
			t.Fatalf("a store from a newer app was opened: %v", err)
		}
	})
}
