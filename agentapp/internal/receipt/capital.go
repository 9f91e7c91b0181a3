package receipt

import (
	"strings"

	"villagesync/syncproto"
)

var (
	capitalDigits   = []string{"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"}
	capitalUnits    = []string{"仟", "佰", "拾", ""}        // within a group of four digits
	capitalSections = []string{"", "万", "亿", "万亿", "亿亿"} // groups of four, from the right
)

// Capital writes an amount in Chinese capital numerals (大写) as receipts
// and bank slips do: 28000 fen is 贰佰捌拾元整, 28050 is 贰佰捌拾元伍角整,
// 100505 is 壹仟零伍元零伍分. The rules (中国人民银行《支付结算办法》附件):
// a run of zeros inside the number is one 零, zeros at the end of a group
// are not written, 10–19 yuan are written 壹拾…; 整 follows when there are
// no fen; a zero jiao between yuan and fen is written 零. Less than one yuan
// has no yuan part (伍角整); zero is 零元整; a negative amount starts with 负.
func Capital(m syncproto.Money) string {
	var b strings.Builder
	mag := uint64(m)
	if m < 0 {
		b.WriteString("负")
		mag = -mag
	}
	yuan, jiao, fen := mag/100, (mag/10)%10, mag%10
	if yuan == 0 && jiao == 0 && fen == 0 {
		return b.String() + "零元整"
	}
	if yuan > 0 {
		b.WriteString(capitalInteger(yuan))
		b.WriteString("元")
	}
	switch {
	case jiao > 0:
		b.WriteString(capitalDigits[jiao] + "角")
	case fen > 0 && yuan > 0:
		b.WriteString("零")
	}
	if fen > 0 {
		b.WriteString(capitalDigits[fen] + "分")
	} else {
		b.WriteString("整")
	}
	return b.String()
}

// capitalInteger writes n > 0 in capital numerals without a unit.
func capitalInteger(n uint64) string {
	var groups []uint64 // least significant first
	for ; n > 0; n /= 10000 {
		groups = append(groups, n%10000)
	}
	var b strings.Builder
	zero := false // a 零 is owed before the next digit written
	for g := len(groups) - 1; g >= 0; g-- {
		v := groups[g]
		if v == 0 {
			zero = b.Len() > 0
			continue
		}
		if b.Len() > 0 && v < 1000 {
			zero = true
		}
		digits := [4]uint64{v / 1000, v / 100 % 10, v / 10 % 10, v % 10}
		for i, d := range digits {
			if d == 0 {
				zero = zero || b.Len() > 0
				continue
			}
			if zero {
				b.WriteString("零")
				zero = false
			}
			b.WriteString(capitalDigits[d] + capitalUnits[i])
		}
		b.WriteString(capitalSections[g])
		zero = false
	}
	return b.String()
}
