package keystore

import (
	"slices"

	"villagesync/syncproto"
)

// A PIN is 6 to 12 ASCII digits: what a numeric keypad gives.
const (
	MinPINLen = 6
	MaxPINLen = 12
)

// commonPINs are frequent choices that the rules of weakPIN do not catch:
// keypad shapes and number words popular in China (520 / 1314, "I love you
// for ever"), from published analyses of leaked Chinese PINs and passwords.
var commonPINs = []string{
	"5201314", "1314520", "520131400", "13145200",
	"123321", "321123", "112233", "332211", "123654", "456321",
	"147258", "258369", "147258369", "369258147", "159357", "159753", "357159",
	"147369", "741852", "852963", "741852963", "963852741", "789456", "456123",
	"789456123",
}

// CheckPIN says whether pin may be set as a new PIN: 6 to 12 digits and not
// trivially guessable. The UI may call it as the agent types. It refuses
// repeated digits and blocks (000000, 121212, 123123), PINs of fewer than
// three different digits, sequences with a constant step (123456, 654321,
// 135791, 1234567890), doubled sequences (112233) and a short list of
// common PINs (5201314, 147258). It does not know the agent's birthday or
// phone number; the message asks them not to use those.
func CheckPIN(pin string) error {
	if err := checkPINFormat(pin); err != nil {
		return err
	}
	if weakPIN(pin) {
		return syncproto.Errorf(CodePINWeak,
			"this PIN is too easy to guess (repeated or sequential digits, or a very common PIN); choose another, and not your birthday or phone number",
			"该 PIN 过于简单（重复数字、连续数字或常见组合），容易被猜中；请换一个，也不要用生日或手机号")
	}
	return nil
}

// checkPINFormat refuses anything but 6 to 12 ASCII digits.
func checkPINFormat(pin string) error {
	ok := len(pin) >= MinPINLen && len(pin) <= MaxPINLen
	for i := 0; ok && i < len(pin); i++ {
		ok = pin[i] >= '0' && pin[i] <= '9'
	}
	if !ok {
		return syncproto.Errorf(syncproto.CodeInvalidInput,
			"the PIN must be 6 to 12 digits (0-9)",
			"PIN 必须是 6 至 12 位数字（0-9）")
	}
	return nil
}

// weakPIN applies CheckPIN's rules to a well-formed PIN.
func weakPIN(pin string) bool {
	return distinctDigits(pin) < 3 ||
		constantStep(pin) ||
		periodic(pin) ||
		(len(pin)%2 == 0 && doubled(pin) && constantStep(everyOther(pin))) ||
		slices.Contains(commonPINs, pin)
}

func distinctDigits(pin string) int {
	var seen [10]bool
	n := 0
	for i := 0; i < len(pin); i++ {
		if d := pin[i] - '0'; !seen[d] {
			seen[d] = true
			n++
		}
	}
	return n
}

// constantStep: every digit is the previous one plus the same step, modulo
// 10 (123456, 654321, 7890123, 135791).
func constantStep(s string) bool {
	if len(s) < 2 {
		return true
	}
	step := (s[1] - s[0] + 10) % 10
	for i := 2; i < len(s); i++ {
		if (s[i]-s[i-1]+10)%10 != step {
			return false
		}
	}
	return true
}

// periodic: s repeats a block at most half its length (123123, 12341234).
func periodic(s string) bool {
	for p := 1; p <= len(s)/2; p++ {
		if s[p:] == s[:len(s)-p] {
			return true
		}
	}
	return false
}

// doubled: each digit comes twice in a row (112233).
func doubled(s string) bool {
	for i := 0; i+1 < len(s); i += 2 {
		if s[i] != s[i+1] {
			return false
		}
	}
	return true
}

func everyOther(s string) string {
	b := make([]byte, 0, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		b = append(b, s[i])
	}
	return string(b)
}
