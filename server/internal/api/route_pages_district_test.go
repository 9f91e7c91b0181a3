package api_test

import (
	"encoding/base64"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// districtPageCases are the route-table test cases of the HRSS/medical
// security, admin and dashboard pages.
var districtPageCases = map[string]pageCase{
	"GET /dashboard": func(_ *fixture, in bool) (string, url.Values) {
		return "/dashboard?township=" + pick(in, twpX, twpY), nil
	},
	"GET /hrss/rosters": func(*fixture, bool) (string, url.Values) { return "/hrss/rosters", nil },
	"POST /hrss/rosters": func(f *fixture, _ bool) (string, url.Values) {
		return "/hrss/rosters", url.Values{"@file": {"r.csv", rosterFile(f.sessionRole()).data}}
	},
	"POST /hrss/rosters/apply": func(f *fixture, _ bool) (string, url.Values) {
		id, content := f.dryRun(f.sessionRole())
		return "/hrss/rosters/apply", url.Values{"dry_run_id": {id}, "content": {content}}
	},
	"GET /hrss/rosters/imports/:id": func(f *fixture, _ bool) (string, url.Values) {
		id, _ := f.dryRun(bureauOf(f.sessionRole()))
		return "/hrss/rosters/imports/" + id, nil
	},
	"GET /hrss/rosters/imports/:id/report": func(f *fixture, _ bool) (string, url.Values) {
		id, _ := f.dryRun(bureauOf(f.sessionRole()))
		return "/hrss/rosters/imports/" + id + "/report?format=xlsx", nil
	},
	"GET /hrss/paid":          func(*fixture, bool) (string, url.Values) { return "/hrss/paid", nil },
	"GET /hrss/paid/download": func(*fixture, bool) (string, url.Values) { return "/hrss/paid/download?year=2026&format=csv", nil },

	"GET /admin/townships": func(*fixture, bool) (string, url.Values) { return "/admin/townships", nil },
	"POST /admin/townships": func(*fixture, bool) (string, url.Values) {
		return "/admin/townships", url.Values{"code": {"370403009"}, "name": {"新城街道"}}
	},
	"GET /admin/villages": func(_ *fixture, in bool) (string, url.Values) {
		return "/admin/villages?township=" + pick(in, twpX, twpY), nil
	},
	"POST /admin/villages": func(*fixture, bool) (string, url.Values) {
		return "/admin/villages", url.Values{"code": {twpX + "299"}, "name": {"新村"}}
	},
	"GET /users": func(*fixture, bool) (string, url.Values) { return "/users", nil },
	"POST /users": func(_ *fixture, in bool) (string, url.Values) {
		return "/users", url.Values{"username": {"newagent"}, "display_name": {"新代办员"}, "password": {pw},
			"role": {"agent"}, "township_code": {pick(in, twpX, twpY)}, "villages": {pick(in, vilA, vilB)}}
	},
	"POST /users/:id/disable": func(f *fixture, in bool) (string, url.Values) {
		return "/users/" + f.user[pick(in, "agenta", "agentb")].ID + "/disable", nil
	},
	"POST /users/:id/enable": func(f *fixture, in bool) (string, url.Values) {
		return "/users/" + f.user[pick(in, "agenta", "agentb")].ID + "/enable", nil
	},
	"GET /admin/settings": func(*fixture, bool) (string, url.Values) { return "/admin/settings?year=2026", nil },
	"POST /admin/settings": func(*fixture, bool) (string, url.Values) {
		return "/admin/settings", settingsForm(settings.Shandong2026Medical("370403"), "380.00")
	},
}

// bureauOf is the bureau whose import a role may read: its own, or for
// the other roles (admin) medical security's.
func bureauOf(role auth.Role) auth.Role {
	if role == auth.RoleHRSS {
		return role
	}
	return auth.RoleMedsec
}

// pick is a when in, else b.
func pick(in bool, a, b string) string {
	if in {
		return a
	}
	return b
}

// sessionRole is the role of the one console session of a fresh fixture:
// the role TestPageRouteTable signed in with before it built the case
// (a roster file is of the uploading bureau's kind); HRSS when there is
// none.
func (f *fixture) sessionRole() auth.Role {
	f.t.Helper()
	var role string
	err := f.db.Pool.QueryRow(f.t.Context(), `SELECT u.role FROM web_session s JOIN app_user u ON u.id = s.user_id
		ORDER BY s.created_at DESC LIMIT 1`).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.RoleHRSS // no session: the request is refused before it is read
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return auth.Role(role)
}

// dryRun runs a dry run of a valid roster through the API as role (HRSS
// for a role that owns no roster) and returns its import ID and the file
// as the dry-run page carries it.
func (f *fixture) dryRun(role auth.Role) (string, string) {
	f.t.Helper()
	if role != auth.RoleMedsec {
		role = auth.RoleHRSS
	}
	file := rosterFile(role)
	var out struct{ ID string }
	f.do(http.MethodPost, "/api/v1/rosters?dry_run=1&filename=r.csv", f.token[role], file, http.StatusOK, &out)
	return out.ID, base64.StdEncoding.EncodeToString([]byte(file.data))
}

// settingsForm is the settings page's form of y, with the medical
// premium given in yuan.
func settingsForm(y settings.Year, premium string) url.Values {
	return url.Values{"year": {"2026"}, "kind": {string(y.Kind)}, "region": {y.Region},
		"period_start": {y.PeriodStart}, "period_end": {y.PeriodEnd}, "cash_limit": {y.CashLimit.String()},
		"time_limit_hours": {"24"}, "cutoff": {y.Cutoff}, "premium": {premium}, "subsidy": {"低保 200\n特困 380.00"}}
}

// console signs staff in to the console once per role (logins are rate
// limited) and opens pages as them.
type console struct {
	f        *fixture
	sessions map[auth.Role]auth.Session
	tokens   map[auth.Role]string
}

func newConsole(f *fixture) *console {
	return &console{f: f, sessions: map[auth.Role]auth.Session{}, tokens: map[auth.Role]string{}}
}

// token is role's session cookie and session.
func (c *console) token(role auth.Role) (string, auth.Session) {
	if _, ok := c.tokens[role]; !ok {
		c.tokens[role], c.sessions[role] = c.f.consoleSession(role)
	}
	return c.tokens[role], c.sessions[role]
}

// open opens a page as role, the CSRF token added to a form, and fails
// unless it answers want; it returns the body, or the Location of a 303.
func (c *console) open(role auth.Role, method, path string, form url.Values, want int) string {
	c.f.t.Helper()
	token, ss := c.token(role)
	if method != http.MethodGet {
		form = withCSRF(form, ss)
	}
	rec := c.f.page(method, path, token, form)
	if rec.Code != want {
		c.f.t.Fatalf("%s %s as %s: %d (%s), want %d: %.600s", method, path, role, rec.Code, rec.Header().Get("Location"), want, rec.Body)
	}
	if rec.Code == http.StatusSeeOther {
		return rec.Header().Get("Location")
	}
	return rec.Body.String()
}

// mustContain fails unless body holds every string of want.
func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// rowOf returns the table row of body whose data attribute is attr.
func rowOf(t *testing.T, body, attr string) string {
	t.Helper()
	i := strings.Index(body, attr)
	if i < 0 {
		t.Fatalf("no row %s", attr)
	}
	row := body[i:]
	return row[:strings.Index(row, "</tr>")]
}

// TestConsoleDashboard loads a medical roster of two persons of 临城街道
// (one in each of its villages), one paid, one paid and voided, and checks
// the figures and charts of the district and the township.
func TestConsoleDashboard(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := newConsole(f)
	file := "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n" +
		"张三,11010519491231002X," + vilA + ",医疗,一般,2026,400.00,0\n" +
		"李四," + validID(t, "37040319800101003") + "," + vilA2 + ",医疗,一般,2026,400.00,0\n"
	f.do(http.MethodPost, "/api/v1/rosters?filename=r.csv", f.token[auth.RoleMedsec], rawBody{file}, http.StatusCreated, nil)
	f.paid("11010519491231002X", vilA, "posted", "2026-11-19")
	f.paid(validID(t, "37040319800101003"), vilA2, "voided", "2026-11-19")

	body := c.open(auth.RoleAdmin, http.MethodGet, "/dashboard?year=2026", nil, http.StatusOK)
	row := rowOf(t, body, `data-code="`+twpX+`"`)
	// Medical: 2 on the roster, 1 paid, 50.0 %, 400.00 yuan.
	mustContain(t, "临城街道's row", row, "临城街道", `<td class="num">2</td><td class="num">2</td><td class="num">1</td><td class="num">50.0%</td><td class="num">400.00</td>`)
	mustContain(t, "dashboard", body, `<svg xmlns="http://www.w3.org/2000/svg" class="progress-chart"`, "2026 年度全区分险种缴费进度",
		"2026 年度各镇街缴费进度", "医疗保险 50.0%", "临城街道 50.0%", "常庄街道 0.0%", "09-01", "1 / 2")
	if strings.Contains(body, "style=") || strings.Contains(body, "<script>") {
		t.Error("the dashboard has inline style or script")
	}

	body = c.open(auth.RoleTax, http.MethodGet, "/dashboard?year=2026&township="+twpX, nil, http.StatusOK)
	mustContain(t, "北临城社区's row", rowOf(t, body, `data-code="`+vilA+`"`), "北临城社区", "100.0%", "400.00")
	mustContain(t, "南临城社区's row", rowOf(t, body, `data-code="`+vilA2+`"`), "0.0%", "0.00")
	mustContain(t, "township dashboard", body, "临城街道征收进度", "2026 年度临城街道分险种缴费进度")

	c.open(auth.RoleTownship, http.MethodGet, "/dashboard", nil, http.StatusForbidden)
	c.open(auth.RoleAdmin, http.MethodGet, "/dashboard?township=370403999", nil, http.StatusNotFound)
	// A year without settings: figures, and a note instead of a chart.
	body = c.open(auth.RoleHRSS, http.MethodGet, "/dashboard?year=2030", nil, http.StatusOK)
	mustContain(t, "2030", body, "2030 年度尚未设置征收期", `<option value="2030" selected>`)
}

// validID completes 17 digits with their check digit.
func validID(tb testing.TB, first17 string) string {
	tb.Helper()
	c, err := syncproto.CheckDigit(first17)
	if err != nil {
		tb.Fatal(err)
	}
	return first17 + string(c)
}

// paid inserts a medical collection of 2026 of a person in village.
func (f *fixture) paid(residentID, village, status, day string) {
	f.t.Helper()
	_, err := f.db.Pool.Exec(f.t.Context(), `
		INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, resident_id, name,
			village_code, township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day,
			status, change_seq)
		SELECT $1, d.id, d.agent_id, $5, $5, coalesce((SELECT id FROM roster_entry WHERE resident_id = $2), 'x'), 0, $2, '某',
			$3, left($3, 9), 'medical', 2026, 'general', 40000, 40000, now(), now(), $4, $6, 0
		FROM device d WHERE d.id = $7`, f.db.NewID(), residentID, village, day, unique(), status, f.deviceA)
	if err != nil {
		f.t.Fatal(err)
	}
}

var (
	hiddenDryRun  = regexp.MustCompile(`name="dry_run_id" value="([^"]+)"`)
	hiddenContent = regexp.MustCompile(`name="content" value="([^"]+)"`)
)

// TestConsoleRosterUpload uploads a roster as medical security: the dry
// run shows the diff and changes nothing; applying needs the CSRF token
// and the very file of the caller's own dry run; a bad file shows its
// row errors and the report downloads.
func TestConsoleRosterUpload(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := newConsole(f)
	file := "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n" +
		"张三,11010519491231002X," + vilA + ",医疗,一般,2026,400.00,0\n" +
		"李四," + validID(t, "37040319800101003") + "," + vilB + ",医疗,一般,2026,400.00,0\n"
	body := c.open(auth.RoleMedsec, http.MethodGet, "/hrss/rosters", nil, http.StatusOK)
	mustContain(t, "roster page", body, `enctype="multipart/form-data"`, `name="csrf"`, "上传医疗保险征收清册")

	body = c.open(auth.RoleMedsec, http.MethodPost, "/hrss/rosters", url.Values{"@file": {"r.csv", file}}, http.StatusOK)
	mustContain(t, "dry run", body, `id="diff-added">2<`, `id="diff-removed">0<`, "试导入")
	id, content := hiddenDryRun.FindStringSubmatch(body), hiddenContent.FindStringSubmatch(body)
	if id == nil || content == nil {
		t.Fatalf("no apply form: %s", body)
	}
	counts := func() int {
		var n int
		if err := f.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM roster_entry`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := counts(); n != 0 {
		t.Fatalf("the dry run stored %d lines", n)
	}
	form := url.Values{"dry_run_id": {id[1]}, "content": {html.UnescapeString(content[1])}}
	token, _ := c.token(auth.RoleMedsec)
	if rec := f.page(http.MethodPost, "/hrss/rosters/apply", token, form); rec.Code != http.StatusForbidden || counts() != 0 {
		t.Fatalf("apply without the CSRF token: %d, %d lines", rec.Code, counts())
	}
	tampered := url.Values{"dry_run_id": {id[1]}, "content": {base64.StdEncoding.EncodeToString([]byte(file + "王五,x\n"))}}
	c.open(auth.RoleMedsec, http.MethodPost, "/hrss/rosters/apply", tampered, http.StatusBadRequest)
	c.open(auth.RoleHRSS, http.MethodPost, "/hrss/rosters/apply", form, http.StatusBadRequest) // not HRSS's dry run
	loc := c.open(auth.RoleMedsec, http.MethodPost, "/hrss/rosters/apply", form, http.StatusSeeOther)
	if !strings.HasPrefix(loc, "/hrss/rosters/imports/") || counts() != 2 {
		t.Fatalf("apply: to %q, %d lines", loc, counts())
	}
	mustContain(t, "applied import", c.open(auth.RoleMedsec, http.MethodGet, loc, nil, http.StatusOK), "已导入", "2 / 0 / 0 / 0")
	mustContain(t, "history", c.open(auth.RoleAdmin, http.MethodGet, "/hrss/rosters", nil, http.StatusOK), "已导入", "试导入", "r.csv")
	if body := c.open(auth.RoleHRSS, http.MethodGet, "/hrss/rosters", nil, http.StatusOK); strings.Contains(body, "r.csv") {
		t.Error("HRSS sees medical security's imports")
	}

	bad := "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n张三,110105194912310021," + vilA + ",医疗,一般,2026,400.00,0\n"
	body = c.open(auth.RoleMedsec, http.MethodPost, "/hrss/rosters", url.Values{"@file": {"bad.csv", bad}}, http.StatusUnprocessableEntity)
	mustContain(t, "refused", body, `id="row-errors"`, "110105194912310021", "未通过校验", `<td class="num">2</td>`)
	link := regexp.MustCompile(`href="(/hrss/rosters/imports/[^"]+/report\?format=csv)"`).FindStringSubmatch(body)
	if link == nil {
		t.Fatal("no report link")
	}
	token, _ = c.token(auth.RoleMedsec)
	rec := f.page(http.MethodGet, html.UnescapeString(link[1]), token, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Disposition"), "attachment") ||
		!strings.Contains(rec.Body.String(), "110105194912310021") {
		t.Fatalf("report: %d %q %s", rec.Code, rec.Header().Get("Content-Disposition"), rec.Body)
	}
}

// TestConsolePaidDownload downloads the paid details as medical security.
func TestConsolePaidDownload(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := newConsole(f)
	f.paid("11010519491231002X", vilA, "posted", "2026-11-19")
	f.paid(validID(t, "37040319800101003"), vilA, "voided", "2026-11-19")
	mustContain(t, "paid form", c.open(auth.RoleMedsec, http.MethodGet, "/hrss/paid", nil, http.StatusOK),
		`action="/hrss/paid/download"`, "北临城社区", `value="medical" selected`)
	token, _ := c.token(auth.RoleMedsec)
	rec := f.page(http.MethodGet, "/hrss/paid/download?year=2026&format=csv", token, nil)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Disposition") != `attachment; filename="paid_2026_medical.csv"` ||
		!strings.Contains(body, "缴费年度") || !strings.Contains(body, "11010519491231002X") ||
		strings.Contains(body, validID(t, "37040319800101003")) || !strings.Contains(body, "共1笔") {
		t.Fatalf("paid details: %d %q\n%s", rec.Code, rec.Header().Get("Content-Disposition"), body)
	}
}

// TestConsoleAdmin adds a township, a village and an agent, disables the
// agent and changes the medical premium, each through its form and
// audited by the service.
func TestConsoleAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := newConsole(f)
	c.open(auth.RoleAdmin, http.MethodPost, "/admin/townships", url.Values{"code": {"370403009"}, "name": {"新城街道"}}, http.StatusSeeOther)
	c.open(auth.RoleAdmin, http.MethodPost, "/admin/villages", url.Values{"code": {"370403009001"}, "name": {"新城社区"}}, http.StatusSeeOther)
	mustContain(t, "townships", c.open(auth.RoleAdmin, http.MethodGet, "/admin/townships", nil, http.StatusOK),
		"新城街道", "370403009", `<td class="num">1</td>`)
	mustContain(t, "villages", c.open(auth.RoleAdmin, http.MethodGet, "/admin/villages?township=370403009", nil, http.StatusOK), "新城社区")
	// A refused value comes back as a message on the page.
	if loc := c.open(auth.RoleAdmin, http.MethodPost, "/admin/villages", url.Values{"code": {"37040300900"}, "name": {"短"}}, http.StatusSeeOther); loc != "/admin/villages?township=370403009" {
		t.Errorf("refused village sent to %q", loc)
	}

	c.open(auth.RoleAdmin, http.MethodPost, "/users", url.Values{"username": {"zhaoliu"}, "display_name": {"赵六"},
		"password": {pw}, "role": {"agent"}, "township_code": {"370403009"}, "villages": {"370403009001"}}, http.StatusSeeOther)
	u, err := f.db.UserByUsername(t.Context(), f.db.Pool, "zhaoliu")
	if err != nil || u.TownshipCode != "370403009" || len(u.Villages) != 1 {
		t.Fatalf("created user %+v, %v", u, err)
	}
	mustContain(t, "users", rowOf(t, c.open(auth.RoleAdmin, http.MethodGet, "/users", nil, http.StatusOK), `data-user="zhaoliu"`),
		"赵六", "代办员", "370403009001", "正常")
	c.open(auth.RoleAdmin, http.MethodPost, "/users/"+u.ID+"/disable", nil, http.StatusSeeOther)
	mustContain(t, "users", rowOf(t, c.open(auth.RoleAdmin, http.MethodGet, "/users", nil, http.StatusOK), `data-user="zhaoliu"`), "已停用")
	// Township staff see their own township's users only, and may not add
	// one elsewhere.
	if body := c.open(auth.RoleTownship, http.MethodGet, "/users", nil, http.StatusOK); strings.Contains(body, "zhaoliu") || !strings.Contains(body, "agenta") {
		t.Error("township staff see the wrong users")
	}
	c.open(auth.RoleTownship, http.MethodPost, "/users", url.Values{"username": {"x1"}, "password": {pw},
		"township_code": {"370403009"}, "villages": {"370403009001"}}, http.StatusForbidden)
	// Out of their township: another township's villages and agents.
	c.open(auth.RoleTownship, http.MethodGet, "/admin/villages?township="+twpY, nil, http.StatusForbidden)
	c.open(auth.RoleTownship, http.MethodPost, "/users/"+f.user["agentb"].ID+"/disable", nil, http.StatusForbidden)
	if u, _ := f.db.UserByID(t.Context(), f.db.Pool, f.user["agentb"].ID); u.Disabled {
		t.Error("township staff disabled another township's agent")
	}
	mustContain(t, "own villages", c.open(auth.RoleTownship, http.MethodGet, "/admin/villages", nil, http.StatusOK), "北临城社区")

	c.open(auth.RoleAdmin, http.MethodPost, "/admin/settings", settingsForm(settings.Shandong2026Medical("370403"), "380.00"), http.StatusSeeOther)
	all, err := settings.NewService(f.db).All(t.Context(), 2026)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := settings.Resolve(all, syncproto.KindMedical, 2026, twpX)
	if y.Premium != 38000 || y.Subsidy[syncproto.CategoryDibao] != 20000 || y.Subsidy[syncproto.CategoryTekun] != 38000 {
		t.Fatalf("settings after the form: %+v", y)
	}
	entries, err := f.db.AuditLog(t.Context(), store.AuditFilter{Action: "settings_changed", Limit: 10})
	if err != nil || len(entries) == 0 || entries[0].ActorName != "admin" {
		t.Fatalf("audit of the change: %+v, %v", entries, err)
	}
	body := c.open(auth.RoleAdmin, http.MethodGet, "/admin/settings?year=2026", nil, http.StatusOK)
	mustContain(t, "settings", body, `name="premium" value="380.00"`, "特困人员 380.00", "300.00\n", "100.00 建档立卡贫困人口")
	// A bad value: the page says why, nothing changes.
	bad := settingsForm(settings.Shandong2026Medical("370403"), "3.8.0")
	if loc := c.open(auth.RoleAdmin, http.MethodPost, "/admin/settings", bad, http.StatusSeeOther); loc != "/admin/settings?year=2026" {
		t.Errorf("a bad premium sent to %q", loc)
	}
	// Other staff read the settings without a form.
	if body := c.open(auth.RoleTax, http.MethodGet, "/admin/settings?year=2026", nil, http.StatusOK); strings.Contains(body, `<form method="post" action="/admin/settings"`) || !strings.Contains(body, "2026-09-01 至 2026-12-31") {
		t.Error("tax gets the settings form, or not the settings")
	}
}

