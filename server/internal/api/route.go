package api

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/syncproto"
)

// Scope says how a route's target is checked against the caller's area.
type Scope int

// The scope rules of the route table.
const (
	// ScopeNone: no particular target; the route serves only the caller's
	// own data, or lists filtered to the caller's area by the service.
	ScopeNone Scope = iota
	// ScopeTownship: the target's township must be the caller's
	// (district roles: any).
	ScopeTownship
	// ScopeVillage: the target village must be one of the caller's
	// villages (agent) or in the caller's township (township staff).
	ScopeVillage
)

// Route is one line of the route table: every route the server answers is
// declared here with the roles allowed and its scope rule. Nothing is
// registered any other way.
type Route struct {
	Method  string
	Path    string
	Handler echo.HandlerFunc
	// Public routes need no token (health, metrics, login, enroll, refresh).
	Public bool
	// Roles allowed to call the route.
	Roles []auth.Role
	// Scope rule; Target finds the target for ScopeTownship/ScopeVillage.
	// A target named in the request body is checked by the service.
	Scope  Scope
	Target func(c echo.Context) (auth.Target, error)
	// Probe routes answer even while the schema is not ready.
	Probe bool
	// Page routes are the web console's: authenticated by the session
	// cookie instead of a bearer token; no session sends a GET to the
	// login page; unsafe methods need the session's CSRF token; errors
	// are HTML pages (see page).
	Page bool
}

var (
	allRoles      = auth.Roles()
	staff         = []auth.Role{auth.RoleAdmin, auth.RoleTownship, auth.RoleTax, auth.RoleHRSS, auth.RoleMedsec}
	adminOnly     = []auth.Role{auth.RoleAdmin}
	adminOrTwp    = []auth.Role{auth.RoleAdmin, auth.RoleTownship}
	agentOnly     = []auth.Role{auth.RoleAgent}
	townshipOnly  = []auth.Role{auth.RoleTownship}
	taxOffice     = []auth.Role{auth.RoleAdmin, auth.RoleTax}
	remitReaders  = []auth.Role{auth.RoleAdmin, auth.RoleTownship, auth.RoleTax}
	rosterOwners  = []auth.Role{auth.RoleHRSS, auth.RoleMedsec}
	rosterReaders = []auth.Role{auth.RoleAdmin, auth.RoleHRSS, auth.RoleMedsec}
)

// townshipParam targets the township in the path.
func townshipParam(name string) func(echo.Context) (auth.Target, error) {
	return func(c echo.Context) (auth.Target, error) { return auth.Target{Township: c.Param(name)}, nil }
}

// villageParam targets the village in the path.
func villageParam(name string) func(echo.Context) (auth.Target, error) {
	return func(c echo.Context) (auth.Target, error) { return auth.VillageTarget(c.Param(name)), nil }
}

// Routes is the route table: the API's routes, then the console's pages.
func Routes(s *Server) []Route {
	return slices.Concat(apiRoutes(s), s.pageRoutes(), s.districtPageRoutes())
}

