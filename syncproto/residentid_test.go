package syncproto_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"villagesync/syncproto"
)

// refNow is the reference "now" of these tests: 2026-11-26 noon in Shanghai.
var refNow = time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)

// withCheck appends the correct check character to 17 digits, so that a
// test case fails only for the rule it is about.
func withCheck(tb testing.TB, first17 string) string {
	tb.Helper()
	c, err := syncproto.CheckDigit(first17)
	if err != nil {
		tb.Fatalf("CheckDigit(%q): %v", first17, err)
	}
	return first17 + string(c)
}

func TestParseResidentID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		now  time.Time // refNow when zero
		want syncproto.ResidentID
		msg  string // English message fragment when an error is expected
	}{
		{name: "OK", in: "11010519491231002X", want: "11010519491231002X"},
		{name: "OKLowerX", in: "11010519491231002x", want: "11010519491231002X"},
		{name: "OKTrimmed", in: " \t11010519491231002X\u3000", want: "11010519491231002X"},
		{name: "OKDigitCheck", in: withCheck(t, "37040319800101123"), want: syncproto.ResidentID(withCheck(t, "37040319800101123"))},
		{name: "OKLeapDay", in: withCheck(t, "37040320000229123")},
		{name: "OKFirstYear", in: withCheck(t, "37040318900101123")},
		{name: "OKBornToday", in: withCheck(t, "37040320261126123")},
		{name: "OKBornTodayInShanghai", in: withCheck(t, "37040320261126123"),
			now: time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)}, // 01:00 on the 26th in Shanghai
		{name: "OKMacao", in: withCheck(t, "82000019900101123")},
		{name: "ErrLengthShort", in: "11010519491231002", msg: "18 characters"},
		{name: "ErrLengthLong", in: "11010519491231002X1", msg: "18 characters"},
		{name: "ErrLengthEmpty", in: "", msg: "18 characters"},
		{name: "ErrLengthFirstGeneration", in: "110105491231002", msg: "15-digit"},
		{name: "ErrCharsLetter", in: "1101051949123100AX", msg: "17 digits followed by a digit or X"},
		{name: "ErrCharsCheck", in: "11010519491231002Y", msg: "17 digits followed by a digit or X"},
		{name: "ErrCharsXInside", in: "1101051949123100X2", msg: "17 digits followed by a digit or X"},
		{name: "ErrCharsFullWidthX", in: "11010519491231002Ｘ", msg: "17 digits followed by a digit or X"},
		{name: "ErrCharsFullWidthDigit", in: "１1010519491231002X", msg: "17 digits followed by a digit or X"},
		{name: "ErrCharsInnerSpace", in: "110105 19491231002", msg: "17 digits followed by a digit or X"},
		{name: "ErrRegionZero", in: withCheck(t, "00010519491231002"), msg: "province"},
		{name: "ErrRegion10", in: withCheck(t, "10010519491231002"), msg: "province"},
		{name: "ErrRegion16", in: withCheck(t, "16010519491231002"), msg: "province"},
		{name: "ErrRegion38", in: withCheck(t, "38040319800101123"), msg: "province"},
		{name: "ErrRegion47", in: withCheck(t, "47040319800101123"), msg: "province"},
		{name: "ErrRegion55", in: withCheck(t, "55040319800101123"), msg: "province"},
		{name: "ErrRegion66", in: withCheck(t, "66040319800101123"), msg: "province"},
		{name: "ErrRegion72", in: withCheck(t, "72040319800101123"), msg: "province"},
		{name: "ErrRegion83", in: withCheck(t, "83040319800101123"), msg: "province"},
		{name: "ErrRegion99", in: withCheck(t, "99040319800101123"), msg: "province"},
		{name: "ErrDateFeb30", in: "110105194902300020", msg: "impossible birth date"},
		{name: "ErrDateNotLeap", in: withCheck(t, "37040319000229123"), msg: "impossible birth date"},
		{name: "ErrDateMonth13", in: withCheck(t, "37040319801301123"), msg: "impossible birth date"},
		{name: "ErrDateMonth00", in: withCheck(t, "37040319800001123"), msg: "impossible birth date"},
		{name: "ErrDateDay00", in: withCheck(t, "37040319800100123"), msg: "impossible birth date"},
		{name: "ErrDateDay32", in: withCheck(t, "37040319800132123"), msg: "impossible birth date"},
		{name: "ErrDateBefore1890", in: withCheck(t, "37040318891231123"), msg: "impossible birth date"},
		{name: "ErrDateFuture", in: "370403209901011236", msg: "future"},
		{name: "ErrDateTomorrow", in: withCheck(t, "37040320261127123"), msg: "future"},
		{name: "ErrDateTomorrowInShanghai", in: withCheck(t, "37040320261127123"),
			now: time.Date(2026, 11, 26, 15, 59, 0, 0, time.UTC), msg: "future"}, // 23:59 on the 26th
		{name: "ErrCheckDigit", in: "110105194912310021", msg: "check character"},
		{name: "ErrCheckDigitX", in: "110105194912310020", msg: "check character"},
		{name: "ErrCheckDigitTransposed", in: "11010519491213002X", msg: "check character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.now
			if now.IsZero() {
				now = refNow
			}
			got, err := syncproto.ParseResidentID(tt.in, now)
			if tt.msg != "" {
				requireErr(t, err, syncproto.CodeInvalidID, tt.msg)
				if got != "" {
					t.Fatalf("got %q with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResidentID(%q): %v", tt.in, err)
			}
			want := tt.want
			if want == "" {
				want = syncproto.ResidentID(tt.in)
			}
			if got != want {
				t.Fatalf("ParseResidentID(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestResidentIDAccessors(t *testing.T) {
	t.Parallel()
	t.Run("OKFemale", func(t *testing.T) {
		t.Parallel()
		id, err := syncproto.ParseResidentID("11010519491231002X", refNow)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := id.BirthDate(), time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("BirthDate() = %v, want %v", got, want)
		}
		if got := id.Sex(); got != syncproto.SexFemale || got.Label() != "女" {
			t.Errorf("Sex() = %q (%s), want female (女)", got, got.Label())
		}
		if got := id.Region(); got != "110105" {
			t.Errorf("Region() = %q", got)
		}
		if got := id.Masked(); got != "110105********002X" {
			t.Errorf("Masked() = %q", got)
		}
		for n, want := range map[int]string{-1: "", 0: "", 1: "X", 4: "002X", 6: "31002X", 18: string(id), 40: string(id)} {
			if got := id.Last(n); got != want {
				t.Errorf("Last(%d) = %q, want %q", n, got, want)
			}
		}
	})
	t.Run("OKMale", func(t *testing.T) {
		t.Parallel()
		id, err := syncproto.ParseResidentID(withCheck(t, "37040319800101123"), refNow)
		if err != nil {
			t.Fatal(err)
		}
		if got := id.Sex(); got != syncproto.SexMale || got.Label() != "男" {
			t.Errorf("Sex() = %q (%s), want male (男)", got, got.Label())
		}
		if got, want := id.Masked(), "370403********123"+id.Last(1); got != want {
			t.Errorf("Masked() = %q, want %q", got, want)
		}
		if got := id.Region(); got != "370403" {
			t.Errorf("Region() = %q", got)
		}
	})
	t.Run("OKMalformedIsHarmless", func(t *testing.T) {
		t.Parallel()
		for _, id := range []syncproto.ResidentID{"", "abc", "1101051949123100AX", "11010519491231002Ｘ"} {
			if !id.BirthDate().IsZero() || id.Sex() != "" || id.Region() != "" {
				t.Errorf("%q: BirthDate %v, Sex %q, Region %q", id, id.BirthDate(), id.Sex(), id.Region())
			}
			if got := id.Masked(); got != strings.Repeat("*", 18) {
				t.Errorf("%q: Masked() = %q", id, got)
			}
		}
		if got := syncproto.Sex("other").Label(); got != "" {
			t.Errorf("unknown Sex label = %q", got)
		}
	})
	t.Run("OKLogMasked", func(t *testing.T) {
		t.Parallel()
		id, err := syncproto.ParseResidentID("11010519491231002X", refNow)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("lookup", "resident_id", id)
		if strings.Contains(buf.String(), "19491231") || !strings.Contains(buf.String(), "110105********002X") {
			t.Fatalf("log line = %q, want the masked ID only", buf.String())
		}
	})
}

func TestCheckDigit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want byte
		msg  string
	}{
		{name: "OKX", in: "11010519491231002", want: 'X'},
		{name: "OKZero", in: "11010519490230002", want: '0'},
		{name: "OKDigit", in: "37040320990101123", want: '6'},
		{name: "ErrShort", in: "1101051949123100", msg: "17 digits"},
		{name: "ErrLong", in: "11010519491231002X", msg: "17 digits"},
		{name: "ErrLetter", in: "1101051949123100a", msg: "17 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := syncproto.CheckDigit(tt.in)
			if tt.msg != "" {
				requireErr(t, err, syncproto.CodeInvalidID, tt.msg)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CheckDigit(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseResidentID(f *testing.F) {
	for _, s := range []string{
		"11010519491231002X", "11010519491231002x", " 370403198001011237 ",
		"110105194912310021", "110105194902300020", "370403209901011236",
		"110105491231002", "", "11010519491231002Ｘ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := syncproto.ResidentID(s) // accessors must not panic on anything
		_, _, _, _ = raw.BirthDate(), raw.Sex(), raw.Region(), raw.Last(4)
		if m := raw.Masked(); len(m) != 18 {
			t.Fatalf("Masked(%q) = %q", s, m)
		}

		id, err := syncproto.ParseResidentID(s, refNow)
		if err != nil {
			requireCode(t, err, syncproto.CodeInvalidID)
			return
		}
		norm := strings.TrimSpace(s)
		if strings.HasSuffix(norm, "x") {
			norm = norm[:17] + "X"
		}
		if string(id) != norm || len(id) != 18 {
			t.Fatalf("ParseResidentID(%q) = %q, want normalised %q", s, id, norm)
		}
		if c, err := syncproto.CheckDigit(string(id[:17])); err != nil || c != id[17] {
			t.Fatalf("%q: check character %q, %v", id, c, err)
		}
		m := id.Masked()
		if len(m) != 18 || m[:6] != id.Region() || m[6:14] != "********" || m[14:] != id.Last(4) {
			t.Fatalf("Masked(%q) = %q", id, m)
		}
		if b := id.BirthDate(); b.IsZero() || b.Format("20060102") != string(id[6:14]) || b.Year() < 1890 {
			t.Fatalf("BirthDate(%q) = %v", id, b)
		}
		if sex := id.Sex(); sex != syncproto.SexMale && sex != syncproto.SexFemale {
			t.Fatalf("Sex(%q) = %q", id, sex)
		}
		if again, err := syncproto.ParseResidentID(string(id), refNow); err != nil || again != id {
			t.Fatalf("re-parse %q = %q, %v", id, again, err)
		}
	})
}
