package localstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statement cache. The statements that go
// through it are fixed strings of this package (a few dozen); the bound
// only guards against a future caller passing built-up text.
const maxCachedStmts = 128

// stmtCache holds the store's statements prepared once on the pool. The
// SQLite driver parses every statement it is given afresh: parsing was
// about 40 % of a collection's CPU time (about 15 statements a
// collection), so the statements of the collection path are parsed once
// and reused.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// prepare prepares query on the pool and caches it. It must not be called
// while this goroutine holds the pool's one connection (in a transaction):
// it would wait for that connection for ever.
func (c *stmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.lookup(query); st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[query]; old != nil {
		st.Close()
		return old, nil
	}
	if len(c.m) >= maxCachedStmts {
		return st, nil // not cached: the caller's use only (closed with the pool)
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// stmtQ runs queries through the cache, on the pool (tx nil) or in a
// transaction. In a transaction a cached statement is rebound to the
// transaction's connection, where the driver already holds it prepared; a
// statement not cached yet runs as plain text and is noted, so that
// flush prepares it on the pool once the transaction is over.
type stmtQ struct {
	cache  *stmtCache
	tx     *sql.Tx
	missed []string
}

func (q *stmtQ) stmt(ctx context.Context, query string) *sql.Stmt {
	if q.tx == nil {
		st, err := q.cache.prepare(ctx, query)
		if err != nil {
			return nil // run as text: the error, if any, shows there
		}
		return st
	}
	if st := q.cache.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st)
	}
	if len(q.missed) < maxCachedStmts {
		q.missed = append(q.missed, query)
	}
	return nil
}

func (q *stmtQ) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.QueryContext(ctx, query, args...)
	}
	return q.cache.db.QueryContext(ctx, query, args...)
}

func (q *stmtQ) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.QueryRowContext(ctx, query, args...)
	}
	return q.cache.db.QueryRowContext(ctx, query, args...)
}

func (q *stmtQ) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.ExecContext(ctx, query, args...)
	}
	return q.cache.db.ExecContext(ctx, query, args...)
}

// flush prepares on the pool the statements a finished transaction ran
// as text. Best effort: a failure leaves them uncached.
func (q *stmtQ) flush(ctx context.Context) {
	for _, query := range q.missed {
		_, _ = q.cache.prepare(ctx, query)
	}
	q.missed = nil
}
