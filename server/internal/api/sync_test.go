package api_test

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

func count(t *testing.T, f *fixture, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Pool.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A push whose response is lost and is sent again stores nothing twice.
func TestPushExactlyOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(5, vilA)
	tb := f.newTablet("agent-once", vilA)
	cp := tb.pullAll(1000)
	if got := tb.checksum(); got != *cp {
		t.Fatalf("bootstrap replica %+v, server checkpoint %+v", got, *cp)
	}
	lines := tb.lines(syncproto.KindMedical)
	if len(lines) != 5 || len(tb.receipts) == 0 {
		t.Fatalf("bootstrap: %d lines, %d receipt numbers", len(lines), len(tb.receipts))
	}
	ms := []syncproto.Mutation{tb.collect(lines[0].ID, 0), tb.collect(lines[1].ID, 0), tb.collect(lines[2].ID, 0)}
	first := tb.mustPush(ms...)
	if first.AckSeq != 3 || len(first.Outcomes) != 3 || first.Outcomes[0].Status != syncproto.OutcomeStored || len(first.Outcomes[0].Flags) != 0 {
		t.Fatalf("first push: %+v", first)
	}
	again := tb.mustPush(ms...) // the first answer was lost
	for _, o := range again.Outcomes {
		if o.Status != syncproto.OutcomeDuplicate {
			t.Fatalf("re-sent mutation: %+v", o)
		}
	}
	if again.AckSeq != 3 {
		t.Fatalf("ack after re-send: %d", again.AckSeq)
	}
	// A re-send that overlaps new records: old ones no-ops, new one stored.
	next := tb.collect(lines[3].ID, 0)
	mixed := tb.mustPush(append(ms[1:], next)...)
	if mixed.AckSeq != 4 || mixed.Outcomes[2].Status != syncproto.OutcomeStored {
		t.Fatalf("overlapping push: %+v", mixed)
	}
	if n := count(t, f, `SELECT count(*) FROM collection`); n != 4 {
		t.Fatalf("%d collections stored, want 4", n)
	}
	if n := count(t, f, `SELECT count(*) FROM mutation`); n != 4 {
		t.Fatalf("%d mutations stored, want 4", n)
	}
	// The business day is the server's; the tablet's clock is kept beside it.
	var day, dev time.Time
	f.db.Pool.QueryRow(t.Context(), `SELECT business_day, device_time FROM collection WHERE id = $1`, ms[0].ID).Scan(&day, &dev)
	if !dev.Equal(inPeriod) || day.Format(time.DateOnly) != f.clock.Now().In(shanghai(t)).Format(time.DateOnly) {
		t.Fatalf("business day %v, device time %v", day, dev)
	}
	// Pulled back: the roster lines are paid, the collections synced.
	cp = tb.pullAll(1000)
	if got := tb.checksum(); got != *cp {
		t.Fatalf("replica %+v, server %+v", got, *cp)
	}
	paid := 0
	for _, l := range tb.lines(syncproto.KindMedical) {
		if l.Paid {
			paid++
		}
	}
	if paid != 4 {
		t.Fatalf("%d lines paid on the tablet, want 4", paid)
	}
}

