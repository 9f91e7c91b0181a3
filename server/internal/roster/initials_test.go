package roster_test

import (
	"testing"

	"villagesync/server/internal/roster"
)

func TestInitials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "OK", in: "张三", want: "zs"},
		{name: "OKCompoundSurname", in: "欧阳娜娜", want: "oynn"},
		{name: "OKZhChShInitialLetterOnly", in: "赵钱孙", want: "zqs"},
		{name: "OKToneMarkedVowelStart", in: "艾爱", want: "aa"},
		{name: "OKHeteronymFirstReading", in: "王行长", want: "wxz"},
		{name: "OKSurnameReadingShan", in: "单德彪", want: "sdb"},
		{name: "OKSurnameReadingZeng", in: "曾小红", want: "zxh"},
		{name: "OKSurnameReadingOu", in: "区美玲", want: "oml"},
		{name: "OKSurnameReadingOnlyFirst", in: "张单", want: "zd"},
		{name: "OKSyllabicNasal", in: "嗯", want: "n"},
		{name: "OKOutsideBMPWithReading", in: "李\U0002A6A5", want: "lz"},
		{name: "OKOutsideBMPWithoutReadingSkipped", in: "王\U00020BB7", want: "w"},
		{name: "OKLingZero", in: "王〇", want: "wl"},
		{name: "OKLatinKept", in: "Anna李", want: "annal"},
		{name: "OKLatinDiacriticsFolded", in: "Anna Müller", want: "annamuller"},
		{name: "OKFullWidthLatin", in: "ＡＢ张", want: "abz"},
		{name: "OKMiddleDotSkipped", in: "阿依古丽·买买提", want: "ayglmmt"},
		{name: "OKDigitsAndPunctuationSkipped", in: "张三2号（小）", want: "zshx"},
		{name: "OKEmpty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := roster.Initials(tt.in); got != tt.want {
				t.Fatalf("Initials(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
