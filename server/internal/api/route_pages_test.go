package api_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"villagesync/server/internal/api"
	"villagesync/server/internal/auth"
	"villagesync/server/internal/web"
)

// pageCase builds a console request: the path and the form (the CSRF
// field is added by the walker). A form value under "@file" is sent as a
// multipart upload: {file name, content}.
type pageCase func(f *fixture, inScope bool) (path string, form url.Values)

// pageCases holds one request builder for every non-public page of the
// township and tax consoles; districtPageCases the other pages'.
var pageCases = map[string]pageCase{
	"POST /logout": func(*fixture, bool) (string, url.Values) { return "/logout", nil },
	"GET /":        func(*fixture, bool) (string, url.Values) { return "/", nil },
	"GET /account": func(*fixture, bool) (string, url.Values) { return "/account", nil },

	"GET /township":         func(*fixture, bool) (string, url.Values) { return "/township", nil },
	"GET /township/batches": func(*fixture, bool) (string, url.Values) { return "/township/batches", nil },
	"POST /township/batches/cut": func(f *fixture, _ bool) (string, url.Values) {
		f.waitingCollection(true)
		return "/township/batches/cut", nil
	},
	"GET /township/batches/:id": func(f *fixture, in bool) (string, url.Values) {
		return "/township/batches/" + f.emptyBatch(in, "submitted"), nil
	},
	"POST /township/batches/:id/approve": func(f *fixture, in bool) (string, url.Values) {
		return "/township/batches/" + f.emptyBatch(in, "submitted") + "/approve", nil
	},
	"POST /township/batches/:id/reject": func(f *fixture, in bool) (string, url.Values) {
		return "/township/batches/" + f.emptyBatch(in, "submitted") + "/reject", url.Values{"reason": {"金额不符"}}
	},
	"GET /township/agents":  func(*fixture, bool) (string, url.Values) { return "/township/agents", nil },
	"GET /township/devices": func(*fixture, bool) (string, url.Values) { return "/township/devices", nil },
	"POST /township/devices/:id/revoke": func(f *fixture, in bool) (string, url.Values) {
		if in {
			return "/township/devices/" + f.deviceA + "/revoke", nil
		}
		return "/township/devices/" + f.deviceB + "/revoke", nil
	},
	"POST /township/enrollment-codes": func(f *fixture, _ bool) (string, url.Values) {
		return "/township/enrollment-codes", url.Values{"agent_id": {f.user["agenta"].ID}}
	},
	"GET /township/flags":   func(*fixture, bool) (string, url.Values) { return "/township/flags", nil },
	"GET /township/refunds": func(*fixture, bool) (string, url.Values) { return "/township/refunds", nil },
	"POST /township/refunds": func(f *fixture, _ bool) (string, url.Values) {
		return "/township/refunds", url.Values{"collection_id": {f.flaggedCollection(true)}, "reason": {"重复缴费"}}
	},
	"POST /township/refunds/:id/complete": func(f *fixture, in bool) (string, url.Values) {
		return "/township/refunds/" + f.refund(in, "approved") + "/complete", nil
	},

	"GET /tax/batches": func(*fixture, bool) (string, url.Values) { return "/tax/batches?state=approved", nil },
	"GET /tax/batches/:id": func(f *fixture, _ bool) (string, url.Values) {
		return "/tax/batches/" + f.emptyBatch(true, "approved"), nil
	},
	"GET /tax/batches/:id/export": func(f *fixture, _ bool) (string, url.Values) {
		return "/tax/batches/" + f.emptyBatch(true, "approved") + "/export?format=json", nil
	},
	"GET /tax/export.zip": func(*fixture, bool) (string, url.Values) { return "/tax/export.zip?date=2026-11-20", nil },
	"POST /tax/batches/:id/postings": func(f *fixture, _ bool) (string, url.Values) {
		return "/tax/batches/" + f.batchWithLine("exported") + "/postings",
			url.Values{"@file": {"post.csv", "序号,完税凭证号,入库日期,错误信息\n1,V-1,2026-11-19,\n"}}
	},
	"POST /tax/postings/report.csv": func(*fixture, bool) (string, url.Values) {
		return "/tax/postings/report.csv", url.Values{"report": {`[{"row":2,"column":"序号","value":"9","code":"posting_no_line","message":"no line 9","message_zh":"无第 9 行"}]`}}
	},
	"GET /tax/refunds": func(*fixture, bool) (string, url.Values) { return "/tax/refunds", nil },
	"POST /tax/refunds/:id/approve": func(f *fixture, in bool) (string, url.Values) {
		return "/tax/refunds/" + f.refund(in, "requested") + "/approve", nil
	},
	"GET /tax/reconciliation": func(*fixture, bool) (string, url.Values) {
		return "/tax/reconciliation?date=2026-11-20", nil
	},
}

func allPageCases() map[string]pageCase {
	all := maps.Clone(pageCases)
	maps.Copy(all, districtPageCases)
	return all
}

// consoleSession signs a staff role in to the console and returns the
// cookie token and the session (its CSRF token).
func (f *fixture) consoleSession(role auth.Role) (string, auth.Session) {
	f.t.Helper()
	name := map[auth.Role]string{auth.RoleAdmin: "admin", auth.RoleTownship: "twpx", auth.RoleTax: "tax",
		auth.RoleHRSS: "hrss", auth.RoleMedsec: "medsec"}[role]
	token, ss, err := f.svc.LoginSession(auth.WithClientIP(f.t.Context(), "192.0.2.20"), name, pw, auth.DefaultSessionLimits)
	if err != nil {
		f.t.Fatalf("console login %s: %v", name, err)
	}
	return token, ss
}

