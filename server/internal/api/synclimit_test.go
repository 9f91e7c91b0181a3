package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestSyncLimit: with a limit of one, a second sync request waits until
// the first is done, while other routes are not held up.
func TestSyncLimit(t *testing.T) {
	t.Parallel()
	e := echo.New()
	e.Use(syncLimit(1))
	inside, release := make(chan string, 4), make(chan struct{})
	hold := func(c echo.Context) error {
		inside <- c.Path()
		<-release
		return c.NoContent(http.StatusOK)
	}
	e.GET("/api/v1/sync/pull", hold)
	e.POST("/api/v1/sync/push", hold)
	e.GET("/api/v1/me", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	serve := func(method, path string) <-chan int {
		done := make(chan int, 1)
		go func() {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			done <- rec.Code
		}()
		return done
	}
	first := serve(http.MethodGet, "/api/v1/sync/pull")
	if got := <-inside; got != "/api/v1/sync/pull" {
		t.Fatalf("first request reached %s", got)
	}
	second := serve(http.MethodPost, "/api/v1/sync/push")
	if code := <-serve(http.MethodGet, "/api/v1/me"); code != http.StatusOK {
		t.Fatalf("a route outside sync answered %d while sync was full", code)
	}
	select {
	case p := <-inside:
		t.Fatalf("%s got in while the limit was taken", p)
	default:
	}
	release <- struct{}{}
	if code := <-first; code != http.StatusOK {
		t.Fatalf("first: %d", code)
	}
	if got := <-inside; got != "/api/v1/sync/push" {
		t.Fatalf("second request reached %s", got)
	}
	release <- struct{}{}
	if code := <-second; code != http.StatusOK {
		t.Fatalf("second: %d", code)
	}
}
