package demo_test

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"villagesync/server/internal/demo"
	"villagesync/syncproto"
)

// testYear is the coverage year of the generated residents.
const testYear = 2026

// residents100k is about 100,000 residents of the full district (220
// villages × 455), generated once for the tests that need numbers.
var residents100k = sync.OnceValue(func() []demo.Resident {
	_, vs := demo.GenerateDistrict(2026, 0)
	return demo.GenerateResidents(2026, vs, 455, testYear)
})

// endOfYear is the last moment of testYear in Asia/Shanghai.
func endOfYear(tb testing.TB) time.Time {
	tb.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		tb.Fatal(err)
	}
	return time.Date(testYear, time.December, 31, 23, 59, 59, 0, loc)
}

// ageAt returns the completed years of a person born on birth at ref.
func ageAt(birth, ref time.Time) int {
	age := ref.Year() - birth.Year()
	if ref.Month() < birth.Month() || ref.Month() == birth.Month() && ref.Day() < birth.Day() {
		age--
	}
	return age
}

func TestGenerateResidents(t *testing.T) {
	t.Parallel()

	t.Run("Deterministic", func(t *testing.T) {
		t.Parallel()
		_, vs := demo.GenerateDistrict(5, 4)
		a := demo.GenerateResidents(5, vs, 200, testYear)
		b := demo.GenerateResidents(5, vs, 200, testYear)
		if !slices.Equal(a, b) {
			t.Fatal("the same seed gave different residents")
		}
		c := demo.GenerateResidents(6, vs, 200, testYear)
		if len(c) != len(a) {
			t.Fatalf("%d residents, want %d", len(c), len(a))
		}
		same := 0
		for i := range a {
			if a[i] == c[i] {
				same++
			}
		}
		if same > len(a)/100 {
			t.Fatalf("different seeds gave %d identical residents of %d", same, len(a))
		}
	})

	t.Run("VillagesAreIndependent", func(t *testing.T) {
		t.Parallel()
		_, vs := demo.GenerateDistrict(5, 4)
		all := demo.GenerateResidents(5, vs, 300, testYear)
		first := demo.GenerateResidents(5, vs[:1], 300, testYear)
		if !slices.Equal(first, all[:300]) {
			t.Error("a village's residents depend on the villages after it")
		}
		fewer := demo.GenerateResidents(5, vs[:1], 100, testYear)
		if !slices.Equal(fewer, all[:100]) {
			t.Error("a smaller perVillage is not a prefix of a larger one")
		}
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		_, vs := demo.GenerateDistrict(5, 1)
		if rs := demo.GenerateResidents(5, vs, 0, testYear); len(rs) != 0 {
			t.Fatalf("perVillage 0 gave %d residents", len(rs))
		}
		if rs := demo.GenerateResidents(5, nil, 10, testYear); len(rs) != 0 {
			t.Fatalf("no villages gave %d residents", len(rs))
		}
	})

	t.Run("VillagesAndCounts", func(t *testing.T) {
		t.Parallel()
		_, vs := demo.GenerateDistrict(2026, 0)
		rs := residents100k()
		if len(rs) != len(vs)*455 {
			t.Fatalf("%d residents, want %d", len(rs), len(vs)*455)
		}
		for i, r := range rs {
			v := vs[i/455]
			if r.VillageCode != v.Code || r.TownshipCode != v.TownshipCode {
				t.Fatalf("resident %d: village %s/%s, want %s/%s", i, r.VillageCode, r.TownshipCode, v.Code, v.TownshipCode)
			}
		}
	})

	t.Run("ValidUniqueIDs", func(t *testing.T) {
		t.Parallel()
		now := endOfYear(t)
		ref := demo.ReferenceDate(testYear)
		seen := make(map[syncproto.ResidentID]bool, 100_000)
		var local, male int
		ages := make([]int, demo.MaxAge+1)
		for _, r := range residents100k() {
			id, err := syncproto.ParseResidentID(string(r.ID), now)
			if err != nil {
				t.Fatalf("%s: %v", r.ID, err)
			}
			if id != r.ID {
				t.Fatalf("%s parses as %s", r.ID, id)
			}
			if seen[id] {
				t.Fatalf("%s issued twice", id)
			}
			seen[id] = true
			if id.Region()[:2] != "37" {
				t.Fatalf("%s: region %s is not in Shandong", id, id.Region())
			}
			if id.Region() == demo.DistrictCode {
				local++
			}
			if id.Sex() == syncproto.SexMale {
				male++
			}
			if seq := string(id[14:17]); seq == "000" {
				t.Fatalf("%s: sequence number 000", id)
			}
			birth := id.BirthDate()
			if birth.After(ref) {
				t.Fatalf("%s: born after the reference date %s", id, ref.Format(time.DateOnly))
			}
			a := ageAt(birth, ref)
			if a < 0 || a > demo.MaxAge {
				t.Fatalf("%s: age %d", id, a)
			}
			ages[a]++
		}
		n := float64(len(seen))
		checkShare(t, "born in Xuecheng (370403)", local, n, 0.85, 0.02)
		checkShare(t, "male", male, n, 0.51, 0.02)
		var old, children int
		for a, c := range ages {
			if c == 0 {
				t.Errorf("nobody aged %d", a)
			}
			if a >= 60 {
				old += c
			}
			if a < 16 {
				children += c
			}
		}
		checkShare(t, "aged 60 and over", old, n, 0.27, 0.05)
		checkShare(t, "under 16", children, n, 0.15, 0.05)
	})

	t.Run("CategoryShares", func(t *testing.T) {
		t.Parallel()
		ref := demo.ReferenceDate(testYear)
		counts := make(map[syncproto.Category]int)
		var medical, workingAge, pension, age0 int
		for _, r := range residents100k() {
			counts[r.Category]++
			age := ageAt(r.ID.BirthDate(), ref)
			if r.Category == syncproto.CategoryNewborn && age != 0 {
				t.Fatalf("%s: newborn aged %d", r.ID, age)
			}
			if age == 0 {
				age0++
				if !r.Category.Special() && r.Category != syncproto.CategoryNewborn {
					t.Fatalf("%s: aged 0 but %s", r.ID, r.Category)
				}
			}
			if r.Medical {
				medical++
			}
			if r.Pension && (age < 16 || age > 59) {
				t.Fatalf("%s: pension payer aged %d", r.ID, age)
			}
			if age >= 25 && age <= 59 { // past school age
				workingAge++
				if r.Pension {
					pension++
				}
			}
		}
		n := float64(len(residents100k()))
		checkShare(t, "poverty", counts[syncproto.CategoryPoverty], n, 0.02, 0.003)
		checkShare(t, "dibao", counts[syncproto.CategoryDibao], n, 0.03, 0.004)
		checkShare(t, "severe_disability", counts[syncproto.CategorySevereDisability], n, 0.015, 0.003)
		checkShare(t, "tekun", counts[syncproto.CategoryTekun], n, 0.005, 0.0015)
		checkShare(t, "newborn", counts[syncproto.CategoryNewborn], n, 0.0075, 0.003)
		checkShare(t, "medical", medical, n, 0.85, 0.02)
		checkShare(t, "pension among ages 25-59", pension, float64(workingAge), 0.45, 0.04)
		if counts[syncproto.CategoryNewborn] == 0 || age0 == 0 {
			t.Error("no newborns")
		}
		for c := range counts {
			if !c.Valid() {
				t.Errorf("invalid category %q", c)
			}
		}
	})

	t.Run("Names", func(t *testing.T) {
		t.Parallel()
		var rare, single, compound int
		for _, r := range residents100k() {
			n := utf8.RuneCountInString(r.Name)
			if n < 2 || n > 4 {
				t.Fatalf("%q: %d characters", r.Name, n)
			}
			hasRare := false
			for _, c := range r.Name {
				if !unicode.Is(unicode.Han, c) {
					t.Fatalf("%q: %U is not a Chinese character", r.Name, c)
				}
				if c > 0xFFFF {
					hasRare = true
				}
			}
			if hasRare {
				rare++
			}
			switch name := []rune(r.Name); {
			case isCompound(string(name[:2])):
				compound++
			case n == 2:
				single++
			}
		}
		n := float64(len(residents100k()))
		checkShare(t, "names with a rare character outside the BMP", rare, n, 1.0/500, 0.001)
		checkShare(t, "one-character given names", single, n, 0.15, 0.07)
		if compound == 0 || compound > len(residents100k())/200 {
			t.Errorf("%d compound surnames", compound)
		}
	})
}

// isCompound reports a compound surname of the generator.
func isCompound(s string) bool {
	switch s {
	case "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "公孙", "慕容", "夏侯":
		return true
	}
	return false
}

// checkShare reports a count whose share of n is not within tol of want.
func checkShare(t *testing.T, what string, count int, n, want, tol float64) {
	t.Helper()
	if got := float64(count) / n; math.Abs(got-want) > tol {
		t.Errorf("%s: %d of %.0f = %.4f, want %.4f ± %.4f", what, count, n, got, want, tol)
	}
}

// BenchmarkGenerateResidents generates the full district's 250,140
// residents (220 villages × 1,137), the size of the roster import
// benchmark.
func BenchmarkGenerateResidents(b *testing.B) {
	_, vs := demo.GenerateDistrict(1, 0)
	per := 250_000/len(vs) + 1
	var rs []demo.Resident
	for b.Loop() {
		rs = demo.GenerateResidents(1, vs, per, testYear)
	}
	b.ReportMetric(float64(len(rs)), "residents/op")
}
