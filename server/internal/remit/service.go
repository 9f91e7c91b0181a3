package remit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Service is the remittance: cut, approve, export, post, reconcile.
type Service struct {
	db       *store.DB
	settings *settings.Service
	log      *slog.Logger
	shanghai *time.Location
}

// NewService returns the remittance service.
func NewService(db *store.DB, set *settings.Service, log *slog.Logger) *Service {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	return &Service{db: db, settings: set, log: log.With("component", "remit"), shanghai: loc}
}

// Error codes of the remittance.
const (
	CodeBadState       syncproto.Code = "batch_state"     // the batch is not in a state that allows this
	CodeDepositsShort  syncproto.Code = "deposits_short"  // deposits do not cover the batch: override with a reason
	CodePostingRefused syncproto.Code = "posting_refused" // a posting file with errors: nothing applied
)

// ParseDay reads a business day (YYYY-MM-DD); "" is today in Asia/Shanghai.
func (s *Service) ParseDay(text string) (time.Time, error) {
	if text == "" {
		return s.Today(), nil
	}
	d, err := time.Parse(time.DateOnly, text)
	if err != nil {
		return time.Time{}, syncproto.Errorf(syncproto.CodeInvalidInput, "date must be YYYY-MM-DD", "日期格式须为 YYYY-MM-DD")
	}
	return d, nil
}

// Today is the current business day in Asia/Shanghai, as a UTC date.
func (s *Service) Today() time.Time {
	y, m, d := s.db.Now().In(s.shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func toBatch(b store.BatchRow) Batch {
	return Batch{ID: b.ID, TownshipCode: b.TownshipCode, TownshipName: b.TownshipName,
		BusinessDay: b.BusinessDay.Format(time.DateOnly), Revision: b.Revision, State: b.State, Count: b.Count,
		Total: syncproto.Money(b.TotalFen), CreatedAt: b.CreatedAt, ApprovedAt: b.ApprovedAt,
		OverrideReason: b.OverrideReason, RejectReason: b.RejectReason, ExportedAt: b.ExportedAt, PostedAt: b.PostedAt}
}

func (s *Service) toLines(rows []store.BatchLineRow) []Line {
	out := make([]Line, len(rows))
	for i, r := range rows {
		l := Line{No: r.No, CollectionID: r.CollectionID, VillageCode: r.VillageCode, VillageName: r.VillageName,
			AgentName: r.AgentName, Name: r.Name, ResidentID: r.ResidentID, Kind: syncproto.Kind(r.Kind), Year: r.Year,
			Grade: syncproto.Money(r.GradeFen), Amount: syncproto.Money(r.AmountFen),
			ReceiptNo: syncproto.FormatReceipt(r.ReceiptNo), DeviceTime: r.DeviceTime, ServerTime: r.ServerTime,
			Voucher: r.Voucher, PostError: r.PostError}
		if r.ReversesBatch != "" {
			l.ReversesLine = r.ReversesBatch + "#" + strconv.Itoa(r.ReversesLine)
		}
		if r.PostedDate != nil {
			l.PostedDate = r.PostedDate.Format(time.DateOnly)
		}
		out[i] = l
	}
	return out
}

// Cut makes the batch of a township and day (see store.CutBatch) on
// demand: again after a rejection, a new revision.
func (s *Service) Cut(ctx context.Context, p auth.Principal, township string, day time.Time) (Batch, bool, error) {
	if err := auth.Authorize(p, auth.Target{Township: township}); err != nil {
		return Batch{}, false, err
	}
	if _, err := s.db.Township(ctx, township); err != nil {
		return Batch{}, false, err
	}
	return s.cut(ctx, township, day, p.UserID, false)
}

func (s *Service) cut(ctx context.Context, township string, day time.Time, by string, firstOnly bool) (Batch, bool, error) {
	var b store.BatchRow
	var created, nothing bool
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		b, created, err = s.db.CutBatch(ctx, tx, s.db.NewID(), township, day, by, s.db.Now(), firstOnly)
		if errors.Is(err, store.ErrNothingToCut) {
			nothing = true
			return nil
		}
		if err != nil || !created {
			return err
		}
		return s.db.Audit(ctx, tx, auth.Audited(ctx, store.AuditEntry{Action: "batch_cut", TargetType: "batch",
			TargetID: b.ID, TownshipCode: township,
			After: map[string]any{"day": day.Format(time.DateOnly), "revision": b.Revision, "count": b.Count, "total_fen": b.TotalFen}}))
	})
	if nothing && err == nil {
		return Batch{}, false, ErrNothingToCut
	}
	return toBatch(b), created, err
}

