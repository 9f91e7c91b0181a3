package roster

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// reportHeader is the header row of both error reports: row, column,
// value, code, reason in Chinese, reason in English.
var reportHeader = []string{"行号", "列", "值", "错误代码", "错误原因", "Reason"}

// reportSheet is the worksheet name of the XLSX report.
const reportSheet = "错误报告"

// WriteReportCSV writes errs as CSV in UTF-8 with a byte order mark, so
// that Excel on Chinese Windows opens it without mojibake, under the header
// 行号,列,值,错误代码,错误原因,Reason. Cells that a spreadsheet would take
// for a formula (starting with =, +, -, @, tab or CR) are prefixed with an
// apostrophe: the values come from the uploaded file.
func WriteReportCSV(w io.Writer, errs []RowError) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // what Excel writes and expects
	if err := cw.Write(reportHeader); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	rec := make([]string, len(reportHeader))
	for _, e := range errs {
		rec[0] = fmt.Sprint(e.Row)
		rec[1] = defuseFormula(e.Column)
		rec[2] = defuseFormula(e.Value)
		rec[3] = string(e.Code)
		rec[4] = defuseFormula(e.MessageZH)
		rec[5] = defuseFormula(e.Message)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// defuseFormula neutralises CSV formula injection.
func defuseFormula(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteReportXLSX writes errs as an Excel workbook with one sheet, 错误报告,
// with the columns of WriteReportCSV; the row number is a number, every
// other cell a string (never a formula). Characters XML cannot carry are
// replaced by U+FFFD.
func WriteReportXLSX(w io.Writer, errs []RowError) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", reportSheet); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	sw, err := f.NewStreamWriter(reportSheet)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for i, width := range []float64{8, 16, 24, 28, 60, 60} {
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	head := make([]any, len(reportHeader))
	for i, h := range reportHeader {
		head[i] = excelize.Cell{StyleID: bold, Value: h}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	row := make([]any, len(reportHeader))
	for i, e := range errs {
		row[0] = e.Row
		row[1] = xmlSafe(e.Column)
		row[2] = xmlSafe(e.Value)
		row[3] = string(e.Code)
		row[4] = xmlSafe(e.MessageZH)
		row[5] = xmlSafe(e.Message)
		cell, err := excelize.CoordinatesToCellName(1, i+2)
		if err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		if err := sw.SetRow(cell, row); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// xmlSafe replaces the characters XML 1.0 forbids.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}
