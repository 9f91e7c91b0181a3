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

// rosterQuery reads what the agent typed (see collect.RosterQuery: a name
// part, pinyin initials, a full resident ID or its last 4–6 characters).
// note is set when the query was understood with a limit.
func (c *cli) rosterQuery(ctx context.Context, q string) (localstore.RosterQuery, string, error) {
	rq, note, err := collect.New(c.store, c.now).RosterQuery(ctx, q)
	if note != "" && rq.Last4 != "" {
		note += " / the tablet holds only the last 4 characters: matched on " + rq.Last4
	}
	return rq, note, err
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
