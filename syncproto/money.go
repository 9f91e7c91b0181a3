package syncproto

import (
	"math"
	"strconv"
	"strings"
)

// Money is an amount in fen (分, 1/100 yuan). It is never a float: amounts
// are parsed from and formatted to decimal text exactly. Money is signed so
// that reversing lines and refunds can be negative; ParseMoney rejects
// negatives where a payment is meant.
type Money int64

// fenPerYuan is the number of fen in one yuan.
const fenPerYuan = 100

// Yuan returns n yuan as Money. It panics when n*100 does not fit in int64
// (beyond about ±9.2×10^16 yuan); it is meant for constants and tests,
// untrusted input goes through ParseMoney.
func Yuan(n int64) Money {
	if n > math.MaxInt64/fenPerYuan || n < math.MinInt64/fenPerYuan {
		panic("syncproto: Yuan overflows int64 fen")
	}
	return Money(n * fenPerYuan)
}

// ParseMoney parses a non-negative amount written in yuan, as agents type it
// and bureaus' spreadsheets export it, into fen.
//
// Accepted: "280", "280.5", "280.50", "0.5", "1,000.00" (commas only between
// correct groups of three digits), surrounding white space, and a leading
// "¥" or "￥" optionally followed by spaces ("¥ 280.00").
//
// Rejected, each with its own message (code CodeInvalidMoney): the empty
// string; a minus sign (use ParseSignedMoney); a plus sign; more than two
// decimals, even zeros ("280.500"); a missing integer part (".5") or a
// trailing point ("280."), which usually mean a truncated cell; leading zeros
// ("0280"; "0" and "0.50" are fine); exponents ("1e3"), full-width digits
// and any other character; amounts beyond the int64 range of fen.
func ParseMoney(s string) (Money, error) {
	return parseMoney(s, false)
}

// ParseSignedMoney is ParseMoney that also accepts a leading "-", either
// before or after the currency sign ("-280.00", "-¥5", "¥-5"). "-0" is zero.
func ParseSignedMoney(s string) (Money, error) {
	return parseMoney(s, true)
}

func parseMoney(s string, signed bool) (Money, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, Errorf(CodeInvalidMoney, "amount is empty", "金额为空")
	}
	neg := false
	if rest, ok := strings.CutPrefix(t, "-"); ok {
		neg, t = true, rest
	}
	if rest, ok := cutCurrencySign(t); ok {
		t = strings.TrimLeft(rest, " ")
		if !neg {
			if rest, ok := strings.CutPrefix(t, "-"); ok {
				neg, t = true, rest
			}
		}
	}
	if neg && !signed {
		return 0, Errorf(CodeInvalidMoney,
			"amount must not be negative", "金额不能为负数")
	}
	if t == "" {
		return 0, Errorf(CodeInvalidMoney, "amount has no digits", "金额缺少数字")
	}

	intPart, fracPart, hasPoint := strings.Cut(t, ".")
	if err := checkIntPart(intPart); err != nil {
		return 0, err
	}
	if hasPoint {
		if fracPart == "" {
			return 0, Errorf(CodeInvalidMoney,
				"amount ends with a decimal point", "金额以小数点结尾")
		}
		if !allDigits(fracPart) {
			return 0, garbageMoney()
		}
		if len(fracPart) > 2 {
			return 0, Errorf(CodeInvalidMoney,
				"amount has more than two decimals (fen is the smallest unit)",
				"金额小数超过两位（最小单位为分）")
		}
	}

	// Accumulate the magnitude in fen as uint64; the limit is MaxInt64 for
	// positive amounts and MaxInt64+1 for negative ones.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var fen uint64
	digits := strings.ReplaceAll(intPart, ",", "") + (fracPart + "00")[:2]
	for i := 0; i < len(digits); i++ {
		d := uint64(digits[i] - '0')
		if fen > (limit-d)/10 {
			return 0, Errorf(CodeInvalidMoney,
				"amount is too large", "金额过大")
		}
		fen = fen*10 + d
	}
	if neg {
		return Money(-fen), nil // two's complement: -(1<<63) wraps to MinInt64
	}
	return Money(fen), nil
}

// cutCurrencySign removes a leading half-width or full-width yuan sign.
func cutCurrencySign(s string) (string, bool) {
	if rest, ok := strings.CutPrefix(s, "¥"); ok {
		return rest, true
	}
	return strings.CutPrefix(s, "￥")
}

// checkIntPart validates the yuan digits before the point: at least one
// digit, no leading zero, and commas only between groups of three.
func checkIntPart(s string) error {
	if s == "" {
		return Errorf(CodeInvalidMoney,
			"amount has no digits before the decimal point", "金额小数点前缺少数字")
	}
	if strings.Contains(s, ",") {
		groups := strings.Split(s, ",")
		for _, g := range groups {
			if !containsOnly(g, "0123456789") {
				return garbageMoney()
			}
		}
		for i, g := range groups {
			if g == "" || (i == 0 && len(g) > 3) || (i > 0 && len(g) != 3) {
				return badGrouping()
			}
		}
	} else if !allDigits(s) {
		return garbageMoney()
	}
	if len(s) > 1 && s[0] == '0' {
		return Errorf(CodeInvalidMoney,
			"amount has a leading zero", "金额前面有多余的零")
	}
	return nil
}

func badGrouping() *Error {
	return Errorf(CodeInvalidMoney,
		"thousands separators must split the yuan into groups of three digits",
		"千位分隔符（逗号）必须每三位数字一组")
}

func garbageMoney() *Error {
	return Errorf(CodeInvalidMoney,
		"amount must be written in yuan with digits, e.g. 280 or 280.50",
		"金额须以元为单位用数字填写，例如 280 或 280.50")
}

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool {
	return s != "" && containsOnly(s, "0123456789")
}

func containsOnly(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// String formats m in yuan with exactly two decimals and no thousands
// separators, as exports and receipts need: "280.00", "-0.05", "1000.00".
// fmt's %v and %s use it; %d prints the integer fen.
func (m Money) String() string {
	var b []byte
	mag := uint64(m)
	if m < 0 {
		b = append(b, '-')
		mag = -mag // also right for MinInt64
	}
	b = strconv.AppendUint(b, mag/fenPerYuan, 10)
	frac := mag % fenPerYuan
	return string(append(b, '.', byte('0'+frac/10), byte('0'+frac%10)))
}

// MarshalJSON encodes m as a plain JSON integer of fen: 28000 for 280 yuan.
func (m Money) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(m), 10), nil
}

// UnmarshalJSON decodes a JSON integer of fen. Strings ("280.00"), numbers
// with a fraction or an exponent (280.5, 280.0, 2.8e4) and out-of-range
// numbers are rejected with CodeInvalidMoney; negative numbers are accepted.
// As encoding/json expects, null leaves m unchanged.
func (m *Money) UnmarshalJSON(data []byte) error {
	s := string(data)
	if s == "null" {
		return nil
	}
	digits := strings.TrimPrefix(s, "-")
	if !allDigits(digits) || (len(digits) > 1 && digits[0] == '0') {
		return Errorf(CodeInvalidMoney,
			"amount must be a JSON integer number of fen",
			"金额必须是以分为单位的 JSON 整数")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return Wrap(err, CodeInvalidMoney, "amount is too large", "金额过大")
	}
	*m = Money(n)
	return nil
}
