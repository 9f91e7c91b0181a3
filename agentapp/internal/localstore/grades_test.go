package localstore

import (
	"encoding/json"
	"slices"
	"testing"

	"villagesync/syncproto"
)

func TestGrades(t *testing.T) {
	t.Parallel()
	for _, gs := range [][]syncproto.Money{nil, {30000}, {30000, 50000, 100000}, {-5, 0, 7}} {
		enc := encodeGrades(gs)
		want, _ := json.Marshal(nonNil(gs))
		if enc != string(want) {
			t.Errorf("encodeGrades(%v) = %s, want %s", gs, enc, want)
		}
		got, err := decodeGrades(enc)
		if err != nil || !slices.Equal(got, gs) {
			t.Errorf("decodeGrades(%s) = %v, %v", enc, got, err)
		}
	}
	// Other spellings go through encoding/json, with its checks.
	for in, want := range map[string][]syncproto.Money{"[ 1, 2 ]": {1, 2}, " []": nil} {
		got, err := decodeGrades(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("decodeGrades(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"[1.5]", "[01]", "[1,]", "[\"1\"]", "x"} {
		if got, err := decodeGrades(in); err == nil {
			t.Errorf("decodeGrades(%q) = %v, want an error", in, got)
		}
	}
}

// FuzzDecodeGrades holds decodeGrades to encoding/json's reading of the
// same text: its fast path may not accept or read anything differently.
func FuzzDecodeGrades(f *testing.F) {
	for _, s := range []string{"[]", "[30000,50000,100000]", "[-5,0]", "[-0]", "[01]", "[1,]", "[,]", "[ 1 ]", "[1.5]", "null", "", "[9223372036854775808]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeGrades(s)
		var want []syncproto.Money
		werr := json.Unmarshal([]byte(s), &want)
		if len(want) == 0 {
			want = nil
		}
		if (err == nil) != (werr == nil) || (err == nil && !slices.Equal(got, want)) {
			t.Fatalf("decodeGrades(%q) = %v, %v; encoding/json: %v, %v", s, got, err, want, werr)
		}
	})
}
