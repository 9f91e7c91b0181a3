package api_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"

	"time"

	"villagesync/server/internal/auth"
	"villagesync/syncproto"
)

// tablet is a minimal test tablet speaking the sync protocol against the
// real server: it signs a hash chain and keeps a replica from pulls.
type tablet struct {
	f        *fixture
	id       string
	key      ed25519.PrivateKey
	token    string
	seq      int64
	prev     string
	ids      *syncproto.IDGenerator
	cursor   string
	replica  map[string]replicaRow // entity/id -> row
	receipts []int64
	mu       sync.Mutex
}

type replicaRow struct {
	seq  int64
	data json.RawMessage
}

// newTablet enrolls a new agent of village with a tablet.
func (f *fixture) newTablet(name, village string) *tablet {
	f.t.Helper()
	p := pw
	villages := []string{village}
	u, err := f.svc.CreateUser(auth.WithPrincipal(f.t.Context(), auth.Principal{Role: auth.RoleAdmin}),
		auth.Principal{Role: auth.RoleAdmin}, auth.UserInput{Username: name, Role: auth.RoleAgent,
			TownshipCode: village[:9], Villages: &villages, Password: &p})
	if err != nil {
		f.t.Fatal(err)
	}
	en, key := f.enrollKey(u.ID)
	return &tablet{f: f, id: en.DeviceID, key: key, token: en.AccessToken, prev: syncproto.ZeroHash,
		ids: syncproto.NewIDGenerator(time.Now), replica: map[string]replicaRow{}}
}

// mutation makes the next mutation of the chain.
func (tb *tablet) mutation(kind syncproto.MutationKind, payload any, deviceTime time.Time) syncproto.Mutation {
	b, err := json.Marshal(payload)
	if err != nil {
		tb.f.t.Fatal(err)
	}
	tb.seq++
	m := syncproto.Mutation{ID: tb.ids.New().String(), DeviceID: tb.id, Seq: tb.seq, Kind: kind,
		DeviceTime: deviceTime.UTC(), PrevHash: tb.prev, Payload: b}
	m.Seal(tb.key)
	tb.prev = m.Hash
	return m
}

// collect makes a collection of a roster line from the replica.
func (tb *tablet) collect(lineID string, grade syncproto.Money) syncproto.Mutation {
	tb.f.t.Helper()
	var line syncproto.RosterLine
	row, ok := tb.replica[syncproto.EntityRosterEntry+"/"+lineID]
	if !ok {
		tb.f.t.Fatalf("roster line %s not in the replica", lineID)
	}
	json.Unmarshal(row.data, &line)
	if len(tb.receipts) == 0 {
		tb.f.t.Fatal("no receipt numbers")
	}
	no := tb.receipts[0]
	tb.receipts = tb.receipts[1:]
	amount := line.Due
	if line.Kind == syncproto.KindPension {
		amount = grade - line.Subsidy
	}
	return tb.mutation(syncproto.MutationCollection, syncproto.Collection{ReceiptNo: syncproto.FormatReceipt(no),
		RosterEntryID: line.ID, RosterVersion: row.seq, Name: line.Name, VillageCode: line.VillageCode,
		Kind: line.Kind, Year: line.Year, Category: line.Category, Grade: grade, Amount: amount}, inPeriod)
}

// collectN is n collections from the one roster line, in seq order.
func (tb *tablet) collectN(lineID string, n int) []syncproto.Mutation {
	ms := make([]syncproto.Mutation, n)
	for i := range ms {
		ms[i] = tb.collect(lineID, 0)
	}
	return ms
}

func (tb *tablet) push(ms ...syncproto.Mutation) (syncproto.PushResponse, *httptest.ResponseRecorder) {
	rec := tb.f.request(http.MethodPost, "/api/v1/sync/push", tb.token, syncproto.PushRequest{Mutations: ms})
	var resp syncproto.PushResponse
	if rec.Code == http.StatusOK {
		json.Unmarshal(rec.Body.Bytes(), &resp)
	}
	return resp, rec
}

