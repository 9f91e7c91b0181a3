package sync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// chainError is a refused push: the chain is broken, has a gap, or a held
// record came back changed. It is alerted and audited, never silent.
type chainError struct {
	err *syncproto.Error
	seq int64
}

// Push stores a device's mutations in one transaction and answers the
// highest contiguous seq held plus an outcome per mutation. Re-sent
// mutations are no-ops; a gap, a broken link, a bad signature or a held
// seq with another hash refuses the push with a specific code and raises
// an alert for the township.
func (s *Service) Push(ctx context.Context, p auth.Principal, req syncproto.PushRequest) (syncproto.PushResponse, error) {
	if p.DeviceID == "" {
		return syncproto.PushResponse{}, syncproto.Errorf(syncproto.CodeForbidden,
			"only an enrolled tablet can push", "只有已登记的终端可以上传记录")
	}
	return s.push(ctx, p.DeviceID, req.Mutations, false)
}

// ImportOutbox applies a tablet's exported outbox file, brought in by its
// township, under the same rules as a push. It also works for a revoked
// tablet — a broken or lost one is usually revoked first, and its file is
// then the only way its cash reaches the server — and is audited.
func (s *Service) ImportOutbox(ctx context.Context, device string, f syncproto.OutboxFile) (syncproto.PushResponse, error) {
	if f.DeviceID != device {
		return syncproto.PushResponse{}, syncproto.Errorf(syncproto.CodeInvalidInput,
			"the file is of device "+f.DeviceID+", not "+device, "文件所属终端与所选终端不符")
	}
	resp, err := s.push(ctx, device, f.Mutations, true)
	if err != nil {
		return resp, err
	}
	township, _ := auth.FromContext(ctx)
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		return s.db.Audit(ctx, tx, auth.Audited(ctx, store.AuditEntry{Action: "outbox_imported", TargetType: "device",
			TargetID: device, TownshipCode: township.Township,
			After: map[string]any{"mutations": len(f.Mutations), "ack_seq": resp.AckSeq}}))
	})
	return resp, err
}

func (s *Service) push(ctx context.Context, device string, ms []syncproto.Mutation, allowRevoked bool) (syncproto.PushResponse, error) {
	if len(ms) > s.cfg.MaxPush {
		return syncproto.PushResponse{}, syncproto.Errorf(syncproto.CodeTooLarge,
			fmt.Sprintf("at most %d mutations per push", s.cfg.MaxPush), fmt.Sprintf("每次最多上传 %d 条记录", s.cfg.MaxPush))
	}
	var resp syncproto.PushResponse
	var ce *chainError
	var township string
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		ce = nil
		if err := s.db.PushPlans(ctx, tx); err != nil {
			return err
		}
		dev, err := s.db.LockDeviceForPush(ctx, tx, device)
		if err != nil {
			return err
		}
		township = dev.TownshipCode
		if dev.Revoked && !allowRevoked {
			return auth.ErrDeviceRevoked
		}
		pt := &pushTx{s: s, tx: tx, dev: dev, now: s.db.Now()}
		resp, ce, err = pt.run(ctx, ms)
		if ce != nil {
			return ce.err
		}
		return err
	})
	if ce != nil {
		s.alert(ctx, device, township, ce)
		return syncproto.PushResponse{}, ce.err
	}
	return resp, err
}

// alert records a refused push for the township, in the alert list and
// the audit log.
func (s *Service) alert(ctx context.Context, device, township string, ce *chainError) {
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		now := s.db.Now()
		if err := s.db.InsertAlert(ctx, tx, s.db.NewID(), device, township, string(ce.err.Code), ce.seq, ce.err.Message, now); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, auth.Audited(ctx, store.AuditEntry{Action: "sync_alert", TargetType: "device",
			TargetID: device, TownshipCode: township,
			After: map[string]any{"code": ce.err.Code, "seq": ce.seq, "detail": ce.err.Message}}))
	})
	if err != nil {
		s.log.ErrorContext(ctx, "record sync alert", "err", err, "device", device)
	}
}

