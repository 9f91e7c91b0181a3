package store_test

import (
	"testing"

	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openEmpty(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), pgtest.NewEmptyURL(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	t.Run("OKFromEmpty", func(t *testing.T) {
		t.Parallel()
		db := openEmpty(t)
		st, err := db.Migrate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !st.Ready() || st.Current < 1 {
			t.Fatalf("after migrate: %+v", st)
		}
		var n int
		if err := db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM village`).Scan(&n); err != nil {
			t.Fatalf("schema missing after migrate: %v", err)
		}
	})
	t.Run("OKAgainIsNoOp", func(t *testing.T) {
		t.Parallel()
		db := openEmpty(t)
		first, err := db.Migrate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var rows1 int
		db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM goose_db_version`).Scan(&rows1)
		second, err := db.Migrate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var rows2 int
		db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM goose_db_version`).Scan(&rows2)
		if first != second || rows1 != rows2 {
			t.Fatalf("second migrate changed something: %+v -> %+v, version rows %d -> %d", first, second, rows1, rows2)
		}
	})
	t.Run("ErrTooNewLeftAlone", func(t *testing.T) {
		t.Parallel()
		db := pgtest.New(t)
		ctx := t.Context()
		if _, err := db.Pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, true)`); err != nil {
			t.Fatal(err)
		}
		st, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.TooNew() || st.Ready() || st.Current != 9999 {
			t.Fatalf("want too-new state, got %+v", st)
		}
	})
}

func TestUpsertDistrict(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	ts := []store.Township{{Code: "370403001", Name: "临城街道"}}
	vs := []store.Village{{Code: "370403001201", TownshipCode: "370403001", Name: "𠀾家村"}}
	for range 2 { // loading twice changes nothing
		if err := db.UpsertDistrict(ctx, ts, vs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Villages(ctx, "370403001")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != vs[0] {
		t.Fatalf("villages = %+v, want %+v (names kept whole, rare characters included)", got, vs)
	}
	bad := []store.Village{{Code: "370403002201", TownshipCode: "370403001", Name: "错乡村"}}
	if err := db.UpsertDistrict(ctx, nil, bad); err == nil {
		t.Fatal("a village whose code is not under its township was accepted")
	}
	if got, _ := db.Villages(ctx, ""); len(got) != 1 {
		t.Fatalf("a refused write left %d villages", len(got))
	}
}
