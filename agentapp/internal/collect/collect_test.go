package collect_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"villagesync/agentapp/internal/agenttest"
	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// env is a seeded tablet with the collect service over it.
type env struct {
	*agenttest.Tablet
	clock *agenttest.Clock
	svc   *collect.Service
}

// mustEnv makes a tablet seeded with settings, receipts numbers from 1001
// and lines 1..10 of both kinds.
func mustEnv(tb testing.TB, set syncproto.DeviceSettings, receipts int64, extra ...syncproto.RosterLine) *env {
	tb.Helper()
	c := agenttest.NewClock(time.Date(2026, 10, 28, 1, 30, 0, 0, time.UTC)) // 09:30 in Shanghai
	t := agenttest.NewTablet(tb, c.Now, "")
	var lines []syncproto.RosterLine
	for i := 1; i <= 10; i++ {
		lines = append(lines, agenttest.Line(i, syncproto.KindMedical), agenttest.Line(i, syncproto.KindPension))
	}
	t.Seed(tb, set, 1001, receipts, append(lines, extra...)...)
	return &env{Tablet: t, clock: c, svc: collect.New(t.Store, c.Now)}
}

func medical(n int) collect.Request {
	return collect.Request{RosterLineID: agenttest.Line(n, syncproto.KindMedical).ID}
}

func (e *env) mustCollect(tb testing.TB, req collect.Request) collect.Result {
	tb.Helper()
	res, err := e.svc.Collect(tb.Context(), e.Unlocked, req)
	if err != nil {
		tb.Fatalf("collect %+v: %v", req, err)
	}
	return res
}

// requireCode fails unless err is a coded error with code and both
// messages.
func requireCode(tb testing.TB, err error, code syncproto.Code) *syncproto.Error {
	tb.Helper()
	var ce *syncproto.Error
	if !errors.As(err, &ce) {
		tb.Fatalf("error = %v (%T), want code %s", err, err, code)
	}
	if ce.Code != code || ce.Message == "" || ce.MessageZH == "" {
		tb.Fatalf("error = %s %q / %q, want code %s and both messages", ce.Code, ce.Message, ce.MessageZH, code)
	}
	return ce
}

func hasWarning(ws []collect.Warning, code syncproto.Code) bool {
	for _, w := range ws {
		if w.Code == code {
			return true
		}
	}
	return false
}

