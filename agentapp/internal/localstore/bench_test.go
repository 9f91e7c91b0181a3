package localstore_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"villagesync/agentapp/internal/agenttest"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// BenchmarkBootstrap10k measures the tablet's side of a village bootstrap:
// 5,000 residents with both kinds (10,000 roster lines) arriving as ten
// pull pages of 1,000, each decoded from JSON and committed with its cursor
// (synchronous=FULL), then the replica checksum of the checkpoint.
func BenchmarkBootstrap10k(b *testing.B) {
	var pages [][]byte
	var page syncproto.PullResponse
	seq := int64(0)
	for i := 1; i <= 5000; i++ {
		for _, k := range syncproto.Kinds() {
			seq++
			l := agenttest.Line(i, k)
			page.Changes = append(page.Changes, agenttest.Change(b, syncproto.EntityRosterEntry, l.ID, "v:"+agenttest.Village, seq, l))
			if len(page.Changes) == 1000 {
				page.Cursor, page.HasMore = fmt.Sprint(seq), seq < 10000
				raw, _ := json.Marshal(page)
				pages = append(pages, raw)
				page = syncproto.PullResponse{}
			}
		}
	}
	// The baseline: decoding the pages alone, which any client pays.
	b.Run("baseline_decode", func(b *testing.B) {
		for b.Loop() {
			for _, raw := range pages {
				var p syncproto.PullResponse
				if err := json.Unmarshal(raw, &p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("decode_apply_checksum", func(b *testing.B) {
		for n := 0; b.Loop(); n++ {
			b.StopTimer()
			st, err := localstore.Open(b.Context(), filepath.Join(b.TempDir(), fmt.Sprintf("agent%d.db", n)))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for _, raw := range pages {
				var p syncproto.PullResponse
				if err := json.Unmarshal(raw, &p); err != nil {
					b.Fatal(err)
				}
				if err := st.ApplyPage(b.Context(), p.Changes, p.Cursor); err != nil {
					b.Fatal(err)
				}
			}
			items, err := st.ReplicaItems(b.Context())
			if err != nil || len(items) != 10000 {
				b.Fatalf("%d items, %v", len(items), err)
			}
			syncproto.ReplicaChecksum(items)
			b.StopTimer()
			st.Close()
			b.StartTimer()
		}
	})
}
