package roster_test

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"villagesync/server/internal/roster"
	"villagesync/syncproto"
)

// fuzzSeeds are CSV inputs every fuzz target starts from, besides the
// committed corpus under testdata/fuzz.
func fuzzSeeds(f *testing.F) [][]byte {
	utf8Text := mustRead(f, "roster_utf8.csv")
	return [][]byte{
		utf8Text,
		mustRead(f, "roster_bom.csv"),
		mustRead(f, "roster_bad.csv"),
		mustEncode(f, simplifiedchinese.GB18030, string(utf8Text)),
		lines(zhHeader, zhRow),
		lines(zhHeader, "\"a\nb\",\"", zhRow),
		[]byte("\xff\xfe\x00"),
		{},
	}
}

// checkParsed asserts the invariants of a successful Parse and runs the
// rest of the pipeline on its rows, which must not panic either.
func checkParsed(t *testing.T, rows []roster.Row, err error) {
	t.Helper()
	if err != nil {
		if codeOf(err) == syncproto.CodeInternal {
			t.Fatalf("uncoded error %v", err)
		}
		return
	}
	if len(rows) == 0 {
		t.Fatal("no rows and no error")
	}
	last := 0
	for _, r := range rows {
		if r.Num <= last {
			t.Fatalf("row numbers not increasing: %d after %d", r.Num, last)
		}
		last = r.Num
		for _, s := range []string{r.Name, r.ResidentID, r.Village, r.VillageName, r.Kind, r.Category, r.Year, r.Due, r.Subsidy, r.Note} {
			if !utf8.ValidString(s) {
				t.Fatalf("row %d holds invalid UTF-8 %q", r.Num, s)
			}
		}
	}
	entries, errs := roster.Validate(rows, testContext(t, syncproto.KindMedical))
	if len(errs) == 0 && len(entries) != len(rows) {
		t.Fatalf("%d entries for %d rows without errors", len(entries), len(rows))
	}
	if len(errs) > 0 && entries != nil {
		t.Fatal("entries returned with errors")
	}
	if err := roster.WriteReportCSV(io.Discard, errs); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseCSV(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := roster.Parse(bytes.NewReader(data), "roster.csv")
		checkParsed(t, rows, err)
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, "roster.csv")
	}
	xlsx := mustXLSX(f, string(mustRead(f, "roster_utf8.csv")), true)
	f.Add(xlsx, "roster.xlsx")
	f.Add(xlsx[:len(xlsx)/2], "roster.xlsx")
	f.Add([]byte("PK\x03\x04"), "a.xlsx")
	f.Add([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, "a.xls")
	f.Fuzz(func(t *testing.T, data []byte, filename string) {
		rows, err := roster.Parse(bytes.NewReader(data), filename)
		checkParsed(t, rows, err)
	})
}

// FuzzParseXLSXSheet fuzzes the worksheet and shared-string XML inside a
// well-formed workbook: mutating a whole .xlsx rarely gets past the ZIP
// checksums, so the XML scanner is reached this way.
func FuzzParseXLSXSheet(f *testing.F) {
	f.Add(headerCells(1)+`<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="inlineStr"><is><t>37040319800101123X</t></is></c></row>`,
		`<si><t>张三</t></si>`)
	f.Add(`<row><c t="inlineStr"><is><r><t>a</t></r><rPh><t>b</t></rPh></is></c></row>`, `<si><r><t>x&amp;</t></r></si>`)
	f.Add(`<row r="1"><c r="A1"><f>1+1</f><v>2</v></c><c r="B1" t="b"><v>1</v></c></row><!-- <row> --><![CDATA[<row>]]>`, `<si/>`)
	f.Fuzz(func(t *testing.T, sheetData, sst string) {
		data := mustRawXLSX(t, "", []string{sst}, rawSheet{name: "清册", data: sheetData})
		rows, err := roster.Parse(bytes.NewReader(data), "清册.xlsx")
		checkParsed(t, rows, err)
	})
}
