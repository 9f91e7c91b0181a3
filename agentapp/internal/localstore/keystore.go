package localstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned when the row asked for does not exist.
var ErrNotFound = errors.New("localstore: not found")

// ErrExists is returned when a row that may exist only once already does.
var ErrExists = errors.New("localstore: already exists")

// KeystoreRecord is the tablet's one keystore row: the PIN verifier, the
// sealed device secrets and the lockout state. Package keystore owns its
// meaning; this store only keeps it. Zero times are stored as 0.
type KeystoreRecord struct {
	DeviceID       string
	PINHash        string // argon2id PHC string
	KDFSalt        []byte
	KDFMemoryKiB   uint32
	KDFIterations  uint32
	KDFParallelism uint8
	WrapNonce      []byte
	WrappedKey     []byte // the data key, sealed under the PIN-derived key
	Nonce          []byte
	Sealed         []byte // the secrets, sealed under the data key
	Failures       int
	LockedUntil    time.Time
	LastSeen       time.Time
	CreatedAt      time.Time
}

// secretColumnsDiffer reports whether a and b differ in anything sealed or
// derived from the PIN, so that the old bytes must be scrubbed.
func secretColumnsDiffer(a, b *KeystoreRecord) bool {
	return a.PINHash != b.PINHash ||
		!bytes.Equal(a.KDFSalt, b.KDFSalt) ||
		!bytes.Equal(a.WrappedKey, b.WrappedKey) ||
		!bytes.Equal(a.Sealed, b.Sealed)
}

const keystoreColumns = `device_id, pin_hash, kdf_salt, kdf_memory_kib, kdf_iterations,
	kdf_parallelism, wrap_nonce, wrapped_key, nonce, sealed, failures,
	locked_until_ms, last_seen_ms, created_ms`

type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getKeystore(ctx context.Context, q rowQueryer) (KeystoreRecord, error) {
	var r KeystoreRecord
	var lockedMS, seenMS, createdMS int64
	err := q.QueryRowContext(ctx, `SELECT `+keystoreColumns+` FROM keystore WHERE id = 1`).Scan(
		&r.DeviceID, &r.PINHash, &r.KDFSalt, &r.KDFMemoryKiB, &r.KDFIterations,
		&r.KDFParallelism, &r.WrapNonce, &r.WrappedKey, &r.Nonce, &r.Sealed, &r.Failures,
		&lockedMS, &seenMS, &createdMS)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("localstore: read keystore: %w", err)
	}
	r.LockedUntil, r.LastSeen, r.CreatedAt = fromMS(lockedMS), fromMS(seenMS), fromMS(createdMS)
	return r, nil
}

// Keystore reads the keystore row; ErrNotFound when the tablet has none.
func (s *Store) Keystore(ctx context.Context) (KeystoreRecord, error) {
	return getKeystore(ctx, s.DB)
}

