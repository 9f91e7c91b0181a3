// Package api is the server's HTTP layer: the echo instance, its
// middleware, the one route table and the mapping of errors to the JSON
// error shape. Handlers are thin: bind, take the principal, call one service
// method, render.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/obs"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	vsync "villagesync/server/internal/sync"
	"villagesync/server/internal/web"
)

// Config holds the HTTP layer's settings.
type Config struct {
	BodyLimit string // echo size string, e.g. "32M"
	// SecureCookies marks the console's cookies Secure even on plain HTTP
	// (a TLS proxy in front); over TLS they always are.
	SecureCookies bool
	// TrustedProxies are the addresses of the proxies and load balancers
	// in front of the server. A request from one of them is taken to come
	// from the last address before them in its X-Forwarded-For; any other
	// request from its own address, whatever its headers say. The client
	// address keys the per-address limits on logins and enrollments and is
	// written in the audit log: behind a proxy, without this, every client
	// has the proxy's address and shares one limit. List the proxies'
	// own addresses only: any host in the list can name any client.
	TrustedProxies []*net.IPNet
}

// ParseTrustedProxies reads a comma-separated list of IP addresses and
// CIDR ranges ("10.0.0.5, 192.0.2.0/28"). A range with host bits set
// (10.1.2.3/8: a mistyped mask?) and one of every address are refused.
func ParseTrustedProxies(s string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var n *net.IPNet
		if strings.Contains(item, "/") {
			ip, parsed, err := net.ParseCIDR(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR range like 192.0.2.0/28", item)
			}
			if !ip.Equal(parsed.IP) {
				return nil, fmt.Errorf("%q has host bits set: the range is %s", item, parsed)
			}
			if parsed.IP.To4() != nil && len(parsed.Mask) == net.IPv6len {
				parsed.Mask = parsed.Mask[12:] // an IPv4-mapped range (::ffff:0:0/96) is the IPv4 range it covers
			}
			if ones, _ := parsed.Mask.Size(); ones == 0 {
				return nil, fmt.Errorf("%q trusts every address: any client could then name any address", item)
			}
			n = parsed
		} else {
			ip := net.ParseIP(item)
			if ip == nil {
				return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range", item)
			}
			bits := 8 * net.IPv6len
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 8*net.IPv4len
			}
			n = &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no address given")
	}
	return out, nil
}

// ipExtractor finds a request's client address (see Config.TrustedProxies).
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// Services are the service packages the handlers call.
type Services struct {
	Auth     *auth.Service
	Roster   *roster.Service
	Settings *settings.Service
	Sync     *vsync.Service
	Remit    *remit.Service
}

// Server holds what the handlers need.
type Server struct {
	cfg      Config
	db       *store.DB
	log      *slog.Logger
	metrics  *obs.Metrics
	auth     *auth.Service
	roster   *roster.Service
	settings *settings.Service
	sync     *vsync.Service
	remit    *remit.Service
	schema   atomic.Pointer[store.SchemaState]
	web      *web.Console
}

// New builds the echo app with all routes and middleware. schema is the
// state found at start-up; while it is not ready, the API answers 503.
func New(cfg Config, db *store.DB, svc Services, log *slog.Logger, metrics *obs.Metrics, schema store.SchemaState) (*echo.Echo, *Server) {
	s := &Server{cfg: cfg, db: db, auth: svc.Auth, roster: svc.Roster, settings: svc.Settings, sync: svc.Sync, remit: svc.Remit,
		log: log.With("component", "api"), metrics: metrics}
	s.schema.Store(&schema)
	s.web = web.New(web.Config{SecureCookies: cfg.SecureCookies}, web.Deps{DB: db, Auth: svc.Auth, Roster: svc.Roster,
		Settings: svc.Settings, Sync: svc.Sync, Remit: svc.Remit, Log: log})

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	e.Use(
		middleware.RequestIDWithConfig(middleware.RequestIDConfig{
			RequestIDHandler: func(c echo.Context, id string) {
				ctx := obs.WithRequestID(c.Request().Context(), id)
				c.SetRequest(c.Request().WithContext(auth.WithClientIP(ctx, c.RealIP())))
			},
		}),
		s.logRequests,
		s.recoverPanics,
		noStore,
		syncLimit(2*int(db.Pool.Config().MaxConns)), // before the body and the gzip writer are taken
		middleware.BodyLimit(cfg.BodyLimit),
		gzipAnswers,
		middleware.Decompress(),
		// Again on the inflated body: a gzip body within the limit can
		// inflate a thousandfold.
		middleware.BodyLimit(cfg.BodyLimit),
	)
	s.mount(e, Routes(s))
	return e, s
}

// logRequests logs one line per request and records its metrics. The
// query string is never logged: it may hold ID numbers or codes.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.db.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		elapsed := s.db.Now().Sub(start)
		s.metrics.Requests.WithLabelValues(req.Method, route, strconv.Itoa(res.Status)).Inc()
		s.metrics.Duration.WithLabelValues(req.Method, route).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if res.Status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(req.Context(), level, "request",
			"method", req.Method, "route", route, "status", res.Status,
			"bytes", res.Size, "duration_ms", elapsed.Milliseconds(), "remote", c.RealIP())
		return nil
	}
}

// recoverPanics turns a handler panic into a 500 and a logged stack.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic", "err", err, "stack", string(stack))
			return err
		},
	})(next)
}

// schemaReady gates the API while the database schema is not the one this
// binary knows (a newer binary migrated it, or migration failed).
func (s *Server) schemaReady(ctx context.Context) error {
	st := s.schema.Load()
	if st.Ready() {
		return nil
	}
	return schemaError(*st)
}

// noStore keeps every API answer out of caches: they carry names, ID
// numbers and money (batch exports, paid details, rosters).
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		}
		return next(c)
	}
}
