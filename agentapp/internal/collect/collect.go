// Package collect holds the agent's cash rules on the tablet: taking cash
// from a person on the roster against a receipt number, voiding a receipt,
// recording the bank deposit of the cash held, and the dual limits (双限).
// Each operation writes one signed record into the device's hash chain and
// its local view in one durable transaction of the local store; a receipt
// may be printed once the call returned. The rules work offline: the
// server re-checks what it can and flags, never refuses, cash.
package collect

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// The refusals of this package. The CLI and UI show the messages; the
// codes are stable.
const (
	CodeNotEnrolled      = syncproto.Code("not_enrolled")
	CodeNoSettings       = syncproto.Code("no_settings")
	CodeNoReceipts       = syncproto.Code("no_receipt_numbers")
	CodeLimitPassed      = syncproto.Code("limit_passed")
	CodeFullySubsidised  = syncproto.Code("fully_subsidised")
	CodeAlreadyPaid      = syncproto.Code("already_paid")
	CodeAlreadyCollected = syncproto.Code("already_collected")
	CodeGradeRequired    = syncproto.Code("grade_required")
	CodeGradeNotAllowed  = syncproto.Code("grade_not_allowed")
	CodeNothingDue       = syncproto.Code("nothing_due")
	CodeKindAmbiguous    = syncproto.Code("kind_ambiguous")
	CodeAlreadyVoided    = syncproto.Code("already_voided")
	CodeAlreadyDeposited = syncproto.Code("already_deposited")
	CodeTooLateToVoid    = syncproto.Code("too_late_to_void")
	CodeNothingToDeposit = syncproto.Code("nothing_to_deposit")
	CodeOtherDevice      = syncproto.Code("other_device")
)

// The warnings: the operation was done, the agent should know.
const (
	WarnCashNear        = syncproto.Code("cash_limit_near")
	WarnTimeNear        = syncproto.Code("time_limit_near")
	WarnLimitPassed     = syncproto.Code("limit_passed_now")
	WarnReceiptsLow     = syncproto.Code("receipts_low")
	WarnOutsidePeriod   = syncproto.Code("outside_period")
	WarnDepositMismatch = syncproto.Code("deposit_mismatch")
)

// LowReceipts is the count of receipt numbers left under which each
// collection warns.
const LowReceipts = 20

// MaxReasonLen and MaxSlipLen bound the free text of voids and deposits.
const (
	MaxReasonLen = 200
	MaxSlipLen   = 64
)

// Warning is something the agent should know about an operation that was
// done.
type Warning struct {
	Code      syncproto.Code `json:"code"`
	Message   string         `json:"message"`
	MessageZH string         `json:"message_zh"`
}

// Signer is the unlocked device identity that signs the records: a
// *keystore.Unlocked.
type Signer interface {
	DeviceID() string
	Secrets() keystore.Secrets
}

// Service applies the rules over the local store. It is safe for
// concurrent use; several app processes on one store are serialised by the
// store's write lock.
type Service struct {
	store *localstore.Store
	now   func() time.Time
	ids   *syncproto.IDGenerator
}

// New returns the service over store, reading the tablet's clock from now
// (nil means time.Now).
func New(store *localstore.Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, ids: syncproto.NewIDGenerator(now)}
}

// clock is one timestamp for a transaction, at the store's precision.
func (s *Service) clock() time.Time { return time.UnixMilli(s.now().UnixMilli()).UTC() }

// Request says whom to collect from: a roster line by its ID, or a person
// by the full resident ID (found through the keyed hash). Kind is needed
// when a person has lines of both kinds; Grade is the annual pension grade
// chosen (full amount, before 代缴), zero for medical.
type Request struct {
	RosterLineID string
	ResidentID   string
	Kind         syncproto.Kind
	Grade        syncproto.Money
}

// Result is a collection made, with what the agent should know.
type Result struct {
	Collection localstore.Collection `json:"collection"`
	Limits     Limits                `json:"limits"`
	Warnings   []Warning             `json:"warnings,omitempty"`
}

