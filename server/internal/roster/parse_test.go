package roster_test

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"villagesync/server/internal/roster"
	"villagesync/syncproto"
)

const (
	zhHeader = "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额,备注"
	zhRow    = "张三,37040319800101123X,沙沟村,医疗,一般,2026,400,0,无"
)

// wantRow is the Row of zhRow (without Num and Header).
var wantRow = roster.Row{
	Name: "张三", ResidentID: "37040319800101123X", Village: "沙沟村", Kind: "医疗",
	Category: "一般", Year: "2026", Due: "400", Subsidy: "0", Note: "无",
}

func lines(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

func TestParse(t *testing.T) {
	t.Parallel()
	utf16 := func(s string) []byte {
		out, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name     string
		filename string
		data     []byte
		nums     []int       // expected Row.Num of each row
		first    *roster.Row // expected first row, Num and Header ignored
		header   *roster.Header
	}{
		{name: "OKChineseHeaders", data: lines(zhHeader, zhRow), nums: []int{2}, first: &wantRow,
			header: &roster.Header{Name: "姓名", ResidentID: "公民身份号码", Village: "村居", Kind: "险种",
				Category: "人员类别", Year: "缴费年度", Due: "应缴金额", Subsidy: "代缴金额", Note: "备注"}},
		{name: "OKEnglishHeaders", data: lines("name,resident_id,village,kind,category,year,amount_due,subsidy,note", zhRow),
			nums: []int{2}, first: &wantRow},
		{name: "OKColumnOrderFree", data: lines("备注,代缴金额,应缴金额,缴费年度,人员类别,险种,村居,公民身份号码,姓名",
			"无,0,400,2026,一般,医疗,沙沟村,37040319800101123X,张三"), nums: []int{2}, first: &wantRow},
		{name: "OKHeaderAliases", data: lines("姓名,身份证号码,村/社区,险种,人员类别,缴费年度,应缴金额,代缴金额", strings.TrimSuffix(zhRow, ",无")),
			nums: []int{2}, first: &roster.Row{Name: "张三", ResidentID: "37040319800101123X", Village: "沙沟村", Kind: "医疗",
				Category: "一般", Year: "2026", Due: "400", Subsidy: "0"}},
		{name: "OKHeaderIDShort", data: lines("姓名,身份证号,村居,险种,人员类别,缴费年度,应缴金额,代缴金额,备注", zhRow), nums: []int{2}, first: &wantRow},
		{name: "OKHeaderSpacesWidthCaseMarks", data: lines(
			" 姓　名 ,*公民身份号码,村 居,险种：,人员类别,缴费年度,应缴金额（元）,代缴金额(元),ＮＯＴＥ", zhRow),
			nums: []int{2}, first: &wantRow,
			header: &roster.Header{Name: "姓　名", ResidentID: "*公民身份号码", Village: "村 居", Kind: "险种：",
				Category: "人员类别", Year: "缴费年度", Due: "应缴金额（元）", Subsidy: "代缴金额(元)", Note: "ＮＯＴＥ"}},
		{name: "OKEnglishHeadersCaseAndSpaces", data: lines("Name,Resident ID,VILLAGE,Kind,Category,Year,Amount Due,Subsidy,Note", zhRow),
			nums: []int{2}, first: &wantRow},
		{name: "OKVillageCodeAndName", data: lines("姓名,公民身份号码,村居编码,村居名称,险种,人员类别,缴费年度,应缴金额,代缴金额",
			"张三,37040319800101123X,370403101201,沙沟村,医疗,一般,2026,400,0"), nums: []int{2},
			first: &roster.Row{Name: "张三", ResidentID: "37040319800101123X", Village: "370403101201", VillageName: "沙沟村",
				Kind: "医疗", Category: "一般", Year: "2026", Due: "400", Subsidy: "0"}},
		{name: "OKVillageNameBeforeCode", data: lines("姓名,公民身份号码,村居名称,村居编码,险种,人员类别,缴费年度,应缴金额,代缴金额",
			"张三,37040319800101123X,沙沟村,370403101201,医疗,一般,2026,400,0"), nums: []int{2},
			first: &roster.Row{Name: "张三", ResidentID: "37040319800101123X", Village: "370403101201", VillageName: "沙沟村",
				Kind: "医疗", Category: "一般", Year: "2026", Due: "400", Subsidy: "0"}},
		{name: "OKVillageNameOnly", data: lines("姓名,公民身份号码,村居名称,险种,人员类别,缴费年度,应缴金额,代缴金额,备注", zhRow),
			nums: []int{2}, first: &wantRow},
		{name: "OKUnknownColumnsIgnored", data: lines("序号,"+zhHeader+",联系电话", "1,"+zhRow+",13800000000"), nums: []int{2}, first: &wantRow},
		{name: "OKTitleRowsAbove", data: lines("薛城区2026年城乡居民基本医疗保险征收清册,,,", "", "填报单位：沙沟镇", zhHeader, zhRow),
			nums: []int{5}, first: &wantRow},
		{name: "OKBlankLinesCounted", data: lines(zhHeader, "", zhRow, ",,,,, ,,,", "", zhRow), nums: []int{3, 6}},
		{name: "OKTotalsRowSkipped", data: lines(zhHeader, zhRow, "合　计,,,,,,400,0,"), nums: []int{2}},
		{name: "OKTotalsInFirstColumnSkipped", data: lines("序号,"+zhHeader, "1,"+zhRow, "合计,,,,,,,400,0,"), nums: []int{2}},
		{name: "OKShortRowPadded", data: lines(zhHeader, "张三,37040319800101123X"), nums: []int{2},
			first: &roster.Row{Name: "张三", ResidentID: "37040319800101123X"}},
		{name: "OKRowNumbersAfterMultilineCell", data: []byte(zhHeader + "\r\n" +
			"张三,37040319800101123X,沙沟村,医疗,一般,2026,400,0,\"第一行\r\n第二行\r\n第三行\"\r\n" + zhRow + "\r\n"),
			nums: []int{2, 3}, first: &roster.Row{Name: "张三", ResidentID: "37040319800101123X", Village: "沙沟村", Kind: "医疗",
				Category: "一般", Year: "2026", Due: "400", Subsidy: "0", Note: "第一行\n第二行\n第三行"}},
		{name: "OKTabDelimited", data: lines(strings.ReplaceAll(zhHeader, ",", "\t"), strings.ReplaceAll(zhRow, ",", "\t")),
			nums: []int{2}, first: &wantRow},
		{name: "OKUTF16ExcelUnicodeText", data: utf16(strings.ReplaceAll(zhHeader+"\r\n"+zhRow+"\r\n", ",", "\t")),
			nums: []int{2}, first: &wantRow},
		{name: "OKBOMUTF8", data: append([]byte("\ufeff"), lines(zhHeader, zhRow)...), nums: []int{2}, first: &wantRow},
		{name: "OKRawCellsKept", data: lines(zhHeader, " 张三 ,37040319800101123x,沙沟村,医疗,一般,2026年,¥400.00, ,"),
			nums: []int{2}, first: &roster.Row{Name: " 张三 ", ResidentID: "37040319800101123x", Village: "沙沟村", Kind: "医疗",
				Category: "一般", Year: "2026年", Due: "¥400.00", Subsidy: " "}},
		{name: "OKXLSXDespiteCSVName", filename: "roster.csv", data: mustXLSX(t, string(lines(zhHeader, zhRow)), false),
			nums: []int{2}, first: &wantRow},
		{name: "OKXLSXNumbersAndGaps", filename: "roster.xlsx", data: mustXLSX(t, string(lines("清册", zhHeader, "", "", zhRow)), true),
			nums: []int{5}, first: &wantRow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			filename := tt.filename
			if filename == "" {
				filename = "roster.csv"
			}
			rows := mustParse(t, tt.data, filename)
			var nums []int
			for _, r := range rows {
				nums = append(nums, r.Num)
				if r.Header == nil || r.Header != rows[0].Header {
					t.Fatalf("row %d header %p, want the shared header %p", r.Num, r.Header, rows[0].Header)
				}
			}
			if !equalInts(nums, tt.nums) {
				t.Fatalf("row numbers = %v, want %v", nums, tt.nums)
			}
			if tt.first != nil {
				got := rows[0]
				got.Num, got.Header = 0, nil
				if got != *tt.first {
					t.Fatalf("first row = %+v\nwant %+v", got, *tt.first)
				}
			}
			if tt.header != nil && *rows[0].Header != *tt.header {
				t.Fatalf("header = %+v\nwant %+v", *rows[0].Header, *tt.header)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	damagedZip := func() []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.Create("hello.txt")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("not a workbook")); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tests := []struct {
		name     string
		filename string
		data     []byte
		code     syncproto.Code
		msg      string // fragment of the English message
	}{
		{name: "ErrMissingColumn", data: lines("姓名,公民身份号码,村居,险种,人员类别,缴费年度,代缴金额", "张三,37040319800101123X,沙沟村,医疗,一般,2026,0"),
			code: roster.CodeMissingColumn, msg: "lacks the column(s) amount_due"},
		{name: "ErrMissingColumnsListed", data: lines("姓名,公民身份号码,备注", "张三,37040319800101123X,"),
			code: roster.CodeMissingColumn, msg: "village, kind, category, year, amount_due, subsidy"},
		{name: "ErrMissingColumnNamesHeaderRow", data: lines("标题", "姓名,公民身份号码", "张三,37040319800101123X"),
			code: roster.CodeMissingColumn, msg: "header row 2"},
		{name: "ErrDuplicateColumn", data: lines(zhHeader+",身份证号", zhRow+",37040319800101123X"),
			code: roster.CodeDuplicateColumn, msg: `"公民身份号码" and "身份证号"`},
		{name: "ErrDuplicateNote", data: lines(zhHeader+",备注", zhRow+",x"), code: roster.CodeDuplicateColumn, msg: "note"},
		{name: "ErrThreeVillageColumns", data: lines(zhHeader+",村居编码,村居名称", zhRow+",370403101201,沙沟村"),
			code: roster.CodeDuplicateColumn, msg: "village"},
		{name: "ErrNoHeader", data: lines("a,b,c", "1,2,3"), code: roster.CodeNoHeader, msg: "name, resident_id"},
		{name: "ErrNoHeaderWithinFirstRows", data: lines("t", "t", "t", "t", "t", "t", "t", "t", "t", "t", zhHeader, zhRow),
			code: roster.CodeNoHeader},
		{name: "ErrEmptyFile", data: nil, code: roster.CodeNoHeader},
		{name: "ErrOnlyHeader", data: lines(zhHeader, "", ",,,"), code: roster.CodeEmpty},
		{name: "ErrOldXLS", filename: "清册.xls", data: []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0},
			code: roster.CodeUnsupportedFormat, msg: ".xls"},
		{name: "ErrOldXLSByNameOnly", filename: "清册.XLS", data: lines(zhHeader, zhRow), code: roster.CodeUnsupportedFormat},
		{name: "ErrXLSXNameButText", filename: "清册.xlsx", data: lines(zhHeader, zhRow), code: roster.CodeUnreadable, msg: "not an Excel workbook"},
		{name: "ErrDamagedXLSX", filename: "清册.xlsx", data: []byte("PK\x03\x04garbage"), code: roster.CodeUnreadable},
		{name: "ErrZipNotWorkbook", filename: "清册.xlsx", data: damagedZip(), code: roster.CodeUnreadable},
		{name: "ErrNeitherUTF8NorGB18030", data: append(lines(zhHeader), 0xFF, 0xFF, 0x81, '\n'),
			code: roster.CodeUnsupportedFormat, msg: "neither UTF-8 nor GB18030"},
		{name: "ErrBOMButInvalidUTF8", data: append([]byte("\ufeff"+zhHeader+"\n"), 0xC4, 0xE3, '\n'),
			code: roster.CodeUnsupportedFormat, msg: "not valid UTF-8"},
		{name: "ErrMalformedCSVQuote", data: []byte(zhHeader + "\n" + zhRow + "\n\"张三\"x,1\n"),
			code: roster.CodeUnreadable, msg: "row 3: malformed CSV"},
		{name: "ErrUnclosedQuoteRowAfterMultiline", data: []byte(zhHeader + "\n" + zhRow + ",\"a\nb\"\n\"open,1\n"),
			code: roster.CodeUnreadable, msg: "row 3: malformed CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			filename := tt.filename
			if filename == "" {
				filename = "roster.csv"
			}
			rows, err := roster.Parse(bytes.NewReader(tt.data), filename)
			if err == nil {
				t.Fatalf("Parse = %+v, want error %s", rows, tt.code)
			}
			if got := codeOf(err); got != tt.code {
				t.Fatalf("code = %s, want %s (%v)", got, tt.code, err)
			}
			var e *syncproto.Error
			if !asCoded(err, &e) || e.MessageZH == "" || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("error = %#v, want a Chinese message and %q in %q", err, tt.msg, e.Message)
			}
		})
	}
}

// asCoded is errors.As for *syncproto.Error.
func asCoded(err error, target **syncproto.Error) bool {
	for err != nil {
		if e, ok := err.(*syncproto.Error); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestParseReaderError proves a failing reader is reported, not ignored.
func TestParseReaderError(t *testing.T) {
	t.Parallel()
	_, err := roster.Parse(failingReader{}, "roster.csv")
	if codeOf(err) != roster.CodeUnreadable {
		t.Fatalf("error = %v, want %s", err, roster.CodeUnreadable)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errTest }

var errTest = syncproto.Errorf(syncproto.CodeUnavailable, "disk on fire", "磁盘故障")
