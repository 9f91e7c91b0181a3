package remit_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"villagesync/server/internal/remit"
	"villagesync/syncproto"
)

// postingNow is "now" of the posting tests: two days after the batch.
var postingNow = time.Date(2026, 11, 28, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

// postingTable is the posting result of the sample batch as cells: a
// header and one row per line, lines named by 序号, by 收据号 or both; the
// reversal line is posted too, and line 3 failed.
var postingTable = [][]string{
	{"收据号", "完税凭证号", "序号", "入库日期", "错误信息"},
	{"000000001001", "337036261100000001", "1", "2026-11-27", ""},
	{"", "337036261100000001", "2", "2026/11/27", ""},
	{"000000002001", "", "", "", "缴费人已在其他渠道缴费"},
	{"000000002000", "337036261100000002", "4", "2026-11-28", ""},
}

// wantPostings is what ValidatePostings makes of postingTable (Row left
// out: it depends on the format).
var wantPostings = map[int]remit.Posting{
	1: {LineNo: 1, ReceiptNo: "000000001001", Voucher: "337036261100000001", PostedDate: "2026-11-27"},
	2: {LineNo: 2, ReceiptNo: "000000001002", Voucher: "337036261100000001", PostedDate: "2026-11-27"},
	3: {LineNo: 3, ReceiptNo: "000000002001", Error: "缴费人已在其他渠道缴费"},
	4: {LineNo: 4, ReceiptNo: "000000002000", Voucher: "337036261100000002", PostedDate: "2026-11-28"},
}

// csvText writes cells as CSV with sep and line end eol.
func csvText(tb testing.TB, table [][]string, sep rune, crlf bool) []byte {
	tb.Helper()
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Comma, cw.UseCRLF = sep, crlf
	if err := cw.WriteAll(table); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// xlsxOf writes cells into a workbook; with numbers, numeric cells are
// number cells and dates date cells, as Excel stores them when typed in.
func xlsxOf(tb testing.TB, table [][]string, numbers bool) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	// A title row and a blank row above the header.
	if err := f.SetCellValue("Sheet1", "A1", "2026年11月27日入库结果"); err != nil {
		tb.Fatal(err)
	}
	for r, row := range table {
		for c, v := range row {
			cell, _ := excelize.CoordinatesToCellName(c+1, r+3)
			var val any = v
			if numbers && r > 0 && v != "" {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && len(v) < 15 {
					val = n
				} else if d, err := time.Parse("2006-01-02", strings.ReplaceAll(v, "/", "-")); err == nil {
					val = d
				}
			}
			if err := f.SetCellValue("Sheet1", cell, val); err != nil {
				tb.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// jsonOf writes cells as a JSON array of objects keyed by the header, the
// line number as a JSON number.
func jsonOf(tb testing.TB, table [][]string, keys map[string]string) []byte {
	tb.Helper()
	var objs []map[string]any
	for _, row := range table[1:] {
		obj := map[string]any{}
		for c, v := range row {
			k := keys[table[0][c]]
			switch {
			case v == "":
			case k == "line_no":
				n, _ := strconv.Atoi(v)
				obj[k] = n
			default:
				obj[k] = v
			}
		}
		objs = append(objs, obj)
	}
	data, err := json.Marshal(objs)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func mustEncodeGB18030(tb testing.TB, b []byte) []byte {
	tb.Helper()
	out, err := simplifiedchinese.GB18030.NewEncoder().Bytes(b)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// englishHeaders renames the header row.
func englishHeaders(table [][]string) [][]string {
	en := map[string]string{"序号": "line_no", "收据号": "receipt_no", "完税凭证号": "voucher", "入库日期": "posted_date", "错误信息": "error"}
	out := slices.Clone(table)
	out[0] = make([]string, len(table[0]))
	for i, h := range table[0] {
		out[0][i] = en[h]
	}
	return out
}

// withoutRows drops the Row field, which depends on the format.
func withoutRows(m map[int]remit.Posting) map[int]remit.Posting {
	out := make(map[int]remit.Posting, len(m))
	for k, v := range m {
		v.Row = 0
		out[k] = v
	}
	return out
}

func mustValid(tb testing.TB, data []byte, filename string) map[int]remit.Posting {
	tb.Helper()
	ps, err := remit.ParsePostings(data, filename)
	if err != nil {
		tb.Fatal(err)
	}
	_, lines := sampleBatch(tb)
	got, errs := remit.ValidatePostings(ps, lines, postingNow)
	if len(errs) > 0 {
		tb.Fatalf("unexpected errors %+v", errs)
	}
	return got
}

// TestParsePostingsFormats proves that the same posting result as CSV
// (UTF-8, UTF-8 with BOM and CRLF, GB18030, tab separated, English
// headers), XLSX (text cells, or number and date cells under a title row)
// and JSON gives the same postings.
func TestParsePostingsFormats(t *testing.T) {
	t.Parallel()
	keys := map[string]string{"序号": "line_no", "收据号": "receipt_no", "完税凭证号": "voucher", "入库日期": "posted_date", "错误信息": "error"}
	files := []struct {
		name, filename string
		data           []byte
	}{
		{"UTF8", "result.csv", csvText(t, postingTable, ',', false)},
		{"UTF8BOMCRLF", "result.csv", append([]byte("\ufeff"), csvText(t, postingTable, ',', true)...)},
		{"GB18030", "入库结果.csv", mustEncodeGB18030(t, csvText(t, postingTable, ',', true))},
		{"Tabs", "result.txt", csvText(t, postingTable, '\t', false)},
		{"EnglishHeaders", "result.csv", csvText(t, englishHeaders(postingTable), ',', false)},
		{"XLSXText", "result.xlsx", xlsxOf(t, postingTable, false)},
		{"XLSXNumbersAndDates", "upload", xlsxOf(t, postingTable, true)},
		{"JSON", "result.json", jsonOf(t, postingTable, keys)},
		{"JSONChineseKeys", "upload", jsonOf(t, postingTable, map[string]string{"序号": "line_no", "收据号": "收据号",
			"完税凭证号": "完税凭证号", "入库日期": "入库日期", "错误信息": "错误信息"})},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			if got := withoutRows(mustValid(t, f.data, f.filename)); !reflect.DeepEqual(got, wantPostings) {
				t.Errorf("postings differ:\n got %+v\nwant %+v", got, wantPostings)
			}
		})
	}
}

// TestParsePostingsRows proves that rows are numbered as a spreadsheet
// shows them (line breaks inside cells do not count, blank lines do) and
// that blank rows, note rows and totals rows are skipped.
func TestParsePostingsRows(t *testing.T) {
	t.Parallel()
	text := "入库结果\r\n" +
		"序号,完税凭证号,入库日期,错误信息\r\n" +
		"1,V1,2026-11-27,\r\n" +
		"\r\n" +
		"3,,,\"多行\n错误\"\r\n" +
		"2,V2,2026-11-27,\r\n" +
		"合计,,,\r\n" +
		",,,,制表人：张三\r\n"
	ps, err := remit.ParsePostings([]byte(text), "a.csv")
	if err != nil {
		t.Fatal(err)
	}
	var rows, lineNos []int
	for _, p := range ps {
		rows, lineNos = append(rows, p.Row), append(lineNos, p.LineNo)
	}
	if !slices.Equal(rows, []int{3, 5, 6}) || !slices.Equal(lineNos, []int{1, 3, 2}) {
		t.Fatalf("rows %v lines %v", rows, lineNos)
	}
	_, lines := sampleBatch(t)
	got, errs := remit.ValidatePostings(ps, lines, postingNow)
	if len(errs) > 0 || got[3].Error != "多行 错误" {
		t.Fatalf("got %+v, errors %+v", got, errs)
	}

	// XLSX rows are the sheet's: a title in row 1, row 2 empty, the
	// header in row 3.
	ps, err = remit.ParsePostings(xlsxOf(t, postingTable, false), "a.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	rows = rows[:0]
	for _, p := range ps {
		rows = append(rows, p.Row)
	}
	if !slices.Equal(rows, []int{4, 5, 6, 7}) {
		t.Fatalf("XLSX rows %v, want [4 5 6 7]", rows)
	}
}

// TestParsePostingsFromDownload proves that the tax office may fill
// 完税凭证号 and 入库日期 into the batch it downloaded — as CSV after Excel
// dropped the receipts' leading zeros, or as the XLSX with real date
// cells — and upload that: the totals rows are skipped and every line,
// the reversal included, is posted.
func TestParsePostingsFromDownload(t *testing.T) {
	t.Parallel()
	b, lines := sampleBatch(t)
	want := map[int]remit.Posting{}
	for _, l := range lines {
		want[l.No] = remit.Posting{LineNo: l.No, ReceiptNo: l.ReceiptNo, Voucher: "V" + strconv.Itoa(l.No), PostedDate: "2026-11-27"}
	}

	t.Run("CSV", func(t *testing.T) {
		t.Parallel()
		recs := csvRecords(t, mustWrite(t, func(w io.Writer) error { return remit.WriteCSV(w, b, lines) }))
		recs[0] = append(recs[0], "完税凭证号", "入库日期")
		for i := 1; i < len(recs); i++ {
			if i <= len(lines) {
				recs[i][14] = strings.TrimLeft(recs[i][14], "0") // Excel ate the zeros
				recs[i][9] = "3.70403E+17"                       // and the IDs
				recs[i] = append(recs[i], "V"+recs[i][0], "2026/11/27")
			} else {
				recs[i] = append(recs[i], "", "")
			}
		}
		recs[1][0] = "" // a row named by its receipt alone
		got := withoutRows(mustValid(t, csvText(t, recs, ',', true), "batch.csv"))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("XLSX", func(t *testing.T) {
		t.Parallel()
		data := mustWrite(t, func(w io.Writer) error { return remit.WriteXLSX(w, b, lines) })
		f, err := excelize.OpenReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		set := func(cell string, v any) {
			if err := f.SetCellValue(b.ID, cell, v); err != nil {
				t.Fatal(err)
			}
		}
		set("S1", "完税凭证号")
		set("T1", "入库日期")
		for i, l := range lines {
			set("S"+strconv.Itoa(i+2), "V"+strconv.Itoa(l.No))
			set("T"+strconv.Itoa(i+2), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
		}
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if got := withoutRows(mustValid(t, buf.Bytes(), "batch.xlsx")); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
}

// TestParsePostingsFileErrors proves each file-level refusal and its code.
func TestParsePostingsFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, filename string
		data           []byte
		code           syncproto.Code
	}{
		{"ErrEmpty", "a.csv", nil, remit.CodePostingNoHeader},
		{"ErrNoHeader", "a.csv", []byte("a,b,c\n1,2,3\n"), remit.CodePostingNoHeader},
		{"ErrNoLineColumn", "a.csv", []byte("完税凭证号,入库日期\nV,2026-11-27\n"), remit.CodePostingMissingColumn},
		{"ErrVoucherWithoutDate", "a.csv", []byte("序号,完税凭证号\n1,V\n"), remit.CodePostingMissingColumn},
		{"ErrDateWithoutVoucher", "a.csv", []byte("序号,入库日期,错误信息\n1,2026-11-27,\n"), remit.CodePostingMissingColumn},
		{"ErrNoResultColumn", "a.csv", []byte("序号,收据号\n1,000000001001\n"), remit.CodePostingMissingColumn},
		{"ErrDuplicateColumn", "a.csv", []byte("序号,line_no,错误信息\n1,1,x\n"), remit.CodePostingDuplicateColumn},
		{"ErrHeaderOnly", "a.csv", []byte("序号,错误信息\n\n合计,\n"), remit.CodePostingEmpty},
		{"ErrUnclosedQuote", "a.csv", []byte("序号,错误信息\n1,\"x\n"), remit.CodePostingUnreadable},
		{"ErrBadBOM", "a.csv", []byte("\xef\xbb\xbf序号,错误信息\n1,\xff\n"), remit.CodePostingUnsupportedFormat},
		{"ErrNotText", "a.csv", []byte("\x81\x30\x81"), remit.CodePostingUnsupportedFormat},
		{"ErrXLS", "a.xls", []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0}, remit.CodePostingUnsupportedFormat},
		{"ErrFakeXLSX", "a.xlsx", []byte("序号,错误信息\n1,x\n"), remit.CodePostingUnreadable},
		{"ErrBrokenXLSX", "a.xlsx", []byte("PK\x03\x04garbage"), remit.CodePostingUnreadable},
		{"ErrXLSXNoHeader", "a.xlsx", xlsxOf(t, [][]string{{"a", "b"}, {"1", "2"}}, false), remit.CodePostingNoHeader},
		{"ErrJSONNotArray", "a.json", []byte(`{"line_no": 1}`), remit.CodePostingUnreadable},
		{"ErrJSONArrayOfNumbers", "a.json", []byte(`[1, 2]`), remit.CodePostingUnreadable},
		{"ErrJSONNull", "a.json", []byte(`[null]`), remit.CodePostingUnreadable},
		{"ErrJSONEmpty", "a.json", []byte(`[]`), remit.CodePostingEmpty},
		{"ErrJSONDuplicateKeys", "a.json", []byte(`[{"line_no": 1, "序号": 1, "error": "x"}]`), remit.CodePostingDuplicateColumn},
		{"ErrJSONNotUTF8", "a.json", []byte("[{\"error\": \"\xff\"}]"), remit.CodePostingUnsupportedFormat},
		{"ErrTooLarge", "a.csv", make([]byte, remit.MaxPostingBytes+1), syncproto.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps, err := remit.ParsePostings(tt.data, tt.filename)
			if code := syncproto.ErrorCode(err); code != tt.code {
				t.Fatalf("code %s (%v), want %s; postings %+v", code, err, tt.code, ps)
			}
			var se *syncproto.Error
			if !errors.As(err, &se) || se.MessageZH == "" {
				t.Errorf("error %v has no Chinese message", err)
			}
		})
	}
}

// TestValidatePostings proves each row-level rule with one row against
// the sample batch.
func TestValidatePostings(t *testing.T) {
	t.Parallel()
	ok := func(p remit.Posting) remit.Posting { p.Row = 2; return p }
	tests := []struct {
		name  string
		p     remit.Posting
		codes []syncproto.Code
		want  *remit.Posting
	}{
		{"OKByLineNo", remit.Posting{LineNo: 1, Voucher: "V1", PostedDate: "2026-11-27"}, nil,
			&remit.Posting{LineNo: 1, ReceiptNo: "000000001001", Voucher: "V1", PostedDate: "2026-11-27"}},
		{"OKByReceiptWithoutZeros", remit.Posting{ReceiptNo: "1002", Voucher: "V2", PostedDate: "2026/11/27"}, nil,
			&remit.Posting{LineNo: 2, ReceiptNo: "000000001002", Voucher: "V2", PostedDate: "2026-11-27"}},
		{"OKBoth", remit.Posting{LineNo: 3, ReceiptNo: "000000002001", Voucher: "(2026)鲁电 0012", PostedDate: "2026年11月28日"}, nil,
			&remit.Posting{LineNo: 3, ReceiptNo: "000000002001", Voucher: "(2026)鲁电 0012", PostedDate: "2026-11-28"}},
		{"OKReversal", remit.Posting{LineNo: 4, Voucher: "V4", PostedDate: "2026-11-26"}, nil,
			&remit.Posting{LineNo: 4, ReceiptNo: "000000002000", Voucher: "V4", PostedDate: "2026-11-26"}},
		{"OKError", remit.Posting{LineNo: 2, Error: "  身份信息\n不符  "}, nil,
			&remit.Posting{LineNo: 2, ReceiptNo: "000000001002", Error: "身份信息 不符"}},
		{"ErrInvalidLineNo", remit.Posting{LineNo: -1, Voucher: "V", PostedDate: "2026-11-27"}, []syncproto.Code{remit.CodePostingInvalidLineNo}, nil},
		{"ErrNoLine", remit.Posting{Voucher: "V", PostedDate: "2026-11-27"}, []syncproto.Code{remit.CodePostingNoLine}, nil},
		{"ErrUnknownLine", remit.Posting{LineNo: 9, Voucher: "V", PostedDate: "2026-11-27"}, []syncproto.Code{remit.CodePostingUnknownLine}, nil},
		{"ErrUnknownReceipt", remit.Posting{ReceiptNo: "000000009999", Voucher: "V", PostedDate: "2026-11-27"}, []syncproto.Code{remit.CodePostingUnknownReceipt}, nil},
		{"ErrLineMismatch", remit.Posting{LineNo: 1, ReceiptNo: "000000001002", Voucher: "V", PostedDate: "2026-11-27"}, []syncproto.Code{remit.CodePostingLineMismatch}, nil},
		{"ErrBothResults", remit.Posting{LineNo: 1, Voucher: "V", PostedDate: "2026-11-27", Error: "x"}, []syncproto.Code{remit.CodePostingBothResults}, nil},
		{"ErrDateAndError", remit.Posting{LineNo: 1, PostedDate: "2026-11-27", Error: "x"}, []syncproto.Code{remit.CodePostingBothResults}, nil},
		{"ErrNoResult", remit.Posting{LineNo: 1}, []syncproto.Code{remit.CodePostingNoResult}, nil},
		{"ErrMissingVoucher", remit.Posting{LineNo: 1, PostedDate: "2026-11-27"}, []syncproto.Code{remit.CodePostingMissingVoucher}, nil},
		{"ErrMissingDate", remit.Posting{LineNo: 1, Voucher: "V"}, []syncproto.Code{remit.CodePostingMissingDate}, nil},
		{"ErrInvalidVoucher", remit.Posting{LineNo: 1, Voucher: `{"a":1}`, PostedDate: "2026-11-27"}, []syncproto.Code{remit.CodePostingInvalidVoucher}, nil},
		{"ErrLongVoucher", remit.Posting{LineNo: 1, Voucher: strings.Repeat("1", remit.MaxVoucherRunes+1), PostedDate: "2026-11-27"}, []syncproto.Code{remit.CodePostingInvalidVoucher}, nil},
		{"ErrNotACalendarDay", remit.Posting{LineNo: 1, Voucher: "V", PostedDate: "2026-02-30"}, []syncproto.Code{remit.CodePostingInvalidDate}, nil},
		{"ErrShortYear", remit.Posting{LineNo: 1, Voucher: "V", PostedDate: "26-11-27"}, []syncproto.Code{remit.CodePostingInvalidDate}, nil},
		{"ErrDateWithTime", remit.Posting{LineNo: 1, Voucher: "V", PostedDate: "2026-11-27 10:00:00"}, []syncproto.Code{remit.CodePostingInvalidDate}, nil},
		{"ErrMixedSeparators", remit.Posting{LineNo: 1, Voucher: "V", PostedDate: "2026/11-27"}, []syncproto.Code{remit.CodePostingInvalidDate}, nil},
		{"ErrFutureDate", remit.Posting{LineNo: 1, Voucher: "V", PostedDate: "2026-11-29"}, []syncproto.Code{remit.CodePostingFutureDate}, nil},
		{"ErrDateBeforeCollection", remit.Posting{LineNo: 1, Voucher: "V", PostedDate: "2026-11-25"}, []syncproto.Code{remit.CodePostingDateTooEarly}, nil},
		{"ErrLongError", remit.Posting{LineNo: 1, Error: strings.Repeat("错", remit.MaxPostingErrorRunes+1)}, []syncproto.Code{remit.CodePostingInvalidError}, nil},
		{"ErrControlInError", remit.Posting{LineNo: 1, Error: "a\x00b"}, []syncproto.Code{remit.CodePostingInvalidError}, nil},
		{"ErrEverything", remit.Posting{LineNo: 1, Voucher: "V{}", PostedDate: "2026-13-01"},
			[]syncproto.Code{remit.CodePostingInvalidVoucher, remit.CodePostingInvalidDate}, nil},
	}
	_, lines := sampleBatch(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := remit.ValidatePostings([]remit.Posting{ok(tt.p)}, lines, postingNow)
			var codes []syncproto.Code
			for _, e := range errs {
				codes = append(codes, e.Code)
				if e.Row != 2 || e.Column == "" || e.MessageZH == "" || e.Message == "" {
					t.Errorf("incomplete error %+v", e)
				}
			}
			if !slices.Equal(codes, tt.codes) {
				t.Fatalf("codes %v, want %v (%+v)", codes, tt.codes, errs)
			}
			if tt.want == nil {
				if len(got) != 0 {
					t.Errorf("accepted %+v", got)
				}
				return
			}
			if w := ok(*tt.want); !reflect.DeepEqual(got, map[int]remit.Posting{w.LineNo: w}) {
				t.Errorf("got %+v, want %+v", got, w)
			}
		})
	}
}

// TestValidatePostingsDateForms proves the accepted ways of writing a
// posted date, all normalised to YYYY-MM-DD.
func TestValidatePostingsDateForms(t *testing.T) {
	t.Parallel()
	lines := []remit.Line{{No: 1, Kind: syncproto.KindMedical, ReceiptNo: "000000000001"}}
	for _, form := range []string{"2026-01-05", "2026-1-5", "2026/01/05", "2026/1/5", "2026年1月5日", "2026年01月05日"} {
		got, errs := remit.ValidatePostings([]remit.Posting{{Row: 2, LineNo: 1, Voucher: "V", PostedDate: form}}, lines, postingNow)
		if len(errs) > 0 || got[1].PostedDate != "2026-01-05" {
			t.Errorf("%s: %+v %+v", form, got, errs)
		}
	}
}

// TestValidatePostingsAcrossRows proves the rules between rows: a line
// named twice (by number, then by receipt) is refused the second time, a
// receipt two lines carry needs 序号, and every error of the file is
// returned in row order while the passing rows stay in the map.
func TestValidatePostingsAcrossRows(t *testing.T) {
	t.Parallel()
	_, lines := sampleBatch(t)
	// A correction in the same batch: the reversal and a new line of the
	// same collection share its receipt number.
	lines = append(lines, remit.Line{No: 5, Kind: syncproto.KindMedical, Amount: syncproto.Yuan(380), ReceiptNo: "000000002000",
		ServerTime: lines[3].ServerTime})
	ps := []remit.Posting{
		{Row: 2, LineNo: 1, Voucher: "V", PostedDate: "2026-11-27"},
		{Row: 3, ReceiptNo: "000000001001", Voucher: "V", PostedDate: "2026-11-27"},
		{Row: 4, ReceiptNo: "2000", Voucher: "V", PostedDate: "2026-11-27"},
		{Row: 5, LineNo: 5, ReceiptNo: "2000", Voucher: "V", PostedDate: "2026-11-27"},
		{Row: 6, LineNo: 2, PostedDate: "2026-11-31"},
	}
	got, errs := remit.ValidatePostings(ps, lines, postingNow)
	type rc struct {
		row  int
		code syncproto.Code
	}
	var gotErrs []rc
	for _, e := range errs {
		gotErrs = append(gotErrs, rc{e.Row, e.Code})
	}
	wantErrs := []rc{
		{3, remit.CodePostingDuplicateLine},
		{4, remit.CodePostingAmbiguousReceipt},
		{6, remit.CodePostingMissingVoucher},
		{6, remit.CodePostingInvalidDate},
	}
	if !slices.Equal(gotErrs, wantErrs) {
		t.Fatalf("errors %v, want %v (%+v)", gotErrs, wantErrs, errs)
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []int{1, 5}) {
		t.Errorf("accepted lines %v, want [1 5]", keys)
	}
}

// TestPostingReportGolden pins the error report of a file with a mistake
// or two in each row.
func TestPostingReportGolden(t *testing.T) {
	t.Parallel()
	data := mustReadTestdata(t, "posting_bad.csv")
	ps, err := remit.ParsePostings(data, "posting_bad.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, lines := sampleBatch(t)
	_, errs := remit.ValidatePostings(ps, lines, postingNow)
	var buf bytes.Buffer
	if err := remit.WritePostingReportCSV(&buf, errs); err != nil {
		t.Fatal(err)
	}
	golden(t, "posting_bad.report.golden.csv", buf.Bytes())
	recs := csvRecords(t, buf.Bytes())
	if len(recs) != len(errs)+1 {
		t.Fatalf("%d records for %d errors", len(recs), len(errs))
	}
}

func mustReadTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// checkParsedPostings asserts the invariants of ParsePostings' result and
// runs ValidatePostings and the report on it, which must not panic.
func checkParsedPostings(t *testing.T, ps []remit.Posting, err error) {
	t.Helper()
	if err != nil {
		if syncproto.ErrorCode(err) == syncproto.CodeInternal {
			t.Fatalf("uncoded error %v", err)
		}
		if ps != nil {
			t.Fatal("postings returned with an error")
		}
		return
	}
	if len(ps) == 0 {
		t.Fatal("no postings and no error")
	}
	last := 0
	for _, p := range ps {
		if p.Row <= last {
			t.Fatalf("rows not increasing: %d after %d", p.Row, last)
		}
		last = p.Row
		if p.LineNo < -1 {
			t.Fatalf("line number %d", p.LineNo)
		}
		for _, s := range []string{p.ReceiptNo, p.Voucher, p.PostedDate, p.Error} {
			if !utf8.ValidString(s) {
				t.Fatalf("row %d holds invalid UTF-8 %q", p.Row, s)
			}
		}
	}
	_, lines := sampleBatch(t)
	got, errs := remit.ValidatePostings(ps, lines, postingNow)
	// Every row is either accepted or has an error, never both.
	accepted, failed := map[int]bool{}, map[int]bool{}
	for no, p := range got {
		if p.LineNo != no || (p.Error == "") == (p.Voucher == "") || (p.Voucher == "") != (p.PostedDate == "") {
			t.Fatalf("accepted an impossible posting %+v", p)
		}
		accepted[p.Row] = true
	}
	for _, e := range errs {
		if accepted[e.Row] {
			t.Fatalf("row %d accepted and refused", e.Row)
		}
		failed[e.Row] = true
	}
	if len(accepted)+len(failed) != len(ps) {
		t.Fatalf("%d postings, %d accepted, %d refused", len(ps), len(accepted), len(failed))
	}
	if err := remit.WritePostingReportCSV(io.Discard, errs); err != nil {
		t.Fatal(err)
	}
}

func FuzzParsePostings(f *testing.F) {
	f.Add(csvText(f, postingTable, ',', true), "result.csv")
	f.Add(mustEncodeGB18030(f, csvText(f, postingTable, ',', true)), "result.csv")
	f.Add(jsonOf(f, postingTable, map[string]string{"序号": "line_no", "收据号": "receipt_no", "完税凭证号": "voucher",
		"入库日期": "posted_date", "错误信息": "error"}), "result.json")
	x := xlsxOf(f, postingTable, true)
	f.Add(x, "result.xlsx")
	f.Add(x[:len(x)/2], "result.xlsx")
	f.Add(mustReadTestdata(f, "posting_bad.csv"), "posting_bad.csv")
	f.Fuzz(func(t *testing.T, data []byte, filename string) {
		ps, err := remit.ParsePostings(data, filename)
		checkParsedPostings(t, ps, err)
	})
}
