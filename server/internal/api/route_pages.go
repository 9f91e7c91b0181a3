package api

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/web"
	"villagesync/syncproto"
)

// pageRoutes are the console's own pages and the township and tax pages.
// Every page is a line of the one route table, with roles and scope like
// the API's.
func (s *Server) pageRoutes() []Route {
	w := s.web
	get, post := http.MethodGet, http.MethodPost
	twp := []auth.Role{auth.RoleTownship}
	return []Route{
		{Method: get, Path: "/login", Handler: w.LoginForm, Public: true, Page: true},
		{Method: post, Path: "/login", Handler: w.Login, Public: true, Page: true},
		{Method: get, Path: "/static/*", Handler: w.Static, Public: true, Page: true},
		{Method: post, Path: "/logout", Handler: w.Logout, Roles: staff, Page: true},
		{Method: get, Path: "/", Handler: w.Home, Roles: staff, Page: true},
		{Method: get, Path: "/account", Handler: w.Account, Roles: staff, Page: true},

		{Method: get, Path: "/township", Handler: w.TownshipHome, Roles: twp, Page: true},
		{Method: get, Path: "/township/batches", Handler: w.TownshipBatches, Roles: twp, Page: true},
		{Method: post, Path: "/township/batches/cut", Handler: w.CutBatch, Roles: twp, Page: true},
		{Method: get, Path: "/township/batches/:id", Handler: w.BatchReview, Roles: twp, Page: true, Scope: ScopeTownship, Target: s.batchTarget},
		{Method: post, Path: "/township/batches/:id/approve", Handler: w.ApproveBatch, Roles: twp, Page: true, Scope: ScopeTownship, Target: s.batchTarget},
		{Method: post, Path: "/township/batches/:id/reject", Handler: w.RejectBatch, Roles: twp, Page: true, Scope: ScopeTownship, Target: s.batchTarget},
		{Method: get, Path: "/township/agents", Handler: w.Agents, Roles: twp, Page: true},
		{Method: get, Path: "/township/devices", Handler: w.Devices, Roles: twp, Page: true},
		{Method: post, Path: "/township/devices/:id/revoke", Handler: w.RevokeDevice, Roles: twp, Page: true, Scope: ScopeTownship, Target: s.deviceTarget},
		{Method: post, Path: "/township/enrollment-codes", Handler: w.CreateEnrollmentCode, Roles: twp, Page: true},
		{Method: get, Path: "/township/flags", Handler: w.Flags, Roles: twp, Page: true},
		{Method: get, Path: "/township/refunds", Handler: w.Refunds, Roles: twp, Page: true},
		{Method: post, Path: "/township/refunds", Handler: w.RequestRefund, Roles: twp, Page: true},
		{Method: post, Path: "/township/refunds/:id/complete", Handler: w.CompleteRefund, Roles: twp, Page: true, Scope: ScopeTownship, Target: s.refundTarget},

		{Method: get, Path: "/tax/batches", Handler: w.TaxBatches, Roles: taxOffice, Page: true},
		{Method: get, Path: "/tax/batches/:id", Handler: w.TaxBatch, Roles: taxOffice, Page: true},
		{Method: get, Path: "/tax/batches/:id/export", Handler: w.ExportBatch, Roles: taxOffice, Page: true},
		{Method: get, Path: "/tax/export.zip", Handler: w.ExportDay, Roles: taxOffice, Page: true},
		{Method: post, Path: "/tax/batches/:id/postings", Handler: w.PostBatch, Roles: taxOffice, Page: true},
		{Method: post, Path: "/tax/postings/report.csv", Handler: w.PostingReport, Roles: taxOffice, Page: true},
		{Method: get, Path: "/tax/reconciliation", Handler: w.Reconciliation, Roles: taxOffice, Page: true},
		{Method: get, Path: "/tax/refunds", Handler: w.TaxRefunds, Roles: taxOffice, Page: true},
		{Method: post, Path: "/tax/refunds/:id/approve", Handler: w.ApproveRefund, Roles: []auth.Role{auth.RoleTax}, Page: true, Scope: ScopeTownship, Target: s.refundTarget},
	}
}

// page is the guard of a console page: security headers on every
// answer; the schema check; for non-public pages the session cookie,
// the role, the CSRF token of unsafe methods and the scope of the
// target; and errors rendered as HTML pages.
func (s *Server) page(r Route, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		web.SecurityHeaders(c.Response().Header())
		err := s.schemaReady(c.Request().Context())
		if err == nil && !r.Public {
			err = s.pageAuth(r, c)
		}
		if err == nil {
			err = next(c)
		}
		if err != nil {
			return s.pageError(c, err)
		}
		return nil
	}
}

// pageAuth authenticates a page request by its session cookie.
func (s *Server) pageAuth(r Route, c echo.Context) error {
	ctx := c.Request().Context()
	ss, err := s.auth.SessionOf(ctx, web.SessionToken(c), s.web.Sessions())
	if err != nil {
		return err
	}
	c.SetRequest(c.Request().WithContext(auth.WithSession(ctx, ss)))
	if !slices.Contains(r.Roles, ss.Principal.Role) {
		return auth.ErrForbidden
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !ss.CheckCSRF(c.FormValue(web.CSRFField)) {
			return web.ErrCSRF
		}
	}
	if r.Target != nil {
		t, err := r.Target(c)
		if err != nil {
			return err
		}
		if err := auth.Authorize(ss.Principal, t); err != nil {
			return err
		}
	}
	return nil
}

// pageError answers a failed page: without a session, a redirect to the
// login page (which comes back here after); otherwise an HTML page with
// the status, the Chinese message and the stable code.
func (s *Server) pageError(c echo.Context, err error) error {
	if c.Response().Committed {
		return nil
	}
	ce := codedError(err)
	if ce.Code == syncproto.CodeUnauthenticated {
		next := ""
		if c.Request().Method == http.MethodGet {
			next = "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
		}
		return c.Redirect(http.StatusSeeOther, "/login"+next)
	}
	status, ok := statusOf[ce.Code]
	switch {
	case ce.Code == web.ErrCSRF.Code:
		status = http.StatusForbidden
	case !ok:
		status = http.StatusBadRequest
	}
	if status >= 500 && ce.Code == syncproto.CodeInternal {
		s.log.ErrorContext(c.Request().Context(), "unexpected error", "err", err, "route", c.Path())
	}
	return s.web.RenderError(c, status, string(ce.Code), ce.Message, ce.MessageZH)
}
