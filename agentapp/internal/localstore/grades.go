package localstore

import (
	"encoding/json"
	"strconv"
	"strings"

	"villagesync/syncproto"
)

// encodeGrades is the stored form of a line's grades: a JSON array of fen,
// as json.Marshal writes it ("[]" for none), without its reflection (it
// ran for each of a bootstrap's lines).
func encodeGrades(gs []syncproto.Money) string {
	b := make([]byte, 0, 2+8*len(gs))
	b = append(b, '[')
	for i, g := range gs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(g), 10)
	}
	return string(append(b, ']'))
}

// decodeGrades reads the stored grades: the plain form encodeGrades
// writes directly, anything else through encoding/json.
func decodeGrades(s string) ([]syncproto.Money, error) {
	if s == "[]" {
		return nil, nil
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			out := make([]syncproto.Money, 0, strings.Count(inner, ",")+1)
			plain := true
			for f := range strings.SplitSeq(inner, ",") {
				n, err := strconv.ParseInt(f, 10, 64)
				if err != nil || strconv.FormatInt(n, 10) != f {
					plain = false
					break
				}
				out = append(out, syncproto.Money(n))
			}
			if plain {
				return out, nil
			}
		}
	}
	var out []syncproto.Money
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		out = nil
	}
	return out, nil
}
