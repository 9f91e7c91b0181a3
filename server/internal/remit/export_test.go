package remit_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"villagesync/server/internal/remit"
	"villagesync/syncproto"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update once to create it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatalf("%s differs from the golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

// mustResidentID completes 17 digits with their GB 11643 check character.
func mustResidentID(tb testing.TB, first17 string) string {
	tb.Helper()
	c, err := syncproto.CheckDigit(first17)
	if err != nil {
		tb.Fatal(err)
	}
	return first17 + string(c)
}

// sampleBatch is a small approved batch: two pension and two medical
// payments in two villages, one payer with a name outside the BMP, one ID
// ending in X, and a reversal of a line of an earlier batch.
func sampleBatch(tb testing.TB) (remit.Batch, []remit.Line) {
	tb.Helper()
	approved := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	b := remit.Batch{
		ID: "01KBATCH00000000000000000B", TownshipCode: "370403001", TownshipName: "临城街道",
		BusinessDay: "2026-11-26", Revision: 2, State: remit.StateApproved,
		CreatedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), ApprovedAt: &approved,
	}
	xid := "37040319650707201"
	for c := '0'; c <= '9'; c++ { // find a sequence whose check character is X
		if id := mustResidentID(tb, xid[:16]+string(c)); strings.HasSuffix(id, "X") {
			xid = id
			break
		}
	}
	lines := []remit.Line{
		{No: 1, CollectionID: "01KCOLL0000000000000000001", VillageCode: "370403001001", VillageName: "沙沟村",
			AgentName: "李代办", Name: "张三", ResidentID: mustResidentID(tb, "37040319800101123"),
			Kind: syncproto.KindPension, Year: 2027, Grade: syncproto.Yuan(300), Amount: syncproto.Yuan(300),
			ReceiptNo:  "000000001001",
			DeviceTime: time.Date(2026, 11, 26, 1, 30, 5, 0, time.UTC), ServerTime: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)},
		{No: 2, CollectionID: "01KCOLL0000000000000000002", VillageCode: "370403001001", VillageName: "沙沟村",
			AgentName: "李代办", Name: "王\U0002003E", ResidentID: mustResidentID(tb, "37040319900215242"),
			Kind: syncproto.KindMedical, Year: 2027, Amount: syncproto.Money(38050),
			ReceiptNo:  "000000001002",
			DeviceTime: time.Date(2026, 11, 26, 2, 15, 0, 0, time.UTC), ServerTime: time.Date(2026, 11, 26, 2, 16, 30, 0, time.UTC)},
		{No: 3, CollectionID: "01KCOLL0000000000000000003", VillageCode: "370403001002", VillageName: "周营村",
			AgentName: "孙代办", Name: "欧阳娜娜", ResidentID: xid,
			Kind: syncproto.KindPension, Year: 2027, Grade: syncproto.Yuan(500), Amount: syncproto.Yuan(500),
			ReceiptNo:  "000000002001",
			DeviceTime: time.Date(2026, 11, 26, 7, 59, 59, 0, time.UTC), ServerTime: time.Date(2026, 11, 26, 8, 1, 0, 0, time.UTC)},
		{No: 4, CollectionID: "01KCOLL0000000000000000009", VillageCode: "370403001002", VillageName: "周营村",
			AgentName: "孙代办", Name: "赵六", ResidentID: mustResidentID(tb, "37040320010930003"),
			Kind: syncproto.KindMedical, Year: 2027, Amount: -syncproto.Yuan(400),
			ReceiptNo:  "000000002000",
			DeviceTime: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), ServerTime: time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC),
			ReversesLine: "01KBATCH00000000000000000A#7"},
	}
	b.Count, b.Total = len(lines), 0
	for _, l := range lines {
		b.Total += l.Amount
	}
	return b, lines
}

