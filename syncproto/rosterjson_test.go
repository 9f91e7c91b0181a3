package syncproto_test

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"villagesync/syncproto"
)

// randomLine is a roster line with every field drawn from strs and
// random numbers; its grades are nil, empty or a few.
func randomLine(r *rand.Rand, strs []string) syncproto.RosterLine {
	pick := func() string { return strs[r.IntN(len(strs))] }
	l := syncproto.RosterLine{ID: pick(), Kind: syncproto.Kind(pick()), Year: r.IntN(3000) - 10, Name: pick(),
		Initials: pick(), Masked: pick(), IDHash: pick(), VillageCode: pick(), Category: syncproto.Category(pick()),
		Due: syncproto.Money(r.Int64N(1<<40) - 1<<39), Subsidy: syncproto.Money(r.Int64N(1 << 30)),
		FullySubsidised: r.IntN(2) == 0, Paid: r.IntN(2) == 0, Review: pick()}
	switch r.IntN(3) {
	case 1:
		l.Grades = []syncproto.Money{}
	case 2:
		for range 1 + r.IntN(5) {
			l.Grades = append(l.Grades, syncproto.Money(r.Int64N(1<<20)))
		}
	}
	return l
}

// checkRosterLine decodes data with UnmarshalRosterLine into a line that
// held something already, and with go-json-experiment's v1 Unmarshal into
// a zero line, and fails unless both agree — on the error too. It reports
// whether the direct path took data.
func checkRosterLine(t *testing.T, data []byte) bool {
	t.Helper()
	var want syncproto.RosterLine
	wantErr := jsonv1.Unmarshal(data, &want)
	var direct syncproto.RosterLine
	took := syncproto.DecodeRosterLineDirect(data, &direct)
	if took && (wantErr != nil || !reflect.DeepEqual(direct, want)) {
		t.Fatalf("%q: the direct path decoded %+v; the general decoder %+v, %v", data, direct, want, wantErr)
	}
	got := syncproto.RosterLine{ID: "left over", Grades: []syncproto.Money{1}, Review: "left over", Paid: true}
	err := syncproto.UnmarshalRosterLine(data, &got)
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("%q: error %v, want %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decoded %+v, want %+v", data, got, want)
	}
	return took
}

// The server's documents take the direct path and decode to the line;
// a document the direct path does not take decodes as the general
// decoder decodes it.
func TestUnmarshalRosterLine(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	plain := []string{"", "张三丰", "<&>", "370403001001", "emoji 🧧", "\u2028", "01JNM7Q8Z3X4Y5W6V7T8S9R0QP"}
	for round := range 300 {
		l := randomLine(r, plain)
		doc := l.AppendJSON(nil)
		if !checkRosterLine(t, doc) {
			t.Fatalf("round %d: the direct path refused the server's document %s", round, doc)
		}
		var back syncproto.RosterLine
		if err := syncproto.UnmarshalRosterLine(doc, &back); err != nil {
			t.Fatal(err)
		}
		if len(l.Grades) == 0 {
			l.Grades = nil // AppendJSON omits empty grades
		}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("round %d: %s decodes to %+v, want %+v", round, doc, back, l)
		}
	}
	// Strings that need escapes, or invalid UTF-8, go the general way.
	escaped := []string{`a"b\c`, "\u0007", "bad \xff byte"}
	for round := range 100 {
		l := randomLine(r, escaped)
		doc := l.AppendJSON(nil)
		if checkRosterLine(t, doc) {
			t.Fatalf("round %d: the direct path took %s", round, doc)
		}
	}
	for _, c := range rosterLineCases {
		took := checkRosterLine(t, []byte(c.doc))
		if took != c.direct {
			t.Errorf("%s: direct path %v, want %v", c.doc, took, c.direct)
		}
	}
}

// rosterLineCases are documents at the edges of the direct path, with
// whether it takes them.
var rosterLineCases = []struct {
	doc    string
	direct bool
}{
	{`{}`, true},
	{" \t\n{ \"id\" : \"a\" , \"year\" : -0 , \"grades\" : [ ] , \"paid\" : true }\r\n", true},
	{`{"grades":[1, -2 ,3],"due":-5,"subsidy":0,"fully_subsidised":false}`, true},
	{`{"due":999999999999999999}`, true},
	{`{"year":9999999999}`, strconv.IntSize == 64}, // beyond an int of 32 bits: an error there
	{`{"due":1000000000000000000}`, false},         // 19 digits: left to the general decoder
	{`{"due":9223372036854775808}`, false},         // out of range: invalid_money
	{`{"due":1.5}`, false},                         // a fraction: invalid_money
	{`{"due":1e3}`, false},                         // an exponent
	{`{"due":"280.00"}`, false},                    // a string
	{`{"due":01}`, false},                          // a leading zero: invalid JSON
	{`{"due":-}`, false},                           // no digits
	{`{"due":null}`, false},                        // null leaves it as it was
	{`{"year":2026.0}`, false},                     // an int with a fraction: an error
	{`{"grades":null}`, false},                     // null
	{`{"grades":[1,]}`, false},                     // a trailing comma
	{`{"grades":[1 2]}`, false},                    // no comma
	{`{"paid":truex}`, false},                      // a literal running on
	{`{"paid":1}`, false},                          // a number for a bool
	{`{"id":"a","id":"b"}`, false},                 // a repeated member: the later wins
	{`{"ID":"a"}`, false},                          // another case: matched all the same
	{`{"id":"a","other":[{"x":null}]}`, false},     // an unknown member: ignored
	{`{"id":"a\u0062"}`, false},                    // an escape
	{"{\"id\":\"a\tb\"}", false},                   // a raw control character: invalid
	{"{\"id\":\"\xff\"}", false},                   // invalid UTF-8: replaced
	{`{"id":"a",}`, false},                         // a trailing comma
	{`{"id":"a"} {}`, false},                       // trailing data
	{`{"id":"a"`, false},                           // cut short
	{`{"id":`, false},
	{`{"id":"a`, false},
	{`[]`, false},
	{`null`, false},
	{``, false},
}

// UnmarshalRosterLine agrees with the general decoder on any input, and
// the direct path never takes what the general decoder refuses or reads
// differently.
func FuzzUnmarshalRosterLine(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 8 {
		l := randomLine(r, []string{"", "张三丰", `a"b`, "370403001001"})
		f.Add(l.AppendJSON(nil))
	}
	for _, c := range rosterLineCases {
		f.Add([]byte(c.doc))
	}
	f.Add([]byte(strings.Repeat(`{"grades":[`, 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRosterLine(t, data)
	})
}

// The server's document of a typical line, by the direct path and by the
// general decoder it stands in for.
func BenchmarkUnmarshalRosterLine(b *testing.B) {
	l := syncproto.RosterLine{ID: "01JNM7Q8Z3X4Y5W6V7T8S9R0QP", Kind: syncproto.KindPension, Year: 2026, Name: "张三丰",
		Initials: "zsf", Masked: "370403********123X", IDHash: strings.Repeat("ab", 32), VillageCode: "370403001001",
		Category: "general", Due: 20000, Grades: []syncproto.Money{20000, 30000, 50000}}
	doc := l.AppendJSON(nil)
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			var got syncproto.RosterLine
			if err := syncproto.UnmarshalRosterLine(doc, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("v1", func(b *testing.B) {
		for b.Loop() {
			var got syncproto.RosterLine
			if err := jsonv1.Unmarshal(doc, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
