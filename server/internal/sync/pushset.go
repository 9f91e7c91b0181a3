package sync

import (
	"context"
	"slices"
	"time"

	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// pushSet is what a push knows and has yet to write. The collections of
// the push's people are read, locked, once (load); the push then checks
// duplicates against them in Go, numbers its changes in Go under the
// stream counters it holds, and writes everything together (flush) —
// before it reads collections from the database again (a deposit) and at
// its end. The database sees the same rows, change numbers and counters
// as if each had been written when it was decided.
type pushSet struct {
	byID     map[string]*store.Collection // the people's collections (voided ones once voided here), and the push's
	ordered  []*store.Collection          // the same, to filter
	isNew    map[string]bool              // inserted by this push and not yet written
	devices  map[string]int64             // device stream counters held
	villages map[string]store.VillageCounter
	w        store.PushWrites
	dirty    map[string]bool // existing collections changed since the last flush
	paid     map[string]int  // roster line → index in w.Paid
}

func newPushSet(at time.Time) *pushSet {
	return &pushSet{byID: map[string]*store.Collection{}, isNew: map[string]bool{}, devices: map[string]int64{},
		villages: map[string]store.VillageCounter{}, dirty: map[string]bool{}, paid: map[string]int{},
		w: store.PushWrites{At: at, DeviceCounters: map[string]int64{}, VillageCounter: map[string]store.VillageCounter{}}}
}

func (ps *pushSet) add(c *store.Collection) {
	ps.byID[c.ID] = c
	ps.ordered = append(ps.ordered, c)
}

// activeOf is store.ActiveCollectionsOf over what the push holds: the
// non-voided collections of a roster line, or of a person (ID number,
// kind, year) when the ID number is known, by arrival then ID.
func (ps *pushSet) activeOf(entryID, residentID, kind string, year int) []*store.Collection {
	var out []*store.Collection
	for _, c := range ps.ordered {
		if c.Status != "voided" && (c.RosterEntryID == entryID ||
			(residentID != "" && c.ResidentID == residentID && c.Kind == kind && c.Year == year)) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *store.Collection) int {
		// PostgreSQL keeps microseconds.
		if c := a.ReceivedAt.Truncate(time.Microsecond).Compare(b.ReceivedAt.Truncate(time.Microsecond)); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// deviceChange numbers a change in a device stream whose counter the
// push holds.
func (ps *pushSet) deviceChange(device, entity, id string) int64 {
	seq := ps.devices[device] + 1
	ps.devices[device] = seq
	ps.w.DeviceCounters[device] = seq
	ps.w.DeviceChanges = append(ps.w.DeviceChanges, store.ChangeRow{Stream: device, Seq: seq, Entity: entity, EntityID: id})
	return seq
}

// setPaid numbers the change of a roster line's paid flag in its
// village's stream, whose counter the push holds.
func (ps *pushSet) setPaid(village, entryID string, paid bool) int64 {
	c := ps.villages[village]
	c.LastSeq++
	ps.villages[village] = c
	ps.w.VillageCounter[village] = c
	ps.w.VillageChanges = append(ps.w.VillageChanges, store.ChangeRow{Stream: village, Seq: c.LastSeq,
		Entity: syncproto.EntityRosterEntry, EntityID: entryID})
	p := store.RosterPaid{ID: entryID, Paid: paid, ChangeSeq: c.LastSeq}
	if i, ok := ps.paid[entryID]; ok {
		ps.w.Paid[i] = p
	} else {
		ps.paid[entryID] = len(ps.w.Paid)
		ps.w.Paid = append(ps.w.Paid, p)
	}
	return c.LastSeq
}

// insert adds a new collection, numbered in its device's stream.
func (ps *pushSet) insert(c *store.Collection) {
	c.ChangeSeq = ps.deviceChange(c.DeviceID, syncproto.EntityCollection, c.ID)
	ps.add(c)
	ps.isNew[c.ID] = true
	ps.w.NewCollections = append(ps.w.NewCollections, c)
}

// touch numbers a change of a collection the push holds and marks it
// to be written.
func (ps *pushSet) touch(c *store.Collection) {
	c.ChangeSeq = ps.deviceChange(c.DeviceID, syncproto.EntityCollection, c.ID)
	if !ps.isNew[c.ID] && !ps.dirty[c.ID] {
		ps.dirty[c.ID] = true
		ps.w.Collections = append(ps.w.Collections, c)
	}
}

// flush writes what the push has decided so far.
func (pt *pushTx) flush(ctx context.Context) error {
	ps := pt.set
	if err := pt.s.db.WritePush(ctx, pt.tx, ps.w); err != nil {
		return err
	}
	ps.isNew, ps.dirty, ps.paid = map[string]bool{}, map[string]bool{}, map[string]int{}
	ps.w = store.PushWrites{At: ps.w.At, DeviceCounters: map[string]int64{}, VillageCounter: map[string]store.VillageCounter{}}
	return nil
}
