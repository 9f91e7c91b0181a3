package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNothingToCut: no collection waits for a batch in that township and
// day, and no refund for a reversing line: no empty batch is made.
var ErrNothingToCut = errors.New("store: nothing to cut")

// BatchRow is a remittance batch as stored.
type BatchRow struct {
	ID             string
	TownshipCode   string
	TownshipName   string
	BusinessDay    time.Time
	Revision       int
	State          string
	Count          int
	TotalFen       int64
	CreatedAt      time.Time
	ApprovedAt     *time.Time
	OverrideReason string
	RejectReason   string
	ExportedAt     *time.Time
	PostedAt       *time.Time
}

const batchColumns = `b.id, b.township_code, t.name, b.business_day, b.revision, b.state, b.count, b.total_fen,
	b.created_at, b.approved_at, coalesce(b.override_reason, ''), coalesce(b.reject_reason, ''), b.exported_at, b.posted_at`

func collectBatches(rows pgx.Rows, err error) ([]BatchRow, error) {
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[BatchRow])
	return out, translate(err)
}

// BatchByID reads a batch (locked when q is a transaction and lock is set).
func (db *DB) BatchByID(ctx context.Context, q Querier, id string, lock bool) (BatchRow, error) {
	sql := `SELECT ` + batchColumns + ` FROM batch b JOIN township t ON t.code = b.township_code WHERE b.id = $1`
	if lock {
		sql += ` FOR UPDATE OF b`
	}
	bs, err := collectBatches(q.Query(ctx, sql, id))
	if err != nil {
		return BatchRow{}, err
	}
	if len(bs) == 0 {
		return BatchRow{}, ErrNotFound
	}
	return bs[0], nil
}

// BatchFilter selects batches.
type BatchFilter struct {
	Township string
	State    string
	Day      *time.Time
}

// Batches lists batches, newest day first.
func (db *DB) Batches(ctx context.Context, f BatchFilter) ([]BatchRow, error) {
	return collectBatches(db.Pool.Query(ctx, `SELECT `+batchColumns+` FROM batch b JOIN township t ON t.code = b.township_code
		WHERE ($1 = '' OR b.township_code = $1) AND ($2 = '' OR b.state = $2) AND ($3::date IS NULL OR b.business_day = $3)
		ORDER BY b.business_day DESC, b.township_code, b.revision DESC LIMIT 1000`, f.Township, f.State, f.Day))
}

