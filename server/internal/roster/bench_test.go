package roster_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// benchRows is the size of a district roster: Xuecheng has ~200k medical
// payers a year.
const benchRows = 250_000

// benchDistrict is a generated district of 7 townships and 224 villages.
func benchDistrict() []roster.Village {
	var vs []roster.Village
	for t := range 7 {
		township := fmt.Sprintf("370403%03d", 101+t)
		for v := range 32 {
			vs = append(vs, roster.Village{
				Code: fmt.Sprintf("%s%03d", township, 201+v), TownshipCode: township,
				Name: fmt.Sprintf("第%d镇%d村", t+1, v+1),
			})
		}
	}
	return vs
}

var (
	benchSurnames = []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "孙", "周", "吴", "徐", "欧阳", "单", "曾", "褚"}
	benchGiven    = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "\U00020BB7", "\U0002A6A5"}
	// benchCategories are the payer groups at rough real shares (of 100).
	benchCategories = func() []syncproto.Category {
		var cs []syncproto.Category
		for c, n := range map[syncproto.Category]int{
			syncproto.CategoryGeneral: 89, syncproto.CategoryNewborn: 2, syncproto.CategoryPoverty: 2,
			syncproto.CategoryDibao: 3, syncproto.CategorySevereDisability: 2, syncproto.CategoryTekun: 2,
		} {
			for range n {
				cs = append(cs, c)
			}
		}
		return cs
	}()
)

// benchRoster generates a valid medical roster of n rows as UTF-8 CSV:
// unique valid IDs, villages by code (every tenth by name), categories
// at realistic shares and dues matching the district's 2026 settings.
func benchRoster(tb testing.TB, n int, villages []roster.Village, set settings.Year) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(w.Write([]string{"序号", "姓名", "公民身份号码", "村居", "险种", "人员类别", "缴费年度", "应缴金额", "代缴金额", "备注"}))
	for i := range n {
		// Birth dates from 1940-01-01, one a day, 1000 sequence numbers each.
		birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/1000)
		first17 := fmt.Sprintf("370403%s%03d", birth.Format("20060102"), i%1000)
		c, err := syncproto.CheckDigit(first17)
		must(err)
		v := villages[i%len(villages)]
		village := v.Code
		if i%10 == 0 {
			village = v.Name
		}
		cat := benchCategories[(i*7)%len(benchCategories)]
		name := benchSurnames[i%len(benchSurnames)] + benchGiven[(i/16)%len(benchGiven)]
		must(w.Write([]string{
			fmt.Sprint(i + 1), name, first17 + string(c), village, "城乡居民基本医疗保险", cat.Label(), "2026",
			set.Due(cat).String(), set.Subsidy[cat].String(), "",
		}))
	}
	w.Flush()
	must(w.Error())
	return buf.Bytes()
}

func benchContext(villages []roster.Village, set settings.Year) roster.ValidateContext {
	return roster.ValidateContext{
		Now:      refNow,
		Kind:     syncproto.KindMedical,
		Settings: func(int, string) (settings.Year, bool) { return set, true },
		Villages: roster.NewVillageIndex(villages),
	}
}

// BenchmarkParseValidate250k measures Parse+Validate of a 250,000-row
// district roster (must stay well under 5 s on 2 cores), against a
// baseline of plain encoding/csv reading the same bytes.
func BenchmarkParseValidate250k(b *testing.B) {
	villages := benchDistrict()
	set := settings.Shandong2026Medical("370403")
	data := benchRoster(b, benchRows, villages, set)
	gb := mustEncode(b, simplifiedchinese.GB18030, string(data))
	ctx := benchContext(villages, set)

	b.Run("baseline-encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data))
			r.ReuseRecord = true
			n := 0
			for {
				if _, err := r.Read(); err != nil {
					break
				}
				n++
			}
			if n != benchRows+1 {
				b.Fatalf("%d records", n)
			}
		}
	})
	run := func(name string, data []byte, validate bool) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				rows := mustParse(b, data, "roster.csv")
				if !validate {
					continue
				}
				entries, errs := roster.Validate(rows, ctx)
				if len(errs) != 0 || len(entries) != benchRows {
					b.Fatalf("%d entries, %d errors, first %+v", len(entries), len(errs), errs[0])
				}
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
	run("parse-utf8", data, false)
	run("parse+validate-utf8", data, true)
	run("parse+validate-gb18030", gb, true)
}

// BenchmarkParseValidateXLSX250k is BenchmarkParseValidate250k for the
// same roster as XLSX: with inline strings, as excelize's stream writer
// saves it, and with a shared string table, as Excel and WPS save it.
func BenchmarkParseValidateXLSX250k(b *testing.B) {
	villages := benchDistrict()
	set := settings.Shandong2026Medical("370403")
	records, err := csv.NewReader(bytes.NewReader(benchRoster(b, benchRows, villages, set))).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	ctx := benchContext(villages, set)
	run := func(name string, data []byte) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				rows := mustParse(b, data, "roster.xlsx")
				entries, errs := roster.Validate(rows, ctx)
				if len(errs) != 0 || len(entries) != benchRows {
					b.Fatalf("%d entries, %d errors", len(entries), len(errs))
				}
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}

	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		b.Fatal(err)
	}
	row := make([]any, len(records[0]))
	for i, rec := range records {
		for j, v := range rec {
			row[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := sw.SetRow(cell, row); err != nil {
			b.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	f.Close()
	run("inline-strings", buf.Bytes())

	// Shared strings: every distinct text once, numbers as numbers.
	index := map[string]int{}
	var shared []string
	var sheet strings.Builder
	for i, rec := range records {
		fmt.Fprintf(&sheet, `<row r="%d">`, i+1)
		for j, v := range rec {
			ref := fmt.Sprintf("%c%d", 'A'+j, i+1)
			switch {
			case v == "":
			case numberLike.MatchString(v):
				fmt.Fprintf(&sheet, `<c r="%s"><v>%s</v></c>`, ref, v)
			default:
				k, ok := index[v]
				if !ok {
					k = len(shared)
					index[v] = k
					shared = append(shared, v)
				}
				fmt.Fprintf(&sheet, `<c r="%s" t="s"><v>%d</v></c>`, ref, k)
			}
		}
		sheet.WriteString(`</row>`)
	}
	run("shared-strings", mustRawXLSX(b, "", shared, rawSheet{name: "清册", data: sheet.String()}))
}
