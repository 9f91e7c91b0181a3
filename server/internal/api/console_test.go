package api_test

import (
	"crypto/sha256"
	"crypto/tls"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"villagesync/server/internal/api"
	"villagesync/server/internal/auth"
	"villagesync/server/internal/obs"
	"villagesync/server/internal/store"
	"villagesync/server/internal/web"
)

var loginToken = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleLogin signs in through the login form as a browser does: GET the
// form (its CSRF cookie and field), POST it. It returns the answer.
func consoleLogin(t *testing.T, e http.Handler, username, password, next string, tlsOn bool) *httptest.ResponseRecorder {
	t.Helper()
	get := httptest.NewRequest(http.MethodGet, "/login", nil)
	get.RemoteAddr = "192.0.2.30:1234"
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, get)
	m := loginToken.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		t.Fatalf("login form: %d %s", rec.Code, rec.Body)
	}
	form := url.Values{"csrf": {html.UnescapeString(m[1])}, "username": {username}, "password": {password}, "next": {next}}
	post := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	post.RemoteAddr = "192.0.2.30:1234"
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range rec.Result().Cookies() {
		post.AddCookie(c)
	}
	if tlsOn {
		post.TLS = &tls.ConnectionState{}
	}
	out := httptest.NewRecorder()
	e.ServeHTTP(out, post)
	return out
}

