package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Device is an enrolled tablet.
type Device struct {
	ID           string     `json:"id"`
	AgentID      string     `json:"agent_id"`
	AgentName    string     `json:"agent_username"`
	TownshipCode string     `json:"township_code"`
	Name         string     `json:"name"`
	PublicKey    []byte     `json:"public_key"`
	EnrolledAt   time.Time  `json:"enrolled_at"`
	LastSeenAt   *time.Time `json:"last_seen_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
}

const deviceColumns = `d.id, d.agent_id, u.username, d.township_code, d.name, d.public_key,
	d.enrolled_at, d.last_seen_at, d.revoked_at`

func scanDevice(row pgx.Row) (Device, error) {
	var d Device
	err := row.Scan(&d.ID, &d.AgentID, &d.AgentName, &d.TownshipCode, &d.Name, &d.PublicKey,
		&d.EnrolledAt, &d.LastSeenAt, &d.RevokedAt)
	return d, translate(err)
}

// DeviceByID finds a device.
func (db *DB) DeviceByID(ctx context.Context, q Querier, id string) (Device, error) {
	return scanDevice(q.QueryRow(ctx, `SELECT `+deviceColumns+` FROM device d JOIN app_user u ON u.id = d.agent_id
		WHERE d.id = $1`, id))
}

// Devices lists the devices of a township (all when township is empty).
func (db *DB) Devices(ctx context.Context, township string) ([]Device, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+deviceColumns+` FROM device d JOIN app_user u ON u.id = d.agent_id
		WHERE $1 = '' OR d.township_code = $1 ORDER BY d.township_code, u.username, d.id`, township)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

// InsertDevice writes a newly enrolled device.
func (db *DB) InsertDevice(ctx context.Context, tx pgx.Tx, d Device) error {
	_, err := tx.Exec(ctx, `INSERT INTO device (id, agent_id, township_code, name, public_key, enrolled_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`, d.ID, d.AgentID, d.TownshipCode, d.Name, d.PublicKey, d.EnrolledAt)
	return translate(err)
}

// RevokeDevice marks a device revoked and revokes its refresh tokens.
func (db *DB) RevokeDevice(ctx context.Context, tx pgx.Tx, id, by string, at time.Time) error {
	tag, err := tx.Exec(ctx, `UPDATE device SET revoked_at = $3, revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL`, id, by, at)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	_, err = tx.Exec(ctx, `UPDATE refresh_token SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL`, id, at)
	return translate(err)
}

// TouchDevice reports whether the device may act (exists, not revoked)
// and records that it was seen, at most once a minute.
func (db *DB) TouchDevice(ctx context.Context, id string, now time.Time) (revoked bool, err error) {
	var revokedAt *time.Time
	err = db.Pool.QueryRow(ctx, `WITH touched AS (
			UPDATE device SET last_seen_at = $2::timestamptz
			WHERE id = $1 AND revoked_at IS NULL AND (last_seen_at IS NULL OR last_seen_at < $2::timestamptz - interval '1 minute')
		)
		SELECT revoked_at FROM device WHERE id = $1`, id, now).Scan(&revokedAt)
	if err != nil {
		return false, translate(err)
	}
	return revokedAt != nil, nil
}

// EnrollmentCode is a one-time code for enrolling a tablet for an agent.
type EnrollmentCode struct {
	Hash         []byte
	AgentID      string
	TownshipCode string
	CreatedBy    string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// InsertEnrollmentCode writes a new code (by its hash).
func (db *DB) InsertEnrollmentCode(ctx context.Context, tx pgx.Tx, c EnrollmentCode) error {
	_, err := tx.Exec(ctx, `INSERT INTO enrollment_code (code_hash, agent_id, township_code, created_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, c.Hash, c.AgentID, c.TownshipCode, c.CreatedBy, c.CreatedAt, c.ExpiresAt)
	return translate(err)
}

// UseEnrollmentCode consumes a valid, unused, unexpired code and returns
// it (BindEnrollmentCode records the device once it exists). A used, expired or unknown code is ErrNotFound:
// the caller cannot tell which, and neither can an attacker.
func (db *DB) UseEnrollmentCode(ctx context.Context, tx pgx.Tx, hash []byte, now time.Time) (EnrollmentCode, error) {
	var c EnrollmentCode
	err := tx.QueryRow(ctx, `UPDATE enrollment_code SET used_at = $2
		WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
		RETURNING code_hash, agent_id, township_code, created_by, created_at, expires_at`, hash, now).
		Scan(&c.Hash, &c.AgentID, &c.TownshipCode, &c.CreatedBy, &c.CreatedAt, &c.ExpiresAt)
	return c, translate(err)
}

// BindEnrollmentCode records which device a used code enrolled.
func (db *DB) BindEnrollmentCode(ctx context.Context, tx pgx.Tx, hash []byte, deviceID string) error {
	_, err := tx.Exec(ctx, `UPDATE enrollment_code SET device_id = $2 WHERE code_hash = $1`, hash, deviceID)
	return translate(err)
}
