package settings_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

const district = "370403"

var (
	yuan = syncproto.Yuan

	general    = syncproto.CategoryGeneral
	newborn    = syncproto.CategoryNewborn
	poverty    = syncproto.CategoryPoverty
	dibao      = syncproto.CategoryDibao
	disability = syncproto.CategorySevereDisability
	tekun      = syncproto.CategoryTekun
)

func pension() settings.Year { return settings.Shandong2026Pension(district) }
func medical() settings.Year { return settings.Shandong2026Medical(district) }

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		year   settings.Year
		change func(*settings.Year)
		field  string // field named in the message when an error is expected
	}{
		{name: "OKPension", year: pension()},
		{name: "OKMedical", year: medical()},
		{name: "OKTownshipRegion", year: pension(), change: func(y *settings.Year) { y.Region = "370403101" }},
		{name: "OKOneDayPeriod", year: medical(), change: func(y *settings.Year) { y.PeriodStart, y.PeriodEnd = "2026-10-28", "2026-10-28" }},
		{name: "OKPeriodYearBefore", year: medical(), change: func(y *settings.Year) { y.PeriodStart = "2025-09-01" }},
		{name: "OKNoSubsidy", year: medical(), change: func(y *settings.Year) { y.Subsidy = nil }},
		{name: "OKZeroSubsidyGeneral", year: medical(), change: func(y *settings.Year) { y.Subsidy[general] = 0 }},
		{name: "OKCutoffMidnight", year: medical(), change: func(y *settings.Year) { y.Cutoff = "00:00" }},
		{name: "OKCutoffLast", year: medical(), change: func(y *settings.Year) { y.Cutoff = "23:59" }},
		{name: "ErrYearZero", year: medical(), change: func(y *settings.Year) { y.Year = 0 }, field: "year"},
		{name: "ErrYearFar", year: medical(), change: func(y *settings.Year) { y.Year = 2101 }, field: "year"},
		{name: "ErrKindEmpty", year: medical(), change: func(y *settings.Year) { y.Kind = "" }, field: "kind"},
		{name: "ErrKindUnknown", year: medical(), change: func(y *settings.Year) { y.Kind = "unemployment" }, field: "kind"},
		{name: "ErrRegionEmpty", year: medical(), change: func(y *settings.Year) { y.Region = "" }, field: "region"},
		{name: "ErrRegionVillage", year: medical(), change: func(y *settings.Year) { y.Region = "370403101201" }, field: "region"},
		{name: "ErrRegionLetters", year: medical(), change: func(y *settings.Year) { y.Region = "37040A" }, field: "region"},
		{name: "ErrPeriodStartFormat", year: medical(), change: func(y *settings.Year) { y.PeriodStart = "2026/09/01" }, field: "period_start"},
		{name: "ErrPeriodStartImpossible", year: medical(), change: func(y *settings.Year) { y.PeriodStart = "2026-02-30" }, field: "period_start"},
		{name: "ErrPeriodEndEmpty", year: medical(), change: func(y *settings.Year) { y.PeriodEnd = "" }, field: "period_end"},
		{name: "ErrPeriodReversed", year: medical(), change: func(y *settings.Year) { y.PeriodStart, y.PeriodEnd = "2026-12-01", "2026-11-30" }, field: "period_end"},
		{name: "ErrPeriodTooEarly", year: medical(), change: func(y *settings.Year) { y.PeriodStart = "2024-12-31" }, field: "period_start"},
		{name: "ErrPeriodTooLate", year: medical(), change: func(y *settings.Year) { y.PeriodEnd = "2027-01-01" }, field: "period_start"},
		{name: "ErrPensionPremium", year: pension(), change: func(y *settings.Year) { y.Premium = yuan(400) }, field: "premium"},
		{name: "ErrPensionNoGrades", year: pension(), change: func(y *settings.Year) { y.Grades = nil; y.Subsidy = nil }, field: "grades"},
		{name: "ErrGradeZero", year: pension(), change: func(y *settings.Year) { y.Grades[0].Amount = 0 }, field: "grades[0]"},
		{name: "ErrGradeNegative", year: pension(), change: func(y *settings.Year) { y.Grades[3].Amount = -1 }, field: "grades[3]"},
		{name: "ErrGradeDescending", year: pension(), change: func(y *settings.Year) { y.Grades[2].Amount = yuan(250) }, field: "grades[2]"},
		{name: "ErrGradeDuplicate", year: pension(), change: func(y *settings.Year) { y.Grades[2].Amount = yuan(300) }, field: "grades[2]"},
		{name: "ErrGradeUnknownCategory", year: pension(), change: func(y *settings.Year) { y.Grades[0].Categories = append(y.Grades[0].Categories, "veteran") }, field: "grades[0]"},
		{name: "ErrGradeCategoryTwice", year: pension(), change: func(y *settings.Year) { y.Grades[0].Categories = append(y.Grades[0].Categories, tekun) }, field: "grades[0]"},
		{name: "ErrCategoryWithoutGrade", year: pension(), change: func(y *settings.Year) {
			for i := range y.Grades {
				y.Grades[i].Categories = []syncproto.Category{tekun}
			}
		}, field: "grades"},
		{name: "ErrMedicalGrades", year: medical(), change: func(y *settings.Year) { y.Grades = pension().Grades }, field: "grades"},
		{name: "ErrMedicalNoPremium", year: medical(), change: func(y *settings.Year) { y.Premium = 0; y.Subsidy = nil }, field: "premium"},
		{name: "ErrMedicalNegativePremium", year: medical(), change: func(y *settings.Year) { y.Premium = -1; y.Subsidy = nil }, field: "premium"},
		{name: "ErrSubsidyNegative", year: medical(), change: func(y *settings.Year) { y.Subsidy[dibao] = -1 }, field: "subsidy[dibao]"},
		{name: "ErrSubsidyAbovePremium", year: medical(), change: func(y *settings.Year) { y.Subsidy[tekun] = yuan(400) + 1 }, field: "subsidy[tekun]"},
		{name: "ErrSubsidyAboveMinGrade", year: pension(), change: func(y *settings.Year) { y.Subsidy[poverty] = yuan(300) }, field: "subsidy[poverty]"},
		{name: "ErrSubsidyNotSpecial", year: medical(), change: func(y *settings.Year) { y.Subsidy[newborn] = yuan(100) }, field: "subsidy[newborn]"},
		{name: "ErrSubsidyUnknownCategory", year: medical(), change: func(y *settings.Year) { y.Subsidy["veteran"] = yuan(100) }, field: "subsidy"},
		{name: "ErrCashLimitZero", year: medical(), change: func(y *settings.Year) { y.CashLimit = 0 }, field: "cash_limit"},
		{name: "ErrTimeLimitZero", year: medical(), change: func(y *settings.Year) { y.TimeLimitHours = 0 }, field: "time_limit_hours"},
		{name: "ErrTimeLimitHuge", year: medical(), change: func(y *settings.Year) { y.TimeLimitHours = settings.MaxTimeLimitHours + 1 }, field: "time_limit_hours"},
		{name: "ErrCutoffEmpty", year: medical(), change: func(y *settings.Year) { y.Cutoff = "" }, field: "cutoff"},
		{name: "ErrCutoffNoPad", year: medical(), change: func(y *settings.Year) { y.Cutoff = "7:00" }, field: "cutoff"},
		{name: "ErrCutoffHour24", year: medical(), change: func(y *settings.Year) { y.Cutoff = "24:00" }, field: "cutoff"},
		{name: "ErrCutoffMinute60", year: medical(), change: func(y *settings.Year) { y.Cutoff = "16:60" }, field: "cutoff"},
		{name: "ErrCutoffSeconds", year: medical(), change: func(y *settings.Year) { y.Cutoff = "17:00:00" }, field: "cutoff"},
		{name: "ErrCutoffFullWidth", year: medical(), change: func(y *settings.Year) { y.Cutoff = "17：00" }, field: "cutoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			y := tt.year
			if tt.change != nil {
				tt.change(&y)
			}
			err := y.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var e *syncproto.Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate() = %v, want *syncproto.Error", err)
			}
			if e.Code != syncproto.CodeInvalidInput || e.MessageZH == "" {
				t.Fatalf("Validate() = %#v, want code %q and a Chinese message", e, syncproto.CodeInvalidInput)
			}
			if want := "settings: " + tt.field + ": "; !strings.HasPrefix(e.Message, want) {
				t.Fatalf("message = %q, want prefix %q", e.Message, want)
			}
			if !strings.Contains(e.MessageZH, tt.field) {
				t.Fatalf("message_zh = %q, want it to name %q", e.MessageZH, tt.field)
			}
		})
	}
}

func TestParseCutoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{name: "OK", in: "17:00", want: 17 * time.Hour, ok: true},
		{name: "OKMinutes", in: "08:05", want: 8*time.Hour + 5*time.Minute, ok: true},
		{name: "ErrLetters", in: "ab:cd"},
		{name: "ErrSeparator", in: "17.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := settings.ParseCutoff(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ParseCutoff(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestGradeAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		year   settings.Year
		cat    syncproto.Category
		amount syncproto.Money
		want   bool
	}{
		{name: "OKLowestGradeSpecial", year: pension(), cat: tekun, amount: yuan(100), want: true},
		{name: "OKLowestGradeDisability", year: pension(), cat: disability, amount: yuan(100), want: true},
		{name: "OKOpenGradeGeneral", year: pension(), cat: general, amount: yuan(300), want: true},
		{name: "OKOpenGradeSpecial", year: pension(), cat: dibao, amount: yuan(1500), want: true},
		{name: "OKTopGrade", year: pension(), cat: newborn, amount: yuan(5000), want: true},
		{name: "ErrLowestGradeGeneral", year: pension(), cat: general, amount: yuan(100)},
		{name: "ErrLowestGradeNewborn", year: pension(), cat: newborn, amount: yuan(100)},
		{name: "ErrBetweenGrades", year: pension(), cat: general, amount: yuan(700)},
		{name: "ErrAboveTopGrade", year: pension(), cat: general, amount: yuan(6000)},
		{name: "ErrOneFenOff", year: pension(), cat: general, amount: yuan(300) + 1},
		{name: "ErrZero", year: pension(), cat: general, amount: 0},
		{name: "OKMedicalPremium", year: medical(), cat: general, amount: yuan(400), want: true},
		{name: "OKMedicalPremiumSpecial", year: medical(), cat: tekun, amount: yuan(400), want: true},
		{name: "ErrMedicalOtherAmount", year: medical(), cat: general, amount: yuan(300)},
		{name: "ErrUnknownKind", year: settings.Year{Kind: "other", Premium: yuan(400)}, cat: general, amount: yuan(400)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.year.GradeAllowed(tt.cat, tt.amount); got != tt.want {
				t.Fatalf("GradeAllowed(%s, %s) = %v, want %v", tt.cat, tt.amount, got, tt.want)
			}
		})
	}
}

