package store

import (
	"context"
	"time"
)

// WebSession is a session of the web console, with the user it belongs to
// as stored now (role, township, villages, disabled).
type WebSession struct {
	TokenHash  []byte
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	User       User
}

// InsertWebSession stores a new console session.
func (db *DB) InsertWebSession(ctx context.Context, q Querier, hash []byte, userID, csrf string, now, expires time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO web_session (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $4, $5)`, hash, userID, csrf, now, expires)
	return translate(err)
}

// WebSessionByHash finds a console session and its user.
func (db *DB) WebSessionByHash(ctx context.Context, hash []byte) (WebSession, error) {
	var s WebSession
	var u User
	err := db.Pool.QueryRow(ctx, `SELECT s.token_hash, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at, `+userColumns+`
		FROM web_session s JOIN app_user u ON u.id = s.user_id WHERE s.token_hash = $1`, hash).Scan(
		&s.TokenHash, &s.CSRFToken, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.RevokedAt,
		&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.TownshipCode, &u.Villages,
		&u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.PasswordHash)
	s.User = u
	return s, translate(err)
}

// TouchWebSession records activity on a session (its idle clock).
func (db *DB) TouchWebSession(ctx context.Context, hash []byte, now time.Time) error {
	_, err := db.Pool.Exec(ctx, `UPDATE web_session SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2`, hash, now)
	return translate(err)
}

// RevokeWebSession ends a session (logout).
func (db *DB) RevokeWebSession(ctx context.Context, q Querier, hash []byte, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE web_session SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL`, hash, now)
	return translate(err)
}

// RevokeUserWebSessions ends every open session of a user (disabled,
// or password changed) and reports how many.
func (db *DB) RevokeUserWebSessions(ctx context.Context, q Querier, userID string, now time.Time) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE web_session SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, now)
	return tag.RowsAffected(), translate(err)
}

// FlaggedCollection is a collection the server flagged (a duplicate
// payment, a wrong amount...), as the township's review list shows it.
type FlaggedCollection struct {
	ID          string
	Name        string
	ResidentID  string
	VillageCode string
	VillageName string
	AgentName   string
	Kind        string
	AmountFen   int64
	ReceiptNo   int64
	BusinessDay time.Time
	Status      string
	Flags       []string
}

// FlaggedCollections lists the flagged, not voided collections of a
// township (all when empty), newest first.
func (db *DB) FlaggedCollections(ctx context.Context, township string, limit int) ([]FlaggedCollection, error) {
	rows, err := db.Pool.Query(ctx, `SELECT c.id, c.name, coalesce(c.resident_id, ''), c.village_code, coalesce(v.name, ''),
			coalesce(nullif(u.display_name, ''), u.username, ''), c.kind, c.amount_fen, c.receipt_no, c.business_day, c.status, c.flags
		FROM collection c LEFT JOIN village v ON v.code = c.village_code LEFT JOIN app_user u ON u.id = c.agent_id
		WHERE ($1 = '' OR c.township_code = $1) AND cardinality(c.flags) > 0 AND c.status <> 'voided'
		ORDER BY c.business_day DESC, c.id DESC LIMIT $2`, township, limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []FlaggedCollection
	for rows.Next() {
		var f FlaggedCollection
		if err := rows.Scan(&f.ID, &f.Name, &f.ResidentID, &f.VillageCode, &f.VillageName, &f.AgentName, &f.Kind,
			&f.AmountFen, &f.ReceiptNo, &f.BusinessDay, &f.Status, &f.Flags); err != nil {
			return nil, translate(err)
		}
		out = append(out, f)
	}
	return out, translate(rows.Err())
}

// DeleteEndedWebSessions removes the sessions past their absolute expiry
// (revoked ones included) and reports how many.
func (db *DB) DeleteEndedWebSessions(ctx context.Context, q Querier, now time.Time) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM web_session WHERE expires_at < $1`, now)
	return tag.RowsAffected(), translate(err)
}

// RosterAppliedAfter reports whether another file of kind (other content
// than imp's) was applied after the import imp (by upload time, then ID):
// the roster then differs from the one imp's dry run was checked against.
func (db *DB) RosterAppliedAfter(ctx context.Context, kind string, imp RosterImport) (bool, error) {
	var yes bool
	err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM roster_import WHERE kind = $1 AND status = 'applied'
		AND (uploaded_at, id) > ($2, $3) AND content_sha256 <> $4)`, kind, imp.UploadedAt, imp.ID, imp.ContentSHA256).Scan(&yes)
	return yes, translate(err)
}
