// Command server is the villagesync central server: the sync endpoint for
// the village tablets, the API and console for townships, the tax office
// and the bureaus, backed by PostgreSQL.
//
// Usage:
//
//	server [serve]    migrate the database and serve HTTP (the default)
//	server dev        like serve, but start a local PostgreSQL under
//	                  DATA_DIR when DATABASE_URL is unset and load the demo
//	                  district (what `make run` does)
//	server migrate    apply migrations and exit
//	server db-start   start the local PostgreSQL under DATA_DIR
//	server db-stop    stop it
//	server version    print the version
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // business days are Asia/Shanghai on any host

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/api"
	"villagesync/server/internal/auth"
	"villagesync/server/internal/demo"
	"villagesync/server/internal/obs"
	"villagesync/server/internal/pglocal"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	vsync "villagesync/server/internal/sync"
	"villagesync/syncproto"
)

// version is stamped by `make build` with -ldflags.
var version = "dev"

// Config is the server's configuration, read from the environment once
// and validated before anything starts.
type Config struct {
	Addr            string        // ADDR: listen address
	DatabaseURL     string        // DATABASE_URL (or DATABASE_URL_FILE)
	DataDir         string        // DATA_DIR: local files of `make run` (cluster, keys)
	LogLevel        slog.Level    // LOG_LEVEL: debug, info, warn, error
	BodyLimit       string        // BODY_LIMIT: largest request body, e.g. 32M
	ReadTimeout     time.Duration // READ_TIMEOUT
	WriteTimeout    time.Duration // WRITE_TIMEOUT
	IdleTimeout     time.Duration // IDLE_TIMEOUT
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT: grace for in-flight requests
	Demo            bool          // DEMO: load the demo district at start
	JWTKey          string        // JWT_KEY (or JWT_KEY_FILE): Ed25519 private key, PEM
	JWTKeyFile      string        // JWT_KEY_FILE; `make run` generates DATA_DIR/jwt-ed25519.pem
	Cutoff          bool          // CUTOFF: cut the daily batches at each township's cutoff (default on)
	SecureCookies   bool          // SECURE_COOKIES: console cookies Secure on plain HTTP too (a TLS proxy in front)
	TrustedProxies  []*net.IPNet  // TRUSTED_PROXIES: proxies and load balancers whose X-Forwarded-For is believed
}

// DefaultConfig is the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         ".data",
		LogLevel:        slog.LevelInfo,
		BodyLimit:       "64M",
		ReadTimeout:     60 * time.Second,
		WriteTimeout:    120 * time.Second,
		IdleTimeout:     120 * time.Second,
		ShutdownTimeout: 20 * time.Second,
		Cutoff:          true,
	}
}

