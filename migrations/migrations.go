// Package migrations embeds the SQL schema migrations of both sides: the
// server's PostgreSQL schema and the tablet's SQLite schema. The files are
// numbered (NNN_name.sql, goose format) and each runs in one transaction.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql
var postgres embed.FS

//go:embed sqlite/*.sql
var sqlite embed.FS

// Postgres returns the server's migrations, rooted at their folder.
func Postgres() fs.FS { return sub(postgres, "postgres") }

// SQLite returns the tablet's migrations, rooted at their folder.
func SQLite() fs.FS { return sub(sqlite, "sqlite") }

func sub(f embed.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // cannot happen: dir is a literal embedded above
	}
	return s
}
