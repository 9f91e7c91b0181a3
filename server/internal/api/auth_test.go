package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/store"
)

func TestAccessTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := f.token[auth.RoleAdmin]
	p, err := f.tokens.Verify(good)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"iss": "villagesync", "aud": "villagesync-api", "sub": p.UserID, "role": "admin",
		"name": "admin", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	parts := strings.Split(good, ".")

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	foreign, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(otherKey)
	// The classic confusion attack: HMAC keyed with the server's public key.
	pub := []byte(otherKey.Public().(ed25519.PublicKey))
	hmac, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(pub)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tamperedPayload := strings.Replace(string(payload), `"role":"admin"`, `"role":"admin" `, 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tamperedPayload)) + "." + parts[2]

	// An expired token signed by the server's own key: issue one, then move
	// the server's clock past its expiry.
	f.clock.Add(auth.AccessTTL + time.Minute)
	expiredRec := f.request(http.MethodGet, "/api/v1/me", good, nil)
	f.clock.Add(-(auth.AccessTTL + time.Minute))

	if rec := f.request(http.MethodGet, "/api/v1/me", good, nil); rec.Code != http.StatusOK {
		t.Fatalf("good token refused: %d %s", rec.Code, rec.Body)
	}
	if expiredRec.Code != http.StatusUnauthorized || errCode(t, expiredRec) != "unauthenticated" {
		t.Errorf("ErrExpired: %d %s", expiredRec.Code, expiredRec.Body)
	}
	for name, tok := range map[string]string{
		"ErrForeignKey":     foreign,
		"ErrWrongAlgorithm": hmac,
		"ErrNone":           none,
		"ErrTampered":       tampered,
		"ErrGarbage":        "not.a.token",
	} {
		rec := f.request(http.MethodGet, "/api/v1/me", tok, nil)
		if rec.Code != http.StatusUnauthorized || errCode(t, rec) != "unauthenticated" {
			t.Errorf("%s: %d %s, want 401", name, rec.Code, rec.Body)
		}
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	t.Run("OKRotates", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var p1, p2 auth.TokenPair
		f.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": f.refresh[auth.RoleTax]}, http.StatusOK, &p1)
		f.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p1.RefreshToken}, http.StatusOK, &p2)
		if p1.RefreshToken == f.refresh[auth.RoleTax] || p2.RefreshToken == p1.RefreshToken {
			t.Fatal("refresh did not rotate the token")
		}
		f.do(http.MethodGet, "/api/v1/me", p2.AccessToken, nil, http.StatusOK, nil)
	})
	t.Run("ErrReuseRevokesFamily", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		r0 := f.refresh[auth.RoleTax]
		var p1, p2 auth.TokenPair
		f.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": r0}, http.StatusOK, &p1)
		f.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p1.RefreshToken}, http.StatusOK, &p2)
		// r0 again: its successor was used, so this is a replay of a stolen token.
		rec := f.request(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": r0})
		if rec.Code != http.StatusUnauthorized || errCode(t, rec) != "refresh_token_reused" {
			t.Fatalf("reuse: %d %s", rec.Code, rec.Body)
		}
		rec = f.request(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p2.RefreshToken})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("the family's newest token still works after reuse: %d %s", rec.Code, rec.Body)
		}
		entries, err := f.db.AuditLog(t.Context(), store.AuditFilter{Action: "token_family_revoked", Limit: 10})
		if err != nil || len(entries) != 1 || entries[0].ActorID != f.user["tax"].ID {
			t.Fatalf("family revocation not audited: %+v %v", entries, err)
		}
	})
	t.Run("OKLostResponseRetried", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		r0 := f.refresh[auth.RoleAgent]
		var lost, retried auth.TokenPair
		f.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": r0}, http.StatusOK, &lost)
		f.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": r0}, http.StatusOK, &retried)
		if rec := f.request(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": lost.RefreshToken}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("the successor whose response was lost still works: %d", rec.Code)
		}
		var next auth.TokenPair
		f.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": retried.RefreshToken}, http.StatusOK, &next)
	})
	t.Run("ErrReuseAfterGrace", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		r0 := f.refresh[auth.RoleAgent]
		f.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": r0}, http.StatusOK, nil)
		f.clock.Add(auth.DefaultLimits.RetryGrace + time.Second)
		rec := f.request(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": r0})
		if rec.Code != http.StatusUnauthorized || errCode(t, rec) != "refresh_token_reused" {
			t.Fatalf("late replay: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("OKLogoutRevokes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.do(http.MethodPost, "/api/v1/auth/logout", f.token[auth.RoleHRSS], map[string]string{"refresh_token": f.refresh[auth.RoleHRSS]}, http.StatusNoContent, nil)
		if rec := f.request(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": f.refresh[auth.RoleHRSS]}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("refresh after logout: %d", rec.Code)
		}
		// Someone else's token cannot be logged out.
		rec := f.request(http.MethodPost, "/api/v1/auth/logout", f.token[auth.RoleHRSS], map[string]string{"refresh_token": f.refresh[auth.RoleTax]})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("logout of another user's token: %d", rec.Code)
		}
	})
}

