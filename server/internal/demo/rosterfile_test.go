package demo_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"villagesync/server/internal/demo"
	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// wantHeader is the header row as the bureaus write it.
var wantHeader = []string{"姓名", "公民身份号码", "村居", "险种", "人员类别", "缴费年度", "应缴金额", "代缴金额", "备注"}

// sampleRows is a medical roster of 1,000 residents and every resident of
// residents100k whose name has a rare character outside the BMP.
func sampleRows(tb testing.TB) (rows [][]string, rare []string) {
	tb.Helper()
	all := residents100k()
	sample := slices.Clone(all[:1000])
	for _, r := range all[1000:] {
		if strings.ContainsFunc(r.Name, func(c rune) bool { return c > 0xFFFF }) {
			sample = append(sample, r)
			rare = append(rare, r.Name)
		}
	}
	if len(rare) < 50 {
		tb.Fatalf("only %d names with rare characters", len(rare))
	}
	for i := range sample {
		sample[i].Medical = true
	}
	return demo.RosterRows(sample, settings.Shandong2026Medical(demo.DistrictCode)), rare
}

func TestRosterRows(t *testing.T) {
	t.Parallel()
	rs := residents100k()[:20_000]
	for _, set := range []settings.Year{
		settings.Shandong2026Pension(demo.DistrictCode),
		settings.Shandong2026Medical(demo.DistrictCode),
	} {
		t.Run(string(set.Kind), func(t *testing.T) {
			t.Parallel()
			rows := demo.RosterRows(rs, set)
			if !slices.Equal(rows[0], wantHeader) {
				t.Fatalf("header %v, want %v", rows[0], wantHeader)
			}
			var in []demo.Resident
			for _, r := range rs {
				if set.Kind == syncproto.KindPension && r.Pension || set.Kind == syncproto.KindMedical && r.Medical {
					in = append(in, r)
				}
			}
			if len(rows)-1 != len(in) {
				t.Fatalf("%d rows, want %d", len(rows)-1, len(in))
			}
			zeroDue := 0
			for i, row := range rows[1:] {
				r := in[i]
				due := set.Due(r.Category)
				want := []string{r.Name, string(r.ID), r.VillageCode, set.Kind.Label(), r.Category.Label(),
					"2026", due.String(), set.Subsidy[r.Category].String()}
				if !slices.Equal(row[:8], want) {
					t.Fatalf("row %d = %v, want %v", i+1, row, want)
				}
				if k, err := syncproto.ParseKind(row[3]); err != nil || k != set.Kind {
					t.Fatalf("row %d: kind %q", i+1, row[3])
				}
				if c, err := syncproto.ParseCategory(row[4]); err != nil || c != r.Category {
					t.Fatalf("row %d: category %q", i+1, row[4])
				}
				if set.FullySubsidised(r.Category) != (row[8] == "政府全额代缴") {
					t.Fatalf("row %d: note %q for %s", i+1, row[8], r.Category)
				}
				if due == 0 {
					zeroDue++
				}
			}
			if zeroDue == 0 {
				t.Error("no fully subsidised person in the roster")
			}
		})
	}

	// Spot checks of the amounts against Shandong 2026.
	pension := settings.Shandong2026Pension(demo.DistrictCode)
	medical := settings.Shandong2026Medical(demo.DistrictCode)
	person := func(c syncproto.Category) []demo.Resident {
		return []demo.Resident{{Name: "张三", ID: "370403199001011234", VillageCode: "370403001201",
			TownshipCode: "370403001", Category: c, Pension: true, Medical: true}}
	}
	for _, tc := range []struct {
		set          settings.Year
		cat          syncproto.Category
		due, subsidy string
	}{
		{pension, syncproto.CategoryGeneral, "300.00", "0.00"},
		{pension, syncproto.CategoryDibao, "0.00", "100.00"},
		{medical, syncproto.CategoryGeneral, "400.00", "0.00"},
		{medical, syncproto.CategoryNewborn, "400.00", "0.00"},
		{medical, syncproto.CategoryDibao, "200.00", "200.00"},
		{medical, syncproto.CategoryTekun, "0.00", "400.00"},
	} {
		row := demo.RosterRows(person(tc.cat), tc.set)[1]
		if row[6] != tc.due || row[7] != tc.subsidy {
			t.Errorf("%s %s: due %s subsidy %s, want %s %s", tc.set.Kind, tc.cat, row[6], row[7], tc.due, tc.subsidy)
		}
	}
}

