package demo

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// RosterSheet is the worksheet name of the XLSX rosters that
// WriteRosterXLSX writes.
const RosterSheet = "征收清册"

// The text encodings of WriteRosterCSV, as bureaus' office software saves
// CSV files.
const (
	// EncodingUTF8 is UTF-8 without byte order mark.
	EncodingUTF8 = "utf8"
	// EncodingUTF8BOM is UTF-8 with a byte order mark (Excel's "CSV UTF-8").
	EncodingUTF8BOM = "utf8bom"
	// EncodingGBK is what Excel on Chinese Windows writes. It is written as
	// GB18030, the superset of GBK that also encodes the characters outside
	// the BMP (four bytes each), so that no name loses a character.
	EncodingGBK = "gbk"
)

// rosterHeader is the header row of a roster file, as the bureaus write it.
var rosterHeader = []string{
	"姓名", "公民身份号码", "村居", "险种", "人员类别", "缴费年度", "应缴金额", "代缴金额", "备注",
}

// rosterColumnWidths are the XLSX column widths, in characters.
var rosterColumnWidths = []float64{12, 22, 14, 24, 18, 10, 12, 12, 20}

// RosterRows returns the rows of a roster file of set.Kind for the
// residents in that insurance (Pension or Medical), header row first:
// 姓名, 公民身份号码, 村居 (the village code), 险种 (the kind's Chinese
// name), 人员类别 (the category's Chinese name), 缴费年度 (set.Year), 应缴金额
// (set.Due: the medical premium, or the minimum pension grade open to the
// category, less 代缴), 代缴金额 (set.Subsidy, 0.00 when none) and 备注 (a
// short note on 代缴 or newborns, or empty). Amounts are yuan with two
// decimals, e.g. "400.00". The file passes the roster import for set's
// year and district.
func RosterRows(residents []Resident, set settings.Year) [][]string {
	type amounts struct{ label, due, subsidy, note string }
	byCategory := make(map[syncproto.Category]amounts)
	for _, c := range syncproto.Categories() {
		a := amounts{
			label:   c.Label(),
			due:     set.Due(c).String(),
			subsidy: set.Subsidy[c].String(),
		}
		switch {
		case set.FullySubsidised(c):
			a.note = "政府全额代缴"
		case set.Subsidy[c] > 0:
			a.note = "政府代缴" + a.subsidy + "元"
		case c == syncproto.CategoryNewborn:
			a.note = "新生儿参保"
		}
		byCategory[c] = a
	}
	kind, year := set.Kind.Label(), strconv.Itoa(set.Year)

	rows := [][]string{append([]string(nil), rosterHeader...)}
	for i := range residents {
		p := &residents[i]
		in := p.Medical
		if set.Kind == syncproto.KindPension {
			in = p.Pension
		}
		if !in {
			continue
		}
		a := byCategory[p.Category]
		rows = append(rows, []string{
			p.Name, string(p.ID), p.VillageCode, kind, a.label, year, a.due, a.subsidy, a.note,
		})
	}
	return rows
}

// WriteRosterCSV writes rows as a CSV file with CRLF line ends, as Excel
// saves one, in enc: EncodingUTF8, EncodingUTF8BOM or EncodingGBK
// (GB18030; "gb18030" is accepted too).
func WriteRosterCSV(w io.Writer, rows [][]string, enc string) error {
	out := w
	var closer io.Closer
	switch enc {
	case EncodingUTF8:
	case EncodingUTF8BOM:
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return fmt.Errorf("write roster CSV: %w", err)
		}
	case EncodingGBK, "gb18030":
		tw := transform.NewWriter(w, simplifiedchinese.GB18030.NewEncoder())
		out, closer = tw, tw
	default:
		return fmt.Errorf("write roster CSV: unknown encoding %q; want %s, %s or %s",
			enc, EncodingUTF8, EncodingUTF8BOM, EncodingGBK)
	}
	cw := csv.NewWriter(out)
	cw.UseCRLF = true
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write roster CSV: %w", err)
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			return fmt.Errorf("write roster CSV: %w", err)
		}
	}
	return nil
}

// WriteRosterXLSX writes rows as an Excel workbook with one worksheet,
// RosterSheet, the header row bold and frozen. Every cell is a text cell
// in text-formatted columns, so that ID numbers never turn into numbers
// (which would lose their last digits) and amounts read back as written.
func WriteRosterXLSX(w io.Writer, rows [][]string) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write roster XLSX: %w", cerr)
		}
	}()
	if err := writeRosterSheet(f, rows); err != nil {
		return fmt.Errorf("write roster XLSX: %w", err)
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("write roster XLSX: %w", err)
	}
	return nil
}

// writeRosterSheet fills f's only worksheet with rows.
func writeRosterSheet(f *excelize.File, rows [][]string) error {
	if err := f.SetSheetName(f.GetSheetName(0), RosterSheet); err != nil {
		return err
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@", text
	if err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{NumFmt: 49, Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(RosterSheet)
	if err != nil {
		return err
	}
	cols := len(rosterHeader)
	for _, row := range rows {
		cols = max(cols, len(row))
	}
	if err := sw.SetColStyle(1, cols, text); err != nil {
		return err
	}
	for i := range cols {
		width := 12.0
		if i < len(rosterColumnWidths) {
			width = rosterColumnWidths[i]
		}
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return err
		}
	}
	if len(rows) > 0 {
		if err := sw.SetPanes(&excelize.Panes{
			Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		}); err != nil {
			return err
		}
	}
	cells := make([]any, cols)
	for i, row := range rows {
		style := text
		if i == 0 {
			style = bold
		}
		cells = cells[:len(row)]
		for j, v := range row {
			cells[j] = excelize.Cell{StyleID: style, Value: v}
		}
		ref, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			return err
		}
		if err := sw.SetRow(ref, cells); err != nil {
			return err
		}
	}
	return sw.Flush()
}
