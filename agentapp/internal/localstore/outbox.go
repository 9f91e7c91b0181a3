package localstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"villagesync/syncproto"
)

// Mutation states in the outbox.
const (
	StatePending = "pending" // not yet acknowledged by the server
	StateAcked   = "acked"   // the server holds it
	StateParked  = "parked"  // the server keeps it but refused it for good (reason kept)
)

// ErrNoReceipts is returned by NextReceipt when every allocated receipt
// number is used.
var ErrNoReceipts = errors.New("localstore: no receipt numbers left")

// ErrChain is returned when a record would not extend its device's chain
// (wrong seq, wrong prev_hash, bad signature).
var ErrChain = errors.New("localstore: record does not extend the chain")

// WriteTx is one write transaction of the tablet's records. Everything a
// collection writes — its receipt number, its signed mutation with its
// chain link and its local view row — goes through one WriteTx, and the
// reads the rules need (chain head, next receipt number, cash held) are
// made inside it, under the write lock, so that two app processes cannot
// interleave.
type WriteTx struct {
	tx *stmtQ // the transaction, through the statement cache
}

// Write runs fn in one write transaction and commits it. The store runs
// with synchronous=FULL: when Write returns nil the records are on disk
// and a receipt may be printed. An error from fn rolls back and is
// returned as is. fn must use only w (the store has one connection).
func (s *Store) Write(ctx context.Context, fn func(ctx context.Context, w *WriteTx) error) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("localstore: begin: %w", err)
	}
	w := &WriteTx{tx: &stmtQ{cache: s.stmts, tx: tx}}
	defer func() {
		tx.Rollback() // a no-op after Commit
		// The transaction is over and the connection free again: the
		// statements it ran for the first time are prepared for the next.
		w.tx.flush(context.WithoutCancel(ctx))
	}()
	if err := fn(ctx, w); err != nil {
		return diskFull(err)
	}
	if err := tx.Commit(); err != nil {
		return diskFull(fmt.Errorf("localstore: commit: %w", err))
	}
	return nil
}

// ChainHead is the last record of a device's chain.
type ChainHead struct {
	Seq  int64  // 0 when the chain is empty
	Hash string // syncproto.ZeroHash when the chain is empty
	ID   string // "" when the chain is empty
}

// ChainHead reads the last record of deviceID's chain.
func (w *WriteTx) ChainHead(ctx context.Context, deviceID string) (ChainHead, error) {
	return chainHead(ctx, w.tx, deviceID)
}

func chainHead(ctx context.Context, q queryer, deviceID string) (ChainHead, error) {
	h := ChainHead{Hash: syncproto.ZeroHash}
	err := q.QueryRowContext(ctx, `SELECT seq, hash, id FROM mutation WHERE device_id = ? ORDER BY seq DESC LIMIT 1`,
		deviceID).Scan(&h.Seq, &h.Hash, &h.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("localstore: chain head: %w", err)
	}
	return h, nil
}

// NextReceipt returns the next receipt number to issue: the lowest range
// first, each range from its first number on, never a number a collection
// of this tablet holds (voided ones included). ErrNoReceipts when none is
// left.
func (w *WriteTx) NextReceipt(ctx context.Context) (int64, error) {
	ranges, err := receiptRanges(ctx, w.tx)
	if err != nil {
		return 0, err
	}
	for _, r := range ranges {
		if r.Left() > 0 {
			return r.Next, nil
		}
	}
	return 0, ErrNoReceipts
}

// ReceiptsLeft counts the receipt numbers not yet issued.
func (w *WriteTx) ReceiptsLeft(ctx context.Context) (int64, error) { return receiptsLeft(ctx, w.tx) }

// ReceiptsLeft counts the receipt numbers not yet issued.
func (s *Store) ReceiptsLeft(ctx context.Context) (int64, error) { return receiptsLeft(ctx, s.q()) }

func receiptsLeft(ctx context.Context, q queryer) (int64, error) {
	ranges, err := receiptRanges(ctx, q)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range ranges {
		n += r.Left()
	}
	return n, nil
}