func TestWriteRosterCSV(t *testing.T) {
	t.Parallel()
	rows, rare := sampleRows(t)
	for _, tc := range []struct {
		enc    string
		decode func(*testing.T, []byte) string
	}{
		{demo.EncodingUTF8, func(t *testing.T, b []byte) string {
			if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) || !utf8.Valid(b) {
				t.Fatal("not UTF-8 without BOM")
			}
			return string(b)
		}},
		{demo.EncodingUTF8BOM, func(t *testing.T, b []byte) string {
			rest, ok := bytes.CutPrefix(b, []byte("\xef\xbb\xbf"))
			if !ok || !utf8.Valid(rest) {
				t.Fatal("not UTF-8 with BOM")
			}
			return string(rest)
		}},
		{demo.EncodingGBK, func(t *testing.T, b []byte) string {
			if utf8.Valid(b) {
				t.Fatal("GBK output is valid UTF-8: not encoded")
			}
			out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.Valid(out) || bytes.ContainsRune(out, utf8.RuneError) {
				t.Fatal("GB18030 decoded to invalid text")
			}
			return string(out)
		}},
	} {
		t.Run(tc.enc, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := demo.WriteRosterCSV(&buf, rows, tc.enc); err != nil {
				t.Fatal(err)
			}
			text := tc.decode(t, buf.Bytes())
			if !strings.HasSuffix(text, "\r\n") {
				t.Error("lines do not end in CRLF")
			}
			for _, name := range rare {
				if !strings.Contains(text, name) {
					t.Fatalf("%q lost in %s", name, tc.enc)
				}
			}
			got, err := csv.NewReader(strings.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, rows, slices.Equal) {
				t.Fatal("rows read back differ from the rows written")
			}
		})
	}

	t.Run("GB18030Alias", func(t *testing.T) {
		t.Parallel()
		var a, b bytes.Buffer
		if err := demo.WriteRosterCSV(&a, rows, demo.EncodingGBK); err != nil {
			t.Fatal(err)
		}
		if err := demo.WriteRosterCSV(&b, rows, "gb18030"); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatal("gb18030 and gbk differ")
		}
	})

	t.Run("ErrUnknownEncoding", func(t *testing.T) {
		t.Parallel()
		if err := demo.WriteRosterCSV(io.Discard, rows, "latin1"); err == nil {
			t.Fatal("no error for an unknown encoding")
		}
	})
}

func TestWriteRosterXLSX(t *testing.T) {
	t.Parallel()
	rows, rare := sampleRows(t)
	var buf bytes.Buffer
	if err := demo.WriteRosterXLSX(&buf, rows); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if got := f.GetSheetList(); !slices.Equal(got, []string{demo.RosterSheet}) || demo.RosterSheet != "征收清册" {
		t.Fatalf("sheets %v, want [征收清册]", got)
	}
	got, err := f.GetRows(demo.RosterSheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows read back, want %d", len(got), len(rows))
	}
	names := make(map[string]bool)
	for i, row := range rows {
		// GetRows drops trailing empty cells (an empty 备注).
		want := row
		for len(want) > 0 && want[len(want)-1] == "" {
			want = want[:len(want)-1]
		}
		if !slices.Equal(got[i], want) {
			t.Fatalf("row %d = %q, want %q", i+1, got[i], want)
		}
		names[got[i][0]] = true
	}
	for _, name := range rare {
		if !names[name] {
			t.Fatalf("%q lost", name)
		}
	}
	for _, cell := range []string{"B2", "B3", "G2", "F2"} {
		typ, err := f.GetCellType(demo.RosterSheet, cell)
		if err != nil {
			t.Fatal(err)
		}
		if typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString {
			t.Errorf("%s is of type %v, want a text cell", cell, typ)
		}
	}
}

// BenchmarkRosterFiles writes the medical roster of the 250,140-resident
// district in each format; RosterRows alone is the baseline.
func BenchmarkRosterFiles(b *testing.B) {
	_, vs := demo.GenerateDistrict(1, 0)
	rs := demo.GenerateResidents(1, vs, 250_000/len(vs)+1, testYear)
	set := settings.Shandong2026Medical(demo.DistrictCode)
	rows := demo.RosterRows(rs, set)
	b.Run("RosterRows", func(b *testing.B) {
		for b.Loop() {
			demo.RosterRows(rs, set)
		}
	})
	for _, enc := range []string{demo.EncodingUTF8, demo.EncodingGBK} {
		b.Run("CSV/"+enc, func(b *testing.B) {
			for b.Loop() {
				if err := demo.WriteRosterCSV(io.Discard, rows, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("XLSX", func(b *testing.B) {
		for b.Loop() {
			if err := demo.WriteRosterXLSX(io.Discard, rows); err != nil {
				b.Fatal(err)
			}
		}
	})
}
