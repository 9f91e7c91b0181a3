package api_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/labstack/echo/v4"

	"villagesync/server/internal/api"
	"villagesync/server/internal/auth"
	"villagesync/server/internal/obs"
	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	vsync "villagesync/server/internal/sync"
	"villagesync/server/internal/syncbuf"
	"villagesync/syncproto"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Two townships X and Y, villages A and A2 in X and B in Y; one user per
// role (the township user and agent in X, the agent serving A), plus an
// agent in Y, each with a device.
const (
	twpX  = "370403001"
	twpY  = "370403002"
	vilA  = "370403001201"
	vilA2 = "370403001202"
	vilB  = "370403002201"
	pw    = "correct horse battery"
)

// fastPasswords keeps tests quick; production uses DefaultPasswordParams.
var fastPasswords = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

type fixture struct {
	t       testing.TB
	e       *echo.Echo
	srv     *api.Server
	db      *store.DB
	svc     *auth.Service
	tokens  *auth.Tokens
	logs    *syncbuf.Buffer
	clock   *clock
	token   map[auth.Role]string // access token per role
	refresh map[auth.Role]string
	user    map[string]store.User // by username
	deviceA string                // the agent in X's device
	deviceB string                // the agent in Y's device
	agentB  string                // token of the agent in Y
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, api.Config{BodyLimit: "1M"})
}

// newFixtureWith is newFixture with the API configured by cfg.
func newFixtureWith(t testing.TB, cfg api.Config) *fixture {
	t.Helper()
	ctx := t.Context()
	// A fixed day inside the 2026 collection period: results do not depend
	// on the day the tests run.
	clk := &clock{t: time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)}
	logs := &syncbuf.Buffer{}
	log := obs.NewLogger(logs, slog.LevelDebug)
	db, err := store.Open(ctx, pgtest.NewURL(t), log, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	tokens := auth.NewTokens(key, clk.Now)
	passwords, err := auth.NewPasswords(fastPasswords)
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.NewService(db, tokens, passwords, auth.DefaultLimits, log)
	schema, err := db.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	setSvc := settings.NewService(db)
	services := api.Services{Auth: svc, Settings: setSvc, Roster: roster.NewService(db, setSvc, log),
		Sync: vsync.NewService(db, setSvc, vsync.DefaultConfig, log), Remit: remit.NewService(db, setSvc, log)}
	e, srv := api.New(cfg, db, services, log, obs.NewMetrics(), schema)
	f := &fixture{t: t, e: e, srv: srv, db: db, svc: svc, tokens: tokens, logs: logs, clock: clk,
		token: map[auth.Role]string{}, refresh: map[auth.Role]string{}, user: map[string]store.User{}}

	err = db.UpsertDistrict(ctx,
		[]store.Township{{Code: twpX, Name: "临城街道"}, {Code: twpY, Name: "常庄街道"}},
		[]store.Village{{Code: vilA, TownshipCode: twpX, Name: "北临城社区"}, {Code: vilA2, TownshipCode: twpX, Name: "南临城社区"},
			{Code: vilB, TownshipCode: twpY, Name: "常庄村"}})
	if err != nil {
		t.Fatal(err)
	}
	admin := auth.Principal{Role: auth.RoleAdmin, Username: "fixture"}
	actx := auth.WithPrincipal(ctx, admin)
	for _, y := range []settings.Year{settings.Shandong2026Pension("370403"), settings.Shandong2026Medical("370403")} {
		if err := setSvc.Put(actx, y); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name string, role auth.Role, twp string, villages ...string) store.User {
		p := pw
		in := auth.UserInput{Username: name, Role: role, TownshipCode: twp, Password: &p}
		if len(villages) > 0 {
			in.Villages = &villages
		}
		u, err := svc.CreateUser(actx, admin, in)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		f.user[name] = u
		return u
	}
	mk("admin", auth.RoleAdmin, "")
	mk("twpx", auth.RoleTownship, twpX)
	mk("tax", auth.RoleTax, "")
	mk("hrss", auth.RoleHRSS, "")
	mk("medsec", auth.RoleMedsec, "")
	agentA := mk("agenta", auth.RoleAgent, twpX, vilA)
	agentB := mk("agentb", auth.RoleAgent, twpY, vilB)
	for _, u := range []string{"admin", "twpx", "tax", "hrss", "medsec"} {
		var pair auth.TokenPair
		f.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u, "password": pw}, http.StatusOK, &pair)
		role := auth.Role(f.user[u].Role)
		f.token[role], f.refresh[role] = pair.AccessToken, pair.RefreshToken
	}
	enA := f.enroll(agentA.ID)
	f.token[auth.RoleAgent], f.refresh[auth.RoleAgent], f.deviceA = enA.AccessToken, enA.RefreshToken, enA.DeviceID
	enB := f.enroll(agentB.ID)
	f.agentB, f.deviceB = enB.AccessToken, enB.DeviceID
	return f
}

// enroll makes an enrollment code for agent (as admin) and enrolls a
// tablet with it.
func (f *fixture) enroll(agentID string) auth.Enrollment {
	f.t.Helper()
	en, _ := f.enrollKey(agentID)
	return en
}

// enrollKey enrolls a tablet for agent and returns the tablet's key too.
func (f *fixture) enrollKey(agentID string) (auth.Enrollment, ed25519.PrivateKey) {
	f.t.Helper()
	var code auth.EnrollmentCode
	f.do(http.MethodPost, "/api/v1/devices/enrollment-codes", f.token[auth.RoleAdmin], map[string]string{"agent_id": agentID}, http.StatusCreated, &code)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	var en auth.Enrollment
	f.do(http.MethodPost, "/api/v1/devices/enroll", "", auth.EnrollRequest{Code: code.Code, DeviceName: "平板 1", PublicKey: pub}, http.StatusCreated, &en)
	return en, key
}

// rawBody is a request body sent as it is (a file upload), not as JSON.
type rawBody struct{ data string }

// request sends a request through the whole echo stack.
func (f *fixture) request(method, path, token string, body any) *httptest.ResponseRecorder {
	f.t.Helper()
	var r io.Reader
	if raw, ok := body.(rawBody); ok {
		req := httptest.NewRequest(method, path, strings.NewReader(raw.data))
		req.RemoteAddr = "192.0.2.10:1234"
		req.Header.Set("Content-Type", "text/csv")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		f.e.ServeHTTP(rec, req)
		return rec
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	req.RemoteAddr = "192.0.2.10:1234"
	req.Header.Set(syncproto.HeaderProtocol, "1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	return rec
}

// userID finds a user created by the fixture or a test.
func (f *fixture) userID(username string) string {
	f.t.Helper()
	u, err := f.db.UserByUsername(f.t.Context(), f.db.Pool, username)
	if err != nil {
		f.t.Fatal(err)
	}
	return u.ID
}

// requestWith sends a bodiless request with extra headers.
func (f *fixture) requestWith(method, path, token string, headers map[string]string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = "192.0.2.10:1234"
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	return rec
}

// do sends a request, checks the status and decodes the answer into out.
func (f *fixture) do(method, path, token string, body any, want int, out any) {
	f.t.Helper()
	rec := f.request(method, path, token, body)
	if rec.Code != want {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, want, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			f.t.Fatalf("%s %s: decode %T: %v: %s", method, path, out, err, rec.Body)
		}
	}
}

// errCode returns the error code of a JSON error answer.
func errCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body api.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.MessageZH == "" {
		t.Fatalf("not the JSON error shape (%v): %s", err, rec.Body)
	}
	return string(body.Error.Code)
}
