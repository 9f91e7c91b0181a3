package roster_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// medRow is a valid medical row of a general resident of 沙沟村.
func medRow(tb testing.TB, num, seq int) roster.Row {
	tb.Helper()
	return roster.Row{Num: num, Name: "张三", ResidentID: mustID(tb, seq), Village: "370403101201",
		Kind: "医疗", Category: "一般", Year: "2026", Due: "400", Subsidy: "0"}
}

// penRow is a valid pension row of a general resident of 沙沟村 who
// chooses the grade at payment.
func penRow(tb testing.TB, num, seq int) roster.Row {
	tb.Helper()
	return roster.Row{Num: num, Name: "李四", ResidentID: mustID(tb, seq), Village: "370403101201",
		Kind: "养老", Category: "一般", Year: "2026", Due: "", Subsidy: ""}
}

// with returns r changed by f.
func with(r roster.Row, f func(*roster.Row)) roster.Row {
	f(&r)
	return r
}

// problem is an expected RowError, by row, column and code.
type problem struct {
	row    int
	column string
	code   syncproto.Code
}

func TestValidate(t *testing.T) {
	t.Parallel()
	pension, medical := syncproto.KindPension, syncproto.KindMedical
	lastYear := settings.Shandong2026Medical("370403")
	lastYear.Year, lastYear.PeriodStart, lastYear.PeriodEnd = 2025, "2025-09-01", "2025-12-31"
	lastYear.Premium = syncproto.Yuan(380)
	lastYear.Subsidy[syncproto.CategoryTekun] = syncproto.Yuan(380)
	lastYear.Subsidy[syncproto.CategoryPoverty] = syncproto.Yuan(380)
	twoYears := append(testSettings(), lastYear)

	tests := []struct {
		name     string
		kind     syncproto.Kind
		settings []settings.Year
		rows     []roster.Row
		want     []problem // nil: valid
		check    func(t *testing.T, es []roster.Entry)
	}{
		{name: "OK", kind: medical, rows: []roster.Row{medRow(t, 2, 1)}, check: func(t *testing.T, es []roster.Entry) {
			want := roster.Entry{ResidentID: syncproto.ResidentID(mustID(t, 1)), Name: "张三", VillageCode: "370403101201",
				TownshipCode: "370403101", Kind: medical, Category: syncproto.CategoryGeneral, Year: 2026,
				Due: syncproto.Yuan(400), Subsidy: 0, Initials: "zs", SourceRow: 2}
			if es[0] != want {
				t.Fatalf("entry = %+v\nwant %+v", es[0], want)
			}
		}},
		{name: "OKVillageByName", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Village = " 前良村 " })},
			check: wantVillage("370403101202", "370403101")},
		{name: "OKVillageCodeAndMatchingName", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.VillageName = "沙 沟 村" })},
			check: wantVillage("370403101201", "370403101")},
		{name: "OKTownshipOverride", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) {
			r.Village, r.Due = "370403104201", "420.00"
		})}, check: func(t *testing.T, es []roster.Entry) {
			if es[0].Due != syncproto.Yuan(420) {
				t.Fatalf("due = %s", es[0].Due)
			}
		}},
		{name: "OKMedicalPartSubsidy", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) {
			r.Category, r.Due, r.Subsidy = "低保", "200", "200"
		})}, check: wantDue(syncproto.Yuan(200), syncproto.Yuan(200), false)},
		{name: "OKMedicalFullySubsidised", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) {
			r.Category, r.Due, r.Subsidy = "特困人员", "", "400"
		})}, check: wantDue(0, syncproto.Yuan(400), true)},
		{name: "OKPensionChooseAtPayment", kind: pension, rows: []roster.Row{penRow(t, 2, 1)}, check: wantDue(0, 0, false)},
		{name: "OKPensionGrade", kind: pension, rows: []roster.Row{with(penRow(t, 2, 1), func(r *roster.Row) { r.Due = "1,500" })},
			check: wantDue(syncproto.Yuan(1500), 0, false)},
		{name: "OKPensionFullySubsidised", kind: pension, rows: []roster.Row{with(penRow(t, 2, 1), func(r *roster.Row) {
			r.Category, r.Due, r.Subsidy = "重度残疾人", "0", "100"
		})}, check: wantDue(0, syncproto.Yuan(100), true)},
		{name: "OKPensionSpecialChoosesHigherGrade", kind: pension, rows: []roster.Row{with(penRow(t, 2, 1), func(r *roster.Row) {
			r.Category, r.Due, r.Subsidy = "特困", "200", "100"
		})}, check: wantDue(syncproto.Yuan(200), syncproto.Yuan(100), false)},
		{name: "OKYearSuffixAndLowerX", kind: medical, rows: []roster.Row{with(medRow(t, 2, 0), func(r *roster.Row) {
			r.Year, r.ResidentID = "2026年", "37040319800101123x"
		})}, check: func(t *testing.T, es []roster.Entry) {
			if es[0].ResidentID != "37040319800101123X" || es[0].Year != 2026 {
				t.Fatalf("entry = %+v", es[0])
			}
		}},
		{name: "OKNamePaddingAndNFC", kind: medical, rows: []roster.Row{
			with(medRow(t, 2, 1), func(r *roster.Row) { r.Name = "\u3000马\u3000\u3000峰 " }),
			with(medRow(t, 3, 2), func(r *roster.Row) { r.Name = "Jose\u0301  Garci\u0301a" }),
			with(medRow(t, 4, 3), func(r *roster.Row) { r.Name = "阿依古丽·买买提" }),
		}, check: func(t *testing.T, es []roster.Entry) {
			got := []string{es[0].Name, es[1].Name, es[2].Name}
			want := []string{"马峰", "José García", "阿依古丽·买买提"}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("names = %q, want %q", got, want)
			}
		}},
		{name: "OKNameOutsideBMPNeverTruncated", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) {
			r.Name = "\U00020BB7\U0002A6A5\U00030EDD" + strings.Repeat("龘", roster.MaxNameRunes-3)
		})}, check: func(t *testing.T, es []roster.Entry) {
			if want := "\U00020BB7\U0002A6A5\U00030EDD" + strings.Repeat("龘", roster.MaxNameRunes-3); es[0].Name != want {
				t.Fatalf("name = %q", es[0].Name)
			}
		}},
		{name: "OKSamePersonOtherYear", kind: medical, settings: twoYears, rows: []roster.Row{
			medRow(t, 2, 1), with(medRow(t, 3, 1), func(r *roster.Row) { r.Year, r.Due = "2025", "380" }),
		}},
		{name: "OKNoteTrimmed", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Note = " 外出\t务工\n电话联系 " })},
			check: func(t *testing.T, es []roster.Entry) {
				if es[0].Note != "外出\t务工\n电话联系" {
					t.Fatalf("note = %q", es[0].Note)
				}
			}},

		{name: "ErrMissingName", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Name = " \u3000 " })},
			want: []problem{{2, "姓名", roster.CodeMissingValue}}},
		{name: "ErrNameControl", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Name = "张\x00三" })},
			want: []problem{{2, "姓名", roster.CodeInvalidName}}},
		{name: "ErrNameInvisible", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Name = "张\u200b三" })},
			want: []problem{{2, "姓名", roster.CodeInvalidName}}},
		{name: "ErrNameMojibake", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Name = "张\ufffd" })},
			want: []problem{{2, "姓名", roster.CodeInvalidName}}},
		{name: "ErrNameTooLong", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) {
			r.Name = strings.Repeat("\U00020BB7", roster.MaxNameRunes+1)
		})}, want: []problem{{2, "姓名", roster.CodeInvalidName}}},
		{name: "ErrCheckDigit", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) {
			r.ResidentID = r.ResidentID[:17] + string("0123456789"[(strings.IndexByte("0123456789X", r.ResidentID[17])+1)%10])
		})}, want: []problem{{2, "公民身份号码", syncproto.CodeInvalidID}}},
		{name: "ErrBirthDateFuture", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) {
			c, _ := syncproto.CheckDigit("37040320261127001")
			r.ResidentID = "37040320261127001" + string(c)
		})}, want: []problem{{2, "公民身份号码", syncproto.CodeInvalidID}}},
		{name: "ErrIDMissing", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.ResidentID = "" })},
			want: []problem{{2, "公民身份号码", roster.CodeMissingValue}}},
		{name: "ErrIDStoredAsNumber", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.ResidentID = "3.70403198001011E+17" })},
			want: []problem{{2, "公民身份号码", syncproto.CodeInvalidID}}},
		{name: "ErrUnknownVillage", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Village = "370402001201" })},
			want: []problem{{2, "村居", roster.CodeUnknownVillage}}},
		{name: "ErrUnknownVillageName", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Village = "沙沟" })},
			want: []problem{{2, "村居", roster.CodeUnknownVillage}}},
		{name: "ErrAmbiguousVillage", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Village = "王庄村" })},
			want: []problem{{2, "村居", roster.CodeAmbiguousVillage}}},
		{name: "ErrVillageMismatch", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.VillageName = "前良村" })},
			want: []problem{{2, "村居名称", roster.CodeVillageMismatch}}},
		{name: "ErrVillageMissing", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Village = "" })},
			want: []problem{{2, "村居", roster.CodeMissingValue}}},
		{name: "ErrKindMismatch", kind: pension, rows: []roster.Row{medRow(t, 2, 1)},
			want: []problem{{2, "险种", roster.CodeKindMismatch}}},
		{name: "ErrKindMismatchMedsec", kind: medical, rows: []roster.Row{penRow(t, 2, 1)},
			want: []problem{{2, "险种", roster.CodeKindMismatch}}},
		{name: "ErrInvalidKind", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Kind = "职工医疗" })},
			want: []problem{{2, "险种", syncproto.CodeInvalidKind}}},
		{name: "ErrInvalidCategory", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Category = "五保户" })},
			want: []problem{{2, "人员类别", syncproto.CodeInvalidCategory}}},
		{name: "ErrCategoryMissing", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Category = "" })},
			want: []problem{{2, "人员类别", roster.CodeMissingValue}}},
		{name: "ErrInvalidYear", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Year = "26" })},
			want: []problem{{2, "缴费年度", roster.CodeInvalidYear}}},
		{name: "ErrInvalidYearDecimal", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Year = "2026.0" })},
			want: []problem{{2, "缴费年度", roster.CodeInvalidYear}}},
		{name: "ErrNoSettings", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Year = "2027" })},
			want: []problem{{2, "缴费年度", roster.CodeNoSettings}}},
		{name: "ErrInvalidMoney", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Due, r.Subsidy = "四百", "-1" })},
			want: []problem{{2, "应缴金额", syncproto.CodeInvalidMoney}, {2, "代缴金额", syncproto.CodeInvalidMoney}}},
		{name: "ErrAmountMismatch", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Due = "380" })},
			want: []problem{{2, "应缴金额", roster.CodeAmountMismatch}}},
		{name: "ErrAmountMismatchOverride", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Village = "陶庄村" })},
			want: []problem{{2, "应缴金额", roster.CodeAmountMismatch}}},
		{name: "ErrAmountMismatchFullySubsidisedOwesNothing", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) {
			r.Category, r.Subsidy = "特困", "400"
		})}, want: []problem{{2, "应缴金额", roster.CodeAmountMismatch}}},
		{name: "ErrAmountMismatchPensionBetweenGrades", kind: pension, rows: []roster.Row{with(penRow(t, 2, 1), func(r *roster.Row) { r.Due = "700" })},
			want: []problem{{2, "应缴金额", roster.CodeAmountMismatch}}},
		{name: "ErrAmountMismatchPensionGradeNotOpen", kind: pension, rows: []roster.Row{with(penRow(t, 2, 1), func(r *roster.Row) { r.Due = "100" })},
			want: []problem{{2, "应缴金额", roster.CodeAmountMismatch}}},
		{name: "ErrAmountMismatchPensionGradeWithoutSubsidy", kind: pension, rows: []roster.Row{with(penRow(t, 2, 1), func(r *roster.Row) {
			r.Category, r.Due, r.Subsidy = "低保", "300", "100" // 300 + 100 = 400 is no grade
		})}, want: []problem{{2, "应缴金额", roster.CodeAmountMismatch}}},
		{name: "ErrSubsidyMismatch", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Subsidy = "100" })},
			want: []problem{{2, "代缴金额", roster.CodeSubsidyMismatch}}},
		{name: "ErrSubsidyMismatchSpecialBlank", kind: pension, rows: []roster.Row{with(penRow(t, 2, 1), func(r *roster.Row) { r.Category = "特困" })},
			want: []problem{{2, "代缴金额", roster.CodeSubsidyMismatch}}},
		{name: "ErrNoteTooLong", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Note = strings.Repeat("备", roster.MaxNoteRunes+1) })},
			want: []problem{{2, "备注", roster.CodeInvalidNote}}},
		{name: "ErrNoteControl", kind: medical, rows: []roster.Row{with(medRow(t, 2, 1), func(r *roster.Row) { r.Note = "a\x00b" })},
			want: []problem{{2, "备注", roster.CodeInvalidNote}}},
		{name: "ErrDuplicateInFile", kind: medical, rows: []roster.Row{medRow(t, 2, 1), medRow(t, 3, 2), medRow(t, 4, 1)},
			want: []problem{{2, "公民身份号码", roster.CodeDuplicateInFile}, {4, "公民身份号码", roster.CodeDuplicateInFile}}},
		{name: "ErrDuplicateInFileThrice", kind: medical, rows: []roster.Row{medRow(t, 2, 1), medRow(t, 3, 1), medRow(t, 4, 1)},
			want: []problem{{2, "公民身份号码", roster.CodeDuplicateInFile}, {3, "公民身份号码", roster.CodeDuplicateInFile},
				{4, "公民身份号码", roster.CodeDuplicateInFile}}},
		{name: "ErrDuplicateInFileOtherVillage", kind: medical, rows: []roster.Row{
			medRow(t, 2, 1), with(medRow(t, 3, 1), func(r *roster.Row) { r.Village = "周营村"; r.ResidentID = strings.ToLower(r.ResidentID) }),
		}, want: []problem{{2, "公民身份号码", roster.CodeDuplicateInFile}, {3, "公民身份号码", roster.CodeDuplicateInFile}}},
		{name: "ErrOneBadRowRefusesAll", kind: medical, rows: []roster.Row{medRow(t, 2, 1), with(medRow(t, 3, 2), func(r *roster.Row) { r.Due = "1" }), medRow(t, 4, 3)},
			want: []problem{{3, "应缴金额", roster.CodeAmountMismatch}}},
		{name: "ErrManyInOneRowInColumnOrder", kind: medical, rows: []roster.Row{{Num: 7, Name: "", ResidentID: "1", Village: "x村",
			Kind: "养老", Category: "?", Year: "y", Due: "a", Subsidy: "b", Note: "\x01"}},
			want: []problem{{7, "姓名", roster.CodeMissingValue}, {7, "公民身份号码", syncproto.CodeInvalidID},
				{7, "村居", roster.CodeUnknownVillage}, {7, "险种", roster.CodeKindMismatch}, {7, "人员类别", syncproto.CodeInvalidCategory},
				{7, "缴费年度", roster.CodeInvalidYear}, {7, "应缴金额", syncproto.CodeInvalidMoney}, {7, "代缴金额", syncproto.CodeInvalidMoney},
				{7, "备注", roster.CodeInvalidNote}}},
		{name: "ErrColumnNamedAsWritten", kind: medical, rows: func() []roster.Row {
			r := with(medRow(t, 2, 1), func(r *roster.Row) { r.ResidentID = "" })
			r.Header = &roster.Header{ResidentID: "身份证号"}
			return []roster.Row{r}
		}(), want: []problem{{2, "身份证号", roster.CodeMissingValue}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entries, errs := roster.Validate(tt.rows, testContext(t, tt.kind, tt.settings...))
			var got []problem
			for _, e := range errs {
				got = append(got, problem{e.Row, e.Column, e.Code})
				if e.Message == "" || e.MessageZH == "" {
					t.Errorf("row %d %s: empty message %+v", e.Row, e.Column, e)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems = %v\nwant %v\nerrors %+v", got, tt.want, errs)
			}
			if tt.want != nil {
				if entries != nil {
					t.Fatalf("entries = %+v, want none when a row is bad", entries)
				}
				return
			}
			if len(entries) != len(tt.rows) {
				t.Fatalf("%d entries for %d rows", len(entries), len(tt.rows))
			}
			for i, e := range entries {
				if e.SourceRow != tt.rows[i].Num {
					t.Fatalf("entry %d source row %d, want %d", i, e.SourceRow, tt.rows[i].Num)
				}
			}
			if tt.check != nil {
				tt.check(t, entries)
			}
		})
	}
}

