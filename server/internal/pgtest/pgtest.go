// Package pgtest gives every test its own real PostgreSQL database.
//
// One throwaway cluster runs per `go test` process (or TEST_DATABASE_URL is
// used when set). Migrations are applied once to a template database, and
// each test gets a fresh database cloned from it with CREATE DATABASE …
// TEMPLATE, which takes milliseconds. Packages that use it call Main from
// their TestMain so the cluster is stopped, and its folder removed, when the
// tests end; the cluster also dies with the process if a test panics.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/pglocal"
	"villagesync/server/internal/store"
)

var (
	once     sync.Once
	setupErr error
	cluster  *pglocal.Temp
	adminURL string // a database to run CREATE/DROP DATABASE from
	template string // the migrated template database
)

// Main runs the package's tests and then stops the cluster, if one was
// started. Call it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with more to clean up: it runs the tests,
// stops the cluster and returns the exit code.
func Run(m *testing.M) int {
	code := m.Run()
	teardown()
	return code
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		adminURL = u
	} else {
		cluster, setupErr = pglocal.StartTemp(ctx)
		if setupErr != nil {
			return
		}
		adminURL = cluster.URL("postgres")
	}
	template = "vs_template_" + randomName()
	if setupErr = createDatabase(ctx, template, "template0"); setupErr != nil {
		return
	}
	db, err := store.Open(ctx, withDatabase(adminURL, template), nil, nil)
	if err != nil {
		setupErr = err
		return
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		setupErr = fmt.Errorf("pgtest: migrate template: %w", err)
	}
}

func teardown() {
	if cluster != nil {
		_ = cluster.Stop()
		return
	}
	if template != "" && adminURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = dropDatabase(ctx, template)
	}
}

func ensure(tb testing.TB) {
	tb.Helper()
	once.Do(setup)
	if setupErr != nil {
		tb.Fatalf("pgtest: no PostgreSQL for tests: %v", setupErr)
	}
}

// NewURL creates a fresh, fully migrated database for this test and
// returns its connection string. The database is dropped when the test ends.
func NewURL(tb testing.TB) string {
	tb.Helper()
	ensure(tb)
	return newDatabase(tb, template)
}

// NewEmptyURL creates an empty database (no migrations applied).
func NewEmptyURL(tb testing.TB) string {
	tb.Helper()
	ensure(tb)
	return newDatabase(tb, "template0")
}

// New opens a store on a fresh, fully migrated database for this test.
func New(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), NewURL(tb), nil, nil)
	if err != nil {
		tb.Fatalf("pgtest: open: %v", err)
	}
	tb.Cleanup(db.Close)
	return db
}

func newDatabase(tb testing.TB, from string) string {
	tb.Helper()
	name := "vs_test_" + randomName()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createDatabase(ctx, name, from); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropDatabase(ctx, name); err != nil {
			tb.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(adminURL, name)
}

// templateMu serialises clones: PostgreSQL refuses to copy a template that
// another CREATE DATABASE is copying at the same moment.
var templateMu sync.Mutex

func createDatabase(ctx context.Context, name, from string) error {
	templateMu.Lock()
	defer templateMu.Unlock()
	return adminExec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{from}.Sanitize()))
}

func dropDatabase(ctx context.Context, name string) error {
	return adminExec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize()))
}

func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// withDatabase returns the URL u pointing at another database.
func withDatabase(u, database string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		panic(fmt.Sprintf("pgtest: TEST_DATABASE_URL must be a postgres:// URL, got %q", redact(u)))
	}
	p.Path = "/" + database
	return p.String()
}

func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparsable URL)"
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(hex.EncodeToString(b[:]))
}