// Cash is the cash a device holds: its collections not yet deposited and
// not voided.
type Cash struct {
	Count  int             `json:"count"`
	Sum    syncproto.Money `json:"sum"`
	Oldest time.Time       `json:"oldest,omitzero"` // the tablet's time of the oldest; zero when none
}

// Cash reads the cash deviceID holds.
func (w *WriteTx) Cash(ctx context.Context, deviceID string) (Cash, error) {
	return cash(ctx, w.tx, deviceID)
}

// Cash reads the cash deviceID holds.
func (s *Store) Cash(ctx context.Context, deviceID string) (Cash, error) {
	return cash(ctx, s.q(), deviceID)
}

func cash(ctx context.Context, q queryer, deviceID string) (Cash, error) {
	var c Cash
	var sum, oldest int64
	err := q.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(amount), 0), coalesce(min(collected_ms), 0)
		FROM collection WHERE device_id = ? AND deposit_id IS NULL AND void_id IS NULL`, deviceID).Scan(&c.Count, &sum, &oldest)
	if err != nil {
		return c, fmt.Errorf("localstore: cash: %w", err)
	}
	c.Sum, c.Oldest = syncproto.Money(sum), fromMS(oldest)
	return c, nil
}

// Revoked reports whether the server revoked this device.
func (w *WriteTx) Revoked(ctx context.Context) (bool, error) {
	var r bool
	if err := w.tx.QueryRowContext(ctx, `SELECT revoked FROM sync_state WHERE id = 1`).Scan(&r); err != nil {
		return false, fmt.Errorf("localstore: revoked: %w", err)
	}
	return r, nil
}

// CollectionByReceipt reads a collection of this tablet by its receipt
// number; ErrNotFound when there is none.
func (w *WriteTx) CollectionByReceipt(ctx context.Context, receiptNo string) (Collection, error) {
	return collectionWhere(ctx, w.tx, `c.receipt_no = ?`, receiptNo)
}

// LiveCollectionOf returns the collection (not voided) this tablet made
// for a roster line; ErrNotFound when there is none.
func (w *WriteTx) LiveCollectionOf(ctx context.Context, rosterEntryID string) (Collection, error) {
	return collectionWhere(ctx, w.tx, `c.roster_entry_id = ? AND c.void_id IS NULL`, rosterEntryID)
}

// append inserts a sealed mutation after checking that it is signed by pub
// and extends its device's chain, and remembers the device's public key.
func (w *WriteTx) append(ctx context.Context, m *syncproto.Mutation, pub ed25519.PublicKey) error {
	if err := m.Check(pub); err != nil {
		return fmt.Errorf("%w: %w", ErrChain, err)
	}
	head, err := chainHead(ctx, w.tx, m.DeviceID)
	if err != nil {
		return err
	}
	if m.Seq != head.Seq+1 || m.PrevHash != head.Hash {
		return fmt.Errorf("%w: seq %d after %d, prev_hash %.8s… after %.8s…", ErrChain, m.Seq, head.Seq, m.PrevHash, head.Hash)
	}
	var known []byte
	err = w.tx.QueryRowContext(ctx, `SELECT public_key FROM device_key WHERE device_id = ?`, m.DeviceID).Scan(&known)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO device_key (device_id, public_key) VALUES (?, ?)`,
			m.DeviceID, []byte(pub)); err != nil {
			return fmt.Errorf("localstore: device key: %w", err)
		}
	case err != nil:
		return fmt.Errorf("localstore: device key: %w", err)
	case !bytes.Equal(known, pub):
		return fmt.Errorf("%w: device %s signed with another key than before", ErrChain, m.DeviceID)
	}
	_, err = w.tx.ExecContext(ctx, `INSERT INTO mutation (device_id, seq, id, kind, device_time, prev_hash, payload, hash, signature)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.DeviceID, m.Seq, m.ID, string(m.Kind), formatDeviceTime(m.DeviceTime),
		m.PrevHash, []byte(m.Payload), m.Hash, m.Signature)
	if err != nil {
		return fmt.Errorf("localstore: append mutation %d: %w", m.Seq, err)
	}
	return nil
}

// formatDeviceTime is the stored form of a device time: the text the hash
// covers, so that the mutation read back hashes the same.
func formatDeviceTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// AppendCollection appends a sealed collection mutation and its local view
// row. c's ID, DeviceID and CollectedAt must match the mutation's.
func (w *WriteTx) AppendCollection(ctx context.Context, m *syncproto.Mutation, pub ed25519.PublicKey, c Collection) error {
	if m.Kind != syncproto.MutationCollection || c.ID != m.ID || c.DeviceID != m.DeviceID {
		return fmt.Errorf("localstore: collection %s does not match its mutation", c.ID)
	}
	if err := w.append(ctx, m, pub); err != nil {
		return err
	}
	_, err := w.tx.ExecContext(ctx, `INSERT INTO collection (id, device_id, receipt_num, receipt_no, roster_entry_id,
		roster_version, name, masked, village_code, township_code, kind, year, category, grade, amount, collected_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.DeviceID, c.ReceiptNum, c.ReceiptNo, c.RosterEntryID, c.RosterVersion, c.Name, c.Masked,
		c.VillageCode, c.TownshipCode, string(c.Kind), c.Year, string(c.Category), int64(c.Grade), int64(c.Amount),
		toMS(m.DeviceTime))
	if err != nil {
		return fmt.Errorf("localstore: insert collection %s: %w", c.ReceiptNo, err)
	}
	return nil
}

