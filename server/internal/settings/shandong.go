package settings

import "villagesync/syncproto"

// The collection defaults shared by both Shandong 2026 settings: a
// four-month period, the dual limits and the 17:00 cutoff.
const (
	shandong2026PeriodStart = "2026-09-01"
	shandong2026PeriodEnd   = "2026-12-31"
	shandong2026TimeLimit   = 24
	shandong2026Cutoff      = "17:00"
)

// shandong2026CashLimit is the 限额 of the defaults: ¥20,000.
var shandong2026CashLimit = syncproto.Yuan(20000)

// specialGroups are the four special groups (特殊人群) in display order.
func specialGroups() []syncproto.Category {
	return []syncproto.Category{
		syncproto.CategoryPoverty, syncproto.CategoryDibao,
		syncproto.CategorySevereDisability, syncproto.CategoryTekun,
	}
}

// Shandong2026Pension returns realistic defaults for the residents' pension
// in region (a district or township code) for 2026, meant as a starting
// point and for the demo: Shandong's twelve grades of 100, 300, 500, 600,
// 800, 1000, 1500, 2000, 2500, 3000, 4000 and 5000 yuan, the 100-yuan grade
// only for the four special groups, and 代缴 of 100 yuan for each of them
// (the government pays their minimum grade in full, so at the minimum they
// owe nothing). The period, limits and cutoff are demo values: 2026-09-01
// to 2026-12-31, ¥20,000 and 24 hours, 17:00.
func Shandong2026Pension(region string) Year {
	y := Year{
		Year:           2026,
		Kind:           syncproto.KindPension,
		Region:         region,
		PeriodStart:    shandong2026PeriodStart,
		PeriodEnd:      shandong2026PeriodEnd,
		Subsidy:        map[syncproto.Category]syncproto.Money{},
		CashLimit:      shandong2026CashLimit,
		TimeLimitHours: shandong2026TimeLimit,
		Cutoff:         shandong2026Cutoff,
	}
	y.Grades = append(y.Grades, Grade{Amount: syncproto.Yuan(100), Categories: specialGroups()})
	for _, yuan := range []int64{300, 500, 600, 800, 1000, 1500, 2000, 2500, 3000, 4000, 5000} {
		y.Grades = append(y.Grades, Grade{Amount: syncproto.Yuan(yuan)})
	}
	for _, c := range specialGroups() {
		y.Subsidy[c] = syncproto.Yuan(100)
	}
	return y
}

// Shandong2026Medical returns defaults for the residents' medical insurance
// in region for 2026. They are demo data, realistic in shape but not an
// official notice: an individual premium of 400 yuan; 代缴 in full (400)
// for 特困人员 and 建档立卡贫困人口, half (200) for 低保对象 and 重度残疾人
// (many Shandong cities pay a share for these two), nothing for ordinary
// residents and newborns. The period, limits and cutoff are those of
// Shandong2026Pension.
func Shandong2026Medical(region string) Year {
	return Year{
		Year:        2026,
		Kind:        syncproto.KindMedical,
		Region:      region,
		PeriodStart: shandong2026PeriodStart,
		PeriodEnd:   shandong2026PeriodEnd,
		Premium:     syncproto.Yuan(400),
		Subsidy: map[syncproto.Category]syncproto.Money{
			syncproto.CategoryTekun:            syncproto.Yuan(400),
			syncproto.CategoryPoverty:          syncproto.Yuan(400),
			syncproto.CategoryDibao:            syncproto.Yuan(200),
			syncproto.CategorySevereDisability: syncproto.Yuan(200),
		},
		CashLimit:      shandong2026CashLimit,
		TimeLimitHours: shandong2026TimeLimit,
		Cutoff:         shandong2026Cutoff,
	}
}