func shanghai(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// An edited record, a reordered one, a missing seq and a foreign
// signature are each refused with their own code and raise an alert.
func TestPushChainErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		make func(tb *tablet, lineID string) []syncproto.Mutation
		code syncproto.Code
	}{
		"ErrTampered": {code: syncproto.CodeChainTampered, make: func(tb *tablet, id string) []syncproto.Mutation {
			m := tb.collect(id, 0)
			tb.mustPush(m)
			var c syncproto.Collection
			json.Unmarshal(m.Payload, &c)
			c.Amount = 1 // edited after it was stored, and sealed again
			m.Payload, _ = json.Marshal(c)
			m.Seal(tb.key)
			return []syncproto.Mutation{m}
		}},
		"ErrEditedInTransit": {code: syncproto.CodeChainBroken, make: func(tb *tablet, id string) []syncproto.Mutation {
			m := tb.collect(id, 0)
			m.Payload = []byte(`{"receipt_no":"1","roster_entry_id":"x","kind":"medical","amount":1}`)
			return []syncproto.Mutation{m}
		}},
		"ErrGap": {code: syncproto.CodeChainGap, make: func(tb *tablet, id string) []syncproto.Mutation {
			tb.collect(id, 0) // seq 1 never sent
			return []syncproto.Mutation{tb.collect(id, 0)}
		}},
		"ErrReordered": {code: syncproto.CodeChainBroken, make: func(tb *tablet, id string) []syncproto.Mutation {
			a, b := tb.collect(id, 0), tb.collect(id, 0)
			a.Seq, b.Seq = b.Seq, a.Seq // swapped places in the chain
			return []syncproto.Mutation{b, a}
		}},
		"ErrForeignSignature": {code: syncproto.CodeBadSignature, make: func(tb *tablet, id string) []syncproto.Mutation {
			m := tb.collect(id, 0)
			other := tb.f.newTablet("agent-forger", vilA)
			m.Seal(other.key)
			return []syncproto.Mutation{m}
		}},
		// A push above the batch size: its signatures are checked as a
		// batch, and the push is still refused at its first bad record,
		// whatever fault comes after it.
		"ErrForeignSignatureInBatch": {code: syncproto.CodeBadSignature, make: func(tb *tablet, id string) []syncproto.Mutation {
			ms := tb.collectN(id, 8)
			ms[5].Seal(tb.f.newTablet("agent-forger", vilA).key)
			return ms
		}},
		"ErrForeignSignatureBeforeGap": {code: syncproto.CodeBadSignature, make: func(tb *tablet, id string) []syncproto.Mutation {
			ms := tb.collectN(id, 8)
			ms[2].Seal(tb.f.newTablet("agent-forger", vilA).key)
			return append(ms[:6], ms[7]) // seq 7 missing
		}},
		"ErrGapBeforeForeignSignature": {code: syncproto.CodeChainGap, make: func(tb *tablet, id string) []syncproto.Mutation {
			ms := tb.collectN(id, 8)
			ms[6].Seal(tb.f.newTablet("agent-forger", vilA).key)
			return append(ms[:4], ms[5:]...) // seq 5 missing
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.loadRoster(2, vilA)
			tb := f.newTablet("agent-chain", vilA)
			tb.pullAll(1000)
			ms := tc.make(tb, tb.lines(syncproto.KindMedical)[0].ID)
			before := count(t, f, `SELECT count(*) FROM collection`)
			_, rec := tb.push(ms...)
			if rec.Code != http.StatusConflict && rec.Code != http.StatusBadRequest && rec.Code != http.StatusForbidden {
				t.Fatalf("status %d %s", rec.Code, rec.Body)
			}
			if got := errCode(t, rec); got != string(tc.code) {
				t.Fatalf("code %s, want %s: %s", got, tc.code, rec.Body)
			}
			if n := count(t, f, `SELECT count(*) FROM collection`); n != before {
				t.Fatal("a refused push stored something")
			}
			var alerts struct{ Alerts []store.Alert }
			f.do(http.MethodGet, "/api/v1/sync/alerts", f.token[auth.RoleTownship], nil, http.StatusOK, &alerts)
			if len(alerts.Alerts) != 1 || alerts.Alerts[0].Code != string(tc.code) || alerts.Alerts[0].DeviceID != tb.id {
				t.Fatalf("township alerts: %+v", alerts.Alerts)
			}
			if n := count(t, f, `SELECT count(*) FROM audit_log WHERE action = 'sync_alert' AND target_id = $1`, tb.id); n != 1 {
				t.Fatalf("%d sync_alert audit lines", n)
			}
		})
	}
}

