package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/agentapp/internal/syncclient"
	"villagesync/syncproto"
)

// PIN is the PIN every simulated tablet is initialised with.
const PIN = "480917"

// pinCost keeps the keystore cheap: a fleet of 200 tablets must not spend
// 200 × 19 MiB on argon2id. The PIN cost is not what a fleet measures.
var pinCost = keystore.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// Retry tunes how a tablet's sync retries a failed request (network down,
// 5xx, 429): exponential backoff from Initial to Max, for at most
// MaxElapsed per request. The zero value of a field means its default.
type Retry struct {
	Initial    time.Duration // 200 ms
	Max        time.Duration // 2 s
	MaxElapsed time.Duration // 2 min
}

func (r Retry) options(now func() time.Time) syncclient.Options {
	o := syncclient.Options{InitialBackoff: r.Initial, MaxBackoff: r.Max, MaxElapsed: r.MaxElapsed, Now: now}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 2 * time.Second
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = 2 * time.Minute
	}
	return o
}

// TabletConfig says where a simulated tablet lives and whom it talks to.
type TabletConfig struct {
	Index     int    // the tablet's number in its fleet: its name, seed and source address derive from it
	Path      string // its SQLite file (created); required
	ServerURL string // the server, or a proxy in front of it
	Seed      int64  // with Index, seeds the tablet's choices
	Retry     Retry
}

// Tablet is one simulated tablet: the real agent store on its own SQLite
// file (WAL, synchronous=FULL), the real keystore, collect rules and sync
// client. A Tablet is driven by one goroutine at a time.
type Tablet struct {
	Index int
	Name  string // device name given at enrollment: "fleet-0007"

	cfg      TabletConfig
	store    *localstore.Store
	net      *network
	client   *syncclient.Client
	rec      *recorder
	rng      *rand.Rand
	unlocked *keystore.Unlocked
	syncer   *syncclient.Syncer
	rules    *collect.Service
	deviceID string

	lines      []localstore.RosterLine // the roster the tablet chooses from, by ID
	open       []string                // receipts collected, neither voided nor deposited
	slips      int
	ops        OpCounts
	checkpoint bool // the last sync verified the replica
}

// OpCounts count what a tablet did.
type OpCounts struct {
	Collected int            `json:"collected"`
	Voided    int            `json:"voided"`
	Deposited int            `json:"deposited"`
	Syncs     int            `json:"syncs"`
	SyncFails int            `json:"sync_fails"` // syncs that returned an error (the records stay pending)
	Retries   int            `json:"retries"`    // requests of a sync retried after a network error, 5xx or 429
	Refused   map[string]int `json:"refused"`    // collect refusals by code (already_paid, …)
}

// OpenTablet creates (or opens) the tablet's store. It is not enrolled
// yet: call Enroll.
func OpenTablet(ctx context.Context, cfg TabletConfig) (*Tablet, error) {
	if cfg.Path == "" {
		return nil, errors.New("fleet: TabletConfig.Path is required")
	}
	st, err := localstore.Open(ctx, cfg.Path)
	if err != nil {
		return nil, err
	}
	t := &Tablet{Index: cfg.Index, Name: fmt.Sprintf("fleet-%04d", cfg.Index), cfg: cfg, store: st, rec: newRecorder(),
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Index)+1)), ops: OpCounts{Refused: map[string]int{}}}
	t.net = newNetwork(cfg.ServerURL, cfg.Index, t.rec)
	t.client, err = syncclient.New(cfg.ServerURL)
	if err != nil {
		st.Close()
		return nil, err
	}
	t.client.WithHTTPClient(&http.Client{Transport: t.net, Timeout: 60 * time.Second})
	t.rules = collect.New(st, time.Now)
	return t, nil
}

// Path is the tablet's SQLite file.
func (t *Tablet) Path() string { return t.cfg.Path }

// DeviceID is the device ID the server gave at enrollment ("" before).
func (t *Tablet) DeviceID() string { return t.deviceID }

// Close closes the tablet's store and its connections.
func (t *Tablet) Close() error {
	if t.unlocked != nil {
		t.unlocked.Lock()
	}
	t.net.closeIdle()
	return t.store.Close()
}

// SetOffline takes the tablet out of coverage (true) or back (false):
// while offline every request fails at once, as with no network.
func (t *Tablet) SetOffline(off bool) { t.net.offline.Store(off) }