// ErrNothingToCut answers a cut with nothing waiting: no empty batch.
var ErrNothingToCut = syncproto.Errorf(syncproto.Code("nothing_to_cut"),
	"no collection waits for a batch in this township on or before that day", "该镇街该日及以前没有待解缴的收款，无需生成批次")

// CutAll cuts every township's batch of a day (the daily cutoff and
// `server cut`).
func (s *Service) CutAll(ctx context.Context, day time.Time) ([]Batch, error) {
	ts, err := s.db.Townships(ctx)
	if err != nil {
		return nil, err
	}
	var out []Batch
	for _, t := range ts {
		b, _, err := s.cut(ctx, t.Code, day, "", true)
		if errors.Is(err, ErrNothingToCut) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("cut %s %s: %w", t.Code, day.Format(time.DateOnly), err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Get returns a batch and its lines, for those who may see it.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Batch, []Line, error) {
	b, err := s.db.BatchByID(ctx, s.db.Pool, id, false)
	if err != nil {
		return Batch{}, nil, err
	}
	if err := auth.Authorize(p, auth.Target{Township: b.TownshipCode}); err != nil {
		return Batch{}, nil, err
	}
	rows, err := s.db.BatchLines(ctx, s.db.Pool, id)
	return toBatch(b), s.toLines(rows), err
}

// List lists batches in the caller's area.
func (s *Service) List(ctx context.Context, p auth.Principal, f store.BatchFilter) ([]Batch, error) {
	if t := auth.ScopeTownship(p); t != "" {
		if f.Township != "" && f.Township != t {
			return nil, auth.ErrForbidden
		}
		f.Township = t
	}
	rows, err := s.db.Batches(ctx, f)
	out := make([]Batch, len(rows))
	for i, r := range rows {
		out[i] = toBatch(r)
	}
	return out, err
}

// DepositCoverage is how much of a batch the recorded deposits cover.
type DepositCoverage struct {
	Total     syncproto.Money `json:"total"`
	Deposited syncproto.Money `json:"deposited"`
	Short     syncproto.Money `json:"short"`
}

func coverage(rows []store.BatchLineRow) DepositCoverage {
	var c DepositCoverage
	for _, r := range rows {
		c.Total += syncproto.Money(r.AmountFen)
		if r.Deposited {
			c.Deposited += syncproto.Money(r.AmountFen)
		}
	}
	c.Short = max(0, c.Total-c.Deposited)
	return c
}

// Coverage shows a batch against the recorded deposits.
func (s *Service) Coverage(ctx context.Context, p auth.Principal, id string) (DepositCoverage, error) {
	_, _, err := s.Get(ctx, p, id)
	if err != nil {
		return DepositCoverage{}, err
	}
	rows, err := s.db.BatchLines(ctx, s.db.Pool, id)
	return coverage(rows), err
}

// transition changes a batch's state under a row lock, checks the
// caller's township (district roles pass) and audits it.
func (s *Service) transition(ctx context.Context, p auth.Principal, id string, from []string, fn func(tx pgx.Tx, b *store.BatchRow) error) (Batch, error) {
	var out store.BatchRow
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		b, err := s.db.BatchByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := auth.Authorize(p, auth.Target{Township: b.TownshipCode}); err != nil {
			return err
		}
		ok := false
		for _, f := range from {
			ok = ok || b.State == f
		}
		if !ok {
			return syncproto.Errorf(CodeBadState, fmt.Sprintf("batch is %s: not allowed now", b.State),
				fmt.Sprintf("批次当前状态为「%s」，不能执行此操作", stateLabel(b.State)))
		}
		before := b.State
		if err := fn(tx, &b); err != nil {
			return err
		}
		if err := s.db.UpdateBatch(ctx, tx, b, p.UserID); err != nil {
			return err
		}
		out = b
		if before == b.State {
			return nil
		}
		return s.db.Audit(ctx, tx, auth.Audited(ctx, store.AuditEntry{Action: "batch_" + b.State, TargetType: "batch",
			TargetID: b.ID, TownshipCode: b.TownshipCode, Before: map[string]any{"state": before},
			After: map[string]any{"state": b.State, "override_reason": b.OverrideReason, "reject_reason": b.RejectReason}}))
	})
	return toBatch(out), err
}