// Two agents collect from the same person offline: both cash records are
// stored, both flagged, both tablets get the notice.
func TestTwoAgentsSamePerson(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(3, vilA)
	a, b := f.newTablet("agent-one", vilA), f.newTablet("agent-two", vilA)
	a.pullAll(1000)
	b.pullAll(1000)
	person := a.lines(syncproto.KindMedical)[0].ID
	ma, mb := a.collect(person, 0), b.collect(person, 0)
	var wg sync.WaitGroup
	var ra, rb syncproto.PushResponse
	wg.Go(func() { ra = a.mustPush(ma) })
	wg.Go(func() { rb = b.mustPush(mb) })
	wg.Wait()
	if ra.Outcomes[0].Status != syncproto.OutcomeStored || rb.Outcomes[0].Status != syncproto.OutcomeStored {
		t.Fatalf("outcomes %+v %+v", ra, rb)
	}
	if n := count(t, f, `SELECT count(*) FROM collection WHERE $1 = ANY(flags)`, "duplicate_payment"); n != 2 {
		t.Fatalf("%d collections flagged duplicate, want both", n)
	}
	for _, tb := range []*tablet{a, b} {
		cp := tb.pullAll(1000)
		if got := tb.checksum(); got != *cp {
			t.Fatalf("replica %+v, server %+v", got, *cp)
		}
		notices := 0
		for key, row := range tb.replica {
			if len(key) > 7 && key[:7] == "notice/" {
				var n syncproto.Notice
				json.Unmarshal(row.data, &n)
				if n.Code == "duplicate_payment" && n.MessageZH != "" {
					notices++
				}
			}
		}
		if notices != 1 {
			t.Fatalf("tablet %s has %d duplicate notices", tb.id, notices)
		}
		var st syncproto.CollectionStatus
		json.Unmarshal(tb.replica["collection/"+map[*tablet]string{a: ma.ID, b: mb.ID}[tb]].data, &st)
		if !slices.Contains(st.Flags, "duplicate_payment") {
			t.Fatalf("tablet %s: its collection status %+v", tb.id, st)
		}
	}
}

// Business problems are flagged, never refused; unusable records are
// kept as rejected and the chain goes on; voids and deposits.
func TestPushFlagsVoidDeposit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(3, vilA)
	tb := f.newTablet("agent-flags", vilA)
	tb.pullAll(1000)
	lines := tb.lines(syncproto.KindMedical)
	wrong := tb.collect(lines[0].ID, 0)
	var c syncproto.Collection
	json.Unmarshal(wrong.Payload, &c)
	tb.seq, tb.prev = 0, syncproto.ZeroHash
	c.Amount = syncproto.Yuan(300) // not the roster's 400
	wrong = tb.mutation(syncproto.MutationCollection, c, inPeriod.AddDate(0, 3, 0))
	junk := tb.mutation(syncproto.MutationCollection, map[string]any{"nonsense": true}, inPeriod)
	good := tb.collect(lines[1].ID, 0)
	void := tb.mutation(syncproto.MutationVoid, syncproto.Void{CollectionID: good.ID, ReceiptNo: "x", Reason: "录错了"}, inPeriod)
	dep := tb.mutation(syncproto.MutationDeposit, syncproto.Deposit{SlipNo: "B-1", Amount: syncproto.Yuan(300),
		DepositedAt: inPeriod, Count: 1, Sum: syncproto.Yuan(300), ChainHead: void.Hash}, inPeriod)
	resp := tb.mustPush(wrong, junk, good, void, dep)
	if resp.AckSeq != 5 {
		t.Fatalf("ack %d: %+v", resp.AckSeq, resp)
	}
	o := resp.Outcomes
	// The tablet's clock says February, but the cash arrived inside the
	// period: a wrong tablet clock alone is not flagged.
	if o[0].Status != syncproto.OutcomeStored || !slices.Contains(o[0].Flags, "amount_mismatch") || slices.Contains(o[0].Flags, "outside_period") {
		t.Fatalf("wrong amount, tablet clock ahead: %+v", o[0])
	}
	if o[1].Status != syncproto.OutcomeRejected || o[1].ReasonZH == "" {
		t.Fatalf("malformed payload: %+v", o[1])
	}
	if o[2].Status != syncproto.OutcomeStored || o[3].Status != syncproto.OutcomeStored || o[4].Status != syncproto.OutcomeStored || len(o[4].Flags) != 0 {
		t.Fatalf("good, void, deposit: %+v", o[2:])
	}
	var status string
	f.db.Pool.QueryRow(t.Context(), `SELECT status FROM collection WHERE id = $1`, good.ID).Scan(&status)
	if status != "voided" {
		t.Fatalf("voided collection has status %s", status)
	}
	var paid bool
	f.db.Pool.QueryRow(t.Context(), `SELECT paid FROM roster_entry WHERE id = $1`, lines[1].ID).Scan(&paid)
	if paid {
		t.Fatal("a voided payment still marks the person paid")
	}
	// A deposit that does not match what the server holds is flagged.
	extra := tb.collect(lines[2].ID, 0)
	bad := tb.mutation(syncproto.MutationDeposit, syncproto.Deposit{SlipNo: "B-2", Amount: syncproto.Yuan(100),
		DepositedAt: inPeriod, Count: 2, Sum: syncproto.Yuan(800), ChainHead: "bogus"}, inPeriod)
	resp = tb.mustPush(extra, bad)
	for _, want := range []string{"deposit_count_mismatch", "deposit_sum_mismatch", "deposit_chain_mismatch", "deposit_slip_mismatch"} {
		if !slices.Contains(resp.Outcomes[1].Flags, want) {
			t.Errorf("deposit flags %v lack %s", resp.Outcomes[1].Flags, want)
		}
	}
}