// csvRecords reads a CSV written by this package: BOM, CRLF.
func csvRecords(tb testing.TB, data []byte) [][]string {
	tb.Helper()
	if !bytes.HasPrefix(data, []byte("\ufeff")) {
		tb.Fatalf("CSV does not start with a UTF-8 BOM: %q", data[:min(len(data), 10)])
	}
	text := bytes.TrimPrefix(data, []byte("\ufeff"))
	if bytes.Count(text, []byte("\n")) != bytes.Count(text, []byte("\r\n")) {
		tb.Fatal("CSV lines do not all end in CRLF")
	}
	recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

func mustWrite(tb testing.TB, write func(io.Writer) error) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestExportGolden pins the CSV and JSON downloads of the sample batch.
func TestExportGolden(t *testing.T) {
	t.Parallel()
	b, lines := sampleBatch(t)
	golden(t, "batch.golden.csv", mustWrite(t, func(w io.Writer) error { return remit.WriteCSV(w, b, lines) }))
	golden(t, "batch.golden.json", mustWrite(t, func(w io.Writer) error { return remit.WriteJSON(w, b, lines) }))
}

// TestExportCSV proves the CSV's shape: BOM and CRLF, the documented
// header, IDs as plain digits, receipts with their leading zeros, times in
// Asia/Shanghai, a negative reversal that stays a number, and subtotal
// rows before the grand total that add up.
func TestExportCSV(t *testing.T) {
	t.Parallel()
	b, lines := sampleBatch(t)
	recs := csvRecords(t, mustWrite(t, func(w io.Writer) error { return remit.WriteCSV(w, b, lines) }))
	want := []string{"序号", "批次号", "业务日期", "镇街代码", "镇街名称", "村居代码", "村居名称", "代办员", "缴费人姓名",
		"公民身份号码", "险种", "缴费年度", "缴费档次(元)", "金额(元)", "收据号", "收款时间", "入账时间", "冲正原批次行"}
	if !slices.Equal(recs[0], want) || !slices.Equal(remit.ExportHeader(), want) {
		t.Fatalf("header = %q\nwant %q", recs[0], want)
	}
	if len(recs) != 1+len(lines)+3 {
		t.Fatalf("%d records, want header + %d lines + 3 totals rows", len(recs), len(lines))
	}
	first := recs[1]
	checks := map[string]string{
		"序号": "1", "批次号": b.ID, "业务日期": "2026-11-26", "镇街名称": "临城街道", "缴费人姓名": "张三",
		"公民身份号码": lines[0].ResidentID, "险种": "养老保险", "缴费年度": "2027", "缴费档次(元)": "300.00",
		"金额(元)": "300.00", "收据号": "000000001001", "收款时间": "2026-11-26 09:30:05", "入账时间": "2026-11-26 10:00:00",
		"冲正原批次行": "",
	}
	for col, v := range checks {
		if got := first[slices.Index(want, col)]; got != v {
			t.Errorf("line 1 %s = %q, want %q", col, got, v)
		}
	}
	if got := recs[2][slices.Index(want, "缴费档次(元)")]; got != "" {
		t.Errorf("medical grade = %q, want blank", got)
	}
	if got := recs[2][slices.Index(want, "缴费人姓名")]; got != "王\U0002003E" {
		t.Errorf("non-BMP name = %q", got)
	}
	rev := recs[4]
	if rev[13] != "-400.00" || rev[17] != "01KBATCH00000000000000000A#7" {
		t.Errorf("reversal amount %q, reverses %q", rev[13], rev[17])
	}
	// Totals: 小计 pension, 小计 medical, 合计, adding up to the lines.
	var sum syncproto.Money
	byKind := map[string]syncproto.Money{}
	for _, r := range recs[1 : 1+len(lines)] {
		m, err := syncproto.ParseSignedMoney(r[13])
		if err != nil {
			t.Fatal(err)
		}
		sum += m
		byKind[r[10]] += m
	}
	tot := recs[len(recs)-3:]
	wantTot := [][3]string{
		{"小计：养老保险", "共2笔", byKind["养老保险"].String()},
		{"小计：医疗保险", "共2笔", byKind["医疗保险"].String()},
		{"合计", "共4笔", sum.String()},
	}
	for i, w := range wantTot {
		if got := [3]string{tot[i][0], tot[i][8], tot[i][13]}; got != w {
			t.Errorf("totals row %d = %q, want %q", i, got, w)
		}
	}
	if sum != b.Total || sum.String() != "780.50" {
		t.Errorf("sum %s, batch total %s", sum, b.Total)
	}
}

// TestExportXLSXReadBack is the spreadsheet test: the XLSX
// download, read back with excelize, has the Chinese headers, text cells
// that keep all 18 digits of an ID and the leading zeros of a receipt,
// number cells for amounts, totals equal to the sum of its rows, and the
// very same cells as the CSV download.
func TestExportXLSXReadBack(t *testing.T) {
	t.Parallel()
	b, lines := sampleBatch(t)
	data := mustWrite(t, func(w io.Writer) error { return remit.WriteXLSX(w, b, lines) })
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); len(sheets) != 1 || sheets[0] != b.ID {
		t.Fatalf("sheets = %q, want [%q]", sheets, b.ID)
	}
	rows, err := f.GetRows(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], remit.ExportHeader()) {
		t.Fatalf("header = %q", rows[0])
	}
	// ID and receipt are text cells; amounts numbers.
	for cell, want := range map[string]excelize.CellType{"J2": excelize.CellTypeInlineString, "O2": excelize.CellTypeInlineString,
		"N2": excelize.CellTypeNumber, "A2": excelize.CellTypeNumber} {
		typ, err := f.GetCellType(b.ID, cell)
		if err != nil {
			t.Fatal(err)
		}
		// A number cell has no type attribute: unset means number.
		if typ != want && !(want == excelize.CellTypeInlineString && typ == excelize.CellTypeSharedString) &&
			!(want == excelize.CellTypeNumber && typ == excelize.CellTypeUnset) {
			t.Errorf("cell %s type %v, want %v", cell, typ, want)
		}
	}
	if v, _ := f.GetCellValue(b.ID, "J2"); v != lines[0].ResidentID {
		t.Errorf("ID cell = %q, want %q", v, lines[0].ResidentID)
	}
	if v, _ := f.GetCellValue(b.ID, "O2"); v != "000000001001" {
		t.Errorf("receipt cell = %q", v)
	}
	if v, _ := f.GetCellValue(b.ID, "N3", excelize.Options{RawCellValue: true}); v != "380.5" {
		t.Errorf("raw amount = %q, want the number 380.5", v)
	}
	// The totals row equals the sum of the data rows' raw numbers.
	var sum syncproto.Money
	for r := 2; r < 2+len(lines); r++ {
		v, err := f.GetCellValue(b.ID, "N"+strconv.Itoa(r), excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		fv, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("row %d amount %q is not a number", r, v)
		}
		m, err := syncproto.ParseSignedMoney(strconv.FormatFloat(fv, 'f', 2, 64))
		if err != nil {
			t.Fatal(err)
		}
		sum += m
	}
	last := rows[len(rows)-1]
	if last[0] != "合计" || last[8] != "共4笔" || last[13] != sum.String() || sum != b.Total {
		t.Errorf("totals row = %q, want 合计 共4笔 %s (batch %s)", last, sum, b.Total)
	}
	panes, err := f.GetPanes(b.ID)
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("header not frozen: %+v %v", panes, err)
	}

	// The same cells as the CSV, text for text.
	recs := csvRecords(t, mustWrite(t, func(w io.Writer) error { return remit.WriteCSV(w, b, lines) }))
	for i := range rows {
		rows[i] = append(rows[i], make([]string, len(recs[i])-len(rows[i]))...)
	}
	if !reflect.DeepEqual(rows, recs) {
		t.Fatalf("XLSX cells differ from CSV:\n got %q\nwant %q", rows, recs)
	}
}

