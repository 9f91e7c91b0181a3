package api_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

type batchView struct {
	Batch    remit.Batch
	Lines    []remit.Line
	Deposits remit.DepositCoverage
}

func (f *fixture) batchView(token, id string) batchView {
	f.t.Helper()
	var v batchView
	f.do(http.MethodGet, "/api/v1/batches/"+id, token, nil, http.StatusOK, &v)
	return v
}

func (f *fixture) cut(token, township, day string) remit.Batch {
	f.t.Helper()
	rec := f.request(http.MethodPost, "/api/v1/batches/cut", token, map[string]string{"township": township, "date": day})
	if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
		f.t.Fatalf("cut %s %s: %d %s\n%s", township, day, rec.Code, rec.Body, grepLines(f.logs.String(), `"level":"ERROR"`))
	}
	var out struct{ Batch remit.Batch }
	json.Unmarshal(rec.Body.Bytes(), &out)
	return out.Batch
}

func (f *fixture) login(user string) string {
	f.t.Helper()
	var pair auth.TokenPair
	f.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": user, "password": pw}, http.StatusOK, &pair)
	return pair.AccessToken
}

// A whole day against a real PostgreSQL: three villages, two agents each,
// collections before and after the cutoff, a void, a duplicate, deposits,
// cut, approval (one batch rejected once and corrected), export in three
// formats, posting, reconciliation — and the money adds up in every view.
func TestWholeDay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := pw
	if _, err := f.svc.CreateUser(auth.WithPrincipal(t.Context(), auth.Principal{Role: auth.RoleAdmin}), auth.Principal{Role: auth.RoleAdmin},
		auth.UserInput{Username: "twpy", Role: auth.RoleTownship, TownshipCode: twpY, Password: &p}); err != nil {
		t.Fatal(err)
	}
	twpXToken, twpYToken, tax := f.token[auth.RoleTownship], f.login("twpy"), f.token[auth.RoleTax]
	f.loadRoster(6, vilA, vilA2, vilB)
	a1, a2 := f.newTablet("agent-a1", vilA), f.newTablet("agent-a2", vilA2)
	b1, b2 := f.newTablet("agent-b1", vilB), f.newTablet("agent-b2", vilB)
	for _, tb := range []*tablet{a1, a2, b1, b2} {
		tb.pullAll(1000)
	}
	la, la2, lb := a1.lines(syncproto.KindMedical), a2.lines(syncproto.KindMedical), b1.lines(syncproto.KindMedical)

	// Morning of 2026-11-20 (the fixture's clock: 12:00 in Shanghai).
	p1, p2 := a1.collect(la[0].ID, 0), a1.collect(la[1].ID, 0)
	a1.mustPush(p1, p2, a1.mutation(syncproto.MutationVoid, syncproto.Void{CollectionID: p2.ID, Reason: "录错了"}, inPeriod))
	q1 := a2.collect(la2[0].ID, 0)
	a2.mustPush(q1)
	r1 := b1.collect(lb[0].ID, 0)
	b1.mustPush(r1)
	dup, r2 := b2.collect(lb[0].ID, 0), b2.collect(lb[1].ID, 0) // the same person as r1: a duplicate
	b2.mustPush(dup, r2)
	deposit := func(tb *tablet, n int, sum syncproto.Money) {
		tb.mustPush(tb.mutation(syncproto.MutationDeposit, syncproto.Deposit{SlipNo: "B-" + tb.id[20:], Amount: sum,
			DepositedAt: inPeriod, Count: n, Sum: sum, ChainHead: tb.prev}, inPeriod))
	}
	deposit(a1, 1, syncproto.Yuan(400))
	deposit(a2, 1, syncproto.Yuan(400))
	deposit(b1, 1, syncproto.Yuan(400))
	deposit(b2, 2, syncproto.Yuan(800))

	a1.pullAll(1000)
	cursor := a1.cursor
	// The day is cut (on demand, as at the cutoff). A collection arriving
	// after it waits for the next batch.
	bx := f.cut(twpXToken, twpX, "2026-11-20")
	by := f.cut(twpYToken, twpY, "2026-11-20")
	if again := f.cut(twpXToken, twpX, "2026-11-20"); again.ID != bx.ID {
		t.Fatal("cutting the same township and day twice made a new batch")
	}
	// The cut tells the tablets nothing: "batched" is the server's
	// bookkeeping, so their replicas stay equal to the server's without a
	// change, and the township's approval is what they are told.
	statusOf := func(tb *tablet, id string) string {
		tb.pullAll(1000)
		var st syncproto.CollectionStatus
		json.Unmarshal(tb.replica["collection/"+id].data, &st)
		return st.Status
	}
	if cp := a1.pullAll(1000); a1.cursor != cursor || *cp != a1.checksum() || statusOf(a1, p1.ID) != "synced" {
		t.Fatalf("after the cut the tablet pulled changes or differs: cursor %s -> %s, status %s", cursor, a1.cursor, statusOf(a1, p1.ID))
	}

	late := a1.collect(la[2].ID, 0)
	a1.mustPush(late)
	if bx.Count != 2 || bx.Total != syncproto.Yuan(800) || by.Count != 3 || by.Total != syncproto.Yuan(1200) {
		t.Fatalf("batches: X %d/%s, Y %d/%s", bx.Count, bx.Total, by.Count, by.Total)
	}

	// X approves; Y rejects (the duplicate), the agent voids it, Y re-cuts and approves.
	if rec := f.request(http.MethodPost, "/api/v1/batches/"+bx.ID+"/approve", twpYToken, map[string]string{}); rec.Code != http.StatusForbidden {
		t.Fatalf("township Y approved X's batch: %d", rec.Code)
	}
	f.do(http.MethodPost, "/api/v1/batches/"+bx.ID+"/approve", twpXToken, map[string]string{}, http.StatusOK, nil)
	if got := statusOf(a1, p1.ID); got != "approved" {
		t.Fatalf("after the approval the tablet sees %s", got)
	}
	f.do(http.MethodPost, "/api/v1/batches/"+by.ID+"/reject", twpYToken, map[string]string{"reason": "重复收款，请作废后重报"}, http.StatusOK, nil)
	b2.mustPush(b2.mutation(syncproto.MutationVoid, syncproto.Void{CollectionID: dup.ID, Reason: "重复收款"}, inPeriod))
	by2 := f.cut(twpYToken, twpY, "2026-11-20")
	if by2.ID == by.ID || by2.Revision != 2 || by2.Count != 2 || by2.Total != syncproto.Yuan(800) {
		t.Fatalf("corrected batch: %+v", by2)
	}
	// Deposits of Y cover the batch (the voided duplicate's cash was
	// deposited too, so the deposits exceed it: approval goes through).
	f.do(http.MethodPost, "/api/v1/batches/"+by2.ID+"/approve", twpYToken, map[string]string{}, http.StatusOK, nil)

	// The tax office downloads X in all three formats; the totals match.
	var sums []string
	for _, format := range []string{"csv", "xlsx", "json"} {
		rec := f.request(http.MethodGet, "/api/v1/batches/"+bx.ID+"/export?format="+format, tax, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("export %s: %d %s", format, rec.Code, rec.Body)
		}
		h := sha256.Sum256(rec.Body.Bytes())
		if got := rec.Header().Get("X-Content-SHA256"); got != hex.EncodeToString(h[:]) {
			t.Fatalf("%s: SHA-256 header %s does not match the file", format, got)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("%s: a file of full ID numbers may be cached: Cache-Control %q", format, cc)
		}
		sums = append(sums, format)
		switch format {
		case "csv":
			text := rec.Body.String()
			if !strings.HasPrefix(text, "\ufeff序号,批次号") || !strings.Contains(text, "800.00") {
				t.Fatalf("CSV export:\n%s", text)
			}
		case "xlsx":
			x, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			rows, _ := x.GetRows(x.GetSheetList()[0])
			if len(rows) < 3 || rows[0][0] != "序号" || !strings.Contains(strings.Join(rows[len(rows)-1], ","), "800") {
				t.Fatalf("XLSX export rows: %v", rows)
			}
		case "json":
			var doc struct {
				Lines  []remit.Line
				Totals struct {
					Count int
					Total syncproto.Money
				}
			}
			json.Unmarshal(rec.Body.Bytes(), &doc)
			if len(doc.Lines) != 2 || doc.Totals.Total != syncproto.Yuan(800) {
				t.Fatalf("JSON export: %+v", doc.Totals)
			}
		}
	}
	if v := f.batchView(tax, bx.ID); v.Batch.State != remit.StateExported {
		t.Fatalf("after download X is %s", v.Batch.State)
	}
	zipRec := f.request(http.MethodGet, "/api/v1/batches/export.zip?date=2026-11-20", tax, nil)
	zr, err := zip.NewReader(bytes.NewReader(zipRec.Body.Bytes()), int64(zipRec.Body.Len()))
	if zipRec.Code != http.StatusOK || err != nil || len(zr.File) != 1 { // Y's approved batch; X is exported already
		t.Fatalf("day ZIP: %d %v", zipRec.Code, err)
	}

	// Posting: X fully, Y with one line in error.
	vx := f.batchView(tax, bx.ID)
	var post strings.Builder
	post.WriteString("序号,收据号,完税凭证号,入库日期,错误信息\n")
	for _, l := range vx.Lines {
		fmt.Fprintf(&post, "%d,%s,V%s,2026-11-20,\n", l.No, l.ReceiptNo, l.ReceiptNo)
	}
	f.do(http.MethodPost, "/api/v1/batches/"+bx.ID+"/postings?filename=x.csv", tax, rawBody{post.String()}, http.StatusOK, nil)
	var again remit.PostResult
	f.do(http.MethodPost, "/api/v1/batches/"+bx.ID+"/postings?filename=x.csv", tax, rawBody{post.String()}, http.StatusOK, &again)
	if again.Applied {
		t.Fatal("the same posting file was applied twice")
	}
	f.request(http.MethodGet, "/api/v1/batches/"+by2.ID+"/export?format=csv", tax, nil)
	vy := f.batchView(tax, by2.ID)
	bad := "序号,完税凭证号,入库日期,错误信息\n99,V1,2026-11-20,\n"
	if rec := f.request(http.MethodPost, "/api/v1/batches/"+by2.ID+"/postings?filename=bad.csv", tax, rawBody{bad}); rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("posting a line that does not exist: %d %s", rec.Code, rec.Body)
	}
	partial := fmt.Sprintf("序号,完税凭证号,入库日期,错误信息\n%d,V-Y1,2026-11-20,\n%d,,,身份证号与登记信息不符\n", vy.Lines[0].No, vy.Lines[1].No)
	f.do(http.MethodPost, "/api/v1/batches/"+by2.ID+"/postings?filename=y.csv", tax, rawBody{partial}, http.StatusOK, nil)
	if v := f.batchView(tax, bx.ID); v.Batch.State != remit.StatePosted {
		t.Fatalf("X after posting: %s", v.Batch.State)
	}
	if v := f.batchView(tax, by2.ID); v.Batch.State != remit.StatePartiallyPosted {
		t.Fatalf("Y after posting: %s", v.Batch.State)
	}

	// Reconciliation of the day: no discrepancy, and the money adds up.
	var rec remit.Reconciliation
	f.do(http.MethodGet, "/api/v1/reconciliation?date=2026-11-20", tax, nil, http.StatusOK, &rec)
	if !rec.Balanced || len(rec.Discrepancies) != 0 {
		t.Fatalf("reconciliation: %+v", rec)
	}
	var collected, batched, unbatched int64
	for _, tw := range rec.Townships {
		collected += tw.Collected.Fen
		batched += tw.Batched.Fen
		unbatched += tw.Unbatched.Fen
	}
	// Tablets: p1, q1, late (X); r1, r2 (Y) — 5 × 400, voided ones out.
	if collected != 5*40000 || batched != int64(bx.Total+by2.Total) || unbatched != 40000 {
		t.Fatalf("collected %d, batched %d, unbatched %d", collected, batched, unbatched)
	}
	// The next day's cut takes the late collection.
	next := f.cut(twpXToken, twpX, "2026-11-21")
	if next.Count != 1 || next.Total != syncproto.Yuan(400) {
		t.Fatalf("next day's batch: %+v", next)
	}
	// The statuses travel back to the tablets.
	a1.pullAll(1000)
	var st syncproto.CollectionStatus
	json.Unmarshal(a1.replica["collection/"+p1.ID].data, &st)
	if st.Status != "posted" {
		t.Fatalf("the tablet sees its posted collection as %s", st.Status)
	}
	_ = sums

	// The village's publicity list: posted payments, masked IDs, no categories.
	pub := f.request(http.MethodGet, "/api/v1/villages/"+vilA+"/publicity?year=2026", twpXToken, nil)
	html := pub.Body.String()
	if pub.Code != http.StatusOK || !strings.Contains(html, la[0].Name) || !strings.Contains(html, la[0].Masked) ||
		strings.Contains(html, residentID(1)) || strings.Contains(html, "一般") || strings.Contains(html, "低保") {
		t.Fatalf("publicity list: %d\n%.3000s", pub.Code, html)
	}
	// The bureaus' books: medical security sees the medical payments with full IDs.
	paid := f.request(http.MethodGet, "/api/v1/exports/paid?year=2026&format=csv", f.token[auth.RoleMedsec], nil)
	if paid.Code != http.StatusOK || !strings.Contains(paid.Body.String(), residentID(1)) {
		t.Fatalf("paid details: %d\n%s", paid.Code, paid.Body)
	}
	if pension := f.request(http.MethodGet, "/api/v1/exports/paid?year=2026&format=csv", f.token[auth.RoleHRSS], nil); strings.Contains(pension.Body.String(), residentID(1)) {
		t.Fatal("HRSS (pension) sees medical payments")
	}
}