// Receipt ranges never overlap across devices and are topped up.
func TestReceiptRanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(60, vilA)
	a, b := f.newTablet("agent-r1", vilA), f.newTablet("agent-r2", vilA)
	a.pullAll(1000)
	b.pullAll(1000)
	seen := map[int64]string{}
	for _, tb := range []*tablet{a, b} {
		for _, n := range tb.receipts {
			if other, ok := seen[n]; ok {
				t.Fatalf("receipt %d given to %s and %s", n, other, tb.id)
			}
			seen[n] = tb.id
		}
	}
	start := len(a.receipts)
	var ms []syncproto.Mutation
	lines := a.lines(syncproto.KindMedical)
	if len(lines) != 60 {
		t.Fatalf("replica has %d lines, want 60", len(lines))
	}
	for i := range start - 10 {
		ms = append(ms, a.collect(lines[i%len(lines)].ID, 0)) // repeats are flagged, still cash
	}
	a.mustPush(ms...)
	a.pullAll(1000)
	if len(a.receipts) < 50 {
		t.Fatalf("after using %d numbers the tablet has %d left: no top-up", start-10, len(a.receipts))
	}
}

func TestSyncProtocolHeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tb := f.newTablet("agent-hdr", vilA)
	rec := f.requestWith(http.MethodGet, "/api/v1/sync/pull", tb.token, map[string]string{syncproto.HeaderProtocol: "2"})
	if rec.Code != http.StatusUpgradeRequired || errCode(t, rec) != string(syncproto.CodeProtocolVersion) {
		t.Fatalf("protocol 2: %d %s", rec.Code, rec.Body)
	}
	rec = f.request(http.MethodGet, "/api/v1/sync/pull", f.token[auth.RoleTownship], nil)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("a township user pulled: %d", rec.Code)
	}
}