// TestExportJSON proves the JSON document's totals agree with its lines
// and that amounts are integers of fen with yuan strings beside them.
func TestExportJSON(t *testing.T) {
	t.Parallel()
	b, lines := sampleBatch(t)
	var doc struct {
		Batch remit.Batch `json:"batch"`
		Lines []struct {
			remit.Line
			AmountYuan string `json:"amount_yuan"`
			GradeYuan  string `json:"grade_yuan"`
		} `json:"lines"`
		Totals struct {
			Count     int             `json:"count"`
			Total     syncproto.Money `json:"total"`
			TotalYuan string          `json:"total_yuan"`
			ByKind    map[syncproto.Kind]struct {
				Count     int             `json:"count"`
				Total     syncproto.Money `json:"total"`
				TotalYuan string          `json:"total_yuan"`
			} `json:"by_kind"`
		} `json:"totals"`
	}
	data := mustWrite(t, func(w io.Writer) error { return remit.WriteJSON(w, b, lines) })
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	count, total, byKind := remit.Totals(lines)
	if doc.Totals.Count != count || doc.Totals.Total != total || doc.Totals.TotalYuan != "780.50" || doc.Batch.Total != total {
		t.Errorf("totals %+v, want %d %s", doc.Totals, count, total)
	}
	for k, kt := range byKind {
		got := doc.Totals.ByKind[k]
		if got.Count != kt.Count || got.Total != kt.Total || got.TotalYuan != kt.Total.String() {
			t.Errorf("%s: %+v, want %+v", k, got, kt)
		}
	}
	if len(doc.Lines) != len(lines) {
		t.Fatalf("%d lines", len(doc.Lines))
	}
	for i, l := range doc.Lines {
		if l.Amount != lines[i].Amount || l.AmountYuan != lines[i].Amount.String() || l.ResidentID != lines[i].ResidentID ||
			!l.DeviceTime.Equal(lines[i].DeviceTime) || l.ReversesLine != lines[i].ReversesLine {
			t.Errorf("line %d = %+v", i+1, l)
		}
	}
	if doc.Lines[1].GradeYuan != "" || doc.Lines[0].GradeYuan != "300.00" {
		t.Errorf("grade_yuan %q %q", doc.Lines[0].GradeYuan, doc.Lines[1].GradeYuan)
	}
	if !bytes.Contains(data, []byte(`"device_time": "2026-11-26T09:30:05+08:00"`)) {
		t.Error("times are not written in Asia/Shanghai")
	}
}

