package roster

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// ValidateContext is what Validate checks rows against. Every field is
// required.
type ValidateContext struct {
	// Now decides which birth dates lie in the future (read in
	// Asia/Shanghai); one timestamp for the whole upload.
	Now time.Time
	// Kind is the uploader's insurance: pension for hrss, medical for
	// medsec. Every row must be of this kind.
	Kind syncproto.Kind
	// Settings returns the effective settings of Kind for a coverage year
	// and a village (the township's override, else the district's; see
	// settings.Resolve). Validate calls it once per distinct year and
	// village.
	Settings func(year int, villageCode string) (settings.Year, bool)
	// Villages resolves the village column within the uploader's district.
	Villages VillageResolver
}

// RowError is one problem of one row, as the error report lists it.
type RowError struct {
	// Row is the 1-based row number in the file (Row.Num).
	Row int `json:"row"`
	// Column is the header as the file writes it.
	Column string `json:"column"`
	// Value is the cell's text, cut to 256 characters (with "…").
	Value string `json:"value"`
	// Code is a stable code: one of this package's Code… constants or
	// syncproto's CodeInvalidID, CodeInvalidKind, CodeInvalidCategory,
	// CodeInvalidMoney.
	Code syncproto.Code `json:"code"`
	// Message and MessageZH say what is wrong, in English and Chinese.
	Message   string `json:"message"`
	MessageZH string `json:"message_zh"`
}

// Validate checks every row and returns the clean entries in row order, or,
// when any row has a problem, no entries and every problem found, ordered
// by row and then column. A roster is accepted or refused whole.
//
// Per row: the name is present (trimmed, NFC-normalised, padding spaces
// between Chinese characters removed; no control or undecodable characters;
// at most MaxNameRunes, never truncated); the ID passes
// syncproto.ParseResidentID; the village is a 12-digit code or a name that
// ctx.Villages resolves to exactly one village (and agrees with a village
// name column when the file has one); the kind parses and equals ctx.Kind;
// the category parses; the year is a coverage year (2026 or 2026年) with
// settings; the amounts parse as yuan, a blank one meaning zero; 代缴金额
// equals the settings' 代缴 for the category; 应缴金额 is, for medical, the
// premium less 代缴, and for pension blank/0 (the person chooses a grade at
// payment) or a grade open to the category less 代缴; the note has at most
// MaxNoteRunes and no control characters except tab and line breaks. A
// person (ID) twice for the same kind and year is reported on both rows.
func Validate(rows []Row, ctx ValidateContext) ([]Entry, []RowError) {
	v := &validator{
		ctx:      ctx,
		villages: make(map[[2]string]villageResult),
		settings: make(map[settingsKey]*settings.Year),
		seen:     make(map[personKey]seenPerson, len(rows)),
		rows:     rows,
	}
	entries := make([]Entry, 0, len(rows))
	for i := range rows {
		if e, ok := v.row(i); ok && len(v.errs) == 0 {
			entries = append(entries, e)
		}
	}
	if len(v.errs) == 0 {
		return entries, nil
	}
	slices.SortStableFunc(v.errs, func(a, b rowError) int {
		return cmp.Or(cmp.Compare(a.Row, b.Row), cmp.Compare(a.field, b.field))
	})
	errs := make([]RowError, len(v.errs))
	for i, e := range v.errs {
		errs[i] = e.RowError
	}
	return nil, errs
}

// rowError is a RowError with its field, for ordering.
type rowError struct {
	RowError
	field field
}

type villageResult struct {
	village Village
	err     *syncproto.Error
	onName  bool // the error concerns the village name column
}

type settingsKey struct {
	year    int
	village string
}

// personKey identifies a person, kind and year without pointers, so that
// the map of 250,000 of them is cheap to hash and to scan for the GC.
type personKey struct {
	id      [18]byte
	pension bool
	year    int
}

// seenPerson is the index of a person's first row; reported is set once
// that row carries a duplicate error.
type seenPerson struct {
	index    int32
	reported bool
}

