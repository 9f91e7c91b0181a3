package syncproto_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"villagesync/syncproto"
)

func TestParseMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want syncproto.Money
		msg  string // English message fragment when an error is expected
	}{
		{name: "OK", in: "280", want: 28000},
		{name: "OKOneDecimal", in: "280.5", want: 28050},
		{name: "OKTwoDecimals", in: "280.50", want: 28050},
		{name: "OKFen", in: "0.05", want: 5},
		{name: "OKHalfYuan", in: "0.5", want: 50},
		{name: "OKZero", in: "0", want: 0},
		{name: "OKZeroDecimals", in: "0.00", want: 0},
		{name: "OKThousands", in: "1,000.00", want: 100000},
		{name: "OKThousandsMany", in: "12,345,678.9", want: 1234567890},
		{name: "OKThousandsNoDecimals", in: "999,999", want: 99999900},
		{name: "OKSpaces", in: "  280.50 \t", want: 28050},
		{name: "OKIdeographicSpace", in: "\u3000280\u3000", want: 28000},
		{name: "OKYenHalfWidth", in: "¥280", want: 28000},
		{name: "OKYenFullWidth", in: "￥1,000.5", want: 100050},
		{name: "OKYenThenSpace", in: " ¥ 280.00", want: 28000},
		{name: "OKMax", in: "92233720368547758.07", want: math.MaxInt64},
		{name: "ErrEmpty", in: "", msg: "empty"},
		{name: "ErrBlank", in: "   ", msg: "empty"},
		{name: "ErrOnlyYen", in: "¥", msg: "no digits"},
		{name: "ErrNegative", in: "-5", msg: "negative"},
		{name: "ErrNegativeAfterYen", in: "¥-5", msg: "negative"},
		{name: "ErrNegativeZero", in: "-0", msg: "negative"},
		{name: "ErrPlus", in: "+5", msg: "digits"},
		{name: "ErrThreeDecimals", in: "280.555", msg: "more than two decimals"},
		{name: "ErrThreeDecimalsZero", in: "280.500", msg: "more than two decimals"},
		{name: "ErrExponent", in: "1e3", msg: "with digits"},
		{name: "ErrLetter", in: "12a", msg: "with digits"},
		{name: "ErrLetterInFraction", in: "12.a", msg: "with digits"},
		{name: "ErrTwoPoints", in: "280.5.0", msg: "with digits"},
		{name: "ErrNaN", in: "NaN", msg: "with digits"},
		{name: "ErrInnerSpace", in: "1 000", msg: "with digits"},
		{name: "ErrFullWidthDigits", in: "２８０", msg: "with digits"},
		{name: "ErrNoIntegerPart", in: ".5", msg: "before the decimal point"},
		{name: "ErrTrailingPoint", in: "280.", msg: "ends with a decimal point"},
		{name: "ErrLeadingZero", in: "0280", msg: "leading zero"},
		{name: "ErrLeadingZeroThousands", in: "0,280", msg: "leading zero"},
		{name: "ErrGroupShort", in: "1,00", msg: "groups of three"},
		{name: "ErrGroupLong", in: "1,0000", msg: "groups of three"},
		{name: "ErrFirstGroupLong", in: "1000,000", msg: "groups of three"},
		{name: "ErrGroupMiddle", in: "10,00.00", msg: "groups of three"},
		{name: "ErrLeadingComma", in: ",100", msg: "groups of three"},
		{name: "ErrTrailingComma", in: "1,000,", msg: "groups of three"},
		{name: "ErrDoubleComma", in: "1,,000", msg: "groups of three"},
		{name: "ErrCommaInFraction", in: "1.0,0", msg: "with digits"},
		{name: "ErrOverflow", in: "92233720368547758.08", msg: "too large"},
		{name: "ErrOverflowHuge", in: "99999999999999999999999", msg: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := syncproto.ParseMoney(tt.in)
			if tt.msg != "" {
				requireErr(t, err, syncproto.CodeInvalidMoney, tt.msg)
				return
			}
			if err != nil {
				t.Fatalf("ParseMoney(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseMoney(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSignedMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want syncproto.Money
		msg  string
	}{
		{name: "OKPositive", in: "280.50", want: 28050},
		{name: "OKNegative", in: "-280.00", want: -28000},
		{name: "OKNegativeFen", in: "-0.05", want: -5},
		{name: "OKNegativeZero", in: "-0", want: 0},
		{name: "OKMinusBeforeYen", in: "-¥5", want: -500},
		{name: "OKMinusAfterYen", in: "¥-5", want: -500},
		{name: "OKNegativeThousands", in: " -1,000.5 ", want: -100050},
		{name: "OKMin", in: "-92233720368547758.08", want: math.MinInt64},
		{name: "ErrDoubleMinus", in: "--5", msg: "with digits"},
		{name: "ErrMinusBothSides", in: "-¥-5", msg: "with digits"},
		{name: "ErrMinusOnly", in: "-", msg: "no digits"},
		{name: "ErrSpaceAfterMinus", in: "- 5", msg: "with digits"},
		{name: "ErrOverflow", in: "-92233720368547758.09", msg: "too large"},
		{name: "ErrThreeDecimals", in: "-1.001", msg: "more than two decimals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := syncproto.ParseSignedMoney(tt.in)
			if tt.msg != "" {
				requireErr(t, err, syncproto.CodeInvalidMoney, tt.msg)
				return
			}
			if err != nil {
				t.Fatalf("ParseSignedMoney(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSignedMoney(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestMoneyString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   syncproto.Money
		want string
	}{
		{name: "OK", in: 28000, want: "280.00"},
		{name: "OKFen", in: 5, want: "0.05"},
		{name: "OKJiao", in: 50, want: "0.50"},
		{name: "OKZero", in: 0, want: "0.00"},
		{name: "OKNegativeFen", in: -5, want: "-0.05"},
		{name: "OKNegative", in: -28050, want: "-280.50"},
		{name: "OKNoCommas", in: 100000, want: "1000.00"},
		{name: "OKMax", in: math.MaxInt64, want: "92233720368547758.07"},
		{name: "OKMin", in: math.MinInt64, want: "-92233720368547758.08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.in.String(); got != tt.want {
				t.Fatalf("Money(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
			}
		})
	}
}

func TestMoneyFormatVerbs(t *testing.T) {
	t.Parallel()
	m := syncproto.Money(28050)
	if got := fmt.Sprintf("%v %s %d", m, m, m); got != "280.50 280.50 28050" {
		t.Fatalf("got %q", got)
	}
}

func TestYuan(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		if got := syncproto.Yuan(280); got != 28000 {
			t.Fatalf("Yuan(280) = %d", got)
		}
		if got := syncproto.Yuan(-3); got != -300 {
			t.Fatalf("Yuan(-3) = %d", got)
		}
	})
	t.Run("PanicOverflow", func(t *testing.T) {
		t.Parallel()
		for _, n := range []int64{math.MaxInt64/100 + 1, math.MinInt64/100 - 1} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("Yuan(%d) did not panic", n)
					}
				}()
				syncproto.Yuan(n)
			}()
		}
	})
}

