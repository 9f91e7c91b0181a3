package roster

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode"

	"villagesync/server/internal/textenc"
	"villagesync/syncproto"
)

// headerScanRows is how many non-blank rows Parse looks through for the
// header row, so that a title row (“薛城区2026年城乡居民医疗保险征收清册”)
// or two above it are fine.
const headerScanRows = 10

// preallocRows bounds the rows allocated up front (a district roster), so
// that a file of blank lines cannot reserve much memory.
const preallocRows = 300_000

// Magic bytes of the container formats.
var (
	magicZIP      = []byte("PK\x03\x04")
	magicEmptyZIP = []byte("PK\x05\x06")
	magicOLE      = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1} // .xls, encrypted .xlsx
)

// Parse reads a roster file into raw Rows, in file order. The format is
// decided by the content, not the name: XLSX by its ZIP magic bytes (the
// first visible worksheet that has a header row is read), otherwise CSV. A
// CSV's encoding is detected: UTF-8 with or without BOM, UTF-16 with BOM
// (Excel's "Unicode text"), else GB18030 (a superset of GBK, what Excel on
// Chinese Windows writes) when the bytes are not valid UTF-8; a file that
// is none of these is refused rather than read as mojibake. A CSV delimited by tabs
// instead of commas is recognised.
//
// The header row is the first of the first few non-blank rows with at
// least two known headers (see the package's column list: Chinese as the
// bureaus write them, or English), matched ignoring white space, full-width
// forms, letter case, '*' marks and a "(元)" suffix; column order is free
// and unknown columns are ignored. Blank rows are skipped, and so is a
// totals row (no ID, and 合计, 总计 or 小计 as the name or the first cell).
//
// Errors are *syncproto.Error with a roster code: CodeUnsupportedFormat,
// CodeUnreadable, CodeNoHeader, CodeMissingColumn, CodeDuplicateColumn,
// CodeEmpty, or syncproto.CodeTooLarge beyond MaxFileBytes or MaxRows. An
// error of r itself is wrapped with CodeUnreadable and kept as the cause,
// so errors.As still finds, say, an *http.MaxBytesError.
func Parse(r io.Reader, filename string) ([]Row, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, syncproto.Wrap(err, CodeUnreadable, "cannot read the roster file", "无法读取征收清册文件")
	}
	if len(data) > MaxFileBytes {
		return nil, syncproto.Errorf(syncproto.CodeTooLarge,
			fmt.Sprintf("roster file is larger than %d MiB", MaxFileBytes>>20),
			fmt.Sprintf("征收清册文件超过 %d MiB", MaxFileBytes>>20))
	}
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(filename, `\`, "/")))
	switch {
	case bytes.HasPrefix(data, magicZIP), bytes.HasPrefix(data, magicEmptyZIP):
		return parseXLSX(data)
	case bytes.HasPrefix(data, magicOLE) || ext == ".xls":
		return nil, syncproto.Errorf(CodeUnsupportedFormat,
			"old Excel 97-2003 (.xls) or password-protected workbooks are not supported; save the roster as .xlsx or CSV",
			"不支持旧版 Excel 97-2003（.xls）或加密的工作簿，请另存为 .xlsx 或 CSV 格式")
	case ext == ".xlsx" || ext == ".xlsm":
		return nil, syncproto.Errorf(CodeUnreadable,
			"the file is named .xlsx but is not an Excel workbook",
			"文件扩展名为 .xlsx，但内容不是 Excel 工作簿")
	}
	text, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	return parseCSV(text)
}

// readAll reads at most MaxFileBytes+1 bytes, sized up front when r
// knows its length (bytes.Reader, strings.Reader, bytes.Buffer).
func readAll(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if l, ok := r.(interface{ Len() int }); ok {
		buf.Grow(min(l.Len(), MaxFileBytes) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r, MaxFileBytes+1))
	return buf.Bytes(), err
}

// decodeText returns the CSV text as UTF-8, detecting its encoding.
func decodeText(data []byte) ([]byte, error) { return textenc.Decode(data, CodeUnsupportedFormat) }

// table is a source of rows: next returns the next row's 1-based number
// and cells, io.EOF at the end.
type table interface {
	next() (int, []string, error)
}

// parseCSV reads CSV text in UTF-8.
func parseCSV(text []byte) ([]Row, error) {
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = delimiter(text)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	// At most one record a line: size the rows once.
	rows, err := readTable(&csvTable{r: cr}, bytes.Count(text, []byte{'\n'})+1)
	if err != nil {
		return nil, err
	}
	if rows == nil {
		return nil, noHeader()
	}
	return rows, nil
}

// delimiter picks ',' unless the first lines hold more tabs than commas.
func delimiter(text []byte) rune {
	head := text
	for i, n := 0, 0; i < len(text); i++ {
		if text[i] == '\n' {
			if n++; n == headerScanRows {
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

// csvTable numbers CSV records as a spreadsheet program shows them: by
// line, less the line breaks inside quoted cells of earlier records.
type csvTable struct {
	r        *csv.Reader
	embedded int // line breaks inside cells so far
}

func (t *csvTable) next() (int, []string, error) {
	rec, err := t.r.Read()
	if err == io.EOF {
		return 0, nil, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			num := pe.StartLine - t.embedded
			return 0, nil, syncproto.Wrap(err, CodeUnreadable,
				fmt.Sprintf("row %d: malformed CSV (%v); check the quotes in that row", num, pe.Err),
				fmt.Sprintf("第 %d 行：CSV 格式错误，请检查该行的引号", num))
		}
		return 0, nil, syncproto.Wrap(err, CodeUnreadable, "cannot read the CSV file", "无法读取 CSV 文件")
	}
	line, _ := t.r.FieldPos(0)
	num := line - t.embedded
	for _, c := range rec {
		if strings.IndexByte(c, '\n') >= 0 {
			t.embedded += strings.Count(c, "\n")
		}
	}
	return num, rec, nil
}

// readTable finds the header row and collects the data rows, sizing them
// for sizeHint rows. It returns nil rows and no error when the table has no
// header row.
func readTable(t table, sizeHint int) ([]Row, error) {
	var l *layout
	for scanned := 0; l == nil; {
		num, cells, err := t.next()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if blank(cells) {
			continue
		}
		if recognised(cells) >= 2 {
			if l, err = newLayout(cells, num); err != nil {
				return nil, err
			}
			break
		}
		if scanned++; scanned == headerScanRows {
			return nil, nil
		}
	}
	rows := make([]Row, 0, min(sizeHint, preallocRows))
	for {
		num, cells, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if blank(cells) {
			continue
		}
		r := l.row(num, cells)
		if isTotals(&r, cells) {
			continue
		}
		if len(rows) == MaxRows {
			return nil, syncproto.Errorf(syncproto.CodeTooLarge,
				fmt.Sprintf("roster has more than %d rows; split it by township", MaxRows),
				fmt.Sprintf("征收清册超过 %d 行，请按镇街拆分后上传", MaxRows))
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, syncproto.Errorf(CodeEmpty, "the roster has a header but no data rows", "征收清册只有表头，没有数据行")
	}
	return rows, nil
}

// blank reports whether every cell is empty or white space.
func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimFunc(c, unicode.IsSpace) != "" {
			return false
		}
	}
	return true
}

// isTotals reports a totals row: no ID, and 合计, 总计 or 小计 as the
// name or as the row's first non-blank cell (often the 序号 column).
func isTotals(r *Row, cells []string) bool {
	if strings.TrimSpace(r.ResidentID) != "" {
		return false
	}
	if isTotalsWord(r.Name) {
		return true
	}
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return isTotalsWord(c)
		}
	}
	return false
}

func isTotalsWord(s string) bool {
	switch strings.Map(func(c rune) rune {
		if unicode.IsSpace(c) {
			return -1
		}
		return c
	}, s) {
	case "合计", "总计", "小计":
		return true
	}
	return false
}

func noHeader() error {
	var en, zh []string
	for _, c := range columns {
		if c.required {
			en, zh = append(en, c.en), append(zh, c.zh)
		}
	}
	return syncproto.Errorf(CodeNoHeader,
		"no header row found; the first rows must include the columns "+strings.Join(en, ", "),
		"未找到表头行，表格前几行中应有以下列："+strings.Join(zh, "、"))
}
