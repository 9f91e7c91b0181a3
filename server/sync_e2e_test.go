package main

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"villagesync/server/internal/pgtest"
	"villagesync/syncproto"
)

const e2ePIN = "860531"

// e2e is a real server with the demo district and real tablets.
type e2e struct {
	t        testing.TB
	base     string
	dbURL    string
	dataDir  string
	agentapp string
	township string // access token of the demo township user
}

func newE2E(t testing.TB) *e2e {
	t.Helper()
	e := &e2e{t: t, agentapp: buildAgentapp(t), dataDir: t.TempDir(), dbURL: pgtest.NewURL(t)}
	e.base, _ = startServer(t, e.dbURL, func(c *Config) { c.DataDir = e.dataDir })
	e.township = e.login("township.lincheng")
	return e
}

func (e *e2e) login(user string) string {
	e.t.Helper()
	var pair syncproto.TokenPair
	if code := postJSON(e.t, e.base+"/api/v1/auth/login", "", map[string]string{
		"username": user, "password": demoPassword(e.t, e.dataDir, user)}, &pair); code != 200 {
		e.t.Fatalf("login %s: %d", user, code)
	}
	return pair.AccessToken
}

// agent returns the ID of a new agent of the demo village (or the demo
// agent when name is "").
func (e *e2e) agent(name string) string {
	e.t.Helper()
	if name == "" {
		var users struct{ Users []struct{ ID string } }
		e.getJSON("/api/v1/users?role=agent", e.township, &users)
		return users.Users[0].ID
	}
	var u struct{ ID string }
	if st := postJSON(e.t, e.base+"/api/v1/users", e.township, map[string]any{"username": name, "role": "agent",
		"township_code": "370403001", "villages": []string{"370403001201"}, "password": "long enough password"}, &u); st != 201 {
		e.t.Fatalf("create agent: %d", st)
	}
	return u.ID
}

func (e *e2e) getJSON(path, token string, out any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		e.t.Fatal(err)
	}
}

// tablet is the real agentapp binary on its own SQLite file.
type tabletCLI struct {
	e  *e2e
	db string
}

// enroll makes an enrollment code for agent and enrolls a new tablet.
func (e *e2e) enroll(agent string) *tabletCLI {
	e.t.Helper()
	var code struct{ Code string }
	if st := postJSON(e.t, e.base+"/api/v1/devices/enrollment-codes", e.township, map[string]string{"agent_id": agent}, &code); st != 201 {
		e.t.Fatalf("enrollment code: %d", st)
	}
	tb := &tabletCLI{e: e, db: filepath.Join(e.t.TempDir(), "agent.db")}
	tb.run("enroll", "--server", e.base, "--code", code.Code, "--name", "测试平板")
	return tb
}

func (tb *tabletCLI) command(args ...string) *exec.Cmd {
	cmd := exec.Command(tb.e.agentapp, append([]string{"--db", tb.db}, args...)...)
	cmd.Env = append(os.Environ(), "AGENTAPP_PIN="+e2ePIN)
	return cmd
}