// FindLine resolves a request to its roster line.
func (s *Service) FindLine(ctx context.Context, req Request) (localstore.RosterLine, error) {
	if req.Kind != "" && !req.Kind.Valid() {
		return localstore.RosterLine{}, syncproto.Errorf(syncproto.CodeInvalidKind,
			"kind must be pension or medical", "险种应为 pension（养老）或 medical（医疗）")
	}
	if req.RosterLineID != "" {
		line, err := s.store.RosterLine(ctx, req.RosterLineID)
		if errors.Is(err, localstore.ErrNotFound) {
			return line, notOnRoster()
		}
		if err != nil {
			return line, err
		}
		if req.Kind != "" && line.Kind != req.Kind {
			return line, syncproto.Errorf(syncproto.CodeInvalidInput,
				fmt.Sprintf("roster line %s is for %s, not %s", line.ID, line.Kind, req.Kind),
				fmt.Sprintf("该清册行是%s，不是%s", line.Kind.ShortLabel(), req.Kind.ShortLabel()))
		}
		return line, nil
	}
	if req.ResidentID == "" {
		return localstore.RosterLine{}, syncproto.Errorf(syncproto.CodeInvalidInput,
			"give a roster line ID or a resident ID", "请提供清册行号或公民身份号码")
	}
	id, err := syncproto.ParseResidentID(req.ResidentID, s.now())
	if err != nil {
		return localstore.RosterLine{}, err
	}
	set, err := s.settings(ctx)
	if err != nil {
		return localstore.RosterLine{}, err
	}
	lines, err := s.store.SearchRoster(ctx, localstore.RosterQuery{IDHash: syncproto.IDHash(set.IDHashKey, id), Kind: req.Kind})
	if err != nil {
		return localstore.RosterLine{}, err
	}
	if len(lines) == 0 {
		return localstore.RosterLine{}, notOnRoster()
	}
	// The latest year of each kind; both kinds need the agent to choose.
	best := map[syncproto.Kind]localstore.RosterLine{}
	for _, l := range lines {
		if b, ok := best[l.Kind]; !ok || l.Year > b.Year {
			best[l.Kind] = l
		}
	}
	if len(best) > 1 {
		return localstore.RosterLine{}, syncproto.Errorf(CodeKindAmbiguous,
			"the person is on both rosters: choose --kind pension or medical",
			"此人同时在养老和医疗清册中：请用 --kind 选择险种")
	}
	for _, l := range best {
		return l, nil
	}
	panic("unreachable")
}

func notOnRoster() error {
	return syncproto.Errorf(syncproto.CodeNotFound,
		"no such person on this tablet's roster (sync to get the latest roster)",
		"本机清册中没有此人（请同步以获取最新清册）")
}

func (s *Service) settings(ctx context.Context) (syncproto.DeviceSettings, error) {
	set, err := s.store.Settings(ctx)
	if errors.Is(err, localstore.ErrNotFound) {
		return set, syncproto.Errorf(CodeNoSettings,
			"this tablet has no settings from the server yet: sync first",
			"本机尚未从服务器获取设置：请先同步")
	}
	return set, err
}

func (s *Service) enrollment(ctx context.Context, signer Signer) (localstore.Enrollment, error) {
	en, err := s.store.Enrollment(ctx)
	if errors.Is(err, localstore.ErrNotFound) {
		return en, syncproto.Errorf(CodeNotEnrolled, "this tablet is not enrolled yet: run agentapp enroll",
			"本终端尚未登记，请先执行 agentapp enroll")
	}
	if err != nil {
		return en, err
	}
	if signer != nil && signer.DeviceID() != en.DeviceID {
		return en, syncproto.Errorf(syncproto.CodeConflict,
			fmt.Sprintf("the unlocked key is of device %s but the tablet is enrolled as %s", signer.DeviceID(), en.DeviceID),
			"解锁的密钥与本机登记的终端不一致")
	}
	return en, nil
}

