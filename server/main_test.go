package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"villagesync/server/internal/api"
	"villagesync/server/internal/auth"
	"villagesync/server/internal/buildonce"
	"villagesync/server/internal/obs"
	"villagesync/server/internal/pgtest"
	"villagesync/server/internal/store"
	"villagesync/server/internal/syncbuf"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	buildonce.Cleanup()
	os.Exit(code)
}

// startServer runs the real server (Run) on a free port against dbURL and
// returns its base URL and log; it is shut down when the test ends.
func startServer(t testing.TB, dbURL string, mutate func(*Config)) (string, *syncbuf.Buffer) {
	t.Helper()
	dir := t.TempDir()
	keyFile := dir + "/jwt.pem"
	if _, err := auth.LoadOrCreateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{"ADDR": "127.0.0.1:0", "DATABASE_URL": dbURL, "DEMO": "1",
			"DATA_DIR": dir, "JWT_KEY_FILE": keyFile, "CUTOFF": "0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, obs.NewLogger(logs, cfg.LogLevel), logs, func(a net.Addr) { addrc <- a.String() })
	}()
	select {
	case a := <-addrc:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v after shutdown", err)
			}
		})
		return "http://" + a, logs
	case err := <-done:
		cancel()
		t.Fatalf("Run ended before listening: %v\n%s", err, logs)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server did not start in 60s")
	}
	return "", nil
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func decodeError(t *testing.T, b []byte) api.ErrorDetail {
	t.Helper()
	var body api.ErrorBody
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("error body is not the JSON error shape: %v: %s", err, b)
	}
	if body.Error.Code == "" || body.Error.Message == "" || body.Error.MessageZH == "" {
		t.Fatalf("error body lacks code or messages: %s", b)
	}
	return body.Error
}

func TestServe(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewURL(t)
	base, logs := startServer(t, dbURL, func(c *Config) { c.BodyLimit = "1K" })

	t.Run("OKHealthAndReady", func(t *testing.T) {
		if code, _, b := get(t, base+"/healthz"); code != 200 {
			t.Fatalf("healthz %d %s", code, b)
		}
		if code, _, b := get(t, base+"/readyz"); code != 200 || !strings.Contains(string(b), `"ready"`) {
			t.Fatalf("readyz %d %s", code, b)
		}
	})
	t.Run("OKMetrics", func(t *testing.T) {
		get(t, base+"/healthz")
		code, _, b := get(t, base+"/metrics")
		if code != 200 || !strings.Contains(string(b), `villagesync_http_requests_total{code="200",method="GET",route="/healthz"}`) {
			t.Fatalf("metrics %d lacks the request counter:\n%.2000s", code, b)
		}
	})
	t.Run("ErrNotFoundShape", func(t *testing.T) {
		code, _, b := get(t, base+"/api/v1/nothing-here")
		if code != 404 || decodeError(t, b).Code != "not_found" {
			t.Fatalf("%d %s", code, b)
		}
	})
	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		res, err := http.Post(base+"/healthz", "application/json", strings.NewReader(strings.Repeat("x", 4096)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 413 || decodeError(t, b).Code != "request_too_large" {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
	})
	t.Run("OKRequestIDOnLogLine", func(t *testing.T) {
		_, h, _ := get(t, base+"/healthz")
		id := h.Get("X-Request-Id")
		if id == "" {
			t.Fatal("no X-Request-Id header")
		}
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
			if time.Now().After(deadline) {
				t.Fatalf("no log line carries request_id %s:\n%s", id, logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("OKDemoDistrictLoaded", func(t *testing.T) {
		db := openStore(t, dbURL)
		ts, err := db.Townships(t.Context())
		if err != nil || len(ts) != 7 {
			t.Fatalf("townships = %d, %v; want Xuecheng's 7", len(ts), err)
		}
	})
}

func openStore(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// A database migrated by a newer server: the server stays up for probes
// but is not ready, and the API refuses to work on it.
func TestServeSchemaTooNew(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewURL(t)
	db := openStore(t, dbURL)
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, true)`); err != nil {
		t.Fatal(err)
	}
	base, _ := startServer(t, dbURL, nil)
	if code, _, b := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz %d %s", code, b)
	}
	code, _, b := get(t, base+"/readyz")
	if code != 503 || decodeError(t, b).Code != "schema_too_new" {
		t.Fatalf("readyz on a newer schema: %d %s", code, b)
	}
	if n, _ := db.Townships(t.Context()); len(n) != 0 {
		t.Fatal("the server wrote demo data into a schema it does not know")
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	t.Run("OKDefaults", func(t *testing.T) {
		cfg, err := LoadConfig(env(nil))
		if err != nil || cfg.Addr != "127.0.0.1:8080" || cfg.ShutdownTimeout <= 0 {
			t.Fatalf("%+v %v", cfg, err)
		}
	})
	t.Run("OKTrustedProxies", func(t *testing.T) {
		cfg, err := LoadConfig(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7"}))
		if err != nil || len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1].String() != "192.0.2.7/32" {
			t.Fatalf("%v %v", cfg.TrustedProxies, err)
		}
	})
	t.Run("OKSecretFromFile", func(t *testing.T) {
		f := t.TempDir() + "/url"
		if err := writeFile(f, "postgres://u@h/db\n"); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(env(map[string]string{"DATABASE_URL_FILE": f}))
		if err != nil || cfg.DatabaseURL != "postgres://u@h/db" {
			t.Fatalf("%q %v", cfg.DatabaseURL, err)
		}
	})
	for name, m := range map[string]map[string]string{
		"ErrDuration": {"READ_TIMEOUT": "soon"},
		"ErrAddr":     {"ADDR": "8080"},
		"ErrLevel":    {"LOG_LEVEL": "loud"},
		"ErrDemo":     {"DEMO": "yes please"},
		"ErrFile":     {"DATABASE_URL_FILE": "/nonexistent/file"},
		"ErrProxies":  {"TRUSTED_PROXIES": "10.0.0.0/8, lb.internal"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadConfig(env(m)); err == nil {
				t.Fatalf("%v accepted", m)
			}
		})
	}
}
