package settings

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Service reads and changes the stored year settings. Every change is
// audited with the settings before and after; it applies to what is
// collected afterwards and rewrites nothing already collected (collections
// keep the amounts they were made with).
type Service struct {
	db *store.DB
}

// NewService returns the settings service.
func NewService(db *store.DB) *Service { return &Service{db: db} }

// All returns the stored settings of a year (0: every year).
func (s *Service) All(ctx context.Context, year int) ([]Year, error) {
	return s.AllIn(ctx, s.db.Pool, year)
}

// AllIn is All run on q, e.g. the caller's transaction: code inside a
// transaction must not take a second connection from the pool.
func (s *Service) AllIn(ctx context.Context, q store.Querier, year int) ([]Year, error) {
	rows, err := s.db.YearSettings(ctx, q, year)
	if err != nil {
		return nil, err
	}
	out := make([]Year, 0, len(rows))
	for _, r := range rows {
		var y Year
		if err := json.Unmarshal(r.Body, &y); err != nil {
			return nil, fmt.Errorf("settings: stored %s %d %s: %w", r.Kind, r.Year, r.RegionCode, err)
		}
		out = append(out, y)
	}
	return out, nil
}

// Put validates y and stores it (creating or replacing the row of its
// kind, year and region), audited.
func (s *Service) Put(ctx context.Context, y Year) error {
	if err := y.Validate(); err != nil {
		return err
	}
	if len(y.Region) == 9 {
		if _, err := s.db.Township(ctx, y.Region); err != nil {
			return syncproto.Errorf(syncproto.CodeInvalidInput, "region: no such township "+y.Region, "区域：镇街 "+y.Region+" 不存在")
		}
	}
	body, err := json.Marshal(y)
	if err != nil {
		return err
	}
	p, _ := auth.FromContext(ctx)
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		before, err := s.db.PutYearSetting(ctx, tx, store.YearSetting{Kind: string(y.Kind), Year: y.Year,
			RegionCode: y.Region, Body: body, UpdatedAt: s.db.Now(), UpdatedBy: p.UserID})
		if err != nil {
			return err
		}
		e := store.AuditEntry{Action: "settings_changed", TargetType: "year_setting",
			TargetID: fmt.Sprintf("%s/%d/%s", y.Kind, y.Year, y.Region), After: json.RawMessage(body)}
		if len(before.Body) > 0 {
			e.Before = before.Body
		}
		if len(y.Region) == 9 {
			e.TownshipCode = y.Region
		}
		if y.Kind == syncproto.KindPension {
			// Tablets hold the grades open to each person: send the lines again.
			if _, err := s.db.TouchRosterLines(ctx, tx, string(y.Kind), y.Year, y.Region, s.db.Now()); err != nil {
				return err
			}
		}
		return s.db.Audit(ctx, tx, auth.Audited(ctx, e))
	})
}

// Resolver returns a lookup of the effective settings of kind for a year
// and a village, over the rows stored now (read on q); Validate uses it.
func (s *Service) Resolver(ctx context.Context, q store.Querier, kind syncproto.Kind) (func(year int, village string) (Year, bool), error) {
	rows, err := s.AllIn(ctx, q, 0)
	if err != nil {
		return nil, err
	}
	return func(year int, village string) (Year, bool) {
		if len(village) < 9 {
			return Year{}, false
		}
		return Resolve(rows, kind, year, village[:9])
	}, nil
}
