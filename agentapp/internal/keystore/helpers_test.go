package keystore_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// lightParams keeps the tests fast; the default cost has its own test.
var lightParams = keystore.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

const (
	goodPIN  = "480917"
	otherPIN = "73915524"
)

// fakeClock is a wall clock the test moves by hand, as a tablet's user can.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one tablet: a store file, a clock and a keystore over them.
type env struct {
	path  string
	clock *fakeClock
	store *localstore.Store
	ks    *keystore.Keystore
}

// mustEnv opens a fresh store file in its own folder.
func mustEnv(tb testing.TB) *env {
	tb.Helper()
	e := &env{path: filepath.Join(tb.TempDir(), "agent.db"), clock: newClock()}
	e.mustReopen(tb)
	return e
}

// mustReopen closes the store and opens the same file again, as a restart
// of the app does.
func (e *env) mustReopen(tb testing.TB) {
	tb.Helper()
	if e.store != nil {
		if err := e.store.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	st, err := localstore.Open(tb.Context(), e.path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	e.store = st
	e.ks = keystore.New(st, e.clock.Now, keystore.WithParams(lightParams))
}

// mustSecrets makes a device key and a refresh credential.
func mustSecrets(tb testing.TB) keystore.Secrets {
	tb.Helper()
	_, priv, err := keystore.GenerateDeviceKey()
	if err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, 24)
	rand.Read(b)
	return keystore.Secrets{DeviceKey: priv, Refresh: "rt_" + hex.EncodeToString(b)}
}

// mustInit initialises e's keystore with goodPIN and fresh secrets.
func (e *env) mustInit(tb testing.TB) (string, keystore.Secrets) {
	tb.Helper()
	id := ulid.Make().String()
	s := mustSecrets(tb)
	u, err := e.ks.Initialise(tb.Context(), id, goodPIN, s)
	if err != nil {
		tb.Fatal(err)
	}
	u.Lock()
	return id, s
}

// mustUnlock unlocks with pin and checks the secrets are want.
func (e *env) mustUnlock(tb testing.TB, pin string, want keystore.Secrets) *keystore.Unlocked {
	tb.Helper()
	u, err := e.ks.Unlock(tb.Context(), pin)
	if err != nil {
		tb.Fatalf("unlock: %v", err)
	}
	requireSecrets(tb, u.Secrets(), want)
	return u
}

func (e *env) mustState(tb testing.TB) keystore.State {
	tb.Helper()
	st, err := e.ks.Status(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func requireSecrets(tb testing.TB, got, want keystore.Secrets) {
	tb.Helper()
	if !got.DeviceKey.Equal(want.DeviceKey) || got.Refresh != want.Refresh {
		tb.Fatalf("secrets = {key %x… refresh %q}, want {key %x… refresh %q}",
			got.DeviceKey[:4], got.Refresh, want.DeviceKey[:4], want.Refresh)
	}
	msg := []byte("push batch")
	pub := want.DeviceKey.Public().(ed25519.PublicKey)
	if !ed25519.Verify(pub, msg, ed25519.Sign(got.DeviceKey, msg)) {
		tb.Fatal("the unlocked device key does not sign for its public key")
	}
}

// requireErr fails unless err is a *syncproto.Error with code, both
// messages set, and an English message containing msg.
func requireErr(tb testing.TB, err error, code syncproto.Code, msg string) {
	tb.Helper()
	var e *syncproto.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error = %v (%T), want *syncproto.Error %s", err, err, code)
	}
	if e.Code != code {
		tb.Fatalf("code = %q, want %q (%v)", e.Code, code, err)
	}
	if !strings.Contains(e.Message, msg) {
		tb.Fatalf("message = %q, want it to contain %q", e.Message, msg)
	}
	if e.MessageZH == "" {
		tb.Fatalf("message_zh is empty for %v", err)
	}
}