func cookieOf(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestConsoleLogin(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		rec := consoleLogin(t, f.e, "twpx", pw, "", false)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/township" {
			t.Fatalf("login: %d to %q, want 303 to the township's home", rec.Code, rec.Header().Get("Location"))
		}
		ck := cookieOf(rec, web.SessionCookie)
		if ck == nil || ck.Value == "" {
			t.Fatal("no session cookie")
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" {
			t.Errorf("session cookie over plain HTTP: HttpOnly %v SameSite %v Secure %v Path %q, want HttpOnly, Lax, not Secure, /",
				ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path)
		}
		// Stored only as its SHA-256.
		sum := sha256.Sum256([]byte(ck.Value))
		var plain, hashed int
		if err := f.db.Pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE token_hash = $1), count(*) FILTER (WHERE token_hash = $2)
			FROM web_session`, []byte(ck.Value), sum[:]).Scan(&plain, &hashed); err != nil {
			t.Fatal(err)
		}
		if plain != 0 || hashed != 1 {
			t.Errorf("sessions stored with the plain token %d, hashed %d: want 0 and 1", plain, hashed)
		}
		page := f.page(http.MethodGet, "/township", ck.Value, nil)
		if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "临城街道") {
			t.Errorf("home with the cookie: %d %.300s", page.Code, mainOf(page))
		}
	})
	t.Run("OKSecureOverTLS", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		rec := consoleLogin(t, f.e, "tax", pw, "", true)
		if ck := cookieOf(rec, web.SessionCookie); ck == nil || !ck.Secure || !ck.HttpOnly {
			t.Errorf("session cookie over TLS: %+v, want Secure and HttpOnly", ck)
		}
	})
	t.Run("OKSecureBySetting", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		e, _ := api.New(api.Config{BodyLimit: "1M", SecureCookies: true}, f.db, api.Services{Auth: f.svc}, obs.NewLogger(f.logs, 0), obs.NewMetrics(), mustSchema(t, f))
		rec := consoleLogin(t, e, "tax", pw, "", false)
		if ck := cookieOf(rec, web.SessionCookie); ck == nil || !ck.Secure {
			t.Errorf("session cookie with SECURE_COOKIES: %+v, want Secure", ck)
		}
	})
	t.Run("OKNextStaysOnSite", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		if rec := consoleLogin(t, f.e, "twpx", pw, "/township/agents", false); rec.Header().Get("Location") != "/township/agents" {
			t.Errorf("next=/township/agents: to %q", rec.Header().Get("Location"))
		}
		for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
			if rec := consoleLogin(t, f.e, "twpx", pw, next, false); rec.Header().Get("Location") != "/township" {
				t.Errorf("next=%s: to %q, want the home page", next, rec.Header().Get("Location"))
			}
		}
	})
	t.Run("ErrWrongPasswordThenLocked", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for i := range auth.DefaultLimits.MaxFailures {
			rec := consoleLogin(t, f.e, "twpx", "wrong password!", "", false)
			if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "用户名或密码错误") || cookieOf(rec, web.SessionCookie) != nil {
				t.Fatalf("wrong password %d: %d, want 401 with the message and no session", i, rec.Code)
			}
		}
		// Locked as the API's login locks: the right password is refused too.
		rec := consoleLogin(t, f.e, "twpx", pw, "", false)
		if rec.Code != http.StatusTooManyRequests || cookieOf(rec, web.SessionCookie) != nil {
			t.Errorf("after %d failures: %d, want 429 and no session", auth.DefaultLimits.MaxFailures, rec.Code)
		}
		f.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "twpx", "password": pw}, http.StatusTooManyRequests, nil)
	})
	t.Run("ErrAgent", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		rec := consoleLogin(t, f.e, "agenta", pw, "", false)
		if rec.Code != http.StatusForbidden || cookieOf(rec, web.SessionCookie) != nil || !strings.Contains(rec.Body.String(), "平板") {
			t.Errorf("agent login: %d, want 403 pointing to the tablet and no session", rec.Code)
		}
	})
	t.Run("ErrNoLoginCSRF", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		form := url.Values{"username": {"twpx"}, "password": {pw}}
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		f.e.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || cookieOf(rec, web.SessionCookie) != nil {
			t.Errorf("login without the form's token: %d, want 403 and no session", rec.Code)
		}
		checkHTMLError(t, rec, "csrf_invalid")
	})
}

func mustSchema(t *testing.T, f *fixture) store.SchemaState {
	t.Helper()
	st, err := f.db.Schema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConsoleHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.consoleSession(auth.RoleTax)
	for _, path := range []string{"/login", "/tax/batches", "/township"} {
		rec := f.page(http.MethodGet, path, token, nil)
		h := rec.Header()
		if h.Get("Content-Security-Policy") != web.CSP || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "same-origin" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, h)
		}
		for _, inline := range []string{"<script>", "style=", "onclick=", "<style"} {
			if strings.Contains(rec.Body.String(), inline) {
				t.Errorf("%s has inline %s, which the CSP forbids", path, inline)
			}
		}
	}
	if !strings.Contains(web.CSP, "script-src 'self'") || strings.Contains(web.CSP, "unsafe-inline") {
		t.Errorf("CSP %q allows inline scripts", web.CSP)
	}
}

func TestConsoleSession(t *testing.T) {
	t.Parallel()
	expired := func(t *testing.T, f *fixture, token string) {
		t.Helper()
		rec := f.page(http.MethodGet, "/tax/batches", token, nil)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login?next=%2Ftax%2Fbatches" {
			t.Errorf("ended session: %d to %q, want 303 to the login page", rec.Code, rec.Header().Get("Location"))
		}
	}
	live := func(t *testing.T, f *fixture, token string) {
		t.Helper()
		if rec := f.page(http.MethodGet, "/tax/batches", token, nil); rec.Code != http.StatusOK {
			t.Fatalf("live session: %d", rec.Code)
		}
	}
	t.Run("ErrIdle", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		token, _ := f.consoleSession(auth.RoleTax)
		f.clock.Add(auth.DefaultSessionLimits.Idle - time.Minute)
		live(t, f, token) // restarts the idle clock
		f.clock.Add(auth.DefaultSessionLimits.Idle - time.Minute)
		live(t, f, token)
		f.clock.Add(auth.DefaultSessionLimits.Idle)
		expired(t, f, token)
	})
	t.Run("ErrAbsolute", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		token, _ := f.consoleSession(auth.RoleTax)
		step := auth.DefaultSessionLimits.Idle / 2
		for elapsed := step; elapsed < auth.DefaultSessionLimits.Absolute; elapsed += step {
			f.clock.Add(step)
			live(t, f, token)
		}
		f.clock.Add(step)
		expired(t, f, token)
	})
	t.Run("ErrLoggedOut", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		token, ss := f.consoleSession(auth.RoleTax)
		rec := f.page(http.MethodPost, "/logout", token, withCSRF(nil, ss))
		if ck := cookieOf(rec, web.SessionCookie); rec.Code != http.StatusSeeOther || ck == nil || ck.MaxAge >= 0 {
			t.Errorf("logout: %d cookie %+v, want 303 and the cookie deleted", rec.Code, ck)
		}
		expired(t, f, token)
	})
	t.Run("ErrUserDisabled", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		token, _ := f.consoleSession(auth.RoleTax)
		live(t, f, token)
		f.do(http.MethodPatch, "/api/v1/users/"+f.user["tax"].ID, f.token[auth.RoleAdmin], map[string]bool{"disabled": true}, http.StatusOK, nil)
		expired(t, f, token)
	})
	t.Run("OKExpiredSwept", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		old, _ := f.consoleSession(auth.RoleTax)
		f.consoleSession(auth.RoleHRSS)
		f.clock.Add(auth.DefaultSessionLimits.Absolute + time.Minute)
		f.consoleSession(auth.RoleTax)
		var n int
		if err := f.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM web_session`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d sessions stored after a login past the others' expiry, want 1", n)
		}
		expired(t, f, old)
	})
	t.Run("ErrForgedToken", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		expired(t, f, "vsw_forged")
	})
}