// AppendVoid appends a sealed void mutation and marks the collection it
// voids, keeping its receipt number used.
func (w *WriteTx) AppendVoid(ctx context.Context, m *syncproto.Mutation, pub ed25519.PublicKey, collectionID, reason string) error {
	if m.Kind != syncproto.MutationVoid {
		return fmt.Errorf("localstore: mutation %s is not a void", m.ID)
	}
	if err := w.append(ctx, m, pub); err != nil {
		return err
	}
	res, err := w.tx.ExecContext(ctx, `UPDATE collection SET void_id = ?, void_reason = ?, voided_ms = ?
		WHERE id = ? AND void_id IS NULL`, m.ID, reason, toMS(m.DeviceTime), collectionID)
	if err != nil {
		return fmt.Errorf("localstore: void %s: %w", collectionID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("localstore: void: collection %s is missing or voided already", collectionID)
	}
	return nil
}

// Deposit is a bank deposit recorded on the tablet.
type Deposit struct {
	ID          string          `json:"id"`
	DeviceID    string          `json:"device_id"`
	SlipNo      string          `json:"slip_no"`
	Amount      syncproto.Money `json:"amount"`
	DepositedAt time.Time       `json:"deposited_at"`
	Count       int             `json:"count"`
	Sum         syncproto.Money `json:"sum"`
	ChainHead   string          `json:"chain_head"`
}

// AppendDeposit appends a sealed deposit mutation and marks every
// collection of the device not deposited before as covered by it (voided
// ones too, so they no longer count as held). The count and sum of the
// covered collections that are not voided must equal d's, or nothing is
// written.
func (w *WriteTx) AppendDeposit(ctx context.Context, m *syncproto.Mutation, pub ed25519.PublicKey, d Deposit) error {
	if m.Kind != syncproto.MutationDeposit || d.ID != m.ID || d.DeviceID != m.DeviceID {
		return fmt.Errorf("localstore: deposit %s does not match its mutation", d.ID)
	}
	held, err := cash(ctx, w.tx, d.DeviceID)
	if err != nil {
		return err
	}
	if held.Count != d.Count || held.Sum != d.Sum {
		return fmt.Errorf("localstore: deposit covers %d collections for %s but %d for %s are held",
			d.Count, d.Sum, held.Count, held.Sum)
	}
	if err := w.append(ctx, m, pub); err != nil {
		return err
	}
	_, err = w.tx.ExecContext(ctx, `INSERT INTO deposit (id, device_id, slip_no, amount, deposited_ms, count, sum, chain_head)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.DeviceID, d.SlipNo, int64(d.Amount), toMS(d.DepositedAt), d.Count,
		int64(d.Sum), d.ChainHead)
	if err != nil {
		return fmt.Errorf("localstore: insert deposit: %w", err)
	}
	_, err = w.tx.ExecContext(ctx, `UPDATE collection SET deposit_id = ? WHERE device_id = ? AND deposit_id IS NULL`, d.ID, d.DeviceID)
	if err != nil {
		return fmt.Errorf("localstore: mark deposited: %w", err)
	}
	return nil
}

const mutationColumns = `id, device_id, seq, kind, device_time, prev_hash, payload, hash, signature`

func scanMutation(sc interface{ Scan(...any) error }) (syncproto.Mutation, error) {
	var m syncproto.Mutation
	var kind, at string
	var payload []byte
	if err := sc.Scan(&m.ID, &m.DeviceID, &m.Seq, &kind, &at, &m.PrevHash, &payload, &m.Hash, &m.Signature); err != nil {
		return m, err
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return m, fmt.Errorf("device time of mutation %d: %w", m.Seq, err)
	}
	m.Kind, m.DeviceTime, m.Payload = syncproto.MutationKind(kind), t.UTC(), json.RawMessage(payload)
	return m, nil
}

func (s *Store) mutations(ctx context.Context, where string, args ...any) ([]syncproto.Mutation, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+mutationColumns+` FROM mutation WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("localstore: mutations: %w", err)
	}
	defer rows.Close()
	var out []syncproto.Mutation
	for rows.Next() {
		m, err := scanMutation(rows)
		if err != nil {
			return nil, fmt.Errorf("localstore: mutations: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Pending returns up to limit of deviceID's mutations the server has not
// acknowledged, in seq order, starting after seq after.
func (s *Store) Pending(ctx context.Context, deviceID string, after int64, limit int) ([]syncproto.Mutation, error) {
	return s.mutations(ctx, `device_id = ? AND state = 'pending' AND seq > ? ORDER BY seq LIMIT ?`, deviceID, after, limit)
}

// Chain returns up to limit of deviceID's mutations in every state from
// seq from on, in seq order: to re-send after the server reports a gap, to
// verify the chain, to export.
func (s *Store) Chain(ctx context.Context, deviceID string, from int64, limit int) ([]syncproto.Mutation, error) {
	return s.mutations(ctx, `device_id = ? AND seq >= ? ORDER BY seq LIMIT ?`, deviceID, from, limit)
}

// PushTally counts what a push answer did to the outbox.
type PushTally struct {
	Acked  int `json:"acked"`  // pending mutations the server now holds
	Parked int `json:"parked"` // refused for good, parked for review
}

// ApplyPush records the server's answer to a push in one transaction:
// a rejected mutation is parked with its reason; every other pending
// mutation up to the answer's ack_seq is acknowledged, with the flags its
// outcome carries. Acknowledged and parked mutations never go back to
// pending.
func (s *Store) ApplyPush(ctx context.Context, deviceID string, res syncproto.PushResponse, at time.Time) (_ PushTally, err error) {
	defer func() { err = diskFullSync(err) }()
	var t PushTally
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return t, fmt.Errorf("localstore: begin: %w", err)
	}
	defer tx.Rollback()
	for _, o := range res.Outcomes {
		if o.Status == syncproto.OutcomeRejected {
			r, err := tx.ExecContext(ctx, `UPDATE mutation SET state = 'parked', park_code = ?, park_reason = ?,
				park_reason_zh = ?, synced_ms = ? WHERE device_id = ? AND seq = ? AND id = ? AND state = 'pending'`,
				string(o.Code), o.Reason, o.ReasonZH, toMS(at), deviceID, o.Seq, o.ID)
			if err != nil {
				return t, fmt.Errorf("localstore: park %d: %w", o.Seq, err)
			}
			n, _ := r.RowsAffected()
			t.Parked += int(n)
			continue
		}
		if len(o.Flags) > 0 {
			flags, _ := json.Marshal(o.Flags)
			if _, err := tx.ExecContext(ctx, `UPDATE mutation SET flags = ? WHERE device_id = ? AND seq = ? AND id = ?`,
				string(flags), deviceID, o.Seq, o.ID); err != nil {
				return t, fmt.Errorf("localstore: flags of %d: %w", o.Seq, err)
			}
		}
	}
	r, err := tx.ExecContext(ctx, `UPDATE mutation SET state = 'acked', synced_ms = ?
		WHERE device_id = ? AND state = 'pending' AND seq <= ?`, toMS(at), deviceID, res.AckSeq)
	if err != nil {
		return t, fmt.Errorf("localstore: ack: %w", err)
	}
	n, _ := r.RowsAffected()
	t.Acked = int(n)
	if err := tx.Commit(); err != nil {
		return t, fmt.Errorf("localstore: commit push: %w", err)
	}
	return t, nil
}

// OutboxCounts counts the outbox by state.
type OutboxCounts struct {
	Pending int `json:"pending"`
	Acked   int `json:"acked"`
	Parked  int `json:"parked"`
}

// OutboxCounts counts deviceID's mutations by state; all devices' when
// deviceID is "".
func (s *Store) OutboxCounts(ctx context.Context, deviceID string) (OutboxCounts, error) {
	var c OutboxCounts
	err := s.DB.QueryRowContext(ctx, `SELECT
		count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'acked'),
		count(*) FILTER (WHERE state = 'parked')
		FROM mutation WHERE ? = '' OR device_id = ?`, deviceID, deviceID).Scan(&c.Pending, &c.Acked, &c.Parked)
	if err != nil {
		return c, fmt.Errorf("localstore: outbox counts: %w", err)
	}
	return c, nil
}

// ParkedMutation is a record the server refused for good, for the review
// list.
type ParkedMutation struct {
	ID        string                 `json:"id"`
	DeviceID  string                 `json:"device_id"`
	Seq       int64                  `json:"seq"`
	Kind      syncproto.MutationKind `json:"kind"`
	ReceiptNo string                 `json:"receipt_no,omitempty"`
	Code      string                 `json:"code"`
	Reason    string                 `json:"reason"`
	ReasonZH  string                 `json:"reason_zh"`
}

// Parked lists the parked mutations of every device, oldest first.
func (s *Store) Parked(ctx context.Context) ([]ParkedMutation, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT m.id, m.device_id, m.seq, m.kind,
		coalesce(c.receipt_no, v.receipt_no, ''), m.park_code, m.park_reason, m.park_reason_zh
		FROM mutation m LEFT JOIN collection c ON c.id = m.id LEFT JOIN collection v ON v.void_id = m.id
		WHERE m.state = 'parked' ORDER BY m.device_id, m.seq`)
	if err != nil {
		return nil, fmt.Errorf("localstore: parked: %w", err)
	}
	defer rows.Close()
	var out []ParkedMutation
	for rows.Next() {
		var p ParkedMutation
		var kind string
		if err := rows.Scan(&p.ID, &p.DeviceID, &p.Seq, &kind, &p.ReceiptNo, &p.Code, &p.Reason, &p.ReasonZH); err != nil {
			return nil, fmt.Errorf("localstore: parked: %w", err)
		}
		p.Kind = syncproto.MutationKind(kind)
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeviceKey returns the public key a device's chain is signed with;
// ErrNotFound when the tablet holds no record of that device.
func (s *Store) DeviceKey(ctx context.Context, deviceID string) (ed25519.PublicKey, error) {
	var k []byte
	err := s.DB.QueryRowContext(ctx, `SELECT public_key FROM device_key WHERE device_id = ?`, deviceID).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("localstore: device key: %w", err)
	}
	return ed25519.PublicKey(k), nil
}

// PendingDevices lists the devices that have unsynced mutations on this
// tablet (more than one after a re-enrollment).
func (s *Store) PendingDevices(ctx context.Context) ([]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT DISTINCT device_id FROM mutation WHERE state = 'pending' ORDER BY device_id`)
	if err != nil {
		return nil, fmt.Errorf("localstore: pending devices: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ExportOutbox gathers deviceID's unsynced mutations, in seq order, with
// the device's public key, as the file a township imports for a tablet
// that cannot sync. It needs no PIN: the records are signed already.
func (s *Store) ExportOutbox(ctx context.Context, deviceID string) (syncproto.OutboxFile, error) {
	f := syncproto.OutboxFile{DeviceID: deviceID}
	pub, err := s.DeviceKey(ctx, deviceID)
	if err != nil {
		return f, err
	}
	f.PublicKey = pub
	ms, err := s.mutations(ctx, `device_id = ? AND state = 'pending' ORDER BY seq`, deviceID)
	if err != nil {
		return f, err
	}
	f.Mutations = nonNil(ms)
	return f, nil
}
