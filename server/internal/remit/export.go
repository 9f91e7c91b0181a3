package remit

import (
	"archive/zip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xuri/excelize/v2"

	"villagesync/syncproto"
)

// exportColumns are the columns of the batch download; see ExportHeader.
var exportColumns = []tableColumn{
	{header: "序号", width: 7, kind: cellInt},
	{header: "批次号", width: 28, kind: cellText},
	{header: "业务日期", width: 12, kind: cellText},
	{header: "镇街代码", width: 12, kind: cellText},
	{header: "镇街名称", width: 14, kind: cellText},
	{header: "村居代码", width: 15, kind: cellText},
	{header: "村居名称", width: 14, kind: cellText},
	{header: "代办员", width: 10, kind: cellText},
	{header: "缴费人姓名", width: 12, kind: cellText},
	{header: "公民身份号码", width: 21, kind: cellText},
	{header: "险种", width: 10, kind: cellText},
	{header: "缴费年度", width: 9, kind: cellInt},
	{header: "缴费档次(元)", width: 12, kind: cellMoney},
	{header: "金额(元)", width: 12, kind: cellMoney},
	{header: "收据号", width: 14, kind: cellText},
	{header: "收款时间", width: 20, kind: cellText},
	{header: "入账时间", width: 20, kind: cellText},
	{header: "冲正原批次行", width: 30, kind: cellText},
}

// Positions of the export columns that the totals rows fill.
const (
	exportCountCol  = 8  // 缴费人姓名
	exportAmountCol = 13 // 金额(元)
)

// ExportHeader returns the header row of the tax office's batch download
// (WriteCSV and WriteXLSX; WriteJSON carries the same data). These are its
// columns, in order. They are a stable interface: the tax office
// configures its import by them, so a new column may only be added at the
// end and none is ever renamed.
//
//	序号          line number in the batch, 1-based (Line.No)
//	批次号        batch ID (Batch.ID)
//	业务日期      business day, YYYY-MM-DD in Asia/Shanghai (Batch.BusinessDay)
//	镇街代码      township code (Batch.TownshipCode)
//	镇街名称      township name (Batch.TownshipName)
//	村居代码      village code, 12 digits (Line.VillageCode)
//	村居名称      village name
//	代办员        the village agent who took the cash
//	缴费人姓名    payer's name, full Unicode, never truncated
//	公民身份号码  payer's full 18-character resident ID: the tax office
//	              posts per person. In CSV it is written as plain digits,
//	              because the tax office's software reads the raw values;
//	              Excel shows such a CSV column as 3.70403E+17, so people
//	              who want to look at the batch open the XLSX, whose ID
//	              cells are text.
//	险种          养老保险 or 医疗保险 (Kind.ShortLabel)
//	缴费年度      coverage year
//	缴费档次(元)  the pension grade in yuan with two decimals; blank for
//	              medical
//	金额(元)      amount in yuan with two decimals; negative on a reversal
//	收据号        receipt number, 12 digits with leading zeros
//	收款时间      the tablet's clock when the cash was taken,
//	              "2006-01-02 15:04:05" in Asia/Shanghai
//	入账时间      the server's clock when the collection arrived, same form
//	冲正原批次行  for a reversal, the reversed line as "<batch ID>#<line no>";
//	              blank otherwise
//
// After the lines come one subtotal row per kind, 小计：养老保险 then
// 小计：医疗保险 (both always, zero when a kind has no line), then the
// grand total 合计; each has its label in 序号, "共N笔" (the number of
// lines, reversals included) in 缴费人姓名 and the sum in 金额(元). An
// import therefore stops at the first row whose 序号 is not a number.
func ExportHeader() []string { return columnHeaders(exportColumns) }

// Export formats, as the download's ?format= names them.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
	FormatJSON = "json"
)

// ContentType returns the MIME type of an export format, "" for an
// unknown format.
func ContentType(format string) string {
	switch format {
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatXLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case FormatJSON:
		return "application/json; charset=utf-8"
	}
	return ""
}

// WriteExport writes the batch download in format (FormatCSV, FormatXLSX or
// FormatJSON); any other format is refused with syncproto.CodeInvalidInput.
func WriteExport(w io.Writer, format string, b Batch, lines []Line) error {
	switch format {
	case FormatCSV:
		return WriteCSV(w, b, lines)
	case FormatXLSX:
		return WriteXLSX(w, b, lines)
	case FormatJSON:
		return WriteJSON(w, b, lines)
	}
	return syncproto.Errorf(syncproto.CodeInvalidInput,
		fmt.Sprintf("unknown export format %q; use csv, xlsx or json", format),
		fmt.Sprintf("不支持的导出格式“%s”，请使用 csv、xlsx 或 json", format))
}