func (tb *tabletCLI) run(args ...string) string {
	tb.e.t.Helper()
	out, err := tb.command(args...).CombinedOutput()
	if err != nil {
		tb.e.t.Fatalf("agentapp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (tb *tabletCLI) lines() []syncproto.RosterLine {
	tb.e.t.Helper()
	out, err := tb.command("roster", "search", "", "--json", "--limit", "10000").Output()
	if err != nil {
		tb.e.t.Fatalf("roster search: %v", err)
	}
	var lines []syncproto.RosterLine
	if err := json.Unmarshal(out, &lines); err != nil {
		tb.e.t.Fatalf("roster search output: %v\n%s", err, out)
	}
	return lines
}

type tabletStatus struct {
	Outbox struct {
		Pending, Acked, Parked int
	}
	Notices []struct {
		Code string `json:"code"`
	}
	Enrollment struct {
		DeviceID string `json:"device_id"`
	}
}

func (tb *tabletCLI) status() tabletStatus {
	tb.e.t.Helper()
	out, err := tb.command("status", "--json").Output()
	if err != nil {
		tb.e.t.Fatalf("status: %v", err)
	}
	var st tabletStatus
	if err := json.Unmarshal(out, &st); err != nil {
		tb.e.t.Fatalf("status output: %v\n%s", err, out)
	}
	return st
}

func (e *e2e) count(sql string, args ...any) int {
	e.t.Helper()
	db := openStore(e.t, e.dbURL)
	var n int
	if err := db.Pool.QueryRow(e.t.Context(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// The whole tablet path against the real server and real binaries: two
// agents collect from the same person offline — both records stored,
// both flagged, both tablets get the notice — and an exported outbox
// imported by the township lands exactly once.
func TestSyncEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	one, two := e.enroll(e.agent("")), e.enroll(e.agent("agent.second"))
	if out := one.run("sync"); !strings.Contains(out, "一致") {
		t.Fatalf("first sync did not verify its checkpoint:\n%s", out)
	}
	two.run("sync")
	lines := one.lines()
	var payable []syncproto.RosterLine
	for _, l := range lines {
		if l.Kind == syncproto.KindMedical && !l.FullySubsidised && !l.Paid {
			payable = append(payable, l)
		}
	}
	if len(payable) < 3 {
		t.Fatalf("demo village has %d payable medical lines", len(payable))
	}
	receipt := one.run("collect", "--id", payable[0].ID)
	if !strings.Contains(receipt, "城乡居民社会保险费代收收据") || !strings.Contains(receipt, payable[0].Masked) {
		t.Fatalf("receipt:\n%s", receipt)
	}
	two.run("collect", "--id", payable[0].ID) // the same person, offline
	one.run("collect", "--id", payable[1].ID)
	one.run("sync")
	two.run("sync")
	one.run("sync") // picks up the notice raised by the second tablet's push
	if n := e.count(`SELECT count(*) FROM collection`); n != 3 {
		t.Fatalf("%d collections on the server, want 3", n)
	}
	if n := e.count(`SELECT count(*) FROM collection WHERE 'duplicate_payment' = ANY(flags)`); n != 2 {
		t.Fatalf("%d collections flagged duplicate, want 2", n)
	}
	for name, tb := range map[string]*tabletCLI{"one": one, "two": two} {
		st := tb.status()
		dup := 0
		for _, n := range st.Notices {
			if n.Code == "duplicate_payment" {
				dup++
			}
		}
		if dup != 1 || st.Outbox.Pending != 0 {
			t.Fatalf("tablet %s: %d duplicate notices, %d pending: %+v", name, dup, st.Outbox.Pending, st)
		}
	}

	// A tablet that cannot sync: its outbox is exported and imported by
	// the township; the tablet's later sync changes nothing.
	two.run("collect", "--id", payable[2].ID)
	file := filepath.Join(t.TempDir(), "outbox.json")
	two.run("outbox", "export", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var f syncproto.OutboxFile
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Mutations) != 1 {
		t.Fatalf("outbox file: %v %d mutations", err, len(f.Mutations))
	}
	var resp syncproto.PushResponse
	if st := postJSON(t, e.base+"/api/v1/devices/"+f.DeviceID+"/outbox", e.township, f, &resp); st != 200 || resp.Outcomes[0].Status != "stored" {
		t.Fatalf("outbox import: %d %+v", st, resp)
	}
	two.run("sync")
	if n := e.count(`SELECT count(*) FROM collection`); n != 4 {
		t.Fatalf("%d collections after the import and the sync, want 4", n)
	}
	if st := two.status(); st.Outbox.Pending != 0 {
		t.Fatalf("tablet still has %d pending", st.Outbox.Pending)
	}
}

// A tablet killed (SIGKILL) at random points of `sync`: after a final
// sync every record reached the server exactly once and the replica
// checks out.
func TestTabletKilledDuringSync(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	tb := e.enroll(e.agent(""))
	tb.run("sync")
	var ids []string
	for _, l := range tb.lines() {
		if l.Kind == syncproto.KindMedical && !l.FullySubsidised {
			ids = append(ids, l.ID)
		}
	}
	const n = 20
	if len(ids) < n {
		t.Fatalf("%d payable lines", len(ids))
	}
	for _, id := range ids[:n] {
		tb.run("collect", "--id", id)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 12 {
		cmd := tb.command("sync")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.IntN(400)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		// A kill during the PIN check counts as a wrong PIN (by design:
		// killing the app must not give free guesses); the agent's next
		// right PIN clears the count, as it would on a real tablet.
		tb.run("unlock")
	}
	if out := tb.run("sync"); !strings.Contains(out, "一致") {
		t.Fatalf("final sync:\n%s", out)
	}
	if got := e.count(`SELECT count(*) FROM collection`); got != n {
		t.Fatalf("%d collections on the server, want %d", got, n)
	}
	if got := e.count(`SELECT count(DISTINCT receipt_no) FROM collection`); got != n {
		t.Fatalf("%d distinct receipts, want %d", got, n)
	}
	if st := tb.status(); st.Outbox.Pending != 0 || st.Outbox.Acked != n {
		t.Fatalf("tablet outbox after the kills: %+v", st.Outbox)
	}
}