func stateLabel(s string) string {
	return map[string]string{StateSubmitted: "待审核", StateApproved: "已审核", StateRejected: "已退回",
		StateExported: "已下载", StatePosted: "已入库", StatePartiallyPosted: "部分入库"}[s]
}

// Approve approves a submitted batch. The deposits must cover its total,
// or the township overrides with a written reason.
func (s *Service) Approve(ctx context.Context, p auth.Principal, id, override string) (Batch, error) {
	override = strings.TrimSpace(override)
	return s.transition(ctx, p, id, []string{StateSubmitted}, func(tx pgx.Tx, b *store.BatchRow) error {
		rows, err := s.db.BatchLines(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		if c := coverage(rows); c.Short > 0 && override == "" {
			return syncproto.Errorf(CodeDepositsShort,
				fmt.Sprintf("deposits cover %s of %s yuan: record the deposits or approve with a written reason", c.Deposited, c.Total),
				fmt.Sprintf("已缴存 %s 元，批次合计 %s 元，缴存不足：请先登记缴存，或填写理由后强制审核", c.Deposited, c.Total))
		}
		now := s.db.Now()
		b.State, b.ApprovedAt, b.OverrideReason = StateApproved, &now, override
		return s.db.SetBatchCollectionsStatus(ctx, tx, b.ID, "approved", now)
	})
}

// Reject sends a submitted batch back with a reason; its collections
// become batchable again (the next cut of the day takes them).
func (s *Service) Reject(ctx context.Context, p auth.Principal, id, reason string) (Batch, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Batch{}, syncproto.Errorf(syncproto.CodeInvalidInput, "a rejection needs a reason", "退回须填写原因")
	}
	return s.transition(ctx, p, id, []string{StateSubmitted}, func(tx pgx.Tx, b *store.BatchRow) error {
		b.State, b.RejectReason = StateRejected, reason
		return s.db.ReleaseBatch(ctx, tx, b.ID, s.db.Now())
	})
}

// exportable are the states whose batches the tax office may download.
var exportable = []string{StateApproved, StateExported, StatePosted, StatePartiallyPosted}

