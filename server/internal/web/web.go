// Package web is the server's web console: server-rendered pages for
// township, tax, HRSS/medical security and admin staff. Templates and
// static files are embedded; there is no build step and no CDN.
//
// Every page is a line of the API's one route table (api.Route with Page
// set): the api package authenticates the session cookie, checks the role
// and scope and the CSRF token of unsafe methods before a handler here
// runs. Handlers are thin, like the JSON ones: take the principal, call
// the same service method the API calls, render.
package web

import (
	"bytes"
	"embed"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	vsync "villagesync/server/internal/sync"
	"villagesync/syncproto"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config holds the console's settings.
type Config struct {
	// SecureCookies marks cookies Secure even on plain HTTP requests: set
	// it when a TLS-terminating proxy sits in front of the server.
	// Requests that arrive over TLS always get Secure cookies.
	SecureCookies bool
	// Sessions are the lifetimes of a console session.
	Sessions auth.SessionLimits
}

// Deps are the services the pages call: the same ones the JSON API calls.
type Deps struct {
	DB       *store.DB
	Auth     *auth.Service
	Roster   *roster.Service
	Settings *settings.Service
	Sync     *vsync.Service
	Remit    *remit.Service
	Log      *slog.Logger
}

// Console serves the console pages.
type Console struct {
	cfg      Config
	db       *store.DB
	auth     *auth.Service
	roster   *roster.Service
	settings *settings.Service
	sync     *vsync.Service
	remit    *remit.Service
	log      *slog.Logger
	pages    map[string]*pageTemplate
	static   fs.FS
	shanghai *time.Location
}

// New parses the embedded templates and returns the console. A template
// that does not parse is a programming error: New panics, and every test
// that builds a server fails.
func New(cfg Config, d Deps) *Console {
	if cfg.Sessions.Idle == 0 {
		cfg.Sessions = auth.DefaultSessionLimits
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	c := &Console{cfg: cfg, db: d.DB, auth: d.Auth, roster: d.Roster, settings: d.Settings, sync: d.Sync, remit: d.Remit,
		log: d.Log.With("component", "web"), static: static, shanghai: loc}
	c.pages = mustParse(c.funcs())
	return c
}

// Sessions returns the session lifetimes the console uses.
func (c *Console) Sessions() auth.SessionLimits { return c.cfg.Sessions }

// principal is the signed-in caller of a page.
func principal(e echo.Context) auth.Principal {
	p, _ := auth.FromContext(e.Request().Context())
	return p
}

// formFile reads the file uploaded in the form field "file": its base
// name and content. what and whatZH name the file in the error of a form
// sent without one, or with an empty one.
func formFile(e echo.Context, what, whatZH string) (string, []byte, error) {
	fh, err := e.FormFile("file")
	if err != nil {
		return "", nil, syncproto.Errorf(syncproto.CodeInvalidInput, "choose "+what+" to upload", "请选择要上传的"+whatZH)
	}
	f, err := fh.Open()
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return "", nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "", nil, syncproto.Errorf(syncproto.CodeInvalidInput, what+" is empty", "上传的"+whatZH+"为空")
	}
	return filepath.Base(fh.Filename), data, nil
}
