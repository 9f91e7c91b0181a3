package proving

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/demo"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Township is the township every measurement's villages are in (临城街道).
const Township = "370403001"

// benchPasswords keep the set-up quick; no measurement logs in with a
// password.
var benchPasswords = auth.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// benchLimits lift the per-IP enrollment limit: every simulated tablet
// enrolls from the loopback address.
var benchLimits = func() auth.Limits {
	l := auth.DefaultLimits
	l.EnrollPerIP, l.LoginPerIP, l.LoginPerUsername = 1<<30, 1<<30, 1<<30
	return l
}()

// districtSpec says how big a set-up is.
type districtSpec struct {
	villages   int   // villages in Township, one agent and one tablet each
	perVillage int   // residents per village, each on the pension and the medical roster
	receipts   int64 // receipt numbers handed to each tablet up front (0: none)
}

// district is a township set up through the real services: villages,
// the 2026 settings, an agent per village, both rosters imported as the
// bureaus would, and an enrolled tablet per village.
type district struct {
	db       *store.DB
	auth     *auth.Service
	jwtKey   ed25519.PrivateKey
	admin    auth.Principal // the district admin, who makes enrollment codes
	agents   []string       // the agent of each village, by village
	villages []store.Village
	tablets  []*tablet
}

// village returns the code of the i-th village of Township.
func villageCode(i int) string { return fmt.Sprintf("%s%03d", Township, 201+i) }

func setupDistrict(ctx context.Context, db *store.DB, spec districtSpec, now func() time.Time) (*district, error) {
	if now == nil {
		now = time.Now
	}
	log := slog.New(slog.DiscardHandler)
	_, jwtKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	passwords, err := auth.NewPasswords(benchPasswords)
	if err != nil {
		return nil, err
	}
	d := &district{db: db, jwtKey: jwtKey,
		auth: auth.NewService(db, auth.NewTokens(jwtKey, now), passwords, benchLimits, log)}
	for i := range spec.villages {
		d.villages = append(d.villages, store.Village{Code: villageCode(i), TownshipCode: Township, Name: fmt.Sprintf("测试%d村", i+1)})
	}
	if err := db.UpsertDistrict(ctx, []store.Township{{Code: Township, Name: "临城街道"}}, d.villages); err != nil {
		return nil, err
	}
	pw := "bench horse battery staple"
	boot := auth.Principal{Role: auth.RoleAdmin, Username: "vsbench"}
	mk := func(name string, role auth.Role, twp string, villages ...string) (store.User, error) {
		in := auth.UserInput{Username: name, Role: role, TownshipCode: twp, Password: &pw}
		if len(villages) > 0 {
			in.Villages = &villages
		}
		return d.auth.CreateUser(auth.WithPrincipal(ctx, boot), boot, in)
	}
	au, err := mk("admin", auth.RoleAdmin, "")
	if err != nil {
		return nil, err
	}
	admin := auth.Principal{UserID: au.ID, Username: au.Username, Role: auth.RoleAdmin}
	d.admin = admin
	actx := auth.WithPrincipal(ctx, admin)
	setSvc := settings.NewService(db)
	for _, y := range []settings.Year{settings.Shandong2026Pension(demo.DistrictCode), settings.Shandong2026Medical(demo.DistrictCode)} {
		if err := setSvc.Put(actx, y); err != nil {
			return nil, err
		}
	}
	if spec.perVillage > 0 {
		residents := demo.GenerateResidents(demo.Seed, d.villages, spec.perVillage, 2026)
		for i := range residents {
			residents[i].Category, residents[i].Pension, residents[i].Medical = syncproto.CategoryGeneral, true, true
		}
		rs := roster.NewService(db, setSvc, log)
		for _, k := range []struct {
			user string
			role auth.Role
			y    settings.Year
		}{{"hrss", auth.RoleHRSS, settings.Shandong2026Pension(demo.DistrictCode)},
			{"medsec", auth.RoleMedsec, settings.Shandong2026Medical(demo.DistrictCode)}} {
			u, err := mk(k.user, k.role, "")
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			if err := demo.WriteRosterCSV(&buf, demo.RosterRows(residents, k.y), demo.EncodingUTF8); err != nil {
				return nil, err
			}
			p := auth.Principal{UserID: u.ID, Username: u.Username, Role: k.role}
			if _, err := rs.Import(auth.WithPrincipal(ctx, p), p, "bench.csv", buf.Bytes(), false); err != nil {
				return nil, fmt.Errorf("import %s roster: %w", k.y.Kind, err)
			}
		}
	}
	for i, v := range d.villages {
		agent, err := mk(fmt.Sprintf("agent.%03d", i), auth.RoleAgent, Township, v.Code)
		if err != nil {
			return nil, err
		}
		d.agents = append(d.agents, agent.ID)
		t, err := d.enroll(actx, admin, agent.ID, v.Code, now)
		if err != nil {
			return nil, err
		}
		if spec.receipts > 0 {
			if err := t.allocateReceipts(ctx, db, spec.receipts); err != nil {
				return nil, err
			}
		}
		d.tablets = append(d.tablets, t)
	}
	return d, nil
}

// enroll enrolls a tablet for an agent through the identity service, as
// the enroll endpoint does.
func (d *district) enroll(ctx context.Context, admin auth.Principal, agentID, village string, now func() time.Time) (*tablet, error) {
	code, err := d.auth.CreateEnrollmentCode(ctx, admin, agentID)
	if err != nil {
		return nil, err
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	en, err := d.auth.Enroll(ctx, auth.EnrollRequest{Code: code.Code, DeviceName: "压测平板", PublicKey: pub})
	if err != nil {
		return nil, err
	}
	return &tablet{deviceID: en.DeviceID, village: village, access: en.AccessToken, key: key,
		prev: syncproto.ZeroHash, ids: syncproto.NewIDGenerator(now), now: now}, nil
}

// codes makes an enrollment code of village i's agent for each tablet
// the fleet simulator enrolls.
func (d *district) codes(village int) func(ctx context.Context, i int) (string, error) {
	return func(ctx context.Context, _ int) (string, error) {
		c, err := d.auth.CreateEnrollmentCode(auth.WithPrincipal(ctx, d.admin), d.admin, d.agents[village])
		return c.Code, err
	}
}

// loadLines reads each tablet's roster lines (its village's), to collect
// against.
func (d *district) loadLines(ctx context.Context) error {
	for _, t := range d.tablets {
		rows, err := d.db.Pool.Query(ctx, `SELECT id, kind, change_seq, due_fen, name FROM roster_entry
			WHERE village_code = $1 ORDER BY id`, t.village)
		if err != nil {
			return err
		}
		t.lines, err = pgx.CollectRows(rows, pgx.RowToStructByPos[rosterRef])
		if err != nil {
			return err
		}
	}
	return nil
}
