package sync

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"slices"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// cursor is where a device's replica stands: the last change number seen
// in each village stream and in its own stream, and the version of the
// settings it holds. It travels to the tablet as opaque base64url JSON.
type cursor struct {
	Device   string           `json:"dev"`
	Villages map[string]int64 `json:"v,omitempty"`
	Own      int64            `json:"d,omitempty"`
	Settings string           `json:"s,omitempty"`
}

var errBadCursor = syncproto.Errorf(syncproto.CodeBadCursor,
	"the sync cursor is not valid for this device: pull again from the start", "同步游标无效，请从头重新同步")

func parseCursor(s, device string) (cursor, error) {
	c := cursor{Device: device, Villages: map[string]int64{}}
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Device != device {
		return cursor{}, errBadCursor
	}
	if c.Villages == nil {
		c.Villages = map[string]int64{}
	}
	return c, nil
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Pull serves the changes after cur of the device's villages and of its
// own stream, each change with the row's current state; a change
// superseded by a later one of the same row is skipped (so a pull from an
// empty cursor is a compacted bootstrap). When caught up it adds the
// checkpoint of the whole scope. Everything is read from one snapshot.
func (s *Service) Pull(ctx context.Context, p auth.Principal, cur string, limit int) (syncproto.PullResponse, error) {
	if p.DeviceID == "" {
		return syncproto.PullResponse{}, syncproto.Errorf(syncproto.CodeForbidden,
			"only an enrolled tablet can pull", "只有已登记的终端可以同步")
	}
	if limit <= 0 || limit > s.cfg.MaxPull {
		limit = s.cfg.MaxPull
	}
	c, err := parseCursor(cur, p.DeviceID)
	if err != nil {
		return syncproto.PullResponse{}, err
	}
	if err := s.ensureReceipts(ctx, p.DeviceID); err != nil {
		return syncproto.PullResponse{}, err
	}
	var resp syncproto.PullResponse
	err = s.db.ReadSnapshot(ctx, func(tx pgx.Tx) error {
		_, township, villages, err := s.db.DeviceScope(ctx, tx, p.DeviceID)
		if err != nil {
			return err
		}
		pc := &pullTx{s: s, tx: tx, limit: limit, township: township}
		if err := pc.settingsChange(ctx, &c, villages); err != nil {
			return err
		}
		for _, v := range villages {
			if err := pc.village(ctx, &c, v); err != nil {
				return err
			}
			if pc.full() {
				break
			}
		}
		if !pc.full() {
			if err := pc.own(ctx, &c, p.DeviceID); err != nil {
				return err
			}
		}
		resp.HasMore = pc.full()
		resp.Changes = pc.changes
		if resp.Changes == nil {
			resp.Changes = []syncproto.Change{}
		}
		// Villages no longer in scope are forgotten by the cursor.
		for v := range c.Villages {
			if !slices.Contains(villages, v) {
				delete(c.Villages, v)
			}
		}
		resp.Cursor = c.String()
		if !resp.HasMore {
			items, err := s.db.ScopeItems(ctx, tx, p.DeviceID, villages)
			if err != nil {
				return err
			}
			ri := make([]syncproto.ReplicaItem, len(items))
			for i, it := range items {
				ri[i] = syncproto.ReplicaItem{Entity: it.Entity, ID: it.ID, Seq: it.Seq}
			}
			resp.Checkpoint = &syncproto.Checkpoint{Count: len(ri), Checksum: syncproto.ReplicaChecksum(ri)}
		}
		return nil
	})
	return resp, err
}

// ensureReceipts gives a device its first block of receipt numbers.
func (s *Service) ensureReceipts(ctx context.Context, device string) error {
	ranges, err := s.db.ReceiptRanges(ctx, s.db.Pool, device)
	if err != nil || len(ranges) > 0 {
		return err
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := s.db.LockDeviceStream(ctx, tx, device); err != nil {
			return err
		}
		ranges, err := s.db.ReceiptRanges(ctx, tx, device)
		if err != nil || len(ranges) > 0 {
			return err
		}
		return s.topUp(ctx, tx, device, nil, nil)
	})
}

