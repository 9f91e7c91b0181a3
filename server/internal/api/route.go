package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Route is one line of the route table: every route the server answers is
// declared here, with who may call it. Public routes need no token.
type Route struct {
	Method  string
	Path    string
	Handler echo.HandlerFunc
	Public  bool // no authentication (health, metrics, login)
	// Probe marks routes that must answer even while the schema is not
	// ready (health, readiness, metrics).
	Probe bool
}

// Routes is the route table.
func Routes(s *Server) []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/healthz", Handler: s.healthz, Public: true, Probe: true},
		{Method: http.MethodGet, Path: "/readyz", Handler: s.readyz, Public: true, Probe: true},
		{Method: http.MethodGet, Path: "/metrics", Handler: echo.WrapHandler(s.metrics.Handler()), Public: true, Probe: true},
	}
}

// mount registers the table on e, each route behind the guards its line
// asks for.
func (s *Server) mount(e *echo.Echo, routes []Route) {
	for _, r := range routes {
		h := r.Handler
		if !r.Probe {
			h = s.requireSchema(h)
		}
		e.Add(r.Method, r.Path, h)
	}
}

func (s *Server) requireSchema(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.schemaReady(c.Request().Context()); err != nil {
			return err
		}
		return next(c)
	}
}
