// Package receipt renders the receipt an agent gives for cash taken
// (城乡居民社会保险费代收收据), as plain text for a thermal printer or the
// terminal and as a print-ready HTML page. It does no I/O beyond writing
// to the given writer.
package receipt

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/width"

	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// Title is the receipt's heading.
const Title = "城乡居民社会保险费代收收据"

// Receipt is what a receipt shows.
type Receipt struct {
	ReceiptNo  string
	Name       string
	Masked     string // the masked resident ID: never the full number
	Kind       syncproto.Kind
	Year       int
	Grade      syncproto.Money // pension: the grade chosen; 0 for medical
	Amount     syncproto.Money
	Agent      string // the agent's name
	Village    string // the village (code, or name when known)
	DeviceID   string
	DeviceTime time.Time // the tablet's clock when the cash was taken
	Voided     bool
	VoidReason string
}

// FromCollection makes the receipt of a collection; agent is the agent's
// name as enrolled.
func FromCollection(c localstore.Collection, agent string) Receipt {
	return Receipt{
		ReceiptNo: c.ReceiptNo, Name: c.Name, Masked: c.Masked, Kind: c.Kind, Year: c.Year, Grade: c.Grade,
		Amount: c.Amount, Agent: agent, Village: c.VillageCode, DeviceID: c.DeviceID, DeviceTime: c.CollectedAt,
		Voided: c.Voided(), VoidReason: c.VoidReason,
	}
}

// shanghai is the zone receipts show times in.
var shanghai = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
})

// line is one labelled field of the receipt.
type line struct{ Label, Value string }

// lines are the receipt's fields in print order.
func (r Receipt) lines() []line {
	ls := []line{
		{"收据号码", r.ReceiptNo},
		{"缴费人", r.Name},
		{"身份证号", r.Masked},
		{"险种", r.Kind.Label()},
		{"缴费年度", fmt.Sprintf("%d", r.Year)},
	}
	if r.Kind == syncproto.KindPension {
		ls = append(ls, line{"缴费档次", r.Grade.String() + " 元/年"})
	}
	ls = append(ls,
		line{"金额（小写）", "¥" + r.Amount.String()},
		line{"金额（大写）", "人民币" + Capital(r.Amount)},
		line{"代收人", r.Agent},
		line{"村居", r.Village},
		line{"收款时间", r.DeviceTime.In(shanghai()).Format("2006-01-02 15:04:05")},
		line{"终端", r.DeviceID},
	)
	return ls
}

// Text writes the receipt as plain text, 32 columns wide for a thermal
// printer's Chinese font (each Chinese character takes two columns).
func (r Receipt) Text(w io.Writer) error {
	var b strings.Builder
	rule := strings.Repeat("-", 32) + "\n"
	b.WriteString(center(Title, 32) + "\n")
	if r.Voided {
		b.WriteString(center("【已作废 VOID】", 32) + "\n")
	}
	b.WriteString(rule)
	for _, l := range r.lines() {
		fmt.Fprintf(&b, "%s：%s\n", l.Label, l.Value)
	}
	if r.Voided {
		fmt.Fprintf(&b, "作废原因：%s\n", r.VoidReason)
	}
	b.WriteString(rule)
	b.WriteString("缴费人签字：\n\n代收人签字：\n")
	b.WriteString("请妥善保管本收据，缴费信息入库后将在本村居公示。\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// columns is the width of s on a terminal or printer: two for wide (East
// Asian) characters.
func columns(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

func center(s string, cols int) string {
	pad := (cols - columns(s)) / 2
	if pad <= 0 {
		return s
	}
	return strings.Repeat(" ", pad) + s
}

//go:embed receipt.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("receipt").Parse(htmlSource))

// HTML writes the receipt as a self-contained, print-ready HTML page
// (A5-sized when printed).
func (r Receipt) HTML(w io.Writer) error {
	return htmlTemplate.Execute(w, struct {
		Title string
		R     Receipt
		Lines []line
	}{Title, r, r.lines()})
}

// Field is one labelled field of a receipt, for pages that lay the
// receipt out themselves (the tablet UI, whose Content-Security-Policy
// allows no inline style).
type Field struct{ Label, Value string }

// Fields are the receipt's fields in print order, as Text and HTML show
// them.
func (r Receipt) Fields() []Field {
	ls := r.lines()
	out := make([]Field, len(ls))
	for i, l := range ls {
		out[i] = Field(l)
	}
	return out
}