// Enroll enrolls the tablet with a one-time code, as `agentapp enroll`
// does: a fresh device key, the code spent, the credentials sealed in the
// keystore under PIN, the enrollment saved. The keystore stays unlocked.
func (t *Tablet) Enroll(ctx context.Context, code string) error {
	pub, priv, err := keystore.GenerateDeviceKey()
	if err != nil {
		return err
	}
	en, err := t.client.Enroll(ctx, syncproto.EnrollRequest{Code: code, DeviceName: t.Name, PublicKey: pub})
	if err != nil {
		return fmt.Errorf("fleet: enroll %s: %w", t.Name, err)
	}
	ks := keystore.New(t.store, time.Now, keystore.WithParams(pinCost))
	u, err := ks.Initialise(ctx, en.DeviceID, PIN, keystore.Secrets{DeviceKey: priv, Refresh: en.RefreshToken})
	if err != nil {
		return fmt.Errorf("fleet: %s enrolled as %s but could not keep its credentials: %w", t.Name, en.DeviceID, err)
	}
	err = t.store.SaveEnrollment(ctx, localstore.Enrollment{ServerURL: t.client.BaseURL(), DeviceID: en.DeviceID,
		AgentID: en.AgentID, AgentName: en.AgentName, DisplayName: en.DisplayName,
		TownshipCode: en.TownshipCode, Villages: en.Villages})
	if err != nil {
		return err
	}
	t.attach(u)
	return nil
}

// Unlock unlocks an enrolled tablet's keystore (after OpenTablet of a
// store that was enrolled before, e.g. when a test reopens it).
func (t *Tablet) Unlock(ctx context.Context) error {
	u, err := keystore.New(t.store, time.Now, keystore.WithParams(pinCost)).Unlock(ctx, PIN)
	if err != nil {
		return err
	}
	t.attach(u)
	return t.loadRoster(ctx)
}

func (t *Tablet) attach(u *keystore.Unlocked) {
	t.unlocked = u
	t.deviceID = u.DeviceID()
	opt := t.cfg.Retry.options(time.Now)
	opt.OnEvent = func(ev syncclient.Event) {
		if ev.Kind == syncclient.EventRetry {
			t.ops.Retries++
		}
	}
	t.syncer = syncclient.NewSyncer(t.client, t.store, u, opt)
}

// SyncReport is what one sync did.
type SyncReport struct {
	Pushed     int  `json:"pushed"`
	Acked      int  `json:"acked"`
	Parked     int  `json:"parked"`
	Pulled     int  `json:"pulled"`
	Checkpoint bool `json:"checkpoint"` // the replica matched the server's checkpoint
	Repulled   bool `json:"repulled"`
	// Took is the sync's own time, what `agentapp sync` spends: without
	// the simulator re-reading its roster afterwards.
	Took time.Duration `json:"took"`
}

// Sync runs one whole sync, as `agentapp sync` does: push the outbox,
// pull to the end, verify the checkpoint. The first sync is the
// bootstrap; after each sync the tablet re-reads the roster it chooses
// from.
func (t *Tablet) Sync(ctx context.Context) (SyncReport, error) {
	if t.syncer == nil {
		return SyncReport{}, errors.New("fleet: " + t.Name + " is not enrolled")
	}
	start := time.Now()
	rep, err := t.syncer.Sync(ctx, nil)
	out := SyncReport{Pushed: rep.Pushed, Acked: rep.Acked, Parked: rep.Parked, Pulled: rep.Pulled,
		Checkpoint: rep.Checkpoint, Repulled: rep.Repulled, Took: time.Since(start)}
	t.ops.Syncs++
	t.checkpoint = err == nil && rep.Checkpoint
	if err != nil {
		t.ops.SyncFails++
		return out, fmt.Errorf("fleet: sync %s: %w", t.Name, err)
	}
	return out, t.loadRoster(ctx)
}

