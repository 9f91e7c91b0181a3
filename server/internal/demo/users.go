package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/store"
)

// DemoUser is one demo account: a role to try.
type DemoUser struct {
	Role     auth.Role
	Username string
	Password string
	Scope    string // district, township or village code
	Display  string
}

// demoUsers are one user per role; the township user and the agent share
// a township (临城街道) so that the whole path can be tried.
func demoUsers() []DemoUser {
	twp, vil := Townships[0].Code, Villages()[0].Code
	return []DemoUser{
		{Role: auth.RoleAdmin, Username: "admin", Scope: DistrictCode, Display: "区管理员"},
		{Role: auth.RoleTownship, Username: "township.lincheng", Scope: twp, Display: "临城街道社保中心"},
		{Role: auth.RoleTax, Username: "tax", Scope: DistrictCode, Display: "区税务局"},
		{Role: auth.RoleHRSS, Username: "hrss", Scope: DistrictCode, Display: "区人社局"},
		{Role: auth.RoleMedsec, Username: "medsec", Scope: DistrictCode, Display: "区医疗保障局"},
		{Role: auth.RoleAgent, Username: "agent.beilincheng", Scope: vil, Display: "北临城社区代办员 张𠀾"},
	}
}

// EnsureUsers makes sure each demo user exists with a known password. The
// passwords are kept in file (role, username, password, scope code, one
// line each, tab-separated); a user whose password is not in the file is
// given a new random one. It returns the users for printing.
func EnsureUsers(ctx context.Context, db *store.DB, svc *auth.Service, file string) ([]DemoUser, error) {
	known, err := readUsersFile(file)
	if err != nil {
		return nil, err
	}
	users := demoUsers()
	system := auth.WithPrincipal(ctx, auth.Principal{Username: "demo-loader", Role: auth.RoleAdmin})
	for i := range users {
		u := &users[i]
		u.Password = known[u.Username]
		existing, err := db.UserByUsername(ctx, db.Pool, u.Username)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if u.Password == "" {
				u.Password = auth.RandomPassword()
			}
			in := auth.UserInput{Username: u.Username, DisplayName: &u.Display, Role: u.Role, Password: &u.Password}
			if u.Role == auth.RoleTownship || u.Role == auth.RoleAgent {
				in.TownshipCode = u.Scope[:9]
			}
			if u.Role == auth.RoleAgent {
				in.Villages = &[]string{u.Scope}
			}
			if _, err := svc.CreateUser(system, auth.Principal{Role: auth.RoleAdmin}, in); err != nil {
				return nil, fmt.Errorf("demo user %s: %w", u.Username, err)
			}
		case err != nil:
			return nil, err
		case u.Password == "" || !svc.Passwords().Verify(u.Password, existing.PasswordHash):
			u.Password = auth.RandomPassword()
			if _, err := svc.UpdateUser(system, auth.Principal{Role: auth.RoleAdmin}, existing.ID, auth.UserInput{Password: &u.Password}); err != nil {
				return nil, fmt.Errorf("demo user %s: %w", u.Username, err)
			}
		}
	}
	return users, writeUsersFile(file, users)
}

func readUsersFile(file string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if parts := strings.Split(sc.Text(), "\t"); len(parts) == 4 {
			out[parts[1]] = parts[2]
		}
	}
	return out, sc.Err()
}

func writeUsersFile(file string, users []DemoUser) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	var sb strings.Builder
	for _, u := range users {
		fmt.Fprintf(&sb, "%s\t%s\t%s\t%s\n", u.Role, u.Username, u.Password, u.Scope)
	}
	return os.WriteFile(file, []byte(sb.String()), 0o600)
}

// PrintUsers writes the demo accounts for a person to read.
func PrintUsers(w io.Writer, users []DemoUser, file string) {
	fmt.Fprintf(w, "\n演示账号 demo accounts (also in %s):\n", file)
	for _, u := range users {
		fmt.Fprintf(w, "  %-9s %-20s %-22s %s  %s\n", u.Role, u.Username, u.Password, u.Scope, u.Display)
	}
	fmt.Fprintln(w)
}

// PrintTabletDemo makes a fresh enrollment code for the demo agent (as the
// demo township user) and prints the agentapp commands that take a new
// user from enrollment to a first receipt.
func PrintTabletDemo(ctx context.Context, w io.Writer, db *store.DB, svc *auth.Service, addr string) error {
	twp, err := db.UserByUsername(ctx, db.Pool, "township.lincheng")
	if err != nil {
		return err
	}
	agent, err := db.UserByUsername(ctx, db.Pool, "agent.beilincheng")
	if err != nil {
		return err
	}
	p := auth.Principal{UserID: twp.ID, Username: twp.Username, Role: auth.RoleTownship, Township: twp.TownshipCode}
	code, err := svc.CreateEnrollmentCode(auth.WithPrincipal(ctx, p), p, agent.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, `平板演示 tablet demo (enrollment code valid until %s):
  bin/agentapp --db .data/agent.db enroll --server http://%s --code %s
  bin/agentapp --db .data/agent.db sync
  bin/agentapp --db .data/agent.db roster search zh
  bin/agentapp --db .data/agent.db collect --id <清册行 ID from the search>
  bin/agentapp --db .data/agent.db sync
  bin/agentapp --db .data/agent.db serve     # the touch UI: http://127.0.0.1:8377/
网页控制台 web console: http://%s/ (accounts above)

`, code.ExpiresAt.Local().Format("2006-01-02 15:04"), addr, code.Code, addr)
	return nil
}