type pullTx struct {
	s        *Service
	tx       pgx.Tx
	limit    int
	township string
	read     int // changes read (served or skipped)
	changes  []syncproto.Change
	idHash   *syncproto.IDHasher
	resolve  map[syncproto.Kind]func(int, string) (settings.Year, bool)
	data     []byte // the roster lines' JSON, written one after another in shared chunks: one allocation per many lines
}

func (pc *pullTx) full() bool { return pc.read >= pc.limit }

// village serves a village stream's changes after the cursor.
func (pc *pullTx) village(ctx context.Context, c *cursor, v string) error {
	after := c.Villages[v]
	refs, err := pc.s.db.VillageChanges(ctx, pc.tx, v, after, pc.limit-pc.read)
	if err != nil || len(refs) == 0 {
		return err
	}
	pc.read += len(refs)
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.EntityID
	}
	lines, err := pc.s.db.RosterLinesByID(ctx, pc.tx, ids)
	if err != nil {
		return err
	}
	stream := "v:" + v
	for _, r := range refs {
		line, live := lines[r.EntityID]
		live = live && line.VillageCode == v
		switch {
		case r.Op == syncproto.OpUpsert && live && line.ChangeSeq == r.Seq:
			data, err := pc.rosterLine(ctx, line)
			if err != nil {
				return err
			}
			pc.changes = append(pc.changes, syncproto.Change{Stream: stream, Seq: r.Seq, Entity: r.Entity, ID: r.EntityID, Op: r.Op, Data: data})
		case r.Op == syncproto.OpDelete && !live && after > 0:
			pc.changes = append(pc.changes, syncproto.Change{Stream: stream, Seq: r.Seq, Entity: r.Entity, ID: r.EntityID, Op: r.Op})
		}
		// Otherwise superseded by a later change of the same row: skipped.
	}
	c.Villages[v] = refs[len(refs)-1].Seq
	return nil
}

// rosterLine is what a tablet holds of a roster line.
func (pc *pullTx) rosterLine(ctx context.Context, r store.RosterLineRow) (json.RawMessage, error) {
	if pc.idHash == nil {
		k, err := pc.s.db.Secret(ctx, pc.tx, "id_hash_key")
		if err != nil {
			return nil, err
		}
		pc.idHash = syncproto.NewIDHasher(k)
	}
	kind := syncproto.Kind(r.Kind)
	line := syncproto.RosterLine{ID: r.ID, Kind: kind, Year: r.Year, Name: r.Name, Initials: r.Initials,
		Masked: syncproto.ResidentID(r.ResidentID).Masked(), IDHash: pc.idHash.Hash(syncproto.ResidentID(r.ResidentID)),
		VillageCode: r.VillageCode, Category: syncproto.Category(r.Category), Due: syncproto.Money(r.DueFen),
		Subsidy: syncproto.Money(r.SubsidyFen), FullySubsidised: r.FullySubsidised, Paid: r.Paid, Review: r.Review}
	if kind == syncproto.KindPension {
		set, ok, err := pc.yearSettings(ctx, kind, r.Year, r.VillageCode)
		if err != nil {
			return nil, err
		}
		if ok {
			for _, g := range set.Grades {
				if set.GradeAllowed(line.Category, g.Amount) {
					line.Grades = append(line.Grades, g.Amount)
				}
			}
		}
	}
	if cap(pc.data)-len(pc.data) < 1024 {
		pc.data = make([]byte, 0, 16<<10) // about 40 lines; a caught-up pull of a few lines takes no more
	}
	start := len(pc.data)
	pc.data = line.AppendJSON(pc.data)
	return pc.data[start:len(pc.data):len(pc.data)], nil
}

