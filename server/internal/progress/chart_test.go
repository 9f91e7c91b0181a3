package progress_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"villagesync/server/internal/progress"
	"villagesync/syncproto"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sampleSeries is twelve days of two townships, one past 100 %.
func sampleSeries() progress.Series {
	s := progress.Series{Year: 2027, Days: days("2026-10-28", 12)}
	s.Lines = []progress.Line{
		{Township: "370403001", Label: "城关街道", ToCollect: 200,
			Paid: []int{0, 10, 25, 25, 60, 90, 120, 130, 150, 170, 180, 190}},
		{Township: "370403002", Label: "河镇<b>", ToCollect: 40,
			Paid: []int{5, 5, 5, 10, 20, 20, 30, 35, 40, 41, 44, 48}},
	}
	for i := range s.Lines {
		s.Lines[i].Collected = make([]syncproto.Money, len(s.Days))
	}
	return s
}

func TestChartGolden(t *testing.T) {
	t.Parallel()
	got := []byte(progress.Chart(sampleSeries(), "各镇街缴费进度"))
	path := filepath.Join("testdata", "chart.golden.svg")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("chart differs from %s (go test -run TestChartGolden -update to accept)", path)
	}
	if again := []byte(progress.Chart(sampleSeries(), "各镇街缴费进度")); !bytes.Equal(again, got) {
		t.Error("two charts of the same series differ")
	}
}

// TestChartSafe proves the chart is well-formed XML, escapes its labels,
// and has no script or style attribute (the console's CSP forbids them).
func TestChartSafe(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]progress.Series{
		"sample":  sampleSeries(),
		"one day": {Days: days("2026-11-01", 1), Lines: []progress.Line{{Label: "养老保险", ToCollect: 2, Paid: []int{1}, Collected: []syncproto.Money{1}}}},
		"empty":   {},
		"many": func() progress.Series {
			s := progress.Series{Days: days("2026-09-01", 120)}
			for i := range 11 {
				s.Lines = append(s.Lines, progress.Line{Label: "镇" + string(rune('A'+i)), ToCollect: 10, Paid: make([]int, 120), Collected: make([]syncproto.Money, 120)})
			}
			return s
		}(),
	} {
		svg := string(progress.Chart(s, `进度 "<script>"`))
		if strings.Contains(svg, "<script") || strings.Contains(svg, "style=") || strings.Contains(svg, "<b>") {
			t.Errorf("%s: unsafe chart:\n%s", name, svg)
		}
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("%s: not XML: %v", name, err)
				break
			}
		}
		if name == "empty" && !strings.Contains(svg, "暂无数据") {
			t.Errorf("empty chart says nothing: %s", svg)
		}
	}
	svg := string(progress.Chart(sampleSeries(), "t"))
	// The legend gives each line's last share; 48 of 40 is drawn at 100 %.
	for _, want := range []string{"城关街道 95.0%", "河镇&lt;b&gt; 120.0%", "10-28", "11-08", "100%", "日期（2026-10-28 至 2026-11-08）"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}
