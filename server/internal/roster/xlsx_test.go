package roster_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"villagesync/server/internal/roster"
	"villagesync/syncproto"
)

// rawSheet is a worksheet of a hand-written workbook: its sheetData XML.
type rawSheet struct {
	name, state, data string
}

// mustRawXLSX writes a minimal workbook by hand, the way other producers
// than excelize (Excel, WPS, the OpenXML SDK) lay it out: parts found
// through the relationships, optional shared strings, arbitrary XML inside
// sheetData. prefix ("x:") qualifies the SpreadsheetML element names.
func mustRawXLSX(tb testing.TB, prefix string, shared []string, sheets ...rawSheet) []byte {
	tb.Helper()
	const ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	const rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			tb.Fatal(err)
		}
	}
	xmlns := `xmlns="` + ns + `"`
	if prefix != "" {
		xmlns = `xmlns:` + strings.TrimSuffix(prefix, ":") + `="` + ns + `"`
	}
	put("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`)
	put("_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`/officeDocument" Target="book/wb.xml"/></Relationships>`)
	var wbSheets, wbRels strings.Builder
	for i, sh := range sheets {
		state := ""
		if sh.state != "" {
			state = ` state="` + sh.state + `"`
		}
		fmt.Fprintf(&wbSheets, `<%ssheet name="%s" sheetId="%d"%s r:id="rId%d"/>`, prefix, sh.name, i+1, state, i+1)
		fmt.Fprintf(&wbRels, `<Relationship Id="rId%d" Type="%s/worksheet" Target="sheets/s%d.xml"/>`, i+1, rel, i+1)
		put(fmt.Sprintf("book/sheets/s%d.xml", i+1), fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
			`<%sworksheet %s xmlns:r="%s"><!-- a comment <row> --><%ssheetData>%s</%ssheetData></%sworksheet>`,
			prefix, xmlns, rel, prefix, sh.data, prefix, prefix))
	}
	if shared != nil {
		fmt.Fprintf(&wbRels, `<Relationship Id="rIdS" Type="%s/sharedStrings" Target="/book/strings.xml"/>`, rel)
		var sst strings.Builder
		for _, s := range shared {
			if strings.HasPrefix(s, "<") {
				sst.WriteString(s) // raw <si> XML
			} else {
				fmt.Fprintf(&sst, `<%ssi><%st xml:space="preserve">%s</%st></%ssi>`, prefix, prefix, s, prefix, prefix)
			}
		}
		put("book/strings.xml", fmt.Sprintf(`<?xml version="1.0"?><%ssst %s count="%d">%s</%ssst>`, prefix, xmlns, len(shared), sst.String(), prefix))
	}
	put("book/_rels/wb.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		wbRels.String()+`</Relationships>`)
	put("book/wb.xml", fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><%sworkbook %s xmlns:r="%s"><%ssheets>%s</%ssheets></%sworkbook>`,
		prefix, xmlns, rel, prefix, wbSheets.String(), prefix, prefix))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// headerCells is the header row as inline strings.
