package remit

import (
	"fmt"
	"io"
	"strconv"

	"villagesync/syncproto"
)

// PaidRow is one payment in the paid-and-posted details that HRSS
// (pension) and medical security (medical) download for their books
// (记账), per year, kind and village.
type PaidRow struct {
	Year        int
	Kind        syncproto.Kind
	VillageCode string
	VillageName string
	Name        string
	// ResidentID is the full ID: the bureaus book per person.
	ResidentID string
	Amount     syncproto.Money
	// Grade is the pension grade; ignored (blank) for medical.
	Grade      syncproto.Money
	ReceiptNo  string
	Voucher    string
	PostedDate string
	// Status is the collection's status code (posted, exported, …),
	// written as its Chinese label; an unknown code is written as it is.
	Status string
}

// paidColumns are the columns of the paid details.
var paidColumns = []tableColumn{
	{header: "缴费年度", width: 9, kind: cellInt},
	{header: "险种", width: 10, kind: cellText},
	{header: "村居代码", width: 15, kind: cellText},
	{header: "村居名称", width: 14, kind: cellText},
	{header: "姓名", width: 12, kind: cellText},
	{header: "公民身份号码", width: 21, kind: cellText},
	{header: "缴费档次(元)", width: 12, kind: cellMoney},
	{header: "金额(元)", width: 12, kind: cellMoney},
	{header: "收据号", width: 14, kind: cellText},
	{header: "完税凭证号", width: 22, kind: cellText},
	{header: "入库日期", width: 12, kind: cellText},
	{header: "状态", width: 10, kind: cellText},
}

// Positions of the paid columns that the totals rows fill.
const (
	paidCountCol  = 4 // 姓名
	paidAmountCol = 7 // 金额(元)
)

// PaidHeader returns the header row of the paid details, in column order.
func PaidHeader() []string { return columnHeaders(paidColumns) }

// statusLabels are the Chinese labels of collection status codes.
var statusLabels = map[string]string{
	"recorded":         "已收款",
	"synced":           "已上传",
	"batched":          "已汇总",
	"approved":         "已审核",
	"exported":         "已导出",
	"posted":           "已入库",
	"partially_posted": "部分入库",
	"voided":           "已作废",
	"flagged":          "待核查",
	"refund_requested": "退费申请中",
	"refunded":         "已退费",
}

// StatusLabel returns the Chinese label of a collection status code
// (posted → 已入库), or the code itself when it is unknown.
func StatusLabel(status string) string {
	if l, ok := statusLabels[status]; ok {
		return l
	}
	return status
}

// paidRow returns r as the table's cells.
func paidRow(r *PaidRow) []any {
	var grade any
	if r.Kind == syncproto.KindPension {
		grade = r.Grade
	}
	var year any
	if r.Year != 0 {
		year = r.Year
	}
	return []any{year, r.Kind.ShortLabel(), r.VillageCode, r.VillageName, r.Name, r.ResidentID,
		grade, r.Amount, r.ReceiptNo, r.Voucher, r.PostedDate, StatusLabel(r.Status)}
}

// paidSummary is the subtotal and total rows of rows.
func paidSummary(rows []PaidRow) ([][]any, error) {
	var t tally
	for i := range rows {
		if !rows[i].Kind.Valid() {
			return nil, fmt.Errorf("paid details row %d: unknown insurance kind %q", i+1, rows[i].Kind)
		}
		t.add(rows[i].Kind, rows[i].Amount)
	}
	return t.summaryRows(len(paidColumns), paidCountCol, paidAmountCol), nil
}

// WritePaidCSV writes the paid-and-posted details as CSV: UTF-8 with a
// byte order mark, CRLF, the header of PaidHeader (缴费年度, 险种, 村居代码,
// 村居名称, 姓名, 公民身份号码, 缴费档次(元), 金额(元), 收据号, 完税凭证号,
// 入库日期, 状态), one row per PaidRow in the order given, then a subtotal
// row per kind (小计：养老保险, 小计：医疗保险) and the 合计 row, each with
// "共N笔" under 姓名 and the sum under 金额(元). Amounts are yuan with two
// decimals, the grade is blank for medical, resident IDs plain digits (as
// in the tax office's download), text defused against formula injection.
func WritePaidCSV(w io.Writer, rows []PaidRow) error {
	summary, err := paidSummary(rows)
	if err != nil {
		return err
	}
	if err := writeCSVTable(w, paidColumns, len(rows), func(i int) []any { return paidRow(&rows[i]) }, summary); err != nil {
		return fmt.Errorf("write paid csv: %w", err)
	}
	return nil
}

// WritePaidXLSX writes the paid-and-posted details as an Excel workbook
// with one sheet, 缴费明细, with the rows of WritePaidCSV: a bold, frozen
// header; IDs, receipt and voucher numbers as text cells; year as a whole
// number; grade and amount as numbers formatted 0.00; the totals rows in
// bold with their sums as values.
func WritePaidXLSX(w io.Writer, rows []PaidRow) error {
	summary, err := paidSummary(rows)
	if err != nil {
		return err
	}
	if err := writeXLSXTable(w, PaidSheet, paidColumns, len(rows), func(i int) []any { return paidRow(&rows[i]) }, summary); err != nil {
		return fmt.Errorf("write paid xlsx: %w", err)
	}
	return nil
}

// PaidSheet is the worksheet name of WritePaidXLSX.
const PaidSheet = "缴费明细"

// PaidFilename returns an ASCII file name for the paid details of a year,
// kind and village ("" for all villages): paid_<year>_<kind>[_<village>].<format>.
func PaidFilename(year int, kind syncproto.Kind, villageCode, format string) string {
	name := "paid_" + strconv.Itoa(year) + "_" + string(kind)
	if villageCode != "" {
		name += "_" + villageCode
	}
	return safeFilename(name) + "." + safeFilename(format)
}