func (tb *tablet) mustPush(ms ...syncproto.Mutation) syncproto.PushResponse {
	tb.f.t.Helper()
	resp, rec := tb.push(ms...)
	if rec.Code != http.StatusOK {
		tb.f.t.Fatalf("push: %d %s", rec.Code, rec.Body)
	}
	return resp
}

// pullAll pulls until caught up (pages of limit) and checks the
// checkpoint against the replica.
func (tb *tablet) pullAll(limit int) *syncproto.Checkpoint {
	tb.f.t.Helper()
	for range 10_000 {
		rec := tb.f.request(http.MethodGet, fmt.Sprintf("/api/v1/sync/pull?limit=%d&cursor=%s", limit, tb.cursor), tb.token, nil)
		if rec.Code != http.StatusOK {
			tb.f.t.Fatalf("pull: %d %s", rec.Code, rec.Body)
		}
		var resp syncproto.PullResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			tb.f.t.Fatal(err)
		}
		tb.apply(resp.Changes)
		tb.cursor = resp.Cursor
		if !resp.HasMore {
			if resp.Checkpoint == nil {
				tb.f.t.Fatal("caught up without a checkpoint")
			}
			return resp.Checkpoint
		}
	}
	tb.f.t.Fatal("pull never caught up")
	return nil
}

func (tb *tablet) apply(changes []syncproto.Change) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, c := range changes {
		key := c.Entity + "/" + c.ID
		switch {
		case c.Entity == syncproto.EntitySettings:
		case c.Op == syncproto.OpDelete:
			delete(tb.replica, key)
		default:
			tb.replica[key] = replicaRow{seq: c.Seq, data: c.Data}
			if c.Entity == syncproto.EntityReceiptRange {
				var r syncproto.ReceiptRange
				json.Unmarshal(c.Data, &r)
				for n := r.First; n <= r.Last; n++ {
					tb.receipts = append(tb.receipts, n)
				}
			}
		}
	}
}

// checksum is the replica's checkpoint as the tablet computes it.
func (tb *tablet) checksum() syncproto.Checkpoint {
	var items []syncproto.ReplicaItem
	for key, row := range tb.replica {
		entity, id, _ := strings.Cut(key, "/")
		items = append(items, syncproto.ReplicaItem{Entity: entity, ID: id, Seq: row.seq})
	}
	return syncproto.Checkpoint{Count: len(items), Checksum: syncproto.ReplicaChecksum(items)}
}

func (tb *tablet) lines(kind syncproto.Kind) []syncproto.RosterLine {
	var out []syncproto.RosterLine
	for key, row := range tb.replica {
		if strings.HasPrefix(key, syncproto.EntityRosterEntry+"/") {
			var l syncproto.RosterLine
			json.Unmarshal(row.data, &l)
			if l.Kind == kind {
				out = append(out, l)
			}
		}
	}
	slices.SortFunc(out, func(a, b syncproto.RosterLine) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// residentID makes a valid ID number for test person n.
func residentID(n int) string {
	first17 := fmt.Sprintf("370403198%01d0101%03d", n/1000%10, n%1000)
	c, _ := syncproto.CheckDigit(first17)
	return first17 + string(c)
}

// loadRoster imports a medical roster of n people into each village.
func (f *fixture) loadRoster(n int, villages ...string) {
	f.t.Helper()
	var sb strings.Builder
	sb.WriteString("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n")
	k := 0
	for _, v := range villages {
		for i := range n {
			k++
			fmt.Fprintf(&sb, "居民%s-%03d,%s,%s,医疗,一般,2026,400.00,0\n", v[9:], i, residentID(k), v)
		}
	}
	f.do(http.MethodPost, "/api/v1/rosters?filename=r.csv", f.token[auth.RoleMedsec], rawBody{sb.String()}, http.StatusCreated, nil)
}

// inPeriod is a device time inside the 2026 collection period, so that
// tests do not depend on the day they run.
var inPeriod = time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)
