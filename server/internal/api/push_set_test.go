package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"villagesync/syncproto"
)

// A push decides in Go and writes at its end: duplicates within one push
// and across pushes and devices, voids of collections of the same push
// that resolve a duplicate or unmark a paid line, a deposit in the middle
// of a push (which reads what the push wrote before it) and collections
// after it. The whole database state is pinned: flags, statuses, change
// numbers in every stream (gapless, in the order the decisions were
// made), notices, paid flags, counters — and both tablets' replicas equal
// the server's checkpoint.
func TestPushSetBasedState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(7, vilA)
	a, b := f.newTablet("agent-set-a", vilA), f.newTablet("agent-set-b", vilA)
	a.pullAll(1000)
	b.pullAll(1000)
	lines := a.lines(syncproto.KindMedical)
	slices.SortFunc(lines, func(x, y syncproto.RosterLine) int { return strings.Compare(x.Name, y.Name) })
	label := map[string]string{}
	for i, l := range lines {
		label[l.ID] = fmt.Sprintf("L%d", i)
	}
	named := func(name string, m syncproto.Mutation) syncproto.Mutation {
		label[m.ID] = name
		return m
	}
	void := func(tb *tablet, name, id string) syncproto.Mutation {
		return named(name, tb.mutation(syncproto.MutationVoid, syncproto.Void{CollectionID: id, ReceiptNo: "x", Reason: "录错了"}, inPeriod))
	}

	// Push 1 (A): two first payments.
	a0 := named("a0", a.collect(lines[0].ID, 0))
	a1 := named("a1", a.collect(lines[1].ID, 0))
	r1 := a.mustPush(a0, a1)

	// Push 2 (B): a duplicate of A's earlier cash, a duplicate within
	// the push, a payment voided in the same push, a deposit, then a
	// duplicate pair of which the first is voided, a void of nothing,
	// another duplicate of A's.
	b0 := named("b0", b.collect(lines[0].ID, 0))
	b2 := named("b2", b.collect(lines[2].ID, 0))
	b2x := named("b2x", b.collect(lines[2].ID, 0))
	b3 := named("b3", b.collect(lines[3].ID, 0))
	vb3 := void(b, "vb3", b3.ID)
	dep := named("dep", b.mutation(syncproto.MutationDeposit, syncproto.Deposit{SlipNo: "S-1", Amount: syncproto.Yuan(1200),
		DepositedAt: inPeriod, Count: 3, Sum: syncproto.Yuan(1200), ChainHead: vb3.Hash}, inPeriod))
	b4 := named("b4", b.collect(lines[4].ID, 0))
	b4x := named("b4x", b.collect(lines[4].ID, 0))
	vb4 := void(b, "vb4", b4.ID)
	vnone := void(b, "vnone", a1.ID) // A's collection: not this tablet's
	b1 := named("b1", b.collect(lines[1].ID, 0))
	r2 := b.mustPush(b0, b2, b2x, b3, vb3, dep, b4, b4x, vb4, vnone, b1)

	// Push 3 (A): the void of A's first payment resolves B's duplicate;
	// a collection voided twice in one push; cash from a person the
	// roster says paid elsewhere; a receipt number used again.
	va0 := void(a, "va0", a0.ID)
	a5 := named("a5", a.collect(lines[5].ID, 0))
	va5 := void(a, "va5", a5.ID)
	va5x := void(a, "va5x", a5.ID)
	// The roster says L6 paid through another channel.
	if _, err := f.db.Pool.Exec(t.Context(), `UPDATE roster_entry SET paid = true WHERE id = $1`, lines[6].ID); err != nil {
		t.Fatal(err)
	}
	a6 := named("a6", a.collect(lines[6].ID, 0))
	// Receipt numbers used again: a1's (an earlier push), twice.
	var c1 syncproto.Collection
	json.Unmarshal(a1.Payload, &c1)
	used, _ := strconv.ParseInt(c1.ReceiptNo, 10, 64)
	a.receipts = append([]int64{used, used}, a.receipts...)
	a7 := named("a7", a.collect(lines[3].ID, 0))
	a8 := named("a8", a.collect(lines[3].ID, 0))
	r3 := a.mustPush(va0, a5, va5, va5x, a6, a7, a8)

	var got []string
	for i, r := range []syncproto.PushResponse{r1, r2, r3} {
		for _, o := range r.Outcomes {
			got = append(got, fmt.Sprintf("push%d %s %s %s %v", i+1, label[o.ID], o.Status, o.Code, o.Flags))
		}
	}
	dev := map[string]string{a.id: "A", b.id: "B"}
	noticeOf := map[string]string{}
	rows, err := f.db.Pool.Query(t.Context(), `SELECT id, device_id, coalesce(collection_id, ''), code, change_seq FROM notice ORDER BY device_id, change_seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, d, c, code string
		var seq int64
		rows.Scan(&id, &d, &c, &code, &seq)
		noticeOf[id] = fmt.Sprintf("notice(%s %s)", label[c], code)
		got = append(got, fmt.Sprintf("notice %s %d %s %s", dev[d], seq, label[c], code))
	}
	rows.Close()
	name := func(entity, id string) string {
		if l, ok := label[id]; ok {
			return l
		}
		if n, ok := noticeOf[id]; ok {
			return n
		}
		return entity
	}
	for _, q := range []string{
		`SELECT 'device_change', device_id, seq, entity, entity_id FROM device_change WHERE entity <> 'receipt_range' AND device_id = ANY($1) AND $2::text IS NOT NULL ORDER BY device_id, seq`,
		`SELECT 'sync_change', village_code, seq, entity, entity_id FROM sync_change WHERE village_code = $2 AND $1::text[] IS NOT NULL ORDER BY seq`,
	} {
		rows, err := f.db.Pool.Query(t.Context(), q, []string{a.id, b.id}, vilA)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var kind, stream, entity, id string
			var seq int64
			rows.Scan(&kind, &stream, &seq, &entity, &id)
			if s, ok := dev[stream]; ok {
				stream = s
			} else if stream == vilA {
				stream = "vilA"
			}
			got = append(got, fmt.Sprintf("%s %s %d %s %s", kind, stream, seq, entity, name(entity, id)))
		}
		rows.Close()
	}
	rows, err = f.db.Pool.Query(t.Context(), `SELECT id, device_id, status, flags, coalesce(deposit_id, ''), change_seq,
		voided_at IS NOT NULL, coalesce(void_reason, '') FROM collection ORDER BY seq, device_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, d, status, deposit, reason string
		var flags []string
		var seq int64
		var voided bool
		rows.Scan(&id, &d, &status, &flags, &deposit, &seq, &voided, &reason)
		got = append(got, fmt.Sprintf("collection %s %s %s %v deposit=%s change=%d voided=%v %s", label[id], dev[d], status, flags, label[deposit], seq, voided, reason))
	}
	rows.Close()
	rows, err = f.db.Pool.Query(t.Context(), `SELECT id, paid, change_seq FROM roster_entry WHERE village_code = $1 ORDER BY id`, vilA)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var paid bool
		var seq int64
		rows.Scan(&id, &paid, &seq)
		got = append(got, fmt.Sprintf("roster %s paid=%v change=%d", label[id], paid, seq))
	}
	rows.Close()
	var villageLast int64
	f.db.Pool.QueryRow(t.Context(), `SELECT last_seq FROM village_sync WHERE village_code = $1`, vilA).Scan(&villageLast)
	got = append(got, fmt.Sprintf("village_sync %d", villageLast))
	for _, tb := range []*tablet{a, b} {
		var last, maxSeq int64
		var n int
		f.db.Pool.QueryRow(t.Context(), `SELECT s.last_seq, (SELECT max(seq) FROM device_change WHERE device_id = $1),
			(SELECT count(*) FROM device_change WHERE device_id = $1) FROM device_sync s WHERE device_id = $1`, tb.id).Scan(&last, &maxSeq, &n)
		if last != maxSeq || int64(n) != last {
			t.Errorf("device %s: counter %d, highest change %d, %d changes (not gapless)", dev[tb.id], last, maxSeq, n)
		}
		cp := tb.pullAll(1000)
		if c := tb.checksum(); c != *cp {
			t.Errorf("device %s: replica %+v, server %+v", dev[tb.id], c, *cp)
		}
	}
	// Pinned from the push that wrote row by row (commit 44f6fa1), run on
	// the same pushes: the set-based push must leave the same state.
	want := strings.Split(strings.TrimSpace(pushSetWant), "\n")
	for i := range got {
		got[i] = strings.TrimSpace(got[i])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("state after the pushes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const pushSetWant = `
collection a0 A voided [duplicate_payment] deposit= change=8 voided=true 录错了
collection a1 A synced [duplicate_payment] deposit= change=6 voided=false
collection a5 A voided [] deposit= change=10 voided=true 录错了
collection a6 A synced [paid_elsewhere] deposit= change=11 voided=false
collection a7 A synced [receipt_reused duplicate_payment] deposit= change=18 voided=false
collection a8 A synced [receipt_reused duplicate_payment] deposit= change=15 voided=false
collection b0 B synced [] deposit=dep change=21 voided=false
collection b1 B synced [duplicate_payment] deposit= change=19 voided=false
collection b2 B synced [duplicate_payment] deposit=dep change=7 voided=false
collection b2x B synced [duplicate_payment] deposit=dep change=5 voided=false
collection b3 B voided [] deposit=dep change=10 voided=true 录错了
collection b4 B voided [duplicate_payment] deposit= change=16 voided=true 录错了
collection b4x B synced [] deposit= change=17 voided=false
device_change A 10 collection a5
device_change A 11 collection a6
device_change A 12 notice notice(a6 paid_elsewhere)
device_change A 13 collection a7
device_change A 14 notice notice(a7 receipt_reused)
device_change A 15 collection a8
device_change A 16 notice notice(a8 receipt_reused)
device_change A 17 notice notice(a8 duplicate_payment)
device_change A 18 collection a7
device_change A 19 notice notice(a7 duplicate_payment)
device_change A 2 collection a0
device_change A 3 collection a1
device_change A 4 collection a0
device_change A 5 notice notice(a0 duplicate_payment)
device_change A 6 collection a1
device_change A 7 notice notice(a1 duplicate_payment)
device_change A 8 collection a0
device_change A 9 collection a5
device_change B 10 collection b3
device_change B 11 collection b4
device_change B 12 collection b4x
device_change B 13 notice notice(b4x duplicate_payment)
device_change B 14 collection b4
device_change B 15 notice notice(b4 duplicate_payment)
device_change B 16 collection b4
device_change B 17 collection b4x
device_change B 18 notice notice(b4x duplicate_resolved)
device_change B 19 collection b1
device_change B 2 collection b0
device_change B 20 notice notice(b1 duplicate_payment)
device_change B 21 collection b0
device_change B 22 notice notice(b0 duplicate_resolved)
device_change B 3 notice notice(b0 duplicate_payment)
device_change B 4 collection b2
device_change B 5 collection b2x
device_change B 6 notice notice(b2x duplicate_payment)
device_change B 7 collection b2
device_change B 8 notice notice(b2 duplicate_payment)
device_change B 9 collection b3
notice A 12 a6 paid_elsewhere
notice A 14 a7 receipt_reused
notice A 16 a8 receipt_reused
notice A 17 a8 duplicate_payment
notice A 19 a7 duplicate_payment
notice A 5 a0 duplicate_payment
notice A 7 a1 duplicate_payment
notice B 13 b4x duplicate_payment
notice B 15 b4 duplicate_payment
notice B 18 b4x duplicate_resolved
notice B 20 b1 duplicate_payment
notice B 22 b0 duplicate_resolved
notice B 3 b0 duplicate_payment
notice B 6 b2x duplicate_payment
notice B 8 b2 duplicate_payment
push1 a0 stored  []
push1 a1 stored  []
push2 b0 stored  [duplicate_payment]
push2 b1 stored  [duplicate_payment]
push2 b2 stored  []
push2 b2x stored  [duplicate_payment]
push2 b3 stored  []
push2 b4 stored  []
push2 b4x stored  [duplicate_payment]
push2 dep stored  []
push2 vb3 stored  []
push2 vb4 stored  []
push2 vnone rejected not_found []
push3 a5 stored  []
push3 a6 stored  [paid_elsewhere]
push3 a7 stored  [receipt_reused]
push3 a8 stored  [receipt_reused duplicate_payment]
push3 va0 stored  []
push3 va5 stored  []
push3 va5x stored  []
roster L0 paid=true change=8
roster L1 paid=true change=9
roster L2 paid=true change=10
roster L3 paid=true change=16
roster L4 paid=true change=13
roster L5 paid=false change=15
roster L6 paid=true change=7
sync_change vilA 1 roster_entry L0
sync_change vilA 10 roster_entry L2
sync_change vilA 11 roster_entry L3
sync_change vilA 12 roster_entry L3
sync_change vilA 13 roster_entry L4
sync_change vilA 14 roster_entry L5
sync_change vilA 15 roster_entry L5
sync_change vilA 16 roster_entry L3
sync_change vilA 2 roster_entry L1
sync_change vilA 3 roster_entry L2
sync_change vilA 4 roster_entry L3
sync_change vilA 5 roster_entry L4
sync_change vilA 6 roster_entry L5
sync_change vilA 7 roster_entry L6
sync_change vilA 8 roster_entry L0
sync_change vilA 9 roster_entry L1
village_sync 16
`
