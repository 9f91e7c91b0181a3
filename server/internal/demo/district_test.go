package demo_test

import (
	"slices"
	"strings"
	"testing"

	"villagesync/server/internal/demo"
	"villagesync/server/internal/store"
)

func TestGenerateDistrict(t *testing.T) {
	t.Parallel()

	t.Run("Deterministic", func(t *testing.T) {
		t.Parallel()
		ts1, vs1 := demo.GenerateDistrict(42, 0)
		ts2, vs2 := demo.GenerateDistrict(42, 0)
		if !slices.Equal(ts1, ts2) || !slices.Equal(vs1, vs2) {
			t.Fatal("the same seed gave different districts")
		}
	})

	t.Run("SeedMatters", func(t *testing.T) {
		t.Parallel()
		_, vs1 := demo.GenerateDistrict(1, 0)
		_, vs2 := demo.GenerateDistrict(2, 0)
		if len(vs1) != len(vs2) {
			t.Fatalf("sizes %d and %d: the size should not depend on the seed", len(vs1), len(vs2))
		}
		if slices.Equal(vs1, vs2) {
			t.Fatal("different seeds gave the same villages")
		}
	})

	t.Run("FullSize", func(t *testing.T) {
		t.Parallel()
		ts, vs := demo.GenerateDistrict(1, 0)
		if !slices.Equal(ts, demo.Townships) {
			t.Fatalf("townships = %v, want demo.Townships", ts)
		}
		if len(vs) < 200 || len(vs) > 240 {
			t.Fatalf("%d villages, want about 220", len(vs))
		}
		checkVillages(t, ts, vs)

		// Streets are mostly communities, towns mostly villages.
		for _, tw := range ts {
			var n, communities int
			for _, v := range vs {
				if v.TownshipCode == tw.Code {
					n++
					if strings.HasSuffix(v.Name, "社区") {
						communities++
					}
				}
			}
			share := float64(communities) / float64(n)
			street := strings.HasSuffix(tw.Name, "街道")
			if street && share < 0.6 || !street && share > 0.3 {
				t.Errorf("%s: %d of %d villages are 社区", tw.Name, communities, n)
			}
			if n < 15 || n > 45 {
				t.Errorf("%s: %d villages", tw.Name, n)
			}
		}
	})

	t.Run("StartsWithDemoVillages", func(t *testing.T) {
		t.Parallel()
		small := demo.Villages()
		for _, n := range []int{0, 1, 2, 3, 10} {
			_, vs := demo.GenerateDistrict(7, n)
			for _, tw := range demo.Townships {
				want := inTownship(small, tw.Code)
				got := inTownship(vs, tw.Code)
				if n > 0 && len(got) != n {
					t.Fatalf("n=%d: %s has %d villages", n, tw.Name, len(got))
				}
				k := min(len(want), len(got))
				if !slices.Equal(got[:k], want[:k]) {
					t.Errorf("n=%d: %s starts with %v, want demo.Villages' %v", n, tw.Name, got[:k], want[:k])
				}
			}
		}
		// Three a township is exactly the small demo district.
		if _, vs := demo.GenerateDistrict(7, 3); !slices.Equal(vs, small) {
			t.Errorf("GenerateDistrict(seed, 3) = %v, want demo.Villages()", vs)
		}
	})

	t.Run("Large", func(t *testing.T) {
		t.Parallel()
		ts, vs := demo.GenerateDistrict(3, 400)
		if len(vs) != 7*400 {
			t.Fatalf("%d villages, want %d", len(vs), 7*400)
		}
		checkVillages(t, ts, vs)
	})

	t.Run("TownshipsAreACopy", func(t *testing.T) {
		t.Parallel()
		ts, _ := demo.GenerateDistrict(1, 1)
		ts[0].Name = "changed"
		if demo.Townships[0].Name == "changed" {
			t.Fatal("GenerateDistrict returned demo.Townships itself")
		}
	})
}

// checkVillages checks codes and names: <township code><3 digits> from 201
// on, unique codes, unique names, realistic suffixes.
func checkVillages(t *testing.T, ts []store.Township, vs []store.Village) {
	t.Helper()
	codes := make(map[string]bool)
	names := make(map[string]bool)
	next := make(map[string]int)
	for _, tw := range ts {
		next[tw.Code] = 201
	}
	for _, v := range vs {
		n, ok := next[v.TownshipCode]
		if !ok {
			t.Fatalf("%v: unknown township", v)
		}
		if want := v.TownshipCode + itoa3(n); v.Code != want {
			t.Errorf("%v: code, want %s", v, want)
		}
		next[v.TownshipCode] = n + 1
		if codes[v.Code] {
			t.Errorf("%v: code used twice", v)
		}
		codes[v.Code] = true
		if names[v.Name] {
			t.Errorf("%v: name used twice", v)
		}
		names[v.Name] = true
		if !strings.HasSuffix(v.Name, "村") && !strings.HasSuffix(v.Name, "社区") {
			t.Errorf("%v: name ends neither in 村 nor 社区", v)
		}
	}
}

func inTownship(vs []store.Village, code string) []store.Village {
	var out []store.Village
	for _, v := range vs {
		if v.TownshipCode == code {
			out = append(out, v)
		}
	}
	return out
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}
