package remit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/unicode/norm"

	"villagesync/server/internal/textenc"
	"villagesync/syncproto"
)

// Limits of ParsePostings and ValidatePostings.
const (
	// MaxPostingBytes is the largest posting file read (a batch of 100,000
	// lines is about 6 MB as CSV).
	MaxPostingBytes = 32 << 20
	// MaxPostingRows is the largest number of data rows accepted.
	MaxPostingRows = 200_000
	// MaxVoucherRunes is the longest voucher number (完税凭证号) accepted.
	MaxVoucherRunes = 64
	// MaxPostingErrorRunes is the longest error text (错误信息) accepted.
	MaxPostingErrorRunes = 500
	// postingHeaderScan is how many non-blank rows are searched for the
	// header row, so that a title row or two above it are fine.
	postingHeaderScan = 10
	// postingValueRunes caps PostingError.Value.
	postingValueRunes = 256
	// unzipLimit bounds what an uploaded XLSX may unpack to.
	unzipLimit = 256 << 20
)

// Codes of the errors of a posting file. File-level errors from
// ParsePostings are *syncproto.Error (or syncproto.CodeTooLarge);
// row-level ones from ValidatePostings are PostingError.
const (
	// CodePostingUnsupportedFormat: not XLSX, JSON or CSV (e.g. an old
	// .xls), or a CSV text encoding other than UTF-8, UTF-16 or GB18030.
	CodePostingUnsupportedFormat syncproto.Code = "posting_unsupported_format"
	// CodePostingUnreadable: a damaged XLSX, malformed CSV or JSON, or JSON
	// that is not an array of objects.
	CodePostingUnreadable syncproto.Code = "posting_unreadable"
	// CodePostingNoHeader: no header row among the first rows.
	CodePostingNoHeader syncproto.Code = "posting_no_header"
	// CodePostingMissingColumn: no column names the line (序号 or 收据号),
	// or there is neither a voucher with a date nor an error column.
	CodePostingMissingColumn syncproto.Code = "posting_missing_column"
	// CodePostingDuplicateColumn: two columns (or JSON keys) mean the same
	// field.
	CodePostingDuplicateColumn syncproto.Code = "posting_duplicate_column"
	// CodePostingEmpty: a header but no data rows.
	CodePostingEmpty syncproto.Code = "posting_empty"

	// CodePostingInvalidLineNo: 序号 is not a positive whole number.
	CodePostingInvalidLineNo syncproto.Code = "posting_invalid_line_no"
	// CodePostingNoLine: the row gives neither 序号 nor 收据号.
	CodePostingNoLine syncproto.Code = "posting_no_line"
	// CodePostingUnknownLine: the batch has no line with this 序号.
	CodePostingUnknownLine syncproto.Code = "posting_unknown_line"
	// CodePostingUnknownReceipt: the batch has no line with this 收据号.
	CodePostingUnknownReceipt syncproto.Code = "posting_unknown_receipt"
	// CodePostingAmbiguousReceipt: several lines of the batch carry this
	// 收据号 (a reversal and a new line of one collection); give 序号.
	CodePostingAmbiguousReceipt syncproto.Code = "posting_ambiguous_receipt"
	// CodePostingLineMismatch: 序号 and 收据号 name different lines.
	CodePostingLineMismatch syncproto.Code = "posting_line_mismatch"
	// CodePostingDuplicateLine: an earlier row already posts this line.
	CodePostingDuplicateLine syncproto.Code = "posting_duplicate_line"
	// CodePostingNoResult: neither a voucher and date nor an error.
	CodePostingNoResult syncproto.Code = "posting_no_result"
	// CodePostingBothResults: a voucher or date and also an error.
	CodePostingBothResults syncproto.Code = "posting_both_results"
	// CodePostingMissingVoucher: a posted date without a voucher number.
	CodePostingMissingVoucher syncproto.Code = "posting_missing_voucher"
	// CodePostingInvalidVoucher: a voucher number that is too long or has
	// characters no voucher number has.
	CodePostingInvalidVoucher syncproto.Code = "posting_invalid_voucher"
	// CodePostingMissingDate: a voucher number without a posted date.
	CodePostingMissingDate syncproto.Code = "posting_missing_date"
	// CodePostingInvalidDate: a posted date that is not a date.
	CodePostingInvalidDate syncproto.Code = "posting_invalid_date"
	// CodePostingFutureDate: a posted date after today (Asia/Shanghai).
	CodePostingFutureDate syncproto.Code = "posting_future_date"
	// CodePostingDateTooEarly: a posted date before the collection reached
	// the server, which cannot be.
	CodePostingDateTooEarly syncproto.Code = "posting_date_too_early"
	// CodePostingInvalidError: an error text that is too long or holds
	// control characters.
	CodePostingInvalidError syncproto.Code = "posting_invalid_error"
)

// postingField is a column of a posting file.
type postingField int

