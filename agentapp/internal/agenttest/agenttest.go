// Package agenttest builds enrolled tablets for the agent app's tests: a
// real SQLite store in a temporary folder, a keystore with a light PIN
// cost, an enrollment, and a replica seeded as a pull would (settings,
// receipt ranges, roster lines of valid resident IDs). It is imported by
// tests only.
package agenttest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// PIN is the PIN of every test tablet.
const PIN = "480917"

// LightParams keep unlocking fast in tests.
var LightParams = keystore.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// Township and Village are the test tablet's scope.
const (
	Township = "370403001"
	Village  = "370403001001"
)

// HashKey is the ID hash key of the test settings.
var HashKey = []byte("test-id-hash-key-0123456789abcdef")

// Tablet is an enrolled test tablet.
type Tablet struct {
	Path     string
	Store    *localstore.Store
	Keystore *keystore.Keystore
	Unlocked *keystore.Unlocked
	DeviceID string
	Key      ed25519.PrivateKey
	Public   ed25519.PublicKey
	Refresh  string // the first refresh token
	Now      func() time.Time
}

// NewTablet makes an enrolled tablet with an empty replica; now is its
// clock (nil: time.Now). serverURL is the enrollment's server ("" for a
// placeholder).
func NewTablet(tb testing.TB, now func() time.Time, serverURL string) *Tablet {
	tb.Helper()
	if now == nil {
		now = time.Now
	}
	if serverURL == "" {
		serverURL = "http://127.0.0.1:1"
	}
	path := filepath.Join(tb.TempDir(), "agent.db")
	st, err := localstore.Open(tb.Context(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	pub, priv, err := keystore.GenerateDeviceKey()
	if err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	t := &Tablet{Path: path, Store: st, DeviceID: ulid.Make().String(), Key: priv, Public: pub,
		Refresh: "rt_" + hex.EncodeToString(b), Now: now}
	t.Keystore = keystore.New(st, now, keystore.WithParams(LightParams))
	t.Unlocked, err = t.Keystore.Initialise(tb.Context(), t.DeviceID, PIN, keystore.Secrets{DeviceKey: priv, Refresh: t.Refresh})
	if err != nil {
		tb.Fatal(err)
	}
	err = st.SaveEnrollment(tb.Context(), localstore.Enrollment{ServerURL: serverURL, DeviceID: t.DeviceID,
		AgentID: "agent-1", AgentName: "agent.zhang", DisplayName: "张代办", TownshipCode: Township, Villages: []string{Village}})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// Settings are the test device settings: a ¥20,000 cash limit, 24 hours,
// the 2026 period.
func Settings() syncproto.DeviceSettings {
	return syncproto.DeviceSettings{CashLimit: syncproto.Yuan(20000), TimeLimitHours: 24, Cutoff: "16:00",
		PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", IDHashKey: HashKey}
}

// ResidentID returns the n-th test resident ID (valid check digit): born
// 1960-01-01 + n days in region 370403.
func ResidentID(n int) syncproto.ResidentID {
	birth := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n%20000)
	first := fmt.Sprintf("370403%s%03d", birth.Format("20060102"), n%1000)
	c, err := syncproto.CheckDigit(first)
	if err != nil {
		panic(err)
	}
	return syncproto.ResidentID(first + string(c))
}

// Pension grades of the test roster, in fen.
var Grades = []syncproto.Money{syncproto.Yuan(100), syncproto.Yuan(300), syncproto.Yuan(500), syncproto.Yuan(1000)}

// Line makes the roster line of the n-th test resident for kind: a general
// payer (medical: ¥400 due; pension: grades 300 and up), or with subsidy.
func Line(n int, kind syncproto.Kind) syncproto.RosterLine {
	id := ResidentID(n)
	l := syncproto.RosterLine{
		ID: fmt.Sprintf("RL%s%06d", kind[:1], n), Kind: kind, Year: 2026, Name: fmt.Sprintf("张%s", cnNumber(n)),
		Initials: "z" + initials(n), Masked: id.Masked(), IDHash: syncproto.IDHash(HashKey, id),
		VillageCode: Village, Category: syncproto.CategoryGeneral,
	}
	if kind == syncproto.KindMedical {
		l.Due = syncproto.Yuan(400)
	} else {
		l.Due, l.Grades = syncproto.Yuan(300), Grades[1:]
	}
	return l
}

var cnDigits = []rune("零一二三四五六七八九")

func cnNumber(n int) string {
	s := fmt.Sprint(n)
	out := make([]rune, len(s))
	for i, c := range s {
		out[i] = cnDigits[c-'0']
	}
	return string(out)
}

var pyDigits = []string{"l", "y", "e", "s", "s", "w", "l", "q", "b", "j"}

func initials(n int) string {
	s := ""
	for _, c := range fmt.Sprint(n) {
		s += pyDigits[c-'0']
	}
	return s
}

// Change makes an upsert change of v.
func Change(tb testing.TB, entity, id, stream string, seq int64, v any) syncproto.Change {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return syncproto.Change{Stream: stream, Seq: seq, Entity: entity, ID: id, Op: syncproto.OpUpsert, Data: b}
}

// Seed applies, as a pull would, the settings, one receipt range of
// receipts numbers from first and the given roster lines.
func (t *Tablet) Seed(tb testing.TB, set syncproto.DeviceSettings, first, receipts int64, lines ...syncproto.RosterLine) {
	tb.Helper()
	var seq int64
	next := func() int64 { seq++; return seq }
	dev, vil := "d:"+t.DeviceID, "v:"+Village
	changes := []syncproto.Change{
		Change(tb, syncproto.EntitySettings, "settings", dev, next(), set),
	}
	if receipts > 0 {
		changes = append(changes, Change(tb, syncproto.EntityReceiptRange, "RR1", dev, next(),
			syncproto.ReceiptRange{ID: "RR1", First: first, Last: first + receipts - 1}))
	}
	for _, l := range lines {
		changes = append(changes, Change(tb, syncproto.EntityRosterEntry, l.ID, vil, next(), l))
	}
	if err := t.Store.ApplyPage(tb.Context(), changes, "seeded"); err != nil {
		tb.Fatal(err)
	}
}

// Chain reads the whole chain of the tablet's device.
func (t *Tablet) Chain(tb testing.TB) []syncproto.Mutation {
	tb.Helper()
	ms, err := t.Store.Chain(tb.Context(), t.DeviceID, 1, 1<<30)
	if err != nil {
		tb.Fatal(err)
	}
	return ms
}

// RequireChain fails unless ms is a whole chain from seq 1: gapless, each
// prev_hash the hash before, every hash and signature good for pub, IDs
// increasing.
func RequireChain(tb testing.TB, ms []syncproto.Mutation, pub ed25519.PublicKey) {
	tb.Helper()
	prev, prevID := syncproto.ZeroHash, ""
	for i, m := range ms {
		if m.Seq != int64(i+1) {
			tb.Fatalf("mutation %d has seq %d", i+1, m.Seq)
		}
		if m.PrevHash != prev {
			tb.Fatalf("mutation %d: prev_hash %.12s…, want %.12s…", m.Seq, m.PrevHash, prev)
		}
		if err := m.Check(pub); err != nil {
			tb.Fatalf("mutation %d: %v", m.Seq, err)
		}
		if m.ID <= prevID {
			tb.Fatalf("mutation %d: ID %s not above %s", m.Seq, m.ID, prevID)
		}
		prev, prevID = m.Hash, m.ID
	}
}

// Clock is a tablet clock the test moves by hand, as a tablet's user can.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the time the clock shows.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d (backwards when d is negative).
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
