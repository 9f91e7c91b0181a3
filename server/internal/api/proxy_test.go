package api_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"villagesync/server/internal/api"
	"villagesync/server/internal/auth"
	"villagesync/server/internal/store"
)

// failLogin sends a login with a wrong password from remote (with xff as
// its X-Forwarded-For, when set) and returns the status.
func failLogin(f *fixture, remote, xff, user string) int {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login",
		strings.NewReader(`{"username":"`+user+`","password":"wrong password"}`))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	return rec.Code
}

// lastFailedLoginIP is the address the audit log gives the newest failed
// login.
func lastFailedLoginIP(f *fixture) string {
	f.t.Helper()
	entries, err := f.db.AuditLog(f.t.Context(), store.AuditFilter{Action: "login_failed", Limit: 1})
	if err != nil || len(entries) != 1 {
		f.t.Fatalf("audit: %v, %d entries", err, len(entries))
	}
	return entries[0].IP
}

// Behind a trusted proxy the client is the address the proxy forwarded:
// it is audited and keys the per-address login limit, so one client's
// failures do not lock out the others behind the same proxy. A client
// that is not a trusted proxy cannot choose its address with the header.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	trusted, err := api.ParseTrustedProxies("10.0.0.0/8, 2001:db8::1")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, api.Config{BodyLimit: "1M", TrustedProxies: trusted})
	for _, c := range []struct{ remote, xff, want string }{
		{"10.1.2.3:4000", "203.0.113.7", "203.0.113.7"},
		{"10.1.2.3:4000", "203.0.113.9, 10.0.0.5", "203.0.113.9"},     // two proxies of ours
		{"10.1.2.3:4000", "198.51.100.1, 203.0.113.8", "203.0.113.8"}, // the client's own header is not believed
		{"[2001:db8::1]:4000", "203.0.113.6", "203.0.113.6"},          // one address, IPv6
		{"198.51.100.9:4000", "203.0.113.7", "198.51.100.9"},          // not a proxy of ours
		{"[2001:db8::2]:4000", "203.0.113.7", "2001:db8::2"},          // next to it, not it
		{"10.1.2.3:4000", "", "10.1.2.3"},                             // a request of the proxy's own
		{"10.1.2.3:4000", "10.0.0.7, 10.0.0.5", "10.0.0.7"},           // all ours: the farthest (what our first proxy saw)
		{"10.1.2.3:4000", "203.0.113.7, not an address", "10.1.2.3"},  // a proxy of ours forwarded garbage: the direct address
	} {
		failLogin(f, c.remote, c.xff, "twpx"+c.want) // a user of its own: the account's lock after five failures stays out of it
		if got := lastFailedLoginIP(f); got != c.want {
			t.Errorf("from %s with X-Forwarded-For %q: audited as %q, want %q", c.remote, c.xff, got, c.want)
		}
	}

	// One client behind the proxy runs into the limit; another does not.
	limited := false
	for i := range auth.DefaultLimits.LoginPerIP + 1 {
		limited = failLogin(f, "10.1.2.3:4000", "203.0.113.50", "nobody"+string(rune('a'+i%26))) == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("no rate limit for one client behind the proxy")
	}
	if code := failLogin(f, "10.1.2.3:4000", "203.0.113.51", "nobody"); code == http.StatusTooManyRequests {
		t.Fatal("a second client behind the same proxy was limited with the first")
	}
}

// Without TRUSTED_PROXIES the header is ignored.
func TestNoTrustedProxies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	failLogin(f, "10.1.2.3:4000", "203.0.113.7", "twpx")
	if got := lastFailedLoginIP(f); got != "10.1.2.3" {
		t.Fatalf("audited as %q, want the direct address", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := api.ParseTrustedProxies(" 192.0.2.7 ,10.0.0.0/8,,fd00::/8, ::ffff:10.0.0.0/104")
	if err != nil || len(got) != 4 || got[0].String() != "192.0.2.7/32" || got[1].String() != "10.0.0.0/8" ||
		got[2].String() != "fd00::/8" || got[3].String() != "10.0.0.0/8" || got[3].Contains(net.ParseIP("11.0.0.1")) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"proxy.example", "10.0.0.0/33", "", " , ", "192.0.2.7:8080",
		"0.0.0.0/0", "::/0", "::ffff:0:0/96", // every address
		"10.1.2.3/8", // host bits set: a mistyped mask
	} {
		if _, err := api.ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
