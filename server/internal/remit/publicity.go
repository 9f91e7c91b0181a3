package remit

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"villagesync/syncproto"
)

// PublicityRowsPerPage is how many people one printed A4 page of the
// publicity list holds; the list is cut into pages of this many rows so
// that every page carries "第 X 页，共 Y 页" even where the browser cannot
// number pages itself.
const PublicityRowsPerPage = 30

// Publicity is a village's publicity list (公示) after posting: who paid
// what, posted on the village notice board for the payers to check. It
// holds names and masked IDs only, and never a person's category (special
// groups are sensitive personal information under PIPL): PublicityRow has
// no field for it.
type Publicity struct {
	TownshipName string
	VillageName  string
	VillageCode  string
	// Date is the publicity date, YYYY-MM-DD.
	Date string
	// Year is the coverage year (缴费年度).
	Year int
	// Rows are printed in the order given.
	Rows []PublicityRow
}

// PublicityRow is one payment on the publicity list.
type PublicityRow struct {
	Name string
	// MaskedID is the resident ID as syncproto.ResidentID.Masked gives it:
	// 18 characters with the birth date (characters 7 to 14) hidden by
	// asterisks. A full ID is refused.
	MaskedID   string
	Kind       syncproto.Kind
	Amount     syncproto.Money
	ReceiptNo  string
	PostedDate string
}

// ErrNotMasked is returned (wrapped) when a publicity list would show a
// full resident ID: a row's MaskedID not masked, or 15 or more consecutive
// digits anywhere in the output.
var ErrNotMasked = errors.New("a public list must show masked resident IDs only")

// publicityHeader is the column header of the list, in both formats.
var publicityHeader = []string{"序号", "姓名", "公民身份号码", "险种", "金额(元)", "收据号", "入库日期"}

// publicityNotice closes the list.
const publicityNotice = "公示期内如有异议，请向村居或镇街社保中心反映。"

// checkPublicity refuses a list that would disclose a full ID or cannot be
// labelled.
func checkPublicity(p *Publicity) error {
	if strings.TrimSpace(p.VillageName) == "" || strings.TrimSpace(p.TownshipName) == "" {
		return fmt.Errorf("publicity list: township and village names are required")
	}
	if _, err := time.Parse(time.DateOnly, p.Date); err != nil {
		return fmt.Errorf("publicity list: date %q is not YYYY-MM-DD", p.Date)
	}
	if p.Year < 2000 || p.Year > 2100 {
		return fmt.Errorf("publicity list: year %d out of range", p.Year)
	}
	for i, r := range p.Rows {
		if !maskedID(r.MaskedID) {
			return fmt.Errorf("publicity list row %d: the ID is not masked like 370403********123X: %w", i+1, ErrNotMasked)
		}
		if !r.Kind.Valid() {
			return fmt.Errorf("publicity list row %d: unknown insurance kind %q", i+1, r.Kind)
		}
	}
	return nil
}

// maskedID reports whether s has the shape of ResidentID.Masked: 18
// characters, the eight of the birth date asterisks, the others digits, X
// or asterisks.
func maskedID(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i >= 6 && i < 14:
			if c != '*' {
				return false
			}
		case c == '*', c >= '0' && c <= '9', (c == 'X' || c == 'x') && i == 17:
		default:
			return false
		}
	}
	return true
}