func headerCells(row int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<row r="%d">`, row)
	for i, h := range strings.Split(zhHeader, ",") {
		fmt.Fprintf(&b, `<c r="%c%d" t="inlineStr"><is><t>%s</t></is></c>`, 'A'+i, row, h)
	}
	b.WriteString(`</row>`)
	return b.String()
}

func TestParseXLSXProducers(t *testing.T) {
	t.Parallel()
	// shared: 0 张三, 1 rich text 张+三 with a phonetic run, 2 the ID, 3 沙沟村, 4 医疗, 5 一般
	shared := []string{"张三",
		`<si><r><rPr><b/></rPr><t>张</t></r><r><t>三</t></r><rPh sb="0" eb="1"><t>zhang</t></rPh></si>`,
		"37040319800101123X", "沙沟村", "医疗", "一般"}
	sharedRow := func(row, nameIndex int) string {
		return fmt.Sprintf(`<row r="%d" spans="1:9"><c r="A%d" s="1" t="s"><v>%d</v></c><c r="B%[1]d" t="s"><v>2</v></c>`+
			`<c r="C%[1]d" t="s"><v>3</v></c><c r="D%[1]d" t="s"><v>4</v></c><c r="E%[1]d" t="s"><v>5</v></c>`+
			`<c r="F%[1]d"><v>2026</v></c><c r="G%[1]d" s="2"><f>200*2</f><v>400</v></c><c r="H%[1]d"><v>0</v></c>`+
			`<c r="I%[1]d" t="str"><f>"无"</f><v>无</v></c></row>`, row, row, nameIndex)
	}
	tests := []struct {
		name   string
		data   []byte
		nums   []int
		want   roster.Row // of the first row
		sheet2 bool
	}{
		{name: "OKSharedStringsAsExcelWrites", data: mustRawXLSX(t, "", shared, rawSheet{name: "清册", data: headerCells(1) + sharedRow(2, 0)}),
			nums: []int{2}, want: wantRow},
		{name: "OKRichTextWithoutPhoneticRun", data: mustRawXLSX(t, "", shared, rawSheet{name: "清册", data: headerCells(1) + sharedRow(2, 1)}),
			nums: []int{2}, want: wantRow},
		{name: "OKPrefixedElementsOpenXMLSDK", data: mustRawXLSX(t, "x:", shared, rawSheet{name: "清册",
			data: strings.NewReplacer("<row", "<x:row", "</row", "</x:row", "<c ", "<x:c ", "</c>", "</x:c>", "<v>", "<x:v>", "</v>", "</x:v>",
				"<is>", "<x:is>", "</is>", "</x:is>", "<t>", "<x:t>", "</t>", "</x:t>", "<f>", "<x:f>", "</f>", "</x:f>").
				Replace(headerCells(1) + sharedRow(2, 0))}),
			nums: []int{2}, want: wantRow},
		{name: "OKHiddenSheetSkipped", data: mustRawXLSX(t, "", shared,
			rawSheet{name: "旧清册", state: "hidden", data: headerCells(1) + sharedRow(2, 1) + sharedRow(3, 1)},
			rawSheet{name: "清册", data: headerCells(1) + sharedRow(2, 0)}),
			nums: []int{2}, want: wantRow},
		{name: "OKRowAndCellRefsMissing", data: mustRawXLSX(t, "", shared, rawSheet{name: "清册",
			data: strings.NewReplacer(` r="1"`, "", ` r="2"`, "").Replace(regexpCellRef(headerCells(1) + sharedRow(2, 0)))}),
			nums: []int{2}, want: wantRow},
		{name: "OKSparseCellsAndEmptyRows", data: mustRawXLSX(t, "", nil, rawSheet{name: "清册",
			data: `<row r="1"/><row r="2"><c r="A2"/></row>` + headerCells(3) +
				`<row r="7"><c r="A7" t="inlineStr"><is><t>张三</t></is></c><c r="B7" t="inlineStr"><is><t>37040319800101123X</t></is></c>` +
				`<c r="F7"><v>2026</v></c><c r="I7" t="inlineStr"><is><t xml:space="preserve"> a&amp;b&#x4E09;&#19977;_x000D_&lt;</t></is></c></row>`}),
			nums: []int{7}, want: roster.Row{Name: "张三", ResidentID: "37040319800101123X", Year: "2026", Note: " a&b三三\r<"}},
		{name: "OKNumbersAsExcelKeepsThem", data: mustRawXLSX(t, "", nil, rawSheet{name: "清册",
			data: headerCells(1) + `<row r="2"><c r="B2"><v>3.7040319800101101E+17</v></c><c r="C2"><v>370403101201</v></c>` +
				`<c r="F2" t="n"><v>2026.0</v></c><c r="G2"><v>399.99999999999994</v></c><c r="H2"><v>0.30000000000000004</v></c>` +
				`<c r="I2" t="b"><v>1</v></c></row>`}),
			nums: []int{2}, want: roster.Row{ResidentID: "3.70403198001011e+17", Village: "370403101201", Year: "2026", Due: "400", Subsidy: "0.3", Note: "TRUE"}},
		{name: "OKCDATA", data: mustRawXLSX(t, "", nil, rawSheet{name: "清册",
			data: headerCells(1) + `<row r="2"><c r="A2" t="inlineStr"><is><t><![CDATA[张&三]]></t></is></c></row>`}),
			nums: []int{2}, want: roster.Row{Name: "张&三"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows := mustParse(t, tt.data, "清册.xlsx")
			var nums []int
			for _, r := range rows {
				nums = append(nums, r.Num)
			}
			if !equalInts(nums, tt.nums) {
				t.Fatalf("row numbers = %v, want %v", nums, tt.nums)
			}
			got := rows[0]
			got.Num, got.Header = 0, nil
			if got != tt.want {
				t.Fatalf("first row = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// regexpCellRef drops the r attributes of cells (c elements).
func regexpCellRef(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, `<c r="`)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+2])
		s = s[i+len(`<c r="`):]
		s = s[strings.IndexByte(s, '"')+1:]
	}
}