type validator struct {
	ctx      ValidateContext
	villages map[[2]string]villageResult
	settings map[settingsKey]*settings.Year
	seen     map[personKey]seenPerson
	rows     []Row
	errs     []rowError

	// The settings of the previous row, as rows come grouped by village.
	lastYear    int
	lastVillage string
	lastSet     *settings.Year

	kinds      memo[syncproto.Kind]
	categories memo[syncproto.Category]
	years      memo[int]
	amounts    memo[syncproto.Money]
}

// memoLimit bounds each memo: a column with more distinct values is
// parsed without caching beyond it.
const memoLimit = 1024

// memo caches a parser's results by cell text: kind, category, year and
// amount columns take few distinct values in a roster.
type memo[T any] struct {
	m map[string]memoResult[T]
}

type memoResult[T any] struct {
	v   T
	err error
}

func (c *memo[T]) get(s string, parse func(string) (T, error)) (T, error) {
	if r, ok := c.m[s]; ok {
		return r.v, r.err
	}
	v, err := parse(s)
	if c.m == nil {
		c.m = make(map[string]memoResult[T])
	}
	if len(c.m) < memoLimit {
		c.m[s] = memoResult[T]{v: v, err: err}
	}
	return v, err
}

// fail records a problem with field f of r.
func (v *validator) fail(r *Row, f field, code syncproto.Code, message, messageZH string) {
	v.errs = append(v.errs, rowError{field: f, RowError: RowError{
		Row: r.Num, Column: r.columnName(f), Value: capValue(r.cell(f)),
		Code: code, Message: message, MessageZH: messageZH,
	}})
}

// failErr records a coded error from a syncproto parser.
func (v *validator) failErr(r *Row, f field, err error) {
	var e *syncproto.Error
	if !errors.As(err, &e) {
		e = syncproto.Wrap(err, syncproto.CodeInvalidInput, err.Error(), "数据无效")
	}
	v.fail(r, f, e.Code, e.Message, e.MessageZH)
}

// missing records a blank required cell.
func (v *validator) missing(r *Row, f field) {
	v.fail(r, f, CodeMissingValue,
		fmt.Sprintf("%s (%s) is required", columns[f].en, columns[f].zh),
		fmt.Sprintf("%s为必填项，不能为空", r.columnName(f)))
}

