package progress

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartWidth   = 760
	chartHeight  = 380
	plotLeft     = 56
	plotTop      = 40
	plotRight    = 590 // the legend sits right of it
	plotBottom   = 332
	legendLeft   = 606
	legendRow    = 18
	minTickSpace = 44 // fewest units between two date labels
)

// palette are the line colours, told apart in print too; lines beyond it
// repeat the colours dashed.
var palette = []string{"#1f6fb2", "#d1495b", "#2a9d55", "#e08e0b", "#7b4fb0", "#00899b", "#8c5a3c", "#5a6470"}

// Chart draws the share paid of every line of s over its days as an SVG
// line chart: the days along the x axis (labelled MM-DD), 0–100 % up the
// y axis, one coloured line per Line and a legend in Chinese with each
// line's label and its last share. Shares above 100 % are drawn at 100 %.
// It writes only elements and presentation attributes (no script, no
// style attribute) and escapes every label, so the result is safe to put
// in a page under the console's Content-Security-Policy. Output is a pure
// function of its arguments.
func Chart(s Series, title string) template.HTML {
	height := chartHeight
	if need := plotTop + legendRow*len(s.Lines) + 8; need > height {
		height = need
	}
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="progress-chart" viewBox="0 0 `)
	b.WriteString(strconv.Itoa(chartWidth) + " " + strconv.Itoa(height))
	b.WriteString(`" width="` + strconv.Itoa(chartWidth) + `" height="` + strconv.Itoa(height))
	b.WriteString(`" role="img" aria-label="` + esc(title) + `" font-family="sans-serif" font-size="12">` + "\n")
	b.WriteString(`<title>` + esc(title) + "</title>\n")
	b.WriteString(`<text x="` + num(plotLeft) + `" y="22" font-size="15" font-weight="bold" fill="#222">` + esc(title) + "</text>\n")

	// The y axis: grid lines every 20 %.
	for p := 0; p <= 100; p += 20 {
		y := yOf(float64(p))
		b.WriteString(`<line x1="` + num(plotLeft) + `" y1="` + num(y) + `" x2="` + num(plotRight) + `" y2="` + num(y))
		if p == 0 {
			b.WriteString(`" stroke="#333" stroke-width="1"/>` + "\n")
		} else {
			b.WriteString(`" stroke="#ddd" stroke-width="1"/>` + "\n")
		}
		b.WriteString(`<text x="` + num(plotLeft-6) + `" y="` + num(y+4) + `" text-anchor="end" fill="#444">` + strconv.Itoa(p) + "%</text>\n")
	}
	b.WriteString(`<line x1="` + num(plotLeft) + `" y1="` + num(plotTop) + `" x2="` + num(plotLeft) + `" y2="` + num(plotBottom) + `" stroke="#333" stroke-width="1"/>` + "\n")
	b.WriteString(`<text x="14" y="` + num((plotTop+plotBottom)/2) + `" text-anchor="middle" fill="#444" transform="rotate(-90 14 ` + num((plotTop+plotBottom)/2) + `)">缴费率</text>` + "\n")

	if len(s.Days) == 0 || len(s.Lines) == 0 {
		b.WriteString(`<text x="` + num((plotLeft+plotRight)/2) + `" y="` + num((plotTop+plotBottom)/2) + `" text-anchor="middle" fill="#888">暂无数据</text>` + "\n")
		b.WriteString("</svg>")
		return template.HTML(b.String())
	}

	// The x axis: a date label every step days, and the last day when it
	// has room.
	n := len(s.Days)
	step := 1
	if n > 1 {
		perDay := float64(plotRight-plotLeft) / float64(n-1)
		for float64(step)*perDay < minTickSpace {
			step++
		}
	}
	lastTick := 0
	for i := 0; i < n; i += step {
		tick(&b, xOf(i, n), s.Days[i].Format("01-02"))
		lastTick = i
	}
	if lastTick != n-1 && xOf(n-1, n)-xOf(lastTick, n) >= minTickSpace {
		tick(&b, xOf(n-1, n), s.Days[n-1].Format("01-02"))
	}
	b.WriteString(`<text x="` + num((plotLeft+plotRight)/2) + `" y="` + num(plotBottom+38) + `" text-anchor="middle" fill="#444">日期（` +
		s.Days[0].Format("2006-01-02") + " 至 " + s.Days[n-1].Format("2006-01-02") + "）</text>\n")

	// The lines and the legend.
	for i, l := range s.Lines {
		colour := palette[i%len(palette)]
		dash := ""
		if i >= len(palette) {
			dash = ` stroke-dasharray="6 3"`
		}
		b.WriteString(`<g class="series">`)
		if n == 1 {
			b.WriteString(`<circle cx="` + num(xOf(0, n)) + `" cy="` + num(yOf(l.Percent(0))) + `" r="3" fill="` + colour + `"/>`)
		} else {
			b.WriteString(`<polyline fill="none" stroke="` + colour + `" stroke-width="2"` + dash + ` points="`)
			for j := range n {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(num(xOf(j, n)) + "," + num(yOf(l.Percent(j))))
			}
			b.WriteString(`"/>`)
		}
		ly := float64(plotTop + legendRow*i + 6)
		b.WriteString(`<line x1="` + num(legendLeft) + `" y1="` + num(ly) + `" x2="` + num(legendLeft+18) + `" y2="` + num(ly) +
			`" stroke="` + colour + `" stroke-width="3"` + dash + `/>`)
		b.WriteString(`<text x="` + num(legendLeft+24) + `" y="` + num(ly+4) + `" fill="#222">` + esc(l.Label) + " " +
			strconv.FormatFloat(l.Percent(n-1), 'f', 1, 64) + "%</text></g>\n")
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// tick writes a date label and its tick mark under the x axis.
func tick(b *strings.Builder, x float64, label string) {
	b.WriteString(`<line x1="` + num(x) + `" y1="` + num(plotBottom) + `" x2="` + num(x) + `" y2="` + num(plotBottom+5) + `" stroke="#333" stroke-width="1"/>`)
	b.WriteString(`<text x="` + num(x) + `" y="` + num(plotBottom+18) + `" text-anchor="middle" fill="#444">` + label + "</text>\n")
}

// xOf is the x of day i of n.
func xOf(i, n int) float64 {
	if n <= 1 {
		return (plotLeft + plotRight) / 2
	}
	return plotLeft + float64(plotRight-plotLeft)*float64(i)/float64(n-1)
}

// yOf is the y of a share in percent, kept within 0–100.
func yOf(p float64) float64 {
	p = min(max(p, 0), 100)
	return plotBottom - float64(plotBottom-plotTop)*p/100
}

// num formats a coordinate with at most one decimal.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// esc escapes text for an SVG element or attribute.
func esc(s string) string { return template.HTMLEscapeString(s) }