// pushTx is one push in its transaction.
type pushTx struct {
	s   *Service
	tx  pgx.Tx
	dev store.PushDevice
	now time.Time

	entries  map[string]*lockedEntry      // roster lines touched, locked
	removed  map[string]store.RosterEntry // lines an import removed, by ID
	settings map[syncproto.Kind]func(int, string) (settings.Year, bool)
	streams  map[string]bool // device streams locked
	villages map[string]bool // village streams locked
	ranges   []store.ReceiptRangeRow
	receipts map[int64]bool         // receipt numbers this device used
	stored   []store.StoredMutation // the push's mutations, written at its end
	set      *pushSet               // collections, changes and counters, written at its end
}

type lockedEntry struct {
	store.RosterEntry
	changeSeq int64
}

type decoded struct {
	m          syncproto.Mutation
	collection *syncproto.Collection
	void       *syncproto.Void
	deposit    *syncproto.Deposit
	reject     *syncproto.Error
}

func (pt *pushTx) run(ctx context.Context, ms []syncproto.Mutation) (syncproto.PushResponse, *chainError, error) {
	resp := syncproto.PushResponse{AckSeq: pt.dev.LastSeq, Outcomes: make([]syncproto.Outcome, 0, len(ms))}
	pub := ed25519.PublicKey(pt.dev.PublicKey)
	last, lastHash := pt.dev.LastSeq, pt.dev.LastHash
	if last == 0 {
		lastHash = syncproto.ZeroHash
	}
	var fresh []decoded
	// signatures returns the first fresh mutation with a bad signature
	// (all checked together), so that a push is refused at its first bad
	// record, whatever kind of fault that is.
	signatures := func() *chainError {
		signed := make([]syncproto.Mutation, len(fresh))
		for i, d := range fresh {
			signed[i] = d.m
		}
		if i := syncproto.FirstBadSignature(pub, signed); i >= 0 {
			return &chainError{seq: signed[i].Seq, err: signed[i].SignatureError()}
		}
		return nil
	}
	for i := range ms {
		m := ms[i]
		dup, ce, err := pt.checkLink(ctx, ms, i, last, lastHash)
		if err != nil {
			return resp, nil, err
		}
		if ce != nil {
			if se := signatures(); se != nil {
				return resp, se, nil
			}
			return resp, ce, nil
		}
		if dup {
			resp.Outcomes = append(resp.Outcomes, syncproto.Outcome{ID: m.ID, Seq: m.Seq, Status: syncproto.OutcomeDuplicate})
			continue
		}
		fresh = append(fresh, decode(m))
		last, lastHash = m.Seq, m.Hash
	}
	if ce := signatures(); ce != nil {
		return resp, ce, nil
	}
	if len(fresh) > 0 {
		if err := pt.lockAll(ctx, fresh); err != nil {
			return resp, nil, err
		}
		for _, d := range fresh {
			out, err := pt.apply(ctx, d)
			if err != nil {
				return resp, nil, err
			}
			resp.Outcomes = append(resp.Outcomes, out)
		}
		if err := pt.flush(ctx); err != nil {
			return resp, nil, err
		}
		if err := pt.s.db.InsertMutations(ctx, pt.tx, pt.stored); err != nil {
			return resp, nil, err
		}
		if err := pt.topUpReceipts(ctx); err != nil {
			return resp, nil, err
		}
	}
	resp.AckSeq = last
	return resp, nil, nil
}

