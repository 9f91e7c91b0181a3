package syncproto

import (
	"bytes"
	"strings"
	"unicode/utf8"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// UnmarshalRosterLine decodes data into *l, replacing what l held, as
// go-json-experiment's v1 Unmarshal does (encoding/json's behaviour: names
// matched without regard to case, unknown members ignored, invalid UTF-8
// replaced, Money checked by its UnmarshalJSON; some error texts differ
// from encoding/json's).
//
// A tablet decodes every roster line of its village when it bootstraps
// (10,000 for 5,000 residents), and the general decoder took a quarter of
// the tablet's time there. The lines the server writes (RosterLine.AppendJSON)
// take a direct path: an object of this type's member names, each once,
// with strings free of escapes and control characters, integers and
// booleans. Anything else — escapes, null, fractions, unknown or repeated
// members, other spellings of a name — goes to the general decoder, so
// the result and the error are the same either way
// (FuzzUnmarshalRosterLine checks it).
func UnmarshalRosterLine(data []byte, l *RosterLine) error {
	var x RosterLine
	if decodeRosterLine(data, &x) {
		*l = x
		return nil
	}
	*l = RosterLine{}
	return jsonv1.Unmarshal(data, l)
}

// The members of a roster line: its strings first, as indexes of
// decodeRosterLine's spans, then the rest; as bits, a set of those seen.
const (
	rlID = iota
	rlKind
	rlName
	rlInitials
	rlMasked
	rlIDHash
	rlVillage
	rlCategory
	rlReview
	rlStrings // the number of string members
	rlYear    = iota - 1
	rlDue
	rlSubsidy
	rlGrades
	rlFully
	rlPaid
)

// rlMember is the member named name, or -1.
func rlMember(name []byte) int {
	switch string(name) {
	case "id":
		return rlID
	case "kind":
		return rlKind
	case "name":
		return rlName
	case "initials":
		return rlInitials
	case "resident_id_masked":
		return rlMasked
	case "id_hash":
		return rlIDHash
	case "village_code":
		return rlVillage
	case "category":
		return rlCategory
	case "review":
		return rlReview
	case "year":
		return rlYear
	case "due":
		return rlDue
	case "subsidy":
		return rlSubsidy
	case "grades":
		return rlGrades
	case "fully_subsidised":
		return rlFully
	case "paid":
		return rlPaid
	}
	return -1
}

// decodeRosterLine is UnmarshalRosterLine's direct path. It reports false
// on anything outside it, leaving l part-filled. The line's strings share
// one allocation.
func decodeRosterLine(data []byte, l *RosterLine) bool {
	d := lineDecoder{b: data}
	if !d.byte('{') {
		return false
	}
	var spans [rlStrings][]byte // each string member's bytes in data
	seen := 0
	if d.peek() == '}' {
		d.i++
	} else {
		for done := false; !done; {
			name, ok := d.str()
			if !ok || !d.byte(':') {
				return false
			}
			m := rlMember(name)
			if m < 0 || seen&(1<<m) != 0 {
				return false
			}
			seen |= 1 << m
			switch m {
			case rlYear:
				var n int64
				n, ok = d.int()
				l.Year = int(n)
				ok = ok && int64(l.Year) == n // an int of 32 bits: out of its range is the general decoder's error
			case rlDue:
				var n int64
				n, ok = d.int()
				l.Due = Money(n)
			case rlSubsidy:
				var n int64
				n, ok = d.int()
				l.Subsidy = Money(n)
			case rlGrades:
				l.Grades, ok = d.grades()
			case rlFully:
				l.FullySubsidised, ok = d.bool()
			case rlPaid:
				l.Paid, ok = d.bool()
			default:
				spans[m], ok = d.str()
			}
			if !ok {
				return false
			}
			switch d.next() {
			case ',':
			case '}':
				done = true
			default:
				return false
			}
		}
	}
	if !d.end() {
		return false
	}
	n := 0
	for _, b := range spans {
		n += len(b)
	}
	var buf strings.Builder
	buf.Grow(n)
	for _, b := range spans {
		buf.Write(b)
	}
	all := buf.String()
	strs := [rlStrings]*string{rlID: &l.ID, rlKind: (*string)(&l.Kind), rlName: &l.Name, rlInitials: &l.Initials,
		rlMasked: &l.Masked, rlIDHash: &l.IDHash, rlVillage: &l.VillageCode, rlCategory: (*string)(&l.Category),
		rlReview: &l.Review}
	for m, b := range spans {
		*strs[m], all = all[:len(b)], all[len(b):]
	}
	return true
}

// lineDecoder reads the direct path's JSON: b from position i.
type lineDecoder struct {
	b []byte
	i int
}

// skip passes JSON whitespace.
func (d *lineDecoder) skip() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek is the next byte after whitespace, 0 at the end.
func (d *lineDecoder) peek() byte {
	d.skip()
	if d.i == len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// next consumes and returns the next byte after whitespace, 0 at the end.
func (d *lineDecoder) next() byte {
	c := d.peek()
	if c != 0 {
		d.i++
	}
	return c
}

func (d *lineDecoder) byte(c byte) bool { return d.next() == c }

// end reports whether only whitespace is left.
func (d *lineDecoder) end() bool {
	d.skip()
	return d.i == len(d.b)
}

// str reads a string with no escapes, no control characters and valid
// UTF-8; the result aliases b.
func (d *lineDecoder) str() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	j := bytes.IndexByte(d.b[d.i:], '"')
	if j < 0 {
		return nil, false
	}
	s := d.b[d.i : d.i+j]
	d.i += j + 1
	ascii := true
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, false // an escape (the quote found may be escaped) or a raw control character
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return s, ascii || utf8.Valid(s)
}

// int reads an integer: an optional minus, then 0 or digits not starting
// with 0, of at most 18 digits (always within int64), not followed by a
// fraction or an exponent.
func (d *lineDecoder) int() (int64, bool) {
	d.skip()
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
	}
	digits := d.i
	var v int64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		v = v*10 + int64(d.b[d.i]-'0')
		d.i++
	}
	n := d.i - digits
	if n == 0 || n > 18 || (n > 1 && d.b[digits] == '0') {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// bool reads true or false.
func (d *lineDecoder) bool() (bool, bool) {
	d.skip()
	rest := d.b[d.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.i += 4
		return true, d.delimited()
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.i += 5
		return false, d.delimited()
	}
	return false, false
}

// delimited reports whether a literal just read ends there, not running
// on into more letters ("truex").
func (d *lineDecoder) delimited() bool {
	if d.i == len(d.b) {
		return true
	}
	switch d.b[d.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// grades reads an array of integers; [] is an empty, not a nil, slice.
func (d *lineDecoder) grades() ([]Money, bool) {
	if !d.byte('[') {
		return nil, false
	}
	if d.peek() == ']' {
		d.i++
		return []Money{}, true
	}
	n := 1 // the grades up to the first ']', to size the slice once
	if end := bytes.IndexByte(d.b[d.i:], ']'); end > 0 {
		n += bytes.Count(d.b[d.i:d.i+end], []byte{','})
	}
	g := make([]Money, 0, n)
	for {
		n, ok := d.int()
		if !ok {
			return nil, false
		}
		g = append(g, Money(n))
		switch d.next() {
		case ',':
		case ']':
			return g, true
		default:
			return nil, false
		}
	}
}