// Amount works out the cash to take for a roster line: pension, the grade
// chosen (one of the line's grades) less the subsidy; medical, the amount
// due. It refuses a person the government pays for in full, a line already
// paid and an amount of zero.
func Amount(line localstore.RosterLine, grade syncproto.Money) (syncproto.Money, error) {
	if line.FullySubsidised {
		return 0, syncproto.Errorf(CodeFullySubsidised,
			fmt.Sprintf("%s is fully subsidised (the government pays on their behalf): collect nothing", line.Kind),
			fmt.Sprintf("此人%s由政府全额代缴，无需收费", line.Kind.ShortLabel()))
	}
	if line.Paid {
		return 0, syncproto.Errorf(CodeAlreadyPaid,
			"the roster says this person has paid already for the year",
			"清册显示此人本年度已缴费")
	}
	var amount syncproto.Money
	switch line.Kind {
	case syncproto.KindPension:
		if grade == 0 {
			return 0, syncproto.Errorf(CodeGradeRequired,
				"pension needs the grade the person chose: --grade, one of "+gradeList(line.Grades),
				"养老保险须选择缴费档次（--grade）："+gradeList(line.Grades))
		}
		ok := false
		for _, g := range line.Grades {
			ok = ok || g == grade
		}
		if !ok {
			return 0, syncproto.Errorf(CodeGradeNotAllowed,
				fmt.Sprintf("grade %s is not open to this person: one of %s", grade, gradeList(line.Grades)),
				fmt.Sprintf("此人不能选择 %s 元档次，可选：%s", grade, gradeList(line.Grades)))
		}
		amount = grade - line.Subsidy
	case syncproto.KindMedical:
		if grade != 0 {
			return 0, syncproto.Errorf(syncproto.CodeInvalidInput,
				"medical insurance has no grade: leave --grade out", "医疗保险没有缴费档次，请去掉 --grade")
		}
		amount = line.Due
	default:
		return 0, syncproto.Errorf(syncproto.CodeInvalidKind, "unknown kind "+string(line.Kind), "未知险种")
	}
	if amount <= 0 {
		return 0, syncproto.Errorf(CodeNothingDue, "nothing is due from this person", "此人无需缴费")
	}
	return amount, nil
}

func gradeList(gs []syncproto.Money) string {
	if len(gs) == 0 {
		return "(none)"
	}
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = strings.TrimSuffix(g.String(), ".00")
	}
	return strings.Join(parts, ", ")
}

// Collect takes cash from the person of req: it checks the rules, issues
// the next receipt number and writes the signed collection record and its
// view row in one durable transaction. When it returns without error the
// receipt may be printed.
func (s *Service) Collect(ctx context.Context, signer Signer, req Request) (Result, error) {
	var res Result
	en, err := s.enrollment(ctx, signer)
	if err != nil {
		return res, err
	}
	if st, err := s.store.SyncState(ctx); err != nil {
		return res, err
	} else if st.Revoked {
		return res, errRevoked()
	}
	set, err := s.settings(ctx)
	if err != nil {
		return res, err
	}
	line, err := s.FindLine(ctx, req)
	if err != nil {
		return res, err
	}
	amount, err := Amount(line, req.Grade)
	if err != nil {
		return res, err
	}
	key, pub, err := signingKey(signer)
	if err != nil {
		return res, err
	}
	defer clear(key)
	deviceID := en.DeviceID
	now := s.clock()
	var receiptNo string
	err = s.store.Write(ctx, func(ctx context.Context, w *localstore.WriteTx) error {
		if revoked, err := w.Revoked(ctx); err != nil {
			return err
		} else if revoked {
			return errRevoked()
		}
		if prev, err := w.LiveCollectionOf(ctx, line.ID); err == nil {
			return syncproto.Errorf(CodeAlreadyCollected,
				fmt.Sprintf("this tablet collected from this person already (receipt %s): void it first if it was wrong", prev.ReceiptNo),
				fmt.Sprintf("本机已为此人收费（收据 %s）；如有错误请先作废", prev.ReceiptNo))
		} else if !errors.Is(err, localstore.ErrNotFound) {
			return err
		}
		held, err := w.Cash(ctx, deviceID)
		if err != nil {
			return err
		}
		if lim := Evaluate(held, set, now); lim.Passed() {
			return errLimitPassed(lim)
		}
		num, err := w.NextReceipt(ctx)
		if errors.Is(err, localstore.ErrNoReceipts) {
			return syncproto.Errorf(CodeNoReceipts, "no receipt numbers left: sync to get more",
				"没有可用的收据号码：请同步以获取新号段")
		}
		if err != nil {
			return err
		}
		receiptNo = syncproto.FormatReceipt(num)
		head, err := w.ChainHead(ctx, deviceID)
		if err != nil {
			return err
		}
		payload := syncproto.Collection{
			ReceiptNo: receiptNo, RosterEntryID: line.ID, RosterVersion: line.Seq, Name: line.Name,
			VillageCode: line.VillageCode, Kind: line.Kind, Year: line.Year, Category: line.Category,
			Grade: req.Grade, Amount: amount,
		}
		m, err := s.seal(key, deviceID, head, syncproto.MutationCollection, payload, now)
		if err != nil {
			return err
		}
		return w.AppendCollection(ctx, &m, pub, localstore.Collection{
			ID: m.ID, DeviceID: deviceID, ReceiptNum: num, ReceiptNo: receiptNo, RosterEntryID: line.ID,
			RosterVersion: line.Seq, Name: line.Name, Masked: line.Masked, VillageCode: line.VillageCode,
			TownshipCode: en.TownshipCode, Kind: line.Kind, Year: line.Year, Category: line.Category,
			Grade: req.Grade, Amount: amount,
		})
	})
	if err != nil {
		return res, err
	}
	// Committed: what follows only reads, for the receipt and the warnings.
	if res.Collection, err = s.store.CollectionByReceipt(ctx, receiptNo); err != nil {
		return res, err
	}
	held, err := s.store.Cash(ctx, deviceID)
	if err != nil {
		return res, err
	}
	res.Limits = Evaluate(held, set, now)
	res.Warnings = res.Limits.Warnings()
	if left, err := s.store.ReceiptsLeft(ctx); err == nil && left < LowReceipts {
		res.Warnings = append(res.Warnings, Warning{Code: WarnReceiptsLow,
			Message:   fmt.Sprintf("only %d receipt numbers left: sync soon to get more", left),
			MessageZH: fmt.Sprintf("收据号码仅剩 %d 个：请尽快同步以获取新号段", left)})
	}
	if !inPeriod(set, now) {
		res.Warnings = append(res.Warnings, Warning{Code: WarnOutsidePeriod,
			Message:   fmt.Sprintf("today is outside the collection period %s to %s (by this tablet's clock): the server will flag it", set.PeriodStart, set.PeriodEnd),
			MessageZH: fmt.Sprintf("按本机时钟，今天不在征缴期（%s 至 %s）内：服务器将标记此笔", set.PeriodStart, set.PeriodEnd)})
	}
	return res, nil
}

