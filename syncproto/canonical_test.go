package syncproto

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The canonical bytes are the protocol: tablets in the field hash with
// the version they run, so a new implementation must give the same
// bytes. They are checked against the definition written out plainly,
// and one hash is pinned.
func TestCanonicalBytesDefinition(t *testing.T) {
	t.Parallel()
	definition := func(m *Mutation) []byte {
		var b bytes.Buffer
		b.WriteString("villagesync/mutation/v1\n")
		for _, f := range []string{m.ID, m.DeviceID, strconv.FormatInt(m.Seq, 10), string(m.Kind),
			m.DeviceTime.UTC().Format(time.RFC3339Nano), m.PrevHash, string(m.Payload)} {
			var n [8]byte
			binary.BigEndian.PutUint64(n[:], uint64(len(f)))
			b.Write(n[:])
			b.WriteString(f)
		}
		return b.Bytes()
	}
	shanghai := time.FixedZone("CST", 8*3600)
	base := Mutation{ID: "01KMZ7XGQ3T0V0Z3W9Y8X7V6AB", DeviceID: "01KMZ7XGQ3T0V0Z3W9Y8X7V6CD", Seq: 9_007_199_254_740_993,
		Kind: MutationCollection, DeviceTime: time.Date(2026, 11, 27, 9, 30, 0, 123456789, shanghai),
		PrevHash: strings.Repeat("ab", 32), Payload: []byte(`{"name":"𠀾家村 张三","amount":20000}`)}
	cases := []Mutation{base}
	big := base
	big.Payload = []byte(`{"note":"` + strings.Repeat("长", 600) + `"}`) // past the stack buffer
	cases = append(cases, big)
	empty := base
	empty.Seq, empty.Payload, empty.DeviceTime = 1, nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases = append(cases, empty)
	for i, m := range cases {
		want := definition(&m)
		if got := m.CanonicalBytes(); !bytes.Equal(got, want) {
			t.Fatalf("case %d: canonical bytes\n got %q\nwant %q", i, got, want)
		}
		sum := sha256.Sum256(want)
		if got := m.ComputeHash(); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("case %d: hash %s, want %x", i, got, sum)
		}
	}
	if got, want := base.ComputeHash(), "2e89b5af3644a5302d65ff34d1f5e81cfd2f59ec4def715674518e2eeefa847f"; got != want {
		t.Fatalf("hash of the pinned record = %s, want %s (the definition changed?)", got, want)
	}
}