// CutBatch makes the batch of a township and business day from its
// synced, non-voided, not yet batched collections of that day and before
// (cash that arrived after its day was cut goes into the next batch).
// Cutting a day again returns the batch it has (created false), unless
// that batch was rejected and firstOnly is false: then a new revision is
// cut. The daily cutoff cuts firstOnly, so a rejected batch waits for the
// township's correction and its explicit cut.
func (db *DB) CutBatch(ctx context.Context, tx pgx.Tx, id, township string, day time.Time, by string, at time.Time, firstOnly bool) (BatchRow, bool, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('cut:' || $1))`, township); err != nil {
		return BatchRow{}, false, translate(err)
	}
	var existing string
	var revision int
	var state string
	err := tx.QueryRow(ctx, `SELECT id, revision, state FROM batch WHERE township_code = $1 AND business_day = $2
		ORDER BY revision DESC LIMIT 1`, township, day).Scan(&existing, &revision, &state)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return BatchRow{}, false, translate(err)
	}
	if existing != "" && (state != "rejected" || firstOnly) {
		b, err := db.BatchByID(ctx, tx, existing, false)
		return b, false, err
	}
	var pending bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM collection
			WHERE township_code = $1 AND business_day <= $2 AND batch_id IS NULL AND status = 'synced')
		OR EXISTS (SELECT 1 FROM refund r JOIN collection c ON c.id = r.collection_id
			JOIN batch b ON b.id = c.batch_id AND b.state IN ('approved', 'exported', 'posted', 'partially_posted')
			WHERE r.township_code = $1 AND r.state IN ('approved', 'refunded') AND r.reversal_batch IS NULL)`,
		township, day).Scan(&pending); err != nil {
		return BatchRow{}, false, translate(err)
	}
	if !pending {
		return BatchRow{}, false, ErrNothingToCut
	}
	if _, err := tx.Exec(ctx, `INSERT INTO batch (id, township_code, business_day, revision, state, created_at, created_by)
		VALUES ($1, $2, $3, $4, 'submitted', $5, NULLIF($6, ''))`, id, township, day, revision+1, at, by); err != nil {
		return BatchRow{}, false, translate(err)
	}
	// One statement, one pass: the collections taken are exactly those the
	// UPDATE changed (a void that commits first makes its row no longer
	// match), and each becomes one line. The cut sends no change to the
	// tablets: "batched" is the server's bookkeeping, and a tablet's
	// collection keeps the change number it has, so its replica checksum
	// stays equal. The township's approval (or rejection) is what the
	// tablets are told, one change per collection (SetBatchCollectionsStatus).
	if _, err := tx.Exec(ctx, `
		WITH taken AS (
			UPDATE collection SET batch_id = $1, status = 'batched'
			WHERE township_code = $2 AND business_day <= $3 AND batch_id IS NULL AND status = 'synced'
			RETURNING id, village_code, township_code, agent_id, name, resident_id, kind, year, grade_fen, amount_fen,
				receipt_no, device_time, received_at
		)
		INSERT INTO batch_line (batch_id, line_no, collection_id, village_code, township_code, agent_id,
			name, resident_id, kind, year, grade_fen, amount_fen, receipt_no, device_time, server_time)
		SELECT $1, row_number() OVER (ORDER BY village_code, received_at, id), id, village_code, township_code, agent_id,
			name, resident_id, kind, year, grade_fen, amount_fen, receipt_no, device_time, received_at FROM taken`,
		id, township, day); err != nil {
		return BatchRow{}, false, translate(err)
	}
	if err := db.addReversals(ctx, tx, id, township); err != nil {
		return BatchRow{}, false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE batch SET (count, total_fen) = (SELECT count(*), coalesce(sum(amount_fen), 0) FROM batch_line WHERE batch_id = $1)
		WHERE id = $1`, id); err != nil {
		return BatchRow{}, false, translate(err)
	}
	b, err := db.BatchByID(ctx, tx, id, false)
	return b, true, err
}

// SetBatchCollectionsStatus sets the status of every collection of a
// batch and sends the change to each tablet concerned: one change per
// collection in its device's stream, numbered set-based.
func (db *DB) SetBatchCollectionsStatus(ctx context.Context, tx pgx.Tx, batch, status string, at time.Time) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM device_sync WHERE device_id IN (
			SELECT DISTINCT c.device_id FROM batch_line l JOIN collection c ON c.id = l.collection_id
			WHERE l.batch_id = $1 AND l.reverses_batch IS NULL) ORDER BY device_id FOR UPDATE`, batch); err != nil {
		return translate(err)
	}
	_, err := tx.Exec(ctx, `
		WITH cs AS (
			SELECT c.id, c.device_id, d.last_seq + row_number() OVER (PARTITION BY c.device_id ORDER BY c.id) AS seq
			FROM batch_line l JOIN collection c ON c.id = l.collection_id JOIN device_sync d ON d.device_id = c.device_id
			WHERE l.batch_id = $1 AND l.reverses_batch IS NULL AND c.batch_id = $1 AND c.status <> $2
			  AND c.status IN ('synced', 'batched', 'approved', 'exported', 'posted') -- never over a refund
		), bumped AS (
			UPDATE device_sync d SET last_seq = m.max_seq
			FROM (SELECT device_id, max(seq) AS max_seq FROM cs GROUP BY device_id) m WHERE d.device_id = m.device_id
		), logged AS (
			INSERT INTO device_change (device_id, seq, entity, entity_id, op, at)
			SELECT device_id, seq, 'collection', id, 'upsert', $3 FROM cs
		)
		UPDATE collection c SET status = $2, change_seq = cs.seq FROM cs WHERE c.id = cs.id`, batch, status, at)
	return translate(err)
}

