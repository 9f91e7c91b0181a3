// Package webui is the tablet's own touch UI, served by `agentapp serve`
// on the loopback address: unlock with the PIN, roster search, the collect
// flow with its print-ready receipt, void, deposit, the status banner,
// notices and a sync button. It works with no network: everything it
// shows comes from the local store.
//
// Security, even on loopback: the unlocked keystore lives only in this
// process's memory and is locked again after an idle time; one session
// cookie (HttpOnly, SameSite=Strict) is bound to the unlock; every form
// carries a CSRF token; the Content-Security-Policy allows no inline
// script or style; and a request whose Host is not the loopback address
// served is refused (DNS rebinding).
package webui

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/agentapp/internal/syncclient"
)

// DefaultIdle is how long an unlocked session may sit unused before the
// keystore is locked again.
const DefaultIdle = 10 * time.Minute

// CSP is the Content-Security-Policy of every answer: no inline script or
// style, nothing from another origin.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Config is what the UI needs.
type Config struct {
	Store *localstore.Store
	// Addr is the address served (host:port, after Listen): the Host
	// header must name it (127.0.0.1, localhost or [::1] with its port).
	Addr string
	Now  func() time.Time // nil: time.Now
	Idle time.Duration    // 0: DefaultIdle
	// KeystoreOptions are passed to keystore.New (tests: a light PIN cost).
	KeystoreOptions []keystore.Option
	// SyncOptions tune the syncs started from the UI; MaxElapsed defaults
	// to 20 s so that an offline tablet answers soon.
	SyncOptions syncclient.Options
	// HTTPClient, when set, is the sync client's HTTP client (tests).
	HTTPClient *http.Client
	Logger     *slog.Logger // nil: discard
}

// Server is the UI. It holds at most one unlocked session.
type Server struct {
	cfg     Config
	store   *localstore.Store
	now     func() time.Time
	ks      *keystore.Keystore
	collect *collect.Service
	log     *slog.Logger
	hosts   map[string]bool
	key     []byte // HMAC key of the CSRF tokens, new each start
	mux     *http.ServeMux

	// collectMu makes a confirm or deposit sent twice at once (a double
	// tap, a resent form) wait for the first and show its outcome.
	collectMu sync.Mutex

	mu   sync.Mutex
	sess *session // nil when locked
	sync syncStatus
	// syncKey is the key a running sync uses: locking the session leaves
	// it open until the sync ends, which then locks it. Locked under the
	// sync, a refresh token the server already rotated could not be
	// sealed, and the spent one would revoke the device at the next sync.
	syncKey *keystore.Unlocked
}

// New returns the UI over cfg.Store.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("webui: no store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.SyncOptions.MaxElapsed <= 0 {
		cfg.SyncOptions.MaxElapsed = 20 * time.Second
	}
	if cfg.SyncOptions.Now == nil {
		cfg.SyncOptions.Now = cfg.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	hosts, err := loopbackHosts(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: cfg.Store, now: cfg.Now, log: cfg.Logger, hosts: hosts,
		ks: keystore.New(cfg.Store, cfg.Now, cfg.KeystoreOptions...), collect: collect.New(cfg.Store, cfg.Now),
		key: make([]byte, 32)}
	rand.Read(s.key)
	s.routes()
	return s, nil
}

// CheckLoopback refuses an address that is not on the loopback interface:
// the UI holds an unlocked key and must not be reachable from the network.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("webui: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("webui: address %q is not a loopback address (127.0.0.1 or [::1]): the UI must not be reachable from the network", addr)
	}
	return nil
}

// loopbackHosts are the Host header values accepted for addr.
func loopbackHosts(addr string) (map[string]bool, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	if _, err := strconv.Atoi(port); err != nil || port == "0" {
		return nil, fmt.Errorf("webui: address %q needs the port actually served", addr)
	}
	return map[string]bool{"127.0.0.1:" + port: true, "localhost:" + port: true, "[::1]:" + port: true}, nil
}

// Handler is the UI's HTTP handler.
func (s *Server) Handler() http.Handler { return s.secure(s.mux) }

// Serve serves the UI on ln until ctx ends, locking an idle session as its
// time runs out, and locks the keystore when it returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Requests do not end with ctx: at Ctrl-C a collect being written
	// finishes (Shutdown waits for it) rather than being cut off.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				_ = hs.Shutdown(sctx)
				cancel()
				return
			case <-t.C:
				s.expire()
			}
		}
	}()
	err := hs.Serve(ln)
	stop() // a failed Serve ends the idle timer too
	<-done
	s.Lock()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Lock ends the session and forgets the unlocked key.
func (s *Server) Lock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked()
}

// Unlocked reports whether a session holds the unlocked key.
func (s *Server) Unlocked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess != nil
}