// The township sees its agents' cash on hand against the dual limits.
func TestCashOnHand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(60, vilA)
	tb := f.newTablet("agent-cash", vilA)
	tb.pullAll(1000)
	var ms []syncproto.Mutation
	for _, l := range tb.lines(syncproto.KindMedical)[:41] { // 41 × 400 = 16,400 of a 20,000 limit: over 80 %
		ms = append(ms, tb.collect(l.ID, 0))
	}
	tb.mustPush(ms...)
	var out struct {
		Agents []struct {
			Username     string `json:"agent_username"`
			Count        int    `json:"count"`
			SumFen       int64  `json:"sum_fen"`
			Warning      bool   `json:"warning"`
			OverLimit    bool   `json:"over_limit"`
			TownshipCode string `json:"township_code"`
		}
	}
	f.do(http.MethodGet, "/api/v1/agents/cash", f.token[auth.RoleTownship], nil, http.StatusOK, &out)
	found := false
	for _, a := range out.Agents {
		if a.TownshipCode != twpX {
			t.Fatalf("township X sees an agent of %s", a.TownshipCode)
		}
		if a.Username == "agent-cash" {
			found = true
			if a.Count != 41 || a.SumFen != 41*40000 || !a.Warning {
				t.Fatalf("agent cash: %+v", a)
			}
		}
	}
	if !found {
		t.Fatalf("agent missing: %+v", out.Agents)
	}
	if rec := f.request(http.MethodGet, "/api/v1/agents/cash?township="+twpY, f.token[auth.RoleTownship], nil); rec.Code != http.StatusForbidden {
		t.Fatalf("township X reads Y's agents: %d", rec.Code)
	}
}

