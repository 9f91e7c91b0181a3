package browsertest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserRunsPage proves the harness drives a real Chromium: a page's
// script changes the text, a click posts a form, and the screenshot is a PNG.
func TestBrowserRunsPage(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
			_, _ = w.Write([]byte(`<p id="got">` + r.PostForm.Get("name") + `</p>`))
			return
		}
		_, _ = w.Write([]byte(`<!doctype html><meta charset="utf-8"><h1 id="h">未运行</h1>
<form method="post"><input name="name" id="name"><button id="go">提交</button></form>
<script src="/app.js"></script>`))
	})
	mux.HandleFunc("/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(`document.getElementById("h").textContent = "已运行";`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := New(t)
	Do(t, ctx, "open", chromedp.Navigate(srv.URL))
	h := Get(t, ctx, "heading", chromedp.Text("#h"))
	if h != "已运行" {
		t.Fatalf("script did not run: heading %q", h)
	}
	t.Setenv("SCREENSHOT_DIR", t.TempDir())
	png, err := os.ReadFile(Screenshot(t, ctx, "page"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	Do(t, ctx, "submit", chromedp.SendKeys("#name", "张三"), chromedp.Click("#go"))
	got := Get(t, ctx, "result", chromedp.Text("#got"))
	if got != "张三" {
		t.Fatalf("form post got %q", got)
	}
}
