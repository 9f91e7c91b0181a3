package syncproto

import (
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
func (r *PullResponse) AppendJSON(b []byte) ([]byte, error) {
	var err error
	str := func(name, s string) {
		if err == nil {
			b = append(b, name...)
			b, err = appendQuote(b, s)
		}
	}
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
			str(`{"stream":`, c.Stream)
			b = append(b, `,"seq":`...)
			b = strconv.AppendInt(b, c.Seq, 10)
			str(`,"entity":`, c.Entity)
			str(`,"id":`, c.ID)
			str(`,"op":`, c.Op)
			if len(c.Data) > 0 {
				b = append(b, `,"data":`...)
				b = append(b, c.Data...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	str(`,"cursor":`, r.Cursor)
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, r.HasMore)
	if r.Checkpoint != nil {
		b = append(b, `,"checkpoint":{"count":`...)
		b = strconv.AppendInt(b, int64(r.Checkpoint.Count), 10)
		str(`,"checksum":`, r.Checkpoint.Checksum)
		b = append(b, '}')
	}
	return append(b, '}'), err
}

// AppendJSON appends l to b as JSON, with the members, names and
// omissions of encoding/json's document of it (the server makes 10,000
// of these for a village's bootstrap; encoding/json took half of that
// work).
func (l *RosterLine) AppendJSON(b []byte) ([]byte, error) {
	var err error
	str := func(name, s string) {
		if err == nil {
			b = append(b, name...)
			b, err = appendQuote(b, s)
		}
	}
	str(`{"id":`, l.ID)
	str(`,"kind":`, string(l.Kind))
	b = append(b, `,"year":`...)
	b = strconv.AppendInt(b, int64(l.Year), 10)
	str(`,"name":`, l.Name)
	str(`,"initials":`, l.Initials)
	str(`,"resident_id_masked":`, l.Masked)
	str(`,"id_hash":`, l.IDHash)
	str(`,"village_code":`, l.VillageCode)
	str(`,"category":`, string(l.Category))
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
		str(`,"review":`, l.Review)
	}
	return append(b, '}'), err
}

// appendQuote appends s as a JSON string; each byte of invalid UTF-8
// becomes U+FFFD, as encoding/json writes it.
func appendQuote(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		var v strings.Builder
		for _, r := range s { // an invalid byte ranges as one utf8.RuneError
			v.WriteRune(r)
		}
		s = v.String()
	}
	return jsontext.AppendQuote(b, s)
}