// Findings of review, each pinned by a test.
func TestPushEdgeCases(t *testing.T) {
	t.Parallel()
	t.Run("OKOutboxOfRevokedTablet", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.loadRoster(2, vilA)
		tb := f.newTablet("agent-lost", vilA)
		tb.pullAll(1000)
		m := tb.collect(tb.lines(syncproto.KindMedical)[0].ID, 0)
		f.do(http.MethodPost, "/api/v1/devices/"+tb.id+"/revoke", f.token[auth.RoleTownship], nil, http.StatusNoContent, nil)
		if _, rec := tb.push(m); rec.Code != http.StatusUnauthorized {
			t.Fatalf("a revoked tablet pushed: %d", rec.Code)
		}
		file := syncproto.OutboxFile{DeviceID: tb.id, Mutations: []syncproto.Mutation{m}}
		var resp syncproto.PushResponse
		f.do(http.MethodPost, "/api/v1/devices/"+tb.id+"/outbox", f.token[auth.RoleTownship], file, http.StatusOK, &resp)
		if resp.AckSeq != 1 || resp.Outcomes[0].Status != syncproto.OutcomeStored {
			t.Fatalf("import of a revoked tablet's outbox: %+v", resp)
		}
		if n := count(t, f, `SELECT count(*) FROM audit_log WHERE action = 'outbox_imported'`); n != 1 {
			t.Fatalf("%d outbox_imported audit lines", n)
		}
	})
	t.Run("OKStoredChainVerifies", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.loadRoster(2, vilA)
		tb := f.newTablet("agent-verify", vilA)
		tb.pullAll(1000)
		m := tb.collect(tb.lines(syncproto.KindMedical)[0].ID, 0)
		m.DeviceTime = time.Date(2026, 11, 20, 1, 2, 3, 123456789, time.UTC) // nanoseconds
		tb.seq, tb.prev = 0, syncproto.ZeroHash
		var c syncproto.Collection
		json.Unmarshal(m.Payload, &c)
		m = tb.mutation(syncproto.MutationCollection, c, m.DeviceTime)
		tb.mustPush(m)
		stored, err := f.db.Mutations(t.Context(), tb.id, 1)
		if err != nil || len(stored) != 1 {
			t.Fatal(err)
		}
		s := stored[0]
		dt, _ := time.Parse(time.RFC3339Nano, s.DeviceTimeText)
		again := syncproto.Mutation{ID: s.ID, DeviceID: s.DeviceID, Seq: s.Seq, Kind: syncproto.MutationKind(s.Kind),
			DeviceTime: dt, PrevHash: s.PrevHash, Payload: s.Payload, Hash: s.Hash, Signature: s.Signature}
		if err := again.Check(tb.key.Public().(ed25519.PublicKey)); err != nil {
			t.Fatalf("the stored record no longer proves its tablet: %v", err)
		}
	})
	t.Run("OKOtherVillageFlaggedNotBooked", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.loadRoster(2, vilB)
		tb := f.newTablet("agent-x", vilA)
		// The tablet forges a line of village B (another township) into
		// its collection.
		var line string
		f.db.Pool.QueryRow(t.Context(), `SELECT id FROM roster_entry WHERE village_code = $1 LIMIT 1`, vilB).Scan(&line)
		tb.pullAll(1000)
		m := tb.mutation(syncproto.MutationCollection, syncproto.Collection{ReceiptNo: syncproto.FormatReceipt(tb.receipts[0]),
			RosterEntryID: line, Name: "x", VillageCode: vilB, Kind: syncproto.KindMedical, Year: 2026,
			Category: syncproto.CategoryGeneral, Amount: syncproto.Yuan(400)}, inPeriod)
		resp := tb.mustPush(m)
		if !slices.Contains(resp.Outcomes[0].Flags, "moved_village") {
			t.Fatalf("flags %v", resp.Outcomes[0].Flags)
		}
		var village, township string
		var paid bool
		f.db.Pool.QueryRow(t.Context(), `SELECT village_code, township_code FROM collection WHERE id = $1`, m.ID).Scan(&village, &township)
		f.db.Pool.QueryRow(t.Context(), `SELECT paid FROM roster_entry WHERE id = $1`, line).Scan(&paid)
		if village != vilA || township != twpX || paid {
			t.Fatalf("booked to %s/%s, line of B paid=%v: the tablet wrote outside its area", village, township, paid)
		}
		if n := count(t, f, `SELECT count(*) FROM sync_change WHERE village_code = $1 AND entity_id = $2`, vilB, line); n != 1 {
			t.Fatalf("village B's stream got %d changes for the line, want only the import's", n)
		}
	})
	t.Run("OKRemovedLineStillCatchesDuplicate", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.loadRoster(2, vilA)
		a, b := f.newTablet("agent-ra", vilA), f.newTablet("agent-rb", vilA)
		a.pullAll(1000)
		b.pullAll(1000)
		first := a.lines(syncproto.KindMedical)[0]
		offline := a.collect(first.ID, 0) // made before the line was removed, synced after
		// Remove the person from village A's roster, then re-add under a new line.
		removeAll := "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n居民002-001," + residentID(2) + "," + vilA + ",医疗,一般,2026,400.00,0\n"
		f.do(http.MethodPost, "/api/v1/rosters?filename=cut.csv", f.token[auth.RoleMedsec], rawBody{removeAll}, http.StatusCreated, nil)
		a.mustPush(offline)
		var rid string
		f.db.Pool.QueryRow(t.Context(), `SELECT resident_id FROM collection WHERE id = $1`, offline.ID).Scan(&rid)
		if rid != residentID(1) {
			t.Fatalf("collection on a removed line has resident %q", rid)
		}
		back := removeAll + "居民201-000," + residentID(1) + "," + vilA + ",医疗,一般,2026,400.00,0\n"
		f.do(http.MethodPost, "/api/v1/rosters?filename=back.csv", f.token[auth.RoleMedsec], rawBody{back}, http.StatusCreated, nil)
		b.pullAll(1000)
		var again syncproto.RosterLine
		for _, l := range b.lines(syncproto.KindMedical) {
			if l.Masked[14:] == residentID(1)[14:] {
				again = l
			}
		}
		if again.ID == "" || again.ID == first.ID {
			t.Fatalf("re-added line: %+v", again)
		}
		resp := b.mustPush(b.collect(again.ID, 0))
		if !slices.Contains(resp.Outcomes[0].Flags, "duplicate_payment") {
			t.Fatalf("second payment after remove and re-add not caught: %v", resp.Outcomes[0].Flags)
		}
	})
	t.Run("OKVoidResolvesDuplicate", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.loadRoster(2, vilA)
		a, b := f.newTablet("agent-va", vilA), f.newTablet("agent-vb", vilA)
		a.pullAll(1000)
		b.pullAll(1000)
		line := a.lines(syncproto.KindMedical)[0].ID
		a.mustPush(a.collect(line, 0))
		mb := b.collect(line, 0)
		b.mustPush(mb)
		b.mustPush(b.mutation(syncproto.MutationVoid, syncproto.Void{CollectionID: mb.ID, Reason: "重复收款"}, inPeriod))
		if n := count(t, f, `SELECT count(*) FROM collection WHERE 'duplicate_payment' = ANY(flags) AND status <> 'voided'`); n != 0 {
			t.Fatalf("%d live collections still flagged duplicate after the other was voided", n)
		}
		a.pullAll(1000)
		resolved := false
		for key, row := range a.replica {
			if strings.HasPrefix(key, "notice/") && strings.Contains(string(row.data), "duplicate_resolved") {
				resolved = true
			}
		}
		if !resolved {
			t.Fatal("the remaining payer's tablet was not told the duplicate is resolved")
		}
	})
	t.Run("OKCrossVillagePushesDoNotDeadlock", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.loadRoster(3, vilA, vilA2)
		a, b := f.newTablet("agent-da", vilA), f.newTablet("agent-db", vilA2)
		a.pullAll(1000)
		b.pullAll(1000)
		var la, lb []string
		f.db.Pool.QueryRow(t.Context(), `SELECT array_agg(id ORDER BY id) FROM roster_entry WHERE village_code = $1`, vilA).Scan(&la)
		f.db.Pool.QueryRow(t.Context(), `SELECT array_agg(id ORDER BY id) FROM roster_entry WHERE village_code = $1`, vilA2).Scan(&lb)
		// Each collects from the other's people too (people who moved), so
		// each push touches the other device's collections and stream.
		forge := func(tb *tablet, line, village string) syncproto.Mutation {
			no := tb.receipts[0]
			tb.receipts = tb.receipts[1:]
			return tb.mutation(syncproto.MutationCollection, syncproto.Collection{ReceiptNo: syncproto.FormatReceipt(no),
				RosterEntryID: line, Name: "x", VillageCode: village, Kind: syncproto.KindMedical, Year: 2026,
				Category: syncproto.CategoryGeneral, Amount: syncproto.Yuan(400)}, inPeriod)
		}
		a.mustPush(forge(a, lb[0], vilA))
		b.mustPush(forge(b, la[0], vilA2))
		for range 2 {
			var wg sync.WaitGroup
			var ra, rb *httptest.ResponseRecorder
			ma, mb := forge(a, la[0], vilA), forge(b, lb[0], vilA2)
			wg.Go(func() { _, ra = a.push(ma) })
			wg.Go(func() { _, rb = b.push(mb) })
			wg.Wait()
			if ra.Code != http.StatusOK || rb.Code != http.StatusOK {
				t.Fatalf("concurrent cross-village pushes: %d %s / %d %s", ra.Code, ra.Body, rb.Code, rb.Body)
			}
		}
	})
}

