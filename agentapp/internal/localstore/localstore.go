// Package localstore is the tablet's SQLite store: the village replica,
// the outbox of cash records and the receipts. The file holds cash records,
// so it is opened with WAL and synchronous=FULL: a write that returned is
// on disk before the receipt is shown.
package localstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)

	"villagesync/migrations"
	"villagesync/syncproto"
)

// CodeDiskFull is the refusal of a write when the tablet's storage is
// full: nothing of it was saved.
const CodeDiskFull = syncproto.Code("disk_full")

// sqliteFull is SQLite's primary result code SQLITE_FULL: a write found
// no space (the file system said ENOSPC, or max_page_count was reached).
const sqliteFull = 13

// diskFull turns SQLite's "database or disk is full" into a coded error
// the agent can read: the transaction was rolled back, so no receipt may
// be handed out. Other errors are returned as they are.
func diskFull(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqliteFull {
		return err
	}
	return syncproto.Wrap(err, CodeDiskFull,
		"the tablet's storage is full: the record was NOT saved, do not hand out a receipt; free some space and try again",
		"平板存储空间已满，本笔记录未保存，请勿出具收据；请清理存储空间后重试")
}

// diskFullSync is diskFull for what a sync writes (pulled pages, the
// server's acknowledgements): the sync stops, the records already stored
// are untouched, and the next sync resumes where this one stopped.
func diskFullSync(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqliteFull {
		return err
	}
	return syncproto.Wrap(err, CodeDiskFull,
		"the tablet's storage is full: the sync stopped, the records already stored are intact; free some space and sync again",
		"平板存储空间已满，同步未完成，已保存的收款记录不受影响；请清理存储空间后重新同步")
}

// Store is the open tablet database.
type Store struct {
	DB    *sql.DB
	Path  string
	stmts *stmtCache
}

// q runs queries on the pool through the statement cache.
func (s *Store) q() *stmtQ { return &stmtQ{cache: s.stmts} }

// dsn carries the pragmas in the connection string so that every
// connection the pool opens gets them.
func dsn(path string) string {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(1)",
		"busy_timeout(5000)",
		// The commit that takes the WAL past this many pages copies it
		// into the database first; Checkpoint does that after a sync, so a
		// collection's commit does not pay for it (see Checkpoint).
		fmt.Sprintf("wal_autocheckpoint(%d)", autoCheckpointPages),
		// Statement journals (a bootstrap's multi-row upserts write one)
		// and sorts in memory, not in temporary files: they only undo or
		// order within one statement and never hold committed data.
		"temp_store(MEMORY)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate") // writers take the lock at BEGIN: no upgrade deadlocks
	return "file:" + path + "?" + q.Encode()
}

// autoCheckpointPages is the WAL size (in 4 KiB pages, about 40 MiB) at
// which a commit checkpoints by itself. SQLite's default of 1,000 made
// about one collection in a hundred, and every few bootstrap pages, copy
// the WAL into the database inside its commit; Checkpoint after each sync
// keeps the WAL far below this, which stays only as a bound for a tablet
// that collects for long without syncing.
const autoCheckpointPages = 10000

// Open creates or opens the store at path, checks that the durability
// settings took effect and applies the migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("localstore: create folder: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("localstore: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
	s := &Store{DB: db, Path: path, stmts: newStmtCache(db)}
	if err := s.checkPragmas(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.close()
	return s.DB.Close()
}

func (s *Store) checkPragmas(ctx context.Context) error {
	var mode string
	if err := s.DB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("localstore: read journal_mode: %w", err)
	}
	var sync, fk int
	if err := s.DB.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if err := s.DB.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return err
	}
	var problems []string
	if !strings.EqualFold(mode, "wal") {
		problems = append(problems, "journal_mode is "+mode+", want wal")
	}
	if sync != 2 {
		problems = append(problems, fmt.Sprintf("synchronous is %d, want 2 (FULL)", sync))
	}
	if fk != 1 {
		problems = append(problems, "foreign_keys is off")
	}
	if len(problems) > 0 {
		return fmt.Errorf("localstore: %s: unsafe settings: %s", s.Path, strings.Join(problems, "; "))
	}
	return nil
}

// Migrate applies pending migrations and returns the schema version.
// A store written by a newer app is refused rather than touched.
func (s *Store) Migrate(ctx context.Context) (int64, error) {
	p, err := goose.NewProvider(goose.DialectSQLite3, s.DB, migrations.SQLite())
	if err != nil {
		return 0, fmt.Errorf("localstore: migrations: %w", err)
	}
	var known int64
	for _, src := range p.ListSources() {
		known = max(known, src.Version)
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("localstore: schema version: %w", err)
	}
	if cur > known {
		return cur, fmt.Errorf("localstore: %s was written by a newer agentapp (schema %d, this one knows %d): update the app", s.Path, cur, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("localstore: migrate: %w", err)
	}
	return p.GetDBVersion(ctx)
}

// Checkpoint copies the WAL into the database file (PASSIVE: it never
// waits for another process's readers or writer, and copies what it can).
// Durability does not depend on it: a commit is on disk in the WAL, fsynced
// (synchronous=FULL), before it returns; the checkpoint fsyncs the
// database file before the WAL is reused. The sync client runs it after a
// sync, off the collection path.
func (s *Store) Checkpoint(ctx context.Context) error {
	var busy, logFrames, done int
	if err := s.DB.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("localstore: checkpoint: %w", err)
	}
	return nil
}

// Info describes the open store.
type Info struct {
	Path          string `json:"path"`
	SchemaVersion int64  `json:"schema_version"`
	JournalMode   string `json:"journal_mode"`
}

// Info reads the store's description.
func (s *Store) Info(ctx context.Context) (Info, error) {
	in := Info{Path: s.Path}
	if err := s.DB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&in.JournalMode); err != nil {
		return in, err
	}
	err := s.DB.QueryRowContext(ctx, "SELECT max(version_id) FROM goose_db_version WHERE is_applied").Scan(&in.SchemaVersion)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return in, err
}
