package syncproto

import (
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ResidentID is an 18-character citizen identity number (公民身份号码,
// GB 11643-1999): a 6-digit region code, the birth date YYYYMMDD, a 3-digit
// sequence number whose last digit gives the sex, and an ISO 7064 MOD 11-2
// check character ('0'..'9' or upper-case 'X').
//
// A value obtained from ParseResidentID is valid and normalised. JSON
// carries it as a plain string, so a decoded value must be re-checked with
// ParseResidentID before it is trusted. The full number is sensitive
// personal information: show Masked in lists; LogValue masks it in slog.
type ResidentID string

// residentIDLen is the length of a second-generation resident ID.
const residentIDLen = 18

// residentIDWeights are the GB 11643 weights 2^(17-i) mod 11 of the first
// 17 digits.
var residentIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// residentIDCheckChars maps the weighted sum mod 11 to the check character.
const residentIDCheckChars = "10X98765432"

// minBirthYear is the earliest birth year accepted.
const minBirthYear = 1890

// provinceCodes are the province-level codes of GB/T 2260 (first two digits
// of the region code), including Taiwan (71), Hong Kong (81) and Macao (82).
var provinceCodes = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

// shanghai is the zone in which "today" is decided for birth dates. The
// fixed UTC+8 fallback is exact for every date since 1991 and is only used
// when the binary carries no tzdata.
var shanghai = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
})

// ParseResidentID checks s and returns it normalised (spaces trimmed, a
// lower-case 'x' check character upper-cased). now decides which birth dates
// lie in the future; it is read in Asia/Shanghai, and a person born today is
// accepted. Each failure has its own message, all with code CodeInvalidID:
// length (including the 15-digit first-generation number), characters,
// province code, impossible birth date (before 1890 or not in the calendar),
// future birth date, and check character. The checks run in that order, so a
// mistyped date is reported as a date error even if it also breaks the check
// character.
func ParseResidentID(s string, now time.Time) (ResidentID, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n != residentIDLen {
		if n == 15 && allDigits(s) {
			return "", Errorf(CodeInvalidID,
				"15-digit first-generation ID numbers are not accepted; use the 18-character number",
				"不接受15位的第一代身份证号码，请填写18位公民身份号码")
		}
		return "", Errorf(CodeInvalidID,
			"resident ID number must have 18 characters",
			"公民身份号码必须为18位")
	}
	if len(s) != residentIDLen || !allDigits(s[:17]) ||
		strings.IndexByte("0123456789Xx", s[17]) < 0 {
		return "", Errorf(CodeInvalidID,
			"resident ID number must be 17 digits followed by a digit or X",
			"公民身份号码应为17位数字加1位数字或X")
	}
	if !provinceCodes[s[:2]] {
		return "", Errorf(CodeInvalidID,
			"resident ID number has an unknown province code in its first two digits",
			"公民身份号码前两位不是有效的省级行政区划代码")
	}
	birth, ok := parseBirthDate(s[6:14])
	if !ok {
		return "", Errorf(CodeInvalidID,
			"resident ID number contains an impossible birth date",
			"公民身份号码中的出生日期无效")
	}
	y, m, d := now.In(shanghai()).Date()
	if birth.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return "", Errorf(CodeInvalidID,
			"resident ID number has a birth date in the future",
			"公民身份号码中的出生日期晚于今天")
	}
	check, _ := CheckDigit(s[:17])
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	if last != check {
		return "", Errorf(CodeInvalidID,
			"resident ID number check character does not match; a digit is probably mistyped",
			"公民身份号码校验位不正确，可能有数字输错")
	}
	return ResidentID(s[:17] + string(last)), nil
}

// parseBirthDate parses YYYYMMDD (ASCII digits) into UTC midnight, refusing
// years before minBirthYear and dates not in the calendar.
func parseBirthDate(s string) (time.Time, bool) {
	num := func(t string) int {
		v := 0
		for i := 0; i < len(t); i++ {
			v = v*10 + int(t[i]-'0')
		}
		return v
	}
	y, m, d := num(s[:4]), num(s[4:6]), num(s[6:8])
	if y < minBirthYear || m < 1 || m > 12 || d < 1 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // time.Date normalised an overflowing day, e.g. 30 Feb
		return time.Time{}, false
	}
	return t, true
}

// CheckDigit returns the GB 11643 check character ('0'..'9' or 'X') for the
// first 17 digits of a resident ID number, e.g. to generate valid demo IDs.
func CheckDigit(first17 string) (byte, error) {
	if len(first17) != 17 || !allDigits(first17) {
		return 0, Errorf(CodeInvalidID,
			"check character needs exactly 17 digits",
			"计算校验位需要17位数字")
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * residentIDWeights[i]
	}
	return residentIDCheckChars[sum%11], nil
}

// well reports whether id has the shape of a parsed ResidentID (check
// character not verified), so that the accessors below never panic or
// expose garbage for a value converted from an arbitrary string.
func (id ResidentID) well() bool {
	return len(id) == residentIDLen && allDigits(string(id[:17])) &&
		strings.IndexByte("0123456789Xx", id[17]) >= 0
}

// BirthDate returns the birth date as midnight UTC of that calendar day (use
// its Date(), not its instant). It is the zero time if id is malformed.
func (id ResidentID) BirthDate() time.Time {
	if !id.well() {
		return time.Time{}
	}
	t, _ := parseBirthDate(string(id[6:14]))
	return t
}

// Sex is a person's sex as the resident ID number records it.
type Sex string

// The two values of Sex.
const (
	SexMale   Sex = "male"
	SexFemale Sex = "female"
)

// Label returns the Chinese label 男 or 女, or "" for an unknown value.
func (s Sex) Label() string {
	switch s {
	case SexMale:
		return "男"
	case SexFemale:
		return "女"
	}
	return ""
}

// Sex returns the sex from the 17th digit: odd is male, even is female. It
// is "" if id is malformed.
func (id ResidentID) Sex() Sex {
	if !id.well() {
		return ""
	}
	if (id[16]-'0')%2 == 1 {
		return SexMale
	}
	return SexFemale
}

// Region returns the 6-digit administrative region code of the place of
// first registration (e.g. "370403"), or "" if id is malformed. It is not
// necessarily the person's current residence.
func (id ResidentID) Region() string {
	if !id.well() {
		return ""
	}
	return string(id[:6])
}

// Masked returns the form shown in public lists (公示): the region code,
// eight asterisks hiding the birth date and sequence, and the last four
// characters, e.g. "370403********123X". A malformed id gives 18 asterisks,
// never its digits.
func (id ResidentID) Masked() string {
	if !id.well() {
		return strings.Repeat("*", residentIDLen)
	}
	return string(id[:6]) + "********" + string(id[14:])
}

// Last returns the last n characters (all of them if n >= 18, "" if n <= 0),
// e.g. Last(4) for an agent to confirm a person. Callers decide how many
// characters they may show.
func (id ResidentID) Last(n int) string {
	if n <= 0 {
		return ""
	}
	if n >= len(id) {
		return string(id)
	}
	return string(id[len(id)-n:])
}

// LogValue makes slog log the masked form, never the full number.
func (id ResidentID) LogValue() slog.Value {
	return slog.StringValue(id.Masked())
}
