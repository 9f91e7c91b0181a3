package localstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"villagesync/agentapp/internal/agenttest"
	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

func del(entity, id, stream string, seq int64) syncproto.Change {
	return syncproto.Change{Stream: stream, Seq: seq, Entity: entity, ID: id, Op: syncproto.OpDelete}
}

func mustApply(tb testing.TB, st *localstore.Store, cursor string, cs ...syncproto.Change) {
	tb.Helper()
	if err := st.ApplyPage(tb.Context(), cs, cursor); err != nil {
		tb.Fatal(err)
	}
}

func itemsOf(tb testing.TB, st *localstore.Store) map[string]int64 {
	tb.Helper()
	items, err := st.ReplicaItems(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string]int64{}
	for _, it := range items {
		m[it.Entity+"/"+it.ID] = it.Seq
	}
	return m
}

func TestApplyPage(t *testing.T) {
	t.Parallel()
	const a, b = "v:370403001001", "v:370403001002"
	line := agenttest.Line(1, syncproto.KindMedical)
	key := syncproto.EntityRosterEntry + "/" + line.ID

	t.Run("OKLatestStateAndCursor", func(t *testing.T) {
		t.Parallel()
		tab := agenttest.NewTablet(t, nil, "")
		st := tab.Store
		mustApply(t, st, "c1", agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, a, 5, line))
		changed := line
		changed.Paid, changed.Grades = true, []syncproto.Money{100}
		mustApply(t, st, "c2", agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, a, 9, changed))
		got, err := st.RosterLine(t.Context(), line.ID)
		if err != nil || !got.Paid || got.Seq != 9 || len(got.Grades) != 1 || got.Name != line.Name {
			t.Fatalf("line = %+v %v", got, err)
		}
		if s, _ := st.SyncState(t.Context()); s.Cursor != "c2" {
			t.Fatalf("cursor = %q", s.Cursor)
		}
		// An older state from the same stream is skipped.
		mustApply(t, st, "c3", agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, a, 7, line))
		if got, _ := st.RosterLine(t.Context(), line.ID); !got.Paid || got.Seq != 9 {
			t.Fatalf("a stale change overwrote the line: %+v", got)
		}
		mustApply(t, st, "c4", del(syncproto.EntityRosterEntry, line.ID, a, 10))
		if _, err := st.RosterLine(t.Context(), line.ID); !errors.Is(err, localstore.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
	t.Run("OKMovedBetweenStreamsInEitherOrder", func(t *testing.T) {
		t.Parallel()
		tab := agenttest.NewTablet(t, nil, "")
		st := tab.Store
		mustApply(t, st, "c1", agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, a, 5, line))
		// The upsert in village b arrives before the delete in village a.
		mustApply(t, st, "c2", agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, b, 3, line),
			del(syncproto.EntityRosterEntry, line.ID, a, 6))
		if got := itemsOf(t, st); got[key] != 3 {
			t.Fatalf("moved line lost or wrong: %v", got)
		}
	})
	t.Run("OKOneRowSeveralTimesInAPage", func(t *testing.T) {
		t.Parallel()
		tab := agenttest.NewTablet(t, nil, "")
		st := tab.Store
		// Roster lines are written by the chunk: within one page the
		// changes of a row still apply in order, across a chunk's end and
		// around a delete, and a stale one is still skipped.
		var cs []syncproto.Change
		for i := 2; i <= 60; i++ { // fills more than one chunk
			l := agenttest.Line(i, syncproto.KindMedical)
			cs = append(cs, agenttest.Change(t, syncproto.EntityRosterEntry, l.ID, a, int64(i), l))
		}
		paid := line
		paid.Paid = true
		gone := agenttest.Line(55, syncproto.KindMedical) // in the chunk not yet written at its delete
		cs = append(cs,
			agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, a, 70, line),
			agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, a, 72, paid),
			agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, a, 71, line), // stale: skipped
			del(syncproto.EntityRosterEntry, gone.ID, a, 73),
		)
		mustApply(t, st, "c1", cs...)
		got := itemsOf(t, st)
		if _, kept := got[syncproto.EntityRosterEntry+"/"+gone.ID]; len(got) != 59 || got[key] != 72 || kept {
			t.Fatalf("%d items, line at %d, deleted line kept: %v", len(got), got[key], kept)
		}
		if l, err := st.RosterLine(t.Context(), line.ID); err != nil || !l.Paid {
			t.Fatalf("line = %+v %v", l, err)
		}
	})
	t.Run("OKUnknownEntityKeptForChecksum", func(t *testing.T) {
		t.Parallel()
		tab := agenttest.NewTablet(t, nil, "")
		st := tab.Store
		mustApply(t, st, "c1", syncproto.Change{Stream: a, Seq: 4, Entity: "batch", ID: "B1", Op: syncproto.OpUpsert,
			Data: json.RawMessage(`{"status":"approved"}`)})
		if got := itemsOf(t, st); got["batch/B1"] != 4 {
			t.Fatalf("items = %v", got)
		}
	})
	t.Run("ErrBadPageAppliesNothing", func(t *testing.T) {
		t.Parallel()
		tab := agenttest.NewTablet(t, nil, "")
		st := tab.Store
		err := st.ApplyPage(t.Context(), []syncproto.Change{
			agenttest.Change(t, syncproto.EntityRosterEntry, line.ID, a, 5, line),
			{Stream: a, Seq: 6, Entity: syncproto.EntityReceiptRange, ID: "R", Op: syncproto.OpUpsert, Data: json.RawMessage(`{"first":9,"last":2}`)},
		}, "c1")
		if err == nil {
			t.Fatal("an empty receipt range was applied")
		}
		if n, _ := st.RosterCount(t.Context()); n != 0 {
			t.Fatalf("half a page was applied: %d lines", n)
		}
		if s, _ := st.SyncState(t.Context()); s.Cursor != "" {
			t.Fatalf("cursor moved: %q", s.Cursor)
		}
	})
}