// loadRoster reads the replica's roster lines in an order that does not
// depend on the server's IDs (village, kind, masked ID, name, then ID):
// the tablet's choices index into it, so the same seed on the same roster
// makes the same choices, on another database too.
func (t *Tablet) loadRoster(ctx context.Context) error {
	lines, err := t.store.SearchRoster(ctx, localstore.RosterQuery{Limit: 1 << 30})
	if err != nil {
		return err
	}
	slices.SortFunc(lines, func(a, b localstore.RosterLine) int {
		return cmp.Or(cmp.Compare(a.VillageCode, b.VillageCode), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Masked, b.Masked), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	t.lines = lines
	return nil
}

// RosterSize is the number of roster lines the tablet holds.
func (t *Tablet) RosterSize() int { return len(t.lines) }

// Op says what one Step did.
type Op struct {
	Kind      string `json:"kind"` // collect, void, deposit, refused
	ReceiptNo string `json:"receipt_no,omitempty"`
	Code      string `json:"code,omitempty"` // the refusal's code
}

// The kinds of Op.
const (
	OpCollect = "collect"
	OpVoid    = "void"
	OpDeposit = "deposit"
	OpRefused = "refused"
)

// refusals are the collect refusals a tablet takes in its stride: the
// person cannot pay (paid already, subsidised in full, collected already
// by this tablet). The step is counted and the tablet goes on.
var refusals = []syncproto.Code{collect.CodeAlreadyPaid, collect.CodeFullySubsidised, collect.CodeAlreadyCollected,
	collect.CodeNothingDue}

// Step does one operation chosen by the tablet's seeded generator: with
// probability voidRate it voids one of its open receipts, otherwise it
// collects from a roster line chosen at random (a grade chosen at random
// for pension). When the dual limit stops a collection it deposits the
// cash held and collects; when receipt numbers run out it syncs and
// collects (offline, it counts the refusal). An error is returned only
// for what a real agent could not go on from.
func (t *Tablet) Step(ctx context.Context, voidRate float64) (Op, error) {
	if t.unlocked == nil {
		return Op{}, errors.New("fleet: " + t.Name + " is not enrolled")
	}
	if len(t.lines) == 0 {
		return Op{}, errors.New("fleet: " + t.Name + " has no roster: sync first")
	}
	roll := t.rng.Float64()
	if roll < voidRate && len(t.open) > 0 {
		i := t.rng.IntN(len(t.open))
		no := t.open[i]
		if _, err := t.rules.Void(ctx, t.unlocked, no, "录入错误 fleet void"); err != nil {
			return Op{}, fmt.Errorf("fleet: %s void %s: %w", t.Name, no, err)
		}
		t.open = slices.Delete(t.open, i, i+1)
		t.ops.Voided++
		return Op{Kind: OpVoid, ReceiptNo: no}, nil
	}
	line := t.lines[t.rng.IntN(len(t.lines))]
	req := collect.Request{RosterLineID: line.ID, Kind: line.Kind}
	if line.Kind == syncproto.KindPension && len(line.Grades) > 0 {
		req.Grade = line.Grades[t.rng.IntN(len(line.Grades))]
	}
	return t.collect(ctx, req)
}

func (t *Tablet) collect(ctx context.Context, req collect.Request) (Op, error) {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		res, err := t.rules.Collect(ctx, t.unlocked, req)
		if err == nil {
			t.rec.add(opCollect, time.Since(start))
			t.open = append(t.open, res.Collection.ReceiptNo)
			t.ops.Collected++
			return Op{Kind: OpCollect, ReceiptNo: res.Collection.ReceiptNo}, nil
		}
		code := syncproto.ErrorCode(err)
		switch {
		case slices.Contains(refusals, code):
			t.ops.Refused[string(code)]++
			return Op{Kind: OpRefused, Code: string(code)}, nil
		case code == collect.CodeLimitPassed && attempt == 0:
			if _, err := t.Deposit(ctx); err != nil {
				return Op{}, err
			}
		case code == collect.CodeNoReceipts && t.net.offline.Load():
			// Out of numbers and out of coverage: no collection until
			// the next sync.
			t.ops.Refused[string(code)]++
			return Op{Kind: OpRefused, Code: string(code)}, nil
		case code == collect.CodeNoReceipts && attempt == 0:
			if _, err := t.Sync(ctx); err != nil {
				return Op{}, err
			}
		default:
			return Op{}, fmt.Errorf("fleet: %s collect %s: %w", t.Name, req.RosterLineID, err)
		}
	}
}

// Collect collects from one roster line (grade: the pension grade, 0 for
// medical), outside the seeded choices.
func (t *Tablet) Collect(ctx context.Context, rosterLineID string, grade syncproto.Money) (Op, error) {
	start := time.Now()
	res, err := t.rules.Collect(ctx, t.unlocked, collect.Request{RosterLineID: rosterLineID, Grade: grade})
	if err != nil {
		return Op{}, err
	}
	t.rec.add(opCollect, time.Since(start))
	t.open = append(t.open, res.Collection.ReceiptNo)
	t.ops.Collected++
	return Op{Kind: OpCollect, ReceiptNo: res.Collection.ReceiptNo}, nil
}

// Lines returns the roster lines the tablet holds, in the order its
// choices index into.
func (t *Tablet) Lines() []RosterLine {
	out := make([]RosterLine, len(t.lines))
	for i, l := range t.lines {
		out[i] = RosterLine{ID: l.ID, Kind: l.Kind, VillageCode: l.VillageCode, Grades: l.Grades, Paid: l.Paid,
			FullySubsidised: l.FullySubsidised}
	}
	return out
}

// RosterLine is what a caller needs of a tablet's roster line.
type RosterLine struct {
	ID              string
	Kind            syncproto.Kind
	VillageCode     string
	Grades          []syncproto.Money
	Paid            bool
	FullySubsidised bool
}

// Deposit records the bank deposit of all the cash held, with a slip
// number of the tablet's own; Op.Kind is "" when nothing is held.
func (t *Tablet) Deposit(ctx context.Context) (Op, error) {
	held, err := t.store.Cash(ctx, t.deviceID)
	if err != nil {
		return Op{}, err
	}
	if held.Count == 0 || held.Sum <= 0 {
		return Op{}, nil
	}
	t.slips++
	slip := fmt.Sprintf("%s-%04d", t.Name, t.slips)
	if _, err := t.rules.Deposit(ctx, t.unlocked, collect.DepositRequest{SlipNo: slip, Amount: held.Sum}); err != nil {
		return Op{}, fmt.Errorf("fleet: %s deposit: %w", t.Name, err)
	}
	t.open = t.open[:0]
	t.ops.Deposited++
	return Op{Kind: OpDeposit, ReceiptNo: slip}, nil
}

// Stats is a tablet's state as its store holds it.
type Stats struct {
	Index    int    `json:"index"`
	Name     string `json:"name"`
	DeviceID string `json:"device_id"`
	// The outbox by state: every record ends acked (or parked with a
	// reason) once synced.
	Pending int `json:"pending"`
	Acked   int `json:"acked"`
	Parked  int `json:"parked"`
	// The records of the tablet's chain by kind.
	Collections int `json:"collections"`
	Voids       int `json:"voids"`
	Deposits    int `json:"deposits"`
	// The replica: its row count and checksum (syncproto.ReplicaChecksum),
	// what the server's checkpoint is compared with.
	ReplicaCount    int    `json:"replica_count"`
	ReplicaChecksum string `json:"replica_checksum"`
	RosterLines     int    `json:"roster_lines"`
	// Checkpoint: the last sync ended with the replica equal to the
	// server's checkpoint.
	Checkpoint bool     `json:"checkpoint"`
	Ops        OpCounts `json:"ops"`
}

// Stats reads the tablet's state.
func (t *Tablet) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Index: t.Index, Name: t.Name, DeviceID: t.deviceID, Ops: t.ops}
	s.Ops.Refused = maps(t.ops.Refused)
	c, err := t.store.OutboxCounts(ctx, t.deviceID)
	if err != nil {
		return s, err
	}
	s.Pending, s.Acked, s.Parked = c.Pending, c.Acked, c.Parked
	ms, err := t.Records(ctx)
	if err != nil {
		return s, err
	}
	for _, m := range ms {
		switch m.Kind {
		case syncproto.MutationCollection:
			s.Collections++
		case syncproto.MutationVoid:
			s.Voids++
		case syncproto.MutationDeposit:
			s.Deposits++
		}
	}
	items, err := t.store.ReplicaItems(ctx)
	if err != nil {
		return s, err
	}
	s.ReplicaCount, s.ReplicaChecksum = len(items), syncproto.ReplicaChecksum(items)
	if s.RosterLines, err = t.store.RosterCount(ctx); err != nil {
		return s, err
	}
	s.Checkpoint = t.checkpoint
	return s, nil
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Record is one signed record of the tablet's chain, with its outbox
// state.
type Record struct {
	ID    string                 `json:"id"`
	Seq   int64                  `json:"seq"`
	Kind  syncproto.MutationKind `json:"kind"`
	Hash  string                 `json:"hash"`
	State string                 `json:"state"` // pending, acked, parked
}

