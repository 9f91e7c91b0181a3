package syncproto_test

import (
	"testing"

	"villagesync/syncproto"
)

func TestParseCategory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want syncproto.Category
		err  bool
	}{
		{name: "OKGeneralCode", in: "general", want: syncproto.CategoryGeneral},
		{name: "OKGeneralShort", in: "一般", want: syncproto.CategoryGeneral},
		{name: "OKGeneralOrdinary", in: "普通", want: syncproto.CategoryGeneral},
		{name: "OKGeneralLabel", in: "一般城乡居民", want: syncproto.CategoryGeneral},
		{name: "OKNewbornCode", in: "Newborn", want: syncproto.CategoryNewborn},
		{name: "OKNewborn", in: "新生儿", want: syncproto.CategoryNewborn},
		{name: "OKPovertyCode", in: "poverty", want: syncproto.CategoryPoverty},
		{name: "OKPovertyShort", in: "贫困", want: syncproto.CategoryPoverty},
		{name: "OKPovertyRegistered", in: "建档立卡", want: syncproto.CategoryPoverty},
		{name: "OKPovertyLabel", in: "建档立卡贫困人口", want: syncproto.CategoryPoverty},
		{name: "OKDibaoCode", in: "DIBAO", want: syncproto.CategoryDibao},
		{name: "OKDibaoShort", in: "低保", want: syncproto.CategoryDibao},
		{name: "OKDibaoLabel", in: "最低生活保障对象", want: syncproto.CategoryDibao},
		{name: "OKDibaoPlanWording", in: "城乡最低生活保障对象", want: syncproto.CategoryDibao},
		{name: "OKDisabilityCode", in: "severe_disability", want: syncproto.CategorySevereDisability},
		{name: "OKDisabilityShort", in: "重残", want: syncproto.CategorySevereDisability},
		{name: "OKDisabilityMid", in: "重度残疾", want: syncproto.CategorySevereDisability},
		{name: "OKDisabilityLabel", in: "重度残疾人", want: syncproto.CategorySevereDisability},
		{name: "OKTekunCode", in: "tekun", want: syncproto.CategoryTekun},
		{name: "OKTekunShort", in: "特困", want: syncproto.CategoryTekun},
		{name: "OKTekunLabel", in: " 特困人员 ", want: syncproto.CategoryTekun},
		{name: "ErrEmpty", in: "", err: true},
		{name: "ErrDisabilityHyphen", in: "severe-disability", err: true},
		{name: "ErrMildDisability", in: "轻度残疾", err: true},
		{name: "ErrPostPoverty", in: "脱贫人口", err: true},
		{name: "ErrSpecialGroup", in: "特殊人群", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := syncproto.ParseCategory(tt.in)
			if tt.err {
				requireErr(t, err, syncproto.CodeInvalidCategory, "unknown payer category")
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseCategory(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCategoryLabelSpecial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cat     syncproto.Category
		label   string
		special bool
		valid   bool
	}{
		{name: "OKGeneral", cat: syncproto.CategoryGeneral, label: "一般城乡居民", valid: true},
		{name: "OKNewborn", cat: syncproto.CategoryNewborn, label: "新生儿", valid: true},
		{name: "OKPovertySpecial", cat: syncproto.CategoryPoverty, label: "建档立卡贫困人口", special: true, valid: true},
		{name: "OKDibaoSpecial", cat: syncproto.CategoryDibao, label: "最低生活保障对象", special: true, valid: true},
		{name: "OKDisabilitySpecial", cat: syncproto.CategorySevereDisability, label: "重度残疾人", special: true, valid: true},
		{name: "OKTekunSpecial", cat: syncproto.CategoryTekun, label: "特困人员", special: true, valid: true},
		{name: "UnknownKeepsCode", cat: "veteran", label: "veteran"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.cat.Label(); got != tt.label {
				t.Errorf("Label() = %q, want %q", got, tt.label)
			}
			if got := tt.cat.Special(); got != tt.special {
				t.Errorf("Special() = %v, want %v", got, tt.special)
			}
			if got := tt.cat.Valid(); got != tt.valid {
				t.Errorf("Valid() = %v, want %v", got, tt.valid)
			}
		})
	}
}

func TestCategories(t *testing.T) {
	t.Parallel()
	cs := syncproto.Categories()
	if len(cs) != 6 || cs[0] != syncproto.CategoryGeneral {
		t.Fatalf("Categories() = %v", cs)
	}
	seen := map[syncproto.Category]bool{}
	for _, c := range cs {
		if seen[c] || !c.Valid() {
			t.Errorf("Categories() repeats or holds invalid %q", c)
		}
		seen[c] = true
		for _, s := range []string{string(c), c.Label()} {
			if got, err := syncproto.ParseCategory(s); err != nil || got != c {
				t.Errorf("ParseCategory(%q) = %q, %v; want %q", s, got, err, c)
			}
		}
	}
	cs[0] = "changed"
	if syncproto.Categories()[0] != syncproto.CategoryGeneral {
		t.Fatal("Categories() shares its slice")
	}
}

func FuzzParseCategory(f *testing.F) {
	for _, s := range []string{"general", "DIBAO", "重残", "建档立卡贫困人口", "脱贫人口", "", "severe_disability"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := syncproto.ParseCategory(s)
		if err != nil {
			requireCode(t, err, syncproto.CodeInvalidCategory)
			return
		}
		if !c.Valid() {
			t.Fatalf("ParseCategory(%q) = invalid %q", s, c)
		}
		for _, again := range []string{string(c), c.Label()} {
			if got, err := syncproto.ParseCategory(again); err != nil || got != c {
				t.Fatalf("ParseCategory(%q) = %q, %v; want %q", again, got, err, c)
			}
		}
	})
}
