package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/syncproto"
)

// ErrCSRF answers an unsafe request whose form lacks the session's CSRF
// token: nothing is changed.
var ErrCSRF = syncproto.Errorf("csrf_invalid",
	"the form's security token is missing or wrong (CSRF): reload the page and submit again; nothing was changed",
	"表单安全校验失败（CSRF）：请刷新页面后重新提交，本次操作未生效")

// loginPage is the data of the login form.
type loginPage struct {
	Next     string
	Username string
	Token    string
	Error    string
	Bye      bool // just logged out
}

// safeNext keeps a redirect target on this site: a path, never a scheme
// or another host ("//evil", "/\evil"). Control characters are refused
// outright: browsers drop tabs and newlines anywhere in a URL, so
// "/\t/evil" would be "//evil" to them.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return ""
	}
	return next
}

// LoginForm shows the login form. A fresh token in a cookie and in the
// form protects the login itself against CSRF (double submit).
func (c *Console) LoginForm(e echo.Context) error {
	if ss, err := c.auth.SessionOf(e.Request().Context(), SessionToken(e), c.cfg.Sessions); err == nil {
		return e.Redirect(http.StatusSeeOther, c.landing(ss.Principal.Role, e.QueryParam("next")))
	}
	return c.renderLogin(e, http.StatusOK, loginPage{Next: safeNext(e.QueryParam("next")), Bye: e.QueryParam("bye") != ""})
}

func (c *Console) renderLogin(e echo.Context, status int, lp loginPage) error {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	lp.Token = base64.RawURLEncoding.EncodeToString(b[:])
	e.SetCookie(c.cookie(e, loginCSRFCookie, lp.Token, 0))
	return c.Render(e, status, "login", "登录", lp)
}

// Login checks the credentials with the API's password check, limits and
// lock-out, opens a session and sets its cookie.
func (c *Console) Login(e echo.Context) error {
	ck, err := e.Cookie(loginCSRFCookie)
	form := e.FormValue(CSRFField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		return ErrCSRF
	}
	lp := loginPage{Next: safeNext(e.FormValue("next")), Username: strings.TrimSpace(e.FormValue("username"))}
	token, ss, err := c.auth.LoginSession(e.Request().Context(), lp.Username, e.FormValue("password"), c.cfg.Sessions)
	var ce *syncproto.Error
	if errors.As(err, &ce) && ce.Code != syncproto.CodeInternal {
		status := http.StatusUnauthorized
		switch ce.Code {
		case syncproto.CodeRateLimited:
			status = http.StatusTooManyRequests
		case syncproto.CodeForbidden:
			status = http.StatusForbidden
		}
		lp.Error = ce.MessageZH
		return c.renderLogin(e, status, lp)
	}
	if err != nil {
		return err
	}
	e.SetCookie(c.cookie(e, loginCSRFCookie, "", -1))
	e.SetCookie(c.cookie(e, SessionCookie, token, int(c.cfg.Sessions.Absolute.Seconds())))
	return e.Redirect(http.StatusSeeOther, c.landing(ss.Principal.Role, lp.Next))
}

func (c *Console) landing(r auth.Role, next string) string {
	if n := safeNext(next); n != "" {
		return n
	}
	return homeOf(r)
}

// Logout ends the session and drops its cookie.
func (c *Console) Logout(e echo.Context) error {
	if err := c.auth.EndSession(e.Request().Context(), SessionToken(e)); err != nil {
		return err
	}
	e.SetCookie(c.cookie(e, SessionCookie, "", -1))
	return e.Redirect(http.StatusSeeOther, "/login?bye=1")
}

// Home sends a signed-in user to the first page of their role.
func (c *Console) Home(e echo.Context) error {
	ss, _ := auth.SessionFrom(e.Request().Context())
	return e.Redirect(http.StatusSeeOther, homeOf(ss.Principal.Role))
}

// Account shows who is signed in: the page every staff role may open.
func (c *Console) Account(e echo.Context) error {
	ss, _ := auth.SessionFrom(e.Request().Context())
	return c.Render(e, http.StatusOK, "account", "我的账户", ss)
}

// Static serves the embedded CSS and JavaScript. They hold no personal
// data and may be cached for an hour.
func (c *Console) Static(e echo.Context) error {
	name := strings.TrimPrefix(e.Param("*"), "/")
	data, err := readStatic(c, name)
	if err != nil {
		return echo.ErrNotFound
	}
	ctype := "application/octet-stream"
	switch {
	case strings.HasSuffix(name, ".css"):
		ctype = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		ctype = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".svg"):
		ctype = "image/svg+xml"
	}
	e.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return e.Blob(http.StatusOK, ctype, data)
}