// Export writes an approved batch as csv, xlsx or json, records the
// download and, on the first one, moves the batch to exported. It returns
// the file, its content type and its SHA-256.
func (s *Service) Export(ctx context.Context, p auth.Principal, id, format string) ([]byte, string, string, error) {
	var data []byte
	var ctype string
	var sum string
	_, err := s.transition(ctx, p, id, exportable, func(tx pgx.Tx, b *store.BatchRow) error {
		rows, err := s.db.BatchLines(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if format == "" {
			format = FormatCSV
		}
		if err := WriteExport(&buf, format, toBatch(*b), s.toLines(rows)); err != nil {
			return err
		}
		ctype = ContentType(format)
		data = buf.Bytes()
		h := sha256.Sum256(data)
		sum = hex.EncodeToString(h[:])
		now := s.db.Now()
		if err := s.db.RecordDownload(ctx, tx, b.ID, p.UserID, format, sum, now); err != nil {
			return err
		}
		if err := s.db.Audit(ctx, tx, auth.Audited(ctx, store.AuditEntry{Action: "batch_downloaded", TargetType: "batch",
			TargetID: b.ID, TownshipCode: b.TownshipCode, After: map[string]any{"format": format, "sha256": sum}})); err != nil {
			return err
		}
		if b.State == StateApproved {
			b.State, b.ExportedAt = StateExported, &now
			return s.db.SetBatchCollectionsStatus(ctx, tx, b.ID, "exported", now)
		}
		return nil
	})
	return data, ctype, sum, err
}

// PostResult is the outcome of a posting upload.
type PostResult struct {
	Batch   Batch          `json:"batch"`
	Applied bool           `json:"applied"` // false: the same file was applied before
	Posted  int            `json:"posted"`
	Errors  int            `json:"errors"`
	Report  []PostingError `json:"row_errors,omitempty"`
}

// Post applies the tax office's posting result (入库) to an exported
// batch: all or nothing — a file with any bad row is refused with a
// row-level report — and the same file again changes nothing. A batch
// whose every line is posted becomes posted; one with errors or lines not
// yet posted, partially_posted.
func (s *Service) Post(ctx context.Context, p auth.Principal, id, filename string, data []byte) (PostResult, error) {
	ps, err := ParsePostings(data, filename)
	if err != nil {
		return PostResult{}, err
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	var res PostResult
	b, err := s.transition(ctx, p, id, []string{StateExported, StatePartiallyPosted, StatePosted}, func(tx pgx.Tx, b *store.BatchRow) error {
		rows, err := s.db.BatchLines(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		byLine, errs := ValidatePostings(ps, s.toLines(rows), s.db.Now())
		for _, r := range rows {
			if p, ok := byLine[r.No]; ok && r.Voucher != "" && (p.Voucher != r.Voucher || p.Error != "") {
				errs = append(errs, PostingError{Row: p.Row, Column: "完税凭证号", Value: p.Voucher, Code: "posting_already_posted",
					Message:   fmt.Sprintf("line %d is already posted with voucher %s: a posted line does not change", r.No, r.Voucher),
					MessageZH: fmt.Sprintf("第 %d 行已入库（完税凭证号 %s），不能更改", r.No, r.Voucher)})
			}
		}
		if len(errs) > 0 {
			res.Report = errs
			return errPostingRefused
		}
		fresh, err := s.db.RecordPostingUpload(ctx, tx, s.db.NewID(), b.ID, sum, p.UserID, s.db.Now())
		if err != nil || !fresh {
			return err
		}
		res.Applied = true
		for no, ps := range byLine {
			var posted *time.Time
			if ps.PostedDate != "" {
				d, err := parsePostedDate(ps.PostedDate)
				if err != nil {
					return err
				}
				posted = &d
			}
			if err := s.db.PostLine(ctx, tx, b.ID, no, ps.Voucher, posted, ps.Error); err != nil {
				return err
			}
		}
		rows, err = s.db.BatchLines(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		all := true
		for _, r := range rows {
			if r.Voucher != "" {
				res.Posted++
			} else {
				all = false
			}
			if r.PostError != "" {
				res.Errors++
			}
		}
		now := s.db.Now()
		b.State, b.PostedAt = StatePartiallyPosted, &now
		if all {
			b.State = StatePosted
		}
		return s.db.SetPostedCollections(ctx, tx, b.ID, now)
	})
	if err == errPostingRefused {
		return res, syncproto.Errorf(CodePostingRefused, "the posting file has errors: nothing was applied",
			"入库结果文件有错误，未作任何处理；请下载错误报告改正后重新上传")
	}
	res.Batch = b
	return res, err
}

var errPostingRefused = fmt.Errorf("posting refused")

func parsePostedDate(s string) (time.Time, error) {
	for _, layout := range []string{time.DateOnly, "2006/1/2", "2006-1-2"} {
		if d, err := time.Parse(layout, s); err == nil {
			return d, nil
		}
	}
	return time.Time{}, syncproto.Errorf(syncproto.CodeInvalidInput, "posted date "+s+" is not a date", "入库日期格式不正确："+s)
}

// Reconciliation is a township's day (or the district's) by where its
// money stands, with every record that breaks an invariant.
type Reconciliation struct {
	Day           string              `json:"business_day"`
	Townships     []store.DayFigures  `json:"townships"`
	Discrepancies []store.Discrepancy `json:"discrepancies"`
	Balanced      bool                `json:"balanced"`
}

// Reconcile sums a day per township and checks the invariants.
func (s *Service) Reconcile(ctx context.Context, p auth.Principal, township string, day time.Time) (Reconciliation, error) {
	if t := auth.ScopeTownship(p); t != "" {
		if township != "" && township != t {
			return Reconciliation{}, auth.ErrForbidden
		}
		township = t
	}
	figs, err := s.db.DayFiguresOf(ctx, township, day)
	if err != nil {
		return Reconciliation{}, err
	}
	ds, err := s.db.Discrepancies(ctx, township, day)
	if err != nil {
		return Reconciliation{}, err
	}
	if figs == nil {
		figs = []store.DayFigures{}
	}
	if ds == nil {
		ds = []store.Discrepancy{}
	}
	for _, f := range figs {
		if f.Collected.Fen != f.Batched.Fen+f.Unbatched.Fen+f.Refunding.Fen || f.Collected.Count != f.Batched.Count+f.Unbatched.Count+f.Refunding.Count {
			ds = append(ds, store.Discrepancy{Code: "unbalanced", Detail: fmt.Sprintf(
				"township %s: collected %d fen ≠ batched %d + unbatched %d + refunded before batching %d",
				f.TownshipCode, f.Collected.Fen, f.Batched.Fen, f.Unbatched.Fen, f.Refunding.Fen)})
		}
	}
	return Reconciliation{Day: day.Format(time.DateOnly), Townships: figs, Discrepancies: ds, Balanced: len(ds) == 0}, nil
}

// RunCutoff cuts, every minute, the batch of each township whose daily
// cutoff (Asia/Shanghai, from its settings; 17:00 without) has passed
// today, unless it has one. It returns when ctx is done.
func (s *Service) RunCutoff(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.CutoffOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "daily cutoff", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CutoffOnce cuts, for each township whose cutoff has passed today, its
// batch of today unless it has one.
func (s *Service) CutoffOnce(ctx context.Context) error {
	ts, err := s.db.Townships(ctx)
	if err != nil {
		return err
	}
	all, err := s.settings.All(ctx, 0)
	if err != nil {
		return err
	}
	now := s.db.Now().In(s.shanghai)
	today := s.Today()
	for _, t := range ts {
		cutoff := 17 * time.Hour
		for _, y := range all {
			if r, ok := settings.Resolve(all, y.Kind, y.Year, t.Code); ok {
				if d, ok := settings.ParseCutoff(r.Cutoff); ok {
					cutoff = d
				}
			}
		}
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.shanghai)
		if now.Before(midnight.Add(cutoff)) {
			continue
		}
		if _, _, err := s.cut(ctx, t.Code, today, "", true); err != nil && !errors.Is(err, ErrNothingToCut) {
			return err
		}
	}
	return nil
}

// PaidDetails are the paid and posted details of a year for HRSS
// (pension) or medical security (medical): their own kind only.
func (s *Service) PaidDetails(ctx context.Context, p auth.Principal, year int, kind syncproto.Kind, village string) ([]PaidRow, error) {
	switch p.Role {
	case auth.RoleHRSS:
		kind = syncproto.KindPension
	case auth.RoleMedsec:
		kind = syncproto.KindMedical
	}
	lines, err := s.db.PaidLines(ctx, year, string(kind), village, false)
	if err != nil {
		return nil, err
	}
	out := make([]PaidRow, len(lines))
	for i, l := range lines {
		out[i] = PaidRow{Year: l.Year, Kind: syncproto.Kind(l.Kind), VillageCode: l.VillageCode, VillageName: l.VillageName,
			Name: l.Name, ResidentID: l.ResidentID, Amount: syncproto.Money(l.AmountFen), Grade: syncproto.Money(l.GradeFen),
			ReceiptNo: syncproto.FormatReceipt(l.ReceiptNo), Voucher: l.Voucher, Status: l.Status}
		if l.PostedDate != nil {
			out[i].PostedDate = l.PostedDate.Format(time.DateOnly)
		}
	}
	return out, nil
}

// Publicity is the village's publicity list (公示) of a year: the posted
// payments, names and masked IDs only — never a person's category.
func (s *Service) Publicity(ctx context.Context, village string, year int) (Publicity, error) {
	v, err := s.db.VillageByCode(ctx, village)
	if err != nil {
		return Publicity{}, err
	}
	lines, err := s.db.PaidLines(ctx, year, "", village, true)
	if err != nil {
		return Publicity{}, err
	}
	pub := Publicity{VillageName: v.Name, VillageCode: v.Code, Year: year, Date: s.Today().Format(time.DateOnly)}
	for _, l := range lines {
		pub.TownshipName = l.Township
		row := PublicityRow{Name: l.Name, MaskedID: syncproto.ResidentID(l.ResidentID).Masked(), Kind: syncproto.Kind(l.Kind),
			Amount: syncproto.Money(l.AmountFen), ReceiptNo: syncproto.FormatReceipt(l.ReceiptNo)}
		if l.PostedDate != nil {
			row.PostedDate = l.PostedDate.Format(time.DateOnly)
		}
		pub.Rows = append(pub.Rows, row)
	}
	if pub.TownshipName == "" {
		if t, err := s.db.Township(ctx, v.TownshipCode); err == nil {
			pub.TownshipName = t.Name
		}
	}
	return pub, nil
}

// RequestRefund puts a flagged payment up for refund (township staff of
// its township). The tablet sees the payment as refund_requested.
func (s *Service) RequestRefund(ctx context.Context, p auth.Principal, collectionID, reason string) (store.Refund, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return store.Refund{}, syncproto.Errorf(syncproto.CodeInvalidInput, "a refund needs a reason", "退费须填写原因")
	}
	var out store.Refund
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		c, err := s.db.CollectionByID(ctx, tx, collectionID)
		if err != nil {
			return err
		}
		if err := auth.Authorize(p, auth.Target{Township: c.TownshipCode}); err != nil {
			return err
		}
		if len(c.Flags) == 0 || c.Status == "voided" {
			return syncproto.Errorf(syncproto.CodeConflict, "only a flagged, not voided payment (duplicate, wrong amount…) can be refunded",
				"只有被标记问题（重复缴费、金额不符等）且未作废的缴费可以申请退费")
		}
		if c.Status == "batched" {
			return syncproto.Errorf(CodeBadState, "the payment is in a batch awaiting approval: reject the batch first",
				"该缴费所在批次待审核，请先退回该批次")
		}
		now := s.db.Now()
		out = store.Refund{ID: s.db.NewID(), CollectionID: c.ID, TownshipCode: c.TownshipCode, Reason: reason,
			State: "requested", RequestedAt: now, Name: c.Name, AmountFen: c.AmountFen, ReceiptNo: c.ReceiptNo}
		if err := s.db.InsertRefund(ctx, tx, out, p.UserID); err != nil {
			return err
		}
		if err := s.db.SetCollectionStatus(ctx, tx, c.ID, "refund_requested", now); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, auth.Audited(ctx, store.AuditEntry{Action: "refund_requested", TargetType: "collection",
			TargetID: c.ID, TownshipCode: c.TownshipCode, VillageCode: c.VillageCode,
			After: map[string]any{"refund": out.ID, "reason": reason, "amount_fen": c.AmountFen}}))
	})
	return out, err
}