func TestMoneyJSON(t *testing.T) {
	t.Parallel()
	type line struct {
		Amount syncproto.Money `json:"amount"`
	}
	t.Run("OKMarshal", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(line{Amount: syncproto.Yuan(280) + 50})
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{"amount":28050}` {
			t.Fatalf("got %s", b)
		}
	})
	t.Run("OKMarshalNegative", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(syncproto.Money(math.MinInt64))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "-9223372036854775808" {
			t.Fatalf("got %s", b)
		}
	})

	ok := []struct {
		name string
		in   string
		want syncproto.Money
	}{
		{name: "OK", in: `{"amount":28050}`, want: 28050},
		{name: "OKNegative", in: `{"amount":-5}`, want: -5},
		{name: "OKZero", in: `{"amount":0}`, want: 0},
		{name: "OKMax", in: `{"amount":9223372036854775807}`, want: math.MaxInt64},
		{name: "OKMin", in: `{"amount":-9223372036854775808}`, want: math.MinInt64},
		{name: "OKNullKeeps", in: `{"amount":null}`, want: 7},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := line{Amount: 7}
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.in, err)
			}
			if got.Amount != tt.want {
				t.Fatalf("Unmarshal(%s) = %d, want %d", tt.in, got.Amount, tt.want)
			}
		})
	}

	bad := []struct {
		name string
		in   string
		msg  string
	}{
		{name: "ErrString", in: `{"amount":"280.00"}`, msg: "JSON integer"},
		{name: "ErrStringInteger", in: `{"amount":"28000"}`, msg: "JSON integer"},
		{name: "ErrFraction", in: `{"amount":280.5}`, msg: "JSON integer"},
		{name: "ErrZeroFraction", in: `{"amount":280.0}`, msg: "JSON integer"},
		{name: "ErrExponent", in: `{"amount":2.8e4}`, msg: "JSON integer"},
		{name: "ErrBool", in: `{"amount":true}`, msg: "JSON integer"},
		{name: "ErrOverflow", in: `{"amount":9223372036854775808}`, msg: "too large"},
		{name: "ErrUnderflow", in: `{"amount":-9223372036854775809}`, msg: "too large"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got line
			err := json.Unmarshal([]byte(tt.in), &got)
			requireErr(t, err, syncproto.CodeInvalidMoney, tt.msg)
		})
	}

	direct := []struct {
		name string
		in   string
	}{
		{name: "ErrPlus", in: "+5"},
		{name: "ErrLeadingZero", in: "007"},
		{name: "ErrEmpty", in: ""},
		{name: "ErrMinusOnly", in: "-"},
		{name: "ErrSpace", in: " 5"},
	}
	for _, tt := range direct {
		t.Run("Direct"+tt.name, func(t *testing.T) {
			t.Parallel()
			var m syncproto.Money
			requireErr(t, m.UnmarshalJSON([]byte(tt.in)), syncproto.CodeInvalidMoney, "JSON integer")
		})
	}
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{
		"280", "280.5", "280.50", "1,000.00", " ¥280 ", "￥0.05", "-¥5", "¥-5",
		"-0", "0.5", ".5", "280.", "1e3", "12a", "0280", "1,00",
		"92233720368547758.07", "-92233720368547758.08", "92233720368547758.08",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		signed, serr := syncproto.ParseSignedMoney(s)
		unsigned, uerr := syncproto.ParseMoney(s)
		if uerr != nil {
			requireCode(t, uerr, syncproto.CodeInvalidMoney)
		}
		if serr != nil {
			requireCode(t, serr, syncproto.CodeInvalidMoney)
			if uerr == nil {
				t.Fatalf("ParseMoney(%q) ok but ParseSignedMoney failed: %v", s, serr)
			}
			return
		}
		if uerr == nil && (unsigned != signed || unsigned < 0) {
			t.Fatalf("ParseMoney(%q) = %d, ParseSignedMoney = %d", s, unsigned, signed)
		}
		text := signed.String()
		again, err := syncproto.ParseSignedMoney(text)
		if err != nil || again != signed {
			t.Fatalf("round trip %q -> %d -> %q -> %d, %v", s, signed, text, again, err)
		}
		if signed >= 0 {
			if again, err := syncproto.ParseMoney(text); err != nil || again != signed {
				t.Fatalf("unsigned round trip %q -> %q -> %d, %v", s, text, again, err)
			}
		}
		b, err := json.Marshal(signed)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON syncproto.Money
		if err := json.Unmarshal(b, &fromJSON); err != nil || fromJSON != signed {
			t.Fatalf("JSON round trip %d -> %s -> %d, %v", signed, b, fromJSON, err)
		}
	})
}

func FuzzMoneyUnmarshalJSON(f *testing.F) {
	for _, s := range []string{"28050", "-5", "0", "-0", "null", `"280"`, "2.8e4", "280.0", "007", "+5", "9223372036854775808"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m syncproto.Money
		if err := m.UnmarshalJSON(data); err != nil {
			requireCode(t, err, syncproto.CodeInvalidMoney)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		b, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var again syncproto.Money
		if err := again.UnmarshalJSON(b); err != nil || again != m {
			t.Fatalf("round trip %q -> %d -> %s -> %d, %v", data, m, b, again, err)
		}
	})
}
