// Package browsertest runs end-to-end tests in a real headless Chromium
// (Debian's chromium package), driven over the DevTools protocol with
// chromedp. When Chromium or a Chinese font is missing and the test runs as
// root, they are installed with apt-get, as the issue asks of the test setup.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var (
	installOnce sync.Once
	chromePath  string
	installErr  error
)

// candidates are where Debian and other distributions put Chromium.
var candidates = []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}

func findChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// packages are Debian's: the browser, its driver, and a Chinese font so
// that screenshots show characters, not boxes.
var packages = []string{"chromium", "chromium-driver", "fonts-noto-cjk"}

// hasChineseFont tells whether fontconfig knows a font for Chinese.
func hasChineseFont() bool {
	out, err := exec.Command("fc-list", ":lang=zh").Output()
	return err == nil && len(strings.TrimSpace(string(out))) > 0
}

// Chromium returns the path of the Chromium binary, installing Debian's
// packages once when the browser or a Chinese font is missing.
func Chromium(t testing.TB) string {
	t.Helper()
	installOnce.Do(func() {
		chromePath = findChromium()
		if chromePath != "" && (hasChineseFont() || os.Getuid() != 0) {
			return // without root a missing font only makes screenshots less readable
		}
		if os.Getuid() != 0 {
			installErr = errNotRoot
			return
		}
		run := func(args ...string) error {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			out, err := cmd.CombinedOutput()
			if err != nil {
				return &installError{args: args, out: string(out), err: err}
			}
			return nil
		}
		install := append([]string{"install", "-y", "-q"}, packages...)
		if err := run(install...); err != nil {
			// The package lists may be stale on a fresh machine.
			if err = run("update", "-q"); err == nil {
				err = run(install...)
			}
			if err != nil {
				installErr = err
				return
			}
		}
		if chromePath = findChromium(); chromePath == "" {
			installErr = errNotFound
		}
	})
	if installErr != nil {
		t.Fatalf("browsertest: Chromium is needed for this test: %v", installErr)
	}
	return chromePath
}

// New starts a headless Chromium for the test, with its own empty profile,
// and returns a tab's context. Everything is stopped when the test ends.
// Each chromedp action run on the context has the whole test's deadline;
// use Run for a step with a shorter one.
func New(t testing.TB) context.Context {
	t.Helper()
	path := Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "zh-CN"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so a failure to start names itself.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start Chromium: %v", err)
	}
	return ctx
}

// Do runs chromedp actions in order with a deadline of one minute, failing
// the test with step in the message when one fails.
func Do(t testing.TB, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(cctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", step, err)
	}
}

// Get runs one chromedp action that returns a value (Text, Value,
// Location, Evaluate…) with a deadline of one minute and returns it.
func Get[T any](t testing.TB, ctx context.Context, step string, action chromedp.Action[T]) T {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(cctx, action)
	if err != nil {
		t.Fatalf("browser: %s: %v", step, err)
	}
	return v
}

// ScreenshotDir is where screenshots go: $SCREENSHOT_DIR, or .data/screenshots
// at the top of the repository.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SCREENSHOT_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, ".data", "screenshots")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "screenshots")
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a full-page PNG of the current page as
// <ScreenshotDir>/<test>-<name>.png and returns its path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png := Get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	dir := ScreenshotDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := unsafeName.ReplaceAllString(strings.ReplaceAll(t.Name(), "/", "-")+"-"+name, "_") + ".png"
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
	return path
}

type installError struct {
	args []string
	out  string
	err  error
}

func (e *installError) Error() string {
	out := e.out
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return "apt-get " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + out
}

type constError string

func (e constError) Error() string { return string(e) }

const (
	errNotRoot  constError = "chromium is not installed, and only root can install it (apt-get install chromium chromium-driver), or set CHROMIUM to its path"
	errNotFound constError = "chromium was installed but its binary was not found"
)