// row checks row i; ok is false when it has any problem.
func (v *validator) row(i int) (Entry, bool) {
	r := &v.rows[i]
	before := len(v.errs)
	e := Entry{SourceRow: r.Num}

	e.Name = v.name(r)

	idOK := false
	if s := trim(r.ResidentID); s == "" {
		v.missing(r, fieldResidentID)
	} else if id, err := syncproto.ParseResidentID(s, v.ctx.Now); err != nil {
		if strings.Contains(s, "E+") || strings.Contains(s, "e+") {
			v.fail(r, fieldResidentID, syncproto.CodeInvalidID,
				"the ID number was stored as a number and lost its last digits; format the column as text and type the numbers again",
				"身份证号码被存成了数字，后几位已丢失；请将该列设为文本格式后重新录入")
		} else {
			v.failErr(r, fieldResidentID, err)
		}
	} else {
		e.ResidentID, idOK = id, true
	}

	village, villageOK := v.village(r)
	e.VillageCode, e.TownshipCode = village.Code, village.TownshipCode

	kindOK := false
	if s := trim(r.Kind); s == "" {
		v.missing(r, fieldKind)
	} else if k, err := v.kinds.get(s, syncproto.ParseKind); err != nil {
		v.failErr(r, fieldKind, err)
	} else if k != v.ctx.Kind {
		v.fail(r, fieldKind, CodeKindMismatch,
			fmt.Sprintf("the row is %s insurance but this upload is for %s", k, v.ctx.Kind),
			fmt.Sprintf("该行险种为%s，但本次上传的是%s清册", k.ShortLabel(), v.ctx.Kind.ShortLabel()))
	} else {
		e.Kind, kindOK = k, true
	}

	catOK := false
	if s := trim(r.Category); s == "" {
		v.missing(r, fieldCategory)
	} else if c, err := v.categories.get(s, syncproto.ParseCategory); err != nil {
		v.failErr(r, fieldCategory, err)
	} else {
		e.Category, catOK = c, true
	}

	year, yearOK := v.year(r)
	e.Year = year

	var set *settings.Year
	if yearOK && villageOK {
		if set = v.lookupSettings(year, village.Code); set == nil {
			v.fail(r, fieldYear, CodeNoSettings,
				fmt.Sprintf("no %s settings for %d in village %s (%s)", v.ctx.Kind, year, village.Name, village.Code),
				fmt.Sprintf("%s村居“%s”没有%d年度的%s参数设置", village.Code, village.Name, year, v.ctx.Kind.ShortLabel()))
		}
	}

	due, dueOK := v.money(r, fieldDue)
	subsidy, subsidyOK := v.money(r, fieldSubsidy)
	e.Due, e.Subsidy = due, subsidy
	if set != nil && catOK && kindOK {
		if subsidyOK {
			v.checkSubsidy(r, set, e.Category, subsidy)
		}
		if dueOK {
			v.checkDue(r, set, e.Category, due)
		}
		e.FullySubsidised = due == 0 && set.FullySubsidised(e.Category)
	}

	e.Note = v.note(r)

	if idOK && kindOK && yearOK {
		k := personKey{pension: e.Kind == syncproto.KindPension, year: year}
		copy(k.id[:], e.ResidentID)
		if first, dup := v.seen[k]; dup {
			firstRow := &v.rows[first.index]
			if !first.reported {
				v.fail(firstRow, fieldResidentID, CodeDuplicateInFile,
					fmt.Sprintf("the same person appears again in row %d for %s %d", r.Num, e.Kind, year),
					fmt.Sprintf("同一人员在第 %d 行重复出现（%d年度%s）", r.Num, year, e.Kind.ShortLabel()))
				first.reported = true
				v.seen[k] = first
			}
			v.fail(r, fieldResidentID, CodeDuplicateInFile,
				fmt.Sprintf("the same person already appears in row %d for %s %d", firstRow.Num, e.Kind, year),
				fmt.Sprintf("同一人员已在第 %d 行出现（%d年度%s）", firstRow.Num, year, e.Kind.ShortLabel()))
		} else {
			v.seen[k] = seenPerson{index: int32(i)}
		}
	}

	if len(v.errs) > before {
		return Entry{}, false
	}
	if len(v.errs) == 0 { // else no entry will be returned anyway
		e.Initials = Initials(e.Name)
	}
	return e, true
}

// name cleans and checks the name in one pass over its characters.
func (v *validator) name(r *Row) string {
	s := norm.NFC.String(trim(r.Name))
	n, space, bad := 0, false, false
	for _, c := range s {
		n++
		if c > 0x3000 && c < 0xFEFF { // CJK and most letters: neither space nor control
			continue
		}
		switch {
		case unicode.IsSpace(c):
			space = true
		case unicode.IsControl(c), unicode.Is(unicode.Cf, c), c == utf8.RuneError:
			bad = true
		}
	}
	if space {
		s = foldSpaces(s)
		n = utf8.RuneCountInString(s)
	}
	switch {
	case s == "":
		v.missing(r, fieldName)
	case bad:
		v.fail(r, fieldName, CodeInvalidName,
			"name contains control, invisible or undecodable characters",
			"姓名中含有控制字符、不可见字符或无法识别的字符")
	case n > MaxNameRunes:
		v.fail(r, fieldName, CodeInvalidName,
			fmt.Sprintf("name is longer than %d characters", MaxNameRunes),
			fmt.Sprintf("姓名超过 %d 个字", MaxNameRunes))
	}
	return s
}

// foldSpaces folds runs of white space inside a trimmed name: removed
// between two Chinese characters (padding such as 张　三), one ASCII space
// elsewhere (John Smith).
func foldSpaces(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i := 0; i < len(rs); i++ {
		if !unicode.IsSpace(rs[i]) {
			b.WriteRune(rs[i])
			continue
		}
		j := i
		for j < len(rs) && unicode.IsSpace(rs[j]) {
			j++
		}
		// rs[i-1] and rs[j] exist: s is trimmed.
		if !unicode.Is(unicode.Han, rs[i-1]) || !unicode.Is(unicode.Han, rs[j]) {
			b.WriteByte(' ')
		}
		i = j - 1
	}
	return b.String()
}

