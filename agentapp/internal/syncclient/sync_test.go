package syncclient_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"villagesync/agentapp/internal/agenttest"
	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/fakeserver"
	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/agentapp/internal/syncclient"
	"villagesync/syncproto"
)

// env is an enrolled tablet, a fake server holding its village, and a
// syncer between them with quick retries.
type env struct {
	tab *agenttest.Tablet
	srv *fakeserver.Server
	svc *collect.Service
	opt syncclient.Options

	mu     sync.Mutex
	events []syncclient.Event
}

// village is the roster the fake server holds: lines 1..n of both kinds.
func mustEnv(tb testing.TB, lines int) *env {
	tb.Helper()
	tab := agenttest.NewTablet(tb, nil, "")
	srv := fakeserver.New(tb, tab.DeviceID, tab.Public, tab.Refresh)
	srv.Upsert(syncproto.EntitySettings, "settings", "", agenttest.Settings())
	srv.Upsert(syncproto.EntityReceiptRange, "RR1", "", syncproto.ReceiptRange{ID: "RR1", First: 1, Last: 500})
	for i := 1; i <= lines; i++ {
		for _, k := range syncproto.Kinds() {
			l := agenttest.Line(i, k)
			srv.Upsert(syncproto.EntityRosterEntry, l.ID, "v:"+agenttest.Village, l)
		}
	}
	e := &env{tab: tab, srv: srv, svc: collect.New(tab.Store, nil)}
	e.opt = syncclient.Options{PushBatch: 3, PullLimit: 7, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		MaxElapsed: 2 * time.Second, OnEvent: func(ev syncclient.Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		}}
	return e
}

