package web

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/syncproto"
)

// pageTemplate is one page: the layout plus the page's own file, which
// defines "content".
type pageTemplate struct{ t *template.Template }

// mustParse parses every templates/*.html but the layout into a page of
// the same name (without .html). Files named partial_*.html are shared by
// every page and are not pages themselves.
func mustParse(funcs template.FuncMap) map[string]*pageTemplate {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	var partials []string
	for _, f := range files {
		if strings.HasPrefix(path.Base(f), "partial_") {
			partials = append(partials, f)
		}
	}
	pages := map[string]*pageTemplate{}
	for _, f := range files {
		base := path.Base(f)
		if base == "layout.html" || strings.HasPrefix(base, "partial_") {
			continue
		}
		patterns := append([]string{"templates/layout.html", f}, partials...)
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, patterns...))
		pages[strings.TrimSuffix(base, ".html")] = &pageTemplate{t: t}
	}
	return pages
}

// View is what the layout renders around every page.
type View struct {
	Title string
	User  *UserView // nil when not signed in (login, some errors)
	Nav   []NavItem
	CSRF  string // the session's token, for every form: {{template "csrf" $}}
	Flash *Flash
	Data  any // the page's own data
}

// UserView is the signed-in user as the header shows it.
type UserView struct {
	Name         string
	Role         auth.Role
	RoleLabel    string
	TownshipCode string
	TownshipName string
}

// Flash is a one-time message shown at the top of the next page, carried
// across a redirect in a short-lived cookie (the server keeps no state).
type Flash struct {
	OK   bool
	Text string
}

const flashCookie = "vs_flash"

// SetFlash shows text (escaped) on the next page rendered for this
// browser; ok chooses a success or an error style.
func (c *Console) SetFlash(e echo.Context, ok bool, text string) {
	v := "e"
	if ok {
		v = "o"
	}
	e.SetCookie(c.cookie(e, flashCookie, v+base64.RawURLEncoding.EncodeToString([]byte(text)), 60))
}

func (c *Console) takeFlash(e echo.Context) *Flash {
	ck, err := e.Cookie(flashCookie)
	if err != nil || len(ck.Value) < 1 {
		return nil
	}
	e.SetCookie(c.cookie(e, flashCookie, "", -1))
	text, err := base64.RawURLEncoding.DecodeString(ck.Value[1:])
	if err != nil {
		return nil
	}
	return &Flash{OK: ck.Value[0] == 'o', Text: string(text)}
}

// Render writes page with the layout: title, the user and nav of the
// session in the request (if any), the CSRF token, a pending flash.
func (c *Console) Render(e echo.Context, status int, page, title string, data any) error {
	pt := c.pages[page]
	if pt == nil {
		return fmt.Errorf("web: no template %q", page)
	}
	v := View{Title: title, Data: data, Flash: c.takeFlash(e)}
	if ss, ok := auth.SessionFrom(e.Request().Context()); ok {
		v.CSRF = ss.CSRF
		v.User = c.userView(e, ss)
		v.Nav = navFor(ss.Principal.Role, e.Request().URL.Path)
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	if e.Request().Method == http.MethodHead {
		return e.NoContent(status)
	}
	return e.HTMLBlob(status, buf.Bytes())
}

func (c *Console) userView(e echo.Context, ss auth.Session) *UserView {
	p := ss.Principal
	u := &UserView{Name: ss.DisplayName, Role: p.Role, RoleLabel: RoleLabel(p.Role), TownshipCode: p.Township}
	if u.Name == "" {
		u.Name = p.Username
	}
	if p.Township != "" {
		if t, err := c.db.Township(e.Request().Context(), p.Township); err == nil {
			u.TownshipName = t.Name
		}
	}
	return u
}

// ErrorPage is the data of the error page.
type ErrorPage struct {
	Status    int
	Code      string
	Message   string
	MessageZH string
}

// RenderError renders the error page: the Chinese message, the stable
// error code and the English message, with the status given.
func (c *Console) RenderError(e echo.Context, status int, code, message, messageZH string) error {
	title := "出错了"
	switch status {
	case http.StatusForbidden:
		title = "无权访问"
	case http.StatusNotFound:
		title = "页面不存在"
	}
	return c.Render(e, status, "error", title, ErrorPage{Status: status, Code: code, Message: message, MessageZH: messageZH})
}

// RoleLabel is the Chinese name of a role.
func RoleLabel(r auth.Role) string {
	return map[auth.Role]string{auth.RoleAdmin: "管理员", auth.RoleTownship: "镇街经办", auth.RoleTax: "税务",
		auth.RoleHRSS: "人社", auth.RoleMedsec: "医保", auth.RoleAgent: "代办员"}[r]
}

// BatchStateLabel is the Chinese name of a batch state.
func BatchStateLabel(s string) string {
	return map[string]string{remitSubmitted: "待审核", remitApproved: "已审核", remitRejected: "已退回",
		remitExported: "已下载", remitPosted: "已入库", remitPartial: "部分入库"}[s]
}

const (
	remitSubmitted = "submitted"
	remitApproved  = "approved"
	remitRejected  = "rejected"
	remitExported  = "exported"
	remitPosted    = "posted"
	remitPartial   = "partially_posted"
)

// funcs are the template functions every page may use.
func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		// yuan formats fen as yuan with two decimals: 1234.50.
		"yuan": func(v any) string {
			switch m := v.(type) {
			case syncproto.Money:
				return m.String()
			case int64:
				return syncproto.Money(m).String()
			case int:
				return syncproto.Money(m).String()
			}
			return fmt.Sprint(v)
		},
		// masked hides the birth date and sequence of an ID number.
		"masked":    func(id string) string { return syncproto.ResidentID(id).Masked() },
		"kind":      func(k any) string { return syncproto.Kind(fmt.Sprint(k)).Label() },
		"kindShort": func(k any) string { return syncproto.Kind(fmt.Sprint(k)).ShortLabel() },
		"state":     BatchStateLabel,
		"role":      func(r any) string { return RoleLabel(auth.Role(fmt.Sprint(r))) },
		// datetime and date show times in Asia/Shanghai.
		"datetime": func(v any) string { return c.formatTime(v, "2006-01-02 15:04") },
		"date":     func(v any) string { return c.formatTime(v, time.DateOnly) },
		"pct": func(f float64) string {
			return fmt.Sprintf("%.1f%%", f*100)
		},
		// pngData is an inline PNG (a QR code) for an img src; the CSP
		// allows data: images and nothing else inline.
		"pngData": func(b []byte) template.URL {
			return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
		},
		"add":     func(a, b int) int { return a + b },
		"receipt": func(n int64) string { return syncproto.FormatReceipt(n) },
		"flag":    FlagLabel,
	}
}

func (c *Console) formatTime(v any, layout string) string {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.In(c.shanghai).Format(layout)
	case *time.Time:
		if t == nil || t.IsZero() {
			return ""
		}
		return t.In(c.shanghai).Format(layout)
	case string:
		return t
	}
	return fmt.Sprint(v)
}

func itoa(n int) string { return strconv.Itoa(n) }
