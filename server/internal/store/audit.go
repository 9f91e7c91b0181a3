package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID           string    `json:"id"`
	At           time.Time `json:"at"`
	ActorID      string    `json:"actor_id,omitempty"`
	ActorName    string    `json:"actor_name,omitempty"`
	ActorRole    string    `json:"actor_role,omitempty"`
	DeviceID     string    `json:"device_id,omitempty"`
	Action       string    `json:"action"`
	TargetType   string    `json:"target_type,omitempty"`
	TargetID     string    `json:"target_id,omitempty"`
	TownshipCode string    `json:"township_code,omitempty"`
	VillageCode  string    `json:"village_code,omitempty"`
	Before       any       `json:"before,omitempty"`
	After        any       `json:"after,omitempty"`
	IP           string    `json:"ip,omitempty"`
	RequestID    string    `json:"request_id,omitempty"`
}

// Querier is what a statement runs on: the pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Audit appends e to the audit log on q, normally the transaction that
// makes the change it records. ID and time are filled in when empty.
func (db *DB) Audit(ctx context.Context, q Querier, e AuditEntry) error {
	if e.ID == "" {
		e.ID = db.NewID()
	}
	if e.At.IsZero() {
		e.At = db.Now()
	}
	before, err := jsonOrNil(e.Before)
	if err != nil {
		return err
	}
	after, err := jsonOrNil(e.After)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO audit_log (id, at, actor_id, actor_name, actor_role, device_id, action,
		target_type, target_id, township_code, village_code, before, after, ip, request_id)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, NULLIF($6, ''), $7, $8, $9, NULLIF($10, ''), NULLIF($11, ''), $12, $13, $14, $15)`,
		e.ID, e.At, e.ActorID, e.ActorName, e.ActorRole, e.DeviceID, e.Action,
		e.TargetType, e.TargetID, e.TownshipCode, e.VillageCode, before, after, e.IP, e.RequestID)
	return translate(err)
}

func jsonOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: audit value: %w", err)
	}
	return b, nil
}

// AuditFilter selects audit lines. Township, when set, limits the lines to
// those of that township. Before is a pagination cursor (an entry ID):
// lines older than it.
type AuditFilter struct {
	Township string
	Action   string
	ActorID  string
	Since    time.Time
	Until    time.Time
	Before   string
	Limit    int
}

// AuditLog lists audit lines, newest first.
func (db *DB) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, at, coalesce(actor_id, ''), actor_name, actor_role,
		coalesce(device_id, ''), action, target_type, target_id, coalesce(township_code, ''),
		coalesce(village_code, ''), before, after, ip, request_id
		FROM audit_log
		WHERE ($1 = '' OR township_code = $1)
		  AND ($2 = '' OR action = $2)
		  AND ($3 = '' OR actor_id = $3)
		  AND ($4::timestamptz IS NULL OR at >= $4)
		  AND ($5::timestamptz IS NULL OR at < $5)
		  AND ($6 = '' OR id < $6)
		ORDER BY id DESC LIMIT $7`,
		f.Township, f.Action, f.ActorID, nullTime(f.Since), nullTime(f.Until), f.Before, f.Limit)
	if err != nil {
		return nil, translate(err)
	}
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var before, after []byte
		if err := rows.Scan(&e.ID, &e.At, &e.ActorID, &e.ActorName, &e.ActorRole, &e.DeviceID, &e.Action,
			&e.TargetType, &e.TargetID, &e.TownshipCode, &e.VillageCode, &before, &after, &e.IP, &e.RequestID); err != nil {
			return nil, translate(err)
		}
		if before != nil {
			e.Before = json.RawMessage(before)
		}
		if after != nil {
			e.After = json.RawMessage(after)
		}
		out = append(out, e)
	}
	return out, translate(rows.Err())
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