func apiRoutes(s *Server) []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/healthz", Handler: s.healthz, Public: true, Probe: true},
		{Method: http.MethodGet, Path: "/readyz", Handler: s.readyz, Public: true, Probe: true},
		{Method: http.MethodGet, Path: "/metrics", Handler: echo.WrapHandler(s.metrics.Handler()), Public: true, Probe: true},

		{Method: http.MethodPost, Path: "/api/v1/auth/login", Handler: s.login, Public: true},
		{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Handler: s.refresh, Public: true},
		{Method: http.MethodPost, Path: "/api/v1/auth/logout", Handler: s.logout, Roles: allRoles},
		{Method: http.MethodGet, Path: "/api/v1/me", Handler: s.me, Roles: allRoles},

		{Method: http.MethodPost, Path: "/api/v1/devices/enrollment-codes", Handler: s.createEnrollmentCode, Roles: adminOrTwp, Scope: ScopeTownship},
		{Method: http.MethodPost, Path: "/api/v1/devices/enroll", Handler: s.enroll, Public: true},
		{Method: http.MethodGet, Path: "/api/v1/devices", Handler: s.devices, Roles: adminOrTwp},
		{Method: http.MethodPost, Path: "/api/v1/devices/:id/revoke", Handler: s.revokeDevice, Roles: adminOrTwp, Scope: ScopeTownship, Target: s.deviceTarget},

		{Method: http.MethodGet, Path: "/api/v1/audit", Handler: s.auditLog, Roles: adminOrTwp},

		{Method: http.MethodGet, Path: "/api/v1/townships", Handler: s.townships, Roles: staff},
		{Method: http.MethodPost, Path: "/api/v1/townships", Handler: s.createTownship, Roles: adminOnly},
		{Method: http.MethodGet, Path: "/api/v1/townships/:code/villages", Handler: s.villages, Roles: staff, Scope: ScopeTownship, Target: townshipParam("code")},
		{Method: http.MethodGet, Path: "/api/v1/villages/:code", Handler: s.village, Roles: allRoles, Scope: ScopeVillage, Target: villageParam("code")},
		{Method: http.MethodPost, Path: "/api/v1/villages", Handler: s.createVillage, Roles: adminOnly},

		{Method: http.MethodGet, Path: "/api/v1/users", Handler: s.users, Roles: adminOrTwp},
		{Method: http.MethodPost, Path: "/api/v1/users", Handler: s.createUser, Roles: adminOrTwp, Scope: ScopeTownship},
		{Method: http.MethodPatch, Path: "/api/v1/users/:id", Handler: s.updateUser, Roles: adminOrTwp, Scope: ScopeTownship, Target: s.userTarget},

		{Method: http.MethodGet, Path: "/api/v1/settings", Handler: s.getSettings, Roles: staff},
		{Method: http.MethodPut, Path: "/api/v1/settings", Handler: s.putSettings, Roles: adminOnly},

		{Method: http.MethodPost, Path: "/api/v1/rosters", Handler: s.uploadRoster, Roles: rosterOwners},
		{Method: http.MethodGet, Path: "/api/v1/rosters/imports", Handler: s.rosterImports, Roles: rosterReaders},
		{Method: http.MethodGet, Path: "/api/v1/rosters/imports/:id/report", Handler: s.rosterReport, Roles: rosterReaders},
		{Method: http.MethodGet, Path: "/api/v1/rosters/entries", Handler: s.rosterEntries, Roles: allRoles, Scope: ScopeVillage, Target: rosterTarget},
		{Method: http.MethodPost, Path: "/api/v1/sync/push", Handler: requireProtocol(s.push), Roles: agentOnly},
		{Method: http.MethodGet, Path: "/api/v1/sync/pull", Handler: requireProtocol(s.pull), Roles: agentOnly},
		{Method: http.MethodGet, Path: "/api/v1/sync/alerts", Handler: s.alerts, Roles: adminOrTwp},
		{Method: http.MethodGet, Path: "/api/v1/agents/cash", Handler: s.cashOnHand, Roles: adminOrTwp},
		{Method: http.MethodPost, Path: "/api/v1/devices/:id/outbox", Handler: s.importOutbox, Roles: adminOrTwp, Scope: ScopeTownship, Target: s.deviceTarget},

		{Method: http.MethodPost, Path: "/api/v1/batches/cut", Handler: s.cutBatch, Roles: adminOrTwp, Scope: ScopeTownship},
		{Method: http.MethodGet, Path: "/api/v1/batches", Handler: s.batches, Roles: remitReaders},
		{Method: http.MethodGet, Path: "/api/v1/batches/export.zip", Handler: s.exportDay, Roles: taxOffice},
		{Method: http.MethodGet, Path: "/api/v1/batches/:id", Handler: s.batch, Roles: remitReaders, Scope: ScopeTownship, Target: s.batchTarget},
		{Method: http.MethodPost, Path: "/api/v1/batches/:id/approve", Handler: s.approveBatch, Roles: townshipOnly, Scope: ScopeTownship, Target: s.batchTarget},
		{Method: http.MethodPost, Path: "/api/v1/batches/:id/reject", Handler: s.rejectBatch, Roles: townshipOnly, Scope: ScopeTownship, Target: s.batchTarget},
		{Method: http.MethodGet, Path: "/api/v1/batches/:id/export", Handler: s.exportBatch, Roles: taxOffice},
		{Method: http.MethodPost, Path: "/api/v1/batches/:id/postings", Handler: s.postBatch, Roles: taxOffice},
		{Method: http.MethodGet, Path: "/api/v1/reconciliation", Handler: s.reconciliation, Roles: remitReaders},
		{Method: http.MethodGet, Path: "/api/v1/refunds", Handler: s.refunds, Roles: remitReaders},
		{Method: http.MethodPost, Path: "/api/v1/refunds", Handler: s.requestRefund, Roles: townshipOnly, Scope: ScopeTownship},
		{Method: http.MethodPost, Path: "/api/v1/refunds/:id/approve", Handler: s.moveRefund("approved"), Roles: []auth.Role{auth.RoleTax}, Scope: ScopeTownship, Target: s.refundTarget},
		{Method: http.MethodPost, Path: "/api/v1/refunds/:id/complete", Handler: s.moveRefund("refunded"), Roles: townshipOnly, Scope: ScopeTownship, Target: s.refundTarget},
		{Method: http.MethodGet, Path: "/api/v1/exports/paid", Handler: s.paidDetails, Roles: rosterReaders},
		{Method: http.MethodGet, Path: "/api/v1/villages/:code/publicity", Handler: s.publicity, Roles: allRoles, Scope: ScopeVillage, Target: villageParam("code")},

		{Method: http.MethodGet, Path: "/api/v1/rosters/counts", Handler: s.rosterCounts, Roles: allRoles, Scope: ScopeVillage, Target: rosterTarget},
	}
}

