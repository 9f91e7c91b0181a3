package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"villagesync/server/internal/auth"
	"villagesync/syncproto"
)

// samePersonTwoLines sets up one person with two roster lines: a removed
// line L1, against which tablet a (village A) collected offline (mA, not
// pushed), and the live line L2 that replaced it, which tablet b (village
// A2, no village in common with a) pays against. Pushes of a and b share
// no roster line and no village: only the person ties them.
func samePersonTwoLines(t *testing.T, f *fixture) (a, b *tablet, mA syncproto.Mutation, l2 string) {
	t.Helper()
	variant := 0
	imp := func(people ...int) {
		variant++
		var sb strings.Builder
		sb.WriteString("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n")
		for _, k := range people {
			name := fmt.Sprintf("居民201-%03d", k-1)
			if k != 1 {
				name += string(rune(0x7532 + variant)) // a change, so each import applies
			}
			fmt.Fprintf(&sb, "%s,%s,%s,医疗,一般,2026,400.00,0\n", name, residentID(k), vilA)
		}
		f.do(http.MethodPost, "/api/v1/rosters?filename=r.csv", f.token[auth.RoleMedsec], rawBody{sb.String()}, http.StatusCreated, nil)
	}
	lineOf := func(tb *tablet) string {
		for _, l := range tb.lines(syncproto.KindMedical) {
			if l.Name == "居民201-000" {
				return l.ID
			}
		}
		t.Fatal("no line of person 1")
		return ""
	}
	imp(1, 2)
	a = f.newTablet("agent-ra", vilA)
	a.pullAll(1000)
	l1 := lineOf(a)
	mA = a.collect(l1, 0)
	imp(2)    // person 1 removed: L1 kept in roster_removed
	imp(1, 2) // and back: a new line L2
	a.pullAll(1000)
	if l2 = lineOf(a); l2 == l1 {
		t.Fatal("the person came back on the same line")
	}
	b = f.newTablet("agent-rb", vilA2)
	b.pullAll(1000)
	b.replica[syncproto.EntityRosterEntry+"/"+l2] = a.replica[syncproto.EntityRosterEntry+"/"+l2]
	return a, b, mA, l2
}

// waitLocked waits until n sessions of the test's database wait on a lock.
func waitLocked(t *testing.T, f *fixture, n int) {
	t.Helper()
	for range 1000 {
		var k int
		f.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&k)
		if k >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d sessions never waited on a lock", n)
}

// holdLock takes a row lock in a transaction of its own, as an approval
// or the cut would, until release is called (or the test ends).
func holdLock(t *testing.T, f *fixture, sql string, arg any) (release func()) {
	t.Helper()
	tx, err := f.db.Pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(t.Context(), sql, arg); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(t.Context()); err != nil {
			t.Error(err)
		}
	}
}

func collectionFlags(t *testing.T, f *fixture, id string) []string {
	t.Helper()
	var fl []string
	if err := f.db.Pool.QueryRow(t.Context(), `SELECT flags FROM collection WHERE id = $1`, id).Scan(&fl); err != nil {
		t.Fatal(err)
	}
	return fl
}

// A push that waits for a stream lock (here a's own, as an approval
// holds it) reads the person's payments after the wait: a payment b
// stored meanwhile, against another line of the same person, is seen and
// both are flagged duplicate. (A read before the wait missed it.)
func TestPushSeesPaymentStoredWhileItWaited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, mA, l2 := samePersonTwoLines(t, f)
	mB := b.collect(l2, 0)
	release := holdLock(t, f, `SELECT 1 FROM device_sync WHERE device_id = $1 FOR UPDATE`, a.id)
	var wg sync.WaitGroup
	wg.Go(func() { a.mustPush(mA) })
	waitLocked(t, f, 1)
	b.mustPush(mB)
	release()
	wg.Wait()
	for _, id := range []string{mA.ID, mB.ID} {
		if fl := collectionFlags(t, f, id); !slices.Contains(fl, "duplicate_payment") {
			t.Errorf("payment %s of a person paid twice has flags %v, no duplicate_payment", id, fl)
		}
	}
}

// A void that waits for a collection lock re-reads the person's payments
// after the wait: b's second payment, stored meanwhile, keeps the person
// paid twice, so b's first stays flagged (a void deciding on a read from
// before the wait cleared the flag of one of two live payments).
func TestPushVoidSeesPaymentStoredWhileItWaited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, mA, l2 := samePersonTwoLines(t, f)
	mB0 := b.collect(l2, 0)
	b.mustPush(mB0)
	a.mustPush(mA) // a duplicate of mB0: both flagged
	// Hold b's first payment a moment, as the cut does.
	release := holdLock(t, f, `SELECT 1 FROM collection WHERE id = $1 FOR UPDATE`, mB0.ID)
	var wg sync.WaitGroup
	mB1 := b.collect(l2, 0)
	wg.Go(func() { b.mustPush(mB1) })
	waitLocked(t, f, 1)
	void := a.mutation(syncproto.MutationVoid, syncproto.Void{CollectionID: mA.ID, ReceiptNo: "x", Reason: "录错了"}, inPeriod)
	wg.Go(func() { a.mustPush(void) })
	waitLocked(t, f, 2)
	release()
	wg.Wait()
	for _, id := range []string{mB0.ID, mB1.ID} {
		if fl := collectionFlags(t, f, id); !slices.Contains(fl, "duplicate_payment") {
			t.Errorf("live payment %s of a person paid twice has flags %v, no duplicate_payment", id, fl)
		}
	}
}