func TestParseXLSXDamaged(t *testing.T) {
	t.Parallel()
	good := mustRawXLSX(t, "", []string{"a"}, rawSheet{name: "清册", data: headerCells(1) + `<row r="2"><c r="A2" t="s"><v>0</v></c></row>`})
	tests := []struct {
		name string
		data []byte
		code syncproto.Code
	}{
		{name: "ErrSharedIndexOutOfRange", data: mustRawXLSX(t, "", []string{"a"}, rawSheet{name: "清册",
			data: headerCells(1) + `<row r="2"><c r="A2" t="s"><v>7</v></c></row>`}), code: roster.CodeUnreadable},
		{name: "ErrSharedIndexNotNumber", data: mustRawXLSX(t, "", []string{"a"}, rawSheet{name: "清册",
			data: headerCells(1) + `<row r="2"><c r="A2" t="s"><v>x</v></c></row>`}), code: roster.CodeUnreadable},
		{name: "ErrUnclosedRow", data: mustRawXLSX(t, "", nil, rawSheet{name: "清册", data: headerCells(1) + `<row r="2"><c r="A2"><v>1`}),
			code: roster.CodeUnreadable},
		{name: "ErrColumnOutOfRange", data: mustRawXLSX(t, "", nil, rawSheet{name: "清册",
			data: headerCells(1) + `<row r="2"><c r="ZZZZ2"><v>1</v></c></row>`}), code: roster.CodeUnreadable},
		{name: "ErrRowNumbersBackwards", data: mustRawXLSX(t, "", nil, rawSheet{name: "清册",
			data: headerCells(3) + `<row r="2"><c r="A2"><v>1</v></c></row>`}), code: roster.CodeUnreadable},
		{name: "ErrNoHeaderInAnySheet", data: mustRawXLSX(t, "", nil, rawSheet{name: "a", data: `<row r="1"><c r="A1"><v>1</v></c></row>`}),
			code: roster.CodeNoHeader},
		{name: "ErrTruncatedZip", data: good[:len(good)-40], code: roster.CodeUnreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := roster.Parse(bytes.NewReader(tt.data), "清册.xlsx")
			if codeOf(err) != tt.code {
				t.Fatalf("Parse = %+v, %v; want code %s", rows, err, tt.code)
			}
		})
	}
	if _, err := roster.Parse(bytes.NewReader(good), "清册.xlsx"); err != nil {
		t.Fatalf("the undamaged workbook: %v", err)
	}
}

// TestParseXLSXPartNames proves that part names written with backslashes
// or in another letter case, as some Windows tools do, are found.
func TestParseXLSXPartNames(t *testing.T) {
	t.Parallel()
	good := mustRawXLSX(t, "", []string{"张三"}, rawSheet{name: "清册",
		data: headerCells(1) + `<row r="2"><c r="A2" t="s"><v>0</v></c></row>`})
	zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		name := strings.ReplaceAll(f.Name, "/", `\`)
		if strings.HasSuffix(name, "strings.xml") {
			name = strings.ToUpper(name)
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	rows := mustParse(t, buf.Bytes(), "清册.xlsx")
	if len(rows) != 1 || rows[0].Name != "张三" {
		t.Fatalf("rows = %+v", rows)
	}
}