func wantVillage(code, township string) func(*testing.T, []roster.Entry) {
	return func(t *testing.T, es []roster.Entry) {
		t.Helper()
		if es[0].VillageCode != code || es[0].TownshipCode != township {
			t.Fatalf("village = %s %s, want %s %s", es[0].VillageCode, es[0].TownshipCode, code, township)
		}
	}
}

func wantDue(due, subsidy syncproto.Money, fully bool) func(*testing.T, []roster.Entry) {
	return func(t *testing.T, es []roster.Entry) {
		t.Helper()
		if es[0].Due != due || es[0].Subsidy != subsidy || es[0].FullySubsidised != fully {
			t.Fatalf("due %s subsidy %s fully %v, want %s %s %v", es[0].Due, es[0].Subsidy, es[0].FullySubsidised, due, subsidy, fully)
		}
	}
}

// TestValidateCachesLookups proves the resolver and the settings are asked
// once per distinct value, not per row.
func TestValidateCachesLookups(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, syncproto.KindMedical)
	counting := &countingResolver{VillageResolver: ctx.Villages}
	ctx.Villages = counting
	settingsCalls := 0
	inner := ctx.Settings
	ctx.Settings = func(year int, village string) (settings.Year, bool) {
		settingsCalls++
		return inner(year, village)
	}
	var rows []roster.Row
	for i := range 300 {
		r := medRow(t, i+2, i)
		if i%2 == 1 {
			r.Village = "沙沟村"
		}
		rows = append(rows, r)
	}
	entries, errs := roster.Validate(rows, ctx)
	if len(errs) != 0 || len(entries) != 300 {
		t.Fatalf("%d entries, errors %+v", len(entries), errs)
	}
	if counting.byCode != 1 || counting.byName != 1 || settingsCalls != 1 {
		t.Fatalf("ByCode %d, ByName %d, Settings %d calls; want 1 each", counting.byCode, counting.byName, settingsCalls)
	}
}

