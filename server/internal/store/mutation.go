package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// PushDevice is what a push needs of its device, read under a row lock
// that serialises pushes of one device.
type PushDevice struct {
	ID           string
	AgentID      string
	TownshipCode string
	PublicKey    []byte
	Revoked      bool
	Villages     []string // the agent's villages now
	LastSeq      int64
	LastHash     string
}

// LockDeviceForPush reads and locks a device for a push. NO KEY UPDATE:
// another push inserting a notice for this device takes a KEY SHARE lock
// on it (the foreign key), which FOR UPDATE would block into a deadlock.
func (db *DB) LockDeviceForPush(ctx context.Context, tx pgx.Tx, id string) (PushDevice, error) {
	var d PushDevice
	err := tx.QueryRow(ctx, `SELECT d.id, d.agent_id, d.township_code, d.public_key, d.revoked_at IS NOT NULL,
			coalesce((SELECT array_agg(village_code ORDER BY village_code) FROM agent_village WHERE user_id = d.agent_id), '{}')
		FROM device d WHERE d.id = $1 FOR NO KEY UPDATE`, id).
		Scan(&d.ID, &d.AgentID, &d.TownshipCode, &d.PublicKey, &d.Revoked, &d.Villages)
	if err != nil {
		return d, translate(err)
	}
	err = tx.QueryRow(ctx, `SELECT seq, hash FROM mutation WHERE device_id = $1 ORDER BY seq DESC LIMIT 1`, id).
		Scan(&d.LastSeq, &d.LastHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, nil
	}
	return d, translate(err)
}

// StoredMutation is a mutation as the server keeps it.
type StoredMutation struct {
	DeviceID       string
	Seq            int64
	ID             string
	Kind           string
	DeviceTime     time.Time
	DeviceTimeText string // exactly as hashed
	PrevHash       string
	Payload        []byte
	Hash           string
	Signature      string
	ReceivedAt     time.Time
	Status         string
	RejectCode     string
	RejectReason   string
	TownshipCode   string
}

// MutationHash returns the hash stored for a device's seq ("" if none).
func (db *DB) MutationHash(ctx context.Context, q Querier, device string, seq int64) (string, error) {
	var h string
	err := q.QueryRow(ctx, `SELECT hash FROM mutation WHERE device_id = $1 AND seq = $2`, device, seq).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return h, translate(err)
}

// InsertMutations stores the mutations of a push with one COPY (a push
// reads no mutation row it writes, so they are written together at its
// end rather than one INSERT each).
func (db *DB) InsertMutations(ctx context.Context, tx pgx.Tx, ms []StoredMutation) error {
	if len(ms) == 0 {
		return nil
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"mutation"}, []string{"device_id", "seq", "id", "kind", "device_time",
		"device_time_text", "prev_hash", "payload", "hash", "signature", "received_at", "status", "reject_code",
		"reject_reason", "township_code"}, pgx.CopyFromSlice(len(ms), func(i int) ([]any, error) {
		m := ms[i]
		return []any{m.DeviceID, m.Seq, m.ID, m.Kind, m.DeviceTime, m.DeviceTimeText, m.PrevHash, m.Payload, m.Hash,
			m.Signature, m.ReceivedAt, m.Status, null(m.RejectCode), null(m.RejectReason), m.TownshipCode}, nil
	}))
	return translate(err)
}

// Mutations returns a device's stored mutations from seq on, in order.
func (db *DB) Mutations(ctx context.Context, device string, from int64) ([]StoredMutation, error) {
	rows, err := db.Pool.Query(ctx, `SELECT device_id, seq, id, kind, device_time, device_time_text, prev_hash, payload, hash, signature,
		received_at, status, coalesce(reject_code, ''), coalesce(reject_reason, ''), township_code
		FROM mutation WHERE device_id = $1 AND seq >= $2 ORDER BY seq`, device, from)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StoredMutation])
	return out, translate(err)
}

// InsertAlert records a chain or tamper alert for the township.
func (db *DB) InsertAlert(ctx context.Context, q Querier, id, device, township, code string, seq int64, detail string, at time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO sync_alert (id, device_id, township_code, code, seq, detail, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, device, township, code, seq, detail, at)
	return translate(err)
}

// Alert is a chain or tamper alert.
type Alert struct {
	ID           string    `json:"id"`
	DeviceID     string    `json:"device_id"`
	TownshipCode string    `json:"township_code"`
	Code         string    `json:"code"`
	Seq          int64     `json:"seq"`
	Detail       string    `json:"detail"`
	At           time.Time `json:"at"`
}

// Alerts lists the alerts of a township (all when empty), newest first.
func (db *DB) Alerts(ctx context.Context, township string) ([]Alert, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, device_id, township_code, code, coalesce(seq, 0), detail, at
		FROM sync_alert WHERE $1 = '' OR township_code = $1 ORDER BY at DESC, id DESC LIMIT 500`, township)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Alert])
	return out, translate(err)
}

// RemovedRosterLine finds a roster line an import removed.
func (db *DB) RemovedRosterLine(ctx context.Context, q Querier, id string) (RosterEntry, bool, error) {
	var e RosterEntry
	err := q.QueryRow(ctx, `SELECT id, kind, year, resident_id, name, village_code, category FROM roster_removed WHERE id = $1`, id).
		Scan(&e.ID, &e.Kind, &e.Year, &e.ResidentID, &e.Name, &e.VillageCode, &e.Category)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, false, nil
	}
	return e, err == nil, translate(err)
}

// Person is one person's line of one insurance kind and year: what a
// duplicate payment is counted over.
type Person struct {
	ResidentID string
	Kind       string
	Year       int
}

// personArrays are people as the parallel arrays the lookups unnest; a
// person without an ID number is left out (it matches nobody).
func personArrays(people []Person) (ids, kinds []string, years []int32) {
	for _, p := range people {
		if p.ResidentID != "" {
			ids, kinds, years = append(ids, p.ResidentID), append(kinds, p.Kind), append(years, int32(p.Year))
		}
	}
	return ids, kinds, years
}

// OtherDevicesOf lists the devices, other than device, that hold live
// collections of these roster lines or people: a push may flag their
// collections and send them notices, so it locks their streams first.
func (db *DB) OtherDevicesOf(ctx context.Context, q Querier, device string, entryIDs []string, people []Person) ([]string, error) {
	ids, kinds, years := personArrays(people)
	// Two arms, each on its own index: as one OR with the device and
	// status filters PostgreSQL estimated thousands of rows and scanned
	// the whole table, in every push.
	rows, err := q.Query(ctx, `SELECT DISTINCT device_id FROM (
			SELECT device_id, status FROM collection WHERE roster_entry_id = ANY($2)
			UNION ALL
			SELECT c.device_id, c.status FROM unnest($3::text[], $4::text[], $5::int[]) p(r, k, y)
			JOIN collection c ON c.resident_id = p.r AND c.kind = p.k AND c.year = p.y
		) c WHERE status <> 'voided' AND device_id <> $1
		ORDER BY device_id`, device, entryIDs, ids, kinds, years)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err)
}