// twpYSession creates a township user of township Y and signs it in.
func (f *fixture) twpYSession() (string, auth.Session) {
	f.t.Helper()
	ctx := f.t.Context()
	admin := auth.Principal{Role: auth.RoleAdmin, Username: "fixture"}
	p := pw
	if _, err := f.svc.CreateUser(auth.WithPrincipal(ctx, admin), admin, auth.UserInput{Username: "twpy", Role: auth.RoleTownship,
		TownshipCode: twpY, Password: &p}); err != nil {
		f.t.Fatal(err)
	}
	token, ss, err := f.svc.LoginSession(auth.WithClientIP(ctx, "192.0.2.21"), "twpy", pw, auth.DefaultSessionLimits)
	if err != nil {
		f.t.Fatal(err)
	}
	return token, ss
}

func batchState(t *testing.T, f *fixture, id string) string {
	t.Helper()
	var state string
	if err := f.db.Pool.QueryRow(t.Context(), `SELECT state FROM batch WHERE id = $1`, id).Scan(&state); err != nil {
		t.Fatal(err)
	}
	return state
}

// TestConsoleScope: a page outside the caller's role or area is a 403
// page, and changes nothing.
func TestConsoleScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	batchX := f.emptyBatch(true, "submitted")
	yToken, ySession := f.twpYSession()
	rec := f.page(http.MethodGet, "/township/batches/"+batchX, yToken, nil)
	if rec.Code != http.StatusForbidden {
		t.Errorf("township Y opening township X's batch: %d, want 403", rec.Code)
	}
	checkHTMLError(t, rec, "forbidden")
	if strings.Contains(rec.Body.String(), batchX) {
		t.Errorf("the 403 page shows the batch")
	}
	rec = f.page(http.MethodPost, "/township/batches/"+batchX+"/approve", yToken, withCSRF(nil, ySession))
	if rec.Code != http.StatusForbidden || batchState(t, f, batchX) != "submitted" {
		t.Errorf("township Y approving township X's batch: %d, state %s; want 403 and submitted", rec.Code, batchState(t, f, batchX))
	}
	taxToken, _ := f.consoleSession(auth.RoleTax)
	rec = f.page(http.MethodGet, "/township", taxToken, nil)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "无权操作") {
		t.Errorf("tax user opening a township page: %d, want 403 in Chinese", rec.Code)
	}
	checkHTMLError(t, rec, "forbidden")
}

