package localstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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

// SaveEnrollment records the tablet's enrollment.
func (s *Store) SaveEnrollment(ctx context.Context, e Enrollment) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO device_setting (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, enrollmentKey, string(b))
	return err
}

// Enrollment reads the tablet's enrollment; ErrNotFound before enrolling.
func (s *Store) Enrollment(ctx context.Context) (Enrollment, error) {
	var v string
	err := s.DB.QueryRowContext(ctx, `SELECT value FROM device_setting WHERE key = ?`, enrollmentKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return Enrollment{}, ErrNotFound
	}
	if err != nil {
		return Enrollment{}, err
	}
	var e Enrollment
	return e, json.Unmarshal([]byte(v), &e)
}