func TestCollect(t *testing.T) {
	t.Parallel()
	t.Run("OKMedical", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, agenttest.Settings(), 100)
		res := e.mustCollect(t, medical(1))
		c := res.Collection
		if c.ReceiptNo != "000000001001" || c.Amount != syncproto.Yuan(400) || c.Grade != 0 || c.Kind != syncproto.KindMedical ||
			c.Seq != 1 || c.State != localstore.StatePending || c.TownshipCode != agenttest.Township ||
			c.Name != "张一" || c.Masked != agenttest.ResidentID(1).Masked() || !c.CollectedAt.Equal(e.clock.Now()) {
			t.Fatalf("collection = %+v", c)
		}
		if len(res.Warnings) != 0 {
			t.Fatalf("warnings = %+v", res.Warnings)
		}
		chain := e.Chain(t)
		agenttest.RequireChain(t, chain, e.Public)
		var p syncproto.Collection
		if err := json.Unmarshal(chain[0].Payload, &p); err != nil {
			t.Fatal(err)
		}
		want := syncproto.Collection{ReceiptNo: "000000001001", RosterEntryID: agenttest.Line(1, syncproto.KindMedical).ID,
			RosterVersion: c.RosterVersion, Name: "张一", VillageCode: agenttest.Village, Kind: syncproto.KindMedical,
			Year: 2026, Category: syncproto.CategoryGeneral, Amount: syncproto.Yuan(400)}
		if p != want || p.RosterVersion == 0 {
			t.Fatalf("payload = %+v, want %+v", p, want)
		}
	})
	t.Run("OKPensionGradeLessSubsidy", func(t *testing.T) {
		t.Parallel()
		l := agenttest.Line(50, syncproto.KindPension)
		l.Category, l.Subsidy, l.Grades = syncproto.CategoryDibao, syncproto.Yuan(100), agenttest.Grades
		e := mustEnv(t, agenttest.Settings(), 100, l)
		res := e.mustCollect(t, collect.Request{RosterLineID: l.ID, Grade: syncproto.Yuan(500)})
		if res.Collection.Amount != syncproto.Yuan(400) || res.Collection.Grade != syncproto.Yuan(500) {
			t.Fatalf("collection = %+v", res.Collection)
		}
	})
	t.Run("OKByResidentID", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, agenttest.Settings(), 100)
		_, err := e.svc.Collect(t.Context(), e.Unlocked, collect.Request{ResidentID: string(agenttest.ResidentID(3))})
		requireCode(t, err, collect.CodeKindAmbiguous)
		res := e.mustCollect(t, collect.Request{ResidentID: string(agenttest.ResidentID(3)), Kind: syncproto.KindPension,
			Grade: syncproto.Yuan(300)})
		if res.Collection.RosterEntryID != agenttest.Line(3, syncproto.KindPension).ID || res.Collection.Amount != syncproto.Yuan(300) {
			t.Fatalf("collection = %+v", res.Collection)
		}
		_, err = e.svc.Collect(t.Context(), e.Unlocked, collect.Request{ResidentID: string(agenttest.ResidentID(999)), Kind: syncproto.KindMedical})
		requireCode(t, err, syncproto.CodeNotFound)
	})
	t.Run("ErrRules", func(t *testing.T) {
		t.Parallel()
		full := agenttest.Line(60, syncproto.KindMedical)
		full.Category, full.Subsidy, full.Due, full.FullySubsidised = syncproto.CategoryTekun, syncproto.Yuan(400), 0, true
		paid := agenttest.Line(61, syncproto.KindMedical)
		paid.Paid = true
		e := mustEnv(t, agenttest.Settings(), 100, full, paid)
		pension := agenttest.Line(1, syncproto.KindPension).ID
		for _, tc := range []struct {
			name string
			req  collect.Request
			code syncproto.Code
		}{
			{"FullySubsidised", collect.Request{RosterLineID: full.ID}, collect.CodeFullySubsidised},
			{"AlreadyPaid", collect.Request{RosterLineID: paid.ID}, collect.CodeAlreadyPaid},
			{"GradeRequired", collect.Request{RosterLineID: pension}, collect.CodeGradeRequired},
			{"GradeNotAllowed", collect.Request{RosterLineID: pension, Grade: syncproto.Yuan(100)}, collect.CodeGradeNotAllowed},
			{"MedicalGrade", collect.Request{RosterLineID: medical(1).RosterLineID, Grade: syncproto.Yuan(300)}, syncproto.CodeInvalidInput},
			{"KindMismatch", collect.Request{RosterLineID: pension, Kind: syncproto.KindMedical}, syncproto.CodeInvalidInput},
			{"NotOnRoster", collect.Request{RosterLineID: "nope"}, syncproto.CodeNotFound},
		} {
			_, err := e.svc.Collect(t.Context(), e.Unlocked, tc.req)
			requireCode(t, err, tc.code)
		}
		if n := len(e.Chain(t)); n != 0 {
			t.Fatalf("refusals wrote %d records", n)
		}
		e.mustCollect(t, medical(1))
		_, err := e.svc.Collect(t.Context(), e.Unlocked, medical(1))
		requireCode(t, err, collect.CodeAlreadyCollected)
	})
	t.Run("ErrNoReceipts", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, agenttest.Settings(), 2)
		e.mustCollect(t, medical(1))
		res := e.mustCollect(t, medical(2))
		if !hasWarning(res.Warnings, collect.WarnReceiptsLow) {
			t.Fatalf("no low-receipts warning: %+v", res.Warnings)
		}
		_, err := e.svc.Collect(t.Context(), e.Unlocked, medical(3))
		ce := requireCode(t, err, collect.CodeNoReceipts)
		if ce.Message != "no receipt numbers left: sync to get more" || !strings.Contains(ce.MessageZH, "收据号码") {
			t.Fatalf("message = %q / %q", ce.Message, ce.MessageZH)
		}
		if n := len(e.Chain(t)); n != 2 {
			t.Fatalf("chain has %d records, want 2", n)
		}
		// A new range pulled later is used from its first number.
		next := agenttest.Change(t, syncproto.EntityReceiptRange, "RR2", "d:"+e.DeviceID, 100,
			syncproto.ReceiptRange{ID: "RR2", First: 5001, Last: 5100})
		if err := e.Store.ApplyPage(t.Context(), []syncproto.Change{next}, "c2"); err != nil {
			t.Fatal(err)
		}
		if got := e.mustCollect(t, medical(3)).Collection.ReceiptNo; got != "000000005001" {
			t.Fatalf("receipt = %s, want 000000005001", got)
		}
	})
	t.Run("ErrNoSettings", func(t *testing.T) {
		t.Parallel()
		tab := agenttest.NewTablet(t, nil, "")
		_, err := collect.New(tab.Store, nil).Collect(t.Context(), tab.Unlocked, medical(1))
		requireCode(t, err, collect.CodeNoSettings)
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, agenttest.Settings(), 10)
		if err := e.Store.MarkRevoked(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.Collect(t.Context(), e.Unlocked, medical(1))
		requireCode(t, err, syncproto.CodeDeviceRevoked)
	})
	t.Run("ErrLocked", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, agenttest.Settings(), 10)
		e.Unlocked.Lock()
		if _, err := e.svc.Collect(t.Context(), e.Unlocked, medical(1)); err == nil {
			t.Fatal("collected with a locked keystore")
		}
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()
	t.Run("Cash", func(t *testing.T) {
		t.Parallel()
		set := agenttest.Settings()
		set.CashLimit = syncproto.Yuan(1000)
		e := mustEnv(t, set, 100)
		if res := e.mustCollect(t, medical(1)); len(res.Warnings) != 0 || res.Limits.CashPercent != 40 {
			t.Fatalf("400 of 1000: %+v", res)
		}
		res := e.mustCollect(t, medical(2))
		if !hasWarning(res.Warnings, collect.WarnCashNear) || res.Limits.CashPercent != 80 {
			t.Fatalf("800 of 1000: %+v", res)
		}
		res = e.mustCollect(t, medical(3)) // held 800 < 1000: allowed, and now over
		if !hasWarning(res.Warnings, collect.WarnLimitPassed) || !res.Limits.Passed() {
			t.Fatalf("1200 of 1000: %+v", res)
		}
		_, err := e.svc.Collect(t.Context(), e.Unlocked, medical(4))
		requireCode(t, err, collect.CodeLimitPassed)
		if _, err := e.svc.Deposit(t.Context(), e.Unlocked, collect.DepositRequest{SlipNo: "B1", Amount: syncproto.Yuan(1200)}); err != nil {
			t.Fatal(err)
		}
		if res := e.mustCollect(t, medical(4)); res.Limits.Cash != syncproto.Yuan(400) {
			t.Fatalf("after deposit: %+v", res.Limits)
		}
	})
	t.Run("Time", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t, agenttest.Settings(), 100)
		e.mustCollect(t, medical(1))
		e.clock.Add(20 * time.Hour)
		res := e.mustCollect(t, medical(2))
		if !hasWarning(res.Warnings, collect.WarnTimeNear) || res.Limits.TimePercent != 83 {
			t.Fatalf("20 of 24 h: %+v", res)
		}
		e.clock.Add(4 * time.Hour)
		_, err := e.svc.Collect(t.Context(), e.Unlocked, medical(3))
		requireCode(t, err, collect.CodeLimitPassed)
		if _, err := e.svc.Deposit(t.Context(), e.Unlocked, collect.DepositRequest{SlipNo: "B1", Amount: syncproto.Yuan(800)}); err != nil {
			t.Fatal(err)
		}
		e.mustCollect(t, medical(3))
	})
	t.Run("ClockBackCountsNoTime", func(t *testing.T) {
		t.Parallel()
		l := collect.Evaluate(localstore.Cash{Count: 1, Sum: 100, Oldest: time.Unix(1000, 0)}, agenttest.Settings(), time.Unix(0, 0))
		if l.Held != 0 || l.Passed() {
			t.Fatalf("limits = %+v", l)
		}
	})
}

