package roster_test

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"testing"

	"github.com/xuri/excelize/v2"

	"villagesync/server/internal/roster"
	"villagesync/syncproto"
)

// hostile are report rows whose values come from a hostile or broken file.
var hostile = []roster.RowError{
	{Row: 2, Column: "=cmd|' /C calc'!A0", Value: "=1+1", Code: syncproto.CodeInvalidMoney, Message: "m", MessageZH: "中"},
	{Row: 3, Column: "备注", Value: "+1\x00\x01b\tc\nd", Code: roster.CodeInvalidNote, Message: "-x", MessageZH: "@y"},
	{Row: 4, Column: "姓名", Value: "王\U00020BB7", Code: roster.CodeInvalidName, Message: "ok", MessageZH: "好"},
}

func TestWriteReportCSV(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := roster.WriteReportCSV(&buf, hostile); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if !bytes.HasPrefix(data, []byte("\ufeff行号,列,值,错误代码,错误原因,Reason\r\n")) {
		t.Fatalf("report starts %q, want the BOM and the header", data[:min(len(data), 60)])
	}
	got, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"行号", "列", "值", "错误代码", "错误原因", "Reason"},
		{"2", "'=cmd|' /C calc'!A0", "'=1+1", "invalid_money", "中", "m"},
		{"3", "备注", "'+1\x00\x01b\tc\nd", "roster_invalid_note", "'@y", "'-x"},
		{"4", "姓名", "王\U00020BB7", "roster_invalid_name", "好", "ok"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("report = %q\nwant %q", got, want)
	}
}

func TestWriteReportXLSX(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := roster.WriteReportXLSX(&buf, hostile); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := f.GetRows("错误报告")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"行号", "列", "值", "错误代码", "错误原因", "Reason"},
		{"2", "=cmd|' /C calc'!A0", "=1+1", "invalid_money", "中", "m"},
		{"3", "备注", "+1\ufffd\ufffdb\tc\nd", "roster_invalid_note", "@y", "-x"},
		{"4", "姓名", "王\U00020BB7", "roster_invalid_name", "好", "ok"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("report = %q\nwant %q", got, want)
	}
	// Values are strings, never formulas.
	for _, cell := range []string{"B2", "C2"} {
		if formula, err := f.GetCellFormula("错误报告", cell); err != nil || formula != "" {
			t.Fatalf("%s formula = %q, %v", cell, formula, err)
		}
	}
	if typ, err := f.GetCellType("错误报告", "A2"); err != nil || typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
		t.Fatalf("row number cell type = %v, %v; want a number", typ, err)
	}
}

func TestWriteReportEmpty(t *testing.T) {
	t.Parallel()
	var c, x bytes.Buffer
	if err := roster.WriteReportCSV(&c, nil); err != nil {
		t.Fatal(err)
	}
	if c.String() != "\ufeff行号,列,值,错误代码,错误原因,Reason\r\n" {
		t.Fatalf("empty CSV report = %q", c.String())
	}
	if err := roster.WriteReportXLSX(&x, nil); err != nil || x.Len() == 0 {
		t.Fatalf("empty XLSX report: %d bytes, %v", x.Len(), err)
	}
}