func errRevoked() error {
	return syncproto.Errorf(syncproto.CodeDeviceRevoked,
		"the township revoked this tablet: it may not collect; export the unsynced records (agentapp outbox export) and enroll again",
		"此终端已被镇街停用，不能再收费；请导出未同步记录（agentapp outbox export）并重新登记")
}

func errLimitPassed(l Limits) error {
	return syncproto.Errorf(CodeLimitPassed,
		fmt.Sprintf("a dual limit is reached (cash %s of %s, held %s of %d h): deposit the cash at the bank and record it (agentapp deposit) before collecting more",
			l.Cash, l.CashLimit, l.Held.Truncate(time.Minute), l.TimeLimitHours),
		fmt.Sprintf("已达双限（现金 %s 元 / 限额 %s 元，持有 %s / 限时 %d 小时）：请先将现金存入银行并登记（agentapp deposit）后再收费",
			l.Cash, l.CashLimit, l.Held.Truncate(time.Minute), l.TimeLimitHours))
}

// signingKey takes the device key out of the signer.
func signingKey(signer Signer) (ed25519.PrivateKey, ed25519.PublicKey, error) {
	if signer == nil {
		return nil, nil, syncproto.Errorf(keystore.CodeSessionClosed, "unlock the tablet first", "请先输入 PIN 解锁")
	}
	key := signer.Secrets().DeviceKey
	if len(key) != ed25519.PrivateKeySize {
		return nil, nil, syncproto.Errorf(keystore.CodeSessionClosed,
			"the keystore was locked: unlock it with the PIN", "密钥已锁定：请输入 PIN 解锁")
	}
	return key, key.Public().(ed25519.PublicKey), nil
}