// village resolves the village columns, once per distinct value.
func (v *validator) village(r *Row) (Village, bool) {
	cell, nameCell := trim(r.Village), trim(r.VillageName)
	if cell == "" {
		v.missing(r, fieldVillage)
		return Village{}, false
	}
	key := [2]string{cell, nameCell}
	res, ok := v.villages[key]
	if !ok {
		res = v.resolveVillage(cell, nameCell)
		v.villages[key] = res
	}
	if res.err != nil {
		f := fieldVillage
		if res.onName {
			f = fieldVillageName
		}
		v.fail(r, f, res.err.Code, res.err.Message, res.err.MessageZH)
		return Village{}, false
	}
	return res.village, true
}

func (v *validator) resolveVillage(cell, nameCell string) villageResult {
	var vil Village
	if isDigits(cell) {
		found, ok := v.ctx.Villages.ByCode(cell)
		if !ok {
			return villageResult{err: syncproto.Errorf(CodeUnknownVillage,
				fmt.Sprintf("no village of the district has the code %s", cell),
				fmt.Sprintf("本区没有编码为 %s 的村居", cell))}
		}
		vil = found
	} else {
		found := v.ctx.Villages.ByName(cell)
		switch len(found) {
		case 0:
			return villageResult{err: syncproto.Errorf(CodeUnknownVillage,
				fmt.Sprintf("no village of the district is named %q", cell),
				fmt.Sprintf("本区没有名为“%s”的村居", cell))}
		case 1:
			vil = found[0]
		default:
			codes := make([]string, len(found))
			for i, f := range found {
				codes[i] = f.Code
			}
			slices.Sort(codes)
			return villageResult{err: syncproto.Errorf(CodeAmbiguousVillage,
				fmt.Sprintf("%d villages are named %q (%s); write the village code instead", len(found), cell, strings.Join(codes, ", ")),
				fmt.Sprintf("有 %d 个村居名为“%s”（%s），请改填村居编码", len(found), cell, strings.Join(codes, "、")))}
		}
	}
	if nameCell != "" && villageKey(nameCell) != villageKey(vil.Name) {
		return villageResult{onName: true, err: syncproto.Errorf(CodeVillageMismatch,
			fmt.Sprintf("village %s is %q, not %q", vil.Code, vil.Name, nameCell),
			fmt.Sprintf("村居编码 %s 对应“%s”，与所填名称“%s”不符", vil.Code, vil.Name, nameCell))}
	}
	return villageResult{village: vil}
}

// year parses the coverage year.
func (v *validator) year(r *Row) (int, bool) {
	s := trim(r.Year)
	if s == "" {
		v.missing(r, fieldYear)
		return 0, false
	}
	y, err := v.years.get(s, parseYear)
	if err != nil {
		v.failErr(r, fieldYear, err)
		return 0, false
	}
	return y, true
}

// parseYear accepts four digits, optionally followed by 年, within
// settings.MinYear..MaxYear.
func parseYear(s string) (int, error) {
	digits := strings.TrimSuffix(s, "年")
	if len(digits) == 4 && isDigits(digits) {
		y := int(digits[0]-'0')*1000 + int(digits[1]-'0')*100 + int(digits[2]-'0')*10 + int(digits[3]-'0')
		if y >= settings.MinYear && y <= settings.MaxYear {
			return y, nil
		}
	}
	return 0, syncproto.Errorf(CodeInvalidYear,
		"the coverage year must be a year such as 2026",
		"缴费年度应为年份，例如 2026")
}

func (v *validator) lookupSettings(year int, village string) *settings.Year {
	if v.lastSet != nil && year == v.lastYear && village == v.lastVillage {
		return v.lastSet
	}
	found := v.settingsFor(year, village)
	v.lastYear, v.lastVillage, v.lastSet = year, village, found
	return found
}

