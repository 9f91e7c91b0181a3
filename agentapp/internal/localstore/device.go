package localstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// Enrollment is what the tablet keeps of its enrollment (no secrets: those
// are sealed in the keystore).
type Enrollment struct {
	ServerURL    string   `json:"server_url"`
	DeviceID     string   `json:"device_id"`
	AgentID      string   `json:"agent_id"`
	AgentName    string   `json:"agent_username"`
	DisplayName  string   `json:"agent_display_name"`
	TownshipCode string   `json:"township_code"`
	Villages     []string `json:"villages"`
}

const enrollmentKey = "enrollment"

// SaveEnrollment records the tablet's enrollment. Enrolling as another
// device (after the PIN was forgotten and the township enrolled the tablet
// again) drops the replica and the cursor of the old device's scope and
// its revoked mark; the old device's own records stay (they can be
// exported).
func (s *Store) SaveEnrollment(ctx context.Context, e Enrollment) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("localstore: begin: %w", err)
	}
	defer tx.Rollback()
	var old string
	err = tx.QueryRowContext(ctx, `SELECT value FROM device_setting WHERE key = ?`, enrollmentKey).Scan(&old)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("localstore: read enrollment: %w", err)
	}
	var prev Enrollment
	if old != "" {
		if err := json.Unmarshal([]byte(old), &prev); err != nil {
			return fmt.Errorf("localstore: decode enrollment: %w", err)
		}
	}
	if prev.DeviceID != e.DeviceID {
		if err := resetReplica(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET revoked = 0, last_error_code = '', last_error = '',
			last_error_zh = '' WHERE id = 1`); err != nil {
			return fmt.Errorf("localstore: reset sync state: %w", err)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO device_setting (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, enrollmentKey, string(b))
	if err != nil {
		return fmt.Errorf("localstore: save enrollment: %w", err)
	}
	return tx.Commit()
}

// Enrollment reads the tablet's enrollment; ErrNotFound before enrolling.
func (s *Store) Enrollment(ctx context.Context) (Enrollment, error) {
	var v string
	err := s.q().QueryRowContext(ctx, `SELECT value FROM device_setting WHERE key = ?`, enrollmentKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return Enrollment{}, ErrNotFound
	}
	if err != nil {
		return Enrollment{}, err
	}
	var e Enrollment
	return e, json.Unmarshal([]byte(v), &e)
}
