package demo

import (
	"bytes"
	"context"
	"fmt"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Seed is the demo generator's seed: the demo district is the same on
// every machine.
const Seed = 370403

// LoadRosters imports generated 2026 pension and medical rosters for the
// demo villages through the real import (as the demo hrss and medsec
// users), unless a roster of that kind was imported before.
func LoadRosters(ctx context.Context, db *store.DB, svc *roster.Service, perVillage int) error {
	residents := GenerateResidents(Seed, Villages(), perVillage, 2026)
	for _, k := range []struct {
		user string
		role auth.Role
		set  settings.Year
	}{
		{"hrss", auth.RoleHRSS, settings.Shandong2026Pension(DistrictCode)},
		{"medsec", auth.RoleMedsec, settings.Shandong2026Medical(DistrictCode)},
	} {
		have, err := db.RosterImports(ctx, string(k.set.Kind), 1)
		if err != nil || len(have) > 0 {
			if err != nil {
				return err
			}
			continue
		}
		u, err := db.UserByUsername(ctx, db.Pool, k.user)
		if err != nil {
			return fmt.Errorf("demo roster needs the demo user %s: %w", k.user, err)
		}
		var buf bytes.Buffer
		if err := WriteRosterCSV(&buf, RosterRows(residents, k.set), EncodingUTF8); err != nil {
			return err
		}
		p := auth.Principal{UserID: u.ID, Username: u.Username, Role: k.role}
		if _, err := svc.Import(auth.WithPrincipal(ctx, p), p, "demo-"+string(k.set.Kind)+"-2026.csv", buf.Bytes(), false); err != nil {
			return fmt.Errorf("demo %s roster: %w", k.set.Kind, err)
		}
	}
	return nil
}

// KindSettings returns the demo settings of a kind.
func KindSettings(kind syncproto.Kind) settings.Year {
	if kind == syncproto.KindPension {
		return settings.Shandong2026Pension(DistrictCode)
	}
	return settings.Shandong2026Medical(DistrictCode)
}
