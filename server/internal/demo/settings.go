package demo

import (
	"context"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
)

// LoadSettings stores the demo year settings (Shandong-shaped 2026 pension
// and medical settings for the district) unless settings for that year
// already exist: an admin's later changes are never overwritten.
func LoadSettings(ctx context.Context, svc *settings.Service) error {
	have, err := svc.All(ctx, 2026)
	if err != nil || len(have) > 0 {
		return err
	}
	ctx = auth.WithPrincipal(ctx, auth.Principal{Username: "demo-loader", Role: auth.RoleAdmin})
	for _, y := range []settings.Year{settings.Shandong2026Pension(DistrictCode), settings.Shandong2026Medical(DistrictCode)} {
		if err := svc.Put(ctx, y); err != nil {
			return err
		}
	}
	return nil
}