// A duplicate payment in an approved batch is refunded: township asks,
// tax approves, township hands the cash back; the next batch carries a
// reversing line linked to the original, and the tablet sees 已退费.
func TestRefundReversal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	twp, tax := f.token[auth.RoleTownship], f.token[auth.RoleTax]
	f.loadRoster(2, vilA)
	a, b := f.newTablet("agent-ref1", vilA), f.newTablet("agent-ref2", vilA)
	a.pullAll(1000)
	b.pullAll(1000)
	line := a.lines(syncproto.KindMedical)[0].ID
	a.mustPush(a.collect(line, 0))
	dup := b.collect(line, 0)
	b.mustPush(dup)
	batch := f.cut(twp, twpX, "2026-11-20")
	if rec := f.request(http.MethodPost, "/api/v1/batches/"+batch.ID+"/approve", twp, map[string]string{}); rec.Code != http.StatusConflict && rec.Code != http.StatusBadRequest {
		t.Fatalf("approval without deposits: %d %s", rec.Code, rec.Body)
	}
	f.do(http.MethodPost, "/api/v1/batches/"+batch.ID+"/approve", twp, map[string]string{"override_reason": "现金已当面点交镇街"}, http.StatusOK, nil)

	var r struct{ ID, State string }
	f.do(http.MethodPost, "/api/v1/refunds", twp, map[string]string{"collection_id": dup.ID, "reason": "重复缴费"}, http.StatusCreated, &r)
	if rec := f.request(http.MethodPost, "/api/v1/refunds/"+r.ID+"/approve", twp, nil); rec.Code != http.StatusForbidden {
		t.Fatalf("township approved its own refund: %d", rec.Code)
	}
	f.do(http.MethodPost, "/api/v1/refunds/"+r.ID+"/approve", tax, nil, http.StatusOK, nil)
	f.do(http.MethodPost, "/api/v1/refunds/"+r.ID+"/complete", twp, nil, http.StatusOK, nil)

	next := f.cut(twp, twpX, "2026-11-21")
	v := f.batchView(tax, next.ID)
	if len(v.Lines) != 1 || v.Lines[0].Amount != -syncproto.Yuan(400) || v.Lines[0].ReversesLine == "" || !strings.HasPrefix(v.Lines[0].ReversesLine, batch.ID+"#") {
		t.Fatalf("reversing batch: %+v", v.Lines)
	}
	if next.Total != -syncproto.Yuan(400) {
		t.Fatalf("reversing batch total %s", next.Total)
	}
	b.pullAll(1000)
	var st syncproto.CollectionStatus
	json.Unmarshal(b.replica["collection/"+dup.ID].data, &st)
	if st.Status != "refunded" {
		t.Fatalf("the tablet sees the refunded payment as %s", st.Status)
	}
	for _, action := range []string{"refund_requested", "refund_approved", "refund_refunded"} {
		if n := count(t, f, `SELECT count(*) FROM audit_log WHERE action = $1`, action); n != 1 {
			t.Fatalf("%d %s audit lines", n, action)
		}
	}
	var rec remit.Reconciliation
	f.do(http.MethodGet, "/api/v1/reconciliation?date=2026-11-20", tax, nil, http.StatusOK, &rec)
	if !rec.Balanced {
		t.Fatalf("reconciliation after a refund: %+v", rec)
	}
}

