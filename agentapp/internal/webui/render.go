package webui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"villagesync/agentapp/internal/receipt"
	"villagesync/syncproto"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// staticFiles is the static folder's content.
func staticFiles() fs.FS {
	f, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	return f
}

// shanghai is the zone pages show times in.
var shanghai = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
})

var funcs = template.FuncMap{
	"yuan":    func(m syncproto.Money) string { return m.String() },
	"capital": func(m syncproto.Money) string { return "人民币" + receipt.Capital(m) },
	"kind":    func(k syncproto.Kind) string { return k.ShortLabel() },
	"cat":     func(c syncproto.Category) string { return c.Label() },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "从未"
		}
		return t.In(shanghai()).Format("2006-01-02 15:04")
	},
}

// pages are the page templates, each with the layout.
var pages = sync.OnceValue(func() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	return out
})

// page is what the layout shows around a page's content.
type page struct {
	Title   string
	Session bool
	CSRF    string
	Flash   []string
	Error   string
	Banner  *banner
	Scripts []string
	CSS     []string
	Body    any
}

// render writes the page name with body; sess may be nil (locked).
func (s *Server) render(w http.ResponseWriter, r *http.Request, sess *session, status int, name, title string, body any, opts ...func(*page)) {
	p := page{Title: title, Body: body, Scripts: []string{"/static/app.js"}}
	if sess != nil {
		p.Session, p.CSRF, p.Flash = true, s.csrfFor("s:"+sess.token), s.takeFlash(sess)
		if b, err := s.banner(r.Context()); err == nil {
			p.Banner = &b
		} else {
			p.Flash = append(p.Flash, "状态读取失败："+errMessage(err))
		}
	}
	for _, o := range opts {
		o(&p)
	}
	t, ok := pages()[name]
	if !ok {
		panic("webui: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		s.log.Error("render", "page", name, "err", err)
		http.Error(w, "页面显示出错 page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// withError shows msg at the top of the page.
func withError(msg string) func(*page) { return func(p *page) { p.Error = msg } }

// withCSRF sets the form token of a page shown without a session.
func withCSRF(tok string) func(*page) { return func(p *page) { p.CSRF = tok } }

// withCSS adds a stylesheet.
func withCSS(href string) func(*page) { return func(p *page) { p.CSS = append(p.CSS, href) } }

// fail shows an error page with msg and a way back.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, status int, msg string) {
	s.render(w, r, sess, status, "error", "出错了", nil, withError(msg))
}

// errMessage is what the agent reads of err: its Chinese message, or, for
// an error of the tablet itself, a plain statement that nothing was lost.
func errMessage(err error) string {
	var ce *syncproto.Error
	if errors.As(err, &ce) && ce.MessageZH != "" {
		return ce.MessageZH
	}
	return fmt.Sprintf("本机存储出错，操作未完成；此前保存的记录不受影响。请检查存储空间后重试。（%v）", err)
}

// statusOf is the HTTP status of a refused operation.
func statusOf(err error) int {
	var ce *syncproto.Error
	if errors.As(err, &ce) {
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}
