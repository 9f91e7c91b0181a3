package localstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"villagesync/syncproto"
)

// Collection is the local view of one collection this tablet made: what
// the receipt shows, whether it was voided or deposited, how far its record
// got to the server (the outbox state) and what the server says of it.
type Collection struct {
	ID            string             `json:"id"` // the collection mutation's ID
	DeviceID      string             `json:"device_id"`
	ReceiptNum    int64              `json:"-"`
	ReceiptNo     string             `json:"receipt_no"`
	RosterEntryID string             `json:"roster_entry_id"`
	RosterVersion int64              `json:"roster_version"`
	Name          string             `json:"name"`
	Masked        string             `json:"resident_id_masked"`
	VillageCode   string             `json:"village_code"`
	TownshipCode  string             `json:"township_code"`
	Kind          syncproto.Kind     `json:"kind"`
	Year          int                `json:"year"`
	Category      syncproto.Category `json:"category"`
	Grade         syncproto.Money    `json:"grade"`
	Amount        syncproto.Money    `json:"amount"`
	CollectedAt   time.Time          `json:"collected_at"` // the tablet's clock

	VoidID     string    `json:"void_id,omitempty"`
	VoidReason string    `json:"void_reason,omitempty"`
	VoidedAt   time.Time `json:"voided_at,omitzero"`
	DepositID  string    `json:"deposit_id,omitempty"`

	Seq   int64    `json:"seq"`   // in the device's chain
	State string   `json:"state"` // outbox state: pending, acked, parked
	Flags []string `json:"flags,omitempty"`
	// ParkCode and ParkReason(ZH) say why the server refused it for good.
	ParkCode     string `json:"park_code,omitempty"`
	ParkReason   string `json:"park_reason,omitempty"`
	ParkReasonZH string `json:"park_reason_zh,omitempty"`

	ServerStatus string   `json:"server_status,omitempty"` // synced, batched, … ("" until pulled)
	ServerFlags  []string `json:"server_flags,omitempty"`
}

// Voided reports whether the collection was voided.
func (c *Collection) Voided() bool { return c.VoidID != "" }

// Deposited reports whether a deposit covers the collection.
func (c *Collection) Deposited() bool { return c.DepositID != "" }

const collectionSelect = `SELECT c.id, c.device_id, c.receipt_num, c.receipt_no, c.roster_entry_id, c.roster_version,
	c.name, c.masked, c.village_code, c.township_code, c.kind, c.year, c.category, c.grade, c.amount, c.collected_ms,
	coalesce(c.void_id, ''), c.void_reason, c.voided_ms, coalesce(c.deposit_id, ''),
	m.seq, m.state, m.flags, m.park_code, m.park_reason, m.park_reason_zh,
	coalesce(s.status, ''), coalesce(s.flags, '[]')
	FROM collection c JOIN mutation m ON m.id = c.id LEFT JOIN collection_status s ON s.id = c.id`

func scanCollection(sc interface{ Scan(...any) error }) (Collection, error) {
	var c Collection
	var kind, cat, flags, sflags string
	var grade, amount, collected, voided int64
	err := sc.Scan(&c.ID, &c.DeviceID, &c.ReceiptNum, &c.ReceiptNo, &c.RosterEntryID, &c.RosterVersion,
		&c.Name, &c.Masked, &c.VillageCode, &c.TownshipCode, &kind, &c.Year, &cat, &grade, &amount, &collected,
		&c.VoidID, &c.VoidReason, &voided, &c.DepositID,
		&c.Seq, &c.State, &flags, &c.ParkCode, &c.ParkReason, &c.ParkReasonZH, &c.ServerStatus, &sflags)
	if err != nil {
		return c, err
	}
	c.Kind, c.Category = syncproto.Kind(kind), syncproto.Category(cat)
	c.Grade, c.Amount = syncproto.Money(grade), syncproto.Money(amount)
	c.CollectedAt, c.VoidedAt = fromMS(collected), fromMS(voided)
	if err := json.Unmarshal([]byte(flags), &c.Flags); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(sflags), &c.ServerFlags); err != nil {
		return c, err
	}
	if len(c.Flags) == 0 {
		c.Flags = nil
	}
	if len(c.ServerFlags) == 0 {
		c.ServerFlags = nil
	}
	return c, nil
}

func collectionWhere(ctx context.Context, q queryer, where string, args ...any) (Collection, error) {
	c, err := scanCollection(q.QueryRowContext(ctx, collectionSelect+` WHERE `+where+` LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("localstore: collection: %w", err)
	}
	return c, nil
}

// CollectionByReceipt reads a collection by its receipt number;
// ErrNotFound when this tablet issued no such receipt.
func (s *Store) CollectionByReceipt(ctx context.Context, receiptNo string) (Collection, error) {
	return collectionWhere(ctx, s.q(), `c.receipt_no = ?`, receiptNo)
}

// CollectionFilter selects collections for the receipts list.
type CollectionFilter struct {
	DeviceID    string // "" for every device of this tablet
	Undeposited bool   // only those no deposit covers yet
	Limit       int    // 0 means all
}

// Collections lists collections, newest receipt first.
func (s *Store) Collections(ctx context.Context, f CollectionFilter) ([]Collection, error) {
	q := collectionSelect + ` WHERE (? = '' OR c.device_id = ?)`
	args := []any{f.DeviceID, f.DeviceID}
	if f.Undeposited {
		q += ` AND c.deposit_id IS NULL`
	}
	q += ` ORDER BY c.collected_ms DESC, c.receipt_num DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("localstore: collections: %w", err)
	}
	defer rows.Close()
	var out []Collection
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("localstore: collections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Deposits lists the deposits of deviceID ("" for all), newest first.
func (s *Store) Deposits(ctx context.Context, deviceID string) ([]Deposit, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, device_id, slip_no, amount, deposited_ms, count, sum, chain_head
		FROM deposit WHERE ? = '' OR device_id = ? ORDER BY deposited_ms DESC, id DESC`, deviceID, deviceID)
	if err != nil {
		return nil, fmt.Errorf("localstore: deposits: %w", err)
	}
	defer rows.Close()
	var out []Deposit
	for rows.Next() {
		var d Deposit
		var amount, sum, at int64
		if err := rows.Scan(&d.ID, &d.DeviceID, &d.SlipNo, &amount, &at, &d.Count, &sum, &d.ChainHead); err != nil {
			return nil, fmt.Errorf("localstore: deposits: %w", err)
		}
		d.Amount, d.Sum, d.DepositedAt = syncproto.Money(amount), syncproto.Money(sum), fromMS(at)
		out = append(out, d)
	}
	return out, rows.Err()
}