// A change of the pension grades reaches tablets: every pension line is
// sent again with the grades now open to the person.
func TestSettingsChangeReachesTablets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	file := "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n" +
		"张三," + residentID(1) + "," + vilA + ",养老,一般,2026,,0\n"
	f.do(http.MethodPost, "/api/v1/rosters?filename=p.csv", f.token[auth.RoleHRSS], rawBody{file}, http.StatusCreated, nil)
	tb := f.newTablet("agent-grades", vilA)
	tb.pullAll(1000)
	before := tb.lines(syncproto.KindPension)[0].Grades
	if !slices.Contains(before, syncproto.Yuan(300)) {
		t.Fatalf("grades before: %v", before)
	}
	y := settings.Shandong2026Pension("370403")
	y.Grades = slices.DeleteFunc(y.Grades, func(g settings.Grade) bool { return g.Amount == syncproto.Yuan(300) })
	f.do(http.MethodPut, "/api/v1/settings", f.token[auth.RoleAdmin], y, http.StatusOK, nil)
	cp := tb.pullAll(1000)
	if got := tb.checksum(); got != *cp {
		t.Fatalf("replica %+v, server %+v", got, *cp)
	}
	after := tb.lines(syncproto.KindPension)[0].Grades
	if slices.Contains(after, syncproto.Yuan(300)) || len(after) != len(before)-1 {
		t.Fatalf("grades after the change: %v (before %v)", after, before)
	}
}