// MoveRefund approves a requested refund (tax office) or marks an
// approved one refunded (township, when the cash is handed back).
func (s *Service) MoveRefund(ctx context.Context, p auth.Principal, id, to string) (store.Refund, error) {
	from := map[string]string{"approved": "requested", "refunded": "approved"}[to]
	var out store.Refund
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		r, err := s.db.RefundForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := auth.Authorize(p, auth.Target{Township: r.TownshipCode}); err != nil {
			return err
		}
		if r.State != from {
			return syncproto.Errorf(CodeBadState, "the refund is "+r.State, "退费当前状态为 "+r.State+"，不能执行此操作")
		}
		now := s.db.Now()
		if err := s.db.SetRefundState(ctx, tx, id, to, p.UserID, now); err != nil {
			return err
		}
		if to == "refunded" {
			if err := s.db.SetCollectionStatus(ctx, tx, r.CollectionID, "refunded", now); err != nil {
				return err
			}
		}
		r.State = to
		out = r
		return s.db.Audit(ctx, tx, auth.Audited(ctx, store.AuditEntry{Action: "refund_" + to, TargetType: "refund",
			TargetID: id, TownshipCode: r.TownshipCode, Before: map[string]any{"state": from}, After: map[string]any{"state": to}}))
	})
	return out, err
}

// Refunds lists the refunds in the caller's area.
func (s *Service) Refunds(ctx context.Context, p auth.Principal, state string) ([]store.Refund, error) {
	return s.db.Refunds(ctx, auth.ScopeTownship(p), state)
}
