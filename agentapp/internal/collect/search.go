package collect

import (
	"context"
	"strings"

	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// RosterQuery reads what the agent typed into a roster search: a full
// resident ID (found by its keyed hash, which needs the settings), the
// last 4–6 characters of one (the tablet holds only the masked ID, whose
// last four are visible, so only those are compared), Latin letters
// (pinyin initials or a Latin name), or a part of a name. note (Chinese)
// is set when the query was understood with a limit.
func (s *Service) RosterQuery(ctx context.Context, text string) (rq localstore.RosterQuery, note string, err error) {
	q := strings.TrimSpace(text)
	upper := strings.ToUpper(q)
	switch {
	case q == "":
	case len(upper) == 18 && isIDText(upper):
		id, err := syncproto.ParseResidentID(upper, s.now())
		if err != nil {
			return rq, "", err
		}
		set, err := s.settings(ctx)
		if err != nil {
			return rq, "", err
		}
		rq.IDHash = syncproto.IDHash(set.IDHashKey, id)
	case len(upper) >= 4 && len(upper) <= 6 && isIDText(upper):
		rq.Last4 = upper[len(upper)-4:]
		if len(upper) > 4 {
			note = "本机只保存身份证号后 4 位，按后 4 位 " + rq.Last4 + " 查找"
		}
	case isLatin(q):
		rq.Initials, rq.Name = strings.ToLower(q), q
	default:
		rq.Name = q
	}
	return rq, note, nil
}

// isIDText reports whether s is digits with an optional final X.
func isIDText(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9') && !(s[i] == 'X' && i == len(s)-1) {
			return false
		}
	}
	return true
}

func isLatin(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == ' ') {
			return false
		}
	}
	return true
}