func (e *env) syncer(tb testing.TB) *syncclient.Syncer {
	tb.Helper()
	c, err := syncclient.New(e.srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return syncclient.NewSyncer(c, e.tab.Store, e.tab.Unlocked, e.opt)
}

func (e *env) eventCount(kind syncclient.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func (e *env) mustSync(tb testing.TB) syncclient.Report {
	tb.Helper()
	rep, err := e.syncer(tb).Sync(tb.Context(), nil)
	if err != nil {
		tb.Fatalf("sync: %v (report %+v)", err, rep)
	}
	return rep
}

func (e *env) mustCollect(tb testing.TB, n int) localstore.Collection {
	tb.Helper()
	res, err := e.svc.Collect(tb.Context(), e.tab.Unlocked, collect.Request{RosterLineID: agenttest.Line(n, syncproto.KindMedical).ID})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Collection
}

// requireReplica fails unless the tablet's replica is the server's.
func (e *env) requireReplica(tb testing.TB) {
	tb.Helper()
	items, err := e.tab.Store.ReplicaItems(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	got := syncproto.Checkpoint{Count: len(items), Checksum: syncproto.ReplicaChecksum(items)}
	if want := e.srv.Checkpoint(); got != want {
		tb.Fatalf("replica %+v, server %+v", got, want)
	}
}

func requireCode(tb testing.TB, err error, code syncproto.Code) {
	tb.Helper()
	if syncproto.ErrorCode(err) != code {
		tb.Fatalf("error = %v, want code %s", err, code)
	}
}

func TestPull(t *testing.T) {
	t.Parallel()
	t.Run("OKBootstrapInPagesThenTail", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 20) // 42 rows, pages of 7
		var calls [][2]int
		rep, err := e.syncer(t).Sync(t.Context(), func(done, total int) { calls = append(calls, [2]int{done, total}) })
		if err != nil {
			t.Fatal(err)
		}
		if rep.Pulled != 42 || rep.Pages != 6 || !rep.Checkpoint || rep.Repulled {
			t.Fatalf("report = %+v", rep)
		}
		if last := calls[len(calls)-1]; last != [2]int{42, 42} || calls[0][1] != -1 {
			t.Fatalf("progress = %v", calls)
		}
		e.requireReplica(t)
		set, err := e.tab.Store.Settings(t.Context())
		if err != nil || set.CashLimit != syncproto.Yuan(20000) || string(set.IDHashKey) != string(agenttest.HashKey) {
			t.Fatalf("settings = %+v %v", set, err)
		}
		found, err := e.tab.Store.SearchRoster(t.Context(), localstore.RosterQuery{Initials: "zy", Name: "zy"})
		if err != nil || len(found) == 0 {
			t.Fatalf("search zy: %v %v", found, err)
		}

		// The tail: an update, a delete, a new line.
		changed := agenttest.Line(1, syncproto.KindMedical)
		changed.Paid = true
		e.srv.Upsert(syncproto.EntityRosterEntry, changed.ID, "v:"+agenttest.Village, changed)
		e.srv.Delete(syncproto.EntityRosterEntry, agenttest.Line(2, syncproto.KindMedical).ID, "v:"+agenttest.Village)
		e.srv.Upsert(syncproto.EntityRosterEntry, agenttest.Line(99, syncproto.KindMedical).ID, "v:"+agenttest.Village,
			agenttest.Line(99, syncproto.KindMedical))
		rep = e.mustSync(t)
		if rep.Pulled != 3 || !rep.Checkpoint {
			t.Fatalf("tail report = %+v", rep)
		}
		e.requireReplica(t)
		if l, err := e.tab.Store.RosterLine(t.Context(), changed.ID); err != nil || !l.Paid {
			t.Fatalf("updated line = %+v %v", l, err)
		}
		if _, err := e.tab.Store.RosterLine(t.Context(), agenttest.Line(2, syncproto.KindMedical).ID); !errors.Is(err, localstore.ErrNotFound) {
			t.Fatalf("deleted line: %v", err)
		}
	})
	t.Run("OKResumesFromStoredCursor", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 20)
		e.opt.MaxElapsed = 30 * time.Millisecond
		failed := false
		first, err := e.syncer(t).Sync(t.Context(), func(done, total int) {
			if done >= 14 && !failed {
				failed = true
				e.srv.Fail(slices.Repeat([]int{http.StatusServiceUnavailable}, 10000)...)
			}
		})
		if !syncclient.Retryable(err) {
			t.Fatalf("sync with the server down: %v", err)
		}
		st, _ := e.tab.Store.SyncState(t.Context())
		if st.Cursor == "" || st.ErrorCode != string(syncproto.CodeUnavailable) {
			t.Fatalf("after the failure: %+v", st)
		}
		e.srv.ClearFailures()
		rep := e.mustSync(t)
		// The page after the 14th change may have been fetched (and
		// applied) before the server went down: the first sync reports
		// what it committed, and the second pulls only the rest.
		if first.Pulled < 14 || first.Pulled >= 42 || rep.Pulled != 42-first.Pulled || !rep.Checkpoint {
			t.Fatalf("first report = %+v, resumed report = %+v", first, rep)
		}
		e.requireReplica(t)
	})
	t.Run("OKRepullsOnMismatch", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 5)
		e.mustSync(t)
		if _, err := e.tab.Store.DB.ExecContext(t.Context(), `DELETE FROM roster_line WHERE id = ?`,
			agenttest.Line(3, syncproto.KindPension).ID); err != nil {
			t.Fatal(err)
		}
		rep := e.mustSync(t)
		if !rep.Repulled || !rep.Checkpoint || rep.Pulled != 12 || e.eventCount(syncclient.EventMismatch) != 1 {
			t.Fatalf("report = %+v, events %+v", rep, e.events)
		}
		e.requireReplica(t)
	})
	t.Run("OKBadCursorStartsOver", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 3)
		e.mustSync(t)
		if err := e.tab.Store.ApplyPage(t.Context(), nil, "not-a-cursor"); err != nil {
			t.Fatal(err)
		}
		rep := e.mustSync(t)
		if !rep.Repulled || !rep.Checkpoint || e.eventCount(syncclient.EventBadCursor) != 1 {
			t.Fatalf("report = %+v, events %+v", rep, e.events)
		}
		e.requireReplica(t)
	})
	t.Run("ErrMismatchTwice", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 2)
		e.srv.TamperCheckpoint()
		rep, err := e.syncer(t).Sync(t.Context(), nil)
		requireCode(t, err, syncclient.CodeReplicaMismatch)
		if !rep.Repulled {
			t.Fatalf("report = %+v", rep)
		}
	})
}

