package syncproto

import "strings"

// Kind is one of the two residents' insurances whose premiums are collected.
type Kind string

// The insurance kinds.
const (
	// KindPension is 城乡居民基本养老保险 (residents' basic pension insurance).
	KindPension Kind = "pension"
	// KindMedical is 城乡居民基本医疗保险 (residents' basic medical insurance).
	KindMedical Kind = "medical"
)

// Kinds returns every Kind in display order (pension, medical). The slice
// is new on each call.
func Kinds() []Kind { return []Kind{KindPension, KindMedical} }

// kindNames maps the spellings found in rosters and tax files to a Kind.
// Employees' insurances (职工…) are deliberately absent.
var kindNames = map[string]Kind{
	"pension":    KindPension,
	"养老":         KindPension,
	"养老保险":       KindPension,
	"居民养老":       KindPension,
	"居民养老保险":     KindPension,
	"居民基本养老保险":   KindPension,
	"城乡居民养老":     KindPension,
	"城乡居民养老保险":   KindPension,
	"城乡居民基本养老保险": KindPension,
	"城乡养老":       KindPension,
	"城乡养老保险":     KindPension,
	"medical":    KindMedical,
	"医疗":         KindMedical,
	"医疗保险":       KindMedical,
	"医保":         KindMedical,
	"居民医疗":       KindMedical,
	"居民医保":       KindMedical,
	"居民医疗保险":     KindMedical,
	"居民基本医疗保险":   KindMedical,
	"城乡居民医疗":     KindMedical,
	"城乡居民医保":     KindMedical,
	"城乡居民医疗保险":   KindMedical,
	"城乡居民基本医疗保险": KindMedical,
	"城乡医疗":       KindMedical,
	"城乡医疗保险":     KindMedical,
}

// ParseKind accepts a code ("pension", "medical", any letter case) or a
// Chinese name as bureaus write it: 养老, 居民养老, 城乡居民基本养老保险, 医疗,
// 医保, 居民医疗, 城乡居民基本医疗保险 and similar, also with the tax
// office's trailing 费 (城乡居民基本养老保险费). Surrounding and inner
// spaces are ignored. Anything else, including employees' insurances
// (职工养老), fails with CodeInvalidKind.
func ParseKind(s string) (Kind, error) {
	key := normaliseName(s)
	k, ok := kindNames[key]
	if !ok {
		k, ok = kindNames[strings.TrimSuffix(key, "费")]
	}
	if !ok {
		return "", Errorf(CodeInvalidKind,
			"unknown insurance kind; expected pension (养老) or medical (医疗)",
			"无法识别的险种，应为养老保险或医疗保险")
	}
	return k, nil
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k == KindPension || k == KindMedical }

// Label returns the full official Chinese name, e.g. 城乡居民基本养老保险.
// An unknown kind returns its code unchanged.
func (k Kind) Label() string {
	switch k {
	case KindPension:
		return "城乡居民基本养老保险"
	case KindMedical:
		return "城乡居民基本医疗保险"
	}
	return string(k)
}

// ShortLabel returns the short Chinese name for receipts and narrow
// columns: 养老保险 or 医疗保险. An unknown kind returns its code unchanged.
func (k Kind) ShortLabel() string {
	switch k {
	case KindPension:
		return "养老保险"
	case KindMedical:
		return "医疗保险"
	}
	return string(k)
}

// normaliseName prepares a code or Chinese label for lookup: it drops all
// white space (including the ideographic space U+3000) and lower-cases
// ASCII letters.
func normaliseName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u3000' || r == '\u00a0':
			continue
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