type countingResolver struct {
	roster.VillageResolver
	byCode, byName int
}

func (c *countingResolver) ByCode(code string) (roster.Village, bool) {
	c.byCode++
	return c.VillageResolver.ByCode(code)
}

func (c *countingResolver) ByName(name string) []roster.Village {
	c.byName++
	return c.VillageResolver.ByName(name)
}

// TestValidateValueCapped proves a runaway cell is cut in the report.
func TestValidateValueCapped(t *testing.T) {
	t.Parallel()
	r := medRow(t, 2, 1)
	r.Note = strings.Repeat("长", 10_000)
	_, errs := roster.Validate([]roster.Row{r}, testContext(t, syncproto.KindMedical))
	if len(errs) != 1 {
		t.Fatalf("errors %+v", errs)
	}
	if want := strings.Repeat("长", 256) + "…"; errs[0].Value != want {
		t.Fatalf("value has %d characters, want 257", len([]rune(errs[0].Value)))
	}
}

func TestVillageIndex(t *testing.T) {
	t.Parallel()
	x := roster.NewVillageIndex(testVillages)
	tests := []struct {
		name  string
		by    string
		in    string
		codes []string
	}{
		{name: "OKCode", by: "code", in: "370403101201", codes: []string{"370403101201"}},
		{name: "OKCodeSpaces", by: "code", in: " 370403101201 ", codes: []string{"370403101201"}},
		{name: "ErrCodeUnknown", by: "code", in: "370403101299"},
		{name: "OKName", by: "name", in: "沙沟村", codes: []string{"370403101201"}},
		{name: "OKNameSpaces", by: "name", in: "沙　沟 村", codes: []string{"370403101201"}},
		{name: "OKNameTwice", by: "name", in: "王庄村", codes: []string{"370403103205", "370403104205"}},
		{name: "ErrNameUnknown", by: "name", in: "沙沟"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var codes []string
			if tt.by == "code" {
				if v, ok := x.ByCode(tt.in); ok {
					codes = append(codes, v.Code)
				}
			} else {
				for _, v := range x.ByName(tt.in) {
					codes = append(codes, v.Code)
				}
			}
			if fmt.Sprint(codes) != fmt.Sprint(tt.codes) {
				t.Fatalf("got %v, want %v", codes, tt.codes)
			}
		})
	}
}