// ReleaseBatch makes the collections of a rejected batch batchable again.
func (db *DB) ReleaseBatch(ctx context.Context, tx pgx.Tx, batch string, at time.Time) error {
	if err := db.SetBatchCollectionsStatus(ctx, tx, batch, "synced", at); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE collection c SET batch_id = NULL FROM batch_line l
		WHERE l.batch_id = $1 AND l.reverses_batch IS NULL AND c.id = l.collection_id AND c.batch_id = $1`, batch); err != nil {
		return translate(err)
	}
	// Its reversing lines go into the next cut again.
	_, err := tx.Exec(ctx, `UPDATE refund SET reversal_batch = NULL, reversal_line = NULL WHERE reversal_batch = $1`, batch)
	return translate(err)
}

// UpdateBatch writes a batch's state and its dated fields.
func (db *DB) UpdateBatch(ctx context.Context, tx pgx.Tx, b BatchRow, by string) error {
	_, err := tx.Exec(ctx, `UPDATE batch SET state = $2, approved_at = $3,
		approved_by = CASE WHEN $3::timestamptz IS NOT NULL AND approved_by IS NULL THEN NULLIF($8, '') ELSE approved_by END,
		override_reason = NULLIF($4, ''), reject_reason = NULLIF($5, ''),
		rejected_at = CASE WHEN $2 = 'rejected' THEN now() ELSE rejected_at END,
		rejected_by = CASE WHEN $2 = 'rejected' THEN NULLIF($8, '') ELSE rejected_by END,
		exported_at = $6, posted_at = $7 WHERE id = $1`,
		b.ID, b.State, b.ApprovedAt, b.OverrideReason, b.RejectReason, b.ExportedAt, b.PostedAt, by)
	return translate(err)
}

// BatchLineRow is a batch line as stored, with names for the files.
type BatchLineRow struct {
	No            int
	CollectionID  string
	VillageCode   string
	VillageName   string
	AgentName     string
	Name          string
	ResidentID    string
	Kind          string
	Year          int
	GradeFen      int64
	AmountFen     int64
	ReceiptNo     int64
	DeviceTime    time.Time
	ServerTime    time.Time
	ReversesBatch string
	ReversesLine  int
	Voucher       string
	PostedDate    *time.Time
	PostError     string
	Deposited     bool
}

// BatchLines reads a batch's lines in order.
func (db *DB) BatchLines(ctx context.Context, q Querier, batch string) ([]BatchLineRow, error) {
	rows, err := q.Query(ctx, `SELECT l.line_no, l.collection_id, l.village_code, v.name,
			coalesce(nullif(u.display_name, ''), u.username), l.name, l.resident_id, l.kind, l.year, l.grade_fen,
			l.amount_fen, l.receipt_no, l.device_time, l.server_time, coalesce(l.reverses_batch, ''),
			coalesce(l.reverses_line, 0), coalesce(l.voucher, ''), l.posted_date, coalesce(l.post_error, ''),
			c.deposit_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deposit d WHERE d.id = c.deposit_id AND cardinality(d.flags) > 0)
		FROM batch_line l JOIN village v ON v.code = l.village_code JOIN app_user u ON u.id = l.agent_id
		JOIN collection c ON c.id = l.collection_id
		WHERE l.batch_id = $1 ORDER BY l.line_no`, batch)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[BatchLineRow])
	return out, translate(err)
}

// RecordDownload notes a download of a batch file.
func (db *DB) RecordDownload(ctx context.Context, tx pgx.Tx, batch, user, format, sum string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO batch_download (batch_id, user_id, format, sha256, at) VALUES ($1, $2, $3, $4, $5)`,
		batch, user, format, sum, at)
	return translate(err)
}

// PostLine records the posting result of one line.
func (db *DB) PostLine(ctx context.Context, tx pgx.Tx, batch string, line int, voucher string, posted *time.Time, postErr string) error {
	_, err := tx.Exec(ctx, `UPDATE batch_line SET voucher = NULLIF($3, ''), posted_date = $4, post_error = NULLIF($5, '')
		WHERE batch_id = $1 AND line_no = $2`, batch, line, voucher, posted, postErr)
	return translate(err)
}