// TestExportRefuses proves that a download whose lines do not add up to
// the batch, or hold an unknown kind, is refused in every format before a
// byte is written.
func TestExportRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		alter func(*remit.Batch, []remit.Line)
	}{
		{"ErrCount", func(b *remit.Batch, _ []remit.Line) { b.Count++ }},
		{"ErrTotal", func(b *remit.Batch, _ []remit.Line) { b.Total += 1 }},
		{"ErrLineAmount", func(_ *remit.Batch, l []remit.Line) { l[0].Amount-- }},
		{"ErrKind", func(_ *remit.Batch, l []remit.Line) { l[1].Kind = "dental" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, lines := sampleBatch(t)
			tt.alter(&b, lines)
			for _, format := range []string{remit.FormatCSV, remit.FormatXLSX, remit.FormatJSON} {
				var buf bytes.Buffer
				if err := remit.WriteExport(&buf, format, b, lines); err == nil || buf.Len() > 0 {
					t.Errorf("%s: err %v, %d bytes written", format, err, buf.Len())
				}
			}
		})
	}
}

// TestExportDefusesFormulas proves that text a spreadsheet would run as a
// formula is neutralised in the CSV, while negative amounts stay numbers,
// and that the XLSX keeps such text as text (never a formula).
func TestExportDefusesFormulas(t *testing.T) {
	t.Parallel()
	b, lines := sampleBatch(t)
	lines[0].Name = "=HYPERLINK(\"http://x\")"
	lines[0].AgentName = "@SUM(A1)"
	lines[1].VillageName = "+1"
	lines[2].Name = "-2"
	recs := csvRecords(t, mustWrite(t, func(w io.Writer) error { return remit.WriteCSV(w, b, lines) }))
	for _, c := range []struct{ row, col int }{{1, 8}, {1, 7}, {2, 6}, {3, 8}} {
		if v := recs[c.row][c.col]; !strings.HasPrefix(v, "'") {
			t.Errorf("row %d col %d = %q, not defused", c.row, c.col, v)
		}
	}
	if recs[4][13] != "-400.00" {
		t.Errorf("negative amount = %q, must stay a number", recs[4][13])
	}
	data := mustWrite(t, func(w io.Writer) error { return remit.WriteXLSX(w, b, lines) })
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if formula, _ := f.GetCellFormula(b.ID, "I2"); formula != "" {
		t.Errorf("XLSX cell I2 holds the formula %q", formula)
	}
	if v, _ := f.GetCellValue(b.ID, "I2"); v != lines[0].Name {
		t.Errorf("XLSX name = %q", v)
	}
}