func (pc *pullTx) yearSettings(ctx context.Context, kind syncproto.Kind, year int, village string) (settings.Year, bool, error) {
	if pc.resolve == nil {
		pc.resolve = map[syncproto.Kind]func(int, string) (settings.Year, bool){}
	}
	r, ok := pc.resolve[kind]
	if !ok {
		var err error
		if r, err = pc.s.settings.Resolver(ctx, pc.tx, kind); err != nil {
			return settings.Year{}, false, err
		}
		pc.resolve[kind] = r
	}
	y, found := r(year, village)
	return y, found, nil
}

// own serves the device's own stream: its collections' status, notices
// and receipt ranges.
func (pc *pullTx) own(ctx context.Context, c *cursor, device string) error {
	refs, err := pc.s.db.DeviceChanges(ctx, pc.tx, device, c.Own, pc.limit-pc.read)
	if err != nil || len(refs) == 0 {
		return err
	}
	pc.read += len(refs)
	byEntity := map[string][]string{}
	for _, r := range refs {
		byEntity[r.Entity] = append(byEntity[r.Entity], r.EntityID)
	}
	cols, err := pc.s.db.CollectionsByID(ctx, pc.tx, byEntity[syncproto.EntityCollection])
	if err != nil {
		return err
	}
	notes, err := pc.s.db.NoticesByID(ctx, pc.tx, byEntity[syncproto.EntityNotice])
	if err != nil {
		return err
	}
	ranges, err := pc.s.db.ReceiptRanges(ctx, pc.tx, device)
	if err != nil {
		return err
	}
	stream := "d:" + device
	for _, r := range refs {
		var data any
		switch r.Entity {
		case syncproto.EntityCollection:
			if col, ok := cols[r.EntityID]; ok && col.ChangeSeq == r.Seq {
				data = syncproto.CollectionStatus{ID: col.ID, ReceiptNo: syncproto.FormatReceipt(col.ReceiptNo),
					Status: col.Status, Flags: col.Flags}
			}
		case syncproto.EntityNotice:
			if n, ok := notes[r.EntityID]; ok && n.ChangeSeq == r.Seq {
				data = syncproto.Notice{ID: n.ID, CollectionID: n.CollectionID, Code: n.Code, Message: n.Message,
					MessageZH: n.MessageZH, At: n.At}
			}
		case syncproto.EntityReceiptRange:
			for _, rr := range ranges {
				if rr.ID == r.EntityID && rr.ChangeSeq == r.Seq {
					data = syncproto.ReceiptRange{ID: rr.ID, First: rr.First, Last: rr.Last}
				}
			}
		}
		if data == nil {
			continue // superseded
		}
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		pc.changes = append(pc.changes, syncproto.Change{Stream: stream, Seq: r.Seq, Entity: r.Entity, ID: r.EntityID, Op: r.Op, Data: b})
	}
	c.Own = refs[len(refs)-1].Seq
	return nil
}

// settingsChange sends the device's settings when they differ from the
// version the cursor holds. Settings are not numbered in a stream: they
// are small and sent whole.
func (pc *pullTx) settingsChange(ctx context.Context, c *cursor, villages []string) error {
	if len(villages) == 0 {
		return nil
	}
	key, err := pc.s.db.Secret(ctx, pc.tx, "id_hash_key")
	if err != nil {
		return err
	}
	pc.idHash = syncproto.NewIDHasher(key)
	ds := syncproto.DeviceSettings{IDHashKey: key}
	all, err := pc.s.settings.AllIn(ctx, pc.tx, 0)
	if err != nil {
		return err
	}
	if y, ok := newest(all, pc.township); ok {
		ds.CashLimit, ds.TimeLimitHours, ds.Cutoff = y.CashLimit, y.TimeLimitHours, y.Cutoff
		ds.PeriodStart, ds.PeriodEnd = y.PeriodStart, y.PeriodEnd
	}
	b, err := json.Marshal(ds)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	version := hex.EncodeToString(sum[:8])
	if version == c.Settings {
		return nil
	}
	c.Settings = version
	pc.changes = append(pc.changes, syncproto.Change{Stream: "s", Entity: syncproto.EntitySettings, ID: "settings",
		Op: syncproto.OpUpsert, Data: b})
	return nil
}
