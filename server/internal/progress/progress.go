// Package progress computes how far the year's collection has come: per
// village of a township or per township of the district, the roster lines,
// the persons who paid, the share paid and the money collected, per
// insurance kind; and the same figures day by day over the collection
// period, drawn as a line chart (Chart) made on the server as SVG.
//
// Usage:
//
//	svc := progress.NewService(db, settingsService)
//	t, err := svc.Villages(ctx, 2027, "370403001") // one row per village
//	for _, r := range t.Rows {
//		_ = r.Pension.PercentText() // "66.7%"; r.Medical.Collected is fen
//	}
//	s, err := svc.OverTime(ctx, 2027, "", time.Now()) // "" = whole district
//	svg := progress.Chart(s.ByTownship(), "各镇街缴费进度") // template.HTML
//
// Paid means a collection that is neither voided nor refunded (the
// definition of the paid details); a person is counted once per kind
// however often they paid. The share paid is over the roster lines that
// are to be collected: lines the government pays in full (代缴) are
// collected by nobody and left out of it.
package progress

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Figures is the progress of one area and one insurance kind (or of both
// kinds together, counting person-kind pairs).
type Figures struct {
	// Roster is the number of roster lines (persons on the 征收清册).
	Roster int
	// Subsidised is the lines the government pays in full (代缴): nobody
	// collects them.
	Subsidised int
	// Paid is the persons with a paid collection.
	Paid int
	// Collected is the money of the paid collections.
	Collected syncproto.Money
}

// ToCollect is the roster lines someone has to collect: Roster less
// Subsidised.
func (f Figures) ToCollect() int { return f.Roster - f.Subsidised }

// Percent is Paid as a percentage of ToCollect; 0 when there is nothing
// to collect. It may exceed 100 when persons off the roster paid.
func (f Figures) Percent() float64 {
	if f.ToCollect() <= 0 {
		return 0
	}
	return float64(f.Paid) * 100 / float64(f.ToCollect())
}

// PercentText is Percent with one decimal and a percent sign ("66.7%"),
// or "—" when there is nothing to collect.
func (f Figures) PercentText() string {
	if f.ToCollect() <= 0 {
		return "—"
	}
	return strconv.FormatFloat(f.Percent(), 'f', 1, 64) + "%"
}

// add returns the sum of f and g.
func (f Figures) add(g Figures) Figures {
	return Figures{Roster: f.Roster + g.Roster, Subsidised: f.Subsidised + g.Subsidised,
		Paid: f.Paid + g.Paid, Collected: f.Collected + g.Collected}
}

// Row is the progress of one village or township.
type Row struct {
	Code    string
	Name    string
	Pension Figures
	Medical Figures
}

// Of returns the figures of kind.
func (r Row) Of(kind syncproto.Kind) Figures {
	if kind == syncproto.KindMedical {
		return r.Medical
	}
	return r.Pension
}

// Both is the figures of both kinds added (person-kind pairs).
func (r Row) Both() Figures { return r.Pension.add(r.Medical) }

// Table is the progress of a year per village of a township, or per
// township of the district, with the total.
type Table struct {
	Year int
	// Township is the township whose villages the rows are; "" when the
	// rows are the district's townships.
	Township string
	Rows     []Row
	Total    Row
}

// Service computes progress from the store.
type Service struct {
	db       *store.DB
	settings *settings.Service
}

// NewService returns the progress service; settings gives the collection
// period of OverTime.
func NewService(db *store.DB, s *settings.Service) *Service {
	return &Service{db: db, settings: s}
}

// Villages is the progress of a year per village of a township, every
// village listed even when it has no roster yet.
func (s *Service) Villages(ctx context.Context, year int, township string) (Table, error) {
	if township == "" {
		return Table{}, syncproto.Errorf(syncproto.CodeInvalidInput, "township is required", "请指定镇街")
	}
	vs, err := s.db.Villages(ctx, township)
	if err != nil {
		return Table{}, err
	}
	areas := make([]area, len(vs))
	for i, v := range vs {
		areas[i] = area{v.Code, v.Name}
	}
	return s.table(ctx, year, township, areas)
}

// Townships is the progress of a year per township of the district.
func (s *Service) Townships(ctx context.Context, year int) (Table, error) {
	ts, err := s.db.Townships(ctx)
	if err != nil {
		return Table{}, err
	}
	areas := make([]area, len(ts))
	for i, t := range ts {
		areas[i] = area{t.Code, t.Name}
	}
	return s.table(ctx, year, "", areas)
}

// area is a village or township: code and name.
type area struct{ code, name string }

// table fills a row per area with the counts of the store; a code counted
// but not among areas (it should not happen) gets a row named by its code.
func (s *Service) table(ctx context.Context, year int, township string, areas []area) (Table, error) {
	counts, err := s.db.ProgressRoster(ctx, year, township)
	if err != nil {
		return Table{}, fmt.Errorf("progress: %w", err)
	}
	paid, err := s.db.ProgressPaid(ctx, year, township)
	if err != nil {
		return Table{}, fmt.Errorf("progress: %w", err)
	}
	counts = append(counts, paid...)
	t := Table{Year: year, Township: township, Rows: make([]Row, 0, len(areas))}
	index := make(map[string]int, len(areas))
	for _, a := range areas {
		index[a.code] = len(t.Rows)
		t.Rows = append(t.Rows, Row{Code: a.code, Name: a.name})
	}
	for _, c := range counts {
		i, ok := index[c.Code]
		if !ok {
			i = len(t.Rows)
			index[c.Code] = i
			t.Rows = append(t.Rows, Row{Code: c.Code, Name: c.Code})
		}
		f := Figures{Roster: c.Roster, Subsidised: c.Subsidised, Paid: c.Paid, Collected: syncproto.Money(c.AmountFen)}
		switch syncproto.Kind(c.Kind) {
		case syncproto.KindPension:
			t.Rows[i].Pension = t.Rows[i].Pension.add(f)
		case syncproto.KindMedical:
			t.Rows[i].Medical = t.Rows[i].Medical.add(f)
		}
	}
	slices.SortStableFunc(t.Rows, func(a, b Row) int {
		if a.Code < b.Code {
			return -1
		}
		if a.Code > b.Code {
			return 1
		}
		return 0
	})
	t.Total = Row{Name: "合计"}
	for _, r := range t.Rows {
		t.Total.Pension = t.Total.Pension.add(r.Pension)
		t.Total.Medical = t.Total.Medical.add(r.Medical)
	}
	return t, nil
}

// shanghai is the zone of business days.
var shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}()

// civilDay returns t's Asia/Shanghai date at UTC midnight.
func civilDay(t time.Time) time.Time {
	y, m, d := t.In(shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
