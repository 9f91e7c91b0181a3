package roster_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding"

	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// refNow is the reference "now" of these tests: 2026-11-26 noon in Shanghai.
var refNow = time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)

// testVillages are a few villages of Xuecheng (370403); two share the name
// 王庄村 in different townships.
var testVillages = []roster.Village{
	{Code: "370403001201", TownshipCode: "370403001", Name: "北临城社区"},
	{Code: "370403101201", TownshipCode: "370403101", Name: "沙沟村"},
	{Code: "370403101202", TownshipCode: "370403101", Name: "前良村"},
	{Code: "370403102201", TownshipCode: "370403102", Name: "周营村"},
	{Code: "370403103205", TownshipCode: "370403103", Name: "王庄村"},
	{Code: "370403104201", TownshipCode: "370403104", Name: "陶庄村"},
	{Code: "370403104205", TownshipCode: "370403104", Name: "王庄村"},
}

// testSettings are the district's 2026 defaults plus a medical override
// for 陶庄镇 (370403104) with a premium of 420 yuan.
func testSettings() []settings.Year {
	override := settings.Shandong2026Medical("370403104")
	override.Premium = syncproto.Yuan(420)
	override.Subsidy[syncproto.CategoryTekun] = syncproto.Yuan(420)
	override.Subsidy[syncproto.CategoryPoverty] = syncproto.Yuan(420)
	return []settings.Year{
		settings.Shandong2026Medical("370403"),
		settings.Shandong2026Pension("370403"),
		override,
	}
}

// testContext is the context of an upload of kind with the given settings
// rows (testSettings when none).
func testContext(tb testing.TB, kind syncproto.Kind, rows ...settings.Year) roster.ValidateContext {
	tb.Helper()
	if len(rows) == 0 {
		rows = testSettings()
	}
	for _, r := range rows {
		if err := r.Validate(); err != nil {
			tb.Fatalf("test settings %s %d %s: %v", r.Kind, r.Year, r.Region, err)
		}
	}
	return roster.ValidateContext{
		Now:  refNow,
		Kind: kind,
		Settings: func(year int, village string) (settings.Year, bool) {
			return settings.Resolve(rows, kind, year, village[:9])
		},
		Villages: roster.NewVillageIndex(testVillages),
	}
}

// mustID returns a valid resident ID of a person born in Xuecheng on
// 1980-01-01 with sequence number seq (0..999).
func mustID(tb testing.TB, seq int) string {
	tb.Helper()
	first17 := fmt.Sprintf("37040319800101%03d", seq)
	c, err := syncproto.CheckDigit(first17)
	if err != nil {
		tb.Fatal(err)
	}
	return first17 + string(c)
}

// mustRead returns a file of testdata.
func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// mustParse parses data and fails the test on error.
func mustParse(tb testing.TB, data []byte, filename string) []roster.Row {
	tb.Helper()
	rows, err := roster.Parse(bytes.NewReader(data), filename)
	if err != nil {
		tb.Fatalf("Parse(%s): %v", filename, err)
	}
	return rows
}

// mustEncode encodes UTF-8 text with enc (e.g. GBK), failing on characters
// enc lacks.
func mustEncode(tb testing.TB, enc encoding.Encoding, text string) []byte {
	tb.Helper()
	out, err := enc.NewEncoder().Bytes([]byte(text))
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return out
}

// numberLike are the cells mustXLSX writes as numbers when asked to.
var numberLike = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,2})?$`)

// mustXLSX writes the records of UTF-8 CSV text into a workbook, each at the
// row a spreadsheet program shows for it, after a first sheet of
// instructions without a header. With numbers, cells that look like
// numbers (years, amounts, village codes; not 18-digit IDs) are written as
// numbers, the others as text.
func mustXLSX(tb testing.TB, csvText string, numbers bool) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "说明"); err != nil {
		tb.Fatal(err)
	}
	if err := f.SetCellStr("说明", "A1", "本表为征收清册，请勿修改表头。"); err != nil {
		tb.Fatal(err)
	}
	const sheet = "清册"
	if _, err := f.NewSheet(sheet); err != nil {
		tb.Fatal(err)
	}
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(csvText, "\ufeff")))
	cr.FieldsPerRecord = -1
	embedded := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		line, _ := cr.FieldPos(0)
		row := line - embedded
		for i, v := range rec {
			embedded += strings.Count(v, "\n")
			cell, err := excelize.CoordinatesToCellName(i+1, row)
			if err != nil {
				tb.Fatal(err)
			}
			if v == "" {
				continue
			}
			if numbers && numberLike.MatchString(v) {
				var n float64
				if _, err := fmt.Sscan(v, &n); err != nil {
					tb.Fatal(err)
				}
				err = f.SetCellFloat(sheet, cell, n, -1, 64)
			} else {
				err = f.SetCellStr(sheet, cell, v)
			}
			if err != nil {
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

// codeOf returns the code of a coded error, or "" for another error.
func codeOf(err error) syncproto.Code {
	if err == nil {
		return ""
	}
	return syncproto.ErrorCode(err)
}