// SetPostedCollections marks the collections of a batch's posted lines
// posted and tells their tablets.
func (db *DB) SetPostedCollections(ctx context.Context, tx pgx.Tx, batch string, at time.Time) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM device_sync WHERE device_id IN (
			SELECT DISTINCT c.device_id FROM batch_line l JOIN collection c ON c.id = l.collection_id
			WHERE l.batch_id = $1 AND l.reverses_batch IS NULL) ORDER BY device_id FOR UPDATE`, batch); err != nil {
		return translate(err)
	}
	_, err := tx.Exec(ctx, `
		WITH cs AS (
			SELECT c.id, c.device_id, d.last_seq + row_number() OVER (PARTITION BY c.device_id ORDER BY c.id) AS seq
			FROM batch_line l JOIN collection c ON c.id = l.collection_id JOIN device_sync d ON d.device_id = c.device_id
			AND l.batch_id = $1 AND l.reverses_batch IS NULL
			WHERE c.batch_id = $1 AND c.status IN ('batched', 'approved', 'exported') AND l.voucher IS NOT NULL
		), bumped AS (
			UPDATE device_sync d SET last_seq = m.max_seq
			FROM (SELECT device_id, max(seq) AS max_seq FROM cs GROUP BY device_id) m WHERE d.device_id = m.device_id
		), logged AS (
			INSERT INTO device_change (device_id, seq, entity, entity_id, op, at)
			SELECT device_id, seq, 'collection', id, 'upsert', $2 FROM cs
		)
		UPDATE collection c SET status = 'posted', change_seq = cs.seq FROM cs WHERE c.id = cs.id`, batch, at)
	return translate(err)
}

// RecordPostingUpload notes a posting file; false when the same file was
// applied to the batch before.
func (db *DB) RecordPostingUpload(ctx context.Context, tx pgx.Tx, id, batch, sum, by string, at time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO posting_upload (id, batch_id, sha256, uploaded_by, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (batch_id, sha256) DO NOTHING`, id, batch, sum, by, at)
	return tag.RowsAffected() == 1, translate(err)
}

// DayFigures are one township's collections of one business day, by
// where they stand.
type DayFigures struct {
	TownshipCode string `json:"township_code"`
	Day          string `json:"business_day"`
	Collected    Amount `json:"collected"` // not voided
	Voided       Amount `json:"voided"`
	Unbatched    Amount `json:"unbatched"`
	Batched      Amount `json:"batched"` // in a live (not rejected) batch, any state
	Approved     Amount `json:"approved"`
	Exported     Amount `json:"exported"`
	Posted       Amount `json:"posted"`
	Deposited    Amount `json:"deposited"`
	Flagged      Amount `json:"flagged"`
	Refunding    Amount `json:"refunding"` // put up for refund before it was batched: never batched
}

// Amount is a count and a sum in fen.
type Amount struct {
	Count int   `json:"count"`
	Fen   int64 `json:"fen"`
}

