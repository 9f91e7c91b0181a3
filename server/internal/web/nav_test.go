package web

import (
	"testing"

	"villagesync/server/internal/auth"
)

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/township/batches/01J":       "/township/batches/01J",
		"/tax/batches?state=approved": "/tax/batches?state=approved",
		"":                            "",
		"//evil.example/":             "",
		"/\\evil.example":             "",
		"https://evil.example/":       "",
		"javascript:alert(1)":         "",
		"/x\r\nSet-Cookie: a=b":       "",
		// Browsers drop tabs and newlines anywhere in a URL, and leading
		// control characters: these are "//evil.example" to them.
		"/\t/evil.example": "",
		"/\n/evil.example": "",
		"/\x00/evil":       "",
		"/\t\\evil":        "",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestNavFor(t *testing.T) {
	active := func(items []NavItem) string {
		for _, it := range items {
			if it.Active {
				return it.Path
			}
		}
		return ""
	}
	for _, c := range []struct {
		role       auth.Role
		path, want string
	}{
		{auth.RoleTownship, "/township", "/township"},
		{auth.RoleTownship, "/township/batches/01JX", "/township/batches"},
		{auth.RoleTownship, "/township/devices", "/township/devices"},
		{auth.RoleTax, "/tax/batches/01JX", "/tax/batches"},
		{auth.RoleTax, "/account", ""},
	} {
		items := navFor(c.role, c.path)
		if got := active(items); got != c.want {
			t.Errorf("%s on %s: active %q, want %q", c.role, c.path, got, c.want)
		}
		for _, it := range items {
			if it.Path == "/township" && c.role != auth.RoleTownship {
				t.Errorf("%s sees the township menu", c.role)
			}
		}
	}
	if homeOf(auth.RoleTownship) != "/township" || homeOf(auth.RoleTax) != "/tax/batches" {
		t.Errorf("homes: township %s, tax %s", homeOf(auth.RoleTownship), homeOf(auth.RoleTax))
	}
}
