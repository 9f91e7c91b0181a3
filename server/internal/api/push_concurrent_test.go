package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"villagesync/server/internal/auth"
	"villagesync/syncproto"
)

// Three tablets of one village, and one of the next village collecting
// its people (moved village), push at once, over and over, while the
// township cuts the day and the bureau re-imports the roster: payments of
// the same few people (duplicates across devices and within pushes),
// voids of their own earlier payments (in the same push or a later one)
// and deposits in the middle of pushes. Every push is accepted; every
// stream stays gapless with its counter at its highest change; a line is
// paid exactly when it has a live payment; a live payment is flagged a
// duplicate exactly when its person has another; and every replica
// equals the server's checkpoint.
func TestPushConcurrentSameVillage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.loadRoster(6, vilA)
	tabs := []*tablet{f.newTablet("agent-cc-a", vilA), f.newTablet("agent-cc-b", vilA), f.newTablet("agent-cc-c", vilA),
		f.newTablet("agent-cc-d", vilA2)}
	for _, tb := range tabs {
		tb.pullAll(1000)
	}
	lines := tabs[0].lines(syncproto.KindMedical)
	for k, v := range tabs[0].replica {
		if strings.HasPrefix(k, syncproto.EntityRosterEntry+"/") {
			tabs[3].replica[k] = v // the vilA2 agent collects vilA's people: moved village
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	stop := make(chan struct{})
	var side sync.WaitGroup
	side.Add(1)
	codes := map[string]int{}
	go func() { // cuts and roster imports meanwhile
		defer side.Done()
		twp := f.login("twpx")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				rec := f.request(http.MethodPost, "/api/v1/batches/cut", twp, map[string]string{"township": twpX, "date": "2026-11-20"})
				codes[fmt.Sprint("cut ", rec.Code)]++
				if rec.Code >= 500 {
					errs <- "cut: " + rec.Body.String()
				}
			} else {
				rec := f.request(http.MethodPost, "/api/v1/rosters?filename=r.csv", f.token[auth.RoleMedsec], rawBody{rosterCSV(6, vilA, i)})
				codes[fmt.Sprint("import ", rec.Code)]++
				if rec.Code >= 500 {
					errs <- "import: " + rec.Body.String()
				}
			}
		}
	}()
	for n, tb := range tabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(n), 7))
			var mine []string
			for range 15 {
				var ms []syncproto.Mutation
				for range 1 + r.IntN(5) {
					switch k := r.IntN(10); {
					case k < 6 || len(mine) == 0:
						m := tb.collect(lines[r.IntN(len(lines))].ID, 0)
						mine = append(mine, m.ID)
						ms = append(ms, m)
					case k < 9:
						ms = append(ms, tb.mutation(syncproto.MutationVoid, syncproto.Void{CollectionID: mine[r.IntN(len(mine))],
							ReceiptNo: "x", Reason: "录错了"}, inPeriod))
					default:
						ms = append(ms, tb.mutation(syncproto.MutationDeposit, syncproto.Deposit{SlipNo: "S", Amount: 1,
							DepositedAt: inPeriod, Count: 1, Sum: 1, ChainHead: tb.prev}, inPeriod))
					}
				}
				resp, rec := tb.push(ms...)
				if rec.Code != http.StatusOK {
					errs <- rec.Body.String()
					return
				}
				if resp.AckSeq != tb.seq {
					errs <- "ack short of the chain"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	side.Wait()
	close(errs)
	for k := range tabs[0].replica {
		if strings.HasPrefix(k, syncproto.EntityRosterEntry+"/") {
			delete(tabs[3].replica, k)
		}
	}
	t.Logf("side: %v", codes)
	t.Logf("retries: %d", strings.Count(f.logs.String(), "transaction retried"))
	for e := range errs {
		t.Error("push refused:", e)
	}
	ctx := t.Context()
	for _, tb := range tabs {
		var last, maxSeq, n int64
		f.db.Pool.QueryRow(ctx, `SELECT s.last_seq, coalesce((SELECT max(seq) FROM device_change WHERE device_id = $1), 0),
			(SELECT count(*) FROM device_change WHERE device_id = $1) FROM device_sync s WHERE device_id = $1`, tb.id).Scan(&last, &maxSeq, &n)
		if last != maxSeq || maxSeq != n {
			t.Errorf("device %s: counter %d, highest change %d, %d changes", tb.id, last, maxSeq, n)
		}
	}
	var last, maxSeq, n int64
	f.db.Pool.QueryRow(ctx, `SELECT s.last_seq, (SELECT max(seq) FROM sync_change WHERE village_code = $1),
		(SELECT count(*) FROM sync_change WHERE village_code = $1) FROM village_sync s WHERE village_code = $1`, vilA).Scan(&last, &maxSeq, &n)
	if last != maxSeq || maxSeq != n {
		t.Errorf("village: counter %d, highest change %d, %d changes", last, maxSeq, n)
	}
	rows, err := f.db.Pool.Query(ctx, `SELECT e.id, e.paid, coalesce(array_agg(c.flags::text) FILTER (WHERE c.id IS NOT NULL), '{}')
		FROM roster_entry e LEFT JOIN collection c ON c.roster_entry_id = e.id AND c.status <> 'voided'
		WHERE e.village_code = $1 GROUP BY e.id, e.paid`, vilA)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var paid bool
		var flags []string
		if err := rows.Scan(&id, &paid, &flags); err != nil {
			t.Fatal(err)
		}
		if paid != (len(flags) > 0) {
			t.Errorf("line %s: paid %v with %d live payments", id, paid, len(flags))
		}
		for _, fl := range flags {
			dup := slices.Contains(splitArr(fl), "duplicate_payment")
			if dup != (len(flags) > 1) {
				t.Errorf("line %s: %d live payments, one flagged %s", id, len(flags), fl)
			}
		}
	}
	rows.Close()
	for _, tb := range tabs {
		cp := tb.pullAll(1000)
		if c := tb.checksum(); c != *cp {
			t.Errorf("device %s: replica %+v, server %+v", tb.id, c, *cp)
		}
	}
}

// splitArr splits a text[] literal of plain words: {a,b}.
func splitArr(s string) []string {
	s = s[1 : len(s)-1]
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// rosterCSV is the medical roster of village v's first n people; names
// change with variant (a re-import that updates every line).
func rosterCSV(n int, v string, variant int) string {
	var sb strings.Builder
	sb.WriteString("姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n")
	for i := range n {
		fmt.Fprintf(&sb, "居民%s-%03d%s,%s,%s,医疗,一般,2026,400.00,0\n", v[9:], i, string(rune(0x7532+variant)), residentID(i+1), v)
	}
	return sb.String()
}
