// Package sync is the server side of the sync protocol (syncproto v1):
// push stores a tablet's hash-chained mutations exactly once and flags
// business problems without refusing cash; pull serves the changes of the
// tablet's villages and of its own stream, in commit-safe order, with a
// checkpoint when caught up.
package sync

import (
	"log/slog"
	"time"

	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
)

// Config are the sync settings.
type Config struct {
	ReceiptBlock     int64 // receipt numbers per range handed out
	ReceiptThreshold int64 // top up when fewer remain
	MaxPush          int   // most mutations in one push
	MaxPull          int   // most changes in one pull page
}

// DefaultConfig is the production setting.
var DefaultConfig = Config{ReceiptBlock: 200, ReceiptThreshold: 50, MaxPush: 1000, MaxPull: 2000}

// Service is the sync protocol's server side.
type Service struct {
	db       *store.DB
	settings *settings.Service
	cfg      Config
	log      *slog.Logger
	shanghai *time.Location
}

// NewService returns the sync service.
func NewService(db *store.DB, set *settings.Service, cfg Config, log *slog.Logger) *Service {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	return &Service{db: db, settings: set, cfg: cfg, log: log.With("component", "sync"), shanghai: loc}
}

// businessDay is the Asia/Shanghai date of t, as a UTC midnight.
func (s *Service) businessDay(t time.Time) time.Time {
	y, m, d := t.In(s.shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
