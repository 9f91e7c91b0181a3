package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"villagesync/agentapp/internal/webui"
)

// serve runs the tablet's touch UI on a loopback address until Ctrl-C.
func (c *cli) serve(ctx context.Context, args []string) error {
	fs := c.newFlags("serve")
	addr := fs.String("addr", "127.0.0.1:8377", "loopback address to serve the UI on")
	idle := fs.Duration("idle", webui.DefaultIdle, "lock again after this long unused")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("serve takes no argument, got %q", pos[0])}
	}
	if err := webui.CheckLoopback(*addr); err != nil {
		return usageError{err}
	}
	if *idle <= 0 {
		return usageError{fmt.Errorf("--idle must be a positive duration such as 10m, got %s", *idle)}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	ui, err := webui.New(webui.Config{Store: c.store, Addr: ln.Addr().String(), Now: c.now, Idle: *idle,
		Logger: slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "代办员终端界面 UI: http://%s/ （按 Ctrl-C 结束 / Ctrl-C to stop; idle lock %s）\n",
		ln.Addr(), idle.Round(time.Second))
	return ui.Serve(ctx, ln)
}