// page sends a console request with the session cookie (none when
// token is ""), the form url-encoded or multipart.
func (f *fixture) page(method, path, token string, form url.Values) *httptest.ResponseRecorder {
	f.t.Helper()
	var body io.Reader
	ctype := ""
	if file, ok := form["@file"]; ok {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, vs := range form {
			if k == "@file" {
				continue
			}
			for _, v := range vs {
				if err := mw.WriteField(k, v); err != nil {
					f.t.Fatal(err)
				}
			}
		}
		w, err := mw.CreateFormFile("file", file[0])
		if err != nil {
			f.t.Fatal(err)
		}
		if _, err := io.WriteString(w, file[1]); err != nil {
			f.t.Fatal(err)
		}
		if err := mw.Close(); err != nil {
			f.t.Fatal(err)
		}
		body, ctype = &buf, mw.FormDataContentType()
	} else if method != http.MethodGet {
		body, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	}
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = "192.0.2.20:1234"
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	return rec
}

// withCSRF returns form plus the session's CSRF token.
func withCSRF(form url.Values, ss auth.Session) url.Values {
	out := url.Values{}
	maps.Copy(out, form)
	out.Set(web.CSRFField, ss.CSRF)
	return out
}

// pageOK reports whether a page answered as a success: 2xx, or a 303
// that does not send the caller to the login page and carries no error
// flash (a refused action is shown on the page it redirects to).
func pageOK(rec *httptest.ResponseRecorder) bool {
	if rec.Code >= 200 && rec.Code < 300 {
		return true
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "vs_flash" && strings.HasPrefix(c.Value, "e") {
			return false
		}
	}
	return rec.Code == http.StatusSeeOther && !strings.HasPrefix(rec.Header().Get("Location"), "/login")
}

// TestPageRouteTable walks every console page of the table: every staff
// role × in-scope and out-of-scope targets (403 HTML outside role or
// scope), without a session (303 to the login page) and, for unsafe
// methods, without the CSRF token (403, nothing done).
func TestPageRouteTable(t *testing.T) {
	t.Parallel()
	meta := newFixture(t)
	cases := allPageCases()
	for _, r := range api.Routes(meta.srv) {
		if !r.Page || r.Public {
			continue
		}
		key := r.Method + " " + r.Path
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			build := cases[key]
			if build == nil {
				t.Skip("no case: TestRouteTableCovered fails for it")
			}
			for _, role := range auth.Roles() {
				if role == auth.RoleAgent {
					continue // agents cannot sign in to the console: TestConsoleLoginRefusesAgents
				}
				for _, in := range []bool{true, false} {
					if r.Scope == api.ScopeNone && !in {
						continue
					}
					f := newFixture(t)
					token, ss := f.consoleSession(role)
					path, form := build(f, in)
					rec := f.page(r.Method, path, token, withCSRF(form, ss))
					want := "ok"
					if !allowed(r, role, in) {
						want = "403"
					}
					got := fmt.Sprint(rec.Code)
					if pageOK(rec) || (key == "POST /logout" && rec.Header().Get("Location") == "/login?bye=1") {
						got = "ok"
					}
					if got != want {
						t.Errorf("%s as %s (in scope %v): %d %s, want %s: %s %.300s", key, role, in, rec.Code, rec.Header().Get("Location"), want, unexpected(f), mainOf(rec))
					}
					if want == "403" && got == "403" {
						checkHTMLError(t, rec, "forbidden")
					}
				}
			}
			f := newFixture(t)
			path, form := build(f, true)
			rec := f.page(r.Method, path, "", form)
			if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
				t.Errorf("%s with no session: %d to %q, want 303 to /login", key, rec.Code, loc)
			}
			if r.Method == http.MethodGet {
				if loc := rec.Header().Get("Location"); loc != "/login?next="+url.QueryEscape(path) {
					t.Errorf("%s with no session: to %q, want back to %s after login", key, loc, path)
				}
				return
			}
			role := r.Roles[0]
			f = newFixture(t)
			token, _ := f.consoleSession(role)
			path, form = build(f, true)
			rec = f.page(r.Method, path, token, form)
			if rec.Code != http.StatusForbidden {
				t.Errorf("%s as %s without the CSRF token: %d, want 403", key, role, rec.Code)
			}
			checkHTMLError(t, rec, "csrf_invalid")
		})
	}
}

// checkHTMLError checks a page error: an HTML page showing the code, with
// the console's security headers.
func checkHTMLError(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("error page is %q, want HTML", ct)
	}
	if !strings.Contains(rec.Body.String(), `<code id="error-code">`+code+`</code>`) {
		t.Errorf("error page does not show code %s: %.300s", code, rec.Body)
	}
	if rec.Header().Get("Content-Security-Policy") != web.CSP {
		t.Errorf("error page without the CSP")
	}
}

// mainOf is the main part of a page, for failure messages.
func mainOf(rec *httptest.ResponseRecorder) string {
	b := rec.Body.String()
	if i := strings.Index(b, "<main>"); i >= 0 {
		return b[i:]
	}
	return b
}

// unexpected is the server's log lines of unexpected errors.
func unexpected(f *fixture) string {
	var out []string
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "unexpected error") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
