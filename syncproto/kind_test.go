package syncproto_test

import (
	"slices"
	"testing"

	"villagesync/syncproto"
)

func TestParseKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want syncproto.Kind
		err  bool
	}{
		{name: "OKPensionCode", in: "pension", want: syncproto.KindPension},
		{name: "OKPensionCodeUpper", in: " Pension ", want: syncproto.KindPension},
		{name: "OKPensionShort", in: "养老", want: syncproto.KindPension},
		{name: "OKPensionShortLabel", in: "养老保险", want: syncproto.KindPension},
		{name: "OKPensionResident", in: "居民养老", want: syncproto.KindPension},
		{name: "OKPensionResidentInsurance", in: "居民养老保险", want: syncproto.KindPension},
		{name: "OKPensionFull", in: "城乡居民基本养老保险", want: syncproto.KindPension},
		{name: "OKPensionFullWithoutBasic", in: "城乡居民养老保险", want: syncproto.KindPension},
		{name: "OKPensionTaxItem", in: "城乡居民基本养老保险费", want: syncproto.KindPension},
		{name: "OKPensionSpaces", in: "\u3000城乡居民 基本养老保险 ", want: syncproto.KindPension},
		{name: "OKMedicalCode", in: "medical", want: syncproto.KindMedical},
		{name: "OKMedicalCodeUpper", in: "MEDICAL", want: syncproto.KindMedical},
		{name: "OKMedicalShort", in: "医疗", want: syncproto.KindMedical},
		{name: "OKMedicalYibao", in: "医保", want: syncproto.KindMedical},
		{name: "OKMedicalShortLabel", in: "医疗保险", want: syncproto.KindMedical},
		{name: "OKMedicalResident", in: "居民医疗", want: syncproto.KindMedical},
		{name: "OKMedicalResidentYibao", in: "居民医保", want: syncproto.KindMedical},
		{name: "OKMedicalFull", in: "城乡居民基本医疗保险", want: syncproto.KindMedical},
		{name: "OKMedicalTaxItem", in: "城乡居民基本医疗保险费", want: syncproto.KindMedical},
		{name: "ErrEmpty", in: "", err: true},
		{name: "ErrEmployeePension", in: "职工养老", err: true},
		{name: "ErrEmployeeMedical", in: "职工基本医疗保险", err: true},
		{name: "ErrBoth", in: "养老医疗", err: true},
		{name: "ErrPartial", in: "养", err: true},
		{name: "ErrOnlyFee", in: "费", err: true},
		{name: "ErrEnglishPhrase", in: "pension insurance", err: true},
		{name: "ErrUnemployment", in: "失业保险", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := syncproto.ParseKind(tt.in)
			if tt.err {
				requireErr(t, err, syncproto.CodeInvalidKind, "unknown insurance kind")
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseKind(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestKindLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		kind  syncproto.Kind
		label string
		short string
		valid bool
	}{
		{name: "OKPension", kind: syncproto.KindPension, label: "城乡居民基本养老保险", short: "养老保险", valid: true},
		{name: "OKMedical", kind: syncproto.KindMedical, label: "城乡居民基本医疗保险", short: "医疗保险", valid: true},
		{name: "UnknownKeepsCode", kind: "dental", label: "dental", short: "dental"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.kind.Label(); got != tt.label {
				t.Errorf("Label() = %q, want %q", got, tt.label)
			}
			if got := tt.kind.ShortLabel(); got != tt.short {
				t.Errorf("ShortLabel() = %q, want %q", got, tt.short)
			}
			if got := tt.kind.Valid(); got != tt.valid {
				t.Errorf("Valid() = %v, want %v", got, tt.valid)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	t.Parallel()
	ks := syncproto.Kinds()
	if !slices.Equal(ks, []syncproto.Kind{syncproto.KindPension, syncproto.KindMedical}) {
		t.Fatalf("Kinds() = %v", ks)
	}
	ks[0] = "changed"
	if syncproto.Kinds()[0] != syncproto.KindPension {
		t.Fatal("Kinds() shares its slice")
	}
	for _, k := range syncproto.Kinds() {
		for _, s := range []string{string(k), k.Label(), k.ShortLabel()} {
			if got, err := syncproto.ParseKind(s); err != nil || got != k {
				t.Errorf("ParseKind(%q) = %q, %v; want %q", s, got, err, k)
			}
		}
	}
}

func FuzzParseKind(f *testing.F) {
	for _, s := range []string{"pension", "MEDICAL", "养老", "城乡居民基本医疗保险费", "职工养老", "", "费费"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := syncproto.ParseKind(s)
		if err != nil {
			requireCode(t, err, syncproto.CodeInvalidKind)
			return
		}
		if !k.Valid() {
			t.Fatalf("ParseKind(%q) = invalid %q", s, k)
		}
		for _, again := range []string{string(k), k.Label(), k.ShortLabel()} {
			if got, err := syncproto.ParseKind(again); err != nil || got != k {
				t.Fatalf("ParseKind(%q) = %q, %v; want %q", again, got, err, k)
			}
		}
	})
}