// DayFiguresOf sums a day's collections per township (all townships when
// township is empty).
func (db *DB) DayFiguresOf(ctx context.Context, township string, day time.Time) ([]DayFigures, error) {
	rows, err := db.Pool.Query(ctx, `SELECT c.township_code,
		count(*) FILTER (WHERE c.status <> 'voided'), coalesce(sum(c.amount_fen) FILTER (WHERE c.status <> 'voided'), 0),
		count(*) FILTER (WHERE c.status = 'voided'), coalesce(sum(c.amount_fen) FILTER (WHERE c.status = 'voided'), 0),
		count(*) FILTER (WHERE c.status = 'synced' AND c.batch_id IS NULL), coalesce(sum(c.amount_fen) FILTER (WHERE c.status = 'synced' AND c.batch_id IS NULL), 0),
		count(*) FILTER (WHERE c.batch_id IS NOT NULL), coalesce(sum(c.amount_fen) FILTER (WHERE c.batch_id IS NOT NULL), 0),
		count(*) FILTER (WHERE c.status IN ('approved', 'exported', 'posted')), coalesce(sum(c.amount_fen) FILTER (WHERE c.status IN ('approved', 'exported', 'posted')), 0),
		count(*) FILTER (WHERE c.status IN ('exported', 'posted')), coalesce(sum(c.amount_fen) FILTER (WHERE c.status IN ('exported', 'posted')), 0),
		count(*) FILTER (WHERE c.status = 'posted'), coalesce(sum(c.amount_fen) FILTER (WHERE c.status = 'posted'), 0),
		count(*) FILTER (WHERE c.deposit_id IS NOT NULL AND c.status <> 'voided'), coalesce(sum(c.amount_fen) FILTER (WHERE c.deposit_id IS NOT NULL AND c.status <> 'voided'), 0),
		count(*) FILTER (WHERE cardinality(c.flags) > 0 AND c.status <> 'voided'), coalesce(sum(c.amount_fen) FILTER (WHERE cardinality(c.flags) > 0 AND c.status <> 'voided'), 0),
		count(*) FILTER (WHERE c.batch_id IS NULL AND c.status IN ('refund_requested', 'refunded')),
		coalesce(sum(c.amount_fen) FILTER (WHERE c.batch_id IS NULL AND c.status IN ('refund_requested', 'refunded')), 0)
		FROM collection c WHERE ($1 = '' OR c.township_code = $1) AND c.business_day = $2
		GROUP BY c.township_code ORDER BY c.township_code`, township, day)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []DayFigures
	for rows.Next() {
		f := DayFigures{Day: day.Format(time.DateOnly)}
		if err := rows.Scan(&f.TownshipCode, &f.Collected.Count, &f.Collected.Fen, &f.Voided.Count, &f.Voided.Fen,
			&f.Unbatched.Count, &f.Unbatched.Fen, &f.Batched.Count, &f.Batched.Fen, &f.Approved.Count, &f.Approved.Fen,
			&f.Exported.Count, &f.Exported.Fen, &f.Posted.Count, &f.Posted.Fen, &f.Deposited.Count, &f.Deposited.Fen,
			&f.Flagged.Count, &f.Flagged.Fen, &f.Refunding.Count, &f.Refunding.Fen); err != nil {
			return nil, translate(err)
		}
		out = append(out, f)
	}
	return out, translate(rows.Err())
}

// Discrepancy is a record that breaks an invariant of the money path.
type Discrepancy struct {
	Code         string `json:"code"`
	CollectionID string `json:"collection_id,omitempty"`
	BatchID      string `json:"batch_id,omitempty"`
	Detail       string `json:"detail"`
}

// Discrepancies checks DESIGN.md's invariant 3 for a township's day
// (every township for ""): each non-voided collection is either
// unbatched or on exactly one line of a live batch, with the same amount;
// no voided collection is on a live batch; every batch's count and total
// equal its lines.
func (db *DB) Discrepancies(ctx context.Context, township string, day time.Time) ([]Discrepancy, error) {
	rows, err := db.Pool.Query(ctx, `
		WITH live AS (
			SELECT l.* FROM batch_line l JOIN batch b ON b.id = l.batch_id
			WHERE b.state <> 'rejected' AND l.reverses_batch IS NULL
		), day AS (
			SELECT * FROM collection WHERE ($1 = '' OR township_code = $1) AND business_day = $2
		)
		SELECT 'in_two_batches', d.id, '', 'collection on ' || count(*) || ' live batch lines'
			FROM day d JOIN live l ON l.collection_id = d.id GROUP BY d.id HAVING count(*) > 1
		UNION ALL
		SELECT 'voided_in_batch', d.id, l.batch_id, 'voided collection on a live batch line'
			FROM day d JOIN live l ON l.collection_id = d.id WHERE d.status = 'voided'
		UNION ALL
		SELECT 'amount_differs', d.id, l.batch_id, 'collection ' || d.amount_fen || ' fen, batch line ' || l.amount_fen || ' fen'
			FROM day d JOIN live l ON l.collection_id = d.id WHERE d.amount_fen <> l.amount_fen
		UNION ALL
		SELECT 'batched_not_on_line', d.id, d.batch_id, 'collection marks a batch whose lines do not hold it'
			FROM day d WHERE d.batch_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM live l WHERE l.collection_id = d.id AND l.batch_id = d.batch_id)
		UNION ALL
		SELECT 'lost', d.id, '', 'not voided, not batched and not batchable (status ' || d.status || ')'
			FROM day d WHERE d.batch_id IS NULL AND d.status NOT IN ('voided', 'synced', 'refund_requested', 'refunded')
		UNION ALL
		SELECT 'batch_totals', '', b.id, 'batch says ' || b.count || ' lines / ' || b.total_fen || ' fen, lines hold ' || count(l.*) || ' / ' || coalesce(sum(l.amount_fen), 0)
			FROM batch b LEFT JOIN batch_line l ON l.batch_id = b.id
			WHERE ($1 = '' OR b.township_code = $1) AND b.business_day = $2
			GROUP BY b.id HAVING b.count <> count(l.*) OR b.total_fen <> coalesce(sum(l.amount_fen), 0)`, township, day)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Discrepancy])
	return out, translate(err)
}