// TestConsoleRosterApplyStale: a dry run's apply is refused once another
// file of the kind was applied after it — it would undo that file's
// changes, which the dry run never showed — and nothing changes; the same
// form sent again after its own apply stays a no-op.
func TestConsoleRosterApplyStale(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := newConsole(f)
	head := "姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n"
	fileA := head + "张三,11010519491231002X," + vilA + ",医疗,一般,2026,400.00,0\n"
	fileB := head + "李四," + validID(t, "37040319800101003") + "," + vilA + ",医疗,一般,2026,400.00,0\n"
	dryRun := func(file string) url.Values {
		body := c.open(auth.RoleMedsec, http.MethodPost, "/hrss/rosters", url.Values{"@file": {"r.csv", file}}, http.StatusOK)
		id, content := hiddenDryRun.FindStringSubmatch(body), hiddenContent.FindStringSubmatch(body)
		if id == nil || content == nil {
			t.Fatalf("no apply form: %s", body)
		}
		return url.Values{"dry_run_id": {id[1]}, "content": {html.UnescapeString(content[1])}}
	}
	names := func() string {
		var s string
		if err := f.db.Pool.QueryRow(t.Context(), `SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM roster_entry`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	formA := dryRun(fileA)
	f.do(http.MethodPost, "/api/v1/rosters?filename=b.csv", f.token[auth.RoleMedsec], rawBody{fileB}, http.StatusCreated, nil)
	body := c.open(auth.RoleMedsec, http.MethodPost, "/hrss/rosters/apply", formA, http.StatusConflict)
	mustContain(t, "stale apply", body, "重新上传试导入")
	if got := names(); got != "李四" {
		t.Fatalf("after a stale apply the roster is %q, want B's 李四 alone", got)
	}

	formA = dryRun(fileA)
	c.open(auth.RoleMedsec, http.MethodPost, "/hrss/rosters/apply", formA, http.StatusSeeOther)
	if got := names(); got != "张三" {
		t.Fatalf("after a fresh dry run and apply the roster is %q, want A's 张三", got)
	}
	if loc := c.open(auth.RoleMedsec, http.MethodPost, "/hrss/rosters/apply", formA, http.StatusSeeOther); loc != "/hrss/rosters" {
		t.Errorf("the same apply again: to %q, want the history with 'unchanged'", loc)
	}
}