// checkLink checks mutation i of a push against the chain, all but its
// signature: it is the device's, in order, either a re-sent copy of a
// stored mutation (dup) or the next link after last, and its hash is
// that of its content.
func (pt *pushTx) checkLink(ctx context.Context, ms []syncproto.Mutation, i int, last int64, lastHash string) (dup bool, _ *chainError, _ error) {
	m := &ms[i]
	if m.DeviceID != pt.dev.ID {
		return false, &chainError{seq: m.Seq, err: syncproto.Errorf(syncproto.CodeBadSignature,
			fmt.Sprintf("mutation %d belongs to another device", m.Seq), fmt.Sprintf("记录 %d 属于其他终端", m.Seq))}, nil
	}
	if i > 0 && m.Seq <= ms[i-1].Seq {
		return false, &chainError{seq: m.Seq, err: syncproto.Errorf(syncproto.CodeChainBroken,
			"mutations must be sent in increasing seq order", "记录须按序号递增上传")}, nil
	}
	if m.Seq <= pt.dev.LastSeq {
		held, err := pt.s.db.MutationHash(ctx, pt.tx, pt.dev.ID, m.Seq)
		if err != nil {
			return false, nil, err
		}
		if held != m.Hash {
			return false, &chainError{seq: m.Seq, err: syncproto.Errorf(syncproto.CodeChainTampered,
				fmt.Sprintf("mutation %d differs from the one already stored (edited or replaced)", m.Seq),
				fmt.Sprintf("记录 %d 与服务器已保存的不一致（可能被修改或替换）", m.Seq))}, nil
		}
		return true, nil, nil
	}
	if m.Seq != last+1 {
		return false, &chainError{seq: m.Seq, err: syncproto.Errorf(syncproto.CodeChainGap,
			fmt.Sprintf("mutation %d sent but %d is missing", m.Seq, last+1),
			fmt.Sprintf("缺少记录 %d，却收到记录 %d", last+1, m.Seq))}, nil
	}
	if m.PrevHash != lastHash {
		return false, &chainError{seq: m.Seq, err: syncproto.Errorf(syncproto.CodeChainBroken,
			fmt.Sprintf("mutation %d does not link to mutation %d (reordered or edited)", m.Seq, last),
			fmt.Sprintf("记录 %d 与上一条记录 %d 链接不上（顺序被打乱或被修改）", m.Seq, last))}, nil
	}
	if err := m.CheckContent(); err != nil {
		var pe *syncproto.Error
		if errors.As(err, &pe) && pe.Code == syncproto.CodeChainBroken {
			return false, &chainError{seq: m.Seq, err: pe}, nil
		}
		return false, &chainError{seq: m.Seq, err: syncproto.Wrap(err, syncproto.CodeChainBroken, err.Error(), "记录格式不正确")}, nil
	}
	return false, nil, nil
}

// decode reads a mutation's payload strictly (syncproto.UnmarshalStrict:
// a payload is one JSON value, cut out of the decoded body); a payload
// that cannot be used is a rejection (stored, so the chain goes on), not
// an error.
func decode(m syncproto.Mutation) decoded {
	d := decoded{m: m}
	reject := func(en, zh string) decoded {
		d.reject = syncproto.Errorf(syncproto.CodeInvalidInput, en, zh)
		return d
	}
	var err error
	switch m.Kind {
	case syncproto.MutationCollection:
		d.collection = &syncproto.Collection{}
		err = syncproto.UnmarshalStrict(m.Payload, d.collection)
		if err == nil {
			c := d.collection
			if _, perr := strconv.ParseInt(c.ReceiptNo, 10, 64); perr != nil || c.RosterEntryID == "" || c.Amount < 0 || c.Grade < 0 || !c.Kind.Valid() {
				return reject("collection lacks a receipt number, roster line, kind or a valid amount", "收款记录缺少收据号、清册条目、险种或金额无效")
			}
		}
	case syncproto.MutationVoid:
		d.void = &syncproto.Void{}
		err = syncproto.UnmarshalStrict(m.Payload, d.void)
		if err == nil && (d.void.CollectionID == "" || strings.TrimSpace(d.void.Reason) == "") {
			return reject("a void needs the collection and a reason", "作废记录须注明所作废的收款及原因")
		}
	case syncproto.MutationDeposit:
		d.deposit = &syncproto.Deposit{}
		err = syncproto.UnmarshalStrict(m.Payload, d.deposit)
		if err == nil && (strings.TrimSpace(d.deposit.SlipNo) == "" || d.deposit.Amount < 0) {
			return reject("a deposit needs a slip number and an amount", "解缴记录须有缴款单号和金额")
		}
	default:
		return reject("unknown mutation kind "+string(m.Kind), "未知的记录类型："+string(m.Kind))
	}
	if err != nil {
		return reject("payload is not valid for its kind: "+err.Error(), "记录内容格式不正确")
	}
	return d
}

