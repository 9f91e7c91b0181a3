package keystore_test

import (
	"testing"

	"villagesync/agentapp/internal/keystore"
	"villagesync/syncproto"
)

func TestCheckPIN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pin  string
		code syncproto.Code // "" means accepted
	}{
		{"480917", ""},
		{"73915524", ""},
		{"209384756102", ""},
		{"", syncproto.CodeInvalidInput},
		{"48091", syncproto.CodeInvalidInput},
		{"4809172938475", syncproto.CodeInvalidInput},
		{"48091a", syncproto.CodeInvalidInput},
		{"480 917", syncproto.CodeInvalidInput},
		{"４８０９１７", syncproto.CodeInvalidInput}, // full-width digits
		{"000000", keystore.CodePINWeak},
		{"111111111111", keystore.CodePINWeak},
		{"123456", keystore.CodePINWeak},
		{"654321", keystore.CodePINWeak},
		{"1234567890", keystore.CodePINWeak},
		{"0987654321", keystore.CodePINWeak},
		{"135791", keystore.CodePINWeak},
		{"121212", keystore.CodePINWeak},
		{"123123", keystore.CodePINWeak},
		{"12341234", keystore.CodePINWeak},
		{"520520", keystore.CodePINWeak},
		{"112233", keystore.CodePINWeak},
		{"998877", keystore.CodePINWeak},
		{"111222", keystore.CodePINWeak},
		{"5201314", keystore.CodePINWeak},
		{"147258", keystore.CodePINWeak},
		{"123321", keystore.CodePINWeak},
	} {
		err := keystore.CheckPIN(tc.pin)
		if tc.code == "" {
			if err != nil {
				t.Errorf("CheckPIN(%q) = %v, want accepted", tc.pin, err)
			}
			continue
		}
		if got := syncproto.ErrorCode(err); err == nil || got != tc.code {
			t.Errorf("CheckPIN(%q) = %v, want %s", tc.pin, err, tc.code)
		}
	}
}

func FuzzCheckPIN(f *testing.F) {
	for _, s := range []string{"480917", "123456", "5201314", "", "12a456", "０１２３４５", "999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pin string) {
		err := keystore.CheckPIN(pin)
		if err == nil {
			if len(pin) < keystore.MinPINLen || len(pin) > keystore.MaxPINLen {
				t.Fatalf("accepted %q of length %d", pin, len(pin))
			}
			for _, c := range []byte(pin) {
				if c < '0' || c > '9' {
					t.Fatalf("accepted %q with a non-digit", pin)
				}
			}
			return
		}
		if c := syncproto.ErrorCode(err); c != syncproto.CodeInvalidInput && c != keystore.CodePINWeak {
			t.Fatalf("CheckPIN(%q): unexpected %v", pin, err)
		}
	})
}
