package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a person who signs in. Villages is set for agents.
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	DisplayName  string    `json:"display_name"`
	Role         string    `json:"role"`
	TownshipCode string    `json:"township_code,omitempty"`
	Villages     []string  `json:"villages,omitempty"`
	Disabled     bool      `json:"disabled"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	PasswordHash string    `json:"-"`
}

const userColumns = `u.id, u.username, u.display_name, u.role, coalesce(u.township_code, ''),
	coalesce((SELECT array_agg(av.village_code ORDER BY av.village_code) FROM agent_village av WHERE av.user_id = u.id), '{}'),
	u.disabled, u.created_at, u.updated_at, u.password_hash`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.TownshipCode, &u.Villages,
		&u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.PasswordHash)
	return u, translate(err)
}

// UserByUsername finds a user by login name.
func (db *DB) UserByUsername(ctx context.Context, q Querier, username string) (User, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM app_user u WHERE u.username = $1`, username))
}

// UserByID finds a user by ID.
func (db *DB) UserByID(ctx context.Context, q Querier, id string) (User, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM app_user u WHERE u.id = $1`, id))
}

// Users lists users, of one township (its township staff and agents) when
// township is set, else all; optionally of one role.
func (db *DB) Users(ctx context.Context, township, role string) ([]User, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+userColumns+` FROM app_user u
		WHERE ($1 = '' OR u.township_code = $1) AND ($2 = '' OR u.role = $2)
		ORDER BY u.username`, township, role)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, translate(rows.Err())
}

// InsertUser writes a new user and, for agents, their villages.
func (db *DB) InsertUser(ctx context.Context, tx pgx.Tx, u User) error {
	_, err := tx.Exec(ctx, `INSERT INTO app_user (id, username, display_name, role, township_code,
		password_hash, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8, $8)`,
		u.ID, u.Username, u.DisplayName, u.Role, u.TownshipCode, u.PasswordHash, u.Disabled, u.CreatedAt)
	if err != nil {
		return translate(err)
	}
	return setVillages(ctx, tx, u)
}

// UpdateUser writes the changeable fields of u (name, disabled, password
// hash, villages).
func (db *DB) UpdateUser(ctx context.Context, tx pgx.Tx, u User) error {
	tag, err := tx.Exec(ctx, `UPDATE app_user SET display_name = $2, disabled = $3, password_hash = $4,
		updated_at = $5 WHERE id = $1`, u.ID, u.DisplayName, u.Disabled, u.PasswordHash, u.UpdatedAt)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	if _, err := tx.Exec(ctx, `DELETE FROM agent_village WHERE user_id = $1`, u.ID); err != nil {
		return translate(err)
	}
	return setVillages(ctx, tx, u)
}

func setVillages(ctx context.Context, tx pgx.Tx, u User) error {
	for _, v := range u.Villages {
		if _, err := tx.Exec(ctx, `INSERT INTO agent_village (user_id, village_code, township_code)
			VALUES ($1, $2, $3)`, u.ID, v, u.TownshipCode); err != nil {
			return translate(err)
		}
	}
	return nil
}

// LoginLocked reports until when logins for username are locked.
func (db *DB) LoginLocked(ctx context.Context, username string, now time.Time) (time.Time, bool, error) {
	var until *time.Time
	err := db.Pool.QueryRow(ctx, `SELECT locked_until FROM login_failure WHERE username = $1`, username).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, translate(err)
	}
	if until != nil && until.After(now) {
		return *until, true, nil
	}
	return time.Time{}, false, nil
}

// RecordLoginFailure counts a failed login for username (whether or not
// such a user exists); after max failures within window the name is
// locked for lockFor. It returns the failures counted so far.
func (db *DB) RecordLoginFailure(ctx context.Context, username string, now time.Time, window time.Duration, max int, lockFor time.Duration) (int, error) {
	var n int
	err := db.Pool.QueryRow(ctx, `INSERT INTO login_failure AS f (username, failures, last_at)
		VALUES ($1, 1, $2)
		ON CONFLICT (username) DO UPDATE SET
			failures = CASE WHEN f.last_at < $2 - $3::interval OR f.locked_until <= $2 THEN 1 ELSE f.failures + 1 END,
			locked_until = CASE WHEN f.locked_until <= $2 THEN NULL ELSE f.locked_until END,
			last_at = $2
		RETURNING failures`, username, now, window).Scan(&n)
	if err != nil {
		return 0, translate(err)
	}
	if n >= max {
		_, err = db.Pool.Exec(ctx, `UPDATE login_failure SET locked_until = $2 WHERE username = $1`, username, now.Add(lockFor))
	}
	return n, translate(err)
}

// ClearLoginFailures forgets the failures of username after a good login.
func (db *DB) ClearLoginFailures(ctx context.Context, username string) error {
	_, err := db.Pool.Exec(ctx, `DELETE FROM login_failure WHERE username = $1`, username)
	return translate(err)
}

// RateHit counts one hit on key in the fixed window that now falls in and
// reports whether the count is within limit. Counters live in the database
// so every server behind the load balancer shares them.
func (db *DB) RateHit(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, error) {
	start := now.Truncate(window)
	var hits int
	err := db.Pool.QueryRow(ctx, `INSERT INTO rate_limit AS r (key, window_start, hits) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			hits = CASE WHEN r.window_start = $2 THEN r.hits + 1 ELSE 1 END,
			window_start = $2
		RETURNING hits`, key, start).Scan(&hits)
	if err != nil {
		return false, translate(err)
	}
	return hits <= limit, nil
}
