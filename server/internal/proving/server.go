package proving

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"villagesync/server/internal/api"
	"villagesync/server/internal/obs"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	vsync "villagesync/server/internal/sync"
)

// startServer serves the district's database through the whole API
// (echo, middleware, route table, services) on a loopback port, wired as
// server/main.go wires it, with the district's identity service so that
// its tablets' tokens are good.
func startServer(ctx context.Context, d *district) (*httptest.Server, *client, error) {
	log := slog.New(slog.DiscardHandler)
	schema, err := d.db.Schema(ctx)
	if err != nil {
		return nil, nil, err
	}
	setSvc := settings.NewService(d.db)
	svc := api.Services{Auth: d.auth, Settings: setSvc, Roster: roster.NewService(d.db, setSvc, log),
		Sync: vsync.NewService(d.db, setSvc, vsync.DefaultConfig, log), Remit: remit.NewService(d.db, setSvc, log)}
	e, _ := api.New(api.Config{BodyLimit: "64M"}, d.db, svc, log, obs.NewMetrics(), schema)
	srv := httptest.NewServer(e)
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	return srv, &client{base: srv.URL, http: &http.Client{Transport: tr}}, nil
}