// A record's payload is hashed and signed byte for byte: a payload in
// another JSON spelling than the server's own (spaces, line breaks,
// escaped characters, members in another order) is stored as sent and
// its hash still checks.
func TestPushPayloadBytesKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(2, vilA)
	tb := f.newTablet("agent-bytes", vilA)
	tb.pullAll(1000)
	m := tb.collect(tb.lines(syncproto.KindMedical)[0].ID, 0)
	var c map[string]any
	if err := json.Unmarshal(m.Payload, &c); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("{\n  \"name\" : \"")
	for _, r := range c["name"].(string) {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	b.WriteString("\"")
	for k, v := range c {
		if k != "name" {
			enc, _ := json.Marshal(v)
			fmt.Fprintf(&b, ",\n  %q :\t%s", k, enc)
		}
	}
	b.WriteString("\n}")
	m.Payload = json.RawMessage(b.String())
	m.Seal(tb.key)
	tb.prev = m.Hash
	// By hand: json.Marshal would compact the payload on the way.
	m.Payload = json.RawMessage(`"PAYLOAD"`)
	enc, _ := json.Marshal(syncproto.PushRequest{Mutations: []syncproto.Mutation{m}})
	body := strings.Replace(string(enc), `"payload":"PAYLOAD"`, `"payload":`+b.String(), 1)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/sync/push", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(syncproto.HeaderProtocol, "1")
	req.Header.Set("Authorization", "Bearer "+tb.token)
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	var resp syncproto.PushResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusOK || resp.Outcomes[0].Status != syncproto.OutcomeStored {
		t.Fatalf("push: %d %s", rec.Code, rec.Body)
	}
	var stored []byte
	var name string
	f.db.Pool.QueryRow(t.Context(), `SELECT payload FROM mutation WHERE id = $1`, m.ID).Scan(&stored)
	f.db.Pool.QueryRow(t.Context(), `SELECT name FROM collection WHERE id = $1`, m.ID).Scan(&name)
	if string(stored) != b.String() || name != c["name"] {
		t.Fatalf("stored payload %q, name %q; sent %q, name %q", stored, name, b.String(), c["name"])
	}
}

// The body limit holds for the inflated body too: a gzip body far under
// the limit that inflates past it is refused with request_too_large; the
// same body inflating to under the limit is read whole and answered.
func TestPushInflatedBodyLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // body limit 1M
	tb := f.newTablet("agent-inflate", vilA)
	push := func(padding int) *httptest.ResponseRecorder {
		var zipped bytes.Buffer
		zw := gzip.NewWriter(&zipped)
		zw.Write([]byte(`{"mutations":[]` + strings.Repeat(" ", padding) + `}`))
		zw.Close()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sync/push", &zipped)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set(syncproto.HeaderProtocol, "1")
		req.Header.Set("Authorization", "Bearer "+tb.token)
		rec := httptest.NewRecorder()
		f.e.ServeHTTP(rec, req)
		return rec
	}
	if rec := push(900 << 10); rec.Code != http.StatusOK {
		t.Fatalf("inflated 900 KiB: %d %s", rec.Code, rec.Body)
	}
	rec := push(4 << 20)
	var e struct{ Error struct{ Code syncproto.Code } }
	json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != http.StatusRequestEntityTooLarge || e.Error.Code != syncproto.CodeTooLarge {
		t.Fatalf("inflated 4 MiB: %d %s, want 413 %s", rec.Code, rec.Body, syncproto.CodeTooLarge)
	}
}