// longDigitRun reports whether b holds maxRun or more consecutive ASCII
// digits: a full 18-digit (or first-generation 15-digit) ID.
func longDigitRun(b []byte, maxRun int) bool {
	run := 0
	for _, c := range b {
		if c >= '0' && c <= '9' {
			if run++; run >= maxRun {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// publicityDigitRun is the shortest digit run the rendered list refuses:
// a first-generation ID has 15 digits, receipt numbers 12, village codes 12.
const publicityDigitRun = 15

// publicityView is what the template renders.
type publicityView struct {
	Title, TownshipName, VillageName, VillageCode, Date string
	Year                                                int
	Pages                                               []publicityPage
	Count                                               int
	Total                                               string
	Kinds                                               []publicityKind
	Notice                                              string
}

type publicityPage struct {
	No, Of int
	Rows   []publicityCells
	Last   bool
}

type publicityCells struct {
	No                                            int
	Name, ID, Kind, Amount, ReceiptNo, PostedDate string
}

type publicityKind struct {
	Label string
	Count int
	Total string
}

// publicityTitle is the list's heading.
func publicityTitle(p *Publicity) string {
	return strings.TrimSpace(p.TownshipName) + strings.TrimSpace(p.VillageName) + "城乡居民社会保险费缴费公示"
}

// publicityTemplate is a self-contained A4 page: no script, no external
// resource. Each chunk of PublicityRowsPerPage rows is a <section> that
// ends with a page break and carries its own "第 X 页，共 Y 页"; the
// table's <thead> also repeats on each page should a section ever spill
// over. Browsers that support @page margin boxes (Chrome 131+, print
// processors such as WeasyPrint) add the sheet counter at the bottom right.
var publicityTemplate = template.Must(template.New("publicity").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
@page {
  size: A4 portrait;
  margin: 14mm 12mm 16mm 12mm;
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; }
}
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: #000; font-size: 10.5pt; line-height: 1.3;
  font-family: "SimSun", "宋体", "Songti SC", "Noto Serif CJK SC", "Source Han Serif SC", "SimSun-ExtB", "MingLiU-ExtB", serif; }
.page { break-after: page; page-break-after: always; }
.page:last-child { break-after: auto; page-break-after: auto; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 3mm; letter-spacing: 0.05em; }
.meta { display: flex; justify-content: space-between; margin: 0 0 2mm; font-size: 10pt; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 0.3mm solid #000; padding: 0.8mm 1.2mm; height: 6.6mm; text-align: center; vertical-align: middle; }
th { background: #eee; font-weight: bold; }
td.name { text-align: left; word-break: break-all; }
td.amount { text-align: right; font-variant-numeric: tabular-nums; }
col.no { width: 8%; } col.name { width: 16%; } col.id { width: 23%; } col.kind { width: 11%; }
col.amount { width: 12%; } col.receipt { width: 16%; } col.date { width: 14%; }
.summary { margin: 3mm 0 1mm; font-weight: bold; }
.notice { margin: 1mm 0; }
.pageno { text-align: center; font-size: 9pt; margin: 3mm 0 0; }
@media screen {
  body { background: #ddd; }
  .page { background: #fff; width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 14mm 12mm 16mm; box-shadow: 0 0 2mm #999; }
}
</style>
</head>
<body>
{{- range .Pages}}
<section class="page">
<h1>{{$.Title}}</h1>
<div class="meta"><span>缴费年度：{{$.Year}}</span>{{if $.VillageCode}}<span>村居代码：{{$.VillageCode}}</span>{{end}}<span>公示日期：{{$.Date}}</span></div>
<table>
<colgroup><col class="no"><col class="name"><col class="id"><col class="kind"><col class="amount"><col class="receipt"><col class="date"></colgroup>
<thead><tr><th>序号</th><th>姓名</th><th>公民身份号码</th><th>险种</th><th>金额(元)</th><th>收据号</th><th>入库日期</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td>{{.No}}</td><td class="name">{{.Name}}</td><td>{{.ID}}</td><td>{{.Kind}}</td><td class="amount">{{.Amount}}</td><td>{{.ReceiptNo}}</td><td>{{.PostedDate}}</td></tr>
{{- end}}
</tbody>
</table>
{{- if .Last}}
<p class="summary">合计：共 {{$.Count}} 笔，金额 {{$.Total}} 元（{{range $i, $k := $.Kinds}}{{if $i}}；{{end}}{{$k.Label}} {{$k.Count}} 笔 {{$k.Total}} 元{{end}}）</p>
<p class="notice">{{$.Notice}}</p>
{{- end}}
<p class="pageno">第 {{.No}} 页，共 {{.Of}} 页</p>
</section>
{{- end}}
</body>
</html>
`))

// WritePublicityHTML writes the village's publicity list as one print-ready
// HTML page (UTF-8, A4 portrait, Chinese): the title "<镇街><村居>城乡居民
// 社会保险费缴费公示", year, village code and date, then a table of 序号,
// 姓名, 公民身份号码 (masked), 险种, 金额(元), 收据号, 入库日期, cut into
// pages of PublicityRowsPerPage rows each numbered "第 X 页，共 Y 页", and
// on the last page the totals (per kind too) and the notice to raise
// objections. It refuses — writing nothing — a row whose ID is not masked
// as ResidentID.Masked does, an unknown kind, a missing township or village
// name or a bad date, and, as a last guard, any output holding 15 or more
// consecutive digits (a full ID that slipped into a name, say).
func WritePublicityHTML(w io.Writer, p Publicity) error {
	if err := checkPublicity(&p); err != nil {
		return err
	}
	var t tally
	for _, r := range p.Rows {
		t.add(r.Kind, r.Amount)
	}
	v := publicityView{
		Title: publicityTitle(&p), TownshipName: p.TownshipName, VillageName: p.VillageName,
		VillageCode: p.VillageCode, Date: p.Date, Year: p.Year,
		Count: t.count, Total: t.total.String(), Notice: publicityNotice,
	}
	kinds := t.kinds()
	for _, k := range syncproto.Kinds() {
		v.Kinds = append(v.Kinds, publicityKind{Label: k.ShortLabel(), Count: kinds[k].Count, Total: kinds[k].Total.String()})
	}
	pages := max(1, (len(p.Rows)+PublicityRowsPerPage-1)/PublicityRowsPerPage)
	for i := range pages {
		pg := publicityPage{No: i + 1, Of: pages, Last: i == pages-1}
		for j := i * PublicityRowsPerPage; j < min(len(p.Rows), (i+1)*PublicityRowsPerPage); j++ {
			r := p.Rows[j]
			pg.Rows = append(pg.Rows, publicityCells{No: j + 1, Name: r.Name, ID: r.MaskedID,
				Kind: r.Kind.ShortLabel(), Amount: r.Amount.String(), ReceiptNo: r.ReceiptNo, PostedDate: r.PostedDate})
		}
		v.Pages = append(v.Pages, pg)
	}
	var buf bytes.Buffer
	if err := publicityTemplate.Execute(&buf, v); err != nil {
		return fmt.Errorf("write publicity list: %w", err)
	}
	if longDigitRun(buf.Bytes(), publicityDigitRun) {
		return fmt.Errorf("publicity list: the output holds %d or more consecutive digits, perhaps a full ID: %w", publicityDigitRun, ErrNotMasked)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write publicity list: %w", err)
	}
	return nil
}

// publicityColumns are the columns of WritePublicityCSV.
var publicityColumns = []tableColumn{
	{header: publicityHeader[0], kind: cellInt},
	{header: publicityHeader[1], kind: cellText},
	{header: publicityHeader[2], kind: cellText},
	{header: publicityHeader[3], kind: cellText},
	{header: publicityHeader[4], kind: cellMoney},
	{header: publicityHeader[5], kind: cellText},
	{header: publicityHeader[6], kind: cellText},
}

// WritePublicityCSV writes the publicity list as CSV (UTF-8 with BOM,
// CRLF, formula defusing) with the columns of WritePublicityHTML, then
// the subtotal rows per kind and the 合计 row ("共N笔" under 姓名, the
// sum under 金额(元)). It refuses what WritePublicityHTML refuses.
func WritePublicityCSV(w io.Writer, p Publicity) error {
	if err := checkPublicity(&p); err != nil {
		return err
	}
	var t tally
	for _, r := range p.Rows {
		t.add(r.Kind, r.Amount)
	}
	var buf bytes.Buffer
	err := writeCSVTable(&buf, publicityColumns, len(p.Rows), func(i int) []any {
		r := &p.Rows[i]
		return []any{i + 1, r.Name, r.MaskedID, r.Kind.ShortLabel(), r.Amount, r.ReceiptNo, r.PostedDate}
	}, t.summaryRows(len(publicityColumns), 1, 4))
	if err != nil {
		return fmt.Errorf("write publicity csv: %w", err)
	}
	if longDigitRun(buf.Bytes(), publicityDigitRun) {
		return fmt.Errorf("publicity list: the output holds %d or more consecutive digits, perhaps a full ID: %w", publicityDigitRun, ErrNotMasked)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write publicity csv: %w", err)
	}
	return nil
}
