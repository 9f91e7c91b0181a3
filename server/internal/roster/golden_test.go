package roster_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"villagesync/server/internal/roster"
	"villagesync/syncproto"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

// TestGoldenRosterFormats proves that the same roster as UTF-8 CSV,
// UTF-8-with-BOM CSV (CRLF), GB18030 CSV, XLSX with text cells and XLSX
// with number cells gives the same entries, and pins them in a golden file.
func TestGoldenRosterFormats(t *testing.T) {
	t.Parallel()
	utf8Text := string(mustRead(t, "roster_utf8.csv"))
	files := []struct {
		name     string
		filename string
		data     []byte
	}{
		{name: "UTF8", filename: "roster_utf8.csv", data: []byte(utf8Text)},
		{name: "UTF8BOM", filename: "roster_bom.csv", data: mustRead(t, "roster_bom.csv")},
		{name: "GB18030", filename: "清册.csv", data: mustEncode(t, simplifiedchinese.GB18030, utf8Text)},
		{name: "XLSXText", filename: "清册.xlsx", data: mustXLSX(t, utf8Text, false)},
		{name: "XLSXNumbers", filename: "upload", data: mustXLSX(t, utf8Text, true)},
	}
	ctx := testContext(t, syncproto.KindMedical)
	results := make([][]roster.Entry, len(files))
	for i, f := range files {
		rows := mustParse(t, f.data, f.filename)
		entries, errs := roster.Validate(rows, ctx)
		if len(errs) > 0 {
			t.Fatalf("%s: unexpected errors %+v", f.name, errs)
		}
		results[i] = entries
	}
	for i := 1; i < len(files); i++ {
		if !reflect.DeepEqual(results[i], results[0]) {
			t.Errorf("%s entries differ from %s:\n got %+v\nwant %+v", files[i].name, files[0].name, results[i], results[0])
		}
	}
	got, err := json.MarshalIndent(results[0], "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "roster.golden.json", append(got, '\n'))
}

// TestGBKTwin proves that a roster saved as GBK (what Excel on Chinese
// Windows writes) parses exactly like its UTF-8 twin. GBK lacks the rare
// characters of the full roster, so their rows are left out of both.
func TestGBKTwin(t *testing.T) {
	t.Parallel()
	var lines []string
	for _, l := range strings.Split(string(mustRead(t, "roster_utf8.csv")), "\n") {
		if !strings.ContainsAny(l, "\U00020BB7\U0002A6A5\u0308") {
			lines = append(lines, l)
		}
	}
	// GBK has the full-width yuan sign only, as Chinese Windows types it.
	text := strings.ReplaceAll(strings.Join(lines, "\n"), "¥", "￥")
	gbk := mustEncode(t, simplifiedchinese.GBK, text)
	if bytes.Equal(gbk, []byte(text)) {
		t.Fatal("the GBK twin equals the UTF-8 text; the test proves nothing")
	}
	fromUTF8 := mustParse(t, []byte(text), "a.csv")
	fromGBK := mustParse(t, gbk, "a.csv")
	if !reflect.DeepEqual(fromGBK, fromUTF8) {
		t.Fatalf("GBK rows differ:\n got %+v\nwant %+v", fromGBK, fromUTF8)
	}
	if fromGBK[0].Name != "张三" || fromGBK[1].Name != "欧阳娜娜" {
		t.Fatalf("mojibake: %q, %q", fromGBK[0].Name, fromGBK[1].Name)
	}
	ctx := testContext(t, syncproto.KindMedical)
	e1, errs1 := roster.Validate(fromUTF8, ctx)
	e2, errs2 := roster.Validate(fromGBK, ctx)
	if len(errs1)+len(errs2) > 0 || !reflect.DeepEqual(e1, e2) || len(e1) != 5 {
		t.Fatalf("entries differ or errors: %+v %+v / %+v %+v", e1, errs1, e2, errs2)
	}
}

// TestGoldenReport pins the error report of a roster with one kind of
// mistake or more in each row, in both formats.
func TestGoldenReport(t *testing.T) {
	t.Parallel()
	rows := mustParse(t, mustRead(t, "roster_bad.csv"), "roster_bad.csv")
	entries, errs := roster.Validate(rows, testContext(t, syncproto.KindMedical))
	if entries != nil {
		t.Fatalf("entries = %+v, want none for a refused roster", entries)
	}
	var buf bytes.Buffer
	if err := roster.WriteReportCSV(&buf, errs); err != nil {
		t.Fatal(err)
	}
	golden(t, "roster_bad.report.golden.csv", buf.Bytes())

	// The XLSX report holds the same cells.
	var x bytes.Buffer
	if err := roster.WriteReportXLSX(&x, errs); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&x)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); len(sheets) != 1 || sheets[0] != "错误报告" {
		t.Fatalf("sheets = %v", sheets)
	}
	got, err := f.GetRows("错误报告")
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\ufeff"))))
	want, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range want {
		if strings.HasPrefix(rec[2], "'=") { // CSV-only formula defusing
			rec[2] = rec[2][1:]
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("XLSX report differs from CSV:\n got %q\nwant %q", got, want)
	}
}