// PaidLine is a paid collection with its posting, for the bureaus' books
// and the village publicity list.
type PaidLine struct {
	Year        int
	Kind        string
	VillageCode string
	VillageName string
	Township    string
	Name        string
	ResidentID  string
	GradeFen    int64
	AmountFen   int64
	ReceiptNo   int64
	Voucher     string
	PostedDate  *time.Time
	Status      string
}

// PaidLines lists the paid (not voided, not refunded) collections of a
// year, optionally of one kind and one village, with their posting;
// postedOnly keeps only those posted (入库).
func (db *DB) PaidLines(ctx context.Context, year int, kind, village string, postedOnly bool) ([]PaidLine, error) {
	rows, err := db.Pool.Query(ctx, `SELECT c.year, c.kind, c.village_code, v.name, t.name, c.name, c.resident_id, c.grade_fen,
			c.amount_fen, c.receipt_no, coalesce(l.voucher, ''), l.posted_date, c.status
		FROM collection c
		JOIN village v ON v.code = c.village_code JOIN township t ON t.code = c.township_code
		LEFT JOIN batch_line l ON l.collection_id = c.id AND l.batch_id = c.batch_id AND l.reverses_batch IS NULL
		WHERE c.year = $1 AND ($2 = '' OR c.kind = $2) AND ($3 = '' OR c.village_code = $3)
		  AND c.status NOT IN ('voided', 'refunded') AND (NOT $4 OR c.status = 'posted')
		ORDER BY c.village_code, c.kind, l.posted_date, c.receipt_no`, year, kind, village, postedOnly)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PaidLine])
	return out, translate(err)
}

// Refund is a refund of one collection.
type Refund struct {
	ID            string     `json:"id"`
	CollectionID  string     `json:"collection_id"`
	TownshipCode  string     `json:"township_code"`
	Reason        string     `json:"reason"`
	State         string     `json:"state"`
	RequestedAt   time.Time  `json:"requested_at"`
	ApprovedAt    *time.Time `json:"approved_at,omitempty"`
	RefundedAt    *time.Time `json:"refunded_at,omitempty"`
	ReversalBatch string     `json:"reversal_batch,omitempty"`
	ReversalLine  int        `json:"reversal_line,omitempty"`
	Name          string     `json:"name"`
	AmountFen     int64      `json:"amount_fen"`
	ReceiptNo     int64      `json:"receipt_no"`
}

const refundColumns = `r.id, r.collection_id, r.township_code, r.reason, r.state, r.requested_at, r.approved_at, r.refunded_at,
	coalesce(r.reversal_batch, ''), coalesce(r.reversal_line, 0), c.name, c.amount_fen, c.receipt_no`

// Refunds lists refunds of a township (all for ""), optionally of a state.
func (db *DB) Refunds(ctx context.Context, township, state string) ([]Refund, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+refundColumns+` FROM refund r JOIN collection c ON c.id = r.collection_id
		WHERE ($1 = '' OR r.township_code = $1) AND ($2 = '' OR r.state = $2) ORDER BY r.requested_at DESC`, township, state)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Refund])
	return out, translate(err)
}

// RefundForUpdate reads and locks a refund.
func (db *DB) RefundForUpdate(ctx context.Context, tx pgx.Tx, id string) (Refund, error) {
	rows, err := tx.Query(ctx, `SELECT `+refundColumns+` FROM refund r JOIN collection c ON c.id = r.collection_id
		WHERE r.id = $1 FOR UPDATE OF r`, id)
	if err != nil {
		return Refund{}, translate(err)
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Refund])
	if err != nil {
		return Refund{}, translate(err)
	}
	if len(rs) == 0 {
		return Refund{}, ErrNotFound
	}
	return rs[0], nil
}

