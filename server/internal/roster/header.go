package roster

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"villagesync/syncproto"
)

// field is a roster column's meaning; its order is the order of errors
// within a row.
type field int

const (
	fieldName field = iota
	fieldResidentID
	fieldVillage
	fieldVillageName
	fieldKind
	fieldCategory
	fieldYear
	fieldDue
	fieldSubsidy
	fieldNote
	numFields
)

// column describes one field: the headers Parse recognises and the
// standard ones it names in messages.
type column struct {
	zh, en   string   // standard headers
	required bool     // Parse refuses a file without it
	aliases  []string // further spellings, before normaliseHeader
}

// columns is indexed by field.
var columns = [numFields]column{
	fieldName: {zh: "姓名", en: "name", required: true,
		aliases: []string{"缴费人姓名", "参保人姓名", "人员姓名"}},
	fieldResidentID: {zh: "公民身份号码", en: "resident_id", required: true,
		aliases: []string{"身份证号", "身份证号码", "公民身份证号码", "证件号码", "身份号码"}},
	fieldVillage: {zh: "村居", en: "village", required: true,
		aliases: []string{"村", "社区", "村/社区", "村居/社区", "村居编码", "村居代码", "村居(社区)", "村(社区)", "village_code"}},
	fieldVillageName: {zh: "村居名称", en: "village_name",
		aliases: []string{"村名", "社区名称", "村居(社区)名称"}},
	fieldKind: {zh: "险种", en: "kind", required: true,
		aliases: []string{"险种名称", "险种类型", "insurance"}},
	fieldCategory: {zh: "人员类别", en: "category", required: true,
		aliases: []string{"人员类型", "人员身份", "缴费人类别"}},
	fieldYear: {zh: "缴费年度", en: "year", required: true,
		aliases: []string{"年度", "所属年度", "费款所属期"}},
	fieldDue: {zh: "应缴金额", en: "amount_due", required: true,
		aliases: []string{"应缴费额", "应缴", "个人应缴金额", "个人缴费金额", "due"}},
	fieldSubsidy: {zh: "代缴金额", en: "subsidy", required: true,
		aliases: []string{"代缴", "政府代缴", "政府代缴金额", "代缴费额"}},
	fieldNote: {zh: "备注", en: "note",
		aliases: []string{"notes", "remark", "remarks"}},
}

// headerFields maps a normalised header to its field.
var headerFields = func() map[string]field {
	m := make(map[string]field)
	for f, c := range columns {
		for _, h := range append([]string{c.zh, c.en}, c.aliases...) {
			m[normaliseHeader(h)] = field(f)
		}
	}
	return m
}()

// normaliseHeader folds the ways people write a header: full-width forms
// (NFKC), letter case, white space (also U+3000), '_', '-', '*' (required
// marks), ':' and a unit suffix "(元)".
func normaliseHeader(s string) string {
	s = strings.ToLower(norm.NFKC.String(s))
	s = strings.ReplaceAll(s, "(元)", "")
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\ufeff' || strings.ContainsRune("_-*:", r) {
			return -1
		}
		return r
	}, s)
}

// layout is the meaning of a file's columns: for each field, the index of
// its column or -1.
type layout struct {
	index  [numFields]int
	header Header
}

// recognised counts the cells of a row that are known headers.
func recognised(cells []string) int {
	n := 0
	for _, c := range cells {
		if _, ok := headerFields[normaliseHeader(c)]; ok {
			n++
		}
	}
	return n
}

