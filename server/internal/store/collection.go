package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// RosterEntryForUpdate reads and locks a roster line: collections of one
// person are then checked for duplicates one at a time.
func (db *DB) RosterEntryForUpdate(ctx context.Context, tx pgx.Tx, id string) (RosterEntry, int64, error) {
	var e RosterEntry
	var seq int64
	err := tx.QueryRow(ctx, `SELECT id, kind, year, resident_id, name, initials, village_code, township_code,
		category, due_fen, subsidy_fen, fully_subsidised, note, paid, coalesce(review, ''), change_seq
		FROM roster_entry WHERE id = $1 FOR UPDATE`, id).
		Scan(&e.ID, &e.Kind, &e.Year, &e.ResidentID, &e.Name, &e.Initials, &e.VillageCode, &e.TownshipCode,
			&e.Category, &e.DueFen, &e.SubsidyFen, &e.FullySubsidised, &e.Note, &e.Paid, &e.Review, &seq)
	return e, seq, translate(err)
}

// RosterEntriesForUpdate reads and locks roster lines, in ID order, by
// ID with their change numbers; IDs that do not exist are left out.
func (db *DB) RosterEntriesForUpdate(ctx context.Context, tx pgx.Tx, ids []string) (map[string]RosterLineRow, error) {
	return rosterLinesByID(ctx, tx, ids, " ORDER BY id FOR UPDATE")
}

// SetRosterPaid sets a roster line's paid flag and its change number.
func (db *DB) SetRosterPaid(ctx context.Context, tx pgx.Tx, id string, paid bool, changeSeq int64, at time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE roster_entry SET paid = $2, change_seq = $3, updated_at = $4 WHERE id = $1`, id, paid, changeSeq, at)
	return translate(err)
}

// Collection is cash collected, as the server holds it.
type Collection struct {
	ID            string     `json:"id"`
	DeviceID      string     `json:"device_id"`
	AgentID       string     `json:"agent_id"`
	Seq           int64      `json:"seq"`
	ReceiptNo     int64      `json:"receipt_no"`
	RosterEntryID string     `json:"roster_entry_id"`
	RosterVersion int64      `json:"roster_version"`
	ResidentID    string     `json:"-"`
	Name          string     `json:"name"`
	VillageCode   string     `json:"village_code"`
	TownshipCode  string     `json:"township_code"`
	Kind          string     `json:"kind"`
	Year          int        `json:"year"`
	Category      string     `json:"category"`
	GradeFen      int64      `json:"grade_fen"`
	AmountFen     int64      `json:"amount_fen"`
	DeviceTime    time.Time  `json:"device_time"`
	ReceivedAt    time.Time  `json:"received_at"`
	BusinessDay   time.Time  `json:"business_day"`
	Status        string     `json:"status"`
	Flags         []string   `json:"flags"`
	VoidedAt      *time.Time `json:"voided_at,omitempty"`
	VoidReason    string     `json:"void_reason,omitempty"`
	DepositID     string     `json:"deposit_id,omitempty"`
	ChangeSeq     int64      `json:"-"`
}

const collectionColumns = `id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, resident_id, name,
	village_code, township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day,
	status, flags, voided_at, coalesce(void_reason, ''), coalesce(deposit_id, ''), change_seq`

func scanCollections(rows pgx.Rows, err error) ([]Collection, error) {
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Collection])
	return out, translate(err)
}

// CollectionForUpdate reads and locks a device's collection.
func (db *DB) CollectionForUpdate(ctx context.Context, tx pgx.Tx, device, id string) (Collection, error) {
	cs, err := scanCollections(tx.Query(ctx, `SELECT `+collectionColumns+` FROM collection
		WHERE device_id = $1 AND id = $2 FOR UPDATE`, device, id))
	if err != nil {
		return Collection{}, err
	}
	if len(cs) == 0 {
		return Collection{}, ErrNotFound
	}
	return cs[0], nil
}

// UpdateCollectionState writes a collection's status, flags, void and
// deposit fields and its change number.
func (db *DB) UpdateCollectionState(ctx context.Context, tx pgx.Tx, c Collection) error {
	_, err := tx.Exec(ctx, `UPDATE collection SET status = $2, flags = $3, voided_at = $4, void_reason = NULLIF($5, ''),
		deposit_id = NULLIF($6, ''), change_seq = $7 WHERE id = $1`,
		c.ID, c.Status, c.Flags, c.VoidedAt, c.VoidReason, c.DepositID, c.ChangeSeq)
	return translate(err)
}

// Undeposited returns a device's collections made before seq and not yet
// covered by a deposit (voided ones included; the caller decides).
func (db *DB) Undeposited(ctx context.Context, tx pgx.Tx, device string, beforeSeq int64) ([]Collection, error) {
	return scanCollections(tx.Query(ctx, `SELECT `+collectionColumns+` FROM collection
		WHERE device_id = $1 AND deposit_id IS NULL AND seq < $2 ORDER BY seq FOR UPDATE`, device, beforeSeq))
}

// MarkDeposited ties collections to a deposit.
func (db *DB) MarkDeposited(ctx context.Context, tx pgx.Tx, deposit string, ids []string) error {
	_, err := tx.Exec(ctx, `UPDATE collection SET deposit_id = $1 WHERE id = ANY($2)`, deposit, ids)
	return translate(err)
}

// DepositRow is an agent's bank deposit as the server holds it.
type DepositRow struct {
	ID           string
	DeviceID     string
	AgentID      string
	TownshipCode string
	Seq          int64
	SlipNo       string
	AmountFen    int64
	DepositedAt  time.Time
	Count        int
	SumFen       int64
	ChainHead    string
	ServerCount  int
	ServerSumFen int64
	Flags        []string
	ReceivedAt   time.Time
}

// InsertDeposit stores a deposit.
func (db *DB) InsertDeposit(ctx context.Context, tx pgx.Tx, d DepositRow) error {
	_, err := tx.Exec(ctx, `INSERT INTO deposit (id, device_id, agent_id, township_code, seq, slip_no, amount_fen,
		deposited_at, count, sum_fen, chain_head, server_count, server_sum_fen, flags, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		d.ID, d.DeviceID, d.AgentID, d.TownshipCode, d.Seq, d.SlipNo, d.AmountFen, d.DepositedAt, d.Count, d.SumFen,
		d.ChainHead, d.ServerCount, d.ServerSumFen, d.Flags, d.ReceivedAt)
	return translate(err)
}