func TestMinGradeDueFullySubsidised(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		year      settings.Year
		cat       syncproto.Category
		minGrade  syncproto.Money
		hasGrade  bool
		due       syncproto.Money
		fullySubs bool
	}{
		{name: "PensionGeneralPaysLowestOpenGrade", year: pension(), cat: general, minGrade: yuan(300), hasGrade: true, due: yuan(300)},
		{name: "PensionNewbornLikeGeneral", year: pension(), cat: newborn, minGrade: yuan(300), hasGrade: true, due: yuan(300)},
		{name: "PensionTekunFullySubsidised", year: pension(), cat: tekun, minGrade: yuan(100), hasGrade: true, fullySubs: true},
		{name: "PensionPovertyFullySubsidised", year: pension(), cat: poverty, minGrade: yuan(100), hasGrade: true, fullySubs: true},
		{name: "PensionDibaoFullySubsidised", year: pension(), cat: dibao, minGrade: yuan(100), hasGrade: true, fullySubs: true},
		{name: "PensionDisabilityFullySubsidised", year: pension(), cat: disability, minGrade: yuan(100), hasGrade: true, fullySubs: true},
		{name: "PensionPartSubsidy", year: func() settings.Year {
			y := pension()
			y.Subsidy[dibao] = yuan(50)
			return y
		}(), cat: dibao, minGrade: yuan(100), hasGrade: true, due: yuan(50)},
		{name: "PensionNoGradeOwesNothingButIsNotSubsidised", year: settings.Year{Kind: syncproto.KindPension,
			Grades: []settings.Grade{{Amount: yuan(100), Categories: []syncproto.Category{tekun}}}}, cat: general},
		{name: "MedicalGeneralPaysPremium", year: medical(), cat: general, minGrade: yuan(400), hasGrade: true, due: yuan(400)},
		{name: "MedicalNewbornPaysPremium", year: medical(), cat: newborn, minGrade: yuan(400), hasGrade: true, due: yuan(400)},
		{name: "MedicalTekunFullySubsidised", year: medical(), cat: tekun, minGrade: yuan(400), hasGrade: true, fullySubs: true},
		{name: "MedicalPovertyFullySubsidised", year: medical(), cat: poverty, minGrade: yuan(400), hasGrade: true, fullySubs: true},
		{name: "MedicalDibaoPaysHalf", year: medical(), cat: dibao, minGrade: yuan(400), hasGrade: true, due: yuan(200)},
		{name: "MedicalDisabilityPaysHalf", year: medical(), cat: disability, minGrade: yuan(400), hasGrade: true, due: yuan(200)},
		{name: "MedicalSubsidyAbovePremiumClampsAtZero", year: func() settings.Year {
			y := medical()
			y.Subsidy[dibao] = yuan(500)
			return y
		}(), cat: dibao, minGrade: yuan(400), hasGrade: true, fullySubs: true},
		{name: "MedicalNoPremium", year: settings.Year{Kind: syncproto.KindMedical}, cat: general},
		{name: "UnknownKind", year: settings.Year{Kind: "other", Premium: yuan(400)}, cat: general},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			minGrade, ok := tt.year.MinGrade(tt.cat)
			if minGrade != tt.minGrade || ok != tt.hasGrade {
				t.Errorf("MinGrade(%s) = %s, %v; want %s, %v", tt.cat, minGrade, ok, tt.minGrade, tt.hasGrade)
			}
			if got := tt.year.Due(tt.cat); got != tt.due {
				t.Errorf("Due(%s) = %s, want %s", tt.cat, got, tt.due)
			}
			if got := tt.year.FullySubsidised(tt.cat); got != tt.fullySubs {
				t.Errorf("FullySubsidised(%s) = %v, want %v", tt.cat, got, tt.fullySubs)
			}
		})
	}
}

