package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// The references of mutation and collection to their device and agent
// are checked once per statement (migration 010), not by foreign keys:
// what the keys refused is still refused, a whole statement at a time,
// and nothing they protected can be deleted from under them.
func TestIngestReferences(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	if err := db.UpsertDistrict(ctx, []store.Township{{Code: "370403001", Name: "临城街道"}},
		[]store.Village{{Code: "370403001201", TownshipCode: "370403001", Name: "𠀾家村"}}); err != nil {
		t.Fatal(err)
	}
	agent, device := db.NewID(), db.NewID()
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		if err := db.InsertUser(ctx, tx, store.User{ID: agent, Username: "agent1", DisplayName: "王芳", Role: "agent",
			TownshipCode: "370403001", PasswordHash: "x", CreatedAt: now}); err != nil {
			return err
		}
		return db.InsertDevice(ctx, tx, store.Device{ID: device, AgentID: agent, TownshipCode: "370403001",
			Name: "平板", PublicKey: make([]byte, 32), EnrolledAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	mutation := func(dev string, seq int64) store.StoredMutation {
		return store.StoredMutation{DeviceID: dev, Seq: seq, ID: db.NewID(), Kind: "collection", DeviceTime: now,
			DeviceTimeText: now.Format(time.RFC3339Nano), PrevHash: "p", Payload: []byte(`{}`), Hash: "h", Signature: "s",
			ReceivedAt: now, Status: "stored", TownshipCode: "370403001"}
	}
	collection := func(dev, ag string, seq int64) *store.Collection {
		return &store.Collection{ID: db.NewID(), DeviceID: dev, AgentID: ag, Seq: seq, ReceiptNo: seq, RosterEntryID: "e",
			Name: "李四", VillageCode: "370403001201", TownshipCode: "370403001", Kind: "pension", Year: 2027,
			Category: "general", GradeFen: 20000, AmountFen: 20000, DeviceTime: now, ReceivedAt: now, BusinessDay: now,
			Status: "synced", Flags: []string{}, ChangeSeq: seq}
	}
	count := func(table string) int {
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// refused runs fn in a transaction and wants PostgreSQL's error code.
	refused := func(what, code string, fn func(tx pgx.Tx) error) {
		t.Helper()
		err := db.InTx(ctx, fn)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != code {
			t.Fatalf("%s: got %v, want SQLSTATE %s", what, err, code)
		}
	}
	exec := func(sql string, args ...any) func(tx pgx.Tx) error {
		return func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		}
	}

	// A COPY of mutations naming an unknown device among known ones:
	// the whole statement is refused, as with the foreign key.
	refused("mutations of an unknown device", "23503", func(tx pgx.Tx) error {
		return db.InsertMutations(ctx, tx, []store.StoredMutation{mutation(device, 1), mutation("01NOSUCHDEVICE", 1)})
	})
	refused("a collection of an unknown device", "23503", func(tx pgx.Tx) error {
		return db.WritePush(ctx, tx, store.PushWrites{At: now, NewCollections: []*store.Collection{collection("01NOSUCHDEVICE", agent, 1)}})
	})
	refused("a collection of an unknown agent", "23503", func(tx pgx.Tx) error {
		return db.WritePush(ctx, tx, store.PushWrites{At: now, NewCollections: []*store.Collection{
			collection(device, agent, 1), collection(device, "01NOSUCHUSER", 2)}})
	})
	// In one transaction: a refused statement leaves nothing of its own
	// (not even its good rows) and takes nothing stored before it.
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		if err := db.InsertMutations(ctx, tx, []store.StoredMutation{mutation(device, 1)}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
			return err
		}
		err := db.InsertMutations(ctx, tx, []store.StoredMutation{mutation(device, 2), mutation("01NOSUCHDEVICE", 1)})
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23503" {
			t.Errorf("a COPY with an unknown device in a transaction: %v", err)
		}
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
			return err
		}
		var seqs []int64
		rows, _ := tx.Query(ctx, `SELECT seq FROM mutation ORDER BY seq`)
		seqs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(seqs) != 1 || seqs[0] != 1 {
			t.Errorf("after the refused statement the transaction holds mutations %v (%v), want [1]", seqs, err)
		}
		return errors.New("roll back")
	})
	if err == nil || err.Error() != "roll back" {
		t.Fatal(err)
	}
	if n, m := count("mutation"), count("collection"); n != 0 || m != 0 {
		t.Fatalf("rolled-back transactions left %d mutations and %d collections", n, m)
	}
	// The refusal reaches callers as the coded error the key gave.
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		return db.InsertMutations(ctx, tx, []store.StoredMutation{mutation("01NOSUCHDEVICE", 1)})
	})
	var se *syncproto.Error
	if !errors.As(err, &se) || se.Code != syncproto.CodeInvalidInput {
		t.Fatalf("unknown device: %v, want code %s", err, syncproto.CodeInvalidInput)
	}

	// Known references are stored.
	c := collection(device, agent, 1)
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		if err := db.InsertMutations(ctx, tx, []store.StoredMutation{mutation(device, 1)}); err != nil {
			return err
		}
		return db.WritePush(ctx, tx, store.PushWrites{At: now, NewCollections: []*store.Collection{c}})
	})
	if err != nil {
		t.Fatal(err)
	}

	// A record's device and agent never change; other columns do.
	refused("moving a collection to another agent", "23000", exec(`UPDATE collection SET agent_id = agent_id`))
	refused("moving a collection to another device", "23000", exec(`UPDATE collection SET device_id = device_id`))
	refused("moving a mutation to another device", "23000", exec(`UPDATE mutation SET device_id = device_id`))
	if _, err := db.Pool.Exec(ctx, `UPDATE collection SET status = 'batched' WHERE id = $1`, c.ID); err != nil {
		t.Fatalf("an update of the status was refused: %v", err)
	}

	// What the records name is never deleted or renumbered.
	refused("deleting a device", "23000", exec(`DELETE FROM device WHERE id = $1`, device))
	refused("deleting a user", "23000", exec(`DELETE FROM app_user WHERE id = $1`, agent))
	refused("renumbering a device", "23000", exec(`UPDATE device SET id = id || 'x'`))
	refused("renumbering a user", "23000", exec(`UPDATE app_user SET id = id || 'x'`))
	refused("truncating devices", "23000", exec(`TRUNCATE device CASCADE`))
	refused("truncating users", "23000", exec(`TRUNCATE app_user CASCADE`))
	if _, err := db.Pool.Exec(ctx, `UPDATE device SET name = '二号平板' WHERE id = $1`, device); err != nil {
		t.Fatalf("renaming a device was refused: %v", err)
	}
	if n, m, d := count("mutation"), count("collection"), count("device"); n != 1 || m != 1 || d != 1 {
		t.Fatalf("after the refusals: %d mutations, %d collections, %d devices, want 1 each", n, m, d)
	}
}