func TestDevices(t *testing.T) {
	t.Parallel()
	t.Run("ErrRevokedDeviceRefused", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.do(http.MethodGet, "/api/v1/me", f.token[auth.RoleAgent], nil, http.StatusOK, nil)
		f.do(http.MethodPost, "/api/v1/devices/"+f.deviceA+"/revoke", f.token[auth.RoleTownship], nil, http.StatusNoContent, nil)
		rec := f.request(http.MethodGet, "/api/v1/me", f.token[auth.RoleAgent], nil)
		if rec.Code != http.StatusUnauthorized || errCode(t, rec) != "device_revoked" {
			t.Fatalf("revoked device's next call: %d %s", rec.Code, rec.Body)
		}
		rec = f.request(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": f.refresh[auth.RoleAgent]})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("revoked device refreshed: %d %s", rec.Code, rec.Body)
		}
		var list struct{ Devices []store.Device }
		f.do(http.MethodGet, "/api/v1/devices", f.token[auth.RoleTownship], nil, http.StatusOK, &list)
		if len(list.Devices) != 1 || list.Devices[0].RevokedAt == nil || list.Devices[0].LastSeenAt == nil {
			t.Fatalf("township's device list: %+v", list.Devices)
		}
	})
	t.Run("ErrCodeWorksOnce", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var code auth.EnrollmentCode
		f.do(http.MethodPost, "/api/v1/devices/enrollment-codes", f.token[auth.RoleTownship], map[string]string{"agent_id": f.user["agenta"].ID}, http.StatusCreated, &code)
		if len(code.QRPNG) < 8 || string(code.QRPNG[1:4]) != "PNG" || code.ExpiresAt.After(time.Now().Add(24*time.Hour+time.Minute)) {
			t.Fatalf("code: QR %d bytes, expires %v", len(code.QRPNG), code.ExpiresAt)
		}
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		req := auth.EnrollRequest{Code: strings.ToLower(code.Code), DeviceName: "平板", PublicKey: pub}
		f.do(http.MethodPost, "/api/v1/devices/enroll", "", req, http.StatusCreated, nil)
		rec := f.request(http.MethodPost, "/api/v1/devices/enroll", "", req)
		if rec.Code != http.StatusBadRequest || errCode(t, rec) != "enrollment_code_invalid" {
			t.Fatalf("second use of a code: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("ErrCodeExpired", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var code auth.EnrollmentCode
		f.do(http.MethodPost, "/api/v1/devices/enrollment-codes", f.token[auth.RoleTownship], map[string]string{"agent_id": f.user["agenta"].ID}, http.StatusCreated, &code)
		f.clock.Add(25 * time.Hour)
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		rec := f.request(http.MethodPost, "/api/v1/devices/enroll", "", auth.EnrollRequest{Code: code.Code, DeviceName: "平板", PublicKey: pub})
		if rec.Code != http.StatusBadRequest || errCode(t, rec) != "enrollment_code_invalid" {
			t.Fatalf("expired code: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("ErrAgentSeesNothingOfOtherVillage", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, path := range []string{"/api/v1/villages/" + vilB, "/api/v1/villages/" + vilA2,
			"/api/v1/townships/" + twpY + "/villages", "/api/v1/devices", "/api/v1/users", "/api/v1/audit"} {
			if rec := f.request(http.MethodGet, path, f.token[auth.RoleAgent], nil); rec.Code != http.StatusForbidden {
				t.Errorf("agent of %s reads %s: %d %s", vilA, path, rec.Code, rec.Body)
			}
		}
	})
}

func TestLoginAbuse(t *testing.T) {
	t.Parallel()
	t.Run("ErrLockedAfterFailuresSameForUnknownUser", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, name := range []string{"tax", "nobody-here"} {
			for i := range auth.DefaultLimits.MaxFailures {
				rec := f.request(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": name, "password": "wrong password"})
				if rec.Code != http.StatusUnauthorized || errCode(t, rec) != "unauthenticated" {
					t.Fatalf("%s failure %d: %d %s", name, i, rec.Code, rec.Body)
				}
			}
			rec := f.request(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": name, "password": pw})
			if rec.Code != http.StatusTooManyRequests {
				t.Fatalf("%s after %d failures: %d %s, want locked", name, auth.DefaultLimits.MaxFailures, rec.Code, rec.Body)
			}
		}
		f.clock.Add(auth.DefaultLimits.LockFor + time.Minute)
		f.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "tax", "password": pw}, http.StatusOK, nil)
		entries, _ := f.db.AuditLog(t.Context(), store.AuditFilter{Action: "login_failed", Limit: 100})
		if len(entries) != 2*auth.DefaultLimits.MaxFailures {
			t.Fatalf("failed logins audited: %d, want %d", len(entries), 2*auth.DefaultLimits.MaxFailures)
		}
	})
	t.Run("ErrRateLimitedPerIP", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		got429 := false
		for i := range auth.DefaultLimits.LoginPerIP + 1 {
			rec := f.request(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "user" + string(rune('a'+i%26)) + "x", "password": "x"})
			got429 = got429 || rec.Code == http.StatusTooManyRequests
		}
		if !got429 {
			t.Fatal("no rate limit after many logins from one address")
		}
	})
}