// TestConsoleCSRF: a form posted without its session's token, or with
// another session's, is refused and nothing changes; with it, it works.
func TestConsoleCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.emptyBatch(true, "submitted")
	token, ss := f.consoleSession(auth.RoleTownship)
	_, other := f.twpYSession()
	for name, form := range map[string]url.Values{
		"none":            nil,
		"empty":           {web.CSRFField: {""}},
		"another session": {web.CSRFField: {other.CSRF}},
	} {
		rec := f.page(http.MethodPost, "/township/batches/"+id+"/approve", token, form)
		if rec.Code != http.StatusForbidden || batchState(t, f, id) != "submitted" {
			t.Errorf("approve with %s token: %d, state %s; want 403 and still submitted", name, rec.Code, batchState(t, f, id))
		}
		checkHTMLError(t, rec, "csrf_invalid")
		if !strings.Contains(rec.Body.String(), "CSRF") || !strings.Contains(rec.Body.String(), "未生效") {
			t.Errorf("the CSRF page does not say what happened: %.300s", mainOf(rec))
		}
	}
	rec := f.page(http.MethodPost, "/township/batches/"+id+"/approve", token, withCSRF(nil, ss))
	if rec.Code != http.StatusSeeOther || batchState(t, f, id) != "approved" {
		t.Errorf("approve with the token: %d, state %s; want 303 and approved", rec.Code, batchState(t, f, id))
	}
	// The flash of the redirect shows on the next page, once.
	next := httptest.NewRequest(http.MethodGet, rec.Header().Get("Location"), nil)
	next.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
	for _, c := range rec.Result().Cookies() {
		next.AddCookie(c)
	}
	page := httptest.NewRecorder()
	f.e.ServeHTTP(page, next)
	if !strings.Contains(page.Body.String(), "批次已审核通过") {
		t.Errorf("no flash after approving: %.500s", mainOf(page))
	}
}

// TestConsoleFlags: the township sees its flagged payments by their
// Chinese names, not another township's.
func TestConsoleFlags(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.flaggedCollection(true)
	theirs := f.flaggedCollection(false)
	if _, err := f.db.Pool.Exec(t.Context(), `UPDATE collection SET name = '李四' WHERE id = $1`, theirs); err != nil {
		t.Fatal(err)
	}
	token, _ := f.consoleSession(auth.RoleTownship)
	for _, path := range []string{"/township/flags", "/township/refunds"} {
		rec := f.page(http.MethodGet, path, token, nil)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, `<span class="tag warn">重复缴费</span>`) || !strings.Contains(body, "张三") {
			t.Errorf("%s: %d, want township X's duplicate payment of 张三 named 重复缴费: %.500s", path, rec.Code, mainOf(rec))
		}
		if strings.Contains(body, "李四") {
			t.Errorf("%s shows township Y's payment", path)
		}
	}
}

// TestConsoleFormIDsOutOfScope: an ID of another township's record put in
// a form field (a hidden collection ID, an agent chosen from the list) is
// refused with a 403 page and changes nothing.
func TestConsoleFormIDsOutOfScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, ss := f.consoleSession(auth.RoleTownship)
	count := func(table string) int {
		var n int
		if err := f.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	theirs := f.flaggedCollection(false)
	rec := f.page(http.MethodPost, "/township/refunds", token, withCSRF(url.Values{"collection_id": {theirs}, "reason": {"重复缴费"}}, ss))
	if rec.Code != http.StatusForbidden || count("refund") != 0 {
		t.Errorf("refund of township Y's payment: %d, %d refunds; want 403 and none", rec.Code, count("refund"))
	}
	checkHTMLError(t, rec, "forbidden")
	codes := count("enrollment_code")
	rec = f.page(http.MethodPost, "/township/enrollment-codes", token, withCSRF(url.Values{"agent_id": {f.user["agentb"].ID}}, ss))
	if rec.Code != http.StatusForbidden || count("enrollment_code") != codes || strings.Contains(rec.Body.String(), `id="code"`) {
		t.Errorf("enrollment code for township Y's agent: %d, codes %d -> %d; want 403 and none", rec.Code, codes, count("enrollment_code"))
	}
	checkHTMLError(t, rec, "forbidden")
}