// ExportFilename returns a file name for the batch download in format,
// ASCII only so that it survives any Content-Disposition header and ZIP
// tool: batch_<business day>_<township code>_r<revision>_<batch ID>.<format>.
func ExportFilename(b Batch, format string) string {
	return safeFilename(fmt.Sprintf("batch_%s_%s_r%d_%s", b.BusinessDay, b.TownshipCode, b.Revision, b.ID)) +
		"." + safeFilename(format)
}

// safeFilename keeps ASCII letters, digits, '-' and '_' and replaces
// anything else by '_'.
func safeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// KindTotal is the number of lines of one insurance kind and their sum.
type KindTotal struct {
	Count int             `json:"count"`
	Total syncproto.Money `json:"total"`
}

// Totals counts and sums lines, in all and per kind. A reversal counts as a
// line and its negative amount nets the sum, so total is what the tax
// office receives. byKind always holds every kind of syncproto.Kinds (zero
// when it has no line) and any other kind met, so that every file shows the
// same subtotal rows. Every file of this package takes its totals rows
// from it.
func Totals(lines []Line) (count int, total syncproto.Money, byKind map[syncproto.Kind]KindTotal) {
	var t tally
	for i := range lines {
		t.add(lines[i].Kind, lines[i].Amount)
	}
	return t.count, t.total, t.kinds()
}

// tally accumulates totals per kind.
type tally struct {
	count  int
	total  syncproto.Money
	byKind map[syncproto.Kind]KindTotal
}

func (t *tally) add(k syncproto.Kind, m syncproto.Money) {
	if t.byKind == nil {
		t.byKind = make(map[syncproto.Kind]KindTotal, 2)
	}
	t.count++
	t.total += m
	kt := t.byKind[k]
	kt.Count++
	kt.Total += m
	t.byKind[k] = kt
}

// kinds returns the per-kind totals with every standard kind present.
func (t *tally) kinds() map[syncproto.Kind]KindTotal {
	out := make(map[syncproto.Kind]KindTotal, len(t.byKind)+2)
	for _, k := range syncproto.Kinds() {
		out[k] = KindTotal{}
	}
	for k, v := range t.byKind {
		out[k] = v
	}
	return out
}

