package remit_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"villagesync/server/internal/remit"
	"villagesync/syncproto"
)

// samplePublicity is the posted part of the sample batch's first village,
// IDs masked as the caller does it.
func samplePublicity(tb testing.TB) remit.Publicity {
	tb.Helper()
	_, lines := sampleBatch(tb)
	p := remit.Publicity{TownshipName: "临城街道", VillageName: "沙沟村", VillageCode: "370403001001",
		Date: "2026-12-01", Year: 2027}
	for _, l := range lines[:3] {
		p.Rows = append(p.Rows, remit.PublicityRow{Name: l.Name, MaskedID: syncproto.ResidentID(l.ResidentID).Masked(),
			Kind: l.Kind, Amount: l.Amount, ReceiptNo: l.ReceiptNo, PostedDate: "2026-11-27"})
	}
	return p
}

var longDigits = regexp.MustCompile(`[0-9]{18}`)

// TestPublicityGolden pins the HTML and CSV of a small publicity list and
// proves it shows no full ID: no 18 consecutive digits, none of the
// payers' IDs.
func TestPublicityGolden(t *testing.T) {
	t.Parallel()
	p := samplePublicity(t)
	html := mustWrite(t, func(w io.Writer) error { return remit.WritePublicityHTML(w, p) })
	golden(t, "publicity.golden.html", html)
	csvData := mustWrite(t, func(w io.Writer) error { return remit.WritePublicityCSV(w, p) })
	golden(t, "publicity.golden.csv", csvData)

	_, lines := sampleBatch(t)
	for name, out := range map[string][]byte{"HTML": html, "CSV": csvData} {
		if m := longDigits.Find(out); m != nil {
			t.Errorf("%s holds 18 consecutive digits %s", name, m)
		}
		for _, l := range lines {
			if bytes.Contains(out, []byte(l.ResidentID)) || bytes.Contains(out, []byte(l.ResidentID[6:14])) {
				t.Errorf("%s shows the ID or birth date of %s", name, l.Name)
			}
		}
		if !bytes.Contains(out, []byte("王\U0002003E")) {
			t.Errorf("%s lost the non-BMP name", name)
		}
	}
	recs := csvRecords(t, csvData)
	if last := recs[len(recs)-1]; last[0] != "合计" || last[1] != "共3笔" || last[4] != "1180.50" {
		t.Errorf("CSV totals row %q", last)
	}
}