const (
	pfLineNo postingField = iota
	pfReceipt
	pfVoucher
	pfDate
	pfError
	numPostingFields
)

// postingColumns are the headers ParsePostings recognises, indexed by
// postingField: the standard Chinese and English ones first, then aliases.
var postingColumns = [numPostingFields]struct {
	zh, en  string
	aliases []string
}{
	pfLineNo:  {zh: "序号", en: "line_no", aliases: []string{"行序号", "明细序号", "line"}},
	pfReceipt: {zh: "收据号", en: "receipt_no", aliases: []string{"收据号码", "收据编号", "票据号", "票据号码", "receipt"}},
	pfVoucher: {zh: "完税凭证号", en: "voucher", aliases: []string{"完税凭证号码", "完税证明号", "凭证号", "凭证号码", "电子税票号码", "税票号码", "voucher_no"}},
	pfDate:    {zh: "入库日期", en: "posted_date", aliases: []string{"入库时间", "入库日", "posted", "posted_on"}},
	pfError:   {zh: "错误信息", en: "error", aliases: []string{"错误原因", "失败原因", "错误", "入库失败原因", "error_message"}},
}

// postingHeaders maps a normalised header to its field.
var postingHeaders = func() map[string]postingField {
	m := make(map[string]postingField)
	for f, c := range postingColumns {
		for _, h := range append([]string{c.zh, c.en}, c.aliases...) {
			m[normalisePostingHeader(h)] = postingField(f)
		}
	}
	return m
}()

// normalisePostingHeader folds the ways people write a header: full-width
// forms (NFKC), letter case, white space, '_', '-', '*', ':' and a BOM.
func normalisePostingHeader(s string) string {
	s = strings.ToLower(norm.NFKC.String(s))
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\ufeff' || strings.ContainsRune("_-*:", r) {
			return -1
		}
		return r
	}, s)
}

// postingFormat is what a posting file is, by its content.
type postingFormat int

const (
	postingCSV postingFormat = iota
	postingXLSX
	postingJSON
)