// LoadConfig reads the configuration from getenv over the defaults.
// A secret NAME may also be given as a file in NAME_FILE.
func LoadConfig(getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	secret := func(name string, dst *string) {
		str(name, dst)
		if f := getenv(name + "_FILE"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", name, err))
				return
			}
			*dst = strings.TrimSpace(string(b))
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s: want a positive duration like 30s, got %q", name, v))
				return
			}
			*dst = d
		}
	}
	str("ADDR", &cfg.Addr)
	secret("DATABASE_URL", &cfg.DatabaseURL)
	str("DATA_DIR", &cfg.DataDir)
	str("JWT_KEY", &cfg.JWTKey)
	str("JWT_KEY_FILE", &cfg.JWTKeyFile)
	str("BODY_LIMIT", &cfg.BodyLimit)
	dur("READ_TIMEOUT", &cfg.ReadTimeout)
	dur("WRITE_TIMEOUT", &cfg.WriteTimeout)
	dur("IDLE_TIMEOUT", &cfg.IdleTimeout)
	dur("SHUTDOWN_TIMEOUT", &cfg.ShutdownTimeout)
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
		}
	}
	switch v := getenv("CUTOFF"); v {
	case "", "1", "true":
	case "0", "false":
		cfg.Cutoff = false
	default:
		errs = append(errs, fmt.Errorf("CUTOFF: want 1 or 0, got %q", v))
	}
	switch v := getenv("SECURE_COOKIES"); v {
	case "", "0", "false":
	case "1", "true":
		cfg.SecureCookies = true
	default:
		errs = append(errs, fmt.Errorf("SECURE_COOKIES: want 1 or 0, got %q", v))
	}
	switch v := getenv("DEMO"); v {
	case "", "0", "false":
	case "1", "true":
		cfg.Demo = true
	default:
		errs = append(errs, fmt.Errorf("DEMO: want 1 or 0, got %q", v))
	}
	if v := getenv("TRUSTED_PROXIES"); v != "" {
		nets, err := api.ParseTrustedProxies(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %w", err))
		}
		cfg.TrustedProxies = nets
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		errs = append(errs, fmt.Errorf("ADDR: %w", err))
	}
	return cfg, errors.Join(errs...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if cmd == "version" || cmd == "-v" || cmd == "--version" {
		fmt.Fprintln(stdout, "villagesync server", version)
		return nil
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := obs.NewLogger(stdout, cfg.LogLevel)
	cluster := pglocal.Cluster{Dir: filepath.Join(cfg.DataDir, "pg")}
	switch cmd {
	case "serve":
		return Run(ctx, cfg, log, stdout, nil)
	case "dev":
		return runDev(ctx, cfg, log, stdout, cluster)
	case "migrate":
		db, err := openDB(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		st, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		log.Info("schema", "current", st.Current, "known", st.Known)
		return nil
	case "db-start":
		started, err := cluster.Start(ctx)
		if err != nil {
			return err
		}
		port, _ := cluster.Port()
		log.Info("local postgres", "dir", cluster.Dir, "started", started, "url", pglocal.URL(port, "villagesync"))
		_, err = cluster.EnsureDatabase(ctx, "villagesync")
		return err
	case "db-stop":
		return cluster.Stop(ctx)
	case "gen-roster":
		return genRoster(args[1:], stdout)
	case "cut":
		return cutCommand(ctx, cfg, log, args[1:], stdout)
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

const usage = `usage: server [serve|dev|migrate|db-start|db-stop|gen-roster|version|help]
  cut [--date YYYY-MM-DD]
             cut every township's remittance batch of a day (default today)
  gen-roster --kind pension|medical [--villages N] [--per-village N] [--format csv|xlsx]
             [--encoding utf8|utf8bom|gbk] [--seed N] --out FILE
             writes a generated Xuecheng roster file, as a bureau would upload it
configuration is read from the environment; see README.md
`

// runDev is `make run`: a local cluster when DATABASE_URL is unset, the
// demo district, and the server; on exit it stops what it started.
func runDev(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer, cluster pglocal.Cluster) (err error) {
	cfg.Demo = true
	if cfg.JWTKey == "" && cfg.JWTKeyFile == "" {
		cfg.JWTKeyFile = filepath.Join(cfg.DataDir, "jwt-ed25519.pem")
		if _, err := auth.LoadOrCreateKeyFile(cfg.JWTKeyFile); err != nil {
			return fmt.Errorf("JWT key: %w", err)
		}
	}
	if cfg.DatabaseURL == "" {
		started, err := cluster.Start(ctx)
		if err != nil {
			return err
		}
		if started {
			log.Info("local postgres started", "dir", cluster.Dir)
			defer func() {
				stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				err = errors.Join(err, cluster.Stop(stopCtx))
				log.Info("local postgres stopped")
			}()
		} else {
			log.Info("local postgres already running: reusing it", "dir", cluster.Dir)
		}
		if cfg.DatabaseURL, err = cluster.EnsureDatabase(ctx, "villagesync"); err != nil {
			return err
		}
	}
	return Run(ctx, cfg, log, stdout, nil)
}

// cutCommand is `server cut --date D`: every township's batch of the day.
func cutCommand(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cut", flag.ContinueOnError)
	date := fs.String("date", "", "business day YYYY-MM-DD (default today, Asia/Shanghai)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if st, err := db.Schema(ctx); err != nil || !st.Ready() {
		return fmt.Errorf("database schema not ready (%+v): run server migrate first: %v", st, err)
	}
	svc := remit.NewService(db, settings.NewService(db), log)
	day, err := svc.ParseDay(*date)
	if err != nil {
		return err
	}
	batches, err := svc.CutAll(ctx, day)
	for _, b := range batches {
		fmt.Fprintf(stdout, "%s %s %s r%d %s: %d lines, %s yuan (%s)\n", b.BusinessDay, b.TownshipCode, b.TownshipName,
			b.Revision, b.ID, b.Count, b.Total, b.State)
	}
	return err
}

// genRoster writes a generated roster file of the demo district.
func genRoster(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen-roster", flag.ContinueOnError)
	kind := fs.String("kind", "medical", "pension or medical")
	perTownship := fs.Int("villages", 0, "villages per township (0: the full district, about 220 villages)")
	perVillage := fs.Int("per-village", 1137, "residents per village (1137 × 220 ≈ 250,000)")
	format := fs.String("format", "csv", "csv or xlsx")
	enc := fs.String("encoding", demo.EncodingUTF8, "csv encoding: utf8, utf8bom or gbk")
	seed := fs.Int64("seed", demo.Seed, "generator seed")
	out := fs.String("out", "", "output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	k, err := syncproto.ParseKind(*kind)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("gen-roster: --out FILE is required")
	}
	_, villages := demo.GenerateDistrict(*seed, *perTownship)
	rows := demo.RosterRows(demo.GenerateResidents(*seed, villages, *perVillage, 2026), demo.KindSettings(k))
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if *format == "xlsx" {
		err = demo.WriteRosterXLSX(f, rows)
	} else {
		err = demo.WriteRosterCSV(f, rows, *enc)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		fmt.Fprintf(stdout, "wrote %s: %d roster lines in %d villages\n", *out, len(rows)-1, len(villages))
	}
	return err
}

func openDB(ctx context.Context, cfg Config, log *slog.Logger) (*store.DB, error) {
	if cfg.DatabaseURL == "" {
		return nil, errors.New("DATABASE_URL is not set (make run starts a local PostgreSQL when it is unset)")
	}
	return store.Open(ctx, cfg.DatabaseURL, log, time.Now)
}

// signingKey loads the access-token key from JWT_KEY or JWT_KEY_FILE.
func signingKey(cfg Config) (ed25519.PrivateKey, error) {
	switch {
	case cfg.JWTKey != "":
		return auth.LoadKey([]byte(cfg.JWTKey))
	case cfg.JWTKeyFile != "":
		b, err := os.ReadFile(cfg.JWTKeyFile)
		if err != nil {
			return nil, fmt.Errorf("JWT_KEY_FILE: %w", err)
		}
		return auth.LoadKey(b)
	}
	return nil, errors.New("JWT_KEY or JWT_KEY_FILE must be set: an Ed25519 private key in PEM (make run generates one in .data/)")
}

// Run migrates the database and serves HTTP until ctx is done, then shuts
// down gracefully: in-flight requests finish within ShutdownTimeout. When
// ready is not nil it is called with the listening address.
func Run(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer, ready func(net.Addr)) error {
	key, err := signingKey(cfg)
	if err != nil {
		return err
	}
	passwords, err := auth.NewPasswords(auth.DefaultPasswordParams)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	schema, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if schema.TooNew() {
		log.Error("database schema is newer than this server: serving only health checks until it is upgraded",
			"current", schema.Current, "known", schema.Known)
	}
	authSvc := auth.NewService(db, auth.NewTokens(key, time.Now), passwords, auth.DefaultLimits, log)
	setSvc := settings.NewService(db)
	svc := api.Services{Auth: authSvc, Settings: setSvc, Roster: roster.NewService(db, setSvc, log),
		Sync: vsync.NewService(db, setSvc, vsync.DefaultConfig, log), Remit: remit.NewService(db, setSvc, log)}
	if cfg.Demo && !schema.TooNew() {
		if err := loadDemo(ctx, cfg, db, svc, log, stdout); err != nil {
			return err
		}
	}
	e, _ := api.New(api.Config{BodyLimit: cfg.BodyLimit, SecureCookies: cfg.SecureCookies,
		TrustedProxies: cfg.TrustedProxies}, db, svc, log, obs.NewMetrics(), schema)
	if schema.Ready() && cfg.Cutoff {
		go svc.Remit.RunCutoff(ctx, time.Minute) // the daily cutoff; stops with ctx
	}
	return serve(ctx, cfg, log, e, ready)
}

// loadDemo loads the demo district and its users, and prints the users
// with their passwords for a new user to try every role.
func loadDemo(ctx context.Context, cfg Config, db *store.DB, svc api.Services, log *slog.Logger, stdout io.Writer) error {
	if err := demo.Load(ctx, db); err != nil {
		return fmt.Errorf("load demo district: %w", err)
	}
	if err := demo.LoadSettings(ctx, svc.Settings); err != nil {
		return fmt.Errorf("load demo settings: %w", err)
	}
	file := filepath.Join(cfg.DataDir, "demo-users.txt")
	users, err := demo.EnsureUsers(ctx, db, svc.Auth, file)
	if err != nil {
		return fmt.Errorf("demo users: %w", err)
	}
	if err := demo.LoadRosters(ctx, db, svc.Roster, 50); err != nil {
		return err
	}
	log.Info("demo district loaded", "district", demo.DistrictCode, "users_file", file)
	demo.PrintUsers(stdout, users, file)
	return demo.PrintTabletDemo(ctx, stdout, db, svc.Auth, cfg.Addr)
}

func serve(ctx context.Context, cfg Config, log *slog.Logger, e *echo.Echo, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           e,
		ReadTimeout:       cfg.ReadTimeout,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", version)
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: letting in-flight requests finish", "grace", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
