package remit_test

import (
	"bytes"
	"io"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"

	"villagesync/server/internal/remit"
	"villagesync/syncproto"
)

// samplePaid is the paid details of the sample batch's lines: posted,
// failed and the reversal.
func samplePaid(tb testing.TB) []remit.PaidRow {
	tb.Helper()
	_, lines := sampleBatch(tb)
	var rows []remit.PaidRow
	for i, l := range lines {
		r := remit.PaidRow{Year: l.Year, Kind: l.Kind, VillageCode: l.VillageCode, VillageName: l.VillageName,
			Name: l.Name, ResidentID: l.ResidentID, Amount: l.Amount, Grade: l.Grade, ReceiptNo: l.ReceiptNo,
			Voucher: "3370362611000000" + strconv.Itoa(10+i), PostedDate: "2026-11-27", Status: "posted"}
		if i == 2 {
			r.Voucher, r.PostedDate, r.Status = "", "", "exported"
		}
		rows = append(rows, r)
	}
	rows[3].Status = "refunded_by_tax" // unknown codes pass through
	return rows
}

// TestPaidGolden pins the CSV of the paid details.
func TestPaidGolden(t *testing.T) {
	t.Parallel()
	golden(t, "paid.golden.csv", mustWrite(t, func(w io.Writer) error { return remit.WritePaidCSV(w, samplePaid(t)) }))
}

// TestPaidXLSXReadBack proves the workbook has the Chinese headers, text
// cells for IDs and vouchers, totals equal to the sum of the rows, and the
// same cells as the CSV.
func TestPaidXLSXReadBack(t *testing.T) {
	t.Parallel()
	rows := samplePaid(t)
	data := mustWrite(t, func(w io.Writer) error { return remit.WritePaidXLSX(w, rows) })
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := f.GetRows(remit.PaidSheet)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"缴费年度", "险种", "村居代码", "村居名称", "姓名", "公民身份号码", "缴费档次(元)", "金额(元)",
		"收据号", "完税凭证号", "入库日期", "状态"}
	if !slices.Equal(got[0], want) || !slices.Equal(remit.PaidHeader(), want) {
		t.Fatalf("header %q", got[0])
	}
	if got[1][5] != rows[0].ResidentID || got[1][9] != rows[0].Voucher || got[1][11] != "已入库" || got[3][11] != "已导出" {
		t.Errorf("first row %q, third %q", got[1], got[3])
	}
	var sum syncproto.Money
	for _, r := range rows {
		sum += r.Amount
	}
	if last := got[len(got)-1]; last[0] != "合计" || last[4] != "共4笔" || last[7] != sum.String() {
		t.Errorf("totals row %q, want sum %s", last, sum)
	}
	recs := csvRecords(t, mustWrite(t, func(w io.Writer) error { return remit.WritePaidCSV(w, rows) }))
	for i := range got {
		got[i] = append(got[i], make([]string, len(recs[i])-len(got[i]))...)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("XLSX cells differ from CSV:\n got %q\nwant %q", got, recs)
	}
}

func TestPaidRefusesUnknownKind(t *testing.T) {
	t.Parallel()
	rows := samplePaid(t)
	rows[0].Kind = "dental"
	if err := remit.WritePaidCSV(io.Discard, rows); err == nil {
		t.Error("CSV accepted an unknown kind")
	}
	if err := remit.WritePaidXLSX(io.Discard, rows); err == nil {
		t.Error("XLSX accepted an unknown kind")
	}
}

func TestStatusLabel(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{"posted": "已入库", "approved": "已审核", "refunded": "已退费", "odd": "odd"} {
		if got := remit.StatusLabel(code); got != want {
			t.Errorf("StatusLabel(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestFilenames(t *testing.T) {
	t.Parallel()
	b, _ := sampleBatch(t)
	if got := remit.ExportFilename(b, "xlsx"); got != "batch_2026-11-26_370403001_r2_01KBATCH00000000000000000B.xlsx" {
		t.Errorf("ExportFilename = %q", got)
	}
	if got := remit.PaidFilename(2027, syncproto.KindMedical, "370403001001", "csv"); got != "paid_2027_medical_370403001001.csv" {
		t.Errorf("PaidFilename = %q", got)
	}
	if got := remit.PaidFilename(2027, "../x", "", "csv"); got != "paid_2027____x.csv" {
		t.Errorf("PaidFilename = %q", got)
	}
}