// CreateKeystore writes the keystore row; ErrExists when there is one.
func (s *Store) CreateKeystore(ctx context.Context, r KeystoreRecord) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("localstore: begin: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM keystore`).Scan(&n); err != nil {
		return fmt.Errorf("localstore: count keystore: %w", err)
	}
	if n > 0 {
		return ErrExists
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO keystore (id, `+keystoreColumns+`)
		VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.DeviceID, r.PINHash, r.KDFSalt, r.KDFMemoryKiB, r.KDFIterations,
		r.KDFParallelism, r.WrapNonce, r.WrappedKey, r.Nonce, r.Sealed, r.Failures,
		toMS(r.LockedUntil), toMS(r.LastSeen), toMS(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("localstore: insert keystore: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("localstore: commit keystore: %w", err)
	}
	return nil
}

// UpdateKeystore reads the keystore row, lets fn change it and writes it
// back, all in one write transaction, so read-modify-write steps (the
// failure counter) cannot interleave. fn runs while the database is locked
// and must be quick: no key derivation inside it. An error from fn rolls
// back and is returned as is; ErrNotFound when there is no row.
//
// When the PIN hash or a sealed column changes, the old bytes are scrubbed:
// the update runs with secure_delete on (freed space in the page is zeroed)
// and the WAL is checkpointed and truncated after commit, so a copy of the
// file does not carry the data key sealed under a PIN that was replaced.
// The checkpoint is best effort (see truncateWAL).
func (s *Store) UpdateKeystore(ctx context.Context, fn func(*KeystoreRecord) error) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("localstore: begin: %w", err)
	}
	defer tx.Rollback()
	before, err := getKeystore(ctx, tx)
	if err != nil {
		return err
	}
	r := before
	r.KDFSalt = bytes.Clone(before.KDFSalt)
	r.WrapNonce = bytes.Clone(before.WrapNonce)
	r.WrappedKey = bytes.Clone(before.WrappedKey)
	r.Nonce = bytes.Clone(before.Nonce)
	r.Sealed = bytes.Clone(before.Sealed)
	if err := fn(&r); err != nil {
		return err
	}
	scrub := secretColumnsDiffer(&before, &r)
	err = withSecureDelete(ctx, tx, scrub, func() error {
		_, err := tx.ExecContext(ctx, `UPDATE keystore SET device_id = ?, pin_hash = ?,
			kdf_salt = ?, kdf_memory_kib = ?, kdf_iterations = ?, kdf_parallelism = ?,
			wrap_nonce = ?, wrapped_key = ?, nonce = ?, sealed = ?, failures = ?,
			locked_until_ms = ?, last_seen_ms = ?, created_ms = ?
			WHERE id = 1`,
			r.DeviceID, r.PINHash, r.KDFSalt, r.KDFMemoryKiB, r.KDFIterations,
			r.KDFParallelism, r.WrapNonce, r.WrappedKey, r.Nonce, r.Sealed, r.Failures,
			toMS(r.LockedUntil), toMS(r.LastSeen), toMS(r.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("localstore: update keystore: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("localstore: commit keystore: %w", err)
	}
	if scrub {
		s.truncateWAL(ctx)
	}
	return nil
}

// DeleteKeystore removes the keystore row and scrubs its bytes as
// UpdateKeystore does. Deleting a missing row is not an error.
func (s *Store) DeleteKeystore(ctx context.Context) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("localstore: begin: %w", err)
	}
	defer tx.Rollback()
	err = withSecureDelete(ctx, tx, true, func() error {
		_, err := tx.ExecContext(ctx, `DELETE FROM keystore`)
		return err
	})
	if err != nil {
		return fmt.Errorf("localstore: delete keystore: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("localstore: commit keystore: %w", err)
	}
	s.truncateWAL(ctx)
	return nil
}

// withSecureDelete runs fn with SQLite's secure_delete on for this
// connection when on is set, and puts the previous setting back after, so
// the rest of the app keeps its own setting.
func withSecureDelete(ctx context.Context, tx *sql.Tx, on bool, fn func() error) error {
	if !on {
		return fn()
	}
	var prev int
	if err := tx.QueryRowContext(ctx, `PRAGMA secure_delete`).Scan(&prev); err != nil {
		return fmt.Errorf("read secure_delete: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = 1`); err != nil {
		return fmt.Errorf("set secure_delete: %w", err)
	}
	ferr := fn()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA secure_delete = %d`, prev)); err != nil && ferr == nil {
		ferr = fmt.Errorf("restore secure_delete: %w", err)
	}
	return ferr
}

// truncateWAL copies the WAL into the database and truncates it to zero
// bytes, so superseded page images do not linger in the -wal file. It runs
// after a commit that already succeeded and is best effort: a failure (or
// another process holding a read snapshot) only leaves old, still
// encrypted frames until a later checkpoint overwrites them, which is no
// reason to report the committed change as failed.
func (s *Store) truncateWAL(ctx context.Context) {
	var busy, logFrames, done int
	_ = s.DB.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
}

func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