func TestPush(t *testing.T) {
	t.Parallel()
	t.Run("OKExactlyOnceThroughLostAnswers", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 10)
		e.mustSync(t) // roster, settings, receipts
		var made []localstore.Collection
		for i := 1; i <= 7; i++ {
			made = append(made, e.mustCollect(t, i))
		}
		if _, err := e.svc.Void(t.Context(), e.tab.Unlocked, made[0].ReceiptNo, "wrong"); err != nil {
			t.Fatal(err)
		}
		e.srv.DropPushAnswers(2)
		rep := e.mustSync(t)
		if rep.Acked != 8 || e.eventCount(syncclient.EventRetry) < 2 {
			t.Fatalf("report = %+v, events %+v", rep, e.events)
		}
		got := e.srv.Mutations()
		if len(got) != 8 {
			t.Fatalf("server holds %d mutations, want 8", len(got))
		}
		agenttest.RequireChain(t, got, e.tab.Public)
		counts, _ := e.tab.Store.OutboxCounts(t.Context(), e.tab.DeviceID)
		if counts != (localstore.OutboxCounts{Acked: 8}) {
			t.Fatalf("outbox = %+v", counts)
		}
		if e.srv.GzipPushes() == 0 {
			t.Fatal("pushes were not gzip-compressed")
		}
		c, err := e.tab.Store.CollectionByReceipt(t.Context(), made[1].ReceiptNo)
		if err != nil || c.ServerStatus != "synced" || c.State != localstore.StateAcked {
			t.Fatalf("collection after sync = %+v %v", c, err)
		}
		c, _ = e.tab.Store.CollectionByReceipt(t.Context(), made[0].ReceiptNo)
		if c.ServerStatus != "voided" {
			t.Fatalf("voided collection = %+v", c)
		}
		// Nothing pending: a second sync pushes nothing.
		if rep := e.mustSync(t); rep.Pushed != 0 {
			t.Fatalf("second sync pushed %d", rep.Pushed)
		}
	})
	t.Run("OKParkedMovesOn", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 10)
		e.mustSync(t)
		for i := 1; i <= 4; i++ {
			e.mustCollect(t, i)
		}
		e.srv.Reject(func(m syncproto.Mutation) *syncproto.Outcome {
			if m.Seq == 2 {
				return &syncproto.Outcome{Code: "malformed_payload", Reason: "amount missing", ReasonZH: "缺少金额"}
			}
			return nil
		})
		rep := e.mustSync(t)
		if rep.Acked != 3 || rep.Parked != 1 {
			t.Fatalf("report = %+v", rep)
		}
		parked, err := e.tab.Store.Parked(t.Context())
		if err != nil || len(parked) != 1 || parked[0].Seq != 2 || parked[0].Code != "malformed_payload" ||
			parked[0].ReasonZH != "缺少金额" || parked[0].ReceiptNo == "" {
			t.Fatalf("parked = %+v %v", parked, err)
		}
		if rep := e.mustSync(t); rep.Pushed != 0 {
			t.Fatalf("a parked record was sent again: %+v", rep)
		}
	})
	t.Run("OKResendsChainOnGap", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 10)
		e.mustSync(t)
		for i := 1; i <= 5; i++ {
			e.mustCollect(t, i)
		}
		e.mustSync(t)
		e.srv.ForgetFrom(3) // the server lost seq 3..5
		e.mustCollect(t, 6)
		e.mustSync(t)
		if got := e.srv.Mutations(); len(got) != 6 || e.eventCount(syncclient.EventResend) != 1 {
			t.Fatalf("server holds %d, events %+v", len(got), e.events)
		}
		agenttest.RequireChain(t, e.srv.Mutations(), e.tab.Public)
	})
	t.Run("ErrChainRefusedStillPulls", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 3)
		e.tab.Seed(t, agenttest.Settings(), 900, 10, agenttest.Line(1, syncproto.KindMedical))
		e.mustCollect(t, 1)
		if err := e.tab.Store.ResetReplica(t.Context()); err != nil {
			t.Fatal(err)
		}
		e.srv.FailWith(http.StatusConflict, syncproto.CodeChainTampered)
		rep, err := e.syncer(t).Sync(t.Context(), nil)
		requireCode(t, err, syncproto.CodeChainTampered)
		if rep.Pulled == 0 || !rep.Checkpoint {
			t.Fatalf("the pull did not run: %+v", rep)
		}
		st, _ := e.tab.Store.SyncState(t.Context())
		if st.ErrorCode != string(syncproto.CodeChainTampered) {
			t.Fatalf("state = %+v", st)
		}
	})
}