// NoticeRow is a notice to a device.
type NoticeRow struct {
	ID           string
	DeviceID     string
	TownshipCode string
	CollectionID string
	Code         string
	Message      string
	MessageZH    string
	At           time.Time
	ChangeSeq    int64
}

// InsertNotice stores a notice.
func (db *DB) InsertNotice(ctx context.Context, tx pgx.Tx, n NoticeRow) error {
	_, err := tx.Exec(ctx, `INSERT INTO notice (id, device_id, township_code, collection_id, code, message, message_zh, at, change_seq)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8, $9)`,
		n.ID, n.DeviceID, n.TownshipCode, n.CollectionID, n.Code, n.Message, n.MessageZH, n.At, n.ChangeSeq)
	return translate(err)
}

// ReceiptRangeRow is a block of receipt numbers of a device.
type ReceiptRangeRow struct {
	ID          string
	DeviceID    string
	First       int64
	Last        int64
	AllocatedAt time.Time
	ChangeSeq   int64
}

// ReceiptRanges lists a device's ranges, oldest first.
func (db *DB) ReceiptRanges(ctx context.Context, q Querier, device string) ([]ReceiptRangeRow, error) {
	rows, err := q.Query(ctx, `SELECT id, device_id, first_no, last_no, allocated_at, change_seq FROM receipt_range
		WHERE device_id = $1 ORDER BY first_no`, device)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ReceiptRangeRow])
	return out, translate(err)
}

// MaxReceiptUsed is the highest receipt number a device has used (0 if none).
func (db *DB) MaxReceiptUsed(ctx context.Context, q Querier, device string) (int64, error) {
	var n *int64
	err := q.QueryRow(ctx, `SELECT max(receipt_no) FROM collection WHERE device_id = $1`, device).Scan(&n)
	if err != nil || n == nil {
		return 0, translate(err)
	}
	return *n, nil
}

// AllocateReceiptRange hands the device a fresh block of size numbers;
// blocks come from one sequence, so no two devices ever share a number.
func (db *DB) AllocateReceiptRange(ctx context.Context, tx pgx.Tx, id, device string, size int64, at time.Time, changeSeq int64) (ReceiptRangeRow, error) {
	r := ReceiptRangeRow{ID: id, DeviceID: device, AllocatedAt: at, ChangeSeq: changeSeq}
	err := tx.QueryRow(ctx, `INSERT INTO receipt_range (id, device_id, first_no, last_no, allocated_at, change_seq)
		SELECT $1, $2, b * $3 + 1, b * $3 + $3, $4, $5 FROM (SELECT nextval('receipt_block_seq') AS b) s
		RETURNING first_no, last_no`, id, device, size, at, changeSeq).Scan(&r.First, &r.Last)
	return r, translate(err)
}

// AgentCash is the cash an agent holds: collections not yet covered by a
// deposit (voided ones excluded), per agent.
type AgentCash struct {
	AgentID      string     `json:"agent_id"`
	Username     string     `json:"agent_username"`
	DisplayName  string     `json:"agent_display_name"`
	TownshipCode string     `json:"township_code"`
	Count        int        `json:"count"`
	SumFen       int64      `json:"sum_fen"`
	Oldest       *time.Time `json:"oldest_device_time,omitempty"`
}

// CashOnHand lists the agents of a township (all when empty) with the
// cash they hold as far as the server knows.
func (db *DB) CashOnHand(ctx context.Context, township string) ([]AgentCash, error) {
	rows, err := db.Pool.Query(ctx, `SELECT u.id, u.username, u.display_name, u.township_code,
			count(c.id), coalesce(sum(c.amount_fen), 0), min(least(c.device_time, c.received_at))
		FROM app_user u
		LEFT JOIN collection c ON c.agent_id = u.id AND c.deposit_id IS NULL AND c.status <> 'voided'
		WHERE u.role = 'agent' AND ($1 = '' OR u.township_code = $1)
		GROUP BY u.id ORDER BY u.township_code, u.username`, township)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AgentCash])
	return out, translate(err)
}
