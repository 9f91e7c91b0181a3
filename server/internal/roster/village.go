package roster

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Village is a village or community (村/社区) of the uploader's district.
type Village struct {
	// Code is the 12-digit statistical division code.
	Code string `json:"code"`
	// TownshipCode is the 9-digit code of its township or street.
	TownshipCode string `json:"township_code"`
	// Name is the village's name, e.g. 沙沟村.
	Name string `json:"name"`
}

// VillageResolver finds the villages a roster may name. It must know only
// the uploader's district: a village outside it is then an unknown village.
// Validate calls it once per distinct cell value, not per row.
type VillageResolver interface {
	// ByCode returns the village with this 12-digit code.
	ByCode(code string) (Village, bool)
	// ByName returns every village with this name; zero or several are
	// both errors in a roster.
	ByName(name string) []Village
}

// VillageIndex is an in-memory VillageResolver over one district's
// villages. Names match after NFC normalisation, ignoring white space.
type VillageIndex struct {
	byCode map[string]Village
	byName map[string][]Village
}

// NewVillageIndex indexes vs; it keeps no reference to the slice.
func NewVillageIndex(vs []Village) *VillageIndex {
	x := &VillageIndex{byCode: make(map[string]Village, len(vs)), byName: make(map[string][]Village, len(vs))}
	for _, v := range vs {
		x.byCode[v.Code] = v
		k := villageKey(v.Name)
		x.byName[k] = append(x.byName[k], v)
	}
	return x
}

// ByCode implements VillageResolver.
func (x *VillageIndex) ByCode(code string) (Village, bool) {
	v, ok := x.byCode[strings.TrimSpace(code)]
	return v, ok
}

// ByName implements VillageResolver. The result must not be modified.
func (x *VillageIndex) ByName(name string) []Village {
	return x.byName[villageKey(name)]
}

// villageKey normalises a village name for comparison.
func villageKey(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, norm.NFC.String(name))
}