// seal makes the next mutation of the chain after head: a ULID above the
// head's (also across restarts and a clock set back), seq +1, the head's
// hash as prev_hash, the payload as compact JSON (the exact bytes hashed;
// encoding/json re-encodes a RawMessage byte for byte only when it is
// compact and HTML-escaped, which Marshal's output is), signed.
func (s *Service) seal(key ed25519.PrivateKey, deviceID string, head localstore.ChainHead, kind syncproto.MutationKind,
	payload any, now time.Time) (syncproto.Mutation, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return syncproto.Mutation{}, err
	}
	id := s.ids.New()
	if head.ID != "" {
		last, err := syncproto.ParseULID(head.ID)
		if err != nil {
			return syncproto.Mutation{}, err
		}
		if id.Compare(last) <= 0 {
			if id, err = ulid.New(last.Time()+1, rand.Reader); err != nil {
				return syncproto.Mutation{}, fmt.Errorf("collect: mutation ID: %w", err)
			}
		}
	}
	m := syncproto.Mutation{
		ID: id.String(), DeviceID: deviceID, Seq: head.Seq + 1, Kind: kind, DeviceTime: now,
		PrevHash: head.Hash, Payload: body,
	}
	m.Seal(key)
	return m, nil
}

// Void voids a receipt of this device with a reason. The receipt number
// stays used. A receipt can be voided only while its cash is held: not
// once a deposit covers it (the cash is in the bank; a refund is the
// township's business), nor once the server reports it approved or beyond.
func (s *Service) Void(ctx context.Context, signer Signer, receiptNo, reason string) (localstore.Collection, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return localstore.Collection{}, syncproto.Errorf(syncproto.CodeInvalidInput,
			"a void needs a reason (--reason)", "作废须填写原因（--reason）")
	}
	if utf8.RuneCountInString(reason) > MaxReasonLen {
		return localstore.Collection{}, syncproto.Errorf(syncproto.CodeInvalidInput,
			fmt.Sprintf("the reason is longer than %d characters", MaxReasonLen),
			fmt.Sprintf("原因不能超过 %d 个字", MaxReasonLen))
	}
	receiptNo = normaliseReceipt(receiptNo)
	en, err := s.enrollment(ctx, signer)
	if err != nil {
		return localstore.Collection{}, err
	}
	key, pub, err := signingKey(signer)
	if err != nil {
		return localstore.Collection{}, err
	}
	defer clear(key)
	now := s.clock()
	err = s.store.Write(ctx, func(ctx context.Context, w *localstore.WriteTx) error {
		c, err := w.CollectionByReceipt(ctx, receiptNo)
		if errors.Is(err, localstore.ErrNotFound) {
			return syncproto.Errorf(syncproto.CodeNotFound, "this tablet issued no receipt "+receiptNo,
				"本机没有开出收据 "+receiptNo)
		}
		if err != nil {
			return err
		}
		switch {
		case c.DeviceID != en.DeviceID:
			return syncproto.Errorf(CodeOtherDevice,
				"the receipt was issued under an earlier enrollment of this tablet: ask the township to void it",
				"该收据由本机之前的登记开出：请联系镇街作废")
		case c.Voided():
			return syncproto.Errorf(CodeAlreadyVoided, "receipt "+receiptNo+" is voided already", "收据 "+receiptNo+" 已作废")
		case c.Deposited():
			return syncproto.Errorf(CodeAlreadyDeposited,
				"receipt "+receiptNo+" is covered by a bank deposit: it can no longer be voided on the tablet; ask the township for a refund",
				"收据 "+receiptNo+" 的款项已缴存银行，本机不能再作废；如需退费请联系镇街")
		case tooLateToVoid(c.ServerStatus):
			return syncproto.Errorf(CodeTooLateToVoid,
				"receipt "+receiptNo+" is "+c.ServerStatus+" on the server: it can no longer be voided; ask the township",
				"收据 "+receiptNo+" 在服务器上已处理（"+c.ServerStatus+"），不能再作废；请联系镇街")
		}
		head, err := w.ChainHead(ctx, en.DeviceID)
		if err != nil {
			return err
		}
		m, err := s.seal(key, en.DeviceID, head, syncproto.MutationVoid,
			syncproto.Void{CollectionID: c.ID, ReceiptNo: c.ReceiptNo, Reason: reason}, now)
		if err != nil {
			return err
		}
		return w.AppendVoid(ctx, &m, pub, c.ID, reason)
	})
	if err != nil {
		return localstore.Collection{}, err
	}
	return s.store.CollectionByReceipt(ctx, receiptNo)
}