// ParsePostings reads the tax office's posting result (入库结果) for one
// batch into Postings, in file order. It does not check them against the
// batch: ValidatePostings does, and reports every problem of every row.
//
// The format is decided by the content: XLSX by its ZIP magic bytes (the
// first visible sheet with a header row), JSON when the text starts with
// '[' (or the name ends in .json), otherwise CSV (comma or tab separated)
// in UTF-8 with or without BOM, UTF-16 with BOM, or GB18030/GBK.
//
// CSV and XLSX need a header row among the first non-blank rows, with the
// columns in any order, Chinese or English, matched ignoring white space,
// full-width forms and letter case: 序号/line_no and/or 收据号/receipt_no
// naming the line, 完税凭证号/voucher with 入库日期/posted_date, and/or
// 错误信息/error. Other columns are ignored, so the tax office may fill
// those columns into the downloaded batch itself. Blank rows, rows whose
// known cells are all blank (a "制表人" note) and totals rows (合计, 总计,
// 小计…) are skipped. JSON is an array of objects with the same keys.
//
// Each Posting carries Row (the spreadsheet row; for JSON the 1-based
// position in the array) and the cells trimmed and NFKC-folded (the error
// text only trimmed); a receipt number or voucher with a leading
// apostrophe loses it, and an XLSX date cell becomes YYYY-MM-DD.
// PostedDate is otherwise as written; ValidatePostings checks and
// normalises it. A 序号 that is not a positive whole number (or a JSON
// value of the wrong type) gives LineNo -1, which ValidatePostings reports.
//
// Errors are *syncproto.Error with a CodePosting… code, or
// syncproto.CodeTooLarge beyond MaxPostingBytes or MaxPostingRows.
func ParsePostings(data []byte, filename string) ([]Posting, error) {
	if len(data) > MaxPostingBytes {
		return nil, syncproto.Errorf(syncproto.CodeTooLarge,
			fmt.Sprintf("posting file is larger than %d MiB", MaxPostingBytes>>20),
			fmt.Sprintf("入库结果文件超过 %d MiB", MaxPostingBytes>>20))
	}
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(filename, `\`, "/")))
	switch sniffPosting(data, ext) {
	case postingXLSX:
		return parsePostingXLSX(data)
	case postingJSON:
		return parsePostingJSON(data)
	}
	if bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}) || ext == ".xls" {
		return nil, syncproto.Errorf(CodePostingUnsupportedFormat,
			"old Excel 97-2003 (.xls) or password-protected workbooks are not supported; save the file as .xlsx or CSV",
			"不支持旧版 Excel 97-2003（.xls）或加密的工作簿，请另存为 .xlsx 或 CSV 格式")
	}
	if ext == ".xlsx" || ext == ".xlsm" {
		return nil, syncproto.Errorf(CodePostingUnreadable,
			"the file is named .xlsx but is not an Excel workbook",
			"文件扩展名为 .xlsx，但内容不是 Excel 工作簿")
	}
	text, err := decodePostingText(data)
	if err != nil {
		return nil, err
	}
	return parsePostingCSV(text)
}

// sniffPosting tells the format by the content, and the name for JSON.
func sniffPosting(data []byte, ext string) postingFormat {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")) {
		return postingXLSX
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if bytes.HasPrefix(t, []byte("[")) || (ext == ".json" && bytes.HasPrefix(t, []byte("{"))) {
		return postingJSON
	}
	return postingCSV
}

// decodePostingText returns CSV text as UTF-8, detecting its encoding.
func decodePostingText(data []byte) ([]byte, error) {
	return textenc.Decode(data, CodePostingUnsupportedFormat)
}

// postingLayout is the meaning of a file's columns: for each field the
// index of its column, or -1.
type postingLayout struct {
	index [numPostingFields]int
}

// recognisedPosting counts the cells of a row that are known headers.
func recognisedPosting(cells []string) int {
	n := 0
	for _, c := range cells {
		if _, ok := postingHeaders[normalisePostingHeader(c)]; ok {
			n++
		}
	}
	return n
}

// newPostingLayout maps a header row to fields and checks that the file
// can post anything.
func newPostingLayout(cells []string, rowNum int) (*postingLayout, error) {
	l := &postingLayout{}
	for i := range l.index {
		l.index[i] = -1
	}
	for i, c := range cells {
		f, ok := postingHeaders[normalisePostingHeader(c)]
		if !ok {
			continue
		}
		if prev := l.index[f]; prev >= 0 {
			return nil, syncproto.Errorf(CodePostingDuplicateColumn,
				fmt.Sprintf("row %d: columns %q and %q mean the same field %q; keep one", rowNum,
					strings.TrimSpace(cells[prev]), strings.TrimSpace(c), postingColumns[f].en),
				fmt.Sprintf("第 %d 行：“%s”列与“%s”列含义相同（%s），请只保留一列", rowNum,
					strings.TrimSpace(cells[prev]), strings.TrimSpace(c), postingColumns[f].zh))
		}
		l.index[f] = i
	}
	if err := l.check(fmt.Sprintf("header row %d", rowNum), fmt.Sprintf("第 %d 行表头", rowNum)); err != nil {
		return nil, err
	}
	return l, nil
}

// check refuses a layout that cannot name a line or give a result.
func (l *postingLayout) check(where, whereZH string) error {
	has := func(f postingField) bool { return l.index[f] >= 0 }
	switch {
	case !has(pfLineNo) && !has(pfReceipt):
		return syncproto.Errorf(CodePostingMissingColumn,
			where+" has neither 序号 (line_no) nor 收据号 (receipt_no): each row must name its batch line",
			whereZH+"既没有“序号”列也没有“收据号”列，无法确定每行对应的批次明细")
	case has(pfVoucher) && !has(pfDate):
		return syncproto.Errorf(CodePostingMissingColumn,
			where+" has 完税凭证号 (voucher) but no 入库日期 (posted_date)",
			whereZH+"有“完税凭证号”列，但缺少“入库日期”列")
	case has(pfDate) && !has(pfVoucher):
		return syncproto.Errorf(CodePostingMissingColumn,
			where+" has 入库日期 (posted_date) but no 完税凭证号 (voucher)",
			whereZH+"有“入库日期”列，但缺少“完税凭证号”列")
	case !has(pfVoucher) && !has(pfError):
		return syncproto.Errorf(CodePostingMissingColumn,
			where+" needs 完税凭证号 (voucher) and 入库日期 (posted_date), or 错误信息 (error)",
			whereZH+"须有“完税凭证号”和“入库日期”列，或“错误信息”列")
	}
	return nil
}

// posting builds a Posting from a data row; ok is false for a row that
// holds nothing to post (all known cells blank) or is a totals row.
// serialDates converts numeric date cells (XLSX) with the 1904 system
// when date1904 is set.
func (l *postingLayout) posting(num int, cells []string, serialDates, date1904 bool) (Posting, bool) {
	get := func(f postingField) string {
		if i := l.index[f]; i >= 0 && i < len(cells) {
			return cells[i]
		}
		return ""
	}
	raw := [numPostingFields]string{}
	empty := true
	for f := range numPostingFields {
		raw[f] = trimCell(get(f))
		if raw[f] != "" {
			empty = false
		}
	}
	if empty || totalsRow(cells) {
		return Posting{}, false
	}
	p := Posting{
		Row:        num,
		ReceiptNo:  foldID(raw[pfReceipt]),
		Voucher:    foldID(raw[pfVoucher]),
		PostedDate: foldID(raw[pfDate]),
		Error:      raw[pfError],
	}
	if serialDates {
		if d, ok := serialDate(p.PostedDate, date1904); ok {
			p.PostedDate = d
		}
	}
	if s := foldID(raw[pfLineNo]); s != "" {
		p.LineNo = parseLineNo(s)
	}
	return p, true
}

// trimCell removes surrounding white space (U+3000 and NBSP included) and
// a BOM.
func trimCell(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' })
}

// foldID folds full-width digits and letters (NFKC) and drops one leading
// apostrophe, which spreadsheet users type to keep leading zeros.
func foldID(s string) string {
	s = trimCell(norm.NFKC.String(s))
	s = strings.TrimPrefix(s, "'")
	return trimCell(s)
}

// parseLineNo returns a positive line number, or -1 when s is not one.
// "12.0" (a spreadsheet's number) is 12.
func parseLineNo(s string) int {
	s = strings.TrimSuffix(strings.TrimSuffix(s, ".0"), ".00")
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return -1
	}
	return n
}

// serialDate turns a spreadsheet date serial number (days since
// 1899-12-30, or since 1904-01-01) between the years 2000 and 2100 into
// YYYY-MM-DD.
func serialDate(s string, date1904 bool) (string, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	epoch := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	if date1904 {
		epoch = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	d := epoch.AddDate(0, 0, int(math.Floor(f)))
	if f < 0 || f > 80000 || d.Year() < 2000 || d.Year() > 2100 {
		return "", false
	}
	return d.Format(time.DateOnly), true
}

// totalsRow reports a totals row: its first non-blank cell starts with
// 合计, 总计 or 小计 (as in this package's own downloads).
func totalsRow(cells []string) bool {
	for _, c := range cells {
		c = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, c)
		if c != "" {
			return strings.HasPrefix(c, "合计") || strings.HasPrefix(c, "总计") || strings.HasPrefix(c, "小计")
		}
	}
	return false
}

// blankRow reports whether every cell is empty or white space.
func blankRow(cells []string) bool {
	for _, c := range cells {
		if trimCell(c) != "" {
			return false
		}
	}
	return true
}

// readPostingTable finds the header row in the rows next returns (number,
// cells, or io.EOF) and collects the postings.
func readPostingTable(next func() (int, []string, error), serialDates, date1904 bool) ([]Posting, bool, error) {
	var l *postingLayout
	for scanned := 0; l == nil; {
		num, cells, err := next()
		if err == io.EOF {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if blankRow(cells) {
			continue
		}
		if recognisedPosting(cells) >= 2 {
			if l, err = newPostingLayout(cells, num); err != nil {
				return nil, false, err
			}
			break
		}
		if scanned++; scanned == postingHeaderScan {
			return nil, false, nil
		}
	}
	var out []Posting
	for {
		num, cells, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, true, err
		}
		if blankRow(cells) {
			continue
		}
		p, ok := l.posting(num, cells, serialDates, date1904)
		if !ok {
			continue
		}
		if len(out) == MaxPostingRows {
			return nil, true, tooManyPostings()
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, true, syncproto.Errorf(CodePostingEmpty,
			"the posting file has a header but no data rows", "入库结果文件只有表头，没有数据行")
	}
	return out, true, nil
}

func tooManyPostings() error {
	return syncproto.Errorf(syncproto.CodeTooLarge,
		fmt.Sprintf("posting file has more than %d rows", MaxPostingRows),
		fmt.Sprintf("入库结果文件超过 %d 行", MaxPostingRows))
}

func noPostingHeader() error {
	return syncproto.Errorf(CodePostingNoHeader,
		"no header row found; the first rows must include 序号 (line_no) or 收据号 (receipt_no), and 完税凭证号 (voucher) with 入库日期 (posted_date), or 错误信息 (error)",
		"未找到表头行，表格前几行中应有“序号”或“收据号”列，以及“完税凭证号”和“入库日期”列或“错误信息”列")
}

// parsePostingCSV reads CSV text in UTF-8, numbering records as a
// spreadsheet program shows them: by line, less the line breaks inside
// quoted cells of earlier records.
func parsePostingCSV(text []byte) ([]Posting, error) {
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = postingDelimiter(text)
	cr.FieldsPerRecord = -1
	embedded := 0
	next := func() (int, []string, error) {
		rec, err := cr.Read()
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				num := pe.StartLine - embedded
				return 0, nil, syncproto.Wrap(err, CodePostingUnreadable,
					fmt.Sprintf("row %d: malformed CSV (%v); check the quotes in that row", num, pe.Err),
					fmt.Sprintf("第 %d 行：CSV 格式错误，请检查该行的引号", num))
			}
			return 0, nil, syncproto.Wrap(err, CodePostingUnreadable, "cannot read the CSV file", "无法读取 CSV 文件")
		}
		line, _ := cr.FieldPos(0)
		num := line - embedded
		for _, c := range rec {
			embedded += strings.Count(c, "\n")
		}
		return num, rec, nil
	}
	out, found, err := readPostingTable(next, false, false)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, noPostingHeader()
	}
	return out, nil
}

// postingDelimiter picks ',' unless the first lines hold more tabs than
// commas.
func postingDelimiter(text []byte) rune {
	head := text
	for i, n := 0, 0; i < len(text); i++ {
		if text[i] == '\n' {
			if n++; n == postingHeaderScan {
				head = text[:i]
				break
			}
		}
	}
	if bytes.Count(head, []byte{'\t'}) > bytes.Count(head, []byte{','}) {
		return '\t'
	}
	return ','
}

// parsePostingXLSX reads the first visible sheet that has a header row.
// Cells are read raw (not through their number format), so that receipt
// and voucher numbers keep all their digits; date cells of the posted
// date column are converted from their serial number.
func parsePostingXLSX(data []byte) (out []Posting, err error) {
	defer func() {
		// excelize parses untrusted input; a panic in it must not take
		// the server down.
		if r := recover(); r != nil {
			out, err = nil, syncproto.Errorf(CodePostingUnreadable,
				"the Excel workbook is damaged", "Excel 工作簿已损坏，无法读取")
		}
	}()
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit: unzipLimit, UnzipXMLSizeLimit: min(16<<20, unzipLimit)})
	if err != nil {
		return nil, syncproto.Wrap(err, CodePostingUnreadable,
			"the Excel workbook is damaged or encrypted", "Excel 工作簿已损坏或已加密，无法读取")
	}
	defer f.Close()
	date1904 := false
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		date1904 = *props.Date1904
	}
	for _, sheet := range f.GetSheetList() {
		if visible, err := f.GetSheetVisible(sheet); err == nil && !visible {
			continue
		}
		rows, err := f.Rows(sheet)
		if err != nil {
			return nil, syncproto.Wrap(err, CodePostingUnreadable,
				"cannot read the worksheet "+sheet, "无法读取工作表“"+sheet+"”")
		}
		num := 0
		next := func() (int, []string, error) {
			if !rows.Next() {
				if err := rows.Error(); err != nil {
					return 0, nil, syncproto.Wrap(err, CodePostingUnreadable,
						"cannot read the worksheet "+sheet, "无法读取工作表“"+sheet+"”")
				}
				return 0, nil, io.EOF
			}
			num++
			cells, err := rows.Columns(excelize.Options{RawCellValue: true})
			if err != nil {
				return 0, nil, syncproto.Wrap(err, CodePostingUnreadable,
					fmt.Sprintf("cannot read row %d of the worksheet %s", num, sheet),
					fmt.Sprintf("无法读取工作表“%s”第 %d 行", sheet, num))
			}
			return num, cells, nil
		}
		out, found, err := readPostingTable(next, true, date1904)
		rows.Close()
		if err != nil {
			return nil, err
		}
		if found {
			return out, nil
		}
	}
	return nil, noPostingHeader()
}

// parsePostingJSON reads an array of objects whose keys are the column
// headers (English or Chinese) and whose values are strings, numbers or
// null.
func parsePostingJSON(data []byte) ([]Posting, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, syncproto.Errorf(CodePostingUnsupportedFormat,
			"a JSON posting file must be UTF-8", "JSON 格式的入库结果文件须为 UTF-8 编码")
	}
	var objs []map[string]json.RawMessage
	if err := json.Unmarshal(data, &objs); err != nil {
		return nil, syncproto.Wrap(err, CodePostingUnreadable,
			"the JSON posting file must be an array of objects such as {\"line_no\": 1, \"voucher\": \"…\", \"posted_date\": \"2026-11-27\"}",
			"JSON 格式的入库结果文件须为对象数组，例如 {\"line_no\": 1, \"voucher\": \"…\", \"posted_date\": \"2026-11-27\"}")
	}
	if len(objs) > MaxPostingRows {
		return nil, tooManyPostings()
	}
	out := make([]Posting, 0, len(objs))
	for i, obj := range objs {
		if obj == nil {
			return nil, syncproto.Errorf(CodePostingUnreadable,
				fmt.Sprintf("element %d of the JSON array is null, not an object", i+1),
				fmt.Sprintf("JSON 数组第 %d 个元素为 null，应为对象", i+1))
		}
		l := postingLayout{}
		for f := range l.index {
			l.index[f] = -1
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		cells := make([]string, 0, len(keys))
		for _, k := range keys {
			f, ok := postingHeaders[normalisePostingHeader(k)]
			if !ok {
				continue
			}
			if l.index[f] >= 0 {
				return nil, syncproto.Errorf(CodePostingDuplicateColumn,
					fmt.Sprintf("object %d has two keys for the field %q; keep one", i+1, postingColumns[f].en),
					fmt.Sprintf("第 %d 个对象有两个表示“%s”的字段，请只保留一个", i+1, postingColumns[f].zh))
			}
			l.index[f] = len(cells)
			cells = append(cells, jsonCell(obj[k], f == pfLineNo))
		}
		p, ok := l.posting(i+1, cells, false, false)
		if !ok {
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, syncproto.Errorf(CodePostingEmpty,
			"the JSON posting file holds no postings", "JSON 格式的入库结果文件中没有入库记录")
	}
	return out, nil
}

// jsonCell returns a JSON value as cell text: a string as it is, a number
// as written, null as "". Anything else is kept as its JSON text, which
// no field accepts; for the line number it becomes "-", not a number.
func jsonCell(raw json.RawMessage, lineNo bool) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0, string(raw) == "null":
		return ""
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		return string(raw)
	}
	if lineNo {
		return "-"
	}
	return string(raw)
}

// PostingError is one problem of one row of a posting file, for the
// report the tax office downloads when its upload is refused.
type PostingError struct {
	// Row is the row of the file (Posting.Row).
	Row int `json:"row"`
	// Column is the standard Chinese header of the field: 序号, 收据号,
	// 完税凭证号, 入库日期 or 错误信息.
	Column string `json:"column"`
	// Value is the cell's text as parsed, cut to 256 characters (with
	// "…"); "" for a 序号 that was not a number.
	Value string `json:"value"`
	// Code is one of the CodePosting… row codes.
	Code syncproto.Code `json:"code"`
	// Message and MessageZH say what is wrong, in English and Chinese.
	Message   string `json:"message"`
	MessageZH string `json:"message_zh"`
}

// ValidatePostings checks the postings of a file against the lines of its
// batch and returns the accepted ones by line number, with every problem
// of every row, ordered by row then column. All or nothing is the
// caller's rule: with errors, the map still holds the rows that passed.
//
// Per row: it names an existing line by 序号 or 收据号 (receipt numbers
// compare without leading zeros, which spreadsheets drop; a receipt that
// two lines carry needs 序号); when both are given they name the same
// line; no line is named by two rows. It has either a voucher number and
// a posted date or an error text — not both, not neither. The date is
// YYYY-MM-DD, YYYY/M/D, YYYY-M-D or YYYY年M月D日, a real calendar day, not
// after today in Asia/Shanghai (by now) and not before the day the line's
// collection reached the server. A voucher is at most MaxVoucherRunes
// letters, digits and the marks -_/.()（）#№ and spaces; an error text at
// most MaxPostingErrorRunes characters without control characters (its
// line breaks and runs of white space become one space).
// Reversal lines are posted like the others; lines no row names are
// simply not posted yet.
//
// An accepted Posting has LineNo and ReceiptNo of its line, the voucher
// and error trimmed, and PostedDate as YYYY-MM-DD ("" with an error).
func ValidatePostings(ps []Posting, lines []Line, now time.Time) (map[int]Posting, []PostingError) {
	byNo := make(map[int]*Line, len(lines))
	byReceipt := make(map[string][]int, len(lines))
	for i := range lines {
		l := &lines[i]
		if _, dup := byNo[l.No]; !dup {
			byNo[l.No] = l
		}
		if k := receiptKey(l.ReceiptNo); k != "" {
			byReceipt[k] = append(byReceipt[k], l.No)
		}
	}
	y, m, d := now.In(fileZone()).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)

	out := make(map[int]Posting, len(ps))
	seen := make(map[int]int, len(ps)) // line no -> row
	var errs []PostingError
	for _, p := range ps {
		var rowErrs []PostingError
		fail := func(f postingField, value string, code syncproto.Code, msg, msgZH string) {
			rowErrs = append(rowErrs, PostingError{Row: p.Row, Column: postingColumns[f].zh,
				Value: cutValue(value), Code: code, Message: msg, MessageZH: msgZH})
		}
		line := resolveLine(p, byNo, byReceipt, fail)
		if line != nil {
			if first, dup := seen[line.No]; dup {
				fail(pfLineNo, strconv.Itoa(line.No), CodePostingDuplicateLine,
					fmt.Sprintf("line %d is already posted by row %d; each line may appear once", line.No, first),
					fmt.Sprintf("序号 %d 的明细已在第 %d 行出现，每条明细只能出现一次", line.No, first))
			} else {
				seen[line.No] = p.Row
			}
		}
		res := checkResult(p, line, today, fail)
		errs = append(errs, rowErrs...)
		if len(rowErrs) == 0 && line != nil {
			out[line.No] = Posting{Row: p.Row, LineNo: line.No, ReceiptNo: line.ReceiptNo,
				Voucher: res.Voucher, PostedDate: res.PostedDate, Error: res.Error}
		}
	}
	slices.SortStableFunc(errs, func(a, b PostingError) int { return a.Row - b.Row })
	return out, errs
}

// resolveLine finds the line a posting names, reporting why it cannot.
func resolveLine(p Posting, byNo map[int]*Line, byReceipt map[string][]int,
	fail func(postingField, string, syncproto.Code, string, string)) *Line {
	var byNumber *Line
	switch {
	case p.LineNo < 0:
		fail(pfLineNo, "", CodePostingInvalidLineNo,
			"序号 must be the line's number in the batch, a positive whole number",
			"序号须为批次明细的序号（正整数）")
		return nil
	case p.LineNo > 0:
		byNumber = byNo[p.LineNo]
		if byNumber == nil {
			fail(pfLineNo, strconv.Itoa(p.LineNo), CodePostingUnknownLine,
				fmt.Sprintf("the batch has no line %d", p.LineNo),
				fmt.Sprintf("本批次没有序号为 %d 的明细", p.LineNo))
			return nil
		}
	}
	if p.ReceiptNo == "" {
		if byNumber == nil {
			fail(pfLineNo, "", CodePostingNoLine,
				"the row names no line: give 序号 or 收据号",
				"该行未指明对应的明细，请填写序号或收据号")
		}
		return byNumber
	}
	key := receiptKey(p.ReceiptNo)
	nos := byReceipt[key]
	if byNumber != nil {
		if receiptKey(byNumber.ReceiptNo) != key {
			fail(pfReceipt, p.ReceiptNo, CodePostingLineMismatch,
				fmt.Sprintf("line %d has receipt %s, not %s; 序号 and 收据号 must name the same line", byNumber.No, byNumber.ReceiptNo, p.ReceiptNo),
				fmt.Sprintf("序号 %d 的明细收据号为 %s，不是 %s；序号与收据号须对应同一条明细", byNumber.No, byNumber.ReceiptNo, p.ReceiptNo))
			return nil
		}
		return byNumber
	}
	switch len(nos) {
	case 0:
		fail(pfReceipt, p.ReceiptNo, CodePostingUnknownReceipt,
			fmt.Sprintf("the batch has no line with receipt %s", p.ReceiptNo),
			fmt.Sprintf("本批次没有收据号为 %s 的明细", p.ReceiptNo))
		return nil
	case 1:
		return byNo[nos[0]]
	}
	strs := make([]string, len(nos))
	for i, n := range nos {
		strs[i] = strconv.Itoa(n)
	}
	fail(pfReceipt, p.ReceiptNo, CodePostingAmbiguousReceipt,
		fmt.Sprintf("receipt %s is on lines %s of the batch (a reversal and its correction); give 序号", p.ReceiptNo, strings.Join(strs, ", ")),
		fmt.Sprintf("收据号 %s 对应本批次的多条明细（序号 %s，冲正及更正），请填写序号", p.ReceiptNo, strings.Join(strs, "、")))
	return nil
}

// checkResult checks the voucher, date and error of a posting and returns
// them normalised.
func checkResult(p Posting, line *Line, today time.Time,
	fail func(postingField, string, syncproto.Code, string, string)) Posting {
	res := Posting{Voucher: p.Voucher, Error: strings.Join(strings.Fields(p.Error), " ")}
	switch {
	case res.Error != "" && (p.Voucher != "" || p.PostedDate != ""):
		f, v := pfVoucher, p.Voucher
		if v == "" {
			f, v = pfDate, p.PostedDate
		}
		fail(f, v, CodePostingBothResults,
			"a row has either a voucher number and posted date, or an error, not both",
			"每行只能填写完税凭证号和入库日期，或填写错误信息，不能同时填写")
		return res
	case res.Error == "" && p.Voucher == "" && p.PostedDate == "":
		fail(pfVoucher, "", CodePostingNoResult,
			"the row has neither a voucher number with a posted date nor an error",
			"该行既没有完税凭证号和入库日期，也没有错误信息")
		return res
	case res.Error != "":
		if n := utf8.RuneCountInString(res.Error); n > MaxPostingErrorRunes || strings.ContainsFunc(res.Error, unicode.IsControl) {
			fail(pfError, res.Error, CodePostingInvalidError,
				fmt.Sprintf("the error text must be at most %d characters without control characters", MaxPostingErrorRunes),
				fmt.Sprintf("错误信息不能超过 %d 个字符，且不能含控制字符", MaxPostingErrorRunes))
		}
		return res
	}
	if p.Voucher == "" {
		fail(pfVoucher, "", CodePostingMissingVoucher,
			"a posted line needs its voucher number (完税凭证号)", "已入库的明细须填写完税凭证号")
	} else if !validVoucher(p.Voucher) {
		fail(pfVoucher, p.Voucher, CodePostingInvalidVoucher,
			fmt.Sprintf("a voucher number is at most %d letters, digits, spaces and the marks - _ / . ( ) # №", MaxVoucherRunes),
			fmt.Sprintf("完税凭证号最多 %d 个字符，只能包含字母、数字、空格及 - _ / . ( ) # № 等符号", MaxVoucherRunes))
	}
	if p.PostedDate == "" {
		fail(pfDate, "", CodePostingMissingDate,
			"a posted line needs its posted date (入库日期)", "已入库的明细须填写入库日期")
		return res
	}
	d, ok := parsePostingDate(p.PostedDate)
	switch {
	case !ok:
		fail(pfDate, p.PostedDate, CodePostingInvalidDate,
			"the posted date must be a date written YYYY-MM-DD (or YYYY/M/D)",
			"入库日期须为有效日期，格式为 YYYY-MM-DD（或 YYYY/M/D）")
	case d.After(today):
		fail(pfDate, p.PostedDate, CodePostingFutureDate,
			fmt.Sprintf("the posted date is after today (%s)", today.Format(time.DateOnly)),
			fmt.Sprintf("入库日期晚于今天（%s）", today.Format(time.DateOnly)))
	case line != nil && !line.ServerTime.IsZero() && d.Before(civilDate(line.ServerTime)):
		fail(pfDate, p.PostedDate, CodePostingDateTooEarly,
			fmt.Sprintf("the posted date is before %s, when the collection reached the server", civilDate(line.ServerTime).Format(time.DateOnly)),
			fmt.Sprintf("入库日期早于该笔缴费上传到服务器的日期（%s）", civilDate(line.ServerTime).Format(time.DateOnly)))
	default:
		res.PostedDate = d.Format(time.DateOnly)
	}
	return res
}

// civilDate is t's calendar day in Asia/Shanghai, as a UTC midnight.
func civilDate(t time.Time) time.Time {
	y, m, d := t.In(fileZone()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// parsePostingDate reads YYYY-MM-DD, YYYY/M/D, YYYY-M-D or YYYY年M月D日
// (month and day with one or two digits) as a UTC midnight, for the years
// 2000 to 2100.
func parsePostingDate(s string) (time.Time, bool) {
	var parts []string
	switch {
	case strings.Contains(s, "年"):
		rest, ok := strings.CutSuffix(s, "日")
		if !ok {
			return time.Time{}, false
		}
		y, rest, ok1 := strings.Cut(rest, "年")
		mo, da, ok2 := strings.Cut(rest, "月")
		if !ok1 || !ok2 {
			return time.Time{}, false
		}
		parts = []string{y, mo, da}
	case strings.Contains(s, "/"):
		parts = strings.Split(s, "/")
	default:
		parts = strings.Split(s, "-")
	}
	if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) < 1 || len(parts[1]) > 2 ||
		len(parts[2]) < 1 || len(parts[2]) > 2 {
		return time.Time{}, false
	}
	var n [3]int
	for i, part := range parts {
		if strings.Trim(part, "0123456789") != "" {
			return time.Time{}, false
		}
		n[i], _ = strconv.Atoi(part)
	}
	if n[0] < 2000 || n[0] > 2100 || n[1] < 1 || n[1] > 12 || n[2] < 1 {
		return time.Time{}, false
	}
	t := time.Date(n[0], time.Month(n[1]), n[2], 0, 0, 0, 0, time.UTC)
	if t.Day() != n[2] {
		return time.Time{}, false
	}
	return t, true
}

// validVoucher accepts what voucher numbers are made of: letters, digits,
// spaces and a few marks, at most MaxVoucherRunes.
func validVoucher(s string) bool {
	if utf8.RuneCountInString(s) > MaxVoucherRunes {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && !strings.ContainsRune("-_/.()（）#№", r) {
			return false
		}
	}
	return true
}

// receiptKey is a receipt number for matching: all-digit numbers without
// their leading zeros (a spreadsheet drops them), others upper-cased.
func receiptKey(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && strings.Trim(s, "0123456789") == "" {
		if t := strings.TrimLeft(s, "0"); t != "" {
			return t
		}
		return "0"
	}
	return strings.ToUpper(s)
}

// cutValue caps a cell's text for the report.
func cutValue(s string) string {
	if utf8.RuneCountInString(s) <= postingValueRunes {
		return s
	}
	return string([]rune(s)[:postingValueRunes]) + "…"
}

// postingReportHeader is the header of the posting error report, the same
// as the roster's error report: row, column, value, code, reason in
// Chinese, reason in English.
var postingReportHeader = []string{"行号", "列", "值", "错误代码", "错误原因", "Reason"}

// WritePostingReportCSV writes errs as CSV in UTF-8 with a byte order mark
// and CRLF, under the header 行号,列,值,错误代码,错误原因,Reason, as the
// roster's report. Cells that a spreadsheet would take for a formula get an
// apostrophe in front: the values come from the uploaded file.
func WritePostingReportCSV(w io.Writer, errs []PostingError) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return fmt.Errorf("write posting report: %w", err)
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(postingReportHeader); err != nil {
		return fmt.Errorf("write posting report: %w", err)
	}
	rec := make([]string, len(postingReportHeader))
	for _, e := range errs {
		rec[0] = strconv.Itoa(e.Row)
		rec[1] = defuseCell(e.Column)
		rec[2] = defuseCell(e.Value)
		rec[3] = string(e.Code)
		rec[4] = defuseCell(e.MessageZH)
		rec[5] = defuseCell(e.Message)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write posting report: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write posting report: %w", err)
	}
	return nil
}