// newLayout maps a header row to fields. Unknown columns are ignored; two
// columns of one field are an error, except that a village code column and
// a village name column may stand side by side.
func newLayout(cells []string, rowNum int) (*layout, error) {
	l := &layout{}
	for i := range l.index {
		l.index[i] = -1
	}
	for i, c := range cells {
		f, ok := headerFields[normaliseHeader(c)]
		if !ok {
			continue
		}
		if f == fieldVillage && l.index[fieldVillage] >= 0 && l.index[fieldVillageName] < 0 {
			// A second 村居 column: a bare 村居 or 村 may be the name
			// beside a 村居编码; otherwise it is a duplicate.
			f = fieldVillageName
		}
		if prev := l.index[f]; prev >= 0 {
			return nil, syncproto.Errorf(CodeDuplicateColumn,
				fmt.Sprintf("row %d: columns %q and %q mean the same field %q; keep one", rowNum,
					strings.TrimSpace(cells[prev]), strings.TrimSpace(c), columns[f].en),
				fmt.Sprintf("第 %d 行：“%s”列与“%s”列含义相同（%s），请只保留一列", rowNum,
					strings.TrimSpace(cells[prev]), strings.TrimSpace(c), columns[f].zh))
		}
		l.index[f] = i
	}
	// A lone village column of either spelling is the village.
	if l.index[fieldVillage] < 0 && l.index[fieldVillageName] >= 0 {
		l.index[fieldVillage], l.index[fieldVillageName] = l.index[fieldVillageName], -1
	}
	var missing, missingZH []string
	for f, c := range columns {
		if c.required && l.index[f] < 0 {
			missing = append(missing, c.en)
			missingZH = append(missingZH, c.zh)
		}
	}
	if len(missing) > 0 {
		return nil, syncproto.Errorf(CodeMissingColumn,
			fmt.Sprintf("header row %d lacks the column(s) %s", rowNum, strings.Join(missing, ", ")),
			fmt.Sprintf("第 %d 行表头缺少以下列：%s", rowNum, strings.Join(missingZH, "、")))
	}
	get := func(f field) string {
		if i := l.index[f]; i >= 0 {
			return strings.TrimSpace(strings.TrimPrefix(cells[i], "\ufeff"))
		}
		return ""
	}
	l.header = Header{
		Name: get(fieldName), ResidentID: get(fieldResidentID), Village: get(fieldVillage),
		VillageName: get(fieldVillageName), Kind: get(fieldKind), Category: get(fieldCategory),
		Year: get(fieldYear), Due: get(fieldDue), Subsidy: get(fieldSubsidy), Note: get(fieldNote),
	}
	return l, nil
}

// row builds a Row from a data row's cells.
func (l *layout) row(num int, cells []string) Row {
	get := func(f field) string {
		if i := l.index[f]; i >= 0 && i < len(cells) {
			return cells[i]
		}
		return ""
	}
	return Row{
		Num: num, Name: get(fieldName), ResidentID: get(fieldResidentID), Village: get(fieldVillage),
		VillageName: get(fieldVillageName), Kind: get(fieldKind), Category: get(fieldCategory),
		Year: get(fieldYear), Due: get(fieldDue), Subsidy: get(fieldSubsidy), Note: get(fieldNote),
		Header: &l.header,
	}
}

// cell returns the raw text of field f of r.
func (r *Row) cell(f field) string {
	cells := Header{Name: r.Name, ResidentID: r.ResidentID, Village: r.Village, VillageName: r.VillageName,
		Kind: r.Kind, Category: r.Category, Year: r.Year, Due: r.Due, Subsidy: r.Subsidy, Note: r.Note}
	return cells.get(f)
}

// get returns the text of field f: Header and a Row's cells have the same
// columns, so one mapping serves both.
func (h *Header) get(f field) string {
	switch f {
	case fieldName:
		return h.Name
	case fieldResidentID:
		return h.ResidentID
	case fieldVillage:
		return h.Village
	case fieldVillageName:
		return h.VillageName
	case fieldKind:
		return h.Kind
	case fieldCategory:
		return h.Category
	case fieldYear:
		return h.Year
	case fieldDue:
		return h.Due
	case fieldSubsidy:
		return h.Subsidy
	case fieldNote:
		return h.Note
	}
	return ""
}

// columnName returns the header of field f as the file writes it, or the
// standard Chinese header.
func (r *Row) columnName(f field) string {
	if r.Header != nil {
		h := r.Header.get(f)
		if h != "" {
			return h
		}
	}
	return columns[f].zh
}