// mount registers the table on e, each route behind the guards its line
// asks for.
func (s *Server) mount(e *echo.Echo, routes []Route) {
	for _, r := range routes {
		h := r.Handler
		switch {
		case r.Page:
			h = s.page(r, h)
		default:
			if !r.Public {
				h = s.guard(r, h)
			}
			if !r.Probe {
				h = s.requireSchema(h)
			}
		}
		e.Add(r.Method, r.Path, h)
	}
}

// guard authenticates the caller, checks the role and, when the route
// names how, the scope of the target.
func (s *Server) guard(r Route, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		bearer, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if !ok || bearer == "" {
			return auth.ErrBadToken
		}
		p, err := s.auth.Authenticate(ctx, strings.TrimSpace(bearer))
		if err != nil {
			return err
		}
		c.SetRequest(c.Request().WithContext(auth.WithPrincipal(ctx, p)))
		if !slices.Contains(r.Roles, p.Role) {
			return auth.ErrForbidden
		}
		if r.Target != nil {
			t, err := r.Target(c)
			if err != nil {
				return err
			}
			if err := auth.Authorize(p, t); err != nil {
				return err
			}
		}
		return next(c)
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

// principal returns the caller of an authenticated route.
func principal(c echo.Context) auth.Principal {
	p, _ := auth.FromContext(c.Request().Context())
	return p
}

// bind decodes a JSON body strictly: unknown fields and trailing data
// are errors with a clear message.
func bind(c echo.Context, v any) error {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()
	buf.Reset()
	if _, err := buf.ReadFrom(c.Request().Body); err != nil {
		if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
			return err
		}
		return syncproto.Wrap(err, syncproto.CodeInvalidInput, "request body could not be read: "+err.Error(),
			"请求内容无法读取（压缩格式不正确？）")
	}
	if err := decodeJSON(buf.Bytes(), v); err != nil {
		return syncproto.Wrap(err, syncproto.CodeInvalidInput, "request body is not valid JSON for this call: "+err.Error(),
			"请求内容不是本接口要求的 JSON 格式")
	}
	return nil
}
