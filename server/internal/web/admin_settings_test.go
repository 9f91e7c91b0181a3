package web

import (
	"reflect"
	"testing"

	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// TestSettingsTextRoundTrip proves the settings form's text fields give
// back exactly the grades and subsidies they show, and accept the short
// Chinese names and separators people type.
func TestSettingsTextRoundTrip(t *testing.T) {
	t.Parallel()
	y := settings.Shandong2026Pension("370403")
	grades, err := parseGrades(gradesText(y.Grades))
	if err != nil || !reflect.DeepEqual(grades, y.Grades) {
		t.Fatalf("grades round trip: %v, %v\n%s", grades, err, gradesText(y.Grades))
	}
	sub, err := parseSubsidy(subsidyText(y.Subsidy))
	if err != nil || !reflect.DeepEqual(sub, y.Subsidy) {
		t.Fatalf("subsidy round trip: %v, %v", sub, err)
	}
	typed, err := parseGrades(" 100 低保、特困，贫困\n\n300\n")
	want := []settings.Grade{{Amount: 10000, Categories: []syncproto.Category{syncproto.CategoryDibao, syncproto.CategoryTekun, syncproto.CategoryPoverty}},
		{Amount: 30000}}
	if err != nil || !reflect.DeepEqual(typed, want) {
		t.Errorf("typed grades: %v, %v", typed, err)
	}
	for _, bad := range []string{"3.001", "100 外星人", "abc"} {
		if _, err := parseGrades(bad); err == nil {
			t.Errorf("parseGrades(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"低保", "低保 x", "外星人 100"} {
		if _, err := parseSubsidy(bad); err == nil {
			t.Errorf("parseSubsidy(%q) accepted", bad)
		}
	}
}