// tooLateToVoid reports whether a server status means the cash has gone
// past the point a tablet may void it.
func tooLateToVoid(status string) bool {
	switch status {
	case "approved", "exported", "posted", "refund_requested", "refunded", "voided":
		return true
	}
	return false
}

// normaliseReceipt accepts a receipt number with or without its leading
// zeros.
func normaliseReceipt(s string) string {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && len(s) <= 12 && strings.Trim(s, "0123456789") == "" {
		return syncproto.FormatReceipt(n)
	}
	return s
}

// DepositRequest is a bank deposit of the cash held: the slip number and
// amount as on the bank's slip, and when it was made (zero: now).
type DepositRequest struct {
	SlipNo      string
	Amount      syncproto.Money
	DepositedAt time.Time
}

// DepositResult is a deposit recorded, with what the agent should know.
type DepositResult struct {
	Deposit  localstore.Deposit `json:"deposit"`
	Warnings []Warning          `json:"warnings,omitempty"`
}

// Deposit records the bank deposit of the cash held. It covers every
// collection of this device not deposited before (voided ones count for
// nothing) and carries their count and sum and the chain head at that
// point (the hash of the record before it). A slip amount that differs
// from the sum is recorded as given, with a warning: the server flags the
// difference for the township.
func (s *Service) Deposit(ctx context.Context, signer Signer, req DepositRequest) (DepositResult, error) {
	var res DepositResult
	slip := strings.TrimSpace(req.SlipNo)
	if slip == "" || utf8.RuneCountInString(slip) > MaxSlipLen {
		return res, syncproto.Errorf(syncproto.CodeInvalidInput,
			fmt.Sprintf("the bank slip number (--slip) is required, at most %d characters", MaxSlipLen),
			fmt.Sprintf("须填写银行缴款单号（--slip），不超过 %d 个字符", MaxSlipLen))
	}
	if req.Amount <= 0 {
		return res, syncproto.Errorf(syncproto.CodeInvalidMoney,
			"the deposit amount (--amount) must be above zero", "缴存金额（--amount）必须大于零")
	}
	en, err := s.enrollment(ctx, signer)
	if err != nil {
		return res, err
	}
	key, pub, err := signingKey(signer)
	if err != nil {
		return res, err
	}
	defer clear(key)
	now := s.clock()
	at := req.DepositedAt
	if at.IsZero() {
		at = now
	}
	at = time.UnixMilli(at.UnixMilli()).UTC()
	err = s.store.Write(ctx, func(ctx context.Context, w *localstore.WriteTx) error {
		held, err := w.Cash(ctx, en.DeviceID)
		if err != nil {
			return err
		}
		if held.Count == 0 {
			return syncproto.Errorf(CodeNothingToDeposit,
				"there is no cash to deposit: every collection is deposited or voided",
				"没有待缴存的现金：所有收费均已缴存或作废")
		}
		head, err := w.ChainHead(ctx, en.DeviceID)
		if err != nil {
			return err
		}
		p := syncproto.Deposit{SlipNo: slip, Amount: req.Amount, DepositedAt: at, Count: held.Count,
			Sum: held.Sum, ChainHead: head.Hash}
		m, err := s.seal(key, en.DeviceID, head, syncproto.MutationDeposit, p, now)
		if err != nil {
			return err
		}
		res.Deposit = localstore.Deposit{ID: m.ID, DeviceID: en.DeviceID, SlipNo: slip, Amount: req.Amount,
			DepositedAt: at, Count: held.Count, Sum: held.Sum, ChainHead: head.Hash}
		return w.AppendDeposit(ctx, &m, pub, res.Deposit)
	})
	if err != nil {
		return DepositResult{}, err
	}
	if d := res.Deposit; d.Amount != d.Sum {
		res.Warnings = append(res.Warnings, Warning{Code: WarnDepositMismatch,
			Message:   fmt.Sprintf("the slip says %s but the %d collections add up to %s (difference %s): recorded as given; the township will check it", d.Amount, d.Count, d.Sum, d.Amount-d.Sum),
			MessageZH: fmt.Sprintf("缴款单金额 %s 元与 %d 笔收费合计 %s 元不符（差额 %s 元）：已按所填登记，镇街将核查", d.Amount, d.Count, d.Sum, d.Amount-d.Sum)})
	}
	return res, nil
}
