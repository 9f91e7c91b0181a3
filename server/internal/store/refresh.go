package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// RefreshToken is a stored refresh token (its hash only).
type RefreshToken struct {
	Hash       []byte
	FamilyID   string
	UserID     string
	DeviceID   string
	ParentHash []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
	RevokedAt  *time.Time
}

// InsertRefreshToken stores a new refresh token.
func (db *DB) InsertRefreshToken(ctx context.Context, tx pgx.Tx, t RefreshToken) error {
	_, err := tx.Exec(ctx, `INSERT INTO refresh_token (token_hash, family_id, user_id, device_id, parent_hash, created_at, expires_at)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7)`,
		t.Hash, t.FamilyID, t.UserID, t.DeviceID, t.ParentHash, t.CreatedAt, t.ExpiresAt)
	return translate(err)
}

// RefreshTokenForUpdate reads and locks a refresh token by hash.
func (db *DB) RefreshTokenForUpdate(ctx context.Context, tx pgx.Tx, hash []byte) (RefreshToken, error) {
	var t RefreshToken
	err := tx.QueryRow(ctx, `SELECT token_hash, family_id, user_id, coalesce(device_id, ''), parent_hash,
		created_at, expires_at, used_at, revoked_at FROM refresh_token WHERE token_hash = $1 FOR UPDATE`, hash).
		Scan(&t.Hash, &t.FamilyID, &t.UserID, &t.DeviceID, &t.ParentHash, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt, &t.RevokedAt)
	return t, translate(err)
}

// RefreshChild returns the successor issued when parent was used.
func (db *DB) RefreshChild(ctx context.Context, tx pgx.Tx, parent []byte) (RefreshToken, error) {
	var t RefreshToken
	err := tx.QueryRow(ctx, `SELECT token_hash, family_id, user_id, coalesce(device_id, ''), parent_hash,
		created_at, expires_at, used_at, revoked_at FROM refresh_token
		WHERE parent_hash = $1 AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1 FOR UPDATE`, parent).
		Scan(&t.Hash, &t.FamilyID, &t.UserID, &t.DeviceID, &t.ParentHash, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt, &t.RevokedAt)
	return t, translate(err)
}

// MarkRefreshUsed records that a token was exchanged for a successor.
func (db *DB) MarkRefreshUsed(ctx context.Context, tx pgx.Tx, hash []byte, at time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE refresh_token SET used_at = $2 WHERE token_hash = $1`, hash, at)
	return translate(err)
}

// RevokeRefreshToken revokes one token.
func (db *DB) RevokeRefreshToken(ctx context.Context, tx pgx.Tx, hash []byte, at time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE refresh_token SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL`, hash, at)
	return translate(err)
}

// RevokeRefreshFamily revokes every live token of a family.
func (db *DB) RevokeRefreshFamily(ctx context.Context, tx pgx.Tx, family string, at time.Time) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE refresh_token SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, family, at)
	return tag.RowsAffected(), translate(err)
}

// RevokeUserRefreshTokens revokes every live token of a user (disabled
// user, password reset).
func (db *DB) RevokeUserRefreshTokens(ctx context.Context, tx pgx.Tx, userID string, at time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE refresh_token SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, at)
	return translate(err)
}