// The daily cutoff cuts each township with waiting cash once its cutoff
// (17:00 in Shanghai here) has passed, makes no empty batch, and leaves a
// rejected batch to the township's correction.
func TestDailyCutoff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(2, vilA)
	tb := f.newTablet("agent-cutoff", vilA)
	tb.pullAll(1000)
	tb.mustPush(tb.collect(tb.lines(syncproto.KindMedical)[0].ID, 0))
	svc := remit.NewService(f.db, settings.NewService(f.db), slog.New(slog.DiscardHandler))
	runOnce := func() {
		if err := svc.CutoffOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	runOnce() // 12:00 in Shanghai: before the cutoff
	if n := count(t, f, `SELECT count(*) FROM batch`); n != 0 {
		t.Fatalf("%d batches cut before the cutoff", n)
	}
	f.clock.Add(5*time.Hour + 30*time.Minute) // 17:30
	runOnce()
	runOnce()
	if n := count(t, f, `SELECT count(*) FROM batch`); n != 1 {
		t.Fatalf("%d batches after the cutoff, want one (township X; Y has nothing)", n)
	}
	if n := count(t, f, `SELECT count(*) FROM batch WHERE township_code = $1 AND count = 1`, twpX); n != 1 {
		t.Fatal("township X's batch does not hold its collection")
	}
	if _, err := f.db.Pool.Exec(t.Context(), `UPDATE batch SET state = 'rejected'`); err != nil {
		t.Fatal(err)
	}
	runOnce()
	if n := count(t, f, `SELECT count(*) FROM batch`); n != 1 {
		t.Fatal("the cutoff re-cut a rejected batch by itself")
	}
}