func TestResetReplica(t *testing.T) {
	t.Parallel()
	tab := agenttest.NewTablet(t, nil, "")
	tab.Seed(t, agenttest.Settings(), 1, 10, agenttest.Line(1, syncproto.KindMedical), agenttest.Line(2, syncproto.KindMedical))
	svc := collect.New(tab.Store, nil)
	if _, err := svc.Collect(t.Context(), tab.Unlocked, collect.Request{RosterLineID: agenttest.Line(1, syncproto.KindMedical).ID}); err != nil {
		t.Fatal(err)
	}
	if err := tab.Store.ResetReplica(t.Context()); err != nil {
		t.Fatal(err)
	}
	if items := itemsOf(t, tab.Store); len(items) != 0 {
		t.Fatalf("replica after reset: %v", items)
	}
	if n := len(tab.Chain(t)); n != 1 {
		t.Fatalf("the reset touched the outbox: %d records", n)
	}
	// The range comes back: the used number is not issued again.
	tab.Seed(t, agenttest.Settings(), 1, 10, agenttest.Line(2, syncproto.KindMedical))
	res, err := svc.Collect(t.Context(), tab.Unlocked, collect.Request{RosterLineID: agenttest.Line(2, syncproto.KindMedical).ID})
	if err != nil || res.Collection.ReceiptNo != "000000000002" {
		t.Fatalf("after re-pull: %+v %v", res.Collection, err)
	}

	t.Run("OKNewDeviceDropsOldScope", func(t *testing.T) {
		en, _ := tab.Store.Enrollment(t.Context())
		if err := tab.Store.MarkRevoked(t.Context()); err != nil {
			t.Fatal(err)
		}
		en.DeviceID = "01JNM7Q8Z3X4Y5W6V7T8S9R0QP"
		if err := tab.Store.SaveEnrollment(t.Context(), en); err != nil {
			t.Fatal(err)
		}
		if items := itemsOf(t, tab.Store); len(items) != 0 {
			t.Fatalf("old scope kept: %v", items)
		}
		if s, _ := tab.Store.SyncState(t.Context()); s.Revoked {
			t.Fatal("the new device inherited the revocation")
		}
		if ds, _ := tab.Store.PendingDevices(t.Context()); len(ds) != 1 || ds[0] != tab.DeviceID {
			t.Fatalf("old device's records: %v", ds)
		}
	})
}

func TestChainInStore(t *testing.T) {
	t.Parallel()
	tab := agenttest.NewTablet(t, nil, "")
	tab.Seed(t, agenttest.Settings(), 1, 10, agenttest.Line(1, syncproto.KindMedical))
	if _, err := collect.New(tab.Store, nil).Collect(t.Context(), tab.Unlocked,
		collect.Request{RosterLineID: agenttest.Line(1, syncproto.KindMedical).ID}); err != nil {
		t.Fatal(err)
	}
	first := tab.Chain(t)[0]
	// A record that does not extend the chain is refused by the store
	// (and by the database's trigger behind it).
	for name, m := range map[string]syncproto.Mutation{
		"Gap":      {ID: "01KA000000000000000000000Z", DeviceID: tab.DeviceID, Seq: 3, Kind: syncproto.MutationVoid, PrevHash: first.Hash, Payload: json.RawMessage(`{}`)},
		"PrevHash": {ID: "01KA000000000000000000000Z", DeviceID: tab.DeviceID, Seq: 2, Kind: syncproto.MutationVoid, PrevHash: syncproto.ZeroHash, Payload: json.RawMessage(`{}`)},
	} {
		m.Seal(tab.Key)
		err := tab.Store.Write(t.Context(), func(ctx context.Context, w *localstore.WriteTx) error {
			return w.AppendVoid(ctx, &m, tab.Public, first.ID, "x")
		})
		if !errors.Is(err, localstore.ErrChain) {
			t.Errorf("%s: %v, want ErrChain", name, err)
		}
		if _, err := tab.Store.DB.ExecContext(t.Context(), `INSERT INTO mutation (device_id, seq, id, kind, device_time, prev_hash,
			payload, hash, signature) VALUES (?, ?, ?, 'void', 'x', ?, x'7b7d', ?, 's')`,
			tab.DeviceID, m.Seq, m.ID, m.PrevHash, m.Hash); err == nil {
			t.Errorf("%s: the trigger let it in", name)
		}
	}
	// ApplyPush never moves a record back to pending, and parks with reasons.
	ctx := t.Context()
	tally, err := tab.Store.ApplyPush(ctx, tab.DeviceID, syncproto.PushResponse{AckSeq: 1, Outcomes: []syncproto.Outcome{
		{ID: first.ID, Seq: 1, Status: syncproto.OutcomeStored, Flags: []string{"duplicate_payment"}}}}, tab.Now())
	if err != nil || tally.Acked != 1 {
		t.Fatalf("ack: %+v %v", tally, err)
	}
	tally, err = tab.Store.ApplyPush(ctx, tab.DeviceID, syncproto.PushResponse{AckSeq: 1, Outcomes: []syncproto.Outcome{
		{ID: first.ID, Seq: 1, Status: syncproto.OutcomeRejected, Code: "x"}}}, tab.Now())
	if err != nil || tally != (localstore.PushTally{}) {
		t.Fatalf("an acked record changed: %+v %v", tally, err)
	}
	c, _ := tab.Store.CollectionByReceipt(ctx, "000000000001")
	if c.State != localstore.StateAcked || fmt.Sprint(c.Flags) != "[duplicate_payment]" {
		t.Fatalf("collection = %+v", c)
	}
}