// TestExportEmptyBatch proves that a batch without lines still has the
// header and zero totals.
func TestExportEmptyBatch(t *testing.T) {
	t.Parallel()
	b := remit.Batch{ID: "01KEMPTY", TownshipCode: "370403001", BusinessDay: "2026-11-27"}
	recs := csvRecords(t, mustWrite(t, func(w io.Writer) error { return remit.WriteCSV(w, b, nil) }))
	if len(recs) != 4 || recs[3][0] != "合计" || recs[3][8] != "共0笔" || recs[3][13] != "0.00" {
		t.Fatalf("records = %q", recs)
	}
	data := mustWrite(t, func(w io.Writer) error { return remit.WriteJSON(w, b, nil) })
	if !bytes.Contains(data, []byte(`"lines": []`)) {
		t.Errorf("JSON lines of an empty batch are not []: %s", data)
	}
}

func TestTotals(t *testing.T) {
	t.Parallel()
	_, lines := sampleBatch(t)
	tests := []struct {
		name   string
		lines  []remit.Line
		count  int
		total  syncproto.Money
		byKind map[syncproto.Kind]remit.KindTotal
	}{
		{"Empty", nil, 0, 0, map[syncproto.Kind]remit.KindTotal{syncproto.KindPension: {}, syncproto.KindMedical: {}}},
		{"ReversalNets", lines, 4, syncproto.Money(78050), map[syncproto.Kind]remit.KindTotal{
			syncproto.KindPension: {Count: 2, Total: syncproto.Yuan(800)},
			syncproto.KindMedical: {Count: 2, Total: syncproto.Money(-1950)},
		}},
		{"OnlyMedical", lines[1:2], 1, syncproto.Money(38050), map[syncproto.Kind]remit.KindTotal{
			syncproto.KindPension: {}, syncproto.KindMedical: {Count: 1, Total: syncproto.Money(38050)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			count, total, byKind := remit.Totals(tt.lines)
			if count != tt.count || total != tt.total || !reflect.DeepEqual(byKind, tt.byKind) {
				t.Errorf("Totals = %d %s %v, want %d %s %v", count, total, byKind, tt.count, tt.total, tt.byKind)
			}
		})
	}
}

// TestWriteZIP proves that a day's downloads zip in name order, with the
// same bytes for the same input, and that unsafe names are refused.
func TestWriteZIP(t *testing.T) {
	t.Parallel()
	b, lines := sampleBatch(t)
	csvData := mustWrite(t, func(w io.Writer) error { return remit.WriteCSV(w, b, lines) })
	entries := map[string][]byte{
		remit.ExportFilename(b, "csv"): csvData,
		"a/说明.txt":                     []byte("说明"),
		"0.json":                       []byte("{}"),
	}
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	data := mustWrite(t, func(w io.Writer) error { return remit.WriteZIP(w, entries, at) })
	again := mustWrite(t, func(w io.Writer) error { return remit.WriteZIP(w, entries, at) })
	if !bytes.Equal(data, again) {
		t.Error("the same entries give different archives")
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, entries[f.Name]) {
			t.Errorf("%s: content differs (%v)", f.Name, err)
		}
	}
	want := []string{"0.json", "a/说明.txt", "batch_2026-11-26_370403001_r2_01KBATCH00000000000000000B.csv"}
	if !slices.Equal(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
	for _, bad := range []string{"", "../x.csv", "/etc/x", `a\b.csv`, "a/../b", "."} {
		if err := remit.WriteZIP(io.Discard, map[string][]byte{bad: nil}, at); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
}

func TestWriteExportFormats(t *testing.T) {
	t.Parallel()
	b, lines := sampleBatch(t)
	for _, format := range []string{remit.FormatCSV, remit.FormatXLSX, remit.FormatJSON} {
		if remit.ContentType(format) == "" {
			t.Errorf("no content type for %s", format)
		}
		if err := remit.WriteExport(io.Discard, format, b, lines); err != nil {
			t.Errorf("%s: %v", format, err)
		}
	}
	err := remit.WriteExport(io.Discard, "pdf", b, lines)
	if syncproto.ErrorCode(err) != syncproto.CodeInvalidInput || remit.ContentType("pdf") != "" {
		t.Errorf("pdf: %v", err)
	}
}
