package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// rosterQuery reads what the agent typed: a full resident ID (found by its
// keyed hash), the last 4–6 characters of one (the tablet holds only the
// masked ID, whose last four are visible, so only those are compared),
// Latin letters (pinyin initials or a Latin name), or a part of a name.
// note is set when the query was understood with a limit.
func (c *cli) rosterQuery(ctx context.Context, q string) (rq localstore.RosterQuery, note string, err error) {
	q = strings.TrimSpace(q)
	upper := strings.ToUpper(q)
	switch {
	case q == "":
		return rq, "", nil // the whole roster, up to --limit
	case len(upper) == 18 && isIDText(upper):
		id, err := syncproto.ParseResidentID(upper, c.now())
		if err != nil {
			return rq, "", err
		}
		set, err := c.store.Settings(ctx)
		if errors.Is(err, localstore.ErrNotFound) {
			return rq, "", syncproto.Errorf(collect.CodeNoSettings, "no settings from the server yet: sync first",
				"本机尚未从服务器获取设置：请先同步")
		}
		if err != nil {
			return rq, "", err
		}
		rq.IDHash = syncproto.IDHash(set.IDHashKey, id)
	case len(upper) >= 4 && len(upper) <= 6 && isIDText(upper):
		rq.Last4 = upper[len(upper)-4:]
		if len(upper) > 4 {
			note = "本机只保存身份证号后 4 位，按后 4 位 " + rq.Last4 + " 查找 / the tablet holds only the last 4 characters: matched on " + rq.Last4
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

func (c *cli) roster(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "search" {
		return usageError{errors.New("usage: agentapp roster search QUERY [--kind pension|medical] [--json]")}
	}
	fs := c.newFlags("roster search")
	kind := fs.String("kind", "", "pension or medical")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 50, "at most this many lines")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	rq, note, err := c.rosterQuery(ctx, strings.Join(pos, " "))
	if err != nil {
		return err
	}
	if *kind != "" {
		if rq.Kind, err = syncproto.ParseKind(*kind); err != nil {
			return err
		}
	}
	rq.Limit = *limit
	lines, err := c.store.SearchRoster(ctx, rq)
	if err != nil {
		return err
	}
	if *asJSON {
		if lines == nil {
			lines = []localstore.RosterLine{}
		}
		return c.printJSON(lines)
	}
	if note != "" {
		fmt.Fprintln(c.stdout, note)
	}
	if len(lines) == 0 {
		fmt.Fprintln(c.stdout, "未找到 nothing found（清册可能需要同步 the roster may need a sync）")
		return nil
	}
	rows := [][]string{{"清册行 ID", "姓名", "身份证号", "险种", "年度", "类别", "应缴", "代缴", "档次", "状态"}}
	for _, l := range lines {
		rows = append(rows, []string{l.ID, l.Name, l.Masked, l.Kind.ShortLabel(), fmt.Sprint(l.Year), l.Category.Label(),
			l.Due.String(), l.Subsidy.String(), grades(l.Grades), lineState(l.RosterLine)})
	}
	return writeTable(c.stdout, rows)
}

func grades(gs []syncproto.Money) string {
	if len(gs) == 0 {
		return "-"
	}
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = strings.TrimSuffix(g.String(), ".00")
	}
	return strings.Join(parts, "/")
}

func lineState(l syncproto.RosterLine) string {
	var s []string
	if l.FullySubsidised {
		s = append(s, "全额代缴")
	}
	if l.Paid {
		s = append(s, "已缴")
	}
	if l.Review != "" {
		s = append(s, "待核:"+l.Review)
	}
	if len(s) == 0 {
		return "未缴"
	}
	return strings.Join(s, ",")
}