func TestVoid(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, agenttest.Settings(), 100)
	ctx := t.Context()
	first := e.mustCollect(t, medical(1)).Collection
	_, err := e.svc.Void(ctx, e.Unlocked, first.ReceiptNo, "  ")
	requireCode(t, err, syncproto.CodeInvalidInput)
	_, err = e.svc.Void(ctx, e.Unlocked, "999999", "wrong person")
	requireCode(t, err, syncproto.CodeNotFound)

	v, err := e.svc.Void(ctx, e.Unlocked, "1001", "收错人了") // leading zeros optional
	if err != nil {
		t.Fatal(err)
	}
	if !v.Voided() || v.VoidReason != "收错人了" || v.ReceiptNo != first.ReceiptNo {
		t.Fatalf("voided = %+v", v)
	}
	_, err = e.svc.Void(ctx, e.Unlocked, first.ReceiptNo, "again")
	requireCode(t, err, collect.CodeAlreadyVoided)

	// The person can pay again; the voided number stays used.
	again := e.mustCollect(t, medical(1)).Collection
	if again.ReceiptNo != "000000001002" {
		t.Fatalf("receipt after a void = %s, want 000000001002", again.ReceiptNo)
	}
	lim, err := e.svc.Limits(ctx)
	if err != nil || lim.Cash != syncproto.Yuan(400) || lim.Count != 1 {
		t.Fatalf("limits = %+v %v", lim, err)
	}
	if _, err := e.svc.Deposit(ctx, e.Unlocked, collect.DepositRequest{SlipNo: "B1", Amount: syncproto.Yuan(400)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Void(ctx, e.Unlocked, again.ReceiptNo, "too late")
	requireCode(t, err, collect.CodeAlreadyDeposited)

	chain := e.Chain(t)
	agenttest.RequireChain(t, chain, e.Public)
	var p syncproto.Void
	if err := json.Unmarshal(chain[1].Payload, &p); err != nil || chain[1].Kind != syncproto.MutationVoid {
		t.Fatal(chain[1].Kind, err)
	}
	if p != (syncproto.Void{CollectionID: first.ID, ReceiptNo: first.ReceiptNo, Reason: "收错人了"}) {
		t.Fatalf("void payload = %+v", p)
	}
}

func TestDeposit(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, agenttest.Settings(), 100)
	ctx := t.Context()
	_, err := e.svc.Deposit(ctx, e.Unlocked, collect.DepositRequest{SlipNo: "B0", Amount: 100})
	requireCode(t, err, collect.CodeNothingToDeposit)
	_, err = e.svc.Deposit(ctx, e.Unlocked, collect.DepositRequest{Amount: 100})
	requireCode(t, err, syncproto.CodeInvalidInput)
	_, err = e.svc.Deposit(ctx, e.Unlocked, collect.DepositRequest{SlipNo: "B0"})
	requireCode(t, err, syncproto.CodeInvalidMoney)

	e.mustCollect(t, medical(1))
	e.mustCollect(t, collect.Request{RosterLineID: agenttest.Line(2, syncproto.KindPension).ID, Grade: syncproto.Yuan(500)})
	voided := e.mustCollect(t, medical(3)).Collection
	if _, err := e.svc.Void(ctx, e.Unlocked, voided.ReceiptNo, "重复"); err != nil {
		t.Fatal(err)
	}
	headBefore := e.Chain(t)[3].Hash
	at := time.Date(2026, 10, 28, 8, 0, 0, 0, time.UTC)
	res, err := e.svc.Deposit(ctx, e.Unlocked, collect.DepositRequest{SlipNo: " 6222-0001 ", Amount: syncproto.Yuan(899), DepositedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Deposit
	if d.Count != 2 || d.Sum != syncproto.Yuan(900) || d.Amount != syncproto.Yuan(899) || d.SlipNo != "6222-0001" ||
		d.ChainHead != headBefore || !d.DepositedAt.Equal(at) {
		t.Fatalf("deposit = %+v", d)
	}
	if !hasWarning(res.Warnings, collect.WarnDepositMismatch) {
		t.Fatalf("no mismatch warning: %+v", res.Warnings)
	}
	chain := e.Chain(t)
	agenttest.RequireChain(t, chain, e.Public)
	var p syncproto.Deposit
	if err := json.Unmarshal(chain[4].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Count != 2 || p.Sum != syncproto.Yuan(900) || p.ChainHead != chain[4].PrevHash || !p.DepositedAt.Equal(at) {
		t.Fatalf("deposit payload = %+v", p)
	}
	lim, err := e.svc.Limits(ctx)
	if err != nil || lim.Count != 0 || lim.Cash != 0 {
		t.Fatalf("after the deposit: %+v %v", lim, err)
	}
	_, err = e.svc.Deposit(ctx, e.Unlocked, collect.DepositRequest{SlipNo: "B2", Amount: 100})
	requireCode(t, err, collect.CodeNothingToDeposit)
	// The exact amount gives no warning.
	e.mustCollect(t, medical(4))
	res, err = e.svc.Deposit(ctx, e.Unlocked, collect.DepositRequest{SlipNo: "B3", Amount: syncproto.Yuan(400)})
	if err != nil || len(res.Warnings) != 0 {
		t.Fatalf("exact deposit: %+v %v", res, err)
	}
}

func TestChain(t *testing.T) {
	t.Parallel()
	e := mustEnv(t, agenttest.Settings(), 100)
	for i := 1; i <= 6; i++ {
		e.mustCollect(t, medical(i))
		if i == 3 {
			e.clock.Add(-2 * time.Hour) // the tablet's clock set back: IDs still increase
		}
	}
	chain := e.Chain(t)
	if len(chain) != 6 {
		t.Fatalf("chain has %d records", len(chain))
	}
	agenttest.RequireChain(t, chain, e.Public)

	t.Run("ErrEditedRecordDetected", func(t *testing.T) {
		edited := chain[2]
		edited.Payload = json.RawMessage(strings.Replace(string(edited.Payload), `"amount":40000`, `"amount":4000`, 1))
		if err := edited.Check(e.Public); syncproto.ErrorCode(err) != syncproto.CodeChainBroken {
			t.Fatalf("edited record: %v", err)
		}
	})
	t.Run("ErrStoreRefusesEdits", func(t *testing.T) {
		if _, err := e.Store.DB.ExecContext(t.Context(), `UPDATE mutation SET payload = x'7b7d' WHERE seq = 2`); err == nil {
			t.Fatal("the store let a hashed column change")
		}
		if _, err := e.Store.DB.ExecContext(t.Context(), `DELETE FROM mutation WHERE seq = 6`); err == nil {
			t.Fatal("the store let a record be deleted")
		}
	})
}