// lockAll takes, in a fixed order, every lock the push needs: the village
// streams of the device's villages (whose lines' paid flags it may
// change), then the push's roster lines, then the device streams it may
// write to (its own and those of devices holding collections of the same
// people), then those collections. A roster import takes village streams
// before roster lines too, so the two cannot deadlock.
func (pt *pushTx) lockAll(ctx context.Context, ds []decoded) error {
	ids := map[string]bool{}
	var voids []string
	for _, d := range ds {
		switch {
		case d.collection != nil:
			ids[d.collection.RosterEntryID] = true
		case d.void != nil:
			voids = append(voids, d.void.CollectionID)
		}
	}
	if len(voids) > 0 {
		more, err := pt.s.db.RosterEntriesOfCollections(ctx, pt.tx, pt.dev.ID, voids)
		if err != nil {
			return err
		}
		for _, id := range more {
			ids[id] = true
		}
	}
	entryIDs := keys(ids)
	// All the agent's villages (one to a few), not only those of the
	// push's lines: no lookup of the lines' villages before the lock, and
	// a line moved into one of them meanwhile finds its stream locked. A
	// push that names no roster line (deposits only) changes no paid
	// flag and does not wait on them.
	pt.villages = map[string]bool{}
	if len(entryIDs) > 0 {
		for _, v := range pt.dev.Villages {
			pt.villages[v] = true
		}
	}
	pt.set = newPushSet(pt.now)
	var err error
	if pt.set.villages, err = pt.s.db.LockVillageCounters(ctx, pt.tx, keys(pt.villages)); err != nil {
		return err
	}
	if len(pt.set.villages) != len(pt.villages) {
		return fmt.Errorf("push: a village of the push has no stream counter")
	}
	pt.entries = map[string]*lockedEntry{}
	pt.removed = map[string]store.RosterEntry{}
	var people []store.Person
	// One statement locks every line of the push, in ID order (a query
	// per line was a seventh of a push's round trips).
	locked, err := pt.s.db.RosterEntriesForUpdate(ctx, pt.tx, entryIDs)
	if err != nil {
		return err
	}
	for _, id := range entryIDs {
		l, ok := locked[id]
		e, seq := l.RosterEntry, l.ChangeSeq
		if !ok {
			r, ok, err := pt.s.db.RemovedRosterLine(ctx, pt.tx, id)
			if err != nil {
				return err
			}
			if ok {
				pt.removed[id] = r
				people = append(people, store.Person{ResidentID: r.ResidentID, Kind: r.Kind, Year: r.Year})
			}
			continue
		}
		pt.entries[id] = &lockedEntry{RosterEntry: e, changeSeq: seq}
		people = append(people, store.Person{ResidentID: e.ResidentID, Kind: e.Kind, Year: e.Year})
	}
	others, err := pt.s.db.OtherDevicesOf(ctx, pt.tx, pt.dev.ID, entryIDs, people)
	if err != nil {
		return err
	}
	devices := append([]string{pt.dev.ID}, others...)
	slices.Sort(devices)
	if pt.set.devices, err = pt.s.db.LockDeviceCounters(ctx, pt.tx, devices); err != nil {
		return err
	}
	pt.streams = map[string]bool{}
	for _, d := range devices {
		pt.streams[d] = true
	}
	// Every collection the push may count as a duplicate, flag or unflag,
	// locked in one statement (a query per collection was a third of a
	// push's round trips).
	held, err := pt.s.db.ActiveCollectionsOfAny(ctx, pt.tx, entryIDs, people)
	if err != nil {
		return err
	}
	for i := range held {
		pt.set.add(&held[i])
	}
	pt.settings = map[syncproto.Kind]func(int, string) (settings.Year, bool){}
	for _, k := range syncproto.Kinds() {
		r, err := pt.s.settings.Resolver(ctx, pt.tx, k)
		if err != nil {
			return err
		}
		pt.settings[k] = r
	}
	if pt.ranges, err = pt.s.db.ReceiptRanges(ctx, pt.tx, pt.dev.ID); err != nil {
		return err
	}
	// The push's receipt numbers the device used before, and its highest
	// (not every number it ever used: that grew with each push).
	var nums []int64
	for _, d := range ds {
		if d.collection != nil {
			if n, err := strconv.ParseInt(d.collection.ReceiptNo, 10, 64); err == nil {
				nums = append(nums, n)
			}
		}
	}
	used, err := pt.s.db.UsedReceipts(ctx, pt.tx, pt.dev.ID, nums)
	if err != nil {
		return err
	}
	pt.receipts = make(map[int64]bool, len(used))
	for _, n := range used {
		pt.receipts[n] = true
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (pt *pushTx) lockDevice(ctx context.Context, id string) error {
	if pt.streams[id] {
		return nil
	}
	n, err := pt.s.db.LockDeviceCounters(ctx, pt.tx, []string{id})
	if err != nil {
		return err
	}
	pt.set.devices[id] = n[id]
	pt.streams[id] = true
	return nil
}

// apply stores one new, well-chained mutation and what follows from it.
func (pt *pushTx) apply(ctx context.Context, d decoded) (syncproto.Outcome, error) {
	m := d.m
	out := syncproto.Outcome{ID: m.ID, Seq: m.Seq, Status: syncproto.OutcomeStored}
	sm := store.StoredMutation{DeviceID: m.DeviceID, Seq: m.Seq, ID: m.ID, Kind: string(m.Kind), DeviceTime: m.DeviceTime,
		DeviceTimeText: m.DeviceTime.UTC().Format(time.RFC3339Nano),
		PrevHash:       m.PrevHash, Payload: m.Payload, Hash: m.Hash, Signature: m.Signature, ReceivedAt: pt.now,
		Status: "stored", TownshipCode: pt.dev.TownshipCode}
	var err error
	switch {
	case d.reject == nil && d.collection != nil:
		out.Flags, err = pt.collection(ctx, m, d.collection)
	case d.reject == nil && d.void != nil:
		d.reject, err = pt.void(ctx, m, d.void)
	case d.reject == nil && d.deposit != nil:
		out.Flags, err = pt.depositOf(ctx, m, d.deposit)
	}
	if err != nil {
		return out, err
	}
	if d.reject != nil {
		sm.Status, sm.RejectCode, sm.RejectReason = "rejected", string(d.reject.Code), d.reject.Message
		out.Status, out.Code, out.Reason, out.ReasonZH = syncproto.OutcomeRejected, d.reject.Code, d.reject.Message, d.reject.MessageZH
	}
	pt.stored = append(pt.stored, sm) // written with one COPY at the end of the push
	return out, nil
}

// collection stores cash: always, flagged when something is wrong.
func (pt *pushTx) collection(ctx context.Context, m syncproto.Mutation, c *syncproto.Collection) ([]string, error) {
	receipt, _ := strconv.ParseInt(c.ReceiptNo, 10, 64)
	row := store.Collection{ID: m.ID, DeviceID: pt.dev.ID, AgentID: pt.dev.AgentID, Seq: m.Seq, ReceiptNo: receipt,
		RosterEntryID: c.RosterEntryID, RosterVersion: c.RosterVersion, Name: c.Name, VillageCode: pt.villageOf(c),
		TownshipCode: pt.dev.TownshipCode, Kind: string(c.Kind), Year: c.Year, Category: string(c.Category),
		GradeFen: int64(c.Grade), AmountFen: int64(c.Amount), DeviceTime: m.DeviceTime, ReceivedAt: pt.now,
		BusinessDay: pt.s.businessDay(pt.now), Status: "synced", Flags: []string{}}
	var flags []string
	flag := func(f string) {
		if !slices.Contains(flags, f) {
			flags = append(flags, f)
		}
	}
	if !pt.inRange(receipt) {
		flag(FlagReceiptRange)
	}
	if pt.receipts[receipt] {
		flag(FlagReceiptReused)
	}
	pt.receipts[receipt] = true
	// The person: the roster line, or the line an import removed (so the
	// cash still has a name and a later payment is caught as a duplicate).
	e := pt.entries[c.RosterEntryID]
	person, known := pt.removed[c.RosterEntryID]
	if e != nil {
		person, known = e.RosterEntry, true
	}
	if known {
		row.ResidentID, row.Name, row.Category = person.ResidentID, person.Name, person.Category
	}
	switch {
	case e == nil || e.Kind != string(c.Kind) || e.Year != c.Year:
		flag(FlagNotOnRoster)
	default:
		if e.VillageCode != c.VillageCode || !slices.Contains(pt.dev.Villages, e.VillageCode) {
			flag(FlagMovedVillage)
		}
		if e.FullySubsidised {
			flag(FlagFullySubsidised)
		}
		if e.Paid {
			if len(pt.set.activeOf(e.ID, e.ResidentID, e.Kind, e.Year)) == 0 {
				flag(FlagPaidElsewhere)
			}
		}
	}
	if set, ok := pt.settings[c.Kind](c.Year, row.VillageCode); ok {
		// Tablet clocks are wrong by days: outside only when both the
		// tablet's time and the arrival are.
		if !set.InPeriod(m.DeviceTime) && !set.InPeriod(pt.now) {
			flag(FlagOutsidePeriod)
		}
		cat := syncproto.Category(row.Category)
		subsidy := set.Subsidy[cat]
		if e != nil {
			subsidy = syncproto.Money(e.SubsidyFen) // the roster's own figure wins
		}
		switch {
		case c.Kind == syncproto.KindMedical && e != nil && int64(c.Amount) != e.DueFen:
			flag(FlagAmount)
		case c.Kind == syncproto.KindPension && (!set.GradeAllowed(cat, c.Grade) || c.Amount != c.Grade-subsidy):
			flag(FlagAmount)
		}
	} else {
		flag(FlagOutsidePeriod) // no settings for that year: no collection period
	}
	// Duplicates: every other live collection of the person, kind and year.
	var others []*store.Collection
	if known {
		others = pt.set.activeOf(c.RosterEntryID, person.ResidentID, person.Kind, person.Year)
	}
	if len(others) > 0 {
		flag(FlagDuplicate)
	}
	row.Flags = slices.Clone(flags) // the outcome keeps its own
	if row.Flags == nil {
		row.Flags = []string{}
	}
	pt.set.insert(&row)
	for _, f := range flags {
		if err := pt.notice(ctx, pt.dev.ID, pt.dev.TownshipCode, row.ID, f); err != nil {
			return nil, err
		}
	}
	for _, o := range others {
		if slices.Contains(o.Flags, FlagDuplicate) {
			continue
		}
		o.Flags = append(slices.Clone(o.Flags), FlagDuplicate)
		if err := pt.touchCollection(ctx, o); err != nil {
			return nil, err
		}
		if err := pt.notice(ctx, o.DeviceID, o.TownshipCode, o.ID, FlagDuplicate); err != nil {
			return nil, err
		}
	}
	if e != nil && !e.Paid && pt.villages[e.VillageCode] {
		pt.setPaid(e, true)
	}
	return flags, nil
}

// villageOf is the village a collection is booked to: the roster line's
// when it is one of the device's villages, else the village the tablet
// named when it is one of its own, else the device's first village. Cash
// is always booked inside the collecting agent's own area.
func (pt *pushTx) villageOf(c *syncproto.Collection) string {
	if e := pt.entries[c.RosterEntryID]; e != nil && slices.Contains(pt.dev.Villages, e.VillageCode) {
		return e.VillageCode
	}
	if slices.Contains(pt.dev.Villages, c.VillageCode) || len(pt.dev.Villages) == 0 {
		return c.VillageCode
	}
	return pt.dev.Villages[0]
}

func (pt *pushTx) inRange(n int64) bool {
	for _, r := range pt.ranges {
		if n >= r.First && n <= r.Last {
			return true
		}
	}
	return false
}

// setPaid changes a roster line's paid flag, as a change of its village.
func (pt *pushTx) setPaid(e *lockedEntry, paid bool) {
	e.Paid, e.changeSeq = paid, pt.set.setPaid(e.VillageCode, e.ID, paid)
}

// touchCollection writes a changed collection with a new change number
// in its device's stream.
func (pt *pushTx) touchCollection(ctx context.Context, c *store.Collection) error {
	if err := pt.lockDevice(ctx, c.DeviceID); err != nil {
		return err
	}
	pt.set.touch(c)
	return nil
}

// notice tells a device's agent about a flag; township is the device's.
func (pt *pushTx) notice(ctx context.Context, device, township, collection, code string) error {
	if err := pt.lockDevice(ctx, device); err != nil {
		return err
	}
	id := pt.s.db.NewID()
	seq := pt.set.deviceChange(device, syncproto.EntityNotice, id)
	text := flagText[code]
	pt.set.w.Notices = append(pt.set.w.Notices, store.NoticeRow{ID: id, DeviceID: device, TownshipCode: township,
		CollectionID: collection, Code: code, Message: text[0], MessageZH: text[1], At: pt.now, ChangeSeq: seq})
	return nil
}

// void marks a collection voided; its receipt number stays used.
func (pt *pushTx) void(ctx context.Context, m syncproto.Mutation, v *syncproto.Void) (*syncproto.Error, error) {
	c, err := pt.ownCollection(ctx, v.CollectionID)
	if errors.Is(err, store.ErrNotFound) {
		return syncproto.Errorf(syncproto.CodeNotFound, "void of a collection this tablet never sent", "作废的收款记录不存在"), nil
	}
	if err != nil {
		return nil, err
	}
	if c.Status == "voided" {
		return nil, nil // voided already: nothing changes
	}
	if c.Status != "synced" {
		return syncproto.Errorf(syncproto.CodeConflict, "the collection is already in a remittance batch: ask the township for a refund",
			"该收款已进入解缴批次，不能作废，请联系镇街办理退费"), nil
	}
	at := pt.now
	c.Status, c.VoidedAt, c.VoidReason = "voided", &at, v.Reason
	if err := pt.touchCollection(ctx, c); err != nil {
		return nil, err
	}
	e := pt.entries[c.RosterEntryID]
	person, known := pt.removed[c.RosterEntryID]
	if e != nil {
		person, known = e.RosterEntry, true
	}
	if !known {
		return nil, nil
	}
	others := pt.set.activeOf(c.RosterEntryID, person.ResidentID, person.Kind, person.Year)
	// One payment left: it is no longer a duplicate.
	if len(others) == 1 && slices.Contains(others[0].Flags, FlagDuplicate) {
		o := others[0]
		o.Flags = slices.DeleteFunc(slices.Clone(o.Flags), func(f string) bool { return f == FlagDuplicate })
		if err := pt.touchCollection(ctx, o); err != nil {
			return nil, err
		}
		if err := pt.notice(ctx, o.DeviceID, o.TownshipCode, o.ID, NoticeDuplicateResolved); err != nil {
			return nil, err
		}
	}
	if e != nil && e.Paid && len(others) == 0 && pt.villages[e.VillageCode] {
		pt.setPaid(e, false)
	}
	return nil, nil
}

// ownCollection is one of the device's collections, locked: the one the
// push holds, or (not loaded by the push: voided, or not the device's)
// read from the database.
func (pt *pushTx) ownCollection(ctx context.Context, id string) (*store.Collection, error) {
	if c := pt.set.byID[id]; c != nil {
		if c.DeviceID != pt.dev.ID {
			return nil, store.ErrNotFound
		}
		return c, nil
	}
	c, err := pt.s.db.CollectionForUpdate(ctx, pt.tx, pt.dev.ID, id)
	if err != nil {
		return nil, err
	}
	pt.set.add(&c)
	return &c, nil
}

// depositOf records a bank deposit and compares its count, sum and chain
// head with what the server holds for the device.
func (pt *pushTx) depositOf(ctx context.Context, m syncproto.Mutation, d *syncproto.Deposit) ([]string, error) {
	// The deposit reads the device's collections from the database: what
	// the push decided so far is written first.
	if err := pt.flush(ctx); err != nil {
		return nil, err
	}
	held, err := pt.s.db.Undeposited(ctx, pt.tx, pt.dev.ID, m.Seq)
	if err != nil {
		return nil, err
	}
	var count int
	var sum int64
	ids := make([]string, 0, len(held))
	for _, c := range held {
		ids = append(ids, c.ID)
		if c.Status != "voided" {
			count++
			sum += c.AmountFen
		}
	}
	var flags []string
	if count != d.Count {
		flags = append(flags, FlagDepositCount)
	}
	if sum != int64(d.Sum) {
		flags = append(flags, FlagDepositSum)
	}
	if d.ChainHead != m.PrevHash {
		flags = append(flags, FlagDepositChain)
	}
	if int64(d.Amount) != sum {
		flags = append(flags, FlagDepositSlip)
	}
	row := store.DepositRow{ID: m.ID, DeviceID: pt.dev.ID, AgentID: pt.dev.AgentID, TownshipCode: pt.dev.TownshipCode,
		Seq: m.Seq, SlipNo: d.SlipNo, AmountFen: int64(d.Amount), DepositedAt: d.DepositedAt, Count: d.Count,
		SumFen: int64(d.Sum), ChainHead: d.ChainHead, ServerCount: count, ServerSumFen: sum, Flags: flags, ReceivedAt: pt.now}
	if row.Flags == nil {
		row.Flags = []string{}
	}
	if err := pt.s.db.InsertDeposit(ctx, pt.tx, row); err != nil {
		return nil, err
	}
	if err := pt.s.db.MarkDeposited(ctx, pt.tx, m.ID, ids); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if c := pt.set.byID[id]; c != nil {
			c.DepositID = m.ID // as the database now holds it
		}
	}
	for _, f := range flags {
		if err := pt.notice(ctx, pt.dev.ID, pt.dev.TownshipCode, "", f); err != nil {
			return nil, err
		}
	}
	return flags, nil
}

// topUpReceipts hands the device a new block of receipt numbers when
// fewer than the threshold remain unused.
func (pt *pushTx) topUpReceipts(ctx context.Context) error {
	return pt.s.topUp(ctx, pt.tx, pt.dev.ID, pt.ranges, pt.receipts)
}

// topUp allocates a block when the device has fewer than the threshold
// of unused numbers above its highest used one. The device stream must
// be locked by tx.
func (s *Service) topUp(ctx context.Context, tx pgx.Tx, device string, ranges []store.ReceiptRangeRow, used map[int64]bool) error {
	var maxUsed int64
	for n := range used {
		maxUsed = max(maxUsed, n)
	}
	var remaining int64
	for _, r := range ranges {
		if r.Last > maxUsed {
			remaining += r.Last - max(r.First-1, maxUsed)
		}
	}
	if remaining >= s.cfg.ReceiptThreshold {
		return nil
	}
	id := s.db.NewID()
	now := s.db.Now()
	seq, err := s.db.AppendDeviceChange(ctx, tx, device, syncproto.EntityReceiptRange, id, syncproto.OpUpsert, now)
	if err != nil {
		return err
	}
	_, err = s.db.AllocateReceiptRange(ctx, tx, id, device, s.cfg.ReceiptBlock, now, seq)
	return err
}