func (v *validator) settingsFor(year int, village string) *settings.Year {
	k := settingsKey{year: year, village: village}
	if s, ok := v.settings[k]; ok {
		return s
	}
	var found *settings.Year
	if s, ok := v.ctx.Settings(year, village); ok && s.Kind == v.ctx.Kind && s.Year == year {
		found = &s
	}
	v.settings[k] = found
	return found
}

// money parses an amount in yuan; a blank cell is zero.
func (v *validator) money(r *Row, f field) (syncproto.Money, bool) {
	s := trim(r.cell(f))
	if s == "" {
		return 0, true
	}
	m, err := v.amounts.get(s, syncproto.ParseMoney)
	if err != nil {
		v.failErr(r, f, err)
		return 0, false
	}
	return m, true
}

func (v *validator) checkSubsidy(r *Row, set *settings.Year, cat syncproto.Category, subsidy syncproto.Money) {
	if want := set.Subsidy[cat]; subsidy != want {
		v.fail(r, fieldSubsidy, CodeSubsidyMismatch,
			fmt.Sprintf("the subsidy (代缴) for %s in %d is %s yuan, not %s", cat, set.Year, want, subsidy),
			fmt.Sprintf("%d年度%s的代缴金额为 %s 元，不是 %s 元", set.Year, cat.Label(), want, subsidy))
	}
}

func (v *validator) checkDue(r *Row, set *settings.Year, cat syncproto.Category, due syncproto.Money) {
	subsidy := set.Subsidy[cat]
	switch set.Kind {
	case syncproto.KindMedical:
		if want := set.Due(cat); due != want {
			v.fail(r, fieldDue, CodeAmountMismatch,
				fmt.Sprintf("amount due for %s in %d must be the premium %s less the subsidy (代缴) %s = %s yuan, not %s",
					cat, set.Year, set.Premium, subsidy, want, due),
				fmt.Sprintf("%d年度%s的应缴金额应为缴费标准 %s 元减代缴 %s 元，即 %s 元，不是 %s 元",
					set.Year, cat.Label(), set.Premium, subsidy, want, due))
		}
	case syncproto.KindPension:
		if due == 0 || set.GradeAllowed(cat, due+subsidy) {
			return
		}
		var allowed []string
		for _, g := range set.Grades {
			if set.GradeAllowed(cat, g.Amount) {
				allowed = append(allowed, max(0, g.Amount-subsidy).String())
			}
		}
		list := strings.Join(allowed, ", ")
		v.fail(r, fieldDue, CodeAmountMismatch,
			fmt.Sprintf("amount due for %s in %d must be blank, 0, or a grade less the subsidy (代缴) %s: %s", cat, set.Year, subsidy, list),
			fmt.Sprintf("%d年度%s的应缴金额应为空、0，或缴费档次减代缴 %s 元后的金额：%s",
				set.Year, cat.Label(), subsidy, strings.Join(allowed, "、")))
	}
}

// note cleans and checks the note.
func (v *validator) note(r *Row) string {
	s := norm.NFC.String(trim(r.Note))
	switch {
	case strings.ContainsFunc(s, func(c rune) bool {
		return (unicode.IsControl(c) && c != '\t' && c != '\n' && c != '\r') || c == utf8.RuneError
	}):
		v.fail(r, fieldNote, CodeInvalidNote,
			"note contains control or undecodable characters", "备注中含有控制字符或无法识别的字符")
	case utf8.RuneCountInString(s) > MaxNoteRunes:
		v.fail(r, fieldNote, CodeInvalidNote,
			fmt.Sprintf("note is longer than %d characters", MaxNoteRunes),
			fmt.Sprintf("备注超过 %d 个字", MaxNoteRunes))
	}
	return s
}

// trim is strings.TrimSpace with a fast path for the usual cell that
// neither starts nor ends with white space (TrimSpace is slow on text that
// starts with a Chinese character).
func trim(s string) string {
	if s == "" {
		return s
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if !unicode.IsSpace(first) && !unicode.IsSpace(last) {
		return s
	}
	return strings.TrimSpace(s)
}

// isDigits reports whether s is non-empty ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// capValue cuts a cell to maxValueRunes characters for the report.
func capValue(s string) string {
	if len(s) <= maxValueRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == maxValueRunes {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
