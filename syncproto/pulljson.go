package syncproto

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// AppendJSON appends r to b as JSON: the same document encoding/json
// writes, without its second pass over each change's Data. encoding/json
// re-validates and compacts every json.RawMessage it writes, which was a
// third of the server's time in a bootstrap of 10,000 roster lines. Data
// must be compact valid JSON, as json.Marshal makes it; the server makes
// every Data so.
func (r *PullResponse) AppendJSON(b []byte) []byte {
	n := 128 + len(r.Cursor) // grow b once, not by doubling: a page can be most of a megabyte
	for i := range r.Changes {
		c := &r.Changes[i]
		n += 64 + len(c.Stream) + len(c.Entity) + len(c.ID) + len(c.Op) + len(c.Data)
	}
	b = slices.Grow(b, n)
	b = append(b, `{"changes":`...)
	if r.Changes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Changes {
			c := &r.Changes[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, `{"stream":`, c.Stream)
			b = append(b, `,"seq":`...)
			b = strconv.AppendInt(b, c.Seq, 10)
			b = appendString(b, `,"entity":`, c.Entity)
			b = appendString(b, `,"id":`, c.ID)
			b = appendString(b, `,"op":`, c.Op)
			if len(c.Data) > 0 {
				b = append(b, `,"data":`...)
				b = append(b, c.Data...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendString(b, `,"cursor":`, r.Cursor)
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, r.HasMore)
	if r.Checkpoint != nil {
		b = append(b, `,"checkpoint":{"count":`...)
		b = strconv.AppendInt(b, int64(r.Checkpoint.Count), 10)
		b = appendString(b, `,"checksum":`, r.Checkpoint.Checksum)
		b = append(b, '}')
	}
	return append(b, '}')
}

// AppendJSON appends l to b as JSON, with the members, names and
// omissions of encoding/json's document of it (the server makes 10,000
// of these for a village's bootstrap; encoding/json took half of that
// work).
func (l *RosterLine) AppendJSON(b []byte) []byte {
	b = appendString(b, `{"id":`, l.ID)
	b = appendString(b, `,"kind":`, string(l.Kind))
	b = append(b, `,"year":`...)
	b = strconv.AppendInt(b, int64(l.Year), 10)
	b = appendString(b, `,"name":`, l.Name)
	b = appendString(b, `,"initials":`, l.Initials)
	b = appendString(b, `,"resident_id_masked":`, l.Masked)
	b = appendString(b, `,"id_hash":`, l.IDHash)
	b = appendString(b, `,"village_code":`, l.VillageCode)
	b = appendString(b, `,"category":`, string(l.Category))
	b = append(b, `,"due":`...)
	b = strconv.AppendInt(b, int64(l.Due), 10)
	b = append(b, `,"subsidy":`...)
	b = strconv.AppendInt(b, int64(l.Subsidy), 10)
	if len(l.Grades) > 0 {
		b = append(b, `,"grades":[`...)
		for i, g := range l.Grades {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(g), 10)
		}
		b = append(b, ']')
	}
	b = append(b, `,"fully_subsidised":`...)
	b = strconv.AppendBool(b, l.FullySubsidised)
	b = append(b, `,"paid":`...)
	b = strconv.AppendBool(b, l.Paid)
	if l.Review != "" {
		b = appendString(b, `,"review":`, l.Review)
	}
	return append(b, '}')
}

// appendString appends name (the JSON text before the value) and s as a
// JSON string. Each byte of invalid UTF-8 becomes U+FFFD, as encoding/json
// writes it.
func appendString(b []byte, name, s string) []byte {
	b = append(b, name...)
	if !utf8.ValidString(s) {
		var v strings.Builder
		for _, r := range s { // an invalid byte ranges as one utf8.RuneError
			v.WriteRune(r)
		}
		s = v.String()
	}
	b, _ = jsontext.AppendQuote(b, s) // fails only on invalid UTF-8, replaced above
	return b
}
