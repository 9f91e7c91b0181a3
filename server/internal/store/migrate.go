package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"villagesync/migrations"
)

// SchemaState is where the database's schema stands against the
// migrations this binary embeds.
type SchemaState struct {
	Current int64 // applied in the database
	Known   int64 // newest this binary knows
}

// Ready reports whether the schema is exactly the one this binary knows.
func (s SchemaState) Ready() bool { return s.Current == s.Known }

// TooNew reports a database migrated by a newer binary.
func (s SchemaState) TooNew() bool { return s.Current > s.Known }

func (db *DB) provider() (*goose.Provider, func() error, error) {
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.Postgres(),
		goose.WithSessionLocker(locker))
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	return p, sqlDB.Close, nil
}

// Migrate applies the pending migrations, each in its own transaction,
// under an advisory lock so that several servers may start at once. A
// database newer than this binary is left alone and reported, not touched.
func (db *DB) Migrate(ctx context.Context) (SchemaState, error) {
	p, closeDB, err := db.provider()
	if err != nil {
		return SchemaState{}, fmt.Errorf("store: migrations: %w", err)
	}
	defer closeDB()
	st, err := schemaState(ctx, p)
	if err != nil {
		return st, err
	}
	if st.TooNew() {
		return st, nil
	}
	results, err := p.Up(ctx)
	if err != nil {
		return st, fmt.Errorf("store: migrate up: %w", err)
	}
	for _, r := range results {
		db.log.InfoContext(ctx, "migration applied", "version", r.Source.Version, "duration", r.Duration)
	}
	return schemaState(ctx, p)
}

// Schema reports the schema state without changing anything.
func (db *DB) Schema(ctx context.Context) (SchemaState, error) {
	p, closeDB, err := db.provider()
	if err != nil {
		return SchemaState{}, fmt.Errorf("store: migrations: %w", err)
	}
	defer closeDB()
	return schemaState(ctx, p)
}

func schemaState(ctx context.Context, p *goose.Provider) (SchemaState, error) {
	var st SchemaState
	for _, s := range p.ListSources() {
		st.Known = max(st.Known, s.Version)
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return st, fmt.Errorf("store: schema version: %w", err)
	}
	st.Current = cur
	return st, nil
}
