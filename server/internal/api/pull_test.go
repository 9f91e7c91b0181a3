package api_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"villagesync/server/internal/auth"
	"villagesync/syncproto"
)

// Concurrent writers — roster re-imports into the tablet's villages and
// other tablets pushing collections, each commit numbering its changes —
// while a tablet pulls in small pages again and again. Writers commit in
// any order; the per-village stream lock and the snapshot pull must never
// let a change be skipped: every caught-up replica equals the server's
// state, by checkpoint and by content.
func TestPullConcurrentWriters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const people = 40
	f.loadRoster(people, vilA, vilA2)
	reader := f.newTablet("agent-reader", vilA)
	writers := []*tablet{f.newTablet("agent-w1", vilA), f.newTablet("agent-w2", vilA)}
	for _, w := range writers {
		w.pullAll(1000)
	}
	// The reader serves both villages.
	f.do(http.MethodPatch, "/api/v1/users/"+f.userID("agent-reader"), f.token[auth.RoleAdmin],
		map[string]any{"villages": []string{vilA, vilA2}}, http.StatusOK, nil)

	stop := make(chan struct{})
	var writersWG, readerWG sync.WaitGroup
	errs := make(chan error, 100)
	// Roster re-imports: each round changes some people's category and
	// amounts and drops a few, in both villages.
	writersWG.Go(func() {
		for round := range 12 {
			var sb strings.Builder
			sb.WriteString("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n")
			k := 0
			for _, v := range []string{vilA, vilA2} {
				for i := range people {
					k++
					if (i+round)%9 == 0 {
						continue // left out this round
					}
					cat, due, sub := "一般", "400.00", "0"
					if (i+round)%4 == 0 {
						cat, due, sub = "低保", "200.00", "200.00"
					}
					fmt.Fprintf(&sb, "居民%s-%03d,%s,%s,医疗,%s,2026,%s,%s\n", v[9:], i, residentID(k), v, cat, due, sub)
				}
			}
			rec := f.request(http.MethodPost, "/api/v1/rosters?filename=round.csv", f.token[auth.RoleMedsec], rawBody{sb.String()})
			if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
				errs <- fmt.Errorf("import round %d: %d %s", round, rec.Code, rec.Body)
			}
		}
	})
	for wi, w := range writers {
		writersWG.Go(func() {
			r := rand.New(rand.NewPCG(uint64(wi), 7))
			lines := w.lines(syncproto.KindMedical)
			for range 15 {
				var ms []syncproto.Mutation
				for range 1 + r.IntN(4) {
					ms = append(ms, w.collect(lines[r.IntN(len(lines))].ID, 0))
				}
				if _, rec := w.push(ms...); rec.Code != http.StatusOK {
					errs <- fmt.Errorf("push: %d %s", rec.Code, rec.Body)
					return
				}
			}
		})
	}
	// The reader pulls in small pages the whole time.
	readerWG.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			rec := f.request(http.MethodGet, "/api/v1/sync/pull?limit=7&cursor="+reader.cursor, reader.token, nil)
			if rec.Code != http.StatusOK {
				errs <- fmt.Errorf("pull: %d %s", rec.Code, rec.Body)
				return
			}
			var resp syncproto.PullResponse
			json.Unmarshal(rec.Body.Bytes(), &resp)
			reader.apply(resp.Changes)
			reader.cursor = resp.Cursor
			if resp.Checkpoint != nil {
				// Caught up at this snapshot: the replica must match it now.
				if got := reader.checksum(); got != *resp.Checkpoint {
					errs <- fmt.Errorf("mid-run checkpoint: replica %+v, server %+v", got, *resp.Checkpoint)
					return
				}
			}
		}
	})
	writersWG.Wait()
	close(stop)
	readerWG.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("%v\nserver log:\n%s", err, grepLines(f.logs.String(), `"level":"ERROR"`))
	}
	cp := reader.pullAll(7)
	if got := reader.checksum(); got != *cp {
		t.Fatalf("final replica %+v, server %+v", got, *cp)
	}
	// Content, not just versions: a fresh bootstrap of the same scope
	// holds exactly the same rows with the same data.
	fresh := &tablet{f: f, id: reader.id, token: reader.token, replica: map[string]replicaRow{}}
	fresh.pullAll(1000)
	if len(fresh.replica) != len(reader.replica) {
		t.Fatalf("incremental replica has %d rows, bootstrap %d", len(reader.replica), len(fresh.replica))
	}
	for key, row := range fresh.replica {
		if got, ok := reader.replica[key]; !ok || string(got.data) != string(row.data) {
			t.Fatalf("row %s differs:\nincremental %s\nbootstrap   %s", key, got.data, row.data)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A pull page is gzip-compressed for a client that accepts it and plain
// for one that does not, the same document either way; other answers go
// through the same middleware.
func TestPullGzip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(80, vilA)
	tb := f.newTablet("agent-gzip", vilA)
	path := "/api/v1/sync/pull?limit=50"
	proto := strconv.Itoa(syncproto.ProtocolVersion)
	plain := f.requestWith(http.MethodGet, path, tb.token, map[string]string{syncproto.HeaderProtocol: proto})
	zipped := f.requestWith(http.MethodGet, path, tb.token, map[string]string{syncproto.HeaderProtocol: proto,
		"Accept-Encoding": "gzip, deflate"})
	if plain.Code != http.StatusOK || zipped.Code != http.StatusOK {
		t.Fatalf("status %d, %d: %s", plain.Code, zipped.Code, plain.Body)
	}
	if ce := plain.Header().Get("Content-Encoding"); ce != "" {
		t.Fatalf("plain answer has Content-Encoding %q", ce)
	}
	if ce := zipped.Header().Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", ce)
	}
	for _, rec := range []*httptest.ResponseRecorder{plain, zipped} {
		if !slices.Contains(rec.Header().Values("Vary"), "Accept-Encoding") {
			t.Fatalf("Vary %q", rec.Header().Values("Vary"))
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type %q", ct)
		}
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var a, b syncproto.PullResponse
	if err := json.Unmarshal(plain.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(unzipped, &b); err != nil {
		t.Fatal(err)
	}
	if len(a.Changes) < 50 || !reflect.DeepEqual(a.Changes, b.Changes) || !a.HasMore || !b.HasMore {
		t.Fatalf("plain %d changes, gzip %d changes, equal %v", len(a.Changes), len(b.Changes), reflect.DeepEqual(a.Changes, b.Changes))
	}
	// Another JSON answer: compressed by the middleware.
	other := f.requestWith(http.MethodGet, "/api/v1/sync/alerts", f.token[auth.RoleTownship], map[string]string{"Accept-Encoding": "gzip"})
	if other.Code != http.StatusOK || other.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("alerts: status %d, Content-Encoding %q", other.Code, other.Header().Get("Content-Encoding"))
	}
}
