package syncproto_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"villagesync/syncproto"
)

// AppendJSON decodes to what encoding/json's document of the same
// response decodes to, for strings that need escaping and Data of every
// shape.
func TestPullResponseAppendJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "v:370403001001", "d:01JNM7Q8Z3X4Y5W6V7T8S9R0QP", `quote " and \ back`, "<script>&amp;",
		"控制\u0001\n\t字符", "张三丰", "\u2028\u2029", "emoji 🧧"}
	datas := []json.RawMessage{nil, json.RawMessage(`{}`), json.RawMessage(`{"name":"张三","grades":[20000,30000],"paid":false,"review":"x\"y"}`),
		json.RawMessage(`null`), json.RawMessage(`[1,2,{"a":null}]`), json.RawMessage(`"\u003c"`)}
	pick := func() string { return strs[r.IntN(len(strs))] }
	for round := range 200 {
		var resp syncproto.PullResponse
		if n := r.IntN(6); n > 0 {
			resp.Changes = make([]syncproto.Change, n-1) // n-1 = 0: empty, not nil
			for i := range resp.Changes {
				resp.Changes[i] = syncproto.Change{Stream: pick(), Seq: r.Int64N(1 << 50), Entity: pick(), ID: pick(),
					Op: pick(), Data: datas[r.IntN(len(datas))]}
			}
		}
		resp.Cursor, resp.HasMore = pick(), r.IntN(2) == 0
		if r.IntN(2) == 0 {
			resp.Checkpoint = &syncproto.Checkpoint{Count: r.IntN(100000), Checksum: pick()}
		}
		got := resp.AppendJSON(nil)
		if !json.Valid(got) {
			t.Fatalf("round %d: not JSON: %s", round, got)
		}
		want, _ := json.Marshal(resp)
		var a, b syncproto.PullResponse
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round %d:\n got %s\nwant %s", round, got, want)
		}
		var ga, gb map[string]any // and no field more or less
		json.Unmarshal(got, &ga)
		json.Unmarshal(want, &gb)
		if fmt.Sprint(ga) != fmt.Sprint(gb) {
			t.Fatalf("round %d: fields differ:\n got %v\nwant %v", round, ga, gb)
		}
	}
}

func TestPullResponseAppendJSONBadUTF8(t *testing.T) {
	t.Parallel()
	resp := syncproto.PullResponse{Cursor: "a\xffb", Changes: []syncproto.Change{{ID: "\xc3(\xff\xfe\uFFFD"}}}
	got := resp.AppendJSON(nil)
	var a, b syncproto.PullResponse
	want, _ := json.Marshal(resp)
	json.Unmarshal(got, &a)
	json.Unmarshal(want, &b)
	if !reflect.DeepEqual(a, b) || a.Cursor != "a\uFFFDb" {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// RosterLine.AppendJSON is encoding/json's document of the line: the
// same members, decoding to the same line, for every field filled or
// empty.
func TestRosterLineAppendJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	strs := []string{"", "张三丰", `a"b\c`, "<&>", "\u0007", "370403001001", "emoji 🧧", "\u2028"}
	fields := reflect.TypeFor[syncproto.RosterLine]().NumField()
	for round := range 300 {
		l := randomLine(r, strs)
		got := l.AppendJSON(nil)
		want, _ := json.Marshal(l)
		var a, b map[string]any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("round %d: %v: %s", round, err, got)
		}
		json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round %d:\n got %s\nwant %s", round, got, want)
		}
		var back syncproto.RosterLine
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if len(l.Grades) == 0 {
			l.Grades = nil
		}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("round %d: decodes to %+v, want %+v", round, back, l)
		}
	}
	// A field added to RosterLine must be added to AppendJSON too.
	if fields != 15 {
		t.Fatalf("RosterLine has %d fields; AppendJSON writes 15", fields)
	}
}

// One IDHasher for many IDs gives IDHash of each, in any order.
func TestIDHasher(t *testing.T) {
	t.Parallel()
	key := []byte("a key of the district")
	h := syncproto.NewIDHasher(key)
	ids := []syncproto.ResidentID{"37040319800101123X", "370403198001011234", "", "370403198001011234"}
	for _, id := range ids {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id))
		if got, want := h.Hash(id), hex.EncodeToString(m.Sum(nil)); got != want || syncproto.IDHash(key, id) != want {
			t.Fatalf("Hash(%q) = %s, want %s", id, got, want)
		}
	}
}

// ReplicaChecksum is SHA-256 over "<entity> <id> <seq>\n" of the items in
// (entity, id) order: tablets and servers of other versions compute it so.
func TestReplicaChecksumDefinition(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 5, 3000, 20000} {
		items := make([]syncproto.ReplicaItem, n)
		for i := range items {
			items[i] = syncproto.ReplicaItem{Entity: []string{"roster_entry", "collection", "notice"}[r.IntN(3)],
				ID: fmt.Sprintf("01M7VAX8KDQVK99DRP%08d", r.IntN(1e8)), Seq: r.Int64N(1<<40) - 5}
		}
		sorted := slices.Clone(items)
		slices.SortFunc(sorted, func(a, b syncproto.ReplicaItem) int {
			if a.Entity != b.Entity {
				return strings.Compare(a.Entity, b.Entity)
			}
			return strings.Compare(a.ID, b.ID)
		})
		h := sha256.New()
		for _, it := range sorted {
			fmt.Fprintf(h, "%s %s %d\n", it.Entity, it.ID, it.Seq)
		}
		if got, want := syncproto.ReplicaChecksum(items), hex.EncodeToString(h.Sum(nil)); got != want {
			t.Fatalf("%d items: %s, want %s", n, got, want)
		}
	}
}
