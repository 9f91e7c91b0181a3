// Package settings holds the year settings of the collection as data: per
// insurance kind, coverage year (缴费年度) and region, the collection
// period, the pension grades, the medical premium, what the government pays
// on behalf of each special group (代缴), the dual limits (双限) and the
// daily cutoff. Amounts change by year and region, so they are never
// constants in code; this package only knows the rules that relate them.
// The rules do no I/O; Service (service.go) stores the settings.
package settings

import (
	"slices"
	"sync"
	"time"

	"villagesync/syncproto"
)

// Grade is one annual contribution level a pension payer may choose.
type Grade struct {
	// Amount is the annual contribution in fen.
	Amount syncproto.Money `json:"amount"`
	// Categories restricts the grade to these payer groups; empty means the
	// grade is open to everyone. Shandong's 100-yuan grade is open only to
	// the special groups.
	Categories []syncproto.Category `json:"categories,omitempty"`
}

// openTo reports whether a payer of category cat may choose g.
func (g Grade) openTo(cat syncproto.Category) bool {
	return len(g.Categories) == 0 || slices.Contains(g.Categories, cat)
}

// Year is the settings of one insurance kind for one coverage year in one
// region. A district row (6-digit Region) applies to all its townships; a
// township row (9-digit Region) overrides it for that township (see
// Resolve). A change to a Year applies to what is collected afterwards and
// never rewrites past collections; that is the caller's duty.
type Year struct {
	// Year is the coverage year (缴费年度), e.g. 2026.
	Year int `json:"year"`
	// Kind is the insurance the settings are for.
	Kind syncproto.Kind `json:"kind"`
	// Region is a district code (6 digits) or a township code (9 digits,
	// an override of its district's row).
	Region string `json:"region"`
	// PeriodStart and PeriodEnd are the collection period as civil dates
	// ("2026-10-28") in Asia/Shanghai, both inclusive.
	PeriodStart string `json:"period_start"`
	PeriodEnd   string `json:"period_end"`
	// Grades are the allowed annual pension grades in ascending order;
	// pension only, empty for medical.
	Grades []Grade `json:"grades,omitempty"`
	// Premium is the medical individual premium (个人缴费标准) for the
	// year; medical only, zero for pension.
	Premium syncproto.Money `json:"premium,omitempty"`
	// Subsidy is what the government pays on behalf of a person of the
	// category (代缴): part or all of the minimum pension grade, or part or
	// all of the medical premium. A missing category means zero. Only the
	// special groups (syncproto.Category.Special) may have one.
	Subsidy map[syncproto.Category]syncproto.Money `json:"subsidy,omitempty"`
	// CashLimit is the cash an agent may hold before remitting (限额).
	CashLimit syncproto.Money `json:"cash_limit"`
	// TimeLimitHours is how long an agent may hold cash before remitting
	// (限时).
	TimeLimitHours int `json:"time_limit_hours"`
	// Cutoff is the daily cutoff as "HH:MM" in Asia/Shanghai: cash
	// collected after it belongs to the next day's remittance batch.
	Cutoff string `json:"cutoff"`
}

// shanghai is the zone of civil dates and the cutoff. The fixed UTC+8
// fallback is exact since 1991 and only used without tzdata (both binaries
// embed time/tzdata).
var shanghai = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
})

// dateLayout is the civil date format of PeriodStart and PeriodEnd.
const dateLayout = "2006-01-02"

// GradeAllowed reports whether a payer of category cat may pay amount for
// the year in full (before 代缴): for pension, amount is one of the grades
// open to cat; for medical, it is the premium.
func (y Year) GradeAllowed(cat syncproto.Category, amount syncproto.Money) bool {
	switch y.Kind {
	case syncproto.KindPension:
		for _, g := range y.Grades {
			if g.Amount == amount && g.openTo(cat) {
				return true
			}
		}
	case syncproto.KindMedical:
		return y.Premium > 0 && amount == y.Premium
	}
	return false
}

// MinGrade returns the smallest full amount a payer of category cat may
// pay: the lowest pension grade open to cat, or the medical premium. It is
// false when there is none.
func (y Year) MinGrade(cat syncproto.Category) (syncproto.Money, bool) {
	switch y.Kind {
	case syncproto.KindPension:
		var lowest syncproto.Money
		found := false
		for _, g := range y.Grades {
			if g.openTo(cat) && (!found || g.Amount < lowest) {
				lowest, found = g.Amount, true
			}
		}
		return lowest, found
	case syncproto.KindMedical:
		return y.Premium, y.Premium > 0
	}
	return 0, false
}

// Due is what a payer of category cat pays personally at the minimum: the
// medical premium, or the minimum pension grade, less the 代缴 subsidy,
// never below zero. It is zero when cat has no grade at all.
func (y Year) Due(cat syncproto.Category) syncproto.Money {
	base, ok := y.MinGrade(cat)
	if !ok {
		return 0
	}
	return max(0, base-y.Subsidy[cat])
}

// FullySubsidised reports whether the government pays the whole minimum for
// category cat (Due is zero because of 代缴). Such a person owes nothing and
// is collected by nobody.
func (y Year) FullySubsidised(cat syncproto.Category) bool {
	base, ok := y.MinGrade(cat)
	return ok && y.Subsidy[cat] > 0 && y.Subsidy[cat] >= base
}

// InPeriod reports whether t's civil date in Asia/Shanghai lies within the
// collection period, both ends included. It is false when the period does
// not parse.
func (y Year) InPeriod(t time.Time) bool {
	start, err1 := time.ParseInLocation(dateLayout, y.PeriodStart, time.UTC)
	end, err2 := time.ParseInLocation(dateLayout, y.PeriodEnd, time.UTC)
	if err1 != nil || err2 != nil {
		return false
	}
	yy, mm, dd := t.In(shanghai()).Date()
	day := time.Date(yy, mm, dd, 0, 0, 0, 0, time.UTC)
	return !day.Before(start) && !day.After(end)
}

// Resolve picks the effective settings of kind and year for a township
// from rows: the township's own row (Region == townshipCode) when there is
// one, else its district's (Region == the township code's first six
// digits). It is false when neither exists.
func Resolve(rows []Year, kind syncproto.Kind, year int, townshipCode string) (Year, bool) {
	district := ""
	if len(townshipCode) >= 6 {
		district = townshipCode[:6]
	}
	var found Year
	ok := false
	for _, r := range rows {
		if r.Kind != kind || r.Year != year {
			continue
		}
		switch r.Region {
		case townshipCode:
			return r, true
		case district:
			found, ok = r, true
		}
	}
	return found, ok
}
