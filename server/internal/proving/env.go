package proving

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/pglocal"
	"villagesync/server/internal/store"
)

// Env is where the measurements run: one throwaway PostgreSQL cluster
// (fsync off, as the test clusters), one database per measurement.
type Env struct {
	cluster *pglocal.Temp
	log     *slog.Logger
	n       int
}

// StartEnv starts the throwaway cluster. Close stops it and removes its
// folder (it also goes away with this process if it dies).
func StartEnv(ctx context.Context, log *slog.Logger) (*Env, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := pglocal.StartTemp(ctx)
	if err != nil {
		return nil, err
	}
	return &Env{cluster: c, log: log}, nil
}

// Close stops the cluster.
func (e *Env) Close() error { return e.cluster.Stop() }

// newDatabase creates a database from template ("" for an empty one) and
// returns its URL.
func (e *Env) newDatabase(ctx context.Context, template string) (string, string, error) {
	e.n++
	name := fmt.Sprintf("bench_%d_%d", time.Now().UnixNano()%1e6, e.n)
	if template == "" {
		template = "template0"
	}
	if err := e.admin(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{template}.Sanitize())); err != nil {
		return "", "", err
	}
	return name, e.cluster.URL(name), nil
}

// dropDatabase removes a database the measurements are done with, to keep
// the cluster's disk use down.
func (e *Env) dropDatabase(ctx context.Context, name string) error {
	return e.admin(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize()))
}

func (e *Env) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, e.cluster.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// openDB creates a migrated database and opens the server's store on it
// with the given clock (nil: time.Now).
func (e *Env) openDB(ctx context.Context, now func() time.Time) (*store.DB, string, error) {
	name, url, err := e.newDatabase(ctx, "")
	if err != nil {
		return nil, "", err
	}
	db, err := store.Open(ctx, url, e.log, now)
	if err != nil {
		return nil, "", err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, "", err
	}
	return db, name, nil
}
