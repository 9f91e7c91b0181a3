package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/web"
)

// districtPageRoutes are the HRSS/medical security, admin and district
// dashboard pages. Each has the roles and scope of the API route it
// stands for: the roster pages those of /api/v1/rosters…, the paid
// details those of /api/v1/exports/paid, users those of /api/v1/users,
// settings and the district's areas those of /api/v1/settings,
// /api/v1/townships and /api/v1/villages. The dashboard has no API
// twin: it is for the district roles (web.DashboardRoles).
func (s *Server) districtPageRoutes() []Route {
	w := s.web
	get, post := http.MethodGet, http.MethodPost
	return []Route{
		{Method: get, Path: "/dashboard", Handler: w.Dashboard, Roles: web.DashboardRoles, Page: true, Scope: ScopeTownship, Target: queryTownship},

		{Method: get, Path: "/hrss/rosters", Handler: w.Rosters, Roles: rosterReaders, Page: true},
		{Method: post, Path: "/hrss/rosters", Handler: w.RosterDryRun, Roles: rosterOwners, Page: true},
		{Method: post, Path: "/hrss/rosters/apply", Handler: w.RosterApply, Roles: rosterOwners, Page: true},
		{Method: get, Path: "/hrss/rosters/imports/:id", Handler: w.RosterImport, Roles: rosterReaders, Page: true},
		{Method: get, Path: "/hrss/rosters/imports/:id/report", Handler: w.RosterReport, Roles: rosterReaders, Page: true},
		{Method: get, Path: "/hrss/paid", Handler: w.Paid, Roles: rosterReaders, Page: true},
		{Method: get, Path: "/hrss/paid/download", Handler: w.PaidDownload, Roles: rosterReaders, Page: true},

		{Method: get, Path: "/admin/townships", Handler: w.Townships, Roles: staff, Page: true},
		{Method: post, Path: "/admin/townships", Handler: w.CreateTownship, Roles: adminOnly, Page: true},
		{Method: get, Path: "/admin/villages", Handler: w.Villages, Roles: staff, Page: true, Scope: ScopeTownship, Target: queryTownshipOrOwn},
		{Method: post, Path: "/admin/villages", Handler: w.CreateVillage, Roles: adminOnly, Page: true},
		{Method: get, Path: "/users", Handler: w.Users, Roles: adminOrTwp, Page: true},
		{Method: post, Path: "/users", Handler: w.CreateUser, Roles: adminOrTwp, Page: true, Scope: ScopeTownship},
		{Method: post, Path: "/users/:id/disable", Handler: w.SetUserDisabled(true), Roles: adminOrTwp, Page: true, Scope: ScopeTownship, Target: s.userTarget},
		{Method: post, Path: "/users/:id/enable", Handler: w.SetUserDisabled(false), Roles: adminOrTwp, Page: true, Scope: ScopeTownship, Target: s.userTarget},
		{Method: get, Path: "/admin/settings", Handler: w.Settings, Roles: staff, Page: true},
		{Method: post, Path: "/admin/settings", Handler: w.PutSettings, Roles: adminOnly, Page: true},
	}
}

// queryTownship targets the township of ?township= (none: the district,
// which only district roles reach anyway).
func queryTownship(c echo.Context) (auth.Target, error) {
	return auth.Target{Township: c.QueryParam("township")}, nil
}

// queryTownshipOrOwn targets the township of ?township=, else the
// caller's own.
func queryTownshipOrOwn(c echo.Context) (auth.Target, error) {
	if t := c.QueryParam("township"); t != "" {
		return auth.Target{Township: t}, nil
	}
	return auth.Target{Township: principal(c).Township}, nil
}