func TestRetry(t *testing.T) {
	t.Parallel()
	t.Run("OK5xxAnd429Retried", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 2)
		e.srv.Fail(http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusTooManyRequests)
		e.mustSync(t)
		if n := e.eventCount(syncclient.EventRetry); n != 3 {
			t.Fatalf("%d retries, want 3", n)
		}
	})
	t.Run("Err4xxNotRetried", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 2)
		e.srv.Fail(http.StatusBadRequest)
		_, err := e.syncer(t).Sync(t.Context(), nil)
		if err == nil || syncclient.Retryable(err) || e.eventCount(syncclient.EventRetry) != 0 {
			t.Fatalf("err %v, events %+v", err, e.events)
		}
		if n := e.srv.Requests("/api/v1/auth/refresh"); n != 1 {
			t.Fatalf("%d refresh requests, want 1", n)
		}
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	t.Run("OKRefreshRotatesAndIsKept", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 2)
		s := e.syncer(t)
		if _, err := s.Sync(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		e.srv.ExpireTokens()
		if _, err := s.Sync(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		if n := e.srv.Requests("/api/v1/auth/refresh"); n != 2 {
			t.Fatalf("%d refreshes, want 2 (one at start, one after the 401)", n)
		}
		// The rotated token was sealed: a fresh unlock has the server's current one.
		u, err := keystore.New(e.tab.Store, nil).Unlock(t.Context(), agenttest.PIN)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := u.Secrets().Refresh, e.srv.RefreshToken(); got != want {
			t.Fatalf("stored refresh %q, server's %q", got, want)
		}
	})
	t.Run("ErrRevokedStopsForGood", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 2)
		e.srv.Revoke()
		_, err := e.syncer(t).Sync(t.Context(), nil)
		requireCode(t, err, syncproto.CodeDeviceRevoked)
		before := e.srv.Requests("/api/v1/auth/refresh")
		_, err = e.syncer(t).Sync(t.Context(), nil)
		requireCode(t, err, syncproto.CodeDeviceRevoked)
		if e.srv.Requests("/api/v1/auth/refresh") != before {
			t.Fatal("a revoked tablet called the server again")
		}
		_, err = e.svc.Collect(t.Context(), e.tab.Unlocked, collect.Request{RosterLineID: agenttest.Line(1, syncproto.KindMedical).ID})
		requireCode(t, err, syncproto.CodeDeviceRevoked)
	})
}

func TestWatch(t *testing.T) {
	t.Parallel()
	t.Run("OKLoopsUntilCancelled", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 2)
		e.srv.Fail(http.StatusServiceUnavailable) // retried inside the first sync
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		n := 0
		err := e.syncer(t).Watch(ctx, time.Millisecond, nil, func(rep syncclient.Report, err error) {
			if err != nil {
				t.Errorf("sync %d: %v", n, err)
			}
			if n++; n == 3 {
				cancel()
			}
		})
		if err != nil || n != 3 {
			t.Fatalf("watch = %v after %d syncs", err, n)
		}
	})
	t.Run("ErrRevokedStops", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, 2)
		e.srv.Revoke()
		err := e.syncer(t).Watch(t.Context(), time.Millisecond, nil, nil)
		requireCode(t, err, syncproto.CodeDeviceRevoked)
	})
}
