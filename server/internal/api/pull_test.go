package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
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
