package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/syncproto"
)

// healthz answers while the process is alive; it touches nothing else.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the database is reachable and its schema
// is exactly the one this binary knows; a load balancer sends no traffic
// otherwise.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	st, err := s.db.Schema(ctx)
	if err != nil {
		return syncproto.Wrap(err, syncproto.CodeUnavailable, "database unreachable", "数据库无法连接")
	}
	s.schema.Store(&st)
	if !st.Ready() {
		return schemaError(st)
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "schema_version": st.Current})
}
