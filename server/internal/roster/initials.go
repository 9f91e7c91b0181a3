package roster

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mozillazg/go-pinyin"
	"golang.org/x/text/unicode/norm"
)

// initialOf maps every character with a pinyin reading to the first letter
// of its first (most common) reading, built once from go-pinyin's
// dictionary (which also covers many characters outside the BMP).
var initialOf = sync.OnceValue(func() *initialTable {
	t := &initialTable{astral: make(map[rune]byte)}
	for cp, readings := range pinyin.PinyinDict {
		first, _, _ := strings.Cut(readings, ",")
		if b, ok := firstLetter(first); ok {
			if cp < len(t.bmp) {
				t.bmp[cp] = b
			} else {
				t.astral[rune(cp)] = b
			}
		}
	}
	return t
})

// initialTable is a direct table for the BMP (64 KiB) and a map for the
// characters beyond it; 0 means no reading.
type initialTable struct {
	bmp    [0x10000]byte
	astral map[rune]byte
}

func (t *initialTable) lookup(r rune) (byte, bool) {
	if r >= 0 && int(r) < len(t.bmp) {
		return t.bmp[r], t.bmp[r] != 0
	}
	b, ok := t.astral[r]
	return b, ok
}

// surnameInitials are the surnames read differently from the character's
// most common reading (单 is dān but the surname Shàn; 曾 is céng but the
// surname Zēng). They apply only to a name's first character, where a
// surname stands, so that an agent who types the initials as people say
// the name finds the person.
var surnameInitials = map[rune]byte{
	'单': 's', // Shàn, not dān
	'曾': 'z', // Zēng, not céng
	'区': 'o', // Ōu, not qū
	'仇': 'q', // Qiú, not chóu
	'解': 'x', // Xiè, not jiě
	'朴': 'p', // Piáo, not pǔ
	'查': 'z', // Zhā, not chá
	'覃': 'q', // Qín, not tán
	'翟': 'z', // Zhái, not dí
	'乐': 'y', // Yuè, not lè
	'长': 'c', // Cháng, not zhǎng
	'种': 'c', // Chóng, not zhǒng
	'重': 'c', // Chóng, not zhòng
}

// firstLetter returns the ASCII letter a pinyin syllable starts with, tone
// marks removed (ài → a, ń → n).
func firstLetter(syllable string) (byte, bool) {
	r, _ := utf8.DecodeRuneInString(syllable)
	if r == utf8.RuneError {
		return 0, false
	}
	var buf [utf8.UTFMax * 2]byte
	d := norm.NFD.Append(buf[:0], []byte(string(r))...)
	if len(d) > 0 && d[0] >= 'a' && d[0] <= 'z' {
		return d[0], true
	}
	if len(d) > 0 && d[0] >= 'A' && d[0] <= 'Z' {
		return d[0] + 'a' - 'A', true
	}
	return 0, false
}

// latinBase returns the lower-case ASCII base letter of a Latin letter
// with diacritics or in full width (ü → u, Ａ → a).
func latinBase(r rune) (byte, bool) {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	d := norm.NFKD.Bytes(buf[:n])
	if len(d) == 0 {
		return 0, false
	}
	switch c := d[0]; {
	case c >= 'a' && c <= 'z':
		return c, true
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A', true
	}
	return 0, false
}

// Initials returns the pinyin initials of a name in lower case, for search
// on the tablets: 张三 → "zs", 欧阳娜娜 → "oynn". Each Chinese character
// gives the first letter of its first (most common) reading, except that a
// name's first character, the surname, uses its surname reading when that
// differs (单 → s, 曾 → z, 区 → o, …; see surnameInitials). Latin letters
// are kept, every one of them, lower-cased and without diacritics or full
// width ("Anna Müller" → "annamuller", "Anna李" → "annal"); everything else is skipped: characters without a reading
// (such as rare ones outside the BMP that the dictionary lacks), digits,
// spaces and punctuation such as the middle dot of minority names.
func Initials(name string) string {
	dict := initialOf()
	var b strings.Builder
	first := true
	for _, r := range name {
		switch {
		case r < utf8.RuneSelf:
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			if r >= 'a' && r <= 'z' {
				b.WriteByte(byte(r))
			}
		case unicode.Is(unicode.Latin, r):
			if c, ok := latinBase(r); ok {
				b.WriteByte(c)
			}
		default:
			if first {
				if c, ok := surnameInitials[r]; ok {
					b.WriteByte(c)
					break
				}
			}
			if c, ok := dict.lookup(r); ok {
				b.WriteByte(c)
			}
		}
		first = false
	}
	return b.String()
}