// InsertRefund records a refund request.
func (db *DB) InsertRefund(ctx context.Context, tx pgx.Tx, r Refund, by string) error {
	_, err := tx.Exec(ctx, `INSERT INTO refund (id, collection_id, township_code, reason, state, requested_by, requested_at)
		VALUES ($1, $2, $3, $4, 'requested', $5, $6)`, r.ID, r.CollectionID, r.TownshipCode, r.Reason, by, r.RequestedAt)
	return translate(err)
}

// SetRefundState moves a refund on.
func (db *DB) SetRefundState(ctx context.Context, tx pgx.Tx, id, state, by string, at time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE refund SET state = $2,
		approved_by = CASE WHEN $2 = 'approved' THEN $3 ELSE approved_by END,
		approved_at = CASE WHEN $2 = 'approved' THEN $4 ELSE approved_at END,
		refunded_by = CASE WHEN $2 = 'refunded' THEN $3 ELSE refunded_by END,
		refunded_at = CASE WHEN $2 = 'refunded' THEN $4 ELSE refunded_at END
		WHERE id = $1`, id, state, by, at)
	return translate(err)
}

// SetCollectionStatus sets one collection's status and tells its tablet.
func (db *DB) SetCollectionStatus(ctx context.Context, tx pgx.Tx, id, status string, at time.Time) error {
	var device string
	if err := tx.QueryRow(ctx, `SELECT device_id FROM collection WHERE id = $1`, id).Scan(&device); err != nil {
		return translate(err)
	}
	if err := db.LockDeviceStream(ctx, tx, device); err != nil {
		return err
	}
	seq, err := db.AppendDeviceChange(ctx, tx, device, "collection", id, "upsert", at)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE collection SET status = $2, change_seq = $3 WHERE id = $1`, id, status, seq)
	return translate(err)
}

// CollectionByID reads a collection, locked (a cut or an approval that
// would change it waits).
func (db *DB) CollectionByID(ctx context.Context, q Querier, id string) (Collection, error) {
	cs, err := scanCollections(q.Query(ctx, `SELECT `+collectionColumns+` FROM collection WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return Collection{}, err
	}
	if len(cs) == 0 {
		return Collection{}, ErrNotFound
	}
	return cs[0], nil
}

// addReversals appends to a new batch a reversing line for every approved
// refund of the township whose payment is in an approved (or later)
// batch and not yet reversed.
func (db *DB) addReversals(ctx context.Context, tx pgx.Tx, batch, township string) error {
	_, err := tx.Exec(ctx, `
		WITH todo AS (
			SELECT r.id AS refund_id, l.*, row_number() OVER (ORDER BY r.approved_at, r.id) AS k
			FROM refund r
			JOIN collection c ON c.id = r.collection_id
			JOIN batch b ON b.id = c.batch_id AND b.state IN ('approved', 'exported', 'posted', 'partially_posted')
			JOIN batch_line l ON l.batch_id = b.id AND l.collection_id = c.id AND l.reverses_batch IS NULL
			WHERE r.township_code = $2 AND r.state IN ('approved', 'refunded') AND r.reversal_batch IS NULL
		), base AS (SELECT coalesce(max(line_no), 0) AS n FROM batch_line WHERE batch_id = $1),
		lines AS (
			INSERT INTO batch_line (batch_id, line_no, collection_id, village_code, township_code, agent_id, name, resident_id,
				kind, year, grade_fen, amount_fen, receipt_no, device_time, server_time, reverses_batch, reverses_line)
			SELECT $1, base.n + t.k, t.collection_id, t.village_code, t.township_code, t.agent_id, t.name, t.resident_id,
				t.kind, t.year, t.grade_fen, -t.amount_fen, t.receipt_no, t.device_time, t.server_time, t.batch_id, t.line_no
			FROM todo t, base RETURNING line_no, collection_id
		)
		UPDATE refund r SET reversal_batch = $1, reversal_line = lines.line_no FROM lines WHERE r.collection_id = lines.collection_id`,
		batch, township)
	return translate(err)
}