// summaryRows returns the subtotal rows (standard kinds in display order,
// then any other kind by code) and the grand total row of a table with
// width columns: the label in the first column, "共N笔" in countCol and the
// sum in amountCol.
func (t *tally) summaryRows(width, countCol, amountCol int) [][]any {
	kinds := t.kinds()
	order := syncproto.Kinds()
	var extra []syncproto.Kind
	for k := range kinds {
		if !k.Valid() {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	order = append(order, extra...)
	row := func(label string, count int, sum syncproto.Money) []any {
		r := make([]any, width)
		r[0] = label
		r[countCol] = fmt.Sprintf("共%d笔", count)
		r[amountCol] = sum
		return r
	}
	rows := make([][]any, 0, len(order)+1)
	for _, k := range order {
		rows = append(rows, row("小计："+k.ShortLabel(), kinds[k].Count, kinds[k].Total))
	}
	return append(rows, row("合计", t.count, t.total))
}

// checkBatch refuses to write a download whose lines do not add up to the
// batch's own count and total, or that holds a line of an unknown kind:
// such a file must never reach the tax office.
func checkBatch(b Batch, lines []Line) (tally, error) {
	var t tally
	for i := range lines {
		l := &lines[i]
		if !l.Kind.Valid() {
			return t, fmt.Errorf("batch %s line %d: unknown insurance kind %q", b.ID, l.No, l.Kind)
		}
		t.add(l.Kind, l.Amount)
	}
	if t.count != b.Count || t.total != b.Total {
		return t, fmt.Errorf("batch %s: its %d lines sum to %s yuan but the batch records %d lines and %s yuan",
			b.ID, t.count, t.total, b.Count, b.Total)
	}
	return t, nil
}

// exportRow returns line l of batch b as the export's cells.
func exportRow(b *Batch, l *Line) []any {
	var grade any
	if l.Kind == syncproto.KindPension {
		grade = l.Grade
	}
	return []any{
		l.No, b.ID, b.BusinessDay, b.TownshipCode, b.TownshipName,
		l.VillageCode, l.VillageName, l.AgentName, l.Name, l.ResidentID,
		l.Kind.ShortLabel(), l.Year, grade, l.Amount, l.ReceiptNo,
		formatTime(l.DeviceTime), formatTime(l.ServerTime), l.ReversesLine,
	}
}

// WriteCSV writes the tax office's batch download as CSV: UTF-8 with a byte
// order mark (so that Excel on Chinese Windows opens it without mojibake),
// CRLF line ends, the header row of ExportHeader, one row per line in the
// order given, then the subtotal and total rows. Text cells that a
// spreadsheet would take for a formula get an apostrophe in front;
// numbers (序号, 缴费年度, amounts, even negative) are written as they are
// and resident IDs as plain digits (see the column list). The lines must
// add up to b.Count and b.Total, or nothing is written and an error is
// returned.
func WriteCSV(w io.Writer, b Batch, lines []Line) error {
	t, err := checkBatch(b, lines)
	if err != nil {
		return fmt.Errorf("write batch csv: %w", err)
	}
	err = writeCSVTable(w, exportColumns, len(lines), func(i int) []any { return exportRow(&b, &lines[i]) },
		t.summaryRows(len(exportColumns), exportCountCol, exportAmountCol))
	if err != nil {
		return fmt.Errorf("write batch csv: %w", err)
	}
	return nil
}

// WriteXLSX writes the tax office's batch download as an Excel workbook
// with one sheet named after the batch ID (characters a sheet name cannot
// hold replaced, at most 31): the columns of ExportHeader with a bold,
// frozen header row and set widths; resident IDs, receipt numbers, codes
// and every other text as text cells, so that Excel keeps all 18 digits
// and leading zeros; 序号 and 缴费年度 as whole numbers; grades and amounts
// as numbers in yuan formatted 0.00 (negatives red); then the subtotal and
// total rows in bold, their sums written as values, not formulas. The lines
// must add up to b.Count and b.Total.
func WriteXLSX(w io.Writer, b Batch, lines []Line) error {
	t, err := checkBatch(b, lines)
	if err != nil {
		return fmt.Errorf("write batch xlsx: %w", err)
	}
	err = writeXLSXTable(w, sheetName(b.ID, "批次"), exportColumns, len(lines),
		func(i int) []any { return exportRow(&b, &lines[i]) },
		t.summaryRows(len(exportColumns), exportCountCol, exportAmountCol))
	if err != nil {
		return fmt.Errorf("write batch xlsx: %w", err)
	}
	return nil
}

// exportJSON is the document WriteJSON writes.
type exportJSON struct {
	Batch  Batch            `json:"batch"`
	Lines  []exportJSONLine `json:"lines"`
	Totals exportJSONTotals `json:"totals"`
}

// exportJSONLine is a Line with its amounts also in yuan.
type exportJSONLine struct {
	Line
	KindLabel  string `json:"kind_label"`
	GradeYuan  string `json:"grade_yuan,omitempty"`
	AmountYuan string `json:"amount_yuan"`
}

type exportJSONTotals struct {
	Count     int                                    `json:"count"`
	Total     syncproto.Money                        `json:"total"`
	TotalYuan string                                 `json:"total_yuan"`
	ByKind    map[syncproto.Kind]exportJSONKindTotal `json:"by_kind"`
}

type exportJSONKindTotal struct {
	Count     int             `json:"count"`
	Total     syncproto.Money `json:"total"`
	TotalYuan string          `json:"total_yuan"`
}

// WriteJSON writes the tax office's batch download as one JSON object
// (indented, UTF-8, HTML characters not escaped):
//
//	{"batch": Batch,
//	 "lines": [Line + "kind_label", "grade_yuan" (pension only), "amount_yuan"],
//	 "totals": {"count", "total", "total_yuan",
//	            "by_kind": {"medical": {"count", "total", "total_yuan"}, "pension": {...}}}}
//
// Amounts (total, amount, grade) are integers of fen as everywhere in the
// API; the *_yuan fields repeat them as decimal strings with two places.
// Times are RFC 3339 in Asia/Shanghai (+08:00). The lines must add up to
// b.Count and b.Total.
func WriteJSON(w io.Writer, b Batch, lines []Line) error {
	t, err := checkBatch(b, lines)
	if err != nil {
		return fmt.Errorf("write batch json: %w", err)
	}
	loc := fileZone()
	doc := exportJSON{Batch: b, Lines: make([]exportJSONLine, len(lines))}
	doc.Batch.CreatedAt = doc.Batch.CreatedAt.In(loc)
	for _, p := range []**time.Time{&doc.Batch.ApprovedAt, &doc.Batch.ExportedAt, &doc.Batch.PostedAt} {
		if *p != nil {
			v := (**p).In(loc)
			*p = &v
		}
	}
	for i, l := range lines {
		l.DeviceTime, l.ServerTime = l.DeviceTime.In(loc), l.ServerTime.In(loc)
		jl := exportJSONLine{Line: l, KindLabel: l.Kind.ShortLabel(), AmountYuan: l.Amount.String()}
		if l.Kind == syncproto.KindPension {
			jl.GradeYuan = l.Grade.String()
		}
		doc.Lines[i] = jl
	}
	doc.Totals = exportJSONTotals{Count: t.count, Total: t.total, TotalYuan: t.total.String(),
		ByKind: make(map[syncproto.Kind]exportJSONKindTotal)}
	for k, v := range t.kinds() {
		doc.Totals.ByKind[k] = exportJSONKindTotal{Count: v.Count, Total: v.Total, TotalYuan: v.Total.String()}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write batch json: %w", err)
	}
	return nil
}

// WriteZIP writes entries as one ZIP archive, in name order, for example
// the downloads of all approved batches of a day (named by
// ExportFilename). Names are slash-separated paths inside the archive;
// an empty, absolute or ".." name, or one with a backslash, is refused.
// Every entry is deflated and dated modified (the download time, say), so
// that the same entries and time give the same bytes. Non-ASCII names are
// stored as UTF-8 with the ZIP UTF-8 flag.
func WriteZIP(w io.Writer, entries map[string][]byte, modified time.Time) error {
	names := make([]string, 0, len(entries))
	for name := range entries {
		if !fs.ValidPath(name) || name == "." || strings.ContainsRune(name, '\\') {
			return fmt.Errorf("write zip: invalid entry name %q", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	zw := zip.NewWriter(w)
	for _, name := range names {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified.In(fileZone())})
		if err != nil {
			return fmt.Errorf("write zip: %w", err)
		}
		if _, err := f.Write(entries[name]); err != nil {
			return fmt.Errorf("write zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	return nil
}

// fileZone is Asia/Shanghai, the zone of every time and date in the files. The
// fixed UTC+8 fallback is exact since 1991 and only used without tzdata
// (both binaries embed time/tzdata).
var fileZone = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
})

// fileTimeLayout is how the files write a time, in Asia/Shanghai.
const fileTimeLayout = "2006-01-02 15:04:05"

// formatTime writes t in Asia/Shanghai, or "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(fileZone()).Format(fileTimeLayout)
}

// The tables of this package's CSV and XLSX files.

// cellKind is how a column's values are written.
type cellKind int

const (
	cellText  cellKind = iota // text; an XLSX text cell
	cellInt                   // a whole number
	cellMoney                 // yuan with two decimals; an XLSX number
)

// tableColumn is one column of a file.
type tableColumn struct {
	header string
	width  float64 // XLSX width in characters
	kind   cellKind
}

// columnHeaders returns the header row of cols.
func columnHeaders(cols []tableColumn) []string {
	h := make([]string, len(cols))
	for i, c := range cols {
		h[i] = c.header
	}
	return h
}

// A row of a table is a []any whose cells are string, int,
// syncproto.Money or nil (blank); a totals row may put a string label in
// any column.

// csvCell formats one cell for CSV: strings defused against formula
// injection, numbers and money as they are.
func csvCell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return defuseCell(v)
	case int:
		return strconv.Itoa(v)
	case syncproto.Money:
		return v.String()
	}
	return defuseCell(fmt.Sprint(v))
}

// defuseCell neutralises CSV formula injection: a cell starting with =, +,
// -, @, tab or CR gets an apostrophe in front (as roster's report does).
// Only text passes through it, so negative amounts stay numbers.
func defuseCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// writeCSVTable writes a CSV file: UTF-8 BOM, CRLF, the header of cols,
// n rows from row, then the summary rows.
func writeCSVTable(w io.Writer, cols []tableColumn, n int, row func(int) []any, summary [][]any) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // what Excel writes and expects
	if err := cw.Write(columnHeaders(cols)); err != nil {
		return err
	}
	rec := make([]string, len(cols))
	put := func(cells []any) error {
		for j := range rec {
			rec[j] = ""
			if j < len(cells) {
				rec[j] = csvCell(cells[j])
			}
		}
		return cw.Write(rec)
	}
	for i := range n {
		if err := put(row(i)); err != nil {
			return err
		}
	}
	for _, s := range summary {
		if err := put(s); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// sheetName makes s a valid worksheet name: the characters []:*?/\ and
// control characters replaced by '_', at most 31 characters, and fallback
// when nothing is left.
func sheetName(s, fallback string) string {
	r := []rune(strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`[]:*?/\`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(s)))
	if len(r) > 31 {
		r = r[:31]
	}
	// A sheet name may not start or end with an apostrophe.
	out := strings.Trim(string(r), "'")
	if out == "" || strings.EqualFold(out, "History") {
		return fallback
	}
	return out
}

// xlsxStyles are the cell styles of writeXLSXTable.
type xlsxStyles struct {
	header, text, integer, money, boldText, boldInt, boldMoney int
}

// moneyFormat shows yuan with two decimals, negatives (reversals) in red.
const moneyFormat = "0.00;[Red]-0.00"

func newXLSXStyles(f *excelize.File) (xlsxStyles, error) {
	var s xlsxStyles
	moneyFmt := moneyFormat
	border := []excelize.Border{
		{Type: "left", Color: "BFBFBF", Style: 1}, {Type: "right", Color: "BFBFBF", Style: 1},
		{Type: "top", Color: "BFBFBF", Style: 1}, {Type: "bottom", Color: "BFBFBF", Style: 1},
	}
	bold := &excelize.Font{Bold: true}
	defs := []struct {
		id    *int
		style excelize.Style
	}{
		{&s.header, excelize.Style{Font: bold, Border: border, NumFmt: 49,
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
			Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}}},
		{&s.text, excelize.Style{NumFmt: 49, Border: border}}, // "@": text
		{&s.integer, excelize.Style{NumFmt: 1, Border: border}},
		{&s.money, excelize.Style{CustomNumFmt: &moneyFmt, Border: border}},
		{&s.boldText, excelize.Style{NumFmt: 49, Font: bold, Border: border}},
		{&s.boldInt, excelize.Style{NumFmt: 1, Font: bold, Border: border}},
		{&s.boldMoney, excelize.Style{CustomNumFmt: &moneyFmt, Font: bold, Border: border}},
	}
	for _, d := range defs {
		id, err := f.NewStyle(&d.style)
		if err != nil {
			return s, err
		}
		*d.id = id
	}
	return s, nil
}

// xlsxCell makes one typed cell: strings are text (XML-safe), ints whole
// numbers, Money a number of yuan; a blank cell keeps its column's style.
func (s *xlsxStyles) cell(col tableColumn, v any, bold bool) excelize.Cell {
	text, integer, money := s.text, s.integer, s.money
	if bold {
		text, integer, money = s.boldText, s.boldInt, s.boldMoney
	}
	switch v := v.(type) {
	case string:
		return excelize.Cell{StyleID: text, Value: xlsxText(v)}
	case int:
		return excelize.Cell{StyleID: integer, Value: v}
	case syncproto.Money:
		return excelize.Cell{StyleID: money, Value: yuanFloat(v)}
	case nil:
		switch col.kind {
		case cellInt:
			return excelize.Cell{StyleID: integer}
		case cellMoney:
			return excelize.Cell{StyleID: money}
		}
		return excelize.Cell{StyleID: text}
	}
	return excelize.Cell{StyleID: text, Value: xlsxText(fmt.Sprint(v))}
}

// yuanFloat converts fen to a float of yuan for a spreadsheet cell. The
// division is correctly rounded, so the cell holds the nearest double to
// the exact decimal and shows it exactly with two decimals (for any amount
// below 2^53 fen).
func yuanFloat(m syncproto.Money) float64 { return float64(m) / 100 }

// xlsxText replaces the characters XML 1.0 forbids by U+FFFD.
func xlsxText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}

// writeXLSXTable writes a workbook with one sheet: a bold, frozen header
// row, n rows from row, then the summary rows in bold.
func writeXLSXTable(w io.Writer, sheet string, cols []tableColumn, n int, row func(int) []any, summary [][]any) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	st, err := newXLSXStyles(f)
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	for i, c := range cols {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	cells := make([]any, len(cols))
	for i, c := range cols {
		cells[i] = excelize.Cell{StyleID: st.header, Value: c.header}
	}
	if err := sw.SetRow("A1", cells, excelize.RowOpts{Height: 20}); err != nil {
		return err
	}
	rowNum := 1
	put := func(values []any, bold bool) error {
		rowNum++
		for j, c := range cols {
			var v any
			if j < len(values) {
				v = values[j]
			}
			cells[j] = st.cell(c, v, bold)
		}
		ref, err := excelize.CoordinatesToCellName(1, rowNum)
		if err != nil {
			return err
		}
		return sw.SetRow(ref, cells)
	}
	for i := range n {
		if err := put(row(i), false); err != nil {
			return err
		}
	}
	for _, s := range summary {
		if err := put(s, true); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}