func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, sql := range []string{`UPDATE audit_log SET action = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := f.db.Pool.Exec(t.Context(), sql); err == nil {
			t.Errorf("%s was allowed", sql)
		}
	}
	var page struct {
		Entries    []store.AuditEntry
		NextBefore string `json:"next_before"`
	}
	f.do(http.MethodGet, "/api/v1/audit?limit=2", f.token[auth.RoleAdmin], nil, http.StatusOK, &page)
	if len(page.Entries) != 2 || page.NextBefore == "" {
		t.Fatalf("first page: %+v", page)
	}
	var twp struct{ Entries []store.AuditEntry }
	f.do(http.MethodGet, "/api/v1/audit?limit=1000", f.token[auth.RoleTownship], nil, http.StatusOK, &twp)
	for _, e := range twp.Entries {
		if e.TownshipCode != twpX {
			t.Fatalf("township X sees an audit line of %q: %+v", e.TownshipCode, e)
		}
	}
	if rec := f.request(http.MethodGet, "/api/v1/audit?township="+twpY, f.token[auth.RoleTownship], nil); rec.Code != http.StatusForbidden {
		t.Fatalf("township X reads Y's audit: %d", rec.Code)
	}
}

// Nothing secret in logs: passwords, tokens, codes and full resident IDs
// never reach a log line.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var pair auth.TokenPair
	f.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "tax", "password": pw}, http.StatusOK, &pair)
	f.request(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "tax", "password": "wrong-secret-pw"})
	var code auth.EnrollmentCode
	f.do(http.MethodPost, "/api/v1/devices/enrollment-codes", f.token[auth.RoleAdmin], map[string]string{"agent_id": f.user["agenta"].ID}, http.StatusCreated, &code)
	f.request(http.MethodGet, "/api/v1/villages/"+vilA+"?q=11010519491231002X", f.token[auth.RoleAgent], nil)
	f.request(http.MethodGet, "/api/v1/nothing?id=11010519491231002X", pair.AccessToken, nil)
	logs := f.logs.String()
	if !strings.Contains(logs, `"route":"/api/v1/auth/login"`) {
		t.Fatalf("the login was not logged at all:\n%s", logs)
	}
	for name, secret := range map[string]string{
		"password": pw, "wrong password": "wrong-secret-pw", "access token": pair.AccessToken,
		"refresh token": pair.RefreshToken, "enrollment code": code.Code, "resident ID": "11010519491231002X",
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s is in the log", name)
		}
	}
}