// Findings of the remittance review, each pinned.
func TestRemitEdgeCases(t *testing.T) {
	t.Parallel()
	// duplicatePair: two tablets of village A collect from one person.
	duplicatePair := func(t *testing.T) (*fixture, syncproto.Mutation, syncproto.Mutation) {
		f := newFixture(t)
		f.loadRoster(2, vilA)
		a, b := f.newTablet("agent-e1", vilA), f.newTablet("agent-e2", vilA)
		a.pullAll(1000)
		b.pullAll(1000)
		line := a.lines(syncproto.KindMedical)[0].ID
		first, dup := a.collect(line, 0), b.collect(line, 0)
		a.mustPush(first)
		b.mustPush(dup)
		return f, first, dup
	}
	approveWithRefund := func(t *testing.T, f *fixture, dup syncproto.Mutation) remit.Batch {
		twp := f.token[auth.RoleTownship]
		batch := f.cut(twp, twpX, "2026-11-20")
		f.do(http.MethodPost, "/api/v1/batches/"+batch.ID+"/approve", twp, map[string]string{"override_reason": "现金已点交"}, http.StatusOK, nil)
		var r struct{ ID string }
		f.do(http.MethodPost, "/api/v1/refunds", twp, map[string]string{"collection_id": dup.ID, "reason": "重复缴费"}, http.StatusCreated, &r)
		f.do(http.MethodPost, "/api/v1/refunds/"+r.ID+"/approve", f.token[auth.RoleTax], nil, http.StatusOK, nil)
		f.do(http.MethodPost, "/api/v1/refunds/"+r.ID+"/complete", twp, nil, http.StatusOK, nil)
		return batch
	}
	t.Run("OKReversalSurvivesRejection", func(t *testing.T) {
		t.Parallel()
		f, _, dup := duplicatePair(t)
		approveWithRefund(t, f, dup)
		twp := f.token[auth.RoleTownship]
		rev := f.cut(twp, twpX, "2026-11-21")
		f.do(http.MethodPost, "/api/v1/batches/"+rev.ID+"/reject", twp, map[string]string{"reason": "核对中"}, http.StatusOK, nil)
		again := f.cut(twp, twpX, "2026-11-21")
		if again.ID == rev.ID || again.Count != 1 || again.Total != -syncproto.Yuan(400) {
			t.Fatalf("re-cut after rejecting the reversing batch: %+v", again)
		}
	})
	t.Run("OKExportKeepsRefundedStatus", func(t *testing.T) {
		t.Parallel()
		f, _, dup := duplicatePair(t)
		batch := approveWithRefund(t, f, dup)
		f.request(http.MethodGet, "/api/v1/batches/"+batch.ID+"/export?format=csv", f.token[auth.RoleTax], nil)
		var status string
		f.db.Pool.QueryRow(t.Context(), `SELECT status FROM collection WHERE id = $1`, dup.ID).Scan(&status)
		if status != "refunded" {
			t.Fatalf("after the download the refunded payment is %s", status)
		}
	})
	t.Run("ErrFlaggedDepositCoversNothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.loadRoster(2, vilA)
		tb := f.newTablet("agent-e3", vilA)
		tb.pullAll(1000)
		ls := tb.lines(syncproto.KindMedical)
		tb.mustPush(tb.collect(ls[0].ID, 0), tb.collect(ls[1].ID, 0))
		tb.mustPush(tb.mutation(syncproto.MutationDeposit, syncproto.Deposit{SlipNo: "B-9", Amount: syncproto.Yuan(1),
			DepositedAt: inPeriod, Count: 2, Sum: syncproto.Yuan(800), ChainHead: tb.prev}, inPeriod))
		batch := f.cut(f.token[auth.RoleTownship], twpX, "2026-11-20")
		rec := f.request(http.MethodPost, "/api/v1/batches/"+batch.ID+"/approve", f.token[auth.RoleTownship], map[string]string{})
		if rec.Code != http.StatusConflict || errCode(t, rec) != "deposits_short" {
			t.Fatalf("a 1-yuan slip covered an 800-yuan batch: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("OKRefundBeforeBatching", func(t *testing.T) {
		t.Parallel()
		f, first, dup := duplicatePair(t)
		twp := f.token[auth.RoleTownship]
		var r struct{ ID string }
		f.do(http.MethodPost, "/api/v1/refunds", twp, map[string]string{"collection_id": dup.ID, "reason": "重复缴费"}, http.StatusCreated, &r)
		f.do(http.MethodPost, "/api/v1/refunds/"+r.ID+"/approve", f.token[auth.RoleTax], nil, http.StatusOK, nil)
		batch := f.cut(twp, twpX, "2026-11-20")
		if v := f.batchView(twp, batch.ID); len(v.Lines) != 1 || v.Lines[0].CollectionID != first.ID {
			t.Fatalf("batch lines: %+v", v.Lines)
		}
		var rec remit.Reconciliation
		f.do(http.MethodGet, "/api/v1/reconciliation?date=2026-11-20", twp, nil, http.StatusOK, &rec)
		if !rec.Balanced {
			t.Fatalf("reconciliation with a refund before batching: %+v", rec)
		}
		if got := f.request(http.MethodPost, "/api/v1/batches/cut", twp, map[string]string{"township": twpX, "date": "2026-11-21"}); got.Code != http.StatusConflict {
			t.Fatalf("a day with nothing waiting made a batch: %d %s", got.Code, got.Body)
		}
	})
	// The cut takes its collections row by row, with no lock on the
	// tablets' streams: a void racing it either wins (the collection is
	// voided and in no batch) or loses (refused as batched), never both.
	t.Run("OKVoidRacingCut", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.loadRoster(8, vilA)
		tb := f.newTablet("agent-e4", vilA)
		tb.pullAll(1000)
		ls := tb.lines(syncproto.KindMedical)
		twp := f.token[auth.RoleTownship]
		for day, l := range ls {
			c := tb.collect(l.ID, 0)
			tb.mustPush(c)
			void := tb.mutation(syncproto.MutationVoid, syncproto.Void{CollectionID: c.ID, Reason: "录错了"}, inPeriod)
			var wg sync.WaitGroup
			var out syncproto.PushResponse
			wg.Go(func() { out = tb.mustPush(void) })
			wg.Go(func() {
				f.request(http.MethodPost, "/api/v1/batches/cut", twp, map[string]string{"township": twpX, "date": fmt.Sprintf("2026-11-%02d", 20+day)})
			})
			wg.Wait()
			var status string
			var inBatch bool
			f.db.Pool.QueryRow(t.Context(), `SELECT status, EXISTS (SELECT 1 FROM batch_line WHERE collection_id = $1)
				FROM collection WHERE id = $1`, c.ID).Scan(&status, &inBatch)
			refused := len(out.Outcomes) == 1 && out.Outcomes[0].Status == syncproto.OutcomeRejected
			if status == "voided" == inBatch || refused != inBatch {
				t.Fatalf("round %d: status %s, in a batch %v, void refused %v", day, status, inBatch, refused)
			}
		}
		var rec remit.Reconciliation
		f.do(http.MethodGet, "/api/v1/reconciliation?date=2026-11-27", twp, nil, http.StatusOK, &rec)
		if !rec.Balanced {
			t.Fatalf("reconciliation after the races: %+v", rec)
		}
	})
	t.Run("ErrPostedLineDoesNotChange", func(t *testing.T) {
		t.Parallel()
		f, _, _ := duplicatePair(t)
		twp, tax := f.token[auth.RoleTownship], f.token[auth.RoleTax]
		batch := f.cut(twp, twpX, "2026-11-20")
		f.do(http.MethodPost, "/api/v1/batches/"+batch.ID+"/approve", twp, map[string]string{"override_reason": "现金已点交"}, http.StatusOK, nil)
		f.request(http.MethodGet, "/api/v1/batches/"+batch.ID+"/export?format=csv", tax, nil)
		f.do(http.MethodPost, "/api/v1/batches/"+batch.ID+"/postings?filename=a.csv", tax, rawBody{"序号,完税凭证号,入库日期\n1,V-1,2026-11-20\n"}, http.StatusOK, nil)
		rec := f.request(http.MethodPost, "/api/v1/batches/"+batch.ID+"/postings?filename=b.csv", tax, rawBody{"序号,完税凭证号,入库日期\n1,V-OTHER,2026-11-20\n"})
		if rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("a posted line's voucher was replaced: %d %s", rec.Code, rec.Body)
		}
	})
}
