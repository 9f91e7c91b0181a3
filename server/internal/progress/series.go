package progress

import (
	"context"
	"fmt"
	"time"

	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// Line is one line of the chart: the cumulative progress, day by day, of
// a township and kind, of a kind over every township (Township ""), or of
// a township over both kinds (Kind "").
type Line struct {
	Township string
	Kind     syncproto.Kind
	// Label names the line in the legend: the township's name or the
	// kind's short label (养老保险).
	Label string
	// ToCollect is the roster lines to collect (see Figures.ToCollect).
	ToCollect int
	// Paid is the persons paid by the end of each day of Series.Days.
	Paid []int
	// Collected is the money paid by the end of each day.
	Collected []syncproto.Money
}

// Percent is the share paid at the end of day i, in percent of
// ToCollect; 0 when there is nothing to collect.
func (l Line) Percent(i int) float64 {
	if l.ToCollect <= 0 {
		return 0
	}
	return float64(l.Paid[i]) * 100 / float64(l.ToCollect)
}

// Series is the progress of a year over the business days of the
// collection period, for one township or the whole district.
type Series struct {
	Year int
	// Township is the township counted; "" for the whole district.
	Township string
	// Days are the business days (Asia/Shanghai civil dates, at UTC
	// midnight), from the start of the period to its end or to the day of
	// the through argument of OverTime, whichever is first.
	Days []time.Time
	// Lines are one per township and kind, by township code, pension
	// before medical.
	Lines []Line
}

// kinds are the insurance kinds in the order of lines and tables.
var kinds = []syncproto.Kind{syncproto.KindPension, syncproto.KindMedical}

// OverTime is the progress of a year day by day over its collection
// period, per township and kind, of one township or of the district ("").
// The period is the union of the periods of the year settings that apply
// (both kinds; for the district, every region's row). The days run up to
// the business day of through when it falls inside the period. Money paid
// before the first day counts on the first day, and after the last day on
// the last: the last point is always the figures as they stand. Figures
// are as they stand now: a payment voided or refunded later never counts,
// not even on the days before.
func (s *Service) OverTime(ctx context.Context, year int, township string, through time.Time) (Series, error) {
	first, last, err := s.period(ctx, year, township)
	if err != nil {
		return Series{}, err
	}
	if end := civilDay(through); end.Before(last) {
		last = end
		if last.Before(first) {
			last = first
		}
	}
	series := Series{Year: year, Township: township}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		series.Days = append(series.Days, d)
	}

	ts, err := s.db.Townships(ctx)
	if err != nil {
		return Series{}, err
	}
	counts, err := s.db.ProgressRoster(ctx, year, "")
	if err != nil {
		return Series{}, fmt.Errorf("progress: %w", err)
	}
	days, err := s.db.ProgressDays(ctx, year, township)
	if err != nil {
		return Series{}, fmt.Errorf("progress: %w", err)
	}
	index := map[[2]string]int{}
	for _, t := range ts {
		if township != "" && t.Code != township {
			continue
		}
		for _, k := range kinds {
			index[[2]string{t.Code, string(k)}] = len(series.Lines)
			series.Lines = append(series.Lines, Line{Township: t.Code, Kind: k, Label: t.Name,
				Paid: make([]int, len(series.Days)), Collected: make([]syncproto.Money, len(series.Days))})
		}
	}
	for _, c := range counts {
		if i, ok := index[[2]string{c.Code, c.Kind}]; ok {
			series.Lines[i].ToCollect = c.Roster - c.Subsidised
		}
	}
	// Add each day's figures at its position, then run the sums.
	for _, d := range days {
		i, ok := index[[2]string{d.Township, d.Kind}]
		if !ok {
			continue
		}
		pos := int(d.Day.Sub(first).Hours() / 24)
		pos = min(max(pos, 0), len(series.Days)-1)
		series.Lines[i].Paid[pos] += d.NewPaid
		series.Lines[i].Collected[pos] += syncproto.Money(d.AmountFen)
	}
	for i := range series.Lines {
		l := &series.Lines[i]
		for j := 1; j < len(series.Days); j++ {
			l.Paid[j] += l.Paid[j-1]
			l.Collected[j] += l.Collected[j-1]
		}
	}
	return series, nil
}

// period returns the first and last day of the collection period of a
// year for a township (resolved per kind) or the district (every row).
func (s *Service) period(ctx context.Context, year int, township string) (first, last time.Time, err error) {
	rows, err := s.settings.All(ctx, year)
	if err != nil {
		return first, last, err
	}
	var apply []settings.Year
	if township == "" {
		apply = rows
	} else {
		for _, k := range kinds {
			if y, ok := settings.Resolve(rows, k, year, township); ok {
				apply = append(apply, y)
			}
		}
	}
	for _, y := range apply {
		start, err1 := time.Parse(time.DateOnly, y.PeriodStart)
		end, err2 := time.Parse(time.DateOnly, y.PeriodEnd)
		if err1 != nil || err2 != nil || end.Before(start) {
			return first, last, fmt.Errorf("progress: settings %s %d %s: bad period %q–%q", y.Kind, y.Year, y.Region, y.PeriodStart, y.PeriodEnd)
		}
		if first.IsZero() || start.Before(first) {
			first = start
		}
		if last.IsZero() || end.After(last) {
			last = end
		}
	}
	if first.IsZero() {
		return first, last, syncproto.Errorf(syncproto.CodeNotFound,
			fmt.Sprintf("no collection period is set for %d", year), fmt.Sprintf("%d 年度未设置征收期", year))
	}
	return first, last, nil
}

// ByKind returns s with one line per kind, summed over its townships,
// labelled 养老保险 and 医疗保险.
func (s Series) ByKind() Series {
	out := Series{Year: s.Year, Township: s.Township, Days: s.Days}
	for _, k := range kinds {
		l := Line{Kind: k, Label: k.ShortLabel()}
		out.Lines = append(out.Lines, sumLines(l, s.Lines, len(s.Days), func(x Line) bool { return x.Kind == k }))
	}
	return out
}

// ByTownship returns s with one line per township, both kinds added
// (person-kind pairs), labelled with the township's name.
func (s Series) ByTownship() Series {
	out := Series{Year: s.Year, Township: s.Township, Days: s.Days}
	for _, x := range s.Lines {
		if x.Kind != kinds[0] {
			continue
		}
		l := Line{Township: x.Township, Label: x.Label}
		out.Lines = append(out.Lines, sumLines(l, s.Lines, len(s.Days), func(y Line) bool { return y.Township == x.Township }))
	}
	return out
}

// sumLines fills l with the sum of the lines that keep selects.
func sumLines(l Line, lines []Line, days int, keep func(Line) bool) Line {
	l.Paid = make([]int, days)
	l.Collected = make([]syncproto.Money, days)
	for _, x := range lines {
		if !keep(x) {
			continue
		}
		l.ToCollect += x.ToCollect
		for i := range days {
			l.Paid[i] += x.Paid[i]
			l.Collected[i] += x.Collected[i]
		}
	}
	return l
}