// TestConsoleExportNotCrossSite: the downloads that mark batches exported
// are GETs, which carry no CSRF token and get the Lax session cookie on a
// link from any site: one another site started is refused and changes
// nothing; the console's own link works.
func TestConsoleExportNotCrossSite(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.emptyBatch(true, "approved")
	token, _ := f.consoleSession(auth.RoleTax)
	get := func(path, site string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.20:1234"
		req.Header.Set("Sec-Fetch-Site", site)
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
		rec := httptest.NewRecorder()
		f.e.ServeHTTP(rec, req)
		return rec
	}
	for _, path := range []string{"/tax/batches/" + id + "/export?format=csv", "/tax/export.zip?date=2026-11-19"} {
		for _, site := range []string{"cross-site", "same-site"} {
			rec := get(path, site)
			if rec.Code != http.StatusForbidden || batchState(t, f, id) != "approved" {
				t.Errorf("%s started %s: %d, batch %s; want 403 and still approved", path, site, rec.Code, batchState(t, f, id))
			}
			checkHTMLError(t, rec, "csrf_invalid")
		}
	}
	if rec := get("/tax/batches/"+id+"/export?format=csv", "same-origin"); rec.Code != http.StatusOK || batchState(t, f, id) != "exported" {
		t.Errorf("the console's own download: %d, batch %s; want 200 and exported", rec.Code, batchState(t, f, id))
	}
}

// TestConsoleTaxBatchesTotal: the total under the tax office's batch list
// counts a day's money once — a rejected batch's collections are in the
// day's next revision too.
func TestConsoleTaxBatchesTotal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, state := range []string{"rejected", "approved"} {
		if _, err := f.db.Pool.Exec(t.Context(), `UPDATE batch SET count = 1, total_fen = 40000 WHERE id = $1`, f.emptyBatch(true, state)); err != nil {
			t.Fatal(err)
		}
	}
	token, _ := f.consoleSession(auth.RoleTax)
	total := regexp.MustCompile(`<tfoot><tr><td colspan="5">合计</td><td class="num">([^<]*)</td>`)
	for path, want := range map[string]string{"/tax/batches": "400.00", "/tax/batches?state=rejected": "400.00", "/tax/batches?state=approved": "400.00"} {
		rec := f.page(http.MethodGet, path, token, nil)
		if m := total.FindStringSubmatch(rec.Body.String()); rec.Code != http.StatusOK || m == nil || m[1] != want {
			t.Errorf("%s: %d, total %v; want %s", path, rec.Code, m, want)
		}
	}
}

// TestConsoleCutNothingWaiting: "cut today's batch" with nothing waiting
// says so on the batch list rather than on an error page, and makes no
// empty batch.
func TestConsoleCutNothingWaiting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, ss := f.consoleSession(auth.RoleTownship)
	rec := f.page(http.MethodPost, "/township/batches/cut", token, withCSRF(nil, ss))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/township/batches" {
		t.Fatalf("cut with nothing waiting: %d to %q, want 303 to the batch list", rec.Code, rec.Header().Get("Location"))
	}
	next := httptest.NewRequest(http.MethodGet, "/township/batches", nil)
	next.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
	for _, c := range rec.Result().Cookies() {
		next.AddCookie(c)
	}
	page := httptest.NewRecorder()
	f.e.ServeHTTP(page, next)
	if !strings.Contains(page.Body.String(), "没有待解缴的收款") {
		t.Errorf("the list does not say nothing was waiting: %.500s", mainOf(page))
	}
	var n int
	f.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM batch`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d batches made from nothing", n)
	}
}

// TestConsoleUnknownPage: a browser asking for an address the console does
// not have gets the console's 404 page; API clients keep the JSON error.
func TestConsoleUnknownPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	browser := httptest.NewRequest(http.MethodGet, "/township/no-such-page", nil)
	browser.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, browser)
	if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("a browser's unknown page: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	checkHTMLError(t, rec, "not_found")
	if rec.Header().Get("Content-Security-Policy") == "" {
		t.Error("the 404 page has no Content-Security-Policy")
	}
	api := httptest.NewRequest(http.MethodGet, "/api/v1/no-such-call", nil)
	api.Header.Set("Accept", "text/html")
	rec = httptest.NewRecorder()
	f.e.ServeHTTP(rec, api)
	if rec.Code != http.StatusNotFound || errCode(t, rec) != "not_found" {
		t.Fatalf("an unknown API call: %d %s", rec.Code, rec.Body)
	}
}