// Records lists the tablet's whole chain in seq order.
func (t *Tablet) Records(ctx context.Context) ([]Record, error) {
	if t.deviceID == "" {
		return nil, nil
	}
	ms, err := t.store.Chain(ctx, t.deviceID, 1, 1<<30)
	if err != nil {
		return nil, err
	}
	pending, err := t.store.Pending(ctx, t.deviceID, 0, 1<<30)
	if err != nil {
		return nil, err
	}
	parked, err := t.store.Parked(ctx)
	if err != nil {
		return nil, err
	}
	state := map[string]string{}
	for _, m := range pending {
		state[m.ID] = localstore.StatePending
	}
	for _, p := range parked {
		state[p.ID] = localstore.StateParked
	}
	out := make([]Record, len(ms))
	for i, m := range ms {
		st := state[m.ID]
		if st == "" {
			st = localstore.StateAcked
		}
		out[i] = Record{ID: m.ID, Seq: m.Seq, Kind: m.Kind, Hash: m.Hash, State: st}
	}
	return out, nil
}

// Latencies returns the latencies the tablet recorded.
func (t *Tablet) Latencies() Latencies { return t.rec.latencies() }

// defaultPath is a tablet's file in a fleet folder.
func defaultPath(dir string, index int) string {
	return filepath.Join(dir, fmt.Sprintf("tablet-%04d.db", index))
}

// CheckIntegrity runs SQLite's integrity check on the tablet's file and
// fails unless it answers ok.
func (t *Tablet) CheckIntegrity(ctx context.Context) error {
	var res string
	if err := t.store.DB.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("fleet: integrity check of %s: %w", t.Name, err)
	}
	if res != "ok" {
		return fmt.Errorf("fleet: integrity check of %s: %s", t.Name, res)
	}
	return nil
}