func TestInPeriod(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		year settings.Year
		at   time.Time
		want bool
	}{
		{name: "OKFirstDayShanghaiMidnight", year: medical(), at: utc("2026-08-31T16:00:00Z"), want: true},
		{name: "OKMiddle", year: medical(), at: utc("2026-10-28T03:00:00Z"), want: true},
		{name: "OKLastDayLastSecond", year: medical(), at: utc("2026-12-31T15:59:59Z"), want: true},
		{name: "OKOtherZoneSameInstant", year: medical(), at: utc("2026-08-31T16:00:00Z").In(time.FixedZone("x", -5*3600)), want: true},
		{name: "ErrDayBeforeInShanghai", year: medical(), at: utc("2026-08-31T15:59:59Z")},
		{name: "ErrDayAfterInShanghai", year: medical(), at: utc("2026-12-31T16:00:00Z")},
		{name: "ErrYearBefore", year: medical(), at: utc("2025-10-28T03:00:00Z")},
		{name: "ErrUnparsablePeriod", year: settings.Year{PeriodStart: "2026-9-1", PeriodEnd: "2026-12-31"}, at: utc("2026-10-28T03:00:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.year.InPeriod(tt.at); got != tt.want {
				t.Fatalf("InPeriod(%v) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	districtMedical := medical()
	override := medical()
	override.Region = "370403101"
	override.Premium = yuan(380)
	districtPension := pension()
	lastYear := medical()
	lastYear.Year = 2025
	rows := []settings.Year{lastYear, override, districtPension, districtMedical}

	tests := []struct {
		name     string
		kind     syncproto.Kind
		year     int
		township string
		want     settings.Year
		ok       bool
	}{
		{name: "OKTownshipOverride", kind: syncproto.KindMedical, year: 2026, township: "370403101", want: override, ok: true},
		{name: "OKDistrictFallback", kind: syncproto.KindMedical, year: 2026, township: "370403102", want: districtMedical, ok: true},
		{name: "OKOtherKindIgnoresOverride", kind: syncproto.KindPension, year: 2026, township: "370403101", want: districtPension, ok: true},
		{name: "OKOtherYear", kind: syncproto.KindMedical, year: 2025, township: "370403101", want: lastYear, ok: true},
		{name: "ErrNoYear", kind: syncproto.KindPension, year: 2025, township: "370403101"},
		{name: "ErrOtherDistrict", kind: syncproto.KindMedical, year: 2026, township: "370402001"},
		{name: "ErrShortCode", kind: syncproto.KindMedical, year: 2026, township: "37"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := settings.Resolve(rows, tt.kind, tt.year, tt.township)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Resolve(%s, %d, %s) = %+v, %v; want %+v, %v", tt.kind, tt.year, tt.township, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestShandong2026(t *testing.T) {
	t.Parallel()
	t.Run("PensionGrades", func(t *testing.T) {
		t.Parallel()
		y := pension()
		var got []int64
		for _, g := range y.Grades {
			got = append(got, int64(g.Amount/100))
		}
		want := []int64{100, 300, 500, 600, 800, 1000, 1500, 2000, 2500, 3000, 4000, 5000}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("grades = %v, want %v", got, want)
		}
		for _, c := range syncproto.Categories() {
			if y.GradeAllowed(c, yuan(100)) != c.Special() {
				t.Errorf("100-yuan grade open to %s = %v, want %v", c, !c.Special(), c.Special())
			}
			wantSubsidy := syncproto.Money(0)
			if c.Special() {
				wantSubsidy = yuan(100)
			}
			if y.Subsidy[c] != wantSubsidy {
				t.Errorf("subsidy[%s] = %s, want %s", c, y.Subsidy[c], wantSubsidy)
			}
		}
	})
	t.Run("Limits", func(t *testing.T) {
		t.Parallel()
		for _, y := range []settings.Year{pension(), medical()} {
			if y.Year != 2026 || y.Region != district || y.PeriodStart != "2026-09-01" || y.PeriodEnd != "2026-12-31" ||
				y.CashLimit != yuan(20000) || y.TimeLimitHours != 24 || y.Cutoff != "17:00" {
				t.Errorf("%s defaults = %+v", y.Kind, y)
			}
		}
	})
	t.Run("FreshOnEachCall", func(t *testing.T) {
		t.Parallel()
		a := pension()
		a.Subsidy[tekun] = 1
		a.Grades[0].Categories[0] = general
		if b := pension(); b.Subsidy[tekun] != yuan(100) || b.Grades[0].Categories[0] != poverty {
			t.Fatalf("a second call shares state with the first: %+v", b)
		}
	})
}

func TestJSON(t *testing.T) {
	t.Parallel()
	y := pension()
	data, err := json.Marshal(y)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"year":2026`, `"kind":"pension"`, `"region":"370403"`, `"period_start":"2026-09-01"`,
		`"period_end":"2026-12-31"`, `"grades":[{"amount":10000,"categories":["poverty"`, `{"amount":30000}`,
		`"subsidy":{"dibao":10000`, `"cash_limit":2000000`, `"time_limit_hours":24`, `"cutoff":"17:00"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON %s lacks %s", data, key)
		}
	}
	var back settings.Year
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, y) {
		t.Fatalf("round trip = %+v, want %+v", back, y)
	}
}
