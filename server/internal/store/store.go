// Package store is the server's PostgreSQL access: the connection pool,
// schema migrations and every SQL statement the server runs. Driver errors
// are translated at this edge into syncproto coded errors.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"villagesync/syncproto"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = syncproto.Errorf(syncproto.CodeNotFound, "not found", "未找到")

// DB is the server's database: a pgx pool plus the clock used to stamp
// writes (one timestamp per transaction).
type DB struct {
	Pool *pgxpool.Pool
	log  *slog.Logger
	now  func() time.Time
	ids  *syncproto.IDGenerator
}

// Open connects a pool to databaseURL and checks that the server answers.
func Open(ctx context.Context, databaseURL string, log *slog.Logger, now func() time.Time) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: parse DATABASE_URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = 20 // pgx's default (max(4, CPUs)) starves a server of 200 tablets
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	cfg.ConnConfig.RuntimeParams["application_name"] = "villagesync"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &DB{Pool: pool, log: log.With("component", "store"), now: now, ids: syncproto.NewIDGenerator(now)}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// Now is the clock of this store, in UTC.
func (db *DB) Now() time.Time { return db.now().UTC() }

// NewID returns a new ULID, monotonic within this process.
func (db *DB) NewID() string { return db.ids.New().String() }

// InTx runs fn in one transaction; it commits when fn returns nil.
//
// A transaction that PostgreSQL aborts as a deadlock victim or for a
// serialization failure is run again (three attempts in all): fn must
// build its state anew on each call.
func (db *DB) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for range 3 {
		err = pgx.BeginFunc(ctx, db.Pool, fn)
		if !retryable(err) {
			return err
		}
		db.log.WarnContext(ctx, "transaction retried", "err", err)
	}
	return err
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40P01" || pgErr.Code == "40001" // deadlock_detected, serialization_failure
	}
	return false
}

// translate maps driver errors to coded errors at the store's edge.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return syncproto.Wrap(err, syncproto.CodeConflict, "already exists", "已存在")
		case "23503": // foreign_key_violation
			return syncproto.Wrap(err, syncproto.CodeInvalidInput, "refers to something that does not exist", "引用的对象不存在")
		case "23514", "22P02", "22001": // check_violation, invalid_text_representation, string_data_right_truncation
			return syncproto.Wrap(err, syncproto.CodeInvalidInput, "value not allowed", "取值不合法")
		}
	}
	return err
}