// TestPublicityHTMLPrint proves the page is ready to print on its own: A4,
// page numbers both ways, header repeated per page, the title with
// township and village, totals and the notice on the last page only, and
// nothing fetched or run.
func TestPublicityHTMLPrint(t *testing.T) {
	t.Parallel()
	p := samplePublicity(t)
	row := p.Rows[0]
	p.Rows = nil
	for i := range 2*remit.PublicityRowsPerPage + 5 {
		r := row
		r.ReceiptNo = fmt.Sprintf("%012d", 5000+i)
		p.Rows = append(p.Rows, r)
	}
	html := string(mustWrite(t, func(w io.Writer) error { return remit.WritePublicityHTML(w, p) }))
	for _, want := range []string{
		"<title>临城街道沙沟村城乡居民社会保险费缴费公示</title>",
		"<h1>临城街道沙沟村城乡居民社会保险费缴费公示</h1>",
		"size: A4", "counter(page)", "counter(pages)",
		"第 1 页，共 3 页", "第 2 页，共 3 页", "第 3 页，共 3 页",
		"公示日期：2026-12-01", "缴费年度：2027",
		"合计：共 65 笔，金额 19500.00 元（养老保险 65 笔 19500.00 元；医疗保险 0 笔 0.00 元）",
		"公示期内如有异议，请向村居或镇街社保中心反映",
		"<td>65</td>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	counts := map[string]int{"<thead>": 3, `<section class="page">`: 3, "合计：": 1, "公示期内": 1, "<tr><td>": 65}
	for s, n := range counts {
		if got := strings.Count(html, s); got != n {
			t.Errorf("%q appears %d times, want %d", s, got, n)
		}
	}
	for _, banned := range []string{"<script", "src=", "href=", "http:", "https:", "@import", "url("} {
		if strings.Contains(strings.ToLower(html), banned) {
			t.Errorf("HTML contains %q: it must be self-contained", banned)
		}
	}
	// Rows 30 and 31 are on different pages.
	if i30, i31, br := strings.Index(html, "<td>30</td>"), strings.Index(html, "<td>31</td>"),
		strings.Index(html, "第 1 页，共 3 页"); !(i30 < br && br < i31) {
		t.Error("the first page does not end after row 30")
	}
}

// TestPublicityEscapes proves that names are HTML-escaped.
func TestPublicityEscapes(t *testing.T) {
	t.Parallel()
	p := samplePublicity(t)
	p.Rows[0].Name = `<img onerror="x">`
	html := string(mustWrite(t, func(w io.Writer) error { return remit.WritePublicityHTML(w, p) }))
	if strings.Contains(html, "<img") || !strings.Contains(html, "&lt;img") {
		t.Error("a name is not escaped")
	}
}

// TestPublicityRefuses proves that a list that would disclose a full ID —
// passed by mistake instead of the masked one, half masked, or hidden in
// another field — or that lacks what labels it, is refused with nothing
// written.
func TestPublicityRefuses(t *testing.T) {
	t.Parallel()
	_, lines := sampleBatch(t)
	full := lines[0].ResidentID
	tests := []struct {
		name   string
		alter  func(*remit.Publicity)
		masked bool // ErrNotMasked expected
	}{
		{"ErrFullID", func(p *remit.Publicity) { p.Rows[1].MaskedID = full }, true},
		{"ErrBirthDateShown", func(p *remit.Publicity) { p.Rows[1].MaskedID = full[:10] + "****" + full[14:] }, true},
		{"ErrFirstGeneration", func(p *remit.Publicity) { p.Rows[1].MaskedID = "370403800101123" }, true},
		{"ErrEmptyID", func(p *remit.Publicity) { p.Rows[1].MaskedID = "" }, true},
		{"ErrIDInName", func(p *remit.Publicity) { p.Rows[1].Name = "张三" + full }, true},
		{"ErrIDInReceipt", func(p *remit.Publicity) { p.Rows[1].ReceiptNo = full[:17] }, true},
		{"ErrKind", func(p *remit.Publicity) { p.Rows[1].Kind = "dental" }, false},
		{"ErrNoVillage", func(p *remit.Publicity) { p.VillageName = " " }, false},
		{"ErrBadDate", func(p *remit.Publicity) { p.Date = "2026-12-1" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := samplePublicity(t)
			tt.alter(&p)
			for format, write := range map[string]func(io.Writer, remit.Publicity) error{
				"HTML": remit.WritePublicityHTML, "CSV": remit.WritePublicityCSV} {
				var buf bytes.Buffer
				err := write(&buf, p)
				if err == nil || buf.Len() > 0 {
					t.Fatalf("%s: err %v, %d bytes written", format, err, buf.Len())
				}
				if errors.Is(err, remit.ErrNotMasked) != tt.masked {
					t.Errorf("%s: %v, ErrNotMasked %v", format, err, tt.masked)
				}
			}
		})
	}
}

// TestPublicityEmpty proves that a village without payments prints one
// page with zero totals.
func TestPublicityEmpty(t *testing.T) {
	t.Parallel()
	p := samplePublicity(t)
	p.Rows = nil
	html := string(mustWrite(t, func(w io.Writer) error { return remit.WritePublicityHTML(w, p) }))
	if !strings.Contains(html, "第 1 页，共 1 页") || !strings.Contains(html, "合计：共 0 笔，金额 0.00 元") {
		t.Error("empty list is not one page with zero totals")
	}
}
